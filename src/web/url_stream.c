/* SPDX-License-Identifier: MIT */
/*
 * url_stream.c: the answer of a Function URL whose InvokeMode is RESPONSE_STREAM. invoke.c
 * submits the invoke as for a buffered URL with this file attached (gl_web_stream_attach), and
 * the runtime's streamed pieces reach on_chunk as they are read (src/scheduler/env_stream.c).
 *
 * Nothing is sent before the function's first bytes, so a failure before them is a buffered
 * URL's 502 (and a throttle its 429). A response of content type
 * application/vnd.awslambda.http-integration-response (awslambda.HttpResponseStream.from)
 * starts with a JSON prelude and eight NUL bytes: it is held until the delimiter, and its
 * statusCode, headers and cookies make the head; any other stream is a 200 with the runtime's
 * content type (application/octet-stream unless the function set one). The head carries the
 * config's CORS headers, then every piece is written as one chunk of a chunked body as it
 * arrives; past GL_HTTP_STREAM_HIGH_WATER unsent the runtime is paused until the client's
 * connection drains. A failure after the head (function error, timeout, crash, the 200 MB
 * limit) cuts the body without its terminating chunk (gl_http_reply_abort). A function that
 * does not stream is answered as a buffered URL answers it (gl_web_answer). A client that goes
 * away detaches the invoke and resumes a paused runtime, which runs to its end unread.
 */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "galley/sched.h"
#include "internal.h"

#define HTTP_INTEGRATION "application/vnd.awslambda.http-integration-response"
#define DELIMITER_LEN 8
/* The most prelude bytes held waiting for the delimiter: a stream claiming the integration
 * content type without a delimiter this far in is answered 502. */
#define PRELUDE_MAX (64u * 1024u)

typedef struct ustream ustream_t;
static void on_client_gone(gl_http_req_t *req);

struct ustream {
    gl_http_req_t *req; /* the request it answers */
    gl_invoke_t *inv;
    json_t *cors;       /* the config's CORS headers for this request's Origin */
    int started;        /* the head was sent */
    int integration;    /* -1 not known yet, else whether a prelude comes first */
    gl_buf_t prelude;   /* integration bytes held until the delimiter */
};

static void ustream_free(ustream_t *st)
{
    json_decref(st->cors);
    gl_buf_free(&st->prelude);
    free(st);
}

/* The invoke no longer answers anyone (req: the request to clear too, or NULL): it runs on,
 * its streamed bytes dropped. */
static void drop(ustream_t *st, gl_http_req_t *req)
{
    gl_invoke_stream_unbind(st->inv, req);
    ustream_free(st);
}

/* Send the head of r (its body is not used). 0, or < 0 when the client is gone. */
static int send_head(ustream_t *st, const gl_web_resp_t *r)
{
    gl_http_header_t h[GL_WEB_MAX_HEADERS];
    size_t n = gl_web_response_headers(st->req, r->headers, st->cors, r->cookies, h);

    st->started = 1;
    return gl_http_reply_start(st->req, r->status, h, n) < 0 ? -1 : 0;
}

/* A plain stream's head: 200 and the runtime's content type. */
static int start_plain(ustream_t *st)
{
    const char *ct = st->inv->content_type;
    gl_web_resp_t r = {.status = 200, .headers = json_object()};
    int rc;

    json_object_set_new(r.headers, "content-type",
                        json_string(ct && *ct ? ct : "application/octet-stream"));
    rc = send_head(st, &r);
    json_decref(r.headers);
    return rc;
}

/* Hold integration bytes until the delimiter, then send the prelude's head and what followed
 * it. 0 (head sent or still waiting), 1 (backed up), -1 (client gone), -2 (bad prelude). */
static int take_prelude(ustream_t *st, const char *buf, size_t len)
{
    static const char delim[DELIMITER_LEN] = {0};
    gl_web_resp_t r;
    const char *at;
    size_t plen;
    int rc;

    if (gl_buf_append(&st->prelude, buf, len) < 0)
        return -2;
    at = memmem(st->prelude.data, st->prelude.len, delim, DELIMITER_LEN);
    if (!at)
        return st->prelude.len > PRELUDE_MAX ? -2 : 0;
    plen = (size_t)(at - st->prelude.data);
    if (gl_web_response_prelude(st->prelude.data, plen, &r) < 0)
        return -2;
    rc = send_head(st, &r);
    gl_web_resp_free(&r);
    if (rc == 0)
        rc = gl_http_reply_write(st->req, at + DELIMITER_LEN, st->prelude.len - plen - DELIMITER_LEN);
    gl_buf_free(&st->prelude);
    return rc < 0 ? -1 : rc;
}

