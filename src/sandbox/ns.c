/* SPDX-License-Identifier: MIT */
/*
 * ns.c: namespaces. The clone3 wrapper every spawn uses (fork-like: no new stack, the child
 * returns 0 and runs on a copy of the parent's), the user namespace maps the parent writes
 * for a daemon that is not root, the probe gl_sbx_open runs once to learn what the kernel
 * allows, and the child's UTS and network steps (loopback up, and the Runtime API listener
 * it passes to the parent), and for the daemon a socket made inside an environment's network
 * namespace (gl_sbx_netns_socket: the Telemetry API's connections with --isolate-network).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "galley/log.h"
#include "internal.h"

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif
#ifndef CLONE_INTO_CGROUP
#define CLONE_INTO_CGROUP 0x200000000ULL
#endif
#ifndef SYS_clone3
#define SYS_clone3 435
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

/* The kernel's struct clone_args (linux/sched.h), spelled out to avoid header clashes. */
struct sbx_clone_args {
    uint64_t flags, pidfd, child_tid, parent_tid, exit_signal, stack, stack_size, tls;
    uint64_t set_tid, set_tid_size; /* since 5.5 */
    uint64_t cgroup;                /* since 5.7 */
};
#define SBX_CLONE_ARGS_SIZE_VER0 64
#define SBX_CLONE_ARGS_SIZE_VER2 88

int sbx_join(char *out, size_t outlen, const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la + lb + 1 > outlen) {
        if (outlen)
            out[0] = '\0';
        return -ENAMETOOLONG;
    }
    memcpy(out, a, la);
    memcpy(out + la, b, lb + 1);
    return 0;
}

/*
 * Clone like fork, with flags, a pidfd, and straight into a cgroup v2 directory when
 * cgroup_fd > 0. Returns the pid in the parent, 0 in the child, -1 with errno on failure.
 * Where clone3 is missing (before 5.3) falls back to clone plus pidfd_open; when the kernel
 * refuses CLONE_INTO_CGROUP (before 5.7) clones without it: the caller's before_release then
 * attaches the child (writing a pid already in the group to cgroup.procs changes nothing).
 */
pid_t sbx_clone3(unsigned long flags, int cgroup_fd, int *pidfd)
{
    int fd = -1;
    struct sbx_clone_args args = {
        .flags = (uint64_t)flags | CLONE_PIDFD,
        .pidfd = (uint64_t)(uintptr_t)&fd,
        .exit_signal = SIGCHLD,
    };
    size_t size = SBX_CLONE_ARGS_SIZE_VER0;
    if (cgroup_fd > 0) {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = (uint64_t)cgroup_fd;
        size = SBX_CLONE_ARGS_SIZE_VER2;
    }
    long pid = syscall(SYS_clone3, &args, size);
    if (pid < 0 && cgroup_fd > 0 && (errno == E2BIG || errno == EINVAL)) {
        args.flags &= ~(uint64_t)CLONE_INTO_CGROUP;
        args.cgroup = 0;
        pid = syscall(SYS_clone3, &args, (size_t)SBX_CLONE_ARGS_SIZE_VER0);
    }
    if (pid < 0 && errno == ENOSYS) {
        pid = syscall(SYS_clone, (unsigned long)(flags | SIGCHLD), NULL, NULL, NULL, NULL);
        if (pid > 0) {
            fd = (int)syscall(SYS_pidfd_open, (pid_t)pid, 0);
            if (fd < 0) {
                int e = errno;
                kill((pid_t)pid, SIGKILL);
                waitpid((pid_t)pid, NULL, 0);
                errno = e;
                return -1;
            }
            fcntl(fd, F_SETFD, FD_CLOEXEC);
        }
    }
    if (pid > 0)
        *pidfd = fd;
    return (pid_t)pid;
}

static int write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t len = strlen(text);
    ssize_t n = write(fd, text, len);
    int rc = n == (ssize_t)len ? 0 : (n < 0 ? -errno : -EIO);
    close(fd);
    return rc;
}

/* Parent: map the daemon's own uid and gid to themselves in the child's user namespace (an
 * unprivileged process may map exactly its own ids, gids only after denying setgroups). */
int sbx_write_id_maps(pid_t pid, uid_t outer_uid, gid_t outer_gid)
{
    char path[64], line[64];
    int rc;
    snprintf(path, sizeof(path), "/proc/%d/uid_map", (int)pid);
    snprintf(line, sizeof(line), "%u %u 1\n", (unsigned)outer_uid, (unsigned)outer_uid);
    if ((rc = write_file(path, line)) < 0)
        return rc;
    snprintf(path, sizeof(path), "/proc/%d/setgroups", (int)pid);
    if ((rc = write_file(path, "deny")) < 0 && rc != -ENOENT)
        return rc;
    snprintf(path, sizeof(path), "/proc/%d/gid_map", (int)pid);
    snprintf(line, sizeof(line), "%u %u 1\n", (unsigned)outer_gid, (unsigned)outer_gid);
    return write_file(path, line);
}

/*
 * Try the namespaces once: clone a child with flags, map ids if it has a user namespace,
 * and have it make the kinds of mounts every environment needs (private propagation, a
 * tmpfs, a proc for its PID namespace). 0 when all worked; otherwise a negative errno and
 * *why says which part failed.
 */
