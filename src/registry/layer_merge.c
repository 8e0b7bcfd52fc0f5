/* SPDX-License-Identifier: MIT */
/*
 * layer_merge.c: a function's Layers: layer ARN parsing, the checks Lambda makes on a
 * function's list (each version exists, one version per layer, code plus layers within the
 * unzipped limit), and the merge of the layers, in order, into the one directory bound at
 * /opt (a later layer's file replaces an earlier one's, as Lambda extracts them in order).
 *
 * A function's list is resolved in three steps (gl_layers_plan_t): the registry lookups on
 * the loop, the tree walks and the merge on a work queue thread, the last check and the
 * result on the loop again; the walk of a layer of tens of thousands of files never holds up
 * the loop. Merges of the same list by two threads at once each build their own directory.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "galley/layers.h"
#include "galley/log.h"
#include "galley/util.h"
#include "internal.h"

#define MERGED_DIR "layers/.merged"

static int is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_';
}

/* Copy the next ':'-terminated field of *p (chars accepted by ok) into out; 0 or -1. */
static int field(const char **p, char *out, size_t outlen, int (*ok)(char), int last)
{
    size_t n = 0;
    while (**p && **p != ':') {
        if (!ok(**p) || n + 1 >= outlen)
            return -1;
        out[n++] = *(*p)++;
    }
    out[n] = '\0';
    if (n == 0 || (!last && **p != ':') || (last && **p))
        return -1;
    if (**p == ':')
        (*p)++;
    return 0;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_part_char(char c) { return is_name_char(c) && c != '_'; }

int gl_layer_parse_arn(const char *arn, int versioned, gl_layer_ref_t *out)
{
    const char *p = arn;
    char part[64], ver[20];
    memset(out, 0, sizeof(*out));
    if (!arn || strlen(arn) > GL_LAYER_NAME_MAX || strncmp(p, "arn:", 4) != 0)
        return -EINVAL;
    p += 4;
    if (field(&p, part, sizeof(part), is_part_char, 0) < 0 || strncmp(p, "lambda:", 7) != 0)
        return -EINVAL;
    p += 7;
    if (field(&p, out->region, sizeof(out->region), is_part_char, 0) < 0 ||
        field(&p, out->account, sizeof(out->account), is_digit, 0) < 0 ||
        strlen(out->account) != 12 || strncmp(p, "layer:", 6) != 0)
        return -EINVAL;
    p += 6;
    if (field(&p, out->name, sizeof(out->name), is_name_char, !versioned) < 0)
        return -EINVAL;
    if (!versioned)
        return 0;
    if (field(&p, ver, sizeof(ver), is_digit, 1) < 0 || strlen(ver) > 15)
        return -EINVAL;
    out->version = strtol(ver, NULL, 10);
    return 0;
}

int gl_layer_parse_name(const char *param, char *out)
{
    gl_layer_ref_t ref;
    size_t n = param ? strlen(param) : 0;
    if (n == 0 || n > GL_LAYER_NAME_MAX)
        return -EINVAL;
    if (gl_layer_parse_arn(param, 0, &ref) == 0) {
        memcpy(out, ref.name, strlen(ref.name) + 1);
        return 0;
    }
    for (size_t i = 0; i < n; i++)
        if (!is_name_char(param[i]))
            return -EINVAL;
    memcpy(out, param, n + 1);
    return 0;
}

/* ---- merging ---- */

/* nftw has no user pointer: per thread, as merges run on the loop and on the work queue. */
static _Thread_local const char *merge_src;
static _Thread_local const char *merge_dst;
static _Thread_local size_t merge_src_len;
static _Thread_local uint64_t tree_total;
static _Thread_local const atomic_int *merge_stop; /* set: a job's stop flag, checked per entry */

static int copy_file(const char *from, const char *to, mode_t mode)
{
    gl_buf_t b = {0};
    int rc = gl_read_file(from, (size_t)GL_ARCHIVE_MAX_UNPACKED, &b);
    if (rc == 0) {
        int fd = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode & 0755);
        if (fd < 0)
            rc = -errno;
        else if ((size_t)write(fd, b.data, b.len) != b.len)
            rc = -EIO;
        if (fd >= 0)
            close(fd);
    }
    gl_buf_free(&b);
    return rc;
}

