/* SPDX-License-Identifier: MIT */
/*
 * http.h: the one HTTP/1.1 server implementation (libuv + llhttp) behind the Invoke API,
 * the control plane and every environment's Runtime API listener.
 *
 * A server owns its listening socket and its connections. A connection carries one request
 * at a time: while a request waits for its reply, reading is paused (pipelined requests wait).
 * A handler may reply at once or much later (an invoke waiting for a runtime); if the
 * connection closes first, req->on_abort runs and the request is freed after it returns.
 * Limits are enforced while reading: a body over the route's limit is never buffered whole.
 *
 * No client can stall or exhaust a server (gl_http_limits_t): past a connection limit new
 * connections are still accepted, answered 503 and closed; a request head or body that stops
 * arriving gets 408, an idle keep-alive connection is closed. Only reading is ever timed out:
 * a request waiting for its reply is not. A client that shuts down its write side after its
 * request (half-close) still gets the reply; then the connection closes.
 */
#ifndef GALLEY_HTTP_H
#define GALLEY_HTTP_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "galley/buf.h"
#include "galley/err.h"
#include "galley/util.h"

typedef struct gl_http_server gl_http_server_t;
typedef struct gl_http_conn gl_http_conn_t;
typedef struct gl_http_req gl_http_req_t;

typedef struct gl_http_header {
    const char *name;  /* lowercase in requests; sent as given in replies */
    const char *value;
} gl_http_header_t;

struct gl_http_req {
    /* read-only for handlers */
    int method;               /* llhttp_method_t (HTTP_GET, HTTP_POST, ...) */
    const char *method_name;  /* "GET", ... */
    char *path;               /* as sent, still percent-encoded, without the query */
    char *query;              /* raw query without '?', "" when none */
    gl_http_header_t *headers;
    size_t nheaders;
    gl_buf_t body;            /* complete body (dechunked), NUL-terminated */
    int body_too_large;       /* body crossed the limit: body is empty, reply 413, conn closes */
    size_t content_length;    /* declared Content-Length, or bytes seen so far when chunked */
    char request_id[GL_UUID_LEN + 1]; /* set by the handler if it wants x-amzn-RequestId on errors */
    /* handler-owned */
    void *data;
    /**
     * Runs if the connection closes before a reply was sent (reset by the peer, server closing);
     * req is freed after it returns. A peer that only shut down its write side (EOF) is still
     * waiting for the reply: no abort then.
     */
    void (*on_abort)(gl_http_req_t *req);
    /** A streamed reply's queue fell back below the low-water mark after a write returned 1
     *  (gl_http_reply_write); may be NULL. */
    void (*on_drain)(gl_http_req_t *req);
    /* private */
    gl_http_conn_t *conn;
};

typedef struct gl_http_handler {
    /**
     * Headers are complete: return the most body bytes this request may carry.
     * May be NULL (a server-wide default of 8 MiB applies).
     */
    size_t (*body_limit)(gl_http_req_t *req, void *data);
    /** A complete request, or one whose body crossed the limit (req->body_too_large). */
    void (*on_request)(gl_http_req_t *req, void *data);
    /**
     * May be NULL (every connection is served). Runs once per accepted connection, before
     * anything is read from it: fd is the connected socket (borrowed: do not close it). Return
     * 0 to serve the connection, anything else to refuse it: it is closed unread and unanswered
     * (a reset), before any request on it reaches on_request.
     */
    int (*on_accept)(int fd, void *data);
} gl_http_handler_t;

/** A timeout that never fires. */
#define GL_HTTP_NO_TIMEOUT UINT64_MAX

/**
 * What one server lets a client hold. A field left 0 takes the default shown.
 * - max_conns: open connections; past it a new one is answered 503 (ServiceException) and
 *   closed. Default: computed at gl_http_server_new from RLIMIT_NOFILE, leaving a quarter of
 *   the descriptors (at least 64) for environments' pipes, listeners and files.
 * - header_timeout_ms: a request's head must be complete this long after its first byte (after
 *   accept for a connection's first request); else 408, or a plain close when nothing came.
 *   Default 10 s.
 * - body_timeout_ms: the longest pause between two reads of a request's body; else 408.
 *   Default 30 s.
 * - idle_timeout_ms: a keep-alive connection with no request is closed after it. Default 60 s.
 */
