/* SPDX-License-Identifier: MIT */
/*
 * env.c: one execution environment. Owns the runtime's process (pid + pidfd watched by a
 * uv_poll_t), its stdout/stderr pipes and line splitters, its log stream, its cgroup (memory
 * cap, freezing, peak), its private /tmp directory when there is no mount namespace, its
 * Runtime API listener (one loopback port per environment: the listener is the identity of
 * the caller) and one timer for the current state's deadline. Starting one is env_start.c;
 * the Runtime API's entry points are env_rapi.c; watching its process and releasing it
 * once it is torn down are env_release.c.
 *
 * gl_env_handle() is the only place env->state changes; Runtime API calls and process, timer
 * and scheduler events all become events there. The environment frees itself once its
 * process is reaped and every handle it opened has closed.
 */
#define _GNU_SOURCE
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "galley/log.h"
#include "galley/sbx.h"
#include "internal.h"
#include "telemetry.h"

#define STOP_GRACE_MS 500
#define EXT_GRACE_MS 2000 /* Lambda's shutdown limit with external extensions */
/* The runtime's share of it: 300 ms, 500 ms with an internal extension too (Lambda's). */
#define RUNTIME_SHARE_MS 300
#define RUNTIME_SHARE_INTERNAL_MS 500

static const char *const state_names[] = {
#define XX(name, text) text,
    GL_ENV_STATE_MAP(XX)
#undef XX
};
static const char *const event_names[] = {
#define XX(name, text) text,
    GL_ENV_EVENT_MAP(XX)
#undef XX
};

const char *gl_env_state_name(gl_env_state_t s) { return state_names[s]; }
const char *gl_env_event_name(gl_env_event_t e) { return event_names[e]; }

static double ms_since(uint64_t ns) { return (double)(gl_mono_ns() - ns) / 1e6; }

/* ---- invokes ---- */

static void fmt_seconds(char *out, size_t len, double s) { snprintf(out, len, "%.2f", s); }

/* ---- process control ---- */

static void on_timer(uv_timer_t *t);
static void on_freeze_due(gl_env_t *env);

static void arm(gl_env_t *env, uint64_t ms)
{
    uv_timer_stop(&env->timer);
    uv_timer_start(&env->timer, on_timer, ms, 0);
}

/* A deadline of the function's (init, invoke, idle): none while a debugger holds the
 * environment, which may sit at a breakpoint for as long as the developer likes. */
static void arm_limit(gl_env_t *env, uint64_t ms)
{
    if (env->debug_port)
        uv_timer_stop(&env->timer);
    else
        arm(env, ms);
}

/*
 * Freezing: an environment parked in /next with nothing to do is stopped whole (its
 * background threads and timers too), as Lambda freezes it, and thawed before it is given
 * work or signalled. A failure to freeze is logged and the environment simply stays awake.
 * It is frozen FREEZE_DELAY_MS after it went idle, not at once: under steady traffic the next
 * invoke usually comes sooner, and a freeze and thaw per invoke cost two cgroup writes and two
 * extra wake-ups of every task of the environment (the freezer traps each one). Only an
 * environment that stays idle is frozen, which is all a function can tell.
 */
#define FREEZE_DELAY_MS 10
/* SIGKILL everything of the environment: its process group, and its cgroup, which also
 * holds processes that started a session of their own. */
static void kill_all(gl_env_t *env)
{
    env->sigkill_sent = 1;
    gl_sbx_kill_group(env->pid, SIGKILL);
    if (env->cg)
        gl_cg_kill(env->cg);
}

static void freeze(gl_env_t *env)
{
    if (!env->cg || env->frozen || env->reaped || env->debug_port)
        return; /* a debugger's connection would stall */
    int rc = gl_cg_freeze_request(env->cg);
    if (rc < 0)
        gl_log_debug("env=%.8s: freeze: %s", env->id, strerror(-rc));
    else
        env->frozen = 1;
}

/* 0, or a negative errno with env->frozen still set, so that the next event (or the
 * STOPPING timer) tries again: a process the v1 freezer holds cannot even die until thawed. */
static int thaw(gl_env_t *env)
{
    if (!env->frozen)
        return 0;
    int rc = gl_cg_thaw_request(env->cg);
    if (rc < 0 && rc != -ESRCH) { /* ESRCH: no process left to thaw */
        gl_log_warn("env=%.8s: thaw: %s", env->id, strerror(-rc));
        return rc;
    }
    env->frozen = 0;
    return 0;
}

