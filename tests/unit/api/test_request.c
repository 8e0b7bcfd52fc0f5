/* SPDX-License-Identifier: MIT */
/*
 * test_request.c: the api module's request parsing shared by the control-plane handlers
 * (src/api/functions.c): the JSON body as an object, optional string members, MaxItems and
 * the opaque Marker of the List operations. A failure must reply Lambda's error exactly once:
 * gl_http_reply_aws_error is wrapped (-Wl,--wrap, CMakeLists.txt) to capture it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "galley/util.h"
#include "internal.h"

static int replies;
static gl_aws_err_t reply_type;
static char reply_msg[1024];

int __wrap_gl_http_reply_aws_error(gl_http_req_t *req, gl_aws_err_t type, const char *fmt, ...)
{
    (void)req;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reply_msg, sizeof(reply_msg), fmt, ap);
    va_end(ap);
    reply_type = type;
    replies++;
    return 0;
}

static int reset(void **state)
{
    (void)state;
    replies = 0;
    reply_msg[0] = '\0';
    return 0;
}

static gl_http_req_t with_body(const char *body)
{
    gl_http_req_t req = {.method_name = "POST", .path = "/", .query = ""};
    req.body.data = (char *)body;
    req.body.len = strlen(body);
    return req;
}

static void test_body_object(void **state)
{
    (void)state;
    gl_http_req_t req = with_body("");
    json_t *o = gl_api_body_object(&req); /* an empty body is {} */
    assert_true(json_is_object(o) && json_object_size(o) == 0);
    json_decref(o);
    req = with_body("{\"a\": 1}");
    o = gl_api_body_object(&req);
    assert_int_equal(json_integer_value(json_object_get(o, "a")), 1);
    json_decref(o);
    assert_int_equal(replies, 0);

    req = with_body("{\"a\": ");
    assert_null(gl_api_body_object(&req));
    assert_int_equal(replies, 1);
    assert_int_equal(reply_type, GL_AWS_INVALID_REQUEST_CONTENT);
    assert_non_null(strstr(reply_msg, "Could not parse request body into json: "));
    req = with_body("[1, 2]");
    assert_null(gl_api_body_object(&req));
    assert_int_equal(replies, 2);
    assert_string_equal(reply_msg, "Could not parse request body into json: expected a JSON "
                                   "object");
}

static void test_opt_string(void **state)
{
    (void)state;
    gl_http_req_t req = with_body("");
    json_t *body = json_pack("{s:s, s:n, s:i}", "Description", "d", "Gone", "Number", 3);
    const char *v = "unset";
    assert_int_equal(gl_api_opt_string(&req, body, "Description", &v), 0);
    assert_string_equal(v, "d");
    assert_int_equal(gl_api_opt_string(&req, body, "Missing", &v), 0);
    assert_null(v);
    assert_int_equal(gl_api_opt_string(&req, body, "Gone", &v), 0);
    assert_null(v);
    assert_int_equal(replies, 0);
    assert_int_equal(gl_api_opt_string(&req, body, "Number", &v), -1);
    assert_int_equal(replies, 1);
    assert_int_equal(reply_type, GL_AWS_INVALID_REQUEST_CONTENT);
    assert_string_equal(reply_msg,
                        "Could not parse request body into json: member Number must be a string");
    json_decref(body);
}

static size_t max_items(const char *query, int *rc)
{
    gl_http_req_t req = {.method_name = "GET", .path = "/", .query = (char *)query};
    size_t page = 12345;
    *rc = gl_api_max_items(&req, &page);
    return page;
}

static void test_max_items(void **state)
{
    (void)state;
    int rc;
    assert_int_equal(max_items("", &rc), 50); /* Lambda's default and largest page */
    assert_int_equal(rc, 0);
    assert_int_equal(max_items("MaxItems=7", &rc), 7);
    assert_int_equal(max_items("MaxItems=10000", &rc), 50);
    assert_int_equal(rc, 0);
    assert_int_equal(replies, 0);
    static const char *const bad[] = {"MaxItems=0", "MaxItems=-1", "MaxItems=x", "MaxItems=3x",
                                      "MaxItems=10001"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        max_items(bad[i], &rc);
        if (rc != -1)
            fail_msg("%s: accepted", bad[i]);
    }
    assert_int_equal(replies, (int)(sizeof(bad) / sizeof(bad[0])));
    assert_int_equal(reply_type, GL_AWS_VALIDATION);
}

static void test_marker_round_trip(void **state)
{
    (void)state;
    gl_http_req_t req = with_body("");
    char out[65];
    assert_int_equal(gl_api_marker(&req, NULL, 64, out), 0);
    assert_string_equal(out, "");
    assert_int_equal(gl_api_marker(&req, "", 64, out), 0);
    assert_string_equal(out, "");

    json_t *resp = json_object();
    gl_api_next_marker(resp, "my-function");
    const char *next = json_string_value(json_object_get(resp, "NextMarker"));
    assert_non_null(next);
    assert_int_equal(gl_api_marker(&req, next, 64, out), 0);
    assert_string_equal(out, "my-function");
    assert_int_equal(replies, 0);
    json_decref(resp);

    /* Not base64, too long for its key, or holding a NUL: Lambda's 400 for a bad Marker. */
    char *long_key = NULL, *with_nul = NULL;
    assert_int_equal(gl_b64_encode("0123456789", 10, &long_key), 0);
    assert_int_equal(gl_b64_encode("a\0b", 3, &with_nul), 0);
    const char *bad[] = {"!!!", long_key, with_nul};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(gl_api_marker(&req, bad[i], 5, out), -1);
        assert_int_equal(reply_type, GL_AWS_INVALID_PARAMETER_VALUE);
        assert_non_null(strstr(reply_msg, "Invalid Marker: "));
    }
    assert_int_equal(replies, 3);
    free(long_key);
    free(with_nul);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_body_object, reset),
        cmocka_unit_test_setup(test_opt_string, reset),
        cmocka_unit_test_setup(test_max_items, reset),
        cmocka_unit_test_setup(test_marker_round_trip, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
