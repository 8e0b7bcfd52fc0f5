/* SPDX-License-Identifier: MIT */
/*
 * layer_digest.c: the CodeSize and CodeSha256 of a served template's layers, computed off the
 * loop and cached. There is no zip, so CodeSize is the bytes of the directory's regular files
 * (as UnpackedSize) and CodeSha256 the base64 SHA-256 of its listing (each file's and link's
 * relative path, size and modification time, sorted): it changes whenever the content does.
 * Walking a directory of tens of thousands of files takes tens of milliseconds, so the walk
 * runs on libuv's work queue: once per template load (gl_layers_template_digest with no
 * directory) and again whenever hot reload sees a layer's directory change (with that
 * directory). The result goes into the layer's record in r->tpl_layers (layer_template.c),
 * which every later call reads as it is.
 *
 * Owns r->tpl_digests: per template layer, a generation (bumped at each change), the walk in
 * flight (job_t, at most one: a change during a walk makes it walk once more when it is back)
 * and the callers waiting for it. Until the walk of the newest generation is back a call that
 * shows the digest waits for it (gl_layer_template_wait: the api module queues its reply),
 * so an answer never shows the digest of content known to have changed; listings, which do
 * not show it, never wait. Chosen over computing on demand: one walk per change, however
 * many clients poll. A walk that fails (out of memory) leaves the values it had.
 *
 * Invariant: d->job is set exactly while a walk of d's directory is queued or running; a job
 * whose layer the registry forgot (template replaced, registry freed) has job->d NULL and
 * only frees itself when back.
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

typedef struct job job_t;

struct gl_layer_waiter {
    gl_layer_waiter_t *next;
    void (*cb)(void *arg);
    void *arg;
};

struct gl_reg_tpl_digest {
    gl_reg_tpl_digest_t *next; /* r->tpl_digests */
    gl_registry_t *r;
    char *name, *dir;
    unsigned gen;   /* bumped by each change seen */
    job_t *job;     /* the walk in flight, NULL when none */
    gl_layer_waiter_t *waiters;
};

struct job {
    uv_work_t work;
    uv_loop_t *loop;
    gl_reg_tpl_digest_t *d; /* NULL once the registry forgot the layer */
    char *dir;
    unsigned gen; /* of d when the walk started */
    int rc;
    char sha[45];
    uint64_t bytes;
    size_t entries; /* files and links walked */
};

/* ---- the walk (work queue threads) ---- */

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
    char **grown = gl_grow(walk.lines, &walk.cap, walk.n + 1, sizeof(*grown));
    if (!grown) {
        walk.failed = 1;
        return 1;
    }
    walk.lines = grown;
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

/* The digest and size of dir's content (module comment), and how many entries it listed.
 * -ENOMEM, or 0. */
static int digest(const char *dir, char sha[45], uint64_t *bytes, size_t *entries)
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
    *entries = walk.n;
    int rc = f ? 0 : -ENOMEM;
    memset(&walk, 0, sizeof(walk));
    return rc;
}

static void on_work(uv_work_t *w)
{
    job_t *j = w->data;
    j->rc = digest(j->dir, j->sha, &j->bytes, &j->entries);
}

/* ---- the cache (loop thread) ---- */

/* The walk is over for good: whoever waited answers now, with what the record holds. One at a
 * time off the list, so a caller that leaves while another is answered is still found by
 * gl_layer_template_unwait; a new walk started meanwhile keeps the rest waiting for it. */
static void wake(gl_reg_tpl_digest_t *d)
{
    gl_layer_waiter_t *w;
    while (!d->job && (w = d->waiters)) {
        d->waiters = w->next;
        w->cb(w->arg);
        free(w);
    }
}

static void job_free(job_t *j)
{
    free(j->dir);
    free(j);
}

static void on_done(uv_work_t *w, int status);

static int job_queue(job_t *j)
{
    j->gen = j->d->gen;
    j->rc = 0;
    j->work.data = j;
    return uv_queue_work(j->loop, &j->work, on_work, on_done);
}

/* Into the layer's record in r->tpl_layers, which gl_layer_template_record copies. */
static void store(gl_reg_tpl_digest_t *d, const job_t *j)
{
    json_t *l = json_object_get(d->r->tpl_layers, d->name);
    if (!l)
        return;
    json_object_set_new(l, "CodeSha256", json_string(j->sha));
    json_object_set_new(l, "CodeSize", json_integer((json_int_t)j->bytes));
}

