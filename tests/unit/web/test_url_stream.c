/* SPDX-License-Identifier: MIT */
/*
 * test_url_stream.c: a RESPONSE_STREAM Function URL's answer (src/web/url_stream.c) driven
 * piece by piece as the scheduler would drive it, with the HTTP replies captured (--wrap of
 * gl_http_reply_*, gl_http_req_gone, gl_http_req_pause_body and gl_invoke_free): the prelude
 * held across pieces until its delimiter, a plain stream's head, a cut after a failure, 502s
 * before the first byte, backpressure and a client that goes away.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"

#define GL_WEB_TEST_INTEGRATION "application/vnd.awslambda.http-integration-response"

/* What the wrapped replies saw. */
static struct {
    int status;          /* of the head or the buffered reply; 0: none */
    json_t *headers;     /* name -> value (Set-Cookie values joined by "|") */
    gl_buf_t body;
    int started, ended, aborted, buffered;
    int write_rc;        /* what the next writes return (1: backed up) */
    int gone;            /* gl_http_req_gone's answer */
    int resumed, freed;
} seen;

static void record_head(int status, const gl_http_header_t *h, size_t n)
{
    seen.status = status;
    for (size_t i = 0; i < n; i++) {
        const char *old = json_string_value(json_object_get(seen.headers, h[i].name));
        char joined[512];
        snprintf(joined, sizeof(joined), "%s%s%s", old ? old : "", old ? "|" : "", h[i].value);
        json_object_set_new(seen.headers, h[i].name, json_string(joined));
    }
}

int __wrap_gl_http_reply_start(gl_http_req_t *req, int status, const gl_http_header_t *h,
                               size_t n)
{
    (void)req;
    seen.started++;
    record_head(status, h, n);
    return seen.gone ? -ENOTCONN : 0;
}

int __wrap_gl_http_reply_write(gl_http_req_t *req, const void *buf, size_t len)
{
    (void)req;
    gl_buf_append(&seen.body, buf, len);
    return seen.write_rc;
}

int __wrap_gl_http_reply_end(gl_http_req_t *req)
{
    (void)req;
    seen.ended++;
    return 0;
}

int __wrap_gl_http_reply_abort(gl_http_req_t *req)
{
    (void)req;
    seen.aborted++;
    return 0;
}

int __wrap_gl_http_reply_json(gl_http_req_t *req, int status, const gl_http_header_t *h,
                              size_t n, json_t *body)
{
    char *text = json_dumps(body, JSON_COMPACT);
    (void)req;
    seen.buffered++;
    record_head(status, h, n);
    gl_buf_append_str(&seen.body, text);
    free(text);
    json_decref(body);
    return 0;
}

int __wrap_gl_http_reply_owned(gl_http_req_t *req, int status, const gl_http_header_t *h,
                               size_t n, char *body, size_t len)
{
    (void)req;
    seen.buffered++;
    record_head(status, h, n);
    gl_buf_append(&seen.body, body, len);
    free(body);
    return 0;
}

int __wrap_gl_http_req_gone(const gl_http_req_t *req)
{
    (void)req;
    return seen.gone;
}

/* The runtime's streaming /response: resuming the invoke resumes reading it. */
static gl_http_req_t runtime_req;

void __wrap_gl_http_req_pause_body(gl_http_req_t *req, int pause)
{
    assert_ptr_equal(req, &runtime_req);
    if (!pause)
        seen.resumed++;
}

void __wrap_gl_invoke_free(gl_invoke_t *inv)
{
    seen.freed++;
    gl_buf_free(&inv->result);
    free(inv->content_type);
    free(inv->service_error);
    free(inv);
}

static gl_http_req_t req;

static gl_invoke_t *attach(const char *content_type, const char *origin)
{
    gl_invoke_t *inv = calloc(1, sizeof(*inv));
    json_t *cfg = json_pack("{s:[s]}", "AllowOrigins", "https://a.example");
    assert_non_null(inv);
    memset(&req, 0, sizeof(req));
    strcpy(req.request_id, "11111111-2222-3333-4444-555555555555");
    if (content_type) {
        inv->streamed = 1;
        inv->content_type = strdup(content_type);
    }
    inv->stream_src = &runtime_req;
    assert_int_equal(gl_web_stream_attach(inv, &req, gl_web_cors_headers(cfg, origin, 0)), 0);
    json_decref(cfg);
    assert_int_equal(inv->stream, 1);
    return inv;
}

static int setup(void **state)
{
    (void)state;
    memset(&seen, 0, sizeof(seen));
    seen.headers = json_object();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    json_decref(seen.headers);
    gl_buf_free(&seen.body);
    return 0;
}

static const char *hdr(const char *name)
{
    return json_string_value(json_object_get(seen.headers, name));
}

static int piece(gl_invoke_t *inv, const char *s, size_t len)
{
    return inv->on_chunk(inv, s, len);
}

