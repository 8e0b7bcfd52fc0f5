/* SPDX-License-Identifier: MIT */
/*
 * code_upload.c: the code upload of CreateFunction and UpdateFunctionCode, off the loop
 * thread. Owns gl_api_upload_t: one per upload in progress, linked in api->uploads from the
 * moment it is accepted until its after-work callback has run. While the API runs it also
 * deletes replaced code directories on the work queue (gl_fn_set_code_remover).
 *
 * The slow part (base64 decode, SHA-256, unzip with its size check, the zip's copy on disk,
 * and removing a failed upload's files) runs on libuv's work queue; the registry update and
 * the reply run in the after-work callback on the loop, so an upload of 100,000 files never
 * holds up another request. The worker touches only the upload's own fields.
 *
 * While an upload of a function is in progress the function's other changes are refused
 * (gl_api_upload_conflict): a second CreateFunction of the name, UpdateFunctionCode,
 * UpdateFunctionConfiguration and DeleteFunction, as Lambda refuses changes to a function
 * whose LastUpdateStatus is InProgress. A client that disconnects meanwhile does not stop the
 * upload: the code is stored all the same (as Lambda completes an accepted update) and only
 * the reply is dropped. When the API closes first, the upload's files are removed instead.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "galley/archive.h"
#include "galley/layers.h"
#include "galley/log.h"
#include "galley/util.h"
#include "internal.h"

struct gl_api_upload {
    uv_work_t work;
    gl_api_t *api;
    gl_http_req_t *req;       /* NULL once the client has gone */
    gl_api_upload_t *next;    /* api->uploads */
    json_t *body;             /* holds b64 and the Publish flag */
    const char *b64;
    size_t b64_len;
    gl_fn_config_t cfg;       /* what is stored on success; cfg.name is the function */
    int status;               /* 201 (CreateFunction) or 200 */
    atomic_int stop;          /* set by gl_api_uploads_cancel: the unzip gives up */
    /* set on the loop before queueing, read by the worker */
    char rev[GL_UUID_LEN + 1];
    char *fn_dir, *code_dir, *zip_path;
    /* the worker's result */
    int rc;                   /* 0, or -1 with fail_type and fail_msg */
    char sha[45];
    size_t zip_len;
    gl_aws_err_t fail_type;
    char fail_msg[512];
    char log_msg[512];        /* logged by the loop thread when not empty */
};

void gl_api_discard_code(const char *code_dir)
{
    char *zip = gl_registry_code_zip_path(code_dir);
    if (zip)
        unlink(zip);
    free(zip);
    gl_rm_rf(code_dir);
    /* A failed create leaves the function's directory empty: remove it too (rmdir refuses
     * a directory that still holds an existing function's files). */
    char *parent = strdup(code_dir);
    char *slash = parent ? strrchr(parent, '/') : NULL;
    if (slash) {
        *slash = '\0';
        rmdir(parent);
    }
    free(parent);
}

void gl_api_stamp(gl_fn_config_t *cfg, const char *revision_id)
{
    char ts[40];
    gl_fmt_lambda_time(gl_now_ms(), ts, sizeof(ts));
    free(cfg->last_modified);
    cfg->last_modified = strdup(ts);
    free(cfg->revision_id);
    cfg->revision_id = strdup(revision_id);
}

static int fail(gl_api_upload_t *u, gl_aws_err_t type, const char *msg)
{
    u->fail_type = type;
    snprintf(u->fail_msg, sizeof(u->fail_msg), "%s", msg);
    return -1;
}

