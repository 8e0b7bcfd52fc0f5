/* SPDX-License-Identifier: MIT */
/*
 * test_runtime.c: tests of the C runtime library (runtimes/c, include/galley/runtime.h) against
 * a fake Runtime API.
 *
 * The fake is a thread that listens on 127.0.0.1, answers each request it reads with the next
 * scripted reply, and records what it received (method, path, headers, body, and which TCP
 * connection carried it). Every script ends with /next answered 500, which makes gl_rt_run
 * return, so no test loops forever; the fake's accept and reads also time out after 5 s, and
 * alarm() bounds each test.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "galley/runtime.h"

#define MAX_STEPS 16
#define IO_TIMEOUT_MS 5000

/* One scripted reply. raw NULL means: close the connection without answering. */
typedef struct step {
    const char *raw;
    int close_after;
} step_t;

typedef struct recorded {
    char method[16];
    char path[512];
    char head[8192];
    char *body;
    size_t body_len;
    int conn_no; /* 1 for the first accepted connection, and so on */
    int pipelined; /* its first bytes came before the reply to the request before it was sent */
} recorded_t;

/* What a connection's reads brought beyond the request just parsed (a pipelined one). */
typedef struct inbuf {
    char buf[16384];
    size_t len;
} inbuf_t;

typedef struct fake {
    int listen_fd;
    step_t steps[MAX_STEPS];
    size_t nsteps;
    recorded_t rec[MAX_STEPS];
    size_t nrec;
    char failure[256]; /* set when the fake itself saw something wrong */
    pthread_t thread;
} fake_t;

static int wait_readable(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, IO_TIMEOUT_MS) == 1 ? 0 : -1;
}

/* A chunked body, kept raw (sizes, trailers and all) up to the blank line after the last
 * chunk: enough for the small bodies these tests stream. */
static int read_chunked_body(int fd, recorded_t *r, const char *have, size_t hlen)
{
    size_t cap = 65536, len = hlen;
    ssize_t n;

    if (!(r->body = calloc(1, cap + 1)) || hlen > cap)
        return -1;
    memcpy(r->body, have, hlen);
    for (;;) {
        r->body[len] = '\0';
        char *last = strstr(r->body, "\r\n0\r\n");
        if (!last && strncmp(r->body, "0\r\n", 3) == 0)
            last = r->body - 2;
        if (last && strstr(last + 2, "\r\n\r\n"))
            break;
        if (len >= cap || wait_readable(fd) < 0 || (n = recv(fd, r->body + len, cap - len, 0)) <= 0)
            return -1;
        len += (size_t)n;
    }
    r->body_len = len;
    return 0;
}

/* Read one request into r, starting with what in holds; bytes after it stay in in.
 * Returns 0, or -1 on EOF/timeout/garbage. */
static int read_request(int fd, recorded_t *r, inbuf_t *in)
{
    char *buf = in->buf;
    size_t len = in->len, clen = 0, have, used;
    char *end, *cl;
    ssize_t n;

    r->pipelined = len > 0;
    for (;;) {
        buf[len] = '\0';
        if ((end = strstr(buf, "\r\n\r\n")))
            break;
        if (len >= sizeof in->buf - 1 || wait_readable(fd) < 0)
            return -1;
        if ((n = recv(fd, buf + len, sizeof in->buf - 1 - len, 0)) <= 0)
            return -1;
        len += (size_t)n;
    }
    in->len = len;
    *end = '\0';
    if (sscanf(buf, "%15s %511s", r->method, r->path) != 2)
        return -1;
    snprintf(r->head, sizeof r->head, "%.8000s", buf);
    if (strcasestr(buf, "\r\nTransfer-Encoding: chunked")) {
        in->len = 0; /* nothing is pipelined behind a streamed response */
        return read_chunked_body(fd, r, end + 4, len - (size_t)(end + 4 - buf));
    }
    if ((cl = strcasestr(buf, "\r\nContent-Length:")))
        clen = strtoul(cl + 17, NULL, 10);
    r->body = calloc(1, clen + 1);
    have = len - (size_t)(end + 4 - buf);
    used = (size_t)(end + 4 - buf) + (have < clen ? have : clen);
    if (have > clen) /* a pipelined request follows: keep it */
        have = clen;
    memcpy(r->body, end + 4, have);
    memmove(in->buf, in->buf + used, len - used);
    in->len = len - used;
    while (have < clen) {
        if (wait_readable(fd) < 0 || (n = recv(fd, r->body + have, clen - have, 0)) <= 0)
            return -1;
        have += (size_t)n;
    }
    r->body_len = clen;
    return 0;
}

