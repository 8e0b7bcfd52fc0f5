/* SPDX-License-Identifier: MIT */
/*
 * test_response.c: a function's result as a Function URL's response (src/web/response.c),
 * a RESPONSE_STREAM URL's HttpResponseStream prelude, and the CORS headers of a URL config
 * (src/web/cors.c).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"

static gl_web_resp_t map(const char *result)
{
    gl_web_resp_t r;
    assert_int_equal(gl_web_response_map(result, strlen(result), &r), 0);
    return r;
}

static const char *header(const gl_web_resp_t *r, const char *k)
{
    return json_string_value(json_object_get(r->headers, k));
}

static void test_structured(void **state)
{
    (void)state;
    gl_web_resp_t r = map("{\"statusCode\": 418, \"headers\": {\"x-a\": \"b\", \"x-n\": 7, "
                          "\"x-o\": {}}, \"cookies\": [\"s=1\", 2], \"body\": \"hi\"}");
    assert_int_equal(r.status, 418);
    assert_string_equal(header(&r, "x-a"), "b");
    assert_string_equal(header(&r, "x-n"), "7");
    assert_null(json_object_get(r.headers, "x-o"));
    assert_int_equal(json_array_size(r.cookies), 1);
    assert_int_equal(r.body_len, 2);
    assert_memory_equal(r.body, "hi", 2);
    gl_web_resp_free(&r);
    r = map("{\"statusCode\": 200, \"body\": \"AP8=\", \"isBase64Encoded\": true}");
    assert_int_equal(r.body_len, 2);
    assert_memory_equal(r.body, "\x00\xff", 2);
    gl_web_resp_free(&r);
    r = map("{\"statusCode\": 204}");
    assert_int_equal(r.status, 204);
    assert_int_equal(r.body_len, 0);
    gl_web_resp_free(&r);
    r = map("{\"statusCode\": 200, \"body\": \"@@@\", \"isBase64Encoded\": true}");
    assert_int_equal(r.status, 502);
    gl_web_resp_free(&r);
}

static void test_inferred(void **state)
{
    (void)state;
    gl_web_resp_t r = map("\"just text\"");
    assert_int_equal(r.status, 200);
    assert_string_equal(header(&r, "content-type"), "application/json");
    assert_string_equal(r.body, "just text");
    gl_web_resp_free(&r);
    r = map("{\"a\": 1}");
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"a\": 1}");
    gl_web_resp_free(&r);
    r = map("not json at all");
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "not json at all");
    gl_web_resp_free(&r);
}

static void test_cors(void **state)
{
    (void)state;
    json_t *cors = json_pack("{s:[s], s:[s,s], s:[s], s:[s], s:i}", "AllowOrigins",
                             "https://a.example", "AllowMethods", "GET", "PUT", "AllowHeaders",
                             "x-h", "ExposeHeaders", "x-e", "MaxAge", 9);
    json_t *h = gl_web_cors_headers(cors, "https://a.example", 1);
    assert_string_equal(json_string_value(json_object_get(h, "Access-Control-Allow-Origin")),
                        "https://a.example");
    assert_string_equal(json_string_value(json_object_get(h, "Access-Control-Allow-Methods")),
                        "GET,PUT");
    assert_string_equal(json_string_value(json_object_get(h, "Access-Control-Max-Age")), "9");
    assert_null(json_object_get(h, "Access-Control-Allow-Credentials"));
    json_decref(h);
    h = gl_web_cors_headers(cors, "https://a.example", 0); /* not a preflight */
    assert_null(json_object_get(h, "Access-Control-Allow-Methods"));
    assert_string_equal(json_string_value(json_object_get(h, "Access-Control-Expose-Headers")),
                        "x-e");
    json_decref(h);
    h = gl_web_cors_headers(cors, "https://b.example", 1);
    assert_int_equal(json_object_size(h), 0);
    json_decref(h);
    h = gl_web_cors_headers(NULL, "https://a.example", 1);
    assert_int_equal(json_object_size(h), 0);
    json_decref(h);
    json_object_set_new(cors, "AllowOrigins", json_pack("[s]", "*"));
    h = gl_web_cors_headers(cors, "https://b.example", 0);
    assert_string_equal(json_string_value(json_object_get(h, "Access-Control-Allow-Origin")),
                        "*");
    json_decref(h);
    json_decref(cors);
}

static void test_v1(void **state)
{
    (void)state;
    gl_web_resp_t r;
    const char *ok = "{\"statusCode\": 202, \"headers\": {\"x-a\": \"b\"}, "
                     "\"multiValueHeaders\": {\"Set-Cookie\": [\"a=1\", \"b=2\"], "
                     "\"x-m\": [\"1\", \"2\"]}, \"body\": \"done\"}";
    assert_int_equal(gl_web_response_map_v1(ok, strlen(ok), &r), 0);
    assert_int_equal(r.status, 202);
    assert_string_equal(header(&r, "x-a"), "b");
    assert_string_equal(header(&r, "x-m"), "2");
    assert_int_equal(json_array_size(r.cookies), 2);
    assert_string_equal(r.body, "done");
    gl_web_resp_free(&r);
    /* A REST API needs a statusCode and a string body: anything else is its 502. */
    assert_int_equal(gl_web_response_map_v1("\"text\"", 6, &r), -EINVAL);
    assert_int_equal(gl_web_response_map_v1("{\"a\": 1}", 8, &r), -EINVAL);
    const char *obj_body = "{\"statusCode\": 200, \"body\": {\"a\": 1}}";
    assert_int_equal(gl_web_response_map_v1(obj_body, strlen(obj_body), &r), -EINVAL);
}

static void test_prelude(void **state)
{
    (void)state;
    gl_web_resp_t r;
    const char *p = "{\"statusCode\": 201, \"headers\": {\"Content-Type\": \"text/plain\", "
                    "\"x-n\": 7}, \"cookies\": [\"a=1\"], \"body\": \"ignored\"}";
    assert_int_equal(gl_web_response_prelude(p, strlen(p), &r), 0);
    assert_int_equal(r.status, 201);
    assert_string_equal(header(&r, "Content-Type"), "text/plain");
    assert_null(json_object_get(r.headers, "content-type")); /* the function named one */
    assert_string_equal(header(&r, "x-n"), "7");
    assert_int_equal(json_array_size(r.cookies), 1);
    assert_int_equal(r.body_len, 0); /* the body is what follows the prelude */
    gl_web_resp_free(&r);
    /* No statusCode: 200; no content type: application/octet-stream. */
    assert_int_equal(gl_web_response_prelude("{}", 2, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(header(&r, "content-type"), "application/octet-stream");
    gl_web_resp_free(&r);
    /* Not an object, not JSON, or a statusCode that is not a number: refused. */
    assert_int_equal(gl_web_response_prelude("[1]", 3, &r), -EINVAL);
    assert_int_equal(gl_web_response_prelude("{\"stat", 6, &r), -EINVAL);
    assert_int_equal(gl_web_response_prelude("{\"statusCode\": \"200\"}", 21, &r), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_structured),
        cmocka_unit_test(test_inferred),
        cmocka_unit_test(test_cors),
        cmocka_unit_test(test_v1),
        cmocka_unit_test(test_prelude),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
