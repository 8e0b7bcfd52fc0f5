/* SPDX-License-Identifier: MIT */
/*
 * telemetry_sub.c: the subscription requests of the Telemetry API (PUT /2022-07-01/telemetry)
 * and the Logs API (PUT /2020-08-15/logs) on an environment's Runtime API: who asks (a
 * registered extension, by its Lambda-Extension-Identifier), when (during init only), through
 * which API (one per extension), the body's checks (telemetry_events.c) and the answer Lambda
 * gives. The subscriber itself, its queue and its deliveries are telemetry.c's.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "telemetry.h"

static void reply_ok(gl_http_req_t *req)
{
    static const char ok[] = "\"OK\"";
    gl_http_header_t h = {"Content-Type", "application/json"};
    gl_http_reply(req, 200, &h, 1, ok, sizeof(ok) - 1);
}

static const char *api_name(gl_tel_api_t api)
{
    return api == GL_TEL_API_LOGS ? "Logs" : "Telemetry";
}

/* The subscribing extension's name; NULL when the identifier names none (answered). */
static const char *extension_name(gl_env_t *env, gl_http_req_t *req)
{
    const char *id = gl_http_req_header(req, "lambda-extension-identifier");
    if (!id || !*id) {
        gl_rapi_reply_error(req, 403, "Extension.MissingExtensionIdentifier",
                            "Missing Lambda-Extension-Identifier header");
        return NULL;
    }
    gl_env_ext_t *ext = gl_env_ext_find(env, id);
    if (!ext) {
        gl_rapi_reply_error(req, 403, "Extension.InvalidExtensionIdentifier",
                            "Invalid Lambda-Extension-Identifier");
        return NULL;
    }
    return ext->name;
}

static json_t *types_json(unsigned types)
{
    static const char *const names[] = {"platform", "function", "extension"};
    json_t *a = json_array();
    for (unsigned i = 0; i < 3; i++)
        if (types & (1u << i))
            json_array_append_new(a, json_string(names[i]));
    return a;
}

/* The checks that need the environment: init still running, one API per extension. 1: the
 * extension is subscribed through this API already (answered "OK" again, nothing changes). */
static int may_subscribe(gl_env_t *env, gl_http_req_t *req, gl_tel_api_t api, const char *name)
{
    char type[64], msg[300];
    gl_tel_api_t had;
    if (env->initialized || (env->state != GL_ENV_STARTING && env->state != GL_ENV_INITIALIZING)) {
        snprintf(type, sizeof(type), "%s.SubscriptionClosed", api_name(api));
        snprintf(msg, sizeof(msg), "%s API subscription is closed already", api_name(api));
        gl_rapi_reply_error(req, 403, type, msg);
        return -1;
    }
    if (!gl_tel_subscribed(env, name, &had))
        return 0;
    if (had == api)
        return 1;
    snprintf(type, sizeof(type), "%s.AccessDenied", api_name(api));
    snprintf(msg, sizeof(msg),
             "The extension %s is already subscribed to the %sAPI. You must either subscribe "
             "to the LogsAPI or the TelemetryAPI",
             name, api_name(had));
    gl_rapi_reply_error(req, 400, type, msg);
    return -1;
}

void gl_env_tel_subscribe(gl_env_t *env, gl_http_req_t *req, gl_tel_api_t api)
{
    gl_tel_sub_cfg_t cfg;
    gl_tel_error_t err;
    const char *name = extension_name(env, req);
    int rc = name ? may_subscribe(env, req, api, name) : -1;
    if (rc < 0)
        return;
    if (gl_tel_parse_subscription(api, req->body.data, req->body.len, &cfg, &err) < 0) {
        gl_rapi_reply_error(req, err.status, err.type, err.msg);
        return;
    }
    if (rc == 1) { /* idempotent, as Lambda says: one subscription, the first settings */
        reply_ok(req);
        return;
    }
    if (gl_tel_add(env, name, &cfg) < 0) {
        gl_rapi_reply_error(req, 500, api == GL_TEL_API_LOGS ? "Logs.ServiceError"
                                                             : "Telemetry.ServiceError",
                            "out of memory");
        return;
    }
    json_t *rec = json_pack("{s:s,s:s,s:o}", "name", name, "state", "Subscribed", "types",
                            types_json(cfg.types));
    gl_env_tel_platform(env, "platform.telemetrySubscription", rec);
    json_decref(rec);
    reply_ok(req);
}
