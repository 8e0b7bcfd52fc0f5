/* SPDX-License-Identifier: MIT */
/*
 * ops.c: what a checkpoint does to an execution's operations, and what time does to them.
 * Each OperationUpdate (Type, Action) moves one operation through its states:
 *   STEP     START -> STARTED; SUCCEED, FAIL; RETRY -> PENDING until NextAttemptTimestamp,
 *            then READY (gl_dx_advance), then START again with Attempt + 1
 *   WAIT     START -> STARTED until ScheduledEndTimestamp, then SUCCEEDED; CANCEL
 *   CONTEXT  START, SUCCEED, FAIL
 *   CALLBACK START -> STARTED with a CallbackId until SendDurableExecutionCallback* or a
 *            timeout; CANCEL
 *   EXECUTION SUCCEED, FAIL: the execution ends
 * Anything else is an invalid transition: the whole checkpoint is refused with
 * InvalidParameterValueException and nothing changes (updates go to a copy first).
 * Pure functions: no I/O.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef struct apply {
    gl_dx_t *x;
    json_t *ops;
    double scale;
    int64_t now;
    json_t *changed;
    gl_aws_error_t *aerr;
} apply_t;

static int is(const char *a, const char *b) { return a && !strcmp(a, b); }

static int64_t scaled_ms(double scale, json_int_t seconds)
{
    return (int64_t)((double)seconds * 1000.0 / (scale > 0 ? scale : 1));
}

static int refuse(apply_t *a, const json_t *u, const char *why)
{
    const char *type = json_string_value(json_object_get(u, "Type"));
    const char *action = json_string_value(json_object_get(u, "Action"));
    const char *id = json_string_value(json_object_get(u, "Id"));
    gl_aws_error_set(a->aerr, GL_AWS_INVALID_PARAMETER_VALUE, EINVAL,
                     "Invalid operation update: %.16s %.64s cannot %.16s: %s",
                     type ? type : "?", id ? id : "?", action ? action : "?", why);
    return -1;
}

static void note_changed(apply_t *a, const char *id)
{
    if (!a->changed)
        return;
    for (size_t i = 0; i < json_array_size(a->changed); i++)
        if (is(json_string_value(json_array_get(a->changed, i)), id))
            return;
    json_array_append_new(a->changed, json_string(id));
}

/* The details object of op for its type ("StepDetails", ...), created when missing. */
static json_t *details(json_t *op)
{
    static const char *const keys[][2] = {{"STEP", "StepDetails"},
                                          {"WAIT", "WaitDetails"},
                                          {"CONTEXT", "ContextDetails"},
                                          {"CALLBACK", "CallbackDetails"},
                                          {"CHAINED_INVOKE", "ChainedInvokeDetails"},
                                          {"EXECUTION", "ExecutionDetails"}};
    const char *type = json_string_value(json_object_get(op, "Type"));
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        if (!is(type, keys[i][0]))
            continue;
        json_t *d = json_object_get(op, keys[i][1]);
        if (!d) {
            d = json_object();
            json_object_set_new(op, keys[i][1], d);
        }
        return d;
    }
    return NULL;
}

/* "StepStarted" from "STEP" and "Started". */
static void event_name(const char *type, const char *what, char *out, size_t len)
{
    static const char *const names[][2] = {{"STEP", "Step"},         {"WAIT", "Wait"},
                                           {"CONTEXT", "Context"},   {"CALLBACK", "Callback"},
                                           {"CHAINED_INVOKE", "ChainedInvoke"}};
    const char *n = "Operation";
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (is(type, names[i][0]))
            n = names[i][1];
    snprintf(out, len, "%s%s", n, what);
}

static void op_event(apply_t *a, json_t *op, const char *what, json_t *ev_details)
{
    char name[48];
    event_name(json_string_value(json_object_get(op, "Type")), what, name, sizeof(name));
    gl_dx_event(a->x, name, op, ev_details, a->now);
}

static json_t *new_op(apply_t *a, const json_t *u)
{
    json_t *op = json_pack("{s:O,s:O,s:f,s:s}", "Id", json_object_get(u, "Id"), "Type",
                           json_object_get(u, "Type"), "StartTimestamp", gl_dx_secs(a->now),
                           "Status", "STARTED");
    static const char *const copied[] = {"ParentId", "Name", "SubType"};
    for (size_t i = 0; op && i < 3; i++)
        if (json_object_get(u, copied[i]))
            json_object_set(op, copied[i], json_object_get(u, copied[i]));
    if (op)
        json_object_set_new(a->ops, json_string_value(json_object_get(u, "Id")), op);
    return op;
}

