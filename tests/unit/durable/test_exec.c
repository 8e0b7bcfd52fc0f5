/* SPDX-License-Identifier: MIT */
/*
 * test_exec.c: the durable execution document (src/durable/exec.c, ops.c, pages.c): the ARN
 * and the EXECUTION operation, checkpoint tokens (one checkpoint each, stale after rotation,
 * any of the invocation for reads), callback ids, the operation transitions and the refusal
 * of invalid ones leaving the execution untouched, waits and retries against the clock,
 * paging, and a document surviving a round trip through its JSON text (the journal's record).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "durable/internal.h"

#define ID "0123abcd-0000-4000-8000-00000000beef"
#define T0 1700000000000LL

static gl_dx_t *make(void)
{
    gl_dx_new_in_t in = {.id = ID, .name = "run-1", .fn_name = "wf", .qualifier = "1",
                         .version = "1", .region = "us-east-1", .account = "123456789012",
                         .payload = "{\"a\":1}", .len = 7, .timeout_s = 60,
                         .retention_days = 14};
    gl_dx_t *x = gl_dx_new(&in, T0);
    assert_non_null(x);
    return x;
}

static json_t *updates(const char *text)
{
    json_t *u = json_loads(text, 0, NULL);
    assert_non_null(u);
    return u;
}

static const char *op_status(gl_dx_t *x, const char *id)
{
    return json_string_value(
        json_object_get(json_object_get(json_object_get(x->doc, "Ops"), id), "Status"));
}

static void test_new_execution(void **state)
{
    (void)state;
    gl_dx_t *x = make();
    assert_string_equal(gl_dx_str(x, "Arn"), "arn:aws:lambda:us-east-1:123456789012:function:"
                                             "wf:1/durable-execution/run-1/" ID);
    assert_string_equal(op_status(x, ID), "STARTED");
    assert_true(gl_dx_running(x));
    size_t next;
    json_t *page = gl_dx_ops_page(x, 0, 10, &next);
    assert_int_equal(json_array_size(page), 1);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_array_get(page, 0), "ExecutionDetails"),
                            "InputPayload")),
                        "{\"a\":1}");
    assert_int_equal(next, 0);
    json_decref(page);
    gl_dx_free(x);
}

static void test_tokens_rotate(void **state)
{
    (void)state;
    gl_dx_t *x = make();
    char *t1 = gl_dx_new_token(x);
    assert_int_equal(gl_dx_check_token(x, t1, 0), 0);
    /* A checkpoint moves the number on: t1 is now stale for checkpoints, still good to read. */
    json_object_set_new(x->doc, "Seq", json_integer(gl_dx_int(x, "Seq") + 1));
    char *t2 = gl_dx_token(x);
    assert_int_equal(gl_dx_check_token(x, t1, 0), -1);
    assert_int_equal(gl_dx_check_token(x, t1, 1), 0);
    assert_int_equal(gl_dx_check_token(x, t2, 0), 0);
    /* The next invocation makes every earlier token stale. */
    char *t3 = gl_dx_new_token(x);
    assert_int_equal(gl_dx_check_token(x, t2, 1), -1);
    assert_int_equal(gl_dx_check_token(x, t3, 0), 0);
    assert_int_equal(gl_dx_check_token(x, "AAAA", 1), -1);
    assert_int_equal(gl_dx_check_token(x, "not base64!", 1), -1);
    char id[GL_DX_ID_LEN + 1], rest[16];
    assert_int_equal(gl_dx_parse_ref(t3, id, rest, sizeof(rest)), 0);
    assert_string_equal(id, ID);
    free(t1);
    free(t2);
    free(t3);
    gl_dx_free(x);
}

static void test_step_lifecycle_and_retry(void **state)
{
    (void)state;
    gl_dx_t *x = make();
    gl_aws_error_t aerr;
    json_t *changed = json_array();
    json_t *u = updates("[{\"Id\":\"s1\",\"Type\":\"STEP\",\"Action\":\"START\",\"Name\":\"a\"},"
                        "{\"Id\":\"s1\",\"Type\":\"STEP\",\"Action\":\"RETRY\","
                        "\"StepOptions\":{\"NextAttemptDelaySeconds\":30},"
                        "\"Error\":{\"ErrorMessage\":\"boom\"}}]");
    assert_int_equal(gl_dx_apply(x, u, 10.0, T0, changed, &aerr), 0);
    assert_string_equal(op_status(x, "s1"), "PENDING");
    assert_int_equal(json_array_size(changed), 1);
    /* Due 30 s / scale 10 = 3 s later. */
    assert_int_equal(gl_dx_next_due(x), T0 + 3000);
    assert_int_equal(gl_dx_advance(x, T0 + 2999, NULL), 0);
    assert_int_equal(gl_dx_advance(x, T0 + 3000, NULL), 1);
    assert_string_equal(op_status(x, "s1"), "READY");
    json_decref(u);
    u = updates("[{\"Id\":\"s1\",\"Type\":\"STEP\",\"Action\":\"START\"},"
                "{\"Id\":\"s1\",\"Type\":\"STEP\",\"Action\":\"SUCCEED\",\"Payload\":\"7\"}]");
    assert_int_equal(gl_dx_apply(x, u, 10.0, T0 + 4000, NULL, &aerr), 0);
    assert_string_equal(op_status(x, "s1"), "SUCCEEDED");
    json_t *d = json_object_get(json_object_get(json_object_get(x->doc, "Ops"), "s1"),
                                "StepDetails");
    assert_int_equal(json_integer_value(json_object_get(d, "Attempt")), 1);
    assert_string_equal(json_string_value(json_object_get(d, "Result")), "7");
    json_decref(u);
    json_decref(changed);
    gl_dx_free(x);
}

