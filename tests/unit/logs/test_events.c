/* SPDX-License-Identifier: MIT */
/*
 * test_events.c: a stream file read back as events (src/logs/events.c): stamps become times,
 * bare lines take the file's time, offsets, and a last line still being written left out.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <cmocka.h>

#include "galley/logs.h"
#include "galley/logstore.h"
#include "logs_test_util.h"

static void test_events_of_a_stream(void **state)
{
    tmpdir_t *t = *state;
    static const char text[] = "2026-01-02T00:00:00.000Z first\n"
                               "bare line\n"
                               "2026-01-02T00:00:01.500Z \n"
                               "2026-01-02T00:00:02.000Z being writ";
    write_text(t->path, "s", text);
    char path[128];
    snprintf(path, sizeof(path), "%s/s", t->path);
    struct timeval tv[2] = {{1767312100, 0}, {1767312100, 0}};
    assert_int_equal(utimes(path, tv), 0);

    gl_logs_file_t f;
    assert_int_equal(gl_logs_file_read(&f, path), 0);
    assert_int_equal(f.n, 3);
    assert_int_equal(f.ev[0].ts, 1767312000000LL);
    assert_int_equal(f.ev[0].off, 0);
    assert_int_equal(f.ev[0].len, 5);
    assert_memory_equal(f.ev[0].msg, "first", 5);
    assert_int_equal(f.ev[1].ts, 1767312100000LL); /* the file's time */
    assert_int_equal(f.ev[1].off, f.ev[0].end);
    assert_memory_equal(f.ev[1].msg, "bare line", 9);
    assert_int_equal(f.ev[2].ts, 1767312001500LL);
    assert_int_equal(f.ev[2].len, 0);
    /* The next line will start where the unfinished one does. */
    assert_int_equal(f.size, f.ev[2].end);
    assert_int_equal(f.size, strstr(text, "2026-01-02T00:00:02") - text);
    gl_logs_file_free(&f);
    assert_int_equal(f.n, 0);
}

static void test_missing_and_empty_files(void **state)
{
    tmpdir_t *t = *state;
    gl_logs_file_t f;
    char path[128];
    snprintf(path, sizeof(path), "%s/none", t->path);
    assert_int_equal(gl_logs_file_read(&f, path), -ENOENT);
    assert_int_equal(f.n, 0);
    write_text(t->path, "empty", "");
    snprintf(path, sizeof(path), "%s/empty", t->path);
    assert_int_equal(gl_logs_file_read(&f, path), 0);
    assert_int_equal(f.n, 0);
    assert_int_equal(f.size, 0);
    gl_logs_file_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_events_of_a_stream, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(test_missing_and_empty_files, setup_tmp, teardown_tmp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
