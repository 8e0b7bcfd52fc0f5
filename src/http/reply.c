/* SPDX-License-Identifier: MIT */
/*
 * reply.c: writing responses: the status line, headers (caller's, Content-Length, Date,
 * Connection), the body, JSON bodies and errors in Lambda's wire shape.
 *
 * Each reply is one uv_write of one allocation holding the write request, the formatted head
 * and (for copied bodies) the body; an owned body is a second buffer freed with it. The write
 * callback, which libuv always runs (UV_ECANCELED on close), frees both and tells conn.c.
 * A request is consumed by exactly one reply: asserted in debug builds.
 *
 * Held replies: a reply its handler allowed to wait (gl_http_req_may_hold_reply), made while
 * the client has already pipelined another request, is kept formatted in conn->held and goes
 * out in front of the next reply, in the same write (at most one is held per connection).
 * If the pipelined bytes do not make a request that waits for its reply, conn.c flushes it on
 * its own at once (gl_http_flush_held); anything else written on the connection (100
 * Continue, a streamed reply) flushes it first, so replies never change order.
 */
#define _GNU_SOURCE /* vasprintf */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

typedef struct gl_http_wreq {
    uv_write_t w;
    gl_http_conn_t *conn;
    char *owned;               /* caller's body, freed with the request */
    struct gl_http_wreq *held; /* a held reply written in front of this one, freed with it */
    uv_buf_t bufs[2];          /* what a held reply writes */
    int nbufs;
    int detached;              /* not the current request's reply: 100 Continue, a held flush */
    char head[];
} wreq_t;

void gl_http_wreq_free(wreq_t *wr)
{
    if (!wr)
        return;
    gl_http_wreq_free(wr->held);
    free(wr->owned);
    free(wr);
}

const char *gl_http_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 422: return "Unprocessable Entity";
    case 425: return "Too Early";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}

