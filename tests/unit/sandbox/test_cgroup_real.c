/* SPDX-License-Identifier: MIT */
/*
 * test_cgroup_real.c: src/sandbox/cgroup*.c against the kernel's cgroups, as root. Each
 * scenario runs in every configuration this host offers:
 *   detected   what gl_cg_system_open picks (v1 on a hybrid host, v2 on a pure v2 host);
 *   v1+cg2     hybrid hosts: v1 memory, frozen and killed with the cgroup2 mount's core files;
 *   v2-core    hybrid hosts: the v2 code on the cgroup2 mount, which has no memory controller
 *              there, so without a limit (the out-of-memory scenario is skipped).
 * Scenarios: a 64 MB group out-of-memory kills a Python allocating 200 MB (SIGKILL, oom_kills,
 * peak near the limit); a frozen shell loop stops counting and counts again after thaw; kill
 * reaches a process that left the process group with setsid; destroy and close leave no
 * directory; folders of a dead daemon are emptied (even frozen) and removed at open.
 * Without root or writable cgroups every test skips and says why.
 *
 * The test process is a child subreaper so orphans come back to it to be reaped and checked.
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
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* cmocka.h needs the headers above. */
#include <cmocka.h>

#include "cgroup_internal.h"
#include "galley/buf.h"
#include "galley/util.h"
#include "sbx_test_util.h"

#define MB (1024ULL * 1024ULL)
#define PYTHON "/usr/bin/python3"

typedef enum config { DETECTED, V1_CG2_FREEZER, V2_CORE } config_t;
static const char *const config_names[] = {"detected", "v1+cg2", "v2-core"};

typedef struct ctx {
    config_t config;
    gl_cg_system_t *s;
    uv_loop_t loop;
    char tmp[PATH_MAX];
} ctx_t;

static int hybrid_plan(config_t config, cg_plan_t *plan)
{
    cg_probe_t probe;
    gl_buf_t text = {0};
    cg_self_t *self = calloc(1, sizeof(*self));
    int rc = gl_read_file("/proc/self/cgroup", 65536, &text);
    if (rc == 0)
        rc = gl_cg_parse_self(text.data ? text.data : "", self);
    if (rc == 0) {
        cg_probe("/sys/fs/cgroup", &probe);
        if (probe.unified != CG_MAGIC_CGROUP2 || !self->v2[0]) {
            rc = -ENOENT;
        } else if (config == V1_CG2_FREEZER) {
            probe.freezer = 0; /* as if there were no v1 freezer */
            gl_cg_plan(&probe, self, "/sys/fs/cgroup", plan);
            if (plan->mode != GL_CG_V1)
                rc = -ENOENT;
        } else {
            probe.memory = 0; /* as if there were no v1 memory: v2 on the cgroup2 mount */
            gl_cg_plan(&probe, self, "/sys/fs/cgroup", plan);
            plan->need_memory = false;
            if (plan->mode != GL_CG_V2)
                rc = -ENOENT;
        }
    }
    gl_buf_free(&text);
    free(self);
    return rc;
}

static int setup(void **state)
{
    ctx_t *c = *state;
    const char *why = NULL;
    gl_err_t err = {0};
    cg_plan_t plan;
    char tmpl[] = "/tmp/galley-cgreal-XXXXXX";

    if (geteuid() != 0) {
        print_message("# SKIP %s: needs root to make cgroups\n", config_names[c->config]);
        return 0;
    }
    assert_int_equal(uv_loop_init(&c->loop), 0);
    assert_non_null(mkdtemp(tmpl));
    snprintf(c->tmp, sizeof(c->tmp), "%s", tmpl);
    if (c->config == DETECTED) {
        gl_cg_opts_t opts = {.force_mode = -1};
        assert_int_equal(gl_cg_system_open(&c->s, &c->loop, &opts, &why, &err), 0);
    } else if (hybrid_plan(c->config, &plan) < 0) {
        print_message("# SKIP %s: not a hybrid host\n", config_names[c->config]);
        return 0;
    } else {
        assert_int_equal(gl_cg_system_open_plan(&c->s, &c->loop, &plan, &why, &err), 0);
    }
    if (gl_cg_system_mode(c->s) == GL_CG_NONE) {
        print_message("# SKIP %s: cgroups unusable here: %s\n", config_names[c->config],
                      why ? why : "?");
        gl_cg_system_close(c->s);
        c->s = NULL;
    }
    return 0;
}

