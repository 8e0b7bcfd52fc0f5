/* SPDX-License-Identifier: MIT */
/*
 * conn.c: one gl_http_conn_t: reading, the llhttp callbacks that build a gl_http_req_t, the
 * header and body limits, dispatch to the handler, keep-alive and closing.
 *
 * Invariants:
 * - One request at a time. From dispatch until its reply is written ("busy") nothing is
 *   parsed: bytes that arrive meanwhile wait in conn->pending (at most GL_HTTP_PENDING_CAP,
 *   then reading stops) and are parsed after the write completes. Reading continues while
 *   busy so that a peer closing its side is noticed and the handler hears on_abort.
 * - A body over its limit is never buffered: the request is dispatched at once with
 *   body_too_large set, the rest of the body is parsed and dropped (up to
 *   GL_HTTP_DISCARD_CAP), and the connection closes after the reply was written.
 * - The conn is freed only in its uv close callback; a request is never freed while its own
 *   on_request is on the stack (conn->deferred_free).
 * - Only reading is timed out. conn->phase says what is awaited (a head, body bytes, the next
 *   request, the peer's EOF after a refusal) and conn->deadline when that gives up; the
 *   server's sweep timer calls gl_http_conn_timed_out. While a request is with the handler
 *   the phase is NONE: a long-pending request (an invoke, a parked /next) never times out.
 * - EOF is a half-close: a request already dispatched is still answered, then the connection
 *   closes. Only a reset (or the server closing) aborts a pending request.
 * - A body the handler takes as a stream (stream.c) goes to its on_chunk piece by piece, with
 *   no limit and no body timeout, while the request is still being parsed; its trailers are
 *   kept; if it never completes (reset, malformed), the handler hears on_abort instead of
 *   on_request. gl_http_req_pause_body stops reading (body_paused) until resumed or dispatch.
 * - A reply may be held (reply.c) while a pipelined request is parsed and dispatched: the
 *   held reply counts as written, and goes out with the next one or at once (finish_held).
 * Replies are formatted and written in reply.c; the listener lives in server.c.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

static void feed(gl_http_conn_t *c, const char *data, size_t len, int from_pending);
static void update_reading(gl_http_conn_t *c);

/* ---- requests ---- */

void gl_http_req_free(gl_http_req_impl_t *r)
{
    if (!r)
        return;
    gl_buf_free(&r->strs);
    gl_buf_free(&r->pub.body);
    gl_buf_free(&r->trailers);
    free(r);
}

/* Make r look freshly allocated while keeping its (small) buffers. */
static void req_reset(gl_http_req_impl_t *r)
{
    gl_buf_t strs = r->strs, body = r->pub.body;

    if (body.cap > GL_HTTP_KEEP_BUF_MAX)
        gl_buf_free(&body);
    if (strs.cap > GL_HTTP_KEEP_BUF_MAX)
        gl_buf_free(&strs);
    gl_buf_reset(&body);
    gl_buf_reset(&strs);
    memset(&r->pub, 0, sizeof(r->pub));
    r->pub.body = body;
    r->strs = strs;
    r->mark = 0;
    r->url_len = 0;
    r->body_limit = 0;
    r->replied = 0;
    r->owner_frees = 0;
    r->streaming = r->want_drain = r->stream_body = 0;
    r->on_chunk = NULL;
    gl_buf_free(&r->trailers);
}

void gl_http_req_release(gl_http_conn_t *c, gl_http_req_impl_t *r)
{
    if (!c->spare && !c->closing) {
        c->spare = r; /* reset when reused, after the handler is done with it */
        return;
    }
    gl_http_req_free(r);
}

int gl_http_req_gone(const gl_http_req_t *req)
{
    return req->conn == NULL;
}

const char *gl_http_req_header(const gl_http_req_t *req, const char *lname)
{
    for (size_t i = 0; i < req->nheaders; i++)
        if (strcmp(req->headers[i].name, lname) == 0)
            return req->headers[i].value;
    return NULL;
}

int gl_http_req_peer_done(const gl_http_req_t *req)
{
    return !req->conn || req->conn->closing || req->conn->peer_eof;
}

