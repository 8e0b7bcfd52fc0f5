/* SPDX-License-Identifier: MIT */
/*
 * test_names.c: gl_registry_parse_fn_name (src/registry/names.c): every FunctionName form, the
 * qualifier merge, and each error with its Lambda type and exact message.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "galley/api.h"

#define REGION "us-east-1"
#define ACCOUNT "123456789012"

typedef struct res {
    int rc;
    gl_fn_ref_t ref;
    gl_aws_err_t type;
    char msg[2048];
} res_t;

static res_t parse(const char *param, const char *qq, size_t max_len)
{
    res_t r;
    memset(&r, 0, sizeof(r));
    gl_aws_error_t e = {.type = GL_AWS_ERR_COUNT};
    r.rc = gl_registry_parse_fn_name(param, qq, REGION, ACCOUNT, max_len, &r.ref, &e);
    r.type = e.type;
    memcpy(r.msg, e.msg, sizeof(r.msg));
    return r;
}

static void expect_ok(const char *param, const char *qq, const char *name, const char *qual)
{
    res_t r = parse(param, qq, 256);
    if (r.rc != 0)
        fail_msg("%s: unexpected error %s", param, r.msg);
    assert_string_equal(r.ref.name, name);
    assert_string_equal(r.ref.qualifier, qual);
}

static void test_forms(void **state)
{
    (void)state;
    expect_ok("my-function", NULL, "my-function", "");
    expect_ok("my_Function-1", "", "my_Function-1", "");
    expect_ok("my-function:v1", NULL, "my-function", "v1");
    expect_ok("my-function:$LATEST", NULL, "my-function", "$LATEST");
    expect_ok("my-function:7", NULL, "my-function", "7");
    expect_ok("123456789012:function:my-function", NULL, "my-function", "");
    expect_ok("123456789012:function:my-function:prod", NULL, "my-function", "prod");
    expect_ok("arn:aws:lambda:us-east-1:123456789012:function:my-function", NULL, "my-function",
              "");
    expect_ok("arn:aws:lambda:us-east-1:123456789012:function:my-function:$LATEST", NULL,
              "my-function", "$LATEST");
    expect_ok("arn:aws-cn:lambda:us-east-1:123456789012:function:f", NULL, "f", "");
    expect_ok("arn:aws-us-gov:lambda:us-east-1:123456789012:function:f:2", NULL, "f", "2");
    /* The optional groups of the model's pattern: "function:" alone strips. */
    expect_ok("function:f", NULL, "f", "");
    /* A name that is itself "function" is still a name when nothing follows. */
    expect_ok("function", NULL, "function", "");
}

static void test_qualifier_merge(void **state)
{
    (void)state;
    expect_ok("f", "$LATEST", "f", "$LATEST");
    expect_ok("f", "prod", "f", "prod");
    expect_ok("f:prod", "prod", "f", "prod");
    expect_ok("arn:aws:lambda:us-east-1:123456789012:function:f:3", "3", "f", "3");

    res_t r = parse("f:prod", "dev", 256);
    assert_int_equal(r.rc, -EINVAL);
    assert_int_equal(r.type, GL_AWS_INVALID_PARAMETER_VALUE);
    assert_string_equal(r.msg, "The derived qualifier from the function name does not match the "
                               "specified qualifier.");
}

static void test_other_region_and_account(void **state)
{
    (void)state;
    res_t r = parse("arn:aws:lambda:eu-west-1:123456789012:function:f", NULL, 256);
    assert_int_equal(r.rc, -EINVAL);
    assert_int_equal(r.type, GL_AWS_RESOURCE_NOT_FOUND);
    assert_string_equal(r.msg, "Functions from 'eu-west-1' are not reachable in this region "
                               "('us-east-1')");

    r = parse("arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:f", NULL, 256);
    assert_int_equal(r.type, GL_AWS_RESOURCE_NOT_FOUND);
    assert_string_equal(r.msg, "Functions from 'us-gov-west-1' are not reachable in this region "
                               "('us-east-1')");

    r = parse("999999999999:function:f:prod", NULL, 256);
    assert_int_equal(r.rc, -EINVAL);
    assert_int_equal(r.type, GL_AWS_RESOURCE_NOT_FOUND);
    assert_string_equal(r.msg,
                        "Function not found: arn:aws:lambda:us-east-1:999999999999:function:f:prod");
}

