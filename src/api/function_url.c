/* SPDX-License-Identifier: MIT */
/*
 * function_url.c: Create/Get/Update/DeleteFunctionUrlConfig and ListFunctionUrlConfigs
 * (2021-10-31), validated with Lambda's wording and kept in the registry's per-function
 * settings ("FunctionUrlConfigs": qualifier -> config, "$LATEST" for the unqualified URL), so
 * they persist and go with the function or alias. Each config is served by the web module on a
 * loopback listener of its own (include/galley/web.h); its port is stored with the config and
 * taken again at the next start, so a FunctionUrl stays valid across restarts.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "galley/log.h"
#include "galley/web.h"
#include "internal.h"

#define URLS "FunctionUrlConfigs"
#define LATEST "$LATEST"
#define QUALIFIER_PATTERN "((?!^\\d+$)^[0-9a-zA-Z-_]+$)"

/* Lambda's pattern for the qualifier: an alias name, never a version or $LATEST. 0, or -1
 * after replying ValidationException. */
static int check_qualifier(gl_http_req_t *req, const char *q)
{
    if (!q[0] || (strspn(q, "0123456789") != strlen(q) && gl_api_matches("^[0-9a-zA-Z_-]+$", q)))
        return 0;
    gl_http_reply_aws_error(req, GL_AWS_VALIDATION,
                            "1 validation error detected: Value '%s' at 'qualifier' failed to "
                            "satisfy constraint: Member must satisfy regular expression pattern: "
                            QUALIFIER_PATTERN, q);
    return -1;
}

static const json_t *stored(gl_api_t *api, const gl_fn_t *fn, const char *key)
{
    return json_object_get(gl_registry_setting(api->reg, fn->cfg.name, URLS), key);
}

/* Store cfg (stolen; NULL removes it) as key's URL config. 0 or -1 after logging. */
static int store(gl_api_t *api, const char *fn_name, const char *key, json_t *cfg)
{
    const json_t *cur = gl_registry_setting(api->reg, fn_name, URLS);
    json_t *all = cur ? json_deep_copy(cur) : json_object();
    gl_err_t err = {0};
    if (all && cfg)
        json_object_set(all, key, cfg);
    else if (all)
        json_object_del(all, key);
    json_decref(cfg);
    if (all && json_object_size(all) == 0) {
        json_decref(all);
        all = NULL;
    }
    if (gl_registry_set_setting(api->reg, fn_name, URLS, all, &err) < 0) {
        gl_log_error("api: function URL of %s:%s: %s", fn_name, key, err.msg);
        return -1;
    }
    return 0;
}

/* The FunctionUrlConfig Lambda returns (new reference); with_modified 0 for Create's. */
static json_t *config_json(gl_api_t *api, const char *fn_name, const char *key,
                           const json_t *cfg, int with_modified)
{
    char arn[512], url[320];
    gl_registry_fn_arn(api->reg, fn_name, strcmp(key, LATEST) ? key : NULL, arn, sizeof(arn));
    snprintf(url, sizeof(url), "http://%s:%lld/", gl_web_host(api->web),
             (long long)json_integer_value(json_object_get(cfg, "Port")));
    json_t *out = json_pack("{s:s, s:s, s:O, s:O, s:O}", "FunctionUrl", url, "FunctionArn", arn,
                            "AuthType", json_object_get(cfg, "AuthType"), "CreationTime",
                            json_object_get(cfg, "CreationTime"), "InvokeMode",
                            json_object_get(cfg, "InvokeMode"));
    if (out && json_object_get(cfg, "Cors"))
        json_object_set(out, "Cors", json_object_get(cfg, "Cors"));
    if (out && with_modified)
        json_object_set(out, "LastModifiedTime", json_object_get(cfg, "LastModifiedTime"));
    return out;
}

/* A list member of Cors: an array of strings each [min, max] long, at most most items. */
static void check_list(gl_violations_t *v, const json_t *cors, const char *member,
                       const char *path, size_t most, size_t min, size_t max)
{
    const json_t *l = json_object_get(cors, member);
    size_t i;
    json_t *s;
    if (!l || json_is_null(l))
        return;
    if (!json_is_array(l)) {
        gl_violation_add(v, "Value at 'cors.%s' failed to satisfy constraint: Member must be a "
                            "list", path);
        return;
    }
    if (json_array_size(l) > most)
        gl_violation_add(v, "Value at 'cors.%s' failed to satisfy constraint: Member must have "
                            "length less than or equal to %zu", path, most);
    json_array_foreach(l, i, s) {
        size_t n = json_string_length(s);
        if (!json_is_string(s) || n < min || n > max) {
            gl_violation_add(v, "Value '%s' at 'cors.%s' failed to satisfy constraint: Member "
                                "must satisfy constraint: [Member must have length less than or "
                                "equal to %zu, Member must have length greater than or equal to "
                                "%zu]", json_is_string(s) ? json_string_value(s) : "", path, max,
                             min);
            return;
        }
    }
}