static void send_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n <= 0)
            return;
        data += n;
        len -= (size_t)n;
    }
}

static void *fake_main(void *arg)
{
    fake_t *f = arg;
    int fd = -1, conn_no = 0;
    static inbuf_t in;

    for (size_t i = 0; i < f->nsteps; i++) {
        if (fd < 0) {
            if (wait_readable(f->listen_fd) < 0) {
                snprintf(f->failure, sizeof f->failure, "step %zu: no connection came", i);
                break;
            }
            fd = accept(f->listen_fd, NULL, NULL);
            conn_no++;
            in.len = 0;
        }
        recorded_t *r = &f->rec[f->nrec];
        if (read_request(fd, r, &in) < 0) {
            snprintf(f->failure, sizeof f->failure, "step %zu: no complete request", i);
            break;
        }
        r->conn_no = conn_no;
        f->nrec++;
        if (f->steps[i].raw)
            send_all(fd, f->steps[i].raw, strlen(f->steps[i].raw));
        if (!f->steps[i].raw || f->steps[i].close_after) {
            close(fd);
            fd = -1;
        }
    }
    if (fd >= 0)
        close(fd);
    return NULL;
}

static fake_t *fake_start(const step_t *steps, size_t nsteps)
{
    struct sockaddr_in addr = {.sin_family = AF_INET};
    socklen_t alen = sizeof addr;
    char api[64];
    fake_t *f = calloc(1, sizeof *f);

    assert_non_null(f);
    assert_true(nsteps <= MAX_STEPS);
    memcpy(f->steps, steps, nsteps * sizeof *steps);
    f->nsteps = nsteps;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    f->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(f->listen_fd >= 0);
    assert_int_equal(bind(f->listen_fd, (struct sockaddr *)&addr, sizeof addr), 0);
    assert_int_equal(listen(f->listen_fd, 8), 0);
    assert_int_equal(getsockname(f->listen_fd, (struct sockaddr *)&addr, &alen), 0);
    snprintf(api, sizeof api, "127.0.0.1:%d", ntohs(addr.sin_port));
    setenv("AWS_LAMBDA_RUNTIME_API", api, 1);
    assert_int_equal(pthread_create(&f->thread, NULL, fake_main, f), 0);
    return f;
}

/* Join the fake and check it saw no trouble of its own. */
static void fake_finish(fake_t *f)
{
    pthread_join(f->thread, NULL);
    close(f->listen_fd);
    if (f->failure[0])
        fail_msg("fake Runtime API: %s", f->failure);
}

static void fake_free(fake_t *f)
{
    for (size_t i = 0; i < f->nrec; i++)
        free(f->rec[i].body);
    free(f);
}

/* Value of a request header recorded by the fake (case-insensitive name), or NULL. */
static const char *req_header(const recorded_t *r, const char *name, char *out, size_t cap)
{
    const char *line = strstr(r->head, "\r\n");
    size_t nlen = strlen(name);

    while (line) {
        line += 2;
        if (strncasecmp(line, name, nlen) == 0 && line[nlen] == ':') {
            const char *v = line + nlen + 1, *e = strstr(v, "\r\n");
            while (*v == ' ')
                v++;
            snprintf(out, cap, "%.*s", (int)(e ? (size_t)(e - v) : strlen(v)), v);
            return out;
        }
        line = strstr(line, "\r\n");
    }
    return NULL;
}