/* ---- llhttp callbacks ---- */

/* Stop parsing with our own error. llhttp reports a failing *_complete callback under its
 * own code (HPE_CB_...), so c->user_error, not the code, says the error is ours. */
static int fail(gl_http_conn_t *c, int status, const char *reason)
{
    c->user_error = 1;
    c->error_status = status;
    c->error_reason = reason;
    llhttp_set_error_reason(&c->parser, reason);
    return HPE_USER;
}

static int on_message_begin(llhttp_t *p)
{
    gl_http_conn_t *c = p->data;
    gl_http_req_impl_t *r = c->spare;

    assert(!c->req && !c->inflight);
    if (r) {
        c->spare = NULL;
        req_reset(r);
    } else if (!(r = calloc(1, sizeof(*r)))) {
        return fail(c, 503, "out of memory");
    }
    r->pub.conn = c;
    c->req = r;
    c->in_headers = 1;
    /* A connection's first head is timed from accept; a later one from its first byte. */
    if (c->phase != GL_HTTP_PHASE_HEADER)
        gl_http_conn_set_phase(c, GL_HTTP_PHASE_HEADER);
    c->dispatch_pending = c->discarding = c->msg_done = c->replied = c->expect_continue = 0;
    c->discarded = 0;
    return 0;
}

/* Append request-head bytes (URL, names, values), enforcing the header byte limit. */
static int add_head_bytes(gl_http_conn_t *c, const char *at, size_t len, int lower)
{
    gl_http_req_impl_t *r = c->req;
    size_t start = r->strs.len;

    if (len > GL_HTTP_MAX_HEADER_BYTES || start + len + 1 > GL_HTTP_MAX_HEADER_BYTES)
        return fail(c, 431, "Request header fields too large");
    if (gl_buf_append(&r->strs, at, len) < 0)
        return fail(c, 503, "out of memory");
    if (lower)
        for (char *s = r->strs.data + start, *e = s + len; s < e; s++)
            if (*s >= 'A' && *s <= 'Z')
                *s = (char)(*s + ('a' - 'A'));
    return 0;
}

/* Terminate the item being received with a NUL; returns its start offset in *off. */
static int end_item(gl_http_conn_t *c, size_t *off)
{
    gl_http_req_impl_t *r = c->req;
    int rc = add_head_bytes(c, "", 1, 0);

    if (rc)
        return rc;
    *off = r->mark;
    r->mark = r->strs.len;
    return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t len)
{
    return add_head_bytes(p->data, at, len, 0);
}

static int on_url_complete(llhttp_t *p)
{
    gl_http_conn_t *c = p->data;
    size_t off;

    c->req->url_len = c->req->strs.len;
    return end_item(c, &off);
}

/* Bytes of a header name (lowercased) or value. After the headers, fields are chunked
 * trailers: accepted and ignored. */
static int header_bytes(llhttp_t *p, const char *at, size_t len, int lower)
{
    gl_http_conn_t *c = p->data;
    gl_http_req_impl_t *r = c->req;

    if (c->in_headers)
        return add_head_bytes(c, at, len, lower);
    if (!r || !r->stream_body)
        return 0;
    if (r->trailers.len + len > GL_HTTP_MAX_HEADER_BYTES)
        return fail(c, 431, "Request trailer fields too large");
    if (gl_buf_append(&r->trailers, at, len) < 0)
        return fail(c, 503, "out of memory");
    if (lower)
        for (char *s = r->trailers.data + r->trailers.len - len; *s; s++)
            if (*s >= 'A' && *s <= 'Z')
                *s = (char)(*s + ('a' - 'A'));
    return 0;
}

/* End a header's name (slot 0) or value (slot 1, trailing blanks trimmed): its offset goes to
 * hoff[nheaders][slot], and a value completes the header. */
