/* SPDX-License-Identifier: MIT */
/*
 * buf.h: a growable byte buffer. Always NUL-terminated past len when data is non-NULL,
 * so text can be read as a C string. A zeroed gl_buf_t is an empty buffer.
 */
#ifndef GALLEY_BUF_H
#define GALLEY_BUF_H

#include <stddef.h>

typedef struct gl_buf {
    char *data;
    size_t len;
    size_t cap;
} gl_buf_t;

/** Make room for at least extra more bytes. 0 or -ENOMEM. */
int gl_buf_reserve(gl_buf_t *b, size_t extra);
int gl_buf_append(gl_buf_t *b, const void *data, size_t len);
int gl_buf_append_str(gl_buf_t *b, const char *s);
int gl_buf_printf(gl_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** Drop the first n bytes. */
void gl_buf_consume(gl_buf_t *b, size_t n);
void gl_buf_reset(gl_buf_t *b);
/** Hand the storage to the caller (never NULL: an empty string when empty); b becomes empty. */
char *gl_buf_steal(gl_buf_t *b, size_t *len);
void gl_buf_free(gl_buf_t *b);

#endif
