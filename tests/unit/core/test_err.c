/* SPDX-License-Identifier: MIT */
/*
 * test_err.c: the Lambda error helpers of src/core/err.c: gl_aws_error_set and the
 * gl_violations_t collector that words "N validation error(s) detected: ..." for every
 * request check (one item, several, the per-site limits, a full buffer, no escaping).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "galley/err.h"

#define ITEM "Value 'x' at 'name' failed to satisfy constraint: Member must not be null"

static void test_error_set(void **state)
{
    (void)state;
    gl_aws_error_t e = {0};
    assert_int_equal(gl_aws_error_set(&e, GL_AWS_RESOURCE_NOT_FOUND, ENOENT,
                                      "Function not "
                                      "found: %s",
                                      "arn"),
                     -ENOENT);
    assert_int_equal(e.type, GL_AWS_RESOURCE_NOT_FOUND);
    assert_string_equal(e.msg, "Function not found: arn");
    /* Either sign; 0 becomes EIO; a NULL error only returns the code. */
    assert_int_equal(gl_aws_error_set(&e, GL_AWS_SERVICE, -ENOMEM, "out of memory"), -ENOMEM);
    assert_int_equal(gl_aws_error_set(&e, GL_AWS_SERVICE, 0, "x"), -EIO);
    assert_int_equal(gl_aws_error_set(NULL, GL_AWS_SERVICE, EINVAL, "x"), -EINVAL);
}

static void test_none(void **state)
{
    (void)state;
    gl_violations_t v;
    gl_aws_error_t e = {.type = GL_AWS_SERVICE, .msg = "untouched"};
    gl_violations_init(&v, 8, 640);
    assert_int_equal(gl_violations_report(&v, &e), 0);
    assert_int_equal(e.type, GL_AWS_SERVICE);
    assert_string_equal(e.msg, "untouched");
}

static void test_one(void **state)
{
    (void)state;
    gl_violations_t v;
    gl_aws_error_t e;
    gl_violations_init(&v, 8, 640);
    gl_violation_add(&v,
                     "Value '%s' at '%s' failed to satisfy constraint: Member must not be "
                     "null",
                     "x", "name");
    assert_int_equal(v.n, 1);
    assert_int_equal(gl_violations_report(&v, &e), -EINVAL);
    assert_int_equal(e.type, GL_AWS_VALIDATION);
    assert_string_equal(e.msg, "1 validation error detected: " ITEM);
}

static void test_several_and_max(void **state)
{
    (void)state;
    gl_violations_t v;
    gl_aws_error_t e;
    gl_violations_init(&v, 3, 600);
    for (int i = 0; i < 5; i++)
        gl_violation_add(&v, "item %d", i);
    /* Items past max are dropped and not counted, as each site did before. */
    assert_int_equal(v.n, 3);
    assert_int_equal(gl_violations_report(&v, &e), -EINVAL);
    assert_string_equal(e.msg, "3 validation errors detected: item 0; item 1; item 2");
}

static void test_item_cut(void **state)
{
    (void)state;
    gl_violations_t v;
    gl_aws_error_t e;
    char long_value[700];
    memset(long_value, 'a', sizeof(long_value) - 1);
    long_value[sizeof(long_value) - 1] = '\0';
    gl_violations_init(&v, 3, 10);
    gl_violation_add(&v, "%s", long_value);
    gl_violation_add(&v, "next");
    assert_int_equal(gl_violations_report(&v, &e), -EINVAL);
    /* Each item keeps item_max - 1 bytes; the next item follows the cut one. */
    assert_string_equal(e.msg, "2 validation errors detected: aaaaaaaaa; next");
}

static void test_buffer_overflow(void **state)
{
    (void)state;
    gl_violations_t v;
    gl_aws_error_t e;
    char value[600];
    memset(value, 'b', sizeof(value) - 1);
    value[sizeof(value) - 1] = '\0';
    gl_violations_init(&v, 10, 0);
    for (int i = 0; i < 10; i++)
        gl_violation_add(&v, "%s", value);
    /* Every item counts; the message is what fits, cut at the buffer's end. */
    assert_int_equal(v.n, 10);
    assert_int_equal(gl_violations_report(&v, &e), -EINVAL);
    assert_int_equal(strlen(e.msg), GL_AWS_MSG_MAX - 1);
    const char *prefix = "10 validation errors detected: ";
    assert_memory_equal(e.msg, prefix, strlen(prefix));
    assert_memory_equal(e.msg + strlen(prefix), value, sizeof(value) - 1);
    assert_memory_equal(e.msg + strlen(prefix) + sizeof(value) - 1, "; bbb", 5);
}

static void test_no_escaping(void **state)
{
    (void)state;
    gl_violations_t v;
    gl_aws_error_t e;
    gl_violations_init(&v, 6, 400);
    /* A client's value with quotes, '%' and ';' goes into the message as it is. */
    gl_violation_add(&v, "Value '%s' at 'name' failed", "a'%s;\"b");
    assert_int_equal(gl_violations_report(&v, &e), -EINVAL);
    assert_string_equal(e.msg, "1 validation error detected: Value 'a'%s;\"b' at 'name' failed");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_set),   cmocka_unit_test(test_none),
        cmocka_unit_test(test_one),         cmocka_unit_test(test_several_and_max),
        cmocka_unit_test(test_item_cut),    cmocka_unit_test(test_buffer_overflow),
        cmocka_unit_test(test_no_escaping),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
