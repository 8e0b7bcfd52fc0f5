/* SPDX-License-Identifier: MIT */
/*
 * reload.c: gl_reload_t, hot reload of template functions.
 *
 * Owns the gl_watch_t over the template functions' code directories and, per directory, the
 * names of the functions whose code it is (several functions may share one); a template
 * function's layer directory (its /opt, layers.h) is watched the same way. It holds no
 * reference on any snapshot: at each change it looks the functions up again in the registry
 * and recycles every current snapshot ($LATEST and published versions) whose code is that
 * directory, so what it recycles is always what the next invoke would run. Created
 * functions keep their code in the state dir, which no user edits: they are not watched.
 *
 * A function with several layers has a merged /opt (gl_layers_template_dir): each of its
 * layers' directories is watched instead, and a change in any of them merges them again
 * (remerge_t, on libuv's work queue: a layer may hold many files), swaps the new merge in
 * (gl_layers_remerge) and then recycles the function's snapshots. One merge per function runs
 * at a time; a change meanwhile runs it once more after. Every template layer's directory is
 * watched too, used by a function or not, and a change there has the registry walk it again
 * for its CodeSha256 (gl_layers_template_digest, off the loop). Owns the merges in flight: the
 * reloader is freed once its watcher has closed and the last merge has come back.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "galley/layers.h"
#include "galley/log.h"
#include "galley/watch.h"

/* The start-up line lists directories up to about this many bytes, then "...". */
#define SUMMARY_MAX 1536

typedef struct code_dir {
    char *path;
    char **names; /* FunctionName of each template function using it */
    size_t n;
} code_dir_t;

typedef struct remerge remerge_t;

struct gl_reload {
    gl_watch_t *watch;
    uv_loop_t *loop;
    remerge_t *merges; /* in flight */
    int closing, watch_closed;
    gl_registry_t *reg;
    gl_sched_t *sched;
    code_dir_t *dirs;
    size_t ndirs;
    unsigned long reloads;
    void (*on_closed)(void *arg);
    void *closed_arg;
};

static void free_dirs(gl_reload_t *r)
{
    for (size_t i = 0; i < r->ndirs; i++) {
        for (size_t j = 0; j < r->dirs[i].n; j++)
            free(r->dirs[i].names[j]);
        free(r->dirs[i].names);
        free(r->dirs[i].path);
    }
    free(r->dirs);
    r->dirs = NULL;
    r->ndirs = 0;
}

static code_dir_t *find_dir(gl_reload_t *r, const char *path)
{
    for (size_t i = 0; i < r->ndirs; i++)
        if (strcmp(r->dirs[i].path, path) == 0)
            return &r->dirs[i];
    return NULL;
}

static int add_name(gl_reload_t *r, const char *path, const char *name)
{
    code_dir_t *d = find_dir(r, path);
    if (!d) {
        code_dir_t *nd = realloc(r->dirs, (r->ndirs + 1) * sizeof(*nd));
        if (!nd)
            return -ENOMEM;
        r->dirs = nd;
        d = &r->dirs[r->ndirs];
        memset(d, 0, sizeof(*d));
        if (!(d->path = strdup(path)))
            return -ENOMEM;
        r->ndirs++;
    }
    if (!name) /* a template layer's directory, watched for its digest alone */
        return 0;
    char **nn = realloc(d->names, (d->n + 1) * sizeof(*nn));
    if (!nn)
        return -ENOMEM;
    d->names = nn;
    if (!(d->names[d->n] = strdup(name)))
        return -ENOMEM;
    d->n++;
    return 0;
}

static unsigned recycle_function(gl_reload_t *r, const char *name, const char *dir)
{
    gl_fn_t **fns = NULL;
    size_t n = 0;
    unsigned envs = 0;
    if (gl_registry_list_versions(r->reg, name, &fns, &n) < 0)
        return 0; /* gone */
    for (size_t i = 0; i < n; i++)
        if ((fns[i]->cfg.code_dir && strcmp(fns[i]->cfg.code_dir, dir) == 0) ||
            (fns[i]->cfg.opt_dir && strcmp(fns[i]->cfg.opt_dir, dir) == 0))
            envs += gl_sched_recycle(r->sched, fns[i]);
    free(fns);
    return envs;
}

/* ---- several layers: merged again off the loop ---- */

struct remerge {
    uv_work_t work;
    gl_reload_t *r;
    remerge_t *next;      /* r->merges */
    char *name;           /* the function */
    char *dest;           /* its merged /opt */
    char *dirs[GL_LAYERS_MAX * 4];
    size_t n;
    char what[512];       /* for the log line */
    int again;            /* another change came during the merge */
    int rc;
    gl_err_t err;
};

static void remerge_free(remerge_t *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->dirs[i]);
    free(m->name);
    free(m->dest);
    free(m);
}

static void reload_free(gl_reload_t *r);

