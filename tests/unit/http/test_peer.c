/* SPDX-License-Identifier: MIT */
/*
 * test_peer.c: gl_http_peer_uid (src/http/peer.c) and the server's on_accept hook
 * (src/http/server.c), on real loopback connections.
 *
 * The lookup: a connection made by this process is owned by its euid; one whose socket a
 * child made after switching to uid 65534 (root only, else skipped) is owned by 65534, not by
 * the process that accepted it; a descriptor that is not a connected TCP socket is an error;
 * the start-up probe succeeds on this host.
 * The hook: a server whose hook refuses resets the connection unread (the client sees a reset
 * or EOF, never an answer, and on_request never runs); one whose hook accepts serves it; the
 * hook sees the accepted socket, whose peer lookup names the client's uid.
 *
 * A real uv loop runs on the test's main thread; a client thread talks over blocking sockets
 * with timeouts and records its first failed check in fx->fail (cmocka asserts on the main
 * thread only). Each loop test ends with uv_loop_close() == 0.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "galley/http.h"

/* A listening loopback socket on an ephemeral port. */
static int listen_loopback(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    socklen_t len = sizeof(sa);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(fd, 8), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

static int connect_loopback(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct timeval tv = {5, 0};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void test_peer_uid_is_the_connecting_process(void **state)
{
    (void)state;
    int port, lfd = listen_loopback(&port);
    int cfd = connect_loopback(port);
    int afd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    uid_t uid = (uid_t)-1;
    assert_true(cfd >= 0 && afd >= 0);
    assert_int_equal(gl_http_peer_uid(afd, &uid), 0);
    assert_int_equal(uid, geteuid());
    /* Asked from the client's side, the peer is the accepted socket: the same process. */
    uid = (uid_t)-1;
    assert_int_equal(gl_http_peer_uid(cfd, &uid), 0);
    assert_int_equal(uid, geteuid());
    close(afd);
    close(cfd);
    close(lfd);
}

/* The socket's owner, not the accepting process: a child switches to 65534 and connects. */
static void test_peer_uid_of_another_user(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip(); /* switching uid needs root */
    int port, lfd = listen_loopback(&port), pipefd[2];
    assert_int_equal(pipe(pipefd), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char b;
        if (setresgid(65534, 65534, 65534) < 0 || setresuid(65534, 65534, 65534) < 0)
            _exit(3);
        int fd = connect_loopback(port);
        /* Hold the connection until the parent has looked it up. */
        ssize_t n = read(pipefd[0], &b, 1);
        (void)n;
        _exit(fd >= 0 ? 0 : 4);
    }
    int afd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    uid_t uid = (uid_t)-1;
    int rc = afd >= 0 ? gl_http_peer_uid(afd, &uid) : -errno;
    assert_int_equal(write(pipefd[1], "x", 1), 1);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    assert_int_equal(rc, 0);
    assert_int_equal(uid, 65534);
    close(afd);
    close(pipefd[0]);
    close(pipefd[1]);
    close(lfd);
}

static void test_peer_uid_of_a_non_tcp_fd(void **state)
{
    (void)state;
    uid_t uid;
    int port, lfd = listen_loopback(&port), sv[2];
    /* A listening socket has no peer; a Unix socket pair is not inet. */
    assert_true(gl_http_peer_uid(lfd, &uid) < 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(gl_http_peer_uid(sv[0], &uid), -EAFNOSUPPORT);
    assert_true(gl_http_peer_uid(-1, &uid) < 0);
    close(sv[0]);
    close(sv[1]);
    close(lfd);
}

static void test_probe_works_here(void **state)
{
    (void)state;
    gl_err_t err = {0};
    assert_int_equal(gl_http_peer_probe(&err), 0);
    assert_string_equal(err.msg, "");
}

/* ---- the accept hook, through a real server ---- */

typedef struct fx {
    uv_loop_t loop;
    gl_http_server_t *srv;
    int port;
    int allow;          /* what the hook answers */
    int hook_calls;     /* loop thread */
    uid_t hook_uid;     /* the peer the hook looked up */
    int requests;
    uv_async_t done;
    pthread_t thr;
    char got[256];      /* what the client read (or how it failed) */
} fx_t;

static int on_accept(int fd, void *data)
{
    fx_t *fx = data;
    fx->hook_calls++;
    if (gl_http_peer_uid(fd, &fx->hook_uid) < 0)
        fx->hook_uid = (uid_t)-2;
    return fx->allow ? 0 : -EACCES;
}

static void on_request(gl_http_req_t *req, void *data)
{
    fx_t *fx = data;
    fx->requests++;
    gl_http_reply(req, 200, NULL, 0, "served", 6);
}

static void on_done(uv_async_t *a)
{
    fx_t *fx = a->data;
    gl_http_server_close(fx->srv, NULL, NULL);
    fx->srv = NULL;
    uv_close((uv_handle_t *)a, NULL);
}

static void *client(void *arg)
{
    fx_t *fx = arg;
    static const char req[] = "GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    int fd = connect_loopback(fx->port);
    if (fd < 0) {
        snprintf(fx->got, sizeof(fx->got), "connect: %s", strerror(errno));
    } else if (send(fd, req, sizeof(req) - 1, MSG_NOSIGNAL) < 0) {
        snprintf(fx->got, sizeof(fx->got), "send: %s", strerror(errno));
    } else {
        ssize_t n = recv(fd, fx->got, sizeof(fx->got) - 1, MSG_WAITALL);
        if (n < 0)
            snprintf(fx->got, sizeof(fx->got), "recv: %s", strerror(errno));
        else
            fx->got[n] = '\0'; /* "" at EOF */
    }
    if (fd >= 0)
        close(fd);
    uv_async_send(&fx->done);
    return NULL;
}

static void serve_one(fx_t *fx, int allow)
{
    gl_http_handler_t h = {.on_request = on_request, .on_accept = on_accept};
    gl_err_t err = {0};
    memset(fx, 0, sizeof(*fx));
    fx->allow = allow;
    assert_int_equal(uv_loop_init(&fx->loop), 0);
    assert_int_equal(gl_http_server_new(&fx->srv, &fx->loop, &h, fx), 0);
    assert_int_equal(gl_http_server_listen(fx->srv, "127.0.0.1", 0, &fx->port, &err), 0);
    uv_async_init(&fx->loop, &fx->done, on_done);
    fx->done.data = fx;
    assert_int_equal(pthread_create(&fx->thr, NULL, client, fx), 0);
    uv_run(&fx->loop, UV_RUN_DEFAULT); /* ends once the client is done and the server closed */
    pthread_join(fx->thr, NULL);
    assert_int_equal(uv_loop_close(&fx->loop), 0);
}

static void test_hook_refuses_before_anything_is_served(void **state)
{
    fx_t *fx = *state;
    serve_one(fx, 0);
    assert_int_equal(fx->hook_calls, 1);
    assert_int_equal(fx->requests, 0);
    assert_int_equal(fx->hook_uid, geteuid());
    /* A reset (or at least no answer): never the handler's "served". */
    assert_null(strstr(fx->got, "served"));
    assert_true(strstr(fx->got, "Connection reset") || strstr(fx->got, "send:") ||
                fx->got[0] == '\0');
}

static void test_hook_accepts_and_the_request_is_served(void **state)
{
    fx_t *fx = *state;
    serve_one(fx, 1);
    assert_int_equal(fx->hook_calls, 1);
    assert_int_equal(fx->requests, 1);
    assert_int_equal(fx->hook_uid, geteuid());
    assert_non_null(strstr(fx->got, "HTTP/1.1 200"));
    assert_non_null(strstr(fx->got, "served"));
}

static int setup(void **state)
{
    static fx_t fx;
    *state = &fx;
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_peer_uid_is_the_connecting_process),
        cmocka_unit_test(test_peer_uid_of_another_user),
        cmocka_unit_test(test_peer_uid_of_a_non_tcp_fd),
        cmocka_unit_test(test_probe_works_here),
        cmocka_unit_test_setup(test_hook_refuses_before_anything_is_served, setup),
        cmocka_unit_test_setup(test_hook_accepts_and_the_request_is_served, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
