/* SPDX-License-Identifier: MIT */
/*
 * galley-bench.c: a closed-loop load generator for the Invoke API.
 *
 * C worker threads each hold one keep-alive TCP connection and send
 * POST /2015-03-31/functions/<name>/invocations with a small JSON body, one request at a time,
 * until the duration has passed or the shared request budget is spent. Every completed request's
 * latency is recorded (per thread, merged at the end); a request is an error when the reply is
 * not 200, carries X-Amz-Function-Error, or the connection fails (then the worker reconnects).
 * Prints one JSON object on stdout:
 *   {"requests":N,"errors":E,"rps":R,"p50_ms":..,"p99_ms":..,"mean_ms":..,"max_ms":..,
 *    "concurrency":C,"duration_s":D}
 * where rps counts successful requests per second of wall time. Only plain blocking sockets and
 * pthreads; the target must be a numeric IPv4 address (the bench talks to 127.0.0.1 only).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONCURRENCY 1024
#define MAX_SAMPLES_PER_THREAD (4 * 1024 * 1024)
#define MAX_REPLY_HEAD 16384
#define MAX_REPLY_BODY (8 * 1024 * 1024)
#define IO_TIMEOUT_S 30

typedef struct options {
    struct sockaddr_in addr;
    char hostport[64];
    const char *function;
    const char *body;
    int concurrency;
    double duration_s;   /* 0: run until the request budget is spent */
    long max_requests;   /* 0: no budget, run for duration_s */
    int event;           /* X-Amz-Invocation-Type: Event; success is a 202 */
} options_t;

typedef struct worker {
    const options_t *opt;
    pthread_t thread;
    double *lat_ms;
    size_t nlat, cap;
    long errors;
    char last_error[160];
    /* private */
    int fd;
    char buf[MAX_REPLY_HEAD + 1];
    size_t blen;
} worker_t;

