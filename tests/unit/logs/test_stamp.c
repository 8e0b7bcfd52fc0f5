/* SPDX-License-Identifier: MIT */
/*
 * test_stamp.c: the stored lines' time stamp (src/logs/stamp.c): its fixed shape, the round
 * trip, and bare lines (including ones that start with a date in another shape) not being
 * taken for stamped ones.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "galley/logs.h"

static void test_format_shape(void **state)
{
    (void)state;
    char out[GL_LOGS_STAMP_LEN + 1];
    assert_int_equal(gl_logs_stamp_format(1767312000123, out), GL_LOGS_STAMP_LEN);
    assert_string_equal(out, "2026-01-02T00:00:00.123Z ");
    gl_logs_stamp_format(0, out);
    assert_string_equal(out, "1970-01-01T00:00:00.000Z ");
}

static void test_round_trip(void **state)
{
    (void)state;
    static const int64_t times[] = {0, 999, 1000, 951782400000 /* 2000-02-29 */,
                                    1767312000123, 4102444799999 /* 2099-12-31 */};
    for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
        char line[64];
        gl_logs_stamp_format(times[i], line);
        strcat(line, "hello");
        int64_t ms = -1;
        assert_int_equal(gl_logs_stamp_parse(line, strlen(line), &ms), GL_LOGS_STAMP_LEN);
        assert_int_equal(ms, times[i]);
        assert_string_equal(line + GL_LOGS_STAMP_LEN, "hello");
    }
}

static void test_an_empty_line_keeps_its_stamp(void **state)
{
    (void)state;
    int64_t ms = 0;
    const char *line = "2026-01-02T00:00:01.000Z ";
    assert_int_equal(gl_logs_stamp_parse(line, strlen(line), &ms), GL_LOGS_STAMP_LEN);
    assert_int_equal(ms, 1767312001000);
    assert_int_equal(gl_logs_stamp_parse(line, strlen(line), NULL), GL_LOGS_STAMP_LEN);
}

static void test_bare_lines_are_not_stamped(void **state)
{
    (void)state;
    static const char *const bare[] = {
        "",
        "hello",
        "START RequestId: 0123 Version: $LATEST",
        "2026-01-02T00:00:00.123Z",                /* cut short: no space */
        "2026-01-02T00:00:00.123Z\tabc\tINFO\thi", /* a Node runtime's own line */
        "2026-01-02 00:00:00.123Z x",
        "2026-13-02T00:00:00.123Z x",              /* month 13 */
        "2026-01-32T00:00:00.123Z x",
        "2026-01-02T24:00:00.123Z x",
        "2026-01-02T00:60:00.123Z x",
        "1969-12-31T23:59:59.999Z x",
        "2026-01-02T00:00:00,123Z x",
        "2026-01-02T00:00:00.12aZ x",
        "2026-01-02T00:00:00.123+ x",
        "[INFO]\t2026-01-02T00:00:00.123Z\tabc\thi",
    };
    for (size_t i = 0; i < sizeof(bare) / sizeof(bare[0]); i++) {
        int64_t ms = 42;
        if (gl_logs_stamp_parse(bare[i], strlen(bare[i]), &ms) != 0)
            fail_msg("'%s' taken for a stamped line", bare[i]);
        assert_int_equal(ms, 42);
    }
    /* A stamp is only read within len. */
    const char *line = "2026-01-02T00:00:00.123Z x";
    assert_int_equal(gl_logs_stamp_parse(line, GL_LOGS_STAMP_LEN - 1, NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_shape),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_an_empty_line_keeps_its_stamp),
        cmocka_unit_test(test_bare_lines_are_not_stamped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
