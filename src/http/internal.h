/* SPDX-License-Identifier: MIT */
/*
 * internal.h: the structs behind gl_http_server_t, gl_http_conn_t and gl_http_req_t, shared only
 * by server.c (listener, accept, the connection limit, the deadline sweep, connection close),
 * conn.c (llhttp glue, keep-alive, limits, read timeouts) and reply.c (response formatting and
 * writes).
 *
 * Ownership: the server owns its listener and every connection (a doubly linked list); each
 * connection owns its uv_tcp_t, its llhttp parser, the request being parsed and one spare
 * request kept for reuse. A dispatched request belongs to the handler until it replies (or
 * until on_abort returns). Memory is freed only in uv close callbacks or after the last
 * caller up the stack has returned, never under a running handler.
 */
#ifndef GALLEY_HTTP_INTERNAL_H
#define GALLEY_HTTP_INTERNAL_H

#include <llhttp.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include <uv.h>

#include "galley/http.h"

#define GL_HTTP_MAX_HEADERS 100
#define GL_HTTP_MAX_HEADER_BYTES (64u * 1024u)   /* request line + names + values */
#define GL_HTTP_DEFAULT_BODY_LIMIT (8u * 1024u * 1024u)
#define GL_HTTP_DISCARD_CAP (128ull * 1024u * 1024u) /* body bytes dropped after a 413 */
#define GL_HTTP_PENDING_CAP (64u * 1024u)        /* pipelined bytes held while a reply waits */
#define GL_HTTP_READ_BUF (64u * 1024u)
#define GL_HTTP_BODY_PREALLOC_MAX (1u * 1024u * 1024u) /* trust a declared length this far */
#define GL_HTTP_KEEP_BUF_MAX (64u * 1024u) /* recycled request buffers larger than this are freed */
#define GL_HTTP_HEADER_TIMEOUT_MS 10000u
#define GL_HTTP_BODY_TIMEOUT_MS 30000u
#define GL_HTTP_IDLE_TIMEOUT_MS 60000u
#define GL_HTTP_LINGER_MS 2000u    /* after a 503 or 408: read and drop input, then close */
#define GL_HTTP_REJECT_SLOTS 32u   /* connections answered 503 at once; past them: plain close */

/* What a connection's deadline guards (conn->phase); see conn.c. */
enum {
    GL_HTTP_PHASE_NONE,   /* a request is with the handler or a reply is being written */
    GL_HTTP_PHASE_HEADER, /* waiting for a request head */
    GL_HTTP_PHASE_BODY,   /* waiting for body bytes (or dropping them after a 413) */
    GL_HTTP_PHASE_IDLE,   /* keep-alive, between requests */
    GL_HTTP_PHASE_LINGER, /* answered and shut down for writing: waiting for the peer's EOF */
};

/* A request and the storage behind its pointers; the public part comes first. */
typedef struct gl_http_req_impl {
    gl_http_req_t pub;
    gl_buf_t strs;            /* "url\0name\0value\0..." as received; names lowercased */
    size_t mark;              /* strs.len where the item being received started */
    size_t url_len;           /* bytes of the raw URL (without the NUL) */
    uint32_t hoff[GL_HTTP_MAX_HEADERS][2]; /* offsets into strs until headers complete */
    gl_http_header_t hdrs[GL_HTTP_MAX_HEADERS];
    size_t body_limit;
    unsigned replied : 1;     /* a reply was made (exactly-once check) */
    unsigned owner_frees : 1; /* detached; the server frees it once its callers returned */
    unsigned streaming : 1;   /* gl_http_reply_start was called: the reply is under way */
    unsigned want_drain : 1;  /* a write returned 1: on_drain is due */
    unsigned stream_body : 1; /* the body goes to on_chunk (gl_http_req_stream_body) */
    unsigned bodiless : 1;    /* a streamed reply that has no body (HEAD, 1xx, 204, 304) */
    unsigned may_hold : 1;    /* gl_http_req_may_hold_reply was called */
    void (*on_chunk)(gl_http_req_t *req, const char *buf, size_t len);
    gl_buf_t trailers;        /* "name\0value\0..." of a streamed body */
} gl_http_req_impl_t;

#define GL_HTTP_IMPL(r) ((gl_http_req_impl_t *)(r))