static int end_header_item(llhttp_t *p, int slot)
{
    gl_http_conn_t *c = p->data;
    gl_http_req_impl_t *r = c->req;
    size_t off;
    int rc;

    if (!c->in_headers) /* a trailer of a streamed body: NUL-terminate it */
        return r && r->stream_body && gl_buf_append(&r->trailers, "", 1) < 0
                   ? fail(c, 503, "out of memory")
                   : 0;
    if (slot == 0 && r->pub.nheaders >= GL_HTTP_MAX_HEADERS)
        return fail(c, 431, "Too many request header fields");
    while (slot == 1 && r->strs.len > r->mark &&
           (r->strs.data[r->strs.len - 1] == ' ' || r->strs.data[r->strs.len - 1] == '\t'))
        r->strs.len--;
    if ((rc = end_item(c, &off)))
        return rc;
    r->hoff[r->pub.nheaders][slot] = (uint32_t)off;
    r->pub.nheaders += (size_t)slot;
    return 0;
}

static int on_header_field(llhttp_t *p, const char *at, size_t len)
{
    return header_bytes(p, at, len, 1);
}

static int on_header_field_complete(llhttp_t *p) { return end_header_item(p, 0); }

static int on_header_value(llhttp_t *p, const char *at, size_t len)
{
    return header_bytes(p, at, len, 0);
}

static int on_header_value_complete(llhttp_t *p) { return end_header_item(p, 1); }

/* The body crossed its limit: drop what was buffered, dispatch now, drain the rest. */
static void body_too_large(gl_http_conn_t *c)
{
    gl_http_req_impl_t *r = c->req;

    r->pub.body_too_large = 1;
    gl_buf_free(&r->pub.body);
    c->discarding = 1;
    c->close_after_reply = 1;
    c->dispatch_pending = 1;
}

static int on_headers_complete(llhttp_t *p)
{
    gl_http_conn_t *c = p->data;
    gl_http_server_t *s = c->server;
    gl_http_req_impl_t *r = c->req;
    gl_http_req_t *q = &r->pub;
    char *base, *qmark;
    const char *expect;

    c->in_headers = 0;
    gl_http_conn_set_phase(c, GL_HTTP_PHASE_BODY);
    /* strs no longer grows for this request: offsets become pointers. */
    if (!r->strs.data && gl_buf_reserve(&r->strs, 0) < 0)
        return fail(c, 503, "out of memory");
    base = r->strs.data;
    q->path = base;
    if ((qmark = memchr(base, '?', r->url_len))) {
        *qmark = '\0';
        q->query = qmark + 1;
    } else {
        q->query = base + r->url_len; /* the URL's terminating NUL: "" */
    }
    for (size_t i = 0; i < q->nheaders; i++) {
        r->hdrs[i].name = base + r->hoff[i][0];
        r->hdrs[i].value = base + r->hoff[i][1];
    }
    q->headers = r->hdrs;
    q->method = llhttp_get_method(p);
    q->method_name = llhttp_method_name((llhttp_method_t)q->method);

    c->keep_alive = llhttp_should_keep_alive(p) ? 1 : 0;
    /* We speak no other protocol, so an upgrade request gets a reply and a close. */
    if (!c->keep_alive || p->upgrade)
        c->close_after_reply = 1;
    expect = gl_http_req_header(q, "expect");
    c->expect_continue = expect && strcasecmp(expect, "100-continue") == 0;

    r->body_limit = s->handler.body_limit ? s->handler.body_limit(q, s->data)
                                          : GL_HTTP_DEFAULT_BODY_LIMIT;
    if (c->closing)
        return fail(c, 0, "connection closed by the handler");
    if (r->stream_body) { /* the handler takes each piece as it comes, and times it */
        gl_http_conn_set_phase(c, GL_HTTP_PHASE_NONE);
        q->content_length = (p->flags & F_CONTENT_LENGTH) ? p->content_length : 0;
        goto expect;
    }

    if (p->flags & F_CHUNKED) {
        q->content_length = 0;
    } else if (p->flags & F_CONTENT_LENGTH) {
        q->content_length = p->content_length;
        if (p->content_length > r->body_limit) {
            body_too_large(c);
            return 0;
        }
        /* A declared length is a promise, not data: reserve at most 1 MiB up front. */
        size_t want = p->content_length < GL_HTTP_BODY_PREALLOC_MAX ? (size_t)p->content_length
                                                                     : GL_HTTP_BODY_PREALLOC_MAX;
        if (gl_buf_reserve(&q->body, want) < 0)
            return fail(c, 503, "out of memory");
    }
expect:
    if (c->expect_continue && p->http_major == 1 && p->http_minor >= 1 &&
        ((p->flags & F_CHUNKED) || q->content_length > 0))
        gl_http_send_continue(c);
    return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t len)
{
    gl_http_conn_t *c = p->data;
    gl_http_req_impl_t *r = c->req;

    if (r && r->stream_body) {
        if (p->flags & F_CHUNKED)
            r->pub.content_length += len;
        r->on_chunk(&r->pub, at, len);
        return c->closing ? fail(c, 0, "connection closed by the handler") : 0;
    }
    if (c->discarding) {
        c->discarded += len;
        if (c->discarded > GL_HTTP_DISCARD_CAP)
            return fail(c, 0, "discarded body too large");
        return 0;
    }
    if (len > r->body_limit - r->pub.body.len) { /* body.len <= body_limit always holds */
        r->pub.content_length = r->pub.body.len + len;
        body_too_large(c);
        c->discarded = len;
        return 0;
    }
    if (gl_buf_append(&r->pub.body, at, len) < 0)
        return fail(c, 503, "out of memory");
    if (p->flags & F_CHUNKED)
        r->pub.content_length = r->pub.body.len;
    return 0;
}

