/* SPDX-License-Identifier: MIT */
/*
 * code_signing.c: the daemon-wide store of code signing configs and the operations on them
 * under /2020-04-22/code-signing-configs: Create, Get, Update, Delete, List, and
 * ListFunctionsByCodeSigningConfig. The configs are one JSON object (id -> stored record) in
 * <state>/code-signing/configs.json, rewritten atomically on every change (in memory only
 * without a state dir). A function's link is the registry's per-function setting
 * GL_API_CSC_SETTING (code_signing_fn.c). galley does not verify signatures: the configs are
 * stored and returned only.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "galley/log.h"
#include "galley/util.h"
#include "internal.h"

#define CSC_DIR "code-signing"
#define CSC_FILE "configs.json"
#define CSC_ID_LEN 21 /* "csc-" + 17 */
#define PROFILES_MAX 20
#define DESCRIPTION_MAX 256
#define ARN_MODEL                                                                                  \
    "arn:(aws[a-zA-Z-]*)?:lambda:[a-z]{2}((-gov)|(-iso(b?)))?-[a-z]+-\\d{1}:\\d{12}:code-signing-" \
    "config:csc-[a-z0-9]{17}"
#define ARN_RE                                                                                     \
    "^arn:(aws[a-zA-Z-]*)?:lambda:[a-z]{2}((-gov)|(-iso(b?)))?-[a-z]+-[0-9]:[0-9]{12}:code-"       \
    "signing-config:csc-[a-z0-9]{17}$"
#define PROFILE_RE                                                                                 \
    "^arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9-])+:([a-z]{2}(-gov)?-[a-z]+-[0-9])?:([0-9]{12})?:(.*)$"

/* An unreadable store is moved to <path>.corrupt (kept for a person to look at), not lost to
 * the next write. */
static void set_aside(const char *path, const char *why)
{
    char aside[PATH_MAX];
    snprintf(aside, sizeof(aside), "%s.corrupt", path);
    if (rename(path, aside) == 0)
        gl_log_warn("api: %s: %s; moved to %s, starting with no code signing configs", path, why,
                    aside);
    else
        gl_log_warn("api: %s: %s; starting with no code signing configs (and it could not be "
                    "moved aside: %s)",
                    path, why, strerror(errno));
}

int gl_api_csc_open(gl_api_t *api, const char *state_dir, gl_err_t *err)
{
    json_t *j = NULL;
    if (state_dir) {
        char *dir = gl_path_join(state_dir, CSC_DIR);
        api->csc_path = dir ? gl_path_join(dir, CSC_FILE) : NULL;
        free(dir);
        if (!api->csc_path)
            return gl_err_set(err, ENOMEM, "code signing configs");
        json_error_t jerr;
        j = json_load_file(api->csc_path, 0, &jerr);
        if (j && !json_is_object(j)) {
            json_decref(j);
            j = NULL;
            snprintf(jerr.text, sizeof(jerr.text), "not a JSON object");
        }
        if (!j && access(api->csc_path, F_OK) == 0)
            set_aside(api->csc_path, jerr.text);
    }
    if (!j && !(j = json_object()))
        return gl_err_set(err, ENOMEM, "code signing configs");
    api->csc = j;
    return 0;
}

void gl_api_csc_free(gl_api_t *api)
{
    json_decref(api->csc);
    api->csc = NULL;
    free(api->csc_path);
    api->csc_path = NULL;
}

/* Make next (stolen) the store, on disk first; on failure the store stays as it was. */
static int commit(gl_api_t *api, json_t *next, gl_err_t *err)
{
    int rc = 0;
    if (api->csc_path) {
        char *text = json_dumps(next, JSON_INDENT(1) | JSON_SORT_KEYS);
        char *dir = strdup(api->csc_path);
        char *slash = dir ? strrchr(dir, '/') : NULL;
        if (!text || !slash)
            rc = gl_err_set(err, ENOMEM, "code signing configs");
        else if (*slash = '\0', gl_mkdir_p(dir, 0700) < 0)
            rc = gl_err_set(err, errno, "mkdir %s", dir);
        else if ((rc = gl_write_file_atomic(api->csc_path, text, strlen(text))) < 0)
            rc = gl_err_set(err, -rc, "write %s", api->csc_path);
        free(dir);
        free(text);
    }
    if (rc < 0) {
        json_decref(next);
        return rc;
    }
    json_decref(api->csc);
    api->csc = next;
    return 0;
}

