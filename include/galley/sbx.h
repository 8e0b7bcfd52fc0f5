/* SPDX-License-Identifier: MIT */
/*
 * sbx.h: starting an execution environment's process inside its sandbox.
 *
 * gl_sbx_open runs once at start: it finds out what the kernel lets galley do (namespaces,
 * switching user), resolves the user functions run as, and builds the seccomp filter (exported
 * to BPF in a memfd, so the child only loads it). gl_sbx_spawn then clones the child with its
 * namespaces (clone3, into its cgroup when one is given), and the child sets itself up before
 * exec, in this order: own session, parent-death signal, wait for the parent's release (so the
 * parent can put it in its cgroup), hostname, loopback up and the Runtime API listener
 * (network namespace), mounts (code read-only at /var/task, galley's runtime at /var/runtime,
 * the interpreter at /var/lang, a private size-limited /tmp, a fresh /proc, the state dir
 * hidden), rlimits, user switch, stdio, close stray descriptors, no_new_privs,
 * seccomp last, exec. A failing step is reported to the parent through a close-on-exec pipe,
 * so gl_sbx_spawn returns only after exec succeeded or failed. docs/sandbox.md says why each
 * step sits where it does and what the seccomp profile refuses.
 */
#ifndef GALLEY_SBX_H
#define GALLEY_SBX_H

#include <stdint.h>
#include <sys/types.h>

#include "galley/err.h"

typedef struct gl_sbx gl_sbx_t;

typedef struct gl_sbx_opts {
    int no_namespaces;     /* never use namespaces (debugging, or a kernel that refuses) */
    int isolate_network;   /* --isolate-network: a network namespace with only loopback */
    const char *run_as;    /* "user", "uid" or "uid:gid"; NULL = "nobody" when root, else self */
    const char *hide_dir;  /* a host directory the function must not see (the state dir) */
    int no_seccomp;        /* debugging only */
    /* --uid-range FIRST:COUNT: each environment runs as a uid of its own from this range (its
     * gid the same number), so its Runtime API can tell its processes from everyone else's and
     * RLIMIT_NPROC is its own. count 0: GL_SBX_UID_RANGE_* when galley is root and run_as is
     * NULL; none otherwise. A root daemon given both run_as and a range refuses to start. */
    uint32_t uid_first;
    uint32_t uid_count;
} gl_sbx_opts_t;

#define GL_SBX_UID_RANGE_FIRST 100000u
#define GL_SBX_UID_RANGE_COUNT 65536u
#define GL_SBX_UID_RANGE_MAX (1u << 20)

/** Parse "FIRST:COUNT" (FIRST >= 1, 1 <= COUNT <= GL_SBX_UID_RANGE_MAX, the range below
 *  uid 4294967295). 0 or -EINVAL. */
int gl_sbx_parse_uid_range(const char *text, uint32_t *first, uint32_t *count);

/** Detect and prepare; logs (gl_log_info/warn) once what the sandbox will and will not do. */
int gl_sbx_open(gl_sbx_t **out, const gl_sbx_opts_t *opts, gl_err_t *err);
void gl_sbx_close(gl_sbx_t *s);
/** 1 when environments get a mount namespace, so the paths below apply:
 *  /var/task (code), /var/runtime (runtime_dir), /var/lang (lang_dir), /opt, /tmp. */
int gl_sbx_has_mount_ns(const gl_sbx_t *s);
/** 1 when environments get a network namespace of their own (--isolate-network, granted by
 *  the kernel): the host's 127.0.0.1 is out of their reach, so their Runtime API must be
 *  served on the listener gl_sbx_spawn hands back (spec->rapi_fd). s may be NULL (0). */
int gl_sbx_isolates_network(const gl_sbx_t *s);
/** A non-blocking TCP socket (IPv4) made in the network namespace of process pid, so that a
 *  connection to its 127.0.0.1 reaches what listens inside an isolated environment (the
 *  Telemetry API's subscribers). A negative errno when the namespace cannot be entered. */
int gl_sbx_netns_socket(pid_t pid);

/** Who one environment's processes run as. */
typedef struct gl_sbx_user {
    uid_t uid;
    gid_t gid;
    int own; /* taken from the uid range: no other environment has it until released */
} gl_sbx_user_t;

/**
 * The user for a new environment: the next free uid of the range (round robin, so a released
 * uid is the last to come back), or, without a range, the one user every environment shares
 * (--run-as, or galley's own when it is not root; s NULL: galley's own). Loop thread only: the
 * range's allocation map is the one part of gl_sbx_t that changes after open. -EAGAIN (with
 * err) when every uid of the range is taken. Pass out to gl_sbx_user_release once the
 * environment's processes are all gone.
 */
