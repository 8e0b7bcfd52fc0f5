/* SPDX-License-Identifier: MIT */
/*
 * logs.c: log stream files, the line splitter for environments' output pipes, and the 4 KB
 * tail kept per invoke. Each stored line carries its time stamp (stamp.c). Writes are plain write(2) calls on the loop thread: lines are small
 * and land in the page cache.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "galley/log.h"
#include "galley/logs.h"
#include "galley/util.h"

int gl_logs_stream_open(gl_logs_stream_t *s, const char *logs_root, const char *group,
                        const char *stream, gl_err_t *err)
{
    s->fd = -1;
    s->path = NULL;
    while (*group == '/')
        group++;
    char *gdir = gl_path_join(logs_root, group);
    char *path = gdir ? gl_path_join(gdir, stream) : NULL;
    int rc = 0;
    if (!path) {
        rc = gl_err_set(err, ENOMEM, "log stream path");
        goto out;
    }
    char *slash = strrchr(path, '/');
    *slash = '\0';
    rc = gl_mkdir_p(path, 0755);
    *slash = '/';
    if (rc < 0) {
        rc = gl_err_set(err, -rc, "create log directory for %s", path);
        goto out;
    }
    s->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (s->fd < 0) {
        rc = gl_err_set(err, errno, "open log stream %s", path);
        goto out;
    }
    s->path = path;
    path = NULL;
out:
    free(gdir);
    free(path);
    return rc;
}

void gl_logs_stream_write(gl_logs_stream_t *s, const char *line, size_t len)
{
    if (s->fd < 0)
        return;
    char stamp[GL_LOGS_STAMP_LEN + 1];
    gl_logs_stamp_format(gl_now_ms(), stamp);
    /* One writev per line: O_APPEND keeps a line whole even with a reader at the other end. */
    struct iovec iov[3] = {{stamp, GL_LOGS_STAMP_LEN}, {(void *)line, len}, {"\n", 1}};
    ssize_t w = writev(s->fd, iov, 3);
    if (w < 0)
        gl_log_debug("log stream %s: %s", s->path, strerror(errno));
}

void gl_logs_stream_close(gl_logs_stream_t *s)
{
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
