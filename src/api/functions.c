/* SPDX-License-Identifier: MIT */
/*
 * functions.c: the control plane of created functions: CreateFunction (with its Tags),
 * GetFunction, GetFunctionConfiguration, UpdateFunctionCode, UpdateFunctionConfiguration,
 * DeleteFunction (of a whole function or, with a Qualifier, of one version) and
 * GetAccountSettings (spec 7), plus gl_api_resolve (qualifiers: $LATEST, versions, aliases)
 * for every handler, and the paging helpers of the List operations (ListFunctions itself is
 * list_functions.c).
 *
 * Each handler replies exactly once. Validation and the JSON shapes live in the registry
 * module (request.c, fnjson.c); this file decodes bodies and talks to the registry. Code
 * uploads are unpacked off the loop thread (code_upload.c) into a fresh code-<revision>/
 * directory with its zip beside it, and a change of Layers is merged off it too
 * (config_layers.c); the registry swaps snapshots, so an environment running the old code
 * keeps it until it lets go. Any failure before gl_registry_put removes what the upload
 * created. Template functions share the namespace but are read-only here.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "galley/archive.h"
#include "galley/async.h"
#include "galley/layers.h"
#include "galley/log.h"
#include "galley/util.h"
#include "galley/sched.h"
#include "galley/web.h"
#include "internal.h"

#define LIST_PAGE_MAX 50
#define ACCOUNT_TOTAL_CODE 80530636800LL

static void reply_json(gl_http_req_t *req, int status, json_t *body)
{
    gl_http_header_t h = {"x-amzn-RequestId", req->request_id};
    if (!body) {
        gl_http_reply_aws_error(req, GL_AWS_SERVICE, "out of memory");
        return;
    }
    gl_http_reply_json(req, status, &h, 1, body);
}

void gl_api_reply_json(gl_http_req_t *req, int status, json_t *body)
{
    reply_json(req, status, body);
}

/* The request body as a JSON object (empty means {}), or NULL after replying 400. */
static json_t *body_object(gl_http_req_t *req)
{
    json_error_t jerr;
    json_t *body;
    if (req->body.len == 0)
        return json_object();
    body = json_loadb(req->body.data, req->body.len, 0, &jerr);
    if (!body) {
        gl_http_reply_aws_error(req, GL_AWS_INVALID_REQUEST_CONTENT,
                                "Could not parse request body into json: %s: at line %d column %d",
                                jerr.text, jerr.line, jerr.column);
        return NULL;
    }
    if (!json_is_object(body)) {
        json_decref(body);
        gl_http_reply_aws_error(req, GL_AWS_INVALID_REQUEST_CONTENT,
                                "Could not parse request body into json: expected a JSON object");
        return NULL;
    }
    return body;
}

json_t *gl_api_body_object(gl_http_req_t *req)
{
    return body_object(req);
}