#define NEXT_PATH "/2018-06-01/runtime/invocation/next"
#define ACCEPTED "HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"status\":\"OK\"}"
#define BROKEN                                                                                     \
    "HTTP/1.1 500 Internal Server Error\r\nContent-Type: application/json\r\nContent-Length: "    \
    "68\r\n\r\n{\"errorMessage\":\"Internal Server Error\",\"errorType\":\"InternalServerError\"}"

/* What the handler saw, per call. */
typedef struct seen {
    int calls;
    char request_id[8][64];
    char payload[8][256];
    int64_t deadline_ms[8];
    int64_t remaining_ms[8];
    char trace_env[8][128];
    char arn[8][128];
    int has_client_context[8], has_cognito[8], has_tenant[8];
} seen_t;

/* The handler under test: "fail" -> typed error, "silent-fail" -> error without a message,
 * anything else -> {"echo":<payload>}. */
static int test_handler(const gl_rt_invocation_t *inv, gl_rt_response_t *resp, void *user_data)
{
    seen_t *s = user_data;
    int i = s->calls++;
    const char *trace = getenv("_X_AMZN_TRACE_ID");

    if (i < 8) {
        snprintf(s->request_id[i], sizeof s->request_id[i], "%s", inv->request_id);
        snprintf(s->payload[i], sizeof s->payload[i], "%.*s", (int)inv->payload_len, inv->payload);
        s->deadline_ms[i] = inv->deadline_ms;
        s->remaining_ms[i] = gl_rt_remaining_ms();
        snprintf(s->trace_env[i], sizeof s->trace_env[i], "%s", trace ? trace : "(unset)");
        snprintf(s->arn[i], sizeof s->arn[i], "%s",
                 inv->invoked_function_arn ? inv->invoked_function_arn : "(none)");
        s->has_client_context[i] =
            inv->client_context && strcmp(inv->client_context, "{\"custom\":{\"k\":\"v\"}}") == 0;
        s->has_cognito[i] = inv->cognito_identity != NULL;
        s->has_tenant[i] = inv->tenant_id != NULL;
    }
    if (inv->payload_len == 4 && memcmp(inv->payload, "fail", 4) == 0) {
        /* A body set before failing must be discarded (and freed: ASan would see a leak). */
        gl_rt_respond_printf(resp, NULL, "\"not sent\"");
        return gl_rt_set_error(resp, "ValueError", "bad \"%s\"\n", "x");
    }
    if (inv->payload_len == 11 && memcmp(inv->payload, "silent-fail", 11) == 0)
        return 7;
    gl_rt_respond_printf(resp, "application/json", "{\"echo\":%.*s}", (int)inv->payload_len,
                         inv->payload);
    return 0;
}

static char next_reply[4][1024];

