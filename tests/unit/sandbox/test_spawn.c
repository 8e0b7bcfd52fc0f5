/* SPDX-License-Identifier: MIT */
/*
 * test_spawn.c: src/sandbox/spawn.c with real processes: /bin/sh -c scripts with stdout and
 * stderr pipes, the pidfd becoming readable on exit, exit statuses, exec and chdir failures
 * reported with the child's errno and nothing left running, cwd and environment applied, the
 * child leading its own session and process group, the daemon's descriptors, blocked signals
 * and ignored signals not reaching the runtime, and gl_sbx_kill_group reaching a grandchild;
 * a start with 1,200 descriptors open in the parent, and a hard RLIMIT_NOFILE below 1024.
 *
 * The test process makes itself a child subreaper so that orphaned grandchildren are
 * reparented to it and can be reaped and checked; every test ends with no child left
 * (waitpid(-1, WNOHANG) fails with ECHILD).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* cmocka.h needs the headers above. */
#include <cmocka.h>

#include "galley/buf.h"
#include "galley/sbx.h"
#include "galley/util.h"
#include "internal.h" /* sbx_rlimit_value */
#include "sbx_test_util.h"

#define WAIT_MS 10000

typedef struct child {
    pid_t pid;
    int pidfd;
    int out_r, err_r; /* parent's read ends */
    gl_buf_t out, err;
} child_t;

/* Spawn path/argv with pipes for stdout and stderr; returns gl_sbx_spawn's result. */
static int spawn(child_t *c, const char *path, char *const *argv, char *const *envp,
                 const char *cwd, gl_err_t *err)
{
    int out[2], errp[2];
    memset(c, 0, sizeof(*c));
    c->pid = -1;
    c->pidfd = -1;
    assert_int_equal(pipe2(out, O_CLOEXEC), 0);
    assert_int_equal(pipe2(errp, O_CLOEXEC), 0);
    gl_sbx_spec_t spec = {
        .path = path,
        .argv = argv,
        .envp = envp,
        .cwd = cwd,
        .stdout_fd = out[1],
        .stderr_fd = errp[1],
    };
    int rc = gl_sbx_spawn(NULL, &spec, &c->pid, &c->pidfd, err);
    close(out[1]);
    close(errp[1]);
    c->out_r = out[0];
    c->err_r = errp[0];
    return rc;
}

static int spawn_sh(child_t *c, const char *script, char *const *envp, const char *cwd)
{
    char *argv[] = {"/bin/sh", "-c", (char *)script, NULL};
    static char *const default_env[] = {"PATH=/usr/bin:/bin", NULL};
    gl_err_t err = {0};
    int rc = spawn(c, "/bin/sh", argv, envp ? envp : default_env, cwd, &err);
    if (rc < 0)
        fail_msg("spawn: %s", err.msg);
    return rc;
}

/* Read both pipes until EOF on both, bounded in time. */
static void read_output(child_t *c)
{
    int fds[2] = {c->out_r, c->err_r};
    gl_buf_t *dst[2] = {&c->out, &c->err};
    sbx_test_read_pipes(fds, dst, WAIT_MS, -1);
}

/* Wait for the pidfd to become readable, then reap; returns the wait status. */
static int wait_exit(child_t *c)
{
    struct pollfd p = {c->pidfd, POLLIN, 0};
    int n = poll(&p, 1, WAIT_MS);
    assert_int_equal(n, 1);
    assert_true(p.revents & POLLIN);
    int status = 0;
    assert_int_equal(waitpid(c->pid, &status, 0), c->pid);
    return status;
}

static void child_free(child_t *c)
{
    if (c->pidfd >= 0)
        close(c->pidfd);
    if (c->out_r >= 0)
        close(c->out_r);
    if (c->err_r >= 0)
        close(c->err_r);
    gl_buf_free(&c->out);
    gl_buf_free(&c->err);
}

static void assert_no_children(void)
{
    errno = 0;
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
}

/* ---- tests ---- */