void gl_http_fmt_date(time_t t, char *out, size_t outlen)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;

    gmtime_r(&t, &tm);
    /* Fixed English names: strftime's %a/%b would follow the locale. */
    snprintf(out, outlen, "%s, %02d %s %04d %02d:%02d:%02d GMT", days[tm.tm_wday], tm.tm_mday,
             months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

static const char *server_date(gl_http_server_t *s)
{
    time_t now = time(NULL);
    if (now != s->date_sec || !s->date_str[0]) {
        gl_http_fmt_date(now, s->date_str, sizeof(s->date_str));
        s->date_sec = now;
    }
    return s->date_str;
}

static char *put(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

static char *puts_(char *p, const char *s) { return put(p, s, strlen(s)); }

/* n in decimal, then CRLF. */
static char *put_size(char *p, size_t n)
{
    char digits[24];
    size_t i = sizeof(digits);
    do
        digits[--i] = (char)('0' + n % 10);
    while ((n /= 10) && i > 0);
    p = put(p, digits + i, sizeof(digits) - i);
    return put(p, "\r\n", 2);
}

/* Copy a header name or value, turning CR and LF into spaces so no caller-supplied text
 * (a function's headers, a path echoed back) can split the response. */
static char *put_field(char *p, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        *p++ = (s[i] == '\r' || s[i] == '\n') ? ' ' : s[i];
    return p;
}

size_t gl_http_head_cap(int status, const gl_http_header_t *headers, size_t nheaders,
                        const char **content_type)
{
    size_t headcap = 128 + strlen(gl_http_reason(status));

    for (size_t i = 0; i < nheaders; i++) {
        headcap += strlen(headers[i].name) + strlen(headers[i].value) + 4;
        if (*content_type && strcasecmp(headers[i].name, "content-type") == 0)
            *content_type = NULL;
    }
    if (*content_type)
        headcap += 16 + strlen(*content_type);
    return headcap;
}

char *gl_http_format_head(gl_http_conn_t *c, char *p, int status, const gl_http_header_t *headers,
                          size_t nheaders, const char *content_type, size_t len, int chunked)
{
    if (status >= 100 && status <= 999) {
        p = put(p, "HTTP/1.1 ", 9);
        *p++ = (char)('0' + status / 100);
        *p++ = (char)('0' + status / 10 % 10);
        *p++ = (char)('0' + status % 10);
        *p++ = ' ';
    } else {
        p += snprintf(p, 16, "HTTP/1.1 %03d ", status);
    }
    p = puts_(p, gl_http_reason(status));
    p = put(p, "\r\n", 2);
    for (size_t i = 0; i < nheaders; i++) {
        p = put_field(p, headers[i].name, strlen(headers[i].name));
        p = put(p, ": ", 2);
        p = put_field(p, headers[i].value, strlen(headers[i].value));
        p = put(p, "\r\n", 2);
    }
    if (content_type) {
        p = puts_(p, "Content-Type: ");
        p = puts_(p, content_type);
        p = put(p, "\r\n", 2);
    }
    if (chunked)
        p = puts_(p, "Transfer-Encoding: chunked\r\n");
    else if (status != 204)
        p = put_size(put(p, "Content-Length: ", 16), len);
    p = puts_(p, "Date: ");
    p = puts_(p, server_date(c->server));
    p = puts_(p, c->close_after_reply ? "\r\nConnection: close\r\n\r\n"
                                      : "\r\nConnection: keep-alive\r\n\r\n");
    return p;
}

static void on_write(uv_write_t *w, int status)
{
    wreq_t *wr = (wreq_t *)w;
    gl_http_conn_t *c = wr->conn;
    int detached = wr->detached;

    gl_http_wreq_free(wr);
    c->writes--;
    if (detached) {
        if (status < 0)
            gl_http_conn_close(c);
        return;
    }
    gl_http_conn_reply_written(c, status);
}

void gl_http_send_continue(gl_http_conn_t *c)
{
    static const char msg[] = "HTTP/1.1 100 Continue\r\n\r\n";
    wreq_t *wr = calloc(1, sizeof(*wr));
    uv_buf_t buf = uv_buf_init((char *)msg, sizeof(msg) - 1);

    if (!wr)
        return; /* the client sends its body after a timeout anyway */
    gl_http_flush_held(c);
    wr->conn = c;
    wr->detached = 1;
    if (uv_write(&wr->w, (uv_stream_t *)&c->tcp, &buf, 1, on_write) < 0) {
        free(wr);
        return;
    }
    c->writes++;
}

/*
 * A keep-alive reply with nothing queued before it and no pipelined request waiting is
 * written at once with uv_try_write; when all of it went, the connection is done with it here
 * (1), without uv_write's write queue, whose drain re-arms the socket's epoll registration with
 * the same events: one epoll_ctl per reply saved. Otherwise bufs/nbufs are left to uv_write
 * (advanced past what was written) and 0 is returned.
 */
static int try_write_now(gl_http_conn_t *c, uv_buf_t *bufs, int *nbufs)
{
    if (c->writes || c->closing || c->close_after_reply || c->pending.len > c->pending_off)
        return 0;
    int n = uv_try_write((uv_stream_t *)&c->tcp, bufs, (unsigned)*nbufs);
    int done = 0;
    if (n < 0)
        return 0; /* EAGAIN, or an error uv_write reports the usual way */
    while (done < *nbufs && (size_t)n >= bufs[done].len)
        n -= (int)bufs[done++].len;
    if (done == *nbufs)
        return 1;
    memmove(bufs, bufs + done, (size_t)(*nbufs - done) * sizeof(*bufs));
    *nbufs -= done;
    bufs[0].base += n;
    bufs[0].len -= (size_t)n;
    return 0;
}

/* Keep wr as c's held reply instead of writing it (see the top of this file): 1 when held. */
static int hold(gl_http_conn_t *c, gl_http_req_impl_t *r, wreq_t *wr, const uv_buf_t *bufs,
                int nbufs)
{
    if (!r->may_hold || !c->in_request_cb || c->held || c->closing || c->close_after_reply ||
        c->pending.len <= c->pending_off)
        return 0;
    memcpy(wr->bufs, bufs, (size_t)nbufs * sizeof(*bufs));
    wr->nbufs = nbufs;
    c->held = wr;
    return 1;
}

/* Put c's held reply (if any) in front of bufs[0..*nbufs) and hand it to wr, which frees it. */
static void take_held(gl_http_conn_t *c, wreq_t *wr, uv_buf_t *bufs, int *nbufs)
{
    wreq_t *h = c->held;

    if (!h)
        return;
    memmove(bufs + h->nbufs, bufs, (size_t)*nbufs * sizeof(*bufs));
    memcpy(bufs, h->bufs, (size_t)h->nbufs * sizeof(*bufs));
    *nbufs += h->nbufs;
    wr->held = h;
    c->held = NULL;
}

void gl_http_flush_held(gl_http_conn_t *c)
{
    wreq_t *h = c->held;

    if (!h)
        return;
    c->held = NULL;
    h->detached = 1;
    if (c->closing || uv_write(&h->w, (uv_stream_t *)&c->tcp, h->bufs, (unsigned)h->nbufs,
                               on_write) < 0) {
        gl_http_wreq_free(h);
        if (!c->closing)
            gl_http_conn_close(c);
        return;
    }
    c->writes++;
}

void gl_http_req_may_hold_reply(gl_http_req_t *req)
{
    GL_HTTP_IMPL(req)->may_hold = 1;
}

/* The one reply path. owned (may be NULL) is freed in every case. content_type is added unless
 * the caller's headers carry one. */
static int send_reply(gl_http_req_t *req, int status, const gl_http_header_t *headers,
                      size_t nheaders, const char *body, size_t len, char *owned,
                      const char *content_type)
{
    gl_http_req_impl_t *r = GL_HTTP_IMPL(req);
    gl_http_conn_t *c = req->conn;
    size_t headcap, copy;
    int send_body, rc;
    uv_buf_t bufs[4];
    wreq_t *wr;
    char *p;

    assert(!r->replied && !r->streaming && "gl_http_reply: a request takes exactly one reply");
    if (r->replied || r->streaming) { /* release builds: refuse, not corrupt the connection */
        free(owned);
        return -EALREADY;
    }
    r->replied = 1;
    if (!c) {
        /* The connection died first (no on_abort, or a reply from inside on_abort). */
        free(owned);
        if (!r->owner_frees)
            gl_http_req_free(r);
        return -ENOTCONN;
    }
    assert(c->inflight == r);
    if (c->inflight != r) {
        free(owned);
        return -EINVAL;
    }
    c->inflight = NULL;
    c->replied = 1;
    if (c->server->closing)
        c->close_after_reply = 1;
    send_body = req->method != HTTP_HEAD && status != 204 && status != 304 &&
                (status < 100 || status >= 200) && len > 0;
    if (status < 100 || status > 999)
        status = 500;
    headcap = gl_http_head_cap(status, headers, nheaders, &content_type);
    copy = (send_body && !owned) ? len : 0;
    if (!(wr = malloc(sizeof(*wr) + headcap + copy))) {
        free(owned);
        gl_http_req_release(c, r);
        gl_http_conn_close(c);
        return -ENOMEM;
    }
    wr->conn = c;
    wr->owned = owned;
    wr->held = NULL;
    wr->detached = 0;
    p = gl_http_format_head(c, wr->head, status, headers, nheaders, content_type, len, 0);
    assert((size_t)(p - wr->head) <= headcap);

    bufs[0] = uv_buf_init(wr->head, (unsigned)(p - wr->head));
    if (copy) {
        memcpy(wr->head + headcap, body, len);
        bufs[1] = uv_buf_init(wr->head + headcap, (unsigned)len);
    } else {
        bufs[1] = uv_buf_init(owned ? owned : (char *)body, (unsigned)len);
    }
    int nbufs = send_body ? 2 : 1;
    if (hold(c, r, wr, bufs, nbufs)) {
        gl_http_req_release(c, r);
        gl_http_conn_reply_held(c);
        return 0;
    }
    take_held(c, wr, bufs, &nbufs);
    if (try_write_now(c, bufs, &nbufs)) {
        gl_http_wreq_free(wr);
        gl_http_req_release(c, r);
        gl_http_conn_reply_written(c, 0);
        return 0;
    }
    if ((rc = uv_write(&wr->w, (uv_stream_t *)&c->tcp, bufs, nbufs, on_write)) < 0) {
        gl_http_wreq_free(wr);
        gl_http_req_release(c, r);
        gl_http_conn_close(c);
        return rc;
    }
    c->writes++;
    gl_http_req_release(c, r);
    return 0;
}

int gl_http_reply(gl_http_req_t *req, int status, const gl_http_header_t *headers, size_t nheaders,
                  const void *body, size_t len)
{
    return send_reply(req, status, headers, nheaders, body, body ? len : 0, NULL, NULL);
}

int gl_http_reply_owned(gl_http_req_t *req, int status, const gl_http_header_t *headers,
                        size_t nheaders, char *body, size_t len)
{
    return send_reply(req, status, headers, nheaders, body, body ? len : 0, body, NULL);
}

int gl_http_reply_json(gl_http_req_t *req, int status, const gl_http_header_t *headers,
                       size_t nheaders, json_t *body)
{
    char *text = body ? json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;

    json_decref(body);
    if (!text) {
        static const char oom[] = "{\"Type\":\"Service\",\"Message\":\"out of memory\"}";
        return send_reply(req, 500, NULL, 0, oom, sizeof(oom) - 1, NULL, "application/json");
    }
    return send_reply(req, status, headers, nheaders, text, strlen(text), text,
                      "application/json");
}

/* A JSON string from text that may not be UTF-8 (a client's bytes in a message). */
static json_t *json_text(const char *msg)
{
    json_t *s = json_string(msg);
    if (s)
        return s;
    char *copy = strdup(msg);
    if (!copy)
        return NULL;
    for (char *p = copy; *p; p++)
        if ((unsigned char)*p >= 0x80 || (unsigned char)*p < 0x20)
            *p = '?';
    s = json_string(copy);
    free(copy);
    return s;
}

/* An error in Lambda's wire shape: x-amzn-RequestId, x-amzn-ErrorType: name, and the body
 * {"Type": type_field (when not NULL), key: msg, ...extra}. Steals extra. */
static int reply_error(gl_http_req_t *req, int status, const char *name, const char *key,
                       const char *type_field, json_t *extra, const char *msg)
{
    char rid[GL_UUID_LEN + 1];
    json_t *obj = json_object();

    if (req->request_id[0]) {
        memcpy(rid, req->request_id, sizeof(rid));
        rid[GL_UUID_LEN] = '\0';
    } else {
        gl_uuid4(rid);
    }
    if (obj) {
        if (type_field)
            json_object_set_new(obj, "Type", json_string(type_field));
        json_object_set_new(obj, key, json_text(msg ? msg : ""));
        if (json_is_object(extra))
            json_object_update(obj, extra);
    }
    json_decref(extra);
    gl_http_header_t hdrs[] = {
        {"x-amzn-RequestId", rid},
        {"x-amzn-ErrorType", name},
    };
    return gl_http_reply_json(req, status, hdrs, 2, obj);
}

int gl_http_reply_error_status(gl_http_req_t *req, int status, gl_aws_err_t type, json_t *extra,
                               const char *msg)
{
    return reply_error(req, status, gl_aws_err_name(type), gl_aws_err_message_key(type),
                       gl_aws_err_type(type), extra, msg);
}

/* Not an error of Lambda's own table: the name the AWS SDKs' retry logic knows as transient. */
int gl_http_reply_timeout(gl_http_req_t *req, const char *msg)
{
    return reply_error(req, 408, "RequestTimeoutException", "message", "User", NULL, msg);
}

static int reply_aws_va(gl_http_req_t *req, gl_aws_err_t type, json_t *extra, const char *fmt,
                        va_list ap)
{
    char *msg = NULL;
    int rc;

    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    rc = gl_http_reply_error_status(req, gl_aws_err_status(type), type, extra,
                                    msg ? msg : "out of memory");
    free(msg);
    return rc;
}

int gl_http_reply_aws_error(gl_http_req_t *req, gl_aws_err_t type, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = reply_aws_va(req, type, NULL, fmt, ap);
    va_end(ap);
    return rc;
}

int gl_http_reply_aws_err(gl_http_req_t *req, const gl_aws_error_t *e)
{
    return gl_http_reply_error_status(req, gl_aws_err_status(e->type), e->type, NULL, e->msg);
}

int gl_http_reply_aws_error_ex(gl_http_req_t *req, gl_aws_err_t type, json_t *extra,
                               const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = reply_aws_va(req, type, extra, fmt, ap);
    va_end(ap);
    return rc;
}
