/* SPDX-License-Identifier: MIT */
/*
 * exec.c: one durable execution's document (internal.h describes it): creation with its
 * EXECUTION operation and ExecutionStarted event, the checkpoint tokens, history events, the
 * end of an execution and its summaries. Pure functions: no I/O, no loop.
 *
 * A checkpoint token is base64("<execution id>:<Seq>"): each checkpoint and each invocation
 * takes the next number, so a token is good for exactly one checkpoint (GetDurableExecution-
 * State takes any token of the current invocation), and one of an earlier invocation is stale.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

double gl_dx_secs(int64_t ms) { return (double)ms / 1000.0; }

const char *gl_dx_str(const gl_dx_t *x, const char *key)
{
    return json_string_value(json_object_get(x->doc, key));
}

int64_t gl_dx_int(const gl_dx_t *x, const char *key)
{
    return (int64_t)json_integer_value(json_object_get(x->doc, key));
}

int gl_dx_running(const gl_dx_t *x)
{
    const char *s = gl_dx_str(x, "Status");
    return s && !strcmp(s, "RUNNING");
}

int gl_dx_event(gl_dx_t *x, const char *type, const json_t *op, json_t *details, int64_t now_ms)
{
    json_t *events = json_object_get(x->doc, "Events");
    json_t *ev = json_pack("{s:s,s:I,s:f}", "EventType", type, "EventId",
                           (json_int_t)json_array_size(events) + 1, "EventTimestamp",
                           gl_dx_secs(now_ms));
    if (!ev) {
        json_decref(details);
        return -ENOMEM;
    }
    static const char *const copied[] = {"Id", "Name", "ParentId", "SubType"};
    for (size_t i = 0; op && i < sizeof(copied) / sizeof(copied[0]); i++) {
        json_t *v = json_object_get(op, copied[i]);
        if (v)
            json_object_set(ev, copied[i], v);
    }
    if (!op)
        json_object_set(ev, "Id", json_object_get(x->doc, "Id"));
    char key[64];
    snprintf(key, sizeof(key), "%sDetails", type);
    json_object_set_new(ev, key, details ? details : json_object());
    return json_array_append_new(events, ev) == 0 ? 0 : -ENOMEM;
}

json_t *gl_dx_event_error(const json_t *error)
{
    return json_pack("{s:O?}", "Payload", error);
}

gl_dx_t *gl_dx_new(const gl_dx_new_in_t *in, int64_t now_ms)
{
    char arn[1024], fn_arn[512];
    /* As Lambda's, the ARN names the version an alias resolved to ($LATEST or a number). */
    snprintf(fn_arn, sizeof(fn_arn), "arn:aws:lambda:%s:%s:function:%s:%s", in->region,
             in->account, in->fn_name, in->version);
    snprintf(arn, sizeof(arn), "%s/durable-execution/%s/%s", fn_arn, in->name, in->id);
    json_t *op = json_pack("{s:s,s:s,s:f,s:s,s:{s:s%}}", "Id", in->id, "Type", "EXECUTION",
                           "StartTimestamp", gl_dx_secs(now_ms), "Status", "STARTED",
                           "ExecutionDetails", "InputPayload", in->payload, in->len);
    json_t *doc = json_pack(
        "{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:s%,s:s,s:I,s:I,s:I,s:I,s:I,s:{},s:[]}", "Id", in->id,
        "Arn", arn, "Name", in->name, "FunctionName", in->fn_name, "Qualifier", in->qualifier,
        "Version", in->version, "FunctionArn", fn_arn, "Input", in->payload, in->len, "Status",
        "RUNNING", "Start", (json_int_t)now_ms, "Timeout", (json_int_t)in->timeout_s,
        "Retention", (json_int_t)in->retention_days, "Seq", (json_int_t)0, "InvSeq",
        (json_int_t)0, "Ops", "Events");
    if (!op || !doc || json_object_set_new(json_object_get(doc, "Ops"), in->id, op) < 0) {
        if (!doc)
            json_decref(op);
        json_decref(doc);
        return NULL;
    }
    gl_dx_t *x = gl_dx_from_doc(doc);
    if (x && gl_dx_event(x, "ExecutionStarted", NULL,
                         json_pack("{s:{s:s%},s:I}", "Input", "Payload", in->payload, in->len,
                                   "ExecutionTimeout", (json_int_t)in->timeout_s),
                         now_ms) < 0) {
        gl_dx_free(x);
        return NULL;
    }
    return x;
}

gl_dx_t *gl_dx_from_doc(json_t *doc)
{
    const char *id = json_string_value(json_object_get(doc, "Id"));
    if (!id || strlen(id) != GL_DX_ID_LEN || !json_is_object(json_object_get(doc, "Ops")) ||
        !json_is_array(json_object_get(doc, "Events")) ||
        !json_string_value(json_object_get(doc, "Arn"))) {
        json_decref(doc);
        return NULL;
    }
    gl_dx_t *x = calloc(1, sizeof(*x));
    if (!x) {
        json_decref(doc);
        return NULL;
    }
    x->doc = doc;
    memcpy(x->id, id, GL_DX_ID_LEN + 1);
    return x;
}