static int on_message_complete(llhttp_t *p)
{
    gl_http_conn_t *c = p->data;

    c->msg_done = 1;
    if (!c->discarding)
        c->dispatch_pending = 1;
    /* Stop here: a pipelined request waits until this one's reply is written. */
    return HPE_PAUSED;
}

static const llhttp_settings_t settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_url_complete = on_url_complete,
    .on_header_field = on_header_field,
    .on_header_field_complete = on_header_field_complete,
    .on_header_value = on_header_value,
    .on_header_value_complete = on_header_value_complete,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
};

/* ---- dispatch and errors ---- */

void gl_http_conn_reply_held(gl_http_conn_t *c)
{
    c->held_now = 1; /* reply.c holds only inside on_request: dispatch finishes it */
}

/* The held reply counts as written: parse what was pipelined. Unless that made a request which
 * now waits for its reply (the held one goes out in front of it), write the held one now. */
static void finish_held(gl_http_conn_t *c)
{
    gl_http_conn_reply_written(c, 0);
    if (!c->closing && c->held && !c->inflight)
        gl_http_flush_held(c);
}

static void dispatch(gl_http_conn_t *c)
{
    gl_http_server_t *s = c->server;
    gl_http_req_impl_t *r = c->req;

    c->req = NULL;
    c->dispatch_pending = 0;
    c->body_paused = 0;
    c->inflight = r;
    c->busy = 1;
    gl_http_conn_set_phase(c, GL_HTTP_PHASE_NONE); /* the handler takes its time */
    /* The contract: body.data is never NULL and always NUL-terminated (even when empty). */
    if (gl_buf_reserve(&r->pub.body, 0) < 0) {
        gl_http_reply_error_status(&r->pub, 503, GL_AWS_SERVICE, NULL, "out of memory");
        return;
    }
    r->pub.body.data[r->pub.body.len] = '\0';
    c->in_request_cb = 1;
    s->handler.on_request(&r->pub, s->data);
    /* r may be gone (replied, or aborted with on_abort): only c is used from here on. */
    c->in_request_cb = 0;
    if (c->deferred_free) {
        gl_http_req_free(c->deferred_free);
        c->deferred_free = NULL;
    }
    if (c->held_now) {
        c->held_now = 0;
        if (!c->closing)
            finish_held(c);
    }
}

/* The request to answer with an error instead of dispatching it: the one being read, or a
 * blank one when none was begun; it becomes the in-flight request. NULL: out of memory, and
 * the connection is closing. */