static int on_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)ftw;
    char *to = NULL;
    int rc = 0;
    if (merge_stop && atomic_load(merge_stop))
        return -ECANCELED;
    if (asprintf(&to, "%s%s", merge_dst, path + merge_src_len) < 0)
        return -ENOMEM;
    struct stat have;
    int exists = lstat(to, &have) == 0;
    if (type == FTW_D) {
        if (exists && !S_ISDIR(have.st_mode))
            unlink(to);
        if ((!exists || !S_ISDIR(have.st_mode)) && mkdir(to, 0755) < 0)
            rc = -errno;
    } else {
        if (exists)
            rc = S_ISDIR(have.st_mode) ? gl_rm_rf(to) : (unlink(to) < 0 ? -errno : 0);
        if (rc == 0 && type == FTW_SL) {
            char target[PATH_MAX];
            ssize_t n = readlink(path, target, sizeof(target) - 1);
            target[n < 0 ? 0 : n] = '\0';
            rc = n < 0 || symlink(target, to) < 0 ? -errno : 0;
        } else if (rc == 0 && S_ISREG(st->st_mode) && link(path, to) < 0) {
            rc = copy_file(path, to, st->st_mode);
        }
    }
    free(to);
    return rc;
}

/* Build beside dest under a name of this call's own (jobs on several threads may merge the
 * same list at once) and rename it in; when another merge of the same list got there first,
 * its directory stays and this one goes. */
static int merge(const char *const *dirs, size_t n, const char *dest, const atomic_int *stop,
                 gl_err_t *err)
{
    static atomic_uint seq;
    char *tmp = NULL;
    int rc;
    if (asprintf(&tmp, "%s.tmp-%d-%u", dest, (int)getpid(), atomic_fetch_add(&seq, 1)) < 0)
        return gl_err_set(err, ENOMEM, "merge layers");
    gl_rm_rf(tmp);
    if ((rc = gl_mkdir_p(tmp, 0755)) < 0) {
        gl_err_set(err, -rc, "create %s", tmp);
        goto out;
    }
    merge_dst = tmp;
    merge_stop = stop;
    for (size_t i = 0; i < n; i++) {
        merge_src = dirs[i];
        merge_src_len = strlen(dirs[i]);
        if ((rc = nftw(dirs[i], on_entry, 16, FTW_PHYS)) != 0) {
            rc = rc < 0 ? rc : -EIO;
            gl_err_set(err, -rc, "merge layer %s", dirs[i]);
            goto out;
        }
    }
    if (rename(tmp, dest) < 0) {
        rc = -errno;
        if (rc == -ENOTEMPTY || rc == -EEXIST)
            rc = 0; /* the same list, merged by another job */
        else
            gl_err_set(err, -rc, "rename %s", tmp);
        gl_rm_rf(tmp);
    }
out:
    merge_stop = NULL;
    if (rc < 0)
        gl_rm_rf(tmp);
    free(tmp);
    return rc;
}

int gl_layers_merge(const char *const *dirs, size_t n, const char *dest, gl_err_t *err)
{
    return merge(dirs, n, dest, NULL, err);
}

int gl_layers_remerge(const char *const *dirs, size_t n, const char *dest, gl_err_t *err)
{
    char *next = NULL, *old = NULL;
    int rc = -ENOMEM;
    if (asprintf(&next, "%s.next", dest) < 0 || asprintf(&old, "%s.old", dest) < 0) {
        gl_err_set(err, ENOMEM, "merge layers");
        goto out;
    }
    /* The generation before the current one: its environments were retired at the last
     * reload. The current one stays, renamed, for environments still finishing an invoke. */
    gl_rm_rf(old);
    gl_rm_rf(next);
    if ((rc = gl_layers_merge(dirs, n, next, err)) < 0)
        goto out;
    if (rename(dest, old) < 0 && errno != ENOENT) {
        rc = gl_err_set(err, errno, "rename %s", dest);
        gl_rm_rf(next);
    } else if (rename(next, dest) < 0) {
        rc = gl_err_set(err, errno, "rename %s", next);
        gl_rm_rf(next);
    }
out:
    free(next);
    free(old);
    return rc;
}