static void test_output_pidfd_and_exit_status(void **state)
{
    (void)state;
    child_t c;
    assert_int_equal(spawn_sh(&c, "echo out; echo err >&2; read x; exit 3", NULL, NULL), 0);
    assert_true(c.pid > 0);
    int flags = fcntl(c.pidfd, F_GETFD);
    assert_true(flags >= 0 && (flags & FD_CLOEXEC));
    /* stdin is /dev/null: `read` sees EOF at once, so the script runs to its end. */
    read_output(&c);
    assert_string_equal(c.out.data, "out\n");
    assert_string_equal(c.err.data, "err\n");
    int status = wait_exit(&c);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 3);
    child_free(&c);
    assert_no_children();
}

static void test_pidfd_not_readable_while_running(void **state)
{
    (void)state;
    child_t c;
    assert_int_equal(spawn_sh(&c, "exec sleep 30", NULL, NULL), 0);
    struct pollfd p = {c.pidfd, POLLIN, 0};
    assert_int_equal(poll(&p, 1, 50), 0);
    assert_int_equal(gl_sbx_kill_group(c.pid, SIGKILL), 0);
    int status = wait_exit(&c);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);
    child_free(&c);
    assert_no_children();
}

static void test_missing_executable_is_enoent(void **state)
{
    (void)state;
    child_t c;
    char *argv[] = {"/nonexistent/bootstrap", NULL};
    char *envp[] = {NULL};
    gl_err_t err = {0};
    int rc = spawn(&c, "/nonexistent/bootstrap", argv, envp, NULL, &err);
    assert_int_equal(rc, -ENOENT);
    assert_int_equal(err.code, ENOENT);
    assert_non_null(strstr(err.msg, "execve"));
    assert_non_null(strstr(err.msg, "/nonexistent/bootstrap"));
    assert_int_equal(c.pid, -1); /* outputs untouched on failure */
    assert_int_equal(c.pidfd, -1);
    /* The failed child was reaped inside gl_sbx_spawn. */
    assert_no_children();
    child_free(&c);
}

static void test_not_executable_is_eacces(void **state)
{
    (void)state;
    char dir[] = "/tmp/gl-spawn-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof(path), "%s/bootstrap", dir);
    assert_int_equal(gl_write_file_atomic(path, "#!/bin/sh\n", 10), 0);
    assert_int_equal(chmod(path, 0644), 0);
    child_t c;
    char *argv[] = {path, NULL};
    char *envp[] = {NULL};
    gl_err_t err = {0};
    int rc = spawn(&c, path, argv, envp, NULL, &err);
    assert_int_equal(rc, -EACCES);
    assert_int_equal(err.code, EACCES);
    assert_no_children();
    child_free(&c);
    gl_rm_rf(dir);
}

static void test_missing_cwd_reported_as_chdir(void **state)
{
    (void)state;
    child_t c;
    char *argv[] = {"/bin/sh", "-c", "exit 0", NULL};
    char *envp[] = {NULL};
    gl_err_t err = {0};
    int rc = spawn(&c, "/bin/sh", argv, envp, "/nonexistent/dir", &err);
    assert_int_equal(rc, -ENOENT);
    assert_non_null(strstr(err.msg, "chdir"));
    assert_no_children();
    child_free(&c);
}

static void test_cwd_and_env_applied(void **state)
{
    (void)state;
    char dir[] = "/tmp/gl-spawn-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char *envp[] = {"PATH=/usr/bin:/bin", "GALLEY_TEST=one two", NULL};
    child_t c;
    /* Only the given environment: HOME is not inherited from the test process. */
    assert_int_equal(
        spawn_sh(&c, "pwd; echo \"$GALLEY_TEST\"; echo \"home=${HOME-unset}\"", envp, dir), 0);
    read_output(&c);
    char want[160];
    snprintf(want, sizeof(want), "%s\none two\nhome=unset\n", dir);
    assert_string_equal(c.out.data, want);
    int status = wait_exit(&c);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    child_free(&c);
    gl_rm_rf(dir);
    assert_no_children();
}

