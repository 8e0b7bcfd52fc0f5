/* SPDX-License-Identifier: MIT */
/*
 * fuzz_http.c: the HTTP request path (src/http: llhttp callbacks, header and chunk handling,
 * the header, body and pipelining limits, keep-alive, half-close, the 408 path) fed through a
 * real connection: the server side of a socketpair is opened as the connection's uv_tcp_t and
 * started as server.c would after accept, so every byte goes through libuv reads into conn.c.
 *
 * Input: byte 0 picks how the rest is cut into writes (1..64 bytes at a time, or one write),
 * whether replies are deferred by a loop turn (pipelined input then waits in conn->pending)
 * and whether the connection's deadline fires before the client shuts down its side. The
 * handler caps bodies at 4 KiB so the 413 path is reached. A request to a path ending in
 * /invocations first goes through the Invoke API's own checks (src/api/invoke.c: the
 * invocation and log types, X-Amz-Client-Context, the JSON payload, the trace header), which
 * answer bad ones with Lambda's errors; every other request is answered with its method,
 * path and body length, and one to a path starting with /h may be held for the reply to the
 * request pipelined behind it (gl_http_req_may_hold_reply). After the client's EOF the connection must close within a
 * bounded number of loop turns (after its deadline fires at most once): otherwise the run
 * aborts as a hang. Everything the server writes is parsed as HTTP responses (llhttp in
 * response mode): a malformed answer is a finding too, except on a connection that sent
 * HEAD, whose answer has a Content-Length and rightly no body (the client-side parser cannot
 * tell which answer belongs to the HEAD).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "internal.h"

/* The Invoke API's request checks are statics: reach them as the unit tests do. */
#include "../src/api/invoke.c"

#define TURNS 2000

static uv_loop_t loop;
static gl_http_server_t *server;
static gl_http_req_t *deferred; /* a request whose reply waits a loop turn */
static int defer_replies;
static llhttp_t client;          /* parses what the server wrote */
static llhttp_settings_t client_settings;
static int sent_head;            /* the input holds a HEAD request: answers are not checked */

static size_t on_body_limit(gl_http_req_t *req, void *data) { return 4096; }

/* Invoke's checks in the order gl_api_invoke makes them: 0, or -1 after they replied. */
static int invoke_checks(gl_http_req_t *req)
{
    const char *type, *log_type;
    char *cc = NULL, *trace;
    size_t n = strlen(req->path);
    if (n < 12 || strcmp(req->path + n - 12, "/invocations") != 0)
        return 0;
    if (check_types(req, 0, 0, &type, &log_type) < 0 || client_context(req, &cc) < 0)
        return -1;
    if (check_payload(req) < 0) {
        free(cc);
        return -1;
    }
    if (!(trace = trace_header(req)) || strlen(trace) >= 512)
        abort();
    free(trace);
    free(cc);
    return 0;
}

static void answer(gl_http_req_t *req)
{
    char text[160];
    if (!req->body_too_large && invoke_checks(req) < 0)
        return;
    int n = snprintf(text, sizeof(text), "%s %.64s %zu%s", req->method_name, req->path,
                     req->body.len, req->body_too_large ? " too large" : "");
    const char *h = gl_http_req_header(req, "content-type");
    if (strncmp(req->path, "/h", 2) == 0)
        gl_http_req_may_hold_reply(req);
    gl_http_header_t hdr = {"Content-Type", h && strlen(h) < 64 ? h : "text/plain"};
    gl_http_reply(req, req->body_too_large ? 413 : 200, &hdr, 1, text, (size_t)n);
}

static void on_abort(gl_http_req_t *req)
{
    if (deferred == req)
        deferred = NULL;
}

static void on_request(gl_http_req_t *req, void *data)
{
    if (defer_replies && !deferred) {
        req->on_abort = on_abort;
        deferred = req;
        return;
    }
    answer(req);
}

