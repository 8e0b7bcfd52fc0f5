/* SPDX-License-Identifier: MIT */
/*
 * test_token.c: src/cli/token.c: where the CLI finds the control token (an explicit
 * --state-dir, $GALLEY_CONTROL_TOKEN, $GALLEY_STATE_DIR, ./.galley) and that nothing that
 * could end or split the header line is ever sent.
 */
#define _GNU_SOURCE
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

#include "galley/util.h"
#include "internal.h"

static char dir[] = "/tmp/galley-test-token-XXXXXX";

static void write_token(const char *state, const char *text)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/run", state);
    gl_mkdir_p(path, 0700);
    snprintf(path, sizeof(path), "%s/run/control-token", state);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    if (!mkdtemp(dir))
        return -1;
    unsetenv("GALLEY_CONTROL_TOKEN");
    unsetenv("GALLEY_STATE_DIR");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return gl_rm_rf(dir);
}

static void expect_header(const char *state_dir, const char *token)
{
    char *line = gl_cli_control_header(state_dir), want[300];
    if (!token) {
        assert_null(line);
        return;
    }
    snprintf(want, sizeof(want), "X-Galley-Control-Token: %s\r\n", token);
    assert_non_null(line);
    assert_string_equal(line, want);
    free(line);
}

static void test_sources_in_order(void **state)
{
    (void)state;
    char a[300], b[300];
    snprintf(a, sizeof(a), "%s/a", dir);
    snprintf(b, sizeof(b), "%s/b", dir);
    write_token(a, "aaaa\n");
    write_token(b, "bbbb\n");
    expect_header(a, "aaaa");
    expect_header("/nonexistent-galley-state", NULL);
    setenv("GALLEY_STATE_DIR", b, 1);
    expect_header(NULL, "bbbb");
    assert_string_equal(gl_cli_state_dir(NULL), b);
    assert_string_equal(gl_cli_state_dir(""), b);
    setenv("GALLEY_CONTROL_TOKEN", "envtoken", 1);
    expect_header(NULL, "envtoken");
    expect_header(a, "aaaa"); /* an explicit --state-dir wins */
    unsetenv("GALLEY_CONTROL_TOKEN");
    unsetenv("GALLEY_STATE_DIR");
    assert_string_equal(gl_cli_state_dir(NULL), ".galley");
}

static void test_nothing_that_splits_the_header(void **state)
{
    (void)state;
    char a[300];
    snprintf(a, sizeof(a), "%s/c", dir);
    write_token(a, "ok\r\nX-Injected: 1\n");
    expect_header(a, "ok"); /* the first line only */
    write_token(a, "has space\n");
    expect_header(a, NULL);
    write_token(a, "\n");
    expect_header(a, NULL);
    setenv("GALLEY_CONTROL_TOKEN", "a\r\nX-Injected: 1", 1);
    expect_header(NULL, NULL);
    unsetenv("GALLEY_CONTROL_TOKEN");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sources_in_order),
        cmocka_unit_test(test_nothing_that_splits_the_header),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
