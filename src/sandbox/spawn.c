/* SPDX-License-Identifier: MIT */
/*
 * spawn.c: clone + child setup + exec for execution environments (see sbx.h), and the
 * order of the child's steps.
 *
 * Parent and child talk over one SOCK_SEQPACKET socket pair, close-on-exec on both ends:
 * the parent sends one release byte when the child may go on (after the user namespace maps
 * and before_release); the child, in an isolated network namespace, sends its Runtime API
 * listener (one byte with SCM_RIGHTS), and sends at most one report {errno, step, what} and
 * _exits 127. The parent reads until EOF (exec closed the child's end) or a report, so
 * gl_sbx_spawn returns only once exec has succeeded or failed. Between clone and exec the
 * child runs no libuv and no logger and allocates nothing (sbx_child_t in internal.h).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif
#ifndef SYS_close_range
#define SYS_close_range 436
#endif

#define DEFAULT_TMP_MB 512

static void report(sbx_child_t *c, int err)
{
    sbx_report_t r;
    memset(&r, 0, sizeof(r));
    r.err = err > 0 ? err : EIO;
    strncpy(r.step, c->step ? c->step : "setup", sizeof(r.step) - 1);
    strncpy(r.what, c->what, sizeof(r.what) - 1);
    ssize_t ignored = send(c->sync_fd, &r, sizeof(r), MSG_NOSIGNAL);
    (void)ignored;
    _exit(127);
}

#define STEP(call)                                                                                 \
    do {                                                                                           \
        int step_rc_ = (call);                                                                     \
        if (step_rc_ < 0)                                                                          \
            report(c, -step_rc_);                                                                  \
    } while (0)

/* A step that is one system call on no particular object. */
static int simple(sbx_child_t *c, const char *step, int result)
{
    c->step = step;
    c->what[0] = '\0';
    return result < 0 ? -errno : 0;
}

/* The daemon is gone when its end of the sync socket is closed. Outside a PID namespace
 * getppid() says the same; inside one it is always 0, hence the socket. */
static int parent_gone(const sbx_child_t *c)
{
    struct pollfd p = {c->sync_fd, POLLRDHUP, 0};
    if (poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLRDHUP)))
        return 1;
    return !c->in_pidns && getppid() != c->parent;
}

static int die_with_parent(sbx_child_t *c)
{
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
        return simple(c, "pdeathsig", -1);
    /* Close the race where the daemon died before the prctl: nobody would signal us. */
    if (parent_gone(c))
        _exit(127);
    return 0;
}

/* Close fds lo..hi. Without close_range (Linux < 5.9) one close per number, up to the soft
 * RLIMIT_NOFILE: no descriptor can be numbered above it. */
static void close_span(unsigned lo, unsigned hi)
{
    if (lo > hi || syscall(SYS_close_range, lo, hi, 0U) == 0)
        return;
    struct rlimit rl;
    rlim_t end = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? rl.rlim_cur : 65536;
    if (end > (rlim_t)1 << 20)
        end = (rlim_t)1 << 20;
    for (rlim_t fd = lo; fd <= hi && fd < end; fd++)
        close((int)fd);
}

/* Close every descriptor the child inherited above stdio, except those it still needs: the
 * sync socket, the output pipes and a spare's control socket (the Runtime API listener is made
 * later). */
static int close_inherited(sbx_child_t *c)
{
    int keep[4] = {c->sync_fd, c->spec->stdout_fd, c->spec->stderr_fd,
                   c->spec->ctl_fd > 0 ? c->spec->ctl_fd : -1};
    unsigned from = 3;

    c->step = "close inherited descriptors";
    c->what[0] = '\0';
    for (int i = 1; i < 4; i++) /* sort the four */
        for (int j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
            int t = keep[j];
            keep[j] = keep[j - 1];
            keep[j - 1] = t;
        }
    for (int i = 0; i < 4; i++) {
        if (keep[i] < 0 || (unsigned)keep[i] < from)
            continue;
        close_span(from, (unsigned)keep[i] - 1);
        from = (unsigned)keep[i] + 1;
    }
    close_span(from, ~0U);
    return 0;
}

