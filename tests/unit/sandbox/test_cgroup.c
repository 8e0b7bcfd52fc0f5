/* SPDX-License-Identifier: MIT */
/*
 * test_cgroup.c: the parts of src/sandbox/cgroup*.c that need no kernel cgroups: parsing
 * /proc/self/cgroup (v1, v2, hybrid, hostile lines), choosing the mode and the daemon's group
 * from (statfs magics, those lines), the files and values that set a 256 MB limit on v1 and
 * v2, parsing /proc/<pid>/stat, and, in a fake tree in a temporary directory, opening the
 * system: galley-<pid> made in each hierarchy, folders of dead daemons removed and those of
 * live ones kept, a failed write named in the error, fallbacks to NONE with their reason.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* cmocka.h needs the headers above. */
#include <cmocka.h>

#include "cgroup_internal.h"
#include "galley/util.h"

#define MB (1024ULL * 1024ULL)

static const char hybrid_self[] = "9:name=systemd:/\n"
                                  "8:pids:/\n"
                                  "6:freezer:/\n"
                                  "4:memory:/process_api/24c7\n"
                                  "2:cpu,cpuacct:/\n"
                                  "0::/\n";

/* ---- /proc/self/cgroup ---- */

static void parse_hybrid(void **state)
{
    cg_self_t *self = malloc(sizeof(*self));
    assert_int_equal(gl_cg_parse_self(hybrid_self, self), 0);
    assert_string_equal(self->memory, "/process_api/24c7");
    assert_string_equal(self->freezer, "/");
    assert_string_equal(self->v2, "/");
    free(self);
}

static void parse_pure_v2(void **state)
{
    cg_self_t *self = malloc(sizeof(*self));
    assert_int_equal(gl_cg_parse_self("0::/user.slice/user-1000.slice/session-3.scope\n", self), 0);
    assert_string_equal(self->v2, "/user.slice/user-1000.slice/session-3.scope");
    assert_string_equal(self->memory, "");
    assert_string_equal(self->freezer, "");
    /* No final newline, a ':' inside the path, controllers listed together. */
    assert_int_equal(gl_cg_parse_self("3:cpu,memory,freezer:/a:b", self), 0);
    assert_string_equal(self->memory, "/a:b");
    assert_string_equal(self->freezer, "");
    assert_string_equal(self->v2, "");
    /* "memory" must be a whole entry of the list. */
    assert_int_equal(gl_cg_parse_self("3:nomemory:/x\n", self), 0);
    assert_string_equal(self->memory, "");
    free(self);
}

static void parse_refuses_bad_lines(void **state)
{
    cg_self_t *self = malloc(sizeof(*self));
    assert_int_equal(gl_cg_parse_self("garbage\n", self), -EINVAL);
    assert_int_equal(gl_cg_parse_self("0:/\n", self), -EINVAL);
    assert_int_equal(gl_cg_parse_self(":memory:/x\n", self), -EINVAL);
    assert_int_equal(gl_cg_parse_self("0::relative\n", self), -EINVAL);
    assert_int_equal(gl_cg_parse_self("0::/a/../../etc\n", self), -EINVAL);
    assert_int_equal(gl_cg_parse_self("4:memory:/a/..\n", self), -EINVAL);
    assert_int_equal(gl_cg_parse_self("0::\n", self), -EINVAL);
    char *huge = malloc(PATH_MAX + 16);
    memcpy(huge, "0::/", 4);
    memset(huge + 4, 'a', PATH_MAX + 4);
    huge[PATH_MAX + 8] = '\0';
    assert_int_equal(gl_cg_parse_self(huge, self), -EINVAL);
    free(huge);
    assert_int_equal(gl_cg_parse_self("", self), 0);
    free(self);
}

/* ---- the plan ---- */

static void plan_of(const cg_probe_t *probe, const char *self_text, cg_plan_t *plan)
{
    cg_self_t *self = malloc(sizeof(*self));
    assert_int_equal(gl_cg_parse_self(self_text, self), 0);
    gl_cg_plan(probe, self, "/sys/fs/cgroup", plan);
    free(self);
}

