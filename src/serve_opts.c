/* SPDX-License-Identifier: MIT */
/*
 * serve_opts.c: `galley serve`'s options: the usage text, the option table and the parsing of
 * argv into a serve_opts_t, with each value checked and a bad one said on stderr (exit 2).
 * serve.c brings the daemon up from the result.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "galley/api.h"
#include "galley/log.h"
#include "galley/sbx.h"
#include "serve_internal.h"

static void serve_usage(FILE *f)
{
    fputs("usage: galley serve [options]\n"
          "  --listen ADDR:PORT       where the Lambda API listens (default 127.0.0.1:3001)\n"
          "  --state-dir DIR          created functions, logs (default ./.galley)\n"
          "  --template FILE          SAM template to serve (default ./template.yaml if present)\n"
          "  --parameter-overrides K=V  template parameter value (repeatable)\n"
          "  --idle-timeout SECONDS   stop environments idle this long (default 600; 0: every\n"
          "                           invoke gets a new environment)\n"
          "  --account-concurrency N  most invokes running at once (default 1000)\n"
          "  --async-time-scale F     divide every async retry delay, throttle backoff and\n"
          "                           event age limit by F (default 1; tests use 600)\n"
          "  --run-as USER            run every function as USER when galley is root (instead\n"
          "                           of a uid of its own per environment)\n"
          "  --uid-range FIRST:COUNT  uids environments run as, one each, when galley is root\n"
          "                           (default 100000:65536)\n"
          "  --isolate-network        give each environment a network namespace of its own\n"
          "  --no-watch               no hot reload of template functions' code directories\n"
          "  --no-sandbox             no namespaces, no seccomp filter, galley's own user\n"
          "  --no-cgroups             no cgroups: memory caps by an RSS watchdog, SIGSTOP freezing\n"
          "  --spares N               pre-started interpreters kept per runtime in use, for\n"
          "                           fast cold starts of python and nodejs (default 1; 0: none)\n"
          "  --no-spares              the same as --spares 0\n"
          "  --python PATH            interpreter for python3.x functions\n"
          "  --node PATH              interpreter for nodejs functions\n"
          "  --runtimes-dir DIR       where runtimes/<lang>/bootstrap live\n"
          "  --api-listen ADDR:PORT   the template's Api/HttpApi events (default 127.0.0.1:3000)\n"
          "  --url-host ADDR          address Function URL listeners bind (default 127.0.0.1)\n"
          "  --ready-file FILE        write the API's URL to FILE once listening (removed at exit)\n"
          "  --region REGION          region in ARNs (default $AWS_REGION or us-east-1)\n"
          "  --account-id ID          account in ARNs (default " DEFAULT_ACCOUNT ")\n"
          "  --auth sigv4|none        require SigV4-signed Lambda API requests (default none)\n"
          "  --credentials KEY:SECRET   a key pair --auth sigv4 accepts (repeatable)\n"
          "  --credentials-file FILE  more of them, one KEY:SECRET a line\n"
          "  --endpoint-env NAME=URL  a variable every function gets, e.g.\n"
          "                           AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:8000 (repeatable)\n"
          "  --debug FUNCTION[:PORT]  start FUNCTION's environments with its runtime's debugger\n"
          "                           on 127.0.0.1:PORT (default 9229; repeatable)\n"
          "  --log-level LEVEL        debug, info, warn or error (default info)\n",
          f);
}

/* ADDR:PORT into host (hostlen bytes) and *port_out. */
static int parse_addr(const char *s, char *host, size_t hostlen, int *port_out)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s || (size_t)(colon - s) >= hostlen)
        return -EINVAL;
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end || port < 0 || port > 65535)
        return -EINVAL;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    if (host[0] == '[') { /* [::1] */
        size_t l = strlen(host);
        if (host[l - 1] == ']') {
            memmove(host, host + 1, l - 2);
            host[l - 2] = '\0';
        }
    }
    *port_out = (int)port;
    return 0;
}

