/* SPDX-License-Identifier: MIT */
/*
 * cgroup_internal.h: what cgroup.c (dispatch, detection, the daemon's folder), cgroup_fs.c
 * (file helpers), cgroup_v1.c, cgroup_v2.c and cgroup_none.c share, and nothing else sees.
 *
 * Every cgroup file name galley reads or writes is listed here, once, for both versions.
 * The detection is split so it can be tested without a kernel: cg_probe() only calls statfs,
 * gl_cg_parse_self() and gl_cg_plan() are pure functions of their inputs.
 */
#ifndef GALLEY_SANDBOX_CGROUP_INTERNAL_H
#define GALLEY_SANDBOX_CGROUP_INTERNAL_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "galley/cgroup.h"

/* File system magic numbers (linux/magic.h), for statfs f_type. */
#define CG_MAGIC_CGROUP1 0x27e0ebL
#define CG_MAGIC_CGROUP2 0x63677270L
#define CG_MAGIC_TMPFS 0x01021994L

/* cgroup v2 files (the unified hierarchy). */
#define CG2_PROCS "cgroup.procs"
#define CG2_CONTROLLERS "cgroup.controllers"
#define CG2_SUBTREE_CONTROL "cgroup.subtree_control"
#define CG2_FREEZE "cgroup.freeze"
#define CG2_EVENTS "cgroup.events" /* "populated 0|1", "frozen 0|1" */
#define CG2_KILL "cgroup.kill"     /* Linux >= 5.14 */
#define CG2_MEMORY_MAX "memory.max"
#define CG2_MEMORY_SWAP_MAX "memory.swap.max"
#define CG2_MEMORY_OOM_GROUP "memory.oom.group"
#define CG2_MEMORY_PEAK "memory.peak" /* Linux >= 5.19 */
#define CG2_MEMORY_CURRENT "memory.current"
#define CG2_MEMORY_EVENTS "memory.events" /* "oom_kill N" */

/* cgroup v1 files (memory and freezer hierarchies). */
#define CG1_PROCS "cgroup.procs"
#define CG1_TASKS "tasks"
#define CG1_MEMORY_LIMIT "memory.limit_in_bytes"
#define CG1_MEMSW_LIMIT "memory.memsw.limit_in_bytes" /* only with swap accounting */
#define CG1_MEMORY_MAX_USAGE "memory.max_usage_in_bytes"
#define CG1_MEMORY_OOM_CONTROL "memory.oom_control" /* "oom_kill N" (Linux >= 4.13) */
#define CG1_FREEZER_STATE "freezer.state"           /* THAWED, FREEZING, FROZEN */

/* Where each hierarchy sits beneath mount_root on a v1 or hybrid host. */
#define CG1_MEMORY_MOUNT "memory"
#define CG1_FREEZER_MOUNT "freezer"
#define CG2_HYBRID_MOUNT "unified"

/* The leaf a v2 daemon moves itself into when its own group must have no processes. */
#define CG2_DAEMON_LEAF "daemon"
#define CG_FOLDER_PREFIX "galley-"

/* Bounded waits. */
#define CG_FREEZE_WAIT_MS 1000
#define CG_EMPTY_WAIT_MS 2000
#define CG_WATCHDOG_MS 100

/* ---- detection (pure) ---- */

/** The daemon's own groups, from /proc/self/cgroup. Paths start with '/'; empty = absent. */
typedef struct cg_self {
    char v2[PATH_MAX];      /* "0::<path>" */
    char memory[PATH_MAX];  /* "<n>:...memory...:<path>" */
    char freezer[PATH_MAX]; /* "<n>:...freezer...:<path>" */
} cg_self_t;

/** Parse the text of /proc/self/cgroup. -EINVAL on a malformed line or an over-long path. */
int gl_cg_parse_self(const char *text, cg_self_t *out);

/** statfs f_type of mount_root and of its memory, freezer and unified subdirectories
 *  (0 where a directory is missing). */
typedef struct cg_probe {
    long root, memory, freezer, unified;
} cg_probe_t;

void cg_probe(const char *mount_root, cg_probe_t *out);

