/* SPDX-License-Identifier: MIT */
/*
 * fnjson.c: the two JSON shapes of a function: the FunctionConfiguration Lambda returns
 * (Create/Get/Update/List/Publish, qualified for versions), and function.json, the
 * registry's own persisted form (versions/<N>.json adds Version and SourceRevisionId).
 *
 * function.json is deliberately not the FunctionConfiguration: it stores exactly the members
 * of gl_fn_config_t (plus "FormatVersion" and the code directory's name, relative to the
 * function's directory so a state dir can be moved), and nothing derived (ARN, State...).
 * Reading it back trusts nothing: every member is type-checked and the code directory must be
 * a plain child name of the function's directory.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "galley/registry.h"
#include "galley/util.h"

#define STATE_FORMAT_VERSION 1

static int set_str(json_t *o, const char *key, const char *v)
{
    return v ? json_object_set_new(o, key, json_string(v)) : 0;
}

json_t *gl_fn_config_json(const gl_registry_t *r, const gl_fn_t *fn)
{
    return gl_fn_config_json_qualified(r, fn, NULL);
}

json_t *gl_fn_config_json_qualified(const gl_registry_t *r, const gl_fn_t *fn,
                                    const char *qualifier)
{
    const gl_fn_config_t *c = &fn->cfg;
    char arn[512], group[128];
    json_t *o = json_object();
    int rc = 0;

    if (!o)
        return NULL;
    /* $LATEST is unqualified unless asked for; a version always carries its number. */
    if (!qualifier && fn->version && strcmp(fn->version, "$LATEST") != 0)
        qualifier = fn->version;
    gl_registry_fn_arn(r, c->name, qualifier, arn, sizeof(arn));
    snprintf(group, sizeof(group), "/aws/lambda/%s", c->name);

    rc |= set_str(o, "FunctionName", c->name);
    rc |= set_str(o, "FunctionArn", arn);
    rc |= set_str(o, "Runtime", c->runtime);
    rc |= set_str(o, "Role", c->role);
    rc |= set_str(o, "Handler", c->handler);
    rc |= json_object_set_new(o, "CodeSize", json_integer(c->code_size));
    rc |= set_str(o, "Description", c->description ? c->description : "");
    rc |= json_object_set_new(o, "Timeout", json_integer(c->timeout_s));
    rc |= json_object_set_new(o, "MemorySize", json_integer(c->memory_mb));
    rc |= set_str(o, "LastModified", c->last_modified);
    rc |= set_str(o, "CodeSha256", c->code_sha256 ? c->code_sha256 : "");
    rc |= set_str(o, "Version", fn->version ? fn->version : "$LATEST");
    if (c->env_vars && json_object_size(c->env_vars))
        rc |= json_object_set_new(o, "Environment",
                                  json_pack("{s:O}", "Variables", c->env_vars));
    rc |= json_object_set_new(o, "TracingConfig", json_pack("{s:s}", "Mode", "PassThrough"));
    rc |= set_str(o, "RevisionId", c->revision_id);
    rc |= set_str(o, "State", "Active");
    rc |= set_str(o, "LastUpdateStatus", "Successful");
    rc |= set_str(o, "PackageType", "Zip");
    rc |= json_object_set_new(o, "Architectures", json_pack("[s]", "x86_64"));
    rc |= json_object_set_new(o, "EphemeralStorage", json_pack("{s:i}", "Size", c->ephemeral_mb));
    rc |= json_object_set_new(o, "SnapStart",
                              json_pack("{s:s,s:s}", "ApplyOn", "None", "OptimizationStatus", "Off"));
    json_t *logging = json_pack("{s:s,s:s}", "LogFormat", "Text", "LogGroup", group);
    rc |= json_object_set_new(o, "LoggingConfig", logging);

    /* Kept members override the defaults above; LoggingConfig is merged member by member. */
    if (c->extra) {
        const char *key;
        json_t *v;
        json_object_foreach(c->extra, key, v) {
            if (strcmp(key, "LoggingConfig") == 0 && json_is_object(v) && logging)
                rc |= json_object_update(logging, v);
            else
                rc |= json_object_set(o, key, v);
        }
    }
    if (rc) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *gl_fn_config_to_state(const gl_fn_config_t *c, const char *fn_dir)
{
    size_t dlen = strlen(fn_dir);
    const char *code_name = NULL;
    int rc = 0;

    if (c->code_dir && strncmp(c->code_dir, fn_dir, dlen) == 0 && c->code_dir[dlen] == '/' &&
        !strchr(c->code_dir + dlen + 1, '/'))
        code_name = c->code_dir + dlen + 1;
    if (!code_name || !*code_name || !c->name)
        return NULL;

    json_t *o = json_object();
    if (!o)
        return NULL;
    rc |= json_object_set_new(o, "FormatVersion", json_integer(STATE_FORMAT_VERSION));
    rc |= set_str(o, "FunctionName", c->name);
    rc |= set_str(o, "Runtime", c->runtime);
    rc |= set_str(o, "Handler", c->handler);
    rc |= set_str(o, "Role", c->role);
    rc |= set_str(o, "Description", c->description);
    rc |= json_object_set_new(o, "Timeout", json_integer(c->timeout_s));
    rc |= json_object_set_new(o, "MemorySize", json_integer(c->memory_mb));
    rc |= json_object_set_new(o, "EphemeralStorageSize", json_integer(c->ephemeral_mb));
    if (c->env_vars)
        rc |= json_object_set(o, "Variables", c->env_vars);
    rc |= set_str(o, "CodeDir", code_name);
    rc |= set_str(o, "CodeSha256", c->code_sha256);
    rc |= json_object_set_new(o, "CodeSize", json_integer(c->code_size));
    rc |= set_str(o, "LastModified", c->last_modified);
    rc |= set_str(o, "RevisionId", c->revision_id);
    if (c->extra)
        rc |= json_object_set(o, "Extra", c->extra);
    if (c->opt_dir && strrchr(c->opt_dir, '/'))
        rc |= set_str(o, "LayersDir", strrchr(c->opt_dir, '/') + 1);
    if (rc) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* The merged layers of a function: <state>/layers/.merged/<LayersDir>, where fn_dir is
 * <state>/functions/<name>; LayersDir must be one plain hex name. */
static int load_layers_dir(const json_t *s, const char *fn_dir, gl_fn_config_t *c, gl_err_t *err)
{
    const char *name = json_string_value(json_object_get(s, "LayersDir"));
    if (!name)
        return 0;
    if (strlen(name) != 64 || strspn(name, "0123456789abcdef") != 64)
        return gl_err_set(err, EINVAL, "bad LayersDir '%.80s'", name);
    if (asprintf(&c->opt_dir, "%s/../../layers/.merged/%s", fn_dir, name) < 0) {
        c->opt_dir = NULL;
        return gl_err_set(err, ENOMEM, "out of memory");
    }
    char *real = realpath(c->opt_dir, NULL);
    if (real) {
        free(c->opt_dir);
        c->opt_dir = real;
    }
    return 0;
}

/* Copy string member key into *dst; required members must be present. */
static int load_str(const json_t *o, const char *key, int required, char **dst, gl_err_t *err)
{
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v))
        return required ? gl_err_set(err, EINVAL, "missing %s", key) : 0;
    if (!json_is_string(v))
        return gl_err_set(err, EINVAL, "%s is not a string", key);
    if (!(*dst = strdup(json_string_value(v))))
        return gl_err_set(err, ENOMEM, "out of memory");
    return 0;
}

