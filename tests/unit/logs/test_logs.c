/* SPDX-License-Identifier: MIT */
/*
 * test_logs.c: src/logs/logs.c: the line splitter (partial lines across feeds, CRLF, lines
 * over GL_LOGS_LINE_MAX, flush), the per-invoke tail (the reader's last GL_LOGS_TAIL_MAX
 * bytes always equal the last bytes of everything appended) and log stream files (directories
 * made, appends across reopenings, the group's leading '/' stripped, the size cap, lines
 * that cannot be written counted, and held lines: written in one piece at the flush, in order
 * with the cap's notice, each counted when the flush fails).
 *
 * Emitted lines are collected into a list of copies so each test can compare them whole.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* cmocka.h needs the headers above. */
#include <cmocka.h>

#include "galley/logs.h"
#include "galley/util.h"
#include "logs_test_util.h"

#define MAX_LINES 64

typedef struct seen {
    char *line[MAX_LINES];
    size_t len[MAX_LINES];
    size_t n;
} seen_t;

static void collect(const char *line, size_t len, void *arg)
{
    seen_t *s = arg;
    assert_true(s->n < MAX_LINES);
    s->line[s->n] = malloc(len + 1);
    assert_non_null(s->line[s->n]);
    memcpy(s->line[s->n], line, len);
    s->line[s->n][len] = '\0';
    s->len[s->n] = len;
    s->n++;
}

static void seen_free(seen_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->line[i]);
    s->n = 0;
}

static void feed_str(gl_logs_lines_t *l, const char *text, seen_t *s)
{
    gl_logs_lines_feed(l, text, strlen(text), collect, s);
}

/* ---- line splitting ---- */

static void test_lines_whole_and_empty(void **state)
{
    (void)state;
    gl_logs_lines_t l = {0};
    seen_t s = {0};
    feed_str(&l, "one\ntwo\n\nthree\n", &s);
    assert_int_equal(s.n, 4);
    assert_string_equal(s.line[0], "one");
    assert_string_equal(s.line[1], "two");
    assert_int_equal(s.len[2], 0); /* an empty line is still a line */
    assert_string_equal(s.line[3], "three");
    gl_logs_lines_flush(&l, collect, &s);
    assert_int_equal(s.n, 4); /* nothing pending: flush emits nothing */
    gl_logs_lines_free(&l);
    seen_free(&s);
}

static void test_lines_partial_across_feeds(void **state)
{
    (void)state;
    gl_logs_lines_t l = {0};
    seen_t s = {0};
    feed_str(&l, "hel", &s);
    assert_int_equal(s.n, 0);
    feed_str(&l, "lo wo", &s);
    assert_int_equal(s.n, 0);
    feed_str(&l, "rld\nnext", &s);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.line[0], "hello world");
    /* A feed that is only the newline ends the pending line. */
    feed_str(&l, "\n", &s);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.line[1], "next");
    /* Byte by byte. */
    const char *text = "a\nbc\n";
    for (size_t i = 0; text[i]; i++)
        gl_logs_lines_feed(&l, text + i, 1, collect, &s);
    assert_int_equal(s.n, 4);
    assert_string_equal(s.line[2], "a");
    assert_string_equal(s.line[3], "bc");
    gl_logs_lines_free(&l);
    seen_free(&s);
}

static void test_lines_crlf_keeps_cr(void **state)
{
    (void)state;
    gl_logs_lines_t l = {0};
    seen_t s = {0};
    feed_str(&l, "dos\r\nunix\n\r\n", &s);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.len[0], 4);
    assert_memory_equal(s.line[0], "dos\r", 4);
    assert_string_equal(s.line[1], "unix");
    assert_int_equal(s.len[2], 1);
    assert_int_equal(s.line[2][0], '\r');
    gl_logs_lines_free(&l);
    seen_free(&s);
}