static gl_http_req_impl_t *take_for_error(gl_http_conn_t *c)
{
    gl_http_req_impl_t *r = c->req;

    if (r) {
        gl_http_req_stream_abort(r); /* it will not reach on_request */
    } else {
        if (!(r = calloc(1, sizeof(*r)))) {
            gl_http_conn_close(c);
            return NULL;
        }
        r->pub.conn = c;
    }
    c->req = NULL;
    c->inflight = r;
    c->busy = 1;
    gl_http_conn_set_phase(c, GL_HTTP_PHASE_NONE);
    r->pub.method = -1; /* not HEAD: the error body is sent */
    return r;
}

/* Reply to a request llhttp or our limits refused, then close. */
static void parse_error(gl_http_conn_t *c, llhttp_errno_t err)
{
    gl_http_req_impl_t *r = c->req;
    char msg[256];
    int status = 400;

    c->ignore_input = 1;
    c->close_after_reply = 1;
    gl_buf_free(&c->pending);
    c->pending_off = 0;
    if (c->closing)
        return;
    if (c->discarding) {
        /* The 413 request owns the reply: close once it was written. */
        if (c->dispatch_pending)
            dispatch(c);
        else if (c->replied && !c->writes)
            gl_http_conn_close(c);
        return;
    }
    if (c->user_error) {
        if (!c->error_status) {
            gl_http_conn_close(c);
            return;
        }
        status = c->error_status;
        snprintf(msg, sizeof(msg), "%s", c->error_reason);
    } else {
        snprintf(msg, sizeof(msg), "Malformed HTTP request: %s",
                 llhttp_get_error_reason(&c->parser) ? llhttp_get_error_reason(&c->parser)
                                                     : llhttp_errno_name(err));
    }
    if ((r = take_for_error(c)))
        gl_http_reply_error_status(&r->pub,
                                   status, status >= 500 ? GL_AWS_SERVICE
                                                         : GL_AWS_INVALID_REQUEST_CONTENT,
                                   NULL, msg);
}

/* After a 413 reply was written and the dropped body ended: close. */
static int finish_discard(gl_http_conn_t *c)
{
    if (c->discarding && c->replied && !c->writes && (c->msg_done || c->ignore_input)) {
        gl_http_conn_close(c);
        return 1;
    }
    return 0;
}

/* Parse len bytes; bytes after a completed request are kept in c->pending. */
static void feed(gl_http_conn_t *c, const char *data, size_t len, int from_pending)
{
    llhttp_errno_t err = llhttp_execute(&c->parser, data, len);
    size_t used = len;

    if (err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) {
        used = (size_t)(llhttp_get_error_pos(&c->parser) - data);
        if (err == HPE_PAUSED)
            llhttp_resume(&c->parser);
        else
            c->ignore_input = c->close_after_reply = 1;
    } else if (err != HPE_OK) {
        if (from_pending) {
            gl_buf_reset(&c->pending);
            c->pending_off = 0;
        }
        parse_error(c, err);
        return;
    }
    if (c->closing)
        return;
    if (c->msg_done && c->close_after_reply)
        c->ignore_input = 1; /* nothing after this request will be parsed */
    if (used < len && !c->ignore_input) {
        if (from_pending) {
            c->pending_off += used;
        } else if (gl_buf_append(&c->pending, data + used, len - used) < 0) {
            gl_http_conn_close(c);
            return;
        }
    } else if (from_pending) {
        gl_buf_reset(&c->pending);
        c->pending_off = 0;
    }
    if (c->dispatch_pending) {
        dispatch(c);
        if (c->closing)
            return;
    }
    if (finish_discard(c))
        return;
    update_reading(c);
}

/* ---- reading ---- */

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    /* One buffer for every server is enough: all run on the loop's thread, and on_read
     * consumes or copies it before the next read. Not one per server: each environment's
     * Runtime API is a server, and 64 KiB each was most of an idle environment's memory. */
    static char readbuf[GL_HTTP_READ_BUF];
    (void)h;
    buf->base = readbuf;
    buf->len = sizeof(readbuf);
}

