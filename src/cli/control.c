/* SPDX-License-Identifier: MIT */
/*
 * control.c: the harness controls of a running daemon from the command line (`galley reset`,
 * `cold`, `warm`, `idle-timeout`, `fault`, `debug`), one request each to galley's own API under
 * GL_API_GALLEY_PREFIX (docs/testing.md). Each prints the daemon's JSON answer on stdout and
 * exits 0; an API error prints Lambda's error name and message on stderr and exits 1, as does
 * an unreachable daemon; a usage error exits 2 before anything is sent. Range checks (Count,
 * Seconds, Kind) are the daemon's, so the CLI and the API refuse the same values in the same
 * words.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "galley/api.h"
#include "galley/cli.h"
#include "internal.h"

#define CONTROL_TIMEOUT_MS 30000
/* Warming answers once every environment finished its init (10 s each at most, but they
 * may wait for account concurrency): give it far longer than one init. */
#define WARM_TIMEOUT_MS (10 * 60 * 1000)

#define ENDPOINT_HELP \
    "  --endpoint URL   the daemon (default $GALLEY_ENDPOINT or " GL_CLI_DEFAULT_ENDPOINT ")\n" \
    "  --state-dir DIR  the daemon's state dir, holding its control token (default:\n" \
    "                   $GALLEY_CONTROL_TOKEN, else $GALLEY_STATE_DIR or ./.galley)\n"
#define QUALIFIER_HELP \
    "  NAME[:Q]         function name, ARN or template logical id, with a version or alias\n" \
    "  --qualifier Q    version or alias (instead of NAME:Q)\n"

static const char reset_usage[] =
    "usage: galley reset [--endpoint URL]\n"
    "  stop every environment, clear injected faults, idle timeout overrides and debuggers\n"
    ENDPOINT_HELP;
static const char cold_usage[] =
    "usage: galley cold NAME[:Q] [--qualifier Q] [--endpoint URL]\n"
    "  make the next invoke cold: idle environments stop now, busy ones after their invoke\n"
    QUALIFIER_HELP ENDPOINT_HELP;
static const char warm_usage[] =
    "usage: galley warm NAME[:Q] [N] [--qualifier Q] [--endpoint URL]\n"
    "  start N environments (default 1, at most 100) and wait until they are initialized\n"
    QUALIFIER_HELP ENDPOINT_HELP;
static const char idle_usage[] =
    "usage: galley idle-timeout NAME [SECONDS | --default] [--endpoint URL]\n"
    "  show the function's idle timeout, set it (0: every invoke is cold), or return it to\n"
    "  the daemon's --idle-timeout\n" ENDPOINT_HELP;
static const char fault_usage[] =
    "usage: galley fault NAME [KIND [COUNT] | --clear] [--endpoint URL]\n"
    "  show the pending fault, make the next COUNT invokes (default 1) fail with KIND\n"
    "  (throttle, service, timeout, init, crash), or clear it\n" ENDPOINT_HELP;

static const char debug_usage[] =
    "usage: galley debug NAME [PORT | --off] [--endpoint URL]\n"
    "  start the function's next environment with its runtime's debugger on 127.0.0.1:PORT\n"
    "  (default 9229: Node's inspector, Python's debugpy or a pdb console, gdbserver), with no\n"
    "  timeouts and one environment at a time; or stop debugging it (docs/debugging.md)\n"
    ENDPOINT_HELP;

typedef struct control_args {
    const char *cmd;       /* "cold", ... for messages */
    const char *usage;
    const char *endpoint;
    const char *state_dir; /* --state-dir, or NULL */
    const char *qualifier; /* --qualifier, or NULL */
    int flag;              /* --default / --clear was given */
    char **pos;            /* positional arguments, after the options */
    int npos;
} control_args_t;

/*
 * Parse the options every control command shares, plus flag_name (NULL: none) and, when
 * allow_qualifier, --qualifier. Returns -1 when the command is done (--help printed: *exit_code
 * 0; a usage error printed: 2), else 0.
 */