static void end_op(apply_t *a, json_t *op, const char *status)
{
    json_object_set_new(op, "Status", json_string(status));
    json_object_set_new(op, "EndTimestamp", json_real(gl_dx_secs(a->now)));
}

static int start_wait(apply_t *a, const json_t *u, json_t *op)
{
    json_int_t secs = json_integer_value(
        json_object_get(json_object_get(u, "WaitOptions"), "WaitSeconds"));
    if (secs < 1 || secs > 31622400)
        return refuse(a, u, "WaitOptions.WaitSeconds must be between 1 and 31622400");
    double end = gl_dx_secs(a->now + scaled_ms(a->scale, secs));
    json_object_set_new(details(op), "ScheduledEndTimestamp", json_real(end));
    op_event(a, op, "Started",
             json_pack("{s:I,s:f}", "Duration", secs, "ScheduledEndTimestamp", end));
    return 0;
}

static int start_callback(apply_t *a, const json_t *u, json_t *op)
{
    const json_t *o = json_object_get(u, "CallbackOptions");
    json_int_t t = json_integer_value(json_object_get(o, "TimeoutSeconds"));
    json_int_t hb = json_integer_value(json_object_get(o, "HeartbeatTimeoutSeconds"));
    char raw[160], *cid = NULL;
    int n = snprintf(raw, sizeof(raw), "%s:%s", a->x->id,
                     json_string_value(json_object_get(u, "Id")));
    if (gl_b64_encode(raw, (size_t)n, &cid) < 0)
        return refuse(a, u, "out of memory");
    json_t *d = details(op);
    json_object_set_new(d, "CallbackId", json_string(cid));
    /* galley's own due times, kept beside the API's fields: when the callback times out. */
    if (t > 0)
        json_object_set_new(op, "_TimeoutAt", json_integer(a->now + scaled_ms(a->scale, t)));
    if (hb > 0) {
        json_object_set_new(op, "_HeartbeatMs", json_integer(scaled_ms(a->scale, hb)));
        json_object_set_new(op, "_HeartbeatAt", json_integer(a->now + scaled_ms(a->scale, hb)));
    }
    op_event(a, op, "Started",
             json_pack("{s:s,s:I,s:I}", "CallbackId", cid, "Timeout", t, "HeartbeatTimeout", hb));
    free(cid);
    return 0;
}

/* What to invoke is kept beside the API's fields (chained.c launches it). */
static int start_chained(apply_t *a, const json_t *u, json_t *op)
{
    const json_t *fn = json_object_get(json_object_get(u, "ChainedInvokeOptions"), "FunctionName");
    const json_t *payload = json_object_get(u, "Payload");
    if (!json_is_string(fn) || !json_string_length(fn))
        return refuse(a, u, "ChainedInvokeOptions.FunctionName is required");
    json_object_set(op, "_FunctionName", (json_t *)fn);
    if (json_is_string(payload))
        json_object_set(op, "_Input", (json_t *)payload);
    details(op);
    op_event(a, op, "Started",
             json_pack("{s:O,s:{s:O?}}", "FunctionName", fn, "Input", "Payload",
                       json_is_string(payload) ? payload : NULL));
    return 0;
}

static int do_start(apply_t *a, const json_t *u, json_t *op, const char *type)
{
    if (op) {
        const char *st = json_string_value(json_object_get(op, "Status"));
        if (!is(type, "STEP") || !(is(st, "READY") || is(st, "PENDING") || is(st, "STARTED")))
            return refuse(a, u, "the operation was already started");
        if (is(st, "STARTED"))
            return 0;
        json_object_set_new(op, "Status", json_string("STARTED"));
        op_event(a, op, "Started", NULL);
        return 0;
    }
    if (!(op = new_op(a, u)))
        return refuse(a, u, "out of memory");
    if (is(type, "WAIT"))
        return start_wait(a, u, op);
    if (is(type, "CALLBACK"))
        return start_callback(a, u, op);
    if (is(type, "CHAINED_INVOKE"))
        return start_chained(a, u, op);
    op_event(a, op, "Started", NULL);
    return 0;
}

