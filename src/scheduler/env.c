/* SPDX-License-Identifier: MIT */
/*
 * env.c: one execution environment. Owns the runtime's process (pid + pidfd watched by a
 * uv_poll_t), its stdout/stderr pipes and line splitters, its log stream, its cgroup (memory
 * cap, freezing, peak), its private /tmp directory when there is no mount namespace, its
 * Runtime API listener (one loopback port per environment: the listener is the identity of
 * the caller) and one timer for the current state's deadline. Starting one is env_start.c;
 * the Runtime API's entry points are env_rapi.c.
 *
 * gl_env_handle() is the only place env->state changes; Runtime API calls and process, timer
 * and scheduler events all become events there. The environment frees itself once its
 * process is reaped and every handle it opened has closed.
 */
#define _GNU_SOURCE
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

#define STOP_GRACE_MS 500

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

/* ---- output: pipes, platform lines, tail ---- */

static void emit_line(const char *line, size_t len, void *arg)
{
    gl_env_t *env = arg;
    gl_logs_stream_write(&env->log, line, len);
    if (env->invoke && env->invoke->want_tail)
        gl_logs_tail_append(&env->invoke->tail, line, len);
}

void gl_env_log(gl_env_t *env, const char *fmt, ...)
{
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n >= sizeof(line))
        n = sizeof(line) - 1;
    /* A record may hold several lines (crash reports do). */
    gl_logs_lines_t split = {0};
    gl_logs_lines_feed(&split, line, (size_t)n, emit_line, env);
    gl_logs_lines_flush(&split, emit_line, env);
    gl_logs_lines_free(&split);
}

/* Read what the runtime wrote before its last Runtime API call, so that it lands before
 * END/REPORT and in the tail. The writes happened-before the call, so they are in the pipe. */
static void drain_pipe(gl_env_t *env, uv_pipe_t *p, gl_logs_lines_t *lines)
{
    uv_os_fd_t fd;
    if (uv_is_closing((uv_handle_t *)p) || uv_fileno((uv_handle_t *)p, &fd) != 0)
        return;
    char buf[65536];
    for (int rounds = 0; rounds < 256; rounds++) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n <= 0)
            break;
        gl_logs_lines_feed(lines, buf, (size_t)n, emit_line, env);
    }
}

static void drain_output(gl_env_t *env)
{
    drain_pipe(env, &env->out, &env->out_lines);
    drain_pipe(env, &env->err, &env->err_lines);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static char slab[65536];
    (void)h;
    (void)suggested;
    *buf = uv_buf_init(slab, sizeof(slab));
}

static void on_output(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    gl_env_t *env = s->data;
    gl_logs_lines_t *lines = s == (uv_stream_t *)&env->out ? &env->out_lines : &env->err_lines;
    if (n > 0) {
        gl_logs_lines_feed(lines, buf->base, (size_t)n, emit_line, env);
    } else if (n < 0) {
        gl_logs_lines_flush(lines, emit_line, env);
        uv_read_stop(s);
    }
}

/* ---- invokes ---- */

static void fmt_seconds(char *out, size_t len, double s) { snprintf(out, len, "%.2f", s); }

static int read_max_memory_mb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    long kb = 0;
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, "VmHWM:", 6) == 0) {
            kb = strtol(line + 6, NULL, 10);
            break;
        }
    }
    fclose(f);
    return (int)((kb + 1023) / 1024);
}

/*
 * Finish the environment's invoke: END and REPORT lines, outputs, then hand it back.
 * status_suffix is "" or REPORT's "Status: ...\t" fields for platform failures.
 */