static int load_int(const json_t *o, const char *key, json_int_t lo, json_int_t hi,
                    json_int_t *dst, gl_err_t *err)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return gl_err_set(err, EINVAL, "%s missing or out of range", key);
    *dst = json_integer_value(v);
    return 0;
}

int gl_fn_config_from_state(const json_t *s, const char *fn_dir, gl_fn_config_t *c, gl_err_t *err)
{
    json_int_t v;
    char *code_name = NULL;
    int rc;

    memset(c, 0, sizeof(*c));
    if (!json_is_object(s))
        return gl_err_set(err, EINVAL, "not a JSON object");
    if ((rc = load_int(s, "FormatVersion", STATE_FORMAT_VERSION, STATE_FORMAT_VERSION, &v, err)))
        goto fail;
    if ((rc = load_str(s, "FunctionName", 1, &c->name, err)) ||
        (rc = load_str(s, "Runtime", 1, &c->runtime, err)) ||
        (rc = load_str(s, "Handler", 0, &c->handler, err)) ||
        (rc = load_str(s, "Role", 0, &c->role, err)) ||
        (rc = load_str(s, "Description", 1, &c->description, err)) ||
        (rc = load_str(s, "CodeDir", 1, &code_name, err)) ||
        (rc = load_str(s, "CodeSha256", 1, &c->code_sha256, err)) ||
        (rc = load_str(s, "LastModified", 1, &c->last_modified, err)) ||
        (rc = load_str(s, "RevisionId", 1, &c->revision_id, err)))
        goto fail;
    if ((rc = load_int(s, "Timeout", 1, 900, &v, err)))
        goto fail;
    c->timeout_s = (int)v;
    if ((rc = load_int(s, "MemorySize", 128, 10240, &v, err)))
        goto fail;
    c->memory_mb = (int)v;
    if ((rc = load_int(s, "EphemeralStorageSize", 512, 10240, &v, err)))
        goto fail;
    c->ephemeral_mb = (int)v;
    if ((rc = load_int(s, "CodeSize", 0, INT64_MAX, &v, err)))
        goto fail;
    c->code_size = v;

    json_t *vars = json_object_get(s, "Variables");
    if (vars) {
        const char *key;
        json_t *val;
        if (!json_is_object(vars)) {
            rc = gl_err_set(err, EINVAL, "Variables is not an object");
            goto fail;
        }
        json_object_foreach(vars, key, val) {
            if (!json_is_string(val)) {
                rc = gl_err_set(err, EINVAL, "variable %s is not a string", key);
                goto fail;
            }
        }
        if (!(c->env_vars = json_deep_copy(vars))) {
            rc = gl_err_set(err, ENOMEM, "out of memory");
            goto fail;
        }
    }
    json_t *extra = json_object_get(s, "Extra");
    if (extra) {
        if (!json_is_object(extra)) {
            rc = gl_err_set(err, EINVAL, "Extra is not an object");
            goto fail;
        }
        if (!(c->extra = json_deep_copy(extra))) {
            rc = gl_err_set(err, ENOMEM, "out of memory");
            goto fail;
        }
    }
    /* The code directory is a plain child of the function's directory, never a path. */
    if (!*code_name || strchr(code_name, '/') || strcmp(code_name, ".") == 0 ||
        strcmp(code_name, "..") == 0 || strncmp(code_name, "code-", 5) != 0) {
        rc = gl_err_set(err, EINVAL, "bad CodeDir '%s'", code_name);
        goto fail;
    }
    if (!(c->code_dir = gl_path_join(fn_dir, code_name))) {
        rc = gl_err_set(err, ENOMEM, "out of memory");
        goto fail;
    }
    if ((rc = load_layers_dir(s, fn_dir, c, err)) < 0)
        goto fail;
    free(code_name);
    return 0;
fail:
    free(code_name);
    gl_fn_config_free(c);
    return rc;
}