static void stop_process(gl_env_t *env, int graceful, const char *reason);

/*
 * Lambda's shutdown phase with external extensions, 2,000 ms in all: SHUTDOWN to the
 * extensions and (graceful) SIGTERM to the runtime at its start; the runtime's share ends in
 * a SIGKILL to it alone, the extensions have the rest. The launcher (env_start.c), PID 1 of
 * such an environment, passes SIGTERM on to the runtime and kills it on SIGUSR1.
 */
static void begin_ext_shutdown(gl_env_t *env, int graceful)
{
    unsigned share = RUNTIME_SHARE_MS;
    for (const gl_env_ext_t *x = env->ext.list; x; x = x->next)
        if (!x->external)
            share = RUNTIME_SHARE_INTERNAL_MS;
    env->ext.stopping = 1;
    env->ext.stop_ns = gl_mono_ns();
    env->ext.runtime_over = !graceful; /* a failure's stop sends the runtime nothing */
    if (graceful)
        kill(env->pid, SIGTERM);
    arm(env, graceful ? share : EXT_GRACE_MS);
}

/* The shutdown phase's timer: the runtime's share is over, or the whole phase. */
static void on_ext_shutdown_timer(gl_env_t *env)
{
    uint64_t spent = (gl_mono_ns() - env->ext.stop_ns) / 1000000u;
    if (env->ext.runtime_over || env->ext.done) {
        stop_process(env, 0, NULL); /* the processes go now */
        return;
    }
    env->ext.runtime_over = 1;
    kill(env->pid, SIGUSR1);
    arm(env, spent < EXT_GRACE_MS ? EXT_GRACE_MS - spent : 0);
}

/* Ask the environment to go: SIGTERM then SIGKILL after a grace period when the runtime
 * handles SIGTERM, else SIGKILL now. Extensions subscribed to SHUTDOWN are told first (reason:
 * spindown, timeout or failure) and the phase goes as Lambda's (begin_ext_shutdown). */
static void stop_process(gl_env_t *env, int graceful, const char *reason)
{
    gl_env_tel_flush(env); /* what its subscribers have not had yet, while they still run */
    if (!env->reaped && !env->ext.stopping && env->ext.list && thaw(env) == 0 &&
        gl_env_ext_shutdown(env, reason, gl_now_ms() + EXT_GRACE_MS) > 0) {
        begin_ext_shutdown(env, graceful);
        return;
    }
    env->ext.stopping = 2; /* told (or nobody to tell): the processes go now */
    gl_env_close_rapi(env);
    if (env->reaped)
        return;
    thaw(env);
    if (graceful && !env->frozen && gl_env_catches_sigterm(env->pid)) {
        gl_sbx_kill_group(env->pid, SIGTERM);
        arm(env, STOP_GRACE_MS);
    } else {
        kill_all(env);
        if (env->frozen)
            arm(env, STOP_GRACE_MS); /* thaw again then, so the SIGKILL can land */
        else
            uv_timer_stop(&env->timer);
    }
}

static void on_timer(uv_timer_t *t)
{
    gl_env_t *env = t->data;
    switch (env->state) {
    case GL_ENV_INITIALIZING:
        gl_env_handle(env, GL_ENV_EV_INIT_TIMEOUT, NULL);
        break;
    case GL_ENV_INVOKING:
        gl_env_handle(env, GL_ENV_EV_TIMEOUT, NULL);
        break;
    case GL_ENV_IDLE:
        if (env->freeze_due && !env->invoke) {
            on_freeze_due(env);
            break;
        }
        /* fall through */
    case GL_ENV_RESPONDED:
        gl_env_handle(env, env->invoke || env->ext.post_pending ? GL_ENV_EV_TIMEOUT
                                                                : GL_ENV_EV_IDLE_TIMEOUT,
                      NULL);
        break;
    case GL_ENV_STOPPING:
        if (env->reaped)
            break;
        if (env->ext.stopping == 1) {
            on_ext_shutdown_timer(env);
            break;
        }
        if (env->frozen && thaw(env) < 0)
            arm(env, STOP_GRACE_MS);
        if (!env->sigkill_sent || !env->frozen)
            kill_all(env);
        break;
    default:
        break;
    }
}