static void check_cors(gl_violations_t *v, const json_t *cors)
{
    if (!cors || json_is_null(cors))
        return;
    if (!json_is_object(cors)) {
        gl_violation_add(v, "Value at 'cors' failed to satisfy constraint: Member must be a "
                            "structure");
        return;
    }
    check_list(v, cors, "AllowOrigins", "allowOrigins", 100, 1, 253);
    check_list(v, cors, "AllowMethods", "allowMethods", 6, 0, 6);
    check_list(v, cors, "AllowHeaders", "allowHeaders", 100, 0, 1024);
    check_list(v, cors, "ExposeHeaders", "exposeHeaders", 100, 0, 1024);
    const json_t *age = json_object_get(cors, "MaxAge");
    if (age && !json_is_null(age) &&
        (!json_is_integer(age) || json_integer_value(age) < 0 ||
         json_integer_value(age) > 86400))
        gl_violation_add(v, "Value '%lld' at 'cors.maxAge' failed to satisfy constraint: Member "
                            "must have value %s", (long long)json_integer_value(age),
                         json_integer_value(age) < 0 ? "greater than or equal to 0"
                                                     : "less than or equal to 86400");
    const json_t *cred = json_object_get(cors, "AllowCredentials");
    if (cred && !json_is_null(cred) && !json_is_boolean(cred))
        gl_violation_add(v, "Value at 'cors.allowCredentials' failed to satisfy constraint: "
                            "Member must be a boolean");
}

static void check_enum(gl_violations_t *v, const json_t *body, const char *member,
                       const char *path, const char *a, const char *b, int required)
{
    const json_t *x = json_object_get(body, member);
    const char *s = json_string_value(x);
    if ((!x || json_is_null(x)) && required)
        gl_violation_add(v, "Value null at '%s' failed to satisfy constraint: Member must not be "
                            "null", path);
    else if (x && !json_is_null(x) && (!s || (strcmp(s, a) && strcmp(s, b))))
        gl_violation_add(v, "Value '%s' at '%s' failed to satisfy constraint: Member must "
                            "satisfy enum value set: [%s, %s]", s ? s : "", path, a, b);
}

/* Check a Create (create 1) or Update body; 0, or -1 after replying ValidationException. */
static int check_body(gl_http_req_t *req, const json_t *body, int create)
{
    gl_violations_t v;
    gl_aws_error_t aerr;
    gl_violations_init(&v, 10, 0);
    check_enum(&v, body, "AuthType", "authType", "NONE", "AWS_IAM", create);
    check_cors(&v, json_object_get(body, "Cors"));
    check_enum(&v, body, "InvokeMode", "invokeMode", "BUFFERED", "RESPONSE_STREAM", 0);
    if (gl_violations_report(&v, &aerr) < 0) {
        gl_http_reply_aws_err(req, &aerr);
        return -1;
    }
    return 0;
}

/* Copy body's members present onto cfg. */
static void apply_body(json_t *cfg, const json_t *body)
{
    static const char *const members[] = {"AuthType", "Cors", "InvokeMode"};
    for (size_t i = 0; i < 3; i++) {
        const json_t *x = json_object_get(body, members[i]);
        if (x && !json_is_null(x))
            json_object_set_new(cfg, members[i], json_deep_copy(x));
    }
}

/* Serve cfg's URL and store it; 0, or -1 after replying ServiceException. */
static int open_and_store(gl_api_t *api, gl_http_req_t *req, const gl_fn_t *fn,
                          const char *key, json_t *cfg)
{
    gl_err_t err = {0};
    int port = (int)json_integer_value(json_object_get(cfg, "Port"));
    const char *q = strcmp(key, LATEST) ? key : NULL;
    if (gl_web_url_open(api->web, fn->cfg.name, q, cfg, &port, &err) < 0) {
        gl_http_reply_aws_error(req, GL_AWS_SERVICE, "Could not open the function URL: %s",
                                err.msg);
        return -1;
    }
    json_object_set_new(cfg, "Port", json_integer(port));
    if (store(api, fn->cfg.name, key, json_incref(cfg)) < 0) {
        gl_web_url_close(api->web, fn->cfg.name, q);
        gl_http_reply_aws_error(req, GL_AWS_SERVICE, "Could not store the function URL config");
        return -1;
    }
    return 0;
}

