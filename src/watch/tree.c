/* SPDX-License-Identifier: MIT */
/*
 * tree.c: gl_watch_t, directory trees watched with libuv file events and debounced.
 *
 * Owns one root per tree added (its path, a uv_timer_t for the debounce, the state of the
 * burst being collected) and one uv_fs_event_t per watched directory (wdir_t, allocated on its
 * own because libuv keeps pointers to the handle). inotify watches a single directory, so a
 * tree is walked breadth first at add time and every directory created later is walked when
 * its parent reports it; a directory that disappears (deleted, renamed away, replaced by a
 * file) has its watcher and those below it closed. Each root counts at most max_dirs watchers.
 *
 * Invariant: open_handles counts every handle initialized and not yet through its close
 * callback; once closing is set and it reaches zero, every root is freed with the watcher.
 * A wdir_t is freed only in its close callback, never while libuv may still report on it.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "galley/log.h"
#include "galley/util.h"
#include "galley/watch.h"

/* Distinct paths remembered per burst, only to say "and N other paths" in the log. */
#define SEEN_MAX 32

typedef struct wroot wroot_t;

typedef struct wdir {
    uv_fs_event_t ev;
    wroot_t *root;
    char *path; /* absolute; owned */
} wdir_t;

struct wroot {
    wroot_t *next;
    gl_watch_t *w;
    char *path;
    size_t path_len;
    wdir_t **dirs; /* the directories watched now */
    unsigned ndirs, cap;
    int warned_full, warned_failed;
    uv_timer_t timer;
    /* the burst being collected */
    uint64_t burst_start; /* loop time of its first event; 0: no burst */
    char *last;           /* its last changed path, relative to path */
    char *seen[SEEN_MAX];
    unsigned nseen, unseen;
};

struct gl_watch {
    uv_loop_t *loop;
    gl_watch_opts_t opts;
    wroot_t *roots;
    unsigned open_handles;
    int closing;
    void (*on_closed)(void *arg);
    void *closed_arg;
};

static int has_suffix(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

int gl_watch_ignored(const char *name)
{
    size_t n = strlen(name);
    static const char *const suffixes[] = {".pyc", ".pyo", ".swp", ".swo", ".swx", "~",
                                           "___jb_tmp___", "___jb_old___"};
    if (n == 0 || strcmp(name, "__pycache__") == 0 || strcmp(name, ".git") == 0)
        return 1;
    if (strncmp(name, ".#", 2) == 0)              /* Emacs lock link */
        return 1;
    if (n >= 2 && name[0] == '#' && name[n - 1] == '#') /* Emacs auto-save */
        return 1;
    for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++)
        if (has_suffix(name, n, suffixes[i]))
            return 1;
    return 0;
}

int gl_watch_new(gl_watch_t **out, uv_loop_t *loop, const gl_watch_opts_t *opts)
{
    gl_watch_t *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->loop = loop;
    if (opts)
        w->opts = *opts;
    if (!w->opts.debounce_ms)
        w->opts.debounce_ms = GL_WATCH_DEBOUNCE_MS;
    if (!w->opts.max_delay_ms)
        w->opts.max_delay_ms = GL_WATCH_MAX_DELAY_MS;
    if (w->opts.max_delay_ms < w->opts.debounce_ms)
        w->opts.max_delay_ms = w->opts.debounce_ms;
    if (!w->opts.max_dirs)
        w->opts.max_dirs = GL_WATCH_MAX_DIRS;
    *out = w;
    return 0;
}

static void free_burst(wroot_t *r)
{
    for (unsigned i = 0; i < r->nseen; i++)
        free(r->seen[i]);
    r->nseen = r->unseen = 0;
    free(r->last);
    r->last = NULL;
    r->burst_start = 0;
}

static void maybe_finish(gl_watch_t *w)
{
    if (!w->closing || w->open_handles)
        return;
    for (wroot_t *r = w->roots, *next; r; r = next) {
        next = r->next;
        free_burst(r);
        free(r->dirs);
        free(r->path);
        free(r);
    }
    void (*cb)(void *) = w->on_closed;
    void *arg = w->closed_arg;
    free(w);
    if (cb)
        cb(arg);
}

static void on_dir_closed(uv_handle_t *h)
{
    wdir_t *d = h->data;
    gl_watch_t *w = d->root->w;
    free(d->path);
    free(d);
    w->open_handles--;
    maybe_finish(w);
}

static void on_timer_closed(uv_handle_t *h)
{
    wroot_t *r = h->data;
    r->w->open_handles--;
    maybe_finish(r->w);
}

/* Stop watching the directory at index i (its slot is taken by the last one). */
static void drop_at(wroot_t *r, unsigned i)
{
    wdir_t *d = r->dirs[i];
    r->dirs[i] = r->dirs[--r->ndirs];
    uv_close((uv_handle_t *)&d->ev, on_dir_closed);
}