/* ---- the state machine ---- */

#define TO(state) (1u << GL_ENV_##state)

/*
 * The one transition table: for each state and event, the states the event may lead to. A
 * state that an accepted event leaves as it is counts as its own target; an empty cell is a
 * refused event. docs/env-states.md shows the same table and the unit test walks every cell.
 */
static const unsigned transitions[][GL_ENV_EV_COUNT] = {
    [GL_ENV_STARTING] = {
        [GL_ENV_EV_SPAWNED] = TO(INITIALIZING),
        [GL_ENV_EV_SPAWN_FAILED] = TO(DEAD),
        [GL_ENV_EV_EXITED] = TO(DEAD),
        [GL_ENV_EV_SHUTDOWN] = TO(STOPPING),
    },
    [GL_ENV_INITIALIZING] = {
        [GL_ENV_EV_NEXT] = TO(INVOKING) | TO(IDLE) | TO(INITIALIZING),
        [GL_ENV_EV_EXT_READY] = TO(INVOKING) | TO(IDLE) | TO(INITIALIZING),
        [GL_ENV_EV_EXT_FAILED] = TO(STOPPING),
        [GL_ENV_EV_INIT_ERROR] = TO(STOPPING),
        [GL_ENV_EV_INIT_TIMEOUT] = TO(STOPPING),
        [GL_ENV_EV_EXITED] = TO(DEAD),
        [GL_ENV_EV_SHUTDOWN] = TO(STOPPING),
    },
    [GL_ENV_IDLE] = {
        [GL_ENV_EV_ASSIGN] = TO(INVOKING) | TO(IDLE),
        [GL_ENV_EV_NEXT] = TO(INVOKING) | TO(IDLE),
        [GL_ENV_EV_TIMEOUT] = TO(STOPPING),
        [GL_ENV_EV_IDLE_TIMEOUT] = TO(STOPPING),
        [GL_ENV_EV_EXITED] = TO(DEAD),
        [GL_ENV_EV_THAW_FAILED] = TO(STOPPING),
        [GL_ENV_EV_SHUTDOWN] = TO(STOPPING),
        [GL_ENV_EV_EXT_READY] = TO(IDLE),
        [GL_ENV_EV_EXT_FAILED] = TO(STOPPING),
    },
    [GL_ENV_INVOKING] = {
        [GL_ENV_EV_NEXT] = TO(INVOKING),
        [GL_ENV_EV_RESPONSE] = TO(RESPONDED),
        [GL_ENV_EV_ERROR] = TO(RESPONDED),
        [GL_ENV_EV_TIMEOUT] = TO(STOPPING),
        [GL_ENV_EV_EXITED] = TO(DEAD),
        [GL_ENV_EV_SHUTDOWN] = TO(STOPPING),
        [GL_ENV_EV_EXT_READY] = TO(INVOKING),
        [GL_ENV_EV_EXT_FAILED] = TO(STOPPING),
    },
    [GL_ENV_RESPONDED] = {
        [GL_ENV_EV_ASSIGN] = TO(RESPONDED),
        [GL_ENV_EV_NEXT] = TO(INVOKING) | TO(IDLE) | TO(RESPONDED),
        [GL_ENV_EV_EXT_READY] = TO(RESPONDED) | TO(INVOKING) | TO(IDLE),
        [GL_ENV_EV_EXT_FAILED] = TO(STOPPING),
        [GL_ENV_EV_TIMEOUT] = TO(STOPPING),
        [GL_ENV_EV_IDLE_TIMEOUT] = TO(STOPPING),
        [GL_ENV_EV_EXITED] = TO(DEAD),
        [GL_ENV_EV_SHUTDOWN] = TO(STOPPING),
    },
    [GL_ENV_STOPPING] = {
        [GL_ENV_EV_EXITED] = TO(DEAD),
        [GL_ENV_EV_EXT_READY] = TO(STOPPING),
        [GL_ENV_EV_EXT_FAILED] = TO(STOPPING),
    },
    [GL_ENV_DEAD] = {0},
};

unsigned gl_env_transitions(gl_env_state_t from, gl_env_event_t ev)
{
    return (unsigned)from < GL_ENV_STATE_COUNT && (unsigned)ev < GL_ENV_EV_COUNT
               ? transitions[from][ev]
               : 0;
}