static int on_count(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)path;
    (void)ftw;
    if (type == FTW_F && S_ISREG(st->st_mode))
        tree_total += (uint64_t)st->st_size;
    return 0;
}

uint64_t gl_layers_tree_bytes(const char *dir)
{
    tree_total = 0;
    if (dir)
        nftw(dir, on_count, 16, FTW_PHYS);
    return tree_total;
}

/* ---- a function's Layers ---- */

/* Look every ARN up: its record's CodeSize goes into the entry, its content dir into dirs,
 * its unpacked size into *bytes. -EINVAL with aerr set for one Lambda would refuse. */
static int look_up(gl_registry_t *r, json_t *layers, char **dirs, uint64_t *bytes,
                   gl_aws_error_t *aerr)
{
    gl_layer_ref_t refs[GL_LAYERS_MAX];
    size_t i;
    json_t *entry;
    json_array_foreach(layers, i, entry)
    {
        const char *arn = json_string_value(json_object_get(entry, "Arn"));
        json_t *rec = NULL;
        if (gl_layer_parse_arn(arn, 1, &refs[i]) == 0 && !strcmp(refs[i].region, r->region) &&
            !strcmp(refs[i].account, r->account))
            rec = gl_layer_get(r, refs[i].name, refs[i].version);
        if (!rec)
            return gl_aws_error_set(aerr, GL_AWS_INVALID_PARAMETER_VALUE, EINVAL,
                                    "Layer version %s does not exist.", arn ? arn : "");
        for (size_t j = 0; j < i; j++)
            if (!strcmp(refs[j].name, refs[i].name)) {
                json_decref(rec);
                return gl_aws_error_set(aerr, GL_AWS_INVALID_PARAMETER_VALUE, EINVAL,
                                        "Two different versions of the same layer are not "
                                        "allowed to be referenced in the same function. %s and "
                                        "%s",
                                        json_string_value(json_object_get(
                                            json_array_get(layers, j), "Arn")),
                                        arn);
            }
        json_object_set(entry, "CodeSize", json_object_get(rec, "CodeSize"));
        *bytes += (uint64_t)json_integer_value(json_object_get(rec, "UnpackedSize"));
        const char *tpl = json_string_value(json_object_get(rec, "TemplateDir"));
        dirs[i] = tpl ? strdup(tpl)
                      : gl_path_join(json_string_value(json_object_get(rec, "ContentDir")),
                                     "content");
        json_decref(rec);
        if (!dirs[i])
            return gl_aws_error_set(aerr, GL_AWS_SERVICE, ENOMEM, "out of memory");
    }
    return 0;
}

/* "<state>/layers/.merged/<hex sha256 of the ARNs, one a line>", malloc'd. */
static char *merged_path(gl_registry_t *r, const json_t *layers)
{
    char *list = NULL, *p = NULL;
    size_t len = 0, i;
    json_t *entry;
    FILE *f = open_memstream(&list, &len);
    if (!f)
        return NULL;
    json_array_foreach(layers, i, entry)
        fprintf(f, "%s\n", json_string_value(json_object_get(entry, "Arn")));
    fclose(f);
    char b64[45], hex[65];
    gl_sha256_b64(list, len, b64);
    /* base64 has '/' and '+': hex of its bytes keeps the name a plain path component */
    for (int k = 0; k < 32; k++)
        snprintf(hex + 2 * k, 3, "%02x", (unsigned char)b64[k]);
    free(list);
    if (asprintf(&p, "%s/" MERGED_DIR "/%s", r->state_dir, hex) < 0)
        return NULL;
    return p;
}

