/* SPDX-License-Identifier: MIT */
/*
 * router.c: the front end's HTTP listener and the route table of the Lambda API. One static
 * row per operation (API date, path pattern, method, Lambda's operation name, body limit,
 * FunctionName length limit, handler); matching walks the table, so the 413 message, the
 * unknown operation and the method-not-allowed answers all come from it. Gives every request
 * its x-amzn-RequestId, decodes and parses the FunctionName, and calls exactly one handler.
 * Adding an operation is a row, a handler and a line in tests/unit/api/test_router.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "galley/durable.h"
#include "galley/log.h"
#include "galley/sched.h"
#include "galley/web.h"
#include "internal.h"

#define SYNC_INVOKE_LIMIT 6291456u      /* 6 MiB */
#define ASYNC_INVOKE_LIMIT 1048576u     /* 1 MiB since October 2025 */
#define LEGACY_ASYNC_LIMIT 262144u      /* InvokeAsync: 256 KB */
#define CODE_REQUEST_LIMIT 70167211u    /* whole CreateFunction / UpdateFunctionCode request */
#define DEFAULT_LIMIT 6291456u

#define GALLEY GL_API_GALLEY_PREFIX
#define F "/functions/{FunctionName}"
#define L "/layers/{LayerName}"
#define LV L "/versions/{VersionNumber}"
#define CSC "/code-signing-configs/{CodeSigningConfigArn}"
#define DX "/durable-executions/{DurableExecutionArn}"
#define DXC "/durable-execution-callbacks/{CallbackId}"
#define SLASH GL_API_OP_SLASH
#define EVENT GL_API_OP_EVENT
#define CONTROL GL_API_OP_CONTROL

/* Invoke's body may be 6 MiB for RequestResponse but only 1 MiB for an Event. */
static size_t invoke_limit(const gl_http_req_t *req)
{
    const char *type = gl_http_req_header(req, "x-amz-invocation-type");
    return type && !strcmp(type, "Event") ? ASYNC_INVOKE_LIMIT : SYNC_INVOKE_LIMIT;
}

/*
 * Every operation the front end answers, one row each. A path matched by some row whose method
 * differs answers "Method ... is not allowed"; a path no row matches is an unknown operation.
 * Rows with a NULL method take every method and leave the choice to their handler. A row with
 * body_limit 0 takes DEFAULT_LIMIT; fn_max is the FunctionName limit (256 or 140) of the
 * Lambda model, 0 for paths without one; the 413 message names too_large_as, else "request".
 */
