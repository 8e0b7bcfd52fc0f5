/* SPDX-License-Identifier: MIT */
/*
 * wait.c: `galley wait`, for shell pipelines and CI steps that start a daemon in the
 * background: poll the endpoint every 100 ms until it answers any HTTP request (exit 0) or
 * the timeout passes (exit 1). Any status counts as an answer, so a daemon that refuses the
 * probe (a control token, an auth check) is still up. Owns nothing past the call.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "galley/cli.h"

#define WAIT_DEFAULT_S 30
#define WAIT_STEP_MS 100

static const char wait_usage[] =
    "usage: galley wait [--endpoint URL] [--timeout SECONDS]\n"
    "  wait until the daemon answers: exit 0 once it does, 1 when the timeout passes\n"
    "  --endpoint URL     the daemon (default $GALLEY_ENDPOINT or " GL_CLI_DEFAULT_ENDPOINT ")\n"
    "  --timeout SECONDS  how long to wait (default 30; fractions allowed)\n";

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 0 when the daemon at endpoint answered within budget_ms, else the request's negative errno. */
static int probe(const char *endpoint, int budget_ms)
{
    gl_buf_t body = {0};
    int rc = gl_cli_request(endpoint, "GET", "/2015-03-31/functions/?MaxItems=1", NULL, 0,
                            budget_ms, &body);
    gl_buf_free(&body);
    return rc >= 100 ? 0 : rc < 0 ? rc : -EPROTO;
}

static int parse_wait_args(int argc, char **argv, const char **endpoint, double *timeout_s)
{
    static const struct option opts[] = {
        {"endpoint", required_argument, NULL, 'E'},
        {"timeout", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    char *end;
    int c;
    *endpoint = getenv("GALLEY_ENDPOINT");
    *timeout_s = WAIT_DEFAULT_S;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'E': *endpoint = optarg; break;
        case 't':
            *timeout_s = strtod(optarg, &end);
            if (end == optarg || *end || !(*timeout_s >= 0 && *timeout_s <= 86400)) {
                fprintf(stderr, "galley wait: --timeout wants 0..86400 seconds, got '%s'\n",
                        optarg);
                return 2;
            }
            break;
        case 'h': fputs(wait_usage, stdout); return 0;
        default: fputs(wait_usage, stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "galley wait: unexpected argument '%s'\n", argv[optind]);
        fputs(wait_usage, stderr);
        return 2;
    }
    if (!*endpoint || !**endpoint)
        *endpoint = GL_CLI_DEFAULT_ENDPOINT;
    return -1;
}

int gl_cli_wait(int argc, char **argv)
{
    const char *endpoint;
    double timeout_s;
    int rc = parse_wait_args(argc, argv, &endpoint, &timeout_s);
    if (rc >= 0)
        return rc;
    double deadline = now_s() + timeout_s;
    for (;;) {
        double left = deadline - now_s();
        rc = probe(endpoint, left > 1 ? 1000 : left > 0.01 ? (int)(left * 1000) : 10);
        if (rc == 0)
            return 0;
        if (rc == -EINVAL) {
            fprintf(stderr, "galley wait: endpoint '%s' is not http://HOST:PORT\n", endpoint);
            return 2;
        }
        if (now_s() >= deadline)
            break;
        struct timespec step = {0, WAIT_STEP_MS * 1000000L};
        nanosleep(&step, NULL);
    }
    fprintf(stderr, "galley wait: no answer from %s after %g s (%s)\n", endpoint, timeout_s,
            strerror(-rc));
    return 1;
}
