/* SPDX-License-Identifier: MIT */
/*
 * layer_policy.c: AddLayerVersionPermission, GetLayerVersionPolicy and
 * RemoveLayerVersionPermission: a layer version's statements (Sid -> statement, as Lambda
 * builds them: Action lambda:GetLayerVersion, Principal "*" or an account's root, an optional
 * aws:PrincipalOrgID condition) and their RevisionId, kept in the version's record. galley has
 * one account: the policy is stored and returned, never enforced.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "galley/layers.h"
#include "galley/log.h"
#include "galley/util.h"
#include "internal.h"

/* The RevisionId query parameter, when given, must be the policy's; -1 after replying 412. */
static int check_revision(gl_http_req_t *req, const json_t *rec)
{
    char *want = gl_query_get(req->query, "RevisionId");
    const char *have = json_string_value(json_object_get(rec, "PolicyRevisionId"));
    int ok = !want || (have && !strcmp(want, have));
    free(want);
    if (!ok)
        gl_http_reply_aws_error(req, GL_AWS_PRECONDITION_FAILED,
                                "The Revision Id provided does not match the latest Revision Id. "
                                "Call the GetLayerVersionPolicy API to retrieve the latest "
                                "Revision Id");
    return ok ? 0 : -1;
}

/* One schema violation of AddLayerVersionPermission's body, or NULL when it is valid. */
static const char *body_problem(const json_t *body, char *msg, size_t len)
{
    const char *sid = json_string_value(json_object_get(body, "StatementId"));
    const char *action = json_string_value(json_object_get(body, "Action"));
    const char *principal = json_string_value(json_object_get(body, "Principal"));
    const char *org = json_string_value(json_object_get(body, "OrganizationId"));
    if (!sid || !action || !principal)
        snprintf(msg, len, "1 validation error detected: Value null at '%s' failed to satisfy "
                           "constraint: Member must not be null",
                 !sid ? "statementId" : !action ? "action" : "principal");
    else if (!*sid || strlen(sid) > 100 || !gl_api_matches("^[a-zA-Z0-9_-]+$", sid))
        snprintf(msg, len, "1 validation error detected: Value '%.100s' at 'statementId' failed "
                           "to satisfy constraint: Member must satisfy regular expression "
                           "pattern: ([a-zA-Z0-9-_]+)",
                 sid);
    else if (strcmp(action, "lambda:GetLayerVersion"))
        snprintf(msg, len, "1 validation error detected: Value '%.64s' at 'action' failed to "
                           "satisfy constraint: Member must satisfy regular expression pattern: "
                           "lambda:GetLayerVersion",
                 action);
    else if (!gl_api_matches("^([0-9]{12}|\\*|arn:aws[a-zA-Z-]*:iam::[0-9]{12}:root)$", principal))
        snprintf(msg, len, "1 validation error detected: Value '%.64s' at 'principal' failed to "
                           "satisfy constraint: Member must satisfy regular expression pattern: "
                           "\\d{12}|\\*|arn:(aws[a-zA-Z-]*):iam::\\d{12}:root",
                 principal);
    else if (org && !gl_api_matches("^o-[a-z0-9]{10,32}$", org))
        snprintf(msg, len, "1 validation error detected: Value '%.64s' at 'organizationId' "
                           "failed to satisfy constraint: Member must satisfy regular expression "
                           "pattern: o-[a-z0-9]{10,32}",
                 org);
    else
        return NULL;
    return msg;
}

/* The statement Lambda writes for body on the version resource (new reference). */
static json_t *statement(const json_t *body, const char *resource)
{
    const char *principal = json_string_value(json_object_get(body, "Principal"));
    const char *org = json_string_value(json_object_get(body, "OrganizationId"));
    json_t *who;
    if (!strcmp(principal, "*"))
        who = json_string("*");
    else if (strlen(principal) == 12)
        who = json_pack("{s:s++}", "AWS", "arn:aws:iam::", principal, ":root");
    else
        who = json_pack("{s:s}", "AWS", principal);
    json_t *st = json_pack("{s:O,s:s,s:o,s:s,s:s}", "Sid", json_object_get(body, "StatementId"),
                           "Effect", "Allow", "Principal", who, "Action", "lambda:GetLayerVersion",
                           "Resource", resource);
    if (st && org)
        json_object_set_new(st, "Condition",
                            json_pack("{s:{s:s}}", "StringEquals", "aws:PrincipalOrgID", org));
    return st;
}

