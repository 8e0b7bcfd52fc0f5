/* SPDX-License-Identifier: MIT */
/*
 * test_server.c: the HTTP server end to end: a real uv loop serving 127.0.0.1:0 on the test's
 * main thread, and a client thread speaking raw HTTP over blocking sockets.
 *
 * The client thread records its first failed check in fx->fail (cmocka must assert on the main
 * thread); the handler's observations are read after the thread was joined, or through
 * atomics while it runs. Every test ends by closing the server (on_closed must run once) and
 * asserting uv_loop_close() == 0, so a leaked handle fails the test. Tests of the limits
 * (timeouts, connection limit) set small values through gl_http_server_set_limits so each
 * runs in well under a second.
 */
#define _GNU_SOURCE /* memmem */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "galley/http.h"

#define SMALL_LIMIT 16
#define FIXED_RID "11111111-2222-3333-4444-555555555555"

typedef struct fx fx_t;
struct fx {
    uv_loop_t loop;
    gl_http_server_t *srv;
    int port;
    uv_async_t done;
    pthread_t thr;
    void (*client)(fx_t *);
    atomic_int signaled;
    atomic_int requests;
    atomic_int aborts;
    atomic_int late_rc; /* rc of a reply made after the connection died; 1 = not yet */
    int closed;
    size_t conns_at_close;
    /* what the handler saw of the last /small request */
    int too_large;
    size_t body_len, content_length;
    /* a request held by /hold until its connection is gone */
    gl_http_req_t *held;
    uv_timer_t hold_timer;
    int hold_inited;
    /* what /sbody's streamed body delivered */
    char sbody[256];
    size_t sbody_len;
    atomic_int sbody_pieces;
    char fail[512];
};

/* ---- handler (loop thread) ---- */

typedef struct slow {
    uv_timer_t t;
    gl_http_req_t *req;
} slow_t;

static void echo(gl_http_req_t *req)
{
    const char *xin = gl_http_req_header(req, "x-in");
    size_t cap = req->body.len + strlen(req->path) + strlen(req->query) + 256;
    char *out = malloc(cap);
    int n = snprintf(out, cap, "%s %s q=%s n=%zu x-in=%s len=%zu body=%s", req->method_name,
                     req->path, req->query, req->nheaders, xin ? xin : "-", req->body.len,
                     req->body.data);
    gl_http_header_t h[] = {{"X-Out", "yes"}};
    gl_http_reply_owned(req, 200, h, 1, out, (size_t)n);
}

static void free_slow(uv_handle_t *h) { free(h->data); }

static void on_slow_timer(uv_timer_t *t)
{
    slow_t *s = t->data;
    echo(s->req);
    uv_close((uv_handle_t *)&s->t, free_slow);
}

static void on_slow_abort(gl_http_req_t *req)
{
    slow_t *s = req->data;
    uv_close((uv_handle_t *)&s->t, free_slow);
}

static void on_never_abort(gl_http_req_t *req)
{
    fx_t *fx = req->data;
    fx->aborts++;
}

static void on_closed(void *arg)
{
    fx_t *fx = arg;
    fx->closed++;
}

static void on_hold_timer(uv_timer_t *t)
{
    fx_t *fx = t->data;
    if (fx->srv && gl_http_server_conn_count(fx->srv) != 0)
        return;
    uv_timer_stop(t);
    fx->late_rc = gl_http_reply(fx->held, 200, NULL, 0, "late", 4);
    fx->held = NULL;
}

static void on_sbody_chunk(gl_http_req_t *req, const char *buf, size_t len)
{
    fx_t *fx = req->data;
    if (fx->sbody_len + len < sizeof(fx->sbody)) {
        memcpy(fx->sbody + fx->sbody_len, buf, len);
        fx->sbody_len += len;
    }
    fx->sbody_pieces++;
}

static size_t body_limit(gl_http_req_t *req, void *data)
{
    if (strcmp(req->path, "/sbody") == 0) { /* streamed: the tiny limit must not apply */
        req->data = data;
        req->on_abort = on_never_abort;
        gl_http_req_stream_body(req, on_sbody_chunk);
        return 4;
    }
    return strncmp(req->path, "/small", 6) == 0 ? SMALL_LIMIT : 1024 * 1024;
}

static void on_request(gl_http_req_t *req, void *data)
{
    fx_t *fx = data;
    const char *p = req->path;

    fx->requests++;
    if (strcmp(p, "/echo") == 0 || strcmp(p, "/echo%2Fx") == 0) {
        echo(req);
    } else if (strcmp(p, "/holdable") == 0) {
        gl_http_req_may_hold_reply(req);
        echo(req);
    } else if (strcmp(p, "/hdrs") == 0) {
        char out[2048];
        size_t n = 0;
        for (size_t i = 0; i < req->nheaders && n < sizeof(out) - 256; i++)
            n += (size_t)snprintf(out + n, sizeof(out) - n, "[%s=%s]", req->headers[i].name,
                                  req->headers[i].value);
        const char *e = gl_http_req_header(req, "x-empty");
        n += (size_t)snprintf(out + n, sizeof(out) - n, " empty=%s missing=%s",
                              e ? (*e ? "nonempty" : "yes") : "absent",
                              gl_http_req_header(req, "X-Mixed") ? "found" : "null");
        gl_http_reply(req, 200, NULL, 0, out, n);
    } else if (strcmp(p, "/slow") == 0) {
        slow_t *s = calloc(1, sizeof(*s));
        s->req = req;
        s->t.data = s;
        req->data = s;
        req->on_abort = on_slow_abort;
        uv_timer_init(&fx->loop, &s->t);
        uv_timer_start(&s->t, on_slow_timer,
                       strncmp(req->query, "ms=", 3) == 0 ? strtoul(req->query + 3, NULL, 10) : 50,
                       0);
    } else if (strcmp(p, "/sbody") == 0) {
        const char *t = gl_http_req_trailer(req, "x-t");
        char out[400];
        int n = snprintf(out, sizeof(out), "got=%.*s trailer=%s body=%zu cl=%zu",
                         (int)fx->sbody_len, fx->sbody, t ? t : "-", req->body.len,
                         req->content_length);
        req->on_abort = NULL;
        gl_http_reply(req, 200, NULL, 0, out, (size_t)n);
    } else if (strcmp(p, "/stream") == 0) {
        gl_http_header_t h[] = {{"Content-Type", "text/plain"}};
        gl_http_reply_start(req, 200, h, 1);
        gl_http_reply_write(req, "ab", 2);
        gl_http_reply_write(req, "", 0); /* nothing: an empty chunk would end the body */
        gl_http_reply_write(req, "cde", 3);
        gl_http_reply_end(req);
    } else if (strcmp(p, "/stream204") == 0) {
        gl_http_reply_start(req, 204, NULL, 0);
        gl_http_reply_write(req, "ab", 2); /* dropped: a 204 has no body */
        gl_http_reply_end(req);
    } else if (strcmp(p, "/cut") == 0) {
        gl_http_reply_start(req, 200, NULL, 0);
        gl_http_reply_write(req, "ab", 2);
        gl_http_reply_write(req, "cde", 3);
        gl_http_reply_abort(req); /* failed after the start: no terminating chunk */
    } else if (strcmp(p, "/never") == 0) {
        req->data = fx;
        req->on_abort = on_never_abort;
    } else if (strcmp(p, "/hold") == 0) {
        fx->held = req; /* no on_abort: the late reply must fail cleanly */
        uv_timer_init(&fx->loop, &fx->hold_timer);
        fx->hold_timer.data = fx;
        fx->hold_inited = 1;
        uv_timer_start(&fx->hold_timer, on_hold_timer, 10, 10);
    } else if (strcmp(p, "/small") == 0) {
        fx->too_large = req->body_too_large;
        fx->body_len = req->body.len;
        fx->content_length = req->content_length;
        if (req->body_too_large)
            gl_http_reply_aws_error(req, GL_AWS_REQUEST_ENTITY_TOO_LARGE,
                                    "Request must be smaller than %d bytes", SMALL_LIMIT);
        else
            echo(req);
    } else if (strcmp(p, "/err") == 0) {
        memcpy(req->request_id, FIXED_RID, sizeof(FIXED_RID));
        gl_http_reply_aws_error(req, GL_AWS_RESOURCE_NOT_FOUND, "Function not found: %s", "fn");
    } else if (strcmp(p, "/err-ex") == 0) {
        gl_http_reply_aws_error_ex(req, GL_AWS_REQUEST_ENTITY_TOO_LARGE,
                                   json_pack("{s:s}", "Reason", "Big"), "too big %d", 5);
    } else if (strcmp(p, "/json") == 0) {
        gl_http_reply_json(req, 201, NULL, 0, json_pack("{s:i,s:s}", "a", 1, "b", "\xc3\xa9"));
    } else if (strcmp(p, "/shutdown") == 0 || strcmp(p, "/shutdown-abort") == 0) {
        if (p[9])
            req->on_abort = on_never_abort;
        req->data = fx;
        gl_http_server_close(fx->srv, on_closed, fx);
        fx->srv = NULL;
        /* Still inside on_request: req must stay valid, and the reply must fail cleanly. */
        fx->late_rc = gl_http_reply(req, 200, NULL, 0, req->path, strlen(req->path));
    } else {
        gl_http_reply_aws_error(req, GL_AWS_UNKNOWN_OPERATION, "no route %s", p);
    }
}

