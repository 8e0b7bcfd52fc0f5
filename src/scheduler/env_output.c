/* SPDX-License-Identifier: MIT */
/*
 * env_output.c: what an environment writes: the runtime's stdout/stderr pipes (read with
 * libuv, split into lines) and the platform lines galley adds (START, END, REPORT, ...). Each
 * line goes to the environment's log stream and, while an invoke that wants it is assigned,
 * to that invoke's tail. The external extensions write to a socket of their own (the launcher's
 * fd 3, env_start.c): their lines go to the same log stream and reach Telemetry and Logs API
 * subscribers as "extension" records. The pipes are handles of the environment (gl_env_t);
 * closing them is env_release.c's teardown.
 */
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "telemetry.h"

/* An invoke's lines are held from START to REPORT and written with one writev; a line of a
 * longer invoke reaches the file at most LOG_FLUSH_MS after it was read. */
#define LOG_FLUSH_MS 10

static void on_log_flush(uv_timer_t *t)
{
    gl_env_t *env = t->data;
    gl_logs_stream_flush(&env->log);
}

static void log_hold(gl_env_t *env, int on)
{
    if (!gl_logs_stream_hold(&env->log, on) && env->log_flush.loop)
        uv_timer_stop(&env->log_flush);
}

static void emit_line(const char *line, size_t len, void *arg)
{
    gl_env_t *env = arg;
    gl_logs_stream_write(&env->log, line, len);
    uv_timer_t *t = &env->log_flush;
    if (env->log.held.len && !(t->loop && uv_is_active((uv_handle_t *)t))) {
        if (!t->loop) {
            uv_timer_init(env->sched->loop, t);
            t->data = env;
        }
        uv_timer_start(t, on_log_flush, LOG_FLUSH_MS, 0);
    }
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

/* A line the runtime wrote: filtered by ApplicationLogLevel (env_logging.c), then emitted. */
static void emit_output(const char *line, size_t len, void *arg)
{
    if (gl_env_ext_note(arg, line, len))
        return; /* the launcher's note of an extension's exit */
    if (!gl_env_app_line_kept(arg, line, len))
        return;
    emit_line(line, len, arg);
    gl_env_tel_line(arg, "function", line, len);
}

/* A line an external extension wrote: the function's log stream, as Lambda logs it, and the
 * subscribers' "extension" records (ApplicationLogLevel is the function's, not theirs). */
static void emit_ext_output(const char *line, size_t len, void *arg)
{
    emit_line(line, len, arg);
    gl_env_tel_line(arg, "extension", line, len);
}

/* Read what the runtime wrote before its last Runtime API call, so that it lands before
 * END/REPORT and in the tail. The writes happened-before the call, so they are in the pipe.
 * fd: p's descriptor (gl_env_drain_output checked that p is open). */
static void drain_pipe(gl_env_t *env, uv_pipe_t *p, int fd, gl_logs_lines_t *lines)
{
    gl_logs_line_fn emit = p == &env->ext.out ? emit_ext_output : emit_output;
    char buf[65536];
    for (int rounds = 0; rounds < 256; rounds++) {
        ssize_t n = read(fd, buf, sizeof(buf));
        if (n <= 0)
            break;
        gl_logs_lines_feed(lines, buf, (size_t)n, emit, env);
        if ((size_t)n < sizeof(buf))
            break; /* a pipe read returns what it holds: it is empty now */
    }
}

/* Whatever the processes wrote before they answered, read now (before END): one poll of the
 * pipes, then a read of each that holds something; most invokes write nothing. */
void gl_env_drain_output(gl_env_t *env)
{
    uv_pipe_t *pipes[3] = {&env->out, &env->err, env->ext.out.loop ? &env->ext.out : NULL};
    gl_logs_lines_t *lines[3] = {&env->out_lines, &env->err_lines, &env->ext.out_lines};
    struct pollfd fds[3];
    nfds_t n = 0;
    for (int i = 0; i < 3; i++) {
        uv_os_fd_t fd;
        fds[i] = (struct pollfd){.fd = -1};
        if (pipes[i] && !uv_is_closing((uv_handle_t *)pipes[i]) &&
            uv_fileno((uv_handle_t *)pipes[i], &fd) == 0) {
            fds[i] = (struct pollfd){.fd = fd, .events = POLLIN};
            n = (nfds_t)i + 1;
        }
    }
    int ready = n ? poll(fds, n, 0) : 0;
    for (nfds_t i = 0; i < n; i++)
        if (fds[i].fd >= 0 && (ready < 0 || fds[i].revents))
            drain_pipe(env, pipes[i], fds[i].fd, lines[i]);
}

void gl_env_flush_output(gl_env_t *env)
{
    gl_env_drain_output(env);
    gl_logs_lines_flush(&env->out_lines, emit_output, env);
    gl_logs_lines_flush(&env->err_lines, emit_output, env);
    gl_logs_lines_flush(&env->ext.out_lines, emit_ext_output, env);
    log_hold(env, 0);
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
    int ext = s == (uv_stream_t *)&env->ext.out;
    gl_logs_lines_t *lines = ext ? &env->ext.out_lines
                             : s == (uv_stream_t *)&env->out ? &env->out_lines
                                                             : &env->err_lines;
    gl_logs_line_fn emit = ext ? emit_ext_output : emit_output;
    if (n > 0) {
        gl_logs_lines_feed(lines, buf->base, (size_t)n, emit, env);
    } else if (n < 0) {
        gl_logs_lines_flush(lines, emit, env);
        uv_read_stop(s);
    }
}

void gl_env_read_output(gl_env_t *env, int out_fd, int err_fd)
{
    uv_loop_t *loop = env->sched->loop;
    uv_pipe_init(loop, &env->out, 0);
    uv_pipe_init(loop, &env->err, 0);
    env->out.data = env->err.data = env;
    uv_pipe_open(&env->out, out_fd);
    uv_pipe_open(&env->err, err_fd);
    uv_read_start((uv_stream_t *)&env->out, on_alloc, on_output);
    uv_read_start((uv_stream_t *)&env->err, on_alloc, on_output);
}

void gl_env_ext_read_output(gl_env_t *env, int fd)
{
    uv_pipe_init(env->sched->loop, &env->ext.out, 0);
    env->ext.out.data = env;
    uv_pipe_open(&env->ext.out, fd);
    uv_read_start((uv_stream_t *)&env->ext.out, on_alloc, on_output);
}

/* ---- an invoke's platform lines and outputs ---- */

static double ms_since(uint64_t ns) { return (double)(gl_mono_ns() - ns) / 1e6; }

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

/* Milliseconds to two decimals, as the text lines print them. */
static double round2(double ms)
{
    return round(ms * 100.0) / 100.0;
}

/* Peak memory of the environment so far, in MB (at least 1). */
static int invoke_memory_mb(gl_env_t *env, gl_invoke_t *inv)
{
    /* The cgroup's peak covers every process of the environment, not only the runtime; the
     * runtime's own peak RSS stands in without one (or before the watchdog's first sample). */
    int mb = inv ? inv->max_memory_mb : 0;
    if (env->cg)
        mb = (int)((gl_cg_peak(env->cg) + (1u << 20) - 1) >> 20);
    if (mb <= 0 && !env->reaped)
        mb = read_max_memory_mb(env->pid);
    if (mb < env->max_memory_mb)
        mb = env->max_memory_mb;
    if (mb <= 0)
        mb = 1;
    env->max_memory_mb = mb;
    return mb;
}

/* END and REPORT of one invoke. */
static void write_report(gl_env_t *env, const char *rid, double duration_ms, int cold,
                         int max_memory_mb, const char *status_suffix)
{
    char init_part[64] = "";
    int records = gl_env_platform_wanted(env); /* with Text and no subscriber: lines only */
    json_t *metrics = NULL;
    if (cold)
        snprintf(init_part, sizeof(init_part), "Init Duration: %.2f ms\t", env->init_duration_ms);
    gl_env_platform(env, "platform.runtimeDone",
                    records ? gl_env_status_record(json_pack("{s:s}", "requestId", rid),
                                                   status_suffix)
                            : NULL,
                    "END RequestId: %s", rid);
    if (records)
        metrics = json_pack("{s:f,s:i,s:i,s:i}", "durationMs", round2(duration_ms),
                            "billedDurationMs", (json_int_t)ceil(duration_ms), "memorySizeMB",
                            env->fn->cfg.memory_mb, "maxMemoryUsedMB", max_memory_mb);
    if (metrics && cold)
        json_object_set_new(metrics, "initDurationMs", json_real(round2(env->init_duration_ms)));
    gl_env_platform(env, "platform.report",
                    records ? gl_env_status_record(json_pack("{s:s,s:o*}", "requestId", rid,
                                                             "metrics", metrics),
                                                   status_suffix)
                            : NULL,
                    "REPORT RequestId: %s\tDuration: %.2f ms\tBilled Duration: %.0f ms\t"
                    "Memory Size: %d MB\tMax Memory Used: %d MB\t%s%s",
                    rid, duration_ms, ceil(duration_ms), env->fn->cfg.memory_mb, max_memory_mb,
                    init_part, status_suffix);
}

/* Its outputs (the log tail), then hand the invoke back to its caller. */
static void hand_back(gl_env_t *env, gl_invoke_t *inv)
{
    if (inv->want_tail) {
        size_t off = inv->tail.len > GL_LOGS_TAIL_MAX ? inv->tail.len - GL_LOGS_TAIL_MAX : 0;
        gl_b64_encode(inv->tail.data ? inv->tail.data + off : "", inv->tail.len - off,
                      &inv->log_tail);
    }
    inv->init_duration_ms = inv->cold ? env->init_duration_ms : 0.0;
    snprintf(env->last_request_id, sizeof(env->last_request_id), "%s", inv->request_id);
    env->invoke = NULL;
    env->invokes++;
    gl_invoke_complete(inv);
}

/*
 * Finish the environment's invoke: END and REPORT lines, outputs, then hand it back.
 * status_suffix is "" or REPORT's "Status: ...\t" fields for platform failures.
 */
void gl_env_finish_invoke(gl_env_t *env, const char *status_suffix)
{
    gl_invoke_t *inv = env->invoke;
    if (!inv)
        return;
    gl_env_drain_output(env);
    inv->duration_ms = inv->started_ns ? ms_since(inv->started_ns) : 0.0;
    inv->max_memory_mb = invoke_memory_mb(env, inv);
    write_report(env, inv->request_id, inv->duration_ms, inv->cold, inv->max_memory_mb,
                 status_suffix);
    log_hold(env, 0); /* the invoke's lines are in the file before its reply */
    uv_timer_stop(&env->timer);
    hand_back(env, inv);
}

void gl_env_answer_early(gl_env_t *env)
{
    gl_invoke_t *inv = env->invoke;
    gl_env_exts_t *x = &env->ext;
    if (!inv)
        return;
    gl_env_drain_output(env);
    gl_env_tel_runtime_done(env);
    inv->duration_ms = inv->started_ns ? ms_since(inv->started_ns) : 0.0;
    inv->max_memory_mb = invoke_memory_mb(env, inv);
    x->post_pending = 1;
    x->post_cold = inv->cold;
    x->post_started_ns = inv->started_ns ? inv->started_ns : gl_mono_ns();
    x->post_max_memory_mb = inv->max_memory_mb;
    snprintf(x->post_rid, sizeof(x->post_rid), "%s", inv->request_id);
    /* The environment is still busy: the invoke's concurrency slot stays taken (as Lambda
     * counts it) until gl_env_report_post. */
    x->post_counted = inv->counted_in;
    x->post_usage = inv->usage;
    inv->counted_in = NULL;
    inv->usage = NULL;
    hand_back(env, inv); /* the function's deadline stays armed: it covers the extensions */
}

void gl_env_report_post(gl_env_t *env, const char *status_suffix)
{
    gl_env_exts_t *x = &env->ext;
    if (!x->post_pending)
        return;
    x->post_pending = 0;
    gl_env_drain_output(env);
    int mb = invoke_memory_mb(env, NULL);
    write_report(env, x->post_rid, ms_since(x->post_started_ns), x->post_cold,
                 mb > x->post_max_memory_mb ? mb : x->post_max_memory_mb, status_suffix);
    log_hold(env, 0);
    if (x->post_counted) {
        gl_sched_t *counted = x->post_counted;
        x->post_counted = NULL;
        gl_invoke_release(counted, x->post_usage);
    }
}

/* INIT_REPORT (platform.initReport): the init phase ended with status. */
void gl_env_init_report(gl_env_t *env, const char *status)
{
    double ms = ms_since(env->spawned_ns);
    gl_env_tel_init_done(env, status, 0); /* initRuntimeDone; the record below is initReport */
    json_t *rec = json_pack("{s:s,s:s,s:{s:f}}", "initializationType",
                            env->provisioned ? "provisioned-concurrency" : "on-demand", "phase",
                            "init", "metrics", "durationMs", round(ms * 100.0) / 100.0);
    gl_env_platform(env, "platform.initReport", gl_env_status_record(rec, status),
                    "INIT_REPORT Init Duration: %.2f ms\tPhase: init\t%s", ms, status);
}

/* START is logged once per invoke: at delivery, or when it fails before delivery. */
void gl_env_log_start(gl_env_t *env, gl_invoke_t *inv)
{
    if (inv->started_ns)
        return;
    inv->started_ns = gl_mono_ns();
    log_hold(env, 1);
    gl_env_platform(env, "platform.start",
                    gl_env_platform_wanted(env) ? json_pack("{s:s,s:s}", "requestId",
                                                            inv->request_id, "version",
                                                            env->fn->version)
                                                : NULL,
                    "START RequestId: %s Version: %s", inv->request_id, env->fn->version);
}

/* Fail the assigned invoke with a platform error body {"errorType","errorMessage"}. */
void gl_env_fail_invoke(gl_env_t *env, const char *type, const char *message, const char *status)
{
    gl_invoke_t *inv = env->invoke;
    if (!inv)
        return;
    gl_env_log_start(env, inv);
    gl_invoke_set_error(inv, type, message);
    gl_env_finish_invoke(env, status);
}
