/* SPDX-License-Identifier: MIT */
/*
 * config_layers.c: an UpdateFunctionConfiguration that sets Layers, finished off the loop
 * thread. Owns layers_job_t: one per such update in progress, a job of kind "function" in
 * api->jobs (offload.c) from the moment the handler accepts it until its done callback has run.
 *
 * The handler (functions.c) validates the request and looks the layer versions up on the loop
 * (gl_layers_plan: the registry has one writer, the loop). The walk that sizes the function's
 * code and the merge of the layers into the directory bound at /opt, tens of thousands of
 * files for a node_modules layer, run on libuv's work queue; back on the loop the versions are
 * checked again, and the configuration is stamped, stored and answered. Being of the code
 * uploads' kind, the job makes the function's other changes get 409 meanwhile, as Lambda
 * refuses changes while LastUpdateStatus is InProgress; a client that disconnects only loses
 * its reply, and a daemon stopping meanwhile stores nothing (code_upload.c does the same).
 */
#include <stdlib.h>
#include <string.h>

#include "galley/layers.h"
#include "galley/util.h"
#include "internal.h"

typedef struct layers_job {
    gl_api_job_t job;         /* first: the job is the update */
    gl_fn_config_t cfg;       /* what is stored on success; cfg.name is the function */
    gl_layers_plan_t plan;    /* looked up on the loop; prepared by the worker */
} layers_job_t;

/* The work queue's thread: the walk of the code and the merge, touching only the job. */
static void on_work(gl_api_job_t *job)
{
    layers_job_t *l = (layers_job_t *)job;
    gl_layers_prepare(&l->plan, l->cfg.code_dir);
}

static void job_free(layers_job_t *l)
{
    gl_fn_config_free(&l->cfg);
    gl_layers_plan_free(&l->plan);
    free(l);
}

/* Back on the loop: store and answer, or answer why not; then forget the job. */
static void on_done(gl_api_job_t *job, int stopping, int cancelled)
{
    layers_job_t *l = (layers_job_t *)job;
    gl_aws_error_t aerr;
    char rev[GL_UUID_LEN + 1];
    (void)cancelled;
    if (stopping) {
        gl_api_job_reply_error(job, GL_AWS_SERVICE,
                               "The service is stopping: the configuration was not stored");
    } else if (gl_layers_finish(job->api->reg, &l->plan, &l->cfg, &aerr) < 0) {
        gl_api_job_reply_error(job, aerr.type, aerr.msg);
    } else {
        gl_uuid4(rev);
        gl_api_stamp(&l->cfg, rev);
        gl_api_put_and_reply(job->api, gl_api_job_take_req(job), &l->cfg, 200, 0, 0, NULL);
    }
    job_free(l);
}

void gl_api_config_layers_start(gl_api_t *api, gl_http_req_t *req, gl_fn_config_t *cfg,
                                gl_layers_plan_t *plan)
{
    layers_job_t *l = calloc(1, sizeof(*l));
    if (!l) {
        gl_http_reply_aws_error(req, GL_AWS_SERVICE, "out of memory");
        return;
    }
    l->cfg = *cfg;
    memset(cfg, 0, sizeof(*cfg)); /* moved into the job */
    l->plan = *plan;
    memset(plan, 0, sizeof(*plan));
    l->plan.stop = &l->job.stop;
    l->job.kind = gl_api_function_job;
    l->job.name = l->cfg.name;
    l->job.run = on_work;
    l->job.done = on_done;
    int rc = gl_api_job_start(api, &l->job, req);
    if (rc < 0) {
        job_free(l);
        gl_http_reply_aws_error(req, GL_AWS_SERVICE, "Could not prepare the layers: %s",
                                uv_strerror(rc));
    }
}
