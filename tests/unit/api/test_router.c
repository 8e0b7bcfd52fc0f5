/* SPDX-License-Identifier: MIT */
/*
 * test_router.c: the Lambda API route table (src/api/router.c) through the calls it exposes in
 * src/api/internal.h: every row matched by its own path and method and by a hand-written list
 * of requests, wrong methods, unknown paths, trailing slashes, encoded FunctionNames, and each
 * operation's body and FunctionName limits.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"

#define MIB (1024u * 1024u)

/* Expected routing, written independently of the table. */
static const struct expect {
    const char *method, *path, *op;
    size_t fn_max;
    const char *fn, *param; /* raw captures, or NULL */
} expected[] = {
    {"POST", "/2015-03-31/functions", "CreateFunction", 0, NULL, NULL},
    {"POST", "/2015-03-31/functions/", "CreateFunction", 0, NULL, NULL},
    {"GET", "/2015-03-31/functions", "ListFunctions", 0, NULL, NULL},
    {"GET", "/2015-03-31/functions/", "ListFunctions", 0, NULL, NULL},
    {"GET", "/2015-03-31/functions/f", "GetFunction", 256, "f", NULL},
    {"GET", "/2015-03-31/functions/f/", "GetFunction", 256, "f", NULL},
    {"DELETE", "/2015-03-31/functions/f", "DeleteFunction", 256, "f", NULL},
    {"POST", "/2015-03-31/functions/f/invocations", "Invoke", 256, "f", NULL},
    {"POST", "/2021-11-15/functions/f/response-streaming-invocations", "InvokeWithResponseStream",
     256, "f", NULL},
    {"GET", "/2015-03-31/functions/f/configuration", "GetFunctionConfiguration", 256, "f", NULL},
    {"PUT", "/2015-03-31/functions/f/configuration", "UpdateFunctionConfiguration", 140, "f",
     NULL},
    {"PUT", "/2015-03-31/functions/f/code", "UpdateFunctionCode", 140, "f", NULL},
    {"POST", "/2015-03-31/functions/f/versions", "PublishVersion", 140, "f", NULL},
    {"POST", "/2015-03-31/functions/f/versions/", "PublishVersion", 140, "f", NULL},
    {"GET", "/2015-03-31/functions/f/versions", "ListVersionsByFunction", 256, "f", NULL},
    {"POST", "/2015-03-31/functions/f/aliases", "CreateAlias", 140, "f", NULL},
    {"GET", "/2015-03-31/functions/f/aliases/", "ListAliases", 140, "f", NULL},
    {"GET", "/2015-03-31/functions/f/aliases/live", "GetAlias", 140, "f", "live"},
    {"PUT", "/2015-03-31/functions/f/aliases/live", "UpdateAlias", 140, "f", "live"},
    {"DELETE", "/2015-03-31/functions/f/aliases/live", "DeleteAlias", 140, "f", "live"},
    {"POST", "/2014-11-13/functions/f/invoke-async", "InvokeAsync", 256, "f", NULL},
    {"POST", "/2014-11-13/functions/f/invoke-async/", "InvokeAsync", 256, "f", NULL},
    {"GET", "/2016-08-19/account-settings", "GetAccountSettings", 0, NULL, NULL},
    {"GET", "/2016-08-19/account-settings/", "GetAccountSettings", 0, NULL, NULL},
    {"PUT", "/2017-10-31/functions/f/concurrency", "PutFunctionConcurrency", 140, "f", NULL},
    {"DELETE", "/2017-10-31/functions/f/concurrency", "DeleteFunctionConcurrency", 140, "f",
     NULL},
    {"GET", "/2019-09-30/functions/f/concurrency", "GetFunctionConcurrency", 140, "f", NULL},
    {"GET", "/2019-09-30/functions/f/provisioned-concurrency", "GetProvisionedConcurrencyConfig",
     140, "f", NULL},
    {"PUT", "/2019-09-30/functions/f/provisioned-concurrency", "PutProvisionedConcurrencyConfig",
     140, "f", NULL},
    {"DELETE", "/2019-09-30/functions/f/provisioned-concurrency",
     "DeleteProvisionedConcurrencyConfig", 140, "f", NULL},
    {"PUT", "/2019-09-25/functions/f/event-invoke-config", "PutFunctionEventInvokeConfig", 140,
     "f", NULL},
    {"POST", "/2019-09-25/functions/f/event-invoke-config", "UpdateFunctionEventInvokeConfig", 140,
     "f", NULL},
    {"GET", "/2019-09-25/functions/f/event-invoke-config", "GetFunctionEventInvokeConfig", 140,
     "f", NULL},
    {"DELETE", "/2019-09-25/functions/f/event-invoke-config", "DeleteFunctionEventInvokeConfig",
     140, "f", NULL},
    {"GET", "/2019-09-25/functions/f/event-invoke-config/list", "ListFunctionEventInvokeConfigs",
     140, "f", NULL},
    {"POST", "/2021-10-31/functions/f/url", "CreateFunctionUrlConfig", 140, "f", NULL},
    {"GET", "/2021-10-31/functions/f/url", "GetFunctionUrlConfig", 140, "f", NULL},
    {"PUT", "/2021-10-31/functions/f/url", "UpdateFunctionUrlConfig", 140, "f", NULL},
    {"DELETE", "/2021-10-31/functions/f/url", "DeleteFunctionUrlConfig", 140, "f", NULL},
    {"GET", "/2021-10-31/functions/f/urls", "ListFunctionUrlConfigs", 140, "f", NULL},
    {"GET", "/2024-08-31/functions/f/recursion-config", "GetFunctionRecursionConfig", 140, "f",
     NULL},
    {"PUT", "/2024-08-31/functions/f/recursion-config", "PutFunctionRecursionConfig", 140, "f",
     NULL},
    {"POST", "/2015-03-31/functions/f/policy", "AddPermission", 256, "f", NULL},
    {"GET", "/2015-03-31/functions/f/policy", "GetPolicy", 256, "f", NULL},
    {"DELETE", "/2015-03-31/functions/f/policy/sid-1", "RemovePermission", 256, "f", "sid-1"},
    /* the tags {Resource} is an ARN the handler reads: no FunctionName limit */
    {"POST", "/2017-03-31/tags/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Af",
     "TagResource", 0, "arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Af", NULL},
    {"DELETE", "/2017-03-31/tags/arn:aws:lambda:us-east-1:123456789012:function:f",
     "UntagResource", 0, "arn:aws:lambda:us-east-1:123456789012:function:f", NULL},
    {"GET", "/2017-03-31/tags/x", "ListTags", 0, "x", NULL},
    {"GET", "/2021-07-20/functions/f/runtime-management-config", "GetRuntimeManagementConfig",
     256, "f", NULL},
    {"PUT", "/2021-07-20/functions/f/runtime-management-config", "PutRuntimeManagementConfig",
     256, "f", NULL},
    {"GET", "/2018-10-31/layers", "ListLayers", 0, NULL, NULL},
    {"GET", "/2018-10-31/layers/", "ListLayers", 0, NULL, NULL},
    {"POST", "/2018-10-31/layers/l/versions", "PublishLayerVersion", 0, "l", NULL},
    {"GET", "/2018-10-31/layers/l/versions", "ListLayerVersions", 0, "l", NULL},
    {"GET", "/2018-10-31/layers/l/versions/3", "GetLayerVersion", 0, "l", "3"},
    {"DELETE", "/2018-10-31/layers/l/versions/3", "DeleteLayerVersion", 0, "l", "3"},
    {"POST", "/2018-10-31/layers/l/versions/3/policy", "AddLayerVersionPermission", 0, "l",
     NULL},
    {"GET", "/2018-10-31/layers/l/versions/3/policy", "GetLayerVersionPolicy", 0, "l",
     NULL},
    {"DELETE", "/2018-10-31/layers/l/versions/3/policy/s", "RemoveLayerVersionPermission", 0, "l",
     "s"},
    /* the {CodeSigningConfigArn} is an ARN the handler reads: no FunctionName limit */
    {"POST", "/2020-04-22/code-signing-configs", "CreateCodeSigningConfig", 0, NULL, NULL},
    {"GET", "/2020-04-22/code-signing-configs/", "ListCodeSigningConfigs", 0, NULL, NULL},
    {"GET", "/2020-04-22/code-signing-configs/c", "GetCodeSigningConfig", 0, "c", NULL},
    {"PUT", "/2020-04-22/code-signing-configs/c", "UpdateCodeSigningConfig", 0, "c", NULL},
    {"DELETE", "/2020-04-22/code-signing-configs/c", "DeleteCodeSigningConfig", 0, "c", NULL},
    {"GET", "/2020-04-22/code-signing-configs/c/functions", "ListFunctionsByCodeSigningConfig", 0,
     "c", NULL},
    {"PUT", "/2020-06-30/functions/f/code-signing-config", "PutFunctionCodeSigningConfig", 256,
     "f", NULL},
    {"GET", "/2020-06-30/functions/f/code-signing-config", "GetFunctionCodeSigningConfig", 256,
     "f", NULL},
    {"DELETE", "/2020-06-30/functions/f/code-signing-config", "DeleteFunctionCodeSigningConfig",
     256, "f", NULL},
    /* durable executions: the ARN or callback id is read by the handler */
    {"POST", "/2025-12-01/durable-executions/a%2Fb/checkpoint", "CheckpointDurableExecution", 0,
     "a%2Fb", NULL},
    {"GET", "/2025-12-01/durable-executions/a/state", "GetDurableExecutionState", 0, "a", NULL},
    {"GET", "/2025-12-01/durable-executions/a/history", "GetDurableExecutionHistory", 0, "a",
     NULL},
    {"POST", "/2025-12-01/durable-executions/a/stop", "StopDurableExecution", 0, "a", NULL},
    {"GET", "/2025-12-01/durable-executions/a", "GetDurableExecution", 0, "a", NULL},
    {"GET", "/2025-12-01/functions/f/durable-executions", "ListDurableExecutionsByFunction", 256,
     "f", NULL},
    {"POST", "/2025-12-01/durable-execution-callbacks/c/succeed",
     "SendDurableExecutionCallbackSuccess", 0, "c", NULL},
    {"POST", "/2025-12-01/durable-execution-callbacks/c/fail",
     "SendDurableExecutionCallbackFailure", 0, "c", NULL},
    {"POST", "/2025-12-01/durable-execution-callbacks/c/heartbeat",
     "SendDurableExecutionCallbackHeartbeat", 0, "c", NULL},
    {"GET", "/_galley/environments", "GalleyEnvironments", 0, NULL, NULL},
    {"POST", "/_galley/reset", "GalleyReset", 0, NULL, NULL},
    {"GET", "/_galley/durable", "GalleyDurable", 0, NULL, NULL},
    {"POST", "/_galley/durable/skip-waits", "GalleyDurableControl", 0, "skip-waits", NULL},
    {"POST", "/_galley/functions/f/cold", "GalleyFunctionControl", 140, "f", "cold"},
    {"GET", "/_galley/functions/f/faults", "GalleyFunctionControl", 140, "f", "faults"},
    {"PATCH", "/_galley/functions/f/anything", "GalleyFunctionControl", 140, "f", "anything"},
    {"GET", "/metrics", "GalleyMetrics", 0, NULL, NULL},
    {"POST", "/", "CloudWatchLogs", 0, NULL, NULL},
    /* encoded FunctionNames stay raw in the captures */
    {"GET", "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Af",
     "GetFunction", 256, "arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Af", NULL},
    {"POST", "/2015-03-31/functions/f%3A1/invocations", "Invoke", 256, "f%3A1", NULL},
};

