/* SPDX-License-Identifier: MIT */
/*
 * test_spare_msg.c: src/scheduler/spare_msg.c: which runtimes have spares, which functions may
 * take one (none that sets a variable an interpreter reads only at its start), the
 * specialization message's bytes, and how many spares to start (the target, and memory).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"

static void test_family(void **state)
{
    (void)state;
    assert_string_equal(gl_spare_family("python3.12"), "python");
    assert_string_equal(gl_spare_family("python3.9"), "python");
    assert_string_equal(gl_spare_family("nodejs20.x"), "nodejs");
    assert_null(gl_spare_family("provided.al2023"));
    assert_null(gl_spare_family("provided"));
    assert_null(gl_spare_family("java21"));
    assert_null(gl_spare_family(NULL));
}

static int env_ok(const char *json)
{
    json_t *v = json ? json_loads(json, 0, NULL) : NULL;
    int ok = gl_spare_env_ok(v);
    json_decref(v);
    return ok;
}

static void test_env_ok(void **state)
{
    (void)state;
    assert_true(env_ok(NULL));
    assert_true(env_ok("{}"));
    assert_true(env_ok("{\"TABLE\": \"t\", \"TZ\": \"Europe/Paris\", \"DEBUG\": \"1\"}"));
    /* re-applied by the bootstraps after specialization */
    assert_true(env_ok("{\"PYTHONPATH\": \"/var/task/lib\", \"NODE_PATH\": \"/x\"}"));
    /* read once at start by the interpreter or the dynamic loader */
    assert_false(env_ok("{\"A\": \"1\", \"LD_PRELOAD\": \"/var/task/x.so\"}"));
    assert_false(env_ok("{\"LD_LIBRARY_PATH\": \"/var/task/lib\"}"));
    assert_false(env_ok("{\"PYTHONHASHSEED\": \"0\"}"));
    assert_false(env_ok("{\"PYTHONWARNINGS\": \"error\"}"));
    assert_false(env_ok("{\"NODE_OPTIONS\": \"--enable-source-maps\"}"));
    assert_false(env_ok("{\"UV_THREADPOOL_SIZE\": \"8\"}"));
    assert_false(env_ok("{\"LANG\": \"C\"}"));
    assert_false(env_ok("{\"LC_ALL\": \"C\"}"));
    assert_false(env_ok("{\"HOME\": \"/var/task\"}"));
}

static void test_encode(void **state)
{
    (void)state;
    char *const envp[] = {"A=1", "_HANDLER=app.handler", "EMPTY=", NULL};
    char *msg = NULL;
    size_t len = 0;
    static const char want[] = "GLSPARE1\0A=1\0_HANDLER=app.handler\0EMPTY=";
    assert_int_equal(gl_spare_msg_encode(envp, &msg, &len), 0);
    assert_int_equal(len, sizeof(want)); /* the last variable's NUL included */
    assert_memory_equal(msg, want, sizeof(want));
    free(msg);

    char *const none[] = {NULL};
    assert_int_equal(gl_spare_msg_encode(none, &msg, &len), 0);
    assert_int_equal(len, 9);
    assert_memory_equal(msg, "GLSPARE1", 9);
    free(msg);
}

static void test_encode_too_big(void **state)
{
    (void)state;
    size_t n = GL_SPARE_MSG_MAX;
    char *big = malloc(n + 3);
    assert_non_null(big);
    memcpy(big, "B=", 2);
    memset(big + 2, 'x', n);
    big[n + 2] = '\0';
    char *const envp[] = {big, NULL};
    char *msg = NULL;
    size_t len = 0;
    assert_int_equal(gl_spare_msg_encode(envp, &msg, &len), -E2BIG);
    assert_null(msg);
    free(big);
}

static void test_to_start(void **state)
{
    (void)state;
    const uint64_t floor = 256ull << 20, plenty = 8ull << 30;
    assert_int_equal(gl_spares_to_start(1, 0, plenty, floor), 1);
    assert_int_equal(gl_spares_to_start(3, 1, plenty, floor), 2);
    assert_int_equal(gl_spares_to_start(1, 1, plenty, floor), 0);
    assert_int_equal(gl_spares_to_start(1, 2, plenty, floor), 0); /* never negative */
    assert_int_equal(gl_spares_to_start(0, 0, plenty, floor), 0); /* --no-spares */
    assert_int_equal(gl_spares_to_start(2, 0, floor - 1, floor), 0); /* bounded by memory */
    assert_int_equal(gl_spares_to_start(2, 0, floor, floor), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_family),         cmocka_unit_test(test_env_ok),
        cmocka_unit_test(test_encode),         cmocka_unit_test(test_encode_too_big),
        cmocka_unit_test(test_to_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
