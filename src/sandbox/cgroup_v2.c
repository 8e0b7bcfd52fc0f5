/* SPDX-License-Identifier: MIT */
/*
 * cgroup_v2.c: groups on the unified hierarchy: memory.max with no swap and memory.oom.group,
 * cgroup.freeze (waiting for cgroup.events to say frozen), cgroup.kill, memory.peak.
 *
 * The daemon's folder galley-<pid> sits in the daemon's own group and needs the memory
 * controller in the subtree_control of both. cgroup v2 lets a group hand controllers to its
 * children only while it has no processes of its own, and the daemon's group usually holds
 * the daemon (a systemd scope, a login session): on EBUSY the daemon moves itself into the
 * leaf galley-<pid>/daemon and tries again, as systemd-run users do by hand. At close it moves
 * back and removes the folder; when that is refused the empty folder is left for the next
 * start, which removes folders of daemons that are gone.
 * gl_cg2_*_dir() are the controller-less core, also used by V1 on hybrid hosts.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup_internal.h"
#include "galley/log.h"

static int wait_frozen(const char *dir, uint64_t want)
{
    for (int waited = 0;; waited += 2) {
        uint64_t frozen = 0;
        int rc = cg_read_key(dir, CG2_EVENTS, "frozen", &frozen);
        if (rc < 0)
            return rc;
        if (frozen == want)
            return 0;
        if (waited >= CG_FREEZE_WAIT_MS)
            return -ETIMEDOUT;
        cg_sleep_ms(2);
    }
}

int gl_cg2_freeze_dir(const char *dir)
{
    int rc = cg_write(dir, CG2_FREEZE, "1");
    return rc < 0 ? rc : wait_frozen(dir, 1);
}

int gl_cg2_thaw_dir(const char *dir)
{
    int rc = cg_write(dir, CG2_FREEZE, "0");
    return rc < 0 ? rc : wait_frozen(dir, 0);
}

int gl_cg2_kill_dir(const char *dir)
{
    int rc = cg_write(dir, CG2_KILL, "1");
    if (rc != -ENOENT)
        return rc;
    /* Before Linux 5.14: freeze so nothing forks while we read the list, kill, thaw so the
     * signals are delivered. A group that will not freeze is still killed. */
    gl_cg2_freeze_dir(dir);
    rc = cg_kill_listed(dir, CG2_PROCS);
    int thawed = gl_cg2_thaw_dir(dir);
    return rc < 0 ? rc : (thawed == -ETIMEDOUT ? 0 : thawed);
}

static int enable_memory(const char *dir, bool *enabled)
{
    int rc = cg_file_has_word(dir, CG2_SUBTREE_CONTROL, "memory");
    if (rc == 1)
        return 0;
    if ((rc = cg_write(dir, CG2_SUBTREE_CONTROL, "+memory")) == 0 && enabled)
        *enabled = true;
    return rc;
}

static int setup(gl_cg_system_t *s, const cg_plan_t *plan, gl_err_t *err)
{
    const char *own = s->own_memory, *base = s->base_memory;
    char leaf[PATH_MAX], pid[24];
    int rc;

    if (s->need_memory) {
        if ((rc = cg_file_has_word(own, CG2_CONTROLLERS, "memory")) < 0)
            return gl_err_set(err, -rc, "read %s/%s", own, CG2_CONTROLLERS);
        if (rc == 0)
            return gl_err_set(err, ENOTSUP,
                              "no memory controller in %s/%s (not delegated to this user)", own,
                              CG2_CONTROLLERS);
    }
    cg_clean_stale(own, s->pid);
    if ((rc = cg_remove_tree(base)) < 0) /* left by an earlier process with our pid */
        return gl_err_set(err, -rc, "remove %s", base);
    if (mkdir(base, 0755) < 0)
        return gl_err_set(err, errno, "mkdir %s", base);
    if (!s->need_memory)
        return 0;
    if ((rc = enable_memory(own, &s->enabled_own)) == -EBUSY) {
        /* The daemon's group has processes: move the daemon into a leaf of its folder. */
        if ((rc = cg_path(leaf, base, CG2_DAEMON_LEAF)) < 0)
            return gl_err_set(err, -rc, "%s/%s", base, CG2_DAEMON_LEAF);
        if (mkdir(leaf, 0755) < 0)
            return gl_err_set(err, errno, "mkdir %s", leaf);
        snprintf(pid, sizeof(pid), "%d", (int)s->pid);
        if ((rc = cg_write(leaf, CG2_PROCS, pid)) < 0)
            return gl_err_set(err, -rc, "move the daemon into %s/%s", leaf, CG2_PROCS);
        s->moved_daemon = true;
        if ((rc = enable_memory(own, &s->enabled_own)) == -EBUSY)
            return gl_err_set(err, EBUSY,
                              "write +memory to %s/%s: other processes share the daemon's "
                              "cgroup; start galley in a cgroup of its own (systemd-run "
                              "--user --scope -p Delegate=yes)",
                              own, CG2_SUBTREE_CONTROL);
    }
    if (rc < 0)
        return gl_err_set(err, -rc, "write +memory to %s/%s", own, CG2_SUBTREE_CONTROL);
    if ((rc = enable_memory(base, NULL)) < 0)
        return gl_err_set(err, -rc, "write +memory to %s/%s", base, CG2_SUBTREE_CONTROL);
    return 0;
}