static void test_expected_routes(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
        const struct expect *e = &expected[i];
        gl_api_route_t rt;
        if (gl_api_route_match(e->method, e->path, &rt) != GL_API_ROUTED)
            fail_msg("%s %s: not routed", e->method, e->path);
        assert_string_equal(rt.op->name, e->op);
        assert_int_equal(rt.op->fn_max, e->fn_max);
        assert_non_null(rt.op->handler);
        if (e->fn) {
            assert_non_null(rt.fn_seg);
            assert_int_equal(rt.fn_len, strlen(e->fn));
            assert_memory_equal(rt.fn_seg, e->fn, rt.fn_len);
        } else {
            assert_null(rt.fn_seg);
        }
        if (e->param)
            assert_string_equal(rt.param, e->param);
        else
            assert_null(rt.param);
    }
}

/* Fill {Param}s of op's pattern with "p" and prefix its date. */
static void path_of(const gl_api_op_t *op, char *out, size_t len)
{
    size_t n = op->date ? (size_t)snprintf(out, len, "/%s", op->date) : 0;
    for (const char *q = op->pattern; *q && n + 2 < len; q++) {
        if (*q == '{') {
            out[n++] = 'p';
            q = strchr(q, '}');
        } else {
            out[n++] = *q;
        }
    }
    out[n] = '\0';
}