/* Lambda's answer for an archive gl_archive_unzip refused. */
static int unzip_failed(gl_api_upload_t *u, const gl_archive_result_t *res, const gl_err_t *err)
{
    switch (res->status) {
    case GL_ARCHIVE_BAD_ZIP:
        return fail(u, GL_AWS_INVALID_PARAMETER_VALUE,
                    "Could not unzip uploaded file. Please check your file, then try to upload "
                    "again.");
    case GL_ARCHIVE_TOO_LARGE:
        snprintf(u->fail_msg, sizeof(u->fail_msg), "Unzipped size must be smaller than %llu bytes",
                 (unsigned long long)GL_ARCHIVE_MAX_UNPACKED);
        u->fail_type = GL_AWS_INVALID_PARAMETER_VALUE;
        return -1;
    case GL_ARCHIVE_EMPTY:
        return fail(u, GL_AWS_INVALID_PARAMETER_VALUE, "Uploaded file must be a non-empty zip");
    case GL_ARCHIVE_CANCELLED:
        return fail(u, GL_AWS_SERVICE, "The service is stopping: the code was not stored");
    case GL_ARCHIVE_UNSAFE_ENTRY:
    case GL_ARCHIVE_CONFLICT:
        snprintf(u->fail_msg, sizeof(u->fail_msg), "Could not unzip uploaded file: %s", err->msg);
        u->fail_type = GL_AWS_INVALID_PARAMETER_VALUE;
        return -1;
    default:
        snprintf(u->log_msg, sizeof(u->log_msg), "api: unpacking code of %s: %s: %s",
                 u->cfg.name, err->msg, strerror(err->code));
        snprintf(u->fail_msg, sizeof(u->fail_msg), "Could not store the function's code: %s",
                 strerror(err->code));
        u->fail_type = GL_AWS_SERVICE;
        return -1;
    }
}

/* Decode, check, unpack and keep the zip in u->code_dir; on failure nothing is left. */
static int unpack(gl_api_upload_t *u)
{
    unsigned char *zip = NULL;
    gl_archive_result_t res = {0};
    gl_err_t err = {0};
    int rc = -1;

    if (gl_b64_decode(u->b64, u->b64_len, &zip, &u->zip_len) < 0) {
        fail(u, GL_AWS_INVALID_REQUEST_CONTENT,
             "Could not parse request body into json: ZipFile is not valid base64");
        goto out;
    }
    if (u->zip_len > GL_API_ZIPPED_MAX) {
        snprintf(u->fail_msg, sizeof(u->fail_msg), "Zipped size must be smaller than %u bytes",
                 GL_API_ZIPPED_MAX);
        u->fail_type = GL_AWS_REQUEST_ENTITY_TOO_LARGE;
        goto out;
    }
    gl_sha256_b64(zip, u->zip_len, u->sha);
    int mk = gl_mkdir_p(u->fn_dir, 0755);
    if (mk < 0) {
        snprintf(u->log_msg, sizeof(u->log_msg), "api: create %s: %s", u->fn_dir, strerror(-mk));
        snprintf(u->fail_msg, sizeof(u->fail_msg), "Could not store the function's code: %s",
                 strerror(-mk));
        u->fail_type = GL_AWS_SERVICE;
        goto out;
    }
    if (gl_archive_unzip_stoppable(zip, u->zip_len, u->code_dir, 0, &u->stop, &res, &err) < 0) {
        unzip_failed(u, &res, &err);
        goto out;
    }
    int wr = gl_write_file_atomic(u->zip_path, zip, u->zip_len);
    if (wr < 0) {
        snprintf(u->log_msg, sizeof(u->log_msg), "api: write %s: %s", u->zip_path,
                 strerror(-wr));
        snprintf(u->fail_msg, sizeof(u->fail_msg), "Could not store the function's code: %s",
                 strerror(-wr));
        u->fail_type = GL_AWS_SERVICE;
        goto out;
    }
    rc = 0;
out:
    free(zip);
    return rc;
}

/* The work queue's thread: everything slow, and the cleanup of a failure. */
static void on_work(uv_work_t *w)
{
    gl_api_upload_t *u = w->data;
    u->rc = unpack(u);
    if (u->rc < 0)
        gl_api_discard_code(u->code_dir); /* also removes the function's directory if empty */
}

