/* SPDX-License-Identifier: MIT */
/*
 * env_rapi.c: the Runtime API (2018-06-01) of one environment, served on its own loopback
 * listener (the handler's data is the gl_env_t). Owns the router (one route table: path
 * pattern, method, handler), the entry points it calls (checks of request ids and states with
 * the emulator's status codes and bodies, the bodies the caller gets for runtime errors, the
 * events they feed to the state machine in env.c), the delivery of an invoke to the
 * runtime's parked /next, and the peer check at accept: a connection whose socket is not
 * owned by the environment's user is reset unread. The Extensions API's rows call env_ext.c,
 * the Telemetry and Logs APIs' subscriptions telemetry.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "galley/log.h"
#include "galley/rapi.h"
#include "galley/sbx.h"
#include "internal.h"
#include "telemetry.h"

/* The environment variable that turns the peer check off (benchmarks only). */
#define GL_RAPI_UNSAFE_NO_PEER_CHECK "GALLEY_UNSAFE_NO_RUNTIME_API_PEER_CHECK"

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

/* The 202 to an invocation's result may wait for the reply to a /next the runtime pipelined
 * behind it (galley's C runtime does): one write and one wake-up of the runtime for both. */
static void reply_result_accepted(gl_http_req_t *req)
{
    gl_http_req_may_hold_reply(req);
    reply_accepted(req);
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
    reply_result_accepted(req);
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
    reply_result_accepted(req);
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
    snprintf(msg, sizeof(msg), "Exceeded maximum allowed payload size (%d bytes).",
             GL_RAPI_MAX_RESPONSE);
    gl_rapi_reply_error(req, 413, "RequestEntityTooLarge", msg);
    gl_invoke_set_error(env->invoke, "Function.ResponseSizeTooLarge",
                        "Response payload size exceeded maximum allowed payload size "
                        "(6291556 bytes).");
    gl_env_handle(env, GL_ENV_EV_ERROR, NULL);
}

/* Answer the parked /next with the assigned invoke (its START line, once). */
void gl_env_deliver(gl_env_t *env)
{
    gl_invoke_t *inv = env->invoke;
    gl_http_req_t *req = env->parked;
    env->parked = NULL;
    snprintf(inv->env_id, sizeof(inv->env_id), "%s", env->id);
    req->on_abort = NULL;
    int64_t deadline = gl_now_ms() + (int64_t)env->fn->cfg.timeout_s * 1000;
    char deadline_s[24];
    snprintf(deadline_s, sizeof(deadline_s), "%" PRId64, deadline);
    gl_http_header_t h[8];
    size_t n = 0;
    h[n++] = (gl_http_header_t){"Content-Type", "application/json"};
    h[n++] = (gl_http_header_t){"Lambda-Runtime-Aws-Request-Id", inv->request_id};
    h[n++] = (gl_http_header_t){"Lambda-Runtime-Deadline-Ms", deadline_s};
    h[n++] = (gl_http_header_t){"Lambda-Runtime-Invoked-Function-Arn", inv->invoked_arn};
    if (inv->trace_id)
        h[n++] = (gl_http_header_t){"Lambda-Runtime-Trace-Id", inv->trace_id};
    if (inv->client_context)
        h[n++] = (gl_http_header_t){"Lambda-Runtime-Client-Context", inv->client_context};
    if (inv->cognito_identity)
        h[n++] = (gl_http_header_t){"Lambda-Runtime-Cognito-Identity", inv->cognito_identity};
    gl_env_log_start(env, inv);
    gl_http_reply(req, 200, h, n, inv->payload.data ? inv->payload.data : "{}",
                  inv->payload.data ? inv->payload.len : 2);
    /* The deadline is the caller's, armed when the invoke was assigned; an event is delivered
     * once (a second /next while INVOKING is refused in env.c). */
}

/*
 * A parked /next whose runtime shut its connection down (EOF) will never read an event: a
 * runtime that gave up on it calls /next again on a new connection. The event waits for that
 * one rather than being lost there, since a second /next during the invoke is refused. The
 * abandoned request is answered (its connection closes) and 1 returned.
 */
int gl_env_drop_abandoned_next(gl_env_t *env)
{
    gl_http_req_t *req = env->parked;
    if (!gl_http_req_peer_done(req))
        return 0;
    env->parked = NULL;
    req->on_abort = NULL;
    gl_rapi_reply_error(req, 400, "InvalidRequest",
                        "The /next connection was shut down before an event came");
    return 1;
}

/* ---- the router ---- */

#define RUNTIME "/2018-06-01/runtime/"
#define EXTENSION "/2020-01-01/extension/"

static void on_next(gl_env_t *env, gl_http_req_t *req, const char *id)
{
    (void)id;
    gl_env_rapi_next(env, req);
}

static void on_init_error(gl_env_t *env, gl_http_req_t *req, const char *id)
{
    (void)id;
    if (req->body_too_large)
        gl_rapi_reply_error(req, 413, "RequestEntityTooLarge",
                            "Exceeded maximum allowed payload size (6291556 bytes).");
    else
        gl_env_rapi_init_error(env, req);
}

