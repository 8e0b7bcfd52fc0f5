/* SPDX-License-Identifier: MIT */
/*
 * durable.c: the durable execution operations (API 2025-12-01): CheckpointDurableExecution,
 * GetDurableExecution(State|History), ListDurableExecutionsByFunction, StopDurableExecution
 * and SendDurableExecutionCallback{Success,Failure,Heartbeat}. Reads the path's ARN or
 * callback id, the query and the body, and hands them to the durable module
 * (include/galley/durable.h), whose answers (after the fsync, for changes) become the reply.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "galley/durable.h"
#include "internal.h"

#define ARN_PATTERN                                                                                \
    "arn:([a-zA-Z0-9-]+):lambda:([a-zA-Z0-9-]+):(\\d{12}):function:([a-zA-Z0-9_-]+):"            \
    "(\\$LATEST(?:\\.PUBLISHED)?|[0-9]+)/durable-execution/([a-zA-Z0-9_-]+)/([a-zA-Z0-9_-]+)"

/* The decoded first path parameter (an ARN or a callback id), or NULL after replying. */
static char *path_param(gl_http_req_t *req, const gl_api_route_t *rt, const char *field)
{
    char *s = NULL;
    if (gl_url_decode(rt->fn_seg, rt->fn_len, &s) < 0 || !*s || strlen(s) > 1024) {
        gl_http_reply_aws_error(req, GL_AWS_VALIDATION,
                                "1 validation error detected: Value at '%s' failed to satisfy "
                                "constraint: Member must have length between 1 and 1024",
                                field);
        free(s);
        return NULL;
    }
    return s;
}

static char *arn_param(gl_http_req_t *req, const gl_api_route_t *rt)
{
    char *arn = path_param(req, rt, "durableExecutionArn");
    if (arn && (strncmp(arn, "arn:", 4) || !strstr(arn, ":function:") ||
                !strstr(arn, "/durable-execution/"))) {
        gl_http_reply_aws_error(req, GL_AWS_VALIDATION,
                                "1 validation error detected: Value '%s' at 'durableExecutionArn' "
                                "failed to satisfy constraint: Member must satisfy regular "
                                "expression pattern: " ARN_PATTERN,
                                arn);
        free(arn);
        return NULL;
    }
    return arn;
}

static void on_abort(gl_http_req_t *req)
{
    gl_api_t *api = req->data;
    gl_durable_forget(api->durable, req);
}

/* The durable module's answer to a change: the reply, or its error. */
static void on_reply(void *arg, json_t *body, const gl_aws_error_t *aerr)
{
    gl_http_req_t *req = arg;
    req->on_abort = NULL;
    req->data = NULL;
    if (aerr)
        gl_http_reply_aws_err(req, aerr);
    else
        gl_api_reply_json(req, 200, body);
}

/* req waits for the durable module's reply, which may come before the call returns (a failed
 * journal write): set first; refused() undoes it when the call failed without replying. */
static void pending(gl_api_t *api, gl_http_req_t *req)
{
    req->data = api;
    req->on_abort = on_abort;
}

static void refused(gl_http_req_t *req, const gl_aws_error_t *aerr)
{
    req->on_abort = NULL;
    req->data = NULL;
    gl_http_reply_aws_err(req, aerr);
}

static void reply_read(gl_http_req_t *req, json_t *body, const gl_aws_error_t *aerr)
{
    if (!body)
        gl_http_reply_aws_err(req, aerr);
    else
        gl_api_reply_json(req, 200, body);
}

/* MaxItems (0..1000): the value, 0 when absent, -1 after replying. */
static long max_items(gl_http_req_t *req)
{
    char *s = gl_query_get(req->query, "MaxItems"), *end = NULL;
    long v = s ? strtol(s, &end, 10) : 0;
    int bad = s && (!*s || *end || v < 0 || v > 1000);
    if (bad)
        gl_http_reply_aws_error(req, GL_AWS_VALIDATION,
                                "1 validation error detected: Value '%s' at 'maxItems' failed to "
                                "satisfy constraint: Member must have value between 0 and 1000",
                                s);
    free(s);
    return bad ? -1 : v;
}

static int query_bool(gl_http_req_t *req, const char *key)
{
    char *s = gl_query_get(req->query, key);
    int v = s && !strcmp(s, "true");
    free(s);
    return v;
}