/* The client went away: the upload goes on, its reply is dropped. */
static void on_client_gone(gl_http_req_t *req)
{
    gl_api_upload_t *u = req->data;
    u->req = NULL;
}

static void unlink_upload(gl_api_upload_t *u)
{
    for (gl_api_upload_t **p = &u->api->uploads; *p; p = &(*p)->next) {
        if (*p == u) {
            *p = u->next;
            break;
        }
    }
}

static void upload_free(gl_api_upload_t *u)
{
    json_decref(u->body);
    gl_fn_config_free(&u->cfg);
    free(u->fn_dir);
    free(u->code_dir);
    free(u->zip_path);
    free(u);
}

/* Point cfg at the unpacked code: code_dir, CodeSha256, CodeSize, RevisionId, LastModified. */
static int adopt_code(gl_api_upload_t *u)
{
    free(u->cfg.code_dir);
    u->cfg.code_dir = u->code_dir;
    u->code_dir = NULL; /* moved into cfg */
    free(u->cfg.code_sha256);
    u->cfg.code_sha256 = strdup(u->sha);
    u->cfg.code_size = (int64_t)u->zip_len;
    gl_api_stamp(&u->cfg, u->rev);
    return u->cfg.code_sha256 && u->cfg.revision_id ? 0 : -ENOMEM;
}

/* The waiting request, detached from the upload (NULL when its client has gone). */
static gl_http_req_t *take_req(gl_api_upload_t *u)
{
    gl_http_req_t *req = u->req;
    if (req) {
        req->on_abort = NULL;
        req->data = NULL;
    }
    u->req = NULL;
    return req;
}

static void reply_failure(gl_api_upload_t *u, gl_aws_err_t type, const char *msg)
{
    gl_http_req_t *req = take_req(u);
    if (req)
        gl_http_reply_aws_error(req, type, "%s", msg);
}

/* A new function's layers are looked up; new code keeps the layers it had (deleted versions
 * included, as on Lambda) and is only measured against them. -1 after replying. */
static int check_layers(gl_api_upload_t *u)
{
    gl_aws_error_t aerr;
    if ((u->status == 201 ? gl_layers_resolve(u->api->reg, &u->cfg, &aerr)
                          : gl_layers_check_size(&u->cfg, &aerr)) == 0)
        return 0;
    reply_failure(u, aerr.type, aerr.msg);
    return -1;
}

/* Back on the loop: store and answer, or answer the failure; then forget the upload. */
static void on_after_work(uv_work_t *w, int status)
{
    gl_api_upload_t *u = w->data;
    gl_api_t *api = u->api;

    unlink_upload(u);
    if (u->log_msg[0])
        gl_log_error("%s", u->log_msg);
    if (status < 0 || api->closing) {
        /* Cancelled, or the daemon is stopping: the scheduler is gone, store nothing. */
        if (status == 0 && u->rc == 0)
            gl_api_discard_code(u->code_dir);
        reply_failure(u, GL_AWS_SERVICE, "The service is stopping: the code was not stored");
    } else if (u->rc < 0) {
        reply_failure(u, u->fail_type, u->fail_msg);
    } else if (adopt_code(u) < 0) {
        gl_api_discard_code(u->cfg.code_dir);
        reply_failure(u, GL_AWS_SERVICE, "out of memory");
    } else if (check_layers(u) < 0) {
        gl_api_discard_code(u->cfg.code_dir);
    } else {
        /* CreateFunction (201) also stores its Tags and CodeSigningConfigArn. */
        gl_api_put_and_reply(api, take_req(u), &u->cfg, u->status, 1,
                             json_is_true(json_object_get(u->body, "Publish")),
                             u->status == 201 ? u->body : NULL);
    }
    upload_free(u);
    gl_api_maybe_free(api);
}