/* Every row is reachable: its own path and method find it and no earlier row. */
static void test_every_row_matches_itself(void **state)
{
    (void)state;
    size_t n;
    const gl_api_op_t *ops = gl_api_ops(&n);
    assert_true(n >= 30);
    for (size_t i = 0; i < n; i++) {
        char path[256];
        gl_api_route_t rt;
        path_of(&ops[i], path, sizeof(path));
        const char *method = ops[i].method ? ops[i].method : "GET";
        assert_int_equal(gl_api_route_match(method, path, &rt), GL_API_ROUTED);
        if (rt.op != &ops[i])
            fail_msg("%s %s routes to %s, not %s", method, path, rt.op->name, ops[i].name);
        /* A second parameter is the last segment, so it is NUL-terminated in the path. */
        if (rt.param)
            assert_string_equal(rt.param, "p");
        /* Every expected request names a row, and every row is expected. */
        int listed = 0;
        for (size_t j = 0; j < sizeof(expected) / sizeof(expected[0]); j++)
            listed |= !strcmp(expected[j].op, ops[i].name);
        if (!listed)
            fail_msg("row %s has no expected request", ops[i].name);
    }
}

static void test_wrong_method(void **state)
{
    (void)state;
    static const char *const bad[][2] = {
        {"PUT", "/2015-03-31/functions"},
        {"POST", "/2015-03-31/functions/f"},
        {"PUT", "/2015-03-31/functions/f/"},
        {"GET", "/2015-03-31/functions/f/invocations"},
        {"DELETE", "/2015-03-31/functions/f/configuration"},
        {"GET", "/2015-03-31/functions/f/code"},
        {"DELETE", "/2015-03-31/functions/f/versions/"},
        {"PUT", "/2015-03-31/functions/f/aliases"},
        {"POST", "/2015-03-31/functions/f/aliases/live"},
        {"GET", "/2014-11-13/functions/f/invoke-async"},
        {"POST", "/2016-08-19/account-settings"},
        {"GET", "/2017-10-31/functions/f/concurrency"},
        {"PUT", "/2019-09-30/functions/f/concurrency"},
        {"POST", "/2019-09-30/functions/f/provisioned-concurrency"},
        {"PATCH", "/2019-09-25/functions/f/event-invoke-config"},
        {"PUT", "/2019-09-25/functions/f/event-invoke-config/list"},
        {"POST", "/_galley/environments"},
        {"GET", "/_galley/reset"},
        {"POST", "/metrics"},
        {"GET", "/"}, /* CloudWatch Logs is POST only */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        gl_api_route_t rt;
        if (gl_api_route_match(bad[i][0], bad[i][1], &rt) != GL_API_BAD_METHOD)
            fail_msg("%s %s: not a wrong method", bad[i][0], bad[i][1]);
        assert_null(rt.op);
    }
}

