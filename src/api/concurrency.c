/* SPDX-License-Identifier: MIT */
/*
 * concurrency.c: the concurrency operations of the Lambda API: reserved concurrency
 * (Put/Get/DeleteFunctionConcurrency, for a function and all its versions) and provisioned
 * concurrency configs (Put/Get/Delete/ListProvisionedConcurrencyConfig(s), per version or
 * alias). Validation and wording follow Lambda; the registry stores the settings, the
 * scheduler enforces them (throttles, environments initialized ahead of traffic).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "galley/log.h"
#include "galley/sched.h"
#include "internal.h"

/* Lambda keeps at least 100 of 1000 unreserved: a tenth of the account limit here. */
static unsigned unreserved_floor(gl_api_t *api)
{
    return gl_sched_account_concurrency(api->sched) / 10;
}

static void reply_ok(gl_http_req_t *req, int status, json_t *body)
{
    gl_http_header_t h = {"x-amzn-RequestId", req->request_id};
    if (body)
        gl_http_reply_json(req, status, &h, 1, body);
    else
        gl_http_reply(req, status, &h, 1, NULL, 0);
}

/* The function's $LATEST by any of its names, or a 404 already sent. */
static gl_fn_t *function_of(gl_api_t *api, gl_http_req_t *req, const gl_fn_ref_t *ref)
{
    return gl_api_find_function(api, req, ref->name);
}

static json_t *parse_body(gl_http_req_t *req)
{
    json_error_t jerr;
    json_t *body = json_loadb(req->body.len ? req->body.data : "{}",
                              req->body.len ? req->body.len : 2, 0, &jerr);
    if (!body || !json_is_object(body)) {
        json_decref(body);
        gl_http_reply_aws_error(req, GL_AWS_INVALID_REQUEST_CONTENT,
                                "Could not parse request body into json: %s", jerr.text);
        return NULL;
    }
    return body;
}

static void put_reserved(gl_api_t *api, gl_http_req_t *req, gl_fn_t *fn)
{
    json_t *body = parse_body(req);
    if (!body)
        return;
    json_t *n = json_object_get(body, "ReservedConcurrentExecutions");
    if (!json_is_integer(n) || json_integer_value(n) < 0) {
        gl_http_reply_aws_error(req, GL_AWS_VALIDATION,
                                "1 validation error detected: Value at "
                                "'reservedConcurrentExecutions' failed to satisfy constraint: "
                                "Member must have value greater than or equal to 0");
        json_decref(body);
        return;
    }
    long want = (long)json_integer_value(n);
    json_decref(body);
    long others = gl_registry_total_reserved(api->reg);
    int current = gl_registry_reserved(api->reg, fn->cfg.name);
    if (current > 0)
        others -= current;
    long account = gl_sched_account_concurrency(api->sched);
    if (account - others - want < (long)unreserved_floor(api)) {
        gl_http_reply_aws_error(req, GL_AWS_INVALID_PARAMETER_VALUE,
                                "Specified ReservedConcurrentExecutions for function decreases "
                                "account's UnreservedConcurrentExecution below its minimum value "
                                "of [%u].",
                                unreserved_floor(api));
        return;
    }
    /* Provisioned concurrency may not exceed the reservation. */
    const json_t *pcs = gl_registry_provisioned(api->reg, fn->cfg.name);
    const char *q;
    json_t *v;
    long provisioned = 0;
    json_object_foreach((json_t *)pcs, q, v)
    provisioned += (long)json_integer_value(json_object_get(v, "Requested"));
    if (pcs && want < provisioned) {
        gl_http_reply_aws_error(req, GL_AWS_INVALID_PARAMETER_VALUE,
                                "ReservedConcurrentExecutions %ld should not be lower than "
                                "function's total provisioned concurrency [%ld].",
                                want, provisioned);
        return;
    }
    gl_err_t err = {0};
    if (gl_registry_set_reserved(api->reg, fn->cfg.name, (int)want, &err) < 0) {
        gl_log_error("api: reserved concurrency of %s: %s", fn->cfg.name, err.msg);
        gl_http_reply_aws_error(req, GL_AWS_SERVICE, "Could not store the concurrency setting");
        return;
    }
    gl_sched_set_reserved(api->sched, fn->cfg.name, (int)want);
    reply_ok(req, 200, json_pack("{s:I}", "ReservedConcurrentExecutions", (json_int_t)want));
}