static int parse_args(int argc, char **argv, control_args_t *a, const char *flag_name,
                      int allow_qualifier, int *exit_code)
{
    struct option opts[6];
    int n = 0;
    opts[n++] = (struct option){"endpoint", required_argument, NULL, 'E'};
    opts[n++] = (struct option){"state-dir", required_argument, NULL, 'S'};
    opts[n++] = (struct option){"help", no_argument, NULL, 'h'};
    if (allow_qualifier)
        opts[n++] = (struct option){"qualifier", required_argument, NULL, 'q'};
    if (flag_name)
        opts[n++] = (struct option){flag_name, no_argument, NULL, 'f'};
    opts[n] = (struct option){NULL, 0, NULL, 0};

    a->endpoint = getenv("GALLEY_ENDPOINT");
    int c;
    optind = 1;
    opterr = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'E': a->endpoint = optarg; break;
        case 'S': a->state_dir = optarg; break;
        case 'q': a->qualifier = optarg; break;
        case 'f': a->flag = 1; break;
        case 'h':
            fputs(a->usage, stdout);
            *exit_code = 0;
            return -1;
        default:
            fputs(a->usage, stderr);
            *exit_code = 2;
            return -1;
        }
    }
    if (!a->endpoint || !*a->endpoint)
        a->endpoint = GL_CLI_DEFAULT_ENDPOINT;
    a->pos = argv + optind;
    a->npos = argc - optind;
    return 0;
}

static int usage_error(const control_args_t *a, const char *fmt, const char *arg)
{
    fprintf(stderr, "galley %s: ", a->cmd);
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    fputs(a->usage, stderr);
    return 2;
}

/* "/_galley/functions/<NAME>/<control>[?Qualifier=Q]" into path. */
static void function_path(gl_buf_t *path, const char *name, const char *control,
                          const char *qualifier)
{
    gl_buf_append_str(path, GL_API_GALLEY_PREFIX "/functions/");
    gl_cli_append_encoded(path, name);
    gl_buf_append_str(path, "/");
    gl_buf_append_str(path, control);
    if (qualifier) {
        gl_buf_append_str(path, "?Qualifier=");
        gl_cli_append_encoded(path, qualifier);
    }
}


/*
 * Send one request (body: a JSON object, consumed, or NULL) and report: the answer, indented,
 * on stdout and 0; or the error on stderr and 1.
 */
static int call(const control_args_t *a, const char *method, const char *path, json_t *body,
                int timeout_ms)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (body && !text) {
        fprintf(stderr, "galley %s: out of memory\n", a->cmd);
        return 1;
    }
    gl_buf_t reply = {0}, headers = {0}, extra = {0};
    int rc = 1;
    char *token = gl_cli_control_header(a->state_dir);
    gl_buf_printf(&extra, "%s%s", text ? "Content-Type: application/json\r\n" : "",
                  token ? token : "");
    int status = gl_cli_request_ex(a->endpoint, method, path, extra.data, text,
                                   text ? strlen(text) : 0, timeout_ms, &reply, &headers);
    free(text);
    free(token);
    gl_buf_free(&extra);
    if (status < 0) {
        fprintf(stderr, "galley %s: cannot reach %s: %s\n", a->cmd, a->endpoint,
                strerror(-status));
        goto out;
    }
    if (status < 200 || status >= 300) {
        gl_cli_print_api_error(a->cmd, status, &headers, &reply);
        goto out;
    }
    json_t *doc = reply.len ? json_loadb(reply.data, reply.len, 0, NULL) : NULL;
    char *pretty = doc ? json_dumps(doc, JSON_INDENT(2)) : NULL;
    json_decref(doc);
    if (!pretty) {
        fprintf(stderr, "galley %s: unexpected answer from %s (HTTP %d): %.200s\n", a->cmd,
                a->endpoint, status, reply.data ? reply.data : "");
        goto out;
    }
    puts(pretty);
    free(pretty);
    fflush(stdout);
    rc = 0;
out:
    gl_buf_free(&reply);
    gl_buf_free(&headers);
    return rc;
}

/* A whole decimal integer in [0, LONG_MAX], or -1. */
static long parse_count(const char *s)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (!*s || *end || errno || v < 0)
        return -1;
    return v;
}

int gl_cli_reset(int argc, char **argv)
{
    control_args_t a = {.cmd = "reset", .usage = reset_usage};
    int code;
    if (parse_args(argc, argv, &a, NULL, 0, &code) < 0)
        return code;
    if (a.npos != 0)
        return usage_error(&a, "unexpected argument '%s'", a.pos[0]);
    return call(&a, "POST", GL_API_GALLEY_PREFIX "/reset", NULL, CONTROL_TIMEOUT_MS);
}

int gl_cli_cold(int argc, char **argv)
{
    control_args_t a = {.cmd = "cold", .usage = cold_usage};
    int code;
    if (parse_args(argc, argv, &a, NULL, 1, &code) < 0)
        return code;
    if (a.npos != 1 || !a.pos[0][0])
        return usage_error(&a, "%s", a.npos > 1 ? "too many arguments" : "NAME is required");
    gl_buf_t path = {0};
    function_path(&path, a.pos[0], "cold", a.qualifier);
    int rc = call(&a, "POST", path.data, NULL, CONTROL_TIMEOUT_MS);
    gl_buf_free(&path);
    return rc;
}

