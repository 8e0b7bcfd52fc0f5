/* SPDX-License-Identifier: MIT */
/*
 * offload.c: the api module's work on libuv's work queue (gl_api_job_t): a code upload of
 * CreateFunction or UpdateFunctionCode (code_upload.c) or a PublishLayerVersion
 * (layers.c). Owns the list api->jobs, each job linked from the moment it is queued until
 * its done callback has run on the loop, the waiting request's on_abort hook (a client that
 * goes away only loses its reply: the work is finished all the same, as Lambda completes an
 * accepted request), and the stop at shutdown (gl_api_jobs_cancel). Also the one decode of a
 * request's Content.ZipFile every job starts with (gl_api_zip_decode).
 *
 * Invariant: while api->jobs is not empty the api is not freed (gl_api_maybe_free); the done
 * callback of the last job frees it when the listener has already closed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "galley/util.h"
#include "internal.h"

int gl_api_zip_decode(const char *b64, size_t b64_len, unsigned char **zip, size_t *len,
                      char sha[45], gl_aws_error_t *aerr)
{
    *zip = NULL;
    *len = 0;
    if (gl_b64_decode(b64, b64_len, zip, len) < 0)
        return gl_aws_error_set(aerr, GL_AWS_INVALID_REQUEST_CONTENT, EINVAL,
                                "Could not parse request body into json: ZipFile is not "
                                "valid base64");
    if (*len > GL_API_ZIPPED_MAX) {
        free(*zip);
        *zip = NULL;
        return gl_aws_error_set(aerr, GL_AWS_REQUEST_ENTITY_TOO_LARGE, EFBIG,
                                "Zipped size must be smaller than %u bytes", GL_API_ZIPPED_MAX);
    }
    if (sha)
        gl_sha256_b64(*zip, *len, sha);
    return 0;
}

static void on_work(uv_work_t *w)
{
    gl_api_job_t *job = w->data;
    job->run(job);
}

static void unlink_job(gl_api_job_t *job)
{
    for (gl_api_job_t **p = &job->api->jobs; *p; p = &(*p)->next) {
        if (*p == job) {
            *p = job->next;
            break;
        }
    }
}

/* Back on the loop: the job replies and frees itself; then the api may go. */
static void on_after_work(uv_work_t *w, int status)
{
    gl_api_job_t *job = w->data;
    gl_api_t *api = job->api;
    unlink_job(job);
    /* Cancelled before it ran, or the daemon is stopping: the scheduler is gone. */
    job->done(job, status < 0 || api->closing, status < 0);
    gl_api_maybe_free(api);
}

/* The client went away: the work goes on, its reply is dropped. */
static void on_client_gone(gl_http_req_t *req)
{
    gl_api_job_t *job = req->data;
    job->req = NULL;
}

int gl_api_job_start(gl_api_t *api, gl_api_job_t *job, gl_http_req_t *req)
{
    job->api = api;
    job->work.data = job;
    int rc = uv_queue_work(api->loop, &job->work, on_work, on_after_work);
    if (rc < 0)
        return rc;
    job->req = req;
    req->data = job;
    req->on_abort = on_client_gone;
    job->next = api->jobs;
    api->jobs = job;
    return 0;
}

gl_http_req_t *gl_api_job_take_req(gl_api_job_t *job)
{
    gl_http_req_t *req = job->req;
    if (req) {
        req->on_abort = NULL;
        req->data = NULL;
    }
    job->req = NULL;
    return req;
}

void gl_api_job_reply_error(gl_api_job_t *job, gl_aws_err_t type, const char *msg)
{
    gl_http_req_t *req = gl_api_job_take_req(job);
    if (req)
        gl_http_reply_aws_error(req, type, "%s", msg);
}

int gl_api_job_busy(const gl_api_t *api, const char *kind, const char *name)
{
    for (const gl_api_job_t *j = api->jobs; j; j = j->next) {
        if (j->kind == kind && strcmp(j->name, name) == 0)
            return 1;
    }
    return 0;
}

void gl_api_jobs_cancel(gl_api_t *api)
{
    /* Jobs not yet started end at once (after-work with UV_ECANCELED); running ones stop
     * unzipping before their next entry, remove what they made, and find api->closing set. */
    for (gl_api_job_t *j = api->jobs; j; j = j->next) {
        atomic_store(&j->stop, 1);
        uv_cancel((uv_req_t *)&j->work);
    }
}
