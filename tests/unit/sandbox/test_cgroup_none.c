/* SPDX-License-Identifier: MIT */
/*
 * test_cgroup_none.c: the NONE mode of src/sandbox/cgroup_none.c with a real libuv loop and
 * real processes (needs no rights): the RSS watchdog kills a process group that grows past
 * its limit (counted as an out-of-memory kill, with the peak kept) and leaves one under its
 * limit alone; freeze (SIGSTOP) stops a counting shell and thaw lets it go on; kill reaches
 * the whole process group. Every test closes its handles and checks uv_loop_close.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* cmocka.h needs the headers above. */
#include <cmocka.h>

#include "cgroup_internal.h"
#include "galley/util.h"
#include "sbx_test_util.h"

#define MB (1024ULL * 1024ULL)
#define PYTHON "/usr/bin/python3"

typedef struct ctx {
    uv_loop_t loop;
    gl_cg_system_t *s;
    char tmp[64];
} ctx_t;

static int setup(void **state)
{
    ctx_t *c = calloc(1, sizeof(*c));
    const char *why = NULL;
    gl_err_t err = {0};
    gl_cg_opts_t opts = {.force_mode = GL_CG_NONE};
    snprintf(c->tmp, sizeof(c->tmp), "/tmp/galley-cgnone-XXXXXX");
    if (!mkdtemp(c->tmp) || uv_loop_init(&c->loop) < 0)
        return -1;
    if (gl_cg_system_open(&c->s, &c->loop, &opts, &why, &err) < 0)
        return -1;
    if (gl_cg_system_mode(c->s) != GL_CG_NONE || !why)
        return -1;
    *state = c;
    return 0;
}

static int teardown(void **state)
{
    ctx_t *c = *state;
    gl_cg_system_close(c->s);
    uv_run(&c->loop, UV_RUN_DEFAULT); /* closes the watchdog timer, which frees the system */
    assert_int_equal(uv_loop_close(&c->loop), 0);
    gl_rm_rf(c->tmp);
    free(c);
    /* Reap what killed groups left; nothing may still run. */
    for (int waited = 0;; waited += 5) {
        pid_t r = waitpid(-1, NULL, WNOHANG);
        if (r > 0)
            continue;
        if (r < 0)
            break;
        if (waited >= 2000)
            fail_msg("a child of the test is still running");
        cg_sleep_ms(5);
    }
    return 0;
}

typedef struct waiter {
    uv_timer_t poll;
    pid_t pid;
    int status;
    bool done;
    int ticks;
    int max_ticks;
    bool closed;
} waiter_t;

static void on_poll_closed(uv_handle_t *h)
{
    ((waiter_t *)h->data)->closed = true;
}

static void on_poll(uv_timer_t *t)
{
    waiter_t *w = t->data;
    if (waitpid(w->pid, &w->status, WNOHANG) == w->pid)
        w->done = true;
    if (w->done || ++w->ticks >= w->max_ticks)
        uv_close((uv_handle_t *)t, on_poll_closed);
}

/* Run the loop (so the watchdog works) until pid ends or timeout_ms pass; the status or -1. */
static int run_until_exit(ctx_t *c, pid_t pid, int timeout_ms)
{
    waiter_t w = {.pid = pid, .max_ticks = timeout_ms / 20};
    uv_timer_init(&c->loop, &w.poll);
    w.poll.data = &w;
    uv_timer_start(&w.poll, on_poll, 20, 20);
    /* on_poll closes the timer when done; w lives on this stack until the close ran. */
    while (!w.closed)
        uv_run(&c->loop, UV_RUN_ONCE);
    return w.done ? w.status : -1;
}

static void watchdog_kills_group_over_limit(void **state)
{
    ctx_t *c = *state;
    gl_cg_t *cg = NULL;
    gl_err_t err = {0};
    assert_int_equal(gl_cg_create(c->s, "big", 64 * MB, &cg, &err), 0);
    /* The memory is held by a child in the same group, so the sum over the group counts. */
    char *const argv[] = {"/bin/sh", "-c",
                          PYTHON " -c \"import time\ns = b'x' * (200 << 20)\ntime.sleep(30)\"; "
                                 "sleep 30",
                          NULL};
    pid_t pid = sbx_test_spawn_attached(cg, argv);
    int status = run_until_exit(c, pid, 20000);
    assert_int_not_equal(status, -1);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);
    assert_int_equal(gl_cg_oom_kills(cg), 1);
    print_message("# watchdog peak %llu bytes\n", (unsigned long long)gl_cg_peak(cg));
    assert_true(gl_cg_peak(cg) > 64 * MB);
    assert_true(gl_cg_peak(cg) < 400 * MB);
    gl_cg_destroy(cg);
}

static void watchdog_leaves_group_under_limit(void **state)
{
    ctx_t *c = *state;
    gl_cg_t *cg = NULL;
    gl_err_t err = {0};
    assert_int_equal(gl_cg_create(c->s, "small", 256 * MB, &cg, &err), 0);
    char *const argv[] = {PYTHON, "-c", "import time\ns = b'x' * (20 << 20)\ntime.sleep(0.8)\n",
                          NULL};
    pid_t pid = sbx_test_spawn_attached(cg, argv);
    int status = run_until_exit(c, pid, 20000);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(gl_cg_oom_kills(cg), 0);
    /* Sampled while it held its 20 MB. */
    assert_true(gl_cg_peak(cg) >= 20 * MB);
    assert_true(gl_cg_peak(cg) < 256 * MB);
    gl_cg_destroy(cg);
}

static long read_number(const char *dir, const char *file)
{
    char text[64];
    if (cg_read(dir, file, text, sizeof(text)) <= 0)
        return -1;
    return strtol(text, NULL, 10);
}

static void freeze_thaw_and_kill_the_group(void **state)
{
    ctx_t *c = *state;
    gl_cg_t *cg = NULL;
    gl_err_t err = {0};
    char script[256];
    assert_int_equal(gl_cg_create(c->s, "count", 0, &cg, &err), 0);
    snprintf(script, sizeof(script),
             "cd %s && i=0; while [ $i -lt 100000 ]; do i=$((i+1)); echo $i > n.tmp; "
             "mv n.tmp n; sleep 0.01; done",
             c->tmp);
    char *const argv[] = {"/bin/sh", "-c", script, NULL};
    pid_t pid = sbx_test_spawn_attached(cg, argv);
    long before = -1;
    for (int i = 0; i < 500 && before < 3; i++, cg_sleep_ms(10))
        before = read_number(c->tmp, "n");
    assert_true(before >= 3);
    assert_int_equal(gl_cg_freeze(cg), 0);
    long frozen = read_number(c->tmp, "n");
    cg_sleep_ms(300);
    assert_int_equal(read_number(c->tmp, "n"), frozen);
    assert_int_equal(gl_cg_thaw(cg), 0);
    long after = frozen;
    for (int i = 0; i < 300 && after <= frozen + 2; i++, cg_sleep_ms(10))
        after = read_number(c->tmp, "n");
    assert_true(after > frozen + 2);
    assert_int_equal(gl_cg_kill(cg), 0);
    int status = run_until_exit(c, pid, 5000);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    gl_cg_destroy(cg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(watchdog_kills_group_over_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(watchdog_leaves_group_under_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(freeze_thaw_and_kill_the_group, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
