/* SPDX-License-Identifier: MIT */
/*
 * tags.c: TagResource, UntagResource and ListTags on /2017-03-31/tags/{ARN}, and the Tags of
 * CreateFunction and GetFunction. A function's tags are one JSON object under the registry's
 * per-function setting "Tags" (persisted, dropped with the function). As in Lambda, tags
 * belong to the function: a version's or an alias's ARN is refused. The resource segment is
 * not a FunctionName (its row has no FunctionName limit), so this file decodes and checks the
 * ARN itself against the model's pattern.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "galley/log.h"
#include "galley/util.h"
#include "internal.h"

#define TAGS "Tags"
#define TAGS_MAX 50
#define KEY_MAX 128
#define VALUE_MAX 256
#define RESOURCE_MAX 256
#define RESOURCE_RE                                                                                \
    "^arn:(aws[a-zA-Z-]*):lambda:[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-[0-9]:[0-9]{12}:"         \
    "(function:[a-zA-Z0-9_-]+(:(\\$LATEST|[a-zA-Z0-9_-]+))?|code-signing-config:csc-[a-z0-9]{17}|" \
    "event-source-mapping:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"            \
    "[0-9a-fA-F]{12}|capacity-provider:[a-zA-Z0-9_-]+)$"
#define RESOURCE_MODEL                                                                             \
    "arn:(aws[a-zA-Z-]*):lambda:[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:\\d{12}:"           \
    "(function:[a-zA-Z0-9-_]+(:(\\$LATEST|[a-zA-Z0-9-_]+))?|code-signing-config:csc-[a-z0-9]{17}|" \
    "event-source-mapping:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"            \
    "[0-9a-fA-F]{12}|capacity-provider:[a-zA-Z0-9-_]+)"

/* Characters of UTF-8 text s (Lambda counts characters, not bytes). */
static size_t utf8_len(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

int gl_api_tags_check(const json_t *tags, size_t have, const json_t *existing, gl_aws_error_t *aerr)
{
    const char *k;
    json_t *v;
    size_t added = 0;
    if (!json_is_object(tags))
        return gl_aws_error_set(aerr, GL_AWS_INVALID_REQUEST_CONTENT, EINVAL,
                                "Could not parse request body into json: member Tags must be an "
                                "object of strings");
    json_object_foreach((json_t *)tags, k, v)
    {
        if (!json_is_string(v))
            return gl_aws_error_set(aerr, GL_AWS_INVALID_REQUEST_CONTENT, EINVAL,
                                    "Could not parse request body into json: member Tags must "
                                    "be an object of strings");
        size_t kl = utf8_len(k), vl = utf8_len(json_string_value(v));
        if (kl < 1 || kl > KEY_MAX || vl > VALUE_MAX)
            return gl_aws_error_set(aerr, GL_AWS_INVALID_PARAMETER_VALUE, EINVAL,
                                    "Tag key must be 1-%d characters and its value at most %d "
                                    "characters: '%.128s'",
                                    KEY_MAX, VALUE_MAX, k);
        if (!strncasecmp(k, "aws:", 4))
            return gl_aws_error_set(aerr, GL_AWS_INVALID_PARAMETER_VALUE, EINVAL,
                                    "Tag keys prefixed with 'aws:' are reserved for AWS use: "
                                    "'%.128s'",
                                    k);
        added += !json_object_get(existing, k);
    }
    if (have + added > TAGS_MAX)
        return gl_aws_error_set(aerr, GL_AWS_INVALID_PARAMETER_VALUE, EINVAL,
                                "Too many tags: a function may have at most %d tags (it would "
                                "have %zu).",
                                TAGS_MAX, have + added);
    return 0;
}

int gl_api_tags_store(gl_api_t *api, const char *fn_name, json_t *tags, gl_err_t *err)
{
    if (tags && json_object_size(tags) == 0) {
        json_decref(tags);
        tags = NULL;
    }
    return gl_registry_set_setting(api->reg, fn_name, TAGS, tags, err);
}

const json_t *gl_api_tags_of(gl_api_t *api, const char *fn_name)
{
    return gl_registry_setting(api->reg, fn_name, TAGS);
}

static int arn_ok(const char *s)
{
    return *s && strlen(s) <= RESOURCE_MAX && gl_api_matches(RESOURCE_RE, s);
}

/* What a tags request addresses: a function, or a code signing config (code_signing.c). */
typedef struct resource {
    gl_fn_t *fn;
    char *csc_id; /* malloc'd */
} resource_t;

/* Resolve the request's ARN into res: 0, or -1 after replying Lambda's error. */
static int resolve(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt, resource_t *res)
{
    char *arn = NULL;
    gl_fn_ref_t ref;
    gl_aws_error_t aerr;
    const char *id;
    memset(res, 0, sizeof(*res));
    if (gl_url_decode(rt->fn_seg, rt->fn_len, &arn) < 0 || !arn_ok(arn)) {
        gl_http_reply_aws_error(req, GL_AWS_VALIDATION,
                                "1 validation error detected: Value '%.256s' at 'resource' failed "
                                "to satisfy constraint: Member must satisfy regular expression "
                                "pattern: " RESOURCE_MODEL,
                                arn ? arn : "");
    } else if (strstr(arn, ":code-signing-config:")) {
        if ((id = gl_api_csc_id(api, req, arn, GL_AWS_RESOURCE_NOT_FOUND)) &&
            !(res->csc_id = strdup(id)))
            gl_http_reply_aws_error(req, GL_AWS_SERVICE, "out of memory");
    } else if (!strstr(arn, ":function:")) {
        gl_http_reply_aws_error(req, GL_AWS_RESOURCE_NOT_FOUND,
                                "The resource you requested does not exist.");
    } else if (gl_registry_parse_fn_name(arn, NULL, gl_registry_region(api->reg),
                                         gl_registry_account(api->reg), RESOURCE_MAX, &ref,
                                         &aerr) < 0) {
        gl_http_reply_aws_err(req, &aerr);
    } else if (ref.qualifier[0]) {
        gl_http_reply_aws_error(req, GL_AWS_INVALID_PARAMETER_VALUE,
                                "Tags on function aliases and versions are not supported. Please "
                                "specify a function ARN.");
    } else if (!(res->fn = gl_registry_find(api->reg, ref.name))) {
        gl_http_reply_aws_error(req, GL_AWS_RESOURCE_NOT_FOUND, "Function not found: %s", arn);
    }
    free(arn);
    return res->fn || res->csc_id ? 0 : -1;
}

/* Resolve for a change: template functions' tags are read-only. */
static int resolve_writable(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt,
                            resource_t *res)
{
    if (resolve(api, req, rt, res) < 0)
        return -1;
    return res->fn ? gl_api_refuse_template(req, res->fn) : 0;
}

static const json_t *tags_of(gl_api_t *api, const resource_t *res)
{
    return res->csc_id ? gl_api_csc_tags(api, res->csc_id)
                       : gl_api_tags_of(api, res->fn->cfg.name);
}

static void reply_204(gl_http_req_t *req)
{
    gl_http_header_t h = {"x-amzn-RequestId", req->request_id};
    gl_http_reply(req, 204, &h, 1, NULL, 0);
}

/* Store tags (stolen) as res's and reply 204, or reply the failure. */
static void store_and_reply(gl_api_t *api, gl_http_req_t *req, const resource_t *res,
                            json_t *tags)
{
    gl_err_t err = {0};
    if ((res->csc_id ? gl_api_csc_set_tags(api, res->csc_id, tags, &err)
                     : gl_api_tags_store(api, res->fn->cfg.name, tags, &err)) < 0) {
        gl_log_error("api: tags of %s: %s", res->csc_id ? res->csc_id : res->fn->cfg.name,
                     err.msg);
        gl_http_reply_aws_error(req, GL_AWS_SERVICE, "Could not store the tags: %s",
                                strerror(err.code ? err.code : EIO));
        return;
    }
    reply_204(req);
}

void gl_api_tag_resource(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    gl_aws_error_t aerr;
    json_t *body = NULL, *tags = NULL;
    resource_t res;
    if (resolve_writable(api, req, rt, &res) < 0 || !(body = gl_api_body_object(req)))
        goto out;
    const json_t *given = json_object_get(body, TAGS), *cur = tags_of(api, &res);
    if (!given || json_is_null(given)) {
        gl_http_reply_aws_error(req, GL_AWS_VALIDATION,
                                "1 validation error detected: Value null at 'tags' failed to "
                                "satisfy constraint: Member must not be null");
        goto out;
    }
    if (gl_api_tags_check(given, json_object_size(cur), cur, &aerr) < 0) {
        gl_http_reply_aws_err(req, &aerr);
        goto out;
    }
    if (!(tags = cur ? json_deep_copy(cur) : json_object()) ||
        json_object_update(tags, (json_t *)given) < 0) {
        gl_http_reply_aws_error(req, GL_AWS_SERVICE, "out of memory");
        goto out;
    }
    store_and_reply(api, req, &res, tags);
    tags = NULL; /* stolen */
out:
    free(res.csc_id);
    json_decref(tags);
    json_decref(body);
}

/* Remove every ?tagKeys= of query from tags. 0, or -1 when the query names none. */
static int remove_keys(const char *query, json_t *tags)
{
    const char *p = query;
    int n = 0;
    while (p && *p) {
        const char *amp = strchr(p, '&');
        size_t len = amp ? (size_t)(amp - p) : strlen(p);
        char *key = NULL;
        if (len > 8 && !strncmp(p, "tagKeys=", 8) && gl_url_decode(p + 8, len - 8, &key) == 0) {
            json_object_del(tags, key);
            n++;
        }
        free(key);
        p = amp ? amp + 1 : NULL;
    }
    return n ? 0 : -1;
}

void gl_api_untag_resource(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    resource_t res;
    json_t *tags = NULL;
    if (resolve_writable(api, req, rt, &res) < 0)
        goto out;
    const json_t *cur = tags_of(api, &res);
    if (!(tags = cur ? json_deep_copy(cur) : json_object())) {
        gl_http_reply_aws_error(req, GL_AWS_SERVICE, "out of memory");
    } else if (remove_keys(req->query, tags) < 0) {
        gl_http_reply_aws_error(req, GL_AWS_VALIDATION,
                                "1 validation error detected: Value null at 'tagKeys' failed to "
                                "satisfy constraint: Member must not be null");
    } else {
        store_and_reply(api, req, &res, tags);
        tags = NULL; /* stolen */
    }
out:
    json_decref(tags);
    free(res.csc_id);
}

void gl_api_list_tags(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    resource_t res;
    if (resolve(api, req, rt, &res) < 0)
        return;
    const json_t *cur = tags_of(api, &res);
    free(res.csc_id);
    gl_api_reply_json(req, 200,
                      cur ? json_pack("{s:O}", TAGS, (json_t *)cur) : json_pack("{s:{}}", TAGS));
}
