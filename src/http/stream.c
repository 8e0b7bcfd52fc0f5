/* SPDX-License-Identifier: MIT */
/*
 * stream.c: streaming in both directions on one connection. Replies: gl_http_reply_start sends
 * the head with Transfer-Encoding: chunked, gl_http_reply_write queues one chunk per call (a
 * copy, written in order by libuv), gl_http_reply_end sends the last chunk and hands the
 * connection back to conn.c as a finished reply (gl_http_reply_abort instead closes it without
 * that last chunk, a body cut short). A reply without a body (to HEAD; 1xx, 204, 304) sends its
 * head and nothing else. The unsent bytes (the TCP handle's write
 * queue) are the backpressure signal: past GL_HTTP_STREAM_HIGH_WATER a write returns 1 and
 * on_drain runs once the queue is down to a quarter of it. Request bodies: a handler's
 * body_limit callback may take the body as a stream (conn.c calls on_chunk per piece and keeps
 * trailers here), pause and resume reading it, and look its trailers up.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef struct swreq {
    uv_write_t w;
    gl_http_conn_t *conn;
    int last; /* the terminating chunk: the reply is complete once it is written */
    char data[];
} swreq_t;

static void on_stream_write(uv_write_t *w, int status)
{
    swreq_t *wr = (swreq_t *)w;
    gl_http_conn_t *c = wr->conn;
    int last = wr->last;
    gl_http_req_impl_t *r;

    free(wr);
    c->writes--;
    if (last) {
        gl_http_conn_reply_written(c, status);
        return;
    }
    if (c->closing)
        return;
    if (status < 0) {
        gl_http_conn_close(c); /* on_abort tells the handler */
        return;
    }
    r = c->inflight;
    if (r && r->streaming && r->want_drain &&
        c->tcp.write_queue_size <= GL_HTTP_STREAM_HIGH_WATER / 4) {
        r->want_drain = 0;
        if (r->pub.on_drain)
            r->pub.on_drain(&r->pub);
    }
}

/* Queue head (hlen bytes), body and tail as one write. 0 or a negative errno (the connection
 * is then closing). */
static int queue(gl_http_conn_t *c, const char *head, size_t hlen, const void *body, size_t blen,
                 const char *tail, int last)
{
    size_t tlen = tail ? strlen(tail) : 0;
    swreq_t *wr = malloc(sizeof(*wr) + hlen + blen + tlen);
    uv_buf_t buf;
    int rc;

    if (!wr) {
        gl_http_conn_close(c);
        return -ENOMEM;
    }
    gl_http_flush_held(c); /* a held reply precedes this one on the wire */
    wr->conn = c;
    wr->last = last;
    memcpy(wr->data, head, hlen);
    if (blen)
        memcpy(wr->data + hlen, body, blen);
    if (tlen)
        memcpy(wr->data + hlen + blen, tail, tlen);
    buf = uv_buf_init(wr->data, (unsigned)(hlen + blen + tlen));
    if ((rc = uv_write(&wr->w, (uv_stream_t *)&c->tcp, &buf, 1, on_stream_write)) < 0) {
        free(wr);
        gl_http_conn_close(c);
        return rc;
    }
    c->writes++;
    return 0;
}

int gl_http_reply_start(gl_http_req_t *req, int status, const gl_http_header_t *headers,
                        size_t nheaders)
{
    gl_http_req_impl_t *r = GL_HTTP_IMPL(req);
    gl_http_conn_t *c = req->conn;
    const char *ct = NULL;
    size_t cap;
    char *head, *end;
    int rc, no_body;

    assert(!r->replied && !r->streaming);
    if (r->replied || r->streaming)
        return -EALREADY;
    r->streaming = 1;
    if (!c || c->inflight != r)
        return -ENOTCONN;
    if (c->server->closing)
        c->close_after_reply = 1;
    cap = gl_http_head_cap(status, headers, nheaders, &ct);
    if (!(head = malloc(cap))) {
        gl_http_conn_close(c);
        return -ENOMEM;
    }
    /* A status without a body has no Transfer-Encoding either (nor a length: 0 is written for
     * 304, none for 204); a reply to HEAD keeps the header GET would get. Neither sends chunks. */
    no_body = status < 200 || status == 204 || status == 304;
    r->bodiless = no_body || req->method == HTTP_HEAD;
    end = gl_http_format_head(c, head, status, headers, nheaders, NULL, 0, !no_body);
    rc = queue(c, head, (size_t)(end - head), NULL, 0, NULL, 0);
    free(head);
    return rc;
}

