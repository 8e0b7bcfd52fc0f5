/* SPDX-License-Identifier: MIT */
/*
 * test_reply.c: the pure helpers of src/http/reply.c: reason phrases and the Date header format.
 * Replies on real connections are covered by test_server.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "internal.h"

static void test_reason_phrases(void **state)
{
    assert_string_equal(gl_http_reason(200), "OK");
    assert_string_equal(gl_http_reason(404), "Not Found");
    assert_string_equal(gl_http_reason(413), "Payload Too Large");
    assert_string_equal(gl_http_reason(431), "Request Header Fields Too Large");
    assert_string_equal(gl_http_reason(502), "Bad Gateway");
    assert_string_equal(gl_http_reason(299), "Unknown");
}

static void test_date_is_rfc7231(void **state)
{
    char out[40];
    gl_http_fmt_date(784111777, out, sizeof(out)); /* RFC 7231's own example */
    assert_string_equal(out, "Sun, 06 Nov 1994 08:49:37 GMT");
    gl_http_fmt_date(0, out, sizeof(out));
    assert_string_equal(out, "Thu, 01 Jan 1970 00:00:00 GMT");
    gl_http_fmt_date(1709251199, out, sizeof(out)); /* leap day, last second */
    assert_string_equal(out, "Thu, 29 Feb 2024 23:59:59 GMT");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reason_phrases),
        cmocka_unit_test(test_date_is_rfc7231),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
