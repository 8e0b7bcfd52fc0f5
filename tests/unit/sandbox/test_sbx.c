/* SPDX-License-Identifier: MIT */
/*
 * test_sbx.c: the sandbox as a real daemon would use it (gl_sbx_open + gl_sbx_spawn) with
 * real processes: namespaces applied and the runtime PID 1, /var/task the read-only code
 * dir, /tmp a private tmpfs of the given size, the state dir hidden, the run-as user,
 * rlimits, no_new_privs, the seccomp filter (refusing mount, ptrace, reboot, unshare,
 * clone3, odd personalities while fork, threads, mmap and sockets work), --isolate-network
 * (only loopback; the Runtime API listener made inside the namespace, passed to the parent,
 * reached from inside and out of the function's hands),
 * before_release running while the child still waits, and failing steps named in err.
 *
 * These need root and a kernel that grants namespaces: otherwise every test is reported as
 * SKIPPED (cmocka skip()) with the reason, never as passed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
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
#include "sbx_test_util.h"

#define WAIT_MS 20000
#define PYTHON "/usr/bin/python3"

typedef struct fixture {
    char root[64];  /* scratch directory (mkdtemp) */
    char code[96];  /* code_dir: holds "handler.txt" */
    char state[96]; /* hide_dir: holds "secret" */
    gl_sbx_t *sbx;
    const char *skip_reason;
} fixture_t;

typedef struct result {
    int status;
    gl_buf_t out, err;
} result_t;

static void assert_no_children(void)
{
    errno = 0;
    assert_int_equal(waitpid(-1, NULL, WNOHANG), -1);
    assert_int_equal(errno, ECHILD);
}

static void write_text(const char *path, const char *text)
{
    assert_int_equal(gl_write_file_atomic(path, text, strlen(text)), 0);
    assert_int_equal(chmod(path, 0644), 0);
}

/* Read both pipes to EOF, then reap; bounded in time. */
static void collect(int out_r, int err_r, pid_t pid, int pidfd, result_t *res)
{
    int fds[2] = {out_r, err_r};
    gl_buf_t *dst[2] = {&res->out, &res->err};
    sbx_test_read_pipes(fds, dst, WAIT_MS, pid);
    assert_int_equal(waitpid(pid, &res->status, 0), pid);
    close(pidfd);
    close(out_r);
    close(err_r);
}

/* Spawn argv in the sandbox with the fixture's dirs; spec_edit may adjust the spec. */
static int run(fixture_t *f, const gl_sbx_t *s, char *const *argv, result_t *res, gl_err_t *err,
               void (*spec_edit)(gl_sbx_spec_t *, void *), void *arg)
{
    int out[2], errp[2];
    memset(res, 0, sizeof(*res));
    assert_int_equal(pipe2(out, O_CLOEXEC), 0);
    assert_int_equal(pipe2(errp, O_CLOEXEC), 0);
    static char *const envp[] = {"PATH=/usr/bin:/bin", NULL};
    gl_sbx_spec_t spec = {
        .path = argv[0],
        .argv = argv,
        .envp = envp,
        .cwd = "/var/task",
        .stdout_fd = out[1],
        .stderr_fd = errp[1],
        .code_dir = f->code,
        .tmp_mb = 16,
    };
    if (spec_edit)
        spec_edit(&spec, arg);
    pid_t pid = -1;
    int pidfd = -1;
    int rc = gl_sbx_spawn(s, &spec, &pid, &pidfd, err);
    close(out[1]);
    close(errp[1]);
    if (rc < 0) {
        close(out[0]);
        close(errp[0]);
        return rc;
    }
    collect(out[0], errp[0], pid, pidfd, res);
    return 0;
}

/* run() for a spawn that must succeed: a failing one fails the test with err's message. */
static void run_ok(fixture_t *f, const gl_sbx_t *s, char *const *argv, result_t *res,
                   void (*spec_edit)(gl_sbx_spec_t *, void *), void *arg)
{
    gl_err_t err = {0};
    if (run(f, s, argv, res, &err, spec_edit, arg) < 0)
        fail_msg("spawn: %s", err.msg);
}