/** What to use: the daemon's own group in each hierarchy, or NONE and why. */
typedef struct cg_plan {
    gl_cg_mode_t mode;
    /* V2: the daemon's unified group. V1: its memory group. */
    char memory_dir[PATH_MAX];
    /* V1 only: its freezer group, a v1 freezer directory, or on a hybrid host without a v1
     * freezer its group in the cgroup2 mount (freezer_v2: cgroup.freeze and cgroup.kill). */
    char freezer_dir[PATH_MAX];
    bool freezer_v2;
    /* V2: the memory controller must be available (false only for tests of the v2 core). */
    bool need_memory;
    const char *why; /* NONE: static text */
} cg_plan_t;

/** Decide the mode from the probe and the parsed /proc/self/cgroup (pure). */
void gl_cg_plan(const cg_probe_t *probe, const cg_self_t *self, const char *mount_root,
                cg_plan_t *out);

/** The (file, value) pairs that set a memory limit with no swap, in the order to write them. */
typedef struct cg_write {
    const char *file;
    char value[32];
    bool optional; /* a missing file (older kernel, no swap accounting) is not an error */
} cg_write_t;

#define CG_MAX_WRITES 4
size_t gl_cg_v1_limit_writes(uint64_t bytes, cg_write_t out[CG_MAX_WRITES]);
size_t gl_cg_v2_limit_writes(uint64_t bytes, cg_write_t out[CG_MAX_WRITES]);

/** Process group (field 5) from the text of /proc/<pid>/stat, and its state letter; -EINVAL
 *  when malformed. */
int gl_cg_parse_stat(const char *text, char *state, pid_t *pgrp);

/* ---- the objects ---- */

typedef struct cg_ops cg_ops_t;

struct gl_cg_system {
    gl_cg_mode_t mode;
    /* private */
    const cg_ops_t *ops;
    uv_loop_t *loop;
    pid_t pid;
    char own_memory[PATH_MAX];  /* the daemon's group (V2: unified, V1: memory hierarchy) */
    char own_freezer[PATH_MAX]; /* V1: freezer hierarchy (or cgroup2 with freezer_v2) */
    char base_memory[PATH_MAX]; /* own_memory/galley-<pid> */
    char base_freezer[PATH_MAX];
    bool freezer_v2;
    bool need_memory;
    bool moved_daemon; /* V2: the daemon lives in base_memory/daemon */
    bool enabled_own;  /* V2: we wrote +memory to own_memory's subtree_control */
    gl_cg_t *groups;   /* every live group, for close and the watchdog */
    /* NONE: the RSS watchdog */
    uv_timer_t timer;
    bool timer_init;
    bool timer_active;
    long page_size;
};

struct gl_cg {
    gl_cg_system_t *sys;
    gl_cg_t *prev, *next;
    char id[128];
    uint64_t limit;             /* bytes; 0 = no limit */
    char memory_dir[PATH_MAX];  /* V2: the group; V1: memory hierarchy */
    char freezer_dir[PATH_MAX]; /* V1 only */
    int dir_fd;                 /* V2: O_DIRECTORY fd for CLONE_INTO_CGROUP, else -1 */
    pid_t pgid;                 /* NONE: process group watched (0 = none); others: last attached */
    uint64_t peak;              /* highest sample seen (v2 without memory.peak, NONE) */
    int peak_fd;                /* the sampled peak file, open after its first read, or -1 */
    unsigned oom_kills;         /* NONE: watchdog kills */
    uint64_t sample;            /* NONE: RSS summed during the current watchdog pass */
};

struct cg_ops {
    /** Make the daemon's folders (base_*) from plan; s->own_* are set. On failure the caller
     *  removes what was made with teardown and falls back to NONE with err's text. */
    int (*setup)(gl_cg_system_t *s, const cg_plan_t *plan, gl_err_t *err);
    void (*teardown)(gl_cg_system_t *s);
    int (*create)(gl_cg_t *cg, gl_err_t *err);
    int (*attach)(gl_cg_t *cg, pid_t pid);
    int (*freeze)(gl_cg_t *cg);
    int (*thaw)(gl_cg_t *cg);
    int (*kill)(gl_cg_t *cg);
    uint64_t (*peak)(gl_cg_t *cg);
    unsigned (*oom_kills)(gl_cg_t *cg);
    /** Kill what is left and remove the directories (cg itself is freed by the caller). */
    void (*destroy)(gl_cg_t *cg);
};

/* Each implementation file defines static functions named after the ops and ends with
 * CG_OPS_DEFINE(gl_cg_<mode>_ops), so the three tables cannot drift apart. */
