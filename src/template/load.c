/* SPDX-License-Identifier: MIT */
/*
 * load.c: gl_template_load, turning the functions of a SAM / CloudFormation template into
 * gl_fn_config_t values (AWS::Serverless::Function with Globals.Function merged in, and
 * AWS::Lambda::Function).
 *
 * Owns the parsed tree for the length of one call and the gl_template_t it fills. Invariant:
 * on error the output is left empty; every property is either read, or warned about by name
 * (unsupported property, unsupported intrinsic), never silently misread.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "galley/log.h"
#include "galley/util.h"
#include "internal.h"

#define MAX_TEMPLATE_BYTES (8u << 20)

struct loader {
    const char *file;
    char *dir; /* absolute directory of the template: relative code paths start here */
    json_t *root, *lines, *params, *resources, *globals_fn;
    json_t *layers; /* the template's layers: logical id -> {"Arn", "Dir"} (layers.c) */
    const gl_template_ctx_t *ctx;
    gl_template_t *out;
    size_t cap;
    gl_err_t *err;
    char *code_rel, *code_real; /* the last code directory resolved: functions often share it */
};

static const char *const serverless_props[] = {
    "CodeUri", "Handler", "Runtime", "MemorySize", "Timeout", "Environment", "FunctionName",
    "Description", "EphemeralStorage", "Architectures", "Role", "InlineCode", "PackageType",
    "ImageUri", "Tags", "AutoPublishAlias", "ProvisionedConcurrencyConfig", "Events",
    "FunctionUrlConfig", "Layers", "LoggingConfig", NULL};
static const char *const lambda_props[] = {
    "Code", "Handler", "Runtime", "MemorySize", "Timeout", "Environment", "FunctionName",
    "Description", "EphemeralStorage", "Architectures", "Role", "PackageType", "Tags", "Layers",
    "LoggingConfig", NULL};

/* "file:line: resource Id: ..." with the line of the property when the template has it. */
static int fail_at(struct loader *lo, const char *id, const char *prop, int code,
                   const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int fail_at(struct loader *lo, const char *id, const char *prop, int code,
                   const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    const char *path[] = {"Resources", id, prop ? "Properties" : NULL, prop, NULL};
    int line = id ? gl_template_line(lo->lines, path) : 0;
    if (line > 0)
        return gl_err_set(lo->err, code, "%s:%d: resource %s: %s", lo->file, line, id, msg);
    if (id)
        return gl_err_set(lo->err, code, "%s: resource %s: %s", lo->file, id, msg);
    return gl_err_set(lo->err, code, "%s: %s", lo->file, msg);
}

static int in_list(const char *const *list, const char *s)
{
    for (; *list; list++)
        if (!strcmp(*list, s))
            return 1;
    return 0;
}

static int is_intrinsic_object(json_t *v)
{
    if (!json_is_object(v) || json_object_size(v) != 1)
        return 0;
    const char *k = json_object_iter_key(json_object_iter(v));
    return !strcmp(k, "Ref") || !strcmp(k, "Condition") || !strncmp(k, "Fn::", 4);
}

/* SAM's Globals rules: maps merge key by key (the function wins), lists are appended,
 * anything else (and any intrinsic) is the function's own value. New reference. */
static json_t *merge_globals(json_t *global, json_t *local)
{
    if (!local)
        return json_deep_copy(global);
    if (!global)
        return json_deep_copy(local);
    if (json_is_object(global) && json_is_object(local) && !is_intrinsic_object(global) &&
        !is_intrinsic_object(local)) {
        json_t *m = json_deep_copy(global);
        const char *k;
        json_t *v;
        json_object_foreach(local, k, v) {
            if (m)
                json_object_set_new(m, k, merge_globals(json_object_get(global, k), v));
        }
        return m;
    }
    if (json_is_array(global) && json_is_array(local)) {
        json_t *m = json_deep_copy(global);
        json_t *tail = json_deep_copy(local);
        if (m && tail)
            json_array_extend(m, tail);
        json_decref(tail);
        return m;
    }
    return json_deep_copy(local);
}

static int get_string(struct loader *lo, const char *id, json_t *props, const char *key,
                      const char **out)
{
    json_t *v = json_object_get(props, key);
    *out = NULL;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return fail_at(lo, id, key, EINVAL, "%s must be a string", key);
    *out = json_string_value(v);
    return 0;
}

static int get_int(struct loader *lo, const char *id, json_t *v, const char *what, int lo_lim,
                   int hi_lim, int *out)
{
    const char *prop = strchr(what, '.') ? "EphemeralStorage" : what;
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_string(v))
        return fail_at(lo, id, prop, EINVAL, "%s must be a number", what);
    const char *s = json_string_value(v);
    char *end;
    errno = 0;
    long n = strtol(s, &end, 10);
    if (!*s || *end || errno)
        return fail_at(lo, id, prop, EINVAL, "%s \"%s\" is not a whole number", what, s);
    if (n < lo_lim || n > hi_lim)
        return fail_at(lo, id, prop, ERANGE, "%s %ld is out of range (%d-%d)", what, n, lo_lim,
                       hi_lim);
    *out = (int)n;
    return 0;
}

