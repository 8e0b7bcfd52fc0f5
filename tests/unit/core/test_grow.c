/* SPDX-License-Identifier: MIT */
/*
 * test_grow.c: src/core/grow.c, gl_grow: the first capacity, doubling, no realloc while there
 * is room, a jump past several doublings, and a size that would overflow refused with the
 * array and its capacity untouched.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "galley/util.h"

static void test_doubles(void **state)
{
    (void)state;
    int *v = NULL;
    size_t n = 0, cap = 0;
    for (int i = 0; i < 1000; i++) {
        int *g = gl_grow(v, &cap, n + 1, sizeof(*v));
        assert_non_null(g);
        if (i == 0)
            assert_int_equal(cap, GL_GROW_FIRST);
        if (i == GL_GROW_FIRST)
            assert_int_equal(cap, 2 * GL_GROW_FIRST);
        v = g;
        v[n++] = i;
    }
    assert_int_equal(cap, 1024);
    for (int i = 0; i < 1000; i++)
        assert_int_equal(v[i], i);
    assert_ptr_equal(gl_grow(v, &cap, 1024, sizeof(*v)), v); /* room: the same array */
    assert_int_equal(cap, 1024);
    free(v);
}

static void test_jump(void **state)
{
    (void)state;
    size_t cap = 0;
    char *v = gl_grow(NULL, &cap, 100, 1);
    assert_non_null(v);
    assert_int_equal(cap, 128);
    free(v);
}

static void test_overflow(void **state)
{
    (void)state;
    size_t cap = 4;
    long *v = malloc(cap * sizeof(*v));
    assert_non_null(v);
    assert_null(gl_grow(v, &cap, SIZE_MAX / 2, sizeof(*v)));
    assert_int_equal(cap, 4);
    assert_null(gl_grow(v, &cap, SIZE_MAX, 1));
    assert_int_equal(cap, 4);
    v[3] = 7; /* still the caller's */
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_doubles),
        cmocka_unit_test(test_jump),
        cmocka_unit_test(test_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