/* Commit next (stolen) and reply status with {"CodeSigningConfig": config} or a 500. */
static void commit_and_reply(gl_api_t *api, gl_http_req_t *req, json_t *next, const char *id,
                             int status)
{
    gl_err_t err = {0};
    if (commit(api, next, &err) < 0) {
        gl_log_error("api: code signing configs: %s", err.msg);
        gl_http_reply_aws_error(req, GL_AWS_SERVICE, "Could not store the code signing config: %s",
                                strerror(err.code ? err.code : EIO));
        return;
    }
    if (!id) {
        gl_http_header_t h = {"x-amzn-RequestId", req->request_id};
        gl_http_reply(req, 204, &h, 1, NULL, 0);
        return;
    }
    json_t *conf = json_deep_copy(json_object_get(api->csc, id));
    json_object_del(conf, "Tags");
    gl_api_reply_json(req, status, json_pack("{s:o}", "CodeSigningConfig", conf));
}

const json_t *gl_api_csc_tags(gl_api_t *api, const char *id)
{
    return json_object_get(json_object_get(api->csc, id), "Tags");
}

int gl_api_csc_set_tags(gl_api_t *api, const char *id, json_t *tags, gl_err_t *err)
{
    json_t *next = json_deep_copy(api->csc), *conf = json_object_get(next, id);
    if (!conf) {
        json_decref(tags);
        json_decref(next);
        return gl_err_set(err, next ? ENOENT : ENOMEM, "code signing config %s", id);
    }
    if (tags && json_object_size(tags))
        json_object_set_new(conf, "Tags", tags);
    else {
        json_decref(tags);
        json_object_del(conf, "Tags");
    }
    return commit(api, next, err);
}

/* The body's Description, AllowedPublishers and CodeSigningPolicies checked against the
 * model; with required (Create) AllowedPublishers must be present. */
static int check_body(const json_t *body, int required, gl_aws_error_t *aerr)
{
    gl_violations_t v;
    gl_violations_init(&v, 10, 512);
    const json_t *desc = json_object_get(body, "Description");
    if (desc && !json_is_null(desc) &&
        (!json_is_string(desc) || strlen(json_string_value(desc)) > DESCRIPTION_MAX))
        gl_violation_add(&v,
                         "Value '%.256s' at 'description' failed to satisfy constraint: "
                         "Member must have length less than or equal to 256",
                         json_is_string(desc) ? json_string_value(desc) : "");
    const json_t *pub = json_object_get(body, "AllowedPublishers");
    const json_t *arns = json_object_get(pub, "SigningProfileVersionArns");
    if (!pub || json_is_null(pub)) {
        if (required)
            gl_violation_add(&v, "Value null at 'allowedPublishers' failed to satisfy "
                                 "constraint: Member must not be null");
    } else if (!json_is_array(arns)) {
        gl_violation_add(&v, "Value null at 'allowedPublishers.signingProfileVersionArns' failed "
                             "to satisfy constraint: Member must not be null");
    } else if (json_array_size(arns) < 1 || json_array_size(arns) > PROFILES_MAX) {
        gl_violation_add(&v,
                         "Value at 'allowedPublishers.signingProfileVersionArns' failed to "
                         "satisfy constraint: Member must have length %s",
                         json_array_size(arns) < 1 ? "greater than or equal to 1"
                                                   : "less than or equal to 20");
    } else {
        size_t i;
        json_t *a;
        json_array_foreach(arns, i, a)
        {
            if (json_is_string(a) && gl_api_matches(PROFILE_RE, json_string_value(a)))
                continue;
            gl_violation_add(&v,
                             "Value '%.256s' at 'allowedPublishers.signingProfileVersionArns."
                             "%zu.member' failed to satisfy constraint: Member must satisfy "
                             "regular expression pattern: arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9"
                             "\\-])+:([a-z]{2}(-gov)?-[a-z]+-\\d{1})?:(\\d{12})?:(.*)",
                             json_is_string(a) ? json_string_value(a) : "", i + 1);
        }
    }
    const json_t *pol = json_object_get(json_object_get(body, "CodeSigningPolicies"),
                                        "UntrustedArtifactOnDeployment");
    const char *ps = json_string_value(pol);
    if (pol && !json_is_null(pol) && !(ps && (!strcmp(ps, "Warn") || !strcmp(ps, "Enforce"))))
        gl_violation_add(&v,
                         "Value '%.64s' at 'codeSigningPolicies.untrustedArtifactOnDeployment'"
                         " failed to satisfy constraint: Member must satisfy enum value set: "
                         "[Warn, Enforce]",
                         ps ? ps : "");
    return gl_violations_report(&v, aerr);
}