static int valid_function_name(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 64)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_'))
            return 0;
    return 1;
}

/* The code location, as a directory path string; 1 means "skip this function" (warned). */
static int code_location(struct loader *lo, const char *id, int serverless, json_t *props,
                         const char **dir)
{
    const char *key = serverless ? "CodeUri" : "Code";
    json_t *code = json_object_get(props, key);
    const char *pkg = json_string_value(json_object_get(props, "PackageType"));
    *dir = NULL;
    if ((pkg && !strcmp(pkg, "Image")) || json_object_get(props, "ImageUri")) {
        gl_log_warn("%s: resource %s: container image functions are not supported; skipping "
                    "the function", lo->file, id);
        return 1;
    }
    if (serverless && json_object_get(props, "InlineCode")) {
        gl_log_warn("%s: resource %s: InlineCode is not supported; skipping the function",
                    lo->file, id);
        return 1;
    }
    if (!code || json_is_null(code)) {
        if (!serverless)
            return fail_at(lo, id, NULL, EINVAL, "Code is required");
        *dir = "."; /* SAM: no CodeUri means the template's own directory */
        return 0;
    }
    if (json_is_object(code) && json_object_get(code, "ZipFile")) {
        gl_log_warn("%s: resource %s: inline code (Code.ZipFile) is not supported; skipping "
                    "the function", lo->file, id);
        return 1;
    }
    if (json_is_object(code))
        return fail_at(lo, id, key, EINVAL, "%s in S3 is not supported: only local directories "
                       "are supported", key);
    if (!json_is_string(code))
        return fail_at(lo, id, key, EINVAL, "%s must be a local directory", key);
    const char *s = json_string_value(code);
    if (!strncmp(s, "s3://", 5))
        return fail_at(lo, id, key, EINVAL, "%s %s is in S3: only local directories are "
                       "supported", key, s);
    *dir = s;
    return 0;
}

static int resolve_code_dir(struct loader *lo, const char *id, const char *key, const char *rel,
                            char **out)
{
    if (lo->code_rel && !strcmp(rel, lo->code_rel)) {
        /* Resolved for the previous function (one realpath and stat: six syscalls each). */
        if (!(*out = strdup(lo->code_real)))
            return gl_err_set(lo->err, ENOMEM, "out of memory");
        return 0;
    }
    char *joined = rel[0] == '/' ? strdup(rel) : gl_path_join(lo->dir, rel);
    if (!joined)
        return gl_err_set(lo->err, ENOMEM, "out of memory");
    char *real = realpath(joined, NULL);
    struct stat st;
    int rc = 0;
    if (!real || stat(real, &st) < 0)
        rc = fail_at(lo, id, key, ENOENT, "%s %s: directory %s does not exist", key, rel, joined);
    else if (!S_ISDIR(st.st_mode))
        rc = fail_at(lo, id, key, ENOTDIR, "%s %s: %s is not a directory (only local "
                     "directories are supported)", key, rel, joined);
    free(joined);
    if (rc < 0) {
        free(real);
        return rc;
    }
    free(lo->code_rel);
    free(lo->code_real);
    lo->code_rel = strdup(rel);
    lo->code_real = lo->code_rel ? strdup(real) : NULL;
    if (!lo->code_real) {
        free(lo->code_rel);
        lo->code_rel = NULL;
    }
    *out = real;
    return 0;
}

