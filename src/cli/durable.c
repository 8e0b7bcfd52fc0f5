/* SPDX-License-Identifier: MIT */
/*
 * durable.c: `galley durable`, durable executions of a running daemon from the command line
 * (docs/durable.md): list (galley's control API, every function), show, history and stop (the
 * Lambda API's 2025-12-01 operations, so an AWS CLI too old to know them is not needed),
 * callback (SendDurableExecutionCallback*) and skip-waits (galley's fast-forward). Each prints
 * the daemon's JSON answer, indented, and exits 0; an API error prints Lambda's error name and
 * message on stderr and exits 1; a usage error exits 2 before anything is sent.
 */
#define _GNU_SOURCE
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "galley/api.h"
#include "galley/cli.h"
#include "internal.h"

#define TIMEOUT_MS 30000

static const char usage[] =
    "usage: galley durable COMMAND [ARG] [--endpoint URL] [--state-dir DIR]\n"
    "  list [--status S]           every durable execution (RUNNING, SUCCEEDED, FAILED, ...)\n"
    "  show ARN                    one execution: status, input, result or error\n"
    "  history ARN                 its events, with their payloads\n"
    "  stop ARN                    stop it (STOPPED)\n"
    "  skip-waits ARN              end its waits and make its step retries due now\n"
    "  callback ID --success JSON | --failure MESSAGE | --heartbeat\n"
    "                              complete (or keep alive) a waitForCallback\n"
    "  --endpoint URL   the daemon (default $GALLEY_ENDPOINT or " GL_CLI_DEFAULT_ENDPOINT ")\n"
    "  --state-dir DIR  the daemon's state dir, holding its control token\n";

typedef struct args {
    const char *endpoint, *state_dir, *status, *success, *failure;
    int heartbeat;
} args_t;

static int send_request(const args_t *a, const char *method, const char *path, const char *body)
{
    gl_buf_t reply = {0}, headers = {0}, extra = {0};
    char *token = gl_cli_control_header(a->state_dir);
    gl_buf_printf(&extra, "%s%s", body ? "Content-Type: application/json\r\n" : "",
                  token ? token : "");
    int status = gl_cli_request_ex(a->endpoint, method, path, extra.data, body,
                                   body ? strlen(body) : 0, TIMEOUT_MS, &reply, &headers);
    int rc = 1;
    free(token);
    gl_buf_free(&extra);
    if (status < 0) {
        fprintf(stderr, "galley durable: cannot reach %s: %s\n", a->endpoint, strerror(-status));
    } else if (status < 200 || status >= 300) {
        gl_cli_print_api_error("durable", status, &headers, &reply);
    } else {
        json_t *doc = reply.len ? json_loadb(reply.data, reply.len, 0, NULL) : json_object();
        char *pretty = doc ? json_dumps(doc, JSON_INDENT(2)) : NULL;
        json_decref(doc);
        puts(pretty ? pretty : "{}");
        free(pretty);
        rc = 0;
    }
    gl_buf_free(&reply);
    gl_buf_free(&headers);
    return rc;
}

/* The path for an execution's operation: /2025-12-01/durable-executions/<ARN>[suffix]. */
static void execution_path(gl_buf_t *path, const char *arn, const char *suffix)
{
    gl_buf_append_str(path, "/2025-12-01/durable-executions/");
    gl_cli_append_encoded(path, arn);
    gl_buf_append_str(path, suffix);
}

static int run(const args_t *a, const char *cmd, const char *arg)
{
    gl_buf_t path = {0};
    int rc;
    char *body = NULL;
    if (!strcmp(cmd, "list")) {
        gl_buf_append_str(&path, GL_API_GALLEY_PREFIX "/durable");
        if (a->status) {
            gl_buf_append_str(&path, "?Status=");
            gl_cli_append_encoded(&path, a->status);
        }
        rc = send_request(a, "GET", path.data, NULL);
    } else if (!strcmp(cmd, "show") || !strcmp(cmd, "history") || !strcmp(cmd, "stop")) {
        int stop = !strcmp(cmd, "stop");
        execution_path(&path, arg,
                       stop ? "/stop" : cmd[0] == 'h' ? "/history?IncludeExecutionData=true" : "");
        rc = send_request(a, stop ? "POST" : "GET", path.data, stop ? "{}" : NULL);
    } else if (!strcmp(cmd, "skip-waits")) {
        json_t *b = json_pack("{s:s}", "DurableExecutionArn", arg);
        body = b ? json_dumps(b, JSON_COMPACT) : NULL;
        json_decref(b);
        rc = send_request(a, "POST", GL_API_GALLEY_PREFIX "/durable/skip-waits", body);
    } else { /* callback */
        gl_buf_append_str(&path, "/2025-12-01/durable-execution-callbacks/");
        gl_cli_append_encoded(&path, arg);
        gl_buf_append_str(&path, a->success ? "/succeed" : a->failure ? "/fail" : "/heartbeat");
        json_t *b = a->failure ? json_pack("{s:s,s:s}", "ErrorType", "galley.durable",
                                           "ErrorMessage", a->failure)
                               : NULL;
        body = b ? json_dumps(b, JSON_COMPACT) : a->success ? strdup(a->success) : NULL;
        json_decref(b);
        rc = send_request(a, "POST", path.data, body);
    }
    free(body);
    gl_buf_free(&path);
    return rc;
}

int gl_cli_durable(int argc, char **argv)
{
    static const struct option opts[] = {
        {"endpoint", required_argument, NULL, 'E'}, {"state-dir", required_argument, NULL, 'S'},
        {"status", required_argument, NULL, 's'},   {"success", required_argument, NULL, 'o'},
        {"failure", required_argument, NULL, 'f'},  {"heartbeat", no_argument, NULL, 'b'},
        {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0}};
    args_t a = {.endpoint = getenv("GALLEY_ENDPOINT")};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'E': a.endpoint = optarg; break;
        case 'S': a.state_dir = optarg; break;
        case 's': a.status = optarg; break;
        case 'o': a.success = optarg; break;
        case 'f': a.failure = optarg; break;
        case 'b': a.heartbeat = 1; break;
        case 'h': fputs(usage, stdout); return 0;
        default: fputs(usage, stderr); return 2;
        }
    }
    if (!a.endpoint || !*a.endpoint)
        a.endpoint = GL_CLI_DEFAULT_ENDPOINT;
    const char *cmd = optind < argc ? argv[optind] : NULL;
    const char *arg = optind + 1 < argc ? argv[optind + 1] : NULL;
    static const char *const with_arg[] = {"show", "history", "stop", "skip-waits", "callback"};
    int known = cmd && !strcmp(cmd, "list"), needs = 0;
    for (size_t i = 0; cmd && i < sizeof(with_arg) / sizeof(with_arg[0]); i++)
        needs |= !strcmp(cmd, with_arg[i]);
    int kinds = !!a.success + !!a.failure + a.heartbeat;
    if (!(known || needs) || (needs && !arg) || (cmd && !strcmp(cmd, "callback") && kinds != 1)) {
        fprintf(stderr, "galley durable: %s\n",
                !cmd ? "a command is required"
                : !(known || needs) ? "unknown command"
                : !arg ? "an ARN (or callback id) is required"
                       : "callback needs exactly one of --success, --failure, --heartbeat");
        fputs(usage, stderr);
        return 2;
    }
    return run(&a, cmd, arg);
}
