/* SPDX-License-Identifier: MIT */
/*
 * router.c: the front end's HTTP listener and the route table of the Lambda API: matches
 * method and path, decodes and parses the FunctionName, gives every request its
 * x-amzn-RequestId, sets each operation's body limit, and calls exactly one handler.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "galley/log.h"
#include "galley/sched.h"
#include "internal.h"

#define SYNC_INVOKE_LIMIT 6291456u      /* 6 MiB */
#define ASYNC_INVOKE_LIMIT 1048576u     /* 1 MiB since October 2025 */
#define LEGACY_ASYNC_LIMIT 262144u      /* InvokeAsync: 256 KB */
#define CODE_REQUEST_LIMIT 70167211u    /* whole CreateFunction / UpdateFunctionCode request */
#define DEFAULT_LIMIT 6291456u

enum op {
    OP_NONE,
    OP_INVOKE,
    OP_INVOKE_ASYNC,
    OP_CREATE,
    OP_LIST,
    OP_GET,
    OP_GET_CONFIG,
    OP_UPDATE_CODE,
    OP_UPDATE_CONFIG,
    OP_DELETE,
    OP_EVENT_INVOKE_CONFIG,
    OP_LIST_EVENT_INVOKE_CONFIGS,
    OP_ACCOUNT_SETTINGS,
    OP_GALLEY_ENVIRONMENTS,
    OP_GALLEY_RESET,
    OP_GALLEY_FUNCTION,
    OP_METRICS,
    OP_PUBLISH_VERSION,
    OP_LIST_VERSIONS,
    OP_CREATE_ALIAS,
    OP_LIST_ALIASES,
    OP_GET_ALIAS,
    OP_UPDATE_ALIAS,
    OP_DELETE_ALIAS,
    OP_FUNCTION_CONCURRENCY,
    OP_PROVISIONED_CONCURRENCY,
    OP_METHOD_NOT_ALLOWED,
};

/*
 * Match "/DATE/functions[/F[/TAIL]]". Returns the operation and points fn and fnlen at
 * the raw (still encoded) FunctionName segment.
 */