/* The one writer of env->state (a new environment starts zeroed, in STARTING). */
static void set_state(gl_env_t *env, gl_env_state_t to, gl_env_event_t ev)
{
    assert(transitions[env->state][ev] & (1u << to));
    gl_log_debug("env=%.8s fn=%s %s -> %s on %s (%.0f ms)", env->id, env->fn->cfg.name,
                 state_names[env->state], state_names[to], event_names[ev],
                 ms_since(env->state_since_ns));
    env->state = to;
    env->state_since_ns = gl_mono_ns();
    env->freeze_due = 0; /* go_idle sets it again */
}

/* Stop when the function was replaced, /tmp outgrew EphemeralStorage (no mount namespace),
 * or when idle environments are not kept at all. */
static int should_stop_when_idle(const gl_env_t *env)
{
    return env->tmp_over || gl_env_must_retire(env) ||
           (!gl_env_idle_timeout(env) && !env->provisioned);
}

/* The environment has nothing to do: park it, or stop it if its function was replaced. */
static void go_idle(gl_env_t *env, gl_env_event_t ev)
{
    set_state(env, GL_ENV_IDLE, ev);
    if (should_stop_when_idle(env)) {
        gl_env_handle(env, GL_ENV_EV_SHUTDOWN, NULL);
        return;
    }
    uint64_t idle_ms = gl_env_idle_timeout(env);
    env->freeze_due = env->parked && env->cg && !env->frozen && !env->debug_port &&
                      (env->provisioned || idle_ms > FREEZE_DELAY_MS);
    if (env->freeze_due)
        arm(env, FREEZE_DELAY_MS); /* on_timer freezes, then waits for the idle timeout */
    else if (!env->provisioned) /* provisioned ones stay until their config goes */
        arm_limit(env, idle_ms);
    else
        uv_timer_stop(&env->timer);
}

/* IDLE's timer after FREEZE_DELAY_MS: freeze, then wait out the rest of the idle timeout. */
static void on_freeze_due(gl_env_t *env)
{
    env->freeze_due = 0;
    if (env->parked && !env->invoke && gl_env_ext_ready(env))
        freeze(env); /* only with the runtime and every extension parked */
    if (!env->provisioned)
        arm_limit(env, gl_env_idle_timeout(env) - FREEZE_DELAY_MS);
}

/* Deliver the assigned invoke, start its clock, and play an injected fault on it. */
static void start_invoke(gl_env_t *env)
{
    gl_invoke_t *inv = env->invoke;
    if (inv->fault == GL_FAULT_CRASH) {
        /* The runtime dies with the invoke in progress, as a crash does. It is killed before
         * it is handed the event, so it can never answer first: the exit path fails the
         * invoke with Runtime.ExitError. */
        snprintf(inv->env_id, sizeof(inv->env_id), "%s", env->id);
        gl_env_log_start(env, inv);
        arm_limit(env, (uint64_t)env->fn->cfg.timeout_s * 1000);
        kill_all(env);
        return;
    }
    gl_env_deliver(env);
    gl_env_ext_invoke(env, inv, gl_now_ms() + (int64_t)env->fn->cfg.timeout_s * 1000);
    arm_limit(env, (uint64_t)env->fn->cfg.timeout_s * 1000);
    if (inv->fault == GL_FAULT_TIMEOUT)
        gl_env_handle(env, GL_ENV_EV_TIMEOUT, NULL); /* its deadline, now: the timeout path */
}

void gl_env_inject_init_failure(gl_env_t *env) { kill_all(env); }

/*
 * One on_<event>() per event. Each runs only when the table accepts the event in the current
 * state (from); it returns 0 when it handled the event, -1 to refuse it after all (a condition
 * the table cannot see, such as a timeout with no invoke).
 */

/* The environment could not start (arg: gl_env_failure_t): its invoke gets the error. */
static int on_spawn_failed(gl_env_t *env, gl_env_state_t from, void *arg)
{
    const gl_env_failure_t *f = arg;
    char status[128];
    (void)from;
    if (env->provisioned)
        gl_pool_on_env_provision_failed(env->pool, f->message);
    snprintf(status, sizeof(status), "Status: error\tError Type: %s\t", f->type);
    gl_env_log(env, "%s\n%s", f->message, f->type);
    gl_env_fail_invoke(env, f->type, f->message, status);
    set_state(env, GL_ENV_DEAD, GL_ENV_EV_SPAWN_FAILED);
    gl_env_teardown(env);
    return 0;
}