static void teardown(gl_cg_system_t *s)
{
    char pid[24];

    if (!s->base_memory[0])
        return;
    if (s->moved_daemon) {
        /* Back into our own group, which accepts processes again once no child group of it
         * uses the memory controller (other galley daemons beside us may still: then stay). */
        cg_write(s->base_memory, CG2_SUBTREE_CONTROL, "-memory");
        if (s->enabled_own)
            cg_write(s->own_memory, CG2_SUBTREE_CONTROL, "-memory");
        snprintf(pid, sizeof(pid), "%d", (int)s->pid);
        if (cg_write(s->own_memory, CG2_PROCS, pid) < 0) {
            gl_log_info("cgroups: %s stays until the next start (the daemon cannot move back "
                        "to %s)",
                        s->base_memory, s->own_memory);
            return;
        }
        s->moved_daemon = false;
    }
    int rc = cg_remove_tree(s->base_memory);
    if (rc < 0)
        gl_log_warn("cgroups: remove %s: %s", s->base_memory, strerror(-rc));
    else if (s->enabled_own)
        cg_write(s->own_memory, CG2_SUBTREE_CONTROL, "-memory");
}

static int create(gl_cg_t *cg, gl_err_t *err)
{
    cg_write_t writes[CG_MAX_WRITES];
    const char *dir = cg->memory_dir;
    int rc;

    if ((rc = cg_make_fresh_dir(dir, err)) < 0)
        return rc;
    if (cg->limit > 0) {
        size_t n = gl_cg_v2_limit_writes(cg->limit, writes);
        for (size_t i = 0; i < n; i++) {
            rc = cg_write(dir, writes[i].file, writes[i].value);
            if (rc == -ENOENT && writes[i].optional)
                continue;
            if (rc < 0) {
                gl_err_set(err, -rc, "write %s to %s/%s", writes[i].value, dir, writes[i].file);
                goto fail;
            }
        }
    }
    if ((cg->dir_fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        rc = gl_err_set(err, errno, "open %s", dir);
        goto fail;
    }
    return 0;
fail:
    rmdir(dir);
    return rc;
}

static int attach(gl_cg_t *cg, pid_t pid)
{
    char text[24];
    snprintf(text, sizeof(text), "%d", (int)pid);
    cg->pgid = pid;
    return cg_write(cg->memory_dir, CG2_PROCS, text);
}

static int freeze(gl_cg_t *cg)
{
    return gl_cg2_freeze_dir(cg->memory_dir);
}

static int thaw(gl_cg_t *cg)
{
    return gl_cg2_thaw_dir(cg->memory_dir);
}

static int kill_all(gl_cg_t *cg)
{
    return gl_cg2_kill_dir(cg->memory_dir);
}

static void destroy(gl_cg_t *cg)
{
    kill_all(cg);
    cg_empty_and_remove(cg->memory_dir, CG2_PROCS);
}

static uint64_t peak(gl_cg_t *cg)
{
    uint64_t v = 0;
    if (cg_read_u64(cg->memory_dir, CG2_MEMORY_PEAK, &v) == 0)
        return v > cg->peak ? v : cg->peak;
    /* Before Linux 5.19: the highest of the samples taken on each call. */
    return cg_sample_peak(cg, CG2_MEMORY_CURRENT);
}

static unsigned oom_kills(gl_cg_t *cg)
{
    return cg_read_oom_kills(cg->memory_dir, CG2_MEMORY_EVENTS);
}

CG_OPS_DEFINE(gl_cg_v2_ops);