static void test_prelude_across_pieces(void **state)
{
    (void)state;
    gl_invoke_t *inv = attach(GL_WEB_TEST_INTEGRATION, "https://a.example");
    assert_int_equal(piece(inv, "{\"statusCode\":201,\"hea", 22), 0);
    assert_int_equal(seen.started, 0); /* held until the delimiter */
    const char p2[] = "ders\":{\"x-a\":\"b\"},\"cookies\":[\"c=1\",\"d=2\"]}\0\0\0";
    assert_int_equal(piece(inv, p2, sizeof(p2) - 1), 0);
    assert_int_equal(seen.started, 0);
    assert_int_equal(piece(inv, "\0\0\0\0\0body1", 10), 0);
    assert_int_equal(seen.started, 1);
    assert_int_equal(seen.status, 201);
    assert_string_equal(hdr("x-a"), "b");
    assert_string_equal(hdr("content-type"), "application/octet-stream");
    assert_string_equal(hdr("Set-Cookie"), "c=1|d=2");
    assert_string_equal(hdr("Access-Control-Allow-Origin"), "https://a.example");
    assert_string_equal(hdr("x-amzn-RequestId"), req.request_id);
    assert_int_equal(piece(inv, "body2", 5), 0);
    assert_int_equal(seen.body.len, 10);
    assert_memory_equal(seen.body.data, "body1body2", 10);
    inv->done(inv);
    assert_int_equal(seen.ended, 1);
    assert_int_equal(seen.aborted, 0);
    assert_int_equal(seen.freed, 1);
}

static void test_plain_stream_then_failure(void **state)
{
    (void)state;
    gl_invoke_t *inv = attach("text/plain", NULL);
    assert_int_equal(piece(inv, "one\n", 4), 0);
    assert_int_equal(seen.status, 200);
    assert_string_equal(hdr("content-type"), "text/plain");
    assert_null(hdr("Access-Control-Allow-Origin")); /* no Origin */
    /* Backed up: the runtime is paused until the client's connection drains. */
    seen.write_rc = 1;
    assert_int_equal(piece(inv, "two\n", 4), 1);
    req.on_drain(&req);
    assert_int_equal(seen.resumed, 1);
    seen.write_rc = 0;
    inv->function_error = 1; /* a timeout, a crash, an error thrown after the first byte */
    inv->done(inv);
    assert_int_equal(seen.aborted, 1);
    assert_int_equal(seen.ended, 0);
    assert_int_equal(seen.freed, 1);
}

static void test_bad_prelude_is_502(void **state)
{
    (void)state;
    gl_invoke_t *inv = attach(GL_WEB_TEST_INTEGRATION, NULL);
    assert_int_equal(piece(inv, "not json\0\0\0\0\0\0\0\0rest", 20), 0);
    assert_int_equal(seen.started, 0);
    assert_int_equal(seen.buffered, 1);
    assert_int_equal(seen.status, 502);
    assert_string_equal(seen.body.data, "{\"Message\":\"Internal Server Error\"}");
    /* The invoke runs on unread, its runtime not left paused. */
    assert_null(inv->done);
    assert_null(inv->on_chunk);
    assert_int_equal(seen.resumed, 1);
    __wrap_gl_invoke_free(inv);
}

static void test_prelude_without_delimiter(void **state)
{
    (void)state;
    static char junk[70 * 1024];
    gl_invoke_t *inv = attach(GL_WEB_TEST_INTEGRATION, NULL);
    memset(junk, 'x', sizeof(junk));
    assert_int_equal(piece(inv, junk, sizeof(junk)), 0);
    assert_int_equal(seen.status, 502); /* more than 64 KiB and still no delimiter */
    __wrap_gl_invoke_free(inv);
    teardown(state);
    setup(state);
    /* A stream that ends with only a prelude: that prelude is the whole answer. */
    inv = attach(GL_WEB_TEST_INTEGRATION, NULL);
    assert_int_equal(piece(inv, "{\"statusCode\":204}", 18), 0);
    inv->done(inv);
    assert_int_equal(seen.status, 204);
    assert_int_equal(seen.started, 1);
    assert_int_equal(seen.ended, 1);
}

static void test_before_the_first_byte(void **state)
{
    (void)state;
    /* A handler that does not stream: mapped as for a BUFFERED URL. */
    gl_invoke_t *inv = attach(NULL, NULL);
    gl_buf_append_str(&inv->result, "{\"statusCode\":202,\"body\":\"whole\"}");
    inv->done(inv);
    assert_int_equal(seen.buffered, 1);
    assert_int_equal(seen.status, 202);
    assert_string_equal(seen.body.data, "whole");
    teardown(state);
    setup(state);
    /* An error before the first byte: 502. */
    inv = attach("text/plain", NULL);
    inv->function_error = 1;
    inv->done(inv);
    assert_int_equal(seen.started, 0);
    assert_int_equal(seen.status, 502);
    teardown(state);
    setup(state);
    /* An empty plain stream: a 200 with an empty chunked body. */
    inv = attach("text/plain", NULL);
    inv->done(inv);
    assert_int_equal(seen.status, 200);
    assert_int_equal(seen.ended, 1);
    assert_int_equal(seen.body.len, 0);
}

static void test_client_gone(void **state)
{
    (void)state;
    gl_invoke_t *inv = attach("text/plain", NULL);
    assert_int_equal(piece(inv, "one\n", 4), 0);
    req.on_abort(&req); /* the client reset the connection */
    assert_null(inv->done);
    assert_null(inv->data);
    assert_null(inv->on_chunk);
    assert_int_equal(seen.resumed, 1);
    __wrap_gl_invoke_free(inv);
    teardown(state);
    setup(state);
    /* A write that finds the connection gone: the request is ended and the invoke detached. */
    inv = attach("text/plain", NULL);
    seen.gone = 1;
    assert_int_equal(piece(inv, "one\n", 4), 0);
    assert_int_equal(seen.ended, 1);
    assert_null(inv->done);
    __wrap_gl_invoke_free(inv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_prelude_across_pieces, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plain_stream_then_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_prelude_is_502, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prelude_without_delimiter, setup, teardown),
        cmocka_unit_test_setup_teardown(test_before_the_first_byte, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_gone, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