typedef struct gl_http_limits {
    size_t max_conns;
    uint64_t header_timeout_ms;
    uint64_t body_timeout_ms;
    uint64_t idle_timeout_ms;
} gl_http_limits_t;

/** Allocate a server; nothing listens yet. handler is copied; data is passed to its callbacks. */
int gl_http_server_new(gl_http_server_t **out, uv_loop_t *loop, const gl_http_handler_t *handler,
                       void *data);
/** Bind and listen on host:port (port 0 = ephemeral); *bound_port receives the real port. */
int gl_http_server_listen(gl_http_server_t *s, const char *host, int port, int *bound_port,
                          gl_err_t *err);
/**
 * Serve on a socket made elsewhere: fd is a bound TCP socket, usually already listening (an
 * isolated environment's Runtime API listener, made inside its network namespace and passed
 * over by the sandbox; accept() works from any namespace). The server takes fd in every
 * case: it is closed with the server, or at once when a failure leaves the server without it.
 */
int gl_http_server_listen_fd(gl_http_server_t *s, int fd, gl_err_t *err);
/**
 * Replace the server's limits (fields of 0 take their defaults). Call before listening: a
 * connection already open keeps the deadline it has until its next phase.
 */
void gl_http_server_set_limits(gl_http_server_t *s, const gl_http_limits_t *limits);
/** The limits in force (defaults resolved). */
void gl_http_server_get_limits(const gl_http_server_t *s, gl_http_limits_t *out);
/** Stop accepting; pending requests see on_abort; on_closed(arg) runs once every handle closed
 *  and the server is freed. Safe to call from inside a handler callback. */
void gl_http_server_close(gl_http_server_t *s, void (*on_closed)(void *arg), void *arg);
/** Number of open connections (for leak checks and `ps`). */
size_t gl_http_server_conn_count(const gl_http_server_t *s);

/** 1 once req's connection is gone (a handler without on_abort still holds req: its reply,
 *  which then only frees it, is still due). */
int gl_http_req_gone(const gl_http_req_t *req);
/**
 * The uid owning the other end of a connected TCP socket whose peer is in the same network
 * namespace (loopback): one NETLINK_SOCK_DIAG query by the connection's 4-tuple (TCP has no
 * SO_PEERCRED). 0, or a negative errno (-ENOENT: the peer socket is not in this namespace;
 * -EPROTONOSUPPORT/-ENOENT when the kernel lacks inet_diag).
 */
int gl_http_peer_uid(int fd, uid_t *uid);
/** Whether gl_http_peer_uid works on this host (a loopback connection to itself, looked up):
 *  0, or a negative errno with err saying what failed. */
int gl_http_peer_probe(gl_err_t *err);

/** 1 when the peer of a request still waiting for its reply has shut down its sending side
 *  (or the connection is gone): a reply may still reach it, but it sends nothing more. */
int gl_http_req_peer_done(const gl_http_req_t *req);

/** The peer's address of req's connection as text ("127.0.0.1"): 0 or a negative errno. */
int gl_http_req_peer_ip(const gl_http_req_t *req, char *out, size_t len);

/** Value of a request header by lowercase name, or NULL. */
const char *gl_http_req_header(const gl_http_req_t *req, const char *lname);

/**
 * Send the reply (exactly once per request); body is copied. Adds Content-Length, Date and
 * Connection. Returns 0, or a negative errno if the connection is already gone (the request
 * is still consumed). After the call req must not be touched.
 */
int gl_http_reply(gl_http_req_t *req, int status, const gl_http_header_t *headers, size_t nheaders,
                  const void *body, size_t len);
