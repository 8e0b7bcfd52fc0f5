/* SPDX-License-Identifier: MIT */
/*
 * event_invoke_config.c: Put/Get/Update/Delete/ListFunctionEventInvokeConfigs
 * (/2019-09-25/functions/{F}/event-invoke-config[/list]): request validation with Lambda's
 * errors, and the FunctionEventInvokeConfig shape (FunctionArn qualified, ":$LATEST" by
 * default; LastModified a JSON number of epoch seconds; DestinationConfig always carries
 * OnSuccess and OnFailure, empty when unset). Storage and persistence are src/async's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "galley/async.h"
#include "galley/log.h"
#include "internal.h"

#define LIST_PAGE_MAX 50
#define DESTINATION_ARN_MAX 350

static const char *qual_of(const gl_fn_ref_t *ref)
{
    return ref->qualifier[0] ? ref->qualifier : "$LATEST";
}

static void reply_no_config(gl_api_t *api, gl_http_req_t *req, const char *name,
                            const char *qualifier)
{
    char arn[512];
    gl_registry_fn_arn(api->reg, name, qualifier, arn, sizeof(arn));
    gl_http_reply_aws_error(req, GL_AWS_RESOURCE_NOT_FOUND,
                            "The function %s doesn't have an EventInvokeConfig", arn);
}

/* The API shape of a stored config (new reference). */
static json_t *config_json(gl_api_t *api, const char *name, const char *qualifier,
                           const json_t *stored)
{
    char arn[512];
    gl_registry_fn_arn(api->reg, name, qualifier, arn, sizeof(arn));
    json_t *out = json_deep_copy(stored);
    if (!out)
        return NULL;
    json_object_set_new(out, "FunctionArn", json_string(arn));
    json_t *dc = json_object_get(out, "DestinationConfig");
    if (!json_is_object(dc)) {
        dc = json_object();
        json_object_set_new(out, "DestinationConfig", dc);
    }
    if (dc && !json_object_get(dc, "OnSuccess"))
        json_object_set_new(dc, "OnSuccess", json_object());
    if (dc && !json_object_get(dc, "OnFailure"))
        json_object_set_new(dc, "OnFailure", json_object());
    return out;
}

static void check_int(gl_violations_t *p, const json_t *body, const char *key, const char *member,
                      long lo, long hi)
{
    json_t *v = json_object_get(body, key);
    if (!v || json_is_null(v))
        return;
    if (!json_is_integer(v)) {
        gl_violation_add(p, "Value at '%s' failed to satisfy constraint: Member must be an integer",
                         member);
        return;
    }
    json_int_t n = json_integer_value(v);
    if (n < lo)
        gl_violation_add(
            p,
            "Value '%lld' at '%s' failed to satisfy constraint: Member must have value "
            "greater than or equal to %ld",
            (long long)n, member, lo);
    else if (n > hi)
        gl_violation_add(
            p,
            "Value '%lld' at '%s' failed to satisfy constraint: Member must have value "
            "less than or equal to %ld",
            (long long)n, member, hi);
}

/* The destination ARN under DestinationConfig.<which>, "" when absent; NULL after a schema
 * problem. */
static const char *destination_of(gl_violations_t *p, const json_t *dc, const char *which,
                                  const char *member)
{
    json_t *w = json_object_get(dc, which);
    if (!w || json_is_null(w))
        return "";
    json_t *d = json_is_object(w) ? json_object_get(w, "Destination") : NULL;
    if (!json_is_object(w) || (d && !json_is_string(d) && !json_is_null(d))) {
        gl_violation_add(p,
                         "Value at '%s' failed to satisfy constraint: Member must be a structure "
                         "with a string Destination",
                         member);
        return NULL;
    }
    const char *s = json_string_value(d);
    if (s && strlen(s) > DESTINATION_ARN_MAX) {
        gl_violation_add(
            p,
            "Value '%.64s...' at '%s.destination' failed to satisfy constraint: Member must "
            "have length less than or equal to %d",
            s, member, DESTINATION_ARN_MAX);
        return NULL;
    }
    return s ? s : "";
}

/*
 * Lambda's semantic checks of a destination: a kind galley knows (S3 only on failure), an
 * existing function that is not this one. 0, 1 for "invalid config" (the caller words it),
 * or -1 after replying.
 */
