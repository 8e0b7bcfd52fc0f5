/* SPDX-License-Identifier: MIT */
/*
 * test_deliver.c: what an async event's outcome turns into (src/async/deliver.c): destination
 * ARNs parsed per kind and refused when galley cannot deliver to them, resource names made
 * file-name safe, Lambda's destination record (version 1.0) for a success, a function error
 * and an event that never ran, EventBridge's envelope, and the dead-letter message with its
 * 1 KB ErrorMessage cut on a UTF-8 boundary.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "async/internal.h"

#define FN_ARN "arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST"
#define NOW_MS 1700000000123LL /* 2023-11-14T22:13:20.123Z */

static const char *str(const json_t *obj, const char *path)
{
    /* path: "a.b.c" through nested objects */
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", path);
    const json_t *v = obj;
    for (char *save = NULL, *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save))
        v = json_object_get(v, k);
    return json_string_value(v);
}

static void test_parse_each_kind(void **state)
{
    (void)state;
    gl_dest_t d;
    assert_int_equal(gl_dest_parse("arn:aws:lambda:us-east-1:123456789012:function:dest", &d), 0);
    assert_int_equal(d.kind, GL_DEST_FUNCTION);
    assert_string_equal(d.resource, "dest");
    assert_string_equal(d.qualifier, "");
    assert_int_equal(gl_dest_parse("arn:aws:lambda:us-east-1:1:function:dest:live", &d), 0);
    assert_string_equal(d.resource, "dest");
    assert_string_equal(d.qualifier, "live");
    assert_int_equal(gl_dest_parse("arn:aws:sqs:us-east-1:123456789012:q-1", &d), 0);
    assert_int_equal(d.kind, GL_DEST_SQS);
    assert_string_equal(d.service, "sqs");
    assert_string_equal(d.resource, "q-1");
    assert_int_equal(gl_dest_parse("arn:aws:sns:us-east-1:123456789012:topic", &d), 0);
    assert_int_equal(d.kind, GL_DEST_SNS);
    assert_string_equal(d.service, "sns");
    assert_int_equal(gl_dest_parse("arn:aws:events:us-east-1:123456789012:event-bus/bus", &d), 0);
    assert_int_equal(d.kind, GL_DEST_EVENTS);
    assert_string_equal(d.service, "events");
    assert_string_equal(d.resource, "bus");
    assert_int_equal(gl_dest_parse("arn:aws:s3:::bucket", &d), 0);
    assert_int_equal(d.kind, GL_DEST_S3);
    assert_string_equal(d.resource, "bucket");
}