static void test_own_session_and_process_group(void **state)
{
    (void)state;
    child_t c;
    assert_int_equal(spawn_sh(&c, "exec sleep 30", NULL, NULL), 0);
    assert_int_equal(getpgid(c.pid), c.pid);
    assert_int_equal(getsid(c.pid), c.pid);
    assert_true(getpgid(0) != c.pid);
    assert_int_equal(gl_sbx_kill_group(c.pid, SIGTERM), 0);
    int status = wait_exit(&c);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGTERM);
    child_free(&c);
    assert_no_children();
}

static void test_parent_descriptors_not_inherited(void **state)
{
    (void)state;
    /* An open socket and a plain file without CLOEXEC, as a careless daemon might hold. */
    int sock = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(sock >= 0);
    int file = open("/dev/null", O_RDONLY);
    assert_true(file >= 0);
    assert_int_equal(fcntl(sock, F_GETFD) & FD_CLOEXEC, 0);
    char script[256];
    snprintf(script, sizeof(script),
             "for fd in %d %d; do if [ -e /proc/self/fd/$fd ]; then echo leaked $fd; fi; done; "
             "ls /proc/self/fd | sort -n | tr '\\n' ' '",
             sock, file);
    child_t c;
    assert_int_equal(spawn_sh(&c, script, NULL, NULL), 0);
    read_output(&c);
    assert_null(strstr(c.out.data, "leaked"));
    /* ls sees only stdio and the directory it is reading. */
    assert_string_equal(c.out.data, "0 1 2 3 ");
    wait_exit(&c);
    child_free(&c);
    close(sock);
    close(file);
    assert_no_children();
}

/* A spare's control socket (spec.ctl_fd) reaches the child as fd 3, and nothing else above
 * stdio does: a socket the daemon holds at a higher number stays out. */
static void test_ctl_fd_becomes_fd_3(void **state)
{
    (void)state;
    int ctl[2], out[2], errp[2];
    int pad = open("/dev/null", O_RDONLY | O_CLOEXEC); /* so the ends are not 3 and 4 */
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl), 0);
    assert_int_equal(pipe2(out, O_CLOEXEC), 0);
    assert_int_equal(pipe2(errp, O_CLOEXEC), 0);
    char *argv[] = {"/bin/sh", "-c",
                    "echo ready >&3; ls /proc/self/fd | sort -n | tr '\\n' ' '", NULL};
    char *envp[] = {"PATH=/usr/bin:/bin", NULL};
    gl_sbx_spec_t spec = {.path = "/bin/sh", .argv = argv, .envp = envp, .stdout_fd = out[1],
                          .stderr_fd = errp[1], .ctl_fd = ctl[1]};
    child_t c = {.pid = -1, .pidfd = -1};
    gl_err_t err = {0};
    if (gl_sbx_spawn(NULL, &spec, &c.pid, &c.pidfd, &err) < 0)
        fail_msg("spawn: %s", err.msg);
    close(out[1]);
    close(errp[1]);
    close(ctl[1]);
    c.out_r = out[0];
    c.err_r = errp[0];
    char msg[16] = {0};
    struct pollfd p = {ctl[0], POLLIN, 0};
    assert_int_equal(poll(&p, 1, WAIT_MS), 1);
    assert_int_equal(recv(ctl[0], msg, sizeof(msg) - 1, 0), 6);
    assert_string_equal(msg, "ready\n");
    read_output(&c);
    assert_string_equal(c.out.data, "0 1 2 3 4 "); /* 3: the socket; 4: ls's directory */
    wait_exit(&c);
    child_free(&c);
    close(ctl[0]);
    close(pad);
    assert_no_children();
}

static void test_signal_mask_and_dispositions_reset(void **state)
{
    (void)state;
    /* The daemon ignores SIGPIPE and may block signals; the runtime must get neither. */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigaddset(&block, SIGTERM);
    assert_int_equal(sigprocmask(SIG_BLOCK, &block, &old), 0);
    void (*old_pipe)(int) = signal(SIGPIPE, SIG_IGN);
    child_t c;
    int rc = spawn_sh(&c, "exec grep -E '^Sig(Blk|Ign):' /proc/self/status", NULL, NULL);
    sigprocmask(SIG_SETMASK, &old, NULL);
    signal(SIGPIPE, old_pipe);
    assert_int_equal(rc, 0);
    read_output(&c);
    assert_string_equal(c.out.data, "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n");
    wait_exit(&c);
    child_free(&c);
    assert_no_children();
}