static void test_unknown_paths(void **state)
{
    (void)state;
    static const char *const unknown[] = {
        "",
        "//",
        "/2015-03-31",
        "/2015-03-31/functionsX",
        "/2015-03-31/functions//invocations",
        "/2015-03-31/functions/f/invocations/",  /* no trailing slash there */
        "/2015-03-31/functions/f/aliases/live/", /* nor after an alias name */
        "/2015-03-31/functions/f/aliases/a/b",
        "/2015-03-31/functions/f//",
        "/2015-03-31/functions/f/unknown",
        "/2014-11-13/functions",
        "/2014-11-13/functions/f",
        "/2014-11-13/functions/f/invocations",
        "/2017-10-31/functions/f/provisioned-concurrency",
        "/2019-09-30/functions",
        "/2019-09-25/functions/f/event-invoke-config/",
        "/2016-08-19/account-settings//",
        "/2099-01-01/functions/f",
        "/_galley/functions/f",
        "/_galley/functions/f/",
        "/_galley/functions//cold",
        "/_galley/functions/f/cold/",
        "/_galley/functions/f/cold/x",
        "/_galley/environments/",
        "/metrics/",
        "/metricsx",
    };
    for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++) {
        gl_api_route_t rt;
        if (gl_api_route_match("GET", unknown[i], &rt) != GL_API_NO_ROUTE)
            fail_msg("GET '%s': routed", unknown[i]);
        assert_null(rt.op);
        assert_int_equal(gl_api_route_match("POST", unknown[i], &rt), GL_API_NO_ROUTE);
    }
}

