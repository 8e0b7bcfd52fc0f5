/* SPDX-License-Identifier: MIT */
/*
 * logstore.h: reading the stored log streams back (src/logs/store.c), for the CloudWatch Logs
 * operations. Under <state>/logs a log group is a directory (the group's name without its
 * leading '/') holding streams named YYYY/MM/DD/<name>, each a file of stamped lines
 * (logs.h). A group exists once one of its streams does. Every call reads the files as they
 * are now; nothing is cached.
 */
#ifndef GALLEY_LOGSTORE_H
#define GALLEY_LOGSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "galley/buf.h"

/* The largest stream file read back whole (bytes); a larger one is read from its last
 * GL_LOGS_READ_MAX bytes. */
#define GL_LOGS_READ_MAX (256u * 1024 * 1024)

/** One stored line. */
typedef struct gl_logs_event {
    int64_t ts;       /* its stamp, or the file's modification time for a bare line */
    uint64_t off;     /* where the line starts in the file */
    uint64_t end;     /* just past its newline */
    const char *msg;  /* the line without stamp or newline: points into the file's data */
    size_t len;
} gl_logs_event_t;

/** A stream file read whole and split into events. Zeroed is empty. */
typedef struct gl_logs_file {
    gl_logs_event_t *ev;
    size_t n;
    uint64_t size;    /* bytes of complete lines: where the next line will start */
    /* private */
    gl_buf_t data;
    size_t cap;
} gl_logs_file_t;

/** Read path and index its complete lines (a last line still without its newline is being
 *  written and is left for the next read). -errno; f is empty then. */
int gl_logs_file_read(gl_logs_file_t *f, const char *path);
void gl_logs_file_free(gl_logs_file_t *f);

/** A log group or a log stream. */
typedef struct gl_logs_entry {
    char *name;        /* "/aws/lambda/f" or "2026/12/01/[$LATEST]0123..." */
    char *path;        /* its directory or file */
    int64_t created;   /* ms: a stream's first event, a group's directory time */
    int64_t first, last; /* ms: a stream's first and last event times (0 for a group) */
    uint64_t bytes;    /* a stream's size */
} gl_logs_entry_t;

typedef struct gl_logs_list {
    gl_logs_entry_t *v; /* sorted by name */
    size_t n, cap;
} gl_logs_list_t;

/** Every log group under root. 0 or -ENOMEM (a missing root is an empty list). */
int gl_logs_list_groups(const char *root, gl_logs_list_t *out);
/** The directory of the group named group (malloc'd into *dir): -EINVAL for a name that
 *  cannot be a group ("..", "//"), -ENOENT when it has no stream. */
int gl_logs_group_dir(const char *root, const char *group, char **dir);
/** The streams of the group in gdir, each with its first and last event times. */
int gl_logs_list_streams(const char *gdir, gl_logs_list_t *out);
/** The file of stream name in gdir (malloc'd into *path), -ENOENT when there is none. */
int gl_logs_stream_path(const char *gdir, const char *name, char **path);
void gl_logs_list_free(gl_logs_list_t *l);

#endif
