/* SPDX-License-Identifier: MIT */
/*
 * intrinsics.c: parameter values and the CloudFormation intrinsic functions galley evaluates
 * (Ref, Fn::Sub, Fn::Join, the pseudo parameters). Any other intrinsic (Fn::GetAtt, Fn::If,
 * Fn::Select, Fn::Split, Fn::FindInMap, ..., and Ref to a resource) is warned about once, where
 * it is met, and makes the property holding it disappear: never a silently wrong value.
 *
 * Owns nothing beyond one call; every json_t it returns is a new reference.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "galley/buf.h"
#include "galley/log.h"
#include "internal.h"

#define DEFAULT_REGION "us-east-1"
#define DEFAULT_ACCOUNT "123456789012"
#define DEFAULT_STACK "galley"

static int is_list_type(const char *type)
{
    return type && (!strcmp(type, "CommaDelimitedList") || !strncmp(type, "List<", 5));
}

static json_t *split_commas(const char *s)
{
    json_t *arr = json_array();
    const char *p = s;
    while (arr) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (json_array_append_new(arr, json_stringn(p, n)) < 0) {
            json_decref(arr);
            return NULL;
        }
        if (!comma)
            break;
        p = comma + 1;
    }
    return arr;
}

int gl_template_params(const char *file, json_t *parameters, const gl_template_ctx_t *ctx,
                  json_t **params, gl_err_t *err)
{
    json_t *out = json_object();
    const char *name;
    json_t *decl;
    if (!out)
        return gl_err_set(err, ENOMEM, "%s: out of memory", file);
    if (parameters && !json_is_object(parameters) && !json_is_null(parameters)) {
        json_decref(out);
        return gl_err_set(err, EINVAL, "%s: Parameters must be a mapping", file);
    }
    json_object_foreach(parameters, name, decl) {
        json_t *def = json_is_object(decl) ? json_object_get(decl, "Default") : NULL;
        const char *type = json_is_object(decl)
                               ? json_string_value(json_object_get(decl, "Type")) : NULL;
        json_t *value;
        if (json_is_string(def) && is_list_type(type))
            value = split_commas(json_string_value(def));
        else if (json_is_string(def) || json_is_array(def))
            value = json_incref(def);
        else
            value = json_null(); /* declared, no value yet */
        json_object_set_new(out, name, value);
    }
    for (size_t i = 0; ctx && i < ctx->noverrides; i++) {
        const char *o = ctx->overrides[i], *eq = o ? strchr(o, '=') : NULL;
        if (!eq || eq == o) {
            json_decref(out);
            return gl_err_set(err, EINVAL, "parameter override \"%s\" is not Name=Value",
                              o ? o : "");
        }
        char pname[256];
        snprintf(pname, sizeof(pname), "%.*s", (int)(eq - o), o);
        json_t *pdecl = json_object_get(parameters, pname);
        if (!pdecl) {
            gl_log_warn("%s: parameter override %s names no parameter of the template", file,
                        pname);
            continue;
        }
        const char *type = json_string_value(json_object_get(pdecl, "Type"));
        json_object_set_new(out, pname,
                            is_list_type(type) ? split_commas(eq + 1) : json_string(eq + 1));
    }
    *params = out;
    return 0;
}

static int unsupported(const gl_template_eval_t *ev, const char *path, const char *what,
                       const char *arg)
{
    gl_log_warn("%s: resource %s: property %s uses %s%s%s, which galley does not support; "
                "the property is ignored",
                ev->file, ev->resource, path, what, arg ? " " : "", arg ? arg : "");
    return GL_TEMPLATE_UNSUPPORTED;
}

