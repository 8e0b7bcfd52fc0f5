/* SPDX-License-Identifier: MIT */
/*
 * test_store.c: finding log groups and streams under a logs root (src/logs/store.c): which
 * directories are groups, streams and their first / last event times, and names a client
 * sends that must not reach outside the root.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>

#include <cmocka.h>

#include "galley/logs.h"
#include "galley/logstore.h"
#include "logs_test_util.h"

#define T0 "2026-01-02T00:00:00.000Z "
#define T5 "2026-01-02T00:00:05.250Z "
#define MS0 1767312000000LL

static void make_tree(const char *root)
{
    write_text(root, "aws/lambda/f/2026/01/02/[$LATEST]aa", T0 "one\n" T5 "two\n");
    write_text(root, "aws/lambda/f/2026/01/03/[1]bb", "bare\n");
    write_text(root, "aws/lambda/g/2026/01/02/[$LATEST]cc", T5 "half a line");
    write_text(root, "custom/group/name/2025/12/31/s", T0 "x\n");
    write_text(root, "aws/lambda/empty/2026/01/02/.hidden", "");
    write_text(root, "aws/lambda/notdate/x/01/02/s", T0 "x\n");
    /* A function named like a year: its group is still /aws/lambda/2024. */
    write_text(root, "aws/lambda/2024/2026/01/02/s", T0 "x\n");
}

static void test_groups(void **state)
{
    tmpdir_t *t = *state;
    make_tree(t->path);
    gl_logs_list_t l;
    assert_int_equal(gl_logs_list_groups(t->path, &l), 0);
    static const char *const want[] = {"/aws/lambda/2024", "/aws/lambda/f", "/aws/lambda/g",
                                       "/custom/group/name"};
    assert_int_equal(l.n, 4);
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(l.v[i].name, want[i]);
    gl_logs_list_free(&l);

    char *dir = NULL;
    assert_int_equal(gl_logs_group_dir(t->path, "/aws/lambda/f", &dir), 0);
    assert_non_null(strstr(dir, "/aws/lambda/f"));
    free(dir);
    assert_int_equal(gl_logs_group_dir(t->path, "/aws/lambda/empty", &dir), -ENOENT);
    assert_int_equal(gl_logs_group_dir(t->path, "/aws/lambda", &dir), -ENOENT);
    assert_int_equal(gl_logs_group_dir(t->path, "/aws/lambda/nope", &dir), -ENOENT);
    static const char *const bad[] = {"aws/lambda/f", "/aws/../aws/lambda/f", "/aws//lambda/f",
                                      "/aws/lambda/f/", "/", "/./aws/lambda/f", "/.."};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(gl_logs_group_dir(t->path, bad[i], &dir), -EINVAL);
    assert_null(dir);

    gl_logs_list_t none;
    assert_int_equal(gl_logs_list_groups("/nonexistent/gl-logs", &none), 0);
    assert_int_equal(none.n, 0);
}

static void test_streams_and_their_times(void **state)
{
    tmpdir_t *t = *state;
    make_tree(t->path);
    char gdir[256];
    snprintf(gdir, sizeof(gdir), "%s/aws/lambda/f", t->path);
    /* The bare stream's times are its file's. */
    char bare[320];
    snprintf(bare, sizeof(bare), "%s/2026/01/03/[1]bb", gdir);
    struct timeval tv[2] = {{1588766400, 0}, {1588766400, 0}};
    assert_int_equal(utimes(bare, tv), 0);

    gl_logs_list_t l;
    assert_int_equal(gl_logs_list_streams(gdir, &l), 0);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.v[0].name, "2026/01/02/[$LATEST]aa");
    assert_int_equal(l.v[0].first, MS0);
    assert_int_equal(l.v[0].created, MS0);
    assert_int_equal(l.v[0].last, MS0 + 5250);
    assert_int_equal(l.v[0].bytes, strlen(T0 "one\n" T5 "two\n"));
    assert_string_equal(l.v[1].name, "2026/01/03/[1]bb");
    assert_int_equal(l.v[1].first, 1588766400000LL);
    assert_int_equal(l.v[1].last, 1588766400000LL);
    gl_logs_list_free(&l);

    /* A last line still being written does not count: g's only line has no newline yet. */
    snprintf(gdir, sizeof(gdir), "%s/aws/lambda/g", t->path);
    assert_int_equal(gl_logs_list_streams(gdir, &l), 0);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.v[0].first, MS0 + 5250);
    assert_true(l.v[0].last > MS0 + 5250); /* the file's time: now */
    gl_logs_list_free(&l);
}

static void test_stream_paths_stay_inside(void **state)
{
    tmpdir_t *t = *state;
    make_tree(t->path);
    char gdir[256], *path = NULL;
    snprintf(gdir, sizeof(gdir), "%s/aws/lambda/f", t->path);
    assert_int_equal(gl_logs_stream_path(gdir, "2026/01/02/[$LATEST]aa", &path), 0);
    assert_non_null(strstr(path, "/2026/01/02/[$LATEST]aa"));
    free(path);
    static const char *const bad[] = {
        "2026/01/02/nope", "2026/01/02", "2026/01/02/", "../g/2026/01/02/[$LATEST]cc",
        "2026/01/02/../../../g/2026/01/02/[$LATEST]cc", "2026/01/02/..", "2026/1/02/x",
        "abcd/01/02/[$LATEST]aa", "2026/01/02/a/b", "/etc/passwd", "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (gl_logs_stream_path(gdir, bad[i], &path) != -ENOENT)
            fail_msg("stream name '%s' accepted", bad[i]);
        assert_null(path);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_groups, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(test_streams_and_their_times, setup_tmp, teardown_tmp),
        cmocka_unit_test_setup_teardown(test_stream_paths_stay_inside, setup_tmp, teardown_tmp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