static int read_environment(struct loader *lo, const char *id, json_t *env, json_t **out)
{
    const char *k;
    json_t *v;
    *out = NULL;
    if (!env || json_is_null(env))
        return 0;
    if (!json_is_object(env))
        return fail_at(lo, id, "Environment", EINVAL, "Environment must be a mapping");
    json_object_foreach(env, k, v) {
        if (strcmp(k, "Variables"))
            gl_log_warn("%s: resource %s: property Environment.%s is not supported and is "
                        "ignored", lo->file, id, k);
    }
    json_t *vars = json_object_get(env, "Variables");
    if (!vars || json_is_null(vars))
        return 0;
    if (!json_is_object(vars))
        return fail_at(lo, id, "Environment", EINVAL, "Environment.Variables must be a mapping");
    json_t *copy = json_object();
    if (!copy)
        return gl_err_set(lo->err, ENOMEM, "out of memory");
    json_object_foreach(vars, k, v) {
        if (json_is_string(v))
            json_object_set(copy, k, v); /* numbers and booleans arrive as their text */
        else if (json_is_null(v))
            json_object_set_new(copy, k, json_string(""));
        else
            gl_log_warn("%s: resource %s: environment variable %s is not a string; ignoring it",
                        lo->file, id, k);
    }
    *out = copy;
    return 0;
}

static int read_architectures(struct loader *lo, const char *id, json_t *arch, json_t **extra)
{
    size_t i;
    json_t *a;
    if (!arch || json_is_null(arch))
        return 0;
    if (!json_is_array(arch) || json_array_size(arch) != 1)
        return fail_at(lo, id, "Architectures", EINVAL, "Architectures must list exactly one of "
                       "x86_64, arm64");
    json_array_foreach(arch, i, a) {
        const char *s = json_string_value(a);
        if (!s || (strcmp(s, "x86_64") && strcmp(s, "arm64")))
            return fail_at(lo, id, "Architectures", EINVAL, "Architectures must list exactly one "
                           "of x86_64, arm64");
    }
    if (!*extra && !(*extra = json_object()))
        return gl_err_set(lo->err, ENOMEM, "out of memory");
    json_object_set(*extra, "Architectures", arch);
    return 0;
}