/* Set conf's members from body's (already checked) and stamp LastModified. */
static void apply_body(json_t *conf, const json_t *body)
{
    char now[40];
    const json_t *desc = json_object_get(body, "Description");
    if (json_is_string(desc))
        json_object_set(conf, "Description", (json_t *)desc);
    const json_t *arns =
        json_object_get(json_object_get(body, "AllowedPublishers"), "SigningProfileVersionArns");
    if (json_is_array(arns))
        json_object_set_new(conf, "AllowedPublishers",
                            json_pack("{s:O}", "SigningProfileVersionArns", arns));
    const json_t *pol = json_object_get(json_object_get(body, "CodeSigningPolicies"),
                                        "UntrustedArtifactOnDeployment");
    if (json_is_string(pol))
        json_object_set_new(conf, "CodeSigningPolicies",
                            json_pack("{s:O}", "UntrustedArtifactOnDeployment", pol));
    gl_fmt_lambda_time(gl_now_ms(), now, sizeof(now));
    json_object_set_new(conf, "LastModified", json_string(now));
}

void gl_api_create_csc(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    (void)rt;
    json_t *body = gl_api_body_object(req), *next = NULL, *conf;
    gl_aws_error_t aerr;
    char id[CSC_ID_LEN + 2], hex[20], arn[256];

    if (!body)
        return;
    const json_t *tags = json_object_get(body, "Tags");
    if (check_body(body, 1, &aerr) < 0 ||
        (tags && !json_is_null(tags) && gl_api_tags_check(tags, 0, NULL, &aerr) < 0)) {
        gl_http_reply_aws_err(req, &aerr);
        goto out;
    }
    gl_random_hex(hex, 9);
    snprintf(id, sizeof(id), "csc-%.17s", hex);
    snprintf(arn, sizeof(arn), "arn:aws:lambda:%s:%s:code-signing-config:%s",
             gl_registry_region(api->reg), gl_registry_account(api->reg), id);
    conf = json_pack("{s:s,s:s,s:s,s:{s:s}}", "CodeSigningConfigId", id, "CodeSigningConfigArn",
                     arn, "Description", "", "CodeSigningPolicies", "UntrustedArtifactOnDeployment",
                     "Warn");
    if (!conf || !(next = json_deep_copy(api->csc)) || json_object_set_new(next, id, conf) < 0) {
        gl_http_reply_aws_error(req, GL_AWS_SERVICE, "out of memory");
        goto out;
    }
    apply_body(conf, body);
    if (json_object_size(tags))
        json_object_set(conf, "Tags", (json_t *)tags);
    commit_and_reply(api, req, next, id, 201);
    next = NULL;
out:
    json_decref(next);
    json_decref(body);
}