static void create(gl_api_t *api, gl_http_req_t *req, gl_fn_t *fn, const char *key,
                   const json_t *body)
{
    char arn[512], now[40], id[33];
    if (stored(api, fn, key)) {
        gl_registry_fn_arn(api->reg, fn->cfg.name, strcmp(key, LATEST) ? key : NULL, arn,
                           sizeof(arn));
        gl_http_reply_aws_error(req, GL_AWS_RESOURCE_CONFLICT,
                                "Failed to create function url config for [functionArn = %s]. "
                                "Error message:  FunctionUrlConfig exists for this Lambda "
                                "function", arn);
        return;
    }
    gl_fmt_iso8601(gl_now_ms(), now, sizeof(now));
    gl_random_hex(id, 16);
    json_t *cfg = json_pack("{s:s, s:s, s:s, s:s, s:i}", "InvokeMode", "BUFFERED",
                            "CreationTime", now, "LastModifiedTime", now, "UrlId", id, "Port", 0);
    apply_body(cfg, body);
    if (cfg && open_and_store(api, req, fn, key, cfg) == 0)
        gl_api_reply_json(req, 201, config_json(api, fn->cfg.name, key, cfg, 0));
    else if (!cfg)
        gl_http_reply_aws_error(req, GL_AWS_SERVICE, "out of memory");
    json_decref(cfg);
}

static void update(gl_api_t *api, gl_http_req_t *req, gl_fn_t *fn, const char *key,
                   const json_t *body)
{
    char now[40];
    const json_t *cur = stored(api, fn, key);
    if (!cur) {
        gl_http_reply_aws_error(req, GL_AWS_RESOURCE_NOT_FOUND,
                                "The resource you requested does not exist.");
        return;
    }
    json_t *cfg = json_deep_copy(cur);
    gl_fmt_iso8601(gl_now_ms(), now, sizeof(now));
    apply_body(cfg, body);
    json_object_set_new(cfg, "LastModifiedTime", json_string(now));
    if (open_and_store(api, req, fn, key, cfg) == 0)
        gl_api_reply_json(req, 200, config_json(api, fn->cfg.name, key, cfg, 1));
    json_decref(cfg);
}

static void get_or_delete(gl_api_t *api, gl_http_req_t *req, gl_fn_t *fn, const char *key)
{
    gl_http_header_t h = {"x-amzn-RequestId", req->request_id};
    if (!stored(api, fn, key))
        gl_http_reply_aws_error(req, GL_AWS_RESOURCE_NOT_FOUND,
                                "The resource you requested does not exist.");
    else if (!strcmp(req->method_name, "GET"))
        gl_api_reply_json(req, 200, config_json(api, fn->cfg.name, key, stored(api, fn, key), 1));
    else if (gl_api_refuse_template(req, fn) < 0)
        return;
    else if (gl_api_function_url_forget(api, fn->cfg.name, key) < 0)
        gl_http_reply_aws_error(req, GL_AWS_SERVICE, "Could not delete the function URL");
    else
        gl_http_reply(req, 204, &h, 1, NULL, 0);
}

/* POST, GET, PUT, DELETE on /2021-10-31/functions/{F}/url: the request's schema first (the
 * qualifier, the body), then the function and its alias, as Lambda checks them. */
