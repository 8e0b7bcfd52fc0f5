/* SPDX-License-Identifier: MIT */
/*
 * test_policy_doc.c: the resource-based policy statements and document of src/api/policy_doc.c:
 * principals of each form, the Condition members in Lambda's order, the document's string,
 * and the schema violations (missing members, patterns, enum) and the unreadable principal.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"

#define FN_ARN "arn:aws:lambda:us-east-1:123456789012:function:f"

/* The statement for the JSON request text as compact JSON (malloc'd), or NULL with *aerr. */
static char *statement_text(const char *request, gl_aws_error_t *aerr)
{
    json_t *body = json_loads(request, 0, NULL), *st = NULL;
    assert_non_null(body);
    int rc = gl_api_policy_statement(body, FN_ARN, &st, aerr);
    json_decref(body);
    if (rc < 0) {
        assert_int_equal(rc, -EINVAL);
        assert_null(st);
        return NULL;
    }
    char *s = json_dumps(st, JSON_COMPACT);
    json_decref(st);
    return s;
}

static void expect_statement(const char *request, const char *want)
{
    gl_aws_error_t aerr;
    char *got = statement_text(request, &aerr);
    if (!got)
        fail_msg("%s: %s", request, aerr.msg);
    assert_string_equal(got, want);
    free(got);
}

static void expect_error(const char *request, gl_aws_err_t type, const char *msg)
{
    gl_aws_error_t aerr;
    char *got = statement_text(request, &aerr);
    if (got)
        fail_msg("%s: accepted as %s", request, got);
    assert_int_equal(aerr.type, type);
    assert_string_equal(aerr.msg, msg);
}

static void test_service_principal_with_conditions(void **state)
{
    (void)state;
    expect_statement(
        "{\"StatementId\":\"s3\",\"Action\":\"lambda:InvokeFunction\","
        "\"Principal\":\"s3.amazonaws.com\",\"SourceArn\":\"arn:aws:s3:::bucket\","
        "\"SourceAccount\":\"123456789012\"}",
        "{\"Sid\":\"s3\",\"Effect\":\"Allow\",\"Principal\":{\"Service\":\"s3.amazonaws.com\"},"
        "\"Action\":\"lambda:InvokeFunction\",\"Resource\":\"" FN_ARN "\","
        "\"Condition\":{\"StringEquals\":{\"AWS:SourceAccount\":\"123456789012\"},"
        "\"ArnLike\":{\"AWS:SourceArn\":\"arn:aws:s3:::bucket\"}}}");
}

static void test_account_arn_and_star_principals(void **state)
{
    (void)state;
    expect_statement("{\"StatementId\":\"a\",\"Action\":\"lambda:GetFunction\","
                     "\"Principal\":\"210987654321\"}",
                     "{\"Sid\":\"a\",\"Effect\":\"Allow\",\"Principal\":{\"AWS\":"
                     "\"arn:aws:iam::210987654321:root\"},\"Action\":\"lambda:GetFunction\","
                     "\"Resource\":\"" FN_ARN "\"}");
    expect_statement("{\"StatementId\":\"r\",\"Action\":\"lambda:*\","
                     "\"Principal\":\"arn:aws:iam::210987654321:role/deployer\"}",
                     "{\"Sid\":\"r\",\"Effect\":\"Allow\",\"Principal\":{\"AWS\":"
                     "\"arn:aws:iam::210987654321:role/deployer\"},\"Action\":\"lambda:*\","
                     "\"Resource\":\"" FN_ARN "\"}");
    expect_statement("{\"StatementId\":\"url\",\"Action\":\"lambda:InvokeFunctionUrl\","
                     "\"Principal\":\"*\",\"FunctionUrlAuthType\":\"NONE\","
                     "\"PrincipalOrgID\":\"o-abcdefghij\",\"EventSourceToken\":\"tok.1\"}",
                     "{\"Sid\":\"url\",\"Effect\":\"Allow\",\"Principal\":\"*\","
                     "\"Action\":\"lambda:InvokeFunctionUrl\",\"Resource\":\"" FN_ARN "\","
                     "\"Condition\":{\"StringEquals\":{\"lambda:EventSourceToken\":\"tok.1\","
                     "\"aws:PrincipalOrgID\":\"o-abcdefghij\","
                     "\"lambda:FunctionUrlAuthType\":\"NONE\"}}}");
}

static void test_required_members(void **state)
{
    (void)state;
    expect_error("{}", GL_AWS_VALIDATION,
                 "3 validation errors detected: Value null at 'statementId' failed to satisfy "
                 "constraint: Member must not be null; Value null at 'action' failed to satisfy "
                 "constraint: Member must not be null; Value null at 'principal' failed to "
                 "satisfy constraint: Member must not be null");
}

static void test_patterns_and_enum(void **state)
{
    (void)state;
    expect_error("{\"StatementId\":\"bad id\",\"Action\":\"lambda:InvokeFunction\","
                 "\"Principal\":\"*\"}",
                 GL_AWS_VALIDATION,
                 "1 validation error detected: Value 'bad id' at 'statementId' failed to satisfy "
                 "constraint: Member must satisfy regular expression pattern: ([a-zA-Z0-9-_]+)");
    expect_error("{\"StatementId\":\"a\",\"Action\":\"s3:GetObject\",\"Principal\":\"*\","
                 "\"SourceAccount\":\"12\",\"FunctionUrlAuthType\":\"OPEN\"}",
                 GL_AWS_VALIDATION,
                 "3 validation errors detected: Value 's3:GetObject' at 'action' failed to "
                 "satisfy constraint: Member must satisfy regular expression pattern: "
                 "(lambda:[*]|lambda:[a-zA-Z]+|[*]); Value '12' at 'sourceAccount' failed to "
                 "satisfy constraint: Member must satisfy regular expression pattern: \\d{12}; "
                 "Value 'OPEN' at 'functionUrlAuthType' failed to satisfy constraint: Member "
                 "must satisfy enum value set: [NONE, AWS_IAM]");
    expect_error("{\"StatementId\":\"a\",\"Action\":\"*\",\"Principal\":\"someone\"}",
                 GL_AWS_INVALID_PARAMETER_VALUE,
                 "The provided principal was invalid. Please check the principal and try again.");
}

static void test_document(void **state)
{
    (void)state;
    json_t *sts = json_loads("[{\"Sid\":\"a\"},{\"Sid\":\"b\"}]", 0, NULL);
    char *doc = gl_api_policy_document(sts);
    assert_string_equal(doc, "{\"Version\":\"2012-10-17\",\"Id\":\"default\","
                             "\"Statement\":[{\"Sid\":\"a\"},{\"Sid\":\"b\"}]}");
    free(doc);
    json_decref(sts);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_service_principal_with_conditions),
        cmocka_unit_test(test_account_arn_and_star_principals),
        cmocka_unit_test(test_required_members),
        cmocka_unit_test(test_patterns_and_enum),
        cmocka_unit_test(test_document),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
