/* SPDX-License-Identifier: MIT */
/*
 * test_filter.c: CloudWatch Logs filter patterns over plain text (src/logs/filter.c): terms,
 * quoted phrases, -term and ?term, the empty pattern, and the patterns galley refuses.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "galley/logs.h"

/* Whether pattern matches msg; the pattern must compile. */
static int matches(const char *pattern, const char *msg)
{
    gl_logs_filter_t f;
    char err[256] = "";
    if (gl_logs_filter_compile(&f, pattern, err, sizeof(err)) != 0)
        fail_msg("'%s' did not compile: %s", pattern, err);
    int m = gl_logs_filter_match(&f, msg, strlen(msg));
    gl_logs_filter_free(&f);
    return m;
}

static void test_empty_pattern_matches_all(void **state)
{
    (void)state;
    assert_true(matches("", "anything"));
    assert_true(matches("   ", ""));
    assert_true(matches(NULL, "x"));
}

static void test_terms_all_must_match(void **state)
{
    (void)state;
    assert_true(matches("ERROR", "[ERROR] disk full"));
    assert_false(matches("ERROR", "[error] disk full")); /* case-sensitive */
    assert_true(matches("ERROR disk", "[ERROR] disk full"));
    assert_true(matches("disk  ERROR", "[ERROR] disk full")); /* order does not matter */
    assert_false(matches("ERROR memory", "[ERROR] disk full"));
    assert_true(matches("RequestId:", "START RequestId: 1 Version: $LATEST"));
}

static void test_quoted_phrases(void **state)
{
    (void)state;
    assert_true(matches("\"disk full\"", "[ERROR] disk full"));
    assert_false(matches("\"full disk\"", "[ERROR] disk full"));
    assert_true(matches("\"say \\\"hi\\\"\"", "they say \"hi\" loudly"));
    assert_true(matches("\"a\\\\b\"", "path a\\b"));
    assert_true(matches("\"\"", "")); /* an empty phrase matches everything */
}

static void test_exclusion_and_alternatives(void **state)
{
    (void)state;
    assert_true(matches("ERROR -disk", "[ERROR] memory"));
    assert_false(matches("ERROR -disk", "[ERROR] disk full"));
    assert_false(matches("-\"disk full\"", "[ERROR] disk full"));
    assert_true(matches("?ERROR ?WARN", "[WARN] slow"));
    assert_true(matches("?ERROR ?WARN", "[ERROR] disk"));
    assert_false(matches("?ERROR ?WARN", "[INFO] ok"));
    assert_true(matches("disk ?ERROR ?WARN", "[WARN] disk"));
    assert_false(matches("disk ?ERROR ?WARN", "[WARN] memory"));
    /* A lone '-' or '?' is a term of its own. */
    assert_true(matches("-", "a - b"));
    assert_false(matches("?", "no question"));
}

static void test_unsupported_patterns_refused(void **state)
{
    (void)state;
    static const char *const refused[] = {"{ $.level = \"error\" }", "  [ip, user, ...]",
                                          "%ERR.R%", "\"never closed"};
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        gl_logs_filter_t f;
        char err[256] = "";
        assert_int_equal(gl_logs_filter_compile(&f, refused[i], err, sizeof(err)), -EINVAL);
        assert_true(strlen(err) > 0);
        assert_int_equal(f.n, 0);
        gl_logs_filter_free(&f);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_pattern_matches_all),
        cmocka_unit_test(test_terms_all_must_match),
        cmocka_unit_test(test_quoted_phrases),
        cmocka_unit_test(test_exclusion_and_alternatives),
        cmocka_unit_test(test_unsupported_patterns_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