static void finish_invoke(gl_env_t *env, const char *status_suffix)
{
    gl_invoke_t *inv = env->invoke;
    if (!inv)
        return;
    drain_output(env);
    inv->duration_ms = inv->started_ns ? ms_since(inv->started_ns) : 0.0;
    /* The cgroup's peak covers every process of the environment, not only the runtime; the
     * runtime's own peak RSS stands in without one (or before the watchdog's first sample). */
    if (env->cg)
        inv->max_memory_mb = (int)((gl_cg_peak(env->cg) + (1u << 20) - 1) >> 20);
    if (inv->max_memory_mb <= 0 && !env->reaped)
        inv->max_memory_mb = read_max_memory_mb(env->pid);
    if (inv->max_memory_mb < env->max_memory_mb)
        inv->max_memory_mb = env->max_memory_mb;
    if (inv->max_memory_mb <= 0)
        inv->max_memory_mb = 1;
    env->max_memory_mb = inv->max_memory_mb;
    char init_part[64] = "";
    if (inv->cold)
        snprintf(init_part, sizeof(init_part), "Init Duration: %.2f ms\t", env->init_duration_ms);
    gl_env_log(env, "END RequestId: %s", inv->request_id);
    gl_env_log(env,
                  "REPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %.0f ms\t"
                  "Memory Size: %d MB\tMax Memory Used: %d MB\t%s%s",
                  inv->request_id, inv->duration_ms, ceil(inv->duration_ms),
                  env->fn->cfg.memory_mb, inv->max_memory_mb, init_part, status_suffix);
    if (inv->want_tail) {
        size_t off = inv->tail.len > GL_LOGS_TAIL_MAX ? inv->tail.len - GL_LOGS_TAIL_MAX : 0;
        gl_b64_encode(inv->tail.data ? inv->tail.data + off : "", inv->tail.len - off,
                      &inv->log_tail);
    }
    inv->init_duration_ms = inv->cold ? env->init_duration_ms : 0.0;
    snprintf(env->last_request_id, sizeof(env->last_request_id), "%s", inv->request_id);
    env->invoke = NULL;
    env->invokes++;
    uv_timer_stop(&env->timer);
    gl_invoke_complete(inv);
}

/* START is logged once per invoke: at delivery, or when it fails before delivery. */
static void log_start_once(gl_env_t *env, gl_invoke_t *inv)
{
    if (inv->started_ns)
        return;
    inv->started_ns = gl_mono_ns();
    gl_env_log(env, "START RequestId: %s Version: %s", inv->request_id, env->fn->version);
}

/* Fail the assigned invoke with a platform error body {"errorType","errorMessage"}. */
void gl_env_fail_invoke(gl_env_t *env, const char *type, const char *message, const char *status)
{
    gl_invoke_t *inv = env->invoke;
    if (!inv)
        return;
    log_start_once(env, inv);
    gl_invoke_set_error(inv, type, message);
    finish_invoke(env, status);
}

static void exit_reason(int status, char *out, size_t len)
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

/* Answer the parked /next with the assigned invoke (its START line, once). */
static void deliver(gl_env_t *env)
{
    gl_invoke_t *inv = env->invoke;
    gl_http_req_t *req = env->parked;
    env->parked = NULL;
    snprintf(inv->env_id, sizeof(inv->env_id), "%s", env->id);
    req->on_abort = NULL;
    int64_t deadline = gl_now_ms() + (int64_t)env->fn->cfg.timeout_s * 1000;
    char deadline_s[24];
    snprintf(deadline_s, sizeof(deadline_s), "%" PRId64, deadline);
    gl_http_header_t h[8];
    size_t n = 0;
    h[n++] = (gl_http_header_t){"Content-Type", "application/json"};
    h[n++] = (gl_http_header_t){"Lambda-Runtime-Aws-Request-Id", inv->request_id};
    h[n++] = (gl_http_header_t){"Lambda-Runtime-Deadline-Ms", deadline_s};
    h[n++] = (gl_http_header_t){"Lambda-Runtime-Invoked-Function-Arn", inv->invoked_arn};
    if (inv->trace_id)
        h[n++] = (gl_http_header_t){"Lambda-Runtime-Trace-Id", inv->trace_id};
    if (inv->client_context)
        h[n++] = (gl_http_header_t){"Lambda-Runtime-Client-Context", inv->client_context};
    if (inv->cognito_identity)
        h[n++] = (gl_http_header_t){"Lambda-Runtime-Cognito-Identity", inv->cognito_identity};
    log_start_once(env, inv);
    gl_http_reply(req, 200, h, n, inv->payload.data ? inv->payload.data : "{}",
                  inv->payload.data ? inv->payload.len : 2);
    /* The deadline is the caller's: a first delivery arms it; a redelivery (a second /next
     * while INVOKING) leaves the running one alone, or a runtime could cancel its timeout. */
}

/* ---- process control ---- */

static void on_timer(uv_timer_t *t);

static void arm(gl_env_t *env, uint64_t ms)
{
    uv_timer_stop(&env->timer);
    uv_timer_start(&env->timer, on_timer, ms, 0);
}