/**
 * Let req's reply wait for the next one on its connection when the client has already sent a
 * further request behind req (HTTP/1.1 pipelining) and that request waits for its own reply:
 * both then go out in one write, which wakes the client once instead of twice. Call before
 * replying, and only from the request's own on_request; for replies a pipelining client does
 * not wait for (the Runtime API's 202 to a result, with the next /next behind it).
 */
void gl_http_req_may_hold_reply(gl_http_req_t *req);
/** Same, taking ownership of a malloc'd body (no copy). */
int gl_http_reply_owned(gl_http_req_t *req, int status, const gl_http_header_t *headers,
                        size_t nheaders, char *body, size_t len);
/** JSON reply (Content-Type: application/json); steals the reference to body. */
int gl_http_reply_json(gl_http_req_t *req, int status, const gl_http_header_t *headers,
                       size_t nheaders, json_t *body);
/**
 * An error in Lambda's wire shape: status from the table, x-amzn-ErrorType, x-amzn-RequestId
 * (req->request_id, or a fresh one), JSON body {"Type":..., "<message key>": msg}.
 */
int gl_http_reply_aws_error(gl_http_req_t *req, gl_aws_err_t type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/** Same with extra body members (e.g. "Reason") merged in; steals extra (may be NULL). */
int gl_http_reply_aws_error_ex(gl_http_req_t *req, gl_aws_err_t type, json_t *extra,
                               const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/** The same reply for an error a callee filled in (e->type, e->msg as is). */
int gl_http_reply_aws_err(gl_http_req_t *req, const gl_aws_error_t *e);

/*
 * Streamed replies (stream.c): the head now, the body as it is produced, in HTTP/1.1 chunked
 * transfer encoding. Between _start and _end the request is still the handler's (on_abort runs
 * if the client goes away); _end consumes it as gl_http_reply does. Writes are sent in order,
 * each copied. A request streamed this way takes no other reply.
 */
/** Send the status line and headers (Transfer-Encoding: chunked added, except for 1xx, 204
 *  and 304, whose writes, like those of a reply to HEAD, are dropped). 0 or a negative errno
 *  (the connection is gone: on_abort has run or runs, the request is still to be ended). */
int gl_http_reply_start(gl_http_req_t *req, int status, const gl_http_header_t *headers,
                        size_t nheaders);
/** Queue len bytes as one chunk (len 0 sends nothing). 0; 1 when the unsent bytes passed the
 *  high-water mark (GL_HTTP_STREAM_HIGH_WATER): pause the producer until req->on_drain; or a
 *  negative errno when the connection is gone. */
int gl_http_reply_write(gl_http_req_t *req, const void *buf, size_t len);
/** End the chunked body (and the reply); req must not be touched after it. */
int gl_http_reply_end(gl_http_req_t *req);
/** End a streamed reply as failed: what was queued is still sent, then the connection closes
 *  without the terminating chunk (clients report a body cut short: curl's error 18, Python's
 *  IncompleteRead, fetch's "terminated"). Consumes req as _end does. */
int gl_http_reply_abort(gl_http_req_t *req);
#define GL_HTTP_STREAM_HIGH_WATER (1024u * 1024u)

/*
 * Streamed request bodies (stream.c). Called from the handler's body_limit callback (headers
 * complete), gl_http_req_stream_body makes the body go to on_chunk as it arrives instead of
 * req->body (no body limit is applied: the handler counts; no body timeout either); trailers
 * are kept for gl_http_req_trailer. The request then reaches on_request as usual, with an empty
 * body, once the message is complete. Should the connection fail or the body turn out
 * malformed first, req->on_abort (when set) runs, and the request never reaches on_request.
 */
void gl_http_req_stream_body(gl_http_req_t *req,
                             void (*on_chunk)(gl_http_req_t *req, const char *buf, size_t len));
/** Stop (1) or resume (0) reading a streamed body: backpressure toward its sender. */
void gl_http_req_pause_body(gl_http_req_t *req, int pause);
/** Value of a trailer of a streamed body by lowercase name, or NULL. */
const char *gl_http_req_trailer(const gl_http_req_t *req, const char *lname);

#endif
