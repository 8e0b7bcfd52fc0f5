/* SPDX-License-Identifier: MIT */
/*
 * code_upload.c: the code upload of CreateFunction and UpdateFunctionCode, off the loop
 * thread. Owns gl_api_upload_t: one per upload in progress, a job of kind "function" in
 * api->jobs (offload.c) from the moment it is accepted until its done callback has run.
 * While the API runs it also deletes replaced code directories on the work queue
 * (gl_fn_set_code_remover).
 *
 * The slow part (base64 decode, SHA-256, unzip with its size check, the zip's copy on disk,
 * the walks that size code plus layers, a new function's merge of its layers, and removing a
 * failed upload's files) runs on libuv's work queue; the registry lookups of the layers run on
 * the loop before it, the registry update and the reply in the after-work callback on the
 * loop, so an upload of 100,000 files never holds up another request. The worker touches only
 * the upload's own fields.
 *
 * While an upload of a function is in progress the function's other changes are refused
 * (gl_api_upload_conflict): a second CreateFunction of the name, UpdateFunctionCode,
 * UpdateFunctionConfiguration and DeleteFunction, as Lambda refuses changes to a function
 * whose LastUpdateStatus is InProgress. UpdateFunctionConfiguration's change of Layers is a
 * job of the same kind (config_layers.c), so the same changes wait for it. A client that disconnects meanwhile does not stop the
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

const char gl_api_function_job[] = "function";

struct gl_api_upload {
    gl_api_job_t job;         /* first: the job is the upload */
    json_t *body;             /* holds b64 and the Publish flag */
    const char *b64;
    size_t b64_len;
    gl_fn_config_t cfg;       /* what is stored on success; cfg.name is the function */
    int status;               /* 201 (CreateFunction) or 200 */
    /* set on the loop before queueing, read by the worker */
    char rev[GL_UUID_LEN + 1];
    char *fn_dir, *code_dir, *zip_path;
    /* the worker's result */
    int rc;                   /* 0, or -1 with fail */
    char sha[45];
    size_t zip_len;
    gl_layers_plan_t layers;  /* CreateFunction's: looked up on the loop, merged by the worker */
    gl_aws_error_t fail;
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
    gl_aws_error_set(&u->fail, type, EIO, "%s", msg);
    return -1;
}

/* Lambda's answer for an archive gl_archive_unzip refused. */
static int unzip_failed(gl_api_upload_t *u, const gl_archive_result_t *res, const gl_err_t *err)
{
    if (res->status == GL_ARCHIVE_CANCELLED)
        return fail(u, GL_AWS_SERVICE, "The service is stopping: the code was not stored");
    if (res->status == GL_ARCHIVE_IO)
        snprintf(u->log_msg, sizeof(u->log_msg), "api: unpacking code of %s: %s: %s",
                 u->cfg.name, err->msg, strerror(err->code));
    char msg[GL_AWS_MSG_MAX];
    return fail(u, gl_api_archive_message(res, err, "function", msg, sizeof(msg)), msg);
}

/* Decode, check, unpack and keep the zip in u->code_dir; on failure nothing is left. */
static int unpack(gl_api_upload_t *u)
{
    unsigned char *zip = NULL;
    gl_archive_result_t res = {0};
    gl_err_t err = {0};
    int rc = -1;

    if (gl_api_zip_decode(u->b64, u->b64_len, &zip, &u->zip_len, u->sha, &u->fail) < 0)
        goto out;
    int mk = gl_mkdir_p(u->fn_dir, 0755);
    if (mk < 0) {
        snprintf(u->log_msg, sizeof(u->log_msg), "api: create %s: %s", u->fn_dir, strerror(-mk));
        gl_aws_error_set(&u->fail, GL_AWS_SERVICE, mk, "Could not store the function's code: %s",
                         strerror(-mk));
        goto out;
    }
    if (gl_archive_unzip_stoppable(zip, u->zip_len, u->code_dir, 0, &u->job.stop, &res, &err) <
        0) {
        unzip_failed(u, &res, &err);
        goto out;
    }
    int wr = gl_write_file_atomic(u->zip_path, zip, u->zip_len);
    if (wr < 0) {
        snprintf(u->log_msg, sizeof(u->log_msg), "api: write %s: %s", u->zip_path,
                 strerror(-wr));
        gl_aws_error_set(&u->fail, GL_AWS_SERVICE, wr, "Could not store the function's code: %s",
                         strerror(-wr));
        goto out;
    }
    rc = 0;
out:
    free(zip);
    return rc;
}

/* Code plus layers within the unzipped limit; a new function's layers merged. New code keeps
 * the layers it had (deleted versions included, as on Lambda) and is only measured against
 * them. A refusal of the lookups on the loop is answered here, after the unzip's own. */