/* The limit on code plus layers, unzipped; -EINVAL with aerr set past it. */
static int check_total(uint64_t bytes, gl_aws_error_t *aerr)
{
    if (bytes <= GL_ARCHIVE_MAX_UNPACKED)
        return 0;
    return gl_aws_error_set(aerr, GL_AWS_INVALID_PARAMETER_VALUE, EINVAL,
                            "Function code combined with layers exceeds the maximum allowed "
                            "size of %llu bytes. The actual size is %llu bytes.",
                            (unsigned long long)GL_ARCHIVE_MAX_UNPACKED,
                            (unsigned long long)bytes);
}

int gl_layers_check_size(const char *code_dir, const char *opt_dir, gl_aws_error_t *aerr)
{
    if (!opt_dir)
        return 0;
    return check_total(gl_layers_tree_bytes(code_dir) + gl_layers_tree_bytes(opt_dir), aerr);
}

/* A refusal kept in the plan too, for a caller that answers it later. */
static int plan_failed(gl_layers_plan_t *p, int rc, const gl_aws_error_t *aerr)
{
    p->rc = rc;
    p->fail = *aerr;
    return rc;
}

int gl_layers_plan(gl_registry_t *r, gl_fn_config_t *cfg, const atomic_int *stop,
                   gl_layers_plan_t *p, gl_aws_error_t *aerr)
{
    json_t *layers = cfg->extra ? json_object_get(cfg->extra, "Layers") : NULL;
    int rc;
    memset(p, 0, sizeof(*p));
    p->stop = stop;
    free(cfg->opt_dir);
    cfg->opt_dir = NULL;
    if (!json_array_size(layers))
        return 0;
    if (json_array_size(layers) > GL_LAYERS_MAX)
        return plan_failed(p, gl_aws_error_set(aerr, GL_AWS_INVALID_PARAMETER_VALUE, EINVAL,
                                               "Cannot reference more than %d layers.",
                                               GL_LAYERS_MAX),
                           aerr);
    if ((rc = look_up(r, layers, p->dirs, &p->layer_bytes, aerr)) < 0)
        return plan_failed(p, rc, aerr);
    if (!(p->dest = merged_path(r, layers)))
        return plan_failed(p, gl_aws_error_set(aerr, GL_AWS_SERVICE, ENOMEM, "out of memory"),
                           aerr);
    p->n = json_array_size(layers);
    return 0;
}

int gl_layers_prepare(gl_layers_plan_t *p, const char *code_dir)
{
    gl_err_t err = {0};
    struct stat st;
    int rc;
    if (p->rc < 0 || p->n == 0)
        return p->rc;
    if ((rc = check_total(p->layer_bytes + gl_layers_tree_bytes(code_dir), &p->fail)) < 0)
        return p->rc = rc;
    char *parent = strdup(p->dest);
    if (parent)
        *strrchr(parent, '/') = '\0';
    rc = parent ? gl_mkdir_p(parent, 0755) : -ENOMEM;
    free(parent);
    /* Another function's job may be merging the same list meanwhile: merge() keeps whichever
     * directory is renamed in first. */
    if (rc == 0 && stat(p->dest, &st) < 0)
        rc = merge((const char *const *)p->dirs, p->n, p->dest, p->stop, &err);
    if (rc < 0) {
        snprintf(p->log_msg, sizeof(p->log_msg), "layers: %s: %s", err.msg, strerror(-rc));
        p->rc = gl_aws_error_set(&p->fail, GL_AWS_SERVICE, EIO,
                                 "Could not prepare the layers: %s",
                                 err.msg[0] ? err.msg : strerror(-rc));
    }
    return p->rc;
}

