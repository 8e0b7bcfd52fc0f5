/* SPDX-License-Identifier: MIT */
/*
 * env_info.c: what an execution environment says about itself to the rest of the scheduler and
 * to galley's control API, without changing it: whether it takes work, whether it must retire,
 * its idle timeout, its JSON for `galley ps`, and the wording of a runtime's exit. env.c owns
 * the state machine that changes it.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "galley/log.h"
#include "galley/sbx.h"
#include "galley/util.h"
#include "internal.h"

int gl_env_takes_work(const gl_env_t *env)
{
    return !env->invoke && (env->state == GL_ENV_IDLE || env->state == GL_ENV_RESPONDED);
}

int gl_env_must_retire(const gl_env_t *env)
{
    return env->pool->retired || env->sched->closing || env->generation != env->pool->generation;
}

uint64_t gl_env_idle_timeout(const gl_env_t *env)
{
    return gl_sched_idle_timeout(env->sched, env->fn->cfg.name);
}

json_t *gl_env_json(const gl_env_t *env)
{
    const char *status;
    switch (env->state) {
    case GL_ENV_STARTING:
    case GL_ENV_INITIALIZING: status = "initializing"; break;
    case GL_ENV_IDLE: status = env->frozen ? "frozen" : "idle"; break;
    case GL_ENV_RESPONDED: status = env->invoke || env->ext.post_pending ? "busy" : "idle"; break;
    case GL_ENV_INVOKING: status = "busy"; break;
    default: status = "stopping";
    }
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:I, s:i, s:i}", "id", env->id,
                          "function", env->fn->cfg.name, "version", env->fn->version, "status",
                          status, "state", gl_env_state_name(env->state), "pid", (int)env->pid,
                          "age_ms", (json_int_t)((gl_mono_ns() - env->spawned_ns) / 1000000),
                          "invokes", (int)env->invokes, "uid", (int)env->user.uid);
    json_object_set_new(o, "max_memory_mb", json_integer(env->max_memory_mb));
    json_object_set_new(o, "from_spare", json_boolean(env->from_spare));
    return o;
}

void gl_env_exit_reason(int status, char *out, size_t len)
{
    if (WIFEXITED(status)) {
        if (WEXITSTATUS(status) == 0)
            snprintf(out, len, "Runtime exited without providing a reason");
        else
            snprintf(out, len, "Runtime exited with error: exit status %d", WEXITSTATUS(status));
        return;
    }
    int sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    const char *name;
    switch (sig) {
    case SIGKILL: name = "killed"; break;
    case SIGSEGV: name = "segmentation fault"; break;
    case SIGABRT: name = "aborted"; break;
    case SIGTERM: name = "terminated"; break;
    case SIGBUS: name = "bus error"; break;
    case SIGFPE: name = "floating point exception"; break;
    case SIGILL: name = "illegal instruction"; break;
    case SIGINT: name = "interrupt"; break;
    default: name = NULL;
    }
    if (name)
        snprintf(out, len, "Runtime exited with error: signal: %s", name);
    else
        snprintf(out, len, "Runtime exited with error: signal %d", sig);
}

/*
 * Whether the runtime handles SIGTERM (SigCgt in /proc). One that does not would be killed by
 * it anyway, or, as PID 1 of its namespace, ignore it: either way waiting is pointless.
 */
int gl_env_catches_sigterm(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    unsigned long long mask = 0;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "SigCgt:", 7) == 0) {
            mask = strtoull(line + 7, NULL, 16);
            break;
        }
    }
    fclose(f);
    return (mask >> (SIGTERM - 1)) & 1;
}

/*
 * Without a mount namespace /tmp is a plain directory: its EphemeralStorage size is measured
 * after each invoke on the work queue (a walk of many files would stall the loop), and an
 * environment over it is stopped (its files go with it).
 */
typedef struct tmp_check {
    uv_work_t work;
    gl_env_t *env;
    uint64_t used;
    int rc;
} tmp_check_t;

static void on_tmp_measure(uv_work_t *w)
{
    tmp_check_t *t = w->data;
    t->rc = gl_sbx_dir_usage(t->env->tmp_dir, &t->used); /* tmp_dir lives while held */
}

static void on_tmp_measured(uv_work_t *w, int status)
{
    tmp_check_t *t = w->data;
    gl_env_t *env = t->env;
    env->tmp_checking = 0;
    if (status == 0 && t->rc == 0 && !env->torn_down && !env->tmp_over &&
        t->used > (uint64_t)env->fn->cfg.ephemeral_mb << 20) {
        gl_log_warn("env=%.8s fn=%s: /tmp holds %llu MB, over its %d MB: stopping the environment",
                    env->id, env->fn->cfg.name, (unsigned long long)(t->used >> 20),
                    env->fn->cfg.ephemeral_mb);
        env->tmp_over = 1;
        if ((env->state == GL_ENV_IDLE || env->state == GL_ENV_RESPONDED) && !env->invoke)
            gl_env_handle(env, GL_ENV_EV_SHUTDOWN, NULL); /* else when it goes idle */
    }
    free(t);
    gl_env_unhold(env);
}

void gl_env_check_tmp(gl_env_t *env)
{
    tmp_check_t *t;
    if (!env->tmp_dir || env->tmp_checking || env->tmp_over || !(t = calloc(1, sizeof(*t))))
        return;
    t->env = env;
    t->work.data = t;
    gl_env_hold(env);
    if (uv_queue_work(env->sched->loop, &t->work, on_tmp_measure, on_tmp_measured) < 0) {
        free(t);
        gl_env_unhold(env);
        return;
    }
    env->tmp_checking = 1;
}
