/* SPDX-License-Identifier: MIT */
/*
 * logs.h: functions' logs. An environment's stdout and stderr are split into lines
 * (gl_logs_lines_t), each line is appended to the environment's log stream file
 * (<state>/logs/<log group without the leading '/'>/<log stream>) and, while an invoke is in
 * progress, to that invoke's tail (the last 4 KB, returned base64 by `X-Amz-Log-Type: Tail`).
 * Platform lines (START, END, REPORT, ...) go through the same path. A stored line starts
 * with its time stamp (gl_logs_stamp_format); the tail gets the bare line.
 *
 * Each stream file is capped (GL_LOGS_STREAM_MAX_DEFAULT, or GALLEY_LOG_STREAM_MAX_BYTES in
 * the daemon's environment): at the cap one last line says so and later lines are dropped.
 * A line that is not written, for the cap or a write error (ENOSPC, EIO), is counted
 * (gl_logs_dropped_lines, galley_log_lines_dropped_total in /metrics) and the first one of
 * each stream is reported in the daemon log: nothing is dropped silently.
 */
#ifndef GALLEY_LOGS_H
#define GALLEY_LOGS_H

#include <stddef.h>
#include <stdint.h>

#include "galley/buf.h"
#include "galley/err.h"

#define GL_LOGS_TAIL_MAX 4096
/* A longer line is split: Lambda caps one log event at 256 KB. */
#define GL_LOGS_LINE_MAX (256 * 1024)

/* A stream file's cap: 100 MB, an environment's log for days of a busy function. */
#define GL_LOGS_STREAM_MAX_DEFAULT (100ULL * 1024 * 1024)

typedef struct gl_logs_stream {
    int fd;           /* -1 when closed */
    char *path;       /* malloc'd */
    uint64_t dropped; /* lines of this stream not written (cap or write error) */
    /* private */
    uint64_t size; /* bytes in the file */
    uint64_t max;  /* the cap, fixed at open */
    int capped;    /* the cap's notice is written: drop the rest */
    int reported;  /* a dropped line was reported in the daemon log */
    int holding;   /* gl_logs_stream_hold: lines wait in held for one write */
    gl_buf_t held; /* stamped lines not yet written (counted in size) */
} gl_logs_stream_t;

/**
 * Create the directories and open the stream file for appending (its current size counts
 * against the cap). The cap is GALLEY_LOG_STREAM_MAX_BYTES from the environment when it is a
 * positive number, read at the first open, else GL_LOGS_STREAM_MAX_DEFAULT.
 */
int gl_logs_stream_open(gl_logs_stream_t *s, const char *logs_root, const char *group,
                        const char *stream, gl_err_t *err);
/** Append one line stamped with the current time (a newline is added). A line over the cap
 *  or a failed write is counted, never fatal; the first of a stream is logged as a warning
 *  with the reason. */
void gl_logs_stream_write(gl_logs_stream_t *s, const char *line, size_t len);
/** Lines of every stream not written since the daemon started (loop thread only). */
uint64_t gl_logs_dropped_lines(void);
/** Override the cap of streams opened from now on; 0 goes back to the default. For tests. */
void gl_logs_set_stream_max(uint64_t bytes);
/** Flushes what is held, then closes. */
void gl_logs_stream_close(gl_logs_stream_t *s);
/**
 * Hold (on != 0): later lines wait in memory, in order, and reach the file in one write at
 * the next gl_logs_stream_flush (or once 64 KB are held); off: flush, then write each line at
 * once again. An invoke holds its stream from START to REPORT, so its lines cost one write.
 * Returns whether lines are held after the call (the caller arms its flush timer on that).
 */
int gl_logs_stream_hold(gl_logs_stream_t *s, int on);
/** Write the held lines in one writev; a failure counts each line not wholly written. */
void gl_logs_stream_flush(gl_logs_stream_t *s);

typedef void (*gl_logs_line_fn)(const char *line, size_t len, void *arg);

/** Splits a byte stream into lines; zeroed is ready. */
typedef struct gl_logs_lines {
    gl_buf_t pending;
} gl_logs_lines_t;

/** Feed bytes; emit runs once per complete line (without its '\n'; a trailing '\r' is kept). */
void gl_logs_lines_feed(gl_logs_lines_t *l, const char *data, size_t len, gl_logs_line_fn emit,
                        void *arg);
/** Emit what is left as a last line, if anything. */
void gl_logs_lines_flush(gl_logs_lines_t *l, gl_logs_line_fn emit, void *arg);
void gl_logs_lines_free(gl_logs_lines_t *l);

/** Append line + '\n' to a tail buffer, keeping only its last GL_LOGS_TAIL_MAX bytes. */
void gl_logs_tail_append(gl_buf_t *tail, const char *line, size_t len);

/* "2026-12-01T23:28:44.123Z ": the stamp in front of each stored line, with its space. */
#define GL_LOGS_STAMP_LEN 25

/** Write the stamp for epoch_ms (UTC, milliseconds) into out; returns GL_LOGS_STAMP_LEN. */
size_t gl_logs_stamp_format(int64_t epoch_ms, char out[GL_LOGS_STAMP_LEN + 1]);
/** When line starts with a well-formed stamp: its time in *epoch_ms (may be NULL) and the
 *  stamp's length (GL_LOGS_STAMP_LEN, the bytes to skip); else 0 (a line stored bare). */
size_t gl_logs_stamp_parse(const char *line, size_t len, int64_t *epoch_ms);

/* A CloudWatch Logs filter pattern over plain text (filter.c): its terms. */
enum { GL_LOGS_TERM_ALL, GL_LOGS_TERM_NOT, GL_LOGS_TERM_ANY }; /* term, -term, ?term */
typedef struct gl_logs_term {
    int kind;
    char *text; /* malloc'd, NUL-terminated */
    size_t len;
} gl_logs_term_t;
typedef struct gl_logs_filter {
    gl_logs_term_t *terms;
    size_t n, cap;
} gl_logs_filter_t;

/** Compile pattern (NULL or blank: match all). -EINVAL with a message in errmsg for a pattern
 *  galley does not answer (JSON, space-delimited, regex, an unterminated quote); f is then
 *  empty. */
int gl_logs_filter_compile(gl_logs_filter_t *f, const char *pattern, char *errmsg,
                           size_t errlen);
/** 1 when the message (len bytes, need not be NUL-terminated) matches. */
int gl_logs_filter_match(const gl_logs_filter_t *f, const char *msg, size_t len);
void gl_logs_filter_free(gl_logs_filter_t *f);

#endif
