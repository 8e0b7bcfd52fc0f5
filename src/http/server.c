/* SPDX-License-Identifier: MIT */
/*
 * server.c: gl_http_server_t: the listening uv_tcp_t (bound here, or a socket handed over),
 * accepting connections, the connection limit, the sweep timer that times out connections'
 * read phases, the list of open connections and the orderly close of all of them.
 *
 * The listener and sweep handles are initialised in gl_http_server_new, so closing a server
 * always goes through uv close callbacks: the server is freed by whichever close callback
 * (listener, sweep or last connection) runs last, and only then is on_closed called. Accepting
 * never stops: past max_conns a connection is answered 503 and closed, so the listen backlog
 * never fills silently. The handler's on_accept hook may refuse a connection before anything
 * is read from it (the Runtime API's peer check): it is reset. Parsing, deadlines and replies live in conn.c and reply.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "galley/log.h"
#include "internal.h"

/* Connections one server may hold: the descriptor limit less a quarter of it (at least 64)
 * for environments' pipes, listeners, pidfds and files, and for the 503 answers past it. */
static size_t default_max_conns(void)
{
    struct rlimit nofile;
    rlim_t cur = 1024, margin;

    if (getrlimit(RLIMIT_NOFILE, &nofile) == 0)
        cur = nofile.rlim_cur == RLIM_INFINITY ? (rlim_t)1 << 20 : nofile.rlim_cur;
    margin = cur / 4 > 64 ? cur / 4 : 64;
    return cur > margin + 16 ? (size_t)(cur - margin) : 16;
}

/* The sweep's period: a quarter of the shortest timeout, between 5 ms and 1 s, so a deadline
 * fires at most that late. */
static uint64_t sweep_period(const gl_http_limits_t *l)
{
    uint64_t t = l->header_timeout_ms;

    if (l->body_timeout_ms < t)
        t = l->body_timeout_ms;
    if (l->idle_timeout_ms < t)
        t = l->idle_timeout_ms;
    if (GL_HTTP_LINGER_MS < t)
        t = GL_HTTP_LINGER_MS;
    t /= 4;
    return t < 5 ? 5 : t > 1000 ? 1000 : t;
}

static void on_sweep(uv_timer_t *t);

void gl_http_server_set_limits(gl_http_server_t *s, const gl_http_limits_t *l)
{
    gl_http_limits_t *d = &s->limits;

    d->max_conns = l && l->max_conns ? l->max_conns : default_max_conns();
    d->header_timeout_ms = l && l->header_timeout_ms ? l->header_timeout_ms
                                                     : GL_HTTP_HEADER_TIMEOUT_MS;
    d->body_timeout_ms = l && l->body_timeout_ms ? l->body_timeout_ms : GL_HTTP_BODY_TIMEOUT_MS;
    d->idle_timeout_ms = l && l->idle_timeout_ms ? l->idle_timeout_ms : GL_HTTP_IDLE_TIMEOUT_MS;
    s->sweep_ms = sweep_period(d);
    if (uv_is_active((uv_handle_t *)&s->sweep))
        uv_timer_start(&s->sweep, on_sweep, s->sweep_ms, s->sweep_ms);
}

void gl_http_server_get_limits(const gl_http_server_t *s, gl_http_limits_t *out)
{
    *out = s->limits;
}

int gl_http_server_new(gl_http_server_t **out, uv_loop_t *loop, const gl_http_handler_t *handler,
                       void *data)
{
    gl_http_server_t *s;
    int rc;

    *out = NULL;
    if (!handler || !handler->on_request)
        return -EINVAL;
    if (!(s = calloc(1, sizeof(*s))))
        return -ENOMEM;
    s->loop = loop;
    s->handler = *handler;
    s->data = data;
    if ((rc = uv_tcp_init(loop, &s->listener)) < 0) {
        free(s);
        return rc;
    }
    s->listener.data = s;
    /* A timer init cannot fail; the sweep is closed with the listener in every case. */
    uv_timer_init(loop, &s->sweep);
    s->sweep.data = s;
    gl_http_server_set_limits(s, NULL);
    *out = s;
    return 0;
}

