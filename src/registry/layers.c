/* SPDX-License-Identifier: MIT */
/*
 * layers.c: the registry's store of published layer versions under <state>/layers (layout in
 * include/galley/layers.h): publishing (the number taken first, so it is never reused, then
 * the zip unpacked once with the archive module's hostile-archive rules), reading, listing and
 * deleting records, and layer ARNs. Records are read from disk on each call: layers change
 * rarely and are few, and nothing is cached to go stale.
 *
 * gl_layer_publish runs on libuv's work queue (src/api/layers.c), several at a time: it reads
 * only the registry's state_dir, and takes the version number under one mutex, so two
 * publishes of one name get distinct consecutive numbers.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <pthread.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "galley/layers.h"
#include "galley/log.h"
#include "galley/util.h"
#include "internal.h"

#define LAYERS_DIR "layers"
#define RECORD_FILE "layer.json"
#define ZIP_FILE "layer.zip"
#define CONTENT_DIR "content"

/* Serializes the read and rewrite of next.json between publishing threads. */
static pthread_mutex_t number_lock = PTHREAD_MUTEX_INITIALIZER;

/* "<state>/layers/<name>[/<version>]", malloc'd. */
static char *layer_path(const gl_registry_t *r, const char *name, long version)
{
    char *p = NULL;
    int n = version > 0 ? asprintf(&p, "%s/" LAYERS_DIR "/%s/%ld", r->state_dir, name, version)
                        : asprintf(&p, "%s/" LAYERS_DIR "/%s", r->state_dir, name);
    return n < 0 ? NULL : p;
}

void gl_layer_arn(const gl_registry_t *r, const char *name, long version, char *out,
                  size_t outlen)
{
    if (version > 0)
        snprintf(out, outlen, "arn:aws:lambda:%s:%s:layer:%s:%ld", r->region, r->account, name,
                 version);
    else
        snprintf(out, outlen, "arn:aws:lambda:%s:%s:layer:%s", r->region, r->account, name);
}

/* Take the next version number of the layer in dir (creating it) and store the one after. */
static long take_number(const char *dir, gl_err_t *err)
{
    pthread_mutex_lock(&number_lock);
    json_t *next = gl_reg_read_json_object(dir, GL_REG_NEXT_FILE);
    json_int_t n = next ? json_integer_value(json_object_get(next, "Next")) : 0;
    json_decref(next);
    if (n < 1)
        n = 1;
    char *path = gl_path_join(dir, GL_REG_NEXT_FILE);
    json_t *j = json_pack("{s:I}", "Next", n + 1);
    int rc = path && j ? gl_reg_write_json(path, j, err) : gl_err_set(err, ENOMEM, "layer");
    pthread_mutex_unlock(&number_lock);
    free(path);
    json_decref(j);
    return rc < 0 ? rc : (long)n;
}

/* The record of a new version: the request's members plus what the upload gave. */
static json_t *new_record(long version, const json_t *meta, const void *zip, size_t len,
                          uint64_t unpacked)
{
    char sha[45], created[40];
    gl_sha256_b64(zip, len, sha);
    gl_fmt_lambda_time(gl_now_ms(), created, sizeof(created));
    json_t *rec = json_pack("{s:I,s:s,s:s,s:I,s:I,s:s,s:{}}", "Version", (json_int_t)version,
                            "CreatedDate", created, "CodeSha256", sha, "CodeSize",
                            (json_int_t)len, "UnpackedSize", (json_int_t)unpacked,
                            "Description", "", "Policy");
    static const char *const keys[] = {"Description", "CompatibleRuntimes",
                                       "CompatibleArchitectures", "LicenseInfo"};
    for (size_t i = 0; rec && i < sizeof(keys) / sizeof(keys[0]); i++) {
        json_t *v = json_object_get(meta, keys[i]);
        if (v && !json_is_null(v))
            json_object_set(rec, keys[i], v);
    }
    return rec;
}

