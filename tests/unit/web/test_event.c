/* SPDX-License-Identifier: MIT */
/*
 * test_event.c: the payload format 2.0 event of a Function URL request (src/web/event.c):
 * raw path and query kept, cookies split out, repeated headers and query keys comma-joined,
 * the request context, and bodies as text or base64 by content type.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"

static json_t *event(const gl_http_header_t *h, size_t nh, const char *query, const void *body,
                     size_t len)
{
    gl_web_in_t in = {.method = "POST", .path = "/a%20b/c", .query = query, .headers = h,
                      .nheaders = nh, .body = body, .body_len = len, .source_ip = "127.0.0.1",
                      .request_id = "rid", .url_id = "abc", .account = "anonymous",
                      .time_ms = 1700000000123};
    json_t *ev = gl_web_event_v2(&in);
    assert_non_null(ev);
    return ev;
}

static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void test_path_query_headers_cookies(void **state)
{
    (void)state;
    gl_http_header_t h[] = {{"cookie", "a=1; b=2"}, {"x-rep", "one"}, {"x-rep", "two"},
                            {"user-agent", "ua"}, {"host", "127.0.0.1:9"}};
    json_t *ev = event(h, 5, "x=1&x=2&y=h%C3%A9&z", NULL, 0);
    assert_string_equal(str(ev, "version"), "2.0");
    assert_string_equal(str(ev, "routeKey"), "$default");
    assert_string_equal(str(ev, "rawPath"), "/a%20b/c");
    assert_string_equal(str(ev, "rawQueryString"), "x=1&x=2&y=h%C3%A9&z");
    json_t *q = json_object_get(ev, "queryStringParameters");
    assert_string_equal(str(q, "x"), "1,2");
    assert_string_equal(str(q, "y"), "h\xc3\xa9");
    assert_string_equal(str(q, "z"), "");
    json_t *c = json_object_get(ev, "cookies");
    assert_int_equal(json_array_size(c), 2);
    assert_string_equal(json_string_value(json_array_get(c, 1)), "b=2");
    json_t *hs = json_object_get(ev, "headers");
    assert_string_equal(str(hs, "x-rep"), "one,two");
    assert_null(json_object_get(hs, "cookie"));
    json_t *rc = json_object_get(ev, "requestContext");
    assert_string_equal(str(rc, "accountId"), "anonymous");
    assert_string_equal(str(rc, "domainName"), "127.0.0.1:9");
    assert_string_equal(str(rc, "domainPrefix"), "abc");
    assert_string_equal(str(rc, "time"), "14/Nov/2023:22:13:20 +0000");
    assert_int_equal(json_integer_value(json_object_get(rc, "timeEpoch")), 1700000000123);
    assert_string_equal(str(json_object_get(rc, "http"), "userAgent"), "ua");
    assert_false(json_is_true(json_object_get(ev, "isBase64Encoded")));
    assert_null(json_object_get(ev, "body"));
    json_decref(ev);
}

static void test_no_query_no_cookies(void **state)
{
    (void)state;
    json_t *ev = event(NULL, 0, "", NULL, 0);
    assert_null(json_object_get(ev, "queryStringParameters"));
    assert_null(json_object_get(ev, "cookies"));
    json_decref(ev);
}

static void test_bodies(void **state)
{
    (void)state;
    gl_http_header_t text[] = {{"content-type", "application/json; charset=utf-8"}};
    json_t *ev = event(text, 1, "", "{\"k\":1}", 7);
    assert_string_equal(str(ev, "body"), "{\"k\":1}");
    assert_false(json_is_true(json_object_get(ev, "isBase64Encoded")));
    json_decref(ev);
    gl_http_header_t bin[] = {{"content-type", "application/octet-stream"}};
    ev = event(bin, 1, "", "\x00\xff", 2);
    assert_string_equal(str(ev, "body"), "AP8=");
    assert_true(json_is_true(json_object_get(ev, "isBase64Encoded")));
    json_decref(ev);
    /* Text that is not UTF-8 cannot be a JSON string: base64. */
    gl_http_header_t plain[] = {{"content-type", "text/plain"}};
    ev = event(plain, 1, "", "\xff\xfe", 2);
    assert_string_equal(str(ev, "body"), "//4=");
    assert_true(json_is_true(json_object_get(ev, "isBase64Encoded")));
    json_decref(ev);
    ev = event(NULL, 0, "", "abc", 3); /* no content type: base64 */
    assert_string_equal(str(ev, "body"), "YWJj");
    json_decref(ev);
}

static void test_v1(void **state)
{
    (void)state;
    gl_http_header_t h[] = {{"x-rep", "one"}, {"x-rep", "two"}, {"content-type", "text/plain"}};
    gl_web_in_t in = {.method = "PUT", .path = "/items/7", .query = "a=1&a=2", .headers = h,
                      .nheaders = 3, .body = "hi", .body_len = 2, .source_ip = "127.0.0.1",
                      .request_id = "rid", .url_id = "api", .account = "123456789012",
                      .time_ms = 1700000000123};
    json_t *params = json_pack("{s:s}", "id", "7");
    json_t *ev = gl_web_event_v1(&in, "/items/{id}", params);
    assert_string_equal(str(ev, "resource"), "/items/{id}");
    assert_string_equal(str(ev, "path"), "/items/7");
    assert_string_equal(str(ev, "httpMethod"), "PUT");
    assert_string_equal(str(json_object_get(ev, "headers"), "x-rep"), "two");
    assert_int_equal(json_array_size(json_object_get(json_object_get(ev, "multiValueHeaders"),
                                                     "x-rep")), 2);
    assert_string_equal(str(json_object_get(ev, "queryStringParameters"), "a"), "2");
    assert_int_equal(json_array_size(json_object_get(
                         json_object_get(ev, "multiValueQueryStringParameters"), "a")), 2);
    assert_string_equal(str(json_object_get(ev, "pathParameters"), "id"), "7");
    assert_true(json_is_null(json_object_get(ev, "stageVariables")));
    json_t *rc = json_object_get(ev, "requestContext");
    assert_string_equal(str(rc, "resourcePath"), "/items/{id}");
    assert_string_equal(str(rc, "stage"), "Prod");
    assert_string_equal(str(json_object_get(rc, "identity"), "sourceIp"), "127.0.0.1");
    assert_string_equal(str(ev, "body"), "hi");
    json_decref(ev);
    in.query = "";
    in.body_len = 0;
    ev = gl_web_event_v1(&in, "/items/{id}", NULL);
    assert_true(json_is_null(json_object_get(ev, "queryStringParameters")));
    assert_true(json_is_null(json_object_get(ev, "pathParameters")));
    assert_true(json_is_null(json_object_get(ev, "body")));
    json_decref(ev);
    json_decref(params);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_path_query_headers_cookies),
        cmocka_unit_test(test_no_query_no_cookies),
        cmocka_unit_test(test_bodies),
        cmocka_unit_test(test_v1),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