int sbx_probe_namespaces(unsigned long flags, uid_t outer_uid, gid_t outer_gid, const char **why)
{
    int sv[2], pidfd = -1, rc;
    *why = NULL;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
        *why = "socketpair";
        return -errno;
    }
    pid_t pid = sbx_clone3(flags, -1, &pidfd);
    if (pid == 0) {
        close(sv[0]);
        char b;
        if (read(sv[1], &b, 1) != 1)
            _exit(1);
        if (!(flags & CLONE_NEWNS))
            _exit(0);
        if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
            _exit(2);
        if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=4k") < 0)
            _exit(3);
        if (mount("proc", "/tmp", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
            _exit(4);
        _exit(0);
    }
    close(sv[1]);
    if (pid < 0) {
        rc = -errno;
        *why = "clone with namespace flags";
        close(sv[0]);
        return rc;
    }
    rc = 0;
    if ((flags & CLONE_NEWUSER) && (rc = sbx_write_id_maps(pid, outer_uid, outer_gid)) < 0)
        *why = "writing the user namespace's id maps";
    if (write(sv[0], "r", 1) != 1 && rc == 0) {
        rc = -errno;
        *why = "releasing the probe";
    }
    close(sv[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (pidfd >= 0)
        close(pidfd);
    if (rc == 0 && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
        static const char *const steps[] = {
            "probe child",
            "probe release",
            "making mounts private",
            "mounting a tmpfs",
            "mounting proc for the PID namespace",
        };
        int code = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
        *why = code < 5 ? steps[code] : "probe child";
        rc = -EPERM;
    }
    return rc;
}

/* Child in a new network namespace: only loopback exists, and it starts down. */
int sbx_child_loopback_up(sbx_child_t *c)
{
    c->step = "loopback up";
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct ifreq ifr;
    memset(&ifr, 0, sizeof(ifr));
    strcpy(ifr.ifr_name, "lo");
    int rc = 0;
    if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0) {
        rc = -errno;
    } else {
        ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
        if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
            rc = -errno;
    }
    close(fd);
    return rc;
}

/*
 * Child in a new network namespace, loopback up: listen on 127.0.0.1:GL_SBX_RAPI_PORT, where
 * Lambda's runtimes find their Runtime API, and send the socket to the parent (SCM_RIGHTS),
 * which serves it. The socket stays in this namespace, so the runtime reaches it while the
 * host's 127.0.0.1 stays out of reach; accept() works from the parent's namespace all the
 * same. listen() here, not in the parent, so a runtime that connects before the parent's
 * event loop starts accepting waits in the backlog instead of being refused. The child's copy
 * is closed at once; the function never holds it, and cannot bind the port itself.
 */
#define PORT_TEXT_(port) #port
#define PORT_TEXT(port) PORT_TEXT_(port)

int sbx_child_rapi_listener(sbx_child_t *c)
{
    c->step = "runtime API listener";
    sbx_join(c->what, sizeof(c->what), "127.0.0.1:", PORT_TEXT(GL_SBX_RAPI_PORT));
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons(GL_SBX_RAPI_PORT);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int rc = 0;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 511) < 0) {
        rc = -errno;
        goto out;
    }
    char tag = SBX_MSG_LISTENER;
    struct iovec iov = {&tag, 1};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl;
    memset(&ctl, 0, sizeof(ctl));
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                         .msg_controllen = sizeof(ctl.buf)};
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &fd, sizeof(int));
    c->step = "passing the runtime API listener";
    ssize_t n = sendmsg(c->sync_fd, &msg, MSG_NOSIGNAL);
    if (n != 1)
        rc = n < 0 ? -errno : -EIO;
out:
    close(fd);
    return rc;
}

/* Child in a new UTS namespace: the host's name is none of the function's business. */
int sbx_child_hostname(sbx_child_t *c)
{
    static const char name[] = "localhost";
    c->step = "sethostname";
    return sethostname(name, sizeof(name) - 1) < 0 ? -errno : 0;
}

/*
 * Daemon side: a socket made inside the network namespace of pid. setns() moves only the
 * calling thread, and the socket keeps the namespace it was made in, so the loop thread steps
 * in, makes it and steps back at once; nothing else runs on this thread meanwhile.
 */
int gl_sbx_netns_socket(pid_t pid)
{
    char path[64];
    int self = -1, target = -1, fd = -1, rc;
    snprintf(path, sizeof(path), "/proc/%d/ns/net", (int)pid);
    if ((self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC)) < 0 ||
        (target = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        rc = -errno;
        goto out;
    }
    if (setns(target, CLONE_NEWNET) < 0) {
        rc = -errno;
        goto out;
    }
    fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    rc = fd < 0 ? -errno : fd;
    if (setns(self, CLONE_NEWNET) < 0) { /* never expected: the daemon's own namespace */
        gl_log_error("sandbox: cannot return to the daemon's network namespace: %s",
                     strerror(errno));
        abort();
    }
out:
    if (self >= 0)
        close(self);
    if (target >= 0)
        close(target);
    return rc;
}