int gl_layer_publish(gl_registry_t *r, const char *name, const void *zip, size_t len,
                     const json_t *meta, const atomic_int *stop, json_t **out,
                     gl_archive_result_t *res, gl_err_t *err)
{
    char *dir = layer_path(r, name, 0), *vdir = NULL, *content = NULL, *zpath = NULL;
    char *rpath = NULL;
    json_t *rec = NULL;
    long version = 0;
    int rc = -ENOMEM;
    *out = NULL;
    res->status = GL_ARCHIVE_IO;
    if (!dir)
        goto out;
    if ((rc = gl_mkdir_p(dir, 0755)) < 0) {
        gl_err_set(err, -rc, "create %s", dir);
        goto out;
    }
    if ((version = take_number(dir, err)) < 0) {
        rc = (int)version;
        goto out;
    }
    rc = -ENOMEM;
    if (!(vdir = layer_path(r, name, version)) || !(content = gl_path_join(vdir, CONTENT_DIR)) ||
        !(zpath = gl_path_join(vdir, ZIP_FILE)) || !(rpath = gl_path_join(vdir, RECORD_FILE)))
        goto out;
    gl_rm_rf(vdir); /* leftovers of a publish cut short under this (never used) number */
    if ((rc = gl_mkdir_p(vdir, 0755)) < 0) {
        gl_err_set(err, -rc, "create %s", vdir);
        goto out;
    }
    if ((rc = gl_archive_unzip_stoppable(zip, len, content, 0, stop, res, err)) < 0)
        goto out;
    if ((rc = gl_write_file_atomic(zpath, zip, len)) < 0) {
        res->status = GL_ARCHIVE_IO;
        gl_err_set(err, -rc, "write %s", zpath);
        goto out;
    }
    rc = -ENOMEM;
    if (!(rec = new_record(version, meta, zip, len, res->unpacked_bytes)))
        goto out;
    if ((rc = gl_reg_write_json(rpath, rec, err)) < 0) {
        res->status = GL_ARCHIVE_IO;
        goto out;
    }
    *out = rec;
    rec = NULL;
out:
    if (rc < 0 && vdir)
        gl_rm_rf(vdir);
    if (rc == -ENOMEM && !err->msg[0])
        gl_err_set(err, ENOMEM, "out of memory");
    json_decref(rec);
    free(dir);
    free(vdir);
    free(content);
    free(zpath);
    free(rpath);
    return rc;
}

json_t *gl_layer_get(gl_registry_t *r, const char *name, long version)
{
    if (gl_layer_is_template(r, name)) /* the template's version 1 hides the store's */
        return version == 1 ? gl_layer_template_record(r, name) : NULL;
    char *vdir = version > 0 ? layer_path(r, name, version) : NULL;
    json_t *rec = vdir ? gl_reg_read_json_object(vdir, RECORD_FILE) : NULL;
    if (rec && !json_is_integer(json_object_get(rec, "Version"))) {
        json_decref(rec);
        rec = NULL;
    }
    if (rec)
        json_object_set_new(rec, "ContentDir", json_string_nocheck(vdir));
    free(vdir);
    return rec;
}

int gl_layer_save(gl_registry_t *r, const char *name, long version, const json_t *rec,
                  gl_err_t *err)
{
    char *vdir = layer_path(r, name, version);
    char *path = vdir ? gl_path_join(vdir, RECORD_FILE) : NULL;
    json_t *copy = json_copy((json_t *)rec);
    int rc = -ENOMEM;
    if (path && copy) {
        json_object_del(copy, "ContentDir");
        rc = gl_reg_write_json(path, copy, err);
    }
    json_decref(copy);
    free(path);
    free(vdir);
    return rc;
}

