/* SPDX-License-Identifier: MIT */
/*
 * invoke.c: the Invoke API (POST /2015-03-31/functions/{F}/invocations and the legacy
 * InvokeAsync): validates the request as Lambda does (invocation and log types, client
 * context, JSON payload), answers DryRun and Event at once, and turns a RequestResponse
 * invoke into a gl_invoke_t whose completion becomes the HTTP reply.
 *
 * A client that disconnects while its invoke runs does not stop the invoke: the invoke is
 * detached (done = NULL) and the scheduler frees it when it completes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "galley/async.h"
#include "galley/log.h"
#include "galley/metrics.h"
#include "galley/sched.h"
#include "internal.h"

#define CLIENT_CONTEXT_MAX 3583

static void on_client_gone(gl_http_req_t *req)
{
    gl_invoke_t *inv = req->data;
    inv->done = NULL;
    inv->data = NULL;
}

static void on_sync_done(gl_invoke_t *inv)
{
    gl_http_req_t *req = inv->data;
    gl_http_header_t h[12];
    if (inv->service_error) {
        /* The service failed, not the function: Lambda's 500, no function result. */
        req->on_abort = NULL;
        snprintf(req->request_id, sizeof(req->request_id), "%s", inv->request_id);
        gl_http_reply_aws_error(req, GL_AWS_SERVICE, "%s", inv->service_error);
        gl_invoke_free(inv);
        return;
    }
    size_t n = 0;
    h[n++] = (gl_http_header_t){"Content-Type",
                                inv->content_type ? inv->content_type : "application/json"};
    h[n++] = (gl_http_header_t){"x-amzn-RequestId", inv->request_id};
    h[n++] = (gl_http_header_t){"X-Amz-Executed-Version", inv->fn->version};
    if (inv->function_error)
        h[n++] = (gl_http_header_t){"X-Amz-Function-Error", "Unhandled"};
    if (inv->want_tail && inv->log_tail)
        h[n++] = (gl_http_header_t){"X-Amz-Log-Result", inv->log_tail};
    /* What happened, for test harnesses (docs/testing.md); AWS clients ignore them. */
    char duration[32], init[32], memory[16];
    snprintf(duration, sizeof(duration), "%.2f", inv->duration_ms);
    if (inv->cold)
        snprintf(init, sizeof(init), "%.2f", inv->init_duration_ms);
    snprintf(memory, sizeof(memory), "%d", inv->max_memory_mb);
    h[n++] = (gl_http_header_t){"X-Galley-Cold-Start", inv->cold ? "true" : "false"};
    if (inv->env_id[0])
        h[n++] = (gl_http_header_t){"X-Galley-Environment-Id", inv->env_id};
    if (inv->cold)
        h[n++] = (gl_http_header_t){"X-Galley-Init-Duration-Ms", init};
    h[n++] = (gl_http_header_t){"X-Galley-Duration-Ms", duration};
    h[n++] = (gl_http_header_t){"X-Galley-Max-Memory-Mb", memory};
    req->on_abort = NULL;
    size_t len;
    char *body = gl_buf_steal(&inv->result, &len);
    gl_http_reply_owned(req, 200, h, n, body, len);
    gl_invoke_free(inv);
}

/* X-Ray trace header for the runtime: the caller's, or a new root as Lambda makes one. */
static char *trace_header(gl_http_req_t *req)
{
    const char *given = gl_http_req_header(req, "x-amzn-trace-id");
    if (given && *given && strlen(given) < 512)
        return strdup(given);
    /* Root=1-<8 hex digits of epoch seconds>-<24 hex>;Parent=<16 hex>;Sampled=0 */
    static const char hex[] = "0123456789abcdef";
    char *out = malloc(sizeof("Root=1-") - 1 + 8 + 1 + 24 + sizeof(";Parent=") - 1 + 16 +
                       sizeof(";Sampled=0"));
    if (!out)
        return NULL;
    char *p = stpcpy(out, "Root=1-");
    uint32_t secs = (uint32_t)(gl_now_ms() / 1000);
    for (int shift = 28; shift >= 0; shift -= 4)
        *p++ = hex[(secs >> shift) & 15];
    *p++ = '-';
    gl_random_hex(p, 12);
    p = stpcpy(p + 24, ";Parent=");
    gl_random_hex(p, 8);
    strcpy(p + 16, ";Sampled=0");
    return out;
}

