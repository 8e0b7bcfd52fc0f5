/* SPDX-License-Identifier: MIT */
/*
 * policy.c: AddPermission, GetPolicy and RemovePermission: a function's resource-based
 * policies, one per qualifier ($LATEST, for the unqualified function too, a version or an
 * alias), each {"RevisionId", "Statement": [...]}, kept together under the registry's
 * per-function setting "Policy", so they persist and go with the function; a deleted version
 * or alias takes its policy along (gl_api_forget_qualifier). Statements are built by
 * policy_doc.c. galley stores and returns policies; it does not enforce them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "galley/log.h"
#include "galley/util.h"
#include "internal.h"

#define POLICY "Policy"
#define RUNTIME_MANAGEMENT "RuntimeManagement" /* runtime_management.c's key */

gl_fn_t *gl_api_qualified_target(gl_api_t *api, gl_http_req_t *req, const gl_fn_ref_t *ref,
                                 int allow_alias, const char **key)
{
    gl_fn_t *fn = gl_registry_find(api->reg, ref->name);
    const char *q = ref->qualifier;
    char arn[512];
    *key = "$LATEST";
    if (fn && (!q[0] || !strcmp(q, "$LATEST")))
        return fn;
    if (fn && (gl_registry_find_version(api->reg, fn->cfg.name, q) ||
               (allow_alias && gl_registry_find_alias(api->reg, fn->cfg.name, q)))) {
        *key = q;
        return fn;
    }
    gl_registry_fn_arn(api->reg, fn ? fn->cfg.name : ref->name, q[0] ? q : NULL, arn, sizeof(arn));
    gl_http_reply_aws_error(req, GL_AWS_RESOURCE_NOT_FOUND, "Function not found: %s", arn);
    return NULL;
}

/* The stored policy of key (borrowed), or NULL. */
static const json_t *policy_of(gl_api_t *api, const gl_fn_t *fn, const char *key)
{
    return json_object_get(gl_registry_setting(api->reg, fn->cfg.name, POLICY), key);
}

/* Store policy (stolen; NULL or without statements: removed) as key's; -1 after replying. */
static int store(gl_api_t *api, gl_http_req_t *req, const gl_fn_t *fn, const char *key,
                 json_t *policy)
{
    const json_t *cur = gl_registry_setting(api->reg, fn->cfg.name, POLICY);
    json_t *all = cur ? json_deep_copy(cur) : json_object();
    gl_err_t err = {0};
    int rc = all ? 0 : -ENOMEM;
    if (!rc && policy && json_array_size(json_object_get(policy, "Statement")))
        rc = json_object_set(all, key, policy) == 0 ? 0 : -ENOMEM;
    else if (!rc)
        json_object_del(all, key);
    json_decref(policy);
    if (!rc && json_object_size(all) == 0) {
        json_decref(all);
        all = NULL; /* the last policy gone: drop the setting */
    }
    if (!rc)
        rc = gl_registry_set_setting(api->reg, fn->cfg.name, POLICY, all, &err);
    else
        json_decref(all);
    if (rc < 0) {
        gl_log_error("api: policy of %s: %s", fn->cfg.name, err.msg);
        gl_http_reply_aws_error(req, GL_AWS_SERVICE, "Could not store the policy: %s",
                                strerror(err.code ? err.code : ENOMEM));
        return -1;
    }
    return 0;
}

/* RevisionId precondition: the policy's, or the function's while it has none; -1 after
 * replying 412. */
static int check_revision(gl_http_req_t *req, const char *given, const json_t *policy,
                          const gl_fn_t *fn)
{
    const char *cur =
        policy ? json_string_value(json_object_get(policy, "RevisionId")) : fn->cfg.revision_id;
    if (!given || !*given || (cur && !strcmp(given, cur)))
        return 0;
    gl_http_reply_aws_error(req, GL_AWS_PRECONDITION_FAILED,
                            "The Revision Id provided does not match the latest Revision Id. "
                            "Call the GetPolicy API to retrieve the latest Revision Id");
    return -1;
}

/* A copy of key's policy (or a new empty one) with a fresh RevisionId; new reference. */
static json_t *next_revision(const json_t *policy)
{
    char rev[GL_UUID_LEN + 1];
    json_t *p = policy ? json_deep_copy(policy) : json_pack("{s:[]}", "Statement");
    gl_uuid4(rev);
    if (p && json_object_set_new(p, "RevisionId", json_string(rev)) < 0) {
        json_decref(p);
        return NULL;
    }
    return p;
}

static int has_sid(const json_t *policy, const char *sid, size_t *at)
{
    size_t i;
    json_t *st;
    json_array_foreach(json_object_get(policy, "Statement"), i, st)
    {
        const char *s = json_string_value(json_object_get(st, "Sid"));
        if (s && !strcmp(s, sid)) {
            *at = i;
            return 1;
        }
    }
    return 0;
}