static void run_sh(fixture_t *f, const char *script, result_t *res)
{
    char *argv[] = {"/bin/sh", "-c", (char *)script, NULL};
    run_ok(f, f->sbx, argv, res, NULL, NULL);
}

static void result_free(result_t *r)
{
    gl_buf_free(&r->out);
    gl_buf_free(&r->err);
}

static int exited_ok(const result_t *r)
{
    return WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0;
}

/* run_sh() for a script that must exit 0: anything else fails the test with its stderr. */
static void run_sh_ok(fixture_t *f, const char *script, result_t *res)
{
    run_sh(f, script, res);
    if (!exited_ok(res))
        fail_msg("script failed (status %d): %s", res->status, res->err.data);
}

/* The fixture of a test that needs the sandbox; without one the test is skipped, saying why. */
static fixture_t *sandbox_fixture(void **state)
{
    fixture_t *f = *state;
    if (f->skip_reason) {
        print_message("SKIP: %s\n", f->skip_reason);
        skip();
    }
    return f;
}

/* A second sandbox like the fixture's, with --isolate-network; the caller closes it. */
static gl_sbx_t *open_isolated(const fixture_t *f)
{
    gl_sbx_t *net = NULL;
    gl_err_t err = {0};
    gl_sbx_opts_t opts = {.isolate_network = 1, .hide_dir = f->state};
    if (gl_sbx_open(&net, &opts, &err) < 0)
        fail_msg("gl_sbx_open with isolate_network: %s", err.msg);
    return net;
}

/* ---- tests ---- */

static void test_namespaces_and_pid_1(void **state)
{
    fixture_t *f = sandbox_fixture(state);
    result_t r;
    run_sh_ok(f,
              "echo $$; for n in mnt pid ipc uts net; do readlink /proc/self/ns/$n; done; "
              "hostname",
              &r);
    char *save = NULL;
    char *line = strtok_r(r.out.data, "\n", &save);
    assert_non_null(line);
    assert_string_equal(line, "1");
    static const char *const names[] = {"mnt", "pid", "ipc", "uts", "net"};
    for (int i = 0; i < 5; i++) {
        line = strtok_r(NULL, "\n", &save);
        assert_non_null(line);
        char path[64], mine[128] = "";
        snprintf(path, sizeof(path), "/proc/self/ns/%s", names[i]);
        ssize_t n = readlink(path, mine, sizeof(mine) - 1);
        assert_true(n > 0);
        if (!strcmp(names[i], "net"))
            assert_string_equal(line, mine); /* shared unless --isolate-network */
        else if (strcmp(line, mine) == 0)
            fail_msg("%s namespace not new: %s", names[i], line);
    }
    line = strtok_r(NULL, "\n", &save);
    assert_non_null(line);
    assert_string_equal(line, "localhost");
    result_free(&r);
    assert_no_children();
}

static void test_var_task_is_code_and_read_only(void **state)
{
    fixture_t *f = sandbox_fixture(state);
    result_t r;
    run_sh_ok(f,
              "pwd; cat /var/task/handler.txt; touch /var/task/new 2>&1; "
              "touch /usr/new 2>&1; touch /new 2>&1; (echo x > /var/new) 2>&1; ls /opt | wc -l",
              &r);
    assert_non_null(strstr(r.out.data, "/var/task\nhello from the code dir\n"));
    /* Each write attempt failed with EROFS ("Read-only file system"). */
    int count = 0;
    for (const char *p = r.out.data; (p = strstr(p, "Read-only file system")); p++)
        count++;
    assert_int_equal(count, 4);
    assert_non_null(strstr(r.out.data, "\n0\n")); /* empty /opt */
    char path[160];
    snprintf(path, sizeof(path), "%s/new", f->code);
    assert_int_equal(access(path, F_OK), -1);
    result_free(&r);
}

