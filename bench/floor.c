/* SPDX-License-Identifier: MIT */
/*
 * floor.c: the loopback floor bench/run measures galley against: a minimal HTTP/1.1 keep-alive
 * responder on 127.0.0.1 (one thread, epoll, non-blocking sockets) that answers every request
 * with a fixed 200 and a 2-byte JSON body. It parses only what keep-alive needs (the end of the
 * head and Content-Length), so its cost is the kernel's loopback exchange plus a read and a
 * write per request: what no HTTP server on this machine can beat. Like galley it answers a
 * request only once the whole of it (head and body) has been read, and galley-bench sends the
 * next one only after the whole reply: one exchange per request, never pipelined.
 *
 * Usage: galley-floor [PORT]   (default 0: an ephemeral port). Prints
 * "floor listening on 127.0.0.1:<port>" on stdout once it accepts, then serves until SIGTERM
 * or SIGINT.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_EVENTS 64
#define BUF_SIZE 65536

static const char REPLY[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                            "Content-Length: 2\r\n\r\n{}";

typedef struct conn {
    int fd;
    size_t have;       /* bytes of the current request buffered in buf */
    size_t body_left;  /* body bytes still to read after a parsed head */
    int answer_due;    /* a head was parsed: answer once its body is read */
    char buf[BUF_SIZE];
} conn_t;

static volatile sig_atomic_t stopping;

static void on_signal(int sig)
{
    (void)sig;
    stopping = 1;
}

static size_t content_length(const char *head, size_t len)
{
    for (const char *p = head; p && p < head + len; p = memchr(p, '\n', (size_t)(head + len - p))) {
        if (*p == '\n')
            p++;
        if ((size_t)(head + len - p) > 15 && strncasecmp(p, "content-length:", 15) == 0)
            return strtoul(p + 15, NULL, 10);
    }
    return 0;
}

/* Consume whole requests in c->buf, answering each; returns -1 when the socket failed. */
static int serve(conn_t *c)
{
    for (;;) {
        if (c->body_left) {
            size_t n = c->have < c->body_left ? c->have : c->body_left;
            memmove(c->buf, c->buf + n, c->have - n);
            c->have -= n;
            c->body_left -= n;
            if (c->body_left)
                return 0;
        }
        if (c->answer_due) {
            c->answer_due = 0;
            if (write(c->fd, REPLY, sizeof(REPLY) - 1) != (ssize_t)(sizeof(REPLY) - 1))
                return -1;
        }
        char *end = memmem(c->buf, c->have, "\r\n\r\n", 4);
        if (!end)
            return c->have == sizeof(c->buf) ? -1 : 0;
        size_t head = (size_t)(end + 4 - c->buf);
        c->body_left = content_length(c->buf, head);
        c->answer_due = 1;
        memmove(c->buf, c->buf + head, c->have - head);
        c->have -= head;
    }
}

static void on_readable(int ep, conn_t *c)
{
    for (;;) {
        ssize_t n = read(c->fd, c->buf + c->have, sizeof(c->buf) - c->have);
        if (n > 0) {
            c->have += (size_t)n;
            if (serve(c) < 0)
                break;
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        break;
    }
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c);
}

static int listen_on(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 1024) < 0) {
        perror("galley-floor: listen");
        exit(1);
    }
    socklen_t len = sizeof(a);
    getsockname(fd, (struct sockaddr *)&a, &len);
    printf("floor listening on 127.0.0.1:%d\n", ntohs(a.sin_port));
    fflush(stdout);
    return fd;
}

static void on_accept(int ep, int lfd)
{
    int fd, one = 1;
    while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
        conn_t *c = calloc(1, sizeof(*c));
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        if (!c || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
            free(c);
            close(fd);
            continue;
        }
        c->fd = fd;
    }
}

int main(int argc, char **argv)
{
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    int lfd = listen_on(argc > 1 ? atoi(argv[1]) : 0);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL}, evs[MAX_EVENTS];
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0) {
        perror("galley-floor: epoll");
        return 1;
    }
    while (!stopping) {
        int n = epoll_wait(ep, evs, MAX_EVENTS, 500);
        for (int i = 0; i < n; i++) {
            if (!evs[i].data.ptr)
                on_accept(ep, lfd);
            else
                on_readable(ep, evs[i].data.ptr);
        }
    }
    close(ep);
    close(lfd);
    return 0;
}