static void test_parse_refuses(void **state)
{
    (void)state;
    gl_dest_t d;
    const char *bad[] = {
        "",
        "arn:aws:sqs:us-east-1:123456789012",            /* five fields */
        "arn:aws:sqs:us-east-1:123456789012:",           /* no resource */
        "urn:aws:sqs:us-east-1:123456789012:q",          /* not an ARN */
        "arn:aws:dynamodb:us-east-1:123456789012:table/t", /* a service galley cannot feed */
        "arn:aws:lambda:us-east-1:123456789012:layer:x", /* not a function */
        "arn:aws:lambda:us-east-1:123456789012:function:bad name",
        "arn:aws:lambda:us-east-1:123456789012:function:f:bad/q",
        "arn:aws:events:us-east-1:123456789012:rule/r",  /* not an event bus */
        "arn:aws:events:us-east-1:123456789012:event-bus/",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(gl_dest_parse(bad[i], &d), -EINVAL);
}

static void test_sanitize_makes_file_names(void **state)
{
    (void)state;
    char a[] = "my queue/../x", b[] = ".hidden", c[] = "ok-1_2.3";
    gl_dest_sanitize(a);
    gl_dest_sanitize(b);
    gl_dest_sanitize(c);
    assert_string_equal(a, "my_queue_.._x");
    assert_string_equal(b, "_hidden");
    assert_string_equal(c, "ok-1_2.3");
    gl_dest_t d;
    assert_int_equal(gl_dest_parse("arn:aws:sqs:us-east-1:1:../../etc", &d), 0);
    assert_null(strchr(d.resource, '/'));
}

static void test_check_destination(void **state)
{
    (void)state;
    char fn[65];
    assert_int_equal(gl_async_check_destination("arn:aws:lambda:us-east-1:1:function:g:2", 0, fn,
                                                sizeof(fn)),
                     0);
    assert_string_equal(fn, "g");
    assert_int_equal(gl_async_check_destination("arn:aws:sqs:us-east-1:1:q", 0, fn, sizeof(fn)),
                     0);
    assert_string_equal(fn, "");
    /* S3 is an OnFailure destination only. */
    assert_int_equal(gl_async_check_destination("arn:aws:s3:::b", 0, fn, sizeof(fn)), -EINVAL);
    assert_int_equal(gl_async_check_destination("arn:aws:s3:::b", 1, fn, sizeof(fn)), 0);
    assert_int_equal(gl_async_check_destination("nope", 1, fn, sizeof(fn)), -EINVAL);
}

static void test_record_after_success(void **state)
{
    (void)state;
    gl_dest_record_in_t in = {
        .request_id = "rid-1", .function_arn = FN_ARN, .condition = "Success",
        .invoke_count = 1, .payload = "{\"a\":1}", .payload_len = 7,
        .executed_version = "3", .response = "\"done\"", .response_len = 6,
        .now_ms = NOW_MS,
    };
    json_t *rec = gl_dest_record(&in);
    assert_non_null(rec);
    assert_string_equal(str(rec, "version"), "1.0");
    assert_string_equal(str(rec, "timestamp"), "2023-11-14T22:13:20.123Z");
    assert_string_equal(str(rec, "requestContext.requestId"), "rid-1");
    assert_string_equal(str(rec, "requestContext.functionArn"), FN_ARN);
    assert_string_equal(str(rec, "requestContext.condition"), "Success");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(rec, "requestContext"),
                                                        "approximateInvokeCount")),
                     1);
    /* The payload is the event's JSON, not a string of it. */
    json_t *payload = json_object_get(rec, "requestPayload");
    assert_int_equal(json_integer_value(json_object_get(payload, "a")), 1);
    json_t *ctx = json_object_get(rec, "responseContext");
    assert_int_equal(json_integer_value(json_object_get(ctx, "statusCode")), 200);
    assert_string_equal(str(ctx, "executedVersion"), "3");
    assert_null(json_object_get(ctx, "functionError"));
    assert_string_equal(str(rec, "responsePayload"), "done");
    assert_int_equal(json_object_size(rec), 6);
    json_decref(rec);
}

static void test_record_after_function_error_and_never_ran(void **state)
{
    (void)state;
    const char *err = "{\"errorType\":\"ValueError\",\"errorMessage\":\"boom\"}";
    gl_dest_record_in_t in = {
        .request_id = "rid-2", .function_arn = FN_ARN, .condition = "RetriesExhausted",
        .invoke_count = 3, .payload = "not json", .payload_len = 8, .function_error = 1,
        .response = err, .response_len = strlen(err), .now_ms = NOW_MS,
    };
    json_t *rec = gl_dest_record(&in);
    json_t *ctx = json_object_get(rec, "responseContext");
    assert_string_equal(str(ctx, "functionError"), "Unhandled");
    assert_string_equal(str(ctx, "executedVersion"), "$LATEST");
    assert_string_equal(str(rec, "requestPayload"), "not json");
    assert_string_equal(str(rec, "responsePayload.errorType"), "ValueError");
    json_decref(rec);

    /* Throttled until the event expired: no response, status 429, no responsePayload. */
    gl_dest_record_in_t never = {
        .request_id = "rid-3", .function_arn = FN_ARN, .condition = "EventAgeExceeded",
        .payload = "{}", .payload_len = 2, .now_ms = NOW_MS,
    };
    rec = gl_dest_record(&never);
    ctx = json_object_get(rec, "responseContext");
    assert_int_equal(json_integer_value(json_object_get(ctx, "statusCode")), 429);
    assert_null(json_object_get(rec, "responsePayload"));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(rec, "requestContext"),
                                                        "approximateInvokeCount")),
                     0);
    json_decref(rec);
}