static const char *pseudo_value(const gl_template_eval_t *ev, const char *name, char *buf,
                                size_t buflen)
{
    const gl_template_ctx_t *c = ev->ctx;
    const char *region = c && c->region ? c->region : DEFAULT_REGION;
    const char *account = c && c->account_id ? c->account_id : DEFAULT_ACCOUNT;
    const char *stack = c && c->stack_name ? c->stack_name : DEFAULT_STACK;
    if (!strcmp(name, "AWS::Region"))
        return region;
    if (!strcmp(name, "AWS::AccountId"))
        return account;
    if (!strcmp(name, "AWS::StackName"))
        return stack;
    if (!strcmp(name, "AWS::Partition"))
        return "aws";
    if (!strcmp(name, "AWS::URLSuffix"))
        return "amazonaws.com";
    if (!strcmp(name, "AWS::StackId")) {
        snprintf(buf, buflen,
                 "arn:aws:cloudformation:%s:%s:stack/%s/00000000-0000-0000-0000-000000000000",
                 region, account, stack);
        return buf;
    }
    return NULL;
}

/* What Ref name (or ${name} in Fn::Sub) stands for. */
static int lookup(const gl_template_eval_t *ev, const char *name, const char *path, json_t **out,
                  gl_err_t *err)
{
    char buf[512];
    const char *pv;
    json_t *param;
    if (!strcmp(name, "AWS::NoValue"))
        return GL_TEMPLATE_NOVALUE;
    if (!strcmp(name, "AWS::NotificationARNs")) {
        *out = json_array();
        return *out ? GL_TEMPLATE_VALUE : gl_err_set(err, ENOMEM, "out of memory");
    }
    if ((pv = pseudo_value(ev, name, buf, sizeof(buf)))) {
        *out = json_string(pv);
        return *out ? GL_TEMPLATE_VALUE : gl_err_set(err, ENOMEM, "out of memory");
    }
    if ((param = json_object_get(ev->params, name))) {
        if (json_is_null(param))
            return gl_err_set(err, EINVAL,
                              "%s: resource %s: parameter %s has no Default and no override",
                              ev->file, ev->resource, name);
        *out = json_incref(param);
        return GL_TEMPLATE_VALUE;
    }
    if (ev->refs && (param = json_object_get(json_object_get(ev->refs, name), "Arn"))) {
        *out = json_incref(param);
        return GL_TEMPLATE_VALUE;
    }
    if (json_object_get(ev->resources, name))
        return unsupported(ev, path, "a reference to resource", name);
    return gl_err_set(err, EINVAL, "%s: resource %s: property %s refers to %s, which is neither "
                      "a parameter, a pseudo parameter nor a resource",
                      ev->file, ev->resource, path, name);
}