static void on_done(uv_async_t *a)
{
    fx_t *fx = a->data;
    if (fx->srv) {
        fx->conns_at_close = gl_http_server_conn_count(fx->srv);
        gl_http_server_close(fx->srv, on_closed, fx);
        fx->srv = NULL;
    }
    if (fx->hold_inited && !uv_is_closing((uv_handle_t *)&fx->hold_timer))
        uv_close((uv_handle_t *)&fx->hold_timer, NULL);
    uv_close((uv_handle_t *)a, NULL);
}

/* ---- client (helper thread) ---- */

/* Record the first failed check and return (ret: the helper's failure value, or nothing). */
#define CHECK_OR(fx, cond, ret)                                                                    \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            if (!(fx)->fail[0])                                                                    \
                snprintf((fx)->fail, sizeof((fx)->fail), "%s:%d: %s", __FILE__, __LINE__, #cond);  \
            return ret;                                                                            \
        }                                                                                          \
    } while (0)
#define CHECK(fx, cond) CHECK_OR(fx, cond, )

typedef struct client {
    int fd;
    size_t len;
    char buf[256 * 1024];
} client_t;

typedef struct resp {
    int status;
    char head[16384];
    char *body; /* malloc'd, NUL-terminated */
    size_t body_len;
} resp_t;

static void signal_done(fx_t *fx)
{
    if (!atomic_exchange(&fx->signaled, 1))
        uv_async_send(&fx->done);
}

static client_t *cconnect(fx_t *fx)
{
    client_t *c = calloc(1, sizeof(*c));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)fx->port)};
    struct timeval tv = {.tv_sec = 5};
    int one = 1;

    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    c->fd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(c->fd);
        free(c);
        return NULL;
    }
    return c;
}

static void cclose(client_t *c)
{
    if (c) {
        close(c->fd);
        free(c);
    }
}

/* Close with a reset (SO_LINGER 0), as a client that gives up does: the server sees an error,
 * not a half-close. */
static void creset(client_t *c)
{
    struct linger lg = {.l_onoff = 1, .l_linger = 0};

    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    cclose(c);
}

