/* SPDX-License-Identifier: MIT */
/*
 * control.c: the durable operations that change an execution: CheckpointDurableExecution
 * (token check, the updates through ops.c, a rotated token), StopDurableExecution and
 * SendDurableExecutionCallback{Success,Failure,Heartbeat}. Each change is persisted and
 * replied to only once its record is on disk (durable.c); whatever can go on afterwards
 * (a callback completed while the function was suspended) is kicked into a new invocation.
 *
 * A checkpoint's ClientToken makes it idempotent: the last CK_KEEP answers are kept in the
 * execution's document ("_Ck": [{"C": ClientToken, "T": CheckpointToken, "At": ms, "R":
 * reply}]), so a retry of an applied checkpoint (same ClientToken, same consumed token, within
 * Lambda's 15 minutes, across a restart too) gets the same answer and applies nothing again.
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

#define CK_KEEP 8
#define CK_WINDOW_MS (15 * 60 * 1000)

/* The answer kept for a retry of checkpoint (client, token), or NULL. */
static json_t *ck_answer(const gl_dx_t *x, const char *client, const char *token, int64_t now)
{
    size_t i;
    json_t *e;
    if (!client || !*client)
        return NULL;
    json_array_foreach(json_object_get(x->doc, "_Ck"), i, e) {
        if (!strcmp(json_string_value(json_object_get(e, "C")) ?: "", client)
            && !strcmp(json_string_value(json_object_get(e, "T")) ?: "", token)
            && now - json_integer_value(json_object_get(e, "At")) < CK_WINDOW_MS)
            return json_object_get(e, "R");
    }
    return NULL;
}

/* Keep body as the answer to checkpoint (client, token), dropping the oldest past CK_KEEP. */
static void ck_remember(gl_dx_t *x, const char *client, const char *token, const json_t *body,
                        int64_t now)
{
    json_t *list = json_object_get(x->doc, "_Ck");
    if (!client || !*client || !body)
        return;
    if (!json_is_array(list)) {
        list = json_array();
        json_object_set_new(x->doc, "_Ck", list);
    }
    while (json_array_size(list) >= CK_KEEP)
        json_array_remove(list, 0);
    json_array_append_new(list, json_pack("{s:s,s:s,s:I,s:O}", "C", client, "T", token, "At",
                                          (json_int_t)now, "R", body));
}

int gl_durable_checkpoint(gl_durable_t *d, const char *arn, const char *token,
                          const char *client_token, const json_t *updates,
                          gl_durable_reply_fn cb, void *arg, gl_aws_error_t *aerr)
{
    gl_dx_t *x = gl_durable_find(d, arn);
    json_t *again = x ? ck_answer(x, client_token, token, gl_now_ms()) : NULL;
    if (again) { /* written again so the answer goes out only once it is on disk */
        gl_durable_persist(d, x, 0, cb, arg, json_deep_copy(again));
        return 0;
    }
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
    ck_remember(x, client_token, token, body, now);
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
