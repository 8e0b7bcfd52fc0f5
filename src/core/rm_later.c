/* SPDX-License-Identifier: MIT */
/*
 * rm_later.c: deleting a directory tree on libuv's work queue (gl_rm_rf_later), so that a big
 * one (a replaced function's code, a retired layer, an environment's /tmp) never stalls the
 * event loop. The loop keeps running until queued work is done, so nothing is left behind at a
 * clean stop; a crash leaves what a start clears (the run directory, the layers' trash).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "galley/util.h"

typedef struct removal {
    uv_work_t work;
    char *path;
    int and_parent;
} removal_t;

static void remove_now(char *path, int and_parent)
{
    gl_rm_rf(path);
    char *slash = and_parent ? strrchr(path, '/') : NULL;
    if (slash && slash != path) {
        *slash = '\0';
        rmdir(path); /* only when empty */
    }
}

static void on_remove_work(uv_work_t *w)
{
    removal_t *r = w->data;
    remove_now(r->path, r->and_parent);
}

static void on_removed(uv_work_t *w, int status)
{
    removal_t *r = w->data;
    if (status < 0)
        remove_now(r->path, r->and_parent); /* cancelled before it ran */
    free(r->path);
    free(r);
}

void gl_rm_rf_later(struct uv_loop_s *loop, char *path, int and_parent)
{
    removal_t *r = loop ? calloc(1, sizeof(*r)) : NULL;
    if (r) {
        r->path = path;
        r->and_parent = and_parent;
        r->work.data = r;
        if (uv_queue_work(loop, &r->work, on_remove_work, on_removed) == 0)
            return;
    }
    remove_now(path, and_parent);
    free(path);
    free(r);
}
