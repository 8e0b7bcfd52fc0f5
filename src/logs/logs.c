/* SPDX-License-Identifier: MIT */
/*
 * logs.c: log stream files, the line splitter for environments' output pipes, and the 4 KB
 * tail kept per invoke. Each stored line carries its time stamp (stamp.c). Writes are plain write(2) calls on the loop thread: lines are small
 * and land in the page cache. A held stream (gl_logs_stream_hold, an invoke from START to
 * REPORT) gathers its lines in memory and writes them with one writev at the flush.
 *
 * Owns the count of lines no stream could write (the cap, ENOSPC, EIO). Invariant: every line
 * handed to gl_logs_stream_write is either in the file whole or counted in s->dropped and in
 * that total, and a stream's first dropped line is named in the daemon log.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "galley/log.h"
#include "galley/logs.h"
#include "galley/util.h"

static uint64_t dropped_total;
static uint64_t stream_max; /* 0: not decided yet */

uint64_t gl_logs_dropped_lines(void) { return dropped_total; }

void gl_logs_set_stream_max(uint64_t bytes) { stream_max = bytes; }

static uint64_t cap_for_new_stream(void)
{
    if (stream_max == 0) {
        const char *v = getenv("GALLEY_LOG_STREAM_MAX_BYTES");
        char *end = NULL;
        unsigned long long n = v && *v ? strtoull(v, &end, 10) : 0;
        stream_max = n > 0 && end && *end == '\0' ? n : GL_LOGS_STREAM_MAX_DEFAULT;
        if (v && stream_max != n)
            gl_log_warn("GALLEY_LOG_STREAM_MAX_BYTES=%s is not a positive number of bytes; "
                        "log streams are capped at %llu", v, (unsigned long long)stream_max);
    }
    return stream_max;
}

int gl_logs_stream_open(gl_logs_stream_t *s, const char *logs_root, const char *group,
                        const char *stream, gl_err_t *err)
{
    memset(s, 0, sizeof(*s));
    s->fd = -1;
    s->max = cap_for_new_stream();
    while (*group == '/')
        group++;
    char *gdir = gl_path_join(logs_root, group);
    char *path = gdir ? gl_path_join(gdir, stream) : NULL;
    int rc = 0;
    if (!path) {
        rc = gl_err_set(err, ENOMEM, "log stream path");
        goto out;
    }
    /* The day's directory usually exists (every cold start opens a stream): try the file
     * first and make the directories only when it is missing. */
    s->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (s->fd < 0 && errno == ENOENT) {
        char *slash = strrchr(path, '/');
        *slash = '\0';
        rc = gl_mkdir_p(path, 0755);
        *slash = '/';
        if (rc < 0) {
            rc = gl_err_set(err, -rc, "create log directory for %s", path);
            goto out;
        }
        s->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    }
    if (s->fd < 0) {
        rc = gl_err_set(err, errno, "open log stream %s", path);
        goto out;
    }
    struct stat st;
    if (fstat(s->fd, &st) == 0)
        s->size = (uint64_t)st.st_size;
    s->capped = s->size > s->max; /* past it already: the notice was written before */
    s->path = path;
    path = NULL;
out:
    free(gdir);
    free(path);
    return rc;
}

/* Count a line that is not in the file; the first of the stream is reported with why. */
static void drop_line(gl_logs_stream_t *s, const char *why)
{
    s->dropped++;
    dropped_total++;
    if (s->reported)
        return;
    s->reported = 1;
    gl_log_warn("log stream %s: a line was not written (%s); this stream's further losses "
                "are only counted (galley_log_lines_dropped_total)",
                s->path, why);
}

/* At the cap, one last line tells a reader of the file why it ends (it may pass the cap by
 * that line's length), then every later line is dropped and counted. */
static void write_cap_notice(gl_logs_stream_t *s)
{
    char notice[GL_LOGS_STAMP_LEN + 160];
    gl_logs_stamp_format(gl_now_ms(), notice);
    int n = snprintf(notice + GL_LOGS_STAMP_LEN, sizeof(notice) - GL_LOGS_STAMP_LEN,
                     "galley: this log stream reached its cap of %" PRIu64
                     " bytes; later lines are not written\n",
                     s->max);
    if (n > 0)
        n += GL_LOGS_STAMP_LEN;
    s->capped = 1;
    if (n > 0 && write(s->fd, notice, (size_t)n) == n)
        s->size += (uint64_t)n;
}

/* writev until everything is written: a short write (the disk filling up mid-line) is
 * continued, so the failure that stops it reports its own errno. Each pass writes at least
 * one byte or returns. Adds what was written to *written; 0 or a negative errno. */