static int teardown(void **state)
{
    ctx_t *c = *state;
    if (c->s)
        gl_cg_system_close(c->s);
    c->s = NULL;
    if (c->tmp[0]) {
        uv_run(&c->loop, UV_RUN_DEFAULT);
        assert_int_equal(uv_loop_close(&c->loop), 0);
        gl_rm_rf(c->tmp);
        c->tmp[0] = '\0';
    }
    /* Reap orphans of killed groups (we are their subreaper); nothing may be left running. */
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

#define NEED_SYSTEM(c)                                                                             \
    do {                                                                                           \
        if (!(c)->s)                                                                               \
            skip();                                                                                \
    } while (0)

/* waitpid with a bound; ECHILD (an orphan not yet reparented to us) counts as not yet. */
static int wait_status(pid_t pid, int timeout_ms)
{
    int status;
    for (int waited = 0; waited < timeout_ms; waited += 5) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return status;
        cg_sleep_ms(5);
    }
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    fail_msg("pid %d did not end within %d ms", (int)pid, timeout_ms);
    return -1;
}

static long read_number(const char *dir, const char *file)
{
    char text[64];
    if (cg_read(dir, file, text, sizeof(text)) <= 0)
        return -1;
    return strtol(text, NULL, 10);
}

static bool dir_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static void oom_kills_a_big_allocation(void **state)
{
    ctx_t *c = *state;
    NEED_SYSTEM(c);
    if (c->config == V2_CORE)
        skip(); /* no memory controller on this host's cgroup2 mount */
    gl_cg_t *cg = NULL;
    gl_err_t err = {0};
    assert_int_equal(gl_cg_create(c->s, "oom", 64 * MB, &cg, &err), 0);
    char *const argv[] = {PYTHON, "-c", "import time\ns = b'x' * (200 << 20)\ntime.sleep(30)\n",
                          NULL};
    pid_t pid = sbx_test_spawn_attached(cg, argv);
    int status = wait_status(pid, 20000);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);
    assert_true(gl_cg_oom_kills(cg) >= 1);
    uint64_t peak = gl_cg_peak(cg);
    print_message("# %s: peak %llu bytes, %u oom kills\n", config_names[c->config],
                  (unsigned long long)peak, gl_cg_oom_kills(cg));
    assert_true(peak >= 48 * MB);
    assert_true(peak <= 64 * MB + 4 * MB);
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", cg->memory_dir);
    gl_cg_destroy(cg);
    assert_false(dir_exists(dir));
}

static void freeze_stops_counting(void **state)
{
    ctx_t *c = *state;
    NEED_SYSTEM(c);
    gl_cg_t *cg = NULL;
    gl_err_t err = {0};
    char script[PATH_MAX + 256];
    assert_int_equal(gl_cg_create(c->s, "freeze", 0, &cg, &err), 0);
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
    assert_true(frozen >= before);
    assert_int_equal(gl_cg_thaw(cg), 0);
    long after = frozen;
    for (int i = 0; i < 300 && after <= frozen + 2; i++, cg_sleep_ms(10))
        after = read_number(c->tmp, "n");
    assert_true(after > frozen + 2);

    /* Kill works on a frozen group too. */
    assert_int_equal(gl_cg_freeze(cg), 0);
    assert_int_equal(gl_cg_kill(cg), 0);
    int status = wait_status(pid, 5000);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);
    gl_cg_destroy(cg);
}

