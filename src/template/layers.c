/* SPDX-License-Identifier: MIT */
/*
 * layers.c: a template's layers. AWS::Serverless::LayerVersion (ContentUri) and
 * AWS::Lambda::LayerVersion (Content, as `sam build` leaves it: a local directory) become
 * version 1 of a layer named LayerName (or the logical id), whose Ref is that version's ARN;
 * a function's Layers naming them get their directories, in order, for /opt. A layer in S3,
 * or an ARN that is not one of the template's layers, is warned about and left out: galley
 * has nothing to mount for it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "galley/log.h"
#include "galley/util.h"
#include "internal.h"

/* The layer's directory: absolute, existing; NULL (warned) when it is not a local one. */
static char *content_dir(const char *file, const char *dir, const char *id, const json_t *c,
                         const char *key)
{
    const char *rel = json_string_value(c);
    if (!rel || !strncmp(rel, "s3://", 5)) {
        gl_log_warn("%s: layer %s: %s is not a local directory; the layer is left out", file, id,
                    key);
        return NULL;
    }
    char *joined = rel[0] == '/' ? strdup(rel) : gl_path_join(dir, rel);
    char *real = joined ? realpath(joined, NULL) : NULL;
    struct stat st;
    if (!real || stat(real, &st) < 0 || !S_ISDIR(st.st_mode)) {
        gl_log_warn("%s: layer %s: %s %s is not a directory; the layer is left out", file, id,
                    key, joined ? joined : rel);
        free(real);
        real = NULL;
    }
    free(joined);
    return real;
}

static int add_layer(const char *file, const char *dir, const char *id, const json_t *res,
                     int serverless, const gl_template_ctx_t *ctx, json_t *layers)
{
    const json_t *props = json_object_get(res, "Properties");
    const char *key = serverless ? "ContentUri" : "Content";
    const char *name = json_string_value(json_object_get(props, "LayerName"));
    char arn[320];
    if (!name)
        name = id;
    if (strlen(name) > 140 || strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                           "0123456789-_") != strlen(name)) {
        gl_log_warn("%s: layer %s: LayerName '%s' is not a valid layer name; the layer is left "
                    "out", file, id, name);
        return 0;
    }
    char *path = content_dir(file, dir, id, json_object_get(props, key), key);
    if (!path)
        return 0;
    snprintf(arn, sizeof(arn), "arn:aws:lambda:%s:%s:layer:%s:1",
             ctx && ctx->region ? ctx->region : "us-east-1",
             ctx && ctx->account_id ? ctx->account_id : "123456789012", name);
    json_t *l = json_pack("{s:s,s:s,s:s}", "Arn", arn, "Dir", path, "Name", name);
    free(path);
    if (!l)
        return -ENOMEM;
    /* What GetLayerVersion shows (src/registry/layer_template.c), when of Lambda's types. */
    static const char *const strs[] = {"Description", "LicenseInfo"};
    static const char *const lists[] = {"CompatibleRuntimes", "CompatibleArchitectures"};
    for (size_t i = 0; i < 2; i++) {
        json_t *s = json_object_get(props, strs[i]), *a = json_object_get(props, lists[i]), *e;
        size_t k, ok = json_is_array(a);
        if (json_is_string(s))
            json_object_set(l, strs[i], s);
        json_array_foreach(a, k, e)
            ok = ok && json_is_string(e);
        if (ok)
            json_object_set(l, lists[i], a);
    }
    return json_object_set_new(layers, id, l) < 0 ? -ENOMEM : 0;
}

int gl_template_layers(const char *file, const char *dir, json_t *resources,
                       const gl_template_ctx_t *ctx, json_t **layers, gl_err_t *err)
{
    const char *id;
    json_t *res;
    if (!(*layers = json_object()))
        return gl_err_set(err, ENOMEM, "out of memory");
    json_object_foreach(resources, id, res)
    {
        const char *type = json_string_value(json_object_get(res, "Type"));
        int serverless = type && !strcmp(type, "AWS::Serverless::LayerVersion");
        if (!serverless && !(type && !strcmp(type, "AWS::Lambda::LayerVersion")))
            continue;
        if (add_layer(file, dir, id, res, serverless, ctx, *layers) < 0)
            return gl_err_set(err, ENOMEM, "out of memory");
    }
    return 0;
}

int gl_template_fn_layers(const char *file, const char *id, const json_t *value,
                          const json_t *layers, gl_fn_config_t *cfg, json_t **dirs,
                          gl_err_t *err)
{
    json_t *list = json_array(), *v;
    size_t i;
    *dirs = json_array();
    if (!list || !*dirs)
        goto nomem;
    if (value && !json_is_array(value))
        gl_log_warn("%s: resource %s: Layers must be a list; ignored", file, id);
    json_array_foreach(value, i, v)
    {
        const char *arn = json_string_value(v), *lid;
        json_t *layer, *found = NULL;
        json_object_foreach((json_t *)layers, lid, layer)
            if (arn && !strcmp(arn, json_string_value(json_object_get(layer, "Arn"))))
                found = layer;
        if (!found) {
            gl_log_warn("%s: resource %s: layer %s is not a layer of this template; galley "
                        "mounts only the template's own layers, so it is left out",
                        file, id, arn ? arn : "(not a string)");
            continue;
        }
        if (json_array_append_new(list, json_pack("{s:s,s:i}", "Arn", arn, "CodeSize", 0)) < 0 ||
            json_array_append(*dirs, json_object_get(found, "Dir")) < 0)
            goto nomem;
    }
    if (json_array_size(list) > 5)
        gl_log_warn("%s: resource %s: more than 5 layers (Lambda refuses this)", file, id);
    if (json_array_size(list)) {
        if (!cfg->extra && !(cfg->extra = json_object()))
            goto nomem;
        json_object_set(cfg->extra, "Layers", list);
    }
    json_decref(list);
    return 0;
nomem:
    json_decref(list);
    json_decref(*dirs);
    *dirs = NULL;
    return gl_err_set(err, ENOMEM, "out of memory");
}
