/* SPDX-License-Identifier: MIT */
/*
 * internal.h: declarations shared inside the C runtime library (runtimes/c) only.
 *
 * rt_http.c owns the one HTTP/1.1 client connection (socket, read buffer, reconnect policy) and
 * parses replies; runtime.c builds the Runtime API requests on top of it.
 */
#ifndef GALLEY_RT_INTERNAL_H
#define GALLEY_RT_INTERNAL_H

#include <stddef.h>

#include "galley/runtime.h"

#define RT_MAX_HEADERS 100
/* Bodies of replies to /response, /error and /init/error are small JSON documents. */
#define RT_MAX_SMALL_BODY (64 * 1024)
#define USER_AGENT "galley-runtime-c/0.1"

/* One client connection to the Runtime API. Zero-initialise, then rt_conn_init. */
typedef struct rt_conn {
    char hostport[256]; /* AWS_LAMBDA_RUNTIME_API verbatim, also the Host header */
    char host[256];     /* host part, brackets of an IPv6 literal removed */
    char port[16];
    /* private */
    int fd;                              /* -1 when not connected */
    int next_sent; /* a GET of next_path went out behind the last request; its reply is unread */
    size_t rpos, rlen;                   /* unread bytes are rbuf[rpos..rlen) */
    char rbuf[GL_RT_MAX_HEADER_BYTES + 1]; /* a whole header block must fit */
} rt_conn_t;

typedef struct rt_header {
    const char *name; /* points into rt_reply_t.head */
    const char *value;
} rt_header_t;

/* One parsed reply. Owns head and body; release with rt_reply_free. */
typedef struct rt_reply {
    int status;
    char *head; /* copy of the header block, NUL-split into names and values */
    rt_header_t headers[RT_MAX_HEADERS];
    size_t nheaders;
    char *body; /* NUL-terminated (the NUL is not counted in body_len); NULL if empty */
    size_t body_len;
} rt_reply_t;

/* An extra request header; value must not contain CR or LF (the caller checks). */
typedef struct rt_req_header {
    const char *name;
    const char *value;
} rt_req_header_t;

/* Write one diagnostic line to stderr, prefixed "galley-runtime: ". */
void rt_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parse "host:port" or "[v6]:port" into c. Returns 0 or -EINVAL. */
int rt_conn_init(rt_conn_t *c, const char *hostport);
void rt_conn_close(rt_conn_t *c);

/*
 * Send one request and read its reply into *reply (zeroed first). body may be NULL when
 * body_len is 0. A reply body longer than max_body fails with -EMSGSIZE; then *reply still holds
 * the status and headers (so the caller can see which invocation it was) and the connection is
 * closed because the rest of the body was not read. If the connection drops before any byte of
 * the reply arrives, it reconnects and sends the request once more.
 * Returns 0, or a negative errno (-EPROTO for a malformed reply).
 */
int rt_http_request(rt_conn_t *c, const char *method, const char *path,
                    const rt_req_header_t *extra, size_t nextra, const void *body, size_t body_len,
                    size_t max_body, rt_reply_t *reply);

/*
 * rt_http_request, with a GET of then_get written in the same sendmsg right behind the request
 * (HTTP/1.1 pipelining). *reply is the first request's reply; when 0 is returned and the
 * connection stayed open, c->next_sent is 1 and rt_read_pipelined returns the GET's reply.
 * Saves the Runtime API a wake-up per invoke: the runtime's result and its next /next arrive
 * together, and the daemon can answer both at once (see src/http/conn.c, "held replies").
 */
int rt_http_request_then_get(rt_conn_t *c, const char *method, const char *path,
                             const rt_req_header_t *extra, size_t nextra, const void *body,
                             size_t body_len, size_t max_body, const char *then_get,
                             rt_reply_t *reply);
/** The reply of the GET rt_http_request_then_get sent (c->next_sent must be 1). If the
 *  connection dropped before any byte of it, it sends the GET again once, as rt_http_request. */
int rt_read_pipelined(rt_conn_t *c, const char *path, size_t max_body, rt_reply_t *reply);

/* Case-insensitive header lookup; NULL when absent. */
const char *rt_reply_header(const rt_reply_t *r, const char *name);

/* The pieces of rt_http_request that a streamed response (rt_stream.c) uses on its own. */
struct iovec;
/** Connect c (c->fd) to the Runtime API. 0 or a negative errno. */
int rt_conn_open(rt_conn_t *c);
/** Write every byte of iov. 0 or a negative errno. */
int rt_send_all(int fd, struct iovec *iov, int iovcnt);
/** Read one reply (body up to max_body). 0 or a negative errno; *got_bytes: any byte came. */
int rt_read_reply(rt_conn_t *c, size_t max_body, rt_reply_t *r, int *got_bytes);

/* rt_stream.c: the invocation handle_one is running (its /response path), or NULL after it. */
void rt_stream_set_current(rt_conn_t *c, const char *response_path);
/** After the handler: 1 when it streamed (the stream was finished here if it had not been,
 *  failed with resp's error when hrc != 0), *status the Runtime API's answer; 0 when not. */
int rt_stream_after_handler(int hrc, const gl_rt_response_t *resp, int *status);
void rt_reply_free(rt_reply_t *r);

#endif