static void plan_pure_v2(void **state)
{
    cg_plan_t *plan = malloc(sizeof(*plan));
    cg_probe_t probe = {.root = CG_MAGIC_CGROUP2};
    plan_of(&probe, "0::/user.slice/galley.service\n", plan);
    assert_int_equal(plan->mode, GL_CG_V2);
    assert_string_equal(plan->memory_dir, "/sys/fs/cgroup/user.slice/galley.service");
    assert_true(plan->need_memory);
    /* In the root group (a container with its own cgroup namespace). */
    plan_of(&probe, "0::/\n", plan);
    assert_int_equal(plan->mode, GL_CG_V2);
    assert_string_equal(plan->memory_dir, "/sys/fs/cgroup");
    /* cgroup2 mounted but the process has no v2 line. */
    plan_of(&probe, "4:memory:/x\n", plan);
    assert_int_equal(plan->mode, GL_CG_NONE);
    assert_non_null(strstr(plan->why, "0::"));
    free(plan);
}

static void plan_hybrid_v1_memory_cgroup2_freezer(void **state)
{
    cg_plan_t *plan = malloc(sizeof(*plan));
    cg_probe_t probe = {.root = CG_MAGIC_TMPFS,
                        .memory = CG_MAGIC_CGROUP1,
                        .freezer = CG_MAGIC_CGROUP1,
                        .unified = CG_MAGIC_CGROUP2};
    /* v1 memory, frozen with the cgroup2 mount's core files: a task frozen there still dies
     * of SIGKILL, one frozen by the v1 freezer does not. */
    plan_of(&probe, hybrid_self, plan);
    assert_int_equal(plan->mode, GL_CG_V1);
    assert_string_equal(plan->memory_dir, "/sys/fs/cgroup/memory/process_api/24c7");
    assert_true(plan->freezer_v2);
    assert_string_equal(plan->freezer_dir, "/sys/fs/cgroup/unified");

    /* No cgroup2 mount: the v1 freezer. */
    probe.unified = 0;
    plan_of(&probe, hybrid_self, plan);
    assert_int_equal(plan->mode, GL_CG_V1);
    assert_false(plan->freezer_v2);
    assert_string_equal(plan->freezer_dir, "/sys/fs/cgroup/freezer");

    /* Neither: nothing to freeze with. */
    probe.freezer = 0;
    plan_of(&probe, hybrid_self, plan);
    assert_int_equal(plan->mode, GL_CG_NONE);
    assert_non_null(strstr(plan->why, "freezer"));

    /* A freezer hierarchy the process is not listed in counts as absent. */
    probe.freezer = CG_MAGIC_CGROUP1;
    probe.unified = CG_MAGIC_CGROUP2;
    plan_of(&probe, "4:memory:/m\n0::/u\n", plan);
    assert_int_equal(plan->mode, GL_CG_V1);
    assert_true(plan->freezer_v2);
    assert_string_equal(plan->freezer_dir, "/sys/fs/cgroup/unified/u");
    free(plan);
}

static void plan_hybrid_without_v1_memory(void **state)
{
    cg_plan_t *plan = malloc(sizeof(*plan));
    cg_probe_t probe = {
        .root = CG_MAGIC_TMPFS, .freezer = CG_MAGIC_CGROUP1, .unified = CG_MAGIC_CGROUP2};
    plan_of(&probe, "6:freezer:/\n0::/svc\n", plan);
    assert_int_equal(plan->mode, GL_CG_V2);
    assert_string_equal(plan->memory_dir, "/sys/fs/cgroup/unified/svc");

    cg_probe_t nothing = {.root = CG_MAGIC_TMPFS};
    plan_of(&nothing, hybrid_self, plan);
    assert_int_equal(plan->mode, GL_CG_NONE);
    assert_non_null(plan->why);

    cg_probe_t missing = {0};
    plan_of(&missing, hybrid_self, plan);
    assert_int_equal(plan->mode, GL_CG_NONE);
    assert_non_null(strstr(plan->why, "mounted"));
    free(plan);
}

/* ---- limits and /proc parsing ---- */

/* The writes one call made for a 256 MB limit, in order, against the expected rows. */
static void assert_limit_writes(size_t (*writes)(uint64_t, cg_write_t[CG_MAX_WRITES]),
                                const cg_write_t *want, size_t n_want)
{
    cg_write_t w[CG_MAX_WRITES];
    assert_int_equal(writes(256 * MB, w), n_want);
    for (size_t i = 0; i < n_want; i++) {
        assert_string_equal(w[i].file, want[i].file);
        assert_string_equal(w[i].value, want[i].value);
        assert_int_equal(w[i].optional, want[i].optional);
    }
}

static void limit_files_v1(void **state)
{
    static const cg_write_t want[] = {
        {.file = "memory.limit_in_bytes", .value = "268435456", .optional = false},
        {.file = "memory.memsw.limit_in_bytes", .value = "268435456", .optional = true},
    };
    assert_limit_writes(gl_cg_v1_limit_writes, want, sizeof(want) / sizeof(want[0]));
}