static const gl_api_op_t ops[] = {
    /* date, pattern, flags, method, name, body limit (fn), FunctionName max, 413 name, handler */
    {"2015-03-31", "/functions", SLASH, "POST", "CreateFunction", CODE_REQUEST_LIMIT, NULL, 0,
     "CreateFunction", gl_api_create_function},
    {"2015-03-31", "/functions", SLASH, "GET", "ListFunctions", 0, NULL, 0, NULL,
     gl_api_list_functions},
    {"2015-03-31", F, SLASH, "GET", "GetFunction", 0, NULL, 256, NULL, gl_api_get_function},
    {"2015-03-31", F, SLASH, "DELETE", "DeleteFunction", 0, NULL, 256, NULL,
     gl_api_delete_function},
    {"2015-03-31", F "/invocations", 0, "POST", "Invoke", 0, invoke_limit, 256, "InvokeFunction",
     gl_api_invoke},
    {"2021-11-15", F "/response-streaming-invocations", GL_API_OP_STREAM, "POST",
     "InvokeWithResponseStream", 0, invoke_limit, 256, "InvokeFunction", gl_api_invoke},
    {"2015-03-31", F "/configuration", 0, "GET", "GetFunctionConfiguration", 0, NULL, 256, NULL,
     gl_api_get_function_configuration},
    {"2015-03-31", F "/configuration", 0, "PUT", "UpdateFunctionConfiguration", 0, NULL, 140,
     NULL, gl_api_update_function_configuration},
    {"2015-03-31", F "/code", 0, "PUT", "UpdateFunctionCode", CODE_REQUEST_LIMIT, NULL, 140,
     "UpdateFunctionCode", gl_api_update_function_code},
    {"2015-03-31", F "/versions", SLASH, "POST", "PublishVersion", 0, NULL, 140, NULL,
     gl_api_publish_version},
    {"2015-03-31", F "/versions", SLASH, "GET", "ListVersionsByFunction", 0, NULL, 256, NULL,
     gl_api_list_versions},
    {"2015-03-31", F "/aliases", SLASH, "POST", "CreateAlias", 0, NULL, 140, NULL,
     gl_api_create_alias},
    {"2015-03-31", F "/aliases", SLASH, "GET", "ListAliases", 0, NULL, 140, NULL,
     gl_api_list_aliases},
    {"2015-03-31", F "/aliases/{Name}", 0, "GET", "GetAlias", 0, NULL, 140, NULL,
     gl_api_get_alias},
    {"2015-03-31", F "/aliases/{Name}", 0, "PUT", "UpdateAlias", 0, NULL, 140, NULL,
     gl_api_update_alias},
    {"2015-03-31", F "/aliases/{Name}", 0, "DELETE", "DeleteAlias", 0, NULL, 140, NULL,
     gl_api_delete_alias},
    {"2014-11-13", F "/invoke-async", SLASH | EVENT, "POST", "InvokeAsync", LEGACY_ASYNC_LIMIT,
     NULL, 256, "InvokeFunction", gl_api_invoke},
    {"2016-08-19", "/account-settings", SLASH, "GET", "GetAccountSettings", 0, NULL, 0, NULL,
     gl_api_get_account_settings},
    {"2017-10-31", F "/concurrency", 0, "PUT", "PutFunctionConcurrency", 0, NULL, 140, NULL,
     gl_api_function_concurrency},
    {"2017-10-31", F "/concurrency", 0, "DELETE", "DeleteFunctionConcurrency", 0, NULL, 140,
     NULL, gl_api_function_concurrency},
    {"2019-09-25", F "/event-invoke-config", 0, "PUT", "PutFunctionEventInvokeConfig", 0, NULL,
     140, NULL, gl_api_event_invoke_config},
    {"2019-09-25", F "/event-invoke-config", 0, "POST", "UpdateFunctionEventInvokeConfig", 0,
     NULL, 140, NULL, gl_api_event_invoke_config},
    {"2019-09-25", F "/event-invoke-config", 0, "GET", "GetFunctionEventInvokeConfig", 0, NULL,
     140, NULL, gl_api_event_invoke_config},
    {"2019-09-25", F "/event-invoke-config", 0, "DELETE", "DeleteFunctionEventInvokeConfig", 0,
     NULL, 140, NULL, gl_api_event_invoke_config},
    {"2019-09-25", F "/event-invoke-config/list", 0, "GET", "ListFunctionEventInvokeConfigs", 0,
     NULL, 140, NULL, gl_api_list_event_invoke_configs},
    {"2019-09-30", F "/concurrency", 0, "GET", "GetFunctionConcurrency", 0, NULL, 140, NULL,
     gl_api_function_concurrency},
    /* GET with ?List=ALL is ListProvisionedConcurrencyConfigs: the handler tells them apart. */
    {"2019-09-30", F "/provisioned-concurrency", 0, "GET", "GetProvisionedConcurrencyConfig", 0,
     NULL, 140, NULL, gl_api_provisioned_concurrency},
    {"2019-09-30", F "/provisioned-concurrency", 0, "PUT", "PutProvisionedConcurrencyConfig", 0,
     NULL, 140, NULL, gl_api_provisioned_concurrency},
    {"2019-09-30", F "/provisioned-concurrency", 0, "DELETE",
     "DeleteProvisionedConcurrencyConfig", 0, NULL, 140, NULL, gl_api_provisioned_concurrency},
    {"2024-08-31", F "/recursion-config", 0, "GET", "GetFunctionRecursionConfig", 0, NULL, 140,
     NULL, gl_api_get_recursion_config},
    {"2024-08-31", F "/recursion-config", 0, "PUT", "PutFunctionRecursionConfig", 0, NULL, 140,
     NULL, gl_api_put_recursion_config},
    {"2015-03-31", F "/policy", 0, "POST", "AddPermission", 0, NULL, 256, NULL,
     gl_api_add_permission},
    {"2015-03-31", F "/policy", 0, "GET", "GetPolicy", 0, NULL, 256, NULL, gl_api_get_policy},
    {"2015-03-31", F "/policy/{StatementId}", 0, "DELETE", "RemovePermission", 0, NULL, 256,
     NULL, gl_api_remove_permission},
    /* The {Resource} is an ARN, not a FunctionName: fn_max 0, tags.c checks it. */
    {"2017-03-31", "/tags/{Resource}", 0, "POST", "TagResource", 0, NULL, 0, NULL,
     gl_api_tag_resource},
    {"2017-03-31", "/tags/{Resource}", 0, "DELETE", "UntagResource", 0, NULL, 0, NULL,
     gl_api_untag_resource},
    {"2017-03-31", "/tags/{Resource}", 0, "GET", "ListTags", 0, NULL, 0, NULL, gl_api_list_tags},
    {"2021-07-20", F "/runtime-management-config", 0, "GET", "GetRuntimeManagementConfig", 0,
     NULL, 256, NULL, gl_api_get_runtime_management},
    {"2021-07-20", F "/runtime-management-config", 0, "PUT", "PutRuntimeManagementConfig", 0,
     NULL, 256, NULL, gl_api_put_runtime_management},
    /* The {CodeSigningConfigArn} is no FunctionName: fn_max 0, code_signing.c checks it. */
    {"2020-04-22", "/code-signing-configs", SLASH, "POST", "CreateCodeSigningConfig", 0, NULL, 0,
     NULL, gl_api_create_csc},
    {"2020-04-22", "/code-signing-configs", SLASH, "GET", "ListCodeSigningConfigs", 0, NULL, 0,
     NULL, gl_api_list_cscs},
    {"2020-04-22", CSC, 0, "GET", "GetCodeSigningConfig", 0, NULL, 0, NULL, gl_api_get_csc},
    {"2020-04-22", CSC, 0, "PUT", "UpdateCodeSigningConfig", 0, NULL, 0, NULL, gl_api_update_csc},
    {"2020-04-22", CSC, 0, "DELETE", "DeleteCodeSigningConfig", 0, NULL, 0, NULL,
     gl_api_delete_csc},
    {"2020-04-22", CSC "/functions", 0, "GET", "ListFunctionsByCodeSigningConfig", 0, NULL, 0,
     NULL, gl_api_list_csc_functions},
    {"2020-06-30", F "/code-signing-config", 0, "PUT", "PutFunctionCodeSigningConfig", 0, NULL,
     256, NULL, gl_api_put_function_csc},
    {"2020-06-30", F "/code-signing-config", 0, "GET", "GetFunctionCodeSigningConfig", 0, NULL,
     256, NULL, gl_api_get_function_csc},
    {"2020-06-30", F "/code-signing-config", 0, "DELETE", "DeleteFunctionCodeSigningConfig", 0,
     NULL, 256, NULL, gl_api_delete_function_csc},
    {"2021-10-31", F "/url", 0, "POST", "CreateFunctionUrlConfig", 0, NULL, 140, NULL,
     gl_api_function_url},
    {"2021-10-31", F "/url", 0, "GET", "GetFunctionUrlConfig", 0, NULL, 140, NULL,
     gl_api_function_url},
    {"2021-10-31", F "/url", 0, "PUT", "UpdateFunctionUrlConfig", 0, NULL, 140, NULL,
     gl_api_function_url},
    {"2021-10-31", F "/url", 0, "DELETE", "DeleteFunctionUrlConfig", 0, NULL, 140, NULL,
     gl_api_function_url},
    {"2021-10-31", F "/urls", 0, "GET", "ListFunctionUrlConfigs", 0, NULL, 140, NULL,
     gl_api_list_function_urls},
    /* Layers: {LayerName} is read by layers.c (a name or a layer ARN), so fn_max is 0. */
    {"2018-10-31", "/layers", SLASH, "GET", "ListLayers", 0, NULL, 0, NULL, gl_api_list_layers},
    {"2018-10-31", L "/versions", SLASH, "POST", "PublishLayerVersion", CODE_REQUEST_LIMIT, NULL,
     0, "PublishLayerVersion", gl_api_publish_layer_version},
    {"2018-10-31", L "/versions", SLASH, "GET", "ListLayerVersions", 0, NULL, 0, NULL,
     gl_api_list_layer_versions},
    {"2018-10-31", LV, 0, "GET", "GetLayerVersion", 0, NULL, 0, NULL, gl_api_get_layer_version},
    {"2018-10-31", LV, 0, "DELETE", "DeleteLayerVersion", 0, NULL, 0, NULL,
     gl_api_delete_layer_version},
    {"2018-10-31", LV "/policy", 0, "POST", "AddLayerVersionPermission", 0, NULL, 0, NULL,
     gl_api_add_layer_permission},
    {"2018-10-31", LV "/policy", 0, "GET", "GetLayerVersionPolicy", 0, NULL, 0, NULL,
     gl_api_get_layer_policy},
    {"2018-10-31", LV "/policy/{StatementId}", 0, "DELETE", "RemoveLayerVersionPermission", 0,
     NULL, 0, NULL, gl_api_remove_layer_permission},
    /* Durable executions: the {DurableExecutionArn} or {CallbackId} is no FunctionName (fn_max 0):
     * durable.c decodes it. */
    {"2025-12-01", DX "/checkpoint", 0, "POST", "CheckpointDurableExecution", 0, NULL, 0, NULL,
     gl_api_checkpoint_durable},
    {"2025-12-01", DX "/state", 0, "GET", "GetDurableExecutionState", 0, NULL, 0, NULL,
     gl_api_get_durable_state},
    {"2025-12-01", DX "/history", 0, "GET", "GetDurableExecutionHistory", 0, NULL, 0, NULL,
     gl_api_get_durable_history},
    {"2025-12-01", DX "/stop", 0, "POST", "StopDurableExecution", 0, NULL, 0, NULL,
     gl_api_stop_durable},
    {"2025-12-01", DX, 0, "GET", "GetDurableExecution", 0, NULL, 0, NULL, gl_api_get_durable},
    {"2025-12-01", F "/durable-executions", 0, "GET", "ListDurableExecutionsByFunction", 0, NULL,
     256, NULL, gl_api_list_durable},
    {"2025-12-01", DXC "/succeed", 0, "POST", "SendDurableExecutionCallbackSuccess", 0, NULL, 0,
     NULL, gl_api_durable_callback},
    {"2025-12-01", DXC "/fail", 0, "POST", "SendDurableExecutionCallbackFailure", 0, NULL, 0,
     NULL, gl_api_durable_callback},
    {"2025-12-01", DXC "/heartbeat", 0, "POST", "SendDurableExecutionCallbackHeartbeat", 0, NULL,
     0, NULL, gl_api_durable_callback},
    /* galley's own endpoints: a prefix no Lambda path can start with; CONTROL rows need the
     * control token (auth.c). */
    {NULL, GALLEY "/environments", CONTROL, "GET", "GalleyEnvironments", 0, NULL, 0, NULL,
     gl_api_galley_environments},
    {NULL, GALLEY "/reset", CONTROL, "POST", "GalleyReset", 0, NULL, 0, NULL, gl_api_galley_reset},
    /* /_galley/functions/<F>/<control>: galley.c reads the control and checks the method. */
    {NULL, GALLEY F "/{Control}", CONTROL, NULL, "GalleyFunctionControl", 0, NULL, 140, NULL,
     gl_api_galley_function},
    {NULL, GALLEY "/durable", CONTROL, "GET", "GalleyDurable", 0, NULL, 0, NULL,
     gl_api_galley_durable},
    {NULL, GALLEY "/durable/{Control}", CONTROL, "POST", "GalleyDurableControl", 0, NULL, 0, NULL,
     gl_api_galley_durable},
    /* CloudWatch Logs' JSON protocol: cwlogs.c dispatches by X-Amz-Target. */
    {NULL, "/", 0, "POST", "CloudWatchLogs", 0, NULL, 0, NULL, gl_api_cwlogs},
    /* Prometheus scrapes /metrics by default; no Lambda path starts with it. */
    {NULL, "/metrics", 0, "GET", "GalleyMetrics", 0, NULL, 0, NULL, gl_api_metrics},
};

