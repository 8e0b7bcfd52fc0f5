/* SPDX-License-Identifier: MIT */
/*
 * env_ext.c: the Extensions API (2020-01-01) of one environment: the registered extensions
 * (gl_env_ext_t, listed in env->ext), /extension/register, /extension/event/next (each
 * extension's parked request and the event it has not taken yet), /extension/init/error and
 * /extension/exit/error, and the INVOKE and SHUTDOWN events, with the emulator's status codes
 * and error types. What the extensions' readiness means for the environment (init done, the
 * next invoke, freezing, shutdown grace) is decided in env.c, which this file tells through
 * the EXT_READY and EXT_FAILED events.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "galley/log.h"
#include "internal.h"

#define MAX_EXTENSIONS 10 /* Lambda's limit */

static void reply_accepted(gl_http_req_t *req)
{
    static const char ok[] = "{\"status\":\"OK\"}";
    gl_http_header_t h = {"Content-Type", "application/json"};
    gl_http_reply(req, 202, &h, 1, ok, sizeof(ok) - 1);
}

static void forbid(gl_http_req_t *req, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void forbid(gl_http_req_t *req, const char *type, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    gl_rapi_reply_error(req, 403, type, msg);
}

int gl_env_ext_valid_id(const char *s)
{
    if (strlen(s) != GL_UUID_LEN)
        return 0;
    for (int i = 0; i < GL_UUID_LEN; i++) {
        int dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? s[i] != '-' : !isxdigit((unsigned char)s[i]))
            return 0;
    }
    return 1;
}

gl_env_ext_t *gl_env_ext_find(gl_env_t *env, const char *identifier)
{
    for (gl_env_ext_t *x = env->ext.list; identifier && x; x = x->next)
        if (strcasecmp(x->id, identifier) == 0)
            return x;
    return NULL;
}

static gl_env_ext_t *find_by_name(gl_env_t *env, const char *name)
{
    for (gl_env_ext_t *x = env->ext.list; x; x = x->next)
        if (strcmp(x->name, name) == 0)
            return x;
    return NULL;
}

/* The caller's extension from Lambda-Extension-Identifier, or NULL with the 403 sent. */
static gl_env_ext_t *caller(gl_env_t *env, gl_http_req_t *req)
{
    const char *id = gl_http_req_header(req, "lambda-extension-identifier");
    gl_env_ext_t *x;
    if (!id || !*id)
        forbid(req, "Extension.MissingExtensionIdentifier",
               "Missing Lambda-Extension-Identifier header");
    else if (!gl_env_ext_valid_id(id))
        forbid(req, "Extension.InvalidExtensionIdentifier", "Invalid Lambda-Extension-Identifier");
    else if (!(x = gl_env_ext_find(env, id)))
        forbid(req, "Extension.UnknownExtensionIdentifier", "Unknown extension %s", id);
    else
        return x;
    return NULL;
}

int gl_env_ext_parse_events(const char *body, size_t len, int external, unsigned *events,
                            const char **type, char *msg, size_t msglen)
{
    json_error_t jerr;
    json_t *root = json_loadb(body ? body : "", len, 0, &jerr), *list, *e;
    size_t i;
    int rc = -1;
    *events = 0;
    *type = "InvalidRequestFormat";
    if (!root || !json_is_object(root)) {
        snprintf(msg, msglen, "%s", root ? "the body is not a JSON object" : jerr.text);
        goto out;
    }
    if (json_array_size(json_object_get(root, "configurationKeys")) > 0) {
        snprintf(msg, msglen, "configurationKeys are deprecated; use environment variables instead");
        goto out;
    }
    list = json_object_get(root, "events");
    if (list && !json_is_array(list) && !json_is_null(list)) {
        snprintf(msg, msglen, "events: expected an array of strings");
        goto out;
    }
    json_array_foreach(list, i, e)
    {
        const char *name = json_is_string(e) ? json_string_value(e) : "";
        if (strcmp(name, "INVOKE") == 0) {
            *events |= GL_ENV_EXT_INVOKE;
        } else if (strcmp(name, "SHUTDOWN") == 0 && external) {
            *events |= GL_ENV_EXT_SHUTDOWN;
        } else { /* internal extensions get INVOKE only, as Lambda's */
            *type = "Extension.InvalidEventType";
            snprintf(msg, msglen, "%s: ErrorInvalidEventType", json_is_string(e) ? name : "?");
            goto out;
        }
    }
    rc = 0;
out:
    json_decref(root);
    return rc;
}