struct gl_http_conn {
    uv_tcp_t tcp;             /* first, so a uv_handle_t* is the conn */
    gl_http_server_t *server;
    gl_http_conn_t *prev, *next;
    llhttp_t parser;
    gl_http_req_impl_t *req;      /* being parsed, owned by the conn; NULL between requests */
    gl_http_req_impl_t *inflight; /* dispatched, owned by the handler until it replies */
    gl_http_req_impl_t *spare;    /* recycled request, reused by the next message */
    gl_http_req_impl_t *deferred_free; /* aborted inside its own on_request: free on return */
    gl_buf_t pending;         /* input read while a request waits for its reply */
    size_t pending_off;       /* bytes of pending already parsed */
    uint64_t discarded;       /* body bytes dropped after the body crossed its limit */
    struct gl_http_wreq *held; /* a formatted reply waiting to go out with the next (reply.c) */
    unsigned writes;          /* uv_write requests in flight */
    uint64_t deadline;        /* uv_now() ms at which the phase times out; 0 = never */
    unsigned char phase;      /* GL_HTTP_PHASE_* */
    uv_shutdown_t shutdown;   /* lingering close after a 503 or 408 */
    int user_error;           /* our callbacks stopped the parser (see error_status) */
    int error_status;         /* HTTP status to answer it with; 0 = just close */
    const char *error_reason;
    unsigned in_headers : 1;  /* between message begin and headers complete */
    unsigned busy : 1;        /* a request was dispatched; parse nothing until its reply is out */
    unsigned dispatch_pending : 1; /* hand conn->req to on_request once llhttp returns */
    unsigned discarding : 1;  /* body over its limit: drop body bytes */
    unsigned msg_done : 1;    /* the current message is completely parsed */
    unsigned keep_alive : 1;  /* llhttp_should_keep_alive for the current message */
    unsigned close_after_reply : 1; /* send Connection: close, then close */
    unsigned replied : 1;     /* the current request's reply was handed to uv_write */
    unsigned expect_continue : 1;   /* the client sent Expect: 100-continue */
    unsigned ignore_input : 1; /* no further request will be parsed on this conn */
    unsigned in_request_cb : 1; /* on_request is on the stack */
    unsigned linger : 1;      /* after the reply: shut down writing, drain, then close */
    unsigned peer_eof : 1;    /* the client shut down its side; answer, then close */
    unsigned reading : 1;
    unsigned closing : 1;
    unsigned body_paused : 1; /* gl_http_req_pause_body: reading stops */
    unsigned held_now : 1;    /* a reply was held inside on_request: finish it after it returns */
};

struct gl_http_server {
    uv_loop_t *loop;
    uv_tcp_t listener;        /* initialised in gl_http_server_new, closed by _close */
    gl_http_handler_t handler;
    void *data;
    gl_http_conn_t *conns;    /* open (or closing) connections */
    size_t nconns;
    gl_http_limits_t limits;  /* defaults resolved */
    uv_timer_t sweep;         /* runs while connections are open: times out their phases */
    uint64_t sweep_ms;        /* its period */
    size_t refused;           /* connections answered 503 in the current burst */
    unsigned over_limit : 1;  /* in a burst over max_conns (warned once) */
    unsigned closing : 1;
    unsigned listener_closed : 1;
    unsigned sweep_closed : 1;
    void (*on_closed)(void *arg);
    void *on_closed_arg;
    time_t date_sec;          /* the second date_str was formatted for */
    char date_str[40];        /* "Sun, 06 Nov 1994 08:49:37 GMT" */
};

/* conn.c */
void gl_http_conn_start(gl_http_conn_t *c);
/** Answer a connection over the limit with 503 and Connection: close, then close it. */
void gl_http_conn_refuse(gl_http_conn_t *c);
/** Arm c's deadline for a phase (its timeout from the server's limits; NONE disarms). */
void gl_http_conn_set_phase(gl_http_conn_t *c, int phase);
/** The connection's deadline passed: 408 or close, by phase. */
void gl_http_conn_timed_out(gl_http_conn_t *c);
/** The reply for the current request was held (reply.c), from inside its on_request: once
 *  that returns, go on as if it was written, and flush it unless a pipelined request now
 *  waits for its own reply. */
void gl_http_conn_reply_held(gl_http_conn_t *c);
/** The reply for the current request was written (status < 0: it failed). */
void gl_http_conn_reply_written(gl_http_conn_t *c, int status);
/** Abort the dispatched request (if any) and close the connection; idempotent. */
void gl_http_conn_close(gl_http_conn_t *c);
/** Free a request that no connection references any more. */
void gl_http_req_free(gl_http_req_impl_t *r);
/** Give a replied request back to its connection for reuse, or free it. */
void gl_http_req_release(gl_http_conn_t *c, gl_http_req_impl_t *r);

/** Start or stop reading as the connection's state wants. */
void gl_http_conn_update_reading(gl_http_conn_t *c);
/** A streamed-body request is going away before its dispatch: tell its handler (on_abort). */
void gl_http_req_stream_abort(gl_http_req_impl_t *r);

/* server.c */
/** Unlink and free c (from its close callback); may free a closing server. */
void gl_http_server_conn_closed(gl_http_server_t *s, gl_http_conn_t *c);

/* reply.c */
/** Reason phrase for a status code ("OK", "Not Found"), "Unknown" when not standard. */
const char *gl_http_reason(int status);
/** RFC 7231 IMF-fixdate for t into out (>= 30 bytes). */
void gl_http_fmt_date(time_t t, char *out, size_t outlen);
/** AWS-shaped error with an explicit status (431, or a table status). Steals extra. */
int gl_http_reply_error_status(gl_http_req_t *req, int status, gl_aws_err_t type, json_t *extra,
                               const char *msg);
/** 408 RequestTimeoutException (Lambda-shaped; the SDKs retry it). */
int gl_http_reply_timeout(gl_http_req_t *req, const char *msg);
/** Write c's held reply now, on its own (nothing when none is held). */
void gl_http_flush_held(gl_http_conn_t *c);
/** Free a write request and the held reply it carries. */
void gl_http_wreq_free(struct gl_http_wreq *wr);
/** Send the interim "100 Continue" on c. */
void gl_http_send_continue(gl_http_conn_t *c);
/** Bytes a head takes (gl_http_format_head's buffer size). */
size_t gl_http_head_cap(int status, const gl_http_header_t *headers, size_t nheaders,
                        const char **content_type);
/** Format a status line and headers into p (room from gl_http_head_cap); chunked: send
 *  Transfer-Encoding: chunked instead of Content-Length. Returns the end. */
char *gl_http_format_head(gl_http_conn_t *c, char *p, int status, const gl_http_header_t *headers,
                          size_t nheaders, const char *content_type, size_t len, int chunked);

#endif