/* SUCCEED, FAIL and RETRY of a STEP or CONTEXT (created when its START was never sent). */
static int do_end(apply_t *a, const json_t *u, json_t *op, const char *type, const char *action)
{
    if (!is(type, "STEP") && !is(type, "CONTEXT") && !(is(type, "WAIT") && is(action, "CANCEL")) &&
        !(is(type, "CALLBACK") && is(action, "CANCEL")))
        return refuse(a, u, "not an action of this operation type");
    if (is(action, "RETRY") && !is(type, "STEP"))
        return refuse(a, u, "only a STEP is retried");
    const char *st = op ? json_string_value(json_object_get(op, "Status")) : NULL;
    if (op && !(is(st, "STARTED") || is(st, "READY") || is(st, "PENDING")))
        return refuse(a, u, "the operation has already ended");
    if (!op && (is(action, "CANCEL") || !(op = new_op(a, u))))
        return refuse(a, u, "no such operation");
    json_t *d = details(op), *err = json_object_get(u, "Error");
    json_int_t attempt = json_integer_value(json_object_get(d, "Attempt"));
    if (is(action, "SUCCEED")) {
        json_t *p = json_object_get(u, "Payload");
        json_object_set(d, "Result", p ? p : json_null());
        if (!p)
            json_object_del(d, "Result");
        end_op(a, op, "SUCCEEDED");
        op_event(a, op, "Succeeded",
                 is(type, "STEP") ? json_pack("{s:{s:O?},s:{s:I}}", "Result", "Payload", p,
                                              "RetryDetails", "CurrentAttempt", attempt + 1)
                                  : json_pack("{s:{s:O?}}", "Result", "Payload", p));
    } else if (is(action, "FAIL") || is(action, "CANCEL")) {
        if (err)
            json_object_set(d, "Error", err);
        end_op(a, op, is(action, "FAIL") ? "FAILED" : "CANCELLED");
        json_t *ev = json_pack("{s:o}", "Error", gl_dx_event_error(err));
        if (is(type, "STEP"))
            json_object_set_new(ev, "RetryDetails",
                                json_pack("{s:I}", "CurrentAttempt", attempt + 1));
        op_event(a, op, is(action, "FAIL") ? "Failed" : "Cancelled", ev);
    } else { /* RETRY */
        json_int_t delay = json_integer_value(
            json_object_get(json_object_get(u, "StepOptions"), "NextAttemptDelaySeconds"));
        if (delay < 1 || delay > 31622400)
            delay = 1;
        int64_t due = a->now + scaled_ms(a->scale, delay);
        json_object_set_new(d, "Attempt", json_integer(attempt + 1));
        json_object_set_new(d, "NextAttemptTimestamp", json_real(gl_dx_secs(due)));
        if (err)
            json_object_set(d, "Error", err);
        json_object_set_new(op, "Status", json_string("PENDING"));
        op_event(a, op, "Failed",
                 json_pack("{s:o,s:{s:I,s:I}}", "Error", gl_dx_event_error(err), "RetryDetails",
                           "CurrentAttempt", attempt + 1, "NextAttemptDelaySeconds", delay));
    }
    return 0;
}

static int valid_id(const char *s)
{
    size_t n = s ? strlen(s) : 0;
    return n >= 1 && n <= 64 &&
           strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") == n;
}

static int apply_one(apply_t *a, const json_t *u)
{
    static const char *const types[] = {"EXECUTION", "CONTEXT", "STEP",
                                        "WAIT",      "CALLBACK", "CHAINED_INVOKE"};
    static const char *const actions[] = {"START", "SUCCEED", "FAIL", "RETRY", "CANCEL"};
    const char *id = json_string_value(json_object_get(u, "Id"));
    const char *type = json_string_value(json_object_get(u, "Type"));
    const char *action = json_string_value(json_object_get(u, "Action"));
    int ok_type = 0, ok_action = 0;
    for (size_t i = 0; i < 6; i++)
        ok_type |= is(type, types[i]);
    for (size_t i = 0; i < 5; i++)
        ok_action |= is(action, actions[i]);
    if (!json_is_object(u) || !valid_id(id) || !ok_type || !ok_action)
        return refuse(a, u, "an update needs a valid Id, Type and Action");
    if (is(type, "EXECUTION")) {
        if (!is(action, "SUCCEED") && !is(action, "FAIL"))
            return refuse(a, u, "an execution only succeeds or fails");
        const json_t *p = json_object_get(u, "Payload");
        gl_dx_finish(a->x, is(action, "SUCCEED") ? "SUCCEEDED" : "FAILED", json_string_value(p),
                     json_object_get(u, "Error"), a->now);
        return 0;
    }
    json_t *op = json_object_get(a->ops, id);
    const char *optype = op ? json_string_value(json_object_get(op, "Type")) : NULL;
    if (op && !is(optype, type))
        return refuse(a, u, "the operation has another type");
    int rc = is(action, "START") ? do_start(a, u, op, type) : do_end(a, u, op, type, action);
    if (rc == 0)
        note_changed(a, id);
    return rc;
}