static int on_spawned(gl_env_t *env, gl_env_state_t from, void *arg)
{
    (void)from;
    (void)arg;
    set_state(env, GL_ENV_INITIALIZING, GL_ENV_EV_SPAWNED);
    arm_limit(env, env->sched->opts.init_timeout_ms);
    return 0;
}

/* arg: the invoke, which the scheduler gives only to an environment that takes work. */
static int on_assign(gl_env_t *env, gl_env_state_t from, void *arg)
{
    env->invoke = arg;
    if (from == GL_ENV_IDLE && env->parked && !gl_env_drop_abandoned_next(env)) {
        set_state(env, GL_ENV_INVOKING, GL_ENV_EV_ASSIGN);
        start_invoke(env);
    } else {
        /* Delivered at the runtime's next /next; the invoke's clock runs meanwhile. */
        arm_limit(env, (uint64_t)env->fn->cfg.timeout_s * 1000);
    }
    return 0;
}

/* The runtime waits in /next and every extension is ready: init is over (the first time),
 * the assigned invoke is delivered, or the environment parks. */
static void proceed(gl_env_t *env, gl_env_event_t ev)
{
    if (env->state == GL_ENV_INITIALIZING && !env->initialized) {
        env->initialized = 1;
        env->ext.closed = 1;
        env->init_duration_ms = ms_since(env->spawned_ns);
        gl_env_ext_log_ready(env);
        gl_env_tel_init_done(env, "", 1);
        gl_pool_on_env_warm(env, 1);
    }
    if (env->invoke) {
        set_state(env, GL_ENV_INVOKING, ev);
        start_invoke(env);
    } else {
        go_idle(env, ev);
    }
}

/* arg: the runtime's /next request, parked until there is an invoke for it. */
static int on_next(gl_env_t *env, gl_env_state_t from, void *arg)
{
    gl_http_req_t *req = arg;
    if (from == GL_ENV_INVOKING) {
        /* The event went to the runtime's /next already: a second one never gets it again
         * (only the runtime may hold an event, and only once); the invoke's deadline runs on. */
        gl_rapi_reply_error(req, 403, "InvalidStateTransition",
                            "State transition from Running to Ready failed for runtime. "
                            "Error: State transition is not allowed");
        return 0;
    }
    if (from == GL_ENV_IDLE && env->parked) {
        gl_rapi_reply_error(req, 403, "InvalidStateTransition",
                            "State transition from Ready to Ready failed for runtime. "
                            "Error: State transition is not allowed");
        return 0;
    }
    env->parked = req;
    /* Init ends, and an invoke's extensions are done, only with every extension ready. */
    if ((from == GL_ENV_INITIALIZING && !gl_env_ext_ready(env)) || env->ext.post_pending)
        return 0;
    proceed(env, GL_ENV_EV_NEXT);
    return 0;
}

/* A refused /next is answered here: the runtime waits for a reply. */
static void refuse_next(void *arg)
{
    gl_rapi_reply_error(arg, 403, "InvalidStateTransition",
                        "State transition is not allowed in the current state");
}

static void after_invoke(gl_env_t *env);

/* /response or /error: the entry point (env_rapi.c) validated the id and stored the result. */
static int on_answered(gl_env_t *env, gl_env_state_t from, void *arg, gl_env_event_t ev)
{
    (void)from;
    (void)arg;
    set_state(env, GL_ENV_RESPONDED, ev);
    if (!gl_env_ext_ready(env)) { /* the caller's answer now; END and REPORT wait for them */
        gl_env_answer_early(env);
        return 0;
    }
    gl_env_finish_invoke(env, "");
    after_invoke(env);
    return 0;
}

/* The invoke is over (END and REPORT written): stop, or wait for the next one. */
static void after_invoke(gl_env_t *env)
{
    gl_env_check_tmp(env); /* over EphemeralStorage: tmp_over, and should_stop_when_idle */
    if (should_stop_when_idle(env))
        gl_env_handle(env, GL_ENV_EV_SHUTDOWN, NULL);
    else if (env->state == GL_ENV_RESPONDED && !env->invoke && !env->provisioned)
        arm_limit(env, gl_env_idle_timeout(env));
}

