/* SPDX-License-Identifier: MIT */
/*
 * invoke.c: `galley invoke`: one RequestResponse invoke of a function on a running daemon,
 * as `sam local invoke` gives it: the function's log (with --tail: the last 4 KB that
 * X-Amz-Log-Result carries) on stderr, then the response body on stdout. The exit code says
 * how it went: 0 success, 1 a function error or an API error (its name and message on
 * stderr), 2 a usage error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "galley/cli.h"
#include "galley/util.h"
#include "internal.h"

/* The daemon refuses more than 6 MiB; reading stops a little past that so the daemon's own
 * RequestEntityTooLargeException is what the user sees, without buffering without bound. */
#define EVENT_READ_MAX ((6u << 20) + 1024)
/* Lambda's longest timeout (15 min) plus margin: the reply may take that long to start. */
#define INVOKE_TIMEOUT_MS (16 * 60 * 1000)

static const char usage_text[] =
    "usage: galley invoke NAME [--event FILE|-] [--qualifier Q] [--tail] [--endpoint URL]\n"
    "  NAME             function name, ARN or template logical id\n"
    "  --event FILE     the event (JSON); '-' reads stdin; default {}\n"
    "  --qualifier Q    version or alias\n"
    "  --tail           print the invoke's log (its last 4 KB) on stderr\n"
    "  --endpoint URL   the daemon (default $GALLEY_ENDPOINT or " GL_CLI_DEFAULT_ENDPOINT ")\n";

/* The whole of f into out, at most EVENT_READ_MAX bytes. 0 or a negative errno. */
static int read_event(FILE *f, gl_buf_t *out)
{
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        if (out->len + n > EVENT_READ_MAX)
            return -EFBIG;
        if (gl_buf_append(out, chunk, n) < 0)
            return -ENOMEM;
    }
    return ferror(f) ? -EIO : 0;
}


/* Decode X-Amz-Log-Result and write it to stderr. */
static void print_tail(const gl_buf_t *headers)
{
    char *b64 = gl_cli_header(headers, "X-Amz-Log-Result");
    unsigned char *log = NULL;
    size_t len = 0;
    if (b64 && gl_b64_decode(b64, strlen(b64), &log, &len) == 0) {
        fwrite(log, 1, len, stderr);
        if (len && log[len - 1] != '\n')
            fputc('\n', stderr);
        fflush(stderr);
    } else if (b64) {
        fputs("galley invoke: the log result is not valid base64\n", stderr);
    }
    free(log);
    free(b64);
}

typedef struct invoke_args {
    const char *event_path, *qualifier;
    int tail;
} invoke_args_t;

static void on_opt(int c, const char *arg, void *ctx)
{
    invoke_args_t *a = ctx;
    switch (c) {
    case 'e': a->event_path = arg; break;
    case 'q': a->qualifier = arg; break;
    case 't': a->tail = 1; break;
    }
}

int gl_cli_invoke(int argc, char **argv)
{
    static const struct option opts[] = {
        {"event", required_argument, NULL, 'e'},
        {"qualifier", required_argument, NULL, 'q'},
        {"tail", no_argument, NULL, 't'},
        {NULL, 0, NULL, 0},
    };
    invoke_args_t a = {0};
    const char *endpoint, *name;
    int rc = gl_cli_parse_name_args(argc, argv, "e:q:t", opts, on_opt, &a, usage_text,
                                    &endpoint, &name);
    if (rc >= 0)
        return rc;
    const char *event_path = a.event_path, *qualifier = a.qualifier;
    int tail = a.tail;
    rc = 1;

    gl_buf_t event = {0}, path = {0}, body = {0}, headers = {0};
    if (event_path) {
        int is_stdin = !strcmp(event_path, "-");
        FILE *f = is_stdin ? stdin : fopen(event_path, "rb");
        int r = f ? read_event(f, &event) : -errno;
        if (f && !is_stdin)
            fclose(f);
        if (r < 0) {
            fprintf(stderr, "galley invoke: event %s: %s\n", is_stdin ? "(stdin)" : event_path,
                    r == -EFBIG ? "larger than the 6 MB Lambda accepts" : strerror(-r));
            rc = 2;
            goto out;
        }
    }
    if (event.len == 0)
        gl_buf_append_str(&event, "{}");

    gl_buf_append_str(&path, "/2015-03-31/functions/");
    gl_cli_append_encoded(&path, name);
    gl_buf_append_str(&path, "/invocations");
    if (qualifier) {
        gl_buf_append_str(&path, "?Qualifier=");
        gl_cli_append_encoded(&path, qualifier);
    }
    const char *extra = tail ? "X-Amz-Invocation-Type: RequestResponse\r\nX-Amz-Log-Type: Tail\r\n"
                             : "X-Amz-Invocation-Type: RequestResponse\r\n";
    int status = gl_cli_request_ex(endpoint, "POST", path.data, extra, event.data, event.len,
                                   INVOKE_TIMEOUT_MS, &body, &headers);
    if (status < 0) {
        fprintf(stderr, "galley invoke: cannot reach %s: %s\n", endpoint, strerror(-status));
        goto out;
    }
    if (status < 200 || status >= 300) {
        gl_cli_print_api_error("invoke", status, &headers, &body);
        goto out;
    }
    if (tail)
        print_tail(&headers);
    if (body.len) {
        fwrite(body.data, 1, body.len, stdout);
        if (body.data[body.len - 1] != '\n')
            fputc('\n', stdout);
    }
    fflush(stdout);
    char *ferr = gl_cli_header(&headers, "X-Amz-Function-Error");
    if (ferr) {
        fprintf(stderr, "galley invoke: function error (%s)\n", ferr);
        free(ferr);
        rc = 1;
    } else {
        rc = 0;
    }
out:
    gl_buf_free(&event);
    gl_buf_free(&path);
    gl_buf_free(&body);
    gl_buf_free(&headers);
    return rc;
}