/* stdio: /dev/null in (inside the new root when there is one), the pipes out. */
static int child_stdio(sbx_child_t *c)
{
    c->step = "open /dev/null";
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull < 0)
        return -errno;
    if (dup2(devnull, 0) < 0 || dup2(c->spec->stdout_fd, 1) < 0 || dup2(c->spec->stderr_fd, 2) < 0)
        return simple(c, "dup2 stdio", -1);
    if (devnull > 2)
        close(devnull);
    return 0;
}

/* A spare's control socket becomes fd 3, the one descriptor above stdio that survives exec
 * (the bootstrap closes it once it has read its function). The sync socket moves out of the
 * way first if it sits on 3. */
static int keep_ctl_fd(sbx_child_t *c)
{
    int ctl = c->spec->ctl_fd;
    c->step = "control socket";
    c->what[0] = '\0';
    if (c->sync_fd == SBX_CTL_FD) {
        int moved = fcntl(c->sync_fd, F_DUPFD_CLOEXEC, SBX_CTL_FD + 1);
        if (moved < 0)
            return -errno;
        c->sync_fd = moved; /* 3 is replaced by the dup2 below */
    }
    if (ctl == SBX_CTL_FD)
        return fcntl(ctl, F_SETFD, 0) < 0 ? -errno : 0;
    return dup2(ctl, SBX_CTL_FD) < 0 ? -errno : 0; /* the copy is not close-on-exec */
}

/* Runs in the child. Each step sits where it does for the reason beside it. */
static void child_run(sbx_child_t *c)
{
    const gl_sbx_t *s = c->s;
    const gl_sbx_spec_t *spec = c->spec;

    /* The daemon ignores SIGPIPE and libuv may block signals; exec keeps both. First, so no
     * handler of the daemon's can run in this copy of it. */
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (int sig = 1; sig < NSIG; sig++)
        signal(sig, SIG_DFL);
    /* Own session and process group: the whole environment can be signalled at once. */
    STEP(simple(c, "setsid", setsid()));
    /* Die with the daemon, even on SIGKILL (before anything slow, so no orphan lingers). */
    STEP(die_with_parent(c));
    /* Wait for the release: the parent maps ids and puts us in a v1 cgroup meanwhile, so
     * every later step (and the function) is accounted and runs with the right ids. */
    char b;
    ssize_t n;
    do {
        n = read(c->sync_fd, &b, 1);
    } while (n < 0 && errno == EINTR);
    if (n != 1)
        _exit(127); /* the parent gave up on us (or died) */
    /* Drop the daemon's descriptors (listeners, other environments' pipes) before any step
     * opens one, and above all before the rlimits lower RLIMIT_NOFILE to 1024: a daemon
     * holding more than that would leave the child no free number below the limit (EMFILE). */
    STEP(close_inherited(c));
    if (s && (s->clone_ns & CLONE_NEWUTS))
        STEP(sbx_child_hostname(c));
    if (s && (s->clone_ns & CLONE_NEWNET))
        STEP(sbx_child_loopback_up(c));
    /* Once loopback is up (127.0.0.1 exists only then), and early: a failure costs nothing. */
    if (c->rapi_listener)
        STEP(sbx_child_rapi_listener(c));
    /* Mounts need the privileges that the user switch drops. */
    STEP(sbx_child_mounts(c));
    /* Limits before the switch: as root any hard limit can still be set (the daemon's raised
     * RLIMIT_NOFILE must not leak in); after it they could only go down. */
    STEP(sbx_child_rlimits(c));
    STEP(sbx_child_switch_user(c));
    /* A uid change clears the parent-death signal: set it again. */
    if (s && s->switch_user)
        STEP(die_with_parent(c));
    /* After the mounts, so /dev/null is the new root's. */
    STEP(child_stdio(c));
    /* After the user switch, so the function's user must be able to enter its cwd. */
    if (spec->cwd) {
        c->step = "chdir";
        sbx_join(c->what, sizeof(c->what), spec->cwd, "");
        if (chdir(spec->cwd) < 0)
            report(c, errno);
    }
    /* A spare keeps its control socket as fd 3 (after stdio, which may have used 3). */
    unsigned first_stray = 3;
    if (spec->ctl_fd > 0) {
        STEP(keep_ctl_fd(c));
        first_stray = SBX_CTL_FD + 1;
    }
    /* Nothing but stdio may reach the function (the pipes' original numbers, the sync
     * socket, anything a step opened): mark every descriptor above stdio close-on-exec. */
    if (syscall(SYS_close_range, first_stray, ~0U, CLOSE_RANGE_CLOEXEC) < 0) {
        for (int fd = (int)first_stray; fd < 65536; fd++)
            if (fd != c->sync_fd)
                fcntl(fd, F_SETFD, FD_CLOEXEC);
    }
    /* No setuid binary can give the function privileges back; also lets seccomp load. */
    if (s)
        STEP(simple(c, "no_new_privs", prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)));
    /* Last: the filter refuses calls (mount, ...) that the steps above make. */
    STEP(sbx_child_seccomp(c));
    c->step = "execve";
    sbx_join(c->what, sizeof(c->what), spec->path, "");
    execve(spec->path, spec->argv, spec->envp);
    report(c, errno);
}