static void kill_reaches_escaped_process(void **state)
{
    ctx_t *c = *state;
    NEED_SYSTEM(c);
    gl_cg_t *cg = NULL;
    gl_err_t err = {0};
    char script[3 * PATH_MAX + 128], mem[PATH_MAX], frz[PATH_MAX];
    assert_int_equal(gl_cg_create(c->s, "escape", 0, &cg, &err), 0);
    snprintf(mem, sizeof(mem), "%s", cg->memory_dir);
    snprintf(frz, sizeof(frz), "%s", cg->freezer_dir);
    snprintf(script, sizeof(script),
             "setsid /bin/sleep 1000 & echo $! > %s/p.tmp && mv %s/p.tmp %s/p; exec /bin/sleep "
             "1000",
             c->tmp, c->tmp, c->tmp);
    char *const argv[] = {"/bin/sh", "-c", script, NULL};
    pid_t pid = sbx_test_spawn_attached(cg, argv);
    long escaped = -1;
    for (int i = 0; i < 500 && escaped <= 0; i++, cg_sleep_ms(10))
        escaped = read_number(c->tmp, "p");
    assert_true(escaped > 0);
    /* Wait until it really left the session (setsid ran). */
    for (int i = 0; i < 500 && getsid((pid_t)escaped) == getsid(pid); i++)
        cg_sleep_ms(10);
    assert_int_not_equal(getsid((pid_t)escaped), getsid(pid));
    assert_int_equal(gl_cg_kill(cg), 0);
    int status = wait_status(pid, 5000);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    status = wait_status((pid_t)escaped, 5000);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    gl_cg_destroy(cg);
    assert_false(dir_exists(mem));
    if (gl_cg_system_mode(c->s) == GL_CG_V1)
        assert_false(dir_exists(frz));
}

static void clone_fd_and_close_remove_everything(void **state)
{
    ctx_t *c = *state;
    NEED_SYSTEM(c);
    gl_cg_t *a = NULL, *b = NULL;
    gl_err_t err = {0};
    char base_mem[PATH_MAX], base_frz[PATH_MAX], amem[PATH_MAX];
    assert_int_equal(gl_cg_create(c->s, "a", 32 * MB * (c->config != V2_CORE), &a, &err), 0);
    assert_int_equal(gl_cg_create(c->s, "b", 0, &b, &err), 0);
    if (gl_cg_system_mode(c->s) == GL_CG_V2) {
        struct stat st;
        assert_true(gl_cg_clone_fd(a) >= 0);
        assert_int_equal(fstat(gl_cg_clone_fd(a), &st), 0);
        assert_true(S_ISDIR(st.st_mode));
    } else {
        assert_int_equal(gl_cg_clone_fd(a), -1);
        assert_true(read_number(a->memory_dir, CG1_MEMORY_LIMIT) == (long)(32 * MB));
    }
    snprintf(base_mem, sizeof(base_mem), "%s", c->s->base_memory);
    snprintf(base_frz, sizeof(base_frz), "%s", c->s->base_freezer);
    snprintf(amem, sizeof(amem), "%s", a->memory_dir);
    char *const argv[] = {"/bin/sleep", "1000", NULL};
    pid_t pid = sbx_test_spawn_attached(b, argv);
    gl_cg_destroy(a);
    assert_false(dir_exists(amem));
    assert_true(dir_exists(base_mem));
    /* b is still there with a process in it: close kills it and removes everything. */
    gl_cg_system_close(c->s);
    c->s = NULL;
    int status = wait_status(pid, 5000);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    assert_false(dir_exists(base_mem));
    assert_false(dir_exists(base_frz));
}