#undef GALLEY
#undef F
#undef L
#undef LV
#undef CSC
#undef DX
#undef DXC
#undef SLASH
#undef EVENT
#undef CONTROL

const gl_api_op_t *gl_api_ops(size_t *n)
{
    *n = sizeof(ops) / sizeof(ops[0]);
    return ops;
}

/* Skip the literal prefix lit of *p; 0 when *p does not start with it. */
static int eat(const char **p, const char *lit, size_t len)
{
    if (strncmp(*p, lit, len) != 0)
        return 0;
    *p += len;
    return 1;
}

/*
 * Match path against row's "/DATE" + pattern. A {Param} takes one non-empty segment: the first
 * is the FunctionName, the second (always the last segment) goes to rt->param. With
 * GL_API_OP_SLASH one trailing '/' is tolerated.
 */
static int match_path(const gl_api_op_t *op, const char *path, gl_api_route_t *rt)
{
    const char *p = path, *q = op->pattern;
    int captures = 0;
    if (op->date && !(eat(&p, "/", 1) && eat(&p, op->date, strlen(op->date))))
        return 0;
    while (*q) {
        if (*q != '{') {
            if (*p++ != *q++)
                return 0;
            continue;
        }
        size_t seg = strcspn(p, "/");
        if (seg == 0)
            return 0;
        if (captures++ == 0) {
            rt->fn_seg = p;
            rt->fn_len = seg;
        } else if (!p[seg]) { /* only the path's last segment: NUL-terminated */
            rt->param = p;
        }
        p += seg;
        q = strchr(q, '}') + 1;
    }
    return !*p || ((op->flags & GL_API_OP_SLASH) && !strcmp(p, "/"));
}

