/* SPDX-License-Identifier: MIT */
/*
 * cgroup_v1.c: groups on cgroup v1, one directory in the memory hierarchy (limit, no swap,
 * peak, oom kills) and one in the freezer hierarchy (freezer.state), both named
 * galley-<pid>/<id> beneath the daemon's own group in that hierarchy. On hybrid hosts with no
 * v1 freezer the second directory is in the cgroup2 mount and frozen with its core files
 * (s->freezer_v2, gl_cg2_*_dir).
 *
 * v1 has no cgroup.kill: kill freezes the group so nothing forks, SIGKILLs every pid listed
 * in either directory, and thaws so the signals are delivered.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup_internal.h"
#include "galley/log.h"

static int setup(gl_cg_system_t *s, const cg_plan_t *plan, gl_err_t *err)
{
    int rc;

    /* Freezer first: removing it thaws what a dead daemon left frozen, so that the SIGKILLs
     * are delivered and the memory groups can empty. */
    cg_clean_stale(s->own_freezer, s->pid);
    cg_clean_stale(s->own_memory, s->pid);
    if ((rc = cg_make_fresh_dir(s->base_memory, err)) < 0)
        return rc;
    if ((rc = cg_make_fresh_dir(s->base_freezer, err)) < 0)
        return rc;
    return 0;
}

static void teardown(gl_cg_system_t *s)
{
    int rc;
    if (s->base_memory[0] && (rc = cg_remove_tree(s->base_memory)) < 0)
        gl_log_warn("cgroups: remove %s: %s", s->base_memory, strerror(-rc));
    if (s->base_freezer[0] && (rc = cg_remove_tree(s->base_freezer)) < 0)
        gl_log_warn("cgroups: remove %s: %s", s->base_freezer, strerror(-rc));
}

static int create(gl_cg_t *cg, gl_err_t *err)
{
    cg_write_t writes[CG_MAX_WRITES];
    int rc;

    if ((rc = cg_make_fresh_dir(cg->memory_dir, err)) < 0)
        return rc;
    if ((rc = cg_make_fresh_dir(cg->freezer_dir, err)) < 0)
        goto fail;
    if (cg->limit > 0) {
        size_t n = gl_cg_v1_limit_writes(cg->limit, writes);
        for (size_t i = 0; i < n; i++) {
            rc = cg_write(cg->memory_dir, writes[i].file, writes[i].value);
            if (rc == -ENOENT && writes[i].optional)
                continue;
            if (rc < 0) {
                gl_err_set(err, -rc, "write %s to %s/%s", writes[i].value, cg->memory_dir,
                           writes[i].file);
                goto fail;
            }
        }
    }
    return 0;
fail:
    rmdir(cg->freezer_dir);
    rmdir(cg->memory_dir);
    return rc;
}

static int attach(gl_cg_t *cg, pid_t pid)
{
    char text[24];
    int rc;

    snprintf(text, sizeof(text), "%d", (int)pid);
    cg->pgid = pid;
    if ((rc = cg_write(cg->memory_dir, CG1_PROCS, text)) < 0)
        return rc;
    return cg_write(cg->freezer_dir, CG1_PROCS, text);
}

static int freeze(gl_cg_t *cg)
{
    if (cg->sys->freezer_v2)
        return gl_cg2_freeze_dir(cg->freezer_dir);
    /* FREEZING until every task stopped; writing FROZEN again retries the stragglers. */
    for (int waited = 0;; waited += 2) {
        char state[32];
        int rc = cg_write(cg->freezer_dir, CG1_FREEZER_STATE, "FROZEN");
        if (rc < 0)
            return rc;
        if ((rc = cg_read(cg->freezer_dir, CG1_FREEZER_STATE, state, sizeof(state))) < 0)
            return rc;
        if (strncmp(state, "FROZEN", 6) == 0)
            return 0;
        if (waited >= CG_FREEZE_WAIT_MS)
            return -ETIMEDOUT;
        cg_sleep_ms(2);
    }
}

static int thaw(gl_cg_t *cg)
{
    if (cg->sys->freezer_v2)
        return gl_cg2_thaw_dir(cg->freezer_dir);
    return cg_write(cg->freezer_dir, CG1_FREEZER_STATE, "THAWED");
}

static int kill_all(gl_cg_t *cg)
{
    int rc = 0;
    if (cg->sys->freezer_v2 && (rc = cg_write(cg->freezer_dir, CG2_KILL, "1")) == 0) {
        /* cgroup.kill covers the freezer side; the memory side may hold a process that was
         * attached to it alone. */
        cg_kill_listed(cg->memory_dir, CG1_TASKS);
        return 0;
    }
    freeze(cg);
    int a = cg_kill_listed(cg->freezer_dir, cg->sys->freezer_v2 ? CG2_PROCS : CG1_TASKS);
    int b = cg_kill_listed(cg->memory_dir, CG1_TASKS);
    thaw(cg);
    rc = a < 0 ? a : (b < 0 ? b : 0);
    return rc;
}

static void destroy(gl_cg_t *cg)
{
    kill_all(cg);
    cg_empty_and_remove(cg->memory_dir, CG1_PROCS);
    cg_empty_and_remove(cg->freezer_dir, CG1_PROCS);
}

static uint64_t peak(gl_cg_t *cg)
{
    return cg_sample_peak(cg, CG1_MEMORY_MAX_USAGE);
}

static unsigned oom_kills(gl_cg_t *cg)
{
    return cg_read_oom_kills(cg->memory_dir, CG1_MEMORY_OOM_CONTROL);
}

CG_OPS_DEFINE(gl_cg_v1_ops);