static enum op match(const gl_http_req_t *req, const char **fn, size_t *fnlen)
{
    const char *p = req->path, *m = req->method_name;
    int get = !strcmp(m, "GET"), post = !strcmp(m, "POST"), put = !strcmp(m, "PUT"),
        del = !strcmp(m, "DELETE");
    *fn = NULL;
    *fnlen = 0;
    if (!strcmp(p, "/2016-08-19/account-settings") || !strcmp(p, "/2016-08-19/account-settings/"))
        return get ? OP_ACCOUNT_SETTINGS : OP_METHOD_NOT_ALLOWED;
    /* galley's own endpoints: a prefix no Lambda path can start with. */
    if (!strcmp(p, GL_API_GALLEY_PREFIX "/environments"))
        return get ? OP_GALLEY_ENVIRONMENTS : OP_METHOD_NOT_ALLOWED;
    if (!strcmp(p, GL_API_GALLEY_PREFIX "/reset"))
        return post ? OP_GALLEY_RESET : OP_METHOD_NOT_ALLOWED;
    if (!strncmp(p, GL_API_GALLEY_PREFIX "/functions/", sizeof(GL_API_GALLEY_PREFIX) + 10)) {
        /* /_galley/functions/<F>/<control>: galley.c reads the control from the path. */
        const char *f = p + sizeof(GL_API_GALLEY_PREFIX) + 10;
        const char *slash = strchr(f, '/');
        if (!slash || slash == f || !slash[1] || strchr(slash + 1, '/'))
            return OP_NONE;
        *fn = f;
        *fnlen = (size_t)(slash - f);
        return OP_GALLEY_FUNCTION;
    }
    /* Prometheus scrapes /metrics by default; no Lambda path starts with it. */
    if (!strcmp(p, "/metrics"))
        return get ? OP_METRICS : OP_METHOD_NOT_ALLOWED;
    const char *rest;
    int legacy = 0;
    if (!strncmp(p, "/2015-03-31/functions", 21))
        rest = p + 21;
    else if (!strncmp(p, "/2014-11-13/functions", 21)) {
        rest = p + 21;
        legacy = 1;
    } else if (!strncmp(p, "/2019-09-25/functions", 21)) {
        rest = p + 21;
        legacy = 2; /* the event invoke config family */
    } else if (!strncmp(p, "/2017-10-31/functions", 21)) {
        rest = p + 21;
        legacy = 3; /* Put/DeleteFunctionConcurrency */
    } else if (!strncmp(p, "/2019-09-30/functions", 21)) {
        rest = p + 21;
        legacy = 4; /* GetFunctionConcurrency, provisioned concurrency */
    } else
        return OP_NONE;
    if (!legacy && (!*rest || !strcmp(rest, "/"))) {
        if (post)
            return OP_CREATE;
        return get ? OP_LIST : OP_METHOD_NOT_ALLOWED;
    }
    if (*rest != '/')
        return OP_NONE;
    rest++;
    const char *slash = strchr(rest, '/');
    *fn = rest;
    *fnlen = slash ? (size_t)(slash - rest) : strlen(rest);
    if (*fnlen == 0)
        return OP_NONE;
    const char *tail = slash ? slash : "";
    if (legacy == 3) {
        if (!strcmp(tail, "/concurrency"))
            return put || del ? OP_FUNCTION_CONCURRENCY : OP_METHOD_NOT_ALLOWED;
        return OP_NONE;
    }
    if (legacy == 4) {
        if (!strcmp(tail, "/concurrency"))
            return get ? OP_FUNCTION_CONCURRENCY : OP_METHOD_NOT_ALLOWED;
        if (!strcmp(tail, "/provisioned-concurrency"))
            return get || put || del ? OP_PROVISIONED_CONCURRENCY : OP_METHOD_NOT_ALLOWED;
        return OP_NONE;
    }
    if (legacy == 2) {
        if (!strcmp(tail, "/event-invoke-config/list"))
            return get ? OP_LIST_EVENT_INVOKE_CONFIGS : OP_METHOD_NOT_ALLOWED;
        if (!strcmp(tail, "/event-invoke-config"))
            return get || put || post || del ? OP_EVENT_INVOKE_CONFIG : OP_METHOD_NOT_ALLOWED;
        return OP_NONE;
    }
    if (legacy) {
        if (!strcmp(tail, "/invoke-async") || !strcmp(tail, "/invoke-async/"))
            return post ? OP_INVOKE_ASYNC : OP_METHOD_NOT_ALLOWED;
        return OP_NONE;
    }
    if (!*tail || !strcmp(tail, "/")) {
        if (get)
            return OP_GET;
        return del ? OP_DELETE : OP_METHOD_NOT_ALLOWED;
    }
    if (!strcmp(tail, "/invocations"))
        return post ? OP_INVOKE : OP_METHOD_NOT_ALLOWED;
    if (!strcmp(tail, "/configuration")) {
        if (get)
            return OP_GET_CONFIG;
        return put ? OP_UPDATE_CONFIG : OP_METHOD_NOT_ALLOWED;
    }
    if (!strcmp(tail, "/code"))
        return put ? OP_UPDATE_CODE : OP_METHOD_NOT_ALLOWED;
    if (!strcmp(tail, "/versions") || !strcmp(tail, "/versions/")) {
        if (post)
            return OP_PUBLISH_VERSION;
        return get ? OP_LIST_VERSIONS : OP_METHOD_NOT_ALLOWED;
    }
    if (!strcmp(tail, "/aliases") || !strcmp(tail, "/aliases/")) {
        if (post)
            return OP_CREATE_ALIAS;
        return get ? OP_LIST_ALIASES : OP_METHOD_NOT_ALLOWED;
    }
    if (!strncmp(tail, "/aliases/", 9) && tail[9] && !strchr(tail + 9, '/')) {
        if (get)
            return OP_GET_ALIAS;
        if (put)
            return OP_UPDATE_ALIAS;
        return del ? OP_DELETE_ALIAS : OP_METHOD_NOT_ALLOWED;
    }
    return OP_NONE;
}