static void maybe_free(gl_env_t *env);

static void on_rapi_closed(void *arg)
{
    gl_env_t *env = arg;
    env->rapi = NULL;
    env->handles_open--;
    maybe_free(env);
}

static void close_rapi(gl_env_t *env)
{
    if (env->rapi && !env->rapi_closing) {
        env->rapi_closing = 1;
        env->parked = NULL; /* aborted by the close */
        env->handles_open++;
        gl_http_server_close(env->rapi, on_rapi_closed, env);
    }
}

/*
 * Freezing: an environment parked in /next with nothing to do is stopped whole (its
 * background threads and timers too), as Lambda freezes it, and thawed before it is given
 * work or signalled. A failure to freeze is logged and the environment simply stays awake.
 */
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
    if (!env->cg || env->frozen || env->reaped)
        return;
    int rc = gl_cg_freeze_request(env->cg);
    if (rc < 0)
        gl_log_debug("env=%.8s: freeze: %s", env->id, strerror(-rc));
    else
        env->frozen = 1;
}

static void thaw(gl_env_t *env)
{
    if (!env->frozen)
        return;
    env->frozen = 0;
    int rc = gl_cg_thaw_request(env->cg);
    if (rc < 0)
        gl_log_warn("env=%.8s: thaw: %s", env->id, strerror(-rc));
}

/*
 * Whether the runtime handles SIGTERM (SigCgt in /proc). One that does not would be killed by
 * it anyway, or, as PID 1 of its namespace, ignore it: either way waiting is pointless.
 */
static int catches_sigterm(pid_t pid)
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

/* Ask the environment to go: SIGTERM then SIGKILL after a grace period when the runtime
 * handles SIGTERM, else SIGKILL now. */
static void stop_process(gl_env_t *env, int graceful)
{
    close_rapi(env);
    if (env->reaped)
        return;
    thaw(env);
    if (graceful && catches_sigterm(env->pid)) {
        gl_sbx_kill_group(env->pid, SIGTERM);
        arm(env, STOP_GRACE_MS);
    } else {
        kill_all(env);
        uv_timer_stop(&env->timer);
    }
}

/* Free once torn down and every handle (and the Runtime API listener) has closed. */
static void maybe_free(gl_env_t *env)
{
    if (!env->torn_down || env->handles_open > 0)
        return;
    gl_sched_t *sched = env->sched;
    gl_pool_t *pool = env->pool;
    int was_provisioned = env->provisioned, initialized = env->initialized;
    gl_warm_report(env, 0); /* started by gl_sched_warm and never ready */
    gl_logs_lines_free(&env->out_lines);
    gl_logs_lines_free(&env->err_lines);
    gl_logs_stream_close(&env->log);
    if (env->pidfd >= 0)
        close(env->pidfd);
    if (env->tmp_dir) {
        gl_rm_rf(env->tmp_dir);
        char *slash = strrchr(env->tmp_dir, '/');
        if (slash) {
            *slash = '\0';
            rmdir(env->tmp_dir);
        }
        free(env->tmp_dir);
    }
    gl_fn_unref(env->fn);
    free(env);
    gl_sched_env_freed(sched, pool, was_provisioned, initialized);
}

static void on_handle_closed(uv_handle_t *h)
{
    gl_env_t *env = h->data;
    env->handles_open--;
    maybe_free(env);
}

static void close_handle(gl_env_t *env, uv_handle_t *h)
{
    if (h->loop && !uv_is_closing(h)) {
        env->handles_open++;
        uv_close(h, on_handle_closed);
    }
}

/* DEAD: release everything; the last close callback frees the environment. */
void gl_env_teardown(gl_env_t *env)
{
    drain_output(env);
    gl_logs_lines_flush(&env->out_lines, emit_line, env);
    gl_logs_lines_flush(&env->err_lines, emit_line, env);
    close_rapi(env);
    gl_pool_unlink(env->pool, env);
    if (env->cg) {
        gl_cg_destroy(env->cg);
        env->cg = NULL;
    }
    env->torn_down = 1;
    close_handle(env, (uv_handle_t *)&env->exit_poll);
    close_handle(env, (uv_handle_t *)&env->out);
    close_handle(env, (uv_handle_t *)&env->err);
    close_handle(env, (uv_handle_t *)&env->timer);
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
    case GL_ENV_RESPONDED:
        gl_env_handle(env, env->invoke ? GL_ENV_EV_TIMEOUT : GL_ENV_EV_IDLE_TIMEOUT, NULL);
        break;
    case GL_ENV_STOPPING:
        if (!env->reaped && !env->sigkill_sent)
            kill_all(env);
        break;
    default:
        break;
    }
}

