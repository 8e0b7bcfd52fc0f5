/* SPDX-License-Identifier: MIT */
/*
 * versions.c: PublishVersion (POST .../versions, 201) and ListVersionsByFunction
 * (GET .../versions): request checks and paging here; numbering, preconditions and storage
 * live in the registry (src/registry/versions.c). Template functions may be listed, not
 * published (their versions come from AutoPublishAlias at start).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "galley/util.h"
#include "internal.h"

#define DESCRIPTION_MAX 256

static void reply_fn_not_found(gl_api_t *api, gl_http_req_t *req, const char *name)
{
    char arn[512];
    gl_registry_fn_arn(api->reg, name, NULL, arn, sizeof(arn));
    gl_http_reply_aws_error(req, GL_AWS_RESOURCE_NOT_FOUND, "Function not found: %s", arn);
}

void gl_api_publish_version(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    const gl_fn_ref_t *ref = &rt->ref;
    const char *sha, *desc, *rev;
    gl_fn_t *ver = NULL;
    gl_aws_error_t aerr;
    gl_fn_t *latest = gl_registry_find(api->reg, ref->name);
    json_t *body = NULL;

    if (!latest) {
        reply_fn_not_found(api, req, ref->name);
        return;
    }
    if (gl_api_refuse_template(req, latest) < 0 || !(body = gl_api_body_object(req)))
        return;
    if (gl_api_opt_string(req, body, "CodeSha256", &sha) < 0 ||
        gl_api_opt_string(req, body, "Description", &desc) < 0 || gl_api_opt_string(req, body, "RevisionId", &rev) < 0)
        goto out;
    if (desc && strlen(desc) > DESCRIPTION_MAX) {
        gl_http_reply_aws_error(req, GL_AWS_VALIDATION,
                                "1 validation error detected: Value '%.64s...' at 'description' "
                                "failed to satisfy constraint: Member must have length less than "
                                "or equal to %d",
                                desc, DESCRIPTION_MAX);
        goto out;
    }
    if (gl_registry_publish(api->reg, latest->cfg.name, sha, rev, desc, &ver, NULL, &aerr) < 0) {
        gl_http_reply_aws_err(req, &aerr);
        goto out;
    }
    gl_api_reply_json(req, 201, gl_fn_config_json(api->reg, ver));
out:
    json_decref(body);
}

/* Index of the first entry after the marker (base64 of the last version shown): "$LATEST"
 * is entry 0, "N" continues at the first version above N even if N was deleted since. */
static int marker_start(const char *marker, gl_fn_t **fns, size_t n, size_t *start)
{
    unsigned char *raw = NULL;
    size_t len = 0;
    char text[16];
    *start = 0;
    if (!marker || !*marker)
        return 0;
    if (gl_b64_decode(marker, strlen(marker), &raw, &len) < 0 || len == 0 || len >= sizeof(text)) {
        free(raw);
        return -1;
    }
    memcpy(text, raw, len);
    text[len] = '\0';
    free(raw);
    if (strcmp(text, "$LATEST") == 0) {
        *start = 1;
        return 0;
    }
    if (strspn(text, "0123456789") != len)
        return -1;
    unsigned long m = strtoul(text, NULL, 10);
    size_t i = 1;
    while (i < n && strtoul(fns[i]->version, NULL, 10) <= m)
        i++;
    *start = i;
    return 0;
}

void gl_api_list_versions(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    const gl_fn_ref_t *ref = &rt->ref;
    gl_fn_t **fns = NULL;
    size_t n = 0, page, start = 0;
    char *marker = gl_query_get(req->query, "Marker");
    json_t *list = NULL;

    if (!gl_registry_find(api->reg, ref->name)) {
        reply_fn_not_found(api, req, ref->name);
        goto out;
    }
    if (gl_api_max_items(req, &page) < 0)
        goto out;
    if (gl_registry_list_versions(api->reg, ref->name, &fns, &n) < 0 || !(list = json_array())) {
        gl_http_reply_aws_error(req, GL_AWS_SERVICE, "out of memory");
        goto out;
    }
    if (marker_start(marker, fns, n, &start) < 0) {
        gl_http_reply_aws_error(req, GL_AWS_INVALID_PARAMETER_VALUE, "Invalid Marker: %.128s",
                                marker);
        goto out;
    }
    size_t end = start + page < n ? start + page : n;
    for (size_t i = start; i < end; i++) {
        /* Every entry is a version here, $LATEST included: qualified ARNs. */
        json_t *conf = gl_fn_config_json_qualified(api->reg, fns[i], fns[i]->version);
        if (!conf || json_array_append_new(list, conf) < 0) {
            gl_http_reply_aws_error(req, GL_AWS_SERVICE, "out of memory");
            goto out;
        }
    }
    json_t *resp = json_pack("{s:O}", "Versions", list);
    if (end < n)
        gl_api_next_marker(resp, fns[end - 1]->version);
    gl_api_reply_json(req, 200, resp);
out:
    json_decref(list);
    free(fns);
    free(marker);
}
