/* SPDX-License-Identifier: MIT */
/*
 * test_env_ext.c: the pure parts of env_ext.c: the identifier check, the register body's
 * events (external and internal extensions, Lambda's error types), the INVOKE and SHUTDOWN
 * event bodies, and the life-cycle decisions on a hand-made environment: when every extension
 * is ready, who gets INVOKE and SHUTDOWN, when the shutdown is done.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"

static void test_valid_id(void **state)
{
    (void)state;
    assert_true(gl_env_ext_valid_id("0f8c1a3e-2b4d-4c6e-8f00-123456789abc"));
    assert_true(gl_env_ext_valid_id("0F8C1A3E-2B4D-4C6E-8F00-123456789ABC"));
    assert_false(gl_env_ext_valid_id(""));
    assert_false(gl_env_ext_valid_id("nope"));
    assert_false(gl_env_ext_valid_id("0f8c1a3e-2b4d-4c6e-8f00-123456789abcd"));
    assert_false(gl_env_ext_valid_id("0f8c1a3e+2b4d-4c6e-8f00-123456789abc"));
    assert_false(gl_env_ext_valid_id("0f8c1a3e-2b4d-4c6e-8f00-123456789abg"));
}

static int parse(const char *body, int external, unsigned *events, const char **type,
                 char *msg)
{
    return gl_env_ext_parse_events(body, strlen(body), external, events, type, msg, 200);
}

static void test_parse_events(void **state)
{
    unsigned ev;
    const char *type;
    char msg[200];
    (void)state;
    assert_int_equal(parse("{\"events\":[\"INVOKE\",\"SHUTDOWN\"]}", 1, &ev, &type, msg), 0);
    assert_int_equal(ev, GL_ENV_EXT_INVOKE | GL_ENV_EXT_SHUTDOWN);
    assert_int_equal(parse("{\"events\":[]}", 1, &ev, &type, msg), 0);
    assert_int_equal(ev, 0);
    assert_int_equal(parse("{}", 0, &ev, &type, msg), 0);
    assert_int_equal(ev, 0);
    assert_int_equal(parse("{\"events\":[\"INVOKE\"]}", 0, &ev, &type, msg), 0);
    assert_int_equal(ev, GL_ENV_EXT_INVOKE);
    /* An internal extension may not subscribe to SHUTDOWN. */
    assert_int_equal(parse("{\"events\":[\"INVOKE\",\"SHUTDOWN\"]}", 0, &ev, &type, msg), -1);
    assert_string_equal(type, "Extension.InvalidEventType");
    assert_string_equal(msg, "SHUTDOWN: ErrorInvalidEventType");
    assert_int_equal(parse("{\"events\":[\"BOOM\"]}", 1, &ev, &type, msg), -1);
    assert_string_equal(type, "Extension.InvalidEventType");
    assert_int_equal(parse("{\"events\":[7]}", 1, &ev, &type, msg), -1);
    assert_string_equal(type, "Extension.InvalidEventType");
    assert_int_equal(parse("not json", 1, &ev, &type, msg), -1);
    assert_string_equal(type, "InvalidRequestFormat");
    assert_int_equal(parse("[1]", 1, &ev, &type, msg), -1);
    assert_string_equal(type, "InvalidRequestFormat");
    assert_int_equal(parse("{\"events\":\"INVOKE\"}", 1, &ev, &type, msg), -1);
    assert_string_equal(type, "InvalidRequestFormat");
    assert_int_equal(parse("{\"configurationKeys\":[\"a\"]}", 1, &ev, &type, msg), -1);
    assert_string_equal(msg, "configurationKeys are deprecated; use environment variables instead");
    assert_int_equal(gl_env_ext_parse_events(NULL, 0, 1, &ev, &type, msg, sizeof(msg)), -1);
}