static void on_response(gl_env_t *env, gl_http_req_t *req, const char *id)
{
    if (gl_env_stream_end(env, req) == 0)
        return; /* a streamed response, answered */
    if (req->body_too_large)
        gl_env_rapi_response_too_large(env, req, id);
    else
        gl_env_rapi_response(env, req, id);
}

static void on_error(gl_env_t *env, gl_http_req_t *req, const char *id)
{
    if (req->body_too_large)
        gl_env_rapi_response_too_large(env, req, id);
    else
        gl_env_rapi_error(env, req, id);
}

static void on_not_found(gl_env_t *env, gl_http_req_t *req, const char *id)
{
    (void)env;
    (void)id;
    gl_rapi_reply_error(req, 404, "InvalidRequest", "Unknown Runtime API path");
}

static void on_ping(gl_env_t *env, gl_http_req_t *req, const char *id)
{
    (void)env;
    (void)id;
    gl_http_reply(req, 200, NULL, 0, "pong", 4);
}

/* PUT /2022-07-01/telemetry and /2020-08-15/logs, with or without the trailing '/' the
 * documentation's endpoint carries (telemetry.c). */
static void subscribe(gl_env_t *env, gl_http_req_t *req, size_t prefix, gl_tel_api_t api)
{
    const char *rest = req->path + prefix;
    if (strcmp(rest, "") && strcmp(rest, "/"))
        on_not_found(env, req, NULL);
    else if (strcmp(req->method_name, "PUT"))
        gl_rapi_reply_error(req, 405, "MethodNotAllowed", "Method not allowed for this path");
    else
        gl_env_tel_subscribe(env, req, api);
}

static void on_telemetry(gl_env_t *env, gl_http_req_t *req, const char *id)
{
    (void)id;
    subscribe(env, req, strlen("/2022-07-01/telemetry"), GL_TEL_API_TELEMETRY);
}

static void on_logs(gl_env_t *env, gl_http_req_t *req, const char *id)
{
    (void)id;
    subscribe(env, req, strlen("/2020-08-15/logs"), GL_TEL_API_LOGS);
}

/* The Extensions API: env_ext.c. */
static void on_ext_register(gl_env_t *env, gl_http_req_t *req, const char *id)
{
    (void)id;
    gl_env_ext_register(env, req);
}

static void on_ext_next(gl_env_t *env, gl_http_req_t *req, const char *id)
{
    (void)id;
    gl_env_ext_next(env, req);
}

static void on_ext_init_error(gl_env_t *env, gl_http_req_t *req, const char *id)
{
    (void)id;
    gl_env_ext_error(env, req, 1);
}

static void on_ext_exit_error(gl_env_t *env, gl_http_req_t *req, const char *id)
{
    (void)id;
    gl_env_ext_error(env, req, 0);
}

/*
 * One row per operation. In a path, "{id}" is one non-empty segment (the request id, URL-
 * decoded), "{*}" the rest of a segment, and a final '*' the rest of the path. A path that
 * matches a row but none with its method gets 405; a path that matches no row gets 404.
 */
static const struct route {
    const char *path;
    const char *method; /* NULL: any */
    void (*handle)(gl_env_t *env, gl_http_req_t *req, const char *id);
} routes[] = {
    {RUNTIME "invocation/next", "GET", on_next},
    {RUNTIME "init/error", "POST", on_init_error},
    {RUNTIME "invocation/{id}/response", "POST", on_response},
    {RUNTIME "invocation/{id}/error", "POST", on_error},
    {RUNTIME "invocation/{id}/{*}", "POST", on_not_found},
    {"/2018-06-01/ping", NULL, on_ping},
    {"/2022-07-01/telemetry*", NULL, on_telemetry},
    {"/2020-08-15/logs*", NULL, on_logs},
    /* The Extensions API (env_ext.c) */
    {EXTENSION "register", "POST", on_ext_register},
    {EXTENSION "event/next", "GET", on_ext_next},
    {EXTENSION "init/error", "POST", on_ext_init_error},
    {EXTENSION "exit/error", "POST", on_ext_exit_error},
};

/* Whether path matches pattern; *id and *idlen get the raw "{id}" segment. */
static int match(const char *pat, const char *path, const char **id, size_t *idlen)
{
    while (*pat) {
        if (pat[0] == '{' && strncmp(pat, "{id}", 4) == 0) {
            size_t n = strcspn(path, "/");
            if (n == 0)
                return 0;
            *id = path;
            *idlen = n;
            path += n;
            pat += 4;
        } else if (pat[0] == '{' && strncmp(pat, "{*}", 3) == 0) {
            path += strcspn(path, "/");
            pat += 3;
        } else if (pat[0] == '*' && pat[1] == '\0') {
            return 1;
        } else if (*pat++ != *path++) {
            return 0;
        }
    }
    return *path == '\0';
}