void gl_api_function_concurrency(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    const gl_fn_ref_t *ref = &rt->ref;
    if (ref->qualifier[0]) {
        gl_http_reply_aws_error(req, GL_AWS_INVALID_PARAMETER_VALUE,
                                "Concurrency is set on a function, not on a version or alias: "
                                "remove the qualifier from '%s:%s'.",
                                ref->name, ref->qualifier);
        return;
    }
    gl_fn_t *fn = function_of(api, req, ref);
    if (!fn)
        return;
    const char *m = req->method_name;
    if (!strcmp(m, "PUT")) {
        put_reserved(api, req, fn);
    } else if (!strcmp(m, "DELETE")) {
        gl_err_t err = {0};
        if (gl_registry_set_reserved(api->reg, fn->cfg.name, -1, &err) < 0) {
            gl_http_reply_aws_error(req, GL_AWS_SERVICE, "Could not store the concurrency setting");
            return;
        }
        gl_sched_set_reserved(api->sched, fn->cfg.name, -1);
        reply_ok(req, 204, NULL);
    } else {
        int n = gl_registry_reserved(api->reg, fn->cfg.name);
        reply_ok(req, 200, n >= 0 ? json_pack("{s:i}", "ReservedConcurrentExecutions", n)
                                  : json_object());
    }
}

/* ---- provisioned concurrency ---- */

/* The snapshot a provisioned config applies to: the version, or the alias's version. */
static gl_fn_t *pc_target(gl_registry_t *reg, const char *name, const char *qualifier)
{
    return gl_registry_resolve(reg, name, qualifier, -1.0);
}

static json_t *pc_json(gl_api_t *api, const char *name, const char *qualifier, const json_t *cfg,
                       int with_arn)
{
    int requested = (int)json_integer_value(json_object_get(cfg, "Requested"));
    gl_fn_t *fn = pc_target(api->reg, name, qualifier);
    unsigned ready = fn ? gl_sched_provisioned_ready(api->sched, fn) : 0;
    const char *reason = NULL;
    const char *status = "IN_PROGRESS";
    if (fn && gl_sched_provisioned_failed(api->sched, fn, &reason))
        status = "FAILED";
    else if (ready >= (unsigned)requested)
        status = "READY";
    if (ready > (unsigned)requested)
        ready = (unsigned)requested;
    json_t *o = json_pack("{s:i, s:i, s:i, s:s, s:s}", "RequestedProvisionedConcurrentExecutions",
                          requested, "AvailableProvisionedConcurrentExecutions", (int)ready,
                          "AllocatedProvisionedConcurrentExecutions", (int)ready, "Status",
                          status, "LastModified",
                          json_string_value(json_object_get(cfg, "LastModified")));
    if (reason && !strcmp(status, "FAILED"))
        json_object_set_new(o, "StatusReason", json_string(reason));
    if (with_arn) {
        char arn[512];
        gl_registry_fn_arn(api->reg, name, qualifier, arn, sizeof(arn));
        json_object_set_new(o, "FunctionArn", json_string(arn));
    }
    return o;
}

static void pc_not_found(gl_http_req_t *req)
{
    gl_http_reply_aws_error(req, GL_AWS_PROVISIONED_CONFIG_NOT_FOUND,
                            "No Provisioned Concurrency Config found for this function");
}

static void pc_put(gl_api_t *api, gl_http_req_t *req, gl_fn_t *latest, const char *q)
{
    json_t *body = parse_body(req);
    if (!body)
        return;
    json_t *n = json_object_get(body, "ProvisionedConcurrentExecutions");
    long want = json_is_integer(n) ? (long)json_integer_value(n) : 0;
    json_decref(body);
    if (want < 1) {
        gl_http_reply_aws_error(req, GL_AWS_VALIDATION,
                                "1 validation error detected: Value at "
                                "'provisionedConcurrentExecutions' failed to satisfy constraint: "
                                "Member must have value greater than or equal to 1");
        return;
    }
    gl_fn_t *target = pc_target(api->reg, latest->cfg.name, q);
    if (!target) {
        char arn[512];
        gl_registry_fn_arn(api->reg, latest->cfg.name, q, arn, sizeof(arn));
        gl_http_reply_aws_error(req, GL_AWS_RESOURCE_NOT_FOUND, "Function not found: %s", arn);
        return;
    }
    if (!strcmp(target->version, "$LATEST")) {
        gl_http_reply_aws_error(req, GL_AWS_INVALID_PARAMETER_VALUE,
                                "Provisioned Concurrency Configs cannot be applied to unpublished "
                                "function versions.");
        return;
    }
    int reserved = gl_registry_reserved(api->reg, latest->cfg.name);
    long total = want;
    const json_t *pcs = gl_registry_provisioned(api->reg, latest->cfg.name);
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)pcs, k, v)
    if (strcmp(k, q) != 0)
        total += (long)json_integer_value(json_object_get(v, "Requested"));
    if (reserved >= 0 && total > reserved) {
        gl_http_reply_aws_error(req, GL_AWS_INVALID_PARAMETER_VALUE,
                                "Requested Provisioned Concurrency should not be greater than the "
                                "reservedConcurrentExecution for function");
        return;
    }
    if (reserved < 0 && total > (long)gl_sched_unreserved(api->sched) - unreserved_floor(api)) {
        gl_http_reply_aws_error(req, GL_AWS_INVALID_PARAMETER_VALUE,
                                "Specified ConcurrentExecutions for function is greater than "
                                "account's unreserved concurrency [%u].",
                                gl_sched_unreserved(api->sched));
        return;
    }
    gl_err_t err = {0};
    if (gl_registry_set_provisioned(api->reg, latest->cfg.name, q, (int)want, &err) < 0) {
        gl_log_error("api: provisioned concurrency of %s:%s: %s", latest->cfg.name, q, err.msg);
        gl_http_reply_aws_error(req, GL_AWS_SERVICE, "Could not store the provisioned config");
        return;
    }
    gl_sched_provision(api->sched, target, (unsigned)want);
    const json_t *cfg = json_object_get(gl_registry_provisioned(api->reg, latest->cfg.name), q);
    reply_ok(req, 202, pc_json(api, latest->cfg.name, q, cfg, 0));
}

