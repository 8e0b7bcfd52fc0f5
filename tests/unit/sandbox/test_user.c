/* SPDX-License-Identifier: MIT */
/*
 * test_user.c: the uid range of src/sandbox/user.c: parsing --uid-range, what sbx_open_users
 * sets up (the default range without --run-as, none with it, refusing both together), and
 * gl_sbx_user_acquire / gl_sbx_user_release: distinct uids, round robin (a released uid is the
 * last to come back), exhaustion with a clear error, release of a foreign uid ignored, and the
 * shared user without a range. Pure functions on a struct filled here: no root needed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "internal.h"

static void test_parse_uid_range(void **state)
{
    (void)state;
    uint32_t f, n;
    assert_int_equal(gl_sbx_parse_uid_range("100000:65536", &f, &n), 0);
    assert_int_equal(f, 100000);
    assert_int_equal(n, 65536);
    static const char *const bad[] = {"", "100000", "0:10", "10:0", "x:1", "1:x", "-1:5",
                                      "4294967290:100", "1:2000000", "1:2:3", NULL};
    for (size_t i = 0; bad[i]; i++)
        assert_int_equal(gl_sbx_parse_uid_range(bad[i], &f, &n), -EINVAL);
    assert_int_equal(gl_sbx_parse_uid_range(NULL, &f, &n), -EINVAL);
}

static void test_open_users_default_and_run_as(void **state)
{
    (void)state;
    gl_sbx_t s = {0};
    gl_err_t err = {0};
    gl_sbx_opts_t o = {0};
    assert_int_equal(sbx_open_users(&s, &o, &err), 0);
    assert_non_null(s.uids);
    assert_int_equal(s.uids->first, GL_SBX_UID_RANGE_FIRST);
    assert_int_equal(s.uids->count, GL_SBX_UID_RANGE_COUNT);
    assert_true(s.switch_user);
    assert_true(gl_sbx_user_per_env(&s));
    sbx_free_users(&s);

    gl_sbx_t t = {0};
    o.run_as = "nobody";
    assert_int_equal(sbx_open_users(&t, &o, &err), 0);
    assert_null(t.uids); /* --run-as: one shared user */
    assert_false(gl_sbx_user_per_env(&t));

    o.uid_first = 200000;
    o.uid_count = 10;
    assert_int_equal(sbx_open_users(&t, &o, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "exclude each other"));
    assert_null(t.uids);
}

static void test_acquire_round_robin_and_exhaustion(void **state)
{
    (void)state;
    gl_sbx_t s = {0};
    gl_err_t err = {0};
    gl_sbx_opts_t o = {.uid_first = 5000, .uid_count = 3};
    gl_sbx_user_t a, b, c, d;
    assert_int_equal(sbx_open_users(&s, &o, &err), 0);
    assert_int_equal(gl_sbx_user_acquire(&s, &a, &err), 0);
    assert_int_equal(gl_sbx_user_acquire(&s, &b, &err), 0);
    assert_int_equal(gl_sbx_user_acquire(&s, &c, &err), 0);
    assert_int_equal(a.uid, 5000);
    assert_int_equal(b.uid, 5001);
    assert_int_equal(c.uid, 5002);
    assert_true(a.own && b.own && c.own);
    assert_int_equal(a.gid, 5000); /* a group of its own, the same number */
    /* Full: a clear error. */
    assert_int_equal(gl_sbx_user_acquire(&s, &d, &err), -EAGAIN);
    assert_non_null(strstr(err.msg, "all 3 uids of the uid range 5000:3 are in use"));
    /* Released b comes back; released twice or foreign: ignored. */
    gl_sbx_user_release(&s, &b);
    gl_sbx_user_release(&s, &b);
    gl_sbx_user_t foreign = {.uid = 65534, .gid = 65534, .own = 1};
    gl_sbx_user_release(&s, &foreign);
    assert_int_equal(s.uids->used, 2);
    assert_int_equal(gl_sbx_user_acquire(&s, &d, &err), 0);
    assert_int_equal(d.uid, 5001);
    /* Round robin: with a and d released, the next is the one after the last given (5002 is
     * taken, so 5000), not the lowest freed first. */
    gl_sbx_user_release(&s, &a);
    gl_sbx_user_release(&s, &c);
    assert_int_equal(gl_sbx_user_acquire(&s, &a, &err), 0);
    assert_int_equal(a.uid, 5002);
    assert_int_equal(gl_sbx_user_acquire(&s, &c, &err), 0);
    assert_int_equal(c.uid, 5000);
    sbx_free_users(&s);
}

static void test_acquire_without_range_is_the_shared_user(void **state)
{
    (void)state;
    gl_sbx_t s = {.switch_user = 1, .uid = 65534, .gid = 65534};
    gl_err_t err = {0};
    gl_sbx_user_t u;
    assert_int_equal(gl_sbx_user_acquire(&s, &u, &err), 0);
    assert_int_equal(u.uid, 65534);
    assert_false(u.own);
    gl_sbx_user_release(&s, &u); /* nothing to release */
    assert_int_equal(gl_sbx_user_acquire(NULL, &u, &err), 0);
    assert_int_equal(u.uid, geteuid());
    assert_false(gl_sbx_user_per_env(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_uid_range),
        cmocka_unit_test(test_open_users_default_and_run_as),
        cmocka_unit_test(test_acquire_round_robin_and_exhaustion),
        cmocka_unit_test(test_acquire_without_range_is_the_shared_user),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