gl_api_match_t gl_api_route_match(const char *method, const char *path, gl_api_route_t *rt)
{
    gl_api_match_t res = GL_API_NO_ROUTE;
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        gl_api_route_t cand = {.op = &ops[i]};
        if (!match_path(&ops[i], path, &cand))
            continue;
        if (ops[i].method && strcmp(ops[i].method, method) != 0) {
            res = GL_API_BAD_METHOD;
            continue;
        }
        *rt = cand;
        return GL_API_ROUTED;
    }
    memset(rt, 0, sizeof(*rt));
    return res;
}

size_t gl_api_op_body_limit(const gl_api_op_t *op, const gl_http_req_t *req)
{
    if (!op)
        return DEFAULT_LIMIT;
    if (op->body_limit_fn)
        return op->body_limit_fn(req);
    return op->body_limit ? op->body_limit : DEFAULT_LIMIT;
}

static size_t body_limit(gl_http_req_t *req, void *data)
{
    (void)data;
    gl_api_route_t rt;
    gl_api_route_match(req->method_name, req->path, &rt);
    return gl_api_op_body_limit(rt.op, req);
}

int gl_api_route_parse_fn(gl_api_route_t *rt, const gl_http_req_t *req, const char *region,
                          const char *account, gl_aws_error_t *aerr)
{
    char *name = NULL, *qualifier = gl_query_get(req->query, "Qualifier");
    if (gl_url_decode(rt->fn_seg, rt->fn_len, &name) < 0) {
        free(qualifier);
        return gl_aws_error_set(aerr, GL_AWS_VALIDATION, EINVAL,
                                "1 validation error detected: Value at 'functionName' failed to "
                                "satisfy constraint: Member must be valid percent-encoded text");
    }
    int rc = gl_registry_parse_fn_name(name, qualifier, region, account, rt->op->fn_max,
                                       &rt->ref, aerr);
    free(name);
    free(qualifier);
    return rc;
}