static const char *make_next(int slot, const char *id, int64_t deadline, const char *extra,
                             const char *body)
{
    snprintf(next_reply[slot], sizeof next_reply[slot],
             "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
             "Lambda-Runtime-Aws-Request-Id: %s\r\nLambda-Runtime-Deadline-Ms: %lld\r\n"
             "Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:f\r\n"
             "%sContent-Length: %zu\r\n\r\n%s",
             id, (long long)deadline, extra, strlen(body), body);
    return next_reply[slot];
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void test_success_then_errors(void **state)
{
    seen_t seen = {0};
    int64_t deadline = now_ms() + 5000;
    char v[256];
    step_t steps[] = {
        {make_next(0, "req-1", deadline,
                   "Lambda-Runtime-Trace-Id: Root=1-abc-def;Parent=1;Sampled=1\r\n"
                   "lambda-runtime-client-context: {\"custom\":{\"k\":\"v\"}}\r\n"
                   "Lambda-Runtime-Cognito-Identity: {\"cognitoIdentityId\":\"i\"}\r\n",
                   "{\"name\":\"ada\"}")},
        {ACCEPTED},
        {make_next(1, "req/2 x", deadline, "", "fail")},
        {ACCEPTED},
        {make_next(2, "req-3", deadline, "", "silent-fail")},
        {ACCEPTED},
        {BROKEN},
    };
    fake_t *f = fake_start(steps, sizeof steps / sizeof *steps);

    alarm(30);
    assert_int_equal(gl_rt_run(test_handler, &seen), -EIO);
    fake_finish(f);
    assert_int_equal(f->nrec, 7);
    assert_int_equal(seen.calls, 3);

    /* The handler saw the headers of each /next. */
    assert_string_equal(seen.request_id[0], "req-1");
    assert_string_equal(seen.payload[0], "{\"name\":\"ada\"}");
    assert_true(seen.deadline_ms[0] == deadline);
    assert_true(seen.remaining_ms[0] > 3000 && seen.remaining_ms[0] <= 5000);
    assert_string_equal(seen.trace_env[0], "Root=1-abc-def;Parent=1;Sampled=1");
    assert_string_equal(seen.arn[0], "arn:aws:lambda:us-east-1:123456789012:function:f");
    assert_true(seen.has_client_context[0]);
    assert_true(seen.has_cognito[0]);
    assert_false(seen.has_tenant[0]);
    assert_string_equal(seen.request_id[1], "req/2 x");
    assert_string_equal(seen.trace_env[1], "(unset)"); /* no trace header: variable cleared */
    assert_false(seen.has_client_context[1]);
    assert_false(seen.has_cognito[1]);
    assert_int_equal(gl_rt_remaining_ms(), -1); /* outside an invocation */

    /* The request sequence, all on one keep-alive connection. */
    for (size_t i = 0; i < f->nrec; i++) {
        assert_int_equal(f->rec[i].conn_no, 1);
        assert_non_null(req_header(&f->rec[i], "Host", v, sizeof v));
        assert_string_equal(v, getenv("AWS_LAMBDA_RUNTIME_API"));
    }
    assert_string_equal(f->rec[0].method, "GET");
    assert_string_equal(f->rec[0].path, NEXT_PATH);
    /* Each /next after the first goes out behind the result, before the result's reply. */
    for (size_t i = 0; i < f->nrec; i++)
        assert_int_equal(f->rec[i].pipelined, i >= 2 && i % 2 == 0);

    assert_string_equal(f->rec[1].method, "POST");
    assert_string_equal(f->rec[1].path, "/2018-06-01/runtime/invocation/req-1/response");
    assert_string_equal(f->rec[1].body, "{\"echo\":{\"name\":\"ada\"}}");
    assert_string_equal(req_header(&f->rec[1], "Content-Type", v, sizeof v), "application/json");
    assert_string_equal(req_header(&f->rec[1], "Content-Length", v, sizeof v), "23");

    assert_string_equal(f->rec[2].path, NEXT_PATH);
    /* The id is percent-encoded into the path. */
    assert_string_equal(f->rec[3].path, "/2018-06-01/runtime/invocation/req%2F2%20x/error");
    assert_string_equal(f->rec[3].body,
                        "{\"errorMessage\":\"bad \\\"x\\\"\\n\",\"errorType\":\"ValueError\","
                        "\"stackTrace\":[]}");
    assert_string_equal(req_header(&f->rec[3], "Lambda-Runtime-Function-Error-Type", v, sizeof v),
                        "ValueError");

    assert_string_equal(f->rec[5].path, "/2018-06-01/runtime/invocation/req-3/error");
    assert_string_equal(f->rec[5].body, "{\"errorMessage\":\"The handler failed without a "
                                        "message.\",\"errorType\":\"HandlerError\",\"stackTrace\":[]}");
    assert_string_equal(f->rec[6].path, NEXT_PATH);
    fake_free(f);
}

/* The fake closes after the first /next (Connection: close), then drops the next /next without
 * answering: the library reconnects both times and carries on. */
static void test_reconnect(void **state)
{
    seen_t seen = {0};
    char closing[1024];
    step_t steps[] = {
        {closing, 1},
        {ACCEPTED},
        {NULL},   /* drop the connection without answering this /next */
        {BROKEN}, /* the re-sent /next, on a third connection */
    };
    snprintf(closing, sizeof closing, "%s",
             make_next(0, "r1", now_ms() + 1000, "Connection: close\r\n", "1"));
    fake_t *f = fake_start(steps, 4);

    alarm(30);
    assert_int_equal(gl_rt_run(test_handler, &seen), -EIO);
    fake_finish(f);
    assert_int_equal(f->nrec, 4);
    assert_int_equal(seen.calls, 1);
    assert_int_equal(f->rec[0].conn_no, 1);
    assert_int_equal(f->rec[1].conn_no, 2);
    assert_string_equal(f->rec[1].path, "/2018-06-01/runtime/invocation/r1/response");
    assert_string_equal(f->rec[1].body, "{\"echo\":1}");
    assert_int_equal(f->rec[2].conn_no, 2);
    assert_string_equal(f->rec[2].path, NEXT_PATH);
    assert_int_equal(f->rec[3].conn_no, 3);
    assert_string_equal(f->rec[3].path, NEXT_PATH);
    fake_free(f);
}

/* Two drops in a row for the same request: one reconnect only, then the error comes back. */
static void test_second_drop_is_fatal(void **state)
{
    seen_t seen = {0};
    step_t steps[] = {{NULL}, {NULL}};
    fake_t *f = fake_start(steps, 2);
    int rc;

    alarm(30);
    rc = gl_rt_run(test_handler, &seen);
    fake_finish(f);
    assert_true(rc == -ECONNRESET || rc == -EPIPE);
    assert_int_equal(f->nrec, 2);
    assert_int_equal(seen.calls, 0);
    fake_free(f);
}

static void test_chunked_event(void **state)
{
    seen_t seen = {0};
    char chunked[1024];
    step_t steps[] = {{chunked}, {ACCEPTED}, {BROKEN}};
    snprintf(chunked, sizeof chunked,
             "HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: c1\r\n"
             "Lambda-Runtime-Deadline-Ms: %lld\r\nTransfer-Encoding: chunked\r\n\r\n"
             "5;ext=1\r\n{\"a\":\r\n3\r\n42}\r\n0\r\nX-Trailer: t\r\n\r\n",
             (long long)now_ms() + 1000);
    fake_t *f = fake_start(steps, 3);

    alarm(30);
    assert_int_equal(gl_rt_run(test_handler, &seen), -EIO);
    fake_finish(f);
    assert_int_equal(seen.calls, 1);
    assert_string_equal(seen.payload[0], "{\"a\":42}");
    assert_string_equal(f->rec[1].body, "{\"echo\":{\"a\":42}}");
    assert_int_equal(f->rec[2].conn_no, 1); /* the chunked reply was framed right: conn reused */
    fake_free(f);
}

/* An event over 6 MiB + 100 bytes is not read: the library reports it on a new connection. */
static void test_event_too_large(void **state)
{
    seen_t seen = {0};
    step_t steps[] = {
        {"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: big\r\n"
         "Lambda-Runtime-Deadline-Ms: 1\r\nContent-Length: 7340032\r\n\r\n{\"x\":",
         1},
        {ACCEPTED},
        {BROKEN},
    };
    fake_t *f = fake_start(steps, 3);
    char v[128];

    alarm(30);
    assert_int_equal(gl_rt_run(test_handler, &seen), -EIO);
    fake_finish(f);
    assert_int_equal(seen.calls, 0);
    assert_int_equal(f->nrec, 3);
    assert_string_equal(f->rec[1].path, "/2018-06-01/runtime/invocation/big/error");
    assert_int_equal(f->rec[1].conn_no, 2);
    assert_string_equal(req_header(&f->rec[1], "Lambda-Runtime-Function-Error-Type", v, sizeof v),
                        "Runtime.EventTooLarge");
    assert_non_null(strstr(f->rec[1].body, "\"errorType\":\"Runtime.EventTooLarge\""));
    fake_free(f);
}

/* A refused /response (413) is logged and the loop goes on to the next event. */
static void test_refused_response_continues(void **state)
{
    seen_t seen = {0};
    step_t steps[] = {
        {make_next(0, "r1", now_ms() + 1000, "", "1")},
        {"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 2\r\n\r\n{}"},
        {make_next(1, "r2", now_ms() + 1000, "", "2")},
        {ACCEPTED},
        {BROKEN},
    };
    fake_t *f = fake_start(steps, 5);

    alarm(30);
    assert_int_equal(gl_rt_run(test_handler, &seen), -EIO);
    fake_finish(f);
    assert_int_equal(seen.calls, 2);
    assert_string_equal(f->rec[3].path, "/2018-06-01/runtime/invocation/r2/response");
    fake_free(f);
}

static void test_protocol_errors(void **state)
{
    seen_t seen = {0};
    step_t garbage[] = {{"SMTP ready\r\n\r\n"}};
    step_t no_id[] = {{"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}"}};
    step_t bad_te[] = {{"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: x\r\n"
                        "Transfer-Encoding: gzip\r\n\r\n"}};
    step_t two_lengths[] = {{"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: x\r\n"
                             "Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}"}};
    step_t *cases[] = {garbage, no_id, bad_te, two_lengths};
    fake_t *f;

    alarm(30);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        f = fake_start(cases[i], 1);
        assert_int_equal(gl_rt_run(test_handler, &seen), -EPROTO);
        fake_finish(f);
        fake_free(f);
    }
    assert_int_equal(seen.calls, 0);

    unsetenv("AWS_LAMBDA_RUNTIME_API");
    assert_int_equal(gl_rt_run(test_handler, &seen), -EINVAL);
    setenv("AWS_LAMBDA_RUNTIME_API", "no-port", 1);
    assert_int_equal(gl_rt_run(test_handler, &seen), -EINVAL);
    setenv("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:80\r\nX: y", 1);
    assert_int_equal(gl_rt_init_error(NULL, "x"), -EINVAL);
}