static size_t body_limit(gl_http_req_t *req, void *data)
{
    (void)data;
    const char *fn;
    size_t fnlen;
    switch (match(req, &fn, &fnlen)) {
    case OP_INVOKE: {
        const char *type = gl_http_req_header(req, "x-amz-invocation-type");
        return type && !strcmp(type, "Event") ? ASYNC_INVOKE_LIMIT : SYNC_INVOKE_LIMIT;
    }
    case OP_INVOKE_ASYNC:
        return LEGACY_ASYNC_LIMIT;
    case OP_CREATE:
    case OP_UPDATE_CODE:
        return CODE_REQUEST_LIMIT;
    default:
        return DEFAULT_LIMIT;
    }
}

static const char *op_name(enum op op)
{
    switch (op) {
    case OP_INVOKE:
    case OP_INVOKE_ASYNC:
        return "InvokeFunction";
    case OP_CREATE:
        return "CreateFunction";
    case OP_UPDATE_CODE:
        return "UpdateFunctionCode";
    default:
        return "request";
    }
}

static void on_request(gl_http_req_t *req, void *data)
{
    gl_api_t *api = data;
    const char *fnseg;
    size_t fnlen;
    enum op op = match(req, &fnseg, &fnlen);
    gl_uuid4(req->request_id);

    if (req->body_too_large) {
        unsigned long limit = (unsigned long)body_limit(req, api);
        gl_http_reply_aws_error(req, GL_AWS_REQUEST_ENTITY_TOO_LARGE,
                                "Request must be smaller than %lu bytes for the %s operation",
                                limit, op_name(op));
        return;
    }
    if (op == OP_NONE) {
        gl_http_reply_aws_error(req, GL_AWS_UNKNOWN_OPERATION, "Unknown operation %s %s",
                                req->method_name, req->path);
        return;
    }
    if (op == OP_METHOD_NOT_ALLOWED) {
        gl_http_reply_aws_error(req, GL_AWS_UNKNOWN_OPERATION,
                                "Method %s is not allowed on %s", req->method_name, req->path);
        return;
    }

    gl_fn_ref_t ref;
    if (fnseg) {
        char *name = NULL, *qualifier = gl_query_get(req->query, "Qualifier");
        if (gl_url_decode(fnseg, fnlen, &name) < 0) {
            free(qualifier);
            gl_http_reply_aws_error(req, GL_AWS_VALIDATION,
                                    "1 validation error detected: Value at 'functionName' "
                                    "failed to satisfy constraint: Member must be valid "
                                    "percent-encoded text");
            return;
        }
        gl_aws_error_t aerr;
        size_t max_len = (op == OP_INVOKE || op == OP_INVOKE_ASYNC || op == OP_GET ||
                          op == OP_GET_CONFIG || op == OP_DELETE || op == OP_LIST_VERSIONS)
                             ? 256
                             : 140;
        int rc = gl_registry_parse_fn_name(name, qualifier, gl_registry_region(api->reg),
                                           gl_registry_account(api->reg), max_len, &ref, &aerr);
        free(name);
        free(qualifier);
        if (rc < 0) {
            gl_http_reply_aws_error(req, aerr.type, "%.511s", aerr.msg); /* cut as always */
            return;
        }
    }

    switch (op) {
    case OP_INVOKE:
        gl_api_invoke(api, req, &ref, 0);
        break;
    case OP_INVOKE_ASYNC:
        gl_api_invoke(api, req, &ref, 1);
        break;
    case OP_CREATE:
        gl_api_create_function(api, req);
        break;
    case OP_LIST:
        gl_api_list_functions(api, req);
        break;
    case OP_GET:
        gl_api_get_function(api, req, &ref);
        break;
    case OP_GET_CONFIG:
        gl_api_get_function_configuration(api, req, &ref);
        break;
    case OP_UPDATE_CODE:
        gl_api_update_function_code(api, req, &ref);
        break;
    case OP_UPDATE_CONFIG:
        gl_api_update_function_configuration(api, req, &ref);
        break;
    case OP_DELETE:
        gl_api_delete_function(api, req, &ref);
        break;
    case OP_ACCOUNT_SETTINGS:
        gl_api_get_account_settings(api, req);
        break;
    case OP_EVENT_INVOKE_CONFIG:
        gl_api_event_invoke_config(api, req, &ref);
        break;
    case OP_FUNCTION_CONCURRENCY:
        gl_api_function_concurrency(api, req, &ref);
        break;
    case OP_PROVISIONED_CONCURRENCY:
        gl_api_provisioned_concurrency(api, req, &ref);
        break;
    case OP_LIST_EVENT_INVOKE_CONFIGS:
        gl_api_list_event_invoke_configs(api, req, &ref);
        break;
    case OP_GALLEY_RESET:
        gl_api_galley_reset(api, req);
        break;
    case OP_GALLEY_FUNCTION:
        gl_api_galley_function(api, req, &ref, strchr(fnseg, '/') + 1);
        break;
    case OP_GALLEY_ENVIRONMENTS:
        gl_api_galley_environments(api, req);
        break;
    case OP_METRICS:
        gl_api_metrics(api, req);
        break;
    case OP_PUBLISH_VERSION:
        gl_api_publish_version(api, req, &ref);
        break;
    case OP_LIST_VERSIONS:
        gl_api_list_versions(api, req, &ref);
        break;
    case OP_CREATE_ALIAS:
        gl_api_create_alias(api, req, &ref);
        break;
    case OP_LIST_ALIASES:
        gl_api_list_aliases(api, req, &ref);
        break;
    case OP_GET_ALIAS:
    case OP_UPDATE_ALIAS:
    case OP_DELETE_ALIAS: {
        /* The alias name is the last path segment (a FunctionName never holds a '/'). */
        const char *seg = strrchr(req->path, '/') + 1;
        if (op == OP_GET_ALIAS)
            gl_api_get_alias(api, req, &ref, seg);
        else if (op == OP_UPDATE_ALIAS)
            gl_api_update_alias(api, req, &ref, seg);
        else
            gl_api_delete_alias(api, req, &ref, seg);
        break;
    }
    default:
        gl_http_reply_aws_error(req, GL_AWS_SERVICE, "unrouted operation");
    }
}