static void test_lines_flush_emits_rest_once(void **state)
{
    (void)state;
    gl_logs_lines_t l = {0};
    seen_t s = {0};
    feed_str(&l, "done\nno newline at end", &s);
    assert_int_equal(s.n, 1);
    gl_logs_lines_flush(&l, collect, &s);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.line[1], "no newline at end");
    gl_logs_lines_flush(&l, collect, &s);
    assert_int_equal(s.n, 2);
    /* The splitter is reusable after a flush. */
    feed_str(&l, "again\n", &s);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.line[2], "again");
    gl_logs_lines_free(&l);
    seen_free(&s);
}

static char *pattern(size_t n, size_t seed)
{
    char *p = malloc(n + 1);
    assert_non_null(p);
    for (size_t i = 0; i < n; i++)
        p[i] = (char)('a' + (i + seed) % 26);
    p[n] = '\0';
    return p;
}

static void test_lines_overlong_split_at_cap(void **state)
{
    (void)state;
    gl_logs_lines_t l = {0};
    seen_t s = {0};
    size_t total = 2 * GL_LOGS_LINE_MAX + 10;
    char *big = pattern(total, 0);
    /* One feed holding 2 caps + 10 bytes and its newline: three pieces, none over the cap. */
    gl_logs_lines_feed(&l, big, total, collect, &s);
    assert_int_equal(s.n, 2);
    gl_logs_lines_feed(&l, "\n", 1, collect, &s);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.len[0], GL_LOGS_LINE_MAX);
    assert_int_equal(s.len[1], GL_LOGS_LINE_MAX);
    assert_int_equal(s.len[2], 10);
    assert_memory_equal(s.line[0], big, GL_LOGS_LINE_MAX);
    assert_memory_equal(s.line[1], big + GL_LOGS_LINE_MAX, GL_LOGS_LINE_MAX);
    assert_memory_equal(s.line[2], big + 2 * GL_LOGS_LINE_MAX, 10);
    /* Nothing stays buffered beyond the cap. */
    assert_true(l.pending.len <= GL_LOGS_LINE_MAX);
    seen_free(&s);

    /* The same bytes in odd-sized feeds give the same pieces. */
    size_t off = 0, step = 4093;
    while (off < total) {
        size_t n = total - off < step ? total - off : step;
        gl_logs_lines_feed(&l, big + off, n, collect, &s);
        assert_true(l.pending.len <= GL_LOGS_LINE_MAX);
        off += n;
    }
    gl_logs_lines_flush(&l, collect, &s);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.len[0], GL_LOGS_LINE_MAX);
    assert_int_equal(s.len[1], GL_LOGS_LINE_MAX);
    assert_memory_equal(s.line[1], big + GL_LOGS_LINE_MAX, GL_LOGS_LINE_MAX);
    assert_int_equal(s.len[2], 10);
    seen_free(&s);

    /* A line of exactly the cap is one line, and its newline adds no empty piece. */
    gl_logs_lines_feed(&l, big, GL_LOGS_LINE_MAX, collect, &s);
    assert_int_equal(s.n, 0);
    gl_logs_lines_feed(&l, "\nx\n", 3, collect, &s);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.len[0], GL_LOGS_LINE_MAX);
    assert_string_equal(s.line[1], "x");
    free(big);
    gl_logs_lines_free(&l);
    seen_free(&s);
}

/* ---- tail ---- */

/* What the invoke reader does (env.c finish_invoke): the last GL_LOGS_TAIL_MAX bytes. */
static void tail_view(const gl_buf_t *tail, const char **p, size_t *n)
{
    size_t off = tail->len > GL_LOGS_TAIL_MAX ? tail->len - GL_LOGS_TAIL_MAX : 0;
    *p = tail->data ? tail->data + off : "";
    *n = tail->len - off;
}

