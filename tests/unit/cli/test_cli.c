/* SPDX-License-Identifier: MIT */
/*
 * test_cli.c: the pure parts of src/cli: --since durations (logs.c) and header lookup in a
 * reply's header block (http_client.c).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* cmocka.h needs the headers above. */
#include <cmocka.h>

#include "galley/cli.h"

static void test_durations(void **state)
{
    (void)state;
    double s = -1;
    assert_int_equal(gl_cli_parse_duration("30s", &s), 0);
    assert_true(s == 30);
    assert_int_equal(gl_cli_parse_duration("10m", &s), 0);
    assert_true(s == 600);
    assert_int_equal(gl_cli_parse_duration("1h", &s), 0);
    assert_true(s == 3600);
    assert_int_equal(gl_cli_parse_duration("2d", &s), 0);
    assert_true(s == 172800);
    assert_int_equal(gl_cli_parse_duration("1h30m", &s), 0);
    assert_true(s == 5400);
    assert_int_equal(gl_cli_parse_duration("90", &s), 0);
    assert_true(s == 90);
    assert_int_equal(gl_cli_parse_duration("1.5m", &s), 0);
    assert_true(s == 90);
    s = 7;
    const char *bad[] = {"", "m", "10x", "-5s", "1h30", "s10", " 5s", "5s ", "1hh"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(gl_cli_parse_duration(bad[i], &s), -EINVAL);
    assert_int_equal(gl_cli_parse_duration(NULL, &s), -EINVAL);
    assert_true(s == 7); /* untouched on failure */
}

static void test_header_lookup(void **state)
{
    (void)state;
    gl_buf_t h = {0};
    gl_buf_append_str(&h, "Content-Type: application/json\r\n"
                          "X-Amz-Function-Error:Unhandled\r\n"
                          "x-amzn-ErrorType:  ResourceNotFoundException:http://x  \r\n"
                          "X-Amz-Log-Result-Extra: no\r\n");
    char *v = gl_cli_header(&h, "x-amz-function-error");
    assert_string_equal(v, "Unhandled");
    free(v);
    v = gl_cli_header(&h, "X-AMZN-ERRORTYPE");
    assert_string_equal(v, "ResourceNotFoundException:http://x");
    free(v);
    assert_null(gl_cli_header(&h, "X-Amz-Log-Result")); /* a longer name is not a match */
    assert_null(gl_cli_header(&h, "Content"));
    gl_buf_free(&h);
    gl_buf_t empty = {0};
    assert_null(gl_cli_header(&empty, "X"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_header_lookup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