/* ---- the state machine ---- */

static void set_state(gl_env_t *env, gl_env_state_t to, gl_env_event_t ev)
{
    gl_log_debug("env=%.8s fn=%s %s -> %s on %s (%.0f ms)", env->id, env->fn->cfg.name,
                 state_names[env->state], state_names[to], event_names[ev],
                 ms_since(env->state_since_ns));
    env->state = to;
    env->state_since_ns = gl_mono_ns();
}

/* The environment has nothing to do: park it, or stop it if its function was replaced. */
static void go_idle(gl_env_t *env, gl_env_event_t ev)
{
    set_state(env, GL_ENV_IDLE, ev);
    if (gl_env_must_retire(env) || (!gl_env_idle_timeout(env) && !env->provisioned)) {
        gl_env_handle(env, GL_ENV_EV_SHUTDOWN, NULL);
        return;
    }
    if (!env->provisioned) /* provisioned ones stay until their config goes */
        arm(env, gl_env_idle_timeout(env));
    else
        uv_timer_stop(&env->timer);
    if (env->parked)
        freeze(env);
}

/*
 * Without a mount namespace /tmp is a plain directory: its EphemeralStorage size is checked
 * after each invoke, and an environment over it is stopped (its files go with it).
 */
static int tmp_overfull(gl_env_t *env)
{
    uint64_t used = 0;
    if (!env->tmp_dir || gl_sbx_dir_usage(env->tmp_dir, &used) < 0)
        return 0;
    if (used <= (uint64_t)env->fn->cfg.ephemeral_mb << 20)
        return 0;
    gl_log_warn("env=%.8s fn=%s: /tmp holds %llu MB, over its %d MB: stopping the environment",
                env->id, env->fn->cfg.name, (unsigned long long)(used >> 20),
                env->fn->cfg.ephemeral_mb);
    return 1;
}

static void init_report(gl_env_t *env, const char *status)
{
    gl_env_log(env, "INIT_REPORT Init Duration: %.2f ms\tPhase: init\t%s", ms_since(env->spawned_ns),
                  status);
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
        log_start_once(env, inv);
        arm(env, (uint64_t)env->fn->cfg.timeout_s * 1000);
        kill_all(env);
        return;
    }
    deliver(env);
    arm(env, (uint64_t)env->fn->cfg.timeout_s * 1000);
    if (inv->fault == GL_FAULT_TIMEOUT)
        gl_env_handle(env, GL_ENV_EV_TIMEOUT, NULL); /* its deadline, now: the timeout path */
}

void gl_env_inject_init_failure(gl_env_t *env) { kill_all(env); }