const char *gl_api_csc_id(gl_api_t *api, gl_http_req_t *req, const char *arn, int not_found)
{
    if (!gl_api_matches(ARN_RE, arn)) {
        gl_http_reply_aws_error(req, GL_AWS_VALIDATION,
                                "1 validation error detected: Value '%.256s' at "
                                "'codeSigningConfigArn' failed to satisfy constraint: Member "
                                "must satisfy regular expression pattern: " ARN_MODEL,
                                arn);
        return NULL;
    }
    const char *id = strrchr(arn, ':') + 1;
    json_t *conf = json_object_get(api->csc, id);
    const char *have = json_string_value(json_object_get(conf, "CodeSigningConfigArn"));
    if (have && !strcmp(have, arn))
        return json_object_iter_key(json_object_iter_at(api->csc, id));
    if (not_found == GL_AWS_CODE_SIGNING_CONFIG_NOT_FOUND)
        gl_http_reply_aws_error(req, GL_AWS_CODE_SIGNING_CONFIG_NOT_FOUND,
                                "The code signing configuration cannot be found. Check that the "
                                "provided configuration is not deleted: %s.",
                                arn);
    else
        gl_http_reply_aws_error(req, GL_AWS_RESOURCE_NOT_FOUND,
                                "The Lambda code signing configuration %s can not be found.", arn);
    return NULL;
}

/* The stored id of the config the path names, or NULL after replying. */
static const char *path_id(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    char *arn = NULL;
    const char *id;
    if (!rt->fn_seg || gl_url_decode(rt->fn_seg, rt->fn_len, &arn) < 0) {
        gl_http_reply_aws_error(req, GL_AWS_VALIDATION,
                                "1 validation error detected: Value at 'codeSigningConfigArn' "
                                "failed to satisfy constraint: Member must be valid "
                                "percent-encoded text");
        return NULL;
    }
    id = gl_api_csc_id(api, req, arn, GL_AWS_RESOURCE_NOT_FOUND);
    free(arn);
    return id;
}

void gl_api_get_csc(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    const char *id = path_id(api, req, rt);
    if (!id)
        return;
    json_t *conf = json_deep_copy(json_object_get(api->csc, id));
    json_object_del(conf, "Tags");
    gl_api_reply_json(req, 200, json_pack("{s:o}", "CodeSigningConfig", conf));
}

void gl_api_update_csc(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    const char *id = path_id(api, req, rt);
    json_t *body = id ? gl_api_body_object(req) : NULL, *next = NULL;
    gl_aws_error_t aerr;
    if (!body)
        return;
    if (check_body(body, 0, &aerr) < 0) {
        gl_http_reply_aws_err(req, &aerr);
    } else if (!(next = json_deep_copy(api->csc))) {
        gl_http_reply_aws_error(req, GL_AWS_SERVICE, "out of memory");
    } else {
        char *key = strdup(id); /* id lives in the store commit replaces */
        apply_body(json_object_get(next, id), body);
        if (key)
            commit_and_reply(api, req, next, key, 200);
        else {
            json_decref(next);
            gl_http_reply_aws_error(req, GL_AWS_SERVICE, "out of memory");
        }
        free(key);
    }
    json_decref(body);
}

/* The names of the functions linked to arn, sorted (the registry's order); *n of them. */
static int linked_functions(gl_api_t *api, const char *arn, gl_fn_t ***out, size_t *n)
{
    gl_fn_t **fns = NULL;
    size_t all = 0, k = 0;
    int rc = gl_registry_list(api->reg, &fns, &all);
    if (rc < 0)
        return rc;
    for (size_t i = 0; i < all; i++) {
        const char *v =
            json_string_value(gl_registry_setting(api->reg, fns[i]->cfg.name, GL_API_CSC_SETTING));
        if (v && !strcmp(v, arn))
            fns[k++] = fns[i];
    }
    *out = fns;
    *n = k;
    return 0;
}