static void test_tmp_is_private_tmpfs_of_given_size(void **state)
{
    fixture_t *f = sandbox_fixture(state);
    result_t r;
    /* tmp_mb is 16: 10 MB fit, 17 MB do not. */
    run_sh_ok(f,
              "stat -f -c '%T %b %S' /tmp; ls -A /tmp | wc -l; "
              "head -c 10485760 /dev/zero > /tmp/a && echo wrote10; rm /tmp/a; "
              "head -c 17825792 /dev/zero > /tmp/b 2>/dev/null || echo full; "
              "dd if=/dev/zero of=/tmp/c bs=1M count=17 2>&1 | grep -o 'No space left on device'",
              &r);
    unsigned long blocks = 0, bsize = 0;
    char type[32] = "";
    assert_int_equal(sscanf(r.out.data, "%31s %lu %lu", type, &blocks, &bsize), 3);
    assert_string_equal(type, "tmpfs");
    assert_int_equal(blocks * bsize, 16UL << 20);
    assert_non_null(strstr(r.out.data, "\n0\nwrote10\nfull\nNo space left on device\n"));
    result_free(&r);
}

static void test_state_dir_hidden(void **state)
{
    fixture_t *f = sandbox_fixture(state);
    char script[512];
    snprintf(script, sizeof(script), "ls -A %s | wc -l; cat %s/secret 2>&1; touch %s/x 2>&1; true",
             f->state, f->state, f->state);
    result_t r;
    run_sh_ok(f, script, &r);
    assert_true(strncmp(r.out.data, "0\n", 2) == 0);
    assert_non_null(strstr(r.out.data, "No such file or directory"));
    assert_non_null(strstr(r.out.data, "Read-only file system"));
    result_free(&r);
}

static void test_user_rlimits_no_new_privs(void **state)
{
    fixture_t *f = sandbox_fixture(state);
    result_t r;
    /* soft and hard limits of core size, processes and open files, in /proc's order */
    run_sh_ok(f,
              "id -u; id -g; id -G; awk '/^Max (core file size|processes|open files) / "
              "{ print $(NF-2), $(NF-1) }' /proc/self/limits; "
              "grep -E '^(NoNewPrivs|Seccomp|CapEff):' /proc/self/status",
              &r);
    assert_string_equal(r.out.data, "65534\n65534\n65534\n0 0\n1024 1024\n1024 1024\n"
                                    "CapEff:\t0000000000000000\nNoNewPrivs:\t1\nSeccomp:\t2\n");
    result_free(&r);
}

static void use_user(gl_sbx_spec_t *spec, void *arg)
{
    const gl_sbx_user_t *u = arg;
    spec->uid = u->uid;
    spec->gid = u->gid;
}

/* Issue 9: an environment with a uid of its own from the range runs as it (uid, gid and
 * groups), and its RLIMIT_NPROC counts only its processes; without one (spec->uid 0) the
 * shared user applies, never root. */
static void test_environment_runs_as_its_own_uid(void **state)
{
    fixture_t *f = sandbox_fixture(state);
    gl_sbx_user_t u;
    gl_err_t err = {0};
    if (!gl_sbx_user_per_env(f->sbx))
        skip();
    assert_int_equal(gl_sbx_user_acquire(f->sbx, &u, &err), 0);
    assert_true(u.own && u.uid >= GL_SBX_UID_RANGE_FIRST);
    char *argv[] = {"/bin/sh", "-c", "id -u; id -g; id -G", NULL};
    result_t r;
    run_ok(f, f->sbx, argv, &r, use_user, &u);
    char want[64];
    snprintf(want, sizeof(want), "%u\n%u\n%u\n", (unsigned)u.uid, (unsigned)u.gid,
             (unsigned)u.gid);
    assert_string_equal(r.out.data, want);
    result_free(&r);
    gl_sbx_user_release(f->sbx, &u);
}

