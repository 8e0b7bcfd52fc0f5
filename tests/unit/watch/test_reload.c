/* SPDX-License-Identifier: MIT */
/*
 * test_reload.c: gl_reload_t over a real registry and scheduler (no environment is started):
 * template functions sharing a directory all reload on one change, a function with its own
 * directory reloads alone, a created function's code in the state dir is not watched, and
 * closing leaves no handle.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "galley/util.h"
#include "galley/watch.h"
#include "watch_test_util.h"

static char tmp[64];

static void never(gl_http_req_t *req, void *data)
{
    (void)req;
    (void)data;
    fail_msg("no Runtime API request expected");
}

static const gl_http_handler_t no_rapi = {.on_request = never};

static void run_until_count(uv_loop_t *loop, gl_reload_t *r, unsigned long want)
{
    for (int i = 0; i < 100 && gl_reload_count(r) < want; i++)
        watch_test_run_for(loop, 20);
    watch_test_run_for(loop, 150); /* and nothing more arrives */
}

static void add_template_fn(gl_registry_t *reg, const char *name, const char *dir)
{
    gl_fn_config_t c = {0};
    gl_err_t err = {0};
    c.name = strdup(name);
    c.runtime = strdup("python3.12");
    c.handler = strdup("app.handler");
    c.code_dir = strdup(dir);
    c.code_sha256 = strdup("");
    c.revision_id = strdup("00000000-0000-0000-0000-000000000000");
    c.last_modified = strdup("2024-01-01T00:00:00.000+0000");
    gl_fn_config_defaults(&c);
    if (gl_registry_add_template(reg, &c, name, &err) < 0)
        fail_msg("add %s: %s", name, err.msg);
}

static void add_created_fn(gl_registry_t *reg, const char *name, char **code_dir)
{
    gl_fn_config_t c = {0};
    gl_err_t err = {0};
    c.name = strdup(name);
    c.runtime = strdup("python3.12");
    c.handler = strdup("app.handler");
    c.revision_id = strdup("11111111-1111-1111-1111-111111111111");
    c.code_dir = gl_registry_new_code_dir(reg, name, c.revision_id);
    c.code_sha256 = strdup("sha");
    assert_int_equal(gl_mkdir_p(c.code_dir, 0755), 0);
    *code_dir = strdup(c.code_dir);
    char *zip = gl_registry_code_zip_path(c.code_dir);
    assert_int_equal(gl_write_file_atomic(zip, "PK", 2), 0);
    free(zip);
    if (gl_registry_put(reg, &c, NULL, &err) < 0)
        fail_msg("put: %s", err.msg);
}

static void on_closed(void *arg)
{
    (*(int *)arg)++;
}

static void test_shared_and_separate_directories(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    char *shared = gl_path_join(tmp, "shared"), *own = gl_path_join(tmp, "own");
    char *state_dir = gl_path_join(tmp, "state"), *sub = gl_path_join(own, "lib");
    assert_int_equal(gl_mkdir_p(shared, 0755), 0);
    assert_int_equal(gl_mkdir_p(sub, 0755), 0);

    gl_registry_t *reg = NULL;
    gl_err_t err = {0};
    gl_registry_opts_t ro = {.state_dir = state_dir, .region = "us-east-1",
                             .account_id = "123456789012"};
    assert_int_equal(gl_registry_open(&reg, &ro, &err), 0);
    add_template_fn(reg, "First", shared);
    add_template_fn(reg, "Second", shared);
    add_template_fn(reg, "Own", own);
    char *created_code = NULL;
    add_created_fn(reg, "created", &created_code);

    gl_sched_t *sched = NULL;
    gl_sched_opts_t so = {.runtimes_dir = "/nonexistent", .python = "/usr/bin/python3",
                          .node = "/usr/bin/node", .state_dir = state_dir,
                          .region = "us-east-1", .account_id = "123456789012",
                          .idle_timeout_ms = 1000, .rapi = &no_rapi};
    assert_int_equal(gl_sched_new(&sched, &loop, &so, &err), 0);

    gl_reload_t *r = NULL;
    gl_watch_opts_t wo = {.debounce_ms = 50};
    assert_int_equal(gl_reload_start(&r, &loop, reg, sched, &wo, &err), 0);
    assert_int_equal(gl_reload_count(r), 0);

    watch_test_write_file(shared, "app.py", "x = 1\n");
    run_until_count(&loop, r, 2);
    assert_int_equal(gl_reload_count(r), 2); /* First and Second, once each */

    watch_test_write_file(sub, "helper.py", "x = 1\n");
    run_until_count(&loop, r, 3);
    assert_int_equal(gl_reload_count(r), 3); /* Own only */

    watch_test_write_file(created_code, "app.py", "x = 2\n");
    watch_test_run_for(&loop, 200);
    assert_int_equal(gl_reload_count(r), 3); /* not watched */

    int closed = 0;
    gl_reload_close(r, on_closed, &closed);
    gl_sched_close(sched, 0, NULL, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(closed, 1);
    assert_int_equal(uv_loop_close(&loop), 0);
    gl_registry_free(reg);
    free(created_code);
    free(shared);
    free(own);
    free(sub);
    free(state_dir);
}

static void test_nothing_to_watch(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    char *state_dir = gl_path_join(tmp, "state2");
    gl_registry_t *reg = NULL;
    gl_err_t err = {0};
    gl_registry_opts_t ro = {.state_dir = state_dir, .region = "us-east-1",
                             .account_id = "123456789012"};
    assert_int_equal(gl_registry_open(&reg, &ro, &err), 0);
    gl_reload_t *r = NULL;
    assert_int_equal(gl_reload_start(&r, &loop, reg, NULL, NULL, &err), 0);
    int closed = 0;
    gl_reload_close(r, on_closed, &closed);
    assert_int_equal(closed, 1); /* no handle: at once */
    gl_reload_close(NULL, on_closed, &closed);
    assert_int_equal(closed, 2);
    assert_int_equal(uv_loop_close(&loop), 0);
    gl_registry_free(reg);
    free(state_dir);
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmp, sizeof(tmp), "/tmp/gl-reload-XXXXXX");
    assert_non_null(mkdtemp(tmp));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    gl_rm_rf(tmp);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_shared_and_separate_directories, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nothing_to_watch, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