void gl_api_checkpoint_durable(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    char *arn = arn_param(req, rt);
    json_t *body = arn ? gl_api_body_object(req) : NULL;
    const char *token = NULL, *client = NULL;
    gl_aws_error_t aerr;
    if (!body || gl_api_opt_string(req, body, "CheckpointToken", &token) < 0
        || gl_api_opt_string(req, body, "ClientToken", &client) < 0)
        goto out;
    if (!token || !*token) {
        gl_http_reply_aws_error(req, GL_AWS_VALIDATION,
                                "1 validation error detected: Value null at 'checkpointToken' "
                                "failed to satisfy constraint: Member must not be null");
        goto out;
    }
    pending(api, req);
    if (gl_durable_checkpoint(api->durable, arn, token, client, json_object_get(body, "Updates"),
                              on_reply, req, &aerr) < 0)
        refused(req, &aerr);
out:
    json_decref(body);
    free(arn);
}

void gl_api_get_durable_state(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    char *arn = arn_param(req, rt);
    char *token = arn ? gl_query_get(req->query, "CheckpointToken") : NULL;
    char *marker = gl_query_get(req->query, "Marker");
    long max = arn ? max_items(req) : -1;
    gl_aws_error_t aerr;
    if (arn && max >= 0 && !token)
        gl_http_reply_aws_error(req, GL_AWS_VALIDATION,
                                "1 validation error detected: Value null at 'checkpointToken' "
                                "failed to satisfy constraint: Member must not be null");
    else if (arn && max >= 0)
        reply_read(req, gl_durable_state(api->durable, arn, token, marker, max, &aerr), &aerr);
    free(arn);
    free(token);
    free(marker);
}

void gl_api_get_durable(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    char *arn = arn_param(req, rt);
    gl_aws_error_t aerr;
    if (arn)
        reply_read(req, gl_durable_get(api->durable, arn, &aerr), &aerr);
    free(arn);
}

void gl_api_get_durable_history(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    char *arn = arn_param(req, rt);
    char *marker = gl_query_get(req->query, "Marker");
    long max = arn ? max_items(req) : -1;
    gl_aws_error_t aerr;
    if (arn && max >= 0)
        reply_read(req,
                   gl_durable_history(api->durable, arn, query_bool(req, "IncludeExecutionData"),
                                      query_bool(req, "ReverseOrder"), marker, max, &aerr),
                   &aerr);
    free(arn);
    free(marker);
}

void gl_api_stop_durable(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    char *arn = arn_param(req, rt);
    json_t *body = arn ? gl_api_body_object(req) : NULL;
    gl_aws_error_t aerr;
    if (body) {
        /* The body is the Error itself (the model's payload member). */
        pending(api, req);
        if (gl_durable_stop(api->durable, arn, json_object_size(body) ? body : NULL, on_reply,
                            req, &aerr) < 0)
            refused(req, &aerr);
    }
    json_decref(body);
    free(arn);
}

/* An ISO 8601 time (or epoch seconds) from the query: epoch seconds, 0 when absent. */
static double query_time(gl_http_req_t *req, const char *key, int *bad)
{
    char *s = gl_query_get(req->query, key), *end = NULL;
    double v = 0;
    if (s && *s) {
        struct tm tm = {0};
        const char *rest = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
        if (rest) {
            v = (double)timegm(&tm);
            if (*rest == '.')
                v += strtod(rest, &end), rest = end;
            *bad |= *rest && strcmp(rest, "Z") && strcmp(rest, "+00:00");
        } else {
            v = strtod(s, &end);
            *bad |= *end != '\0';
        }
    }
    free(s);
    return v;
}

