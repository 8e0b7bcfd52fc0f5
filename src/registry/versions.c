/* SPDX-License-Identifier: MIT */
/*
 * versions.c: published versions (PublishVersion, ListVersionsByFunction, DeleteFunction with
 * a version Qualifier), qualifier resolution, and each function's gl_fn_set_t.
 *
 * Owns the sets array of the registry and, in each set, one reference per version snapshot.
 * A version is a copy of $LATEST's configuration pointing at the same code directory; the
 * directory is shared, never copied, and gl_reg_code_dir_in_use tells the registry whether
 * any current snapshot still needs it. On disk: versions/<N>.json (function.json's shape
 * plus Version and SourceRevisionId) and versions/next.json ({"NextVersion": n}), written
 * next.json first so that a number is never handed out twice, even after a crash.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "galley/log.h"
#include "galley/util.h"
#include "internal.h"

#define VERSION_MAX 999999999u

/* "N" with 1 <= N <= VERSION_MAX and no leading zero; 0 otherwise. */
static unsigned parse_version(const char *s)
{
    unsigned long v = 0;
    if (!s || !*s || *s == '0' || strlen(s) > 9)
        return 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return 0;
        v = v * 10 + (unsigned long)(*p - '0');
    }
    return v <= VERSION_MAX ? (unsigned)v : 0;
}

/* ---- sets ---- */

