/* SPDX-License-Identifier: MIT */
/*
 * test_telemetry_events.c: src/scheduler/telemetry_events.c: the checks of a Telemetry or Logs
 * API subscription (Lambda's error types, statuses and joined messages), the events each schema
 * version carries for galley's platform records and log lines, and the buffering decisions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "telemetry.h"

static int parse(gl_tel_api_t api, const char *body, gl_tel_sub_cfg_t *cfg, gl_tel_error_t *err)
{
    memset(err, 0, sizeof(*err));
    return gl_tel_parse_subscription(api, body, strlen(body), cfg, err);
}

static void expect_error(gl_tel_api_t api, const char *body, int status, const char *type,
                         const char *msg)
{
    gl_tel_sub_cfg_t cfg;
    gl_tel_error_t err;
    assert_int_equal(parse(api, body, &cfg, &err), -1);
    assert_int_equal(err.status, status);
    assert_string_equal(err.type, type);
    if (msg)
        assert_string_equal(err.msg, msg);
}

static void test_valid_subscriptions(void **state)
{
    (void)state;
    gl_tel_sub_cfg_t cfg;
    gl_tel_error_t err;
    assert_int_equal(parse(GL_TEL_API_TELEMETRY,
                           "{\"schemaVersion\":\"2022-12-13\",\"types\":[\"platform\",\"function\"],"
                           "\"destination\":{\"protocol\":\"HTTP\",\"URI\":"
                           "\"http://sandbox.localdomain:4243/tel?x=1\"}}",
                           &cfg, &err),
                     0);
    assert_int_equal(cfg.schema, GL_TEL_2022_12_13);
    assert_int_equal(cfg.types, GL_TEL_PLATFORM | GL_TEL_FUNCTION);
    assert_int_equal(cfg.port, 4243);
    assert_string_equal(cfg.path, "/tel?x=1");
    assert_false(cfg.tcp);
    assert_int_equal(cfg.buf.max_items, 1000); /* Lambda's defaults */
    assert_int_equal(cfg.buf.max_bytes, 262144);
    assert_int_equal(cfg.buf.timeout_ms, 1000);

    assert_int_equal(parse(GL_TEL_API_LOGS,
                           "{\"types\":[\"extension\"],\"buffering\":{\"timeoutMs\":25,"
                           "\"maxBytes\":1048576},\"destination\":{\"protocol\":\"TCP\","
                           "\"port\":5000}}",
                           &cfg, &err),
                     0);
    assert_int_equal(cfg.schema, GL_TEL_2020_08_15); /* the Logs API's default */
    assert_int_equal(cfg.buf.max_items, 10000);     /* and its own maxItems default */
    assert_int_equal(cfg.buf.max_bytes, 1048576);
    assert_int_equal(cfg.buf.timeout_ms, 25);
    assert_true(cfg.tcp);
    assert_int_equal(cfg.port, 5000);

    assert_int_equal(parse(GL_TEL_API_TELEMETRY,
                           "{\"schemaVersion\":\"2025-01-29\",\"types\":[\"platform\"],"
                           "\"destination\":{\"protocol\":\"HTTP\",\"URI\":"
                           "\"http://sandbox.localdomain:80\"}}",
                           &cfg, &err),
                     0);
    assert_string_equal(cfg.path, "/");

    /* The Logs API also takes the short host name its older samples use; Telemetry does not. */
    assert_int_equal(parse(GL_TEL_API_LOGS,
                           "{\"types\":[\"platform\"],\"destination\":{\"protocol\":\"HTTP\","
                           "\"URI\":\"http://sandbox:8080/lambda_logs\"}}",
                           &cfg, &err),
                     0);
    assert_int_equal(cfg.port, 8080);
    assert_string_equal(cfg.path, "/lambda_logs");
    assert_int_equal(parse(GL_TEL_API_TELEMETRY,
                           "{\"schemaVersion\":\"2022-07-01\",\"types\":[\"platform\"],"
                           "\"destination\":{\"protocol\":\"HTTP\",\"URI\":\"http://sandbox:8080\"}}",
                           &cfg, &err),
                     -1);
    assert_int_equal(err.status, 403);
}

