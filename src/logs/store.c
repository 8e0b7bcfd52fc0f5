/* SPDX-License-Identifier: MIT */
/*
 * store.c: reading the stored log streams back: which log groups and streams exist (the
 * directory shapes logstore.h describes), each stream's first and last event times (its first
 * line and its last complete line, without reading the rest), and a stream's events. Bare
 * lines from before stamps existed take the file's modification time. Paths built from a
 * client's group or stream name are checked to stay below the logs root.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "galley/logs.h"
#include "galley/logstore.h"
#include "galley/util.h"

#define MAX_GROUP_DEPTH 8 /* /aws/lambda/<f> is 3; a custom group may be deeper */
#define EDGE_READ 65536   /* bytes read from a stream's end to find its last line */

static int64_t mtime_ms(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000;
}

static int is_digits(const char *s, size_t n)
{
    if (strlen(s) != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    return 1;
}

static const size_t date_widths[] = {4, 2, 2}; /* YYYY/MM/DD */

/* One directory entry: its path, its name below the walk's prefix, its own name and lstat. */
typedef int (*entry_fn)(const char *path, const char *name, const char *base,
                        const struct stat *st, void *arg);

/* Call fn for each entry of dir not starting with '.', named "<prefix>/<base>" (no '/' added
 * when prefix is "" or ends with one). Stops at the first non-zero return and returns it; -ENOMEM. A missing
 * or unreadable directory has no entries. */
static int each_entry(const char *dir, const char *prefix, entry_fn fn, void *arg)
{
    DIR *d = opendir(dir);
    int rc = 0;
    if (!d)
        return 0;
    size_t plen = strlen(prefix);
    const char *sep = plen && prefix[plen - 1] != '/' ? "/" : "";
    struct dirent *de;
    while (rc == 0 && (de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char *p = gl_path_join(dir, de->d_name), *name = NULL;
        struct stat st;
        if (!p || asprintf(&name, "%s%s%s", prefix, sep, de->d_name) < 0)
            rc = -ENOMEM;
        else if (lstat(p, &st) == 0)
            rc = fn(p, name, de->d_name, &st, arg);
        free(p);
        free(name);
    }
    closedir(d);
    return rc;
}

/* 1 when the entry holds a stream: at level 0..2 a date directory holding one below it, at
 * level 3 a regular file. */
static int on_stream_candidate(const char *path, const char *name, const char *base,
                               const struct stat *st, void *arg)
{
    int level = *(int *)arg;
    if (level == 3)
        return S_ISREG(st->st_mode);
    if (!S_ISDIR(st->st_mode) || !is_digits(base, date_widths[level]))
        return 0;
    int next = level + 1;
    return each_entry(path, name, on_stream_candidate, &next) == 1;
}

static int holds_stream(const char *dir)
{
    int level = 0;
    return each_entry(dir, "", on_stream_candidate, &level) == 1;
}

static gl_logs_entry_t *list_add(gl_logs_list_t *l, const char *name, const char *path)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        gl_logs_entry_t *v = realloc(l->v, cap * sizeof(*v));
        if (!v)
            return NULL;
        l->v = v;
        l->cap = cap;
    }
    gl_logs_entry_t *e = &l->v[l->n];
    memset(e, 0, sizeof(*e));
    e->name = strdup(name);
    e->path = strdup(path);
    if (!e->name || !e->path) {
        free(e->name);
        free(e->path);
        return NULL;
    }
    l->n++;
    return e;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(((const gl_logs_entry_t *)a)->name, ((const gl_logs_entry_t *)b)->name);
}

typedef struct group_walk {
    gl_logs_list_t *out;
    int depth;
} group_walk_t;

/* A directory holding a stream is a group; any other directory is searched, to a depth. */
static int on_group_candidate(const char *path, const char *name, const char *base,
                              const struct stat *st, void *arg)
{
    group_walk_t *w = arg;
    if (!S_ISDIR(st->st_mode))
        return 0;
    if (holds_stream(path)) {
        gl_logs_entry_t *e = list_add(w->out, name, path);
        if (!e)
            return -ENOMEM;
        e->created = mtime_ms(st);
        return 0;
    }
    if (w->depth >= MAX_GROUP_DEPTH)
        return 0;
    group_walk_t deeper = {w->out, w->depth + 1};
    return each_entry(path, name, on_group_candidate, &deeper);
}