/* Python with ctypes: each refused call's errno, then what must keep working. */
static const char *const syscalls_py =
    "import ctypes, mmap, os, socket, threading\n"
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    "def err(rc):\n"
    "    return 'ok' if rc >= 0 else os.strerror(ctypes.get_errno())\n"
    "print('mount', err(libc.mount(b'none', b'/tmp', b'tmpfs', 0, None)))\n"
    "print('reboot', err(libc.reboot(0x4321fedc)))\n"
    "print('unshare', err(libc.unshare(0x10000000)))\n"
    "print('clone3', err(libc.syscall(435, None, 0)))\n"
    "libc.personality.argtypes = [ctypes.c_ulong]\n"
    "print('personality_bad', err(libc.personality(0x0400000)))\n"
    "print('personality_query', err(libc.personality(0xffffffff)))\n"
    "pid = os.fork()\n"
    "if pid == 0:\n"
    "    os._exit(7)\n"
    "print('fork', os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))\n"
    "out = []\n"
    "t = threading.Thread(target=lambda: out.append(1)); t.start(); t.join()\n"
    "print('thread', out)\n"
    "m = mmap.mmap(-1, 1 << 20); m[0:5] = b'hello'; print('mmap', bytes(m[0:5]).decode())\n"
    "a, b = socket.socketpair(); a.send(b'hi'); print('socket', b.recv(2).decode())\n"
    "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(); print('listen ok')\n"
    /* last: once traced (without the filter), a signal would stop us for good */
    "print('ptrace', err(libc.ptrace(0, 0, None, None)), flush=True)\n";

static void test_seccomp_refuses_and_allows(void **state)
{
    fixture_t *f = sandbox_fixture(state);
    char *argv[] = {PYTHON, "-c", (char *)syscalls_py, NULL};
    result_t r;
    gl_err_t err = {0};
    run_ok(f, f->sbx, argv, &r, NULL, NULL);
    if (!exited_ok(&r))
        fail_msg("python failed: %s", r.err.data);
    assert_string_equal(r.out.data, "mount Operation not permitted\n"
                                    "reboot Operation not permitted\n"
                                    "unshare Operation not permitted\n"
                                    "clone3 Function not implemented\n"
                                    "personality_bad Operation not permitted\n"
                                    "personality_query ok\n"
                                    "fork 7\n"
                                    "thread [1]\n"
                                    "mmap hello\n"
                                    "socket hi\n"
                                    "listen ok\n"
                                    "ptrace Operation not permitted\n");
    result_free(&r);

    /* The same script without the filter: ptrace(TRACEME) and unshare(CLONE_NEWUSER) work
     * for nobody, so the refusals above are the filter's. */
    gl_sbx_t *plain = NULL;
    gl_sbx_opts_t opts = {.no_seccomp = 1, .hide_dir = f->state};
    assert_int_equal(gl_sbx_open(&plain, &opts, &err), 0);
    run_ok(f, plain, argv, &r, NULL, NULL);
    assert_non_null(strstr(r.out.data, "ptrace ok\n"));
    assert_non_null(strstr(r.out.data, "unshare ok\n"));
    assert_non_null(strstr(r.out.data, "mount Operation not permitted\n")); /* no caps */
    result_free(&r);
    gl_sbx_close(plain);
    assert_no_children();
}

static void test_isolate_network_has_only_loopback(void **state)
{
    fixture_t *f = sandbox_fixture(state);
    gl_sbx_t *net = open_isolated(f);
    /* A listener of ours on the host's loopback must be out of reach. */
    int lfd = -1;
    unsigned short port = 0;
    {
        char *argv[] = {PYTHON, "-c",
                        "import socket\n"
                        "print(sorted(n for _, n in socket.if_nameindex()))\n"
                        "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n"
                        "c = socket.create_connection(s.getsockname()); print('loopback ok')\n",
                        NULL};
        result_t r;
        run_ok(f, net, argv, &r, NULL, NULL);
        assert_string_equal(r.out.data, "['lo']\nloopback ok\n");
        result_free(&r);
    }
    {
        lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        assert_true(lfd >= 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
        assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
        assert_int_equal(listen(lfd, 4), 0);
        socklen_t len = sizeof(sa);
        assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &len), 0);
        port = ntohs(sa.sin_port);
        char script[256];
        snprintf(script, sizeof(script),
                 "import socket\n"
                 "try:\n"
                 "    socket.create_connection(('127.0.0.1', %u), timeout=2); print('reached')\n"
                 "except OSError as e:\n"
                 "    print('refused', e.errno)\n",
                 (unsigned)port);
        char *argv[] = {PYTHON, "-c", script, NULL};
        result_t r;
        run_ok(f, net, argv, &r, NULL, NULL);
        assert_string_equal(r.out.data, "refused 111\n"); /* ECONNREFUSED */
        result_free(&r);
        close(lfd);
    }
    gl_sbx_close(net);
    assert_no_children();
}