/* Whether the stream starts with an HttpResponseStream prelude (known at its first piece, when
 * the runtime's content type is). */
static int integration(ustream_t *st)
{
    const char *ct = st->inv->content_type;

    if (st->integration < 0)
        st->integration = ct && !strncasecmp(ct, HTTP_INTEGRATION, strlen(HTTP_INTEGRATION));
    return st->integration;
}

/* Write one piece: 0, 1 (backed up), -1 (client gone), -2 (bad prelude). */
static int put_piece(ustream_t *st, const char *buf, size_t len)
{
    int rc;

    if (!st->started && integration(st))
        return take_prelude(st, buf, len);
    if (!st->started && start_plain(st) < 0)
        return -1;
    rc = gl_http_reply_write(st->req, buf, len);
    return rc < 0 ? -1 : rc;
}

/* A stream that cannot be answered (a bad prelude): 502, and the invoke runs on unread. */
static void fail_early(ustream_t *st)
{
    gl_http_req_t *req = st->req;

    drop(st, req);
    gl_web_reply_message(req, "Message", 502, "Internal Server Error");
}

static int on_chunk(gl_invoke_t *inv, const char *buf, size_t len)
{
    ustream_t *st = inv->data;
    gl_http_req_t *req = st ? st->req : NULL;
    int rc;

    if (!req)
        return 0;
    /* A write that fails closes the connection at once: with on_abort off meanwhile, st stays
     * valid here and the request is ours to end (which frees it) below. */
    req->on_abort = NULL;
    rc = put_piece(st, buf, len);
    if (rc == -2 && !gl_http_req_gone(req)) {
        fail_early(st);
        return 0;
    }
    if (gl_http_req_gone(req)) {
        if (st->started)
            gl_http_reply_end(req);
        else
            gl_web_reply_message(req, "Message", 502, "Internal Server Error"); /* frees it */
        drop(st, NULL);
        return 0;
    }
    req->on_abort = on_client_gone;
    return rc == 1;
}

/* The invoke ended before any head went out. */
static void finish_unstarted(ustream_t *st)
{
    gl_invoke_t *inv = st->inv;
    gl_web_resp_t r;

    if (!inv->streamed || inv->function_error || inv->service_error) {
        gl_web_answer(st->req, inv, st->cors, GL_WEB_URL); /* 502, or the mapped result */
        return;
    }
    if (!integration(st)) {
        start_plain(st);
    } else {
        /* Only a prelude (or nothing) came, without the delimiter: that is the whole answer. */
        int empty = st->prelude.len == 0;
        if (gl_web_response_prelude(empty ? "{}" : st->prelude.data, empty ? 2 : st->prelude.len,
                                    &r) < 0) {
            gl_web_reply_message(st->req, "Message", 502, "Internal Server Error");
            return;
        }
        send_head(st, &r);
        gl_web_resp_free(&r);
    }
    gl_http_reply_end(st->req); /* also when the head failed: the request is still to end */
}

static void on_done(gl_invoke_t *inv)
{
    ustream_t *st = inv->data;
    gl_http_req_t *req = st->req;

    req->on_abort = NULL;
    req->on_drain = NULL;
    req->data = NULL;
    if (!st->started)
        finish_unstarted(st);
    else if (inv->function_error || inv->service_error)
        gl_http_reply_abort(req);
    else
        gl_http_reply_end(req);
    ustream_free(st);
    gl_invoke_free(inv);
}

static void on_client_gone(gl_http_req_t *req)
{
    gl_invoke_t *inv = req->data;

    drop(inv->data, req); /* the runtime is resumed to finish */
}

int gl_web_stream_attach(gl_invoke_t *inv, gl_http_req_t *req, json_t *cors)
{
    ustream_t *st = calloc(1, sizeof(*st));

    if (!st)
        return -ENOMEM;
    st->req = req;
    st->inv = inv;
    st->cors = cors;
    st->integration = -1;
    gl_invoke_stream_bind(inv, req, st, on_chunk, on_done, on_client_gone);
    return 0;
}

void gl_web_stream_detach(gl_invoke_t *inv, gl_http_req_t *req)
{
    drop(inv->data, req);
}