/* The request once it may be served: the routing answers, the FunctionName, the handler. */
static void dispatch(gl_api_t *api, gl_http_req_t *req)
{
    gl_api_route_t rt;
    gl_api_match_t m = gl_api_route_match(req->method_name, req->path, &rt);
    if (m == GL_API_NO_ROUTE) {
        gl_http_reply_aws_error(req, GL_AWS_UNKNOWN_OPERATION, "Unknown operation %s %s",
                                req->method_name, req->path);
        return;
    }
    if (m == GL_API_BAD_METHOD) {
        gl_http_reply_aws_error(req, GL_AWS_UNKNOWN_OPERATION,
                                "Method %s is not allowed on %s", req->method_name, req->path);
        return;
    }
    if (rt.fn_seg && rt.op->fn_max) { /* fn_max 0: the handler reads the segment */
        gl_aws_error_t aerr;
        if (gl_api_route_parse_fn(&rt, req, gl_registry_region(api->reg),
                                  gl_registry_account(api->reg), &aerr) < 0) {
            /* Cut at 511 bytes as the name parser's messages always were. */
            gl_http_reply_aws_error(req, aerr.type, "%.511s", aerr.msg);
            return;
        }
    }
    rt.op->handler(api, req, &rt);
}

/*
 * Who may call comes before what is called: the control API wants its token; with --auth
 * sigv4 every other path but galley's open ones (GET /metrics) wants a signature, unknown
 * paths included, as Lambda's front end answers an unsigned request before routing it.
 */