int gl_api_opt_string(gl_http_req_t *req, const json_t *body, const char *key, const char **out)
{
    json_t *v = json_object_get(body, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v)) {
        gl_http_reply_aws_error(req, GL_AWS_INVALID_REQUEST_CONTENT,
                                "Could not parse request body into json: member %s must be a "
                                "string",
                                key);
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

json_t *gl_api_fn_configuration_json(gl_api_t *api, const gl_fn_t *fn)
{
    return gl_fn_config_json(api->reg, fn);
}

static void reply_not_found(gl_api_t *api, gl_http_req_t *req, const char *name,
                            const char *qualifier)
{
    char arn[512];
    gl_registry_fn_arn(api->reg, name, qualifier, arn, sizeof(arn));
    gl_http_reply_aws_error(req, GL_AWS_RESOURCE_NOT_FOUND, "Function not found: %s", arn);
}

gl_fn_t *gl_api_find_function(gl_api_t *api, gl_http_req_t *req, const char *name)
{
    gl_fn_t *fn = gl_registry_find(api->reg, name);
    if (!fn)
        reply_not_found(api, req, name, NULL);
    return fn;
}

static gl_fn_t *resolve(gl_api_t *api, gl_http_req_t *req, const gl_fn_ref_t *ref, double route)
{
    gl_fn_t *fn = gl_registry_resolve(api->reg, ref->name, ref->qualifier, route);
    if (!fn) {
        /* Lambda names the function by its FunctionName even when given a logical id. */
        gl_fn_t *latest = gl_registry_find(api->reg, ref->name);
        reply_not_found(api, req, latest ? latest->cfg.name : ref->name, ref->qualifier);
        return NULL;
    }
    return fn;
}

gl_fn_t *gl_api_resolve(gl_api_t *api, gl_http_req_t *req, const gl_fn_ref_t *ref)
{
    return resolve(api, req, ref, -1.0);
}

gl_fn_t *gl_api_resolve_routed(gl_api_t *api, gl_http_req_t *req, const gl_fn_ref_t *ref)
{
    return resolve(api, req, ref, gl_registry_route_draw());
}

/* $LATEST only: the Update* operations change $LATEST and never address a version. */
static gl_fn_t *resolve_latest(gl_api_t *api, gl_http_req_t *req, const gl_fn_ref_t *ref)
{
    if (ref->qualifier[0] && strcmp(ref->qualifier, "$LATEST") != 0) {
        gl_fn_t *latest = gl_registry_find(api->reg, ref->name);
        reply_not_found(api, req, latest ? latest->cfg.name : ref->name, ref->qualifier);
        return NULL;
    }
    return gl_api_resolve(api, req, ref);
}

/* The configuration as addressed: "name:q" answers with FunctionArn "...:q". */
static json_t *config_json_as_addressed(gl_api_t *api, const gl_fn_t *fn, const gl_fn_ref_t *ref)
{
    return gl_fn_config_json_qualified(api->reg, fn, ref->qualifier[0] ? ref->qualifier : NULL);
}

/* Template functions are the template's: the API may read them, never change them. */
static int refuse_template(gl_http_req_t *req, const gl_fn_t *fn);
int gl_api_refuse_template(gl_http_req_t *req, const gl_fn_t *fn)
{
    return refuse_template(req, fn);
}

static int refuse_template(gl_http_req_t *req, const gl_fn_t *fn)
{
    if (!fn->from_template)
        return 0;
    gl_http_reply_aws_error(req, GL_AWS_INVALID_PARAMETER_VALUE,
                            "Function %s is defined by the template%s%s%s; change it in the "
                            "template, galley cannot update or delete it through the API.",
                            fn->cfg.name, fn->logical_id ? " (logical id " : "",
                            fn->logical_id ? fn->logical_id : "", fn->logical_id ? ")" : "");
    return -1;
}

/* RevisionId precondition of the Update* operations; -1 after replying 412. */
static int check_revision(gl_http_req_t *req, const json_t *body, const gl_fn_t *fn)
{
    json_t *rev = json_object_get(body, "RevisionId");
    if (!rev || json_is_null(rev))
        return 0;
    if (!json_is_string(rev) || !fn->cfg.revision_id ||
        strcmp(json_string_value(rev), fn->cfg.revision_id) != 0) {
        gl_http_reply_aws_error(req, GL_AWS_PRECONDITION_FAILED,
                                "The Revision Id provided does not match the latest Revision Id. "
                                "Call the GetFunction/GetAlias API to retrieve the latest "
                                "Revision Id");
        return -1;
    }
    return 0;
}

/* Lambda's answer to an upload the archive module refused (kind "function" or "layer", what
 * its name). */
gl_aws_err_t gl_api_archive_message(const gl_archive_result_t *res, const gl_err_t *err,
                                    const char *kind, char *msg, size_t msglen)
{
    switch (res->status) {
    case GL_ARCHIVE_BAD_ZIP:
        snprintf(msg, msglen, "Could not unzip uploaded file. Please check your file, then "
                              "try to upload again.");
        return GL_AWS_INVALID_PARAMETER_VALUE;
    case GL_ARCHIVE_EMPTY:
        snprintf(msg, msglen, "Uploaded file must be a non-empty zip");
        return GL_AWS_INVALID_PARAMETER_VALUE;
    case GL_ARCHIVE_TOO_LARGE:
        snprintf(msg, msglen, "Unzipped size must be smaller than %llu bytes",
                 (unsigned long long)GL_ARCHIVE_MAX_UNPACKED);
        return GL_AWS_INVALID_PARAMETER_VALUE;
    case GL_ARCHIVE_UNSAFE_ENTRY:
    case GL_ARCHIVE_CONFLICT:
        snprintf(msg, msglen, "Could not unzip uploaded file: %s", err->msg);
        return GL_AWS_INVALID_PARAMETER_VALUE;
    default:
        snprintf(msg, msglen, "Could not store the %s's code: %s", kind, strerror(err->code));
        return GL_AWS_SERVICE;
    }
}

/* Swap cfg in and answer with the new configuration (with "Publish": true, the version
 * published from it); on failure undo an upload. req NULL: the client has gone, store only.
 * create_body is CreateFunction's body (its Tags and CodeSigningConfigArn are stored with the
 * function), else NULL. */
void gl_api_put_and_reply(gl_api_t *api, gl_http_req_t *req, gl_fn_config_t *cfg, int status,
                          int new_code, int publish, const json_t *create_body)
{
    const json_t *tags = json_object_get(create_body, "Tags");
    const char *csc = json_string_value(json_object_get(create_body, GL_API_CSC_SETTING));
    gl_fn_t *fn = NULL, *ver = NULL;
    gl_err_t err = {0};
    gl_aws_error_t aerr;
    char *code_dir = new_code && cfg->code_dir ? strdup(cfg->code_dir) : NULL;
    if (gl_registry_put(api->reg, cfg, &fn, &err) < 0) {
        gl_log_error("api: storing function %s: %s: %s", cfg->name ? cfg->name : "?", err.msg,
                     strerror(err.code));
        if (code_dir)
            gl_api_discard_code(code_dir);
        if (req)
            gl_http_reply_aws_error(req, GL_AWS_SERVICE, "Could not store the function: %s: %s",
                                    err.msg, strerror(err.code));
    } else if (tags && !json_is_null(tags) &&
               gl_api_tags_store(api, fn->cfg.name, json_deep_copy(tags), &err) < 0) {
        gl_log_error("api: tags of %s: %s", fn->cfg.name, err.msg);
        if (req)
            gl_http_reply_aws_error(req, GL_AWS_SERVICE, "Could not store the tags: %s", err.msg);
    } else if (csc && gl_registry_set_setting(api->reg, fn->cfg.name, GL_API_CSC_SETTING,
                                              json_string(csc), &err) < 0) {
        gl_log_error("api: code signing config of %s: %s", fn->cfg.name, err.msg);
        if (req)
            gl_http_reply_aws_error(req, GL_AWS_SERVICE,
                                    "Could not store the code signing config: %s", err.msg);
    } else if (publish) {
        int rc = gl_registry_publish(api->reg, fn->cfg.name, NULL, NULL, NULL, &ver, NULL, &aerr);
        if (req && rc < 0)
            gl_http_reply_aws_err(req, &aerr);
        else if (req)
            reply_json(req, status, gl_fn_config_json(api->reg, ver));
    } else if (req) {
        reply_json(req, status, gl_fn_config_json(api->reg, fn));
    }
    if (fn) /* stored: its runtime's spares are ready before its first invoke */
        gl_sched_spares_note(api->sched, fn->cfg.runtime);
    free(code_dir);
}

void gl_api_create_function(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    (void)rt;
    gl_fn_config_t cfg = {0};
    gl_fn_ref_t ref;
    gl_aws_error_t aerr;
    const char *b64;
    size_t b64_len;
    json_t *body = body_object(req);

    if (!body)
        return;
    if (gl_fn_config_from_request(body, &cfg, 0, &aerr) < 0) {
        gl_http_reply_aws_err(req, &aerr);
        goto out;
    }
    if (gl_registry_parse_fn_name(json_string_value(json_object_get(body, "FunctionName")), NULL,
                                  gl_registry_region(api->reg), gl_registry_account(api->reg), 140,
                                  &ref, &aerr) < 0) {
        gl_http_reply_aws_err(req, &aerr);
        goto out;
    }
    if (ref.qualifier[0]) {
        gl_http_reply_aws_error(req, GL_AWS_INVALID_PARAMETER_VALUE,
                                "FunctionName must not include a version or alias qualifier "
                                "when creating a function.");
        goto out;
    }
    if (gl_registry_find(api->reg, ref.name) || gl_api_upload_in_progress(api, ref.name)) {
        gl_http_reply_aws_error(req, GL_AWS_RESOURCE_CONFLICT, "Function already exist: %s",
                                ref.name);
        goto out;
    }
    if (gl_fn_code_from_request(json_object_get(body, "Code"), &b64, &b64_len, &aerr) < 0 ||
        (json_object_get(body, "Tags") && !json_is_null(json_object_get(body, "Tags")) &&
         gl_api_tags_check(json_object_get(body, "Tags"), 0, NULL, &aerr) < 0)) {
        gl_http_reply_aws_err(req, &aerr);
        goto out;
    }
    if (gl_api_csc_check_create(api, req, body) < 0)
        goto out;
    if (!(cfg.name = strdup(ref.name))) {
        gl_http_reply_aws_error(req, GL_AWS_SERVICE, "out of memory");
        goto out;
    }
    gl_api_upload_start(api, req, body, b64, b64_len, &cfg, 201);
out:
    gl_fn_config_free(&cfg);
    json_decref(body);
}

void gl_api_get_function(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    const gl_fn_ref_t *ref = &rt->ref;
    gl_fn_t *fn = gl_api_resolve(api, req, ref);
    if (!fn)
        return;
    json_t *conf = config_json_as_addressed(api, fn, ref);
    json_t *code = json_pack("{s:s}", "RepositoryType", "S3");
    char *location = NULL;
    if (code && fn->cfg.code_dir) {
        /* Created functions: the zip as uploaded; template functions: their directory. */
        char *path = fn->from_template ? strdup(fn->cfg.code_dir)
                                       : gl_registry_code_zip_path(fn->cfg.code_dir);
        size_t n = path ? strlen(path) + 8 : 0;
        if (path && (location = malloc(n)))
            snprintf(location, n, "file://%s", path);
        free(path);
        if (location)
            json_object_set_new(code, "Location", json_string(location));
    }
    free(location);
    json_t *out = conf && code ? json_pack("{s:o,s:o}", "Configuration", conf, "Code", code) : NULL;
    if (!out) {
        json_decref(conf);
        json_decref(code);
    }
    const json_t *tags = gl_api_tags_of(api, fn->cfg.name);
    if (out && tags)
        json_object_set_new(out, "Tags", json_deep_copy(tags));
    int reserved = gl_registry_reserved(api->reg, fn->cfg.name);
    if (out && reserved >= 0)
        json_object_set_new(out, "Concurrency",
                            json_pack("{s:i}", "ReservedConcurrentExecutions", reserved));
    reply_json(req, 200, out);
}

void gl_api_get_function_configuration(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    const gl_fn_ref_t *ref = &rt->ref;
    gl_fn_t *fn = gl_api_resolve(api, req, ref);
    if (fn)
        reply_json(req, 200, config_json_as_addressed(api, fn, ref));
}

/* The $LATEST an update applies to (*fn) and its body (new reference), or NULL after
 * replying: unknown function, template function, bad JSON, or a stale RevisionId. */
static json_t *update_body(gl_api_t *api, gl_http_req_t *req, const gl_fn_ref_t *ref, gl_fn_t **fn)
{
    json_t *body = NULL;

    if (!(*fn = resolve_latest(api, req, ref)) || refuse_template(req, *fn) < 0 ||
        !(body = body_object(req)))
        return NULL;
    if (check_revision(req, body, *fn) < 0 || gl_api_upload_conflict(api, req, (*fn)->cfg.name) < 0) {
        json_decref(body);
        return NULL;
    }
    return body;
}

void gl_api_update_function_code(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    const gl_fn_ref_t *ref = &rt->ref;
    gl_fn_config_t cfg = {0};
    gl_aws_error_t aerr;
    const char *b64;
    size_t b64_len;
    gl_fn_t *fn;
    json_t *body = update_body(api, req, ref, &fn);

    if (!body)
        return;
    if (gl_fn_code_from_request(body, &b64, &b64_len, &aerr) < 0) {
        gl_http_reply_aws_err(req, &aerr);
        goto out;
    }
    if (json_is_true(json_object_get(body, "DryRun"))) {
        /* Validate only: the caller sees the configuration that stays in place. */
        reply_json(req, 200, gl_fn_config_json(api->reg, fn));
        goto out;
    }
    if (gl_fn_config_copy(&cfg, &fn->cfg) < 0) {
        gl_http_reply_aws_error(req, GL_AWS_SERVICE, "out of memory");
        goto out;
    }
    gl_api_upload_start(api, req, body, b64, b64_len, &cfg, 200);
out:
    gl_fn_config_free(&cfg);
    json_decref(body);
}

void gl_api_update_function_configuration(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    const gl_fn_ref_t *ref = &rt->ref;
    gl_fn_config_t cfg = {0};
    gl_layers_plan_t plan = {0};
    gl_aws_error_t aerr;
    char rev[GL_UUID_LEN + 1];
    gl_fn_t *fn;
    json_t *body = update_body(api, req, ref, &fn);

    if (!body)
        return;
    if (gl_fn_config_copy(&cfg, &fn->cfg) < 0) {
        gl_http_reply_aws_error(req, GL_AWS_SERVICE, "out of memory");
        goto out;
    }
    if (gl_fn_config_from_request(body, &cfg, 1, &aerr) < 0 ||
        (json_object_get(body, "Layers") &&
         gl_layers_plan(api->reg, &cfg, NULL, &plan, &aerr) < 0)) {
        gl_http_reply_aws_err(req, &aerr);
        goto out;
    }
    if (plan.n) { /* the walk and the merge: on the work queue (config_layers.c) */
        gl_api_config_layers_start(api, req, &cfg, &plan);
        goto out;
    }
    gl_uuid4(rev);
    gl_api_stamp(&cfg, rev);
    gl_api_put_and_reply(api, req, &cfg, 200, 0, 0, NULL);
out:
    gl_layers_plan_free(&plan);
    gl_fn_config_free(&cfg);
    json_decref(body);
}

void gl_api_delete_function(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    const gl_fn_ref_t *ref = &rt->ref;
    gl_err_t err = {0};
    if (strcmp(ref->qualifier, "$LATEST") == 0) {
        gl_http_reply_aws_error(req, GL_AWS_INVALID_PARAMETER_VALUE,
                                "$LATEST version cannot be deleted without deleting the "
                                "function.");
        return;
    }
    if (ref->qualifier[0]) {
        gl_fn_t *latest = gl_registry_find(api->reg, ref->name);
        gl_aws_error_t aerr;
        int digits = strspn(ref->qualifier, "0123456789") == strlen(ref->qualifier);
        if (!latest) {
            reply_not_found(api, req, ref->name, NULL);
            return;
        }
        if (refuse_template(req, latest) < 0)
            return;
        if (!digits) {
            /* Lambda deletes versions here, never an alias (DeleteAlias does that). */
            if (!gl_registry_find_alias(api->reg, latest->cfg.name, ref->qualifier))
                reply_not_found(api, req, latest->cfg.name, ref->qualifier);
            else
                gl_http_reply_aws_error(req, GL_AWS_INVALID_PARAMETER_VALUE,
                                        "Deletion of aliases is not currently supported.");
            return;
        }
        if (gl_registry_delete_version(api->reg, latest->cfg.name, ref->qualifier, &aerr) < 0) {
            /* A long list of aliases was always cut at 1023 bytes here. */
            gl_http_reply_aws_error(req, aerr.type, "%.1023s", aerr.msg);
            return;
        }
        /* The version's EventInvokeConfig goes with it. */
        if (api->async)
            gl_async_config_delete(api->async, latest->cfg.name, ref->qualifier);
        gl_api_forget_qualifier(api, latest->cfg.name, ref->qualifier); /* policy, runtime */
        gl_http_header_t h = {"x-amzn-RequestId", req->request_id};
        gl_http_reply(req, 204, &h, 1, NULL, 0);
        return;
    }
    gl_fn_t *fn = gl_api_resolve(api, req, ref);
    if (!fn || refuse_template(req, fn) < 0 || gl_api_upload_conflict(api, req, fn->cfg.name) < 0)
        return;
    if (gl_registry_remove(api->reg, fn->cfg.name, &err) < 0) {
        gl_log_error("api: deleting %s: %s", ref->name, err.msg);
        gl_http_reply_aws_error(req, GL_AWS_SERVICE, "Could not delete the function: %s", err.msg);
        return;
    }
    if (api->async)
        gl_async_forget_function(api->async, ref->name); /* every qualifier's config */
    gl_web_url_close_function(api->web, ref->name); /* its settings went with it */
    gl_http_header_t h = {"x-amzn-RequestId", req->request_id};
    gl_http_reply(req, 204, &h, 1, NULL, 0);
}

/* MaxItems: absent -> 50, else an integer 1..10000 (pages never exceed 50). */
static int parse_max_items(gl_http_req_t *req, size_t *page);
int gl_api_marker(gl_http_req_t *req, const char *marker, size_t max_len, char *out)
{
    unsigned char *raw = NULL;
    size_t len = 0;
    out[0] = '\0';
    if (!marker || !*marker)
        return 0;
    if (gl_b64_decode(marker, strlen(marker), &raw, &len) < 0 || len == 0 || len > max_len ||
        memchr(raw, '\0', len)) {
        free(raw);
        gl_http_reply_aws_error(req, GL_AWS_INVALID_PARAMETER_VALUE, "Invalid Marker: %.128s",
                                marker);
        return -1;
    }
    memcpy(out, raw, len);
    out[len] = '\0';
    free(raw);
    return 0;
}

void gl_api_next_marker(json_t *resp, const char *last)
{
    char *next = NULL;
    if (resp && gl_b64_encode(last, strlen(last), &next) == 0)
        json_object_set_new(resp, "NextMarker", json_string(next));
    free(next);
}

int gl_api_max_items(gl_http_req_t *req, size_t *page)
{
    return parse_max_items(req, page);
}

static int parse_max_items(gl_http_req_t *req, size_t *page)
{
    char *v = gl_query_get(req->query, "MaxItems");
    char *end = NULL;
    long n;
    *page = LIST_PAGE_MAX;
    if (!v)
        return 0;
    n = strtol(v, &end, 10);
    if (!*v || *end || n < 1 || n > 10000) {
        const char *what = (!*v || *end) ? "Member must be an integer"
                           : n < 1       ? "Member must have value greater than or equal to 1"
                                         : "Member must have value less than or equal to 10000";
        gl_http_reply_aws_error(req, GL_AWS_VALIDATION,
                                "1 validation error detected: Value '%.32s' at 'maxItems' failed "
                                "to satisfy constraint: %s",
                                v, what);
        free(v);
        return -1;
    }
    free(v);
    if ((size_t)n < *page)
        *page = (size_t)n;
    return 0;
}

void gl_api_get_account_settings(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    (void)rt;
    gl_fn_t **fns = NULL;
    size_t n = 0;
    long long total = 0;
    if (gl_registry_list(api->reg, &fns, &n) < 0) {
        gl_http_reply_aws_error(req, GL_AWS_SERVICE, "out of memory");
        return;
    }
    for (size_t i = 0; i < n; i++)
        total += fns[i]->cfg.code_size;
    free(fns);
    int limit = (int)gl_sched_account_concurrency(api->sched);
    reply_json(req, 200,
               json_pack("{s:{s:I,s:I,s:I,s:i,s:i},s:{s:I,s:I}}", "AccountLimit", "TotalCodeSize",
                         (json_int_t)ACCOUNT_TOTAL_CODE, "CodeSizeUnzipped",
                         (json_int_t)GL_ARCHIVE_MAX_UNPACKED, "CodeSizeZipped",
                         (json_int_t)GL_API_ZIPPED_MAX, "ConcurrentExecutions", limit,
                         "UnreservedConcurrentExecutions",
                         (int)gl_sched_unreserved(api->sched), "AccountUsage",
                         "TotalCodeSize", (json_int_t)total, "FunctionCount", (json_int_t)n));
}