int gl_http_reply_write(gl_http_req_t *req, const void *buf, size_t len)
{
    gl_http_req_impl_t *r = GL_HTTP_IMPL(req);
    gl_http_conn_t *c = req->conn;
    char size[24];
    int rc;

    if (!c || c->closing || c->inflight != r || !r->streaming)
        return -ENOTCONN;
    if (len == 0 || r->bodiless)
        return 0;
    snprintf(size, sizeof(size), "%zx\r\n", len);
    if ((rc = queue(c, size, strlen(size), buf, len, "\r\n", 0)) < 0)
        return rc;
    if (c->tcp.write_queue_size > GL_HTTP_STREAM_HIGH_WATER) {
        r->want_drain = 1;
        return 1;
    }
    return 0;
}

/* End a streamed reply: with its terminating chunk, or (cut) without it, closing the
 * connection once what is queued is written (conn.c's lingering close), so the client sees the
 * body end short of its last chunk. The write that completes the reply marks that point in the
 * queue, empty when cut. */
static int finish(gl_http_req_t *req, int cut)
{
    static const char last[] = "0\r\n\r\n";
    gl_http_req_impl_t *r = GL_HTTP_IMPL(req);
    gl_http_conn_t *c = req->conn;
    int rc;

    assert(!r->replied);
    if (r->replied)
        return -EALREADY;
    r->replied = 1;
    if (!c) {
        if (!r->owner_frees)
            gl_http_req_free(r);
        return -ENOTCONN;
    }
    if (c->inflight != r)
        return -EINVAL;
    c->inflight = NULL;
    c->replied = 1;
    if (cut)
        c->ignore_input = c->close_after_reply = c->linger = 1;
    rc = c->closing ? -ENOTCONN
                    : queue(c, last, cut || r->bodiless ? 0 : sizeof(last) - 1, NULL, 0, NULL, 1);
    gl_http_req_release(c, r);
    return rc;
}

int gl_http_reply_end(gl_http_req_t *req)
{
    return finish(req, 0);
}

int gl_http_reply_abort(gl_http_req_t *req)
{
    return finish(req, 1);
}

/* ---- streamed request bodies ---- */

void gl_http_req_stream_body(gl_http_req_t *req,
                             void (*on_chunk)(gl_http_req_t *req, const char *buf, size_t len))
{
    gl_http_req_impl_t *r = GL_HTTP_IMPL(req);
    r->stream_body = 1;
    r->on_chunk = on_chunk;
}

void gl_http_req_pause_body(gl_http_req_t *req, int pause)
{
    gl_http_conn_t *c = req->conn;

    if (!c || c->closing)
        return;
    c->body_paused = pause ? 1 : 0;
    gl_http_conn_update_reading(c);
}

const char *gl_http_req_trailer(const gl_http_req_t *req, const char *lname)
{
    const gl_http_req_impl_t *r = (const gl_http_req_impl_t *)req;
    const char *p = r->trailers.data, *end = p ? p + r->trailers.len : NULL;

    while (p && p < end) {
        const char *value = p + strlen(p) + 1;
        if (value >= end)
            break;
        if (strcmp(p, lname) == 0)
            return value;
        p = value + strlen(value) + 1;
    }
    return NULL;
}

void gl_http_req_stream_abort(gl_http_req_impl_t *r)
{
    void (*cb)(gl_http_req_t *) = r->pub.on_abort;

    if (!r->stream_body)
        return;
    r->stream_body = 0;
    r->on_chunk = NULL;
    r->pub.on_abort = NULL;
    if (cb)
        cb(&r->pub);
}
