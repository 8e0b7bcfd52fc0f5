/* SPDX-License-Identifier: MIT */
/*
 * galley.c: galley's own endpoints under GL_API_GALLEY_PREFIX, for `galley ps` and test
 * harnesses (docs/testing.md): the live environments, and per function the controls Lambda
 * does not have: force a cold start, warm environments ahead of time (answering when they are
 * ready), an idle timeout of its own, injected faults, and a reset of all of that.
 * Every answer is JSON; unknown functions and bad arguments get Lambda-shaped errors.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "galley/sched.h"
#include "internal.h"

#define WARM_MAX 100

static void reply_ok(gl_http_req_t *req, json_t *body)
{
    gl_http_header_t h = {"x-amzn-RequestId", req->request_id};
    gl_http_reply_json(req, 200, &h, 1, body);
}

void gl_api_galley_environments(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    (void)rt;
    reply_ok(req, json_pack("{s:o, s:o, s:i, s:i}", "Environments", gl_sched_envs_json(api->sched),
                            "Spares", gl_sched_spares_json(api->sched),
                            "RunningInvokes", (int)gl_sched_running(api->sched),
                            "AccountConcurrency",
                            (int)gl_sched_account_concurrency(api->sched)));
}

void gl_api_galley_reset(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    (void)rt;
    gl_sched_reset(api->sched);
    reply_ok(req, json_pack("{s:b}", "Reset", 1));
}

/* A JSON object body ("{}" when empty), or NULL after a 400. */
static json_t *object_body(gl_http_req_t *req)
{
    json_error_t jerr;
    json_t *b = json_loadb(req->body.len ? req->body.data : "{}", req->body.len ? req->body.len : 2,
                           0, &jerr);
    if (!json_is_object(b)) {
        json_decref(b);
        gl_http_reply_aws_error(req, GL_AWS_INVALID_REQUEST_CONTENT,
                                "The body must be a JSON object (%s)", jerr.text);
        return NULL;
    }
    return b;
}

/* Integer member in [lo, hi]; absent gives def; else -1 after a 400. */
static long int_member(gl_http_req_t *req, json_t *body, const char *key, long lo, long hi,
                       long def)
{
    json_t *v = json_object_get(body, key);
    if (!v)
        return def;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
        gl_http_reply_aws_error(req, GL_AWS_INVALID_PARAMETER_VALUE,
                                "%s must be an integer from %ld to %ld", key, lo, hi);
        return -1;
    }
    return (long)json_integer_value(v);
}

typedef struct warm_wait {
    gl_http_req_t *req; /* NULL once the client went away */
    unsigned asked;
} warm_wait_t;

static void on_warm_client_gone(gl_http_req_t *req)
{
    warm_wait_t *w = req->data;
    w->req = NULL;
}

static void on_warm_done(unsigned ready, unsigned failed, void *arg)
{
    warm_wait_t *w = arg;
    if (w->req) {
        w->req->on_abort = NULL;
        reply_ok(w->req, json_pack("{s:i, s:i, s:i}", "Requested", (int)w->asked, "Ready",
                                   (int)ready, "Failed", (int)failed));
    }
    free(w);
}

static void warm(gl_api_t *api, gl_http_req_t *req, gl_fn_t *fn)
{
    json_t *body = object_body(req);
    if (!body)
        return;
    long n = int_member(req, body, "Count", 1, WARM_MAX, 1);
    json_decref(body);
    if (n < 0)
        return;
    warm_wait_t *w = calloc(1, sizeof(*w));
    if (!w) {
        gl_http_reply_aws_error(req, GL_AWS_SERVICE, "out of memory");
        return;
    }
    w->req = req;
    w->asked = (unsigned)n;
    req->data = w;
    req->on_abort = on_warm_client_gone;
    gl_sched_warm(api->sched, fn, (unsigned)n, on_warm_done, w);
}

static json_t *idle_json(gl_api_t *api, const char *name)
{
    return json_pack("{s:s, s:f}", "FunctionName", name, "IdleTimeoutSeconds",
                     (double)gl_sched_idle_timeout(api->sched, name) / 1000.0);
}

static void idle_timeout(gl_api_t *api, gl_http_req_t *req, const char *name)
{
    const char *m = req->method_name;
    if (!strcmp(m, "PUT")) {
        json_t *body = object_body(req);
        if (!body)
            return;
        json_t *v = json_object_get(body, "Seconds");
        double secs = json_is_number(v) ? json_number_value(v) : -1;
        json_decref(body);
        if (!(secs >= 0 && secs <= 86400) || isnan(secs)) {
            gl_http_reply_aws_error(req, GL_AWS_INVALID_PARAMETER_VALUE,
                                    "Seconds must be a number from 0 (every invoke cold) to "
                                    "86400");
            return;
        }
        gl_sched_set_idle_timeout(api->sched, name, (int64_t)(secs * 1000.0));
    } else if (!strcmp(m, "DELETE")) {
        gl_sched_set_idle_timeout(api->sched, name, -1);
    } else if (strcmp(m, "GET") != 0) {
        gl_http_reply_aws_error(req, GL_AWS_UNKNOWN_OPERATION, "Use GET, PUT or DELETE");
        return;
    }
    reply_ok(req, idle_json(api, name));
}

