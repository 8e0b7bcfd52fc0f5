/* SPDX-License-Identifier: MIT */
/*
 * specialize.c: gl_sbx_specialize, giving a running spare (an environment started with no
 * code) its function's files. The spare is already fully confined (its own user, no
 * capabilities, seccomp refusing mount), so it cannot mount anything itself: the daemon
 * clones the function's code (and layers) as detached read-only mount trees (open_tree,
 * mount_setattr), and a short-lived helper process joins the spare's mount namespace (setns
 * on its pidfd; a multi-threaded process may not change its mount namespace, hence a
 * process, cloned vfork-style) to mount the code over the empty /var/task and the layers
 * at /opt, and to resize /tmp and /dev/shm. The helper joins no other namespace, so it is never visible to the
 * function (not in its PID namespace), and it exits before the spare is told to go on.
 * Owns nothing past the call: the trees' fds and the helper are gone on return.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"

#ifndef OPEN_TREE_CLONE
#define OPEN_TREE_CLONE 1
#endif
#ifndef MOVE_MOUNT_F_EMPTY_PATH
#define MOVE_MOUNT_F_EMPTY_PATH 0x00000004
#endif

int gl_sbx_can_specialize(const gl_sbx_t *s)
{
    return s && s->mount_ns && !s->userns;
}

/* A detached, read-only, recursive copy of the host tree at path; -errno. */
static int clone_tree(const char *path)
{
    int fd = (int)syscall(SYS_open_tree, AT_FDCWD, path,
                          OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
    if (fd < 0)
        return -errno;
    struct mount_attr attr = {
        .attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
    };
    if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) <
        0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

typedef struct helper_report {
    int err;
    char step[48];
} helper_report_t;

/* What the helper reads: it shares the daemon's memory (CLONE_VM), so this is the caller's
 * stack frame, and it writes its report straight into r. */
typedef struct helper_args {
    int pidfd, code, opt;
    const char *tmp_opts; /* NULL: keep the spare's size */
    helper_report_t r;
} helper_args_t;

/* The helper, inside the spare's mount namespace: system calls only (it runs on a small stack
 * in the daemon's memory while the daemon waits, as vfork's child does). */
static int helper_run(void *arg)
{
    helper_args_t *a = arg;
    const char *step = "setns";
    if (setns(a->pidfd, CLONE_NEWNS) < 0)
        goto fail;
    /* On top of the spare's empty /var/task, which stays underneath: unmounting it would
     * cost an RCU grace period (milliseconds on a busy host) on the cold start's path. */
    step = "move code to /var/task";
    if (syscall(SYS_move_mount, a->code, "", AT_FDCWD, "/var/task", MOVE_MOUNT_F_EMPTY_PATH) < 0)
        goto fail;
    step = "move layers to /opt";
    if (a->opt >= 0 &&
        syscall(SYS_move_mount, a->opt, "", AT_FDCWD, "/opt", MOVE_MOUNT_F_EMPTY_PATH) < 0)
        goto fail;
    step = "resize /tmp";
    if (a->tmp_opts &&
        mount(NULL, "/tmp", NULL, MS_REMOUNT | MS_NOSUID | MS_NODEV, a->tmp_opts) < 0)
        goto fail;
    step = "resize /dev/shm";
    if (a->tmp_opts &&
        mount(NULL, "/dev/shm", NULL, MS_REMOUNT | MS_NOSUID | MS_NODEV, a->tmp_opts) < 0)
        goto fail;
    _exit(0);
fail:
    a->r.err = errno ? errno : EIO;
    for (size_t i = 0; i + 1 < sizeof(a->r.step) && step[i]; i++)
        a->r.step[i] = step[i];
    _exit(1);
}

/* Run the helper and wait for it. CLONE_VFORK: the daemon's thread sleeps until it exits, and
 * no page table is copied (a fork of the daemon cost milliseconds on a loaded host). Signals
 * stay blocked in the helper, so no handler of the daemon's runs on its stack. The helper is
 * born pinned to the daemon's current CPU, which the daemon leaves to it while it waits: left
 * free, the scheduler places a new task on the least loaded CPU, where it may wait for the
 * next tick (4 ms at HZ=250) before it preempts what runs there. The daemon's own affinity is
 * restored at once (if that fails, every CPU is allowed); if pinning fails the helper runs
 * wherever it is placed. */
static int run_helper(helper_args_t *a)
{
    static char stack[64 * 1024] __attribute__((aligned(16)));
    cpu_set_t saved, here;
    sigset_t all, old;
    int status = 0, cpu = sched_getcpu(), pinned = 0;
    if (cpu >= 0 && cpu < CPU_SETSIZE && sched_getaffinity(0, sizeof(saved), &saved) == 0) {
        CPU_ZERO(&here);
        CPU_SET(cpu, &here);
        pinned = sched_setaffinity(0, sizeof(here), &here) == 0;
    }
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = clone(helper_run, stack + sizeof(stack), CLONE_VM | CLONE_VFORK | SIGCHLD, a);
    int e = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (pinned && sched_setaffinity(0, sizeof(saved), &saved) < 0) {
        CPU_ZERO(&saved); /* the allowed CPUs changed meanwhile: never stay on one */
        for (int i = 0; i < CPU_SETSIZE; i++)
            CPU_SET(i, &saved);
        sched_setaffinity(0, sizeof(saved), &saved);
    }
    if (pid < 0)
        return -e;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (a->r.err)
        return -a->r.err;
    return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -EIO;
}

int gl_sbx_specialize(const gl_sbx_t *s, int pidfd, const gl_sbx_place_t *p, gl_err_t *err)
{
    char tmp_opts[64];
    helper_args_t a = {.pidfd = pidfd, .code = -1, .opt = -1};
    int rc = 0;

    if (!gl_sbx_can_specialize(s))
        return gl_err_set(err, ENOTSUP, "spares need a mount namespace without a user namespace");
    snprintf(tmp_opts, sizeof(tmp_opts), "mode=1777,size=%um", p->tmp_mb);
    a.tmp_opts = p->tmp_mb ? tmp_opts : NULL;
    if ((a.code = clone_tree(p->code_dir)) < 0) {
        rc = gl_err_set(err, -a.code, "open_tree %s", p->code_dir);
        goto out;
    }
    if (p->opt_dir && (a.opt = clone_tree(p->opt_dir)) < 0) {
        rc = gl_err_set(err, -a.opt, "open_tree %s", p->opt_dir);
        goto out;
    }
    if ((rc = run_helper(&a)) < 0)
        gl_err_set(err, -rc, "%s", a.r.step[0] ? a.r.step : "the specializing helper");
out:
    if (a.code >= 0)
        close(a.code);
    if (a.opt >= 0)
        close(a.opt);
    return rc;
}