static int on_response(gl_env_t *env, gl_env_state_t from, void *arg)
{
    return on_answered(env, from, arg, GL_ENV_EV_RESPONSE);
}

static int on_error(gl_env_t *env, gl_env_state_t from, void *arg)
{
    return on_answered(env, from, arg, GL_ENV_EV_ERROR);
}

/* arg: the error type the runtime posted (validated), or NULL. */
static int on_init_error(gl_env_t *env, gl_env_state_t from, void *arg)
{
    const char *type = arg ? arg : "Runtime.Unknown";
    char status[160];
    (void)from;
    snprintf(status, sizeof(status), "Status: error\tError Type: %s", type);
    gl_env_init_report(env, status);
    if (env->provisioned)
        gl_pool_on_env_provision_failed(env->pool, type);
    set_state(env, GL_ENV_STOPPING, GL_ENV_EV_INIT_ERROR);
    if (env->invoke) {
        snprintf(status, sizeof(status), "Status: error\tError Type: %s\t", type);
        gl_invoke_t *inv = env->invoke;
        inv->function_error = 1;
        free(inv->error_type);
        inv->error_type = strdup(type);
        gl_env_log_start(env, inv);
        gl_env_finish_invoke(env, status);
    }
    /* The runtime should exit by itself after reporting: give it the grace period to
     * do so (and to write its last lines), then make sure. */
    gl_env_close_rapi(env);
    arm(env, STOP_GRACE_MS);
    return 0;
}

/* The assigned invoke's deadline passed (refused when no invoke is assigned). */
static int on_timeout(gl_env_t *env, gl_env_state_t from, void *arg)
{
    char secs[32], ts[40], msg[300];
    (void)from;
    (void)arg;
    if (!env->invoke && !env->ext.post_pending)
        return -1;
    /* An extension still at work after the answer runs into the same deadline. */
    const char *rid = env->ext.post_pending ? env->ext.post_rid : env->invoke->request_id;
    fmt_seconds(secs, sizeof(secs), (double)env->fn->cfg.timeout_s);
    gl_fmt_iso8601(gl_now_ms(), ts, sizeof(ts));
    gl_env_log(env, "%s %s Task timed out after %s seconds", ts, rid, secs);
    set_state(env, GL_ENV_STOPPING, GL_ENV_EV_TIMEOUT);
    gl_env_report_post(env, "Status: timeout\t");
    if (env->invoke) {
        snprintf(msg, sizeof(msg), "RequestId: %s Error: Task timed out after %s seconds",
                 env->invoke->request_id, secs);
        gl_env_fail_invoke(env, "Sandbox.Timedout", msg, "Status: timeout\t");
    }
    stop_process(env, 0, "timeout");
    return 0;
}

static int on_init_timeout(gl_env_t *env, gl_env_state_t from, void *arg)
{
    char secs[32], msg[300];
    (void)from;
    (void)arg;
    gl_env_init_report(env, "Status: timeout");
    if (env->provisioned)
        gl_pool_on_env_provision_failed(env->pool, "the init phase timed out (10 s)");
    set_state(env, GL_ENV_STOPPING, GL_ENV_EV_INIT_TIMEOUT);
    if (env->invoke) {
        fmt_seconds(secs, sizeof(secs), ms_since(env->spawned_ns) / 1000.0);
        snprintf(msg, sizeof(msg), "RequestId: %s Error: Task timed out after %s seconds",
                 env->invoke->request_id, secs);
        gl_env_fail_invoke(env, "Sandbox.Timedout", msg, "Status: timeout\t");
    }
    stop_process(env, 0, "timeout");
    return 0;
}

/*
 * arg: the invoke being assigned, which the frozen runtime cannot take. Lambda answers such
 * an internal failure with 500 ServiceException: the invoke fails now (not at its timeout,
 * which never happened) and the environment is stopped.
 */
