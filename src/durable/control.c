/* SPDX-License-Identifier: MIT */
/*
 * control.c: the durable operations that change an execution: CheckpointDurableExecution
 * (token check, the updates through ops.c, a rotated token), StopDurableExecution and
 * SendDurableExecutionCallback{Success,Failure,Heartbeat}. Each change is persisted and
 * replied to only once its record is on disk (durable.c); whatever can go on afterwards
 * (a callback completed while the function was suspended) is kicked into a new invocation.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "galley/log.h"
#include "internal.h"

static int invalid_token(gl_aws_error_t *aerr)
{
    return gl_aws_error_set(aerr, GL_AWS_INVALID_PARAMETER_VALUE, EINVAL,
                            "Invalid Checkpoint Token: the token is stale or does not belong "
                            "to this durable execution.");
}

int gl_durable_checkpoint(gl_durable_t *d, const char *arn, const char *token,
                          const json_t *updates, gl_durable_reply_fn cb, void *arg,
                          gl_aws_error_t *aerr)
{
    gl_dx_t *x = gl_durable_find(d, arn);
    if (!x || gl_dx_check_token(x, token, 0) < 0)
        return invalid_token(aerr);
    json_t *changed = json_array();
    int64_t now = gl_now_ms();
    if (!changed || gl_dx_apply(x, updates, d->scale, now, changed, aerr) < 0) {
        json_decref(changed);
        return changed ? -1
                       : gl_aws_error_set(aerr, GL_AWS_SERVICE, ENOMEM, "Out of memory");
    }
    gl_dx_advance(x, now, changed); /* the SDK polls with empty checkpoints while it waits */
    json_object_set_new(x->doc, "Seq", json_integer(gl_dx_int(x, "Seq") + 1));
    char *next = gl_dx_token(x);
    json_t *ops = json_array();
    for (size_t i = 0; i < json_array_size(changed); i++) {
        size_t at = 0, n;
        const char *id = json_string_value(json_array_get(changed, i)), *k;
        json_t *op;
        json_object_foreach(json_object_get(x->doc, "Ops"), k, op) {
            if (!strcmp(k, id))
                break;
            at++;
        }
        json_t *page = gl_dx_ops_page(x, at, 1, &n);
        json_array_extend(ops, page);
        json_decref(page);
    }
    json_decref(changed);
    json_t *body = json_pack("{s:s?,s:{s:o}}", "CheckpointToken", next, "NewExecutionState",
                             "Operations", ops);
    free(next);
    gl_durable_persist(d, x, 0, cb, arg, body);
    if (!gl_dx_running(x))
        gl_durable_notify(d, x, NULL, 0);
    else
        gl_durable_launch_chained(d, x);
    gl_durable_rearm(d);
    return 0;
}

int gl_durable_stop(gl_durable_t *d, const char *arn, const json_t *error, gl_durable_reply_fn cb,
                    void *arg, gl_aws_error_t *aerr)
{
    gl_dx_t *x = gl_durable_find(d, arn);
    if (!x)
        return gl_aws_error_set(aerr, GL_AWS_RESOURCE_NOT_FOUND, ENOENT,
                                "The durable execution %.1024s was not found.", arn);
    if (!gl_dx_running(x))
        return gl_aws_error_set(aerr, GL_AWS_INVALID_PARAMETER_VALUE, EINVAL,
                                "The durable execution has already ended (%s).",
                                gl_dx_str(x, "Status"));
    int64_t now = gl_now_ms();
    json_t *err = error ? json_deep_copy(error)
                        : json_pack("{s:s,s:s}", "ErrorType", "Execution.Stopped",
                                    "ErrorMessage", "The durable execution was stopped.");
    gl_dx_finish(x, "STOPPED", NULL, err, now);
    json_decref(err);
    gl_durable_persist(d, x, 0, cb, arg, json_pack("{s:f}", "StopTimestamp", gl_dx_secs(now)));
    gl_durable_notify(d, x, NULL, 0);
    gl_durable_rearm(d);
    return 0;
}

int gl_durable_callback(gl_durable_t *d, const char *callback_id, char kind, const char *result,
                        size_t len, const json_t *error, gl_durable_reply_fn cb, void *arg,
                        gl_aws_error_t *aerr)
{
    char id[GL_DX_ID_LEN + 1], op[80];
    gl_dx_t *x = gl_dx_parse_ref(callback_id, id, op, sizeof(op)) == 0
                     ? gl_durable_find_id(d, id)
                     : NULL;
    if (!x)
        return gl_aws_error_set(aerr, GL_AWS_RESOURCE_NOT_FOUND, ENOENT,
                                "The callback was not found.");
    if (gl_dx_advance(x, gl_now_ms(), NULL) > 0) /* a timeout that is due comes first */
        gl_durable_kick(d, x);
    if (gl_dx_callback(x, op, kind, result, len, error, gl_now_ms(), aerr) < 0)
        return -1;
    gl_durable_persist(d, x, 0, cb, arg, json_object());
    if (kind != 'H')
        gl_durable_kick(d, x);
    gl_durable_rearm(d);
    return 0;
}

int gl_durable_skip_waits(gl_durable_t *d, const char *arn, gl_durable_reply_fn cb, void *arg,
                          gl_aws_error_t *aerr)
{
    gl_dx_t *x = gl_durable_find(d, arn);
    if (!x)
        return gl_aws_error_set(aerr, GL_AWS_RESOURCE_NOT_FOUND, ENOENT,
                                "The durable execution %.1024s was not found.", arn);
    int n = gl_dx_skip_waits(x, gl_now_ms());
    gl_durable_persist(d, x, 0, cb, arg, json_pack("{s:i}", "Skipped", n));
    if (n)
        gl_durable_kick(d, x);
    gl_durable_rearm(d);
    return 0;
}