static int csendn(client_t *c, const void *data, size_t len)
{
    const char *p = data;
    while (len) {
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int csend(client_t *c, const char *s) { return csendn(c, s, strlen(s)); }

static int fill(client_t *c)
{
    if (c->len == sizeof(c->buf))
        return -1;
    ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
    if (n <= 0)
        return -1;
    c->len += (size_t)n;
    return 0;
}

static int resp_header(const resp_t *r, const char *name, char *out, size_t outlen)
{
    size_t nl = strlen(name);
    for (const char *line = strstr(r->head, "\r\n"); line && line[2]; line = strstr(line + 2, "\r\n")) {
        const char *l = line + 2;
        if (strncasecmp(l, name, nl) == 0 && l[nl] == ':') {
            const char *v = l + nl + 1, *e = strstr(v, "\r\n");
            while (*v == ' ')
                v++;
            snprintf(out, outlen, "%.*s", (int)(e - v), v);
            return 1;
        }
    }
    return 0;
}

static void resp_free(resp_t *r)
{
    free(r->body);
    r->body = NULL;
}

/* Read one response; head_only for a reply to HEAD. 0, or -1 on EOF / timeout / garbage. */
static int read_resp_ex(client_t *c, resp_t *r, int head_only)
{
    char *end, cl[32];
    size_t hlen, blen = 0;

    r->body = NULL;
    while (!(end = memmem(c->buf, c->len, "\r\n\r\n", 4)))
        if (fill(c) < 0)
            return -1;
    hlen = (size_t)(end - c->buf) + 4;
    if (hlen >= sizeof(r->head))
        return -1;
    memcpy(r->head, c->buf, hlen);
    r->head[hlen] = '\0';
    if (sscanf(r->head, "HTTP/1.1 %d", &r->status) != 1)
        return -1;
    if (!head_only && r->status >= 200 && r->status != 204 &&
        resp_header(r, "content-length", cl, sizeof(cl)))
        blen = strtoul(cl, NULL, 10);
    while (c->len < hlen + blen)
        if (fill(c) < 0)
            return -1;
    r->body = malloc(blen + 1);
    memcpy(r->body, c->buf + hlen, blen);
    r->body[blen] = '\0';
    r->body_len = blen;
    memmove(c->buf, c->buf + hlen + blen, c->len - hlen - blen);
    c->len -= hlen + blen;
    return 0;
}

static int read_resp(client_t *c, resp_t *r) { return read_resp_ex(c, r, 0); }

/* 1 when the server closed the connection (and sent nothing more), else 0. */
static int saw_eof(client_t *c)
{
    char b[4096];
    ssize_t n;
    if (c->len)
        return 0;
    while ((n = recv(c->fd, b, sizeof(b), 0)) > 0)
        return 0;
    return n == 0 || errno == ECONNRESET;
}

/* One request on a new connection: a response of this status (0: none at all), then the
 * server closes. The response goes to *out when given (the caller frees it). 0, or -1 with
 * fx->fail set. */
static int one_shot(fx_t *fx, const char *req, int status, resp_t *out)
{
    client_t *c = cconnect(fx);
    resp_t r = {0};
    int ok;

    CHECK_OR(fx, c, -1);
    ok = csend(c, req) == 0 && (!status || (read_resp(c, &r) == 0 && r.status == status)) &&
         saw_eof(c);
    cclose(c);
    if (out && ok)
        *out = r;
    else
        resp_free(&r);
    CHECK_OR(fx, ok, -1);
    return 0;
}

/* Wait (bounded) until *v == want. */
static int wait_for(atomic_int *v, int want)
{
    for (int i = 0; i < 500; i++) {
        if (atomic_load(v) == want)
            return 1;
        usleep(10 * 1000);
    }
    return 0;
}

static void *client_main(void *arg)
{
    fx_t *fx = arg;
    fx->client(fx);
    signal_done(fx);
    return NULL;
}

/* Serve with these limits (NULL: the defaults) while client runs on its own thread. */
static fx_t *run_with(void (*client)(fx_t *), const gl_http_limits_t *limits)
{
    fx_t *fx = calloc(1, sizeof(*fx));
    gl_http_handler_t h = {.body_limit = body_limit, .on_request = on_request};
    gl_err_t err;

    fx->late_rc = 1;
    assert_int_equal(uv_loop_init(&fx->loop), 0);
    assert_int_equal(gl_http_server_new(&fx->srv, &fx->loop, &h, fx), 0);
    if (limits)
        gl_http_server_set_limits(fx->srv, limits);
    assert_int_equal(gl_http_server_listen(fx->srv, "127.0.0.1", 0, &fx->port, &err), 0);
    assert_true(fx->port > 0);
    assert_int_equal(uv_async_init(&fx->loop, &fx->done, on_done), 0);
    fx->done.data = fx;
    fx->client = client;
    assert_int_equal(pthread_create(&fx->thr, NULL, client_main, fx), 0);
    assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
    pthread_join(fx->thr, NULL);
    assert_int_equal(uv_loop_close(&fx->loop), 0);
    if (fx->fail[0])
        fail_msg("client: %s", fx->fail);
    assert_int_equal(fx->closed, 1);
    return fx;
}

static fx_t *run(void (*client)(fx_t *)) { return run_with(client, NULL); }

/* What the handler side should have seen (too_large, body_len, content_length: of the last
 * /small request); a field is checked when set with IS(n). */
typedef struct want {
    int requests, aborts, conns_at_close, late_failed, too_large, body_len, content_length;
} want_t;
#define IS(n) ((n) + 1)

static void run_want(void (*client)(fx_t *), const gl_http_limits_t *limits, want_t w)
{
    fx_t *fx = run_with(client, limits);

    if (w.requests)
        assert_int_equal(fx->requests, w.requests - 1);
    if (w.aborts)
        assert_int_equal(fx->aborts, w.aborts - 1);
    if (w.conns_at_close)
        assert_int_equal(fx->conns_at_close, w.conns_at_close - 1);
    if (w.late_failed)
        assert_int_equal(fx->late_rc < 0, w.late_failed - 1);
    if (w.too_large)
        assert_int_equal(fx->too_large, w.too_large - 1);
    if (w.body_len)
        assert_int_equal(fx->body_len, w.body_len - 1);
    if (w.content_length)
        assert_int_equal(fx->content_length, w.content_length - 1);
    free(fx);
}

/* ---- tests ---- */

static void c_get_post(fx_t *fx)
{
    client_t *c = cconnect(fx);
    resp_t r;
    char v[128];

    CHECK(fx, c);
    CHECK(fx, csend(c, "GET /echo?a=1&b=%20 HTTP/1.1\r\nHost: x\r\nX-In: Abc\r\n\r\n") == 0);
    CHECK(fx, read_resp(c, &r) == 0);
    CHECK(fx, r.status == 200);
    CHECK(fx, strncmp(r.head, "HTTP/1.1 200 OK\r\n", 17) == 0);
    CHECK(fx, strcmp(r.body, "GET /echo q=a=1&b=%20 n=2 x-in=Abc len=0 body=") == 0);
    CHECK(fx, resp_header(&r, "x-out", v, sizeof(v)) && strcmp(v, "yes") == 0);
    CHECK(fx, resp_header(&r, "connection", v, sizeof(v)) && strcmp(v, "keep-alive") == 0);
    CHECK(fx, resp_header(&r, "date", v, sizeof(v)) && strlen(v) == 29 && strstr(v, " GMT"));
    resp_free(&r);

    CHECK(fx, csend(c, "POST /echo%2Fx HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello") == 0);
    CHECK(fx, read_resp(c, &r) == 0);
    CHECK(fx, strcmp(r.body, "POST /echo%2Fx q= n=2 x-in=- len=5 body=hello") == 0);
    CHECK(fx, resp_header(&r, "content-length", v, sizeof(v)) && atoi(v) == (int)r.body_len);
    resp_free(&r);

    /* Header names are lowercased, values trimmed, empty values and duplicates kept. */
    CHECK(fx, csend(c, "GET /hdrs HTTP/1.1\r\nX-Mixed:  Some Value \t\r\nX-Empty:\r\n"
                       "x-dup: 1\r\nX-DUP: 2\r\n\r\n") == 0);
    CHECK(fx, read_resp(c, &r) == 0 && r.status == 200);
    CHECK(fx, strcmp(r.body, "[x-mixed=Some Value][x-empty=][x-dup=1][x-dup=2] empty=yes "
                             "missing=null") == 0);
    resp_free(&r);

    /* HEAD: headers only, and the connection stays usable. */
    CHECK(fx, csend(c, "HEAD /echo HTTP/1.1\r\nHost: x\r\n\r\n") == 0);
    CHECK(fx, read_resp_ex(c, &r, 1) == 0 && r.status == 200);
    CHECK(fx, resp_header(&r, "content-length", v, sizeof(v)) && atoi(v) > 0);
    resp_free(&r);
    CHECK(fx, csend(c, "GET /json HTTP/1.1\r\nHost: x\r\n\r\n") == 0);
    CHECK(fx, read_resp(c, &r) == 0 && r.status == 201);
    CHECK(fx, strcmp(r.body, "{\"a\":1,\"b\":\"\xc3\xa9\"}") == 0);
    CHECK(fx, resp_header(&r, "content-type", v, sizeof(v)) && strcmp(v, "application/json") == 0);
    resp_free(&r);
    cclose(c);
}

static void test_get_post_roundtrip(void **state)
{
    run_want(c_get_post, NULL, (want_t){.requests = IS(5)});
}

static void c_keep_alive(fx_t *fx)
{
    client_t *c = cconnect(fx);
    resp_t r;
    char v[64];

    CHECK(fx, c);
    for (int i = 0; i < 2; i++) {
        CHECK(fx, csend(c, "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n") == 0);
        CHECK(fx, read_resp(c, &r) == 0 && r.status == 200);
        resp_free(&r);
    }
    CHECK(fx, csend(c, "GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n") == 0);
    CHECK(fx, read_resp(c, &r) == 0 && r.status == 200);
    CHECK(fx, resp_header(&r, "connection", v, sizeof(v)) && strcmp(v, "close") == 0);
    resp_free(&r);
    CHECK(fx, saw_eof(c));
    cclose(c);

    /* HTTP/1.0 without keep-alive: one request, then close. */
    CHECK(fx, one_shot(fx, "GET /echo HTTP/1.0\r\n\r\nGET /echo HTTP/1.0\r\n\r\n", 200, &r) == 0);
    CHECK(fx, resp_header(&r, "connection", v, sizeof(v)) && strcmp(v, "close") == 0);
    resp_free(&r);
}

static void test_keep_alive(void **state)
{
    run_want(c_keep_alive, NULL, (want_t){.requests = IS(4)});
}

static void c_pipelined(fx_t *fx)
{
    client_t *c = cconnect(fx);
    resp_t r;

    CHECK(fx, c);
    /* The first reply is late (timer); the others must still come after it, in order. */
    CHECK(fx, csend(c, "GET /slow?i=1 HTTP/1.1\r\nHost: x\r\n\r\n"
                       "GET /echo?i=2 HTTP/1.1\r\nHost: x\r\n\r\n"
                       "POST /echo?i=3 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc") == 0);
    CHECK(fx, read_resp(c, &r) == 0 && strstr(r.body, "GET /slow q=i=1 ") == r.body);
    resp_free(&r);
    CHECK(fx, read_resp(c, &r) == 0 && strstr(r.body, "GET /echo q=i=2 ") == r.body);
    resp_free(&r);
    CHECK(fx, read_resp(c, &r) == 0 && strcmp(r.body, "POST /echo q=i=3 n=2 x-in=- len=3 body=abc") == 0);
    resp_free(&r);

    /* Far more pipelined input than the server holds while a reply waits (backpressure). */
    enum { N = 1500 };
    size_t cap = N * 64, len = 0;
    char *big = malloc(cap);
    len += (size_t)snprintf(big + len, cap - len, "GET /slow?i=0 HTTP/1.1\r\nHost: x\r\n\r\n");
    for (int i = 1; i < N; i++)
        len += (size_t)snprintf(big + len, cap - len, "GET /echo?i=%d HTTP/1.1\r\nHost: x\r\n\r\n", i);
    int sent = csendn(c, big, len);
    free(big);
    CHECK(fx, sent == 0);
    for (int i = 0; i < N; i++) {
        char want[64];
        snprintf(want, sizeof(want), " q=i=%d ", i);
        CHECK(fx, read_resp(c, &r) == 0 && r.status == 200);
        int ok = strstr(r.body, want) != NULL;
        resp_free(&r);
        CHECK(fx, ok);
    }
    cclose(c);
}

static void test_pipelined_in_order(void **state)
{
    run_want(c_pipelined, NULL, (want_t){.requests = IS(3 + 1500)});
}

/* 1 when a byte of the next response is already here: buffered, or readable without waiting. */
static int arrived(client_t *c)
{
    struct pollfd p = {.fd = c->fd, .events = POLLIN};
    return c->len > 0 || poll(&p, 1, 0) == 1;
}

#define HOLDABLE(i) "POST /holdable?i=" i " HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nab"

/* Read the reply to HOLDABLE(i); 0 or -1. */
static int read_holdable(client_t *c, const char *i)
{
    char want[64];
    resp_t r;
    int ok;

    snprintf(want, sizeof(want), "POST /holdable q=i=%s ", i);
    if (read_resp(c, &r) < 0)
        return -1;
    ok = r.status == 200 && strstr(r.body, want) == r.body;
    resp_free(&r);
    return ok ? 0 : -1;
}

/* A reply its handler lets wait (gl_http_req_may_hold_reply) goes out with the reply to the
 * request pipelined behind it; at once when nothing, or no whole request, follows it. */
static void c_held(fx_t *fx)
{
    client_t *c = cconnect(fx);
    resp_t r;

    CHECK(fx, c);
    /* Behind it a request answered 200 ms later: both come in that one write. */
    CHECK(fx, csend(c, HOLDABLE("1") "GET /slow?ms=200 HTTP/1.1\r\nHost: x\r\n\r\n") == 0);
    CHECK(fx, read_holdable(c, "1") == 0);
    CHECK(fx, arrived(c));
    CHECK(fx, read_resp(c, &r) == 0 && strstr(r.body, "GET /slow ") == r.body);
    resp_free(&r);
    /* Nothing behind it: answered at once. */
    CHECK(fx, csend(c, HOLDABLE("2")) == 0);
    CHECK(fx, read_holdable(c, "2") == 0);
    /* Half a request behind it: answered at once; the rest then completes that request. */
    CHECK(fx, csend(c, HOLDABLE("3") "GET /echo?i=3 HTTP/1.1\r\nHo") == 0);
    CHECK(fx, read_holdable(c, "3") == 0);
    CHECK(fx, csend(c, "st: x\r\n\r\n") == 0);
    CHECK(fx, read_resp(c, &r) == 0 && strstr(r.body, "GET /echo q=i=3 ") == r.body);
    resp_free(&r);
    /* Behind it a request answered at once, then a streamed reply: all in order. */
    CHECK(fx, csend(c, HOLDABLE("4") "GET /echo?i=4 HTTP/1.1\r\nHost: x\r\n\r\n"
                       HOLDABLE("5") "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n") == 0);
    CHECK(fx, read_holdable(c, "4") == 0);
    CHECK(fx, read_resp(c, &r) == 0 && strstr(r.body, "GET /echo q=i=4 ") == r.body);
    resp_free(&r);
    CHECK(fx, read_holdable(c, "5") == 0);
    CHECK(fx, read_resp_ex(c, &r, 1) == 0 && r.status == 200);
    resp_free(&r);
    static const char want[] = "2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n";
    while (c->len < sizeof(want) - 1)
        CHECK(fx, fill(c) == 0);
    CHECK(fx, c->len == sizeof(want) - 1 && memcmp(c->buf, want, sizeof(want) - 1) == 0);
    cclose(c);

    /* The client goes away while a reply is held: the server frees it (ASan, the loop check). */
    c = cconnect(fx);
    CHECK(fx, c);
    CHECK(fx, csend(c, HOLDABLE("6") "GET /never HTTP/1.1\r\nHost: x\r\n\r\n") == 0);
    CHECK(fx, wait_for(&fx->requests, 2 + 1 + 2 + 4 + 2));
    CHECK(fx, !arrived(c));
    creset(c);
    CHECK(fx, wait_for(&fx->aborts, 1));
}

static void test_held_reply(void **state)
{
    run_want(c_held, NULL, (want_t){.requests = IS(11), .aborts = IS(1), .conns_at_close = IS(0)});
}

static void c_chunked(fx_t *fx)
{
    client_t *c = cconnect(fx);
    resp_t r;

    CHECK(fx, c);
    CHECK(fx, csend(c, "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTrailer: X-T\r\n\r\n"
                       "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-T: v\r\nX-U: w\r\n\r\n"
                       "GET /echo?after=1 HTTP/1.1\r\nHost: x\r\n\r\n") == 0);
    CHECK(fx, read_resp(c, &r) == 0 && r.status == 200);
    CHECK(fx, strcmp(r.body, "POST /echo q= n=3 x-in=- len=11 body=hello world") == 0);
    resp_free(&r);
    CHECK(fx, read_resp(c, &r) == 0 && strstr(r.body, "GET /echo q=after=1 ") == r.body);
    resp_free(&r);

    /* The same request dribbled in tiny pieces: every span crosses reads. */
    const char *req = "POST /echo?x=y HTTP/1.1\r\nHost: x\r\nX-In: Split-Value\r\n"
                      "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
    for (size_t i = 0, total = strlen(req); i < total; i += 3) {
        size_t n = total - i < 3 ? total - i : 3;
        CHECK(fx, csendn(c, req + i, n) == 0);
        usleep(500);
    }
    CHECK(fx, read_resp(c, &r) == 0 && r.status == 200);
    CHECK(fx, strcmp(r.body, "POST /echo q=x=y n=3 x-in=Split-Value len=5 body=abcde") == 0);
    resp_free(&r);
    cclose(c);
}

static void test_chunked_with_trailers(void **state) { free(run(c_chunked)); }

/* Streamed request bodies (pieces to the handler as they come, trailers kept, no body limit)
 * and streamed replies (chunked, in order, the connection reused after them). */
static void c_streaming(fx_t *fx)
{
    client_t *c = cconnect(fx);
    resp_t r;
    char v[64];

    CHECK(fx, c);
    CHECK(fx, csend(c, "POST /sbody HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "5\r\nhello\r\n") == 0);
    CHECK(fx, wait_for(&fx->sbody_pieces, 1)); /* delivered before the body ended */
    CHECK(fx, csend(c, "6\r\n world\r\n0\r\nX-T: tv\r\n\r\n") == 0);
    CHECK(fx, read_resp(c, &r) == 0 && r.status == 200);
    CHECK(fx, strcmp(r.body, "got=hello world trailer=tv body=0 cl=11") == 0);
    resp_free(&r);

    CHECK(fx, csend(c, "GET /stream HTTP/1.1\r\nHost: x\r\n\r\n") == 0);
    CHECK(fx, read_resp_ex(c, &r, 1) == 0 && r.status == 200);
    CHECK(fx, resp_header(&r, "transfer-encoding", v, sizeof(v)) && strcmp(v, "chunked") == 0);
    CHECK(fx, !resp_header(&r, "content-length", v, sizeof(v)));
    resp_free(&r);
    static const char want[] = "2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n";
    while (c->len < sizeof(want) - 1)
        CHECK(fx, fill(c) == 0);
    CHECK(fx, memcmp(c->buf, want, sizeof(want) - 1) == 0);
    memmove(c->buf, c->buf + sizeof(want) - 1, c->len - (sizeof(want) - 1));
    c->len -= sizeof(want) - 1;
    CHECK(fx, csend(c, "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n") == 0);
    CHECK(fx, read_resp(c, &r) == 0 && r.status == 200);
    resp_free(&r);
    cclose(c);

    /* A streamed body cut short: the handler hears on_abort, never on_request. */
    c = cconnect(fx);
    CHECK(fx, c);
    CHECK(fx, csend(c, "POST /sbody HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "3\r\nabc\r\n") == 0);
    CHECK(fx, wait_for(&fx->sbody_pieces, 3));
    creset(c);
    CHECK(fx, wait_for(&fx->aborts, 1));
}

static void test_streaming(void **state)
{
    run_want(c_streaming, NULL, (want_t){.requests = IS(3), .aborts = IS(1),
                                         .conns_at_close = IS(0)});
}

/* A streamed reply ended as failed (gl_http_reply_abort): what was written arrives, then the
 * server closes the connection without the terminating chunk. */
static void c_stream_cut(fx_t *fx)
{
    static const char want[] = "2\r\nab\r\n3\r\ncde\r\n";
    client_t *c = cconnect(fx);
    resp_t r;
    char one;

    CHECK(fx, c);
    CHECK(fx, csend(c, "GET /cut HTTP/1.1\r\nHost: x\r\n\r\n") == 0);
    CHECK(fx, read_resp_ex(c, &r, 1) == 0 && r.status == 200);
    resp_free(&r);
    for (int i = 0; i < 100 && fill(c) == 0; i++) /* to EOF (reads time out after 5 s) */
        ;
    CHECK(fx, c->len == sizeof(want) - 1 && memcmp(c->buf, want, sizeof(want) - 1) == 0);
    CHECK(fx, recv(c->fd, &one, 1, 0) == 0); /* the server's EOF, not a read timeout */
    cclose(c);
}

/* Streamed replies without a body (to HEAD, a 204): the head alone, and the connection carries
 * the next request. */
static void c_stream_bodiless(fx_t *fx)
{
    client_t *c = cconnect(fx);
    resp_t r;
    char v[64];

    CHECK(fx, c);
    CHECK(fx, csend(c, "HEAD /stream HTTP/1.1\r\nHost: x\r\n\r\n") == 0);
    CHECK(fx, read_resp_ex(c, &r, 1) == 0 && r.status == 200);
    CHECK(fx, resp_header(&r, "transfer-encoding", v, sizeof(v)) && strcmp(v, "chunked") == 0);
    resp_free(&r);
    CHECK(fx, csend(c, "GET /stream204 HTTP/1.1\r\nHost: x\r\n\r\n") == 0);
    CHECK(fx, read_resp_ex(c, &r, 1) == 0 && r.status == 204);
    CHECK(fx, !resp_header(&r, "transfer-encoding", v, sizeof(v)));
    CHECK(fx, !resp_header(&r, "content-length", v, sizeof(v)));
    resp_free(&r);
    CHECK(fx, csend(c, "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n") == 0);
    CHECK(fx, read_resp(c, &r) == 0 && r.status == 200); /* no stray bytes before it */
    resp_free(&r);
    cclose(c);
}

static void test_stream_bodiless(void **state)
{
    run_want(c_stream_bodiless, NULL, (want_t){.requests = IS(3), .aborts = IS(0)});
}

static void test_stream_cut(void **state)
{
    run_want(c_stream_cut, NULL, (want_t){.requests = IS(1), .aborts = IS(0)});
}

static void c_expect_continue(fx_t *fx)
{
    client_t *c = cconnect(fx);
    resp_t r;

    CHECK(fx, c);
    CHECK(fx, csend(c, "POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n") == 0);
    CHECK(fx, read_resp(c, &r) == 0);
    CHECK(fx, r.status == 100 && strcmp(r.head, "HTTP/1.1 100 Continue\r\n\r\n") == 0);
    resp_free(&r);
    CHECK(fx, csend(c, "hello") == 0);
    CHECK(fx, read_resp(c, &r) == 0 && r.status == 200);
    CHECK(fx, strstr(r.body, "len=5 body=hello") != NULL);
    resp_free(&r);
    cclose(c);

    /* Over the limit: no 100, the 413 at once, then the connection closes. */
    CHECK(fx, one_shot(fx, "POST /small HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                           "Content-Length: 1000\r\n\r\n", 413, NULL) == 0);
}

static void test_expect_continue(void **state) { free(run(c_expect_continue)); }

static void c_too_large_cl(fx_t *fx)
{
    client_t *c = cconnect(fx);
    resp_t r;
    char v[128];

    CHECK(fx, c);
    /* Only the head is sent: the 413 must come before any body byte (nothing is buffered). */
    CHECK(fx, csend(c, "POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n") == 0);
    CHECK(fx, read_resp(c, &r) == 0);
    CHECK(fx, r.status == 413);
    CHECK(fx, resp_header(&r, "connection", v, sizeof(v)) && strcmp(v, "close") == 0);
    CHECK(fx, resp_header(&r, "x-amzn-errortype", v, sizeof(v)) &&
                  strcmp(v, "RequestEntityTooLargeException") == 0);
    snprintf(v, sizeof(v), "{\"%s\":\"Request must be smaller than 16 bytes\"}",
             gl_aws_err_message_key(GL_AWS_REQUEST_ENTITY_TOO_LARGE));
    CHECK(fx, strcmp(r.body, v) == 0);
    resp_free(&r);
    /* The declared body is still accepted and dropped, then the server closes. */
    char *body = calloc(1, 100000);
    memset(body, 'z', 100000);
    int sent = csendn(c, body, 100000);
    free(body);
    CHECK(fx, sent == 0);
    CHECK(fx, saw_eof(c));
    cclose(c);
}

static void test_body_over_limit_by_content_length(void **state)
{
    run_want(c_too_large_cl, NULL,
             (want_t){.too_large = IS(1), .body_len = IS(0), .content_length = IS(100000),
                      .requests = IS(1)});
}

static void c_too_large_chunked(fx_t *fx)
{
    client_t *c = cconnect(fx);
    resp_t r;

    CHECK(fx, c);
    CHECK(fx, csend(c, "POST /small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "a\r\n0123456789\r\n") == 0);
    usleep(20 * 1000);
    CHECK(fx, csend(c, "a\r\n0123456789\r\n") == 0);
    CHECK(fx, read_resp(c, &r) == 0);
    CHECK(fx, r.status == 413);
    resp_free(&r);
    CHECK(fx, csend(c, "a\r\n0123456789\r\n0\r\n\r\nGET /echo HTTP/1.1\r\n\r\n") == 0);
    CHECK(fx, saw_eof(c));
    cclose(c);

    /* Within the limit, chunked is fine on the same route. */
    c = cconnect(fx);
    CHECK(fx, c);
    CHECK(fx, csend(c, "POST /small HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "8\r\n01234567\r\n8\r\n89abcdef\r\n0\r\n\r\n") == 0);
    CHECK(fx, read_resp(c, &r) == 0 && r.status == 200);
    CHECK(fx, strstr(r.body, "len=16 body=0123456789abcdef") != NULL);
    resp_free(&r);
    cclose(c);
}

static void test_body_over_limit_chunked(void **state)
{
    /* The last /small request was the good one. */
    run_want(c_too_large_chunked, NULL,
             (want_t){.requests = IS(2), .too_large = IS(0), .body_len = IS(16),
                      .content_length = IS(16)});
}

static void c_malformed(fx_t *fx)
{
    client_t *c = cconnect(fx);
    resp_t r;
    char v[128];

    CHECK(fx, c);
    CHECK(fx, csend(c, "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n") == 0);
    CHECK(fx, read_resp(c, &r) == 0 && r.status == 200);
    resp_free(&r);
    CHECK(fx, csend(c, "GET /echo HTTP/1.1\r\nBad Header\r\n\r\n") == 0);
    CHECK(fx, read_resp(c, &r) == 0);
    CHECK(fx, r.status == 400);
    CHECK(fx, resp_header(&r, "x-amzn-errortype", v, sizeof(v)) &&
                  strcmp(v, "InvalidRequestContentException") == 0);
    CHECK(fx, resp_header(&r, "connection", v, sizeof(v)) && strcmp(v, "close") == 0);
    CHECK(fx, strncmp(r.body, "{\"Type\":\"User\",\"message\":\"Malformed HTTP request: ", 50) == 0);
    resp_free(&r);
    CHECK(fx, saw_eof(c));
    cclose(c);

    CHECK(fx, one_shot(fx, "\x01\x02garbage\r\n\r\n", 400, NULL) == 0);
    /* A bad chunk size after a good head. */
    CHECK(fx, one_shot(fx, "POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400,
                       NULL) == 0);
}

static void test_malformed_request(void **state)
{
    /* The handler never sees a malformed request. */
    run_want(c_malformed, NULL, (want_t){.requests = IS(1)});
}

static void c_header_limits(fx_t *fx)
{
    client_t *c;
    resp_t r;
    char *req = malloc(128 * 1024);
    size_t len;
    int rc;

    len = (size_t)sprintf(req, "GET /echo HTTP/1.1\r\n");
    for (int i = 0; i < 101; i++)
        len += (size_t)sprintf(req + len, "X-H%d: %d\r\n", i, i);
    strcpy(req + len, "\r\n");
    if ((rc = one_shot(fx, req, 431, NULL)) == 0) {
        len = (size_t)sprintf(req, "GET /echo HTTP/1.1\r\nX-Big: ");
        memset(req + len, 'v', 70 * 1024);
        len += 70 * 1024;
        strcpy(req + len, "\r\n\r\n");
        rc = one_shot(fx, req, 431, NULL);
    }
    free(req);
    CHECK(fx, rc == 0);

    /* 100 headers exactly is fine. */
    c = cconnect(fx);
    CHECK(fx, c);
    req = malloc(8192);
    len = (size_t)sprintf(req, "GET /echo HTTP/1.1\r\n");
    for (int i = 0; i < 100; i++)
        len += (size_t)sprintf(req + len, "X-H%d: %d\r\n", i, i);
    strcpy(req + len, "\r\n");
    rc = csend(c, req);
    free(req);
    CHECK(fx, rc == 0);
    CHECK(fx, read_resp(c, &r) == 0 && r.status == 200 && strstr(r.body, " n=100 "));
    resp_free(&r);
    cclose(c);
}

static void test_header_limits(void **state) { free(run(c_header_limits)); }

/* A client that gives up resets its connection (a mere EOF is a half-close, still answered:
 * test_half_close_answered). */
static void c_disconnect(fx_t *fx)
{
    client_t *c = cconnect(fx);

    CHECK(fx, c);
    CHECK(fx, csend(c, "GET /never HTTP/1.1\r\nHost: x\r\n\r\n") == 0);
    CHECK(fx, wait_for(&fx->requests, 1));
    creset(c);
    CHECK(fx, wait_for(&fx->aborts, 1));

    /* Without on_abort the handler's late reply fails cleanly (and frees the request). */
    c = cconnect(fx);
    CHECK(fx, c);
    CHECK(fx, csend(c, "GET /hold HTTP/1.1\r\nHost: x\r\n\r\n") == 0);
    CHECK(fx, wait_for(&fx->requests, 2));
    creset(c);
    for (int i = 0; i < 500 && atomic_load(&fx->late_rc) == 1; i++)
        usleep(10 * 1000);
    CHECK(fx, atomic_load(&fx->late_rc) < 0);

    /* A pending /slow whose client leaves: its timer is closed by on_abort (ASan checks). */
    c = cconnect(fx);
    CHECK(fx, c);
    CHECK(fx, csend(c, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n") == 0);
    CHECK(fx, wait_for(&fx->requests, 3));
    creset(c);
    usleep(100 * 1000);
}

static void test_client_disconnect_aborts(void **state)
{
    run_want(c_disconnect, NULL, (want_t){.aborts = IS(1), .conns_at_close = IS(0)});
}

static void c_aws_error(fx_t *fx)
{
    client_t *c = cconnect(fx);
    resp_t r;
    char v[128];

    CHECK(fx, c);
    CHECK(fx, csend(c, "GET /err HTTP/1.1\r\nHost: x\r\n\r\n") == 0);
    CHECK(fx, read_resp(c, &r) == 0);
    CHECK(fx, r.status == 404 && strncmp(r.head, "HTTP/1.1 404 Not Found\r\n", 24) == 0);
    CHECK(fx, resp_header(&r, "content-type", v, sizeof(v)) && strcmp(v, "application/json") == 0);
    CHECK(fx, resp_header(&r, "x-amzn-requestid", v, sizeof(v)) && strcmp(v, FIXED_RID) == 0);
    CHECK(fx, resp_header(&r, "x-amzn-errortype", v, sizeof(v)) &&
                  strcmp(v, "ResourceNotFoundException") == 0);
    CHECK(fx, resp_header(&r, "connection", v, sizeof(v)) && strcmp(v, "keep-alive") == 0);
    snprintf(v, sizeof(v), "{\"Type\":\"User\",\"%s\":\"Function not found: fn\"}",
             gl_aws_err_message_key(GL_AWS_RESOURCE_NOT_FOUND));
    CHECK(fx, strcmp(r.body, v) == 0);
    resp_free(&r);

    CHECK(fx, csend(c, "GET /err-ex HTTP/1.1\r\nHost: x\r\n\r\n") == 0);
    CHECK(fx, read_resp(c, &r) == 0 && r.status == 413);
    CHECK(fx, resp_header(&r, "x-amzn-requestid", v, sizeof(v)) && strlen(v) == 36 && v[14] == '4');
    CHECK(fx, resp_header(&r, "x-amzn-errortype", v, sizeof(v)) &&
                  strcmp(v, "RequestEntityTooLargeException") == 0);
    snprintf(v, sizeof(v), "{\"%s\":\"too big 5\",\"Reason\":\"Big\"}",
             gl_aws_err_message_key(GL_AWS_REQUEST_ENTITY_TOO_LARGE));
    CHECK(fx, strcmp(r.body, v) == 0);
    resp_free(&r);

    CHECK(fx, csend(c, "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n") == 0);
    CHECK(fx, read_resp(c, &r) == 0 && r.status == 404);
    CHECK(fx, resp_header(&r, "x-amzn-errortype", v, sizeof(v)) &&
                  strcmp(v, "UnknownOperationException") == 0);
    resp_free(&r);
    cclose(c);
}

static void test_aws_error_shape(void **state) { free(run(c_aws_error)); }

static void c_close_with_open_conns(fx_t *fx)
{
    client_t *a = cconnect(fx), *b = cconnect(fx), *p = cconnect(fx);
    resp_t r;

    CHECK(fx, a && b && p);
    CHECK(fx, csend(a, "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n") == 0);
    CHECK(fx, read_resp(a, &r) == 0 && r.status == 200);
    resp_free(&r);
    CHECK(fx, csend(b, "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n") == 0);
    CHECK(fx, read_resp(b, &r) == 0 && r.status == 200);
    resp_free(&r);
    CHECK(fx, csend(p, "GET /never HTTP/1.1\r\nHost: x\r\n\r\n") == 0);
    CHECK(fx, wait_for(&fx->requests, 3));
    signal_done(fx); /* the loop thread closes the server now, connections open */
    CHECK(fx, saw_eof(a));
    CHECK(fx, saw_eof(b));
    CHECK(fx, saw_eof(p));
    cclose(a);
    cclose(b);
    cclose(p);
}

static void test_server_close_with_open_conns(void **state)
{
    run_want(c_close_with_open_conns, NULL, (want_t){.conns_at_close = IS(3), .aborts = IS(1)});
}

static void c_shutdown_in_handler(fx_t *fx)
{
    one_shot(fx, "GET /shutdown-abort HTTP/1.1\r\nHost: x\r\n\r\n", 0, NULL);
}

static void test_close_from_inside_handler(void **state)
{
    run_want(c_shutdown_in_handler, NULL, (want_t){.late_failed = IS(1), .aborts = IS(1)});
}

static void c_shutdown_no_abort(fx_t *fx)
{
    one_shot(fx, "GET /shutdown HTTP/1.1\r\nHost: x\r\n\r\n", 0, NULL);
}

static void test_close_from_inside_handler_no_abort(void **state)
{
    run_want(c_shutdown_no_abort, NULL, (want_t){.late_failed = IS(1), .aborts = IS(0)});
}

static void c_many(fx_t *fx)
{
    enum { NC = 64, ROUNDS = 10 };
    client_t *cs[NC];
    resp_t r;

    for (int i = 0; i < NC; i++) {
        cs[i] = cconnect(fx);
        CHECK(fx, cs[i]);
    }
    for (int round = 0; round < ROUNDS; round++) {
        for (int i = 0; i < NC; i++) {
            char req[128];
            snprintf(req, sizeof(req), "POST /echo?c=%d HTTP/1.1\r\nContent-Length: 2\r\n\r\n%02d", i, round);
            CHECK(fx, csend(cs[i], req) == 0);
        }
        for (int i = 0; i < NC; i++) {
            char want[64];
            snprintf(want, sizeof(want), "q=c=%d n=1 x-in=- len=2 body=%02d", i, round);
            CHECK(fx, read_resp(cs[i], &r) == 0);
            int ok = strstr(r.body, want) != NULL;
            resp_free(&r);
            CHECK(fx, ok);
        }
    }
    for (int i = 0; i < NC; i++)
        cclose(cs[i]);
}

static void test_many_connections(void **state)
{
    run_want(c_many, NULL, (want_t){.requests = IS(64 * 10)});
}

/* ---- limits: timeouts, half-close, connection limit ---- */

#define SHORT_MS 150
static const gl_http_limits_t short_limits = {
    .header_timeout_ms = SHORT_MS, .body_timeout_ms = SHORT_MS, .idle_timeout_ms = SHORT_MS};

static int starts(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A request sent in part: 408 RequestTimeoutException in Lambda's shape, Connection: close,
 * then the server closes; in bounded time. */
static int expect_408(fx_t *fx, const char *partial, const char *what)
{
    long long t0 = now_ms();
    resp_t r;
    char v[128];

    CHECK_OR(fx, one_shot(fx, partial, 408, &r) == 0, -1);
    int ok = resp_header(&r, "x-amzn-errortype", v, sizeof(v)) &&
             strcmp(v, "RequestTimeoutException") == 0 &&
             resp_header(&r, "connection", v, sizeof(v)) && strcmp(v, "close") == 0 &&
             starts(r.body, "{\"Type\":\"User\",\"message\":\"The request's ") &&
             strstr(r.body, what) != NULL;
    resp_free(&r);
    CHECK_OR(fx, ok, -1);
    CHECK_OR(fx, now_ms() - t0 >= SHORT_MS - 20 && now_ms() - t0 < 3000, -1);
    return 0;
}

static void c_slow_headers(fx_t *fx)
{
    client_t *c;

    CHECK(fx, expect_408(fx, "GET /echo HTTP/1.1\r\nHost: x\r\n", "headers") == 0);
    /* A connection that never sends a byte is closed without a reply. */
    c = cconnect(fx);
    CHECK(fx, c);
    int eof = saw_eof(c);
    cclose(c);
    CHECK(fx, eof);
}

static void test_slow_headers_get_408(void **state)
{
    run_want(c_slow_headers, &short_limits, (want_t){.requests = IS(0)});
}

static void c_stalled_body(fx_t *fx)
{
    client_t *c;
    resp_t r;

    /* Content-Length 100 and 2 bytes: answered 408, not held forever. */
    CHECK(fx, expect_408(fx, "POST /echo HTTP/1.1\r\nContent-Length: 100\r\n\r\nab", "body") == 0);
    /* A body that keeps coming, each pause shorter than the timeout, is read whole. */
    c = cconnect(fx);
    CHECK(fx, c);
    CHECK(fx, csend(c, "POST /echo HTTP/1.1\r\nContent-Length: 6\r\n\r\n") == 0);
    for (int i = 0; i < 6; i++) {
        usleep(SHORT_MS * 1000 / 3);
        CHECK(fx, csendn(c, "x", 1) == 0);
    }
    CHECK(fx, read_resp(c, &r) == 0 && r.status == 200);
    int ok = strstr(r.body, "len=6 body=xxxxxx") != NULL;
    resp_free(&r);
    cclose(c);
    CHECK(fx, ok);
}

static void test_stalled_body_gets_408(void **state)
{
    run_want(c_stalled_body, &short_limits, (want_t){.requests = IS(1)});
}

static void c_idle(fx_t *fx)
{
    client_t *c = cconnect(fx);
    resp_t r;
    long long t0;

    CHECK(fx, c);
    CHECK(fx, csend(c, "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n") == 0);
    CHECK(fx, read_resp(c, &r) == 0 && r.status == 200);
    resp_free(&r);
    t0 = now_ms();
    int eof = saw_eof(c);
    cclose(c);
    CHECK(fx, eof && now_ms() - t0 >= SHORT_MS - 20 && now_ms() - t0 < 3000);
}

static void test_idle_keep_alive_closed(void **state) { free(run_with(c_idle, &short_limits)); }

static void c_pending(fx_t *fx)
{
    client_t *c = cconnect(fx);
    resp_t r;

    CHECK(fx, c);
    /* The reply takes 3 timeouts: only reading is timed, not a request with its handler. */
    CHECK(fx, csend(c, "GET /slow?ms=450 HTTP/1.1\r\nHost: x\r\n\r\n") == 0);
    CHECK(fx, read_resp(c, &r) == 0 && r.status == 200);
    resp_free(&r);
    cclose(c);
}

static void test_pending_request_not_timed_out(void **state)
{
    free(run_with(c_pending, &short_limits));
}

static void c_half_close(fx_t *fx)
{
    /* Answered at once (before the EOF is read), and answered later (after it). */
    const char *reqs[] = {"GET /echo HTTP/1.1\r\nHost: x\r\n\r\n",
                          "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"};
    resp_t r;
    char v[64];

    for (int i = 0; i < 2; i++) {
        client_t *c = cconnect(fx);
        CHECK(fx, c);
        CHECK(fx, csend(c, reqs[i]) == 0);
        CHECK(fx, shutdown(c->fd, SHUT_WR) == 0);
        int ok = read_resp(c, &r) == 0 && r.status == 200 &&
                 (i == 0 || (resp_header(&r, "connection", v, sizeof(v)) && !strcmp(v, "close")));
        resp_free(&r);
        ok = ok && saw_eof(c);
        cclose(c);
        CHECK(fx, ok);
    }
}

static void test_half_close_answered(void **state)
{
    run_want(c_half_close, NULL, (want_t){.requests = IS(2), .aborts = IS(0)});
}

static void c_conn_limit(fx_t *fx)
{
    client_t *a = cconnect(fx), *b = cconnect(fx);
    resp_t r;
    char v[160];
    int ok = 0;

    CHECK(fx, a && b);
    CHECK(fx, csend(a, "GET /echo HTTP/1.1\r\n\r\n") == 0 && read_resp(a, &r) == 0 && r.status == 200);
    resp_free(&r);
    CHECK(fx, csend(b, "GET /echo HTTP/1.1\r\n\r\n") == 0 && read_resp(b, &r) == 0 && r.status == 200);
    resp_free(&r);
    /* A third is accepted, answered 503 in Lambda's ServiceException shape, and closed. */
    CHECK(fx, one_shot(fx, "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n", 503, &r) == 0);
    ok = resp_header(&r, "x-amzn-errortype", v, sizeof(v)) && strcmp(v, "ServiceException") == 0 &&
         resp_header(&r, "connection", v, sizeof(v)) && strcmp(v, "close") == 0 &&
         starts(r.body, "{\"Type\":\"Service\",\"Message\":\"Too many open connections");
    resp_free(&r);
    CHECK(fx, ok);
    /* Once one closes, new connections are served again (bounded retries: the 503'd one and
     * a's close are noticed by the loop a moment later). */
    cclose(a);
    ok = 0;
    for (int i = 0; i < 200 && !ok; i++) {
        client_t *c = cconnect(fx);
        CHECK(fx, c);
        if (csend(c, "GET /echo HTTP/1.1\r\n\r\n") == 0 && read_resp(c, &r) == 0) {
            ok = r.status == 200;
            resp_free(&r);
        }
        cclose(c);
        if (!ok)
            usleep(10 * 1000);
    }
    cclose(b);
    CHECK(fx, ok);
}

static void test_connection_limit_503_then_recovers(void **state)
{
    gl_http_limits_t l = {.max_conns = 2};
    free(run_with(c_conn_limit, &l));
}

static void count_closed(void *arg) { (*(int *)arg)++; }

static void test_listen_errors(void **state)
{
    uv_loop_t loop;
    gl_http_server_t *s, *s2;
    gl_http_handler_t h = {.on_request = on_request};
    gl_err_t err = {0};
    int port = 0, closed = 0;

    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(gl_http_server_new(&s, &loop, &h, NULL), 0);
    assert_true(gl_http_server_listen(s, "not-an-ip", 0, &port, &err) < 0);
    assert_true(err.msg[0] != '\0');
    assert_int_equal(gl_http_server_listen(s, "127.0.0.1", 0, &port, &err), 0);
    assert_int_equal(gl_http_server_new(&s2, &loop, &h, NULL), 0);
    assert_true(gl_http_server_listen(s2, "127.0.0.1", port, NULL, &err) < 0); /* in use */
    assert_int_equal(gl_http_server_conn_count(s), 0);
    gl_http_server_close(s, count_closed, &closed);
    gl_http_server_close(s2, count_closed, &closed); /* never listened: still closes cleanly */
    assert_int_equal(closed, 0);                     /* on_closed runs from the loop */
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(closed, 2);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_post_roundtrip),
        cmocka_unit_test(test_keep_alive),
        cmocka_unit_test(test_pipelined_in_order),
        cmocka_unit_test(test_held_reply),
        cmocka_unit_test(test_chunked_with_trailers),
        cmocka_unit_test(test_streaming),
        cmocka_unit_test(test_stream_cut),
        cmocka_unit_test(test_stream_bodiless),
        cmocka_unit_test(test_expect_continue),
        cmocka_unit_test(test_body_over_limit_by_content_length),
        cmocka_unit_test(test_body_over_limit_chunked),
        cmocka_unit_test(test_malformed_request),
        cmocka_unit_test(test_header_limits),
        cmocka_unit_test(test_client_disconnect_aborts),
        cmocka_unit_test(test_aws_error_shape),
        cmocka_unit_test(test_server_close_with_open_conns),
        cmocka_unit_test(test_close_from_inside_handler),
        cmocka_unit_test(test_close_from_inside_handler_no_abort),
        cmocka_unit_test(test_many_connections),
        cmocka_unit_test(test_listen_errors),
        cmocka_unit_test(test_slow_headers_get_408),
        cmocka_unit_test(test_stalled_body_gets_408),
        cmocka_unit_test(test_idle_keep_alive_closed),
        cmocka_unit_test(test_pending_request_not_timed_out),
        cmocka_unit_test(test_half_close_answered),
        cmocka_unit_test(test_connection_limit_503_then_recovers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
