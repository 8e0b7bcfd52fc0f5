/* SPDX-License-Identifier: MIT */
/*
 * recursion_config.c: GetFunctionRecursionConfig and PutFunctionRecursionConfig, a function's
 * RecursiveLoop setting ("Terminate" unless set to "Allow"), validated with Lambda's wording
 * and kept in the registry's per-function settings, so it persists and goes with the function.
 * galley does not detect recursive loops: the setting is stored and returned only.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "galley/log.h"
#include "internal.h"

#define RECURSIVE_LOOP "RecursiveLoop"
#define DEFAULT_RECURSIVE_LOOP "Terminate"
#define UNQUALIFIED_PATTERN                                                                        \
    "(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:)?(\\d{12}:)?" \
    "(function:)?([a-zA-Z0-9-_]+)"

/* The function named by rt, unqualified as the operation's FunctionName must be, or NULL
 * after replying: ValidationException for a qualifier, 404 for an unknown function. */
static gl_fn_t *function_of(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    const gl_fn_ref_t *ref = &rt->ref;
    if (ref->qualifier[0]) {
        char *raw = NULL;
        if (gl_url_decode(rt->fn_seg, rt->fn_len, &raw) < 0)
            raw = NULL;
        gl_http_reply_aws_error(req, GL_AWS_VALIDATION,
                                "1 validation error detected: Value '%s' at 'functionName' failed "
                                "to satisfy constraint: Member must satisfy regular expression "
                                "pattern: " UNQUALIFIED_PATTERN,
                                raw ? raw : ref->name);
        free(raw);
        return NULL;
    }
    return gl_api_find_function(api, req, ref->name);
}

static void reply_setting(gl_http_req_t *req, const char *value)
{
    gl_api_reply_json(req, 200, json_pack("{s:s}", RECURSIVE_LOOP, value));
}

void gl_api_get_recursion_config(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    gl_fn_t *fn = function_of(api, req, rt);
    if (!fn)
        return;
    const char *v = json_string_value(gl_registry_setting(api->reg, fn->cfg.name, RECURSIVE_LOOP));
    reply_setting(req, v ? v : DEFAULT_RECURSIVE_LOOP);
}

/* The body's RecursiveLoop, or NULL after replying Lambda's ValidationException. */
static const char *requested_value(gl_http_req_t *req, const json_t *body)
{
    const json_t *v = json_object_get(body, RECURSIVE_LOOP);
    const char *s = json_string_value(v);
    if (s && (!strcmp(s, "Allow") || !strcmp(s, "Terminate")))
        return s;
    if (!v || json_is_null(v))
        gl_http_reply_aws_error(req, GL_AWS_VALIDATION,
                                "1 validation error detected: Value null at 'recursiveLoop' "
                                "failed to satisfy constraint: Member must not be null");
    else if (!s)
        gl_http_reply_aws_error(req, GL_AWS_VALIDATION,
                                "1 validation error detected: Value at 'recursiveLoop' failed to "
                                "satisfy constraint: Member must be a string");
    else
        gl_http_reply_aws_error(req, GL_AWS_VALIDATION,
                                "1 validation error detected: Value '%s' at 'recursiveLoop' "
                                "failed to satisfy constraint: Member must satisfy enum value "
                                "set: [Allow, Terminate]",
                                s);
    return NULL;
}

void gl_api_put_recursion_config(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    gl_fn_t *fn = function_of(api, req, rt);
    json_t *body = NULL;
    const char *value;
    gl_err_t err = {0};

    if (!fn || gl_api_refuse_template(req, fn) < 0 || !(body = gl_api_body_object(req)))
        goto out;
    if (!(value = requested_value(req, body)))
        goto out;
    if (gl_registry_set_setting(api->reg, fn->cfg.name, RECURSIVE_LOOP, json_string(value),
                                &err) < 0) {
        gl_log_error("api: %s of %s: %s", RECURSIVE_LOOP, fn->cfg.name, err.msg);
        gl_http_reply_aws_error(req, GL_AWS_SERVICE, "Could not store the recursion config: %s",
                                strerror(err.code ? err.code : EIO));
        goto out;
    }
    reply_setting(req, value);
out:
    json_decref(body);
}