static void check_tail_matches(const gl_buf_t *tail, const gl_buf_t *all)
{
    const char *p;
    size_t n;
    tail_view(tail, &p, &n);
    size_t want = all->len < GL_LOGS_TAIL_MAX ? all->len : GL_LOGS_TAIL_MAX;
    assert_int_equal(n, want);
    assert_memory_equal(p, all->data + all->len - want, want);
}

static void test_tail_small_is_everything(void **state)
{
    (void)state;
    gl_buf_t tail = {0};
    gl_logs_tail_append(&tail, "START", 5);
    gl_logs_tail_append(&tail, "", 0);
    gl_logs_tail_append(&tail, "END", 3);
    assert_int_equal(tail.len, 11);
    assert_memory_equal(tail.data, "START\n\nEND\n", 11);
    gl_buf_free(&tail);
}

static void test_tail_keeps_last_bytes(void **state)
{
    (void)state;
    gl_buf_t tail = {0}, all = {0};
    /* Lines of many sizes, including sizes near and over the cap. */
    size_t sizes[] = {1, 100, 4094, 4095, 4096, 4097, 7, 3000, 9000, 0, 12, 4095, 5, 2047, 2048};
    for (size_t round = 0; round < 40; round++) {
        size_t n = sizes[round % (sizeof(sizes) / sizeof(sizes[0]))];
        char *line = pattern(n, round);
        gl_logs_tail_append(&tail, line, n);
        gl_buf_append(&all, line, n);
        gl_buf_append(&all, "\n", 1);
        free(line);
        check_tail_matches(&tail, &all);
        /* The buffer is bounded: lazily trimmed, never past twice the cap. */
        assert_true(tail.len <= 2 * GL_LOGS_TAIL_MAX);
        assert_true(tail.len >= (all.len < GL_LOGS_TAIL_MAX ? all.len : GL_LOGS_TAIL_MAX));
    }
    gl_buf_free(&tail);
    gl_buf_free(&all);
}

static void test_tail_one_huge_line(void **state)
{
    (void)state;
    gl_buf_t tail = {0};
    gl_logs_tail_append(&tail, "before", 6);
    size_t n = 3 * GL_LOGS_TAIL_MAX + 5;
    char *line = pattern(n, 3);
    gl_logs_tail_append(&tail, line, n);
    assert_int_equal(tail.len, GL_LOGS_TAIL_MAX);
    assert_memory_equal(tail.data, line + n - (GL_LOGS_TAIL_MAX - 1), GL_LOGS_TAIL_MAX - 1);
    assert_int_equal(tail.data[GL_LOGS_TAIL_MAX - 1], '\n');
    free(line);
    gl_buf_free(&tail);
}

/* ---- stream files ---- */

static void read_all(const char *path, gl_buf_t *out)
{
    gl_buf_reset(out);
    assert_int_equal(gl_read_file(path, 1 << 20, out), 0);
}

