/* SPDX-License-Identifier: MIT */
/*
 * watch.h: hot reload. gl_watch_t watches directory trees with libuv file events and reports
 * each burst of changes under a tree once, after it goes quiet (debounce). gl_reload_t uses it
 * for template functions, whose code is a local directory the user edits: a change retires
 * the environments of every current snapshot of the functions using that directory ($LATEST
 * and a template-published version) through gl_sched_recycle, so the next invoke is a cold
 * start on the code on disk while invokes in flight finish on the old code.
 *
 * Linux inotify is not recursive: every directory of a tree gets a uv_fs_event_t of its own,
 * at most max_dirs per tree, and directories created later get theirs when their creation is
 * seen. Symbolic links are not followed. Names that only tools churn (*.pyc, __pycache__,
 * .git, editor swap and backup files) neither trigger a reload nor get watched.
 */
#ifndef GALLEY_WATCH_H
#define GALLEY_WATCH_H

#include <stdint.h>
#include <uv.h>

#include "galley/err.h"
#include "galley/registry.h"
#include "galley/sched.h"

#define GL_WATCH_DEBOUNCE_MS 200
#define GL_WATCH_MAX_DELAY_MS 2000
#define GL_WATCH_MAX_DIRS 4096

typedef struct gl_watch gl_watch_t;

/**
 * One debounced burst under root (the path given to gl_watch_add). what is the last changed
 * path of the burst, relative to root; others counts the other distinct paths that changed.
 * Both strings are borrowed for the call.
 */
typedef void (*gl_watch_change_fn)(const char *root, const char *what, unsigned others,
                                   void *data);

typedef struct gl_watch_opts {
    uint64_t debounce_ms;  /* quiet time after the last event (0: GL_WATCH_DEBOUNCE_MS) */
    uint64_t max_delay_ms; /* a burst that never goes quiet still reports after this long
                              (0: GL_WATCH_MAX_DELAY_MS) */
    unsigned max_dirs;     /* directories watched per tree (0: GL_WATCH_MAX_DIRS) */
    gl_watch_change_fn on_change;
    void *data;
} gl_watch_opts_t;

/** A watcher with no tree yet. 0 or -ENOMEM. */
int gl_watch_new(gl_watch_t **out, uv_loop_t *loop, const gl_watch_opts_t *opts);
/**
 * Watch root (an absolute directory path, taken as given) and the directories below it.
 * Returns the number of directories watched (>= 1), or a negative errno with err set when
 * root is not a directory or cannot be watched. A tree bigger than max_dirs is watched in
 * part and logged once (warn). Adding a root twice returns its current count.
 */
int gl_watch_add(gl_watch_t *w, const char *root, gl_err_t *err);
/** Directories watched now under root (0 when root was not added). */
unsigned gl_watch_count(const gl_watch_t *w, const char *root);
/**
 * Close every handle; no on_change runs afterwards. on_closed(arg) (may be NULL) runs once
 * the last close callback has run and w is freed, or before this returns when w holds no
 * handle.
 */
void gl_watch_close(gl_watch_t *w, void (*on_closed)(void *arg), void *arg);
/** Whether a file or directory called name (no slash) is ignored: 1 or 0. */
int gl_watch_ignored(const char *name);

typedef struct gl_reload gl_reload_t;

/**
 * Watch the code directory of every template function in reg (created functions live in the
 * state dir and are not watched). Logs one info line saying which directories are watched.
 * On a change: one info line per function ("reloading F: app.py changed") and
 * gl_sched_recycle for each current snapshot of it whose code is that directory.
 * opts may be NULL; only its timings and max_dirs are used. Returns 0 (also when there is
 * nothing to watch) or -ENOMEM; a directory that cannot be watched is logged and skipped.
 */
int gl_reload_start(gl_reload_t **out, uv_loop_t *loop, gl_registry_t *reg, gl_sched_t *sched,
                    const gl_watch_opts_t *opts, gl_err_t *err);
/** How many reloads have run (one per function per burst). */
unsigned long gl_reload_count(const gl_reload_t *r);
/** Stop watching and free r; on_closed as for gl_watch_close. */
void gl_reload_close(gl_reload_t *r, void (*on_closed)(void *arg), void *arg);

#endif