/* Time out every connection whose phase deadline passed. Closing a connection only marks it
 * (it is unlinked in its close callback), so walking the list here is safe. */
static void on_sweep(uv_timer_t *t)
{
    gl_http_server_t *s = t->data;
    uint64_t now = uv_now(s->loop);

    for (gl_http_conn_t *c = s->conns; c; c = c->next)
        if (!c->closing && c->deadline && now >= c->deadline)
            gl_http_conn_timed_out(c);
}

/* A connection over the limit: warn once per burst, answer 503, or just close when even the
 * slots for those answers are taken. */
static void refuse(gl_http_server_t *s, gl_http_conn_t *c)
{
    if (!s->over_limit) {
        s->over_limit = 1;
        gl_log_warn("http: %zu connections open (the limit): answering 503 to new ones until "
                    "some close",
                    s->limits.max_conns);
    }
    s->refused++;
    if (s->nconns > s->limits.max_conns + GL_HTTP_REJECT_SLOTS)
        gl_http_conn_close(c);
    else
        gl_http_conn_refuse(c);
}

/* The handler's accept hook refused c (or its descriptor could not be had): reset it unread. */
static int refused_by_hook(gl_http_server_t *s, gl_http_conn_t *c)
{
    uv_os_fd_t fd;
    struct linger reset = {1, 0};

    if (uv_fileno((uv_handle_t *)&c->tcp, &fd) < 0) {
        gl_http_conn_close(c);
        return 1;
    }
    if (s->handler.on_accept(fd, s->data) == 0)
        return 0;
    /* A reset, not a FIN: the peer learns at once that nothing will be served, and no request
     * bytes are ever read from it. */
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset));
    gl_http_conn_close(c);
    return 1;
}

static void on_connection(uv_stream_t *listener, int status)
{
    gl_http_server_t *s = listener->data;
    gl_http_conn_t *c;
    int rc;

    if (status < 0) {
        gl_log_warn("http: accept failed: %s", uv_strerror(status));
        return;
    }
    if (s->closing)
        return;
    if (!(c = calloc(1, sizeof(*c)))) {
        gl_log_error("http: out of memory accepting a connection");
        return;
    }
    if ((rc = uv_tcp_init(s->loop, &c->tcp)) < 0) {
        gl_log_error("http: uv_tcp_init: %s", uv_strerror(rc));
        free(c);
        return;
    }
    c->tcp.data = c;
    c->server = s;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    if (s->nconns++ == 0)
        uv_timer_start(&s->sweep, on_sweep, s->sweep_ms, s->sweep_ms);
    if ((rc = uv_accept(listener, (uv_stream_t *)&c->tcp)) < 0) {
        gl_log_warn("http: uv_accept: %s", uv_strerror(rc));
        gl_http_conn_close(c);
        return;
    }
    if (s->handler.on_accept && refused_by_hook(s, c))
        return;
    /* Replies are written whole in one uv_write; Nagle would only delay them. */
    uv_tcp_nodelay(&c->tcp, 1);
    if (s->nconns > s->limits.max_conns)
        refuse(s, c);
    else
        gl_http_conn_start(c);
}