static int on_thaw_failed(gl_env_t *env, gl_env_state_t from, void *arg)
{
    char msg[300];
    (void)from;
    env->invoke = arg;
    gl_log_error("env=%.8s fn=%s: the frozen environment could not be resumed: its invoke "
                 "fails and it is stopped", env->id, env->fn->cfg.name);
    snprintf(msg, sizeof(msg), "RequestId: %s Error: the execution environment could not be "
             "resumed", env->invoke->request_id);
    free(env->invoke->service_error);
    env->invoke->service_error = strdup(msg);
    set_state(env, GL_ENV_STOPPING, GL_ENV_EV_THAW_FAILED);
    gl_env_log_start(env, env->invoke);
    gl_env_log(env, "%s\nServiceException", msg);
    gl_env_fail_invoke(env, "ServiceException", msg, "Status: error\tError Type: ServiceException\t");
    stop_process(env, 0, "failure");
    return 0;
}

/* idle_timeout and shutdown: an invoke still assigned fails when the process exits. */
static int on_stop(gl_env_t *env, gl_env_state_t from, void *arg, gl_env_event_t ev)
{
    (void)from;
    (void)arg;
    set_state(env, GL_ENV_STOPPING, ev);
    gl_env_report_post(env, ""); /* an answered invoke's extensions were still at work */
    stop_process(env, 1, "spindown");
    return 0;
}

static int on_idle_timeout(gl_env_t *env, gl_env_state_t from, void *arg)
{
    return on_stop(env, from, arg, GL_ENV_EV_IDLE_TIMEOUT);
}

static int on_shutdown(gl_env_t *env, gl_env_state_t from, void *arg)
{
    return on_stop(env, from, arg, GL_ENV_EV_SHUTDOWN);
}

/* The runtime's process was reaped: fail what it held, then release everything. */
static int on_exited(gl_env_t *env, gl_env_state_t from, void *arg)
{
    char reason[128], msg[300];
    (void)arg;
    /* The environment ends with its runtime: nothing it started may outlive it. The
     * group id cannot have been reused while members of the group are alive. */
    kill_all(env);
    /* Over its memory cap the kernel (or the watchdog) killed it: Lambda's REPORT says
     * Runtime.OutOfMemory while the caller still gets the ExitError body. */
    int oom = env->cg && gl_cg_oom_kills(env->cg) > 0;
    int status = env->exit_status; /* the launcher's 128+N: its runtime's signal N */
    if (env->ext.expected && WIFEXITED(status) && WEXITSTATUS(status) > 128 &&
        WEXITSTATUS(status) < 128 + NSIG)
        status = WEXITSTATUS(status) - 128;
    gl_env_exit_reason(status, reason, sizeof(reason));
    gl_env_report_post(env, "Status: error\tError Type: Runtime.ExitError\t");
    if (env->invoke) {
        snprintf(msg, sizeof(msg), "RequestId: %s Error: %s", env->invoke->request_id, reason);
        gl_env_drain_output(env);
        if (from == GL_ENV_INITIALIZING)
            gl_env_init_report(env, "Status: error\tError Type: Runtime.ExitError");
        gl_env_log_start(env, env->invoke);
        gl_env_log(env, "%s\nRuntime.ExitError", msg);
        gl_env_fail_invoke(env, "Runtime.ExitError", msg,
                           oom ? "Status: error\tError Type: Runtime.OutOfMemory\t"
                               : "Status: error\tError Type: Runtime.ExitError\t");
    } else if (from == GL_ENV_INITIALIZING) {
        gl_env_init_report(env, "Status: error\tError Type: Runtime.ExitError");
        if (env->provisioned)
            gl_pool_on_env_provision_failed(env->pool, reason);
    }
    if (from != GL_ENV_STOPPING)
        gl_log_debug("env=%.8s fn=%s runtime exited: %s", env->id, env->fn->cfg.name, reason);
    set_state(env, GL_ENV_DEAD, GL_ENV_EV_EXITED);
    gl_env_teardown(env);
    return 0;
}

/* An extension waits in /event/next (arg: it): whatever waited for all of them goes on. */
static int on_ext_ready(gl_env_t *env, gl_env_state_t from, void *arg)
{
    (void)arg;
    if (from == GL_ENV_STOPPING) {
        if (env->ext.stopping == 1 && gl_env_ext_shutdown_done(env)) {
            env->ext.done = 1; /* no more grace for them; the runtime keeps its share */
            if (env->ext.runtime_over)
                stop_process(env, 0, NULL);
        }
        return 0;
    }
    if (!gl_env_ext_ready(env))
        return 0;
    if (from == GL_ENV_RESPONDED && env->ext.post_pending) {
        gl_env_report_post(env, ""); /* Duration covers the extensions' time */
        if (!env->invoke)
            uv_timer_stop(&env->timer);
        after_invoke(env);
        if (env->state == GL_ENV_RESPONDED && env->parked)
            proceed(env, GL_ENV_EV_EXT_READY);
    } else if (from == GL_ENV_INITIALIZING && env->parked) {
        proceed(env, GL_ENV_EV_EXT_READY);
    } else if (from == GL_ENV_IDLE && env->parked && !env->freeze_due) {
        freeze(env); /* else the freeze delay's timer does it */
    }
    return 0;
}