static void test_refused_subscriptions(void **state)
{
    (void)state;
    const gl_tel_api_t T = GL_TEL_API_TELEMETRY;
    /* Lambda's documented example: violations joined by "; ". */
    expect_error(T,
                 "{\"schemaVersion\":\"2022-07-01\",\"types\":[],\"destination\":{\"protocol\":"
                 "\"HTTP\",\"URI\":\"http://sandbox.localdomain\"}}",
                 400, "Telemetry.ValidationError",
                 "URI port is not provided; types should not be empty");
    expect_error(GL_TEL_API_LOGS,
                 "{\"types\":[\"platform\",\"platform\"],\"buffering\":{\"maxItems\":999},"
                 "\"destination\":{\"protocol\":\"TCP\",\"port\":9001}}",
                 400, "Logs.ValidationError",
                 "types should be unique; maxItems should be between 1000 and 10000; port 9001 "
                 "is reserved");
    expect_error(T, "{\"schemaVersion\":\"2022-07-01\",\"types\":[\"platform\"]}", 400,
                 "Telemetry.DeserializationError", "missing field `destination`");
    expect_error(T, "not json", 400, "Telemetry.DeserializationError", NULL);
    expect_error(T,
                 "{\"schemaVersion\":\"2022-07-01\",\"types\":[\"logs\"],\"destination\":{"
                 "\"protocol\":\"HTTP\",\"URI\":\"http://sandbox.localdomain:1\"}}",
                 400, "Telemetry.DeserializationError",
                 "unknown variant `logs`, expected one of `platform`, `function`, `extension`");
    expect_error(T,
                 "{\"schemaVersion\":\"2022-07-01\",\"types\":[\"platform\"],\"destination\":{"
                 "\"protocol\":\"HTTPS\",\"URI\":\"http://sandbox.localdomain:1\"}}",
                 400, "Telemetry.DeserializationError",
                 "unknown variant `HTTPS`, expected `HTTP` or `TCP`");
    expect_error(T,
                 "{\"schemaVersion\":\"2022-07-01\",\"types\":[\"platform\"],\"destination\":{"
                 "\"protocol\":\"HTTP\",\"URI\":\"http://example.com:8080\"}}",
                 403, "Telemetry.AccessDenied", "Only 'sandbox.localdomain' hostname is supported.");
    expect_error(T,
                 "{\"schemaVersion\":\"2022-07-01\",\"types\":[\"platform\"],\"destination\":{"
                 "\"protocol\":\"HTTP\",\"URI\":\"https://sandbox.localdomain:8080\"}}",
                 403, "Telemetry.AccessDenied", "Only 'http' scheme is supported.");
    /* A schema version of the other API, or none where the Telemetry API needs one. */
    expect_error(T,
                 "{\"schemaVersion\":\"2021-03-18\",\"types\":[\"platform\"],\"destination\":{"
                 "\"protocol\":\"TCP\",\"port\":4000}}",
                 400, "Telemetry.ValidationError",
                 "TelemetryAPI only supports the SchemaVersion released after 2021-03-18");
    expect_error(T, "{\"types\":[\"platform\"],\"destination\":{\"protocol\":\"TCP\",\"port\":4000}}",
                 400, "Telemetry.ValidationError",
                 "TelemetryAPI only supports the SchemaVersion released after 2021-03-18");
    expect_error(GL_TEL_API_LOGS,
                 "{\"schemaVersion\":\"2022-12-13\",\"types\":[\"platform\"],\"destination\":{"
                 "\"protocol\":\"TCP\",\"port\":4000}}",
                 400, "Logs.ValidationError",
                 "LogsAPI only supports the following SchemaVersion: 2020-08-15, 2021-03-18");
    expect_error(T,
                 "{\"schemaVersion\":\"2023-01-01\",\"types\":[\"platform\"],\"destination\":{"
                 "\"protocol\":\"TCP\",\"port\":4000}}",
                 400, "Telemetry.DeserializationError", NULL);
    expect_error(T,
                 "{\"schemaVersion\":\"2022-07-01\",\"types\":[\"platform\"],\"buffering\":{"
                 "\"timeoutMs\":\"fast\"},\"destination\":{\"protocol\":\"TCP\",\"port\":4000}}",
                 400, "Telemetry.DeserializationError",
                 "invalid type for `timeoutMs`, expected an integer");
}

/* The one event of events, as compact JSON (freed by the caller). */
static char *only_event(json_t *events, size_t index)
{
    return json_dumps(json_array_get(events, index), JSON_COMPACT | JSON_SORT_KEYS);
}

