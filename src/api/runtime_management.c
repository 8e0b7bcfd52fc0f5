/* SPDX-License-Identifier: MIT */
/*
 * runtime_management.c: GetRuntimeManagementConfig and PutRuntimeManagementConfig: the runtime
 * update mode (Auto, FunctionUpdate, or Manual with a RuntimeVersionArn) of $LATEST or of one
 * published version, validated with Lambda's wording and kept per qualifier under the
 * registry's per-function setting "RuntimeManagement" (persisted, dropped with the function;
 * a deleted version's entry goes with it, see gl_api_forget_qualifier). galley runs the host's
 * interpreters, so there is no runtime version to pin: the setting is stored and returned only.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "galley/log.h"
#include "internal.h"

#define RUNTIME_MANAGEMENT "RuntimeManagement"
#define VERSION_ARN_RE                                                                             \
    "^arn:(aws[a-zA-Z-]*):lambda:[a-z]{2}((-gov)|(-iso(b?)))?-[a-z]+-[0-9]::runtime:.+$"
#define VERSION_ARN_MODEL                                                                          \
    "arn:(aws[a-zA-Z-]*):lambda:[a-z]{2}((-gov)|(-iso(b?)))?-[a-z]+-\\d{1}::runtime:.+"

/* The reply of both operations: UpdateRuntimeOn, FunctionArn (qualified, $LATEST too) and,
 * in Manual mode, RuntimeVersionArn. */
static void reply_config(gl_api_t *api, gl_http_req_t *req, const gl_fn_t *fn, const char *key,
                         const json_t *cfg)
{
    char arn[512];
    const char *mode = json_string_value(json_object_get(cfg, "UpdateRuntimeOn"));
    json_t *ver = json_object_get(cfg, "RuntimeVersionArn");
    gl_registry_fn_arn(api->reg, fn->cfg.name, key, arn, sizeof(arn));
    json_t *out =
        json_pack("{s:s,s:s}", "UpdateRuntimeOn", mode ? mode : "Auto", "FunctionArn", arn);
    if (out && ver && json_object_set(out, "RuntimeVersionArn", ver) < 0) {
        json_decref(out);
        out = NULL;
    }
    gl_api_reply_json(req, 200, out);
}

void gl_api_get_runtime_management(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    const char *key;
    gl_fn_t *fn = gl_api_qualified_target(api, req, &rt->ref, 0, &key);
    if (fn)
        reply_config(
            api, req, fn, key,
            json_object_get(gl_registry_setting(api->reg, fn->cfg.name, RUNTIME_MANAGEMENT), key));
}

static int version_arn_ok(const char *s)
{
    return strlen(s) >= 26 && strlen(s) <= 2048 && gl_api_matches(VERSION_ARN_RE, s);
}

/* The body as a stored config {UpdateRuntimeOn[, RuntimeVersionArn]} (new reference), or NULL
 * with aerr set. */
static json_t *requested_config(const json_t *body, gl_aws_error_t *aerr)
{
    gl_violations_t v;
    const json_t *m = json_object_get(body, "UpdateRuntimeOn");
    const json_t *a = json_object_get(body, "RuntimeVersionArn");
    const char *mode = json_string_value(m), *arn = json_string_value(a);
    gl_violations_init(&v, 10, 0);
    if (!m || json_is_null(m))
        gl_violation_add(&v, "Value null at 'updateRuntimeOn' failed to satisfy constraint: "
                             "Member must not be null");
    else if (!mode ||
             (strcmp(mode, "Auto") && strcmp(mode, "FunctionUpdate") && strcmp(mode, "Manual")))
        gl_violation_add(&v,
                         "Value '%.64s' at 'updateRuntimeOn' failed to satisfy constraint: "
                         "Member must satisfy enum value set: [Auto, Manual, FunctionUpdate]",
                         mode ? mode : "");
    if (a && !json_is_null(a) && (!arn || !version_arn_ok(arn)))
        gl_violation_add(
            &v,
            "Value '%.256s' at 'runtimeVersionArn' failed to satisfy "
            "constraint: Member must satisfy regular expression pattern: " VERSION_ARN_MODEL,
            arn ? arn : "");
    if (gl_violations_report(&v, aerr) < 0)
        return NULL;
    int manual = !strcmp(mode, "Manual");
    if (!manual)
        arn = NULL; /* only Manual pins a runtime version */
    if (manual && !arn) {
        gl_aws_error_set(aerr, GL_AWS_INVALID_PARAMETER_VALUE, EINVAL,
                         "RuntimeVersionArn is required when UpdateRuntimeOn is Manual.");
        return NULL;
    }
    json_t *cfg = manual ? json_pack("{s:s,s:s}", "UpdateRuntimeOn", mode, "RuntimeVersionArn", arn)
                         : json_pack("{s:s}", "UpdateRuntimeOn", mode);
    if (!cfg)
        gl_aws_error_set(aerr, GL_AWS_SERVICE, ENOMEM, "out of memory");
    return cfg;
}

void gl_api_put_runtime_management(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    const char *key;
    gl_aws_error_t aerr;
    gl_err_t err = {0};
    json_t *body = NULL, *cfg = NULL, *all = NULL;
    gl_fn_t *fn = gl_api_qualified_target(api, req, &rt->ref, 0, &key);

    if (!fn || gl_api_refuse_template(req, fn) < 0 || !(body = gl_api_body_object(req)))
        goto out;
    if (!(cfg = requested_config(body, &aerr))) {
        gl_http_reply_aws_err(req, &aerr);
        goto out;
    }
    const json_t *cur = gl_registry_setting(api->reg, fn->cfg.name, RUNTIME_MANAGEMENT);
    if (!(all = cur ? json_deep_copy(cur) : json_object()) || json_object_set(all, key, cfg) < 0) {
        gl_http_reply_aws_error(req, GL_AWS_SERVICE, "out of memory");
        goto out;
    }
    int rc = gl_registry_set_setting(api->reg, fn->cfg.name, RUNTIME_MANAGEMENT, all, &err);
    all = NULL; /* stolen */
    if (rc < 0) {
        gl_log_error("api: runtime management of %s: %s", fn->cfg.name, err.msg);
        gl_http_reply_aws_error(req, GL_AWS_SERVICE,
                                "Could not store the runtime management "
                                "config: %s",
                                strerror(err.code ? err.code : EIO));
        goto out;
    }
    reply_config(api, req, fn, key, cfg);
out:
    json_decref(all);
    json_decref(cfg);
    json_decref(body);
}