#define CG_OPS_DEFINE(name)                                                                        \
    const cg_ops_t name = {                                                                        \
        .setup = setup,                                                                            \
        .teardown = teardown,                                                                      \
        .create = create,                                                                          \
        .attach = attach,                                                                          \
        .freeze = freeze,                                                                          \
        .thaw = thaw,                                                                              \
        .kill = kill_all,                                                                          \
        .peak = peak,                                                                              \
        .oom_kills = oom_kills,                                                                    \
        .destroy = destroy,                                                                        \
    }

extern const cg_ops_t gl_cg_v1_ops;
extern const cg_ops_t gl_cg_v2_ops;
extern const cg_ops_t gl_cg_none_ops;

/** Test hook: open from a given probe instead of statfs (opts->mount_root is still used). */
int gl_cg_system_open_probed(gl_cg_system_t **out, uv_loop_t *loop, const gl_cg_opts_t *opts,
                             const cg_probe_t *probe, const char **why, gl_err_t *err);
/** Test hook: open with a ready plan (e.g. the v2 core on this host's cgroup2 mount). */
int gl_cg_system_open_plan(gl_cg_system_t **out, uv_loop_t *loop, const cg_plan_t *plan,
                           const char **why, gl_err_t *err);

/* ---- cgroup_fs.c: file helpers; all return 0 / a count or a negative errno ---- */

/** mkdir dir (0755); one left with this name by an earlier process is removed first, so
 *  the group starts empty. 0, or a negative errno with err set. */
int cg_make_fresh_dir(const char *dir, gl_err_t *err);
/** "dir/file" into out; -ENAMETOOLONG when it does not fit. */
int cg_path(char out[PATH_MAX], const char *dir, const char *file);
/** open(O_WRONLY|O_CLOEXEC), one write of value, close. */
int cg_write(const char *dir, const char *file, const char *value);
/** Read at most len-1 bytes, NUL-terminated; returns the length. */
int cg_read(const char *dir, const char *file, char *buf, size_t len);
/** A number ("max" reads as UINT64_MAX). */
int cg_read_u64(const char *dir, const char *file, uint64_t *out);
/** The value of "key N" in a flat keyed file (memory.events, cgroup.events, oom_control). */
int cg_read_key(const char *dir, const char *file, const char *key, uint64_t *out);
/** Whether a space-separated list file (cgroup.controllers) holds word: 1, 0 or -errno. */
int cg_file_has_word(const char *dir, const char *file, const char *word);
/** SIGKILL every pid listed in dir/file; returns how many were listed. */
int cg_kill_listed(const char *dir, const char *file);
/** Wait (bounded) until dir/file lists no pid; -ETIMEDOUT otherwise. Missing file = empty. */
int cg_wait_empty(const char *dir, const char *file, int timeout_ms);
/** Kill everything in the tree at dir, then remove it children first (bounded). */
int cg_remove_tree(const char *dir);
/** rmdir, retried (bounded) while the kernel still reports EBUSY. */
int cg_rmdir(const char *dir);
/** Wait (bounded) until dir/procs lists no pid, then cg_rmdir dir; a failure is logged, as
 *  destroy has no caller to report it to. */
void cg_empty_and_remove(const char *dir, const char *procs);
/** The "oom_kill N" count of a flat keyed file (v1 memory.oom_control, v2 memory.events),
 *  capped at UINT32_MAX; 0 when the file or the key is missing. */
unsigned cg_read_oom_kills(const char *dir, const char *file);
/** Raise cg->peak to the number in cg->memory_dir/file if that is higher; returns cg->peak. */
uint64_t cg_sample_peak(gl_cg_t *cg, const char *file);
/** Remove folders galley-<pid> in dir whose daemon is gone; returns how many were removed.
 *  "Gone" is "no such process, or a zombie", not "not named galley": a live process with a
 *  reused pid keeps an old folder until it ends (harmless: the runtimes of a dead daemon die
 *  with it by PDEATHSIG), whereas guessing wrong the other way would kill the environments
 *  of a running daemon (or of a test binary not named galley). */
int cg_clean_stale(const char *dir, pid_t self);
/** Whether pid names a process that has not exited (zombies count as exited). */
bool cg_pid_is_alive(pid_t pid);
void cg_sleep_ms(int ms);

/* cgroup_v2.c: the v2 core, also used by V1 on hybrid hosts without a v1 freezer. */
int gl_cg2_freeze_dir(const char *dir);
int gl_cg2_thaw_dir(const char *dir);
int gl_cg2_kill_dir(const char *dir);

#endif
