/* SPDX-License-Identifier: MIT */
/*
 * layer_template.c: a served template's layers (AWS::Serverless::LayerVersion and
 * AWS::Lambda::LayerVersion) as layer versions the API shows: version 1 of their LayerName,
 * whose content is the template's directory itself (never copied or zipped). Owns
 * r->tpl_layers (name -> what the template said, the directory, and the cached CodeSha256 and
 * CodeSize that layer_digest.c computes off the loop).
 *
 * A name the template defines is the template's while it is served: GetLayerVersion,
 * ListLayerVersions and a function's Layers see only its version 1, and versions of that name
 * published earlier into the persisted store stay on disk, hidden, and untouched (their
 * numbering goes on where it was once the template no longer names the layer). The api module
 * refuses to publish, delete or change the permissions of a template layer
 * (gl_layer_is_template).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "galley/layers.h"
#include "galley/log.h"
#include "galley/util.h"
#include "internal.h"

int gl_layers_set_template(gl_registry_t *r, const json_t *layers)
{
    static const char *const keep[] = {"Dir", "Description", "CompatibleRuntimes",
                                       "CompatibleArchitectures", "LicenseInfo"};
    char created[40];
    const char *id;
    json_t *l, *by_name = json_object();
    if (!by_name)
        return -ENOMEM;
    gl_fmt_lambda_time(gl_now_ms(), created, sizeof(created));
    json_object_foreach((json_t *)layers, id, l)
    {
        const char *name = json_string_value(json_object_get(l, "Name"));
        json_t *rec = json_pack("{s:i,s:s,s:s,s:{}}", "Version", 1, "CreatedDate", created,
                                "Description", "", "Policy");
        for (size_t i = 0; rec && i < sizeof(keep) / sizeof(keep[0]); i++)
            if (json_object_get(l, keep[i]))
                json_object_set(rec, keep[i], json_object_get(l, keep[i]));
        if (!name || !rec || json_object_set_new(by_name, name, rec) < 0) {
            json_decref(by_name);
            return -ENOMEM;
        }
    }
    json_decref(r->tpl_layers);
    r->tpl_layers = by_name;
    return gl_reg_digests_reset(r);
}

int gl_layer_is_template(const gl_registry_t *r, const char *name)
{
    return r->tpl_layers && json_object_get(r->tpl_layers, name) != NULL;
}

json_t *gl_layer_template_record(gl_registry_t *r, const char *name)
{
    json_t *l = r->tpl_layers ? json_object_get(r->tpl_layers, name) : NULL;
    const char *dir = json_string_value(json_object_get(l, "Dir"));
    json_t *rec = dir ? json_deep_copy(l) : NULL;
    if (rec) {
        json_object_del(rec, "Dir");
        json_object_set_new(rec, "TemplateDir", json_string(dir));
        if (json_object_get(rec, "CodeSize")) /* cached (layer_digest.c) */
            json_object_set(rec, "UnpackedSize", json_object_get(rec, "CodeSize"));
    }
    return rec;
}

json_t *gl_layer_template_dirs(const gl_registry_t *r)
{
    json_t *arr = json_array();
    const char *name;
    json_t *v;
    json_object_foreach(r->tpl_layers, name, v)
        if (json_object_get(v, "Dir"))
            json_array_append(arr, json_object_get(v, "Dir"));
    return arr;
}

json_t *gl_layer_template_names(const gl_registry_t *r)
{
    json_t *arr = json_array();
    const char *name;
    json_t *v;
    json_object_foreach(r->tpl_layers, name, v) json_array_append_new(arr, json_string(name));
    return arr;
}

json_t *gl_layers_template_sources(const gl_registry_t *r, const gl_fn_config_t *cfg)
{
    json_t *dirs = json_array(), *entry;
    const json_t *layers = cfg->extra ? json_object_get(cfg->extra, "Layers") : NULL;
    size_t i;
    json_array_foreach(layers, i, entry)
    {
        gl_layer_ref_t ref;
        const char *arn = json_string_value(json_object_get(entry, "Arn"));
        if (gl_layer_parse_arn(arn, 1, &ref) < 0 || ref.version != 1 ||
            strcmp(ref.region, r->region) || strcmp(ref.account, r->account))
            continue;
        json_t *l = r->tpl_layers ? json_object_get(r->tpl_layers, ref.name) : NULL;
        if (l && json_object_get(l, "Dir"))
            json_array_append(dirs, json_object_get(l, "Dir"));
    }
    return dirs;
}