static void limit_files_v2(void **state)
{
    static const cg_write_t want[] = {
        {.file = "memory.max", .value = "268435456", .optional = false},
        {.file = "memory.swap.max", .value = "0", .optional = true},
        {.file = "memory.oom.group", .value = "1", .optional = true},
    };
    assert_limit_writes(gl_cg_v2_limit_writes, want, sizeof(want) / sizeof(want[0]));
}

static void parse_stat_lines(void **state)
{
    char st;
    pid_t pg;
    assert_int_equal(gl_cg_parse_stat("42 (sh) S 1 42 42 0 -1", &st, &pg), 0);
    assert_int_equal(st, 'S');
    assert_int_equal(pg, 42);
    /* A hostile command name with spaces and parentheses. */
    assert_int_equal(gl_cg_parse_stat("7 (a) T 9 9 (x) R 3 1234 1 2", &st, &pg), 0);
    assert_int_equal(st, 'R');
    assert_int_equal(pg, 1234);
    assert_int_equal(gl_cg_parse_stat("7 (no close paren S 1 2", &st, &pg), -EINVAL);
    assert_int_equal(gl_cg_parse_stat("7 (x) S", &st, &pg), -EINVAL);
}

/* ---- a fake tree ---- */

typedef struct fake {
    char root[PATH_MAX];
    char self[PATH_MAX];
} fake_t;

static void put(const char *root, const char *rel, const char *text)
{
    char path[2 * PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void mkdirs(const char *root, const char *rel)
{
    char path[2 * PATH_MAX];
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    assert_int_equal(gl_mkdir_p(path, 0755), 0);
}

static bool exists(const char *root, const char *rel)
{
    char path[2 * PATH_MAX];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", root, rel);
    return stat(path, &st) == 0;
}

static int fake_setup(void **state)
{
    fake_t *f = calloc(1, sizeof(*f));
    char tmpl[] = "/tmp/galley-cgtest-XXXXXX";
    if (!f || !mkdtemp(tmpl))
        return -1;
    snprintf(f->root, sizeof(f->root), "%s", tmpl);
    snprintf(f->self, sizeof(f->self), "%s/self-cgroup", tmpl);
    *state = f;
    return 0;
}

static int fake_teardown(void **state)
{
    fake_t *f = *state;
    gl_rm_rf(f->root);
    free(f);
    return 0;
}

static pid_t dead_pid(void)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(0);
    assert_int_equal(waitpid(pid, NULL, 0), pid);
    return pid;
}

static pid_t live_pid(void)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        for (int i = 0; i < 600; i++)
            sleep(1);
        _exit(0);
    }
    return pid;
}

static void reap(pid_t pid)
{
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
}

static const cg_probe_t hybrid_probe = {.root = CG_MAGIC_TMPFS,
                                        .memory = CG_MAGIC_CGROUP1,
                                        .freezer = CG_MAGIC_CGROUP1,
                                        .unified = CG_MAGIC_CGROUP2};