/* Add st (stolen) to key's policy and reply 201 with it, or reply the error. */
static void add_statement(gl_api_t *api, gl_http_req_t *req, const gl_fn_t *fn, const char *key,
                          const json_t *body, json_t *st)
{
    const json_t *cur = policy_of(api, fn, key);
    const char *sid = json_string_value(json_object_get(st, "Sid"));
    size_t at;
    json_t *p = NULL;
    char *text = NULL;
    if (check_revision(req, json_string_value(json_object_get(body, "RevisionId")), cur, fn) < 0)
        goto out;
    if (cur && has_sid(cur, sid, &at)) {
        gl_http_reply_aws_error(req, GL_AWS_RESOURCE_CONFLICT,
                                "The statement id (%s) provided already exists. Please provide "
                                "a new statement id, or remove the existing statement.",
                                sid);
        goto out;
    }
    if (!(p = next_revision(cur)) || !(text = json_dumps(st, JSON_COMPACT)) ||
        json_array_append(json_object_get(p, "Statement"), st) < 0) {
        gl_http_reply_aws_error(req, GL_AWS_SERVICE, "out of memory");
        goto out;
    }
    if (store(api, req, fn, key, p) == 0)
        gl_api_reply_json(req, 201, json_pack("{s:s}", "Statement", text));
    p = NULL; /* stolen by store */
out:
    json_decref(p);
    json_decref(st);
    free(text);
}

void gl_api_add_permission(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    const char *key;
    char resource[512];
    gl_aws_error_t aerr;
    json_t *body = NULL, *st = NULL;
    gl_fn_t *fn = gl_api_qualified_target(api, req, &rt->ref, 1, &key);

    if (!fn || gl_api_refuse_template(req, fn) < 0 || !(body = gl_api_body_object(req)))
        goto out;
    gl_registry_fn_arn(api->reg, fn->cfg.name, strcmp(key, "$LATEST") ? key : NULL, resource,
                       sizeof(resource));
    if (gl_api_policy_statement(body, resource, &st, &aerr) < 0) {
        gl_http_reply_aws_err(req, &aerr);
        goto out;
    }
    add_statement(api, req, fn, key, body, st);
out:
    json_decref(body);
}

void gl_api_get_policy(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    const char *key;
    gl_fn_t *fn = gl_api_qualified_target(api, req, &rt->ref, 1, &key);
    if (!fn)
        return;
    const json_t *p = policy_of(api, fn, key);
    if (!p) {
        gl_http_reply_aws_error(req, GL_AWS_RESOURCE_NOT_FOUND,
                                "The resource you requested does not exist.");
        return;
    }
    char *doc = gl_api_policy_document(json_object_get(p, "Statement"));
    gl_api_reply_json(
        req, 200,
        doc ? json_pack("{s:s,s:O}", "Policy", doc, "RevisionId", json_object_get(p, "RevisionId"))
            : NULL);
    free(doc);
}

void gl_api_remove_permission(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    const char *key;
    char *sid = NULL, *rev = gl_query_get(req->query, "RevisionId");
    gl_fn_t *fn = gl_api_qualified_target(api, req, &rt->ref, 1, &key);
    const json_t *cur;
    json_t *p;
    size_t at;

    if (!fn || gl_api_refuse_template(req, fn) < 0)
        goto out;
    if (gl_url_decode(rt->param, strlen(rt->param), &sid) < 0) {
        gl_http_reply_aws_error(req, GL_AWS_VALIDATION,
                                "1 validation error detected: Value at 'statementId' failed to "
                                "satisfy constraint: Member must be valid percent-encoded text");
        goto out;
    }
    if (!(cur = policy_of(api, fn, key))) {
        gl_http_reply_aws_error(req, GL_AWS_RESOURCE_NOT_FOUND,
                                "No policy is associated with the given resource.");
        goto out;
    }
    if (!has_sid(cur, sid, &at)) {
        gl_http_reply_aws_error(req, GL_AWS_RESOURCE_NOT_FOUND,
                                "Statement %.100s is not found in resource policy.", sid);
        goto out;
    }
    if (check_revision(req, rev, cur, fn) < 0)
        goto out;
    if (!(p = next_revision(cur)) || json_array_remove(json_object_get(p, "Statement"), at) < 0) {
        json_decref(p);
        gl_http_reply_aws_error(req, GL_AWS_SERVICE, "out of memory");
        goto out;
    }
    if (store(api, req, fn, key, p) == 0) {
        gl_http_header_t h = {"x-amzn-RequestId", req->request_id};
        gl_http_reply(req, 204, &h, 1, NULL, 0);
    }
out:
    free(sid);
    free(rev);
}

/* Drop key from the object setting name of function fn_name, if there. */
static void forget(gl_api_t *api, const char *fn_name, const char *name, const char *key)
{
    const json_t *cur = gl_registry_setting(api->reg, fn_name, name);
    gl_err_t err = {0};
    if (!json_object_get(cur, key))
        return;
    json_t *all = json_deep_copy(cur);
    if (all)
        json_object_del(all, key);
    if (all && json_object_size(all) == 0) {
        json_decref(all);
        all = NULL;
    }
    if (gl_registry_set_setting(api->reg, fn_name, name, all, &err) < 0)
        gl_log_warn("api: forgetting %s of %s:%s: %s", name, fn_name, key, err.msg);
}

void gl_api_forget_qualifier(gl_api_t *api, const char *fn_name, const char *qualifier)
{
    forget(api, fn_name, POLICY, qualifier);
    forget(api, fn_name, RUNTIME_MANAGEMENT, qualifier);
    gl_api_function_url_forget(api, fn_name, qualifier);
}