static int check_destination(gl_api_t *api, gl_http_req_t *req, const char *self,
                             const char *arn, int on_failure)
{
    if (!*arn)
        return 0;
    char target[GL_FN_NAME_MAX + 1];
    if (gl_async_check_destination(arn, on_failure, target, sizeof(target)) < 0)
        return 1;
    if (!*target)
        return 0;
    if (!strcmp(target, self)) {
        gl_http_reply_aws_error(req, GL_AWS_INVALID_PARAMETER_VALUE,
                                "You can't specify the function as a destination for itself.");
        return -1;
    }
    if (!gl_registry_find(api->reg, target)) {
        gl_http_reply_aws_error(req, GL_AWS_INVALID_PARAMETER_VALUE,
                                "The destination ARN %s is invalid.", arn);
        return -1;
    }
    return 0;
}

/*
 * Validate a Put/Update body and build the members it sets into *out (new object). Returns 0,
 * or -1 after replying.
 */
static int parse_settings(gl_api_t *api, gl_http_req_t *req, const char *self, json_t **out)
{
    json_error_t jerr;
    json_t *body = req->body.len ? json_loadb(req->body.data, req->body.len, 0, &jerr)
                                 : json_object();
    if (!json_is_object(body)) {
        json_decref(body);
        gl_http_reply_aws_error(req, GL_AWS_INVALID_REQUEST_CONTENT,
                                "Could not parse request body into json: %s",
                                req->body.len ? jerr.text : "not an object");
        return -1;
    }
    gl_violations_t p;
    gl_aws_error_t aerr;
    gl_violations_init(&p, INT_MAX, 0);
    check_int(&p, body, "MaximumRetryAttempts", "maximumRetryAttempts", 0, 2);
    check_int(&p, body, "MaximumEventAgeInSeconds", "maximumEventAgeInSeconds", 60, 21600);
    json_t *dc = json_object_get(body, "DestinationConfig");
    const char *ok_arn = "", *fail_arn = "";
    if (dc && !json_is_null(dc)) {
        if (!json_is_object(dc)) {
            gl_violation_add(
                &p, "Value at 'destinationConfig' failed to satisfy constraint: Member must "
                    "be a structure");
        } else {
            ok_arn = destination_of(&p, dc, "OnSuccess", "destinationConfig.onSuccess");
            fail_arn = destination_of(&p, dc, "OnFailure", "destinationConfig.onFailure");
        }
    }
    if (gl_violations_report(&p, &aerr) < 0) {
        gl_http_reply_aws_err(req, &aerr);
        json_decref(body);
        return -1;
    }
    json_t *retries = json_object_get(body, "MaximumRetryAttempts");
    json_t *age = json_object_get(body, "MaximumEventAgeInSeconds");
    int has_dc = dc && !json_is_null(dc);
    if ((!retries || json_is_null(retries)) && (!age || json_is_null(age)) && !has_dc) {
        gl_http_reply_aws_error(req, GL_AWS_INVALID_PARAMETER_VALUE,
                                "You must specify at least one of error handling or destination "
                                "setting.");
        json_decref(body);
        return -1;
    }
    int bad_ok = check_destination(api, req, self, ok_arn, 0);
    int bad_fail = bad_ok < 0 ? 0 : check_destination(api, req, self, fail_arn, 1);
    if (bad_ok < 0 || bad_fail < 0) {
        json_decref(body);
        return -1;
    }
    if (bad_ok || bad_fail) {
        char s[400] = "null", f[400] = "null";
        if (*ok_arn)
            snprintf(s, sizeof(s), "OnSuccess(destination=%s)", ok_arn);
        if (*fail_arn)
            snprintf(f, sizeof(f), "OnFailure(destination=%s)", fail_arn);
        gl_http_reply_aws_error(req, GL_AWS_INVALID_PARAMETER_VALUE,
                                "The provided destination config DestinationConfig(onSuccess=%s, "
                                "onFailure=%s) is invalid.",
                                s, f);
        json_decref(body);
        return -1;
    }
    json_t *set = json_object();
    if (retries && !json_is_null(retries))
        json_object_set(set, "MaximumRetryAttempts", retries);
    if (age && !json_is_null(age))
        json_object_set(set, "MaximumEventAgeInSeconds", age);
    if (has_dc) {
        json_t *on_ok = json_object(), *on_fail = json_object();
        if (*ok_arn)
            json_object_set_new(on_ok, "Destination", json_string(ok_arn));
        if (*fail_arn)
            json_object_set_new(on_fail, "Destination", json_string(fail_arn));
        json_object_set_new(set, "DestinationConfig",
                            json_pack("{s:o, s:o}", "OnSuccess", on_ok, "OnFailure", on_fail));
    }
    json_decref(body);
    *out = set;
    return 0;
}