int gl_cli_warm(int argc, char **argv)
{
    control_args_t a = {.cmd = "warm", .usage = warm_usage};
    int code;
    if (parse_args(argc, argv, &a, NULL, 1, &code) < 0)
        return code;
    if (a.npos < 1 || a.npos > 2 || !a.pos[0][0])
        return usage_error(&a, "%s", a.npos > 2 ? "too many arguments" : "NAME is required");
    long n = 1;
    if (a.npos == 2 && (n = parse_count(a.pos[1])) < 0)
        return usage_error(&a, "N must be a whole number, got '%s'", a.pos[1]);
    gl_buf_t path = {0};
    function_path(&path, a.pos[0], "warm", a.qualifier);
    int rc = call(&a, "POST", path.data, json_pack("{s:I}", "Count", (json_int_t)n),
                  WARM_TIMEOUT_MS);
    gl_buf_free(&path);
    return rc;
}

int gl_cli_idle_timeout(int argc, char **argv)
{
    control_args_t a = {.cmd = "idle-timeout", .usage = idle_usage};
    int code;
    if (parse_args(argc, argv, &a, "default", 0, &code) < 0)
        return code;
    if (a.npos < 1 || a.npos > 2 || !a.pos[0][0])
        return usage_error(&a, "%s", a.npos > 2 ? "too many arguments" : "NAME is required");
    if (a.flag && a.npos == 2)
        return usage_error(&a, "give SECONDS or --default, not both (%s)", a.pos[1]);
    json_t *body = NULL;
    const char *method = a.flag ? "DELETE" : "GET";
    if (a.npos == 2) {
        char *end;
        double secs = strtod(a.pos[1], &end);
        if (!a.pos[1][0] || *end || !isfinite(secs))
            return usage_error(&a, "SECONDS must be a number, got '%s'", a.pos[1]);
        method = "PUT";
        body = json_pack("{s:f}", "Seconds", secs);
    }
    gl_buf_t path = {0};
    function_path(&path, a.pos[0], "idle-timeout", NULL);
    int rc = call(&a, method, path.data, body, CONTROL_TIMEOUT_MS);
    gl_buf_free(&path);
    return rc;
}

int gl_cli_fault(int argc, char **argv)
{
    control_args_t a = {.cmd = "fault", .usage = fault_usage};
    int code;
    if (parse_args(argc, argv, &a, "clear", 0, &code) < 0)
        return code;
    if (a.npos < 1 || a.npos > 3 || !a.pos[0][0])
        return usage_error(&a, "%s", a.npos > 3 ? "too many arguments" : "NAME is required");
    if (a.flag && a.npos > 1)
        return usage_error(&a, "give KIND or --clear, not both (%s)", a.pos[1]);
    json_t *body = NULL;
    const char *method = a.flag ? "DELETE" : "GET";
    if (a.npos >= 2) {
        long count = 1;
        if (a.npos == 3 && (count = parse_count(a.pos[2])) < 0)
            return usage_error(&a, "COUNT must be a whole number, got '%s'", a.pos[2]);
        method = "PUT";
        body = json_pack("{s:s, s:I}", "Kind", a.pos[1], "Count", (json_int_t)count);
        if (!body) /* jansson refuses text that is not UTF-8 */
            return usage_error(&a, "KIND must be UTF-8 text, got '%s'", a.pos[1]);
    }
    gl_buf_t path = {0};
    function_path(&path, a.pos[0], "faults", NULL);
    int rc = call(&a, method, path.data, body, CONTROL_TIMEOUT_MS);
    gl_buf_free(&path);
    return rc;
}

int gl_cli_debug(int argc, char **argv)
{
    control_args_t a = {.cmd = "debug", .usage = debug_usage};
    int code;
    if (parse_args(argc, argv, &a, "off", 0, &code) < 0)
        return code;
    if (a.npos < 1 || a.npos > 2 || !a.pos[0][0])
        return usage_error(&a, "%s", a.npos > 2 ? "too many arguments" : "NAME is required");
    if (a.flag && a.npos == 2)
        return usage_error(&a, "give PORT or --off, not both (%s)", a.pos[1]);
    long port = GL_API_DEBUG_PORT;
    if (a.npos == 2 && (port = parse_count(a.pos[1])) < 0)
        return usage_error(&a, "PORT must be a whole number, got '%s'", a.pos[1]);
    gl_buf_t path = {0};
    function_path(&path, a.pos[0], "debug", NULL);
    int rc = a.flag ? call(&a, "DELETE", path.data, NULL, CONTROL_TIMEOUT_MS)
                    : call(&a, "POST", path.data, json_pack("{s:I}", "Port", (json_int_t)port),
                           CONTROL_TIMEOUT_MS);
    gl_buf_free(&path);
    return rc;
}
