/* SPDX-License-Identifier: MIT */
/*
 * sbx.h: starting an execution environment's process. The daemon forks; the child sets
 * itself up (own session and process group, parent-death signal, stdio, working directory,
 * descriptors) and execs the runtime. A failing step is reported to the parent through a
 * close-on-exec pipe, so gl_sbx_spawn returns only after exec succeeded or failed.
 * The caller watches the child through the returned pidfd and reaps only its own pid.
 */
#ifndef GALLEY_SBX_H
#define GALLEY_SBX_H

#include <sys/types.h>

#include "galley/err.h"

typedef struct gl_sbx_spec {
    const char *path;   /* executable */
    char *const *argv;
    char *const *envp;
    const char *cwd;
    int stdout_fd;      /* child's ends of the output pipes */
    int stderr_fd;
} gl_sbx_spec_t;

/**
 * Start the process. On success *pid and *pidfd are set (pidfd is close-on-exec, owned by
 * the caller). If exec fails, the child is reaped here and err says which step failed:
 * err->code is the child's errno (ENOENT, EACCES, ...).
 */
int gl_sbx_spawn(const gl_sbx_spec_t *spec, pid_t *pid, int *pidfd, gl_err_t *err);

/** Signal the whole process group of an environment (its session leader is pid). */
int gl_sbx_kill_group(pid_t pid, int sig);

#endif