/* Decode and check X-Amz-Client-Context; 0 and *out (JSON text) or -1 after replying 400. */
static int client_context(gl_http_req_t *req, char **out)
{
    *out = NULL;
    const char *b64 = gl_http_req_header(req, "x-amz-client-context");
    if (!b64 || !*b64)
        return 0;
    unsigned char *raw = NULL;
    size_t rawlen = 0;
    json_t *obj = NULL;
    if (strlen(b64) <= CLIENT_CONTEXT_MAX && gl_b64_decode(b64, strlen(b64), &raw, &rawlen) == 0)
        obj = json_loadb((const char *)raw, rawlen, 0, NULL);
    if (!obj || !json_is_object(obj)) {
        json_decref(obj);
        free(raw);
        gl_http_reply_aws_error(req, GL_AWS_INVALID_REQUEST_CONTENT,
                                "Client context must be a valid Base64-encoded JSON object.");
        return -1;
    }
    json_decref(obj);
    *out = (char *)raw;
    return 0;
}

/* The Event path: 202 once the event is on disk (src/async), with the event's id. */
static void on_event_stored(int status, void *arg)
{
    gl_http_req_t *req = arg;
    req->on_abort = NULL;
    req->data = NULL;
    if (status < 0) {
        gl_http_reply_aws_error(req, GL_AWS_SERVICE, "The event could not be stored: %s",
                                strerror(-status));
        return;
    }
    gl_http_header_t h = {"x-amzn-RequestId", req->request_id};
    gl_http_reply(req, 202, &h, 1, NULL, 0);
}

static void on_event_client_gone(gl_http_req_t *req)
{
    gl_async_forget(req->data, req); /* the event stays accepted: it runs at least once */
}

static void invoke_event(gl_api_t *api, gl_http_req_t *req, const gl_fn_ref_t *ref,
                         const gl_fn_t *fn)
{
    char *trace = trace_header(req);
    gl_async_event_in_t ev = {
        .request_id = req->request_id,
        .fn_name = fn->cfg.name,
        .qualifier = ref->qualifier,
        .payload = req->body.len ? req->body.data : "{}",
        .len = req->body.len ? req->body.len : 2,
        .trace_id = trace,
    };
    int rc = gl_async_enqueue(api->async, &ev, on_event_stored, req);
    free(trace);
    if (rc == 0) {
        req->data = api->async;
        req->on_abort = on_event_client_gone;
    } else if (rc == -EAGAIN) {
        gl_http_reply_aws_error_ex(req, GL_AWS_TOO_MANY_REQUESTS,
                                   json_pack("{s:s}", "Reason",
                                             "FunctionInvocationRateLimitExceeded"),
                                   "Rate Exceeded.");
    } else {
        gl_http_reply_aws_error(req, GL_AWS_SERVICE, "The event could not be stored: %s",
                                strerror(-rc));
    }
}

/* X-Amz-Invocation-Type and X-Amz-Log-Type as Lambda checks them: 0 with *type set (the
 * default filled in), or -1 after replying 400. InvokeWithResponseStream (stream) has no Event. */
static int check_types(gl_http_req_t *req, int legacy_async, int stream, const char **type,
                       const char **log_type)
{
    *type = legacy_async ? "Event" : gl_http_req_header(req, "x-amz-invocation-type");
    *log_type = gl_http_req_header(req, "x-amz-log-type");
    if (!*type || !**type)
        *type = "RequestResponse";
    if (stream && strcmp(*type, "RequestResponse") && strcmp(*type, "DryRun")) {
        gl_http_reply_aws_error(req, GL_AWS_VALIDATION,
                                "1 validation error detected: Value '%.64s' at 'invocationType' "
                                "failed to satisfy constraint: Member must satisfy enum value "
                                "set: [RequestResponse, DryRun]",
                                *type);
        return -1;
    }
    if (strcmp(*type, "RequestResponse") && strcmp(*type, "Event") && strcmp(*type, "DryRun")) {
        gl_http_reply_aws_error(req, GL_AWS_VALIDATION,
                                "1 validation error detected: Value '%.64s' at 'invocationType' "
                                "failed to satisfy constraint: Member must satisfy enum value "
                                "set: [Event, RequestResponse, DryRun]",
                                *type);
        return -1;
    }
    if (*log_type && **log_type && strcmp(*log_type, "None") && strcmp(*log_type, "Tail")) {
        gl_http_reply_aws_error(req, GL_AWS_VALIDATION,
                                "1 validation error detected: Value '%.64s' at 'logType' failed "
                                "to satisfy constraint: Member must satisfy enum value set: "
                                "[None, Tail]",
                                *log_type);
        return -1;
    }
    return 0;
}

/* The payload must be JSON (any value) when there is one: 0, or -1 after replying 400. */
static int check_payload(gl_http_req_t *req)
{
    if (req->body.len == 0)
        return 0;
    json_error_t jerr;
    json_t *doc = json_loadb(req->body.data, req->body.len, JSON_DECODE_ANY | JSON_ALLOW_NUL,
                             &jerr);
    if (!doc) {
        gl_http_reply_aws_error(req, GL_AWS_INVALID_REQUEST_CONTENT,
                                "Could not parse request body into json: Could not parse "
                                "payload into json: %s: at line %d column %d",
                                jerr.text, jerr.line, jerr.column);
        return -1;
    }
    json_decref(doc);
    return 0;
}