/* Whether the string member key of m is absent or one of the space-separated words of set. */
static int member_in(const json_t *m, const char *key, const char *set)
{
    const json_t *v = json_object_get(m, key);
    const char *s = json_string_value(v);
    if (!v || json_is_null(v))
        return 1;
    size_t n = s ? strlen(s) : 0;
    for (const char *p = set; s && n && (p = strstr(p, s)); p += n)
        if ((p == set || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
            return 1;
    return 0;
}

/* A LogGroup galley can keep as a directory of the state dir (gl_path_plain). */
static int plain_group(const char *s)
{
    return s && *s && gl_path_plain(s);
}

/* LoggingConfig, with Lambda's rules (levels only with JSON, INFO by default), into extra. */
static int read_logging(struct loader *lo, const char *id, json_t *lc, json_t **extra)
{
    if (!lc || json_is_null(lc))
        return 0;
    if (!json_is_object(lc) || !member_in(lc, "LogFormat", "JSON Text") ||
        !member_in(lc, "ApplicationLogLevel", "TRACE DEBUG INFO WARN ERROR FATAL") ||
        !member_in(lc, "SystemLogLevel", "DEBUG INFO WARN") ||
        (json_object_get(lc, "LogGroup") &&
         !plain_group(json_string_value(json_object_get(lc, "LogGroup")))))
        return fail_at(lo, id, "LoggingConfig", EINVAL, "LoggingConfig must be a mapping with "
                       "LogFormat JSON or Text, ApplicationLogLevel TRACE..FATAL, SystemLogLevel "
                       "DEBUG, INFO or WARN, and a LogGroup name without empty, '.' or '..' parts");
    const char *f = json_string_value(json_object_get(lc, "LogFormat"));
    int json_fmt = f && !strcmp(f, "JSON");
    if (!json_fmt && (json_object_get(lc, "ApplicationLogLevel") ||
                      json_object_get(lc, "SystemLogLevel")))
        return fail_at(lo, id, "LoggingConfig", EINVAL, "LogLevel is not supported when "
                       "LogFormat is set to \"Text\"");
    json_t *copy = json_deep_copy(lc);
    if (copy && json_fmt && !json_object_get(copy, "ApplicationLogLevel"))
        json_object_set_new(copy, "ApplicationLogLevel", json_string("INFO"));
    if (copy && json_fmt && !json_object_get(copy, "SystemLogLevel"))
        json_object_set_new(copy, "SystemLogLevel", json_string("INFO"));
    if (!copy || (!*extra && !(*extra = json_object())) ||
        json_object_set_new(*extra, "LoggingConfig", copy) < 0)
        return gl_err_set(lo->err, ENOMEM, "out of memory");
    return 0;
}

/* Fill cfg from the resolved properties. */
static int read_config(struct loader *lo, const char *id, int serverless, json_t *props,
                       const char *code_rel, gl_fn_config_t *cfg)
{
    const char *name, *runtime, *handler, *desc, *role = NULL;
    int rc;
    if ((rc = get_string(lo, id, props, "FunctionName", &name)) < 0 ||
        (rc = get_string(lo, id, props, "Runtime", &runtime)) < 0 ||
        (rc = get_string(lo, id, props, "Handler", &handler)) < 0 ||
        (rc = get_string(lo, id, props, "Description", &desc)) < 0)
        return rc;
    json_t *rv = json_object_get(props, "Role");
    if (json_is_string(rv))
        role = json_string_value(rv);
    else if (rv && !json_is_null(rv))
        gl_log_warn("%s: resource %s: Role is not a string; ignoring it", lo->file, id);
    if (!runtime)
        return fail_at(lo, id, NULL, EINVAL, "Runtime is required");
    if (!handler && strncmp(runtime, "provided", 8))
        return fail_at(lo, id, NULL, EINVAL, "Handler is required for runtime %s", runtime);
    if (name && !valid_function_name(name))
        return fail_at(lo, id, "FunctionName", EINVAL, "FunctionName \"%s\" must be 1-64 "
                       "letters, digits, '-' or '_'", name);
    if (!name && !valid_function_name(id))
        return fail_at(lo, id, NULL, EINVAL, "the logical id cannot serve as a function name; "
                       "set FunctionName");
    if ((rc = get_int(lo, id, json_object_get(props, "MemorySize"), "MemorySize", 128, 10240,
                      &cfg->memory_mb)) < 0 ||
        (rc = get_int(lo, id, json_object_get(props, "Timeout"), "Timeout", 1, 900,
                      &cfg->timeout_s)) < 0)
        return rc;
    json_t *eph = json_object_get(props, "EphemeralStorage");
    if (eph && !json_is_null(eph)) {
        if (!json_is_object(eph))
            return fail_at(lo, id, "EphemeralStorage", EINVAL, "EphemeralStorage must be a "
                           "mapping with Size");
        if ((rc = get_int(lo, id, json_object_get(eph, "Size"), "EphemeralStorage.Size", 512,
                          10240, &cfg->ephemeral_mb)) < 0)
            return rc;
    }
    if ((rc = read_environment(lo, id, json_object_get(props, "Environment"),
                               &cfg->env_vars)) < 0 ||
        (rc = read_architectures(lo, id, json_object_get(props, "Architectures"),
                                 &cfg->extra)) < 0 ||
        (rc = read_logging(lo, id, json_object_get(props, "LoggingConfig"), &cfg->extra)) < 0 ||
        (rc = resolve_code_dir(lo, id, serverless ? "CodeUri" : "Code", code_rel,
                               &cfg->code_dir)) < 0)
        return rc;
    if (!(cfg->name = strdup(name ? name : id)) || !(cfg->runtime = strdup(runtime)) ||
        (handler && !(cfg->handler = strdup(handler))) || (desc && !(cfg->description = strdup(desc))) ||
        (role && !(cfg->role = strdup(role))))
        return gl_err_set(lo->err, ENOMEM, "out of memory");
    gl_fn_config_defaults(cfg);
    return 0;
}

/* The resource's Properties (over Globals.Function for a Serverless function) in *merged (a
 * new reference), with a warning for each property galley ignores. */
static int merge_properties(struct loader *lo, const char *id, json_t *res, int serverless,
                            json_t **merged)
{
    json_t *props = json_object_get(res, "Properties"), *v;
    const char *key;

    if (props && !json_is_object(props) && !json_is_null(props))
        return fail_at(lo, id, NULL, EINVAL, "Properties must be a mapping");
    if (json_object_get(res, "Condition"))
        gl_log_warn("%s: resource %s: Condition is not evaluated; the function is loaded "
                    "regardless", lo->file, id);
    *merged = serverless ? merge_globals(lo->globals_fn, props)
                         : (props ? json_deep_copy(props) : json_object());
    if (!*merged)
        *merged = json_object();
    if (!*merged)
        return gl_err_set(lo->err, ENOMEM, "out of memory");
    json_object_foreach(*merged, key, v) {
        if (!in_list(serverless ? serverless_props : lambda_props, key))
            gl_log_warn("%s: resource %s: property %s is not supported by galley and is ignored",
                        lo->file, id, key);
        else if (!strcmp(key, "Tags"))
            gl_log_debug("%s: resource %s: Tags have no effect locally", lo->file, id);
    }
    return 0;
}

/* Evaluate the intrinsics in merged into *resolved (a new reference). */
static int resolve_properties(struct loader *lo, const char *id, json_t *merged,
                              json_t **resolved)
{
    /* Messages from the evaluator point at the resource's line ("file:12"). */
    char where[PATH_MAX + 16];
    const char *res_path[] = {"Resources", id, NULL};
    int line = gl_template_line(lo->lines, res_path);
    if (line > 0)
        snprintf(where, sizeof(where), "%s:%d", lo->file, line);
    else
        snprintf(where, sizeof(where), "%s", lo->file);
    gl_template_eval_t ev = {.file = where,
                             .ctx = lo->ctx,
                             .params = lo->params,
                             .resources = lo->resources,
                             .refs = lo->layers,
                             .resource = id};
    return gl_template_resolve(&ev, merged, "", resolved, lo->err);
}

/* AutoPublishAlias (*alias borrowed from resolved) and the provisioned concurrency that
 * applies to it, as in SAM. */
static int read_publishing(struct loader *lo, const char *id, int serverless, json_t *resolved,
                           const char **alias, int *provisioned)
{
    int rc;
    *alias = NULL;
    *provisioned = 0;
    if (!serverless)
        return 0;
    if ((rc = get_string(lo, id, resolved, "AutoPublishAlias", alias)) < 0)
        return rc;
    const char *a = *alias;
    if (a && (!*a || strlen(a) > 128 || strspn(a, "0123456789") == strlen(a) ||
              strspn(a, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                        "0123456789-_") != strlen(a)))
        return fail_at(lo, id, "AutoPublishAlias", EINVAL,
                       "AutoPublishAlias '%s' is not a valid alias name", a);
    json_t *pcc = json_object_get(resolved, "ProvisionedConcurrencyConfig");
    if (!pcc || json_is_null(pcc))
        return 0;
    if (!json_is_object(pcc))
        return fail_at(lo, id, "ProvisionedConcurrencyConfig", EINVAL,
                       "ProvisionedConcurrencyConfig must be a mapping");
    if ((rc = get_int(lo, id, json_object_get(pcc, "ProvisionedConcurrentExecutions"),
                      "ProvisionedConcurrentExecutions", 1, 1000, provisioned)) < 0)
        return rc;
    if (!a)
        return fail_at(lo, id, "ProvisionedConcurrencyConfig", EINVAL,
                       "ProvisionedConcurrencyConfig needs AutoPublishAlias (it applies to "
                       "the alias)");
    return 0;
}

/* Append the function to the output; on success *cfg is moved into it (and zeroed). */
static int append_function(struct loader *lo, const char *id, gl_fn_config_t *cfg,
                           const char *alias, int provisioned, json_t *http[2],
                           json_t *layer_dirs)
{
    for (size_t i = 0; i < lo->out->nfns; i++) {
        if (!strcmp(lo->out->fns[i].cfg.name, cfg->name))
            return fail_at(lo, id, NULL, EEXIST, "function name %s is also used by resource %s",
                           cfg->name, lo->out->fns[i].logical_id);
    }
    if (lo->out->nfns == lo->cap) {
        size_t cap = lo->cap ? lo->cap * 2 : 8;
        gl_template_fn_t *p = realloc(lo->out->fns, cap * sizeof(*p));
        if (!p)
            return gl_err_set(lo->err, ENOMEM, "out of memory");
        lo->out->fns = p;
        lo->cap = cap;
    }
    gl_template_fn_t *f = &lo->out->fns[lo->out->nfns];
    f->auto_publish_alias = NULL;
    if (!(f->logical_id = strdup(id)) || (alias && !(f->auto_publish_alias = strdup(alias)))) {
        free(f->logical_id);
        return gl_err_set(lo->err, ENOMEM, "out of memory");
    }
    f->provisioned = provisioned;
    f->url_config = http[0]; /* moved in */
    f->routes = http[1];
    http[0] = http[1] = NULL;
    f->layer_dirs = json_incref(layer_dirs);
    f->cfg = *cfg;
    memset(cfg, 0, sizeof(*cfg)); /* moved into the output */
    lo->out->nfns++;
    return 0;
}

static int add_function(struct loader *lo, const char *id, json_t *res, int serverless)
{
    json_t *merged = NULL, *resolved = NULL, *layer_dirs = NULL;
    gl_fn_config_t cfg = {0};
    const char *code_rel, *alias;
    int provisioned, rc;
    json_t *http[2] = {NULL, NULL}; /* FunctionUrlConfig, routes */

    if ((rc = merge_properties(lo, id, res, serverless, &merged)) < 0 ||
        (rc = resolve_properties(lo, id, merged, &resolved)) < 0)
        goto out;
    if ((rc = code_location(lo, id, serverless, resolved, &code_rel)) != 0) {
        if (rc > 0)
            rc = 0; /* skipped, already warned */
        goto out;
    }
    if ((rc = read_config(lo, id, serverless, resolved, code_rel, &cfg)) < 0 ||
        (rc = read_publishing(lo, id, serverless, resolved, &alias, &provisioned)) < 0 ||
        (rc = gl_template_fn_layers(lo->file, id, json_object_get(resolved, "Layers"),
                                    lo->layers, &cfg, &layer_dirs, lo->err)) < 0)
        goto out;
    if (serverless &&
        ((rc = gl_template_read_url_config(lo->file, id,
                                           json_object_get(resolved, "FunctionUrlConfig"),
                                           &http[0], lo->err)) < 0 ||
         (rc = gl_template_read_events(lo->file, id, json_object_get(resolved, "Events"),
                                       &http[1], lo->err)) < 0))
        goto out;
    if ((rc = append_function(lo, id, &cfg, alias, provisioned, http, layer_dirs)) < 0)
        goto out;
    rc = 0;
out:
    json_decref(http[0]);
    json_decref(http[1]);
    gl_fn_config_free(&cfg);
    json_decref(merged);
    json_decref(resolved);
    json_decref(layer_dirs);
    return rc;
}

static int load_resources(struct loader *lo)
{
    const char *id, *key;
    json_t *res, *v;
    int rc;
    json_t *globals = json_object_get(lo->root, "Globals");
    json_object_foreach(globals, key, v) {
        if (!strcmp(key, "Function"))
            lo->globals_fn = json_is_object(v) ? v : NULL;
        else
            gl_log_debug("%s: Globals.%s has no effect in galley", lo->file, key);
    }
    lo->resources = json_object_get(lo->root, "Resources");
    if (!json_is_object(lo->resources))
        return fail_at(lo, NULL, NULL, EINVAL, "the template has no Resources mapping");
    if ((rc = gl_template_layers(lo->file, lo->dir, lo->resources, lo->ctx, &lo->layers,
                                 lo->err)) < 0)
        return rc;
    json_object_foreach(lo->resources, id, res) {
        const char *type = json_string_value(json_object_get(res, "Type"));
        if (!json_is_object(res) || !type)
            return fail_at(lo, id, NULL, EINVAL, "a resource needs a Type");
        int serverless = !strcmp(type, "AWS::Serverless::Function");
        if (!serverless && strcmp(type, "AWS::Lambda::Function")) {
            gl_log_debug("%s: resource %s of type %s is ignored", lo->file, id, type);
            continue;
        }
        if ((rc = add_function(lo, id, res, serverless)) < 0)
            return rc;
    }
    return 0;
}

int gl_template_load(const char *path, const gl_template_ctx_t *ctx, gl_template_t *out,
                     gl_err_t *err)
{
    struct loader lo = {.file = path, .ctx = ctx, .out = out, .err = err};
    gl_buf_t text = {0};
    char *copy = NULL;
    int rc;

    memset(out, 0, sizeof(*out));
    if ((rc = gl_read_file(path, MAX_TEMPLATE_BYTES, &text)) < 0) {
        rc = gl_err_set(err, -rc, "%s: %s", path,
                        rc == -EFBIG ? "template is larger than 8 MB" : strerror(-rc));
        goto out;
    }
    if (!(copy = strdup(path)) || !(lo.dir = realpath(dirname(copy), NULL))) {
        rc = gl_err_set(err, errno ? errno : ENOMEM, "%s: cannot resolve its directory", path);
        goto out;
    }
    if ((rc = gl_template_parse_yaml(text.data ? text.data : "", text.len, path, &lo.root, &lo.lines,
                                err)) < 0)
        goto out;
    if ((rc = gl_template_params(path, json_object_get(lo.root, "Parameters"), ctx, &lo.params,
                            err)) < 0)
        goto out;
    if ((rc = load_resources(&lo)) == 0)
        out->layers = json_incref(lo.layers);
out:
    if (rc < 0)
        gl_template_free(out);
    json_decref(lo.params);
    json_decref(lo.layers);
    json_decref(lo.lines);
    json_decref(lo.root);
    free(lo.code_rel);
    free(lo.code_real);
    free(lo.dir);
    free(copy);
    gl_buf_free(&text);
    return rc;
}

void gl_template_free(gl_template_t *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->nfns; i++) {
        free(t->fns[i].logical_id);
        free(t->fns[i].auto_publish_alias);
        json_decref(t->fns[i].url_config);
        json_decref(t->fns[i].routes);
        json_decref(t->fns[i].layer_dirs);
        gl_fn_config_free(&t->fns[i].cfg);
    }
    free(t->fns);
    json_decref(t->layers);
    memset(t, 0, sizeof(*t));
}