/* Store rec with a new policy RevisionId; -1 after replying 500. */
static int save(gl_api_t *api, gl_http_req_t *req, const gl_api_layer_target_t *t, json_t *rec,
                char rev[GL_UUID_LEN + 1])
{
    gl_err_t err = {0};
    if (gl_api_refuse_template_layer(api, req, t->name) < 0) /* read-only, as its functions */
        return -1;
    gl_uuid4(rev);
    json_object_set_new(rec, "PolicyRevisionId", json_string(rev));
    if (gl_layer_save(api->reg, t->name, t->version, rec, &err) == 0)
        return 0;
    gl_log_error("api: policy of layer %s:%ld: %s", t->name, t->version, err.msg);
    gl_http_reply_aws_error(req, GL_AWS_SERVICE, "Could not store the policy: %s", err.msg);
    return -1;
}

void gl_api_add_layer_permission(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    (void)rt;
    gl_api_layer_target_t t;
    char msg[512], rev[GL_UUID_LEN + 1], arn[280];
    json_t *body = NULL, *rec = gl_api_layer_record(api, req, &t);
    if (!rec || check_revision(req, rec) < 0 || !(body = gl_api_body_object(req)))
        goto out;
    if (body_problem(body, msg, sizeof(msg))) {
        gl_http_reply_aws_error(req, GL_AWS_VALIDATION, "%s", msg);
        goto out;
    }
    json_t *policy = json_object_get(rec, "Policy");
    const char *sid = json_string_value(json_object_get(body, "StatementId"));
    if (!json_is_object(policy))
        json_object_set_new(rec, "Policy", policy = json_object());
    if (json_object_get(policy, sid)) {
        gl_http_reply_aws_error(req, GL_AWS_RESOURCE_CONFLICT,
                                "The statement id (%s) provided already exists. Please provide "
                                "a new statement id, or remove the existing statement.",
                                sid);
        goto out;
    }
    gl_layer_arn(api->reg, t.name, t.version, arn, sizeof(arn));
    json_t *st = statement(body, arn);
    char *text = st ? json_dumps(st, JSON_COMPACT) : NULL;
    if (text && json_object_set_new(policy, sid, st) == 0 && save(api, req, &t, rec, rev) == 0)
        gl_api_reply_json(req, 201, json_pack("{s:s,s:s}", "Statement", text, "RevisionId", rev));
    else if (!text)
        gl_http_reply_aws_error(req, GL_AWS_SERVICE, "out of memory");
    free(text);
out:
    json_decref(body);
    json_decref(rec);
}

void gl_api_get_layer_policy(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    (void)rt;
    gl_api_layer_target_t t;
    json_t *rec = gl_api_layer_record(api, req, &t);
    if (!rec)
        return;
    json_t *policy = json_object_get(rec, "Policy"), *st, *list = json_array();
    const char *sid;
    json_object_foreach(policy, sid, st)
        json_array_append(list, st);
    if (!json_array_size(list)) {
        gl_http_reply_aws_error(req, GL_AWS_RESOURCE_NOT_FOUND,
                                "No policy is associated with the given resource.");
    } else {
        char *doc = gl_api_policy_document(list);
        gl_api_reply_json(req, 200,
                          doc ? json_pack("{s:s,s:O}", "Policy", doc, "RevisionId",
                                          json_object_get(rec, "PolicyRevisionId"))
                              : NULL);
        free(doc);
    }
    json_decref(list);
    json_decref(rec);
}

void gl_api_remove_layer_permission(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    (void)rt;
    gl_api_layer_target_t t;
    char rev[GL_UUID_LEN + 1], *sid = NULL;
    json_t *rec = gl_api_layer_record(api, req, &t);
    if (!rec || check_revision(req, rec) < 0)
        goto out;
    if (!t.sid || gl_url_decode(t.sid, strlen(t.sid), &sid) < 0) {
        gl_http_reply_aws_error(req, GL_AWS_VALIDATION,
                                "1 validation error detected: Value at 'statementId' failed to "
                                "satisfy constraint: Member must be valid percent-encoded text");
        goto out;
    }
    json_t *policy = json_object_get(rec, "Policy");
    if (!json_object_get(policy, sid)) {
        gl_http_reply_aws_error(req, GL_AWS_RESOURCE_NOT_FOUND,
                                "Statement %.100s is not found in resource policy.", sid);
        goto out;
    }
    json_object_del(policy, sid);
    if (save(api, req, &t, rec, rev) == 0) {
        gl_http_header_t h = {"x-amzn-RequestId", req->request_id};
        gl_http_reply(req, 204, &h, 1, NULL, 0);
    }
out:
    free(sid);
    json_decref(rec);
}