static void set_rapi_fd(gl_sbx_spec_t *spec, void *arg)
{
    spec->rapi_fd = arg;
}

/* What a runtime does with AWS_LAMBDA_RUNTIME_API: connect to 127.0.0.1:9001, send, read the
 * reply. Also: the port cannot be taken over, and no socket of the sandbox's is left open. */
static const char *const rapi_client_py =
    "import os, socket\n"
    "c = socket.create_connection(('127.0.0.1', 9001), timeout=10)\n"
    "c.sendall(b'next?'); print('reply', c.recv(64).decode())\n"
    "s = socket.socket()\n"
    "try:\n"
    "    s.bind(('127.0.0.1', 9001)); print('bound 9001')\n"
    "except OSError as e:\n"
    "    print('bind', e.errno)\n"
    "c.close(); s.close()\n"
    "def link(f):\n"
    "    try:\n"
    "        return os.readlink('/proc/self/fd/' + f)\n"
    "    except OSError:\n"
    "        return ''\n"
    "fds = [link(f) for f in os.listdir('/proc/self/fd')]\n"
    "print('sockets', sum(1 for f in fds if f.startswith('socket:')))\n";

static ino_t netns_of_socket(int fd)
{
    int ns = ioctl(fd, SIOCGSKNS);
    assert_true(ns >= 0);
    struct stat st;
    assert_int_equal(fstat(ns, &st), 0);
    close(ns);
    return st.st_ino;
}

