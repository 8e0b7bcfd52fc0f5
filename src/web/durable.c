/* SPDX-License-Identifier: MIT */
/*
 * durable.c: a Function URL or an API Gateway route whose function is durable (has a
 * DurableConfig). Lambda runs a durable function only as a durable execution and only when
 * invoked by a qualified ARN, whatever the invoker: so a URL of an alias starts an execution
 * with the request's event (the SDK gets Lambda's envelope) and answers, once it ends, with
 * its result mapped as any function's (payload 2.0 or 1.0); an unqualified URL or route, as
 * Lambda's refusal reaches an HTTP client, is the front end's failed-invoke answer (502 or
 * 500), with galley's reason in the daemon's log. A RESPONSE_STREAM URL answers buffered.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "galley/durable.h"
#include "galley/log.h"
#include "internal.h"

/* A request waiting for its execution's end. */
typedef struct dcall {
    gl_web_t *w;
    gl_http_req_t *req;
    json_t *cors;
    gl_web_mode_t mode;
} dcall_t;

void gl_web_set_durable(gl_web_t *w, struct gl_durable *durable)
{
    w->durable = durable;
}

static void on_client_gone(gl_http_req_t *req)
{
    dcall_t *c = req->data;
    gl_durable_forget(c->w->durable, c); /* the execution goes on without its caller */
    json_decref(c->cors);
    free(c);
}

static void on_end(void *arg, json_t *body, const gl_aws_error_t *aerr)
{
    dcall_t *c = arg;
    const char *status = json_string_value(json_object_get(body, "Status"));
    const char *result = json_string_value(json_object_get(body, "Result"));
    int ok = !aerr && status && !strcmp(status, "SUCCEEDED");
    c->req->on_abort = NULL;
    c->req->data = NULL;
    if (!ok)
        gl_log_warn("web: durable execution %s: %s",
                    json_string_value(json_object_get(body, "DurableExecutionArn")) ?: "-",
                    aerr ? aerr->msg : status ? status : "no outcome");
    result = result ? result : "null";
    gl_web_answer_result(c->req, !ok, result, strlen(result), c->cors,
                         c->mode == GL_WEB_URL_STREAM ? GL_WEB_URL : c->mode);
    json_decref(body);
    json_decref(c->cors);
    free(c);
}

/* The qualifier of "arn:aws:lambda:region:account:function:name:qualifier", or NULL. */
static const char *qualifier_of(const char *arn)
{
    const char *p = arn;
    for (int colons = 0; p && colons < 7; colons++)
        p = (p = strchr(p, ':')) ? p + 1 : NULL;
    return p && *p ? p : NULL;
}

int gl_web_invoke_durable(gl_web_t *w, gl_http_req_t *req, gl_fn_t *fn, const char *arn,
                          json_t *event, json_t *cors, gl_web_mode_t mode)
{
    if (!gl_durable_config(fn))
        return 0;
    const char *q = qualifier_of(arn);
    char *payload = event && w->durable && q ? json_dumps(event, JSON_COMPACT) : NULL;
    dcall_t *c = payload ? calloc(1, sizeof(*c)) : NULL;
    json_decref(event);
    if (!c) {
        gl_log_warn("web: %s is a durable function: %s", arn,
                    !q ? "Lambda invokes one only by a qualified ARN (a URL of an alias)"
                    : !w->durable ? "durable executions need a state directory"
                                  : "out of memory");
        free(payload);
        json_decref(cors);
        gl_web_reply_failed(req, mode);
        return 1;
    }
    *c = (dcall_t){.w = w, .req = req, .cors = cors, .mode = mode};
    gl_durable_start_in_t in = {
        .fn = fn, .qualifier = q, .payload = payload, .len = strlen(payload), .wait = 1};
    gl_aws_error_t aerr;
    req->data = c;
    req->on_abort = on_client_gone;
    if (gl_durable_invoke(w->durable, &in, on_end, c, &aerr) < 0) {
        req->on_abort = NULL;
        req->data = NULL;
        gl_log_warn("web: %s: %s", arn, aerr.msg);
        json_decref(cors);
        free(c);
        gl_web_reply_failed(req, mode);
    }
    free(payload);
    return 1;
}