void gl_api_delete_csc(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    const char *id = path_id(api, req, rt);
    gl_fn_t **fns = NULL;
    size_t n = 0;
    json_t *next = NULL;
    if (!id)
        return;
    const char *arn =
        json_string_value(json_object_get(json_object_get(api->csc, id), "CodeSigningConfigArn"));
    if (linked_functions(api, arn, &fns, &n) < 0 || !(next = json_deep_copy(api->csc))) {
        gl_http_reply_aws_error(req, GL_AWS_SERVICE, "out of memory");
    } else if (n > 0) {
        gl_http_reply_aws_error(req, GL_AWS_RESOURCE_CONFLICT,
                                "The code signing configuration cannot be deleted because it is "
                                "used by %zu function(s), such as %s.",
                                n, fns[0]->cfg.name);
    } else {
        json_object_del(next, id);
        commit_and_reply(api, req, next, NULL, 204);
        next = NULL;
    }
    json_decref(next);
    free(fns);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void gl_api_list_cscs(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    (void)rt;
    char *marker = gl_query_get(req->query, "Marker");
    char after[CSC_ID_LEN + 8];
    size_t page, n = json_object_size(api->csc), k = 0, start = 0;
    const char **ids = calloc(n + 1, sizeof(*ids));
    json_t *list = json_array(), *v;
    const char *id;

    if (!ids || !list) {
        gl_http_reply_aws_error(req, GL_AWS_SERVICE, "out of memory");
        goto out;
    }
    if (gl_api_max_items(req, &page) < 0 ||
        gl_api_marker(req, marker, sizeof(after) - 1, after) < 0)
        goto out;
    json_object_foreach(api->csc, id, v)
    {
        ids[k++] = id;
    }
    qsort(ids, n, sizeof(*ids), cmp_str);
    while (after[0] && start < n && strcmp(ids[start], after) <= 0)
        start++;
    size_t end = start + page < n ? start + page : n;
    for (size_t i = start; i < end; i++) {
        json_t *conf = json_deep_copy(json_object_get(api->csc, ids[i]));
        json_object_del(conf, "Tags");
        json_array_append_new(list, conf);
    }
    json_t *resp = json_pack("{s:O}", "CodeSigningConfigs", list);
    if (end < n)
        gl_api_next_marker(resp, ids[end - 1]);
    gl_api_reply_json(req, 200, resp);
out:
    json_decref(list);
    free(ids);
    free(marker);
}

void gl_api_list_csc_functions(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    const char *id = path_id(api, req, rt);
    char *marker = gl_query_get(req->query, "Marker");
    char after[GL_FN_NAME_MAX + 8], arn[512];
    gl_fn_t **fns = NULL;
    size_t n = 0, page, start = 0;
    json_t *list = NULL;

    if (!id || gl_api_max_items(req, &page) < 0 ||
        gl_api_marker(req, marker, sizeof(after) - 1, after) < 0)
        goto out;
    const char *csc_arn =
        json_string_value(json_object_get(json_object_get(api->csc, id), "CodeSigningConfigArn"));
    if (linked_functions(api, csc_arn, &fns, &n) < 0 || !(list = json_array())) {
        gl_http_reply_aws_error(req, GL_AWS_SERVICE, "out of memory");
        goto out;
    }
    while (after[0] && start < n && strcmp(fns[start]->cfg.name, after) <= 0)
        start++;
    size_t end = start + page < n ? start + page : n;
    for (size_t i = start; i < end; i++) {
        gl_registry_fn_arn(api->reg, fns[i]->cfg.name, NULL, arn, sizeof(arn));
        json_array_append_new(list, json_string(arn));
    }
    json_t *resp = json_pack("{s:O}", "FunctionArns", list);
    if (end < n)
        gl_api_next_marker(resp, fns[end - 1]->cfg.name);
    gl_api_reply_json(req, 200, resp);
out:
    json_decref(list);
    free(fns);
    free(marker);
}