void gl_env_handle(gl_env_t *env, gl_env_event_t ev, void *arg)
{
    gl_env_state_t from = env->state;
    char msg[300], status[160];

    /* Work, a deadline or a stop all need the runtime running (and a process frozen by the
     * v1 freezer cannot even die until it is thawed). */
    if (env->frozen)
        thaw(env);

    switch (ev) {
    case GL_ENV_EV_SPAWNED:
        if (from != GL_ENV_STARTING)
            break;
        set_state(env, GL_ENV_INITIALIZING, ev);
        arm(env, env->sched->opts.init_timeout_ms);
        return;

    case GL_ENV_EV_ASSIGN:
        env->invoke = arg;
        if (from == GL_ENV_IDLE && env->parked) {
            set_state(env, GL_ENV_INVOKING, ev);
            start_invoke(env);
        } else if (from == GL_ENV_RESPONDED || from == GL_ENV_IDLE) {
            /* Delivered at the runtime's next /next; the invoke's clock runs meanwhile. */
            arm(env, (uint64_t)env->fn->cfg.timeout_s * 1000);
        }
        return;

    case GL_ENV_EV_NEXT: {
        gl_http_req_t *req = arg;
        if (from == GL_ENV_INITIALIZING && !env->initialized) {
            env->initialized = 1;
            env->init_duration_ms = ms_since(env->spawned_ns);
            gl_warm_report(env, 1);
        }
        if (from == GL_ENV_INITIALIZING || from == GL_ENV_RESPONDED || from == GL_ENV_IDLE) {
            if (from == GL_ENV_IDLE && env->parked) {
                gl_rapi_reply_error(req, 403, "InvalidStateTransition",
                                    "State transition from Ready to Ready failed for runtime. "
                                    "Error: State transition is not allowed");
                return;
            }
            env->parked = req;
            if (env->invoke) {
                set_state(env, GL_ENV_INVOKING, ev);
                start_invoke(env);
            } else {
                go_idle(env, ev);
            }
            return;
        }
        if (from == GL_ENV_INVOKING) {
            /* As the emulator does: a /next while the invoke is unanswered gets it again. */
            env->parked = req;
            deliver(env);
            return;
        }
        gl_rapi_reply_error(req, 403, "InvalidStateTransition",
                            "State transition is not allowed in the current state");
        return;
    }

    case GL_ENV_EV_RESPONSE:
    case GL_ENV_EV_ERROR:
        /* The caller (rapi entry point) has validated the id and stored the result. */
        if (from != GL_ENV_INVOKING)
            break;
        set_state(env, GL_ENV_RESPONDED, ev);
        finish_invoke(env, "");
        if (tmp_overfull(env)) {
            gl_env_handle(env, GL_ENV_EV_SHUTDOWN, NULL);
            return;
        }
        if (gl_env_must_retire(env) || (!gl_env_idle_timeout(env) && !env->provisioned))
            gl_env_handle(env, GL_ENV_EV_SHUTDOWN, NULL);
        else if (env->state == GL_ENV_RESPONDED && !env->invoke && !env->provisioned)
            arm(env, gl_env_idle_timeout(env));
        return;

    case GL_ENV_EV_INIT_ERROR: {
        const char *type = arg ? arg : "Runtime.Unknown";
        if (from != GL_ENV_INITIALIZING)
            break;
        snprintf(status, sizeof(status), "Status: error\tError Type: %s", type);
        init_report(env, status);
        if (env->provisioned)
            gl_pool_provision_failed(env->pool, type);
        set_state(env, GL_ENV_STOPPING, ev);
        if (env->invoke) {
            snprintf(status, sizeof(status), "Status: error\tError Type: %s\t", type);
            gl_invoke_t *inv = env->invoke;
            inv->function_error = 1;
            free(inv->error_type);
            inv->error_type = strdup(type);
            log_start_once(env, inv);
            finish_invoke(env, status);
        }
        /* The runtime should exit by itself after reporting: give it the grace period to
         * do so (and to write its last lines), then make sure. */
        close_rapi(env);
        arm(env, STOP_GRACE_MS);
        return;
    }

    case GL_ENV_EV_TIMEOUT: {
        if (from != GL_ENV_INVOKING && from != GL_ENV_RESPONDED && from != GL_ENV_IDLE)
            break;
        if (!env->invoke)
            break;
        char secs[32], ts[40];
        fmt_seconds(secs, sizeof(secs), (double)env->fn->cfg.timeout_s);
        gl_fmt_iso8601(gl_now_ms(), ts, sizeof(ts));
        gl_env_log(env, "%s %s Task timed out after %s seconds", ts, env->invoke->request_id,
                      secs);
        snprintf(msg, sizeof(msg), "RequestId: %s Error: Task timed out after %s seconds",
                 env->invoke->request_id, secs);
        set_state(env, GL_ENV_STOPPING, ev);
        gl_env_fail_invoke(env, "Sandbox.Timedout", msg, "Status: timeout\t");
        stop_process(env, 0);
        return;
    }

    case GL_ENV_EV_INIT_TIMEOUT: {
        if (from != GL_ENV_INITIALIZING)
            break;
        init_report(env, "Status: timeout");
        if (env->provisioned)
            gl_pool_provision_failed(env->pool, "the init phase timed out (10 s)");
        set_state(env, GL_ENV_STOPPING, ev);
        if (env->invoke) {
            char secs[32];
            fmt_seconds(secs, sizeof(secs), ms_since(env->spawned_ns) / 1000.0);
            snprintf(msg, sizeof(msg), "RequestId: %s Error: Task timed out after %s seconds",
                     env->invoke->request_id, secs);
            gl_env_fail_invoke(env, "Sandbox.Timedout", msg, "Status: timeout\t");
        }
        stop_process(env, 0);
        return;
    }

    case GL_ENV_EV_IDLE_TIMEOUT:
    case GL_ENV_EV_SHUTDOWN:
        if (from == GL_ENV_STOPPING || from == GL_ENV_DEAD)
            return;
        set_state(env, GL_ENV_STOPPING, ev);
        /* An invoke still assigned fails when the process exits (EXITED below). */
        stop_process(env, 1);
        return;

    case GL_ENV_EV_EXITED: {
        char reason[128];
        /* The environment ends with its runtime: nothing it started may outlive it. The
         * group id cannot have been reused while members of the group are alive. */
        kill_all(env);
        /* Over its memory cap the kernel (or the watchdog) killed it: Lambda's REPORT says
         * Runtime.OutOfMemory while the caller still gets the ExitError body. */
        int oom = env->cg && gl_cg_oom_kills(env->cg) > 0;
        exit_reason(env->exit_status, reason, sizeof(reason));
        if (env->invoke) {
            snprintf(msg, sizeof(msg), "RequestId: %s Error: %s", env->invoke->request_id, reason);
            drain_output(env);
            if (from == GL_ENV_INITIALIZING)
                init_report(env, "Status: error\tError Type: Runtime.ExitError");
            log_start_once(env, env->invoke);
            gl_env_log(env, "%s\nRuntime.ExitError", msg);
            gl_env_fail_invoke(env, "Runtime.ExitError", msg,
                               oom ? "Status: error\tError Type: Runtime.OutOfMemory\t"
                                   : "Status: error\tError Type: Runtime.ExitError\t");
        } else if (from == GL_ENV_INITIALIZING) {
            init_report(env, "Status: error\tError Type: Runtime.ExitError");
            if (env->provisioned)
                gl_pool_provision_failed(env->pool, reason);
        }
        if (from != GL_ENV_STOPPING)
            gl_log_debug("env=%.8s fn=%s runtime exited: %s", env->id, env->fn->cfg.name, reason);
        set_state(env, GL_ENV_DEAD, ev);
        gl_env_teardown(env);
        return;
    }
    }
    gl_log_debug("env=%.8s fn=%s event %s refused in state %s", env->id, env->fn->cfg.name,
                 event_names[ev], state_names[from]);
}