static void open_removes_folders_of_dead_daemons(void **state)
{
    ctx_t *c = *state;
    NEED_SYSTEM(c);
    if (c->config != DETECTED)
        skip();
    gl_cg_mode_t mode = gl_cg_system_mode(c->s);
    char own_mem[PATH_MAX], own_frz[PATH_MAX], stale_mem[PATH_MAX + 32], stale_frz[PATH_MAX + 32],
        leaf_mem[PATH_MAX + 64], leaf_frz[PATH_MAX + 64], text[24];
    bool freezer_v2 = c->s->freezer_v2;
    snprintf(own_mem, sizeof(own_mem), "%s", c->s->own_memory);
    snprintf(own_frz, sizeof(own_frz), "%s", c->s->own_freezer);
    gl_cg_system_close(c->s);
    c->s = NULL;
    uv_run(&c->loop, UV_RUN_DEFAULT);

    pid_t dead = fork();
    if (dead == 0)
        _exit(0);
    assert_int_equal(waitpid(dead, NULL, 0), dead);
    snprintf(stale_mem, sizeof(stale_mem), "%s/galley-%d", own_mem, (int)dead);
    snprintf(stale_frz, sizeof(stale_frz), "%s/galley-%d", own_frz, (int)dead);
    snprintf(leaf_mem, sizeof(leaf_mem), "%s/env", stale_mem);
    snprintf(leaf_frz, sizeof(leaf_frz), "%s/env", stale_frz);
    assert_int_equal(gl_mkdir_p(leaf_mem, 0755), 0);
    if (mode == GL_CG_V1)
        assert_int_equal(gl_mkdir_p(leaf_frz, 0755), 0);

    pid_t left = fork();
    if (left == 0) {
        for (int i = 0; i < 600; i++)
            sleep(1);
        _exit(0);
    }
    snprintf(text, sizeof(text), "%d", (int)left);
    assert_int_equal(cg_write(leaf_mem, CG2_PROCS, text), 0);
    if (mode == GL_CG_V1) {
        assert_int_equal(cg_write(leaf_frz, CG1_PROCS, text), 0);
        /* Left frozen by the dead daemon. */
        if (freezer_v2)
            assert_int_equal(gl_cg2_freeze_dir(leaf_frz), 0);
        else
            assert_int_equal(cg_write(leaf_frz, CG1_FREEZER_STATE, "FROZEN"), 0);
    } else {
        assert_int_equal(gl_cg2_freeze_dir(leaf_mem), 0);
    }

    const char *why = NULL;
    gl_err_t err = {0};
    gl_cg_opts_t opts = {.force_mode = -1};
    assert_int_equal(gl_cg_system_open(&c->s, &c->loop, &opts, &why, &err), 0);
    assert_int_equal(gl_cg_system_mode(c->s), mode);
    int status = wait_status(left, 5000);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    assert_false(dir_exists(stale_mem));
    assert_false(dir_exists(stale_frz));
}

#define FOR_CONFIG(name, cfg)                                                                      \
    {                                                                                              \
#name "/" #cfg, name, setup, teardown, &ctx_##cfg                                          \
    }

int main(void)
{
    static ctx_t ctx_detected = {.config = DETECTED}, ctx_v1cg2 = {.config = V1_CG2_FREEZER},
                 ctx_v2core = {.config = V2_CORE};
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    const struct CMUnitTest tests[] = {
        FOR_CONFIG(oom_kills_a_big_allocation, detected),
        FOR_CONFIG(oom_kills_a_big_allocation, v1cg2),
        FOR_CONFIG(freeze_stops_counting, detected),
        FOR_CONFIG(freeze_stops_counting, v1cg2),
        FOR_CONFIG(freeze_stops_counting, v2core),
        FOR_CONFIG(kill_reaches_escaped_process, detected),
        FOR_CONFIG(kill_reaches_escaped_process, v1cg2),
        FOR_CONFIG(kill_reaches_escaped_process, v2core),
        FOR_CONFIG(clone_fd_and_close_remove_everything, detected),
        FOR_CONFIG(clone_fd_and_close_remove_everything, v1cg2),
        FOR_CONFIG(clone_fd_and_close_remove_everything, v2core),
        FOR_CONFIG(open_removes_folders_of_dead_daemons, detected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