static size_t limit_of(const char *method, const char *path, const char *invocation_type)
{
    gl_http_header_t h = {"x-amz-invocation-type", invocation_type};
    gl_http_req_t req = {.method_name = method, .path = (char *)path, .query = (char *)"",
                         .headers = invocation_type ? &h : NULL,
                         .nheaders = invocation_type ? 1 : 0};
    gl_api_route_t rt;
    gl_api_route_match(method, path, &rt);
    return gl_api_op_body_limit(rt.op, &req);
}

static void test_body_limits(void **state)
{
    (void)state;
    const char *inv = "/2015-03-31/functions/f/invocations";
    assert_int_equal(limit_of("POST", inv, NULL), 6 * MIB);
    assert_int_equal(limit_of("POST", inv, "RequestResponse"), 6 * MIB);
    assert_int_equal(limit_of("POST", inv, "DryRun"), 6 * MIB);
    assert_int_equal(limit_of("POST", inv, "Event"), 1 * MIB);
    assert_int_equal(limit_of("POST", "/2014-11-13/functions/f/invoke-async", NULL), 262144);
    assert_int_equal(limit_of("POST", "/2015-03-31/functions", NULL), 70167211);
    assert_int_equal(limit_of("PUT", "/2015-03-31/functions/f/code", NULL), 70167211);
    assert_int_equal(limit_of("PUT", "/2015-03-31/functions/f/configuration", NULL), 6 * MIB);
    assert_int_equal(limit_of("POST", "/2015-03-31/functions/f/aliases", NULL), 6 * MIB);
    assert_int_equal(limit_of("GET", "/nowhere", NULL), 6 * MIB);
    assert_int_equal(limit_of("GET", "/2015-03-31/functions/f/code", NULL), 6 * MIB);

    /* The 413 message names these operations; every other one says "request". */
    size_t n;
    const gl_api_op_t *ops = gl_api_ops(&n);
    for (size_t i = 0; i < n; i++) {
        const char *as = ops[i].too_large_as;
        if (!strcmp(ops[i].name, "Invoke") || !strcmp(ops[i].name, "InvokeAsync") ||
            !strcmp(ops[i].name, "InvokeWithResponseStream"))
            assert_string_equal(as, "InvokeFunction");
        else if (!strcmp(ops[i].name, "CreateFunction") ||
                 !strcmp(ops[i].name, "UpdateFunctionCode") ||
                 !strcmp(ops[i].name, "PublishLayerVersion"))
            assert_string_equal(as, ops[i].name);
        else
            assert_null(as);
        /* Only InvokeAsync is an Event by its path. */
        assert_int_equal(!!(ops[i].flags & GL_API_OP_EVENT), !strcmp(ops[i].name, "InvokeAsync"));
    }
}

static int parse(const char *method, const char *path, const char *query, gl_fn_ref_t *ref,
                 gl_aws_err_t *etype, char *msg, size_t msglen)
{
    gl_http_req_t req = {.method_name = method, .path = (char *)path, .query = (char *)query};
    gl_api_route_t rt;
    assert_int_equal(gl_api_route_match(method, path, &rt), GL_API_ROUTED);
    gl_aws_error_t aerr;
    int rc = gl_api_route_parse_fn(&rt, &req, "us-east-1", "123456789012", &aerr);
    *ref = rt.ref;
    if (rc < 0) {
        *etype = aerr.type;
        snprintf(msg, msglen, "%.*s", (int)msglen - 1, aerr.msg);
    }
    return rc;
}

static void test_encoded_names(void **state)
{
    (void)state;
    gl_fn_ref_t ref;
    gl_aws_err_t etype;
    char msg[512];
    assert_int_equal(parse("GET",
                           "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012"
                           "%3Afunction%3Amy-fn%3Alive",
                           "", &ref, &etype, msg, sizeof(msg)),
                     0);
    assert_string_equal(ref.name, "my-fn");
    assert_string_equal(ref.qualifier, "live");
    assert_int_equal(parse("POST", "/2015-03-31/functions/my-fn/invocations", "Qualifier=3", &ref,
                           &etype, msg, sizeof(msg)),
                     0);
    assert_string_equal(ref.name, "my-fn");
    assert_string_equal(ref.qualifier, "3");
    assert_int_equal(parse("POST", "/_galley/functions/my%2Dfn/cold", "", &ref, &etype, msg,
                           sizeof(msg)),
                     0);
    assert_string_equal(ref.name, "my-fn");
    /* Broken percent-encoding is Lambda's validation error. */
    assert_int_equal(parse("GET", "/2015-03-31/functions/bad%zz", "", &ref, &etype, msg,
                           sizeof(msg)),
                     -EINVAL);
    assert_int_equal(etype, GL_AWS_VALIDATION);
    assert_non_null(strstr(msg, "valid percent-encoded text"));
}