static void on_remerge_work(uv_work_t *w)
{
    remerge_t *m = w->data;
    m->rc = gl_layers_remerge((const char *const *)m->dirs, m->n, m->dest, &m->err);
}

static int remerge_queue(remerge_t *m);

static void on_remerged(uv_work_t *w, int status)
{
    remerge_t *m = w->data;
    gl_reload_t *r = m->r;
    if (!r->closing && status == 0) {
        if (m->rc < 0)
            gl_log_error("hot reload: %s: merging its layers again: %s", m->name, m->err.msg);
        unsigned envs = m->rc < 0 ? 0 : recycle_function(r, m->name, m->dest);
        r->reloads++;
        gl_log_info("reloading %s: %s changed", m->name, m->what);
        gl_log_debug("hot reload: %s: %u environment(s) retired", m->name, envs);
        if (m->again && remerge_queue(m) == 0)
            return;
    }
    for (remerge_t **p = &r->merges; *p; p = &(*p)->next)
        if (*p == m) {
            *p = m->next;
            break;
        }
    remerge_free(m);
    if (r->closing && r->watch_closed && !r->merges)
        reload_free(r);
}

static int remerge_queue(remerge_t *m)
{
    m->again = 0;
    m->work.data = m;
    return uv_queue_work(m->r->loop, &m->work, on_remerge_work, on_remerged);
}

/* Merge name's layers again (a change in root); 1 when that is its way to reload (it has
 * several template layers), 0 when a plain recycle does. */
static int remerge(gl_reload_t *r, const char *name, const char *root, const char *what)
{
    gl_fn_t *fn = gl_registry_find(r->reg, name);
    json_t *srcs = fn && fn->cfg.opt_dir ? gl_layers_template_sources(r->reg, &fn->cfg) : NULL;
    size_t n = json_array_size(srcs);
    remerge_t *m;
    if (n < 2) {
        json_decref(srcs);
        return 0;
    }
    for (m = r->merges; m; m = m->next)
        if (!strcmp(m->name, name)) { /* running: once more when it is back */
            m->again = 1;
            snprintf(m->what, sizeof(m->what), "layer %s: %s", root, what);
            json_decref(srcs);
            return 1;
        }
    int ok = 0;
    if ((m = calloc(1, sizeof(*m)))) {
        m->r = r;
        m->name = strdup(name);
        m->dest = strdup(fn->cfg.opt_dir);
        snprintf(m->what, sizeof(m->what), "layer %s: %s", root, what);
        for (size_t i = 0; i < n && i < sizeof(m->dirs) / sizeof(m->dirs[0]); i++)
            if ((m->dirs[m->n] = strdup(json_string_value(json_array_get(srcs, i)))))
                m->n++;
        ok = m->name && m->dest && m->n == n && remerge_queue(m) == 0;
    }
    if (ok) {
        m->next = r->merges;
        r->merges = m;
    } else {
        if (m)
            remerge_free(m);
        gl_log_error("hot reload: %s: cannot merge its layers again; restart galley to see the "
                     "change",
                     name);
    }
    json_decref(srcs);
    return 1;
}

static void on_change(const char *root, const char *what, unsigned others, void *data)
{
    gl_reload_t *r = data;
    code_dir_t *d = find_dir(r, root);
    if (!d)
        return;
    gl_layers_template_digest(r->reg, r->loop, root, what); /* CodeSha256 follows, off the loop */
    for (size_t i = 0; i < d->n; i++) {
        if (remerge(r, d->names[i], root, what))
            continue;
        unsigned envs = recycle_function(r, d->names[i], root);
        r->reloads++;
        if (others)
            gl_log_info("reloading %s: %s and %u other path%s changed", d->names[i], what,
                        others, others == 1 ? "" : "s");
        else
            gl_log_info("reloading %s: %s changed", d->names[i], what);
        gl_log_debug("hot reload: %s: %u environment(s) retired", d->names[i], envs);
    }
}

static void log_summary(gl_reload_t *r, const unsigned *counts)
{
    char line[SUMMARY_MAX + 64];
    size_t len = 0, watched = 0, total = 0;
    for (size_t i = 0; i < r->ndirs; i++) {
        if (!counts[i])
            continue;
        watched++;
        total += counts[i];
    }
    line[0] = '\0';
    for (size_t i = 0; i < r->ndirs && len < SUMMARY_MAX; i++) {
        if (!counts[i])
            continue;
        int k = snprintf(line + len, sizeof(line) - len, "%s%s (%u director%s, %zu function%s)",
                         len ? ", " : "", r->dirs[i].path, counts[i],
                         counts[i] == 1 ? "y" : "ies", r->dirs[i].n, r->dirs[i].n == 1 ? "" : "s");
        if (k < 0 || (size_t)k >= sizeof(line) - len)
            break;
        len += (size_t)k;
    }
    if (len >= SUMMARY_MAX)
        snprintf(line + SUMMARY_MAX, sizeof(line) - SUMMARY_MAX, "...");
    if (watched)
        gl_log_info("hot reload: watching %zu code director%s (%zu directories in all): %s",
                    watched, watched == 1 ? "y" : "ies", total, line);
    else
        gl_log_info("hot reload: no template function code to watch");
}