static void test_init_error(void **state)
{
    step_t ok[] = {{ACCEPTED}};
    step_t refused[] = {{"HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\n{}"}};
    char v[128];
    fake_t *f;

    alarm(30);
    f = fake_start(ok, 1);
    assert_int_equal(gl_rt_init_error("Runtime.ConfigError", "missing %s", "GREETING"), 0);
    fake_finish(f);
    assert_int_equal(f->nrec, 1);
    assert_string_equal(f->rec[0].method, "POST");
    assert_string_equal(f->rec[0].path, "/2018-06-01/runtime/init/error");
    assert_string_equal(req_header(&f->rec[0], "Lambda-Runtime-Function-Error-Type", v, sizeof v),
                        "Runtime.ConfigError");
    assert_string_equal(f->rec[0].body, "{\"errorMessage\":\"missing GREETING\",\"errorType\":"
                                        "\"Runtime.ConfigError\",\"stackTrace\":[]}");
    fake_free(f);

    /* After init, Lambda refuses init errors with 403; a type unfit for a header is replaced. */
    f = fake_start(refused, 1);
    assert_int_equal(gl_rt_init_error("bad type\r\nX: y", "late"), -EIO);
    fake_finish(f);
    assert_string_equal(req_header(&f->rec[0], "Lambda-Runtime-Function-Error-Type", v, sizeof v),
                        "Unhandled");
    assert_non_null(strstr(f->rec[0].body, "\"errorType\":\"bad type\\r\\nX: y\""));
    fake_free(f);
}

