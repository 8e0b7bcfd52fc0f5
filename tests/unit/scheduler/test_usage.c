/* SPDX-License-Identifier: MIT */
/*
 * test_usage.c: the scheduler's per-function usage map (src/scheduler/usage.c): entries made
 * on first use with no reservation and no idle timeout, found again by name (the same pointer,
 * so invokes' references stay valid) across the bucket array's growth, absent names not found,
 * every entry listed, and the map freed to empty (the sanitizer build checks for leaks).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"

#define MANY 5000

static void test_get_makes_then_finds(void **state)
{
    (void)state;
    gl_usage_map_t m = {0};
    assert_null(gl_usage_find(&m, "f"));
    gl_fn_usage_t *u = gl_usage_get(&m, "f");
    assert_non_null(u);
    assert_int_equal(u->reserved, -1);
    assert_true(u->idle_timeout_ms == -1);
    assert_int_equal(u->running, 0);
    assert_ptr_equal(gl_usage_get(&m, "f"), u);
    assert_ptr_equal(gl_usage_find(&m, "f"), u);
    assert_null(gl_usage_find(&m, "g"));
    assert_int_equal(m.count, 1);
    gl_usage_map_free(&m);
    assert_null(m.list);
    assert_int_equal(m.count, 0);
}

static void test_many_names_survive_growth(void **state)
{
    (void)state;
    gl_usage_map_t m = {0};
    static gl_fn_usage_t *made[MANY];
    char name[32];
    for (int i = 0; i < MANY; i++) {
        snprintf(name, sizeof(name), "fn-%d", i);
        made[i] = gl_usage_get(&m, name);
        assert_non_null(made[i]);
        made[i]->reserved = i;
    }
    assert_int_equal(m.count, MANY);
    assert_true(m.nbuckets >= MANY);
    for (int i = 0; i < MANY; i++) {
        snprintf(name, sizeof(name), "fn-%d", i);
        assert_ptr_equal(gl_usage_find(&m, name), made[i]);
        assert_int_equal(gl_usage_find(&m, name)->reserved, i);
    }
    assert_null(gl_usage_find(&m, "fn-5000"));
    assert_null(gl_usage_find(&m, ""));
    size_t listed = 0;
    for (gl_fn_usage_t *u = m.list; u; u = u->next)
        listed++;
    assert_int_equal(listed, MANY);
    gl_usage_map_free(&m);
    assert_int_equal(m.nbuckets, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_makes_then_finds),
        cmocka_unit_test(test_many_names_survive_growth),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