static void test_invalid_transition_changes_nothing(void **state)
{
    (void)state;
    gl_dx_t *x = make();
    gl_aws_error_t aerr;
    json_t *u = updates("[{\"Id\":\"s1\",\"Type\":\"STEP\",\"Action\":\"SUCCEED\"}]");
    assert_int_equal(gl_dx_apply(x, u, 1.0, T0, NULL, &aerr), 0);
    json_decref(u);
    size_t events = json_array_size(json_object_get(x->doc, "Events"));
    /* A new step, then a second SUCCEED of the ended one: the whole batch is refused. */
    u = updates("[{\"Id\":\"s2\",\"Type\":\"STEP\",\"Action\":\"START\"},"
                "{\"Id\":\"s1\",\"Type\":\"STEP\",\"Action\":\"SUCCEED\"}]");
    assert_true(gl_dx_apply(x, u, 1.0, T0, NULL, &aerr) < 0);
    assert_int_equal(aerr.type, GL_AWS_INVALID_PARAMETER_VALUE);
    assert_null(json_object_get(json_object_get(x->doc, "Ops"), "s2"));
    assert_int_equal(json_array_size(json_object_get(x->doc, "Events")), events);
    json_decref(u);
    static const char *const bad[] = {
        "[{\"Id\":\"s1\",\"Type\":\"WAIT\",\"Action\":\"START\",\"WaitOptions\":{\"WaitSeconds\":1}}]",
        "[{\"Id\":\"w\",\"Type\":\"WAIT\",\"Action\":\"START\"}]",
        "[{\"Id\":\"bad id!\",\"Type\":\"STEP\",\"Action\":\"START\"}]",
        "[{\"Id\":\"x\",\"Type\":\"NOPE\",\"Action\":\"START\"}]",
        "[{\"Id\":\"c\",\"Type\":\"CONTEXT\",\"Action\":\"RETRY\"}]",
        "[{\"Id\":\"e\",\"Type\":\"EXECUTION\",\"Action\":\"START\"}]",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        u = updates(bad[i]);
        assert_true(gl_dx_apply(x, u, 1.0, T0, NULL, &aerr) < 0);
        json_decref(u);
    }
    gl_dx_free(x);
}

static void test_wait_callback_and_end(void **state)
{
    (void)state;
    gl_dx_t *x = make();
    gl_aws_error_t aerr;
    json_t *u = updates("[{\"Id\":\"w\",\"Type\":\"WAIT\",\"Action\":\"START\","
                        "\"WaitOptions\":{\"WaitSeconds\":86400}},"
                        "{\"Id\":\"cb\",\"Type\":\"CALLBACK\",\"Action\":\"START\","
                        "\"CallbackOptions\":{\"TimeoutSeconds\":864000}}]");
    assert_int_equal(gl_dx_apply(x, u, 86400.0, T0, NULL, &aerr), 0);
    json_decref(u);
    assert_int_equal(gl_dx_next_due(x), T0 + 1000);
    assert_int_equal(gl_dx_advance(x, T0 + 1000, NULL), 1);
    assert_string_equal(op_status(x, "w"), "SUCCEEDED");
    const char *cid = json_string_value(json_object_get(
        json_object_get(json_object_get(json_object_get(x->doc, "Ops"), "cb"), "CallbackDetails"),
        "CallbackId"));
    char id[GL_DX_ID_LEN + 1], op[80];
    assert_int_equal(gl_dx_parse_ref(cid, id, op, sizeof(op)), 0);
    assert_string_equal(op, "cb");
    assert_int_equal(gl_dx_callback(x, op, 'S', "\"ok\"", 4, NULL, T0 + 1, &aerr), 0);
    assert_string_equal(op_status(x, "cb"), "SUCCEEDED");
    assert_true(gl_dx_callback(x, op, 'S', "1", 1, NULL, T0 + 2, &aerr) < 0);
    assert_int_equal(aerr.type, GL_AWS_CALLBACK_TIMEOUT);
    u = updates("[{\"Id\":\"" ID "\",\"Type\":\"EXECUTION\",\"Action\":\"SUCCEED\","
                "\"Payload\":\"42\"}]");
    assert_int_equal(gl_dx_apply(x, u, 1.0, T0 + 3, NULL, &aerr), 0);
    assert_false(gl_dx_running(x));
    assert_string_equal(gl_dx_str(x, "Result"), "42");
    /* An ended execution takes no more checkpoints. */
    assert_true(gl_dx_apply(x, u, 1.0, T0 + 4, NULL, &aerr) < 0);
    json_decref(u);
    gl_dx_free(x);
}

