/* SPDX-License-Identifier: MIT */
/*
 * sbx_test_util.h: helpers the sandbox's unit tests share (static, one copy per test
 * executable): a bounded read of a child's stdout and stderr pipes, and a fork attached to a
 * cgroup before it may exec. Include after <cmocka.h> and the headers it needs.
 */
#ifndef GALLEY_TESTS_SBX_TEST_UTIL_H
#define GALLEY_TESTS_SBX_TEST_UTIL_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "galley/buf.h"

static inline uint64_t sbx_test_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Read fds[0] into dst[0] and fds[1] into dst[1] until EOF on both, then NUL-terminate both
 * buffers. Fails the test after wait_ms, first killing pid when it is > 0. */
static inline void sbx_test_read_pipes(const int fds[2], gl_buf_t *dst[2], int wait_ms, pid_t pid)
{
    uint64_t deadline = sbx_test_now_ms() + (uint64_t)wait_ms;
    struct pollfd p[2] = {{fds[0], POLLIN, 0}, {fds[1], POLLIN, 0}};
    int open_fds = 2;
    while (open_fds > 0) {
        uint64_t now = sbx_test_now_ms();
        if (now >= deadline) {
            if (pid > 0)
                kill(pid, SIGKILL);
            fail_msg("child did not finish in time");
        }
        int n = poll(p, 2, (int)(deadline - now));
        assert_true(n >= 0 || errno == EINTR);
        for (int i = 0; i < 2; i++) {
            if (p[i].fd < 0 || !(p[i].revents & (POLLIN | POLLHUP)))
                continue;
            char buf[4096];
            ssize_t r = read(p[i].fd, buf, sizeof(buf));
            if (r > 0) {
                gl_buf_append(dst[i], buf, (size_t)r);
            } else {
                p[i].fd = -1;
                open_fds--;
            }
        }
    }
    gl_buf_append(dst[0], "", 0);
    gl_buf_append(dst[1], "", 0);
}

#ifdef GALLEY_SANDBOX_CGROUP_INTERNAL_H
/* fork; the child leads a new session (as an environment's runtime does), waits until the
 * parent attached it to cg, then execs argv. */
static inline pid_t sbx_test_spawn_attached(gl_cg_t *cg, char *const argv[])
{
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char ch;
        close(p[1]);
        setsid();
        if (read(p[0], &ch, 1) != 1)
            _exit(126);
        execv(argv[0], argv);
        _exit(127);
    }
    close(p[0]);
    assert_int_equal(gl_cg_attach(cg, pid), 0);
    assert_int_equal(write(p[1], "x", 1), 1);
    close(p[1]);
    return pid;
}
#endif

#endif