int gl_dx_apply(gl_dx_t *x, const json_t *updates, double scale, int64_t now_ms,
                json_t *changed, gl_aws_error_t *aerr)
{
    if (!gl_dx_running(x))
        return gl_aws_error_set(aerr, GL_AWS_INVALID_PARAMETER_VALUE, EINVAL,
                                "Invalid Checkpoint Token: the durable execution has ended "
                                "(%s).",
                                gl_dx_str(x, "Status"));
    if (updates && !json_is_array(updates))
        return gl_aws_error_set(aerr, GL_AWS_INVALID_REQUEST_CONTENT, EINVAL,
                                "Could not parse request body into json: member Updates must "
                                "be an array");
    json_t *copy = json_deep_copy(x->doc), *saved = x->doc;
    if (!copy)
        return gl_aws_error_set(aerr, GL_AWS_SERVICE, ENOMEM, "Out of memory");
    x->doc = copy;
    size_t nchanged = changed ? json_array_size(changed) : 0;
    apply_t a = {x, json_object_get(copy, "Ops"), scale, now_ms, changed, aerr};
    for (size_t i = 0; i < json_array_size(updates); i++) {
        if (!gl_dx_running(x))
            break; /* what follows the execution's own end has nothing to change */
        if (apply_one(&a, json_array_get(updates, i)) < 0) {
            x->doc = saved;
            json_decref(copy);
            while (changed && json_array_size(changed) > nchanged)
                json_array_remove(changed, json_array_size(changed) - 1);
            return -1;
        }
    }
    json_decref(saved);
    return 0;
}

/* One operation against the clock: 1 when it changed. */
static int advance_op(gl_dx_t *x, json_t *op, int64_t now)
{
    apply_t a = {.x = x, .now = now};
    const char *type = json_string_value(json_object_get(op, "Type"));
    const char *st = json_string_value(json_object_get(op, "Status"));
    json_t *d = details(op);
    if (is(type, "WAIT") && is(st, "STARTED") &&
        json_real_value(json_object_get(d, "ScheduledEndTimestamp")) * 1000.0 <= (double)now) {
        end_op(&a, op, "SUCCEEDED");
        op_event(&a, op, "Succeeded", NULL);
        return 1;
    }
    if (is(type, "STEP") && is(st, "PENDING") &&
        json_real_value(json_object_get(d, "NextAttemptTimestamp")) * 1000.0 <= (double)now) {
        json_object_set_new(op, "Status", json_string("READY"));
        return 1;
    }
    if (is(type, "CALLBACK") && is(st, "STARTED")) {
        json_t *t = json_object_get(op, "_TimeoutAt"), *hb = json_object_get(op, "_HeartbeatAt");
        int timeout = t && json_integer_value(t) <= now;
        int heartbeat = hb && json_integer_value(hb) <= now;
        if (!timeout && !heartbeat)
            return 0;
        json_t *err = json_pack("{s:s,s:s}", "ErrorType",
                                timeout ? "Callback.Timeout" : "Callback.HeartbeatTimeout",
                                "ErrorMessage",
                                timeout ? "The callback timed out."
                                        : "The callback's heartbeat timed out.");
        json_object_set(d, "Error", err);
        end_op(&a, op, "TIMED_OUT");
        op_event(&a, op, "TimedOut", json_pack("{s:o}", "Error", gl_dx_event_error(err)));
        json_decref(err);
        return 1;
    }
    return 0;
}

int gl_dx_advance(gl_dx_t *x, int64_t now_ms, json_t *changed)
{
    if (!gl_dx_running(x))
        return 0;
    int n = 0;
    const char *id;
    json_t *op;
    json_object_foreach(json_object_get(x->doc, "Ops"), id, op) {
        if (advance_op(x, op, now_ms)) {
            n++;
            if (changed)
                json_array_append_new(changed, json_string(id));
        }
    }
    return n;
}

static void earliest(int64_t *best, int64_t t)
{
    if (t > 0 && (*best == 0 || t < *best))
        *best = t;
}