json_t *gl_env_json(const gl_env_t *env)
{
    const char *status;
    switch (env->state) {
    case GL_ENV_STARTING:
    case GL_ENV_INITIALIZING: status = "initializing"; break;
    case GL_ENV_IDLE: status = env->frozen ? "frozen" : "idle"; break;
    case GL_ENV_RESPONDED: status = env->invoke ? "busy" : "idle"; break;
    case GL_ENV_INVOKING: status = "busy"; break;
    default: status = "stopping";
    }
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:I, s:i, s:i}", "id", env->id,
                          "function", env->fn->cfg.name, "version", env->fn->version, "status",
                          status, "state", state_names[env->state], "pid", (int)env->pid,
                          "age_ms", (json_int_t)((gl_mono_ns() - env->spawned_ns) / 1000000),
                          "invokes", (int)env->invokes, "runtime_api_port", env->rapi_port);
    json_object_set_new(o, "max_memory_mb", json_integer(env->max_memory_mb));
    return o;
}

int gl_env_takes_work(const gl_env_t *env)
{
    return !env->invoke && (env->state == GL_ENV_IDLE || env->state == GL_ENV_RESPONDED);
}

/* ---- Runtime API entry points ---- */


/* Start reading the runtime's output pipes and watching its pidfd (parent ends given). */
void gl_env_watch(gl_env_t *env, int out_fd, int err_fd)
{
    uv_loop_t *loop = env->sched->loop;
    uv_pipe_init(loop, &env->out, 0);
    uv_pipe_init(loop, &env->err, 0);
    env->out.data = env->err.data = env;
    uv_pipe_open(&env->out, out_fd);
    uv_pipe_open(&env->err, err_fd);
    uv_read_start((uv_stream_t *)&env->out, on_alloc, on_output);
    uv_read_start((uv_stream_t *)&env->err, on_alloc, on_output);
    uv_poll_init(loop, &env->exit_poll, env->pidfd);
    env->exit_poll.data = env;
    uv_poll_start(&env->exit_poll, UV_READABLE, on_exit_readable);
}
