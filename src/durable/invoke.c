/* SPDX-License-Identifier: MIT */
/*
 * invoke.c: starting executions and invoking their function. An execution starts once its
 * ACCEPT record is on disk; then, and each time it can go on, galley invokes the function's
 * version with Lambda's envelope and a fresh checkpoint token. The invocation's answer
 * decides what follows: SUCCEEDED or FAILED ends the execution, PENDING leaves it until its
 * next due time (or invokes again at once when something completed meanwhile). An invocation
 * that fails without an answer (a crash, a timeout) is retried after a growing
 * delay; the fourth failure in a row fails the execution. galley's own failures (a throttle, a
 * scheduler closing for shutdown) are retried a second later and never fail it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "galley/log.h"
#include "galley/metrics.h"
#include "galley/sched.h"
#include "internal.h"

#define ENVELOPE_PAGE 1000
#define MAX_FAILURES 4

const json_t *gl_durable_config(const gl_fn_t *fn)
{
    const json_t *c = fn && fn->cfg.extra ? json_object_get(fn->cfg.extra, "DurableConfig") : NULL;
    return json_is_object(c) ? c : NULL;
}

/* The envelope Lambda hands a durable function (new reference). */
static json_t *envelope(gl_dx_t *x)
{
    size_t next;
    char *token = gl_dx_new_token(x);
    json_t *ops = gl_dx_ops_page(x, 0, ENVELOPE_PAGE, &next);
    json_t *state = json_pack("{s:o}", "Operations", ops);
    if (state && next)
        json_object_set_new(state, "NextMarker", json_sprintf("%zu", next));
    json_t *env = json_pack("{s:O,s:s?,s:o}", "DurableExecutionArn",
                            json_object_get(x->doc, "Arn"), "CheckpointToken", token,
                            "InitialExecutionState", state);
    free(token);
    return env;
}

static void retry_later(gl_durable_t *d, gl_dx_t *x, const char *why)
{
    if (d->closing)
        return;
    int64_t now = gl_now_ms();
    if (++x->failures >= MAX_FAILURES) {
        json_t *err = json_pack("{s:s,s:s}", "ErrorType", "Invocation.Failed", "ErrorMessage",
                                why);
        gl_dx_finish(x, "FAILED", NULL, err, now);
        json_decref(err);
        gl_durable_persist(d, x, 0, NULL, NULL, NULL);
        gl_durable_notify(d, x, NULL, 0);
        return;
    }
    gl_log_warn("durable: %s: invocation failed (%s); again in %d s", x->id, why, x->failures);
    x->wake_ms = now + (int64_t)(1000.0 * x->failures / d->scale);
}

/* The function's answer: {"Status": SUCCEEDED|FAILED|PENDING, "Result", "Error"}. */
static void on_output(gl_durable_t *d, gl_dx_t *x, gl_invoke_t *inv)
{
    json_t *out = json_loadb(inv->result.data ? inv->result.data : "", inv->result.len, 0, NULL);
    const char *status = json_string_value(json_object_get(out, "Status"));
    int64_t now = gl_now_ms();
    if (inv->service_error) {
        /* galley's failure, not the function's (a scheduler closing for shutdown): try again
         * in a second of real time, without counting it against the execution. */
        gl_log_warn("durable: %s: %s; invoking again in 1 s", x->id, inv->service_error);
        x->wake_ms = now + 1000;
    } else if (inv->function_error || !status) {
        retry_later(d, x,
                    inv->function_error ? "the function failed"
                                        : "the function's output is not a durable outcome");
    } else if (!strcmp(status, "SUCCEEDED") || !strcmp(status, "FAILED")) {
        const json_t *res = json_object_get(out, "Result");
        /* An empty Result means it was checkpointed (EXECUTION SUCCEED): keep that one. */
        gl_dx_finish(x, status,
                     json_string_length(res) || !json_object_get(x->doc, "Result")
                         ? json_string_value(res)
                         : NULL,
                     json_object_get(out, "Error"), now);
    } else {
        x->failures = 0;
        if (gl_dx_advance(x, now, NULL) > 0 || x->resume)
            x->wake_ms = now;
        else
            x->wake_ms = gl_dx_next_due(x);
    }
    json_decref(out);
}

static void on_invoked(gl_invoke_t *inv)
{
    gl_dx_t *x = inv->data;
    gl_durable_t *d = x ? x->d : NULL;
    if (!x) {
        gl_invoke_free(inv);
        return;
    }
    x->inv = NULL;
    int64_t now = gl_now_ms();
    gl_dx_event(x, "InvocationCompleted", NULL,
                json_pack("{s:f,s:f,s:s}", "StartTimestamp",
                          gl_dx_secs(now - (int64_t)inv->duration_ms), "EndTimestamp",
                          gl_dx_secs(now), "RequestId", inv->request_id),
                now);
    if (gl_dx_running(x))
        on_output(d, x, inv);
    gl_invoke_free(inv);
    x->resume = 0;
    gl_durable_persist(d, x, 0, NULL, NULL, NULL);
    if (!gl_dx_running(x))
        gl_durable_notify(d, x, NULL, 0);
    else if (x->wake_ms && x->wake_ms <= now)
        gl_durable_kick(d, x);
    gl_durable_rearm(d);
}