static void test_kill_group_reaches_grandchild(void **state)
{
    (void)state;
    child_t c;
    /* The shell forks a sleeper, prints its pid and waits. */
    assert_int_equal(spawn_sh(&c, "sleep 30 & echo $!; wait", NULL, NULL), 0);
    char line[32] = "";
    size_t got = 0;
    uint64_t deadline = sbx_test_now_ms() + WAIT_MS;
    while (!memchr(line, '\n', got)) {
        assert_true(sbx_test_now_ms() < deadline);
        assert_true(got < sizeof(line) - 1);
        struct pollfd p = {c.out_r, POLLIN, 0};
        assert_int_equal(poll(&p, 1, WAIT_MS), 1);
        ssize_t r = read(c.out_r, line + got, sizeof(line) - 1 - got);
        assert_true(r > 0);
        got += (size_t)r;
    }
    pid_t grandchild = (pid_t)strtol(line, NULL, 10);
    assert_true(grandchild > 0 && grandchild != c.pid);
    assert_int_equal(getpgid(grandchild), c.pid);

    assert_int_equal(gl_sbx_kill_group(c.pid, SIGKILL), 0);
    int status = wait_exit(&c);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    /* We are a subreaper: the orphaned sleeper is ours to reap, and it died by SIGKILL. */
    int gstatus = 0;
    pid_t r;
    deadline = sbx_test_now_ms() + WAIT_MS;
    while ((r = waitpid(grandchild, &gstatus, WNOHANG)) == 0) {
        assert_true(sbx_test_now_ms() < deadline);
        usleep(10000);
    }
    assert_int_equal(r, grandchild);
    assert_true(WIFSIGNALED(gstatus));
    assert_int_equal(WTERMSIG(gstatus), SIGKILL);
    child_free(&c);
    assert_no_children();
}

/* Regression: the child lowered RLIMIT_NOFILE to 1024 while it still held the daemon's
 * descriptors, so with more than 1,024 open every start failed (EMFILE on /dev/null). */
#define MANY_FDS 1200

/* What the test below changed, undone by its teardown even when an assert fails half-way:
 * descriptors left open (or a raised limit) would make the next test fail for no reason of
 * its own (the forked spawner's pipe2 with a hard limit of 512, for one). */
static struct {
    int fds[MANY_FDS];
    int n;
    struct rlimit old;
    int restore;
} many;

static int close_many_fds(void **state)
{
    (void)state;
    while (many.n > 0)
        close(many.fds[--many.n]);
    if (many.restore && setrlimit(RLIMIT_NOFILE, &many.old) < 0)
        return -1;
    many.restore = 0;
    return 0;
}

static void test_spawn_with_1200_daemon_descriptors(void **state)
{
    (void)state;
    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &many.old), 0);
    if (many.old.rlim_max != RLIM_INFINITY && many.old.rlim_max < MANY_FDS + 200) {
        print_message("SKIP: the hard RLIMIT_NOFILE does not allow 1,200 more descriptors\n");
        skip();
    }
    rl = many.old;
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur < MANY_FDS + 200)
        rl.rlim_cur = MANY_FDS + 200;
    assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
    many.restore = 1;
    for (many.n = 0; many.n < MANY_FDS; many.n++) {
        /* not close-on-exec, like a careless daemon */
        many.fds[many.n] = open("/dev/null", O_RDONLY);
        assert_true(many.fds[many.n] >= 0);
    }
    assert_true(many.fds[MANY_FDS - 1] > 1024);
    child_t c;
    assert_int_equal(spawn_sh(&c, "ulimit -n; ls /proc/self/fd | sort -n | tr '\\n' ' '", NULL,
                              NULL),
                     0);
    read_output(&c);
    /* Lambda's limit, and only stdio and the directory ls is reading. */
    assert_string_equal(c.out.data, "1024\n0 1 2 3 ");
    int status = wait_exit(&c);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    child_free(&c);
    assert_int_equal(close_many_fds(NULL), 0);
    assert_no_children();
}