/* A full ARN with a 64-character name and a 40-character qualifier: 152 characters, over
 * the 140 of most writes, within the 256 of Invoke, GetFunction(Configuration), DeleteFunction
 * and ListVersionsByFunction. */
#define ARN152 "arn:aws:lambda:us-east-1:123456789012:function:" \
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:" \
    "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static void test_name_length_limits(void **state)
{
    (void)state;
    static const char *const within_256[][2] = {
        {"POST", "/2015-03-31/functions/" ARN152 "/invocations"},
        {"POST", "/2014-11-13/functions/" ARN152 "/invoke-async"},
        {"GET", "/2015-03-31/functions/" ARN152},
        {"GET", "/2015-03-31/functions/" ARN152 "/configuration"},
        {"DELETE", "/2015-03-31/functions/" ARN152},
        {"GET", "/2015-03-31/functions/" ARN152 "/versions"},
    };
    static const char *const over_140[][2] = {
        {"PUT", "/2015-03-31/functions/" ARN152 "/configuration"},
        {"PUT", "/2015-03-31/functions/" ARN152 "/code"},
        {"POST", "/2015-03-31/functions/" ARN152 "/versions"},
        {"POST", "/2015-03-31/functions/" ARN152 "/aliases"},
        {"GET", "/2015-03-31/functions/" ARN152 "/aliases/live"},
        {"PUT", "/2017-10-31/functions/" ARN152 "/concurrency"},
        {"GET", "/2019-09-30/functions/" ARN152 "/provisioned-concurrency"},
        {"GET", "/2019-09-25/functions/" ARN152 "/event-invoke-config"},
        {"POST", "/_galley/functions/" ARN152 "/cold"},
    };
    gl_fn_ref_t ref;
    gl_aws_err_t etype;
    char msg[1024];
    assert_int_equal(strlen(ARN152), 152);
    for (size_t i = 0; i < sizeof(within_256) / sizeof(within_256[0]); i++) {
        if (parse(within_256[i][0], within_256[i][1], "", &ref, &etype, msg, sizeof(msg)) < 0)
            fail_msg("%s %s: %s", within_256[i][0], within_256[i][1], msg);
        assert_int_equal(strlen(ref.name), 64);
        assert_int_equal(strlen(ref.qualifier), 40);
    }
    for (size_t i = 0; i < sizeof(over_140) / sizeof(over_140[0]); i++) {
        assert_int_equal(parse(over_140[i][0], over_140[i][1], "", &ref, &etype, msg,
                               sizeof(msg)),
                         -EINVAL);
        assert_int_equal(etype, GL_AWS_VALIDATION);
        if (!strstr(msg, "less than or equal to 140"))
            fail_msg("%s %s: %s", over_140[i][0], over_140[i][1], msg);
    }
}

/* Every /_galley row wants the control token; Lambda's rows and GET /metrics do not. */
static void test_control_rows_need_the_token(void **state)
{
    (void)state;
    size_t n, control = 0;
    const gl_api_op_t *ops = gl_api_ops(&n);
    for (size_t i = 0; i < n; i++) {
        int galley = !strncmp(ops[i].pattern, GL_API_GALLEY_PREFIX "/",
                              strlen(GL_API_GALLEY_PREFIX) + 1);
        assert_int_equal(!!(ops[i].flags & GL_API_OP_CONTROL), galley);
        if (galley) {
            assert_null(ops[i].date);
            control++;
        }
    }
    assert_int_equal(control, 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_expected_routes),
        cmocka_unit_test(test_every_row_matches_itself),
        cmocka_unit_test(test_wrong_method),
        cmocka_unit_test(test_unknown_paths),
        cmocka_unit_test(test_body_limits),
        cmocka_unit_test(test_encoded_names),
        cmocka_unit_test(test_name_length_limits),
        cmocka_unit_test(test_control_rows_need_the_token),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