static void fake_v1_open_cleans_dead_folders(void **state)
{
    fake_t *f = *state;
    char rel[256], mine[64], dead[64], live[64];
    pid_t dpid = dead_pid(), lpid = live_pid();

    snprintf(mine, sizeof(mine), "galley-%d", (int)getpid());
    snprintf(dead, sizeof(dead), "galley-%d", (int)dpid);
    snprintf(live, sizeof(live), "galley-%d", (int)lpid);
    put(f->root, "self-cgroup", hybrid_self);
    snprintf(rel, sizeof(rel), "memory/process_api/24c7/%s/env-a/inner", dead);
    mkdirs(f->root, rel);
    snprintf(rel, sizeof(rel), "freezer/%s/env-a", dead);
    mkdirs(f->root, rel);
    snprintf(rel, sizeof(rel), "memory/process_api/24c7/%s/env-b", live);
    mkdirs(f->root, rel);
    mkdirs(f->root, "memory/process_api/24c7/galley-notapid");
    mkdirs(f->root, "memory/process_api/24c7/other-service");

    gl_cg_opts_t opts = {.mount_root = f->root, .self_cgroup = f->self, .force_mode = -1};
    gl_cg_system_t *s = NULL;
    const char *why = "unset";
    gl_err_t err = {0};
    /* Without a cgroup2 mount, so the v1 freezer hierarchy is used and cleaned too. */
    cg_probe_t probe = hybrid_probe;
    probe.unified = 0;
    assert_int_equal(gl_cg_system_open_probed(&s, NULL, &opts, &probe, &why, &err), 0);
    assert_null(why);
    assert_int_equal(gl_cg_system_mode(s), GL_CG_V1);

    snprintf(rel, sizeof(rel), "memory/process_api/24c7/%s", mine);
    assert_true(exists(f->root, rel));
    snprintf(rel, sizeof(rel), "freezer/%s", mine);
    assert_true(exists(f->root, rel));
    snprintf(rel, sizeof(rel), "memory/process_api/24c7/%s", dead);
    assert_false(exists(f->root, rel));
    snprintf(rel, sizeof(rel), "freezer/%s", dead);
    assert_false(exists(f->root, rel));
    snprintf(rel, sizeof(rel), "memory/process_api/24c7/%s/env-b", live);
    assert_true(exists(f->root, rel));
    assert_true(exists(f->root, "memory/process_api/24c7/galley-notapid"));
    assert_true(exists(f->root, "memory/process_api/24c7/other-service"));

    /* A group without a limit writes nothing, so it can be made in the fake tree. */
    gl_cg_t *cg = NULL;
    assert_int_equal(gl_cg_create(s, "env-1", 0, &cg, &err), 0);
    assert_int_equal(gl_cg_clone_fd(cg), -1);
    snprintf(rel, sizeof(rel), "memory/process_api/24c7/%s/env-1", mine);
    assert_true(exists(f->root, rel));
    snprintf(rel, sizeof(rel), "freezer/%s/env-1", mine);
    assert_true(exists(f->root, rel));
    gl_cg_destroy(cg);
    assert_false(exists(f->root, rel));

    /* With a limit the write fails (the fake group has no memory.limit_in_bytes): the error
     * names the file and nothing is left behind. */
    cg = NULL;
    assert_int_equal(gl_cg_create(s, "env-2", 256 * MB, &cg, &err), -ENOENT);
    assert_null(cg);
    assert_non_null(strstr(err.msg, "env-2/memory.limit_in_bytes"));
    assert_non_null(strstr(err.msg, "268435456"));
    snprintf(rel, sizeof(rel), "memory/process_api/24c7/%s/env-2", mine);
    assert_false(exists(f->root, rel));

    /* Names that could leave the folder are refused. */
    assert_int_equal(gl_cg_create(s, "../x", 0, &cg, &err), -EINVAL);
    assert_int_equal(gl_cg_create(s, "..", 0, &cg, &err), -EINVAL);
    assert_int_equal(gl_cg_create(s, "", 0, &cg, &err), -EINVAL);
    assert_int_equal(gl_cg_create(s, "daemon", 0, &cg, &err), -EINVAL);

    gl_cg_system_close(s);
    snprintf(rel, sizeof(rel), "memory/process_api/24c7/%s", mine);
    assert_false(exists(f->root, rel));
    snprintf(rel, sizeof(rel), "freezer/%s", mine);
    assert_false(exists(f->root, rel));
    snprintf(rel, sizeof(rel), "memory/process_api/24c7/%s", live);
    assert_true(exists(f->root, rel));
    reap(lpid);
}

static void fake_v2_without_memory_controller_is_none(void **state)
{
    fake_t *f = *state;
    put(f->root, "self-cgroup", "0::/svc\n");
    mkdirs(f->root, "svc");
    put(f->root, "svc/cgroup.controllers", "cpu io pids\n");

    gl_cg_opts_t opts = {.mount_root = f->root, .self_cgroup = f->self, .force_mode = -1};
    cg_probe_t probe = {.root = CG_MAGIC_CGROUP2};
    gl_cg_system_t *s = NULL;
    const char *why = NULL;
    gl_err_t err = {0};
    assert_int_equal(gl_cg_system_open_probed(&s, NULL, &opts, &probe, &why, &err), 0);
    assert_int_equal(gl_cg_system_mode(s), GL_CG_NONE);
    assert_non_null(why);
    assert_non_null(strstr(why, "svc/cgroup.controllers"));
    assert_non_null(strstr(why, "memory"));
    gl_cg_system_close(s);
}