static int parse_listen(const char *s, serve_opts_t *o)
{
    return parse_addr(s, o->host, sizeof(o->host), &o->port);
}

enum {
    O_LISTEN = 1, O_STATE, O_TEMPLATE, O_IDLE, O_PYTHON, O_NODE, O_RUNTIMES, O_REGION,
    O_ACCOUNT, O_LOGLEVEL, O_PARAM, O_CONCURRENCY, O_ASYNC_SCALE, O_RUN_AS, O_ISOLATE_NET,
    O_NO_SANDBOX, O_NO_CGROUPS, O_NO_WATCH, O_HELP,
    O_AUTH, O_CREDENTIALS, O_CREDENTIALS_FILE, O_READY, O_UID_RANGE,
    O_ENDPOINT_ENV, O_DEBUG,
    O_URL_HOST, O_API_LISTEN,
    O_SPARES, O_NO_SPARES,
};

static const struct option longopts[] = {
    {"listen", required_argument, NULL, O_LISTEN},
    {"state-dir", required_argument, NULL, O_STATE},
    {"template", required_argument, NULL, O_TEMPLATE},
    {"idle-timeout", required_argument, NULL, O_IDLE},
    {"python", required_argument, NULL, O_PYTHON},
    {"node", required_argument, NULL, O_NODE},
    {"runtimes-dir", required_argument, NULL, O_RUNTIMES},
    {"region", required_argument, NULL, O_REGION},
    {"account-id", required_argument, NULL, O_ACCOUNT},
    {"log-level", required_argument, NULL, O_LOGLEVEL},
    {"parameter-overrides", required_argument, NULL, O_PARAM},
    {"account-concurrency", required_argument, NULL, O_CONCURRENCY},
    {"run-as", required_argument, NULL, O_RUN_AS},
    {"isolate-network", no_argument, NULL, O_ISOLATE_NET},
    {"no-sandbox", no_argument, NULL, O_NO_SANDBOX},
    {"no-cgroups", no_argument, NULL, O_NO_CGROUPS},
    {"no-watch", no_argument, NULL, O_NO_WATCH},
    {"async-time-scale", required_argument, NULL, O_ASYNC_SCALE},
    {"help", no_argument, NULL, O_HELP},
    {"auth", required_argument, NULL, O_AUTH},
    {"credentials", required_argument, NULL, O_CREDENTIALS},
    {"credentials-file", required_argument, NULL, O_CREDENTIALS_FILE},
    {"ready-file", required_argument, NULL, O_READY},
    {"uid-range", required_argument, NULL, O_UID_RANGE},
    {"endpoint-env", required_argument, NULL, O_ENDPOINT_ENV},
    {"debug", required_argument, NULL, O_DEBUG},
    {"url-host", required_argument, NULL, O_URL_HOST},
    {"api-listen", required_argument, NULL, O_API_LISTEN},
    {"spares", required_argument, NULL, O_SPARES},
    {"no-spares", no_argument, NULL, O_NO_SPARES},
    {NULL, 0, NULL, 0},
};

/* --endpoint-env NAME=URL: a variable name ([A-Za-z_][A-Za-z0-9_]*) and a value. */
static int parse_endpoint_env(const char *arg, serve_opts_t *o)
{
    const char *eq = strchr(arg, '=');
    size_t n = eq ? (size_t)(eq - arg) : 0;
    int ok = n > 0 && n < 128 && eq[1] && !(arg[0] >= '0' && arg[0] <= '9');
    for (size_t i = 0; ok && i < n; i++)
        ok = arg[i] == '_' || (arg[i] >= 'A' && arg[i] <= 'Z') ||
             (arg[i] >= 'a' && arg[i] <= 'z') || (arg[i] >= '0' && arg[i] <= '9');
    if (!ok) {
        fprintf(stderr, "galley: --endpoint-env wants NAME=URL, got '%s'\n", arg);
        return 2;
    }
    if (o->nendpoint_env == sizeof(o->endpoint_env) / sizeof(o->endpoint_env[0])) {
        fprintf(stderr, "galley: more than 32 --endpoint-env\n");
        return 2;
    }
    o->endpoint_env[o->nendpoint_env++] = arg;
    return 0;
}

