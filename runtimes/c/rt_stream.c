/* SPDX-License-Identifier: MIT */
/*
 * rt_stream.c: streamed responses of the C runtime library (gl_rt_stream_*): one chunked POST
 * of /runtime/invocation/{id}/response per invocation in streaming mode, written chunk by
 * chunk on the library's connection, ended by the last chunk with or without the error
 * trailers, then the Runtime API's reply read as for any other request. One stream at a time:
 * the invocation handle_one is running (rt_stream_set_current).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include "internal.h"

#define ERROR_TYPE_MAX 120

struct gl_rt_stream {
    rt_conn_t *conn;
    char path[1024];
    int begun, ended, broken;
    int status; /* the Runtime API's answer once ended */
};

static gl_rt_stream_t cur;

void rt_stream_set_current(rt_conn_t *c, const char *response_path)
{
    memset(&cur, 0, sizeof cur);
    cur.conn = c;
    if (response_path)
        snprintf(cur.path, sizeof cur.path, "%s", response_path);
}

static int send_bytes(gl_rt_stream_t *s, const void *a, size_t alen, const void *b, size_t blen,
                      const char *tail)
{
    struct iovec iov[3] = {{(void *)a, alen}, {(void *)b, blen}, {(void *)tail, strlen(tail)}};
    int rc = rt_send_all(s->conn->fd, iov, 3);
    if (rc < 0) {
        s->broken = 1;
        rt_conn_close(s->conn);
    }
    return rc;
}

gl_rt_stream_t *gl_rt_stream_begin(const char *content_type)
{
    char head[2048];
    int n, rc;

    if (!cur.path[0] || cur.begun) {
        errno = EINVAL;
        return NULL;
    }
    if (!content_type || strlen(content_type) > 256 || strpbrk(content_type, "\r\n"))
        content_type = "application/octet-stream";
    if (cur.conn->fd < 0 && (rc = rt_conn_open(cur.conn)) < 0) {
        errno = -rc;
        return NULL;
    }
    n = snprintf(head, sizeof head,
                 "POST %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\nContent-Type: %s\r\n"
                 "Transfer-Encoding: chunked\r\n"
                 "Lambda-Runtime-Function-Response-Mode: streaming\r\n"
                 "Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body"
                 "\r\n\r\n",
                 cur.path, cur.conn->hostport, USER_AGENT, content_type);
    cur.begun = 1;
    cur.conn->rpos = cur.conn->rlen = 0;
    if ((rc = send_bytes(&cur, head, (size_t)n, NULL, 0, "")) < 0) {
        errno = -rc;
        return NULL;
    }
    return &cur;
}

int gl_rt_stream_write(gl_rt_stream_t *s, const void *buf, size_t len)
{
    char size[24];

    if (!s || !s->begun || s->ended)
        return -EINVAL;
    if (s->broken)
        return -EPIPE;
    if (len == 0)
        return 0;
    snprintf(size, sizeof size, "%zx\r\n", len);
    return send_bytes(s, size, strlen(size), buf, len, "\r\n");
}

/* Send the last chunk (and trailers, may be "") and read the reply: its status. */
static int end_stream(gl_rt_stream_t *s, const char *trailers)
{
    rt_reply_t reply;
    int got = 0, rc;

    if (!s || !s->begun || s->ended)
        return -EINVAL;
    s->ended = 1;
    s->status = -EPIPE;
    if (s->broken)
        return -EPIPE;
    if ((rc = send_bytes(s, "0\r\n", 3, trailers, strlen(trailers), "\r\n")) < 0)
        return rc;
    memset(&reply, 0, sizeof reply);
    rc = rt_read_reply(s->conn, RT_MAX_SMALL_BODY, &reply, &got);
    if (rc == 0 || rc == -EMSGSIZE)
        rc = reply.status;
    else
        rt_conn_close(s->conn);
    rt_reply_free(&reply);
    s->status = rc;
    return rc;
}

int gl_rt_stream_finish(gl_rt_stream_t *s) { return end_stream(s, ""); }

static void b64(const unsigned char *in, size_t len, char *out)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i = 0;

    for (; i + 2 < len; i += 3) {
        *out++ = t[in[i] >> 2];
        *out++ = t[((in[i] & 3) << 4) | (in[i + 1] >> 4)];
        *out++ = t[((in[i + 1] & 15) << 2) | (in[i + 2] >> 6)];
        *out++ = t[in[i + 2] & 63];
    }
    if (i < len) {
        *out++ = t[in[i] >> 2];
        *out++ = t[((in[i] & 3) << 4) | (i + 1 < len ? in[i + 1] >> 4 : 0)];
        *out++ = i + 1 < len ? t[(in[i + 1] & 15) << 2] : '=';
        *out++ = '=';
    }
    *out = '\0';
}

static int fail_with(gl_rt_stream_t *s, const char *type, const char *message)
{
    char esc_msg[6 * 1024 + 1], esc_type[6 * 128 + 1];
    char body[sizeof esc_msg + sizeof esc_type + 64];
    char *trailers;
    int n, rc;

    if (!type || !*type || strlen(type) > ERROR_TYPE_MAX ||
        strspn(type, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-:") !=
            strlen(type))
        type = "Unhandled";
    gl_rt_json_escape(esc_msg, sizeof esc_msg, message, strnlen(message, 1023));
    gl_rt_json_escape(esc_type, sizeof esc_type, type, strlen(type));
    n = snprintf(body, sizeof body,
                 "{\"errorMessage\":\"%s\",\"errorType\":\"%s\",\"stackTrace\":[]}", esc_msg,
                 esc_type);
    if (n < 0 || (size_t)n >= sizeof body)
        return -E2BIG;
    if (!(trailers = malloc(256 + 4 * ((size_t)n / 3 + 1))))
        return -ENOMEM;
    rc = sprintf(trailers, "Lambda-Runtime-Function-Error-Type: %s\r\n"
                           "Lambda-Runtime-Function-Error-Body: ", type);
    b64((const unsigned char *)body, (size_t)n, trailers + rc);
    strcat(trailers, "\r\n");
    rc = end_stream(s, trailers);
    free(trailers);
    return rc;
}

int gl_rt_stream_fail(gl_rt_stream_t *s, const char *error_type, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt ? fmt : "", ap);
    va_end(ap);
    return fail_with(s, error_type, msg);
}

int rt_stream_after_handler(int hrc, const gl_rt_response_t *resp, int *status)
{
    gl_rt_stream_t *s = &cur;

    cur.path[0] = '\0';
    if (!s->begun)
        return 0;
    if (s->ended)
        *status = s->status ? s->status : -EPIPE; /* the handler's own finish or fail */
    else if (hrc == 0)
        *status = gl_rt_stream_finish(s);
    else
        *status = fail_with(s, resp->error_type[0] ? resp->error_type : "HandlerError",
                            resp->error_message[0] ? resp->error_message
                                                   : "The handler failed without a message.");
    return 1;
}