/* The request id of a matched row, decoded into id; -1 when it does not decode or fit. */
static int decode_id(const char *raw, size_t len, char *id, size_t size)
{
    char *decoded = NULL;
    if (!raw) {
        id[0] = '\0';
        return 0;
    }
    if (len < size && !memchr(raw, '%', len)) { /* nothing to decode: the usual id */
        memcpy(id, raw, len);
        id[len] = '\0';
        return 0;
    }
    if (gl_url_decode(raw, len, &decoded) < 0)
        return -1;
    size_t n = strlen(decoded);
    if (n < size)
        memcpy(id, decoded, n + 1);
    free(decoded);
    return n < size ? 0 : -1;
}

static void on_request(gl_http_req_t *req, void *data)
{
    char id[128];
    int path_known = 0;
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        const char *raw = NULL;
        size_t rawlen = 0;
        if (!match(routes[i].path, req->path, &raw, &rawlen))
            continue;
        if (decode_id(raw, rawlen, id, sizeof(id)) < 0)
            break; /* an id that cannot be one: unknown path */
        if (routes[i].method && strcmp(req->method_name, routes[i].method) != 0) {
            path_known = 1;
            continue;
        }
        routes[i].handle(data, req, id);
        return;
    }
    if (path_known)
        gl_rapi_reply_error(req, 405, "MethodNotAllowed", "Method not allowed for this path");
    else
        on_not_found(data, req, NULL);
}

/* The head of the current invoke's /response: platform.runtimeDone's responseLatency ends
 * and its responseDuration begins (telemetry.c). */
static void note_response_begun(gl_env_t *env, const char *request_id)
{
    gl_invoke_t *inv = env->invoke;
    if (inv && !inv->response_begun_ns && strcmp(inv->request_id, request_id) == 0)
        inv->response_begun_ns = gl_mono_ns();
}

static size_t body_limit(gl_http_req_t *req, void *data)
{
    const char *raw = NULL;
    size_t rawlen = 0;
    char id[128];

    if (strcmp(req->method_name, "POST") == 0 &&
        match(RUNTIME "invocation/{id}/response", req->path, &raw, &rawlen) &&
        decode_id(raw, rawlen, id, sizeof(id)) == 0) {
        note_response_begun(data, id);
        /* A streaming /response is read piece by piece (env_stream.c): no limit here. */
        if (gl_env_stream_begin(data, req, id))
            return SIZE_MAX;
    }
    return GL_RAPI_MAX_RESPONSE;
}

/*
 * The peer check, once per accepted connection: only the environment's own processes may be
 * its runtime. On the host's loopback anyone can connect, so the connecting socket's owner
 * (gl_http_peer_uid) must be the environment's uid; with per-environment uids
 * (gl_sbx_user_per_env) that excludes every other environment and host process. A listener
 * in the environment's own network namespace (--isolate-network) is reachable from nowhere
 * else, and the daemon's netlink socket could not see the peer there: no check
 * (s->rapi_peer_check is 0, as on a host whose kernel does not answer sock_diag, said at start).
 */
void gl_env_rapi_prepare(gl_sched_t *s)
{
    gl_err_t err = {0};
    if (gl_sbx_isolates_network(s->opts.sbx))
        return; /* not needed: nothing outside an environment reaches its listener */
    /* For bench/peer-check only (docs/sandbox.md): the same daemon without the check, so its
     * cost can be measured against it in one run. Never listed in --help. */
    const char *off = getenv(GL_RAPI_UNSAFE_NO_PEER_CHECK);
    if (off && strcmp(off, "1") == 0) {
        gl_log_warn("UNSAFE: " GL_RAPI_UNSAFE_NO_PEER_CHECK "=1: the Runtime API peer check is "
                    "OFF: any local process (another function included) can take an "
                    "environment's events and post its responses. For benchmarks only; never "
                    "run functions you do not trust like this");
        return;
    }
    if (gl_http_peer_probe(&err) == 0) {
        s->rapi_peer_check = 1;
        return;
    }
    gl_log_warn("runtime API: cannot check who connects (%s): any local process can take an "
                "environment's events and post its responses; --isolate-network keeps each "
                "Runtime API inside its environment",
                err.msg);
}

static int on_accept(int fd, void *data)
{
    gl_env_t *env = data;
    uid_t uid = (uid_t)-1;
    int rc;

    if (!env->sched->rapi_peer_check)
        return 0;
    if ((rc = gl_http_peer_uid(fd, &uid)) == 0 && uid == env->user.uid)
        return 0;
    /* Once per environment: a hostile function can connect as often as it likes. */
    if (env->rapi_refused++ == 0) {
        if (rc < 0)
            gl_log_error("env=%.8s fn=%s: refused a Runtime API connection: its owner cannot "
                         "be checked (sock_diag: %s)",
                         env->id, env->fn->cfg.name, strerror(-rc));
        else
            gl_log_warn("env=%.8s fn=%s: refused a Runtime API connection from uid %u (the "
                        "environment runs as uid %u)",
                        env->id, env->fn->cfg.name, (unsigned)uid, (unsigned)env->user.uid);
    }
    return -EACCES;
}

static const gl_http_handler_t handler = {
    .body_limit = body_limit,
    .on_request = on_request,
    .on_accept = on_accept,
};

const gl_http_handler_t *gl_rapi_handler(void) { return &handler; }
