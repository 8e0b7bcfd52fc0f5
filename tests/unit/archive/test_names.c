/* SPDX-License-Identifier: MIT */
/*
 * test_names.c: the text-only checks of src/archive/names.c (entry names, link targets).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"

static void normalize_ok(const char *in, const char *want)
{
    char out[64];
    assert_int_equal(gl_archive_normalize_name(in, out, sizeof(out)), 0);
    assert_string_equal(out, want);
}

static void test_normalize_plain_names(void **state)
{
    normalize_ok("a.txt", "a.txt");
    normalize_ok("dir/", "dir");
    normalize_ok("./dir//sub/./f", "dir/sub/f");
    normalize_ok("./", "");
    normalize_ok("..a/b..", "..a/b..");
}

static void test_normalize_refuses_escapes(void **state)
{
    char out[64];
    assert_int_equal(gl_archive_normalize_name("/etc/passwd", out, sizeof(out)), -EPERM);
    assert_int_equal(gl_archive_normalize_name("../evil", out, sizeof(out)), -EPERM);
    assert_int_equal(gl_archive_normalize_name("a/../../evil", out, sizeof(out)), -EPERM);
    assert_int_equal(gl_archive_normalize_name("a/..", out, sizeof(out)), -EPERM);
    assert_int_equal(gl_archive_normalize_name("", out, sizeof(out)), -EINVAL);
    assert_int_equal(gl_archive_normalize_name(NULL, out, sizeof(out)), -EINVAL);
}

static void test_normalize_too_long(void **state)
{
    char out[8];
    assert_int_equal(gl_archive_normalize_name("abcd/efgh", out, sizeof(out)), -ENAMETOOLONG);
    assert_int_equal(gl_archive_normalize_name("abc/efg", out, sizeof(out)), 0);
    assert_string_equal(out, "abc/efg");
}

static void test_link_targets(void **state)
{
    assert_int_equal(gl_archive_check_link_target("lib/libx.so", "libx.so.1"), 0);
    assert_int_equal(gl_archive_check_link_target("a/b/link", "../c"), 0);
    assert_int_equal(gl_archive_check_link_target("a/b/link", "../../c"), 0);
    assert_int_equal(gl_archive_check_link_target("a/b/link", "../../../c"), -EPERM);
    assert_int_equal(gl_archive_check_link_target("link", ".."), -EPERM);
    assert_int_equal(gl_archive_check_link_target("link", "x/../../y"), -EPERM);
    assert_int_equal(gl_archive_check_link_target("link", "x/./../y"), 0);
    assert_int_equal(gl_archive_check_link_target("link", "/etc"), -EPERM);
    assert_int_equal(gl_archive_check_link_target("link", ""), -EPERM);
    assert_int_equal(gl_archive_check_link_target("link", NULL), -EPERM);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalize_plain_names),
        cmocka_unit_test(test_normalize_refuses_escapes),
        cmocka_unit_test(test_normalize_too_long),
        cmocka_unit_test(test_link_targets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