/* In a forked process (cmocka's asserts must not run there): lower the hard RLIMIT_NOFILE
 * to 512, spawn `ulimit -n`, exit 0 when the runtime started with 512. */
static void hard_limit_child(void)
{
    struct rlimit rl = {512, 512};
    int out[2];
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0 || pipe2(out, O_CLOEXEC) < 0)
        _exit(10);
    char *argv[] = {"/bin/sh", "-c", "ulimit -n", NULL};
    char *envp[] = {"PATH=/usr/bin:/bin", NULL};
    gl_sbx_spec_t spec = {.path = "/bin/sh", .argv = argv, .envp = envp,
                          .stdout_fd = out[1], .stderr_fd = out[1]};
    pid_t pid = -1;
    int pidfd = -1;
    gl_err_t err = {0};
    if (gl_sbx_spawn(NULL, &spec, &pid, &pidfd, &err) < 0) {
        fprintf(stderr, "spawn: %s\n", err.msg);
        _exit(11);
    }
    close(out[1]);
    char buf[64] = "";
    ssize_t n = read(out[0], buf, sizeof(buf) - 1); /* sh exits at once: EOF follows */
    int status = 0;
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        _exit(12);
    _exit(n > 0 && strcmp(buf, "512\n") == 0 ? 0 : 13);
}

/* A host whose hard RLIMIT_NOFILE is below Lambda's 1024: the runtime gets that limit
 * instead of every start failing with "setrlimit RLIMIT_NOFILE: Operation not permitted". */
static void test_hard_nofile_below_1024_is_kept(void **state)
{
    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        hard_limit_child();
    int status = 0;
    uint64_t deadline = sbx_test_now_ms() + WAIT_MS;
    pid_t w;
    while ((w = waitpid(pid, &status, WNOHANG)) == 0 && sbx_test_now_ms() < deadline)
        usleep(5000);
    if (w == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        fail_msg("the forked spawner did not finish in time");
    }
    assert_int_equal(w, pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_no_children();
}

static void test_rlimit_value_is_capped_by_hard_limit(void **state)
{
    (void)state;
    assert_int_equal(sbx_rlimit_value(1024, 1048576), 1024);
    assert_int_equal(sbx_rlimit_value(1024, 1024), 1024);
    assert_int_equal(sbx_rlimit_value(1024, 512), 512);
    assert_int_equal(sbx_rlimit_value(1024, RLIM_INFINITY), 1024);
    assert_int_equal(sbx_rlimit_value(0, 512), 0);
}

static void test_kill_group_rejects_bad_pid(void **state)
{
    (void)state;
    assert_int_equal(gl_sbx_kill_group(0, SIGKILL), -EINVAL);
    assert_int_equal(gl_sbx_kill_group(-1, SIGKILL), -EINVAL);
}

static int group_setup(void **state)
{
    (void)state;
    return prctl(PR_SET_CHILD_SUBREAPER, 1) < 0 ? -1 : 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_output_pidfd_and_exit_status),
        cmocka_unit_test(test_pidfd_not_readable_while_running),
        cmocka_unit_test(test_missing_executable_is_enoent),
        cmocka_unit_test(test_not_executable_is_eacces),
        cmocka_unit_test(test_missing_cwd_reported_as_chdir),
        cmocka_unit_test(test_cwd_and_env_applied),
        cmocka_unit_test(test_own_session_and_process_group),
        cmocka_unit_test(test_parent_descriptors_not_inherited),
        cmocka_unit_test(test_ctl_fd_becomes_fd_3),
        cmocka_unit_test(test_signal_mask_and_dispositions_reset),
        cmocka_unit_test(test_kill_group_reaches_grandchild),
        cmocka_unit_test(test_kill_group_rejects_bad_pid),
        cmocka_unit_test_teardown(test_spawn_with_1200_daemon_descriptors, close_many_fds),
        cmocka_unit_test(test_hard_nofile_below_1024_is_kept),
        cmocka_unit_test(test_rlimit_value_is_capped_by_hard_limit),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
