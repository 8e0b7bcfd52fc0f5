/* SPDX-License-Identifier: MIT */
/*
 * aliases.c: CreateAlias (201), GetAlias, UpdateAlias, DeleteAlias (204) and ListAliases
 * (FunctionVersion filter, Marker/MaxItems). The alias name arrives as the raw last path
 * segment; this file decodes and checks it, parses bodies with gl_alias_from_request and lets
 * the registry apply Lambda's rules and store the alias. Template functions' aliases (from
 * AutoPublishAlias) can be read, not changed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "galley/util.h"
#include "internal.h"

static void reply_fn_not_found(gl_api_t *api, gl_http_req_t *req, const char *name)
{
    char arn[512];
    gl_registry_fn_arn(api->reg, name, NULL, arn, sizeof(arn));
    gl_http_reply_aws_error(req, GL_AWS_RESOURCE_NOT_FOUND, "Function not found: %s", arn);
}

/* Decode and check the alias segment; NULL after replying 400. */
static char *alias_name(gl_http_req_t *req, const char *seg)
{
    char *name = NULL;
    gl_aws_error_t aerr;
    if (gl_url_decode(seg, strlen(seg), &name) < 0) {
        gl_http_reply_aws_error(req, GL_AWS_VALIDATION,
                                "1 validation error detected: Value at 'name' failed to satisfy "
                                "constraint: Member must be valid percent-encoded text");
        return NULL;
    }
    if (gl_alias_name_check(name, &aerr) < 0) {
        gl_http_reply_aws_err(req, &aerr);
        free(name);
        return NULL;
    }
    return name;
}

/* The function's $LATEST, or NULL after replying 404 (and, when writing, 400 for template
 * functions). */
static gl_fn_t *function_for(gl_api_t *api, gl_http_req_t *req, const gl_fn_ref_t *ref, int write)
{
    gl_fn_t *latest = gl_registry_find(api->reg, ref->name);
    if (!latest) {
        reply_fn_not_found(api, req, ref->name);
        return NULL;
    }
    if (write && gl_api_refuse_template(req, latest) < 0)
        return NULL;
    return latest;
}

static void reply_alias(gl_api_t *api, gl_http_req_t *req, int status, const char *fn_name,
                        const gl_alias_t *a)
{
    gl_api_reply_json(req, status, gl_alias_json(api->reg, fn_name, a));
}

/* CreateAlias (create 1, 201) or UpdateAlias (create 0, 200) of a parsed alias: store it and
 * reply with it, or with the registry's error. */
static void put_and_reply(gl_api_t *api, gl_http_req_t *req, const gl_fn_t *latest,
                          const gl_alias_t *a, int create, int has_routing, const char *rev)
{
    const gl_alias_t *stored = NULL;
    gl_aws_error_t aerr;

    if (gl_registry_put_alias(api->reg, latest->cfg.name, a, create, has_routing, rev, &stored,
                              &aerr) < 0)
        gl_http_reply_aws_err(req, &aerr);
    else
        reply_alias(api, req, create ? 201 : 200, latest->cfg.name, stored);
}

void gl_api_create_alias(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    const gl_fn_ref_t *ref = &rt->ref;
    gl_alias_t a = {0};
    int has_routing;
    gl_aws_error_t aerr;
    json_t *body = NULL;
    gl_fn_t *latest = function_for(api, req, ref, 1);

    if (!latest || !(body = gl_api_body_object(req)))
        return;
    if (gl_alias_from_request(body, 0, &a, &has_routing, &aerr) < 0)
        gl_http_reply_aws_err(req, &aerr);
    else
        put_and_reply(api, req, latest, &a, 1, has_routing, NULL);
    gl_alias_free(&a);
    json_decref(body);
}

void gl_api_get_alias(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    const gl_fn_ref_t *ref = &rt->ref;
    const char *alias_seg = rt->param;
    gl_fn_t *latest = function_for(api, req, ref, 0);
    char *name = latest ? alias_name(req, alias_seg) : NULL;
    if (!name)
        return;
    const gl_alias_t *a = gl_registry_find_alias(api->reg, latest->cfg.name, name);
    if (a) {
        reply_alias(api, req, 200, latest->cfg.name, a);
    } else {
        char arn[512];
        gl_registry_fn_arn(api->reg, latest->cfg.name, name, arn, sizeof(arn));
        gl_http_reply_aws_error(req, GL_AWS_RESOURCE_NOT_FOUND, "Cannot find alias arn: %s", arn);
    }
    free(name);
}

