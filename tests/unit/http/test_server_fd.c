/* SPDX-License-Identifier: MIT */
/*
 * test_server_fd.c: gl_http_server_listen_fd, serving on a socket made elsewhere (as an
 * isolated environment's Runtime API listener is made inside its network namespace): a
 * listening socket and a bound one are both served, requests on two connections get their
 * replies, the server closes the descriptor with itself, and the refusals (no descriptor, a
 * server already listening) close what they were given.
 *
 * A real uv loop runs on the test's main thread; a client thread speaks raw HTTP over
 * blocking sockets with timeouts and records its first failed check in fx->fail (cmocka
 * asserts on the main thread only). Each test ends with uv_loop_close() == 0.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
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
#include <unistd.h>
#include <cmocka.h>

#include "galley/http.h"

typedef struct fx {
    uv_loop_t loop;
    gl_http_server_t *srv;
    int port;
    uv_async_t done;
    pthread_t thr;
    int requests; /* loop thread only */
    int closed;
    char fail[256];
} fx_t;

static void on_request(gl_http_req_t *req, void *data)
{
    fx_t *fx = data;
    char out[128];
    int n = snprintf(out, sizeof(out), "served %s #%d", req->path, ++fx->requests);
    gl_http_reply(req, 200, NULL, 0, out, (size_t)n);
}

static void on_closed(void *arg)
{
    ((fx_t *)arg)->closed++;
}

static void on_done(uv_async_t *a)
{
    fx_t *fx = a->data;
    gl_http_server_close(fx->srv, on_closed, fx);
    fx->srv = NULL;
    uv_close((uv_handle_t *)a, NULL);
}

/* One request on a fresh connection; the reply must carry want. */
static void request(fx_t *fx, const char *path, const char *want)
{
    if (fx->fail[0])
        return;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)fx->port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        snprintf(fx->fail, sizeof(fx->fail), "connect: %s", strerror(errno));
        close(fd);
        return;
    }
    char req[256], resp[2048];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                     path);
    if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n) {
        snprintf(fx->fail, sizeof(fx->fail), "send: %s", strerror(errno));
        close(fd);
        return;
    }
    size_t got = 0;
    for (int i = 0; i < 100 && got < sizeof(resp) - 1; i++) {
        ssize_t r = recv(fd, resp + got, sizeof(resp) - 1 - got, 0);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    resp[got] = '\0';
    close(fd);
    if (strncmp(resp, "HTTP/1.1 200", 12) != 0 || !strstr(resp, want))
        snprintf(fx->fail, sizeof(fx->fail), "reply to %s: %.150s", path, resp);
}

static void *client(void *arg)
{
    fx_t *fx = arg;
    request(fx, "/one", "served /one #1");
    request(fx, "/two", "served /two #2");
    uv_async_send(&fx->done);
    return NULL;
}

/* A TCP socket on 127.0.0.1:0, listening or only bound; *port receives its port. */
static int make_socket(int do_listen, int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    if (do_listen)
        assert_int_equal(listen(fd, 16), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

static int fd_is_open(int fd)
{
    return fcntl(fd, F_GETFD) >= 0;
}

static void serve_socket(int do_listen)
{
    static fx_t fx;
    memset(&fx, 0, sizeof(fx));
    gl_err_t err = {0};
    gl_http_handler_t h = {.on_request = on_request};
    assert_int_equal(uv_loop_init(&fx.loop), 0);
    assert_int_equal(gl_http_server_new(&fx.srv, &fx.loop, &h, &fx), 0);
    int fd = make_socket(do_listen, &fx.port);
    assert_int_equal(gl_http_server_listen_fd(fx.srv, fd, &err), 0);
    assert_int_equal(uv_async_init(&fx.loop, &fx.done, on_done), 0);
    fx.done.data = &fx;
    assert_int_equal(pthread_create(&fx.thr, NULL, client, &fx), 0);
    assert_int_equal(uv_run(&fx.loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(pthread_join(fx.thr, NULL), 0);
    if (fx.fail[0])
        fail_msg("%s", fx.fail);
    assert_int_equal(fx.requests, 2);
    assert_int_equal(fx.closed, 1);
    assert_int_equal(uv_loop_close(&fx.loop), 0);
    assert_false(fd_is_open(fd)); /* closed with the server */
}

static void test_serves_a_listening_socket(void **state)
{
    (void)state;
    serve_socket(1);
}

static void test_serves_a_bound_socket(void **state)
{
    (void)state;
    serve_socket(0);
}

static void test_refusals_close_what_they_were_given(void **state)
{
    (void)state;
    uv_loop_t loop;
    gl_http_server_t *srv = NULL;
    gl_err_t err = {0};
    gl_http_handler_t h = {.on_request = on_request};
    fx_t fx = {0};
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(gl_http_server_new(&srv, &loop, &h, &fx), 0);

    assert_int_equal(gl_http_server_listen_fd(srv, -1, &err), -EBADF);
    assert_non_null(strstr(err.msg, "no socket"));

    int port, first = make_socket(1, &port);
    assert_int_equal(gl_http_server_listen_fd(srv, first, &err), 0);
    int second = make_socket(1, &port);
    memset(&err, 0, sizeof(err));
    assert_int_equal(gl_http_server_listen_fd(srv, second, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "already listening"));
    assert_false(fd_is_open(second));
    assert_true(fd_is_open(first));

    /* Not a socket: uv_listen fails; the descriptor still goes with the server. */
    gl_http_server_t *other = NULL;
    assert_int_equal(gl_http_server_new(&other, &loop, &h, &fx), 0);
    int pipefd[2];
    assert_int_equal(pipe2(pipefd, O_CLOEXEC), 0);
    close(pipefd[1]);
    memset(&err, 0, sizeof(err));
    assert_true(gl_http_server_listen_fd(other, pipefd[0], &err) < 0);
    assert_true(err.msg[0] != '\0');

    gl_http_server_close(srv, on_closed, &fx);
    gl_http_server_close(other, on_closed, &fx);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(fx.closed, 2);
    assert_int_equal(uv_loop_close(&loop), 0);
    assert_false(fd_is_open(first));
    assert_false(fd_is_open(pipefd[0]));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_serves_a_listening_socket),
        cmocka_unit_test(test_serves_a_bound_socket),
        cmocka_unit_test(test_refusals_close_what_they_were_given),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
