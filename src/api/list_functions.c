/* SPDX-License-Identifier: MIT */
/*
 * list_functions.c: ListFunctions: every function's $LATEST sorted by name or, with
 * FunctionVersion=ALL, each function's $LATEST followed by its published versions in ascending
 * order, all with qualified FunctionArns; pages of at most MaxItems (50) with an opaque Marker
 * (the last entry's "name" or "name:version"), so a page boundary survives functions and
 * versions coming and going. MasterRegion (Lambda@Edge replicas) is validated as Lambda does;
 * galley has no replicas, so it lists nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "galley/util.h"
#include "internal.h"

/* ListFunctions' entries: every $LATEST, or with FunctionVersion=ALL each function's $LATEST
 * followed by its published versions in ascending order (borrowed, array malloc'd). */
static int list_entries(gl_api_t *api, int all, gl_fn_t ***out, size_t *n)
{
    gl_fn_t **fns = NULL, **res = NULL, **vers = NULL;
    size_t nf = 0, len = 0;
    int rc = gl_registry_list(api->reg, &fns, &nf);
    if (rc < 0 || !all) {
        *out = fns;
        *n = nf;
        return rc;
    }
    for (size_t i = 0; i < nf && rc == 0; i++) {
        size_t nv = 0;
        gl_fn_t **grown;
        if ((rc = gl_registry_list_versions(api->reg, fns[i]->cfg.name, &vers, &nv)) < 0)
            break;
        if (!(grown = realloc(res, (len + nv + 1) * sizeof(*res))))
            rc = -ENOMEM;
        else
            memcpy((res = grown) + len, vers, nv * sizeof(*res)), len += nv;
        free(vers);
        vers = NULL;
    }
    free(fns);
    if (rc < 0) {
        free(res);
        res = NULL, len = 0;
    }
    *out = res;
    *n = len;
    return rc;
}

/* An entry's Marker key: "name", or "name:version" with FunctionVersion=ALL. */
static void entry_key(const gl_fn_t *fn, int all, char *out, size_t len)
{
    const char *v = fn->version ? fn->version : "$LATEST";
    snprintf(out, len, all ? "%s:%s" : "%s", fn->cfg.name, v);
}

/* Whether entry fn comes after the Marker key `after` ($LATEST before version 1, 2, ...). */
static int entry_after(const gl_fn_t *fn, int all, const char *after)
{
    const char *colon = all ? strchr(after, ':') : NULL;
    size_t nlen = colon ? (size_t)(colon - after) : strlen(after);
    int c = strncmp(fn->cfg.name, after, nlen);
    if (c || !colon)
        return c > 0 || (c == 0 && fn->cfg.name[nlen] != '\0');
    if (fn->cfg.name[nlen] != '\0')
        return 1;
    const char *v = fn->version ? fn->version : "$LATEST";
    long mine = strcmp(v, "$LATEST") ? atol(v) : 0;
    long theirs = strcmp(colon + 1, "$LATEST") ? atol(colon + 1) : 0;
    return mine > theirs;
}

/* FunctionVersion (ALL or absent) and MasterRegion (Lambda@Edge: galley has no replicas, so a
 * valid one lists nothing). -1 after replying. */
static int list_filters(gl_http_req_t *req, int *all, int *edge)
{
    char *version = gl_query_get(req->query, "FunctionVersion");
    char *region = gl_query_get(req->query, "MasterRegion");
    int rc = -1;
    *all = version && *version;
    *edge = region != NULL;
    if (*all && strcmp(version, "ALL") != 0)
        gl_http_reply_aws_error(req, GL_AWS_VALIDATION,
                                "1 validation error detected: Value '%.64s' at 'functionVersion' "
                                "failed to satisfy constraint: Member must satisfy enum value set: "
                                "[ALL]",
                                version);
    else if (region && !gl_api_matches("^(ALL|[a-z]{2}(-gov)?-[a-z]+-[0-9])$", region))
        gl_http_reply_aws_error(req, GL_AWS_VALIDATION,
                                "1 validation error detected: Value '%.64s' at 'masterRegion' "
                                "failed to satisfy constraint: Member must satisfy regular "
                                "expression pattern: ALL|[a-z]{2}(-gov)?-[a-z]+-\\d{1}",
                                region);
    else if (region && !*all)
        gl_http_reply_aws_error(req, GL_AWS_INVALID_PARAMETER_VALUE,
                                "MasterRegion can only be used with FunctionVersion=ALL.");
    else
        rc = 0;
    free(version);
    free(region);
    return rc;
}

void gl_api_list_functions(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    (void)rt;
    gl_fn_t **fns = NULL;
    size_t n = 0, page, start = 0;
    char *marker = gl_query_get(req->query, "Marker");
    char after[GL_FN_NAME_MAX + 32], key[GL_FN_NAME_MAX + 32];
    json_t *list = NULL;
    int all, edge;

    if (list_filters(req, &all, &edge) < 0 || gl_api_max_items(req, &page) < 0 ||
        gl_api_marker(req, marker, sizeof(after) - 1, after) < 0)
        goto out;
    if ((!edge && list_entries(api, all, &fns, &n) < 0) || !(list = json_array())) {
        gl_http_reply_aws_error(req, GL_AWS_SERVICE, "out of memory");
        goto out;
    }
    while (after[0] && start < n && !entry_after(fns[start], all, after))
        start++;
    size_t end = start + page < n ? start + page : n;
    for (size_t i = start; i < end; i++) {
        /* With FunctionVersion=ALL every entry is a version: qualified ARNs, $LATEST too. */
        json_t *conf = gl_fn_config_json_qualified(api->reg, fns[i], all ? fns[i]->version : NULL);
        if (!conf || json_array_append_new(list, conf) < 0) {
            gl_http_reply_aws_error(req, GL_AWS_SERVICE, "out of memory");
            goto out;
        }
    }
    json_t *resp = json_pack("{s:O}", "Functions", list);
    if (end < n) {
        entry_key(fns[end - 1], all, key, sizeof(key));
        gl_api_next_marker(resp, key);
    }
    gl_api_reply_json(req, 200, resp);
out:
    json_decref(list);
    free(fns);
    free(marker);
}