/* The peer is done sending (EOF), or the connection failed (n < 0 otherwise). */
static void on_eof(gl_http_conn_t *c, ssize_t n)
{
    /* A reply on its way, or (on a mere EOF: a half-close) a request still with its handler:
     * let the answer go out, then close. */
    if ((c->replied && c->writes) || (n == UV_EOF && c->inflight)) {
        c->ignore_input = c->close_after_reply = c->peer_eof = 1;
        if (c->reading) {
            uv_read_stop((uv_stream_t *)&c->tcp);
            c->reading = 0;
        }
        return;
    }
    gl_http_conn_close(c); /* aborts a request still waiting for its reply */
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
    gl_http_conn_t *c = st->data;

    if (c->closing)
        return;
    if (n < 0) {
        on_eof(c, n);
        return;
    }
    if (n == 0)
        return;
    if (c->phase == GL_HTTP_PHASE_BODY)
        gl_http_conn_set_phase(c, GL_HTTP_PHASE_BODY); /* the body is still coming */
    if (c->ignore_input) {
        c->discarded += (size_t)n;
        update_reading(c);
        return;
    }
    if (c->busy && !c->discarding) {
        /* Drop the parsed prefix once it outweighs the rest: amortised O(1) per byte, and
         * pending stays within about twice GL_HTTP_PENDING_CAP however long the pipeline. */
        if (c->pending_off && c->pending_off >= c->pending.len - c->pending_off) {
            gl_buf_consume(&c->pending, c->pending_off);
            c->pending_off = 0;
        }
        if (gl_buf_append(&c->pending, buf->base, (size_t)n) < 0) {
            gl_http_conn_close(c);
            return;
        }
        update_reading(c);
        return;
    }
    feed(c, buf->base, (size_t)n, 0);
}

/* Read unless too much input is already waiting (or being dropped). */
static void update_reading(gl_http_conn_t *c)
{
    int want = !c->closing && !c->body_paused &&
               c->pending.len - c->pending_off < GL_HTTP_PENDING_CAP &&
               !(c->ignore_input && c->discarded > GL_HTTP_DISCARD_CAP);

    if (want && !c->reading) {
        if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) < 0) {
            gl_http_conn_close(c);
            return;
        }
        c->reading = 1;
    } else if (!want && c->reading) {
        uv_read_stop((uv_stream_t *)&c->tcp);
        c->reading = 0;
    }
}

void gl_http_conn_update_reading(gl_http_conn_t *c) { update_reading(c); }

void gl_http_conn_start(gl_http_conn_t *c)
{
    llhttp_init(&c->parser, HTTP_REQUEST, &settings);
    c->parser.data = c;
    gl_http_conn_set_phase(c, GL_HTTP_PHASE_HEADER);
    update_reading(c);
}

/* ---- deadlines, refusals, lingering close ---- */

void gl_http_conn_set_phase(gl_http_conn_t *c, int phase)
{
    const gl_http_limits_t *l = &c->server->limits;
    uint64_t t = GL_HTTP_NO_TIMEOUT;

    switch (phase) {
    case GL_HTTP_PHASE_HEADER: t = l->header_timeout_ms; break;
    case GL_HTTP_PHASE_BODY: t = l->body_timeout_ms; break;
    case GL_HTTP_PHASE_IDLE: t = l->idle_timeout_ms; break;
    case GL_HTTP_PHASE_LINGER: t = GL_HTTP_LINGER_MS; break;
    }
    c->phase = (unsigned char)phase;
    c->deadline = t == GL_HTTP_NO_TIMEOUT ? 0 : uv_now(c->server->loop) + t;
}

/* An error reply after which the connection shuts down its writing side and drains what the
 * client still sends (until its EOF, at most GL_HTTP_LINGER_MS): closing with unread input
 * would reset the connection, and the client could lose the reply. */
static gl_http_req_impl_t *take_for_final_error(gl_http_conn_t *c)
{
    c->ignore_input = c->close_after_reply = c->linger = 1;
    gl_buf_free(&c->pending);
    c->pending_off = 0;
    return take_for_error(c);
}

