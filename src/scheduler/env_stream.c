/* SPDX-License-Identifier: MIT */
/*
 * env_stream.c: a runtime's response in streaming mode (POST .../response with
 * Lambda-Runtime-Function-Response-Mode: streaming and a chunked body). The body is taken as a
 * stream at its headers (gl_env_stream_begin, from the Runtime API's body_limit): each piece
 * goes to the invoke's on_chunk when its caller streams (InvokeWithResponseStream), pausing
 * the runtime when the caller's connection is backed up, or into the invoke's result when the
 * caller wants it whole (Invoke: 6 MB, as a buffered response). When the body is complete
 * (gl_env_stream_end) its trailers say how it ended: Lambda-Runtime-Function-Error-Type and
 * -Error-Body (base64) make it a function error. Past its limit (200 MB streamed) the rest is
 * dropped and the invoke ends with Function.ResponseSizeTooLarge. gl_invoke_stream_bind and
 * _unbind wire a streaming caller's request to its invoke (InvokeWithResponseStream, a
 * RESPONSE_STREAM Function URL).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "galley/rapi.h"
#include "internal.h"

/* The environment's current invoke, when req is still streaming its response. */
static gl_invoke_t *stream_invoke(gl_env_t *env, gl_http_req_t *req)
{
    gl_invoke_t *inv = env->invoke;
    if (env->stream_req != req || !inv || env->state != GL_ENV_INVOKING ||
        strcmp(inv->request_id, env->stream_id) != 0)
        return NULL;
    return inv;
}

static void on_chunk(gl_http_req_t *req, const char *buf, size_t len)
{
    gl_env_t *env = req->data;
    gl_invoke_t *inv = stream_invoke(env, req);
    uint64_t limit;

    if (!inv || env->stream_over)
        return;
    limit = inv->stream ? GL_STREAM_MAX_RESPONSE : GL_RAPI_MAX_RESPONSE;
    if (inv->streamed_bytes + len > limit) {
        env->stream_over = 1;
        return;
    }
    inv->streamed_bytes += len;
    if (!inv->stream) {
        if (gl_buf_append(&inv->result, buf, len) < 0)
            env->stream_over = 1;
        return;
    }
    if (inv->on_chunk && inv->on_chunk(inv, buf, len) == 1)
        gl_http_req_pause_body(req, 1);
}

static void on_stream_abort(gl_http_req_t *req)
{
    gl_env_t *env = req->data;
    if (env->stream_req != req)
        return;
    env->stream_req = NULL;
    if (env->invoke && env->invoke->stream_src == req)
        env->invoke->stream_src = NULL;
}

int gl_env_stream_begin(gl_env_t *env, gl_http_req_t *req, const char *request_id)
{
    const char *mode = gl_http_req_header(req, "lambda-runtime-function-response-mode");
    const char *ct = gl_http_req_header(req, "content-type");
    gl_invoke_t *inv = env->invoke;

    if (!mode || strcasecmp(mode, "streaming") != 0 || env->state != GL_ENV_INVOKING || !inv ||
        strcmp(inv->request_id, request_id) != 0 || env->stream_req)
        return 0; /* answered by the usual checks once complete */
    env->stream_req = req;
    snprintf(env->stream_id, sizeof(env->stream_id), "%s", inv->request_id);
    env->stream_over = 0;
    inv->streamed = 1;
    inv->streamed_bytes = 0;
    inv->stream_src = req;
    gl_buf_reset(&inv->result);
    free(inv->content_type);
    inv->content_type = ct && *ct ? strdup(ct) : NULL;
    req->data = env;
    req->on_abort = on_stream_abort;
    gl_http_req_stream_body(req, on_chunk);
    return 1;
}

void gl_invoke_stream_resume(gl_invoke_t *inv)
{
    if (inv->stream_src)
        gl_http_req_pause_body(inv->stream_src, 0);
}

static void on_drain(gl_http_req_t *req)
{
    gl_invoke_stream_resume(req->data);
}

void gl_invoke_stream_bind(gl_invoke_t *inv, gl_http_req_t *req, void *owner,
                           int (*on_chunk)(gl_invoke_t *inv, const char *buf, size_t len),
                           gl_invoke_done_fn done, void (*on_gone)(gl_http_req_t *req))
{
    inv->stream = 1;
    inv->on_chunk = on_chunk;
    inv->done = done;
    inv->data = owner;
    req->data = inv;
    req->on_abort = on_gone;
    req->on_drain = on_drain;
}

void gl_invoke_stream_unbind(gl_invoke_t *inv, gl_http_req_t *req)
{
    inv->done = NULL;
    inv->data = NULL;
    inv->on_chunk = NULL;
    if (req) {
        req->data = NULL;
        req->on_abort = NULL;
        req->on_drain = NULL;
    }
    gl_invoke_stream_resume(inv); /* let the runtime finish */
}

/* The error a streamed response ended with (its trailers): the invoke's error type and body. */
static void take_trailer_error(gl_invoke_t *inv, gl_http_req_t *req, const char *type)
{
    const char *b64 = gl_http_req_trailer(req, "lambda-runtime-function-error-body");
    unsigned char *raw = NULL;
    size_t rawlen = 0;

    gl_buf_reset(&inv->result);
    if (b64 && *b64 && gl_b64_decode(b64, strlen(b64), &raw, &rawlen) == 0 && rawlen > 0) {
        gl_buf_append(&inv->result, raw, rawlen);
        free(raw);
        inv->function_error = 1;
        free(inv->content_type);
        inv->content_type = NULL;
        free(inv->error_type);
        inv->error_type = strndup(type, 128);
        return;
    }
    free(raw);
    gl_invoke_set_error(inv, type, "Unknown application error occurred");
    free(inv->error_type);
    inv->error_type = strndup(type, 128);
}

int gl_env_stream_end(gl_env_t *env, gl_http_req_t *req)
{
    static const char ok[] = "{\"status\":\"OK\"}";
    gl_http_header_t h = {"Content-Type", "application/json"};
    gl_invoke_t *inv = stream_invoke(env, req);
    const char *type;
    char msg[160];

    if (env->stream_req != req)
        return -1;
    env->stream_req = NULL;
    req->on_abort = NULL;
    if (!inv)
        return -1; /* its invoke ended meanwhile: the usual checks answer */
    inv->stream_src = NULL;
    type = gl_http_req_trailer(req, "lambda-runtime-function-error-type");
    if (env->stream_over) {
        snprintf(msg, sizeof(msg),
                 "Response payload size exceeded maximum allowed payload size (%llu bytes).",
                 (unsigned long long)(inv->stream ? GL_STREAM_MAX_RESPONSE : GL_RAPI_MAX_RESPONSE));
        gl_rapi_reply_error(req, 413, "RequestEntityTooLarge", msg);
        gl_invoke_set_error(inv, "Function.ResponseSizeTooLarge", msg);
        gl_env_handle(env, GL_ENV_EV_ERROR, NULL);
        return 0;
    }
    if (type && *type)
        take_trailer_error(inv, req, type);
    else
        inv->function_error = 0;
    gl_http_reply(req, 202, &h, 1, ok, sizeof(ok) - 1);
    gl_env_handle(env, inv->function_error ? GL_ENV_EV_ERROR : GL_ENV_EV_RESPONSE, NULL);
    return 0;
}