/* An external extension is one launched from /opt/extensions: its name is the file's. */
static int is_external(const gl_env_t *env, const char *name)
{
    const char *opt = env->fn->cfg.opt_dir;
    char path[4096];
    if (!opt || strchr(name, '/') || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return 0;
    snprintf(path, sizeof(path), "%s/extensions/%s", opt, name);
    return access(path, F_OK) == 0;
}

static void reply_registered(gl_env_t *env, gl_http_req_t *req, const gl_env_ext_t *x)
{
    const gl_fn_config_t *c = &env->fn->cfg;
    json_t *body = json_pack("{s:s,s:s,s:s}", "functionName", c->name, "functionVersion",
                             env->fn->version, "handler", c->handler ? c->handler : "");
    const char *feat = gl_http_req_header(req, "lambda-extension-accept-feature");
    if (body && feat && strstr(feat, "accountId") && env->sched->opts.account_id)
        json_object_set_new(body, "accountId", json_string(env->sched->opts.account_id));
    gl_http_header_t h = {"Lambda-Extension-Identifier", x->id};
    gl_http_reply_json(req, 200, &h, 1, body);
}

void gl_env_ext_register(gl_env_t *env, gl_http_req_t *req)
{
    const char *name = gl_http_req_header(req, "lambda-extension-name"), *type;
    unsigned events;
    char msg[200];
    if (!name || !*name) {
        forbid(req, "Extension.InvalidExtensionName", "Empty extension name");
        return;
    }
    int external = is_external(env, name);
    if (gl_env_ext_parse_events(req->body.data, req->body.len, external, &events, &type, msg,
                                sizeof(msg)) < 0) {
        forbid(req, type, "%s", msg);
        return;
    }
    if (env->ext.closed || env->state != GL_ENV_INITIALIZING) {
        forbid(req, "Extension.RegistrationClosed", "Extension registration closed already");
        return;
    }
    if (strlen(name) >= sizeof(((gl_env_ext_t *)0)->name)) {
        forbid(req, "Extension.InvalidExtensionName", "Extension name too long");
        return;
    }
    if (find_by_name(env, name)) {
        forbid(req, "Extension.InvalidExtensionState", "Extension with this name already registered");
        return;
    }
    if (env->ext.count >= MAX_EXTENSIONS) {
        forbid(req, "Extension.TooManyExtensions", "Extension limit (%d) reached", MAX_EXTENSIONS);
        return;
    }
    gl_env_ext_t *x = calloc(1, sizeof(*x)), **tail = &env->ext.list;
    if (!x) {
        gl_rapi_reply_error(req, 500, "InternalError", "out of memory");
        return;
    }
    gl_uuid4(x->id);
    snprintf(x->name, sizeof(x->name), "%s", name);
    x->external = external;
    x->events = events;
    x->env = env;
    while (*tail)
        tail = &(*tail)->next;
    *tail = x;
    env->ext.count++;
    gl_log_debug("env=%.8s fn=%s: %s extension %s registered (%s)", env->id, env->fn->cfg.name,
                 external ? "external" : "internal", name, x->id);
    reply_registered(env, req, x);
    unsigned registered = 0;
    for (gl_env_ext_t *y = env->ext.list; y; y = y->next)
        registered += y->external;
    if (external && registered >= env->ext.expected)
        gl_env_ext_release_runtime(env);
}

void gl_env_ext_release_runtime(gl_env_t *env)
{
    uv_os_fd_t fd;
    if (env->ext.runtime_released || !env->ext.out.loop ||
        uv_fileno((uv_handle_t *)&env->ext.out, &fd) != 0)
        return;
    env->ext.runtime_released = 1;
    /* One byte into an empty socket buffer: it cannot block or fall short. */
    if (send(fd, "\n", 1, MSG_NOSIGNAL | MSG_DONTWAIT) != 1)
        gl_log_warn("env=%.8s fn=%s: starting the runtime after its extensions: %s", env->id,
                    env->fn->cfg.name, strerror(errno));
}

static void on_parked_abort(gl_http_req_t *req)
{
    gl_env_ext_t *x = req->data;
    if (x->parked == req)
        x->parked = NULL; /* it stays waiting: its next /event/next gets the next event */
}

/* Answer an extension's /event/next with event (taken). */
static void send_event(gl_http_req_t *req, char *event)
{
    char eid[GL_UUID_LEN + 1];
    gl_uuid4(eid);
    gl_http_header_t h[2] = {{"Content-Type", "application/json"},
                             {"Lambda-Extension-Event-Identifier", eid}};
    gl_http_reply(req, 200, h, 2, event, strlen(event));
    free(event);
}

/* Give x an event (taken): now if it waits in /event/next, else at its next call. */
static void give(gl_env_ext_t *x, char *event)
{
    if (!event)
        return;
    x->waiting = 0;
    if (x->parked) {
        gl_http_req_t *req = x->parked;
        x->parked = NULL;
        req->on_abort = NULL;
        send_event(req, event);
        return;
    }
    free(x->pending);
    x->pending = event;
}

void gl_env_ext_next(gl_env_t *env, gl_http_req_t *req)
{
    gl_env_ext_t *x = caller(env, req);
    if (!x)
        return;
    if (x->parked) {
        forbid(req, "Extension.InvalidExtensionState",
               "State transition from Ready to Ready failed for extension %s. Error: State "
               "transition is not allowed",
               x->id);
        return;
    }
    if (x->pending) {
        char *event = x->pending;
        x->pending = NULL;
        send_event(req, event);
        return;
    }
    x->parked = req;
    req->data = x;
    req->on_abort = on_parked_abort;
    if (!x->waiting) {
        x->waiting = 1;
        gl_env_handle(env, GL_ENV_EV_EXT_READY, x);
    }
}

void gl_env_ext_error(gl_env_t *env, gl_http_req_t *req, int at_init)
{
    gl_env_ext_t *x = caller(env, req);
    if (!x)
        return;
    const char *type = gl_http_req_header(req, "lambda-extension-function-error-type");
    if (!type || !*type) {
        forbid(req, "Extension.MissingHeader", "Lambda-Extension-Function-Error-Type not found");
        return;
    }
    if (at_init && env->ext.closed) {
        forbid(req, "Extension.InvalidExtensionState",
               "State transition from Ready to InitError failed for extension %s. Error: State "
               "transition is not allowed",
               x->id);
        return;
    }
    char msg[300];
    gl_log_debug("env=%.8s fn=%s: extension %s reported %s (%s)", env->id, env->fn->cfg.name,
                 x->name, at_init ? "an init error" : "an exit error", type);
    snprintf(msg, sizeof(msg), "Extension %s: %s", x->name, type);
    reply_accepted(req);
    gl_env_failure_t f = {at_init ? "Extension.InitError" : "Extension.ExitError", msg};
    gl_env_handle(env, GL_ENV_EV_EXT_FAILED, &f);
}

void gl_env_ext_log_ready(gl_env_t *env)
{
    for (gl_env_ext_t *x = env->ext.list; x; x = x->next) {
        unsigned e = x->events;
        const char *inv = e & GL_ENV_EXT_INVOKE ? "INVOKE" : NULL;
        const char *sd = e & GL_ENV_EXT_SHUTDOWN ? "SHUTDOWN" : NULL;
        json_t *events = json_array();
        if (inv)
            json_array_append_new(events, json_string(inv));
        if (sd)
            json_array_append_new(events, json_string(sd));
        gl_env_platform(env, "platform.extension",
                        json_pack("{s:s,s:s,s:o}", "name", x->name, "state", "Ready", "events",
                                  events),
                        "EXTENSION\tName: %s\tState: Ready\tEvents: [%s%s%s]", x->name,
                        inv ? inv : "", inv && sd ? ", " : "", sd ? sd : "");
    }
}

int gl_env_ext_ready(const gl_env_t *env)
{
    unsigned external = 0;
    for (const gl_env_ext_t *x = env->ext.list; x; x = x->next) {
        if (!x->waiting)
            return 0;
        external += x->external;
    }
    return external >= env->ext.expected;
}

char *gl_env_ext_invoke_event(int64_t deadline_ms, const char *request_id, const char *arn,
                              const char *trace_id)
{
    json_t *ev = json_pack("{s:s,s:I,s:s,s:s,s:{s:s,s:s}}", "eventType", "INVOKE", "deadlineMs",
                           (json_int_t)deadline_ms, "requestId", request_id,
                           "invokedFunctionArn", arn ? arn : "", "tracing", "type",
                           "X-Amzn-Trace-Id", "value", trace_id ? trace_id : "");
    char *text = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
    json_decref(ev);
    return text;
}

char *gl_env_ext_shutdown_event(const char *reason, int64_t deadline_ms)
{
    json_t *ev = json_pack("{s:s,s:s,s:I}", "eventType", "SHUTDOWN", "shutdownReason", reason,
                           "deadlineMs", (json_int_t)deadline_ms);
    char *text = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
    json_decref(ev);
    return text;
}

void gl_env_ext_invoke(gl_env_t *env, const gl_invoke_t *inv, int64_t deadline_ms)
{
    for (gl_env_ext_t *x = env->ext.list; x; x = x->next)
        if ((x->events & GL_ENV_EXT_INVOKE) && !x->exited)
            give(x, gl_env_ext_invoke_event(deadline_ms, inv->request_id, inv->invoked_arn,
                                            inv->trace_id));
}

unsigned gl_env_ext_shutdown(gl_env_t *env, const char *reason, int64_t deadline_ms)
{
    unsigned n = 0;
    for (gl_env_ext_t *x = env->ext.list; x; x = x->next) {
        if (!(x->events & GL_ENV_EXT_SHUTDOWN) || x->exited)
            continue;
        give(x, gl_env_ext_shutdown_event(reason, deadline_ms));
        n++;
    }
    return n;
}

int gl_env_ext_shutdown_done(const gl_env_t *env)
{
    for (const gl_env_ext_t *x = env->ext.list; x; x = x->next)
        if ((x->events & GL_ENV_EXT_SHUTDOWN) && !x->exited && !x->waiting)
            return 0;
    return 1;
}

static void on_exit_noted(uv_idle_t *h)
{
    gl_env_t *env = h->data;
    uv_idle_stop(h);
    env->ext.exit_noted = 0;
    gl_env_failure_t f = {env->ext.exit_type, env->ext.exit_msg};
    gl_env_handle(env, GL_ENV_EV_EXT_FAILED, &f);
}

/* The launcher's note: "<marker> <status> <name>", status as the shell's $? (128+N: signal N). */
int gl_env_ext_note(gl_env_t *env, const char *line, size_t len)
{
    size_t ml = strlen(env->ext.marker);
    char rest[256], name[160], msg[256];
    int status;
    if (!ml || len <= ml + 1 || memcmp(line, env->ext.marker, ml) != 0 || line[ml] != ' ')
        return 0;
    snprintf(rest, sizeof(rest), "%.*s", (int)(len - ml - 1), line + ml + 1);
    if (sscanf(rest, "%d %159[^\n]", &status, name) != 2)
        return 1;
    gl_env_ext_t *x = find_by_name(env, name);
    if (x) {
        x->exited = 1;
        x->waiting = 0;
    }
    /* 126 and 127: the shell could not execute it (Lambda's Extension.LaunchError). */
    int launch = !x && (status == 126 || status == 127);
    if (launch)
        snprintf(msg, sizeof(msg), "Extension %s could not be launched: %s", name,
                 status == 126 ? "permission denied" : "not found");
    else if (status > 128)
        snprintf(msg, sizeof(msg), "Extension %s exited: signal %d", name, status - 128);
    else
        snprintf(msg, sizeof(msg), "Extension %s exited: exit status %d", name, status);
    gl_log_debug("env=%.8s fn=%s: %s", env->id, env->fn->cfg.name, msg);
    gl_env_exts_t *e = &env->ext;
    if (e->exit_noted || env->torn_down)
        return 1; /* the first exit decides; the others are marked above */
    e->exit_noted = 1;
    snprintf(e->exit_type, sizeof(e->exit_type), "%s",
             launch ? "Extension.LaunchError" : "Extension.Crash");
    snprintf(e->exit_msg, sizeof(e->exit_msg), "%s", msg);
    if (!e->idle.loop) {
        uv_idle_init(env->sched->loop, &e->idle);
        e->idle.data = env;
    }
    uv_idle_start(&e->idle, on_exit_noted);
    return 1;
}

void gl_env_ext_free(gl_env_t *env)
{
    if (env->ext.post_counted) { /* every way out writes the REPORT first: a safety net */
        gl_sched_t *counted = env->ext.post_counted;
        env->ext.post_counted = NULL;
        gl_invoke_release(counted, env->ext.post_usage);
    }
    gl_env_ext_t *x = env->ext.list;
    while (x) {
        gl_env_ext_t *next = x->next;
        free(x->pending);
        free(x);
        x = next;
    }
    env->ext.list = NULL;
    env->ext.count = 0;
}