int gl_sbx_user_acquire(const gl_sbx_t *s, gl_sbx_user_t *out, gl_err_t *err);
void gl_sbx_user_release(const gl_sbx_t *s, const gl_sbx_user_t *u);
/** 1 when every environment gets a uid of its own (a range is in use). s may be NULL (0). */
int gl_sbx_user_per_env(const gl_sbx_t *s);

/** The port of the Runtime API listener inside an isolated network namespace: Lambda's. */
#define GL_SBX_RAPI_PORT 9001

typedef struct gl_sbx_spec {
    const char *path;      /* executable, as seen by the child (inside paths with a mount ns) */
    char *const *argv;
    char *const *envp;
    const char *cwd;       /* as seen by the child */
    uid_t uid;             /* the environment's user (gl_sbx_user_acquire) when the sandbox */
    gid_t gid;             /* switches user; 0: the sandbox's shared run-as user */
    int stdout_fd;         /* child's ends of the output pipes */
    int stderr_fd;
    /* file system; host paths, bound read-only when there is a mount namespace */
    const char *code_dir;    /* at /var/task */
    const char *runtime_dir; /* at /var/runtime, or NULL */
    const char *lang_dir;    /* interpreter prefix at /var/lang, or NULL */
    const char *opt_dir;     /* layers at /opt, or NULL */
    unsigned tmp_mb;         /* size of the private /tmp (tmpfs in the mount namespace) */
    /* cgroup */
    int cgroup_fd;           /* v2 directory fd for CLONE_INTO_CGROUP; <= 0 for none (fd 0 is
                                stdin, never a cgroup, so a zeroed spec means none) */
    /** Run by the parent after clone and before the child goes on (e.g. gl_cg_attach on v1);
     *  a failure kills and reaps the child and fails the spawn. May be NULL. */
    int (*before_release)(pid_t pid, void *arg);
    void *before_release_arg;
    /**
     * Out, may be NULL. When the sandbox isolates the network, the child listens on
     * 127.0.0.1:GL_SBX_RAPI_PORT inside its own namespace (after loopback is up, before the
     * user switch) and passes that socket to the parent: on success *rapi_fd is the
     * listening TCP socket (non-blocking, close-on-exec, owned by the caller), whose accept()
     * yields the connections made from inside the environment. It stays out of the
     * function's reach (the child's copy is closed at exec). -1 when the network is not
     * isolated, and after any failure.
     */
    int *rapi_fd;
    /** A spare's control socket (its end of a socket pair), or <= 0 for none. The child gets
     *  it as fd 3, the only descriptor above stdio that survives exec; the bootstrap reads its
     *  function's environment from it and closes it (src/scheduler/spares.c). */
    int ctl_fd;
} gl_sbx_spec_t;

/**
 * Start the process. On success *pid (host pid) and *pidfd are set (pidfd is close-on-exec,
 * owned by the caller). If a setup step or exec fails, the child is reaped here and err says
 * which step failed: err->code is the child's errno (ENOENT, EACCES, ...).
 * s may be NULL: no namespaces, no user switch, no seccomp (unit tests).
 */
int gl_sbx_spawn(const gl_sbx_t *s, const gl_sbx_spec_t *spec, pid_t *pid, int *pidfd,
                 gl_err_t *err);

/**
 * Disk use of a directory tree in bytes (allocated blocks, symbolic links not followed).
 * Without a mount namespace /tmp is a plain directory, not a tmpfs of tmp_mb: the caller
 * checks its size with this after each invoke. 0 or a negative errno.
 */
int gl_sbx_dir_usage(const char *dir, uint64_t *bytes);

/** Where a spare's function lives: what gl_sbx_specialize puts into its mount namespace. */
typedef struct gl_sbx_place {
    const char *code_dir; /* host path, bound read-only at /var/task (replacing the empty one) */
    const char *opt_dir;  /* host path bound read-only at /opt, or NULL */
    unsigned tmp_mb;      /* new size of /tmp and /dev/shm; 0: keep the spare's */
} gl_sbx_place_t;

/**
 * Give a running spare (started with an empty code_dir, no opt_dir) its function's files: the
 * code at /var/task (mounted over the empty one) and the layers at /opt, read-only, and /tmp
 * and /dev/shm resized. The
 * trees are cloned here (open_tree) and a short-lived helper process joins the spare's mount
 * namespace (setns on pidfd) to move them in: the spare itself is already confined (seccomp
 * refuses mount). Needs a mount namespace without a user namespace (a root daemon): -ENOTSUP
 * otherwise. Blocks until the helper is done (about a millisecond). 0 or a negative errno
 * with err naming the step.
 */
int gl_sbx_specialize(const gl_sbx_t *s, int pidfd, const gl_sbx_place_t *p, gl_err_t *err);
/** 1 when gl_sbx_specialize can work with this sandbox. s may be NULL (0). */
int gl_sbx_can_specialize(const gl_sbx_t *s);

/** Signal the whole process group of an environment (its session leader is pid). */
int gl_sbx_kill_group(pid_t pid, int sig);

#endif