static int measure(gl_api_upload_t *u)
{
    if (u->status != 201)
        return gl_layers_check_size(u->code_dir, u->cfg.opt_dir, &u->fail) < 0 ? -1 : 0;
    if (gl_layers_prepare(&u->layers, u->code_dir) == 0)
        return 0;
    u->fail = u->layers.fail;
    snprintf(u->log_msg, sizeof(u->log_msg), "%s", u->layers.log_msg);
    return -1;
}

/* The work queue's thread: everything slow, and the cleanup of a failure. */
static void on_work(gl_api_job_t *job)
{
    gl_api_upload_t *u = (gl_api_upload_t *)job;
    u->rc = unpack(u);
    if (u->rc == 0)
        u->rc = measure(u);
    if (u->rc < 0)
        gl_api_discard_code(u->code_dir); /* also removes the function's directory if empty */
}

static void upload_free(gl_api_upload_t *u)
{
    json_decref(u->body);
    gl_fn_config_free(&u->cfg);
    gl_layers_plan_free(&u->layers);
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

/* A new function's merged layers become its /opt unless a version went meanwhile. -1 after
 * replying. */
static int check_layers(gl_api_upload_t *u)
{
    gl_aws_error_t aerr;
    if (u->status != 201 || gl_layers_finish(u->job.api->reg, &u->layers, &u->cfg, &aerr) == 0)
        return 0;
    gl_api_job_reply_error(&u->job, aerr.type, aerr.msg);
    return -1;
}

/* Back on the loop: store and answer, or answer the failure; then forget the upload. */
static void on_done(gl_api_job_t *job, int stopping, int cancelled)
{
    gl_api_upload_t *u = (gl_api_upload_t *)job;
    if (u->log_msg[0])
        gl_log_error("%s", u->log_msg);
    if (stopping) {
        if (!cancelled && u->rc == 0)
            gl_api_discard_code(u->code_dir);
        gl_api_job_reply_error(job, GL_AWS_SERVICE,
                               "The service is stopping: the code was not stored");
    } else if (u->rc < 0) {
        gl_api_job_reply_error(job, u->fail.type, u->fail.msg);
    } else if (adopt_code(u) < 0) {
        gl_api_discard_code(u->cfg.code_dir);
        gl_api_job_reply_error(job, GL_AWS_SERVICE, "out of memory");
    } else if (check_layers(u) < 0) {
        gl_api_discard_code(u->cfg.code_dir);
    } else {
        /* CreateFunction (201) also stores its Tags and CodeSigningConfigArn. */
        gl_api_put_and_reply(job->api, gl_api_job_take_req(job), &u->cfg, u->status, 1,
                             json_is_true(json_object_get(u->body, "Publish")),
                             u->status == 201 ? u->body : NULL);
    }
    upload_free(u);
}

/* Paths and revision of the new code directory; -ENOMEM when out of memory. */
static int plan(gl_api_upload_t *u)
{
    gl_uuid4(u->rev);
    u->fn_dir = gl_registry_fn_dir(u->job.api->reg, u->cfg.name);
    u->code_dir = gl_registry_new_code_dir(u->job.api->reg, u->cfg.name, u->rev);
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
    u->job.api = api;
    u->job.kind = gl_api_function_job;
    u->job.run = on_work;
    u->job.done = on_done;
    u->body = json_incref(body);
    u->b64 = b64;
    u->b64_len = b64_len;
    u->cfg = *cfg;
    memset(cfg, 0, sizeof(*cfg)); /* moved into the upload */
    u->job.name = u->cfg.name;
    u->status = status;
    gl_aws_error_t aerr; /* a refusal stays in u->layers, answered after the unzip's */
    if (status == 201)
        gl_layers_plan(api->reg, &u->cfg, &u->job.stop, &u->layers, &aerr);
    if (plan(u) < 0) {
        upload_free(u);
        gl_http_reply_aws_error(req, GL_AWS_SERVICE, "out of memory");
        return;
    }
    int rc = gl_api_job_start(api, &u->job, req);
    if (rc < 0) {
        upload_free(u);
        gl_http_reply_aws_error(req, GL_AWS_SERVICE, "Could not store the function's code: %s",
                                uv_strerror(rc));
        return;
    }
}

int gl_api_upload_in_progress(const gl_api_t *api, const char *name)
{
    return gl_api_job_busy(api, gl_api_function_job, name);
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
static void remove_code_later(char *dir, void *arg)
{
    gl_rm_rf_later(arg, dir, 0);
}

void gl_api_code_removal_start(gl_api_t *api)
{
    gl_fn_set_code_remover(remove_code_later, api->loop);
}

void gl_api_uploads_cancel(gl_api_t *api)
{
    gl_fn_set_code_remover(NULL, NULL); /* from now on at once: the loop is about to end */
    gl_api_jobs_cancel(api);
}