static void on_done(uv_work_t *w, int status)
{
    job_t *j = w->data;
    gl_reg_tpl_digest_t *d = j->d;
    if (!d) {
        job_free(j);
        return;
    }
    if (status == 0 && j->gen != d->gen && job_queue(j) == 0)
        return; /* changed during the walk: once more */
    d->job = NULL;
    if (status == 0 && j->rc == 0) {
        store(d, j);
        gl_log_debug("layer %s: CodeSha256 of %zu entries (%llu bytes) walked", d->name,
                     j->entries, (unsigned long long)j->bytes);
    } else
        gl_log_error("layer %s: CodeSha256 of %s: %s", d->name, d->dir,
                     strerror(status < 0 ? -status : -j->rc));
    job_free(j);
    wake(d);
}

/* Walk d's directory again: a change (or the first look) makes a new generation. */
static int start(gl_reg_tpl_digest_t *d, uv_loop_t *loop)
{
    d->gen++;
    if (d->job)
        return 0; /* back with an older generation: on_done walks again */
    job_t *j = calloc(1, sizeof(*j));
    if (!j || !(j->dir = strdup(d->dir))) {
        free(j);
        return -ENOMEM;
    }
    j->loop = loop;
    j->d = d;
    int rc = job_queue(j);
    if (rc < 0) {
        job_free(j);
        return rc;
    }
    d->job = j;
    return 0;
}

int gl_layers_template_digest(gl_registry_t *r, uv_loop_t *loop, const char *dir,
                              const char *what)
{
    int n = 0;
    for (gl_reg_tpl_digest_t *d = r->tpl_digests; d; d = d->next) {
        if (dir && strcmp(d->dir, dir) != 0)
            continue;
        int rc = start(d, loop);
        if (rc < 0)
            gl_log_error("layer %s: cannot compute its CodeSha256 again: %s", d->name,
                         strerror(-rc));
        else if (what)
            gl_log_info("reloading layer %s: %s changed", d->name, what);
        n++;
    }
    return n;
}

static gl_reg_tpl_digest_t *find(gl_registry_t *r, const char *name)
{
    for (gl_reg_tpl_digest_t *d = r->tpl_digests; d; d = d->next)
        if (strcmp(d->name, name) == 0)
            return d;
    return NULL;
}

int gl_layer_template_wait(gl_registry_t *r, const char *name, void (*cb)(void *arg), void *arg,
                           gl_layer_waiter_t **out)
{
    gl_reg_tpl_digest_t *d = find(r, name);
    *out = NULL;
    if (!d || !d->job)
        return 0;
    gl_layer_waiter_t *w = calloc(1, sizeof(*w)), **tail = &d->waiters;
    if (!w)
        return -ENOMEM;
    w->cb = cb;
    w->arg = arg;
    while (*tail) /* in arrival order */
        tail = &(*tail)->next;
    *tail = w;
    *out = w;
    return 1;
}

void gl_layer_template_unwait(gl_registry_t *r, gl_layer_waiter_t *w)
{
    for (gl_reg_tpl_digest_t *d = r->tpl_digests; d; d = d->next)
        for (gl_layer_waiter_t **p = &d->waiters; *p; p = &(*p)->next)
            if (*p == w) {
                *p = w->next;
                free(w);
                return;
            }
}

void gl_reg_digests_free(gl_registry_t *r)
{
    gl_reg_tpl_digest_t *d = r->tpl_digests;
    r->tpl_digests = NULL;
    while (d) {
        gl_reg_tpl_digest_t *next = d->next;
        if (d->job)
            d->job->d = NULL; /* it frees itself when back */
        for (gl_layer_waiter_t *w = d->waiters, *wn; w; w = wn) {
            wn = w->next;
            free(w);
        }
        free(d->name);
        free(d->dir);
        free(d);
        d = next;
    }
}

int gl_reg_digests_reset(gl_registry_t *r)
{
    const char *name;
    json_t *l;
    gl_reg_digests_free(r);
    json_object_foreach(r->tpl_layers, name, l)
    {
        const char *dir = json_string_value(json_object_get(l, "Dir"));
        gl_reg_tpl_digest_t *d = dir ? calloc(1, sizeof(*d)) : NULL;
        if (!dir)
            continue;
        if (!d || !(d->name = strdup(name)) || !(d->dir = strdup(dir))) {
            if (d)
                free(d->name);
            free(d);
            return -ENOMEM;
        }
        d->r = r;
        d->next = r->tpl_digests;
        r->tpl_digests = d;
    }
    return 0;
}
