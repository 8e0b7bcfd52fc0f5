/* SPDX-License-Identifier: MIT */
/*
 * code_signing_fn.c: PutFunctionCodeSigningConfig, GetFunctionCodeSigningConfig and
 * DeleteFunctionCodeSigningConfig on /2020-06-30/functions/{F}/code-signing-config: a
 * function's link to one code signing config (code_signing.c), kept as the registry's
 * per-function setting GL_API_CSC_SETTING, so it persists and goes with the function. Not
 * enforced: galley deploys unsigned code whatever the config says.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "galley/log.h"
#include "internal.h"

static void reply_link(gl_http_req_t *req, const char *fn_name, const char *arn)
{
    gl_api_reply_json(req, 200,
                      json_pack("{s:s,s:s}", "CodeSigningConfigArn", arn, "FunctionName", fn_name));
}

/* Set (arn) or clear (NULL) fn's link; 0, or -1 after replying a 500. */
static int store_link(gl_api_t *api, gl_http_req_t *req, const char *fn_name, const char *arn)
{
    gl_err_t err = {0};
    if (gl_registry_set_setting(api->reg, fn_name, GL_API_CSC_SETTING,
                                arn ? json_string(arn) : NULL, &err) < 0) {
        gl_log_error("api: code signing config of %s: %s", fn_name, err.msg);
        gl_http_reply_aws_error(req, GL_AWS_SERVICE,
                                "Could not store the function's code signing config: %s",
                                strerror(err.code ? err.code : EIO));
        return -1;
    }
    return 0;
}

void gl_api_put_function_csc(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    gl_fn_t *fn = gl_api_find_function(api, req, rt->ref.name);
    json_t *body = NULL;
    if (!fn || gl_api_refuse_template(req, fn) < 0 || !(body = gl_api_body_object(req)))
        goto out;
    const json_t *v = json_object_get(body, "CodeSigningConfigArn");
    const char *arn = json_string_value(v);
    if (!arn) {
        gl_http_reply_aws_error(req, GL_AWS_VALIDATION,
                                v && !json_is_null(v)
                                    ? "1 validation error detected: Value at "
                                      "'codeSigningConfigArn' failed to satisfy constraint: "
                                      "Member must be a string"
                                    : "1 validation error detected: Value null at "
                                      "'codeSigningConfigArn' failed to satisfy constraint: "
                                      "Member must not be null");
        goto out;
    }
    if (!gl_api_csc_id(api, req, arn, GL_AWS_CODE_SIGNING_CONFIG_NOT_FOUND))
        goto out;
    if (store_link(api, req, fn->cfg.name, arn) == 0)
        reply_link(req, fn->cfg.name, arn);
out:
    json_decref(body);
}

void gl_api_get_function_csc(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    gl_fn_t *fn = gl_api_find_function(api, req, rt->ref.name);
    if (!fn)
        return;
    const char *arn =
        json_string_value(gl_registry_setting(api->reg, fn->cfg.name, GL_API_CSC_SETTING));
    if (arn)
        reply_link(req, fn->cfg.name, arn);
    else /* as Lambda answers for a function without one: no members */
        gl_api_reply_json(req, 200, json_object());
}

void gl_api_delete_function_csc(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    gl_fn_t *fn = gl_api_find_function(api, req, rt->ref.name);
    if (!fn || gl_api_refuse_template(req, fn) < 0)
        return;
    if (gl_registry_setting(api->reg, fn->cfg.name, GL_API_CSC_SETTING) &&
        store_link(api, req, fn->cfg.name, NULL) < 0)
        return;
    gl_http_header_t h = {"x-amzn-RequestId", req->request_id};
    gl_http_reply(req, 204, &h, 1, NULL, 0);
}

int gl_api_csc_check_create(gl_api_t *api, gl_http_req_t *req, const json_t *body)
{
    const json_t *v = json_object_get(body, GL_API_CSC_SETTING);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v)) {
        gl_http_reply_aws_error(req, GL_AWS_INVALID_REQUEST_CONTENT,
                                "Could not parse request body into json: member "
                                "CodeSigningConfigArn must be a string");
        return -1;
    }
    const char *id =
        gl_api_csc_id(api, req, json_string_value(v), GL_AWS_CODE_SIGNING_CONFIG_NOT_FOUND);
    return id ? 0 : -1;
}