void gl_dx_free(gl_dx_t *x)
{
    if (!x)
        return;
    json_decref(x->doc);
    json_decref(x->chained);
    free(x);
}

static char *make_token(const gl_dx_t *x, int64_t seq)
{
    char raw[64], *out = NULL;
    int n = snprintf(raw, sizeof(raw), "%s:%lld", x->id, (long long)seq);
    return gl_b64_encode(raw, (size_t)n, &out) == 0 ? out : NULL;
}

char *gl_dx_token(const gl_dx_t *x) { return make_token(x, gl_dx_int(x, "Seq")); }

char *gl_dx_new_token(gl_dx_t *x)
{
    int64_t seq = gl_dx_int(x, "Seq") + 1;
    json_object_set_new(x->doc, "Seq", json_integer(seq));
    json_object_set_new(x->doc, "InvSeq", json_integer(seq));
    return make_token(x, seq);
}

int gl_dx_parse_ref(const char *text, char id[GL_DX_ID_LEN + 1], char *rest, size_t rest_len)
{
    unsigned char *raw = NULL;
    size_t len = 0;
    if (!text || gl_b64_decode(text, strlen(text), &raw, &len) < 0)
        return -1;
    int ok = len > GL_DX_ID_LEN + 1 && raw[GL_DX_ID_LEN] == ':' &&
             len - GL_DX_ID_LEN - 1 < rest_len && !memchr(raw, '\0', len);
    if (ok) {
        memcpy(id, raw, GL_DX_ID_LEN);
        id[GL_DX_ID_LEN] = '\0';
        memcpy(rest, raw + GL_DX_ID_LEN + 1, len - GL_DX_ID_LEN - 1);
        rest[len - GL_DX_ID_LEN - 1] = '\0';
    }
    free(raw);
    return ok ? 0 : -1;
}

int gl_dx_check_token(const gl_dx_t *x, const char *token, int any_of_invocation)
{
    char id[GL_DX_ID_LEN + 1], rest[32], *end;
    if (gl_dx_parse_ref(token, id, rest, sizeof(rest)) < 0 || strcmp(id, x->id))
        return -1;
    long long seq = strtoll(rest, &end, 10);
    if (!*rest || *end)
        return -1;
    if (any_of_invocation)
        return seq >= gl_dx_int(x, "InvSeq") && seq <= gl_dx_int(x, "Seq") ? 0 : -1;
    return seq == gl_dx_int(x, "Seq") ? 0 : -1;
}

void gl_dx_finish(gl_dx_t *x, const char *status, const char *result, const json_t *error,
                  int64_t now_ms)
{
    if (!gl_dx_running(x))
        return;
    json_object_set_new(x->doc, "Status", json_string(status));
    json_object_set_new(x->doc, "End", json_integer(now_ms));
    if (result)
        json_object_set_new(x->doc, "Result", json_string(result));
    if (error)
        json_object_set_new(x->doc, "Error", json_deep_copy(error));
    json_t *op = json_object_get(json_object_get(x->doc, "Ops"), x->id);
    if (op) {
        json_object_set_new(op, "Status", json_string(status));
        json_object_set_new(op, "EndTimestamp", json_real(gl_dx_secs(now_ms)));
    }
    json_t *details;
    char type[32];
    if (!strcmp(status, "SUCCEEDED")) {
        details = json_pack("{s:{s:s?}}", "Result", "Payload", result);
        snprintf(type, sizeof(type), "ExecutionSucceeded");
    } else {
        details = json_pack("{s:o}", "Error", gl_dx_event_error(error));
        snprintf(type, sizeof(type), "Execution%s",
                 !strcmp(status, "FAILED")      ? "Failed"
                 : !strcmp(status, "TIMED_OUT") ? "TimedOut"
                                                : "Stopped");
    }
    gl_dx_event(x, type, NULL, details, now_ms);
}

json_t *gl_dx_summary(const gl_dx_t *x, int full)
{
    json_t *o = json_pack("{s:O,s:O,s:O,s:O,s:f}", "DurableExecutionArn",
                          json_object_get(x->doc, "Arn"), "DurableExecutionName",
                          json_object_get(x->doc, "Name"), "FunctionArn",
                          json_object_get(x->doc, "FunctionArn"), "Status",
                          json_object_get(x->doc, "Status"), "StartTimestamp",
                          gl_dx_secs(gl_dx_int(x, "Start")));
    if (!o)
        return NULL;
    if (json_object_get(x->doc, "End"))
        json_object_set_new(o, "EndTimestamp", json_real(gl_dx_secs(gl_dx_int(x, "End"))));
    if (!full)
        return o;
    json_object_set(o, "InputPayload", json_object_get(x->doc, "Input"));
    json_object_set(o, "Version", json_object_get(x->doc, "Version"));
    if (json_object_get(x->doc, "Result"))
        json_object_set(o, "Result", json_object_get(x->doc, "Result"));
    if (json_object_get(x->doc, "Error"))
        json_object_set(o, "Error", json_object_get(x->doc, "Error"));
    return o;
}