static void on_request(gl_http_req_t *req, void *data)
{
    gl_api_t *api = data;
    gl_api_route_t rt;
    gl_api_route_match(req->method_name, req->path, &rt);
    gl_uuid4(req->request_id);

    if (req->body_too_large) {
        const char *as = rt.op && rt.op->too_large_as ? rt.op->too_large_as : "request";
        gl_http_reply_aws_error(req, GL_AWS_REQUEST_ENTITY_TOO_LARGE,
                                "Request must be smaller than %lu bytes for the %s operation",
                                (unsigned long)gl_api_op_body_limit(rt.op, req), as);
        return;
    }
    if (rt.op && (rt.op->flags & GL_API_OP_CONTROL)) {
        if (gl_api_check_control(api, req) == 0)
            dispatch(api, req);
    } else if (gl_api_sigv4_enabled(api) && !(rt.op && !rt.op->date)) {
        gl_api_verify_sigv4(api, req, dispatch);
    } else {
        dispatch(api, req);
    }
}

static const gl_http_handler_t handler = {
    .body_limit = body_limit,
    .on_request = on_request,
};

/* Durable executions live under the state dir (none without one); the running ones resume
 * at once: the functions are loaded before the API starts. */
static int open_durable(gl_api_t *api, const gl_api_opts_t *opts, gl_err_t *err)
{
    if (!opts->state_dir)
        return 0;
    gl_durable_opts_t dopts = {.state_dir = opts->state_dir, .registry = api->reg,
                               .sched = api->sched, .time_scale = opts->time_scale};
    int rc = gl_durable_open(&api->durable, api->loop, &dopts, err);
    if (rc == 0)
        gl_durable_start(api->durable);
    return rc;
}

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
    int rc = -ENOMEM;
    if (opts->state_dir && !(api->logs_root = gl_path_join(opts->state_dir, "logs"))) {
        gl_err_set(err, ENOMEM, "api");
        goto fail;
    }
    if ((rc = gl_api_auth_open(api, opts, err)) < 0 ||
        (rc = gl_api_csc_open(api, opts->state_dir, err)) < 0)
        goto fail;
    if ((rc = gl_http_server_new(&api->http, loop, &handler, api)) < 0) {
        rc = gl_err_set(err, -rc, "http server");
        goto fail;
    }
    if ((rc = gl_http_server_listen(api->http, opts->host, opts->port, bound_port, err)) < 0) {
        gl_http_server_close(api->http, NULL, NULL);
        goto fail;
    }
    if ((rc = gl_web_new(&api->web, loop, api->reg, api->sched, opts->url_host, err)) < 0) {
        gl_http_server_close(api->http, NULL, NULL);
        goto fail;
    }
    if ((rc = open_durable(api, opts, err)) < 0) {
        gl_web_close(api->web, NULL, NULL);
        gl_http_server_close(api->http, NULL, NULL);
        goto fail;
    }
    gl_web_set_durable(api->web, api->durable);
    if (gl_api_sigv4_enabled(api))
        gl_web_set_verifier(api->web, gl_api_url_verify, api);
    gl_api_function_urls_restore(api);
    gl_api_code_removal_start(api);
    *out = api;
    return 0;
fail:
    gl_api_auth_free(api);
    gl_api_csc_free(api);
    free(api->logs_root);
    free(api);
    return rc;
}

void gl_api_maybe_free(gl_api_t *api)
{
    if (!api->http_closed || api->jobs)
        return;
    void (*cb)(void *) = api->on_closed;
    void *cb_arg = api->on_closed_arg;
    if (api->durable) /* its last fsyncs and its timer close on the loop */
        gl_durable_close(api->durable, NULL, NULL);
    gl_api_auth_free(api);
    gl_api_csc_free(api);
    free(api->logs_root);
    free(api);
    if (cb)
        cb(cb_arg);
}

static void on_http_closed(void *arg)
{
    gl_api_t *api = arg;
    api->http_closed = 1;
    gl_api_maybe_free(api); /* else the last upload's after-work callback frees it */
}

void gl_api_close(gl_api_t *api, void (*on_closed)(void *arg), void *arg)
{
    api->on_closed = on_closed;
    api->on_closed_arg = arg;
    gl_web_close(api->web, NULL, NULL); /* its listeners close before the loop ends */
    api->web = NULL;
    api->closing = 1;
    gl_api_uploads_cancel(api);
    gl_http_server_close(api->http, on_http_closed, api);
}