/*
 * An extension crashed, or posted /extension/init/error or /exit/error (arg: gl_env_failure_t
 * with Lambda's type, Extension.Crash, .InitError or .ExitError): the init or the invoke in
 * progress fails with that type and the environment stops; while stopping it only counts.
 */
static int on_ext_failed(gl_env_t *env, gl_env_state_t from, void *arg)
{
    const gl_env_failure_t *f = arg;
    char status[160], msg[400];
    if (from == GL_ENV_STOPPING)
        return on_ext_ready(env, from, NULL);
    snprintf(status, sizeof(status), "Status: error\tError Type: %s", f->type);
    if (from == GL_ENV_INITIALIZING) {
        gl_env_init_report(env, status);
        if (env->provisioned)
            gl_pool_on_env_provision_failed(env->pool, f->message);
    }
    set_state(env, GL_ENV_STOPPING, GL_ENV_EV_EXT_FAILED);
    strcat(status, "\t");
    gl_env_report_post(env, status);
    if (env->invoke) {
        snprintf(msg, sizeof(msg), "RequestId: %s Error: %s", env->invoke->request_id,
                 f->message);
        gl_env_log_start(env, env->invoke);
        gl_env_log(env, "%s\n%s", msg, f->type);
        gl_env_fail_invoke(env, f->type, msg, status);
    }
    stop_process(env, 0, "failure");
    return 0;
}

/* Dispatch by event: the handler, and for a caller that waits for an answer, its refusal. */
static const struct {
    int (*on)(gl_env_t *env, gl_env_state_t from, void *arg);
    void (*refused)(void *arg);
} handlers[GL_ENV_EV_COUNT] = {
    [GL_ENV_EV_SPAWNED] = {on_spawned, NULL},
    [GL_ENV_EV_SPAWN_FAILED] = {on_spawn_failed, NULL},
    [GL_ENV_EV_ASSIGN] = {on_assign, NULL},
    [GL_ENV_EV_NEXT] = {on_next, refuse_next},
    [GL_ENV_EV_RESPONSE] = {on_response, NULL},
    [GL_ENV_EV_ERROR] = {on_error, NULL},
    [GL_ENV_EV_INIT_ERROR] = {on_init_error, NULL},
    [GL_ENV_EV_TIMEOUT] = {on_timeout, NULL},
    [GL_ENV_EV_INIT_TIMEOUT] = {on_init_timeout, NULL},
    [GL_ENV_EV_IDLE_TIMEOUT] = {on_idle_timeout, NULL},
    [GL_ENV_EV_EXITED] = {on_exited, NULL},
    [GL_ENV_EV_THAW_FAILED] = {on_thaw_failed, NULL},
    [GL_ENV_EV_SHUTDOWN] = {on_shutdown, NULL},
    [GL_ENV_EV_EXT_READY] = {on_ext_ready, NULL},
    [GL_ENV_EV_EXT_FAILED] = {on_ext_failed, NULL},
};

void gl_env_handle(gl_env_t *env, gl_env_event_t ev, void *arg)
{
    gl_env_state_t from = env->state;

    /* Work, a deadline or a stop all need the runtime running (and a process frozen by the
     * v1 freezer cannot even die until it is thawed). Work it cannot be given fails now; a
     * stop goes ahead and tries again. */
    if (env->frozen && thaw(env) < 0 && ev == GL_ENV_EV_ASSIGN)
        ev = GL_ENV_EV_THAW_FAILED;
    if (transitions[from][ev] && handlers[ev].on(env, from, arg) == 0)
        return;
    if (handlers[ev].refused)
        handlers[ev].refused(arg);
    gl_log_debug("env=%.8s fn=%s event %s refused in state %s", env->id, env->fn->cfg.name,
                 event_names[ev], state_names[from]);
}
