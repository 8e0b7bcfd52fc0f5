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
 * Qualifier) or a JSON body. Every error must come back as a Lambda error with a message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "galley/async.h"
#include "galley/registry.h"

/* The schema checks are statics of the handler's file: reach them as the unit tests do. */
#include "../src/api/event_invoke_config.c"

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
    if (rc == 0 && (strlen(ref.name) == 0 || strlen(ref.name) > GL_FN_NAME_MAX))
        abort(); /* accepted a name no function can have */
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
        cfg.env_vars = json_pack("{s:s}", "A", "1");
        gl_fn_config_defaults(&cfg);
    }
    must_have_message(gl_fn_config_from_request(body, &cfg, update, &e), &e);
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
    must_have_message(gl_alias_from_request(body, update, &a, &has_routing, &e), &e);
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