static void test_isolate_network_passes_runtime_api_listener(void **state)
{
    fixture_t *f = sandbox_fixture(state);
    gl_sbx_t *net = open_isolated(f);
    gl_err_t err = {0};
    assert_int_equal(gl_sbx_isolates_network(net), 1);
    assert_int_equal(gl_sbx_isolates_network(f->sbx), 0);
    assert_int_equal(gl_sbx_isolates_network(NULL), 0);

    int out[2], errp[2], rapi_fd = -2;
    assert_int_equal(pipe2(out, O_CLOEXEC), 0);
    assert_int_equal(pipe2(errp, O_CLOEXEC), 0);
    static char *const envp[] = {"PATH=/usr/bin:/bin", NULL};
    char *argv[] = {PYTHON, "-c", (char *)rapi_client_py, NULL};
    gl_sbx_spec_t spec = {.path = PYTHON,
                          .argv = argv,
                          .envp = envp,
                          .cwd = "/var/task",
                          .stdout_fd = out[1],
                          .stderr_fd = errp[1],
                          .code_dir = f->code,
                          .tmp_mb = 16,
                          .rapi_fd = &rapi_fd};
    pid_t pid = -1;
    int pidfd = -1;
    if (gl_sbx_spawn(net, &spec, &pid, &pidfd, &err) < 0)
        fail_msg("spawn: %s", err.msg);
    close(out[1]);
    close(errp[1]);
    assert_true(rapi_fd > 2);

    /* A listening TCP socket on 127.0.0.1:9001, close-on-exec, in the child's namespace. */
    int listening = 0;
    socklen_t len = sizeof(listening);
    assert_int_equal(getsockopt(rapi_fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len), 0);
    assert_int_equal(listening, 1);
    struct sockaddr_in sa;
    len = sizeof(sa);
    assert_int_equal(getsockname(rapi_fd, (struct sockaddr *)&sa, &len), 0);
    assert_int_equal(ntohs(sa.sin_port), 9001);
    assert_int_equal(ntohl(sa.sin_addr.s_addr), INADDR_LOOPBACK);
    assert_true(fcntl(rapi_fd, F_GETFD) & FD_CLOEXEC);
    struct stat host_ns;
    assert_int_equal(stat("/proc/self/ns/net", &host_ns), 0);
    assert_true(netns_of_socket(rapi_fd) != host_ns.st_ino);
    char child_ns_path[64];
    snprintf(child_ns_path, sizeof(child_ns_path), "/proc/%d/ns/net", (int)pid);
    struct stat child_ns;
    assert_int_equal(stat(child_ns_path, &child_ns), 0);
    assert_true(netns_of_socket(rapi_fd) == child_ns.st_ino);

    /* The function's connection from inside its namespace reaches our accept(). */
    struct pollfd p = {rapi_fd, POLLIN, 0};
    if (poll(&p, 1, WAIT_MS) != 1) {
        kill(pid, SIGKILL);
        fail_msg("no connection from inside the namespace");
    }
    int conn = accept4(rapi_fd, NULL, NULL, SOCK_CLOEXEC);
    assert_true(conn >= 0);
    char buf[16] = "";
    p = (struct pollfd){conn, POLLIN, 0};
    assert_int_equal(poll(&p, 1, WAIT_MS), 1);
    assert_int_equal(recv(conn, buf, sizeof(buf) - 1, 0), 5);
    assert_string_equal(buf, "next?");
    assert_int_equal(send(conn, "event", 5, MSG_NOSIGNAL), 5);
    result_t r;
    memset(&r, 0, sizeof(r));
    collect(out[0], errp[0], pid, pidfd, &r);
    close(conn);
    close(rapi_fd);
    if (!exited_ok(&r))
        fail_msg("client failed: %s", r.err.data);
    /* EADDRINUSE: the port is the daemon's; the listener is not among the function's fds. */
    assert_string_equal(r.out.data, "reply event\nbind 98\nsockets 0\n");
    result_free(&r);
    gl_sbx_close(net);
    assert_no_children();
}

static void test_no_listener_without_isolated_network(void **state)
{
    fixture_t *f = sandbox_fixture(state);
    int rapi_fd = -2;
    char *argv[] = {"/bin/true", NULL};
    result_t r;
    gl_err_t err = {0};
    run_ok(f, f->sbx, argv, &r, set_rapi_fd, &rapi_fd);
    assert_int_equal(rapi_fd, -1);
    result_free(&r);

    /* A failing spawn in an isolated namespace leaves no descriptor behind either. */
    gl_sbx_t *net = open_isolated(f);
    char *missing[] = {"/nonexistent/bootstrap", NULL};
    rapi_fd = -2;
    int before = open("/dev/null", O_RDONLY | O_CLOEXEC);
    close(before);
    assert_int_equal(run(f, net, missing, &r, &err, set_rapi_fd, &rapi_fd), -ENOENT);
    assert_int_equal(rapi_fd, -1);
    int after = open("/dev/null", O_RDONLY | O_CLOEXEC);
    close(after);
    assert_int_equal(after, before); /* the received listener was closed */
    gl_sbx_close(net);
    assert_no_children();
}

/* before_release: the child must still be waiting (not exec'd, still root) when it runs. */
typedef struct release_probe {
    int called;
    int fail_with;
    char exe[256];
    char uid_line[256];
} release_probe_t;

static int on_before_release(pid_t pid, void *arg)
{
    release_probe_t *p = arg;
    p->called++;
    usleep(50 * 1000); /* give a child that did not wait time to get ahead */
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
    ssize_t n = readlink(path, p->exe, sizeof(p->exe) - 1);
    if (n > 0)
        p->exe[n] = '\0';
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *fp = fopen(path, "r");
    if (fp) {
        char line[256];
        while (fgets(line, sizeof(line), fp))
            if (!strncmp(line, "Uid:", 4))
                snprintf(p->uid_line, sizeof(p->uid_line), "%s", line);
        fclose(fp);
    }
    return p->fail_with ? -p->fail_with : 0;
}