/* Kill and reap a child that will not be handed to the caller. */
static void discard(pid_t pid, int pidfd)
{
    kill(pid, SIGKILL);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
    if (pidfd >= 0)
        close(pidfd);
}

/*
 * One message from the child: a report, the listener byte (with its descriptor in *fd,
 * close-on-exec), or 0 at EOF. Any descriptor that came with something else is closed.
 * Returns the message's length or a negative errno.
 */
static ssize_t recv_from_child(int sync_fd, sbx_report_t *r, int *fd)
{
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct iovec iov = {r, sizeof(*r)};
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                         .msg_controllen = sizeof(ctl.buf)};
    ssize_t n;
    *fd = -1;
    do {
        n = recvmsg(sync_fd, &msg, MSG_CMSG_CLOEXEC);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
            continue;
        size_t nfds = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < nfds; i++) {
            int got;
            memcpy(&got, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
            if (*fd < 0)
                *fd = got;
            else
                close(got);
        }
    }
    int is_listener = n == 1 && ((char *)r)[0] == SBX_MSG_LISTENER && !(msg.msg_flags & MSG_CTRUNC);
    if (*fd >= 0 && !is_listener) {
        close(*fd);
        *fd = -1;
    }
    if (is_listener && *fd < 0)
        return -EPROTO; /* the byte without its descriptor */
    return n;
}

/* Is fd a listening TCP socket bound to 127.0.0.1:GL_SBX_RAPI_PORT? Checked, not trusted: the
 * parent is about to serve the Runtime API on it. */
static int is_rapi_listener(int fd)
{
    int type = 0, listening = 0;
    socklen_t len = sizeof(type);
    struct sockaddr_in sa;
    socklen_t salen = sizeof(sa);
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_STREAM)
        return 0;
    len = sizeof(listening);
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0 || !listening)
        return 0;
    if (getsockname(fd, (struct sockaddr *)&sa, &salen) < 0 || sa.sin_family != AF_INET)
        return 0;
    return ntohs(sa.sin_port) == GL_SBX_RAPI_PORT && ntohl(sa.sin_addr.s_addr) == INADDR_LOOPBACK;
}

int gl_sbx_isolates_network(const gl_sbx_t *s)
{
    return s && s->isolate_network && (s->clone_ns & CLONE_NEWNET);
}

/* The context the child carries: everything formatted here, before clone. */
static void child_prepare(sbx_child_t *c, const gl_sbx_t *s, const gl_sbx_spec_t *spec)
{
    memset(c, 0, sizeof(*c));
    c->s = s;
    c->spec = spec;
    c->parent = getpid();
    c->in_pidns = s && (s->clone_ns & CLONE_NEWPID);
    c->rapi_listener = spec->rapi_fd && gl_sbx_isolates_network(s);
    unsigned tmp_mb = spec->tmp_mb ? spec->tmp_mb : DEFAULT_TMP_MB;
    snprintf(c->tmp_opts, sizeof(c->tmp_opts), "mode=1777,size=%um", tmp_mb);
    snprintf(c->shm_opts, sizeof(c->shm_opts), "mode=1777,size=%um", tmp_mb);
    c->sync_fd = -1;
}

