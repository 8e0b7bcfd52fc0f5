/* SPDX-License-Identifier: MIT */
/*
 * registry.c: gl_registry_t, every function the daemon knows, and its state dir.
 *
 * Owns one reference on each current snapshot, kept in an array sorted by FunctionName
 * (gl_registry_find is a binary search: no allocation on the invoke path) and, for template
 * functions, a second array sorted by logical id. Created functions live under
 * <state>/functions/<name>/: function.json (fnjson.c), code-<revision>/ and
 * code-<revision>.zip, plus versions/ and aliases/ (versions.c, aliases.c). Replacing or
 * removing a snapshot marks the old code directory for deletion when no current snapshot
 * ($LATEST or a published version) uses it any more, then calls the listener, so the
 * directory disappears only when the last invoke or environment using it lets go.
 * The registry is used from the event loop thread only.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "galley/layers.h"
#include "galley/log.h"
#include "galley/registry.h"
#include "galley/util.h"
#include "internal.h"

#define STATE_FILE GL_REG_STATE_FILE
#define STATE_MAX_BYTES GL_REG_STATE_MAX_BYTES

/* ---- sorted arrays ---- */

static const char *name_key(const gl_fn_t *fn)
{
    return fn->cfg.name;
}

static const char *lid_key(const gl_fn_t *fn)
{
    return fn->logical_id;
}