void gl_api_provisioned_concurrency(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    const gl_fn_ref_t *ref = &rt->ref;
    gl_fn_t *latest = function_of(api, req, ref);
    if (!latest)
        return;
    const char *name = latest->cfg.name;
    const char *m = req->method_name;
    char *list = gl_query_get(req->query, "List");
    int listing = list && !strcmp(list, "ALL");
    free(list);
    if (listing && !strcmp(m, "GET")) {
        json_t *arr = json_array();
        const json_t *pcs = gl_registry_provisioned(api->reg, name);
        const char *q;
        json_t *v;
        json_object_foreach((json_t *)pcs, q, v)
        json_array_append_new(arr, pc_json(api, name, q, v, 1));
        reply_ok(req, 200, json_pack("{s:o}", "ProvisionedConcurrencyConfigs", arr));
        return;
    }
    const char *q = ref->qualifier;
    if (!q[0]) {
        gl_http_reply_aws_error(req, GL_AWS_VALIDATION,
                                "1 validation error detected: Value null at 'qualifier' failed "
                                "to satisfy constraint: Member must not be null");
        return;
    }
    if (!strcmp(m, "PUT")) {
        pc_put(api, req, latest, q);
        return;
    }
    const json_t *cfg = json_object_get(gl_registry_provisioned(api->reg, name), q);
    if (!cfg) {
        if (!strcmp(q, "$LATEST") || !pc_target(api->reg, name, q)) {
            char arn[512];
            gl_registry_fn_arn(api->reg, name, q, arn, sizeof(arn));
            gl_http_reply_aws_error(req, GL_AWS_RESOURCE_NOT_FOUND, "Function not found: %s", arn);
        } else {
            pc_not_found(req);
        }
        return;
    }
    if (!strcmp(m, "GET")) {
        reply_ok(req, 200, pc_json(api, name, q, cfg, 0));
        return;
    }
    /* DELETE: the environments become ordinary on-demand ones. */
    gl_fn_t *target = pc_target(api->reg, name, q);
    gl_err_t err = {0};
    if (gl_registry_set_provisioned(api->reg, name, q, 0, &err) < 0) {
        gl_http_reply_aws_error(req, GL_AWS_SERVICE, "Could not store the provisioned config");
        return;
    }
    if (target)
        gl_sched_provision(api->sched, target, 0);
    reply_ok(req, 204, NULL);
}

void gl_api_apply_concurrency(gl_registry_t *reg, struct gl_sched *sched)
{
    gl_fn_t **fns = NULL;
    size_t n = 0;
    if (gl_registry_list(reg, &fns, &n) < 0)
        return;
    for (size_t i = 0; i < n; i++) {
        const char *name = fns[i]->cfg.name;
        int reserved = gl_registry_reserved(reg, name);
        if (reserved >= 0)
            gl_sched_set_reserved(sched, name, reserved);
        const json_t *pcs = gl_registry_provisioned(reg, name);
        const char *q;
        json_t *v;
        json_object_foreach((json_t *)pcs, q, v)
        {
            gl_fn_t *target = pc_target(reg, name, q);
            if (target)
                gl_sched_provision(sched, target,
                                   (unsigned)json_integer_value(json_object_get(v, "Requested")));
            else
                gl_log_warn("provisioned concurrency of %s:%s: no such version or alias", name, q);
        }
    }
    free(fns);
}