static void fake_v2_failed_delegation_is_none_and_clean(void **state)
{
    fake_t *f = *state;
    char rel[128];
    put(f->root, "self-cgroup", "0::/svc\n");
    mkdirs(f->root, "svc");
    put(f->root, "svc/cgroup.controllers", "cpu memory pids\n");
    put(f->root, "svc/cgroup.subtree_control", "");

    gl_cg_opts_t opts = {.mount_root = f->root, .self_cgroup = f->self, .force_mode = -1};
    cg_probe_t probe = {.root = CG_MAGIC_CGROUP2};
    gl_cg_system_t *s = NULL;
    const char *why = NULL;
    gl_err_t err = {0};
    assert_int_equal(gl_cg_system_open_probed(&s, NULL, &opts, &probe, &why, &err), 0);
    /* +memory went to the daemon's group; the new folder of a fake tree has no
     * cgroup.subtree_control, so setup fails there and says where, and the fallback takes
     * back what it enabled (a plain file keeps the last write). */
    char text[64];
    assert_true(cg_read(f->root, "svc/cgroup.subtree_control", text, sizeof(text)) > 0);
    assert_string_equal(text, "-memory");
    assert_int_equal(gl_cg_system_mode(s), GL_CG_NONE);
    assert_non_null(why);
    snprintf(rel, sizeof(rel), "galley-%d/cgroup.subtree_control", (int)getpid());
    assert_non_null(strstr(why, rel));
    snprintf(rel, sizeof(rel), "svc/galley-%d", (int)getpid());
    assert_false(exists(f->root, rel));
    gl_cg_system_close(s);
}

static void fake_missing_self_and_forced_none(void **state)
{
    fake_t *f = *state;
    gl_cg_opts_t opts = {.mount_root = f->root, .self_cgroup = f->self, .force_mode = -1};
    gl_cg_system_t *s = NULL;
    const char *why = NULL;
    gl_err_t err = {0};

    assert_int_equal(gl_cg_system_open_probed(&s, NULL, &opts, &hybrid_probe, &why, &err), 0);
    assert_int_equal(gl_cg_system_mode(s), GL_CG_NONE);
    assert_non_null(strstr(why, f->self));
    gl_cg_system_close(s);

    put(f->root, "self-cgroup", "total garbage");
    assert_int_equal(gl_cg_system_open_probed(&s, NULL, &opts, &hybrid_probe, &why, &err), 0);
    assert_int_equal(gl_cg_system_mode(s), GL_CG_NONE);
    assert_non_null(strstr(why, "parse"));
    gl_cg_system_close(s);

    put(f->root, "self-cgroup", hybrid_self);
    opts.force_mode = GL_CG_NONE;
    assert_int_equal(gl_cg_system_open_probed(&s, NULL, &opts, &hybrid_probe, &why, &err), 0);
    assert_int_equal(gl_cg_system_mode(s), GL_CG_NONE);
    assert_non_null(strstr(why, "off"));
    /* NONE without a loop: every call succeeds and does nothing. */
    gl_cg_t *cg = NULL;
    assert_int_equal(gl_cg_create(s, "env", 64 * MB, &cg, &err), 0);
    assert_int_equal(gl_cg_clone_fd(cg), -1);
    assert_int_equal(gl_cg_freeze(cg), 0);
    assert_int_equal(gl_cg_thaw(cg), 0);
    assert_int_equal(gl_cg_kill(cg), 0);
    assert_int_equal(gl_cg_peak(cg), 0);
    assert_int_equal(gl_cg_oom_kills(cg), 0);
    assert_int_equal(gl_cg_attach(cg, getpid()), -EINVAL); /* never watch the daemon */
    gl_cg_destroy(cg);
    gl_cg_system_close(s);
    assert_string_equal(gl_cg_mode_name(GL_CG_V1), "cgroup v1");
    assert_string_equal(gl_cg_mode_name(GL_CG_V2), "cgroup v2");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_hybrid),
        cmocka_unit_test(parse_pure_v2),
        cmocka_unit_test(parse_refuses_bad_lines),
        cmocka_unit_test(plan_pure_v2),
        cmocka_unit_test(plan_hybrid_v1_memory_cgroup2_freezer),
        cmocka_unit_test(plan_hybrid_without_v1_memory),
        cmocka_unit_test(limit_files_v1),
        cmocka_unit_test(limit_files_v2),
        cmocka_unit_test(parse_stat_lines),
        cmocka_unit_test_setup_teardown(fake_v1_open_cleans_dead_folders, fake_setup,
                                        fake_teardown),
        cmocka_unit_test_setup_teardown(fake_v2_without_memory_controller_is_none, fake_setup,
                                        fake_teardown),
        cmocka_unit_test_setup_teardown(fake_v2_failed_delegation_is_none_and_clean, fake_setup,
                                        fake_teardown),
        cmocka_unit_test_setup_teardown(fake_missing_self_and_forced_none, fake_setup,
                                        fake_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