int gl_layers_finish(gl_registry_t *r, gl_layers_plan_t *p, gl_fn_config_t *cfg,
                     gl_aws_error_t *aerr)
{
    char *dirs[GL_LAYERS_MAX] = {0};
    uint64_t bytes = 0;
    int rc;
    if (p->log_msg[0])
        gl_log_error("%s", p->log_msg);
    if (p->rc < 0) {
        *aerr = p->fail;
        return p->rc;
    }
    if (p->n == 0)
        return 0;
    /* A version deleted while the job ran: answered as if the delete had come first (its
     * merge, named by a list no lookup can match again, goes at the next start's gc). */
    rc = look_up(r, json_object_get(cfg->extra, "Layers"), dirs, &bytes, aerr);
    for (size_t i = 0; i < GL_LAYERS_MAX; i++)
        free(dirs[i]);
    if (rc < 0)
        return rc;
    free(cfg->opt_dir);
    cfg->opt_dir = p->dest;
    p->dest = NULL; /* moved into cfg */
    return 0;
}

void gl_layers_plan_free(gl_layers_plan_t *p)
{
    for (size_t i = 0; i < GL_LAYERS_MAX; i++) {
        free(p->dirs[i]);
        p->dirs[i] = NULL;
    }
    free(p->dest);
    p->dest = NULL;
}

int gl_layers_template_dir(gl_registry_t *r, const char *name, const json_t *dirs,
                           gl_fn_config_t *cfg, gl_err_t *err)
{
    const char *list[GL_LAYERS_MAX * 4];
    size_t n = json_array_size(dirs);
    char *dest = NULL;
    int rc;
    free(cfg->opt_dir);
    cfg->opt_dir = NULL;
    if (n == 0)
        return 0;
    if (n == 1) {
        cfg->opt_dir = strdup(json_string_value(json_array_get(dirs, 0)));
        return cfg->opt_dir ? 0 : gl_err_set(err, ENOMEM, "out of memory");
    }
    if (n > sizeof(list) / sizeof(list[0]))
        return gl_err_set(err, E2BIG, "%s: too many layers", name);
    for (size_t i = 0; i < n; i++)
        list[i] = json_string_value(json_array_get(dirs, i));
    if (asprintf(&dest, "%s/layers/.template/%s.old", r->state_dir, name) < 0)
        return gl_err_set(err, ENOMEM, "out of memory");
    gl_rm_rf(dest); /* a reload's previous generation (gl_layers_remerge) */
    dest[strlen(dest) - 4] = '\0';
    gl_rm_rf(dest);
    *strrchr(dest, '/') = '\0';
    rc = gl_mkdir_p(dest, 0755);
    dest[strlen(dest)] = '/';
    if (rc < 0)
        gl_err_set(err, -rc, "create %s", dest);
    else if ((rc = gl_layers_merge(list, n, dest, err)) == 0) {
        cfg->opt_dir = dest;
        dest = NULL; /* moved into cfg */
    }
    free(dest);
    return rc;
}

/* Does a loaded snapshot's /opt end in .merged/<name>? (By name: the state dir may be
 * reached through a symbolic link in one path and not in the other.) */
static int uses(const gl_fn_t *fn, const char *name)
{
    const char *o = fn->cfg.opt_dir, *slash = o ? strrchr(o, '/') : NULL;
    return slash && !strcmp(slash + 1, name) && slash - o >= 7 &&
           !strncmp(slash - 7, ".merged", 7);
}

static int in_use(gl_registry_t *r, const char *name)
{
    for (size_t i = 0; i < r->n; i++)
        if (uses(r->by_name[i], name))
            return 1;
    for (size_t i = 0; i < r->ns; i++)
        for (size_t j = 0; j < r->sets[i]->nv; j++)
            if (uses(r->sets[i]->versions[j].fn, name))
                return 1;
    return 0;
}

void gl_layers_gc(gl_registry_t *r)
{
    char *root = NULL;
    if (asprintf(&root, "%s/" MERGED_DIR, r->state_dir) < 0)
        return;
    DIR *d = opendir(root);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char *path = NULL;
        if (e->d_name[0] == '.' || asprintf(&path, "%s/%s", root, e->d_name) < 0)
            continue;
        if (!in_use(r, e->d_name)) {
            gl_log_debug("layers: removing %s (no function uses it)", path);
            gl_rm_rf(path);
        }
        free(path);
    }
    if (d)
        closedir(d);
    free(root);
}