static void set_before_release(gl_sbx_spec_t *spec, void *arg)
{
    spec->before_release = on_before_release;
    spec->before_release_arg = arg;
}

static void test_before_release_runs_before_child_proceeds(void **state)
{
    fixture_t *f = sandbox_fixture(state);
    release_probe_t probe = {0};
    char *argv[] = {"/bin/sh", "-c", "id -u", NULL};
    result_t r;
    gl_err_t err = {0};
    run_ok(f, f->sbx, argv, &r, set_before_release, &probe);
    assert_int_equal(probe.called, 1);
    char self[256] = "";
    assert_true(readlink("/proc/self/exe", self, sizeof(self) - 1) > 0);
    assert_string_equal(probe.exe, self);                    /* not yet exec'd */
    assert_non_null(strstr(probe.uid_line, "\t0\t0\t0\t0")); /* not yet nobody */
    assert_string_equal(r.out.data, "65534\n");
    result_free(&r);

    /* A failing before_release fails the spawn, and the child is killed and reaped. */
    release_probe_t failing = {.fail_with = EACCES};
    int rc = run(f, f->sbx, argv, &r, &err, set_before_release, &failing);
    assert_int_equal(rc, -EACCES);
    assert_int_equal(err.code, EACCES);
    assert_non_null(strstr(err.msg, "before_release"));
    assert_no_children();
}

static void set_missing_code(gl_sbx_spec_t *spec, void *arg)
{
    spec->code_dir = arg;
}

static void set_missing_lang(gl_sbx_spec_t *spec, void *arg)
{
    spec->lang_dir = arg;
}

static void test_failing_steps_are_named(void **state)
{
    fixture_t *f = sandbox_fixture(state);
    char *argv[] = {"/bin/true", NULL};
    result_t r;
    gl_err_t err = {0};
    int rc = run(f, f->sbx, argv, &r, &err, set_missing_code, "/nonexistent/code");
    assert_int_equal(rc, -ENOENT);
    assert_int_equal(err.code, ENOENT);
    assert_non_null(strstr(err.msg, "bind code_dir /nonexistent/code"));
    assert_no_children();

    memset(&err, 0, sizeof(err));
    rc = run(f, f->sbx, argv, &r, &err, set_missing_lang, "/nonexistent/lang");
    assert_int_equal(rc, -ENOENT);
    assert_non_null(strstr(err.msg, "bind lang_dir /nonexistent/lang"));
    assert_no_children();

    /* The executable is looked up inside the new root: a host-only path is ENOENT. */
    char host_only[160];
    snprintf(host_only, sizeof(host_only), "%s/handler.txt", f->state);
    char *argv2[] = {host_only, NULL};
    memset(&err, 0, sizeof(err));
    rc = run(f, f->sbx, argv2, &r, &err, NULL, NULL);
    assert_int_equal(rc, -ENOENT);
    assert_non_null(strstr(err.msg, "execve"));
    assert_no_children();

    /* cwd the function's user may not enter: EACCES at chdir, after the user switch. */
    char *argv3[] = {"/bin/true", NULL};
    static const char *root_only = "/root";
    struct stat st;
    if (stat(root_only, &st) == 0 && !(st.st_mode & S_IXOTH)) {
        memset(&err, 0, sizeof(err));
        int out[2];
        assert_int_equal(pipe2(out, O_CLOEXEC), 0);
        static char *const envp[] = {NULL};
        gl_sbx_spec_t spec = {.path = "/bin/true",
                              .argv = argv3,
                              .envp = envp,
                              .cwd = root_only,
                              .stdout_fd = out[1],
                              .stderr_fd = out[1],
                              .code_dir = f->code,
                              .tmp_mb = 16};
        pid_t pid;
        int pidfd;
        rc = gl_sbx_spawn(f->sbx, &spec, &pid, &pidfd, &err);
        close(out[0]);
        close(out[1]);
        assert_int_equal(rc, -EACCES);
        assert_non_null(strstr(err.msg, "chdir /root"));
        assert_no_children();
    }
}