/* Index of the first element whose key is >= key. */
static size_t lower_bound(gl_fn_t *const *a, size_t n, const char *key,
                          const char *(*get)(const gl_fn_t *))
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(get(a[mid]), key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static gl_fn_t *lookup(gl_fn_t *const *a, size_t n, const char *key,
                       const char *(*get)(const gl_fn_t *), size_t *pos)
{
    size_t i = lower_bound(a, n, key, get);
    if (pos)
        *pos = i;
    return i < n && strcmp(get(a[i]), key) == 0 ? a[i] : NULL;
}

static int insert_at(gl_fn_t ***a, size_t *n, size_t *cap, size_t pos, gl_fn_t *fn)
{
    if (*n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        gl_fn_t **na = realloc(*a, ncap * sizeof(*na));
        if (!na)
            return -ENOMEM;
        *a = na;
        *cap = ncap;
    }
    memmove(*a + pos + 1, *a + pos, (*n - pos) * sizeof(**a));
    (*a)[pos] = fn;
    (*n)++;
    return 0;
}

static void remove_at(gl_fn_t **a, size_t *n, size_t pos)
{
    memmove(a + pos, a + pos + 1, (*n - pos - 1) * sizeof(*a));
    (*n)--;
}

/* ---- paths ---- */

char *gl_registry_fn_dir(const gl_registry_t *r, const char *name)
{
    return gl_path_join(r->fns_dir, name);
}

char *gl_registry_new_code_dir(const gl_registry_t *r, const char *name, const char *revision_id)
{
    char base[GL_UUID_LEN + 64];
    char *dir = gl_registry_fn_dir(r, name);
    if (!dir)
        return NULL;
    snprintf(base, sizeof(base), "code-%s", revision_id);
    char *out = gl_path_join(dir, base);
    free(dir);
    return out;
}

char *gl_registry_code_zip_path(const char *code_dir)
{
    size_t len = strlen(code_dir);
    char *p = malloc(len + 5);
    if (p)
        snprintf(p, len + 5, "%s.zip", code_dir);
    return p;
}

void gl_registry_fn_arn(const gl_registry_t *r, const char *name, const char *qualifier, char *out,
                        size_t outlen)
{
    snprintf(out, outlen, "arn:aws:lambda:%s:%s:function:%s%s%s", r->region, r->account, name,
             qualifier && *qualifier ? ":" : "", qualifier && *qualifier ? qualifier : "");
}

const char *gl_registry_region(const gl_registry_t *r)
{
    return r->region;
}

const char *gl_registry_account(const gl_registry_t *r)
{
    return r->account;
}

/* ---- loading ---- */

static int name_chars_ok(const char *s)
{
    size_t len = strlen(s);
    if (len == 0 || len > 64)
        return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_'))
            return 0;
    return 1;
}

static int has_suffix(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

/* Remove what a crash or a retired snapshot left in fn_dir: temporary files always, and code
 * directories or zips not named by the loaded configuration (keep_code NULL: everything but
 * function.json). */
static void sweep_fn_dir(gl_registry_t *r, const char *name, const char *fn_dir,
                         const char *keep_code)
{
    DIR *d = opendir(fn_dir);
    struct dirent *de;
    if (!d)
        return;
    while ((de = readdir(d))) {
        const char *e = de->d_name;
        if (strcmp(e, ".") == 0 || strcmp(e, "..") == 0)
            continue;
        int stale = has_suffix(e, ".tmp") || strstr(e, ".tmp") != NULL;
        if (!stale && (strcmp(e, STATE_FILE) == 0 || strcmp(e, GL_REG_VERSIONS_DIR) == 0 ||
                       strcmp(e, GL_REG_ALIASES_DIR) == 0 ||
                       strcmp(e, GL_REG_CONCURRENCY_FILE) == 0 ||
                       strcmp(e, GL_REG_SETTINGS_FILE) == 0))
            continue;
        if (!stale && keep_code && gl_reg_set_keeps(r, name, e))
            continue;
        if (!stale && keep_code) {
            size_t klen = strlen(keep_code);
            if (strcmp(e, keep_code) == 0 ||
                (strncmp(e, keep_code, klen) == 0 && strcmp(e + klen, ".zip") == 0))
                continue;
        }
        if (!stale && !keep_code)
            continue; /* a corrupt entry: keep its files for the user to inspect */
        char *p = gl_path_join(fn_dir, e);
        if (p) {
            gl_log_info("registry: removing stale %s", p);
            gl_rm_rf(p);
            free(p);
        }
    }
    closedir(d);
}

/* Load one <state>/functions/<entry>; a bad entry is logged and skipped. */
static void load_one(gl_registry_t *r, const char *entry)
{
    gl_buf_t buf = {0};
    json_error_t jerr;
    json_t *state = NULL;
    gl_fn_config_t cfg = {0};
    gl_err_t err = {0};
    struct stat st;
    char *fn_dir = gl_path_join(r->fns_dir, entry);
    char *state_path = fn_dir ? gl_path_join(fn_dir, STATE_FILE) : NULL;
    int rc;

    if (!state_path)
        goto out;
    if (lstat(fn_dir, &st) < 0 || !S_ISDIR(st.st_mode))
        goto out;
    rc = gl_read_file(state_path, STATE_MAX_BYTES, &buf);
    if (rc == -ENOENT) {
        /* Never completed (a crash between unpack and function.json) or deleted while its
         * code was still in use: nothing here is referenced any more. */
        gl_log_info("registry: removing %s (no %s)", fn_dir, STATE_FILE);
        gl_rm_rf(fn_dir);
        goto out;
    }
    if (rc < 0) {
        gl_log_warn("registry: skipping %s: cannot read: %s", state_path, strerror(-rc));
        goto out;
    }
    if (!(state = json_loadb(buf.data, buf.len, 0, &jerr))) {
        gl_log_warn("registry: skipping %s: corrupt JSON at line %d: %s", state_path, jerr.line,
                    jerr.text);
        sweep_fn_dir(r, entry, fn_dir, NULL);
        goto out;
    }
    if (gl_fn_config_from_state(state, fn_dir, &cfg, &err) < 0) {
        gl_log_warn("registry: skipping %s: %s", state_path, err.msg);
        sweep_fn_dir(r, entry, fn_dir, NULL);
        goto out;
    }
    if (strcmp(cfg.name, entry) != 0 || !name_chars_ok(cfg.name)) {
        gl_log_warn("registry: skipping %s: FunctionName '%s' does not match its directory",
                    state_path, cfg.name);
        goto out;
    }
    if (lstat(cfg.code_dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        gl_log_warn("registry: skipping %s: code directory %s is missing", state_path,
                    cfg.code_dir);
        goto out;
    }
    size_t pos;
    if (lookup(r->by_name, r->n, cfg.name, name_key, &pos))
        goto out; /* cannot happen: one directory per name */
    char *keep = strdup(strrchr(cfg.code_dir, '/') + 1);
    gl_fn_t *fn = keep ? gl_fn_new(&cfg, NULL, 0) : NULL;
    if (!fn || insert_at(&r->by_name, &r->n, &r->cap, pos, fn) < 0) {
        gl_log_error("registry: out of memory loading %s", fn_dir);
        gl_fn_unref(fn);
        free(keep);
        goto out;
    }
    /* Versions first: the sweep keeps the code directories they name. */
    gl_reg_load_versions(r, fn, fn_dir);
    sweep_fn_dir(r, entry, fn_dir, keep);
    free(keep);
out:
    gl_fn_config_free(&cfg);
    json_decref(state);
    gl_buf_free(&buf);
    free(state_path);
    free(fn_dir);
}

static int load_all(gl_registry_t *r, gl_err_t *err)
{
    DIR *d = opendir(r->fns_dir);
    struct dirent *de;
    if (!d)
        return gl_err_set(err, errno, "open %s", r->fns_dir);
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        load_one(r, de->d_name);
    }
    closedir(d);
    return 0;
}

int gl_registry_open(gl_registry_t **out, const gl_registry_opts_t *opts, gl_err_t *err)
{
    gl_registry_t *r = calloc(1, sizeof(*r));
    int rc;

    *out = NULL;
    if (!r)
        return gl_err_set(err, ENOMEM, "out of memory");
    r->state_dir = strdup(opts->state_dir);
    r->region = strdup(opts->region ? opts->region : "us-east-1");
    r->account = strdup(opts->account_id ? opts->account_id : "123456789012");
    r->fns_dir = r->state_dir ? gl_path_join(r->state_dir, "functions") : NULL;
    if (!r->state_dir || !r->region || !r->account || !r->fns_dir) {
        rc = gl_err_set(err, ENOMEM, "out of memory");
        goto fail;
    }
    if ((rc = gl_mkdir_p(r->fns_dir, 0755)) < 0) {
        rc = gl_err_set(err, -rc, "create state dir %s", r->fns_dir);
        goto fail;
    }
    if ((rc = load_all(r, err)) < 0)
        goto fail;
    gl_layers_gc(r); /* merged layers no function uses any more */
    gl_layer_trash_clear(r); /* deleted versions a crash left behind */
    *out = r;
    return 0;
fail:
    gl_registry_free(r);
    return rc;
}

void gl_registry_set_listener(gl_registry_t *r, const gl_registry_listener_t *l)
{
    if (l)
        r->listener = *l;
    else
        memset(&r->listener, 0, sizeof(r->listener));
}

void gl_registry_free(gl_registry_t *r)
{
    if (!r)
        return;
    gl_reg_free_sets(r);
    for (size_t i = 0; i < r->n; i++)
        gl_fn_unref(r->by_name[i]);
    free(r->by_name);
    free(r->by_lid);
    free(r->state_dir);
    free(r->fns_dir);
    free(r->region);
    free(r->account);
    gl_reg_digests_free(r);
    json_decref(r->tpl_layers);
    free(r);
}

/* ---- lookups ---- */

gl_fn_t *gl_registry_find(gl_registry_t *r, const char *name)
{
    gl_fn_t *fn = lookup(r->by_name, r->n, name, name_key, NULL);
    return fn ? fn : lookup(r->by_lid, r->nl, name, lid_key, NULL);
}

int gl_registry_list(gl_registry_t *r, gl_fn_t ***out, size_t *n)
{
    *out = malloc((r->n ? r->n : 1) * sizeof(**out));
    if (!*out)
        return -ENOMEM;
    if (r->n)
        memcpy(*out, r->by_name, r->n * sizeof(**out));
    *n = r->n;
    return 0;
}

/* ---- changes ---- */

int gl_registry_add_template(gl_registry_t *r, gl_fn_config_t *cfg, const char *logical_id,
                             gl_err_t *err)
{
    size_t pos, lpos = 0;
    if (!cfg->name)
        return gl_err_set(err, EINVAL, "template function without a name");
    if (lookup(r->by_name, r->n, cfg->name, name_key, &pos))
        return gl_err_set(err, EEXIST, "function %s is defined twice (template and state dir?)",
                          cfg->name);
    if (logical_id && lookup(r->by_lid, r->nl, logical_id, lid_key, &lpos))
        return gl_err_set(err, EEXIST, "template logical id %s is used twice", logical_id);
    if (logical_id && r->nl == r->capl) {
        /* Grow first so that the second insert below cannot fail half-way. */
        size_t ncap = r->capl ? r->capl * 2 : 16;
        gl_fn_t **na = realloc(r->by_lid, ncap * sizeof(*na));
        if (!na)
            return gl_err_set(err, ENOMEM, "out of memory");
        r->by_lid = na;
        r->capl = ncap;
    }
    gl_fn_t *fn = gl_fn_new(cfg, logical_id, 1);
    if (!fn)
        return gl_err_set(err, ENOMEM, "out of memory");
    if (insert_at(&r->by_name, &r->n, &r->cap, pos, fn) < 0) {
        *cfg = fn->cfg; /* give the configuration back: the caller still owns it */
        memset(&fn->cfg, 0, sizeof(fn->cfg));
        gl_fn_unref(fn);
        return gl_err_set(err, ENOMEM, "out of memory");
    }
    if (logical_id)
        insert_at(&r->by_lid, &r->nl, &r->capl, lpos, fn);
    return 0;
}

gl_fn_t *gl_reg_latest(gl_registry_t *r, const char *name)
{
    return lookup(r->by_name, r->n, name, name_key, NULL);
}

/* Hand a snapshot leaving the registry to the listener, then drop our reference. Its code
 * goes with it unless a current snapshot ($LATEST or a version) runs the same directory. */
void gl_reg_retire(gl_registry_t *r, gl_fn_t *old, gl_fn_t *replacement)
{
    if (!old->from_template &&
        (!old->cfg.code_dir || !gl_reg_code_dir_in_use(r, old->cfg.name, old->cfg.code_dir))) {
        old->remove_code_on_free = 1;
        /* The zip is only ever read for GetFunction of the current snapshot: delete it now. */
        char *zip = old->cfg.code_dir ? gl_registry_code_zip_path(old->cfg.code_dir) : NULL;
        if (zip)
            unlink(zip);
        free(zip);
    }
    if (r->listener.on_retire)
        r->listener.on_retire(old, replacement, r->listener.data);
    gl_fn_unref(old);
}

int gl_reg_write_json(const char *path, const json_t *j, gl_err_t *err)
{
    char *text = json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    int rc;
    if (!text)
        return gl_err_set(err, ENOMEM, "out of memory");
    if ((rc = gl_write_file_atomic(path, text, strlen(text))) < 0)
        rc = gl_err_set(err, -rc, "write %s", path);
    free(text);
    return rc;
}

json_t *gl_reg_read_json_object(const char *fn_dir, const char *file)
{
    char *path = gl_path_join(fn_dir, file);
    gl_buf_t buf = {0};
    json_t *j = NULL;
    if (path && gl_read_file(path, GL_REG_STATE_MAX_BYTES, &buf) == 0 &&
        (!(j = json_loadb(buf.data, buf.len, 0, NULL)) || !json_is_object(j))) {
        gl_log_warn("registry: ignoring %s: not a JSON object", path);
        json_decref(j);
        j = NULL;
    }
    gl_buf_free(&buf);
    free(path);
    return j;
}

static int persist(gl_registry_t *r, const gl_fn_config_t *cfg, gl_err_t *err)
{
    char *fn_dir = gl_registry_fn_dir(r, cfg->name);
    char *path = fn_dir ? gl_path_join(fn_dir, STATE_FILE) : NULL;
    char *text = NULL;
    json_t *state = NULL;
    int rc;

    if (!path) {
        rc = gl_err_set(err, ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = gl_mkdir_p(fn_dir, 0755)) < 0) {
        rc = gl_err_set(err, -rc, "create %s", fn_dir);
        goto out;
    }
    if (!(state = gl_fn_config_to_state(cfg, fn_dir))) {
        rc = gl_err_set(err, EINVAL, "code directory %s is not inside %s",
                        cfg->code_dir ? cfg->code_dir : "(none)", fn_dir);
        goto out;
    }
    if (!(text = json_dumps(state, JSON_INDENT(2) | JSON_PRESERVE_ORDER))) {
        rc = gl_err_set(err, ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = gl_write_file_atomic(path, text, strlen(text))) < 0)
        rc = gl_err_set(err, -rc, "write %s", path);
out:
    free(text);
    json_decref(state);
    free(path);
    free(fn_dir);
    return rc;
}

int gl_registry_put(gl_registry_t *r, gl_fn_config_t *cfg, gl_fn_t **out, gl_err_t *err)
{
    size_t pos;
    int rc;

    if (out)
        *out = NULL;
    if (!cfg->name || !name_chars_ok(cfg->name))
        return gl_err_set(err, EINVAL, "bad function name");
    gl_fn_t *old = lookup(r->by_name, r->n, cfg->name, name_key, &pos);
    if (old && old->from_template)
        return gl_err_set(err, EPERM, "function %s is defined by the template", cfg->name);
    if (!cfg->revision_id) {
        char id[GL_UUID_LEN + 1];
        gl_uuid4(id);
        if (!(cfg->revision_id = strdup(id)))
            return gl_err_set(err, ENOMEM, "out of memory");
    }
    if (!cfg->last_modified) {
        char ts[40];
        gl_fmt_lambda_time(gl_now_ms(), ts, sizeof(ts));
        if (!(cfg->last_modified = strdup(ts)))
            return gl_err_set(err, ENOMEM, "out of memory");
    }
    gl_fn_config_defaults(cfg);
    if (!cfg->description || !cfg->code_sha256)
        return gl_err_set(err, ENOMEM, "out of memory");

    /* Reserve the slot first: after function.json is written nothing may fail. */
    if (!old && r->n == r->cap) {
        size_t ncap = r->cap ? r->cap * 2 : 16;
        gl_fn_t **na = realloc(r->by_name, ncap * sizeof(*na));
        if (!na)
            return gl_err_set(err, ENOMEM, "out of memory");
        r->by_name = na;
        r->cap = ncap;
    }
    gl_fn_t *fn = gl_fn_new(cfg, NULL, 0);
    if (!fn)
        return gl_err_set(err, ENOMEM, "out of memory");
    if ((rc = persist(r, &fn->cfg, err)) < 0) {
        *cfg = fn->cfg; /* the caller keeps ownership on failure */
        memset(&fn->cfg, 0, sizeof(fn->cfg));
        gl_fn_unref(fn);
        return rc;
    }
    if (old) {
        r->by_name[pos] = fn;
        gl_reg_retire(r, old, fn);
    } else {
        insert_at(&r->by_name, &r->n, &r->cap, pos, fn);
    }
    if (out)
        *out = fn;
    return 0;
}

int gl_registry_remove(gl_registry_t *r, const char *name, gl_err_t *err)
{
    size_t pos;
    gl_fn_t *old = lookup(r->by_name, r->n, name, name_key, &pos);
    if (!old)
        return gl_err_set(err, ENOENT, "function %s not found", name);
    if (old->from_template)
        return gl_err_set(err, EPERM, "function %s is defined by the template", name);

    char *fn_dir = gl_registry_fn_dir(r, name);
    char *path = fn_dir ? gl_path_join(fn_dir, STATE_FILE) : NULL;
    if (!path) {
        free(fn_dir);
        return gl_err_set(err, ENOMEM, "out of memory");
    }
    if (unlink(path) < 0 && errno != ENOENT) {
        int rc = gl_err_set(err, errno, "remove %s", path);
        free(path);
        free(fn_dir);
        return rc;
    }
    remove_at(r->by_name, &r->n, pos);
    /* Versions first, with $LATEST already gone: every code directory is then unused. */
    gl_reg_drop_set(r, name);
    gl_reg_retire(r, old, NULL);
    char *sub = gl_path_join(fn_dir, GL_REG_VERSIONS_DIR);
    if (sub)
        gl_rm_rf(sub);
    free(sub);
    if ((sub = gl_path_join(fn_dir, GL_REG_ALIASES_DIR)))
        gl_rm_rf(sub);
    free(sub);
    /* Nothing of this function may come back with a new one of the same name. */
    static const char *const per_function[] = {GL_REG_CONCURRENCY_FILE, GL_REG_SETTINGS_FILE};
    for (size_t i = 0; i < sizeof(per_function) / sizeof(per_function[0]); i++) {
        if ((sub = gl_path_join(fn_dir, per_function[i])))
            unlink(sub);
        free(sub);
    }
    /* Empty once the last user of the code let go; otherwise the next open sweeps it. */
    rmdir(fn_dir);
    free(path);
    free(fn_dir);
    return 0;
}

int gl_reg_all_digits(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return 0;
    return 1;
}