static void test_bare_name_errors(void **state)
{
    (void)state;
    char name[80];
    memset(name, 'a', 65);
    name[65] = '\0';
    res_t r = parse(name, NULL, 140);
    assert_int_equal(r.rc, -EINVAL);
    assert_int_equal(r.type, GL_AWS_INVALID_PARAMETER_VALUE);
    char want[512];
    snprintf(want, sizeof(want),
             "1 validation error detected: Value '%s' at 'functionName' failed to satisfy "
             "constraint: Member must have length less than or equal to 64", name);
    assert_string_equal(r.msg, want);

    memset(name, 'a', 64);
    name[64] = '\0';
    expect_ok(name, NULL, name, "");

    r = parse("bad name", NULL, 140);
    assert_int_equal(r.type, GL_AWS_INVALID_PARAMETER_VALUE);
    assert_string_equal(r.msg,
                        "1 validation error detected: Value 'bad name' at 'functionName' failed "
                        "to satisfy constraint: Member must satisfy regular expression pattern: "
                        "(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-"
                        "\\d{1}:)?(\\d{12}:)?(function:)?([a-zA-Z0-9-_]+)(:(\\$LATEST|[a-zA-Z0-9-_]"
                        "+))?");
}

static void test_arn_errors(void **state)
{
    (void)state;
    /* Malformed ARN form: ValidationException; the namespaced pattern admits '.'. */
    res_t r = parse("arn:aws:lambda:us-east-1:123:function:f", NULL, 256);
    assert_int_equal(r.rc, -EINVAL);
    assert_int_equal(r.type, GL_AWS_VALIDATION);
    assert_non_null(strstr(r.msg, "1 validation error detected: Value "
                                  "'arn:aws:lambda:us-east-1:123:function:f' at 'functionName'"));
    assert_non_null(strstr(r.msg, "([a-zA-Z0-9-_\\.]+)"));

    r = parse("f:a:b", NULL, 140);
    assert_int_equal(r.type, GL_AWS_VALIDATION);
    assert_null(strstr(r.msg, "\\.")); /* the 140 form has no '.' in its pattern */

    /* Too long for the operation, and malformed: two errors, joined. */
    char longp[300];
    memset(longp, 'x', 200);
    memcpy(longp + 200, ":y:z", 5);
    r = parse(longp, NULL, 140);
    assert_int_equal(r.type, GL_AWS_VALIDATION);
    assert_non_null(strstr(r.msg, "2 validation errors detected: "));
    assert_non_null(strstr(r.msg, "Member must have length less than or equal to 140; Value"));

    r = parse("", NULL, 140);
    assert_int_equal(r.rc, -EINVAL);
    assert_string_equal(r.msg, "1 validation error detected: Value '' at 'functionName' failed to "
                               "satisfy constraint: Member must have length greater than or equal "
                               "to 1");
}

static void test_query_qualifier_errors(void **state)
{
    (void)state;
    res_t r = parse("f", "bad/q", 256);
    assert_int_equal(r.rc, -EINVAL);
    assert_int_equal(r.type, GL_AWS_VALIDATION);
    assert_string_equal(r.msg, "1 validation error detected: Value 'bad/q' at 'qualifier' failed "
                               "to satisfy constraint: Member must satisfy regular expression "
                               "pattern: (|[a-zA-Z0-9$_-]+)");

    char q[200];
    memset(q, 'q', 129);
    q[129] = '\0';
    r = parse("f", q, 256);
    assert_int_equal(r.type, GL_AWS_VALIDATION);
    char want[400];
    snprintf(want, sizeof(want),
             "1 validation error detected: Value '%s' at 'qualifier' failed to satisfy "
             "constraint: Member must have length less than or equal to 128", q);
    assert_string_equal(r.msg, want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_forms),
        cmocka_unit_test(test_qualifier_merge),
        cmocka_unit_test(test_other_region_and_account),
        cmocka_unit_test(test_bare_name_errors),
        cmocka_unit_test(test_arn_errors),
        cmocka_unit_test(test_query_qualifier_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