static int eval_sub(const gl_template_eval_t *ev, json_t *arg, const char *path, json_t **out,
                    gl_err_t *err)
{
    const char *text;
    json_t *vars = NULL;
    gl_buf_t b = {0};
    int rc = GL_TEMPLATE_VALUE;

    if (json_is_string(arg)) {
        text = json_string_value(arg);
    } else if (json_is_array(arg) && json_array_size(arg) == 2 &&
               json_is_string(json_array_get(arg, 0)) && json_is_object(json_array_get(arg, 1))) {
        text = json_string_value(json_array_get(arg, 0));
        const char *k;
        json_t *v;
        if (!(vars = json_object()))
            return gl_err_set(err, ENOMEM, "out of memory");
        json_object_foreach(json_array_get(arg, 1), k, v) {
            json_t *val = NULL;
            rc = gl_template_resolve(ev, v, path, &val, err);
            if (rc == GL_TEMPLATE_VALUE && !json_is_string(val)) {
                json_decref(val);
                rc = gl_err_set(err, EINVAL, "%s: resource %s: property %s: Fn::Sub variable %s "
                                "is not a string", ev->file, ev->resource, path, k);
            }
            if (rc == GL_TEMPLATE_NOVALUE)
                rc = gl_err_set(err, EINVAL, "%s: resource %s: property %s: Fn::Sub variable %s "
                                "has no value", ev->file, ev->resource, path, k);
            if (rc != GL_TEMPLATE_VALUE)
                goto out;
            json_object_set_new(vars, k, val);
        }
    } else {
        return gl_err_set(err, EINVAL, "%s: resource %s: property %s: Fn::Sub takes a string "
                          "or [string, {variables}]", ev->file, ev->resource, path);
    }

    for (const char *p = text; *p;) {
        if (!(p[0] == '$' && p[1] == '{')) {
            const char *next = strstr(p + 1, "${");
            size_t n = next ? (size_t)(next - p) : strlen(p);
            if (gl_buf_append(&b, p, n) < 0)
                goto nomem;
            p += n;
            continue;
        }
        const char *end = strchr(p + 2, '}');
        if (!end) {
            rc = gl_err_set(err, EINVAL, "%s: resource %s: property %s: Fn::Sub has an "
                            "unterminated ${", ev->file, ev->resource, path);
            goto out;
        }
        if (p[2] == '!') { /* ${!Literal} stands for the text ${Literal} */
            if (gl_buf_append_str(&b, "${") < 0 || gl_buf_append(&b, p + 3, (size_t)(end - p - 2)) < 0)
                goto nomem;
            p = end + 1;
            continue;
        }
        char name[256];
        snprintf(name, sizeof(name), "%.*s", (int)(end - p - 2), p + 2);
        p = end + 1;
        json_t *val = json_object_get(vars, name);
        if (val) {
            json_incref(val);
        } else if (strchr(name, '.')) {
            rc = unsupported(ev, path, "Fn::GetAtt through Fn::Sub", name);
            goto out;
        } else if ((rc = lookup(ev, name, path, &val, err)) != GL_TEMPLATE_VALUE) {
            if (rc == GL_TEMPLATE_NOVALUE)
                rc = gl_err_set(err, EINVAL, "%s: resource %s: property %s: ${%s} cannot be "
                                "used in Fn::Sub", ev->file, ev->resource, path, name);
            goto out;
        }
        if (!json_is_string(val)) {
            json_decref(val);
            rc = gl_err_set(err, EINVAL, "%s: resource %s: property %s: ${%s} is a list, not a "
                            "string", ev->file, ev->resource, path, name);
            goto out;
        }
        int r = gl_buf_append_str(&b, json_string_value(val));
        json_decref(val);
        if (r < 0)
            goto nomem;
    }
    if (!(*out = json_stringn(b.data ? b.data : "", b.len)))
        goto nomem;
    rc = GL_TEMPLATE_VALUE;
    goto out;
nomem:
    rc = gl_err_set(err, ENOMEM, "out of memory");
out:
    gl_buf_free(&b);
    json_decref(vars);
    return rc;
}

static int eval_join(const gl_template_eval_t *ev, json_t *arg, const char *path, json_t **out,
                     gl_err_t *err)
{
    json_t *list = NULL;
    gl_buf_t b = {0};
    size_t i;
    json_t *item;
    if (!json_is_array(arg) || json_array_size(arg) != 2 ||
        !json_is_string(json_array_get(arg, 0)))
        return gl_err_set(err, EINVAL, "%s: resource %s: property %s: Fn::Join takes "
                          "[delimiter, [values]]", ev->file, ev->resource, path);
    int rc = gl_template_resolve(ev, json_array_get(arg, 1), path, &list, err);
    if (rc != GL_TEMPLATE_VALUE)
        return rc == GL_TEMPLATE_NOVALUE ? gl_err_set(err, EINVAL, "%s: resource %s: property %s: "
                                                 "Fn::Join has no values", ev->file,
                                                 ev->resource, path)
                                    : rc;
    if (!json_is_array(list)) {
        rc = gl_err_set(err, EINVAL, "%s: resource %s: property %s: Fn::Join values are not a "
                        "list", ev->file, ev->resource, path);
        goto out;
    }
    const char *delim = json_string_value(json_array_get(arg, 0));
    json_array_foreach(list, i, item) {
        if (!json_is_string(item)) {
            rc = gl_err_set(err, EINVAL, "%s: resource %s: property %s: Fn::Join value %zu is "
                            "not a string", ev->file, ev->resource, path, i);
            goto out;
        }
        if ((i && gl_buf_append_str(&b, delim) < 0) ||
            gl_buf_append_str(&b, json_string_value(item)) < 0) {
            rc = gl_err_set(err, ENOMEM, "out of memory");
            goto out;
        }
    }
    if (!(*out = json_stringn(b.data ? b.data : "", b.len)))
        rc = gl_err_set(err, ENOMEM, "out of memory");
out:
    gl_buf_free(&b);
    json_decref(list);
    return rc;
}

