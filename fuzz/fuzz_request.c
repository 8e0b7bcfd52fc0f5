/* SPDX-License-Identifier: MIT */
/*
 * fuzz_request.c: the control-plane and Invoke request parsing that runs on every client
 * body: FunctionName parsing (gl_registry_parse_fn_name, every form and the ?Qualifier merge),
 * CreateFunction / UpdateFunctionConfiguration bodies (gl_fn_config_from_request), the Code
 * member (gl_fn_code_from_request), CreateAlias / UpdateAlias bodies (gl_alias_from_request),
 * and Put/UpdateFunctionEventInvokeConfig's schema checks and destination ARNs
 * (event_invoke_config.c's check_int and destination_of, gl_async_check_destination).
 *
 * Input: byte 0 picks the parser; the rest is the FunctionName (up to a newline, then the
 * Qualifier) or a JSON body. Every error must come back as a Lambda error with a message,
 * and what is accepted must keep Lambda's limits: a function name is 1-64 of
 * [a-zA-Z0-9-_] (it names a directory of the state dir; '.' too where Lambda's 256-byte
 * form admits it), a qualifier [a-zA-Z0-9$_-]; a
 * configuration's timeout, memory and storage are in range and its variables' names match
 * [a-zA-Z][a-zA-Z0-9_]+; an alias name is 1-128 of [a-zA-Z0-9-_] and its weight in [0, 1].
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "galley/async.h"
#include "galley/registry.h"

/* The schema checks are statics of the handler's file: reach them as the unit tests do. */
#include "../src/api/event_invoke_config.c"

#define WORD "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

static void must(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "fuzz_request: accepted %s\n", what);
        abort();
    }
}

static int only(const char *s, const char *set) { return s[strspn(s, set)] == '\0'; }

static void must_have_message(int rc, const gl_aws_error_t *e)
{
    if (rc < 0 && e->msg[0] == '\0')
        abort(); /* a refusal the client could not read */
}

static void fn_name(const uint8_t *data, size_t size, int writes)
{
    char *text = strndup((const char *)data, size);
    char *qual = text ? strchr(text, '\n') : NULL;
    gl_fn_ref_t ref;
    gl_aws_error_t e = {0};
    if (!text)
        return;
    if (qual)
        *qual++ = '\0';
    int rc = gl_registry_parse_fn_name(text, qual, "us-east-1", "123456789012",
                                       writes ? 140 : 256, &ref, &e);
    must_have_message(rc, &e);
    if (rc == 0) {
        /* Lambda's NamespacedFunctionName (reads, 256) admits '.'; no function has one. */
        must(*ref.name && strlen(ref.name) <= GL_FN_NAME_MAX &&
                 only(ref.name, writes ? WORD "-_" : WORD "-_."),
             "a function name Lambda refuses");
        must(only(ref.qualifier, WORD "$_-"), "a qualifier Lambda refuses");
    }
    free(text);
}

static void fn_config(const json_t *body, int update)
{
    gl_fn_config_t cfg = {0};
    gl_aws_error_t e = {0};
    if (update) {
        cfg.name = strdup("fuzz");
        cfg.runtime = strdup("python3.12");
        cfg.handler = strdup("app.handler");
        cfg.role = strdup("arn:aws:iam::123456789012:role/fuzz");
        cfg.env_vars = json_pack("{s:s}", "STAGE", "1");
        gl_fn_config_defaults(&cfg);
    }
    int rc = gl_fn_config_from_request(body, &cfg, update, &e);
    must_have_message(rc, &e);
    if (rc == 0) {
        const char *key;
        json_t *val;
        must(cfg.timeout_s >= 1 && cfg.timeout_s <= 900, "a timeout out of range");
        must(cfg.memory_mb >= 128 && cfg.memory_mb <= 10240, "a memory size out of range");
        must(cfg.ephemeral_mb >= 512 && cfg.ephemeral_mb <= 10240, "a storage size out of range");
        json_object_foreach(cfg.env_vars, key, val)
            must(strlen(key) >= 2 && only(key, WORD "_") && !(key[0] >= '0' && key[0] <= '9') &&
                     key[0] != '_' && json_is_string(val),
                 "an environment variable Lambda refuses");
    }
    gl_fn_config_free(&cfg);
}

static void fn_code(const json_t *body)
{
    const char *b64;
    size_t len;
    gl_aws_error_t e = {0};
    must_have_message(gl_fn_code_from_request(body, &b64, &len, &e), &e);
}

static void alias(const json_t *body, int update)
{
    gl_alias_t a;
    int has_routing = 0;
    gl_aws_error_t e = {0};
    memset(&a, 0, sizeof(a));
    int rc = gl_alias_from_request(body, update, &a, &has_routing, &e);
    must_have_message(rc, &e);
    if (rc == 0 && a.name)
        must(*a.name && strlen(a.name) <= GL_ALIAS_NAME_MAX && only(a.name, WORD "-_") &&
                 !only(a.name, "0123456789"),
             "an alias name Lambda refuses");
    if (rc == 0 && a.extra_version)
        must(a.extra_weight >= 0.0 && a.extra_weight <= 1.0, "a routing weight out of [0, 1]");
    gl_alias_free(&a);
}

static void event_invoke_config(const json_t *body)
{
    gl_violations_t p;
    gl_aws_error_t e = {0};
    char target[256];
    if (!json_is_object(body))
        return;
    gl_violations_init(&p, INT_MAX, 0);
    check_int(&p, body, "MaximumRetryAttempts", "maximumRetryAttempts", 0, 2);
    check_int(&p, body, "MaximumEventAgeInSeconds", "maximumEventAgeInSeconds", 60, 21600);
    json_t *dc = json_object_get(body, "DestinationConfig");
    const char *ok = "", *fail = "";
    if (json_is_object(dc)) {
        ok = destination_of(&p, dc, "OnSuccess", "destinationConfig.onSuccess");
        fail = destination_of(&p, dc, "OnFailure", "destinationConfig.onFailure");
    }
    if (gl_violations_report(&p, &e) < 0) {
        must_have_message(-1, &e);
        return;
    }
    if (ok && *ok)
        gl_async_check_destination(ok, 0, target, sizeof(target));
    if (fail && *fail)
        gl_async_check_destination(fail, 1, target, sizeof(target));
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_quiet();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t sel = data[0] % 8;
    data++, size--;
    if (sel <= 1) {
        fn_name(data, size, sel);
        return 0;
    }
    json_t *body = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (!body)
        return 0;
    switch (sel) {
    case 2: fn_config(body, 0); break;
    case 3: fn_config(body, 1); break;
    case 4: fn_code(body); break;
    case 5: alias(body, 0); break;
    case 6: alias(body, 1); break;
    default: event_invoke_config(body); break;
    }
    json_decref(body);
    return 0;
}