void gl_api_update_alias(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    const gl_fn_ref_t *ref = &rt->ref;
    const char *alias_seg = rt->param;
    gl_alias_t a = {0};
    int has_routing;
    gl_aws_error_t aerr;
    json_t *body = NULL;
    gl_fn_t *latest = function_for(api, req, ref, 1);
    char *name = latest ? alias_name(req, alias_seg) : NULL;

    if (!name || !(body = gl_api_body_object(req)))
        goto out;
    json_t *rev = json_object_get(body, "RevisionId");
    if (rev && !json_is_null(rev) && !json_is_string(rev)) {
        gl_http_reply_aws_error(req, GL_AWS_INVALID_REQUEST_CONTENT,
                                "Could not parse request body into json: member RevisionId must "
                                "be a string");
        goto out;
    }
    if (gl_alias_from_request(body, 1, &a, &has_routing, &aerr) < 0) {
        gl_http_reply_aws_err(req, &aerr);
        goto out;
    }
    a.name = name;
    name = NULL; /* moved into a */
    put_and_reply(api, req, latest, &a, 0, has_routing, json_string_value(rev));
out:
    gl_alias_free(&a);
    free(name);
    json_decref(body);
}

void gl_api_delete_alias(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    const gl_fn_ref_t *ref = &rt->ref;
    const char *alias_seg = rt->param;
    gl_aws_error_t aerr;
    gl_fn_t *latest = function_for(api, req, ref, 1);
    char *name = latest ? alias_name(req, alias_seg) : NULL;
    if (!name)
        return;
    if (gl_registry_delete_alias(api->reg, latest->cfg.name, name, &aerr) < 0) {
        gl_http_reply_aws_err(req, &aerr);
    } else {
        gl_api_forget_qualifier(api, latest->cfg.name, name); /* its policy goes with it */
        gl_http_header_t h = {"x-amzn-RequestId", req->request_id};
        gl_http_reply(req, 204, &h, 1, NULL, 0);
    }
    free(name);
}

void gl_api_list_aliases(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    const gl_fn_ref_t *ref = &rt->ref;
    const gl_alias_t **as = NULL;
    size_t n = 0, page, shown = 0;
    char *version = gl_query_get(req->query, "FunctionVersion");
    char *marker = gl_query_get(req->query, "Marker");
    char last[GL_ALIAS_NAME_MAX + 1] = "";
    json_t *list = NULL;
    gl_fn_t *latest = function_for(api, req, ref, 0);

    if (!latest)
        goto out;
    if (version && *version && strcmp(version, "$LATEST") != 0 &&
        strspn(version, "0123456789") != strlen(version)) {
        gl_http_reply_aws_error(req, GL_AWS_VALIDATION,
                                "1 validation error detected: Value '%.64s' at 'functionVersion' "
                                "failed to satisfy constraint: Member must satisfy regular "
                                "expression pattern: (\\$LATEST|[0-9]+)",
                                version);
        goto out;
    }
    if (gl_api_max_items(req, &page) < 0)
        goto out;
    if (gl_api_marker(req, marker, GL_ALIAS_NAME_MAX, last) < 0)
        goto out;
    if (gl_registry_list_aliases(api->reg, latest->cfg.name, &as, &n) < 0 ||
        !(list = json_array())) {
        gl_http_reply_aws_error(req, GL_AWS_SERVICE, "out of memory");
        goto out;
    }
    int more = 0;
    for (size_t i = 0; i < n; i++) {
        if (last[0] && strcmp(as[i]->name, last) <= 0)
            continue;
        if (version && *version && strcmp(as[i]->function_version, version) != 0)
            continue;
        if (shown == page) {
            more = 1;
            break;
        }
        json_t *o = gl_alias_json(api->reg, latest->cfg.name, as[i]);
        if (!o || json_array_append_new(list, o) < 0) {
            gl_http_reply_aws_error(req, GL_AWS_SERVICE, "out of memory");
            goto out;
        }
        snprintf(last, sizeof(last), "%s", as[i]->name);
        shown++;
    }
    json_t *resp = json_pack("{s:O}", "Aliases", list);
    if (more)
        gl_api_next_marker(resp, last);
    gl_api_reply_json(req, 200, resp);
out:
    json_decref(list);
    free(as);
    free(marker);
    free(version);
}
