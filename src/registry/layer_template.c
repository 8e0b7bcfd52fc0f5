/* SPDX-License-Identifier: MIT */
/*
 * layer_template.c: a served template's layers (AWS::Serverless::LayerVersion and
 * AWS::Lambda::LayerVersion) as layer versions the API shows: version 1 of their LayerName,
 * whose content is the template's directory itself (never copied or zipped). Owns
 * r->tpl_layers (name -> what the template said, and the directory).
 *
 * A name the template defines is the template's while it is served: GetLayerVersion,
 * ListLayerVersions and a function's Layers see only its version 1, and versions of that name
 * published earlier into the persisted store stay on disk, hidden, and untouched (their
 * numbering goes on where it was once the template no longer names the layer). The api module
 * refuses to publish, delete or change the permissions of a template layer
 * (gl_layer_is_template).
 *
 * CodeSize and CodeSha256: there is no zip, so CodeSize is the bytes of the directory's
 * regular files (as UnpackedSize) and CodeSha256 the base64 SHA-256 of its listing (each
 * file's and link's relative path, size and modification time, sorted): it changes whenever
 * the content does. Computed on each call, from stat alone.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "galley/layers.h"
#include "galley/log.h"
#include "galley/util.h"
#include "internal.h"

/* nftw has no user pointer: per thread, as the merge's walk. */
static _Thread_local struct walk {
    size_t root_len;
    char **lines;
    size_t n, cap;
    uint64_t bytes;
    int failed;
} walk;

static int on_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)ftw;
    if (type != FTW_F && type != FTW_SL)
        return 0;
    if (walk.n == walk.cap) {
        char **grown =
            realloc(walk.lines, (walk.cap = walk.cap ? walk.cap * 2 : 64) * sizeof(*grown));
        if (!grown) {
            walk.failed = 1;
            return 1;
        }
        walk.lines = grown;
    }
    char *line = NULL;
    if (asprintf(&line, "%s\t%c\t%lld\t%lld.%09ld\n", path + walk.root_len,
                 type == FTW_SL ? 'l' : 'f', (long long)st->st_size, (long long)st->st_mtim.tv_sec,
                 st->st_mtim.tv_nsec) < 0) {
        walk.failed = 1;
        return 1;
    }
    walk.lines[walk.n++] = line;
    if (type == FTW_F && S_ISREG(st->st_mode))
        walk.bytes += (uint64_t)st->st_size;
    return 0;
}

static int cmp_line(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The digest and size of dir's content (module comment). -ENOMEM, or 0. */
static int digest(const char *dir, char sha[45], uint64_t *bytes)
{
    char *all = NULL;
    size_t len = 0;
    memset(&walk, 0, sizeof(walk));
    walk.root_len = strlen(dir);
    nftw(dir, on_entry, 16, FTW_PHYS);
    FILE *f = walk.failed ? NULL : open_memstream(&all, &len);
    if (f) {
        qsort(walk.lines, walk.n, sizeof(*walk.lines), cmp_line);
        for (size_t i = 0; i < walk.n; i++)
            fputs(walk.lines[i], f);
        fclose(f);
        gl_sha256_b64(all ? all : "", len, sha);
    }
    for (size_t i = 0; i < walk.n; i++)
        free(walk.lines[i]);
    free(walk.lines);
    free(all);
    *bytes = walk.bytes;
    int rc = f ? 0 : -ENOMEM;
    memset(&walk, 0, sizeof(walk));
    return rc;
}

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
    return 0;
}

int gl_layer_is_template(const gl_registry_t *r, const char *name)
{
    return r->tpl_layers && json_object_get(r->tpl_layers, name) != NULL;
}

json_t *gl_layer_template_record(gl_registry_t *r, const char *name)
{
    json_t *l = r->tpl_layers ? json_object_get(r->tpl_layers, name) : NULL;
    const char *dir = json_string_value(json_object_get(l, "Dir"));
    char sha[45];
    uint64_t bytes = 0;
    if (!dir || digest(dir, sha, &bytes) < 0)
        return NULL;
    json_t *rec = json_deep_copy(l);
    if (rec) {
        json_object_del(rec, "Dir");
        json_object_set_new(rec, "TemplateDir", json_string(dir));
        json_object_set_new(rec, "CodeSha256", json_string(sha));
        json_object_set_new(rec, "CodeSize", json_integer((json_int_t)bytes));
        json_object_set_new(rec, "UnpackedSize", json_integer((json_int_t)bytes));
    }
    return rec;
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