/* "stream-ok": three chunks, finished by returning; "stream-fail": one chunk, then an error
 * (trailers); "stream-explicit": finished by the handler itself. */
static int stream_handler(const gl_rt_invocation_t *inv, gl_rt_response_t *resp, void *user_data)
{
    (void)user_data;
    gl_rt_stream_t *s = gl_rt_stream_begin("text/plain");
    if (!s || gl_rt_stream_begin(NULL) != NULL) /* one stream per invocation */
        return gl_rt_set_error(resp, "Setup", "no stream");
    gl_rt_stream_write(s, "a", 1);
    if (inv->payload_len == 11 && memcmp(inv->payload, "stream-fail", 11) == 0)
        return gl_rt_set_error(resp, "ValueError", "mid-stream");
    gl_rt_stream_write(s, "bc", 2);
    gl_rt_stream_write(s, "", 0);
    gl_rt_stream_write(s, "def", 3);
    if (inv->payload_len == 15 && memcmp(inv->payload, "stream-explicit", 15) == 0)
        assert_int_equal(gl_rt_stream_finish(s), 202);
    return 0;
}

static void test_streaming(void **state)
{
    (void)state;
    int64_t dl = now_ms() + 60000;
    step_t steps[] = {
        {make_next(0, "s-1", dl, "", "stream-ok"), 0},
        {ACCEPTED, 0},
        {make_next(1, "s-2", dl, "", "stream-fail"), 0},
        {ACCEPTED, 0},
        {make_next(2, "s-3", dl, "", "stream-explicit"), 0},
        {ACCEPTED, 0},
        {BROKEN, 0},
    };
    char v[256];
    fake_t *f = fake_start(steps, sizeof steps / sizeof steps[0]);

    assert_int_equal(gl_rt_stream_begin(NULL), NULL); /* outside a handler */
    assert_int_equal(gl_rt_run(stream_handler, NULL), -EIO);
    fake_finish(f);
    assert_int_equal(f->nrec, 7);
    assert_string_equal(f->rec[1].path, "/2018-06-01/runtime/invocation/s-1/response");
    assert_string_equal(req_header(&f->rec[1], "Lambda-Runtime-Function-Response-Mode", v,
                                   sizeof v), "streaming");
    assert_string_equal(req_header(&f->rec[1], "Content-Type", v, sizeof v), "text/plain");
    assert_null(req_header(&f->rec[1], "Content-Length", v, sizeof v));
    assert_string_equal(f->rec[1].body, "1\r\na\r\n2\r\nbc\r\n3\r\ndef\r\n0\r\n\r\n");
    /* {"errorMessage":"mid-stream","errorType":"ValueError","stackTrace":[]} in base64 */
    assert_string_equal(f->rec[3].body,
                        "1\r\na\r\n0\r\nLambda-Runtime-Function-Error-Type: ValueError\r\n"
                        "Lambda-Runtime-Function-Error-Body: eyJlcnJvck1lc3NhZ2UiOiJtaWQtc3RyZWFtIiwi"
                        "ZXJyb3JUeXBlIjoiVmFsdWVFcnJvciIsInN0YWNrVHJhY2UiOltdfQ==\r\n\r\n");
    assert_string_equal(f->rec[5].body, "1\r\na\r\n2\r\nbc\r\n3\r\ndef\r\n0\r\n\r\n");
    assert_int_equal(f->rec[5].conn_no, f->rec[1].conn_no); /* one kept-alive connection */
    fake_free(f);
}

static void test_json_escape(void **state)
{
    char out[64];

    assert_int_equal(gl_rt_json_escape(out, sizeof out, "a\"b\\c\n\x01\xc3\xa9", 9), 17);
    assert_string_equal(out, "a\\\"b\\\\c\\n\\u0001\xc3\xa9");
    /* Truncation never splits an escape and still NUL-terminates. */
    assert_int_equal(gl_rt_json_escape(out, 4, "ab\"c", 4), 5);
    assert_string_equal(out, "ab");
    assert_int_equal(gl_rt_json_escape(out, 0, "abc", 3), 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_success_then_errors),
        cmocka_unit_test(test_reconnect),
        cmocka_unit_test(test_second_drop_is_fatal),
        cmocka_unit_test(test_chunked_event),
        cmocka_unit_test(test_event_too_large),
        cmocka_unit_test(test_refused_response_continues),
        cmocka_unit_test(test_protocol_errors),
        cmocka_unit_test(test_init_error),
        cmocka_unit_test(test_json_escape),
        cmocka_unit_test(test_streaming),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