/*
 * After the release: read the child's messages until EOF (exec succeeded) or a report (a
 * step failed). On success *listener holds the Runtime API listener when the child was to
 * pass one. Bounded: the child sends at most the listener, then a report or EOF.
 */
static int wait_for_exec(int sync_fd, const sbx_child_t *c, int *listener, gl_err_t *err)
{
    sbx_report_t r;
    ssize_t n;
    int fd;
    for (;;) {
        n = recv_from_child(sync_fd, &r, &fd);
        if (fd < 0)
            break;
        if (!c->rapi_listener || *listener >= 0 || !is_rapi_listener(fd)) {
            close(fd);
            return gl_err_set(err, EPROTO, "unexpected descriptor from the child");
        }
        *listener = fd;
    }
    if (n < 0)
        return gl_err_set(err, (int)-n, "reading the child's report");
    if (n == (ssize_t)sizeof(r)) {
        r.step[sizeof(r.step) - 1] = '\0';
        r.what[sizeof(r.what) - 1] = '\0';
        if (r.err <= 0)
            r.err = EIO;
        return gl_err_set(err, r.err, "%s%s%s: %s", r.step, r.what[0] ? " " : "", r.what,
                          strerror(r.err));
    }
    if (n != 0)
        return gl_err_set(err, EPROTO, "reading the child's report: %zd bytes", n);
    if (c->rapi_listener && *listener < 0)
        return gl_err_set(err, EPROTO, "the child exec'd without passing its runtime API listener");
    return 0;
}

int gl_sbx_spawn(const gl_sbx_t *s, const gl_sbx_spec_t *spec, pid_t *pid_out, int *pidfd_out,
                 gl_err_t *err)
{
    int sv[2] = {-1, -1}, pidfd = -1, listener = -1, rc;
    pid_t pid = -1;
    if (spec && spec->rapi_fd)
        *spec->rapi_fd = -1;
    if (!spec || !spec->path || !spec->argv || !spec->envp)
        return gl_err_set(err, EINVAL, "spawn: no path, argv or envp");

    sbx_child_t c;
    child_prepare(&c, s, spec);
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return gl_err_set(err, errno, "socketpair");
    c.sync_fd = sv[1];
    /* With nothing to do between clone and release, release at once: the byte waits in the
     * socket and the child never blocks. */
    int hold = spec->before_release || (s && s->userns);
    if (!hold && write(sv[0], "r", 1) != 1) {
        rc = gl_err_set(err, errno, "release");
        goto out;
    }
    pid = sbx_clone3(s ? s->clone_ns : 0, spec->cgroup_fd, &pidfd);
    if (pid == 0) {
        close(sv[0]);
        child_run(&c);
        _exit(127);
    }
    close(sv[1]);
    sv[1] = -1;
    if (pid < 0) {
        rc = gl_err_set(err, errno, "clone3 %s: %s", spec->path, strerror(errno));
        goto out;
    }
    if (s && s->userns && (rc = sbx_write_id_maps(pid, s->outer_uid, s->outer_gid)) < 0) {
        rc = gl_err_set(err, -rc, "user namespace id maps: %s", strerror(-rc));
        goto fail;
    }
    if (spec->before_release && (rc = spec->before_release(pid, spec->before_release_arg)) < 0) {
        rc = gl_err_set(err, -rc, "before_release: %s", strerror(-rc));
        goto fail;
    }
    if (hold && write(sv[0], "r", 1) != 1) {
        rc = gl_err_set(err, errno, "release");
        goto fail;
    }
    if ((rc = wait_for_exec(sv[0], &c, &listener, err)) < 0)
        goto fail;
    *pid_out = pid;
    *pidfd_out = pidfd;
    if (spec->rapi_fd) {
        *spec->rapi_fd = listener;
        listener = -1; /* moved to the caller */
    }
    goto out;
fail:
    discard(pid, pidfd);
out:
    if (listener >= 0)
        close(listener);
    if (sv[0] >= 0)
        close(sv[0]);
    if (sv[1] >= 0)
        close(sv[1]);
    return rc;
}

int gl_sbx_kill_group(pid_t pid, int sig)
{
    if (pid <= 0)
        return -EINVAL;
    if (kill(-pid, sig) < 0 && kill(pid, sig) < 0)
        return -errno;
    return 0;
}
