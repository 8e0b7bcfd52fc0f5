/* SPDX-License-Identifier: MIT */
/*
 * rapi.c: routing of the Runtime API (2018-06-01) for one environment's listener: maps
 * each request to the environment's entry point (env.h), enforces the body limit while
 * reading, and answers what galley does not implement (extensions, telemetry) the way the
 * runtime interface emulator does.
 */
#include <string.h>

#include "galley/env.h"
#include "galley/rapi.h"

#define PREFIX "/2018-06-01/runtime/"

static size_t body_limit(gl_http_req_t *req, void *data)
{
    (void)req;
    (void)data;
    return GL_RAPI_MAX_RESPONSE;
}

/* "invocation/<id>/<what>" -> decoded id into buf, *what set; 0 or -1. */
static int split_invocation(const char *rest, char *id, size_t idlen, const char **what)
{
    const char *slash = strchr(rest, '/');
    if (!slash || slash == rest || strchr(slash + 1, '/'))
        return -1;
    char *decoded = NULL;
    if (gl_url_decode(rest, (size_t)(slash - rest), &decoded) < 0)
        return -1;
    size_t n = strlen(decoded);
    if (n >= idlen) {
        free(decoded);
        return -1;
    }
    memcpy(id, decoded, n + 1);
    free(decoded);
    *what = slash + 1;
    return 0;
}

static void on_request(gl_http_req_t *req, void *data)
{
    gl_env_t *env = data;
    const char *path = req->path;
    int is_get = strcmp(req->method_name, "GET") == 0;
    int is_post = strcmp(req->method_name, "POST") == 0;

    if (strncmp(path, PREFIX, sizeof(PREFIX) - 1) == 0) {
        const char *rest = path + sizeof(PREFIX) - 1;
        if (strcmp(rest, "invocation/next") == 0) {
            if (!is_get)
                goto not_allowed;
            gl_env_rapi_next(env, req);
            return;
        }
        if (strcmp(rest, "init/error") == 0) {
            if (!is_post)
                goto not_allowed;
            if (req->body_too_large) {
                gl_rapi_reply_error(req, 413, "RequestEntityTooLarge",
                                    "Exceeded maximum allowed payload size (6291556 bytes).");
                return;
            }
            gl_env_rapi_init_error(env, req);
            return;
        }
        if (strncmp(rest, "invocation/", 11) == 0) {
            char id[128];
            const char *what;
            if (split_invocation(rest + 11, id, sizeof(id), &what) < 0)
                goto not_found;
            if (!is_post)
                goto not_allowed;
            if (strcmp(what, "response") == 0 || strcmp(what, "error") == 0) {
                if (req->body_too_large)
                    gl_env_rapi_response_too_large(env, req, id);
                else if (what[0] == 'r')
                    gl_env_rapi_response(env, req, id);
                else
                    gl_env_rapi_error(env, req, id);
                return;
            }
        }
        goto not_found;
    }
    if (strcmp(path, "/2018-06-01/ping") == 0) {
        gl_http_reply(req, 200, NULL, 0, "pong", 4);
        return;
    }
    if (strncmp(path, "/2022-07-01/telemetry", 21) == 0) {
        gl_rapi_reply_error(req, 202, "Telemetry.NotSupported", "Telemetry API is not supported");
        return;
    }
    if (strncmp(path, "/2020-08-15/logs", 16) == 0) {
        gl_rapi_reply_error(req, 202, "Logs.NotSupported", "Logs API is not supported");
        return;
    }
    if (strncmp(path, "/2020-01-01/extension", 21) == 0) {
        gl_rapi_reply_error(req, 403, "Extension.NotSupported",
                            "The Extensions API is not supported by galley");
        return;
    }
not_found:
    gl_rapi_reply_error(req, 404, "InvalidRequest", "Unknown Runtime API path");
    return;
not_allowed:
    gl_rapi_reply_error(req, 405, "MethodNotAllowed", "Method not allowed for this path");
}

static const gl_http_handler_t handler = {
    .body_limit = body_limit,
    .on_request = on_request,
};

const gl_http_handler_t *gl_rapi_handler(void) { return &handler; }