static void test_pages_and_round_trip(void **state)
{
    (void)state;
    gl_dx_t *x = make();
    gl_aws_error_t aerr;
    for (int i = 0; i < 5; i++) {
        char text[128];
        snprintf(text, sizeof(text), "[{\"Id\":\"s%d\",\"Type\":\"STEP\",\"Action\":\"SUCCEED\"}]",
                 i);
        json_t *u = updates(text);
        assert_int_equal(gl_dx_apply(x, u, 1.0, T0, NULL, &aerr), 0);
        json_decref(u);
    }
    size_t next, start;
    json_t *page = gl_dx_ops_page(x, 0, 4, &next);
    assert_int_equal(json_array_size(page), 4);
    assert_int_equal(next, 4);
    json_decref(page);
    page = gl_dx_ops_page(x, next, 4, &next);
    assert_int_equal(json_array_size(page), 2);
    assert_int_equal(next, 0);
    json_decref(page);
    assert_int_equal(gl_dx_marker("4", &start), 0);
    assert_int_equal(start, 4);
    assert_int_equal(gl_dx_marker("x", &start), -1);
    char *text = json_dumps(x->doc, JSON_COMPACT);
    gl_dx_t *y = gl_dx_from_doc(json_loads(text, 0, NULL));
    free(text);
    assert_non_null(y);
    assert_string_equal(y->id, ID);
    assert_string_equal(op_status(y, "s4"), "SUCCEEDED");
    assert_null(gl_dx_from_doc(json_pack("{s:s}", "Id", "short")));
    gl_dx_free(y);
    gl_dx_free(x);
}

static void test_skip_waits_and_chained(void **state)
{
    (void)state;
    gl_dx_t *x = make();
    gl_aws_error_t aerr;
    json_t *u = updates("[{\"Id\":\"w\",\"Type\":\"WAIT\",\"Action\":\"START\","
                        "\"WaitOptions\":{\"WaitSeconds\":3600}},"
                        "{\"Id\":\"ci\",\"Type\":\"CHAINED_INVOKE\",\"Action\":\"START\","
                        "\"Payload\":\"{}\",\"ChainedInvokeOptions\":{\"FunctionName\":\"f\"}}]");
    assert_int_equal(gl_dx_apply(x, u, 1.0, T0, NULL, &aerr), 0);
    json_decref(u);
    /* galley's own member for the launch is kept, but never shown. */
    size_t next;
    json_t *page = gl_dx_ops_page(x, 2, 1, &next);
    assert_null(json_object_get(json_array_get(page, 0), "_FunctionName"));
    json_decref(page);
    assert_int_equal(gl_dx_skip_waits(x, T0 + 5), 1);
    assert_int_equal(gl_dx_advance(x, T0 + 5, NULL), 1);
    assert_string_equal(op_status(x, "w"), "SUCCEEDED");
    assert_int_equal(gl_dx_chained_done(x, "ci", "{\"r\":1}", 7, NULL, T0 + 6, &aerr), 0);
    assert_string_equal(op_status(x, "ci"), "SUCCEEDED");
    assert_true(gl_dx_chained_done(x, "ci", "1", 1, NULL, T0 + 7, &aerr) < 0);
    /* A chained invoke needs its target. */
    u = updates("[{\"Id\":\"c2\",\"Type\":\"CHAINED_INVOKE\",\"Action\":\"START\"}]");
    assert_true(gl_dx_apply(x, u, 1.0, T0, NULL, &aerr) < 0);
    json_decref(u);
    gl_dx_free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_execution),
        cmocka_unit_test(test_tokens_rotate),
        cmocka_unit_test(test_step_lifecycle_and_retry),
        cmocka_unit_test(test_invalid_transition_changes_nothing),
        cmocka_unit_test(test_wait_callback_and_end),
        cmocka_unit_test(test_pages_and_round_trip),
        cmocka_unit_test(test_skip_waits_and_chained),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