/* A harness's injected API fault answers instead of the invoke, as Lambda would: -1 after
 * replying with it, 0 when there is none. */
static int answer_api_fault(gl_api_t *api, gl_http_req_t *req, const gl_fn_t *fn)
{
    gl_fault_t f = gl_sched_take_api_fault(api->sched, fn->cfg.name);
    if (f == GL_FAULT_THROTTLE) {
        gl_http_reply_aws_error_ex(req, GL_AWS_TOO_MANY_REQUESTS,
                                   json_pack("{s:s}", "Reason", GL_THROTTLE_ACCOUNT),
                                   "Rate Exceeded.");
        return -1;
    }
    if (f == GL_FAULT_SERVICE) {
        gl_http_reply_aws_error(req, GL_AWS_SERVICE,
                                "An error occurred while processing the request "
                                "(injected by galley)");
        return -1;
    }
    return 0;
}

/* The RequestResponse path: a gl_invoke_t for the scheduler, whose completion replies.
 * Takes cc (the client context JSON, may be NULL). */
static void invoke_sync(gl_api_t *api, gl_http_req_t *req, const gl_fn_ref_t *ref, gl_fn_t *fn,
                        char *cc, int want_tail, int stream)
{
    gl_invoke_t *inv = gl_invoke_new(fn);
    if (!inv) {
        free(cc);
        gl_http_reply_aws_error(req, GL_AWS_SERVICE, "out of memory");
        return;
    }
    memcpy(inv->request_id, req->request_id, sizeof(inv->request_id));
    char arn[512];
    gl_registry_fn_arn(api->reg, fn->cfg.name, ref->qualifier[0] ? ref->qualifier : NULL, arn,
                       sizeof(arn));
    inv->invoked_arn = strdup(arn);
    inv->trace_id = trace_header(req);
    if (req->body.len > 0) {
        inv->payload = req->body;
        memset(&req->body, 0, sizeof(req->body));
    } else {
        gl_buf_append(&inv->payload, "{}", 2);
    }
    inv->client_context = cc;
    inv->want_tail = want_tail;
    if (stream) {
        if (gl_api_stream_attach(inv, req) < 0) {
            gl_invoke_free(inv);
            gl_http_reply_aws_error(req, GL_AWS_SERVICE, "out of memory");
            return;
        }
    } else {
        inv->done = on_sync_done;
        inv->data = req;
        req->data = inv;
        req->on_abort = on_client_gone;
    }
    if (gl_sched_submit(api->sched, inv) < 0) {
        if (stream)
            gl_api_stream_detach(inv, req);
        req->on_abort = NULL;
        req->data = NULL;
        gl_metrics_record_throttle(gl_metrics_default(), fn->cfg.name, fn->version);
        const char *reason = inv->throttle_reason ? inv->throttle_reason : GL_THROTTLE_ACCOUNT;
        gl_http_reply_aws_error_ex(req, GL_AWS_TOO_MANY_REQUESTS,
                                   json_pack("{s:s}", "Reason", reason), "Rate Exceeded.");
        gl_invoke_free(inv);
    }
}

void gl_api_invoke(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    const gl_fn_ref_t *ref = &rt->ref;
    int legacy_async = !!(rt->op->flags & GL_API_OP_EVENT);
    int stream = !!(rt->op->flags & GL_API_OP_STREAM);
    const char *type, *log_type;
    if (check_types(req, legacy_async, stream, &type, &log_type) < 0)
        return;
    gl_fn_t *fn = gl_api_resolve_routed(api, req, ref);
    if (!fn)
        return;

    char *cc = NULL;
    if (client_context(req, &cc) < 0)
        return;
    if (check_payload(req) < 0 ||
        (strcmp(type, "DryRun") != 0 && answer_api_fault(api, req, fn) < 0)) {
        free(cc);
        return;
    }
    if (strcmp(type, "DryRun") != 0 && gl_api_invoke_durable(api, req, ref, fn, stream ? "Stream" : type)) {
        free(cc);
        return;
    }
    if (!strcmp(type, "DryRun")) {
        free(cc);
        gl_http_header_t h = {"x-amzn-RequestId", req->request_id};
        gl_http_reply(req, 204, &h, 1, NULL, 0);
        return;
    }
    if (strcmp(type, "RequestResponse") != 0) {
        /* Lambda does not pass client context or return logs for asynchronous invokes. */
        free(cc);
        invoke_event(api, req, ref, fn);
        return;
    }
    invoke_sync(api, req, ref, fn, cc, log_type && !strcmp(log_type, "Tail"), stream);
}
