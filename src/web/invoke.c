/* SPDX-License-Identifier: MIT */
/*
 * invoke.c: one web request as one invoke. The event goes to the scheduler as a
 * RequestResponse invoke; its result becomes the HTTP response under the rules of the front
 * end that took the request: a Function URL or an HTTP API map payload 2.0 results
 * (response.c), a REST API payload 1.0 ones; a function error is a Function URL's 502
 * {"Message":"Internal Server Error"}, an HTTP API's 500 {"message":"Internal Server Error"},
 * a REST API's 502 {"message":"Internal server error"}; a throttle is 429. A client gone before
 * the answer detaches the invoke, which still runs to its end. A RESPONSE_STREAM Function URL
 * hands the answer to url_stream.c instead (attach), which uses gl_web_answer for a function
 * that does not stream. A durable function's request goes to durable.c instead.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "galley/sched.h"
#include "internal.h"

/* One request waiting for its invoke. */
typedef struct call {
    gl_http_req_t *req;
    json_t *cors;   /* the CORS headers its response gets */
    gl_web_mode_t mode;
} call_t;

void gl_web_reply_message(gl_http_req_t *req, const char *key, int status, const char *msg)
{
    gl_http_header_t h = {"x-amzn-RequestId", req->request_id};
    gl_http_reply_json(req, status, &h, 1, json_pack("{s:s}", key, msg));
}

size_t gl_web_response_headers(gl_http_req_t *req, const json_t *hdrs, const json_t *cors,
                               const json_t *cookies, gl_http_header_t *out)
{
    size_t n = 0, i;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)hdrs, k, v)
        if (n < GL_WEB_MAX_HEADERS - 2 && !json_object_get(cors, k))
            out[n++] = (gl_http_header_t){k, json_string_value(v)};
    json_object_foreach((json_t *)cors, k, v)
        if (n < GL_WEB_MAX_HEADERS - 2)
            out[n++] = (gl_http_header_t){k, json_string_value(v)};
    json_array_foreach(cookies, i, v)
        if (n < GL_WEB_MAX_HEADERS - 1)
            out[n++] = (gl_http_header_t){"Set-Cookie", json_string_value(v)};
    out[n++] = (gl_http_header_t){"x-amzn-RequestId", req->request_id};
    return n;
}

static void call_free(call_t *c)
{
    json_decref(c->cors);
    free(c);
}

static void on_client_gone(gl_http_req_t *req)
{
    gl_invoke_t *inv = req->data;
    call_free(inv->data);
    inv->done = NULL;
    inv->data = NULL;
}

static int is_url(gl_web_mode_t mode)
{
    return mode == GL_WEB_URL || mode == GL_WEB_URL_STREAM;
}

void gl_web_reply_failed(gl_http_req_t *req, gl_web_mode_t mode)
{
    if (is_url(mode))
        gl_web_reply_message(req, "Message", 502, "Internal Server Error");
    else if (mode == GL_WEB_HTTPAPI)
        gl_web_reply_message(req, "message", 500, "Internal Server Error");
    else
        gl_web_reply_message(req, "message", 502, "Internal server error");
}

void gl_web_answer(gl_http_req_t *req, const gl_invoke_t *inv, const json_t *cors,
                   gl_web_mode_t mode)
{
    gl_web_answer_result(req, inv->function_error || inv->service_error, inv->result.data,
                         inv->result.len, cors, mode);
}

void gl_web_answer_result(gl_http_req_t *req, int failed, const char *result, size_t len,
                          const json_t *cors, gl_web_mode_t mode)
{
    gl_web_resp_t r;
    gl_http_header_t h[GL_WEB_MAX_HEADERS];
    int rc = failed                ? -EIO
             : mode == GL_WEB_REST ? gl_web_response_map_v1(result, len, &r)
                                   : gl_web_response_map(result, len, &r);
    if (rc < 0) {
        gl_web_reply_failed(req, mode);
        return;
    }
    size_t n = gl_web_response_headers(req, r.headers, cors, r.cookies, h);
    gl_http_reply_owned(req, r.status, h, n, r.body, r.body_len);
    r.body = NULL;
    gl_web_resp_free(&r);
}

static void on_invoke_done(gl_invoke_t *inv)
{
    call_t *c = inv->data;
    gl_http_req_t *req = c->req;
    req->on_abort = NULL;
    req->data = NULL;
    gl_web_answer(req, inv, c->cors, c->mode);
    call_free(c);
    gl_invoke_free(inv);
}

/* Who answers req once inv ends: a streamed reply (url_stream.c) or on_invoke_done. */
static int attach(gl_invoke_t *inv, gl_http_req_t *req, json_t *cors, gl_web_mode_t mode)
{
    if (mode == GL_WEB_URL_STREAM)
        return gl_web_stream_attach(inv, req, cors);
    call_t *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    *c = (call_t){.req = req, .cors = cors, .mode = mode};
    inv->done = on_invoke_done;
    inv->data = c;
    req->data = inv;
    req->on_abort = on_client_gone;
    return 0;
}

static void detach(gl_invoke_t *inv, gl_http_req_t *req, gl_web_mode_t mode)
{
    if (mode == GL_WEB_URL_STREAM) {
        gl_web_stream_detach(inv, req);
        return;
    }
    call_free(inv->data);
    inv->done = NULL;
    inv->data = NULL;
    req->on_abort = NULL;
    req->data = NULL;
}

void gl_web_invoke(gl_web_t *w, gl_http_req_t *req, gl_fn_t *fn, const char *arn, json_t *event,
                   json_t *cors, gl_web_mode_t mode)
{
    if (gl_web_invoke_durable(w, req, fn, arn, event, cors, mode))
        return;
    gl_invoke_t *inv = gl_invoke_new(fn);
    char *payload = inv && event ? json_dumps(event, JSON_COMPACT) : NULL;
    json_decref(event);
    if (!payload || !(inv->invoked_arn = strdup(arn)) || attach(inv, req, cors, mode) < 0) {
        free(payload);
        gl_invoke_free(inv);
        json_decref(cors);
        gl_web_reply_message(req, is_url(mode) ? "Message" : "message", 500,
                             "Internal Server Error");
        return;
    }
    memcpy(inv->request_id, req->request_id, sizeof(inv->request_id));
    gl_buf_append(&inv->payload, payload, strlen(payload));
    free(payload);
    if (gl_sched_submit(w->sched, inv) < 0) {
        detach(inv, req, mode);
        gl_invoke_free(inv);
        if (is_url(mode))
            gl_web_reply_message(req, "Message", 429, "Rate Exceeded.");
        else
            gl_web_reply_message(req, "message", 429, "Too Many Requests");
    }
}
