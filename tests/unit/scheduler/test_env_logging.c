/* SPDX-License-Identifier: MIT */
/*
 * test_env_logging.c: src/scheduler/env_logging.c without an environment running: the log
 * group, AWS_LAMBDA_LOG_LEVEL, which runtime lines ApplicationLogLevel keeps, and the status
 * of a platform record, for a function's LoggingConfig.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"

/* An environment of a function "f" whose LoggingConfig is the JSON text lc (NULL: none). */
static gl_env_t *env_with(const char *lc)
{
    static gl_fn_t fn;
    static gl_env_t env;
    json_decref(fn.cfg.extra);
    memset(&fn, 0, sizeof(fn));
    memset(&env, 0, sizeof(env));
    fn.cfg.name = "f";
    fn.cfg.extra = lc ? json_pack("{s:o}", "LoggingConfig", json_loads(lc, 0, NULL)) : NULL;
    env.fn = &fn;
    return &env;
}

static int kept(gl_env_t *env, const char *line)
{
    return gl_env_app_line_kept(env, line, strlen(line));
}

static void test_group_and_level(void **state)
{
    (void)state;
    char group[600];
    gl_env_t *env = env_with(NULL);
    gl_env_log_group(env, group, sizeof(group));
    assert_string_equal(group, "/aws/lambda/f");
    assert_false(gl_env_log_json(env));
    assert_null(gl_env_app_log_level(env));

    env = env_with("{\"LogFormat\":\"JSON\",\"LogGroup\":\"/custom/g\"}");
    gl_env_log_group(env, group, sizeof(group));
    assert_string_equal(group, "/custom/g");
    assert_true(gl_env_log_json(env));
    assert_string_equal(gl_env_app_log_level(env), "INFO");

    /* A group that would leave the logs root is never used. */
    env = env_with("{\"LogGroup\":\"/a/../../etc\"}");
    gl_env_log_group(env, group, sizeof(group));
    assert_string_equal(group, "/aws/lambda/f");
    env_with(NULL);
}

static void test_app_line_filter(void **state)
{
    (void)state;
    gl_env_t *env = env_with("{\"LogFormat\":\"Text\"}");
    assert_true(kept(env, "{\"level\":\"DEBUG\",\"message\":\"x\"}")); /* Text: all kept */

    env = env_with("{\"LogFormat\":\"JSON\",\"ApplicationLogLevel\":\"WARN\"}");
    assert_false(kept(env, "{\"level\":\"DEBUG\",\"message\":\"x\"}"));
    assert_false(kept(env, "{\"level\":\"info\",\"message\":\"x\"}"));
    assert_false(kept(env, "{\"message\":\"no level: INFO\"}"));
    assert_false(kept(env, "{\"level\":\"LOUD\",\"message\":\"unknown: INFO\"}"));
    assert_true(kept(env, "{\"level\":\"WARNING\",\"message\":\"python's name\"}"));
    assert_true(kept(env, "{\"level\":\"ERROR\"}"));
    assert_true(kept(env, "{\"level\":\"CRITICAL\"}"));
    assert_true(kept(env, "plain text"));
    assert_true(kept(env, "{not json"));
    assert_true(kept(env, ""));

    env = env_with("{\"LogFormat\":\"JSON\",\"ApplicationLogLevel\":\"TRACE\"}");
    assert_true(kept(env, "{\"level\":\"TRACE\"}"));
    env_with(NULL);
}

static void test_status_record(void **state)
{
    (void)state;
    json_t *r = gl_env_status_record(json_object(), "");
    assert_string_equal(json_string_value(json_object_get(r, "status")), "success");
    assert_null(json_object_get(r, "errorType"));
    json_decref(r);
    r = gl_env_status_record(json_object(), "Status: error\tError Type: Runtime.ExitError\t");
    assert_string_equal(json_string_value(json_object_get(r, "status")), "error");
    assert_string_equal(json_string_value(json_object_get(r, "errorType")), "Runtime.ExitError");
    json_decref(r);
    r = gl_env_status_record(json_object(), "Status: timeout");
    assert_string_equal(json_string_value(json_object_get(r, "status")), "timeout");
    json_decref(r);
    assert_null(gl_env_status_record(NULL, "Status: timeout"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_group_and_level),
        cmocka_unit_test(test_app_line_filter),
        cmocka_unit_test(test_status_record),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