/* Stop watching path and every directory below it. */
static void drop_tree(wroot_t *r, const char *path)
{
    size_t n = strlen(path);
    for (unsigned i = 0; i < r->ndirs;) {
        const char *p = r->dirs[i]->path;
        if (strncmp(p, path, n) == 0 && (p[n] == '\0' || p[n] == '/'))
            drop_at(r, i);
        else
            i++;
    }
}

static int watched(const wroot_t *r, const char *path)
{
    for (unsigned i = 0; i < r->ndirs; i++)
        if (strcmp(r->dirs[i]->path, path) == 0)
            return 1;
    return 0;
}

static void on_fs_event(uv_fs_event_t *h, const char *filename, int events, int status);

/* Watch one directory; path moves into the new wdir_t on success only. */
static int watch_dir(wroot_t *r, char *path)
{
    gl_watch_t *w = r->w;
    if (r->ndirs == r->cap) {
        unsigned ncap = r->cap ? r->cap * 2 : 16;
        wdir_t **nd = realloc(r->dirs, ncap * sizeof(*nd));
        if (!nd)
            return -ENOMEM;
        r->dirs = nd;
        r->cap = ncap;
    }
    wdir_t *d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    d->root = r;
    int rc = uv_fs_event_init(w->loop, &d->ev);
    if (rc < 0) {
        free(d);
        return rc;
    }
    d->ev.data = d;
    w->open_handles++;
    if ((rc = uv_fs_event_start(&d->ev, on_fs_event, path, 0)) < 0) {
        uv_close((uv_handle_t *)&d->ev, on_dir_closed); /* d->path is NULL: path stays ours */
        return rc;
    }
    d->path = path;
    r->dirs[r->ndirs++] = d;
    return 0;
}

static int is_dir_entry(const char *parent, const struct dirent *de)
{
    if (de->d_type == DT_DIR)
        return 1;
    if (de->d_type != DT_UNKNOWN)
        return 0; /* symbolic links included: never followed */
    struct stat st;
    char *p = gl_path_join(parent, de->d_name);
    int dir = p && lstat(p, &st) == 0 && S_ISDIR(st.st_mode);
    free(p);
    return dir;
}

/*
 * Watch top and the directories below it, breadth first, until the root holds max_dirs.
 * check_dup: skip directories already watched (a directory created while running may have
 * been reached both by its parent's listing and by its own creation event).
 */
static void add_tree(wroot_t *r, const char *top, int check_dup)
{
    gl_watch_t *w = r->w;
    const unsigned max = w->opts.max_dirs;
    char **queue = NULL;
    size_t head = 0, n = 0, cap = 0;
    int truncated = 0;

    char *first = strdup(top);
    if (!first)
        return;
    if (!(queue = malloc(16 * sizeof(*queue)))) {
        free(first);
        return;
    }
    cap = 16;
    queue[n++] = first;
    while (head < n) {
        char *path = queue[head++];
        if (check_dup && watched(r, path)) {
            free(path);
            continue;
        }
        if (r->ndirs >= max) {
            truncated = 1;
            free(path);
            continue;
        }
        int rc = watch_dir(r, path);
        if (rc < 0) {
            if (!r->warned_failed) {
                r->warned_failed = 1;
                gl_log_warn("hot reload: cannot watch %s: %s (changes there are not seen)",
                            path, uv_strerror(rc));
            }
            free(path);
            continue;
        }
        DIR *dir = opendir(path); /* path is the wdir_t's now, alive until drop_tree */
        struct dirent *de;
        while (dir && (de = readdir(dir))) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
                gl_watch_ignored(de->d_name) || !is_dir_entry(path, de))
                continue;
            /* Queue no more than can still be watched, plus one to notice the overflow. */
            if (r->ndirs + (n - head) > max) {
                truncated = 1;
                break;
            }
            if (n == cap) {
                char **nq = realloc(queue, cap * 2 * sizeof(*nq));
                if (!nq)
                    break;
                queue = nq;
                cap *= 2;
            }
            char *child = gl_path_join(path, de->d_name);
            if (child)
                queue[n++] = child;
        }
        if (dir)
            closedir(dir);
    }
    free(queue);
    if (truncated && !r->warned_full) {
        r->warned_full = 1;
        gl_log_warn("hot reload: %s holds more than %u directories: only %u are watched, "
                    "changes in the others are not seen",
                    r->path, max, r->ndirs);
    }
}

static void on_quiet(uv_timer_t *t)
{
    wroot_t *r = t->data;
    char *what = r->last;
    unsigned distinct = r->nseen + r->unseen;
    r->last = NULL;
    free_burst(r);
    gl_watch_t *w = r->w;
    if (what && !w->closing && w->opts.on_change)
        w->opts.on_change(r->path, what, distinct > 1 ? distinct - 1 : 0, w->opts.data);
    free(what);
}

