/* SPDX-License-Identifier: MIT */
/*
 * env_rapi.c: the Runtime API's entry points into an environment (env.h): checks of request
 * ids and states with the emulator's status codes and bodies, the bodies the caller gets for
 * runtime errors, and the events they feed to the state machine in env.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void gl_rapi_reply_error(gl_http_req_t *req, int status, const char *type, const char *msg)
{
    json_t *body = json_pack("{s:s, s:s}", "errorMessage", msg, "errorType", type);
    gl_http_reply_json(req, status, NULL, 0, body);
}

static void reply_accepted(gl_http_req_t *req)
{
    static const char ok[] = "{\"status\":\"OK\"}";
    gl_http_header_t h = {"Content-Type", "application/json"};
    gl_http_reply(req, 202, &h, 1, ok, sizeof(ok) - 1);
}

static void on_parked_abort(gl_http_req_t *req)
{
    gl_env_t *env = req->data;
    if (env->parked == req)
        env->parked = NULL;
}

void gl_env_rapi_next(gl_env_t *env, gl_http_req_t *req)
{
    req->data = env;
    req->on_abort = on_parked_abort;
    gl_env_handle(env, GL_ENV_EV_NEXT, req);
}

/* Shared checks of /response and /error: 0 when the id is the current invoke's. */
static int check_invoke_id(gl_env_t *env, gl_http_req_t *req, const char *request_id,
                           const char *attempted)
{
    if (env->state == GL_ENV_INVOKING && env->invoke &&
        strcmp(env->invoke->request_id, request_id) == 0)
        return 0;
    if (strcmp(env->last_request_id, request_id) == 0 && env->state == GL_ENV_RESPONDED) {
        char msg[160];
        snprintf(msg, sizeof(msg),
                 "State transition from RuntimeResponseSent to %s failed for runtime. "
                 "Error: State transition is not allowed",
                 attempted);
        gl_rapi_reply_error(req, 403, "InvalidStateTransition", msg);
        return -1;
    }
    if (env->state != GL_ENV_INVOKING && env->state != GL_ENV_RESPONDED &&
        env->state != GL_ENV_IDLE) {
        gl_rapi_reply_error(req, 403, "InvalidStateTransition",
                            "State transition is not allowed in the current state");
        return -1;
    }
    gl_rapi_reply_error(req, 400, "InvalidRequestID", "Invalid request ID");
    return -1;
}

void gl_env_rapi_response(gl_env_t *env, gl_http_req_t *req, const char *request_id)
{
    if (check_invoke_id(env, req, request_id, "InvocationResponse") < 0)
        return;
    gl_invoke_t *inv = env->invoke;
    gl_buf_free(&inv->result);
    inv->result = req->body;
    memset(&req->body, 0, sizeof(req->body));
    const char *ct = gl_http_req_header(req, "content-type");
    free(inv->content_type);
    inv->content_type = ct && *ct ? strdup(ct) : NULL;
    inv->function_error = 0;
    reply_accepted(req);
    gl_env_handle(env, GL_ENV_EV_RESPONSE, NULL);
}

static int valid_error_type(const char *t)
{
    /* (Runtime|Function)\.[A-Z][a-zA-Z]+ as the emulator accepts. */
    const char *rest;
    if (strncmp(t, "Runtime.", 8) == 0)
        rest = t + 8;
    else if (strncmp(t, "Function.", 9) == 0)
        rest = t + 9;
    else
        return 0;
    if (*rest < 'A' || *rest > 'Z')
        return 0;
    for (const char *p = rest + 1; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
            return 0;
    return rest[1] != '\0';
}

/* The error body the caller sees: the runtime's bytes, or Lambda's fallback when empty. */
static void take_error_body(gl_http_req_t *req, gl_buf_t *out)
{
    const char *type = gl_http_req_header(req, "lambda-runtime-function-error-type");
    gl_buf_free(out);
    if (req->body.len > 0) {
        *out = req->body;
        memset(&req->body, 0, sizeof(req->body));
        return;
    }
    json_t *body = json_pack("{s:s}", "errorMessage", "Unknown application error occurred");
    if (body && type && *type)
        json_object_set_new(body, "errorType", json_string(type));
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (text)
        gl_buf_append_str(out, text);
    free(text);
}

void gl_env_rapi_error(gl_env_t *env, gl_http_req_t *req, const char *request_id)
{
    if (check_invoke_id(env, req, request_id, "InvocationErrorResponse") < 0)
        return;
    gl_invoke_t *inv = env->invoke;
    const char *type = gl_http_req_header(req, "lambda-runtime-function-error-type");
    take_error_body(req, &inv->result);
    inv->function_error = 1;
    free(inv->error_type);
    inv->error_type = strdup(type && valid_error_type(type) ? type : "Runtime.Unknown");
    free(inv->content_type);
    inv->content_type = NULL;
    reply_accepted(req);
    gl_env_handle(env, GL_ENV_EV_ERROR, NULL);
}

void gl_env_rapi_init_error(gl_env_t *env, gl_http_req_t *req)
{
    if (env->state != GL_ENV_INITIALIZING) {
        gl_rapi_reply_error(req, 403, "InvalidStateTransition",
                            "State transition from Ready to InitError failed for runtime. "
                            "Error: State transition is not allowed");
        return;
    }
    const char *hdr = gl_http_req_header(req, "lambda-runtime-function-error-type");
    char type[128];
    snprintf(type, sizeof(type), "%s", hdr && valid_error_type(hdr) ? hdr : "Runtime.Unknown");
    if (env->invoke) {
        take_error_body(req, &env->invoke->result);
        free(env->invoke->content_type);
        env->invoke->content_type = NULL;
    }
    reply_accepted(req);
    gl_env_handle(env, GL_ENV_EV_INIT_ERROR, type);
}

void gl_env_rapi_response_too_large(gl_env_t *env, gl_http_req_t *req, const char *request_id)
{
    if (check_invoke_id(env, req, request_id, "InvocationResponse") < 0)
        return;
    char msg[128];
    snprintf(msg, sizeof(msg), "Exceeded maximum allowed payload size (%d bytes).", 6291556);
    gl_rapi_reply_error(req, 413, "RequestEntityTooLarge", msg);
    gl_invoke_set_error(env->invoke, "Function.ResponseSizeTooLarge",
                        "Response payload size exceeded maximum allowed payload size "
                        "(6291556 bytes).");
    gl_env_handle(env, GL_ENV_EV_ERROR, NULL);
}