/* --debug FUNCTION[:PORT]: a function name (1..64 characters) and a port (1..65535). */
static int parse_debug(const char *arg, serve_opts_t *o)
{
    const char *colon = strrchr(arg, ':');
    size_t n = colon ? (size_t)(colon - arg) : strlen(arg);
    long port = GL_API_DEBUG_PORT;
    char *end = NULL;
    if (colon)
        port = strtol(colon + 1, &end, 10);
    if (n < 1 || n > 64 || (colon && (!colon[1] || *end)) || port < 1 || port > 65535) {
        fprintf(stderr, "galley: --debug wants FUNCTION[:PORT] (PORT 1..65535), got '%s'\n",
                arg);
        return 2;
    }
    if (o->ndebug == sizeof(o->debug_port) / sizeof(o->debug_port[0])) {
        fprintf(stderr, "galley: more than 16 --debug\n");
        return 2;
    }
    snprintf(o->debug_fn[o->ndebug], sizeof(o->debug_fn[0]), "%.*s", (int)n, arg);
    o->debug_port[o->ndebug++] = (int)port;
    return 0;
}

/* An option with a value to check: 0, or 2 (the exit code) after saying what was wrong. */
static int parse_value(int c, const char *arg, serve_opts_t *o)
{
    char *end;
    switch (c) {
    case O_LISTEN:
        if (parse_listen(arg, o) < 0) {
            fprintf(stderr, "galley: --listen wants ADDR:PORT, got '%s'\n", arg);
            return 2;
        }
        return 0;
    case O_API_LISTEN:
        if (parse_addr(arg, o->api_host, sizeof(o->api_host), &o->api_port) < 0) {
            fprintf(stderr, "galley: --api-listen wants ADDR:PORT, got '%s'\n", arg);
            return 2;
        }
        o->api_listen_given = 1;
        return 0;
    case O_IDLE:
        o->idle_timeout_s = strtod(arg, &end);
        if (*end || o->idle_timeout_s < 0) {
            fprintf(stderr, "galley: --idle-timeout wants seconds, got '%s'\n", arg);
            return 2;
        }
        return 0;
    case O_CONCURRENCY: {
        unsigned long n = strtoul(arg, &end, 10);
        if (*end || n < 1 || n > 100000) {
            fprintf(stderr, "galley: --account-concurrency wants 1..100000, got '%s'\n", arg);
            return 2;
        }
        o->account_concurrency = (unsigned)n;
        return 0;
    }
    case O_SPARES: {
        unsigned long n = strtoul(arg, &end, 10);
        if (!*arg || *end || n > 16) {
            fprintf(stderr, "galley: --spares wants 0..16, got '%s'\n", arg);
            return 2;
        }
        o->spares = (unsigned)n;
        return 0;
    }
    case O_ASYNC_SCALE:
        o->async_time_scale = strtod(arg, &end);
        if (*end || !(o->async_time_scale >= 1e-3 && o->async_time_scale <= 1e6)) {
            fprintf(stderr, "galley: --async-time-scale wants 0.001..1000000, got '%s'\n", arg);
            return 2;
        }
        return 0;
    case O_AUTH:
        if (strcmp(arg, "sigv4") != 0 && strcmp(arg, "none") != 0) {
            fprintf(stderr, "galley: --auth wants sigv4 or none, got '%s'\n", arg);
            return 2;
        }
        o->auth_sigv4 = !strcmp(arg, "sigv4");
        return 0;
    case O_CREDENTIALS:
        if (o->ncredentials == sizeof(o->credentials) / sizeof(o->credentials[0])) {
            fprintf(stderr, "galley: more than 16 --credentials: use --credentials-file\n");
            return 2;
        }
        o->credentials[o->ncredentials++] = arg;
        return 0;
    case O_UID_RANGE:
        if (gl_sbx_parse_uid_range(arg, &o->uid_first, &o->uid_count) < 0) {
            fprintf(stderr, "galley: --uid-range wants FIRST:COUNT (FIRST >= 1, COUNT 1..%u), "
                            "got '%s'\n", GL_SBX_UID_RANGE_MAX, arg);
            return 2;
        }
        return 0;
    case O_ENDPOINT_ENV: return parse_endpoint_env(arg, o);
    case O_DEBUG: return parse_debug(arg, o);
    case O_LOGLEVEL: {
        enum gl_log_level lvl;
        if (gl_log_parse_level(arg, &lvl) < 0) {
            fprintf(stderr, "galley: unknown log level '%s'\n", arg);
            return 2;
        }
        gl_log_set_level(lvl);
        return 0;
    }
    }
    return 0;
}