static atomic_long budget;       /* requests left to start when max_requests > 0 */
static atomic_int stop_flag;
static double deadline;          /* monotonic seconds */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int connect_target(worker_t *w)
{
    struct timeval tv = {.tv_sec = IO_TIMEOUT_S};
    int one = 1;

    w->blen = 0;
    if ((w->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
        return -errno;
    setsockopt(w->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(w->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(w->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(w->fd, (const struct sockaddr *)&w->opt->addr, sizeof w->opt->addr) < 0) {
        int rc = -errno;
        close(w->fd);
        w->fd = -1;
        return rc;
    }
    return 0;
}

static int send_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EPIPE;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int recv_some(worker_t *w, char *dst, size_t cap)
{
    ssize_t n;
    do
        n = recv(w->fd, dst, cap, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    if (n == 0)
        return -ECONNRESET;
    return (int)n;
}

/* Discard n body bytes: what the buffer holds after the head first, then from the socket. */
static int skip_body(worker_t *w, size_t have, size_t n)
{
    char sink[16384];
    int got;

    if (have > n)
        return -EPROTO; /* no pipelining: extra bytes mean misframing */
    n -= have;
    while (n > 0) {
        if ((got = recv_some(w, sink, n < sizeof sink ? n : sizeof sink)) < 0)
            return got;
        n -= (size_t)got;
    }
    return 0;
}

/* Read one reply; *ok is 1 for a 200 without X-Amz-Function-Error. Returns 0 or -errno. */
static int read_reply(worker_t *w, int *ok, int *keep_alive)
{
    char *end, *p;
    size_t head_len, have;
    long long clen = -1;
    int status, rc;

    w->blen = 0;
    for (;;) {
        if (w->blen >= MAX_REPLY_HEAD)
            return -EPROTO;
        if ((rc = recv_some(w, w->buf + w->blen, MAX_REPLY_HEAD - w->blen)) < 0)
            return rc;
        w->blen += (size_t)rc;
        w->buf[w->blen] = '\0';
        if ((end = memmem(w->buf, w->blen, "\r\n\r\n", 4)))
            break;
    }
    head_len = (size_t)(end - w->buf) + 4;
    *end = '\0';
    if (sscanf(w->buf, "HTTP/1.%*d %d", &status) != 1)
        return -EPROTO;
    *ok = status == (w->opt->event ? 202 : 200) &&
          !strcasestr(w->buf, "\r\nX-Amz-Function-Error:");
    *keep_alive = !strcasestr(w->buf, "\r\nConnection: close");
    if ((p = strcasestr(w->buf, "\r\nContent-Length:")))
        clen = strtoll(p + 17, NULL, 10);
    if (strcasestr(w->buf, "\r\nTransfer-Encoding:")) {
        snprintf(w->last_error, sizeof w->last_error, "chunked replies are not supported");
        return -EPROTO;
    }
    if (clen < 0 || clen > MAX_REPLY_BODY) {
        snprintf(w->last_error, sizeof w->last_error, "reply without a usable Content-Length");
        return -EPROTO;
    }
    have = w->blen - head_len;
    return skip_body(w, have, (size_t)clen);
}

static int record(worker_t *w, double ms)
{
    if (w->nlat == w->cap) {
        size_t ncap = w->cap ? w->cap * 2 : 4096;
        double *n;
        if (ncap > MAX_SAMPLES_PER_THREAD)
            return -ENOSPC;
        if (!(n = realloc(w->lat_ms, ncap * sizeof *n)))
            return -ENOMEM;
        w->lat_ms = n;
        w->cap = ncap;
    }
    w->lat_ms[w->nlat++] = ms;
    return 0;
}

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    const options_t *o = w->opt;
    char req[4096];
    int reqlen, rc, ok, keep_alive, failures_in_a_row = 0;

    reqlen = snprintf(req, sizeof req,
                      "POST /2015-03-31/functions/%s/invocations HTTP/1.1\r\nHost: %s\r\n"
                      "User-Agent: galley-bench/0.1\r\nContent-Type: application/json\r\n"
                      "%sContent-Length: %zu\r\n\r\n%s",
                      o->function, o->hostport,
                      o->event ? "X-Amz-Invocation-Type: Event\r\n" : "", strlen(o->body), o->body);
    w->fd = -1;
    while (!atomic_load(&stop_flag)) {
        if (o->max_requests > 0 && atomic_fetch_sub(&budget, 1) <= 0)
            break;
        if (o->duration_s > 0 && now_s() >= deadline)
            break;
        if (w->fd < 0 && (rc = connect_target(w)) < 0) {
            w->errors++;
            snprintf(w->last_error, sizeof w->last_error, "connect: %s", strerror(-rc));
            if (++failures_in_a_row >= 50)
                break; /* the target is gone: stop rather than spin */
            usleep(20000);
            continue;
        }
        double t0 = now_s();
        rc = send_all(w->fd, req, (size_t)reqlen);
        if (rc == 0)
            rc = read_reply(w, &ok, &keep_alive);
        double ms = (now_s() - t0) * 1000.0;
        if (rc < 0) {
            w->errors++;
            if (!w->last_error[0] || rc != -EPROTO)
                snprintf(w->last_error, sizeof w->last_error, "request: %s", strerror(-rc));
            close(w->fd);
            w->fd = -1;
            if (++failures_in_a_row >= 50)
                break;
            continue;
        }
        failures_in_a_row = 0;
        if (!ok) {
            w->errors++;
            snprintf(w->last_error, sizeof w->last_error, "reply: %.*s",
                     (int)strcspn(w->buf, "\r\n"), w->buf); /* the status line */
        } else if (record(w, ms) < 0) {
            break;
        }
        if (!keep_alive) {
            close(w->fd);
            w->fd = -1;
        }
    }
    if (w->fd >= 0)
        close(w->fd);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted v[0..n). */
static double percentile(const double *v, size_t n, double p)
{
    size_t rank;
    if (n == 0)
        return 0;
    rank = (size_t)(p / 100.0 * (double)n + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return v[rank - 1];
}

static void usage(FILE *f)
{
    fprintf(f, "usage: galley-bench --target 127.0.0.1:PORT --function NAME [--concurrency C]\n"
               "                    [--duration SECONDS | --requests N] [--body JSON] [--event]\n"
               "Sends POST /2015-03-31/functions/NAME/invocations over C keep-alive connections\n"
               "(--event: asynchronous invokes, each answered 202) and prints\n"
               "{\"requests\",\"errors\",\"rps\",\"p50_ms\",\"p99_ms\",...} as JSON.\n");
}

static int parse_target(options_t *o, const char *t)
{
    char host[64];
    const char *colon = strrchr(t, ':');
    long port;

    if (!colon || (size_t)(colon - t) >= sizeof host)
        return -1;
    memcpy(host, t, (size_t)(colon - t));
    host[colon - t] = '\0';
    port = strtol(colon + 1, NULL, 10);
    if (port <= 0 || port > 65535)
        return -1;
    memset(&o->addr, 0, sizeof o->addr);
    o->addr.sin_family = AF_INET;
    o->addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &o->addr.sin_addr) != 1)
        return -1;
    snprintf(o->hostport, sizeof o->hostport, "%s", t);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"target", required_argument, NULL, 't'},    {"function", required_argument, NULL, 'f'},
        {"concurrency", required_argument, NULL, 'c'}, {"duration", required_argument, NULL, 'd'},
        {"requests", required_argument, NULL, 'n'},  {"body", required_argument, NULL, 'b'},
        {"event", no_argument, NULL, 'e'},           {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    options_t o = {.concurrency = 1, .body = "{\"name\":\"bench\"}"};
    worker_t *workers;
    double *all, started, elapsed, sum = 0;
    size_t total = 0, k = 0;
    long errors = 0;
    const char *last_error = "";
    int ch, have_target = 0;

    while ((ch = getopt_long(argc, argv, "t:f:c:d:n:b:eh", longopts, NULL)) != -1) {
        switch (ch) {
        case 't':
            if (parse_target(&o, optarg) < 0) {
                fprintf(stderr, "galley-bench: --target must be IPv4:port, got %s\n", optarg);
                return 2;
            }
            have_target = 1;
            break;
        case 'f': o.function = optarg; break;
        case 'c': o.concurrency = atoi(optarg); break;
        case 'd': o.duration_s = atof(optarg); break;
        case 'n': o.max_requests = atol(optarg); break;
        case 'b': o.body = optarg; break;
        case 'e': o.event = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!have_target || !o.function || strlen(o.function) > 256 ||
        strpbrk(o.function, " \r\n/?#") || strlen(o.body) > 2048 || o.concurrency < 1 ||
        o.concurrency > MAX_CONCURRENCY || o.duration_s < 0 || o.duration_s > 3600 ||
        o.max_requests < 0 || (o.duration_s == 0 && o.max_requests == 0)) {
        usage(stderr);
        return 2;
    }
    if (!(workers = calloc((size_t)o.concurrency, sizeof *workers)))
        return 1;
    atomic_store(&budget, o.max_requests);
    started = now_s();
    deadline = started + o.duration_s;
    for (int i = 0; i < o.concurrency; i++) {
        workers[i].opt = &o;
        if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) != 0) {
            fprintf(stderr, "galley-bench: cannot start thread %d\n", i);
            atomic_store(&stop_flag, 1);
            o.concurrency = i;
            break;
        }
    }
    for (int i = 0; i < o.concurrency; i++) {
        pthread_join(workers[i].thread, NULL);
        total += workers[i].nlat;
        errors += workers[i].errors;
        if (workers[i].last_error[0])
            last_error = workers[i].last_error;
    }
    elapsed = now_s() - started;
    if (!(all = malloc((total ? total : 1) * sizeof *all)))
        return 1;
    for (int i = 0; i < o.concurrency; i++) {
        memcpy(all + k, workers[i].lat_ms, workers[i].nlat * sizeof *all);
        k += workers[i].nlat;
        free(workers[i].lat_ms);
    }
    qsort(all, total, sizeof *all, cmp_double);
    for (size_t i = 0; i < total; i++)
        sum += all[i];
    if (errors)
        fprintf(stderr, "galley-bench: %ld errors, last: %s\n", errors, last_error);
    printf("{\"requests\":%zu,\"errors\":%ld,\"rps\":%.1f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,"
           "\"mean_ms\":%.3f,\"max_ms\":%.3f,\"concurrency\":%d,\"duration_s\":%.3f}\n",
           total + (size_t)errors, errors, elapsed > 0 ? (double)total / elapsed : 0.0,
           percentile(all, total, 50), percentile(all, total, 99), total ? sum / (double)total : 0.0,
           total ? all[total - 1] : 0.0, o.concurrency, elapsed);
    free(all);
    free(workers);
    return total > 0 ? 0 : 1;
}