static void reply_deferred(void)
{
    gl_http_req_t *req = deferred;
    if (req) {
        deferred = NULL;
        answer(req);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const gl_http_handler_t handler = {.body_limit = on_body_limit, .on_request = on_request};
    fuzz_quiet();
    if (uv_loop_init(&loop) < 0 || gl_http_server_new(&server, &loop, &handler, NULL) < 0)
        abort();
    return 0;
}

/* A connection on sv[0] as on_connection in server.c makes it (without the sweep timer: the
 * harness fires deadlines itself). */
static gl_http_conn_t *open_conn(int fd)
{
    gl_http_conn_t *c = calloc(1, sizeof(*c));
    if (!c || uv_tcp_init(&loop, &c->tcp) < 0)
        abort();
    c->tcp.data = c;
    c->server = server;
    c->next = server->conns;
    if (server->conns)
        server->conns->prev = c;
    server->conns = c;
    server->nconns++;
    if (uv_tcp_open(&c->tcp, fd) < 0)
        abort();
    gl_http_conn_start(c);
    return c;
}

/* One loop turn: run what is ready, answer a deferred request, read what the server wrote. */
static void turn(int peer)
{
    char sink[4096];
    uv_run(&loop, UV_RUN_NOWAIT);
    reply_deferred();
    ssize_t n;
    while ((n = read(peer, sink, sizeof(sink))) > 0) {
        if (getenv("FUZZ_HTTP_DUMP")) /* to see a finding's answers */
            fwrite(sink, 1, (size_t)n, stderr);
        llhttp_errno_t e = llhttp_execute(&client, sink, (size_t)n);
        if (e != HPE_OK && !sent_head) {
            fprintf(stderr, "fuzz_http: the server wrote a malformed response: %s (%s)\n",
                    llhttp_errno_name(e), llhttp_get_error_reason(&client));
            abort();
        }
    }
}

static void send_all(int peer, const uint8_t *data, size_t size, size_t step)
{
    size_t off = 0;
    for (unsigned spins = 0; off < size && spins < 100000; spins++) {
        size_t n = size - off < step ? size - off : step;
        ssize_t w = write(peer, data + off, n);
        if (w > 0)
            off += (size_t)w;
        else if (w < 0 && errno != EAGAIN)
            break; /* the server closed: the rest is not read */
        turn(peer);
        if (server->nconns == 0)
            break;
    }
}

/* The client has shut down its side: the connection must close; its deadline may fire once. */
static void wait_closed(int peer)
{
    int fired = 0;
    for (int i = 0; server->nconns && i < 3 * TURNS; i++) {
        turn(peer);
        if (i == TURNS && server->conns && server->conns->deadline && !fired) {
            fired = 1;
            gl_http_conn_timed_out(server->conns);
        }
    }
    if (server->nconns) {
        fprintf(stderr, "fuzz_http: connection still open after the client's EOF (phase %d)\n",
                server->conns->phase);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int sv[2];
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    size_t step = (mode & 0x3f) ? (mode & 0x3f) : size;
    defer_replies = (mode & 0x40) != 0;
    sent_head = memmem(data, size, "HEAD", 4) != NULL;
    llhttp_settings_init(&client_settings);
    llhttp_init(&client, HTTP_RESPONSE, &client_settings);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0)
        abort();
    gl_http_conn_t *c = open_conn(sv[0]);
    send_all(sv[1], data + 1, size - 1, step);
    if ((mode & 0x80) && server->nconns && c->deadline)
        gl_http_conn_timed_out(c);
    shutdown(sv[1], SHUT_WR);
    wait_closed(sv[1]);
    turn(sv[1]);
    if (llhttp_finish(&client) != HPE_OK && !sent_head) {
        fprintf(stderr, "fuzz_http: the server closed in the middle of a response\n");
        abort();
    }
    close(sv[1]);
    deferred = NULL;
    return 0;
}