/* Fill out (emptied first) by walking dir with fn, then sort it by name. */
static int list_sorted(gl_logs_list_t *out, const char *dir, const char *prefix, entry_fn fn,
                       void *walk)
{
    int rc = each_entry(dir, prefix, fn, walk);
    if (rc < 0) {
        gl_logs_list_free(out);
        return rc;
    }
    if (out->n)
        qsort(out->v, out->n, sizeof(*out->v), by_name);
    return 0;
}

int gl_logs_list_groups(const char *root, gl_logs_list_t *out)
{
    memset(out, 0, sizeof(*out));
    group_walk_t w = {out, 1};
    return list_sorted(out, root, "/", on_group_candidate, &w);
}

int gl_logs_group_dir(const char *root, const char *group, char **dir)
{
    *dir = NULL;
    if (group[0] != '/' || !gl_path_plain(group))
        return -EINVAL;
    char *d = gl_path_join(root, group + 1);
    if (!d)
        return -ENOMEM;
    if (!holds_stream(d)) {
        free(d);
        return -ENOENT;
    }
    *dir = d;
    return 0;
}

/* The time of the stamp at buf (len bytes), else fallback. */
static int64_t stamp_or(const char *buf, size_t len, int64_t fallback)
{
    int64_t ms;
    return gl_logs_stamp_parse(buf, len, &ms) ? ms : fallback;
}

/* A stream's first and last event times: its first line's stamp and its last complete
 * line's, each the file's time when missing. */
static void stream_edges(gl_logs_entry_t *e, const struct stat *st)
{
    int64_t mt = mtime_ms(st);
    e->first = e->last = e->created = mt;
    int fd = open(e->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    char head[GL_LOGS_STAMP_LEN];
    ssize_t n = pread(fd, head, sizeof(head), 0);
    if (n > 0)
        e->first = e->created = stamp_or(head, (size_t)n, mt);
    char *tail = malloc(EDGE_READ);
    off_t from = st->st_size > EDGE_READ ? st->st_size - EDGE_READ : 0;
    n = tail ? pread(fd, tail, EDGE_READ, from) : -1;
    close(fd);
    while (n > 0 && tail[n - 1] != '\n')
        n--; /* a line still being written does not count yet */
    ssize_t start = n - 1;
    while (start > 0 && tail[start - 1] != '\n')
        start--;
    /* A line that began before the window read has no stamp in view: keep the file time. */
    if (n > 0 && (start > 0 || from == 0))
        e->last = stamp_or(tail + start, (size_t)(n - 1 - start), mt);
    free(tail);
}

typedef struct stream_walk {
    gl_logs_list_t *out;
    int level; /* 0..2: year, month, day directories; 3: stream files */
} stream_walk_t;

static int on_stream_entry(const char *path, const char *name, const char *base,
                           const struct stat *st, void *arg)
{
    stream_walk_t *w = arg;
    if (w->level < 3) {
        if (!S_ISDIR(st->st_mode) || !is_digits(base, date_widths[w->level]))
            return 0;
        stream_walk_t deeper = {w->out, w->level + 1};
        return each_entry(path, name, on_stream_entry, &deeper);
    }
    if (!S_ISREG(st->st_mode))
        return 0;
    gl_logs_entry_t *e = list_add(w->out, name, path);
    if (!e)
        return -ENOMEM;
    e->bytes = (uint64_t)st->st_size;
    stream_edges(e, st);
    return 0;
}

int gl_logs_list_streams(const char *gdir, gl_logs_list_t *out)
{
    memset(out, 0, sizeof(*out));
    stream_walk_t w = {out, 0};
    return list_sorted(out, gdir, "", on_stream_entry, &w);
}

int gl_logs_stream_path(const char *gdir, const char *name, char **path)
{
    *path = NULL;
    /* YYYY/MM/DD/<file>: exactly the shape the writer makes. */
    char parts[4][16];
    const char *p = name;
    for (int i = 0; i < 3; i++) {
        size_t n = strcspn(p, "/");
        if (n != date_widths[i] || p[n] != '/')
            return -ENOENT;
        memcpy(parts[i], p, n);
        parts[i][n] = '\0';
        if (!is_digits(parts[i], n))
            return -ENOENT;
        p += n + 1;
    }
    if (!*p || strchr(p, '/') || !gl_path_plain(p))
        return -ENOENT;
    char *full = gl_path_join(gdir, name);
    struct stat st;
    if (!full)
        return -ENOMEM;
    if (lstat(full, &st) < 0 || !S_ISREG(st.st_mode)) {
        free(full);
        return -ENOENT;
    }
    *path = full;
    return 0;
}

void gl_logs_list_free(gl_logs_list_t *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].name);
        free(l->v[i].path);
    }
    free(l->v);
    memset(l, 0, sizeof(*l));
}
