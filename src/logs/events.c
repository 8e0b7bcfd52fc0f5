/* SPDX-License-Identifier: MIT */
/*
 * events.c: one stream file read back as events: the file is read whole (or its last
 * GL_LOGS_READ_MAX bytes, from the first line starting inside them) and every complete line
 * becomes an event with its stamp's time, or the file's modification time for a bare line
 * written before stamps existed. Events point into the file's data, so they live as long as
 * the gl_logs_file_t.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "galley/logs.h"
#include "galley/logstore.h"
#include "galley/util.h"

/* Read [from, size) of fd into f->data. */
static int read_range(gl_logs_file_t *f, int fd, uint64_t from, uint64_t size)
{
    if (gl_buf_reserve(&f->data, (size_t)(size - from) + 1) < 0)
        return -ENOMEM;
    uint64_t at = from;
    while (at < size) {
        ssize_t n = pread(fd, f->data.data + (at - from), (size_t)(size - at), (off_t)at);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            break; /* shrank meanwhile */
        at += (uint64_t)n;
    }
    f->data.len = (size_t)(at - from);
    return 0;
}

static int add_event(gl_logs_file_t *f, const gl_logs_event_t *ev)
{
    gl_logs_event_t *v = gl_grow(f->ev, &f->cap, f->n + 1, sizeof(*v));
    if (!v)
        return -ENOMEM;
    f->ev = v;
    f->ev[f->n++] = *ev;
    return 0;
}

/* Split the data read from offset base into events. */
static int index_lines(gl_logs_file_t *f, uint64_t base, int skip_first, int64_t fallback)
{
    const char *p = f->data.data, *end = p + f->data.len;
    if (skip_first) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        p = nl ? nl + 1 : end;
    }
    f->size = base + (uint64_t)(p - f->data.data);
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (!nl)
            break; /* still being written */
        gl_logs_event_t ev = {.ts = fallback, .off = base + (uint64_t)(p - f->data.data)};
        size_t len = (size_t)(nl - p), skip = gl_logs_stamp_parse(p, len, &ev.ts);
        ev.msg = p + skip;
        ev.len = len - skip;
        ev.end = ev.off + len + 1;
        if (add_event(f, &ev) < 0)
            return -ENOMEM;
        f->size = ev.end;
        p = nl + 1;
    }
    return 0;
}

int gl_logs_file_read(gl_logs_file_t *f, const char *path)
{
    memset(f, 0, sizeof(*f));
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc;
    struct stat st;
    if (fd < 0)
        return -errno;
    if (fstat(fd, &st) < 0) {
        rc = -errno;
        goto out;
    }
    uint64_t size = (uint64_t)st.st_size;
    uint64_t from = size > GL_LOGS_READ_MAX ? size - GL_LOGS_READ_MAX : 0;
    int64_t mtime = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
    if ((rc = read_range(f, fd, from, size)) < 0)
        goto out;
    rc = index_lines(f, from, from > 0, mtime);
out:
    close(fd);
    if (rc < 0)
        gl_logs_file_free(f);
    return rc;
}

void gl_logs_file_free(gl_logs_file_t *f)
{
    gl_buf_free(&f->data);
    free(f->ev);
    memset(f, 0, sizeof(*f));
}