static const gl_http_handler_t handler = {
    .body_limit = body_limit,
    .on_request = on_request,
};

int gl_api_start(gl_api_t **out, uv_loop_t *loop, const gl_api_opts_t *opts, int *bound_port,
                 gl_err_t *err)
{
    gl_api_t *api = calloc(1, sizeof(*api));
    if (!api)
        return gl_err_set(err, ENOMEM, "api");
    api->loop = loop;
    api->reg = opts->registry;
    api->sched = opts->sched;
    api->async = opts->async;
    int rc = gl_http_server_new(&api->http, loop, &handler, api);
    if (rc < 0) {
        free(api);
        return gl_err_set(err, -rc, "http server");
    }
    if ((rc = gl_http_server_listen(api->http, opts->host, opts->port, bound_port, err)) < 0) {
        gl_http_server_close(api->http, NULL, NULL);
        free(api);
        return rc;
    }
    *out = api;
    return 0;
}

static void on_http_closed(void *arg)
{
    gl_api_t *api = arg;
    void (*cb)(void *) = api->on_closed;
    void *cb_arg = api->on_closed_arg;
    free(api);
    if (cb)
        cb(cb_arg);
}

void gl_api_close(gl_api_t *api, void (*on_closed)(void *arg), void *arg)
{
    api->on_closed = on_closed;
    api->on_closed_arg = arg;
    gl_http_server_close(api->http, on_http_closed, api);
}