static void test_fresh_tmp_per_environment(void **state)
{
    fixture_t *f = sandbox_fixture(state);
    result_t r;
    run_sh(f, "echo one > /tmp/mark; ls /tmp", &r);
    assert_string_equal(r.out.data, "mark\n");
    result_free(&r);
    run_sh(f, "ls -A /tmp | wc -l", &r);
    assert_string_equal(r.out.data, "0\n");
    result_free(&r);
}

static void test_dir_usage(void **state)
{
    (void)state;
    char dir[] = "/tmp/gl-usage-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof(path), "%s/sub", dir);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof(path), "%s/sub/file", dir);
    static char block[1 << 20];
    memset(block, 'x', sizeof(block));
    assert_int_equal(gl_write_file_atomic(path, block, sizeof(block)), 0);
    uint64_t bytes = 0;
    assert_int_equal(gl_sbx_dir_usage(dir, &bytes), 0);
    assert_true(bytes >= sizeof(block) && bytes < sizeof(block) + (1 << 16));
    assert_int_equal(gl_sbx_dir_usage("/nonexistent/dir", &bytes), -ENOENT);
    gl_rm_rf(dir);
}

/* ---- fixture ---- */

static int group_setup(void **state)
{
    static fixture_t f;
    memset(&f, 0, sizeof(f));
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
        return -1;
    /* Not under /tmp: the state dir must be visible in the new root for hiding to matter
     * (/var/tmp is bound read-only into the new /var). */
    snprintf(f.root, sizeof(f.root), "/var/tmp/gl-sbx-test-XXXXXX");
    if (!mkdtemp(f.root))
        return -1;
    chmod(f.root, 0755);
    snprintf(f.code, sizeof(f.code), "%s/code", f.root);
    snprintf(f.state, sizeof(f.state), "%s/state", f.root);
    if (mkdir(f.code, 0755) < 0 || mkdir(f.state, 0755) < 0)
        return -1;
    char path[160];
    snprintf(path, sizeof(path), "%s/handler.txt", f.code);
    write_text(path, "hello from the code dir\n");
    snprintf(path, sizeof(path), "%s/secret", f.state);
    write_text(path, "other functions' code\n");
    snprintf(path, sizeof(path), "%s/handler.txt", f.state);
    write_text(path, "#!/bin/sh\n");
    chmod(path, 0755);
    *state = &f;
    if (geteuid() != 0) {
        f.skip_reason = "not root: the sandbox tests need root";
        return 0;
    }
    gl_err_t err = {0};
    gl_sbx_opts_t opts = {.hide_dir = f.state};
    if (gl_sbx_open(&f.sbx, &opts, &err) < 0) {
        fprintf(stderr, "gl_sbx_open: %s\n", err.msg);
        return -1;
    }
    if (!gl_sbx_has_mount_ns(f.sbx))
        f.skip_reason = "the kernel grants no namespaces here";
    return 0;
}

static int group_teardown(void **state)
{
    fixture_t *f = *state;
    gl_sbx_close(f->sbx);
    gl_rm_rf(f->root);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_namespaces_and_pid_1),
        cmocka_unit_test(test_var_task_is_code_and_read_only),
        cmocka_unit_test(test_tmp_is_private_tmpfs_of_given_size),
        cmocka_unit_test(test_state_dir_hidden),
        cmocka_unit_test(test_user_rlimits_no_new_privs),
        cmocka_unit_test(test_environment_runs_as_its_own_uid),
        cmocka_unit_test(test_seccomp_refuses_and_allows),
        cmocka_unit_test(test_isolate_network_has_only_loopback),
        cmocka_unit_test(test_isolate_network_passes_runtime_api_listener),
        cmocka_unit_test(test_no_listener_without_isolated_network),
        cmocka_unit_test(test_before_release_runs_before_child_proceeds),
        cmocka_unit_test(test_failing_steps_are_named),
        cmocka_unit_test(test_fresh_tmp_per_environment),
        cmocka_unit_test(test_dir_usage),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
