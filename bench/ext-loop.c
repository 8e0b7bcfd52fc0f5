/* SPDX-License-Identifier: MIT */
/*
 * ext-loop.c: the smallest external extension, for bench/extension.py: it registers for INVOKE
 * and SHUTDOWN on $AWS_LAMBDA_RUNTIME_API and calls /extension/event/next in a loop on one
 * keep-alive connection, doing nothing with the events, until SHUTDOWN. What it costs an invoke
 * is what the Extensions API itself costs (no interpreter, no process per event).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static char buf[1 << 16];

static int dial(const char *api)
{
    char host[64];
    const char *colon = strrchr(api, ':');
    if (!colon || (size_t)(colon - api) >= sizeof(host))
        return -1;
    snprintf(host, sizeof(host), "%.*s", (int)(colon - api), api);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
    int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || inet_pton(AF_INET, host, &sa.sin_addr) != 1 ||
        connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
        return -1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

/* One request and its whole response (Content-Length bodies only) into buf; the length, or -1. */
static int roundtrip(int fd, const char *req)
{
    size_t len = strlen(req), got = 0;
    if (write(fd, req, len) != (ssize_t)len)
        return -1;
    for (;;) {
        ssize_t n = read(fd, buf + got, sizeof(buf) - 1 - got);
        if (n <= 0)
            return -1;
        got += (size_t)n;
        buf[got] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (!end)
            continue;
        char *cl = strcasestr(buf, "\r\ncontent-length:");
        size_t body = cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0;
        if (got >= (size_t)(end + 4 - buf) + body)
            return (int)got;
    }
}

int main(void)
{
    const char *api = getenv("AWS_LAMBDA_RUNTIME_API");
    char req[512], id[64] = "";
    int fd = api ? dial(api) : -1;
    if (fd < 0)
        return 2;
    static const char reg[] = "{\"events\":[\"INVOKE\",\"SHUTDOWN\"]}";
    snprintf(req, sizeof(req),
             "POST /2020-01-01/extension/register HTTP/1.1\r\nHost: x\r\n"
             "Lambda-Extension-Name: ext-loop\r\nContent-Length: %zu\r\n\r\n%s",
             sizeof(reg) - 1, reg);
    if (roundtrip(fd, req) < 0)
        return 3;
    char *h = strcasestr(buf, "\r\nlambda-extension-identifier:");
    if (!h || sscanf(h + 30, " %63[^\r\n]", id) != 1)
        return 4;
    snprintf(req, sizeof(req),
             "GET /2020-01-01/extension/event/next HTTP/1.1\r\nHost: x\r\n"
             "Lambda-Extension-Identifier: %s\r\n\r\n",
             id);
    for (;;) {
        if (roundtrip(fd, req) < 0)
            return 5;
        if (strstr(buf, "\"SHUTDOWN\""))
            return 0;
    }
}