/* Paths and revision of the new code directory; -ENOMEM when out of memory. */
static int plan(gl_api_upload_t *u)
{
    gl_uuid4(u->rev);
    u->fn_dir = gl_registry_fn_dir(u->api->reg, u->cfg.name);
    u->code_dir = gl_registry_new_code_dir(u->api->reg, u->cfg.name, u->rev);
    u->zip_path = u->code_dir ? gl_registry_code_zip_path(u->code_dir) : NULL;
    return u->fn_dir && u->zip_path ? 0 : -ENOMEM;
}

void gl_api_upload_start(gl_api_t *api, gl_http_req_t *req, json_t *body, const char *b64,
                         size_t b64_len, gl_fn_config_t *cfg, int status)
{
    gl_api_upload_t *u = calloc(1, sizeof(*u));
    if (!u) {
        gl_http_reply_aws_error(req, GL_AWS_SERVICE, "out of memory");
        return;
    }
    u->api = api;
    u->body = json_incref(body);
    u->b64 = b64;
    u->b64_len = b64_len;
    u->cfg = *cfg;
    memset(cfg, 0, sizeof(*cfg)); /* moved into the upload */
    u->status = status;
    u->work.data = u;
    if (plan(u) < 0) {
        upload_free(u);
        gl_http_reply_aws_error(req, GL_AWS_SERVICE, "out of memory");
        return;
    }
    int rc = uv_queue_work(api->loop, &u->work, on_work, on_after_work);
    if (rc < 0) {
        upload_free(u);
        gl_http_reply_aws_error(req, GL_AWS_SERVICE, "Could not store the function's code: %s",
                                uv_strerror(rc));
        return;
    }
    u->req = req;
    req->data = u;
    req->on_abort = on_client_gone;
    u->next = api->uploads;
    api->uploads = u;
}

int gl_api_upload_in_progress(const gl_api_t *api, const char *name)
{
    for (const gl_api_upload_t *u = api->uploads; u; u = u->next) {
        if (strcmp(u->cfg.name, name) == 0)
            return 1;
    }
    return 0;
}

int gl_api_upload_conflict(gl_api_t *api, gl_http_req_t *req, const char *name)
{
    char arn[512];
    if (!gl_api_upload_in_progress(api, name))
        return 0;
    gl_registry_fn_arn(api->reg, name, NULL, arn, sizeof(arn));
    gl_http_reply_aws_error(req, GL_AWS_RESOURCE_CONFLICT,
                            "The operation cannot be performed at this time. An update is in "
                            "progress for resource: %s",
                            arn);
    return -1;
}

/* A replaced code directory, deleted on the work queue (gl_fn_set_code_remover). */
typedef struct removal {
    uv_work_t work;
    char *dir;
} removal_t;

static void on_remove_work(uv_work_t *w)
{
    removal_t *r = w->data;
    gl_rm_rf(r->dir);
}

static void on_removed(uv_work_t *w, int status)
{
    removal_t *r = w->data;
    if (status < 0)
        gl_rm_rf(r->dir); /* cancelled: the daemon is stopping, delete it now */
    free(r->dir);
    free(r);
}

static void remove_code_later(char *dir, void *arg)
{
    uv_loop_t *loop = arg;
    removal_t *r = calloc(1, sizeof(*r));
    if (r) {
        r->dir = dir;
        r->work.data = r;
        if (uv_queue_work(loop, &r->work, on_remove_work, on_removed) == 0)
            return;
    }
    gl_rm_rf(dir);
    free(dir);
    free(r);
}

void gl_api_code_removal_start(gl_api_t *api)
{
    gl_fn_set_code_remover(remove_code_later, api->loop);
}

void gl_api_uploads_cancel(gl_api_t *api)
{
    gl_fn_set_code_remover(NULL, NULL); /* from now on at once: the loop is about to end */
    /* Uploads not yet started end at once (after-work with UV_ECANCELED); running ones
     * stop unzipping before their next entry, remove what they made, and find api->closing
     * set. */
    for (gl_api_upload_t *u = api->uploads; u; u = u->next) {
        atomic_store(&u->stop, 1);
        uv_cancel((uv_req_t *)&u->work);
    }
}