static json_t *fault_json(gl_api_t *api, const char *name)
{
    gl_fault_t kind;
    unsigned left = gl_sched_pending_fault(api->sched, name, &kind);
    return json_pack("{s:s, s:s?, s:i}", "FunctionName", name, "Kind",
                     left ? gl_fault_name(kind) : NULL, "Remaining", (int)left);
}

static void faults(gl_api_t *api, gl_http_req_t *req, const char *name)
{
    const char *m = req->method_name;
    if (!strcmp(m, "PUT") || !strcmp(m, "POST")) {
        json_t *body = object_body(req);
        if (!body)
            return;
        gl_fault_t kind = gl_fault_parse(json_string_value(json_object_get(body, "Kind")));
        long count = int_member(req, body, "Count", 1, 100000, 1);
        json_decref(body);
        if (count < 0)
            return;
        if (kind == GL_FAULT_NONE) {
            gl_http_reply_aws_error(req, GL_AWS_INVALID_PARAMETER_VALUE,
                                    "Kind must be one of throttle, service, timeout, init, crash");
            return;
        }
        gl_sched_inject(api->sched, name, kind, (unsigned)count);
    } else if (!strcmp(m, "DELETE")) {
        gl_sched_inject(api->sched, name, GL_FAULT_NONE, 0);
    } else if (strcmp(m, "GET") != 0) {
        gl_http_reply_aws_error(req, GL_AWS_UNKNOWN_OPERATION, "Use GET, PUT or DELETE");
        return;
    }
    reply_ok(req, fault_json(api, name));
}

/* The function's debugger port: POST/PUT {"Port": N} (default 9229) sets it and recycles
 * the function's environments, DELETE clears it, GET reads it. */
static void debug(gl_api_t *api, gl_http_req_t *req, const char *name)
{
    const char *m = req->method_name;
    if (!strcmp(m, "PUT") || !strcmp(m, "POST")) {
        json_t *body = object_body(req);
        if (!body)
            return;
        long port = int_member(req, body, "Port", 1, 65535, GL_API_DEBUG_PORT);
        json_decref(body);
        if (port < 0)
            return;
        gl_sched_set_debug(api->sched, name, (int)port);
    } else if (!strcmp(m, "DELETE")) {
        gl_sched_set_debug(api->sched, name, 0);
    } else if (strcmp(m, "GET") != 0) {
        gl_http_reply_aws_error(req, GL_AWS_UNKNOWN_OPERATION, "Use GET, POST or DELETE");
        return;
    }
    int port = gl_sched_debug_port(api->sched, name);
    reply_ok(req, json_pack("{s:s, s:o}", "FunctionName", name, "Port",
                            port ? json_integer(port) : json_null()));
}

void gl_api_galley_function(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    const gl_fn_ref_t *ref = &rt->ref;
    const char *control = rt->param;
    gl_fn_t *fn = gl_api_resolve(api, req, ref); /* 404 as Lambda words it */
    if (!fn)
        return;
    const char *name = fn->cfg.name;
    int post = !strcmp(req->method_name, "POST");
    if (!strcmp(control, "cold")) {
        if (!post) {
            gl_http_reply_aws_error(req, GL_AWS_UNKNOWN_OPERATION, "Use POST");
            return;
        }
        unsigned n = gl_sched_recycle(api->sched, fn);
        reply_ok(req, json_pack("{s:s, s:s, s:i}", "FunctionName", name, "Version", fn->version,
                                "EnvironmentsRetired", (int)n));
    } else if (!strcmp(control, "warm")) {
        if (!post) {
            gl_http_reply_aws_error(req, GL_AWS_UNKNOWN_OPERATION, "Use POST");
            return;
        }
        warm(api, req, fn);
    } else if (!strcmp(control, "idle-timeout")) {
        idle_timeout(api, req, name);
    } else if (!strcmp(control, "faults")) {
        faults(api, req, name);
    } else if (!strcmp(control, "debug")) {
        debug(api, req, name);
    } else {
        gl_http_reply_aws_error(req, GL_AWS_UNKNOWN_OPERATION, "Unknown control '%.64s': use "
                                "cold, warm, idle-timeout, faults or debug", control);
    }
}