void gl_api_function_url(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    const char *key = LATEST;
    int write = !strcmp(req->method_name, "POST") || !strcmp(req->method_name, "PUT");
    json_t *body = NULL;
    gl_fn_t *fn;
    if (check_qualifier(req, rt->ref.qualifier) < 0)
        return;
    if (write && (!(body = gl_api_body_object(req)) ||
                  check_body(req, body, !strcmp(req->method_name, "POST")) < 0))
        goto out;
    if (!(fn = gl_api_qualified_target(api, req, &rt->ref, 1, &key)))
        goto out;
    if (!write)
        get_or_delete(api, req, fn, key);
    else if (gl_api_refuse_template(req, fn) < 0)
        goto out;
    else if (!strcmp(req->method_name, "POST"))
        create(api, req, fn, key, body);
    else
        update(api, req, fn, key, body);
out:
    json_decref(body);
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The qualifiers with a URL config, sorted (array malloc'd, keys borrowed from all). */
static const char **sorted_keys(const json_t *all, size_t *n)
{
    const char **keys = calloc(json_object_size(all) + 1, sizeof(*keys));
    const char *key;
    json_t *cfg;
    *n = 0;
    if (!keys)
        return NULL;
    json_object_foreach((json_t *)all, key, cfg)
        keys[(*n)++] = key;
    qsort(keys, *n, sizeof(*keys), by_name);
    return keys;
}

void gl_api_list_function_urls(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    gl_fn_t *fn = gl_api_find_function(api, req, rt->ref.name);
    char *marker = gl_query_get(req->query, "Marker");
    char last[GL_ALIAS_NAME_MAX + 1];
    size_t page, n = 0, shown = 0;
    const char **keys = NULL;
    json_t *list = json_array(), *resp;
    const json_t *all;

    if (!fn || gl_api_max_items(req, &page) < 0 ||
        gl_api_marker(req, marker, GL_ALIAS_NAME_MAX, last) < 0)
        goto out;
    all = gl_registry_setting(api->reg, fn->cfg.name, URLS);
    if (!(keys = sorted_keys(all, &n)) || !list) {
        gl_http_reply_aws_error(req, GL_AWS_SERVICE, "out of memory");
        goto out;
    }
    size_t i = 0;
    while (i < n && last[0] && strcmp(keys[i], last) <= 0)
        i++;
    for (; i < n && shown < page; i++, shown++)
        json_array_append_new(list, config_json(api, fn->cfg.name, keys[i],
                                                json_object_get(all, keys[i]), 1));
    resp = json_pack("{s:O}", "FunctionUrlConfigs", list);
    if (i < n && shown > 0)
        gl_api_next_marker(resp, keys[i - 1]);
    gl_api_reply_json(req, 200, resp);
out:
    free(keys);
    json_decref(list);
    free(marker);
}

int gl_api_function_url_forget(gl_api_t *api, const char *fn_name, const char *key)
{
    if (!json_object_get(gl_registry_setting(api->reg, fn_name, URLS), key))
        return 0;
    gl_web_url_close(api->web, fn_name, strcmp(key, LATEST) ? key : NULL);
    return store(api, fn_name, key, NULL);
}

/* Serve every URL config of one function again; a port that moved is stored. */
static void restore_function(gl_api_t *api, const char *fn_name)
{
    json_t *all = json_deep_copy(gl_registry_setting(api->reg, fn_name, URLS));
    const char *key;
    json_t *cfg;
    int moved = 0;
    json_object_foreach(all, key, cfg) {
        gl_err_t err = {0};
        int port = (int)json_integer_value(json_object_get(cfg, "Port")), was = port;
        const char *q = strcmp(key, LATEST) ? key : NULL;
        if (gl_web_url_open(api->web, fn_name, q, cfg, &port, &err) < 0) {
            gl_log_warn("function URL of %s:%s: %s", fn_name, key, err.msg);
            continue;
        }
        gl_log_info("function URL of %s%s%s: http://%s:%d/", fn_name, q ? ":" : "", q ? q : "",
                    gl_web_host(api->web), port);
        if (port != was) {
            json_object_set_new(cfg, "Port", json_integer(port));
            moved = 1;
        }
    }
    gl_err_t err = {0};
    if (moved && gl_registry_set_setting(api->reg, fn_name, URLS, json_incref(all), &err) < 0)
        gl_log_warn("function URLs of %s: %s", fn_name, err.msg);
    json_decref(all);
}

void gl_api_function_urls_restore(gl_api_t *api)
{
    gl_fn_t **fns = NULL;
    size_t n = 0;
    if (gl_registry_list(api->reg, &fns, &n) < 0)
        return;
    for (size_t i = 0; i < n; i++)
        if (gl_registry_setting(api->reg, fns[i]->cfg.name, URLS))
            restore_function(api, fns[i]->cfg.name);
    free(fns);
}

struct gl_web *gl_api_web(gl_api_t *api)
{
    return api->web;
}

int gl_api_template_function_url(gl_api_t *api, const char *fn_name, const json_t *config,
                                 char *url, size_t len, gl_err_t *err)
{
    char now[40], id[33];
    int port = 0, rc;
    gl_fmt_iso8601(gl_now_ms(), now, sizeof(now));
    gl_random_hex(id, 16);
    json_t *cfg = json_deep_copy(config);
    if (!cfg)
        return gl_err_set(err, ENOMEM, "out of memory");
    json_object_set_new(cfg, "CreationTime", json_string(now));
    json_object_set_new(cfg, "LastModifiedTime", json_string(now));
    json_object_set_new(cfg, "UrlId", json_string(id));
    if ((rc = gl_web_url_open(api->web, fn_name, NULL, cfg, &port, err)) == 0) {
        json_object_set_new(cfg, "Port", json_integer(port));
        snprintf(url, len, "http://%s:%d/", gl_web_host(api->web), port);
        if (store(api, fn_name, LATEST, json_incref(cfg)) < 0)
            rc = gl_err_set(err, EIO, "storing the function URL config");
    }
    json_decref(cfg);
    return rc;
}