static size_t set_lower_bound(gl_registry_t *r, const char *name)
{
    size_t lo = 0, hi = r->ns;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(r->sets[mid]->name, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

gl_fn_set_t *gl_reg_set(gl_registry_t *r, const char *name, int create)
{
    size_t pos = set_lower_bound(r, name);
    if (pos < r->ns && strcmp(r->sets[pos]->name, name) == 0)
        return r->sets[pos];
    if (!create)
        return NULL;
    gl_fn_t *latest = gl_reg_latest(r, name);
    if (!latest)
        return NULL;
    gl_fn_set_t **na = gl_grow(r->sets, &r->caps, r->ns + 1, sizeof(*na));
    if (!na)
        return NULL;
    r->sets = na;
    gl_fn_set_t *s = calloc(1, sizeof(*s));
    if (!s || !(s->name = strdup(name))) {
        free(s);
        return NULL;
    }
    s->from_template = latest->from_template;
    s->next_version = 1;
    s->reserved = -1;
    memmove(r->sets + pos + 1, r->sets + pos, (r->ns - pos) * sizeof(*r->sets));
    r->sets[pos] = s;
    r->ns++;
    return s;
}

static void set_free(gl_fn_set_t *s, gl_registry_t *retire_into)
{
    for (size_t i = 0; i < s->nv; i++) {
        if (retire_into)
            gl_reg_retire(retire_into, s->versions[i].fn, NULL);
        else
            gl_fn_unref(s->versions[i].fn);
        free(s->versions[i].source_rev);
    }
    for (size_t i = 0; i < s->na; i++) {
        gl_alias_free(s->aliases[i]);
        free(s->aliases[i]);
    }
    free(s->versions);
    free(s->aliases);
    json_decref(s->provisioned);
    json_decref(s->settings);
    free(s->name);
    free(s);
}

void gl_reg_drop_set(gl_registry_t *r, const char *name)
{
    size_t pos = set_lower_bound(r, name);
    if (pos >= r->ns || strcmp(r->sets[pos]->name, name) != 0)
        return;
    gl_fn_set_t *s = r->sets[pos];
    memmove(r->sets + pos, r->sets + pos + 1, (r->ns - pos - 1) * sizeof(*r->sets));
    r->ns--;
    /* Detached first: while its versions retire, none of them counts as current. */
    set_free(s, r);
}

void gl_reg_free_sets(gl_registry_t *r)
{
    for (size_t i = 0; i < r->ns; i++)
        set_free(r->sets[i], NULL);
    free(r->sets);
    r->sets = NULL;
    r->ns = r->caps = 0;
}

gl_version_entry_t *gl_reg_find_version(gl_fn_set_t *s, const char *version)
{
    unsigned num = parse_version(version);
    size_t lo = 0, hi = s ? s->nv : 0;
    while (num && lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->versions[mid].num == num)
            return &s->versions[mid];
        if (s->versions[mid].num < num)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

int gl_reg_code_dir_in_use(gl_registry_t *r, const char *name, const char *dir)
{
    gl_fn_t *latest = gl_reg_latest(r, name);
    if (latest && latest->cfg.code_dir && strcmp(latest->cfg.code_dir, dir) == 0)
        return 1;
    gl_fn_set_t *s = gl_reg_set(r, name, 0);
    for (size_t i = 0; s && i < s->nv; i++)
        if (s->versions[i].fn->cfg.code_dir && strcmp(s->versions[i].fn->cfg.code_dir, dir) == 0)
            return 1;
    return 0;
}

int gl_reg_set_keeps(gl_registry_t *r, const char *name, const char *entry)
{
    gl_fn_set_t *s = gl_reg_set(r, name, 0);
    size_t elen = strlen(entry);
    for (size_t i = 0; s && i < s->nv; i++) {
        const char *dir = s->versions[i].fn->cfg.code_dir;
        const char *base = dir ? strrchr(dir, '/') : NULL;
        if (!base)
            continue;
        base++;
        size_t blen = strlen(base);
        if (strcmp(entry, base) == 0 || (elen == blen + 4 && strncmp(entry, base, blen) == 0 &&
                                         strcmp(entry + blen, ".zip") == 0))
            return 1;
    }
    return 0;
}

/* ---- lookups ---- */

gl_fn_t *gl_registry_find_version(gl_registry_t *r, const char *name, const char *version)
{
    gl_fn_t *latest = gl_registry_find(r, name);
    if (!latest)
        return NULL;
    if (!version || !*version || strcmp(version, "$LATEST") == 0)
        return latest;
    gl_version_entry_t *v = gl_reg_find_version(gl_reg_set(r, latest->cfg.name, 0), version);
    return v ? v->fn : NULL;
}

gl_fn_t *gl_registry_resolve(gl_registry_t *r, const char *name, const char *qualifier,
                             double route)
{
    gl_fn_t *latest = gl_registry_find(r, name);
    if (!latest)
        return NULL;
    if (!qualifier || !*qualifier || strcmp(qualifier, "$LATEST") == 0)
        return latest;
    if (gl_reg_all_digits(qualifier))
        return gl_registry_find_version(r, latest->cfg.name, qualifier);
    const gl_alias_t *a = gl_registry_find_alias(r, latest->cfg.name, qualifier);
    if (!a)
        return NULL;
    if (a->extra_version && route >= 0 && route < a->extra_weight) {
        gl_fn_t *extra = gl_registry_find_version(r, latest->cfg.name, a->extra_version);
        if (extra)
            return extra;
    }
    return gl_registry_find_version(r, latest->cfg.name, a->function_version);
}

double gl_registry_route_draw(void)
{
    uint64_t x = 0;
    gl_random_bytes(&x, sizeof(x)); /* every invoke draws: no syscall of its own */
    return (double)(x >> 11) * (1.0 / 9007199254740992.0); /* 53 random bits */
}

int gl_registry_list_versions(gl_registry_t *r, const char *name, gl_fn_t ***out, size_t *n)
{
    gl_fn_t *latest = gl_registry_find(r, name);
    gl_fn_set_t *s = latest ? gl_reg_set(r, latest->cfg.name, 0) : NULL;
    size_t nv = s ? s->nv : 0;
    *out = NULL;
    *n = 0;
    if (!latest)
        return -ENOENT;
    if (!(*out = malloc((nv + 1) * sizeof(**out))))
        return -ENOMEM;
    (*out)[0] = latest;
    for (size_t i = 0; i < nv; i++)
        (*out)[i + 1] = s->versions[i].fn;
    *n = nv + 1;
    return 0;
}

/* ---- persistence ---- */

static char *versions_dir(gl_registry_t *r, const char *name)
{
    char *fn_dir = gl_registry_fn_dir(r, name);
    char *d = fn_dir ? gl_path_join(fn_dir, GL_REG_VERSIONS_DIR) : NULL;
    free(fn_dir);
    return d;
}

static char *version_path(gl_registry_t *r, const char *name, unsigned num)
{
    char file[32];
    char *d = versions_dir(r, name);
    snprintf(file, sizeof(file), "%u.json", num);
    char *p = d ? gl_path_join(d, file) : NULL;
    free(d);
    return p;
}

static int write_next(gl_registry_t *r, const char *name, unsigned next, gl_err_t *err)
{
    char *d = versions_dir(r, name);
    char *p = d ? gl_path_join(d, GL_REG_NEXT_FILE) : NULL;
    json_t *j = json_pack("{s:i,s:I}", "FormatVersion", 1, "NextVersion", (json_int_t)next);
    int rc;
    if (!p || !j)
        rc = gl_err_set(err, ENOMEM, "out of memory");
    else if ((rc = gl_mkdir_p(d, 0755)) < 0)
        rc = gl_err_set(err, -rc, "create %s", d);
    else
        rc = gl_reg_write_json(p, j, err);
    json_decref(j);
    free(p);
    free(d);
    return rc;
}

static int write_version(gl_registry_t *r, const gl_version_entry_t *v, gl_err_t *err)
{
    char *fn_dir = gl_registry_fn_dir(r, v->fn->cfg.name);
    char *p = version_path(r, v->fn->cfg.name, v->num);
    json_t *j = fn_dir ? gl_fn_config_to_state(&v->fn->cfg, fn_dir) : NULL;
    int rc;
    if (!p || !j || json_object_set_new(j, "Version", json_integer(v->num)) < 0 ||
        json_object_set_new(j, "SourceRevisionId", json_string(v->source_rev)) < 0)
        rc = gl_err_set(err, ENOMEM, "out of memory or code directory outside %s",
                        fn_dir ? fn_dir : "?");
    else
        rc = gl_reg_write_json(p, j, err);
    json_decref(j);
    free(p);
    free(fn_dir);
    return rc;
}

static int insert_version(gl_fn_set_t *s, gl_version_entry_t *v)
{
    gl_version_entry_t *nv = gl_grow(s->versions, &s->capv, s->nv + 1, sizeof(*nv));
    if (!nv)
        return -ENOMEM;
    s->versions = nv;
    size_t pos = s->nv;
    while (pos > 0 && s->versions[pos - 1].num > v->num)
        pos--;
    memmove(s->versions + pos + 1, s->versions + pos, (s->nv - pos) * sizeof(*v));
    s->versions[pos] = *v;
    s->nv++;
    return 0;
}

/* Load one versions/<N>.json; -1 when it is not usable (already logged). */
static int load_version(gl_registry_t *r, gl_fn_set_t *s, const char *fn_dir, const char *path,
                        unsigned num)
{
    gl_buf_t buf = {0};
    json_error_t jerr;
    json_t *state = NULL;
    gl_fn_config_t cfg = {0};
    gl_err_t err = {0};
    gl_version_entry_t v = {.num = num};
    struct stat st;
    char vname[16];
    int rc = -1;

    if (gl_read_file(path, GL_REG_STATE_MAX_BYTES, &buf) < 0) {
        gl_log_warn("registry: skipping version %s: cannot read it", path);
        goto out;
    }
    if (!(state = json_loadb(buf.data, buf.len, 0, &jerr))) {
        gl_log_warn("registry: skipping version %s: corrupt JSON: %s", path, jerr.text);
        goto out;
    }
    json_t *jv = json_object_get(state, "Version");
    json_t *src = json_object_get(state, "SourceRevisionId");
    if (!json_is_integer(jv) || json_integer_value(jv) != (json_int_t)num || !json_is_string(src)) {
        gl_log_warn("registry: skipping version %s: Version or SourceRevisionId missing or wrong",
                    path);
        goto out;
    }
    if (gl_fn_config_from_state(state, fn_dir, &cfg, &err) < 0) {
        gl_log_warn("registry: skipping version %s: %s", path, err.msg);
        goto out;
    }
    if (strcmp(cfg.name, s->name) != 0) {
        gl_log_warn("registry: skipping version %s: FunctionName '%s' is not '%s'", path, cfg.name,
                    s->name);
        goto out;
    }
    if (lstat(cfg.code_dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        gl_log_warn("registry: skipping version %s: code directory %s is missing", path,
                    cfg.code_dir);
        goto out;
    }
    snprintf(vname, sizeof(vname), "%u", num);
    if (!(v.source_rev = strdup(json_string_value(src))) || !(v.fn = gl_fn_new(&cfg, NULL, 0)))
        goto nomem;
    free(v.fn->version);
    if (!(v.fn->version = strdup(vname)) || insert_version(s, &v) < 0)
        goto nomem;
    rc = 0;
    goto out;
nomem:
    gl_log_error("registry: out of memory loading %s", path);
    if (v.fn)
        gl_fn_unref(v.fn);
    free(v.source_rev);
out:
    gl_fn_config_free(&cfg);
    json_decref(state);
    gl_buf_free(&buf);
    return rc;
}

void gl_reg_load_versions(gl_registry_t *r, gl_fn_t *latest, const char *fn_dir)
{
    char *dir = gl_path_join(fn_dir, GL_REG_VERSIONS_DIR);
    DIR *d = dir ? opendir(dir) : NULL;
    struct dirent *de;
    gl_fn_set_t *s = gl_reg_set(r, latest->cfg.name, 1);
    unsigned next = 1;

    if (!s) {
        gl_log_error("registry: out of memory loading the versions of %s", latest->cfg.name);
        goto out;
    }
    while (d && (de = readdir(d))) {
        const char *e = de->d_name;
        char *path;
        if (e[0] == '.')
            continue;
        if (!(path = gl_path_join(dir, e)))
            continue;
        size_t len = strlen(e);
        if (strstr(e, ".tmp")) {
            gl_log_info("registry: removing stale %s", path);
            unlink(path);
        } else if (strcmp(e, GL_REG_NEXT_FILE) == 0) {
            gl_buf_t buf = {0};
            json_t *j = NULL;
            if (gl_read_file(path, 4096, &buf) == 0)
                j = json_loadb(buf.data, buf.len, 0, NULL);
            json_t *n = json_object_get(j, "NextVersion");
            if (json_is_integer(n) && json_integer_value(n) >= 1 &&
                json_integer_value(n) <= VERSION_MAX)
                next =
                    next > (unsigned)json_integer_value(n) ? next : (unsigned)json_integer_value(n);
            else
                gl_log_warn("registry: ignoring %s: no valid NextVersion", path);
            json_decref(j);
            gl_buf_free(&buf);
        } else if (len > 5 && strcmp(e + len - 5, ".json") == 0) {
            char stem[16];
            unsigned num = 0;
            if (len - 5 < sizeof(stem)) {
                memcpy(stem, e, len - 5);
                stem[len - 5] = '\0';
                num = parse_version(stem);
            }
            if (!num)
                gl_log_warn("registry: skipping %s: not a version file", path);
            else {
                /* Even a corrupt file's number is burnt: publishing never overwrites it. */
                load_version(r, s, fn_dir, path, num);
                if (num >= next)
                    next = num + 1;
            }
        } else {
            gl_log_warn("registry: ignoring unexpected %s", path);
        }
        free(path);
    }
    /* A number seen on a version file is never handed out again, whatever next.json said. */
    for (size_t i = 0; i < s->nv; i++)
        if (s->versions[i].num >= next)
            next = s->versions[i].num + 1;
    s->next_version = next;
    gl_reg_load_aliases(r, s, fn_dir);
    gl_reg_load_concurrency(r, s, fn_dir);
    gl_reg_load_settings(r, s, fn_dir);
out:
    if (d)
        closedir(d);
    free(dir);
}

/* ---- publish and delete ---- */

int gl_registry_publish(gl_registry_t *r, const char *name, const char *code_sha256,
                        const char *revision_id, const char *description, gl_fn_t **out,
                        int *created, gl_aws_error_t *aerr)
{
    gl_fn_t *latest = gl_registry_find(r, name);
    gl_fn_config_t cfg = {0};
    gl_version_entry_t v = {0};
    gl_err_t err = {0};
    char arn[512], rev[GL_UUID_LEN + 1], ts[40], vname[16];
    int rc;

    *out = NULL;
    if (created)
        *created = 0;
    if (!latest) {
        gl_registry_fn_arn(r, name, NULL, arn, sizeof(arn));
        return gl_aws_error_set(aerr, GL_AWS_RESOURCE_NOT_FOUND, -ENOENT, "Function not found: %s",
                                arn);
    }
    if (revision_id && *revision_id &&
        (!latest->cfg.revision_id || strcmp(revision_id, latest->cfg.revision_id) != 0))
        return gl_aws_error_set(
            aerr, GL_AWS_PRECONDITION_FAILED, -EINVAL,
            "The Revision Id provided does not match the latest Revision Id. Call the "
            "GetFunction/GetAlias API to retrieve the latest Revision Id");
    if (code_sha256 && *code_sha256 &&
        strcmp(code_sha256, latest->cfg.code_sha256 ? latest->cfg.code_sha256 : "") != 0)
        return gl_aws_error_set(
            aerr, GL_AWS_INVALID_PARAMETER_VALUE, -EINVAL,
            "CodeSHA256 (%.64s) is different from current CodeSHA256 in $LATEST (%s). "
            "Please try again with the CodeSHA256 in $LATEST.",
            code_sha256, latest->cfg.code_sha256 ? latest->cfg.code_sha256 : "");
    gl_fn_set_t *s = gl_reg_set(r, latest->cfg.name, 1);
    if (!s)
        return gl_aws_error_set(aerr, GL_AWS_SERVICE, -ENOMEM, "out of memory");
    /* Lambda does not publish a version when nothing changed since the newest one. */
    if (s->nv) {
        gl_version_entry_t *last = &s->versions[s->nv - 1];
        if (latest->cfg.revision_id && strcmp(last->source_rev, latest->cfg.revision_id) == 0 &&
            (!description || strcmp(description, last->fn->cfg.description) == 0)) {
            *out = last->fn;
            return 0;
        }
    }
    if (s->next_version > VERSION_MAX)
        return gl_aws_error_set(aerr, GL_AWS_SERVICE, -EOVERFLOW, "too many versions");
    if (gl_fn_config_copy(&cfg, &latest->cfg) < 0)
        return gl_aws_error_set(aerr, GL_AWS_SERVICE, -ENOMEM, "out of memory");
    gl_uuid4(rev);
    gl_fmt_lambda_time(gl_now_ms(), ts, sizeof(ts));
    free(cfg.revision_id);
    free(cfg.last_modified);
    cfg.revision_id = strdup(rev);
    cfg.last_modified = strdup(ts);
    if (description) {
        free(cfg.description);
        cfg.description = strdup(description);
    }
    v.num = s->next_version;
    snprintf(vname, sizeof(vname), "%u", v.num);
    if (!cfg.revision_id || !cfg.last_modified || !cfg.description ||
        !(v.source_rev = strdup(latest->cfg.revision_id ? latest->cfg.revision_id : "")) ||
        !(v.fn = gl_fn_new(&cfg, NULL, latest->from_template))) {
        rc = gl_aws_error_set(aerr, GL_AWS_SERVICE, -ENOMEM, "out of memory");
        goto fail;
    }
    free(v.fn->version);
    if (!(v.fn->version = strdup(vname))) {
        rc = gl_aws_error_set(aerr, GL_AWS_SERVICE, -ENOMEM, "out of memory");
        goto fail;
    }
    if (!s->from_template && ((rc = write_next(r, s->name, v.num + 1, &err)) < 0 ||
                              (rc = write_version(r, &v, &err)) < 0)) {
        gl_log_error("registry: publishing %s: %s", s->name, err.msg);
        rc = gl_aws_error_set(aerr, GL_AWS_SERVICE, rc, "Could not store the version: %s", err.msg);
        goto fail;
    }
    s->next_version = v.num + 1; /* burnt even if the insert below fails */
    if (insert_version(s, &v) < 0) {
        char *p = version_path(r, s->name, v.num);
        if (p && !s->from_template)
            unlink(p);
        free(p);
        rc = gl_aws_error_set(aerr, GL_AWS_SERVICE, -ENOMEM, "out of memory");
        goto fail;
    }
    *out = v.fn;
    if (created)
        *created = 1;
    return 0;
fail:
    if (v.fn)
        gl_fn_unref(v.fn); /* never current: its code directory is $LATEST's, not touched */
    free(v.source_rev);
    gl_fn_config_free(&cfg);
    return rc;
}

int gl_registry_delete_version(gl_registry_t *r, const char *name, const char *version,
                               gl_aws_error_t *aerr)
{
    gl_fn_t *latest = gl_registry_find(r, name);
    gl_fn_set_t *s = latest ? gl_reg_set(r, latest->cfg.name, 0) : NULL;
    gl_version_entry_t *v = gl_reg_find_version(s, version);
    char arn[512], list[1024];
    size_t off = 0;

    if (!latest || !v) {
        gl_registry_fn_arn(r, latest ? latest->cfg.name : name, latest ? version : NULL, arn,
                           sizeof(arn));
        return gl_aws_error_set(aerr, GL_AWS_RESOURCE_NOT_FOUND, -ENOENT, "Function not found: %s",
                                arn);
    }
    list[0] = '\0';
    for (size_t i = 0; i < s->na; i++) {
        const gl_alias_t *a = s->aliases[i];
        if (strcmp(a->function_version, v->fn->version) == 0 ||
            (a->extra_version && strcmp(a->extra_version, v->fn->version) == 0)) {
            int w = snprintf(list + off, sizeof(list) - off, "%s%s", off ? ", " : "", a->name);
            if (w > 0 && (size_t)w < sizeof(list) - off)
                off += (size_t)w;
        }
    }
    if (off)
        return gl_aws_error_set(
            aerr, GL_AWS_RESOURCE_CONFLICT, -EBUSY,
            "Unable to delete version because the following aliases reference it: [%s]", list);
    if (!s->from_template) {
        char *p = version_path(r, s->name, v->num);
        if (!p)
            return gl_aws_error_set(aerr, GL_AWS_SERVICE, -ENOMEM, "out of memory");
        if (unlink(p) < 0 && errno != ENOENT) {
            int e = errno;
            gl_log_error("registry: remove %s: %s", p, strerror(e));
            free(p);
            return gl_aws_error_set(aerr, GL_AWS_SERVICE, -e, "Could not delete the version");
        }
        free(p);
    }
    gl_fn_t *fn = v->fn;
    free(v->source_rev);
    size_t pos = (size_t)(v - s->versions);
    memmove(s->versions + pos, s->versions + pos + 1, (s->nv - pos - 1) * sizeof(*v));
    s->nv--;
    gl_reg_retire(r, fn, NULL);
    return 0;
}
