/* SPDX-License-Identifier: MIT */
/*
 * test_sigv4.c: src/core/sigv4.c against AWS's published SigV4 test suite (get-vanilla,
 * get-vanilla-query-order-key-case, get-utf8, post-vanilla: AKIDEXAMPLE, 20150830T123600Z,
 * us-east-1, service "service"), a Lambda Invoke signed by botocore (percent-encoded ARN in the
 * path, a query, a body), the Authorization parser's errors, the dates and the comparison.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "galley/sigv4.h"

#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#define DATE "20150830T123600Z"
#define EMPTY_HASH "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static const gl_sigv4_header_t suite_headers[] = {
    {"Host", "example.amazonaws.com"},
    {"X-Amz-Date", DATE},
};

static void check_suite(const char *method, const char *path, const char *query,
                        const char *expected)
{
    gl_sigv4_request_t r = {method, path, query, suite_headers, 2, EMPTY_HASH};
    char sig[GL_SIGV4_HEX_LEN + 1];
    assert_int_equal(gl_sigv4_sign(&r, SECRET, DATE, "20150830", "us-east-1", "service",
                                   "host;x-amz-date", sig),
                     0);
    assert_string_equal(sig, expected);
}

static void test_suite_vectors(void **state)
{
    (void)state;
    check_suite("GET", "/", "",
                "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
    check_suite("GET", "/", "Param2=value2&Param1=value1",
                "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
    check_suite("GET", "/\xe1\x88\xb4", NULL,
                "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85");
    check_suite("POST", "/", "",
                "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b");
}

static void test_canonical_request_get_vanilla(void **state)
{
    (void)state;
    gl_sigv4_request_t r = {"GET", "", NULL, suite_headers, 2, EMPTY_HASH};
    gl_buf_t out = {0};
    assert_int_equal(gl_sigv4_canonical_request(&r, "host;x-amz-date", &out), 0);
    assert_string_equal(out.data, "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:" DATE
                                  "\n\nhost;x-amz-date\n" EMPTY_HASH);
    gl_buf_free(&out);
}

/* Signed by botocore 1.29 (SigV4Auth, service lambda) at 2026-12-01 23:00:00 UTC. */
static void test_botocore_lambda_invoke(void **state)
{
    (void)state;
    static const gl_sigv4_header_t h[] = {
        {"x-amz-invocation-type", "RequestResponse"},
        {"host", "127.0.0.1:3001"},
        {"x-amz-date", "20261201T230000Z"},
        {"content-length", "8"},
    };
    char body_hash[GL_SIGV4_HEX_LEN + 1], sig[GL_SIGV4_HEX_LEN + 1];
    gl_sigv4_sha256_hex("{\"a\": 1}", 8, body_hash);
    gl_sigv4_request_t r = {
        "POST",
        "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Aecho"
        "/invocations",
        "Qualifier=%24LATEST", h, 4, body_hash};
    assert_int_equal(gl_sigv4_sign(&r, SECRET, "20261201T230000Z", "20261201", "us-east-1",
                                   "lambda", "host;x-amz-date;x-amz-invocation-type", sig),
                     0);
    assert_string_equal(sig, "e80802911ad823cc951eed4d829bad8b3c483f83c7e505cc640e4032450934af");
    /* Another body, another secret: another signature. */
    gl_sigv4_sha256_hex("{\"a\": 2}", 8, body_hash);
    assert_int_equal(gl_sigv4_sign(&r, SECRET, "20261201T230000Z", "20261201", "us-east-1",
                                   "lambda", "host;x-amz-date;x-amz-invocation-type", sig),
                     0);
    assert_string_not_equal(sig,
                            "e80802911ad823cc951eed4d829bad8b3c483f83c7e505cc640e4032450934af");
}

static void test_canonical_values(void **state)
{
    (void)state;
    static const gl_sigv4_header_t h[] = {
        {"X-B", "  two   words\t here "}, {"x-a", "1"}, {"x-b", "again"}};
    gl_sigv4_request_t r = {"GET", "/a b/c", "b=2&a=x y&a=%41&flag", h, 3, EMPTY_HASH};
    gl_buf_t out = {0};
    assert_int_equal(gl_sigv4_canonical_request(&r, "x-a;x-b", &out), 0);
    assert_string_equal(out.data, "GET\n/a%20b/c\na=A&a=x%20y&b=2&flag=\nx-a:1\n"
                                  "x-b:two words here,again\n\nx-a;x-b\n" EMPTY_HASH);
    gl_buf_free(&out);
}

static void test_parse_authorization(void **state)
{
    (void)state;
    gl_sigv4_auth_t a;
    char why[512];
    assert_int_equal(
        gl_sigv4_parse_authorization(
            "AWS4-HMAC-SHA256 Credential=AKID/20150830/us-east-1/lambda/aws4_request, "
            "SignedHeaders=host;x-amz-date, Signature=abc123",
            &a, why, sizeof(why)),
        0);
    assert_string_equal(a.access_key, "AKID");
    assert_string_equal(a.date, "20150830");
    assert_string_equal(a.region, "us-east-1");
    assert_string_equal(a.service, "lambda");
    assert_string_equal(a.terminator, "aws4_request");
    assert_string_equal(a.signed_headers, "host;x-amz-date");
    assert_string_equal(a.signature, "abc123");

    assert_int_equal(gl_sigv4_parse_authorization("AWS4-HMAC-SHA256 Credential=AK/x", &a, why,
                                                  sizeof(why)),
                     -EINVAL);
    assert_non_null(strstr(why, "Authorization header requires 'Signature' parameter. "
                                "Authorization header requires 'SignedHeaders' parameter."));
    assert_null(strstr(why, "'Credential'"));
    assert_int_equal(gl_sigv4_parse_authorization(
                         "AWS4-HMAC-SHA256 Credential=AK/20150830/us-east-1, "
                         "SignedHeaders=host, Signature=ab",
                         &a, why, sizeof(why)),
                     -EINVAL);
    assert_int_equal(gl_sigv4_parse_authorization("Basic dXNlcjpwYXNz", &a, why, sizeof(why)),
                     -ENOTSUP);
    assert_int_equal(gl_sigv4_parse_authorization("", &a, why, sizeof(why)), -ENOTSUP);
}

static void test_dates(void **state)
{
    (void)state;
    int64_t t = 0;
    char back[17];
    assert_int_equal(gl_sigv4_parse_date(DATE, &t), 0);
    assert_int_equal(t, 1440938160);
    gl_sigv4_format_date(t, back);
    assert_string_equal(back, DATE);
    assert_int_equal(gl_sigv4_parse_date("20150830T123600", &t), -EINVAL);
    assert_int_equal(gl_sigv4_parse_date("2015083OT123600Z", &t), -EINVAL);
    assert_int_equal(gl_sigv4_parse_date("20151330T123600Z", &t), -EINVAL);
    assert_int_equal(gl_sigv4_parse_date(NULL, &t), -EINVAL);
}

static void test_equal(void **state)
{
    (void)state;
    assert_true(gl_sigv4_equal("abc", "abc"));
    assert_false(gl_sigv4_equal("abc", "abd"));
    assert_false(gl_sigv4_equal("abc", "ab"));
    assert_false(gl_sigv4_equal("", "a"));
    assert_true(gl_sigv4_equal("", ""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_suite_vectors),
        cmocka_unit_test(test_canonical_request_get_vanilla),
        cmocka_unit_test(test_botocore_lambda_invoke),
        cmocka_unit_test(test_canonical_values),
        cmocka_unit_test(test_parse_authorization),
        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_equal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
