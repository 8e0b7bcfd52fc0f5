/* SPDX-License-Identifier: MIT */
/*
 * env_release.c: the end of an environment's life. Watches its runtime's process (the pidfd:
 * its exit becomes the EXITED event), closes its Runtime API listener and its handles at
 * teardown, and frees it once the last of them has closed, giving back its uid, its log
 * stream and its /tmp. When to stop is env.c's state machine; this file only lets go.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "galley/sbx.h"
#include "internal.h"
#include "telemetry.h"

static void maybe_free(gl_env_t *env);

/* A close (or work off the loop) in flight keeps env from being freed: env->handles_open. */
void gl_env_hold(gl_env_t *env)
{
    env->handles_open++;
}

void gl_env_unhold(gl_env_t *env)
{
    env->handles_open--;
    maybe_free(env);
}

static void on_rapi_closed(void *arg)
{
    gl_env_t *env = arg;
    env->rapi = NULL;
    gl_env_unhold(env);
}

void gl_env_close_rapi(gl_env_t *env)
{
    if (env->rapi && !env->rapi_closing) {
        env->rapi_closing = 1;
        env->parked = NULL; /* aborted by the close */
        gl_env_hold(env);
        gl_http_server_close(env->rapi, on_rapi_closed, env);
    }
}

/* Free once torn down and every handle (and the Runtime API listener) has closed. */
static void maybe_free(gl_env_t *env)
{
    if (!env->torn_down || env->handles_open > 0)
        return;
    gl_pool_t *pool = env->pool;
    int was_provisioned = env->provisioned, initialized = env->initialized;
    gl_pool_on_env_warm(env, 0); /* started by gl_sched_warm and never ready */
    gl_logs_lines_free(&env->out_lines);
    gl_logs_lines_free(&env->err_lines);
    gl_logs_lines_free(&env->ext.out_lines);
    gl_logs_stream_close(&env->log);
    if (env->pidfd >= 0)
        close(env->pidfd);
    if (env->tmp_dir) /* <run>/<id>/tmp, then <run>/<id>: off the loop, it may be big */
        gl_rm_rf_later(env->sched->loop, env->tmp_dir, 1);
    /* Every process of the environment is gone: its uid may serve another one. */
    gl_sbx_user_release(env->sched->opts.sbx, &env->user);
    gl_env_ext_free(env);
    gl_fn_unref(env->fn);
    free(env);
    gl_pool_on_env_freed(pool, was_provisioned, initialized);
}

static void on_handle_closed(uv_handle_t *h)
{
    gl_env_unhold(h->data);
}

static void close_handle(gl_env_t *env, uv_handle_t *h)
{
    if (h->loop && !uv_is_closing(h)) {
        gl_env_hold(env);
        uv_close(h, on_handle_closed);
    }
}

/* DEAD: release everything; the last close callback frees the environment. */
void gl_env_teardown(gl_env_t *env)
{
    gl_env_flush_output(env);
    gl_env_tel_close(env);
    gl_env_close_rapi(env);
    gl_pool_unlink(env->pool, env);
    if (env->cg) {
        gl_cg_destroy(env->cg);
        env->cg = NULL;
    }
    env->torn_down = 1;
    close_handle(env, (uv_handle_t *)&env->exit_poll);
    close_handle(env, (uv_handle_t *)&env->out);
    close_handle(env, (uv_handle_t *)&env->err);
    close_handle(env, (uv_handle_t *)&env->ext.out);
    close_handle(env, (uv_handle_t *)&env->timer);
    close_handle(env, (uv_handle_t *)&env->log_flush); /* when an invoke's lines were held */
    close_handle(env, (uv_handle_t *)&env->ext.idle); /* env_ext.c's, when it was opened */
    maybe_free(env);
}

static void on_exit_readable(uv_poll_t *p, int status, int events)
{
    gl_env_t *env = p->data;
    int ws = 0;
    pid_t r = waitpid(env->pid, &ws, WNOHANG);
    if (r == 0)
        return;
    uv_poll_stop(p);
    env->reaped = 1;
    env->exit_status = r < 0 ? 0 : ws;
    gl_env_handle(env, GL_ENV_EV_EXITED, NULL);
}

/* Start reading the runtime's output pipes and watching its pidfd (parent ends given). */
void gl_env_watch(gl_env_t *env, int out_fd, int err_fd)
{
    gl_env_read_output(env, out_fd, err_fd);
    uv_poll_init(env->sched->loop, &env->exit_poll, env->pidfd);
    env->exit_poll.data = env;
    uv_poll_start(&env->exit_poll, UV_READABLE, on_exit_readable);
}
