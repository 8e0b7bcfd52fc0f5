/* SPDX-License-Identifier: MIT */
/*
 * ps.c: `galley ps`: the live execution environments of a running daemon, as a table or JSON,
 * and its spares (src/scheduler/spares.c), listed apart.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "galley/api.h"
#include "galley/cli.h"
#include "internal.h"

#define PS_USAGE                                                                                   \
    "usage: galley ps [--endpoint URL] [--state-dir DIR] [--json [--spares]]\n"                   \
    "  the table lists spares (pre-started interpreters) under the environments; --json prints\n" \
    "  the environments' array, with --spares {\"Environments\": [...], \"Spares\": [...]}"

static void print_age(char *out, size_t len, json_int_t ms)
{
    if (ms < 60000)
        snprintf(out, len, "%.1fs", (double)ms / 1000.0);
    else if (ms < 3600000)
        snprintf(out, len, "%lldm%02llds", (long long)(ms / 60000), (long long)(ms / 1000 % 60));
    else
        snprintf(out, len, "%lldh%02lldm", (long long)(ms / 3600000),
                 (long long)(ms / 60000 % 60));
}

/* Spares (pre-started interpreters no function has taken yet) under the environments, apart:
 * they belong to no function. */
static void print_spares(const json_t *spares)
{
    size_t i;
    json_t *e;
    if (!json_is_array(spares) || json_array_size(spares) == 0)
        return;
    printf("\n%-10s %-24s %-8s %-12s %8s %9s\n", "SPARE", "RUNTIME", "", "STATUS", "PID", "AGE");
    json_array_foreach(spares, i, e)
    {
        char age[32];
        print_age(age, sizeof(age), json_integer_value(json_object_get(e, "age_ms")));
        printf("%-10.8s %-24s %-8s %-12s %8lld %9s\n", json_string_value(json_object_get(e, "id")),
               json_string_value(json_object_get(e, "runtime")), "",
               json_string_value(json_object_get(e, "state")),
               (long long)json_integer_value(json_object_get(e, "pid")), age);
    }
}

int gl_cli_ps(int argc, char **argv)
{
    const char *endpoint = getenv("GALLEY_ENDPOINT"), *state_dir = NULL;
    int as_json = 0, spares_flag = 0;
    static const struct option opts[] = {
        {"spares", no_argument, NULL, 'S'},
        {"endpoint", required_argument, NULL, 'e'},
        {"json", no_argument, NULL, 'j'},
        {"state-dir", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'e': endpoint = optarg; break;
        case 'j': as_json = 1; break;
        case 'S': spares_flag = 1; break;
        case 's': state_dir = optarg; break;
        case 'h':
            puts(PS_USAGE);
            return 0;
        default:
            fputs(PS_USAGE "\n", stderr);
            return 2;
        }
    }
    if (!endpoint || !*endpoint)
        endpoint = GL_CLI_DEFAULT_ENDPOINT;
    gl_buf_t body = {0}, headers = {0};
    char *token = gl_cli_control_header(state_dir);
    int status = gl_cli_request_ex(endpoint, "GET", GL_API_GALLEY_PREFIX "/environments", token,
                                   NULL, 0, 10000, &body, &headers);
    free(token);
    if (status < 0 || status >= 400) {
        if (status < 0)
            fprintf(stderr, "galley ps: cannot reach %s: %s\n", endpoint, strerror(-status));
        else
            gl_cli_print_api_error("ps", status, &headers, &body);
        gl_buf_free(&body);
        gl_buf_free(&headers);
        return 1;
    }
    gl_buf_free(&headers);
    json_error_t jerr;
    json_t *doc = status == 200 ? json_loadb(body.data ? body.data : "", body.len, 0, &jerr) : NULL;
    json_t *envs = doc ? json_object_get(doc, "Environments") : NULL;
    if (!json_is_array(envs)) {
        fprintf(stderr, "galley ps: unexpected answer from %s (HTTP %d): %.200s\n", endpoint,
                status, body.data ? body.data : "");
        json_decref(doc);
        gl_buf_free(&body);
        return 1;
    }
    json_t *spares = json_object_get(doc, "Spares");
    if (as_json && spares_flag && json_is_array(spares)) {
        char *text = json_dumps(doc, JSON_INDENT(2));
        puts(text ? text : "{}");
        free(text);
    } else if (as_json) {
        char *text = json_dumps(envs, JSON_INDENT(2));
        puts(text ? text : "[]");
        free(text);
    } else {
        printf("%-10s %-24s %-8s %-12s %8s %9s %8s %8s\n", "ENV", "FUNCTION", "VERSION", "STATUS",
               "PID", "AGE", "INVOKES", "MEM(MB)");
        size_t i;
        json_t *e;
        json_array_foreach(envs, i, e)
        {
            char age[32];
            print_age(age, sizeof(age), json_integer_value(json_object_get(e, "age_ms")));
            printf("%-10.8s %-24s %-8s %-12s %8lld %9s %8lld %8lld\n",
                   json_string_value(json_object_get(e, "id")),
                   json_string_value(json_object_get(e, "function")),
                   json_string_value(json_object_get(e, "version")),
                   json_string_value(json_object_get(e, "status")),
                   (long long)json_integer_value(json_object_get(e, "pid")), age,
                   (long long)json_integer_value(json_object_get(e, "invokes")),
                   (long long)json_integer_value(json_object_get(e, "max_memory_mb")));
        }
        print_spares(spares);
    }
    json_decref(doc);
    gl_buf_free(&body);
    return 0;
}