void gl_http_conn_refuse(gl_http_conn_t *c)
{
    gl_http_req_impl_t *r = take_for_final_error(c);
    char msg[128];

    if (!r)
        return;
    snprintf(msg, sizeof(msg),
             "Too many open connections (the limit is %zu): retry after some have closed",
             c->server->limits.max_conns);
    gl_http_reply_error_status(&r->pub, 503, GL_AWS_SERVICE, NULL, msg);
    if (!c->closing)
        update_reading(c);
}

void gl_http_conn_timed_out(gl_http_conn_t *c)
{
    const gl_http_limits_t *l = &c->server->limits;
    int header = c->phase == GL_HTTP_PHASE_HEADER;
    gl_http_req_impl_t *r;
    char msg[128];

    /* A request begun and not yet dispatched can be answered; anything else just closes. */
    if ((header || c->phase == GL_HTTP_PHASE_BODY) && c->req && !c->busy) {
        snprintf(msg, sizeof(msg), "The request's %s did not arrive within %llu ms",
                 header ? "headers" : "body (no byte)",
                 (unsigned long long)(header ? l->header_timeout_ms : l->body_timeout_ms));
        if ((r = take_for_final_error(c)))
            gl_http_reply_timeout(&r->pub, msg);
        return;
    }
    gl_http_conn_close(c);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    gl_http_conn_t *c = req->handle->data;

    if (status < 0 && !c->closing)
        gl_http_conn_close(c);
}

/* The final reply is written: stop writing, drop input until the peer's EOF or the linger
 * deadline. 0, or a negative errno when the connection should simply close. */
static int linger_close(gl_http_conn_t *c)
{
    int rc = uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp, on_shutdown);

    if (rc < 0)
        return rc;
    gl_http_conn_set_phase(c, GL_HTTP_PHASE_LINGER);
    update_reading(c);
    return 0;
}

void gl_http_conn_reply_written(gl_http_conn_t *c, int status)
{
    if (c->closing)
        return;
    if (status < 0) {
        gl_http_conn_close(c);
        return;
    }
    if (c->close_after_reply) {
        /* After a 413 the client may still be sending the body it declared: keep reading and
         * dropping it so the client sees the reply rather than a reset. With Expect:
         * 100-continue the client is waiting for us instead, so close at once. */
        if (c->discarding && !c->msg_done && !c->ignore_input && !c->expect_continue) {
            gl_http_conn_set_phase(c, GL_HTTP_PHASE_BODY);
            return;
        }
        if (c->linger && !c->peer_eof && linger_close(c) == 0)
            return;
        gl_http_conn_close(c);
        return;
    }
    c->busy = 0;
    gl_http_conn_set_phase(c, GL_HTTP_PHASE_IDLE);
    if (c->pending.len > c->pending_off)
        feed(c, c->pending.data + c->pending_off, c->pending.len - c->pending_off, 1);
    else
        update_reading(c);
}

/* ---- closing ---- */

static void on_close(uv_handle_t *h)
{
    gl_http_conn_t *c = h->data;

    gl_http_req_free(c->req);
    gl_http_req_free(c->spare);
    gl_buf_free(&c->pending);
    gl_http_wreq_free(c->held);
    gl_http_server_conn_closed(c->server, c);
}

void gl_http_conn_close(gl_http_conn_t *c)
{
    gl_http_req_impl_t *r = c->inflight;

    if (c->closing)
        return;
    c->closing = 1;
    c->reading = 0;
    c->inflight = NULL;
    if (r) {
        r->pub.conn = NULL; /* a later reply returns -ENOTCONN */
        if (r->pub.on_abort) {
            r->owner_frees = 1;
            r->pub.on_abort(&r->pub);
            if (c->in_request_cb)
                c->deferred_free = r; /* its on_request is still running */
            else
                gl_http_req_free(r);
        }
        /* Without on_abort the handler still holds r: its reply frees it. */
    }
    if (c->req)
        gl_http_req_stream_abort(c->req); /* a streamed body cut short */
    uv_close((uv_handle_t *)&c->tcp, on_close);
}