static int write_all(int fd, struct iovec *iov, int n, uint64_t *written)
{
    while (n > 0) {
        ssize_t w = writev(fd, iov, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -errno;
        if (w == 0)
            return -EIO;
        *written += (uint64_t)w;
        while (n > 0 && (size_t)w >= iov->iov_len) {
            w -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + w;
            iov->iov_len -= (size_t)w;
        }
    }
    return 0;
}

/* Lines of held[off..] that are not whole in the file after a failed flush. */
static uint32_t lines_from(const gl_buf_t *b, size_t off)
{
    uint32_t n = 0;
    for (const char *p = b->data + off; (p = memchr(p, '\n', b->len - (size_t)(p - b->data)));
         p++)
        n++;
    return n;
}

void gl_logs_stream_flush(gl_logs_stream_t *s)
{
    if (!s->held.len)
        return;
    uint64_t written = 0;
    struct iovec iov = {s->held.data, s->held.len};
    int rc = s->fd >= 0 ? write_all(s->fd, &iov, 1, &written) : -EBADF;
    if (rc < 0) {
        uint32_t lost = lines_from(&s->held, (size_t)written);
        s->size -= s->held.len - written; /* size counted them when they were held */
        for (uint32_t i = 0; i < lost; i++)
            drop_line(s, strerror(-rc));
    }
    gl_buf_reset(&s->held);
}

int gl_logs_stream_hold(gl_logs_stream_t *s, int on)
{
    if (!on)
        gl_logs_stream_flush(s);
    s->holding = on && s->fd >= 0;
    return s->held.len > 0;
}

/* Held lines are flushed past this: a chatty invoke still writes in large pieces. */
#define HELD_MAX (64 * 1024)

void gl_logs_stream_write(gl_logs_stream_t *s, const char *line, size_t len)
{
    if (s->fd < 0)
        return;
    if (!s->capped && s->size + GL_LOGS_STAMP_LEN + len + 1 > s->max) {
        gl_logs_stream_flush(s); /* the notice comes after every line before it */
        write_cap_notice(s);
    }
    if (s->capped) {
        drop_line(s, "the stream reached its cap");
        return;
    }
    char stamp[GL_LOGS_STAMP_LEN + 1];
    gl_logs_stamp_format(gl_now_ms(), stamp);
    if (s->holding && gl_buf_reserve(&s->held, GL_LOGS_STAMP_LEN + len + 1) == 0) {
        gl_buf_append(&s->held, stamp, GL_LOGS_STAMP_LEN);
        gl_buf_append(&s->held, line, len);
        gl_buf_append(&s->held, "\n", 1);
        s->size += GL_LOGS_STAMP_LEN + len + 1;
        if (s->held.len >= HELD_MAX)
            gl_logs_stream_flush(s);
        return;
    }
    gl_logs_stream_flush(s); /* held lines first (when memory for one more ran out) */
    /* One writev per line: O_APPEND keeps a line whole even with a reader at the other end. */
    struct iovec iov[3] = {{stamp, GL_LOGS_STAMP_LEN}, {(void *)line, len}, {"\n", 1}};
    int rc = write_all(s->fd, iov, 3, &s->size);
    if (rc < 0)
        drop_line(s, strerror(-rc)); /* a part written stays: the file may lack a newline */
}

void gl_logs_stream_close(gl_logs_stream_t *s)
{
    gl_logs_stream_flush(s);
    gl_buf_free(&s->held);
    s->holding = 0;
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    free(s->path);
    s->path = NULL;
}

void gl_logs_lines_feed(gl_logs_lines_t *l, const char *data, size_t len, gl_logs_line_fn emit,
                        void *arg)
{
    while (len > 0) {
        const char *nl = memchr(data, '\n', len);
        size_t take = nl ? (size_t)(nl - data) : len;
        if (l->pending.len + take > GL_LOGS_LINE_MAX) {
            /* Split an over-long line at the cap rather than buffering without bound. */
            size_t room = GL_LOGS_LINE_MAX - l->pending.len;
            gl_buf_append(&l->pending, data, room);
            emit(l->pending.data, l->pending.len, arg);
            gl_buf_reset(&l->pending);
            data += room;
            len -= room;
            continue;
        }
        if (!nl) {
            gl_buf_append(&l->pending, data, len);
            return;
        }
        if (l->pending.len) {
            gl_buf_append(&l->pending, data, take);
            emit(l->pending.data, l->pending.len, arg);
            gl_buf_reset(&l->pending);
        } else {
            emit(data, take, arg);
        }
        data += take + 1;
        len -= take + 1;
    }
}

void gl_logs_lines_flush(gl_logs_lines_t *l, gl_logs_line_fn emit, void *arg)
{
    if (l->pending.len) {
        emit(l->pending.data, l->pending.len, arg);
        gl_buf_reset(&l->pending);
    }
}

void gl_logs_lines_free(gl_logs_lines_t *l) { gl_buf_free(&l->pending); }

void gl_logs_tail_append(gl_buf_t *tail, const char *line, size_t len)
{
    if (len >= GL_LOGS_TAIL_MAX) {
        gl_buf_reset(tail);
        gl_buf_append(tail, line + len - (GL_LOGS_TAIL_MAX - 1), GL_LOGS_TAIL_MAX - 1);
        gl_buf_append(tail, "\n", 1);
        return;
    }
    gl_buf_append(tail, line, len);
    gl_buf_append(tail, "\n", 1);
    /* Trim lazily: only when twice the cap, so a busy function does not memmove per line. */
    if (tail->len > 2 * GL_LOGS_TAIL_MAX)
        gl_buf_consume(tail, tail->len - GL_LOGS_TAIL_MAX);
}
