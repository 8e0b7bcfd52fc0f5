/* SPDX-License-Identifier: MIT */
/*
 * durable_invoke.c: Invoke of a durable function (one with a DurableConfig). Instead of one
 * invocation, the Invoke starts a durable execution (include/galley/durable.h), idempotent by
 * X-Amz-Durable-Execution-Name. RequestResponse answers when the execution ends, with its
 * Result (or its Error and X-Amz-Function-Error); Event answers 202 once the execution is on
 * disk. Both carry X-Amz-Durable-Execution-Arn. As Lambda, a durable function is invoked by a
 * qualified name: a version, an alias or an explicit $LATEST.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "galley/durable.h"
#include "internal.h"

static void on_client_gone(gl_http_req_t *req)
{
    gl_api_t *api = req->data;
    gl_durable_forget(api->durable, req);
}

/* An ended execution as an Invoke answer: the Result, or Lambda's error object. */
static void reply_outcome(gl_http_req_t *req, json_t *body, int event)
{
    const char *arn = json_string_value(json_object_get(body, "DurableExecutionArn"));
    const char *status = json_string_value(json_object_get(body, "Status"));
    const char *version = json_string_value(json_object_get(body, "Version"));
    gl_http_header_t h[5] = {{"x-amzn-RequestId", req->request_id},
                             {"X-Amz-Durable-Execution-Arn", arn ? arn : ""},
                             {"Content-Type", "application/json"},
                             {"X-Amz-Executed-Version", version ? version : "$LATEST"}};
    size_t n = 4;
    if (event) {
        gl_http_reply(req, 202, h, 2, NULL, 0);
        return;
    }
    char *text = NULL;
    if (status && !strcmp(status, "SUCCEEDED")) {
        const char *r = json_string_value(json_object_get(body, "Result"));
        text = strdup(r ? r : "null");
    } else {
        const json_t *e = json_object_get(body, "Error");
        const char *type = json_string_value(json_object_get(e, "ErrorType"));
        const char *msg = json_string_value(json_object_get(e, "ErrorMessage"));
        json_t *err = json_pack("{s:s,s:s}", "errorType", type ? type : status ? status : "Error",
                                "errorMessage", msg ? msg : "The durable execution did not "
                                                            "succeed.");
        text = err ? json_dumps(err, JSON_COMPACT) : NULL;
        json_decref(err);
        h[n++] = (gl_http_header_t){"X-Amz-Function-Error", "Unhandled"};
    }
    if (!text) {
        gl_http_reply_aws_error(req, GL_AWS_SERVICE, "out of memory");
        return;
    }
    gl_http_reply_owned(req, 200, h, n, text, strlen(text));
}

/* The durable module's answer: an Event start (the execution still RUNNING) or the end. */
static void on_reply(void *arg, json_t *body, const gl_aws_error_t *aerr)
{
    gl_http_req_t *req = arg;
    const char *status = json_string_value(json_object_get(body, "Status"));
    req->on_abort = NULL;
    req->data = NULL;
    if (aerr)
        gl_http_reply_aws_err(req, aerr);
    else
        reply_outcome(req, body, status && !strcmp(status, "RUNNING"));
    json_decref(body);
}

/* X-Amz-Durable-Execution-Name: NULL when absent, "" after replying 400 for a bad one. */
static const char *execution_name(gl_http_req_t *req)
{
    const char *name = gl_http_req_header(req, "x-amz-durable-execution-name");
    if (!name)
        return NULL;
    size_t n = strlen(name);
    if (n >= 1 && n <= 64 &&
        strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") == n)
        return name;
    gl_http_reply_aws_error(req, GL_AWS_VALIDATION,
                            "1 validation error detected: Value '%.80s' at 'durableExecutionName' "
                            "failed to satisfy constraint: Member must satisfy regular expression "
                            "pattern: [a-zA-Z0-9-_]+ and have length between 1 and 64",
                            name);
    return "";
}

int gl_api_invoke_durable(gl_api_t *api, gl_http_req_t *req, const gl_fn_ref_t *ref, gl_fn_t *fn,
                          const char *type)
{
    if (!gl_durable_config(fn))
        return 0;
    if (!api->durable) {
        gl_http_reply_aws_error(req, GL_AWS_SERVICE, "durable executions need a state directory");
        return 1;
    }
    if (!ref->qualifier[0]) {
        gl_http_reply_aws_error(req, GL_AWS_INVALID_PARAMETER_VALUE,
                                "You cannot invoke a durable function using an unqualified ARN. "
                                "Use a version, an alias or $LATEST as the qualifier.");
        return 1;
    }
    if (!strcmp(type, "Stream")) {
        gl_http_reply_aws_error(req, GL_AWS_INVALID_PARAMETER_VALUE,
                                "galley does not stream the response of a durable function: "
                                "use Invoke.");
        return 1;
    }
    const char *name = execution_name(req);
    if (name && !*name)
        return 1;
    int wait = !strcmp(type, "RequestResponse");
    gl_durable_start_in_t in = {.fn = fn,
                                .qualifier = ref->qualifier,
                                .name = name,
                                .payload = req->body.len ? req->body.data : "{}",
                                .len = req->body.len ? req->body.len : 2,
                                .wait = wait};
    gl_aws_error_t aerr;
    /* Set before the call: a failed journal write answers before it returns. */
    req->data = api;
    req->on_abort = on_client_gone;
    if (gl_durable_invoke(api->durable, &in, on_reply, req, &aerr) < 0) {
        req->on_abort = NULL;
        req->data = NULL;
        gl_http_reply_aws_err(req, &aerr);
    }
    return 1;
}