static void put_or_update(gl_api_t *api, gl_http_req_t *req, const gl_fn_ref_t *ref, int update)
{
    gl_fn_t *fn = gl_api_resolve(api, req, ref);
    if (!fn)
        return;
    const char *name = fn->cfg.name, *q = qual_of(ref);
    const json_t *existing = gl_async_config_get(api->async, name, q);
    if (update && !existing) {
        reply_no_config(api, req, name, q);
        return;
    }
    json_t *set = NULL;
    if (parse_settings(api, req, name, &set) < 0)
        return;
    json_t *cfg = update ? json_deep_copy(existing) : json_object();
    if (!cfg || json_object_update(cfg, set) < 0) {
        json_decref(cfg);
        json_decref(set);
        gl_http_reply_aws_error(req, GL_AWS_SERVICE, "out of memory");
        return;
    }
    json_decref(set);
    json_object_set_new(cfg, "LastModified", json_real((double)gl_now_ms() / 1000.0));
    json_incref(cfg);
    int rc = gl_async_config_put(api->async, name, q, cfg);
    if (rc < 0) {
        json_decref(cfg);
        gl_http_reply_aws_error(req, GL_AWS_SERVICE, "could not store the configuration: %s",
                                strerror(-rc));
        return;
    }
    json_t *out = config_json(api, name, q, cfg);
    json_decref(cfg);
    gl_http_header_t h = {"x-amzn-RequestId", req->request_id};
    gl_http_reply_json(req, 200, &h, 1, out);
}

void gl_api_event_invoke_config(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    const gl_fn_ref_t *ref = &rt->ref;
    const char *m = req->method_name;
    if (!strcmp(m, "PUT")) {
        put_or_update(api, req, ref, 0);
        return;
    }
    if (!strcmp(m, "POST")) {
        put_or_update(api, req, ref, 1);
        return;
    }
    /* Get and Delete: a missing function and a missing config read the same. */
    gl_fn_t *latest = gl_registry_find(api->reg, ref->name);
    const char *name = latest ? latest->cfg.name : ref->name, *q = qual_of(ref);
    const json_t *stored = latest ? gl_async_config_get(api->async, name, q) : NULL;
    if (!stored) {
        reply_no_config(api, req, name, q);
        return;
    }
    gl_http_header_t h = {"x-amzn-RequestId", req->request_id};
    if (!strcmp(m, "GET")) {
        gl_http_reply_json(req, 200, &h, 1, config_json(api, name, q, stored));
        return;
    }
    int rc = gl_async_config_delete(api->async, name, q);
    if (rc < 0 && rc != -ENOENT) {
        gl_http_reply_aws_error(req, GL_AWS_SERVICE, "could not store the configuration: %s",
                                strerror(-rc));
        return;
    }
    gl_http_reply(req, 204, &h, 1, NULL, 0);
}

void gl_api_list_event_invoke_configs(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    const gl_fn_ref_t *ref = &rt->ref;
    gl_fn_ref_t unqualified = *ref;
    unqualified.qualifier[0] = '\0'; /* ListFunctionEventInvokeConfigs takes no qualifier */
    gl_fn_t *fn = gl_api_resolve(api, req, &unqualified);
    if (!fn)
        return;
    size_t page = LIST_PAGE_MAX;
    char *max_items = gl_query_get(req->query, "MaxItems");
    if (max_items) {
        char *end;
        long n = strtol(max_items, &end, 10);
        if (!*max_items || *end || n < 1 || n > LIST_PAGE_MAX) {
            gl_http_reply_aws_error(req, GL_AWS_VALIDATION,
                                    "1 validation error detected: Value '%.32s' at 'maxItems' "
                                    "failed to satisfy constraint: Member must have value %s",
                                    max_items,
                                    n < 1 ? "greater than or equal to 1"
                                          : "less than or equal to 50");
            free(max_items);
            return;
        }
        page = (size_t)n;
        free(max_items);
    }
    char *marker = gl_query_get(req->query, "Marker");
    json_t *quals = gl_async_config_qualifiers(api->async, fn->cfg.name);
    json_t *list = json_array(), *out = NULL;
    size_t i = 0, n = json_array_size(quals);
    if (marker && *marker) /* the marker is the first qualifier of the next page */
        while (i < n && strcmp(json_string_value(json_array_get(quals, i)), marker) < 0)
            i++;
    for (size_t taken = 0; i < n && taken < page; i++, taken++) {
        const char *q = json_string_value(json_array_get(quals, i));
        json_array_append_new(list, config_json(api, fn->cfg.name, q,
                                                gl_async_config_get(api->async, fn->cfg.name, q)));
    }
    out = json_pack("{s:o}", "FunctionEventInvokeConfigs", list);
    if (out && i < n)
        json_object_set_new(out, "NextMarker", json_string(json_string_value(json_array_get(quals, i))));
    json_decref(quals);
    free(marker);
    gl_http_header_t h = {"x-amzn-RequestId", req->request_id};
    gl_http_reply_json(req, 200, &h, 1, out);
}
