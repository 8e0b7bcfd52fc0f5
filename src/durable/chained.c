/* SPDX-License-Identifier: MIT */
/*
 * chained.c: CHAINED_INVOKE operations (the SDK's context.invoke). Once a checkpoint starts
 * one, galley invokes the target with the operation's payload: a durable target gets an
 * execution of its own, waited for; any other one a plain synchronous invoke. The outcome
 * completes the operation (SUCCEEDED with the result, FAILED with the error) and the caller
 * is invoked again to go on. Which operations are in flight lives in memory only (x->chained),
 * so after a restart every STARTED chained invoke is launched again (at least once).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "galley/log.h"
#include "galley/sched.h"
#include "internal.h"

typedef struct chained {
    gl_durable_t *d;
    char id[GL_DX_ID_LEN + 1];
    char op[72];
} chained_t;

/* The caller's operation gets its outcome (result text or error object, borrowed). */
static void complete(chained_t *c, const char *result, size_t len, const json_t *error)
{
    gl_durable_t *d = c->d;
    gl_dx_t *x = d->closing ? NULL : gl_durable_find_id(d, c->id);
    if (x && x->chained)
        json_object_del(x->chained, c->op);
    gl_aws_error_t aerr;
    if (x && gl_dx_chained_done(x, c->op, result, len, error, gl_now_ms(), &aerr) == 0) {
        gl_durable_persist(d, x, 0, NULL, NULL, NULL);
        gl_durable_kick(d, x);
        gl_durable_rearm(d);
    }
    free(c);
}

static void on_plain_done(gl_invoke_t *inv)
{
    chained_t *c = inv->data;
    if (!c) {
        gl_invoke_free(inv);
        return;
    }
    if (inv->service_error || inv->function_error) {
        json_t *body = json_loadb(inv->result.data ? inv->result.data : "", inv->result.len, 0,
                                  NULL);
        const char *type = json_string_value(json_object_get(body, "errorType"));
        const char *msg = json_string_value(json_object_get(body, "errorMessage"));
        json_t *err = json_pack("{s:s,s:s}", "ErrorType", type ? type : "Invoke.Failed",
                                "ErrorMessage",
                                inv->service_error ? inv->service_error
                                : msg              ? msg
                                                   : "The invoked function failed.");
        complete(c, NULL, 0, err);
        json_decref(err);
        json_decref(body);
    } else {
        complete(c, inv->result.data ? inv->result.data : "", inv->result.len, NULL);
    }
    gl_invoke_free(inv);
}

static void on_durable_done(void *arg, json_t *body, const gl_aws_error_t *aerr)
{
    chained_t *c = arg;
    const char *status = json_string_value(json_object_get(body, "Status"));
    if (status && !strcmp(status, "SUCCEEDED")) {
        const char *r = json_string_value(json_object_get(body, "Result"));
        complete(c, r ? r : "", r ? strlen(r) : 0, NULL);
    } else {
        json_t *err = aerr ? json_pack("{s:s,s:s}", "ErrorType", "Invoke.Failed", "ErrorMessage",
                                       aerr->msg)
                           : json_incref(json_object_get(body, "Error"));
        complete(c, NULL, 0, err);
        json_decref(err);
    }
    json_decref(body);
}

static int launch(gl_durable_t *d, gl_dx_t *x, const char *op_id, const json_t *op)
{
    const char *target = json_string_value(json_object_get(op, "_FunctionName"));
    const char *payload = json_string_value(json_object_get(op, "_Input"));
    gl_fn_ref_t ref;
    gl_aws_error_t aerr;
    chained_t *c = calloc(1, sizeof(*c));
    gl_fn_t *fn = NULL;
    if (!c)
        return -ENOMEM;
    *c = (chained_t){.d = d};
    memcpy(c->id, x->id, sizeof(c->id));
    snprintf(c->op, sizeof(c->op), "%s", op_id);
    if (!target || gl_registry_parse_fn_name(target, NULL, gl_registry_region(d->reg),
                                             gl_registry_account(d->reg), 256, &ref, &aerr) < 0 ||
        !(fn = gl_registry_resolve(d->reg, ref.name, ref.qualifier, gl_registry_route_draw()))) {
        json_t *err = json_pack("{s:s,s:s}", "ErrorType", "ResourceNotFoundException",
                                "ErrorMessage", "The function to invoke was not found.");
        complete(c, NULL, 0, err);
        json_decref(err);
        return 0;
    }
    json_object_set_new(x->chained, op_id, json_true());
    if (!payload)
        payload = "{}";
    if (gl_durable_config(fn)) {
        gl_durable_start_in_t in = {.fn = fn, .qualifier = ref.qualifier[0] ? ref.qualifier
                                                                              : "$LATEST",
                                    .payload = payload, .len = strlen(payload), .wait = 1};
        if (gl_durable_invoke(d, &in, on_durable_done, c, &aerr) < 0)
            on_durable_done(c, NULL, &aerr);
        return 0;
    }
    gl_invoke_t *inv = gl_invoke_new(fn);
    if (!inv) {
        json_object_del(x->chained, op_id);
        free(c);
        return -ENOMEM;
    }
    gl_uuid4(inv->request_id);
    char arn[512];
    gl_registry_fn_arn(d->reg, fn->cfg.name, ref.qualifier[0] ? ref.qualifier : NULL, arn,
                       sizeof(arn));
    inv->invoked_arn = strdup(arn);
    gl_buf_append(&inv->payload, payload, strlen(payload));
    inv->done = on_plain_done;
    inv->data = c;
    if (gl_sched_submit(d->sched, inv) < 0) {
        json_t *err = json_pack("{s:s,s:s}", "ErrorType", "TooManyRequestsException",
                                "ErrorMessage", "Rate Exceeded.");
        inv->data = NULL;
        gl_invoke_free(inv);
        complete(c, NULL, 0, err);
        json_decref(err);
    }
    return 0;
}

void gl_durable_launch_chained(gl_durable_t *d, gl_dx_t *x)
{
    const char *id;
    json_t *op;
    if (d->closing || !d->started || !gl_dx_running(x))
        return;
    if (!x->chained && !(x->chained = json_object()))
        return;
    json_t *todo = json_array();
    json_object_foreach(json_object_get(x->doc, "Ops"), id, op) {
        const char *type = json_string_value(json_object_get(op, "Type"));
        const char *st = json_string_value(json_object_get(op, "Status"));
        if (type && !strcmp(type, "CHAINED_INVOKE") && st && !strcmp(st, "STARTED") &&
            !json_object_get(x->chained, id))
            json_array_append_new(todo, json_string(id));
    }
    /* Launching may complete at once (an unknown target), which changes Ops: walk a copy. */
    for (size_t i = 0; i < json_array_size(todo); i++) {
        const char *op_id = json_string_value(json_array_get(todo, i));
        json_t *o = json_object_get(json_object_get(x->doc, "Ops"), op_id);
        if (o && launch(d, x, op_id, o) < 0)
            gl_log_error("durable: %s: chained invoke %s: out of memory", x->id, op_id);
    }
    json_decref(todo);
}