/* Fill o from argv (argv[0] is "serve"). -1 to go on, else the exit code (0 after --help). */
int gl_serve_parse_opts(int argc, char **argv, serve_opts_t *o)
{
    *o = (serve_opts_t){.host = "127.0.0.1", .port = 3001, .api_host = "127.0.0.1",
                        .api_port = 3000, .state_dir = ".galley",
                        .idle_timeout_s = 600, .account_id = DEFAULT_ACCOUNT, .spares = 1};
    o->region = getenv("AWS_REGION");
    if (!o->region || !*o->region)
        o->region = getenv("AWS_DEFAULT_REGION");
    if (!o->region || !*o->region)
        o->region = "us-east-1";
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case O_LISTEN:
        case O_API_LISTEN:
        case O_IDLE:
        case O_CONCURRENCY:
        case O_ASYNC_SCALE:
        case O_SPARES:
        case O_LOGLEVEL:
        case O_AUTH:
        case O_CREDENTIALS:
        case O_UID_RANGE:
        case O_ENDPOINT_ENV:
        case O_DEBUG:
            if (parse_value(c, optarg, o) != 0)
                return 2;
            break;
        case O_STATE: o->state_dir = optarg; break;
        case O_TEMPLATE: o->template_path = optarg; break;
        case O_CREDENTIALS_FILE: o->credentials_file = optarg; break;
        case O_RUN_AS: o->run_as = optarg; break;
        case O_ISOLATE_NET: o->isolate_network = 1; break;
        case O_NO_SANDBOX: o->no_sandbox = 1; break;
        case O_NO_CGROUPS: o->no_cgroups = 1; break;
        case O_NO_WATCH: o->no_watch = 1; break;
        case O_NO_SPARES: o->no_spares = 1; break;
        case O_PYTHON: o->python = optarg; break;
        case O_NODE: o->node = optarg; break;
        case O_RUNTIMES: o->runtimes_dir = optarg; break;
        case O_READY: o->ready_file = optarg; break;
        case O_URL_HOST: o->url_host = optarg; break;
        case O_REGION: o->region = optarg; break;
        case O_ACCOUNT: o->account_id = optarg; break;
        case O_PARAM:
            if (o->noverrides < sizeof(o->overrides) / sizeof(o->overrides[0]))
                o->overrides[o->noverrides++] = optarg;
            break;
        case O_HELP: serve_usage(stdout); return 0;
        default: serve_usage(stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "galley: unexpected argument '%s'\n", argv[optind]);
        serve_usage(stderr);
        return 2;
    }
    if (o->auth_sigv4 != (o->ncredentials > 0 || o->credentials_file != NULL)) {
        fprintf(stderr, "galley: %s\n", o->auth_sigv4 ? "--auth sigv4 needs --credentials or "
                "--credentials-file" : "--credentials need --auth sigv4");
        return 2;
    }
    return -1;
}