static void test_eventbridge_envelope(void **state)
{
    (void)state;
    json_t *rec = json_pack("{s:s}", "version", "1.0");
    json_t *ev = gl_dest_eventbridge(rec, 0, "eu-west-1", "123456789012", FN_ARN, NOW_MS);
    assert_non_null(ev);
    assert_string_equal(str(ev, "version"), "0");
    assert_int_equal(strlen(str(ev, "id")), GL_UUID_LEN);
    assert_string_equal(str(ev, "detail-type"), "Lambda Function Invocation Result - Failure");
    assert_string_equal(str(ev, "source"), "lambda");
    assert_string_equal(str(ev, "account"), "123456789012");
    assert_string_equal(str(ev, "region"), "eu-west-1");
    /* Second precision, no milliseconds. */
    assert_string_equal(str(ev, "time"), "2023-11-14T22:13:20Z");
    json_t *res = json_object_get(ev, "resources");
    assert_int_equal(json_array_size(res), 1);
    assert_string_equal(json_string_value(json_array_get(res, 0)), FN_ARN);
    assert_string_equal(str(ev, "detail.version"), "1.0");
    json_decref(ev);
    ev = gl_dest_eventbridge(json_object(), 1, "r", "a", FN_ARN, NOW_MS);
    assert_string_equal(str(ev, "detail-type"), "Lambda Function Invocation Result - Success");
    json_decref(ev);
}

static void test_dlq_message(void **state)
{
    (void)state;
    json_t *m = gl_dest_dlq_message("rid", "{\"n\":1}", 7, 200, "boom");
    assert_string_equal(str(m, "body"), "{\"n\":1}");
    assert_string_equal(str(m, "messageAttributes.RequestID.DataType"), "String");
    assert_string_equal(str(m, "messageAttributes.RequestID.StringValue"), "rid");
    assert_string_equal(str(m, "messageAttributes.ErrorCode.DataType"), "Number");
    assert_string_equal(str(m, "messageAttributes.ErrorCode.StringValue"), "200");
    assert_string_equal(str(m, "messageAttributes.ErrorMessage.StringValue"), "boom");
    json_decref(m);

    /* 1023 ASCII bytes then a 2-byte character across the 1 KB limit: the cut goes before
     * the character, never through it. */
    char long_msg[1100];
    memset(long_msg, 'x', 1023);
    memcpy(long_msg + 1023, "\xc3\xa9tail", 7);
    m = gl_dest_dlq_message("rid", NULL, 0, 429, long_msg);
    const char *cut = str(m, "messageAttributes.ErrorMessage.StringValue");
    assert_non_null(cut);
    assert_int_equal(strlen(cut), 1023);
    assert_string_equal(str(m, "body"), "");
    assert_string_equal(str(m, "messageAttributes.ErrorCode.StringValue"), "429");
    json_decref(m);
}

static void test_json_or_string(void **state)
{
    (void)state;
    json_t *v = gl_json_or_string("[1,2]", 5);
    assert_true(json_is_array(v));
    json_decref(v);
    v = gl_json_or_string("42", 2); /* any JSON value, not only objects */
    assert_int_equal(json_integer_value(v), 42);
    json_decref(v);
    v = gl_json_or_string("{oops", 5);
    assert_string_equal(json_string_value(v), "{oops");
    json_decref(v);
    v = gl_json_or_string(NULL, 0);
    assert_true(json_is_null(v));
    json_decref(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_each_kind),
        cmocka_unit_test(test_parse_refuses),
        cmocka_unit_test(test_sanitize_makes_file_names),
        cmocka_unit_test(test_check_destination),
        cmocka_unit_test(test_record_after_success),
        cmocka_unit_test(test_record_after_function_error_and_never_ran),
        cmocka_unit_test(test_eventbridge_envelope),
        cmocka_unit_test(test_dlq_message),
        cmocka_unit_test(test_json_or_string),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
