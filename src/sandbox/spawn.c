/* SPDX-License-Identifier: MIT */
/*
 * spawn.c: fork + child setup + exec for execution environments (see sbx.h).
 *
 * Between fork and exec the child runs no libuv and no logger and allocates nothing: it only
 * makes system calls, and reports the first failing step as {errno, step} on the sync pipe
 * before _exit(127). The parent reads the pipe until EOF (exec closed it) or a report.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "galley/sbx.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

struct child_report {
    int err;
    char step[32];
};

static void report(int fd, int err, const char *step)
{
    struct child_report r = {.err = err};
    strncpy(r.step, step, sizeof(r.step) - 1);
    ssize_t ignored = write(fd, &r, sizeof(r));
    (void)ignored;
    _exit(127);
}

/* Runs in the child. Each step is ordered for a reason noted beside it. */
static void child_setup(const gl_sbx_spec_t *spec, int sync_fd, pid_t parent)
{
    /* Own session and process group: the whole environment can be signalled at once. */
    if (setsid() < 0)
        report(sync_fd, errno, "setsid");
    /* Die with the daemon, even on SIGKILL; then close the race where it died before. */
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
        report(sync_fd, errno, "pdeathsig");
    if (getppid() != parent)
        _exit(127);
    /* The daemon ignores SIGPIPE and libuv may block signals; exec keeps both, so reset. */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (int sig = 1; sig < NSIG; sig++)
        signal(sig, SIG_DFL);
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull < 0)
        report(sync_fd, errno, "open /dev/null");
    if (dup2(devnull, 0) < 0 || dup2(spec->stdout_fd, 1) < 0 || dup2(spec->stderr_fd, 2) < 0)
        report(sync_fd, errno, "dup2 stdio");
    if (spec->cwd && chdir(spec->cwd) < 0)
        report(sync_fd, errno, "chdir");
    /* Nothing of the daemon's (listeners, other environments' pipes) may leak into the
     * function: mark every descriptor above stdio close-on-exec. */
    if (syscall(SYS_close_range, 3U, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
        for (int fd = 3; fd < 4096; fd++)
            if (fd != sync_fd)
                fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
    execve(spec->path, spec->argv, spec->envp);
    report(sync_fd, errno, "execve");
}

int gl_sbx_spawn(const gl_sbx_t *sbx, const gl_sbx_spec_t *spec, pid_t *pid_out, int *pidfd_out,
                 gl_err_t *err)
{
    (void)sbx; /* namespaces, user switch and seccomp: not yet */
    int sync[2];
    if (pipe2(sync, O_CLOEXEC) < 0)
        return gl_err_set(err, errno, "pipe");
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(sync[0]);
        close(sync[1]);
        return gl_err_set(err, e, "fork");
    }
    if (pid == 0) {
        close(sync[0]);
        child_setup(spec, sync[1], parent);
        _exit(127);
    }
    close(sync[1]);
    struct child_report r;
    ssize_t n;
    do {
        n = read(sync[0], &r, sizeof(r));
    } while (n < 0 && errno == EINTR);
    close(sync[0]);
    if (n == (ssize_t)sizeof(r)) {
        waitpid(pid, NULL, 0);
        r.step[sizeof(r.step) - 1] = '\0';
        return gl_err_set(err, r.err, "%s %s: %s", r.step, spec->path, strerror(r.err));
    }
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pidfd < 0) {
        int e = errno;
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return gl_err_set(err, e, "pidfd_open");
    }
    fcntl(pidfd, F_SETFD, FD_CLOEXEC);
    *pid_out = pid;
    *pidfd_out = pidfd;
    return 0;
}

int gl_sbx_kill_group(pid_t pid, int sig)
{
    if (pid <= 0)
        return -EINVAL;
    if (kill(-pid, sig) < 0 && kill(pid, sig) < 0)
        return -errno;
    return 0;
}