static int cmp_desc(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

json_t *gl_layer_versions(gl_registry_t *r, const char *name)
{
    if (gl_layer_is_template(r, name)) {
        json_t *one = json_array(), *rec = gl_layer_template_record(r, name);
        if (one && rec)
            json_array_append(one, rec);
        json_decref(rec);
        return one;
    }
    json_t *arr = json_array();
    char *dir = layer_path(r, name, 0);
    DIR *d = dir ? opendir(dir) : NULL;
    long *nums = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (!gl_reg_all_digits(e->d_name) || strlen(e->d_name) > 15)
            continue;
        long *grown = gl_grow(nums, &cap, n + 1, sizeof(*nums));
        if (!grown)
            break;
        nums = grown;
        nums[n++] = strtol(e->d_name, NULL, 10);
    }
    if (d)
        closedir(d);
    if (n)
        qsort(nums, n, sizeof(*nums), cmp_desc);
    for (size_t i = 0; arr && i < n; i++) {
        json_t *rec = gl_layer_get(r, name, nums[i]);
        if (rec)
            json_array_append_new(arr, rec);
    }
    free(nums);
    free(dir);
    return arr;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

json_t *gl_layer_names(gl_registry_t *r)
{
    json_t *arr = json_array();
    char *root = gl_path_join(r->state_dir, LAYERS_DIR);
    struct dirent **list = NULL;
    int n = root ? scandir(root, &list, NULL, NULL) : -1;
    json_t *tpl = gl_layer_template_names(r), *t;
    size_t nt = json_array_size(tpl), j;
    size_t most = (size_t)(n > 0 ? n : 0) + nt; /* n is -1 when no layer was ever published */
    char **names = most ? calloc(most, sizeof(*names)) : NULL;
    size_t k = 0;
    json_array_foreach(tpl, j, t)
        if (names)
            names[k++] = (char *)json_string_value(t);
    for (int i = 0; i < n; i++) {
        char name[GL_LAYER_NAME_MAX + 1];
        if (names && list[i]->d_name[0] != '.' &&
            gl_layer_parse_name(list[i]->d_name, name) == 0 &&
            strcmp(name, list[i]->d_name) == 0 && !gl_layer_is_template(r, name))
            names[k++] = list[i]->d_name;
    }
    if (k)
        qsort(names, k, sizeof(*names), cmp_str);
    for (size_t i = 0; arr && i < k; i++) {
        json_t *versions = gl_layer_versions(r, names[i]);
        if (json_array_size(versions))
            json_array_append_new(arr, json_string(names[i]));
        json_decref(versions);
    }
    for (int i = 0; i < n; i++)
        free(list[i]);
    free(list);
    free(names);
    free(root);
    json_decref(tpl);
    return arr;
}

int gl_layer_delete(gl_registry_t *r, const char *name, long version)
{
    char *vdir = version > 0 ? layer_path(r, name, version) : NULL;
    int rc = vdir ? gl_rm_rf(vdir) : 0;
    free(vdir);
    return rc == -ENOENT ? 0 : rc;
}

/* <state>/layers/.trash: versions being deleted, out of every listing (names never start with
 * a dot); what a crash left there goes at the next start (gl_layer_trash_clear). */
#define TRASH_DIR LAYERS_DIR "/.trash"

int gl_layer_retire(gl_registry_t *r, const char *name, long version, char **trash)
{
    char *vdir = version > 0 ? layer_path(r, name, version) : NULL, hex[17];
    char *bin = gl_path_join(r->state_dir, TRASH_DIR), *to = NULL;
    int rc = -ENOMEM;
    *trash = NULL;
    gl_random_hex(hex, 8);
    if (version <= 0) {
        rc = 0;
    } else if (vdir && bin && asprintf(&to, "%s/%s-%ld-%s", bin, name, version, hex) >= 0) {
        rc = mkdir(bin, 0755) < 0 && errno != EEXIST ? -errno : 0;
        if (rc == -ENOENT) /* no layer was ever published: nothing to delete */
            rc = 0;
        else if (rc == 0 && rename(vdir, to) < 0)
            rc = errno == ENOENT ? 0 : -errno;
        else if (rc == 0)
            *trash = to, to = NULL;
    }
    free(vdir);
    free(bin);
    free(to);
    return rc;
}

void gl_layer_trash_clear(gl_registry_t *r)
{
    char *bin = gl_path_join(r->state_dir, TRASH_DIR);
    if (bin)
        gl_rm_rf(bin);
    free(bin);
}
