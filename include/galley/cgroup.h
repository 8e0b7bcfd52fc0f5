/* SPDX-License-Identifier: MIT */
/*
 * cgroup.h: one control group per execution environment, on cgroup v2, cgroup v1 (memory and
 * freezer controllers) or neither, behind one small interface.
 *
 * The mode is detected once at start (gl_cg_system_open). Every group galley makes lives under
 * one folder of its own, "galley-<daemon pid>", beneath the daemon's own cgroup in each
 * hierarchy it uses (read from /proc/self/cgroup); folders left by daemons that are no longer
 * running are emptied and removed at start, and the daemon's own folder at exit.
 * "None" is a do-nothing implementation plus an RSS watchdog and SIGSTOP/SIGCONT, so callers
 * never test the mode.
 */
#ifndef GALLEY_CGROUP_H
#define GALLEY_CGROUP_H

#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "galley/err.h"

typedef enum gl_cg_mode {
    GL_CG_NONE = 0, /* no cgroup rights: RSS watchdog, SIGSTOP freezing */
    GL_CG_V1,       /* memory + freezer controllers of cgroup v1 (hybrid hosts) */
    GL_CG_V2,       /* unified hierarchy: memory.max, memory.peak, cgroup.freeze, cgroup.kill */
} gl_cg_mode_t;

typedef struct gl_cg_system gl_cg_system_t;
typedef struct gl_cg gl_cg_t;

typedef struct gl_cg_opts {
    /** Where cgroup file systems are mounted (tests point it at a fake tree). */
    const char *mount_root;      /* default "/sys/fs/cgroup" */
    /** /proc/self/cgroup to read (tests: a file of their own). */
    const char *self_cgroup;     /* default "/proc/self/cgroup" */
    /** Force a mode (e.g. GL_CG_NONE for --no-cgroups); -1 to detect. */
    int force_mode;
} gl_cg_opts_t;

/**
 * Detect the mode, find the daemon's own groups, clean folders of dead daemons, create this
 * daemon's folder. Never fails for lack of rights: it falls back to GL_CG_NONE and puts the
 * reason in *why (static text or NULL) for the caller to log once.
 */
int gl_cg_system_open(gl_cg_system_t **out, uv_loop_t *loop, const gl_cg_opts_t *opts,
                      const char **why, gl_err_t *err);
gl_cg_mode_t gl_cg_system_mode(const gl_cg_system_t *s);
const char *gl_cg_mode_name(gl_cg_mode_t m);
/** Remove this daemon's folder (every group must be destroyed first; stragglers are killed).
 *  In NONE mode with a loop, s is freed by the close callback of its timer: run the loop once
 *  more before uv_loop_close. */
void gl_cg_system_close(gl_cg_system_t *s);

/** Create the group of one environment, named id ([A-Za-z0-9._-], not "daemon"), with a
 *  memory limit and no swap (memory_bytes 0: no limit). */
int gl_cg_create(gl_cg_system_t *s, const char *id, uint64_t memory_bytes, gl_cg_t **out,
                 gl_err_t *err);
/** Set the memory limit of a group made without one (a spare's, when a function takes it):
 *  the writes of gl_cg_create in the same order, which only ever lower the limit. */
int gl_cg_set_limit(gl_cg_t *cg, uint64_t memory_bytes, gl_err_t *err);
/** v2: an O_DIRECTORY fd for clone3's CLONE_INTO_CGROUP, else -1. Owned by the group. */
int gl_cg_clone_fd(const gl_cg_t *cg);
/** Put pid in the group (v1, or v2 when clone3 could not); for NONE, start watching pid's
 *  process group against the limit. Called by the parent before it releases the child. */
int gl_cg_attach(gl_cg_t *cg, pid_t pid);
/** Stop every process of the group (frozen, not killed) / let them run again. Both are
 *  synchronous: on return the group is frozen (bounded wait) or thawed. */
int gl_cg_freeze(gl_cg_t *cg);
int gl_cg_thaw(gl_cg_t *cg);
/** The same without waiting: one write (or signal) that starts freezing / thawing. The
 *  daemon's hot path uses these: the kernel finishes on its own, and a thaw cancels a freeze
 *  still in progress. */
int gl_cg_freeze_request(gl_cg_t *cg);
int gl_cg_thaw_request(gl_cg_t *cg);
/** SIGKILL every process in the group (including ones that left the process group). */
int gl_cg_kill(gl_cg_t *cg);
/** Peak memory use in bytes since creation (v2 memory.peak or polled memory.current,
 *  v1 memory.max_usage_in_bytes, NONE: the watchdog's highest RSS sample). */
uint64_t gl_cg_peak(gl_cg_t *cg);
/** Times the kernel (or the watchdog) killed a process for exceeding the limit. */
unsigned gl_cg_oom_kills(gl_cg_t *cg);
/** Remove the group; kills what is left first. Frees cg. */
void gl_cg_destroy(gl_cg_t *cg);

#endif
