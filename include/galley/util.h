/* SPDX-License-Identifier: MIT */
/*
 * util.h: small pure helpers shared by every module: ids, clocks, encodings, files.
 */
#ifndef GALLEY_UTIL_H
#define GALLEY_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "galley/buf.h"

#define GL_UUID_LEN 36

/** A random (v4) UUID in lowercase hex, NUL-terminated. */
void gl_uuid4(char out[GL_UUID_LEN + 1]);
/** n random bytes as 2n lowercase hex characters plus NUL. */
void gl_random_hex(char *out, size_t nbytes);
/** n bytes from the kernel's random source (batched: few syscalls for many small calls). */
void gl_random_bytes(void *out, size_t n);

/** Wall clock in milliseconds since the epoch. */
int64_t gl_now_ms(void);
/** Monotonic clock in nanoseconds. */
uint64_t gl_mono_ns(void);
/** "2020-04-10T19:06:32.563+0000", Lambda's LastModified form. out >= 32 bytes. */
void gl_fmt_lambda_time(int64_t epoch_ms, char *out, size_t outlen);
/** "2020-04-10T19:06:32.563Z". out >= 32 bytes. */
void gl_fmt_iso8601(int64_t epoch_ms, char *out, size_t outlen);

/** Standard base64 with padding. *out is malloc'd and NUL-terminated. 0 or -ENOMEM. */
int gl_b64_encode(const void *data, size_t len, char **out);
/** Strict decoder (standard alphabet, padding required, no whitespace). -EINVAL on bad input. */
int gl_b64_decode(const char *text, size_t len, unsigned char **out, size_t *outlen);
/** base64(SHA-256(data)), Lambda's CodeSha256. out >= 45 bytes. */
void gl_sha256_b64(const void *data, size_t len, char out[45]);
/** Percent-decode len bytes of in ('+' is kept). -EINVAL for a bad escape or an embedded NUL. */
int gl_url_decode(const char *in, size_t len, char **out);
/** Value of key in a raw query string (percent-decoded, malloc'd), or NULL when absent. */
char *gl_query_get(const char *query, const char *key);

/** mkdir -p. */
int gl_mkdir_p(const char *path, mode_t mode);
/** rm -rf; a missing path is success. Never follows symbolic links. */
int gl_rm_rf(const char *path);
struct uv_loop_s;
/** gl_rm_rf(path) on loop's work queue (at once when loop is NULL or queueing fails), then,
 *  with and_parent, rmdir of path's parent if that left it empty. Takes path (malloc'd). */
void gl_rm_rf_later(struct uv_loop_s *loop, char *path, int and_parent);
/** Write to path.tmp, fsync, rename over path, fsync the directory. */
int gl_write_file_atomic(const char *path, const void *data, size_t len);
/** Write to path.tmp and rename over path, with no fsync: for a file made anew at every
 *  start, which a crash may lose at no cost (readers never see it half written). */
int gl_write_file_replace(const char *path, const void *data, size_t len);
/** Read a whole file, at most max bytes (-EFBIG past that). */
int gl_read_file(const char *path, size_t max, gl_buf_t *out);
/** The capacity gl_grow gives an empty array. */
#define GL_GROW_FIRST 16
/** Room for need items of size bytes in items (realloc'd; capacity *cap, doubled from
 *  GL_GROW_FIRST): the array to use from now on, or NULL (out of memory or overflow) with
 *  items and *cap untouched and still the caller's. (src/core/grow.c) */
void *gl_grow(void *items, size_t *cap, size_t need, size_t size);
/** malloc'd "a/b" join; NULL on ENOMEM. */
char *gl_path_join(const char *a, const char *b);
/** 1 when path (after one optional leading '/') is made of parts that are neither empty nor
 *  "." nor "..", so that joined below a directory it stays there; else 0. */
int gl_path_plain(const char *path);

#endif