static void test_stream_dirs_and_append(void **state)
{
    tmpdir_t *t = *state;
    char root[128];
    snprintf(root, sizeof(root), "%s/logs", t->path); /* does not exist yet */
    gl_logs_stream_t s;
    gl_err_t err = {0};
    const char *stream = "2024/05/06/[$LATEST]0123abcd";
    int64_t before = gl_now_ms();
    assert_int_equal(gl_logs_stream_open(&s, root, "/aws/lambda/fn", stream, &err), 0);
    assert_true(s.fd >= 0);
    char want[256];
    snprintf(want, sizeof(want), "%s/aws/lambda/fn/%s", root, stream);
    assert_string_equal(s.path, want);
    gl_logs_stream_write(&s, "first", 5);
    gl_logs_stream_write(&s, "", 0);
    gl_logs_stream_close(&s);
    assert_int_equal(s.fd, -1);
    assert_null(s.path);
    gl_logs_stream_close(&s); /* twice is harmless */

    /* Reopening appends. A group with several leading slashes lands in the same place. */
    assert_int_equal(gl_logs_stream_open(&s, root, "///aws/lambda/fn", stream, &err), 0);
    assert_string_equal(s.path, want);
    gl_logs_stream_write(&s, "second\r", 7);
    gl_logs_stream_close(&s);

    /* Each line is stored behind its stamp, taken when it was written. */
    gl_buf_t got = {0};
    read_all(want, &got);
    static const char *const lines[] = {"first", "", "second\r"};
    const char *p = got.data;
    for (size_t i = 0; i < 3; i++) {
        int64_t ms = 0;
        const char *nl = memchr(p, '\n', got.len - (size_t)(p - got.data));
        assert_non_null(nl);
        assert_int_equal(gl_logs_stamp_parse(p, (size_t)(nl - p), &ms), GL_LOGS_STAMP_LEN);
        assert_true(ms >= before && ms <= gl_now_ms());
        assert_int_equal((size_t)(nl - p) - GL_LOGS_STAMP_LEN, strlen(lines[i]));
        assert_memory_equal(p + GL_LOGS_STAMP_LEN, lines[i], strlen(lines[i]));
        p = nl + 1;
    }
    assert_int_equal(p - got.data, got.len);
    struct stat st;
    char dir[160];
    snprintf(dir, sizeof(dir), "%s/aws/lambda/fn/2024/05/06", root);
    assert_int_equal(stat(dir, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    gl_buf_free(&got);
}

static void test_stream_open_failure_leaves_closed(void **state)
{
    tmpdir_t *t = *state;
    char blocker[128];
    /* A regular file where a directory must go. */
    snprintf(blocker, sizeof(blocker), "%s/file", t->path);
    assert_int_equal(gl_write_file_atomic(blocker, "x", 1), 0);
    gl_logs_stream_t s;
    gl_err_t err = {0};
    int rc = gl_logs_stream_open(&s, blocker, "/aws/lambda/fn", "stream", &err);
    assert_true(rc < 0);
    assert_int_equal(s.fd, -1);
    assert_null(s.path);
    assert_true(err.msg[0] != '\0');
    gl_logs_stream_write(&s, "dropped", 7); /* a closed stream ignores writes */
    gl_logs_stream_close(&s);
}

/* Issue 9: a stream is capped; the file ends with a notice and every later line is counted. */
static void test_stream_cap_counts_dropped_lines(void **state)
{
    tmpdir_t *t = *state;
    gl_logs_stream_t s;
    gl_err_t err = {0};
    uint64_t before = gl_logs_dropped_lines();
    /* Each stored line is its 25-byte stamp, the line and a newline. */
    gl_logs_set_stream_max(2 * GL_LOGS_STAMP_LEN + 20);
    assert_int_equal(gl_logs_stream_open(&s, t->path, "/g", "s", &err), 0);
    gl_logs_stream_write(&s, "0123456789", 10); /* 25 + 11 bytes */
    gl_logs_stream_write(&s, "abcdefgh", 8);    /* 25 + 9: exactly the cap */
    gl_logs_stream_write(&s, "x", 1);           /* over: notice, then dropped */
    gl_logs_stream_write(&s, "y", 1);
    assert_int_equal(s.dropped, 2);
    assert_int_equal(gl_logs_dropped_lines(), before + 2);
    char path[160];
    snprintf(path, sizeof(path), "%s", s.path);
    gl_logs_stream_close(&s);

    gl_buf_t got = {0};
    read_all(path, &got);
    char want[512];
    snprintf(want, sizeof(want),
             "0123456789\nabcdefgh\ngalley: this log stream reached its cap of %d "
             "bytes; later lines are not written\n",
             2 * GL_LOGS_STAMP_LEN + 20);
    /* Strip the three stamps (each checked to be one) before comparing the text. */
    char bare[512];
    size_t n = 0;
    for (const char *p = got.data, *end = got.data + got.len; p < end;) {
        assert_int_equal(gl_logs_stamp_parse(p, (size_t)(end - p), NULL), GL_LOGS_STAMP_LEN);
        p += GL_LOGS_STAMP_LEN;
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        assert_non_null(nl);
        memcpy(bare + n, p, (size_t)(nl - p) + 1);
        n += (size_t)(nl - p) + 1;
        p = nl + 1;
    }
    assert_int_equal(n, strlen(want));
    assert_memory_equal(bare, want, n);

    /* Reopened, the file's size counts: nothing more is written, only counted. */
    assert_int_equal(gl_logs_stream_open(&s, t->path, "/g", "s", &err), 0);
    gl_logs_stream_write(&s, "z", 1);
    assert_int_equal(s.dropped, 1);
    gl_logs_stream_close(&s);
    size_t stored = got.len;
    gl_buf_free(&got);
    read_all(path, &got);
    assert_int_equal(got.len, stored);
    assert_int_equal(gl_logs_dropped_lines(), before + 3);
    gl_logs_set_stream_max(0);
    gl_buf_free(&got);
}

/* Open stream name, then point it at /dev/full (every write fails with ENOSPC); skips the
 * test where /dev/full is missing. */
static void open_on_dev_full(gl_logs_stream_t *s, tmpdir_t *t, const char *name)
{
    gl_err_t err = {0};
    assert_int_equal(gl_logs_stream_open(s, t->path, "/g", name, &err), 0);
    int full = open("/dev/full", O_WRONLY | O_CLOEXEC);
    if (full < 0) {
        gl_logs_stream_close(s);
        skip();
    }
    close(s->fd);
    s->fd = full;
}

/* A write error (here ENOSPC, from /dev/full) counts the line instead of losing it silently. */
static void test_stream_write_error_counted(void **state)
{
    tmpdir_t *t = *state;
    gl_logs_stream_t s;
    uint64_t before = gl_logs_dropped_lines();
    open_on_dev_full(&s, t, "full");
    gl_logs_stream_write(&s, "lost", 4);
    gl_logs_stream_write(&s, "lost too", 8);
    assert_int_equal(s.dropped, 2);
    assert_int_equal(gl_logs_dropped_lines(), before + 2);
    assert_int_equal(s.reported, 1);
    gl_logs_stream_close(&s);
}

/* A held stream writes nothing until the flush, then every held line, in order. */
static void test_stream_hold_writes_at_flush(void **state)
{
    tmpdir_t *t = *state;
    gl_logs_stream_t s;
    gl_err_t err = {0};
    assert_int_equal(gl_logs_stream_open(&s, t->path, "/g", "held", &err), 0);
    char path[160];
    snprintf(path, sizeof(path), "%s", s.path);
    gl_logs_stream_write(&s, "before", 6); /* not held: in the file at once */
    assert_int_equal(gl_logs_stream_hold(&s, 1), 0);
    gl_logs_stream_write(&s, "START", 5);
    gl_logs_stream_write(&s, "line", 4);
    assert_int_equal(gl_logs_stream_hold(&s, 1), 1);
    gl_buf_t got = {0};
    read_all(path, &got);
    assert_int_equal(got.len, GL_LOGS_STAMP_LEN + 7);
    gl_buf_free(&got);
    gl_logs_stream_flush(&s); /* a timer's flush: still held afterwards */
    gl_logs_stream_write(&s, "REPORT", 6);
    read_all(path, &got);
    assert_int_equal(got.len, 3 * GL_LOGS_STAMP_LEN + 7 + 6 + 5);
    gl_buf_free(&got);
    assert_int_equal(gl_logs_stream_hold(&s, 0), 0);
    gl_logs_stream_write(&s, "after", 5);
    gl_logs_stream_close(&s);
    read_all(path, &got);
    static const char *const lines[] = {"before", "START", "line", "REPORT", "after"};
    const char *p = got.data;
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(gl_logs_stamp_parse(p, got.len - (size_t)(p - got.data), NULL),
                         GL_LOGS_STAMP_LEN);
        p += GL_LOGS_STAMP_LEN;
        assert_memory_equal(p, lines[i], strlen(lines[i]));
        p += strlen(lines[i]);
        assert_int_equal(*p++, '\n');
    }
    assert_int_equal(p - got.data, got.len);
    assert_int_equal(s.dropped, 0);
    gl_buf_free(&got);
}

/* Held lines count against the cap: the notice follows them, and close flushes. */
static void test_stream_hold_cap_notice_after_held(void **state)
{
    tmpdir_t *t = *state;
    gl_logs_stream_t s;
    gl_err_t err = {0};
    gl_logs_set_stream_max(2 * GL_LOGS_STAMP_LEN + 20);
    assert_int_equal(gl_logs_stream_open(&s, t->path, "/g", "heldcap", &err), 0);
    char path[160];
    snprintf(path, sizeof(path), "%s", s.path);
    gl_logs_stream_hold(&s, 1);
    gl_logs_stream_write(&s, "0123456789", 10);
    gl_logs_stream_write(&s, "abcdefgh", 8);
    gl_logs_stream_write(&s, "x", 1); /* over: held lines, then the notice */
    assert_int_equal(s.dropped, 1);
    gl_logs_stream_close(&s);
    gl_logs_set_stream_max(0);
    gl_buf_t got = {0};
    read_all(path, &got);
    assert_memory_equal(got.data + GL_LOGS_STAMP_LEN, "0123456789\n", 11);
    assert_memory_equal(got.data + 2 * GL_LOGS_STAMP_LEN + 11, "abcdefgh\n", 9);
    assert_memory_equal(got.data + 3 * GL_LOGS_STAMP_LEN + 20, "galley: this log stream", 23);
    gl_buf_free(&got);
}

/* A flush that fails counts every held line, as unheld writes count theirs. */
static void test_stream_hold_write_error_counts_each(void **state)
{
    tmpdir_t *t = *state;
    gl_logs_stream_t s;
    uint64_t before = gl_logs_dropped_lines();
    open_on_dev_full(&s, t, "heldfull");
    gl_logs_stream_hold(&s, 1);
    gl_logs_stream_write(&s, "one", 3);
    gl_logs_stream_write(&s, "two", 3);
    gl_logs_stream_write(&s, "three", 5);
    assert_int_equal(s.dropped, 0);
    gl_logs_stream_hold(&s, 0);
    assert_int_equal(s.dropped, 3);
    assert_int_equal(gl_logs_dropped_lines(), before + 3);
    assert_int_equal(s.size, 0);
    gl_logs_stream_close(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_whole_and_empty),
        cmocka_unit_test(test_lines_partial_across_feeds),
        cmocka_unit_test(test_lines_crlf_keeps_cr),
        cmocka_unit_test(test_lines_flush_emits_rest_once),
        cmocka_unit_test(test_lines_overlong_split_at_cap),
        cmocka_unit_test(test_tail_small_is_everything),
        cmocka_unit_test(test_tail_keeps_last_bytes),
        cmocka_unit_test(test_tail_one_huge_line),
        cmocka_unit_test_setup_teardown(test_stream_dirs_and_append, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(test_stream_open_failure_leaves_closed, setup_tmp,
                                        teardown_tmp),
        cmocka_unit_test_setup_teardown(test_stream_cap_counts_dropped_lines, setup_tmp,
                                        teardown_tmp),
        cmocka_unit_test_setup_teardown(test_stream_write_error_counted, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(test_stream_hold_writes_at_flush, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(test_stream_hold_cap_notice_after_held, setup_tmp,
                                        teardown_tmp),
        cmocka_unit_test_setup_teardown(test_stream_hold_write_error_counts_each, setup_tmp,
                                        teardown_tmp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
