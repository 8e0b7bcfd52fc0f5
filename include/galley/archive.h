/* SPDX-License-Identifier: MIT */
/*
 * archive.h: unpacking a function's zip (libarchive) into its code directory, safely.
 *
 * The archive is hostile: entries that escape the destination (absolute paths, "..",
 * symbolic or hard links pointing outside), device nodes, and archives whose unpacked size
 * crosses the limit are refused. Unpacking goes to a temporary sibling directory that is
 * renamed into place only on success, so a failure leaves nothing behind.
 */
#ifndef GALLEY_ARCHIVE_H
#define GALLEY_ARCHIVE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "galley/err.h"

#define GL_ARCHIVE_MAX_UNPACKED 262144000ULL /* 250 MB, Lambda's unzipped code limit */

typedef enum gl_archive_status {
    GL_ARCHIVE_OK = 0,
    GL_ARCHIVE_BAD_ZIP,       /* not a zip, corrupt, or unreadable entry */
    GL_ARCHIVE_EMPTY,         /* zero bytes, or a zip without entries (Lambda refuses both) */
    GL_ARCHIVE_TOO_LARGE,     /* unpacked size over the limit */
    GL_ARCHIVE_UNSAFE_ENTRY,  /* path or link escapes the destination, or a special file */
    GL_ARCHIVE_CONFLICT,      /* two entries claim one path as a file and a directory */
    GL_ARCHIVE_IO,            /* local failure writing the destination */
    GL_ARCHIVE_CANCELLED,     /* *stop was set (gl_archive_unzip_stoppable) */
} gl_archive_status_t;

typedef struct gl_archive_result {
    gl_archive_status_t status;
    uint64_t unpacked_bytes;
    size_t entries;
} gl_archive_result_t;

/**
 * Unpack the zip in memory (zip, len) into dest_dir, which must not exist yet; its parent must.
 * max_unpacked 0 means GL_ARCHIVE_MAX_UNPACKED. File modes are kept (executable bits
 * matter for `bootstrap`), capped to 0755/0644; the tree is owned by the daemon's user.
 * Returns 0, or a negative errno with res->status and err->msg saying what was wrong
 * (err->msg names the offending entry, for an error message a user can act on).
 */
int gl_archive_unzip(const void *zip, size_t len, const char *dest_dir, uint64_t max_unpacked,
                     gl_archive_result_t *res, gl_err_t *err);
/**
 * The same, for a caller on another thread (libuv's work queue): once *stop is non-zero the
 * unpacking ends before its next entry with -ECANCELED and GL_ARCHIVE_CANCELLED, and what was
 * unpacked so far is removed. stop may be NULL.
 */
int gl_archive_unzip_stoppable(const void *zip, size_t len, const char *dest_dir,
                               uint64_t max_unpacked, const atomic_int *stop,
                               gl_archive_result_t *res, gl_err_t *err);

#endif