int gl_http_server_listen(gl_http_server_t *s, const char *host, int port, int *bound_port,
                          gl_err_t *err)
{
    struct sockaddr_storage addr;
    int namelen = sizeof(addr);
    int rc;

    if (s->closing)
        return gl_err_set(err, EINVAL, "http: server is closing");
    if (port < 0 || port > 65535)
        return gl_err_set(err, EINVAL, "http: bad port %d", port);
    if (strchr(host, ':'))
        rc = uv_ip6_addr(host, port, (struct sockaddr_in6 *)&addr);
    else
        rc = uv_ip4_addr(host, port, (struct sockaddr_in *)&addr);
    if (rc < 0)
        return gl_err_set(err, -rc, "http: bad listen address %s: %s", host, uv_strerror(rc));
    if ((rc = uv_tcp_bind(&s->listener, (const struct sockaddr *)&addr, 0)) < 0)
        return gl_err_set(err, -rc, "http: bind %s:%d: %s", host, port, uv_strerror(rc));
    if ((rc = uv_listen((uv_stream_t *)&s->listener, 511, on_connection)) < 0)
        return gl_err_set(err, -rc, "http: listen %s:%d: %s", host, port, uv_strerror(rc));
    if ((rc = uv_tcp_getsockname(&s->listener, (struct sockaddr *)&addr, &namelen)) < 0)
        return gl_err_set(err, -rc, "http: getsockname: %s", uv_strerror(rc));
    if (bound_port) {
        if (addr.ss_family == AF_INET6)
            *bound_port = ntohs(((struct sockaddr_in6 *)&addr)->sin6_port);
        else
            *bound_port = ntohs(((struct sockaddr_in *)&addr)->sin_port);
    }
    return 0;
}

int gl_http_server_listen_fd(gl_http_server_t *s, int fd, gl_err_t *err)
{
    uv_os_fd_t current;
    int rc;

    if (fd < 0)
        return gl_err_set(err, EBADF, "http: no socket to listen on");
    if (s->closing || uv_fileno((uv_handle_t *)&s->listener, &current) == 0) {
        close(fd);
        return gl_err_set(err, EINVAL, "http: server is closing or already listening");
    }
    /* Until uv_tcp_open succeeds the descriptor is ours to close; afterwards the handle's. */
    if ((rc = uv_tcp_open(&s->listener, fd)) < 0) {
        close(fd);
        return gl_err_set(err, -rc, "http: open listener fd %d: %s", fd, uv_strerror(rc));
    }
    if ((rc = uv_listen((uv_stream_t *)&s->listener, 511, on_connection)) < 0)
        return gl_err_set(err, -rc, "http: listen on fd %d: %s", fd, uv_strerror(rc));
    return 0;
}

/* Free the server once the listener, the sweep and every connection have closed. */
static void maybe_finish(gl_http_server_t *s)
{
    if (!s->closing || !s->listener_closed || !s->sweep_closed || s->nconns)
        return;
    void (*cb)(void *) = s->on_closed;
    void *arg = s->on_closed_arg;
    free(s);
    if (cb)
        cb(arg);
}

static void on_listener_close(uv_handle_t *h)
{
    gl_http_server_t *s = h->data;
    s->listener_closed = 1;
    maybe_finish(s);
}

static void on_sweep_close(uv_handle_t *h)
{
    gl_http_server_t *s = h->data;
    s->sweep_closed = 1;
    maybe_finish(s);
}

void gl_http_server_close(gl_http_server_t *s, void (*on_closed)(void *arg), void *arg)
{
    if (!s || s->closing)
        return;
    s->closing = 1;
    s->on_closed = on_closed;
    s->on_closed_arg = arg;
    uv_close((uv_handle_t *)&s->listener, on_listener_close);
    uv_close((uv_handle_t *)&s->sweep, on_sweep_close);
    /* The list changes only in close callbacks, which never run from here, so walking it
     * while on_abort handlers run is safe. */
    for (gl_http_conn_t *c = s->conns; c; c = c->next)
        gl_http_conn_close(c);
}

size_t gl_http_server_conn_count(const gl_http_server_t *s) { return s ? s->nconns : 0; }

/* Called from the connection's close callback once c released its requests: unlink and free
 * c, then free the server if it was the last handle of a closing server. */
void gl_http_server_conn_closed(gl_http_server_t *s, gl_http_conn_t *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->nconns--;
    free(c);
    if (s->nconns == 0 && !s->closing)
        uv_timer_stop(&s->sweep);
    if (s->over_limit && s->nconns < s->limits.max_conns) {
        s->over_limit = 0;
        gl_log_info("http: below the connection limit again (%zu refused meanwhile)", s->refused);
        s->refused = 0;
    }
    maybe_finish(s);
}
