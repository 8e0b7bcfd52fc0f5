/* SPDX-License-Identifier: MIT */
/*
 * rt_http.c: the C runtime library's HTTP/1.1 client: one blocking keep-alive TCP connection
 * to the Runtime API, request writing, and reply parsing.
 *
 * Owns the socket and the read buffer inside rt_conn_t. Replies are framed by Content-Length,
 * by chunked transfer coding, or (without either) by the peer closing; anything else is
 * refused with -EPROTO. Every size is bounded: the header block by the read buffer
 * (GL_RT_MAX_HEADER_BYTES), bodies by the caller's max_body. The invariant between requests:
 * either fd is -1, or the previous reply was read completely and rbuf holds nothing of it.
 */
#define _GNU_SOURCE /* memmem */
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "internal.h"

#define MAX_INTERIM_REPLIES 4

void rt_log(const char *fmt, ...)
{
    char line[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    /* Values quoted from the environment or a reply must not forge extra log lines. */
    for (char *p = line; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    fprintf(stderr, "galley-runtime: %s\n", line);
}

int rt_conn_init(rt_conn_t *c, const char *hostport)
{
    const char *colon, *host = hostport;
    size_t hostlen, portlen;

    c->fd = -1;
    c->rpos = c->rlen = 0;
    if (!hostport || strlen(hostport) >= sizeof c->hostport)
        return -EINVAL;
    if (hostport[0] == '[') { /* [v6]:port */
        const char *close = strchr(hostport, ']');
        if (!close || close[1] != ':')
            return -EINVAL;
        host = hostport + 1;
        hostlen = (size_t)(close - host);
        colon = close + 1;
    } else {
        colon = strrchr(hostport, ':');
        if (!colon || memchr(hostport, ':', (size_t)(colon - hostport)))
            return -EINVAL; /* a bare IPv6 literal needs brackets */
        hostlen = (size_t)(colon - hostport);
    }
    portlen = strlen(colon + 1);
    if (hostlen == 0 || portlen == 0 || portlen >= sizeof c->port ||
        strspn(colon + 1, "0123456789") != portlen || atoi(colon + 1) > 65535)
        return -EINVAL;
    /* The value becomes the Host header: refuse anything that could split it. */
    for (const char *p = hostport; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return -EINVAL;
    strcpy(c->hostport, hostport);
    memcpy(c->host, host, hostlen);
    c->host[hostlen] = '\0';
    strcpy(c->port, colon + 1);
    return 0;
}

void rt_conn_close(rt_conn_t *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->rpos = c->rlen = 0;
    c->next_sent = 0;
}

int rt_conn_open(rt_conn_t *c)
{
    struct addrinfo hints, *res = NULL, *ai;
    int rc, fd = -1, one = 1;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    if ((rc = getaddrinfo(c->host, c->port, &hints, &res)) != 0)
        return rc == EAI_SYSTEM ? -errno : -EHOSTUNREACH;
    rc = -ECONNREFUSED;
    for (ai = res; ai; ai = ai->ai_next) {
        if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol)) < 0) {
            rc = -errno;
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
            rc = 0;
            break;
        }
        rc = -errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (rc < 0)
        return rc;
    /* Requests are written in one sendmsg; Nagle would only delay the small ones. */
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->fd = fd;
    c->rpos = c->rlen = 0;
    return 0;
}

/* Read more bytes into rbuf. Returns the count (> 0), 0 at EOF, or a negative errno;
 * -ENOBUFS when rbuf is full of unconsumed bytes. */
static int fill(rt_conn_t *c)
{
    ssize_t n;

    if (c->rpos > 0) {
        memmove(c->rbuf, c->rbuf + c->rpos, c->rlen - c->rpos);
        c->rlen -= c->rpos;
        c->rpos = 0;
    }
    if (c->rlen >= sizeof c->rbuf - 1)
        return -ENOBUFS;
    do
        n = recv(c->fd, c->rbuf + c->rlen, sizeof c->rbuf - 1 - c->rlen, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    c->rlen += (size_t)n;
    return (int)n;
}

/* Copy exactly n bytes into dst: what rbuf holds first, then straight from the socket. */
static int read_exact(rt_conn_t *c, char *dst, size_t n)
{
    size_t have = c->rlen - c->rpos;
    ssize_t got;

    if (have > n)
        have = n;
    memcpy(dst, c->rbuf + c->rpos, have);
    c->rpos += have;
    while (have < n) {
        got = recv(c->fd, dst + have, n - have, 0);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return -errno;
        if (got == 0) {
            rt_log("reply body truncated: connection closed after %zu of %zu bytes", have, n);
            return -EPROTO;
        }
        have += (size_t)got;
    }
    return 0;
}

/* Return the next CRLF-terminated line (without CRLF, NUL-terminated in rbuf) and consume it. */
static int read_line(rt_conn_t *c, char **line)
{
    char *start, *eol;
    int rc;

    for (;;) {
        start = c->rbuf + c->rpos;
        c->rbuf[c->rlen] = '\0';
        eol = memmem(start, c->rlen - c->rpos, "\r\n", 2);
        if (eol) {
            *eol = '\0';
            *line = start;
            c->rpos = (size_t)(eol + 2 - c->rbuf);
            return 0;
        }
        if ((rc = fill(c)) == 0) {
            rt_log("reply truncated: connection closed inside a chunked body");
            return -EPROTO;
        }
        if (rc == -ENOBUFS) {
            rt_log("reply has a line longer than %d bytes", GL_RT_MAX_HEADER_BYTES);
            return -EPROTO;
        }
        if (rc < 0)
            return rc;
    }
}

/* Grow *buf to hold len + add + 1 bytes, refusing to pass max. */
static int reserve(char **buf, size_t *cap, size_t len, size_t add, size_t max)
{
    size_t want, ncap;
    char *nbuf;

    if (add > max || len > max - add)
        return -EMSGSIZE;
    want = len + add + 1;
    if (want <= *cap)
        return 0;
    ncap = *cap ? *cap : 4096;
    while (ncap < want)
        ncap *= 2;
    if (!(nbuf = realloc(*buf, ncap)))
        return -ENOMEM;
    *buf = nbuf;
    *cap = ncap;
    return 0;
}

static int read_chunked(rt_conn_t *c, size_t max_body, rt_reply_t *r)
{
    size_t cap = 0, size;
    char *line, *end;
    int rc;

    for (;;) {
        if ((rc = read_line(c, &line)) < 0)
            return rc;
        if (!isxdigit((unsigned char)line[0])) {
            rt_log("bad chunk size line");
            return -EPROTO;
        }
        errno = 0;
        unsigned long long v = strtoull(line, &end, 16);
        if (errno || (*end && *end != ';' && *end != ' ' && *end != '\t')) {
            rt_log("bad chunk size line");
            return -EPROTO;
        }
        if (v > max_body)
            return -EMSGSIZE;
        size = (size_t)v;
        if (size == 0)
            break;
        if ((rc = reserve(&r->body, &cap, r->body_len, size, max_body)) < 0)
            return rc;
        if ((rc = read_exact(c, r->body + r->body_len, size)) < 0)
            return rc;
        r->body_len += size;
        if ((rc = read_line(c, &line)) < 0)
            return rc;
        if (*line) {
            rt_log("chunk data longer than its size");
            return -EPROTO;
        }
    }
    /* Trailers, ignored, up to the empty line. */
    for (int n = 0;; n++) {
        if ((rc = read_line(c, &line)) < 0)
            return rc;
        if (!*line)
            break;
        if (n >= RT_MAX_HEADERS) {
            rt_log("too many trailers");
            return -EPROTO;
        }
    }
    if (r->body)
        r->body[r->body_len] = '\0';
    return 0;
}

static int read_to_eof(rt_conn_t *c, size_t max_body, rt_reply_t *r)
{
    size_t cap = 0, have;
    int rc;

    for (;;) {
        have = c->rlen - c->rpos;
        if (have) {
            if ((rc = reserve(&r->body, &cap, r->body_len, have, max_body)) < 0)
                return rc;
            memcpy(r->body + r->body_len, c->rbuf + c->rpos, have);
            r->body_len += have;
            c->rpos = c->rlen;
        }
        if ((rc = fill(c)) == 0)
            break;
        if (rc < 0)
            return rc;
    }
    if (r->body)
        r->body[r->body_len] = '\0';
    return 0;
}

static int is_token_char(unsigned char ch)
{
    return ch > ' ' && ch < 0x7f && !strchr("\"(),/:;<=>?@[\\]{}", ch);
}

/* Split the header block (NUL-terminated copy in r->head, without the final CRLF CRLF). */
static int parse_head(rt_reply_t *r, int *http10)
{
    char *line = r->head, *eol, *colon, *v, *e;

    eol = strstr(line, "\r\n");
    if (eol)
        *eol = '\0';
    if (strncmp(line, "HTTP/1.", 7) != 0 || (line[7] != '0' && line[7] != '1') || line[8] != ' ' ||
        !isdigit((unsigned char)line[9]) || !isdigit((unsigned char)line[10]) ||
        !isdigit((unsigned char)line[11]) || (line[12] != ' ' && line[12] != '\0')) {
        rt_log("reply is not HTTP/1.x: \"%.40s\"", line);
        return -EPROTO;
    }
    *http10 = line[7] == '0';
    r->status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
    while (eol) {
        line = eol + 2;
        if ((eol = strstr(line, "\r\n")))
            *eol = '\0';
        if (strchr(line, '\n') || strchr(line, '\r')) {
            rt_log("reply has a bare CR or LF in its headers");
            return -EPROTO;
        }
        if (line[0] == ' ' || line[0] == '\t') {
            rt_log("reply uses obsolete header line folding");
            return -EPROTO;
        }
        if (!(colon = strchr(line, ':')) || colon == line) {
            rt_log("malformed header line \"%.40s\"", line);
            return -EPROTO;
        }
        for (char *p = line; p < colon; p++)
            if (!is_token_char((unsigned char)*p)) {
                rt_log("malformed header name \"%.40s\"", line);
                return -EPROTO;
            }
        if (r->nheaders == RT_MAX_HEADERS) {
            rt_log("reply has more than %d headers", RT_MAX_HEADERS);
            return -EPROTO;
        }
        *colon = '\0';
        for (v = colon + 1; *v == ' ' || *v == '\t'; v++)
            ;
        for (e = v + strlen(v); e > v && (e[-1] == ' ' || e[-1] == '\t'); e--)
            ;
        *e = '\0';
        r->headers[r->nheaders].name = line;
        r->headers[r->nheaders].value = v;
        r->nheaders++;
    }
    return 0;
}

const char *rt_reply_header(const rt_reply_t *r, const char *name)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (strcasecmp(r->headers[i].name, name) == 0)
            return r->headers[i].value;
    return NULL;
}

void rt_reply_free(rt_reply_t *r)
{
    free(r->head);
    free(r->body);
    memset(r, 0, sizeof *r);
}

/* Does a comma-separated header value contain token (case-insensitive)? */
static int has_token(const char *value, const char *token)
{
    size_t tlen = strlen(token);

    while (value && *value) {
        value += strspn(value, " \t,");
        size_t n = strcspn(value, ",");
        const char *end = value + n;
        while (end > value && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        if ((size_t)(end - value) == tlen && strncasecmp(value, token, tlen) == 0)
            return 1;
        value += n;
    }
    return 0;
}

static int parse_content_length(const rt_reply_t *r, int64_t *out)
{
    int64_t len = -1;

    for (size_t i = 0; i < r->nheaders; i++) {
        const char *v = r->headers[i].value;
        int64_t n = 0;
        if (strcasecmp(r->headers[i].name, "Content-Length") != 0)
            continue;
        if (!*v || strspn(v, "0123456789") != strlen(v) || strlen(v) > 15) {
            rt_log("bad Content-Length \"%.20s\"", v);
            return -EPROTO;
        }
        for (; *v; v++)
            n = n * 10 + (*v - '0');
        if (len >= 0 && n != len) {
            rt_log("conflicting Content-Length headers");
            return -EPROTO;
        }
        len = n;
    }
    *out = len;
    return 0;
}

/* Read one reply. *got_bytes becomes 1 once any byte of it arrived (then no retry is safe). */
int rt_read_reply(rt_conn_t *c, size_t max_body, rt_reply_t *r, int *got_bytes)
{
    int rc, http10 = 0, keep_alive;
    const char *te, *conn_hdr;
    char *end;
    size_t head_len;
    int64_t clen;

    for (int interim = 0;; interim++) {
        /* Find the end of the header block. */
        for (;;) {
            c->rbuf[c->rlen] = '\0';
            if (c->rlen > c->rpos)
                *got_bytes = 1;
            end = memmem(c->rbuf + c->rpos, c->rlen - c->rpos, "\r\n\r\n", 4);
            if (end)
                break;
            rc = fill(c);
            if (rc == 0) {
                if (!*got_bytes)
                    return -ECONNRESET; /* dropped before answering: the caller may retry */
                rt_log("reply truncated inside its headers");
                return -EPROTO;
            }
            if (rc == -ENOBUFS) {
                rt_log("reply header block exceeds %d bytes", GL_RT_MAX_HEADER_BYTES);
                return -EPROTO;
            }
            if (rc < 0)
                return rc;
        }
        head_len = (size_t)(end - (c->rbuf + c->rpos));
        if (memchr(c->rbuf + c->rpos, '\0', head_len)) {
            rt_log("reply headers contain a NUL byte");
            return -EPROTO;
        }
        if (!(r->head = malloc(head_len + 1)))
            return -ENOMEM;
        memcpy(r->head, c->rbuf + c->rpos, head_len);
        r->head[head_len] = '\0';
        c->rpos += head_len + 4;
        if ((rc = parse_head(r, &http10)) < 0)
            return rc;
        if (r->status >= 200 || r->status == 101)
            break;
        /* 1xx interim reply (100 Continue): its block is complete, the real one follows. */
        if (interim == MAX_INTERIM_REPLIES) {
            rt_log("too many interim replies");
            return -EPROTO;
        }
        free(r->head);
        r->head = NULL;
        r->nheaders = 0;
    }

    conn_hdr = rt_reply_header(r, "Connection");
    keep_alive = http10 ? has_token(conn_hdr, "keep-alive") : !has_token(conn_hdr, "close");
    if ((te = rt_reply_header(r, "Transfer-Encoding"))) {
        /* chunked must be the last coding; we apply no other. */
        if (!has_token(te, "chunked") || strchr(te, ',')) {
            rt_log("unsupported Transfer-Encoding \"%.40s\"", te);
            return -EPROTO;
        }
        rc = read_chunked(c, max_body, r);
    } else {
        if ((rc = parse_content_length(r, &clen)) < 0)
            return rc;
        if (clen >= 0) {
            if ((uint64_t)clen > max_body)
                return -EMSGSIZE;
            if (clen > 0) {
                if (!(r->body = malloc((size_t)clen + 1)))
                    return -ENOMEM;
                if ((rc = read_exact(c, r->body, (size_t)clen)) < 0)
                    return rc;
                r->body[clen] = '\0';
                r->body_len = (size_t)clen;
            }
        } else if (r->status == 204 || r->status == 304) {
            rc = 0;
        } else {
            keep_alive = 0;
            rc = read_to_eof(c, max_body, r);
        }
    }
    if (rc < 0)
        return rc;
    if (c->rpos != c->rlen && !c->next_sent) {
        /* Only a pipelined GET's reply may follow; other bytes mean we misframed this one. */
        rt_log("%zu unexpected bytes after a reply", c->rlen - c->rpos);
        keep_alive = 0;
    }
    if (!keep_alive)
        rt_conn_close(c);
    return 0;
}

int rt_send_all(int fd, struct iovec *iov, int iovcnt)
{
    struct msghdr msg;
    ssize_t n;

    while (iovcnt > 0) {
        memset(&msg, 0, sizeof msg);
        msg.msg_iov = iov;
        msg.msg_iovlen = (size_t)iovcnt;
        n = sendmsg(fd, &msg, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        while (iovcnt > 0 && (size_t)n >= iov->iov_len) {
            n -= (ssize_t)iov->iov_len;
            iov++;
            iovcnt--;
        }
        if (iovcnt > 0) {
            iov->iov_base = (char *)iov->iov_base + n;
            iov->iov_len -= (size_t)n;
        }
    }
    return 0;
}

/* Format a request head into head (cap bytes). Its length, or -E2BIG. */
static int format_head(const rt_conn_t *c, char *head, size_t cap, const char *method,
                       const char *path, const rt_req_header_t *extra, size_t nextra,
                       size_t body_len)
{
    size_t len;
    int n;

    n = snprintf(head, cap, "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\n", method, path,
                 c->hostport, USER_AGENT);
    if (n < 0 || (size_t)n >= cap)
        return -E2BIG;
    len = (size_t)n;
    if (strcmp(method, "GET") != 0) {
        n = snprintf(head + len, cap - len, "Content-Length: %zu\r\n", body_len);
        if (n < 0 || (size_t)n >= cap - len)
            return -E2BIG;
        len += (size_t)n;
    }
    for (size_t i = 0; i < nextra; i++) {
        n = snprintf(head + len, cap - len, "%s: %s\r\n", extra[i].name, extra[i].value);
        if (n < 0 || (size_t)n >= cap - len)
            return -E2BIG;
        len += (size_t)n;
    }
    if (len + 2 >= cap)
        return -E2BIG;
    memcpy(head + len, "\r\n", 2);
    return (int)(len + 2);
}

/* Write the request, and a GET of then_get behind it when not NULL, in one sendmsg. */
static int send_request(rt_conn_t *c, const char *method, const char *path,
                        const rt_req_header_t *extra, size_t nextra, const void *body,
                        size_t body_len, const char *then_get)
{
    char head[8192], get[1024];
    struct iovec iov[3];
    int len, get_len = 0, n = 0;

    if ((len = format_head(c, head, sizeof head, method, path, extra, nextra, body_len)) < 0)
        return len;
    if (then_get &&
        (get_len = format_head(c, get, sizeof get, "GET", then_get, NULL, 0, 0)) < 0)
        return get_len;
    iov[n++] = (struct iovec){head, (size_t)len};
    if (body_len)
        iov[n++] = (struct iovec){(void *)body, body_len};
    if (then_get)
        iov[n++] = (struct iovec){get, (size_t)get_len};
    return rt_send_all(c->fd, iov, n);
}

static int is_drop(int rc)
{
    return rc == -ECONNRESET || rc == -EPIPE || rc == -ECONNABORTED || rc == -ENOTCONN;
}

static int request(rt_conn_t *c, const char *method, const char *path,
                   const rt_req_header_t *extra, size_t nextra, const void *body, size_t body_len,
                   size_t max_body, const char *then_get, rt_reply_t *reply)
{
    int rc = -ECONNRESET, got_bytes;

    memset(reply, 0, sizeof *reply);
    if (c->next_sent)
        rt_conn_close(c); /* an unread pipelined reply would be taken for this one's */
    for (int attempt = 0; attempt < 2; attempt++) {
        got_bytes = 0;
        if (c->fd < 0 && (rc = rt_conn_open(c)) < 0) {
            rt_log("cannot connect to the Runtime API at %s: %s", c->hostport, strerror(-rc));
            return rc;
        }
        c->rpos = c->rlen = 0;
        rc = send_request(c, method, path, extra, nextra, body, body_len, then_get);
        if (rc == -E2BIG) {
            rt_log("request head for %s too large", path);
            return rc;
        }
        c->next_sent = rc == 0 && then_get;
        if (rc == 0 && (rc = rt_read_reply(c, max_body, reply, &got_bytes)) == 0)
            return 0;
        /* Whatever failed, the connection's position in the stream is unknown now. */
        rt_conn_close(c);
        if (got_bytes || !is_drop(rc) || attempt == 1)
            break;
        rt_log("connection to %s dropped (%s); reconnecting", c->hostport, strerror(-rc));
        rt_reply_free(reply);
    }
    if (rc != -EMSGSIZE)
        rt_log("%s %s failed: %s", method, path, strerror(-rc));
    return rc;
}

int rt_http_request(rt_conn_t *c, const char *method, const char *path,
                    const rt_req_header_t *extra, size_t nextra, const void *body, size_t body_len,
                    size_t max_body, rt_reply_t *reply)
{
    return request(c, method, path, extra, nextra, body, body_len, max_body, NULL, reply);
}

int rt_http_request_then_get(rt_conn_t *c, const char *method, const char *path,
                             const rt_req_header_t *extra, size_t nextra, const void *body,
                             size_t body_len, size_t max_body, const char *then_get,
                             rt_reply_t *reply)
{
    return request(c, method, path, extra, nextra, body, body_len, max_body, then_get, reply);
}

int rt_read_pipelined(rt_conn_t *c, const char *path, size_t max_body, rt_reply_t *reply)
{
    int rc, got_bytes = 0;

    memset(reply, 0, sizeof *reply);
    c->next_sent = 0; /* from here on, bytes after this reply are an error */
    if ((rc = rt_read_reply(c, max_body, reply, &got_bytes)) == 0)
        return 0;
    rt_conn_close(c);
    if (got_bytes || !is_drop(rc)) {
        if (rc != -EMSGSIZE)
            rt_log("GET %s failed: %s", path, strerror(-rc));
        return rc;
    }
    rt_log("connection to %s dropped (%s); reconnecting", c->hostport, strerror(-rc));
    rt_reply_free(reply);
    return request(c, "GET", path, NULL, 0, NULL, 0, max_body, NULL, reply);
}
