/* SPDX-License-Identifier: MIT */
/*
 * http_client.c: a blocking HTTP/1.1 client for the galley command's subcommands: one request
 * per connection (Connection: close), Content-Length or read-to-close bodies, bounded by a
 * timeout and a 64 MiB reply cap. Only http:// endpoints (the daemon listens on loopback).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <jansson.h>

#include "galley/cli.h"
#include "galley/util.h"

#define REPLY_MAX (64u << 20)

static int parse_endpoint(const char *endpoint, char *host, size_t hostlen, char *port,
                          size_t portlen)
{
    const char *p = endpoint;
    if (strncmp(p, "http://", 7) == 0)
        p += 7;
    const char *end = p + strcspn(p, "/");
    const char *colon = NULL;
    if (*p == '[') {
        const char *rb = memchr(p, ']', (size_t)(end - p));
        if (!rb)
            return -EINVAL;
        snprintf(host, hostlen, "%.*s", (int)(rb - p - 1), p + 1);
        colon = rb + 1 < end && rb[1] == ':' ? rb + 1 : NULL;
    } else {
        colon = memchr(p, ':', (size_t)(end - p));
        snprintf(host, hostlen, "%.*s", (int)((colon ? colon : end) - p), p);
    }
    if (colon)
        snprintf(port, portlen, "%.*s", (int)(end - colon - 1), colon + 1);
    else
        snprintf(port, portlen, "80");
    return host[0] ? 0 : -EINVAL;
}

static int wait_fd(int fd, short events, int timeout_ms)
{
    struct pollfd pfd = {.fd = fd, .events = events};
    int r;
    do {
        r = poll(&pfd, 1, timeout_ms);
    } while (r < 0 && errno == EINTR);
    if (r == 0)
        return -ETIMEDOUT;
    return r < 0 ? -errno : 0;
}

static int send_all(int fd, const char *p, size_t len, int timeout_ms)
{
    while (len > 0) {
        int rc = wait_fd(fd, POLLOUT, timeout_ms);
        if (rc < 0)
            return rc;
        ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
        if (w < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return -errno;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int gl_cli_request(const char *endpoint, const char *method, const char *path, const char *body,
                   size_t body_len, int timeout_ms, gl_buf_t *out)
{
    return gl_cli_request_ex(endpoint, method, path, NULL, body, body_len, timeout_ms, out, NULL);
}

int gl_cli_request_ex(const char *endpoint, const char *method, const char *path,
                      const char *extra_headers, const char *body, size_t body_len,
                      int timeout_ms, gl_buf_t *out, gl_buf_t *headers_out)
{
    char host[256], port[16];
    if (parse_endpoint(endpoint, host, sizeof(host), port, sizeof(port)) < 0)
        return -EINVAL;
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai = NULL;
    if (getaddrinfo(host, port, &hints, &ai) != 0)
        return -EHOSTUNREACH;
    int fd = -1, rc = -ECONNREFUSED;
    for (struct addrinfo *a = ai; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
            rc = 0;
            break;
        }
        rc = -errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    if (fd < 0)
        return rc;

    gl_buf_t raw = {0};
    gl_buf_printf(&raw,
                  "%s %s HTTP/1.1\r\nHost: %s:%s\r\nConnection: close\r\nUser-Agent: galley-cli\r\n"
                  "Content-Length: %zu\r\n%s\r\n",
                  method, path, host, port, body ? body_len : 0,
                  extra_headers ? extra_headers : "");
    if (body && body_len)
        gl_buf_append(&raw, body, body_len);
    rc = send_all(fd, raw.data, raw.len, timeout_ms);
    gl_buf_reset(&raw);
    while (rc == 0) {
        if ((rc = wait_fd(fd, POLLIN, timeout_ms)) < 0)
            break;
        char chunk[65536];
        ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
        if (n < 0) {
            rc = errno == EINTR ? 0 : -errno;
            continue;
        }
        if (n == 0)
            break;
        if (raw.len + (size_t)n > REPLY_MAX) {
            rc = -EFBIG;
            break;
        }
        gl_buf_append(&raw, chunk, (size_t)n);
    }
    close(fd);
    if (rc < 0) {
        gl_buf_free(&raw);
        return rc;
    }
    int status = 0;
    char *head_end = raw.data ? strstr(raw.data, "\r\n\r\n") : NULL;
    if (!head_end || sscanf(raw.data, "HTTP/1.%*d %d", &status) != 1 || status < 100) {
        gl_buf_free(&raw);
        return -EPROTO;
    }
    size_t body_off = (size_t)(head_end + 4 - raw.data);
    if (headers_out) {
        /* The header lines after the status line, each ending in CRLF. */
        const char *first = strstr(raw.data, "\r\n") + 2;
        gl_buf_append(headers_out, first, (size_t)(head_end + 2 - first));
    }
    gl_buf_append(out, raw.data + body_off, raw.len - body_off);
    gl_buf_free(&raw);
    return status;
}

char *gl_cli_header(const gl_buf_t *headers, const char *name)
{
    size_t nlen = strlen(name);
    const char *p = headers->data;
    if (!p)
        return NULL;
    while (*p) {
        const char *eol = strstr(p, "\r\n");
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        if (len > nlen && p[nlen] == ':' && strncasecmp(p, name, nlen) == 0) {
            const char *v = p + nlen + 1, *end = p + len;
            while (v < end && (*v == ' ' || *v == '\t'))
                v++;
            while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
                end--;
            return strndup(v, (size_t)(end - v));
        }
        p += len + (eol ? 2 : 0);
    }
    return NULL;
}

/* "galley CMD: Type (HTTP n): message" for an error reply: the type from x-amzn-ErrorType
 * (or the body's Type), the message from the body's message (or the raw body). */
void gl_cli_print_api_error(const char *cmd, int status, const gl_buf_t *headers,
                            const gl_buf_t *body)
{
    char *type = gl_cli_header(headers, "x-amzn-ErrorType");
    if (type)
        type[strcspn(type, ":")] = '\0'; /* "Name:http://internal..." carries a URL after ':' */
    json_t *doc = body->len ? json_loadb(body->data, body->len, 0, NULL) : NULL;
    const char *msg = NULL;
    if (json_is_object(doc)) {
        msg = json_string_value(json_object_get(doc, "message"));
        if (!msg)
            msg = json_string_value(json_object_get(doc, "Message"));
        if (!type || !*type) {
            const char *t = json_string_value(json_object_get(doc, "Type"));
            free(type);
            type = t ? strdup(t) : NULL;
        }
    }
    int len = msg ? (int)strlen(msg) : (int)(body->len > 512 ? 512 : body->len);
    fprintf(stderr, "galley %s: %s (HTTP %d): %.*s\n", cmd, type && *type ? type : "error",
            status, len, msg ? msg : (body->data ? body->data : ""));
    json_decref(doc);
    free(type);
}

/* Percent-encode everything but RFC 3986's unreserved characters. */
void gl_cli_append_encoded(gl_buf_t *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_' || *p == '.' || *p == '~') {
            gl_buf_append(out, p, 1);
        } else {
            char esc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            gl_buf_append(out, esc, 3);
        }
    }
}