/* A function's /opt: one layer is its directory, watched as it is; several are merged, and
 * each of their directories is watched instead (remerge). */
static int add_layers(gl_reload_t *r, const gl_fn_t *fn)
{
    json_t *srcs = fn->cfg.opt_dir ? gl_layers_template_sources(r->reg, &fn->cfg) : NULL;
    int rc = 0;
    if (json_array_size(srcs) > 1) {
        for (size_t i = 0; rc == 0 && i < json_array_size(srcs); i++)
            rc = add_name(r, json_string_value(json_array_get(srcs, i)), fn->cfg.name);
    } else if (fn->cfg.opt_dir) {
        rc = add_name(r, fn->cfg.opt_dir, fn->cfg.name);
    }
    json_decref(srcs);
    return rc;
}

/* Every template layer's directory, also one no template function uses: a change there
 * walks it again for the CodeSha256 GetLayerVersion shows. */
static int add_template_layers(gl_reload_t *r)
{
    json_t *dirs = gl_layer_template_dirs(r->reg);
    int rc = dirs ? 0 : -ENOMEM;
    for (size_t i = 0; rc == 0 && i < json_array_size(dirs); i++)
        rc = add_name(r, json_string_value(json_array_get(dirs, i)), NULL);
    json_decref(dirs);
    return rc;
}

int gl_reload_start(gl_reload_t **out, uv_loop_t *loop, gl_registry_t *reg, gl_sched_t *sched,
                    const gl_watch_opts_t *opts, gl_err_t *err)
{
    gl_fn_t **fns = NULL;
    size_t n = 0;
    unsigned *counts = NULL;
    int rc;

    *out = NULL;
    gl_reload_t *r = calloc(1, sizeof(*r));
    if (!r)
        return gl_err_set(err, ENOMEM, "out of memory");
    r->reg = reg;
    r->sched = sched;
    r->loop = loop;
    if ((rc = gl_registry_list(reg, &fns, &n)) < 0) {
        rc = gl_err_set(err, -rc, "listing functions");
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        if (!fns[i]->from_template || !fns[i]->cfg.code_dir)
            continue;
        if ((rc = add_name(r, fns[i]->cfg.code_dir, fns[i]->cfg.name)) < 0 ||
            (rc = add_layers(r, fns[i])) < 0) {
            rc = gl_err_set(err, ENOMEM, "out of memory");
            goto fail;
        }
    }
    if ((rc = add_template_layers(r)) < 0) {
        rc = gl_err_set(err, ENOMEM, "out of memory");
        goto fail;
    }
    gl_watch_opts_t wopts = {0};
    if (opts)
        wopts = *opts;
    wopts.on_change = on_change;
    wopts.data = r;
    if ((rc = gl_watch_new(&r->watch, loop, &wopts)) < 0) {
        rc = gl_err_set(err, -rc, "out of memory");
        goto fail;
    }
    if (r->ndirs && !(counts = calloc(r->ndirs, sizeof(*counts)))) {
        rc = gl_err_set(err, ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < r->ndirs; i++) {
        gl_err_t werr = {0};
        int got = gl_watch_add(r->watch, r->dirs[i].path, &werr);
        if (got < 0)
            gl_log_warn("hot reload: %s: %s", r->dirs[i].path, werr.msg);
        else
            counts[i] = (unsigned)got;
    }
    log_summary(r, counts);
    free(counts);
    free(fns);
    *out = r;
    return 0;

fail:
    free(counts);
    free(fns);
    free_dirs(r);
    if (r->watch)
        gl_watch_close(r->watch, NULL, NULL); /* holds no handle yet: freed now */
    free(r);
    return rc;
}

unsigned long gl_reload_count(const gl_reload_t *r)
{
    return r ? r->reloads : 0;
}

static void reload_free(gl_reload_t *r)
{
    void (*cb)(void *) = r->on_closed;
    void *cb_arg = r->closed_arg;
    free_dirs(r);
    free(r);
    if (cb)
        cb(cb_arg);
}

static void on_watch_closed(void *arg)
{
    gl_reload_t *r = arg;
    r->watch_closed = 1;
    if (!r->merges)
        reload_free(r);
    /* else the last merge's after-work callback frees it */
}

void gl_reload_close(gl_reload_t *r, void (*on_closed)(void *arg), void *arg)
{
    if (!r) {
        if (on_closed)
            on_closed(arg);
        return;
    }
    r->on_closed = on_closed;
    r->closed_arg = arg;
    r->closing = 1;
    for (remerge_t *m = r->merges; m; m = m->next)
        uv_cancel((uv_req_t *)&m->work); /* one already merging finishes first */
    gl_watch_close(r->watch, on_watch_closed, r);
}