static int is_intrinsic(json_t *node, const char **fn)
{
    if (!json_is_object(node) || json_object_size(node) != 1)
        return 0;
    void *it = json_object_iter(node);
    const char *key = json_object_iter_key(it);
    if (strcmp(key, "Ref") && strcmp(key, "Condition") && strncmp(key, "Fn::", 4))
        return 0;
    *fn = key;
    return 1;
}

static char *child_path(const char *path, const char *key, size_t index)
{
    size_t n = strlen(path) + (key ? strlen(key) : 24) + 4;
    char *p = malloc(n);
    if (!p)
        return NULL;
    if (key)
        snprintf(p, n, "%s%s%s", path, *path ? "." : "", key);
    else
        snprintf(p, n, "%s[%zu]", path, index);
    return p;
}

int gl_template_resolve(const gl_template_eval_t *ev, json_t *node, const char *path, json_t **out,
                   gl_err_t *err)
{
    const char *fn;
    *out = NULL;
    if (is_intrinsic(node, &fn)) {
        json_t *arg = json_object_get(node, fn);
        if (!strcmp(fn, "Ref")) {
            if (!json_is_string(arg))
                return gl_err_set(err, EINVAL, "%s: resource %s: property %s: Ref takes a name",
                                  ev->file, ev->resource, path);
            return lookup(ev, json_string_value(arg), path, out, err);
        }
        if (!strcmp(fn, "Fn::Sub"))
            return eval_sub(ev, arg, path, out, err);
        if (!strcmp(fn, "Fn::Join"))
            return eval_join(ev, arg, path, out, err);
        return unsupported(ev, path, fn, NULL);
    }
    if (json_is_array(node)) {
        json_t *arr = json_array();
        size_t i;
        json_t *item;
        if (!arr)
            return gl_err_set(err, ENOMEM, "out of memory");
        json_array_foreach(node, i, item) {
            char *sub = child_path(path, NULL, i);
            json_t *val = NULL;
            int rc = sub ? gl_template_resolve(ev, item, sub, &val, err)
                         : gl_err_set(err, ENOMEM, "out of memory");
            free(sub);
            if (rc == GL_TEMPLATE_NOVALUE)
                continue; /* CloudFormation drops AWS::NoValue from lists */
            if (rc != GL_TEMPLATE_VALUE) {
                json_decref(arr);
                return rc; /* an unsupported element makes the whole list unusable */
            }
            json_array_append_new(arr, val);
        }
        *out = arr;
        return GL_TEMPLATE_VALUE;
    }
    if (json_is_object(node)) {
        json_t *obj = json_object();
        const char *key;
        json_t *member;
        if (!obj)
            return gl_err_set(err, ENOMEM, "out of memory");
        json_object_foreach(node, key, member) {
            char *sub = child_path(path, key, 0);
            json_t *val = NULL;
            int rc = sub ? gl_template_resolve(ev, member, sub, &val, err)
                         : gl_err_set(err, ENOMEM, "out of memory");
            free(sub);
            if (rc < 0) {
                json_decref(obj);
                return rc;
            }
            if (rc == GL_TEMPLATE_VALUE)
                json_object_set_new(obj, key, val);
        }
        *out = obj;
        return GL_TEMPLATE_VALUE;
    }
    *out = json_incref(node);
    return GL_TEMPLATE_VALUE;
}