/* Every Statuses=... of the query (up to 10), NULL-terminated into out. -1 when one is bad. */
static int statuses(const char *query, char out[11][16])
{
    static const char *const valid[] = {"RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "STOPPED"};
    size_t n = 0;
    for (const char *p = query; p && *p; p += strcspn(p, "&"), p += *p == '&') {
        if (strncmp(p, "Statuses=", 9))
            continue;
        size_t len = strcspn(p + 9, "&");
        int ok = 0;
        for (size_t i = 0; i < 5; i++)
            ok |= len == strlen(valid[i]) && !strncmp(p + 9, valid[i], len);
        if (!ok || n >= 10)
            return -1;
        memcpy(out[n], p + 9, len);
        out[n++][len] = '\0';
    }
    out[n][0] = '\0';
    return (int)n;
}

void gl_api_list_durable(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    char st[11][16], *marker = gl_query_get(req->query, "Marker");
    char *name = gl_query_get(req->query, "DurableExecutionName");
    const char *ptrs[11] = {0};
    int bad = 0, n = statuses(req->query, st);
    gl_durable_filter_t f = {.fn_name = rt->ref.name,
                             .qualifier = rt->ref.qualifier[0] ? rt->ref.qualifier : NULL,
                             .name = name,
                             .started_after = query_time(req, "StartedAfter", &bad),
                             .started_before = query_time(req, "StartedBefore", &bad),
                             .reverse = query_bool(req, "ReverseOrder")};
    for (int i = 0; i < n; i++)
        ptrs[i] = st[i];
    f.statuses = n > 0 ? ptrs : NULL;
    long max = max_items(req);
    gl_aws_error_t aerr;
    if (max < 0)
        goto out;
    if (n < 0 || bad) {
        gl_http_reply_aws_error(req, GL_AWS_VALIDATION,
                                "1 validation error detected: Value at '%s' failed to satisfy "
                                "constraint: %s",
                                n < 0 ? "statuses" : "startedAfter",
                                n < 0 ? "Member must satisfy enum value set: [RUNNING, SUCCEEDED, "
                                        "FAILED, TIMED_OUT, STOPPED]"
                                      : "Member must be a timestamp");
        goto out;
    }
    if (gl_api_find_function(api, req, rt->ref.name))
        reply_read(req, gl_durable_list(api->durable, &f, marker, max, &aerr), &aerr);
out:
    free(marker);
    free(name);
}

/* SendDurableExecutionCallback{Success,Failure,Heartbeat}, told apart by the path's end. */
void gl_api_durable_callback(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    char *id = path_param(req, rt, "callbackId");
    const char *end = strrchr(req->path, '/');
    char kind = !end ? 'H' : !strcmp(end, "/succeed") ? 'S' : !strcmp(end, "/fail") ? 'F' : 'H';
    json_t *body = NULL;
    gl_aws_error_t aerr;
    int rc = 0;
    if (!id)
        return;
    if (kind == 'F' && !(body = gl_api_body_object(req)))
        goto out;
    pending(api, req);
    rc = gl_durable_callback(api->durable, id, kind, req->body.data, req->body.len,
                             body, on_reply, req, &aerr); /* Failure's body is its Error */
    if (rc < 0)
        refused(req, &aerr);
out:
    json_decref(body);
    free(id);
}

/* galley's own: GET /_galley/durable[?Status=] lists every execution; POST
 * /_galley/durable/skip-waits {"DurableExecutionArn"} fast-forwards one (docs/durable.md). */
void gl_api_galley_durable(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    if (!api->durable) {
        gl_http_reply_aws_error(req, GL_AWS_SERVICE, "durable executions need a state directory");
        return;
    }
    if (!rt->fn_seg) {
        char *status = gl_query_get(req->query, "Status");
        gl_api_reply_json(req, 200, gl_durable_list_all(api->durable, status));
        free(status);
        return;
    }
    json_t *body = NULL;
    const char *arn = NULL;
    gl_aws_error_t aerr;
    if (rt->fn_len != strlen("skip-waits") || strncmp(rt->fn_seg, "skip-waits", rt->fn_len)) {
        gl_http_reply_aws_error(req, GL_AWS_UNKNOWN_OPERATION, "Unknown durable control %.*s",
                                (int)rt->fn_len, rt->fn_seg);
        return;
    }
    if (!(body = gl_api_body_object(req)) ||
        gl_api_opt_string(req, body, "DurableExecutionArn", &arn) < 0)
        goto out;
    if (!arn)
        gl_http_reply_aws_error(req, GL_AWS_INVALID_PARAMETER_VALUE,
                                "DurableExecutionArn is required.");
    else {
        pending(api, req);
        if (gl_durable_skip_waits(api->durable, arn, on_reply, req, &aerr) < 0)
            refused(req, &aerr);
    }
out:
    json_decref(body);
}