int64_t gl_dx_next_due(const gl_dx_t *x)
{
    int64_t best = 0;
    const char *id;
    json_t *op;
    json_object_foreach(json_object_get(x->doc, "Ops"), id, op) {
        const char *type = json_string_value(json_object_get(op, "Type"));
        const char *st = json_string_value(json_object_get(op, "Status"));
        if (is(type, "WAIT") && is(st, "STARTED"))
            earliest(&best, (int64_t)(json_real_value(json_object_get(
                                          json_object_get(op, "WaitDetails"),
                                          "ScheduledEndTimestamp")) * 1000.0));
        else if (is(type, "STEP") && is(st, "PENDING"))
            earliest(&best, (int64_t)(json_real_value(json_object_get(
                                          json_object_get(op, "StepDetails"),
                                          "NextAttemptTimestamp")) * 1000.0));
        else if (is(type, "CALLBACK") && is(st, "STARTED")) {
            earliest(&best, json_integer_value(json_object_get(op, "_TimeoutAt")));
            earliest(&best, json_integer_value(json_object_get(op, "_HeartbeatAt")));
        }
    }
    return best;
}

int gl_dx_callback(gl_dx_t *x, const char *op_id, char kind, const char *result, size_t len,
                   const json_t *error, int64_t now_ms, gl_aws_error_t *aerr)
{
    json_t *op = json_object_get(json_object_get(x->doc, "Ops"), op_id);
    if (!op || !is(json_string_value(json_object_get(op, "Type")), "CALLBACK"))
        return gl_aws_error_set(aerr, GL_AWS_RESOURCE_NOT_FOUND, ENOENT,
                                "The callback was not found.");
    if (!gl_dx_running(x) || !is(json_string_value(json_object_get(op, "Status")), "STARTED"))
        return gl_aws_error_set(aerr, GL_AWS_CALLBACK_TIMEOUT, EINVAL,
                                "The callback has already completed or timed out.");
    apply_t a = {.x = x, .now = now_ms};
    json_t *d = details(op);
    if (kind == 'H') {
        json_t *ms = json_object_get(op, "_HeartbeatMs");
        if (ms)
            json_object_set_new(op, "_HeartbeatAt", json_integer(now_ms + json_integer_value(ms)));
        return 0;
    }
    if (kind == 'S') {
        json_object_set_new(d, "Result", json_stringn(result ? result : "", len));
        end_op(&a, op, "SUCCEEDED");
        op_event(&a, op, "Succeeded",
                 json_pack("{s:{s:s%}}", "Result", "Payload", result ? result : "", len));
    } else {
        if (error)
            json_object_set(d, "Error", (json_t *)error);
        end_op(&a, op, "FAILED");
        op_event(&a, op, "Failed", json_pack("{s:o}", "Error", gl_dx_event_error(error)));
    }
    return 0;
}

int gl_dx_skip_waits(gl_dx_t *x, int64_t now_ms)
{
    int n = 0;
    const char *id;
    json_t *op;
    if (!gl_dx_running(x))
        return 0;
    json_object_foreach(json_object_get(x->doc, "Ops"), id, op) {
        const char *type = json_string_value(json_object_get(op, "Type"));
        const char *st = json_string_value(json_object_get(op, "Status"));
        const char *key = is(type, "WAIT") && is(st, "STARTED")   ? "ScheduledEndTimestamp"
                          : is(type, "STEP") && is(st, "PENDING") ? "NextAttemptTimestamp"
                                                                  : NULL;
        if (key) {
            json_object_set_new(details(op), key, json_real(gl_dx_secs(now_ms)));
            n++;
        }
    }
    return n;
}

int gl_dx_chained_done(gl_dx_t *x, const char *op_id, const char *result, size_t len,
                       const json_t *error, int64_t now_ms, gl_aws_error_t *aerr)
{
    json_t *op = json_object_get(json_object_get(x->doc, "Ops"), op_id);
    if (!gl_dx_running(x) || !op ||
        !is(json_string_value(json_object_get(op, "Type")), "CHAINED_INVOKE") ||
        !is(json_string_value(json_object_get(op, "Status")), "STARTED"))
        return gl_aws_error_set(aerr, GL_AWS_INVALID_PARAMETER_VALUE, EINVAL,
                                "The chained invoke is no longer running.");
    apply_t a = {.x = x, .now = now_ms};
    json_t *d = details(op);
    if (!error) {
        json_object_set_new(d, "Result", json_stringn(result ? result : "", len));
        end_op(&a, op, "SUCCEEDED");
        op_event(&a, op, "Succeeded",
                 json_pack("{s:{s:s%}}", "Result", "Payload", result ? result : "", len));
    } else {
        json_object_set(d, "Error", (json_t *)error);
        end_op(&a, op, "FAILED");
        op_event(&a, op, "Failed", json_pack("{s:o}", "Error", gl_dx_event_error(error)));
    }
    return 0;
}