/* Count one change under r at the absolute path changed and (re)arm the debounce. */
static void note(wroot_t *r, const char *changed)
{
    gl_watch_t *w = r->w;
    const char *rel = changed;
    if (strncmp(changed, r->path, r->path_len) == 0 && changed[r->path_len] == '/')
        rel = changed + r->path_len + 1;
    else if (strcmp(changed, r->path) == 0)
        rel = ".";
    uint64_t now = uv_now(w->loop);
    if (!r->burst_start)
        r->burst_start = now ? now : 1;
    unsigned i = 0;
    while (i < r->nseen && strcmp(r->seen[i], rel) != 0)
        i++;
    if (i == r->nseen) {
        char *copy = r->nseen < SEEN_MAX ? strdup(rel) : NULL;
        if (copy)
            r->seen[r->nseen++] = copy;
        else
            r->unseen++;
    }
    char *last = strdup(rel);
    if (last) {
        free(r->last);
        r->last = last;
    }
    uint64_t wait = w->opts.debounce_ms, deadline = r->burst_start + w->opts.max_delay_ms;
    if (now + wait > deadline)
        wait = deadline > now ? deadline - now : 0;
    uv_timer_start(&r->timer, on_quiet, wait, 0);
}

static void on_fs_event(uv_fs_event_t *h, const char *filename, int events, int status)
{
    wdir_t *d = h->data;
    wroot_t *r = d->root;
    struct stat st;
    (void)events;
    if (r->w->closing || !d->path)
        return;
    if (status < 0) {
        gl_log_debug("hot reload: %s: %s", d->path, uv_strerror(status));
        return;
    }
    /* The directory itself went away (deleted, renamed): libuv then names its basename. */
    if (lstat(d->path, &st) < 0 || !S_ISDIR(st.st_mode)) {
        char *gone = strdup(d->path);
        if (gone) {
            drop_tree(r, gone); /* closes d: only the copy is used below */
            note(r, gone);
            free(gone);
        }
        return;
    }
    if (!filename || !*filename) {
        note(r, d->path);
        return;
    }
    if (gl_watch_ignored(filename))
        return;
    char *child = gl_path_join(d->path, filename);
    if (!child)
        return;
    if (lstat(child, &st) == 0 && S_ISDIR(st.st_mode))
        add_tree(r, child, 1); /* new, or moved in: the files in it arrived with it */
    else
        drop_tree(r, child); /* no-op unless a watched directory left or became a file */
    note(r, child);
    free(child);
}

static wroot_t *find_root(const gl_watch_t *w, const char *path)
{
    for (wroot_t *r = w->roots; r; r = r->next)
        if (strcmp(r->path, path) == 0)
            return r;
    return NULL;
}

int gl_watch_add(gl_watch_t *w, const char *root, gl_err_t *err)
{
    struct stat st;
    if (w->closing)
        return gl_err_set(err, ESHUTDOWN, "watcher is closing");
    wroot_t *r = find_root(w, root);
    if (!r) {
        if (stat(root, &st) < 0)
            return gl_err_set(err, errno, "%s", root);
        if (!S_ISDIR(st.st_mode))
            return gl_err_set(err, ENOTDIR, "%s is not a directory", root);
        if (!(r = calloc(1, sizeof(*r))) || !(r->path = strdup(root))) {
            free(r);
            return gl_err_set(err, ENOMEM, "out of memory");
        }
        r->path_len = strlen(root);
        r->w = w;
        uv_timer_init(w->loop, &r->timer);
        r->timer.data = r;
        w->open_handles++;
        r->next = w->roots;
        w->roots = r;
    }
    if (r->ndirs == 0) /* new, or its first attempt failed */
        add_tree(r, root, 0);
    if (r->ndirs == 0)
        return gl_err_set(err, EIO, "%s cannot be watched", root);
    return (int)r->ndirs;
}

unsigned gl_watch_count(const gl_watch_t *w, const char *root)
{
    const wroot_t *r = find_root(w, root);
    return r ? r->ndirs : 0;
}

void gl_watch_close(gl_watch_t *w, void (*on_closed)(void *arg), void *arg)
{
    if (!w)
        return;
    w->closing = 1;
    w->on_closed = on_closed;
    w->closed_arg = arg;
    for (wroot_t *r = w->roots; r; r = r->next) {
        while (r->ndirs)
            drop_at(r, r->ndirs - 1);
        uv_timer_stop(&r->timer);
        uv_close((uv_handle_t *)&r->timer, on_timer_closed);
    }
    maybe_finish(w); /* nothing was open: done now */
}