static void test_platform_events_per_schema(void **state)
{
    (void)state;
    const char *t = "2026-01-01T00:00:00.000Z";
    json_t *init = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "initializationType", "on-demand",
                             "phase", "init", "runtimeVersion", "python3.12.galley",
                             "runtimeVersionArn", "arn", "functionName", "f", "functionVersion",
                             "$LATEST");
    json_t *ev = json_array();
    gl_tel_platform_events(GL_TEL_2022_07_01, "platform.initStart", init, t, ev);
    gl_tel_platform_events(GL_TEL_2022_12_13, "platform.initStart", init, t, ev);
    gl_tel_platform_events(GL_TEL_2021_03_18, "platform.initStart", init, t, ev); /* none */
    assert_int_equal(json_array_size(ev), 2);
    assert_null(json_object_get(json_object_get(json_array_get(ev, 0), "record"), "functionName"));
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_array_get(ev, 1), "record"), "functionName")),
                        "f");
    json_decref(ev);
    json_decref(init);

    json_t *done = json_pack("{s:s,s:s,s:{s:f}}", "requestId", "r1", "status", "success",
                             "metrics", "durationMs", 1.5);
    ev = json_array();
    gl_tel_platform_events(GL_TEL_2020_08_15, "platform.runtimeDone", done, t, ev);
    assert_int_equal(json_array_size(ev), 1); /* platform.end only */
    char *s = only_event(ev, 0);
    assert_string_equal(s, "{\"record\":{\"requestId\":\"r1\"},\"time\":\"2026-01-01T00:00:00.000Z\","
                           "\"type\":\"platform.end\"}");
    free(s);
    json_array_clear(ev);
    gl_tel_platform_events(GL_TEL_2021_03_18, "platform.runtimeDone", done, t, ev);
    assert_int_equal(json_array_size(ev), 2); /* 2021-03-18: runtimeDone, then end */
    s = only_event(ev, 0);
    assert_string_equal(s, "{\"record\":{\"requestId\":\"r1\",\"status\":\"success\"},\"time\":"
                           "\"2026-01-01T00:00:00.000Z\",\"type\":\"platform.runtimeDone\"}");
    free(s);
    json_decref(ev);
    json_decref(done);

    json_t *sub = json_pack("{s:s,s:s,s:[s]}", "name", "x", "state", "Subscribed", "types",
                            "platform");
    ev = json_array();
    gl_tel_platform_events(GL_TEL_2020_08_15, "platform.telemetrySubscription", sub, t, ev);
    gl_tel_platform_events(GL_TEL_2022_07_01, "platform.telemetrySubscription", sub, t, ev);
    assert_string_equal(json_string_value(json_object_get(json_array_get(ev, 0), "type")),
                        "platform.logsSubscription");
    assert_string_equal(json_string_value(json_object_get(json_array_get(ev, 1), "type")),
                        "platform.telemetrySubscription");
    json_decref(ev);
    json_decref(sub);
}

static void test_report_for_logs_api(void **state)
{
    (void)state;
    json_t *rep = json_pack("{s:s,s:s,s:{s:f,s:i,s:i,s:i,s:f}}", "requestId", "r", "status",
                            "success", "metrics", "durationMs", 2.0, "billedDurationMs", 2,
                            "memorySizeMB", 128, "maxMemoryUsedMB", 20, "initDurationMs", 3.0);
    json_t *ev = json_array();
    gl_tel_platform_events(GL_TEL_2020_08_15, "platform.report", rep, "t", ev);
    json_t *rec = json_object_get(json_array_get(ev, 0), "record");
    assert_null(json_object_get(rec, "status"));
    assert_int_equal(json_object_size(json_object_get(rec, "metrics")), 5);
    json_array_clear(ev);
    gl_tel_platform_events(GL_TEL_2025_01_29, "platform.report", rep, "t", ev);
    rec = json_object_get(json_array_get(ev, 0), "record");
    assert_string_equal(json_string_value(json_object_get(rec, "status")), "success");
    json_decref(ev);
    json_decref(rep);
}

static void test_line_events(void **state)
{
    (void)state;
    const char *line = "{\"level\":\"INFO\",\"message\":\"hi\"}";
    json_t *e = gl_tel_line_event(GL_TEL_2022_12_13, 1, "function", line, strlen(line), "t");
    assert_true(json_is_object(json_object_get(e, "record"))); /* LogFormat JSON */
    json_decref(e);
    e = gl_tel_line_event(GL_TEL_2022_12_13, 0, "function", line, strlen(line), "t");
    assert_string_equal(json_string_value(json_object_get(e, "record")), line);
    json_decref(e);
    e = gl_tel_line_event(GL_TEL_2020_08_15, 1, "extension", line, strlen(line), "t");
    assert_true(json_is_string(json_object_get(e, "record"))); /* the Logs API: text */
    assert_string_equal(json_string_value(json_object_get(e, "type")), "extension");
    json_decref(e);
    e = gl_tel_line_event(GL_TEL_2022_07_01, 0, "function", "a\xff" "b", 3, "t");
    assert_string_equal(json_string_value(json_object_get(e, "record")), "a?b");
    json_decref(e);
}

static void test_buffering(void **state)
{
    (void)state;
    gl_tel_buffering_t b = {.max_items = 1000, .max_bytes = 262144, .timeout_ms = 25};
    assert_false(gl_tel_batch_due(&b, 0, 0));
    assert_false(gl_tel_batch_due(&b, 999, 262143));
    assert_true(gl_tel_batch_due(&b, 1000, 10));
    assert_true(gl_tel_batch_due(&b, 1, 262144));
    assert_false(gl_tel_must_drop(&b, 0, 0, 300000)); /* an empty queue takes anything */
    assert_false(gl_tel_must_drop(&b, 999, 1000, 10));
    assert_true(gl_tel_must_drop(&b, 1000, 1000, 10));
    assert_true(gl_tel_must_drop(&b, 5, 262140, 10));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_subscriptions),
        cmocka_unit_test(test_refused_subscriptions),
        cmocka_unit_test(test_platform_events_per_schema),
        cmocka_unit_test(test_report_for_logs_api),
        cmocka_unit_test(test_line_events),
        cmocka_unit_test(test_buffering),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