static void test_event_bodies(void **state)
{
    (void)state;
    char *s = gl_env_ext_invoke_event(1700000000123, "rid-1", "arn:x", "Root=1-abc");
    assert_string_equal(s, "{\"eventType\":\"INVOKE\",\"deadlineMs\":1700000000123,"
                           "\"requestId\":\"rid-1\",\"invokedFunctionArn\":\"arn:x\","
                           "\"tracing\":{\"type\":\"X-Amzn-Trace-Id\",\"value\":\"Root=1-abc\"}}");
    free(s);
    s = gl_env_ext_invoke_event(5, "r", NULL, NULL);
    assert_non_null(strstr(s, "\"invokedFunctionArn\":\"\""));
    assert_non_null(strstr(s, "\"value\":\"\""));
    free(s);
    s = gl_env_ext_shutdown_event("timeout", 42);
    assert_string_equal(s, "{\"eventType\":\"SHUTDOWN\",\"shutdownReason\":\"timeout\","
                           "\"deadlineMs\":42}");
    free(s);
}

static gl_env_ext_t *add(gl_env_t *env, const char *name, int external, unsigned events)
{
    gl_env_ext_t *x = calloc(1, sizeof(*x)), **tail = &env->ext.list;
    assert_non_null(x);
    snprintf(x->name, sizeof(x->name), "%s", name);
    snprintf(x->id, sizeof(x->id), "0f8c1a3e-2b4d-4c6e-8f00-12345678900%u", env->ext.count);
    x->external = external;
    x->events = events;
    x->env = env;
    while (*tail)
        tail = &(*tail)->next;
    *tail = x;
    env->ext.count++;
    return x;
}

static void test_lifecycle_decisions(void **state)
{
    (void)state;
    gl_env_t *env = calloc(1, sizeof(*env));
    assert_non_null(env);
    /* No extension: ready at once; two external ones expected: not before both register. */
    assert_true(gl_env_ext_ready(env));
    env->ext.expected = 2;
    assert_false(gl_env_ext_ready(env));
    gl_env_ext_t *a = add(env, "a", 1, GL_ENV_EXT_INVOKE | GL_ENV_EXT_SHUTDOWN);
    gl_env_ext_t *b = add(env, "b", 1, GL_ENV_EXT_SHUTDOWN);
    gl_env_ext_t *in = add(env, "in", 0, GL_ENV_EXT_INVOKE);
    assert_ptr_equal(gl_env_ext_find(env, b->id), b);
    assert_null(gl_env_ext_find(env, "0f8c1a3e-2b4d-4c6e-8f00-123456789999"));
    assert_null(gl_env_ext_find(env, NULL));
    assert_false(gl_env_ext_ready(env)); /* registered, none waiting yet */
    a->waiting = b->waiting = 1;
    assert_false(gl_env_ext_ready(env)); /* the internal one still works */
    in->waiting = 1;
    assert_true(gl_env_ext_ready(env));

    /* INVOKE goes to the subscribed ones (kept until their next call): not ready again until
     * they have called next. */
    gl_invoke_t inv = {.invoked_arn = "arn:fn"};
    snprintf(inv.request_id, sizeof(inv.request_id), "rid");
    gl_env_ext_invoke(env, &inv, 99);
    assert_non_null(a->pending);
    assert_null(b->pending);
    assert_non_null(in->pending);
    assert_non_null(strstr(a->pending, "\"requestId\":\"rid\""));
    assert_false(gl_env_ext_ready(env));
    a->waiting = in->waiting = 1;
    free(a->pending);
    free(in->pending);
    a->pending = in->pending = NULL;
    assert_true(gl_env_ext_ready(env));

    /* SHUTDOWN: external subscribers only (internal ones cannot subscribe); done when each
     * waits again or has exited. */
    assert_int_equal(gl_env_ext_shutdown(env, "spindown", 7), 2);
    assert_non_null(strstr(a->pending, "spindown"));
    assert_non_null(b->pending);
    assert_false(gl_env_ext_shutdown_done(env));
    a->waiting = 1;
    assert_false(gl_env_ext_shutdown_done(env));
    b->exited = 1;
    assert_true(gl_env_ext_shutdown_done(env));
    assert_int_equal(gl_env_ext_shutdown(env, "failure", 7), 1); /* an exited one is skipped */
    gl_env_ext_free(env);
    assert_null(env->ext.list);
    assert_int_equal(env->ext.count, 0);
    free(env);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_id),
        cmocka_unit_test(test_parse_events),
        cmocka_unit_test(test_event_bodies),
        cmocka_unit_test(test_lifecycle_decisions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