void gl_durable_invoke_now(gl_durable_t *d, gl_dx_t *x)
{
    if (x->inv || !gl_dx_running(x) || d->closing || !d->started)
        return;
    x->wake_ms = 0;
    gl_fn_t *fn = gl_registry_resolve(d->reg, gl_dx_str(x, "FunctionName"),
                                      gl_dx_str(x, "Version"), -1.0);
    gl_invoke_t *inv = fn ? gl_invoke_new(fn) : NULL;
    json_t *env = inv ? envelope(x) : NULL;
    char *text = env ? json_dumps(env, JSON_COMPACT) : NULL;
    json_decref(env);
    if (!text) {
        if (inv)
            gl_invoke_free(inv);
        retry_later(d, x, fn ? "out of memory" : "the function version no longer exists");
        return;
    }
    gl_uuid4(inv->request_id);
    inv->invoked_arn = strdup(gl_dx_str(x, "FunctionArn"));
    gl_buf_append(&inv->payload, text, strlen(text));
    free(text);
    inv->done = on_invoked;
    inv->data = x;
    x->inv = inv;
    if (gl_sched_submit(d->sched, inv) < 0) { /* throttled: inv is still ours */
        x->inv = NULL;
        gl_invoke_free(inv);
        x->wake_ms = gl_now_ms() + 1000; /* as galley's own failures: never counted */
        gl_durable_rearm(d);
    }
}

void gl_durable_kick(gl_durable_t *d, gl_dx_t *x)
{
    if (!gl_dx_running(x))
        return;
    if (x->inv) {
        x->resume = 1; /* looked at again when the invocation returns */
        return;
    }
    if (gl_dx_advance(x, gl_now_ms(), NULL) > 0)
        gl_durable_persist(d, x, 0, NULL, NULL, NULL);
    gl_durable_launch_chained(d, x); /* after a restart: the ones that were in flight */
    gl_durable_invoke_now(d, x);
}

/* The first time a name is used, or a running execution with the same name and payload. */
static int existing(gl_durable_t *d, const gl_durable_start_in_t *in, gl_dx_t **out,
                    gl_aws_error_t *aerr)
{
    *out = NULL;
    if (!in->name)
        return 0;
    for (gl_dx_t *x = d->list; x; x = x->next) {
        if (strcmp(gl_dx_str(x, "Name"), in->name) ||
            strcmp(gl_dx_str(x, "FunctionName"), in->fn->cfg.name))
            continue;
        const char *input = gl_dx_str(x, "Input");
        if (gl_dx_running(x) && strlen(input) == in->len && !memcmp(input, in->payload, in->len)) {
            *out = x;
            return 0;
        }
        return gl_aws_error_set(aerr, GL_AWS_DURABLE_ALREADY_STARTED, EEXIST,
                                "A durable execution named %s has already been started%s.",
                                in->name,
                                gl_dx_running(x) ? " with a different payload" : " and has ended");
    }
    return 0;
}

/* The ACCEPT record is on disk (or could not be written): answer Event invokes, then run. */
static void on_accepted(void *arg, json_t *body, const gl_aws_error_t *aerr)
{
    gl_dx_t *x = arg;
    gl_durable_t *d = x->d;
    json_decref(body);
    if (aerr) {
        json_t *err = json_pack("{s:s,s:s}", "ErrorType", "ServiceException", "ErrorMessage",
                                aerr->msg);
        gl_dx_finish(x, "FAILED", NULL, err, gl_now_ms());
        json_decref(err);
        gl_durable_notify(d, x, aerr, 0);
        return;
    }
    gl_durable_notify(d, x, NULL, 1);
    gl_durable_invoke_now(d, x);
}

int gl_durable_invoke(gl_durable_t *d, const gl_durable_start_in_t *in, gl_durable_reply_fn cb,
                      void *arg, gl_aws_error_t *aerr)
{
    gl_dx_t *x;
    if (existing(d, in, &x, aerr) < 0)
        return -1;
    if (x) { /* joining: Event answers at once, RequestResponse when it ends */
        if (in->wait)
            return gl_durable_add_waiter(d, x, cb, arg, 0) == 0
                       ? 0
                       : gl_aws_error_set(aerr, GL_AWS_SERVICE, ENOMEM, "Out of memory");
        gl_durable_persist(d, x, 0, cb, arg, gl_durable_outcome(x));
        return 0;
    }
    const json_t *cfg = gl_durable_config(in->fn);
    char id[GL_UUID_LEN + 1];
    gl_uuid4(id);
    gl_dx_new_in_t n = {
        .id = id,
        .name = in->name ? in->name : id,
        .fn_name = in->fn->cfg.name,
        .qualifier = in->qualifier,
        .version = in->fn->version ? in->fn->version : "$LATEST",
        .region = gl_registry_region(d->reg),
        .account = gl_registry_account(d->reg),
        .payload = in->payload,
        .len = in->len,
        .timeout_s = (long)json_integer_value(json_object_get(cfg, "ExecutionTimeout")),
        .retention_days = (long)json_integer_value(json_object_get(cfg, "RetentionPeriodInDays")),
    };
    if (!(x = gl_dx_new(&n, gl_now_ms())))
        return gl_aws_error_set(aerr, GL_AWS_SERVICE, ENOMEM, "Out of memory");
    if (gl_durable_add_waiter(d, x, cb, arg, !in->wait) < 0) {
        gl_dx_free(x);
        return gl_aws_error_set(aerr, GL_AWS_SERVICE, ENOMEM, "Out of memory");
    }
    x->d = d;
    x->next = d->list;
    d->list = x;
    gl_durable_persist(d, x, 1, on_accepted, x, NULL);
    return 0;
}
