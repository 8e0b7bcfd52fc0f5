/* SPDX-License-Identifier: MIT */
/*
 * internal.h: the scheduler's private structures: the scheduler, one pool per function
 * snapshot, and the execution environment. Shared by sched.c (pools, submit, shutdown),
 * invoke.c (the invoke record's life), env.c (one environment's state machine and process),
 * env_output.c (its pipes and log lines), env_start.c (starting one) and env_rapi.c (the
 * Runtime API router and its entry points).
 */
#ifndef GALLEY_SCHED_INTERNAL_H
#define GALLEY_SCHED_INTERNAL_H

#include <sys/types.h>
#include <uv.h>

#include "galley/env.h"
#include "galley/logs.h"
#include "galley/sched.h"

typedef struct gl_pool gl_pool_t;

/* A function's (all versions') running invokes against its reservation. */
typedef struct gl_fn_usage {
    char *name;
    int reserved;              /* -1: none, draws on the unreserved pool */
    unsigned running;
    int64_t idle_timeout_ms;   /* -1: the daemon's --idle-timeout */
    gl_fault_t fault;          /* injected by a test harness */
    unsigned fault_count;
    int debug_port;            /* gl_sched_set_debug; 0: none */
    struct gl_fn_usage *next;  /* in gl_usage_map_t.list */
    struct gl_fn_usage *hnext; /* in its bucket */
    uint32_t hash;
} gl_fn_usage_t;

/* usage.c: usage entries by function name (a hash, O(1) per submit), also listed for walks. */
typedef struct gl_usage_map {
    gl_fn_usage_t *list;
    gl_fn_usage_t **buckets;
    size_t nbuckets, count;
} gl_usage_map_t;

gl_fn_usage_t *gl_usage_find(const gl_usage_map_t *m, const char *name);
gl_fn_usage_t *gl_usage_get(gl_usage_map_t *m, const char *name); /* made if missing; NULL: ENOMEM */
void gl_usage_map_free(gl_usage_map_t *m);

struct gl_sched {
    uv_loop_t *loop;
    gl_sched_opts_t opts;      /* strings are the scheduler's own copies */
    gl_http_handler_t rapi;
    int rapi_peer_check;       /* env_rapi.c's peer check works here (gl_env_rapi_prepare) */
    char *logs_root;           /* <state>/logs */
    char *run_root;            /* <state>/run: per-environment /tmp directories */
    gl_pool_t *pools;          /* every pool with at least one environment or current fn */
    size_t nenvs;
    unsigned running;          /* invokes assigned to an environment and not yet complete */
    unsigned running_unreserved; /* of which, of functions without a reservation */
    long total_reserved;
    gl_usage_map_t usage;      /* one per function name seen or reserved */
    char **env_vars;           /* gl_sched_set_env: NULL-terminated, owned */
    int closing;
    uv_timer_t grace_timer;
    int grace_timer_open;
    void (*on_closed)(void *arg);
    void *on_closed_arg;
    void (*on_slot_free)(void *arg); /* gl_sched_on_slot_free */
    void *on_slot_free_arg;
};

struct gl_pool {
    gl_sched_t *sched;
    gl_fn_t *fn;               /* reference held by the pool */
    gl_env_t *envs;            /* doubly linked through env->next/prev: those that can work */
    size_t nenvs;              /* in the list */
    size_t nalive;             /* started and not yet freed (listed or tearing down) */
    int retired;               /* fn is no longer current: no new work, stop when free */
    unsigned provisioned;      /* environments to keep initialized ahead of traffic */
    unsigned generation;       /* bumped by gl_sched_recycle: older environments retire */
    struct gl_warm *next_warm; /* set only while gl_sched_warm starts environments */
    int provision_failed;
    char provision_reason[200];
    gl_pool_t *next, *prev;
};

struct gl_env {
    char id[33];               /* 32 hex, also the log stream suffix */
    gl_env_state_t state;
    uint64_t state_since_ns;
    uint64_t spawned_ns;
    gl_sched_t *sched;
    gl_pool_t *pool;
    gl_fn_t *fn;               /* reference */
    pid_t pid;
    int pidfd;
    int exit_status;           /* raw wait status once reaped */
    int reaped;
    uv_poll_t exit_poll;
    uv_pipe_t out, err;
    gl_logs_lines_t out_lines, err_lines;
    gl_http_server_t *rapi;
    int rapi_port;
    gl_sbx_user_t user;        /* who its processes run as: its Runtime API serves only them */
    unsigned rapi_refused;     /* connections refused by the peer check */
    uv_timer_t timer;          /* the one deadline of the current state */
    gl_invoke_t *invoke;       /* assigned invoke (delivered when state is INVOKING) */
    gl_http_req_t *parked;     /* the runtime's pending /next */
    gl_http_req_t *stream_req; /* the runtime's streaming /response being read (env_stream.c) */
    char stream_id[GL_UUID_LEN + 1]; /* the invoke it answers */
    int stream_over;           /* it passed its size limit: the rest is dropped */
    char last_request_id[GL_UUID_LEN + 1];
    gl_cg_t *cg;               /* the environment's cgroup, or NULL */
    unsigned oom_kills;        /* gl_cg_oom_kills when the current invoke started */
    gl_logs_stream_t log;
    char log_stream[96];
    char *tmp_dir;
    double init_duration_ms;
    int initialized;           /* first /next seen */
    unsigned invokes;
    int max_memory_mb;         /* highest seen so far, for `ps` */
    int provisioned;           /* kept initialized ahead of traffic, exempt from idle teardown */
    unsigned generation;       /* the pool's generation when it started */
    struct gl_warm *warm;      /* the gl_sched_warm call this environment was started for */
    gl_fault_t fault;          /* injected: crash once the invoke is delivered, or die in init */
    int debug_port;            /* its debugger's port: no deadlines, no freezing; 0: none */
    int frozen;
    int freeze_due;            /* IDLE and parked: the timer freezes it first (env.c) */
    int sigkill_sent;
    int handles_open;          /* uv handles (and the listener) whose close is pending */
    int rapi_closing;
    int torn_down;
    gl_env_t *next, *prev;
};

/* env_start.c */
/** Start an environment for inv (cold start), or with inv NULL a provisioned one. Every
 *  failure fails inv (through the SPAWN_FAILED event) and returns a negative errno. */
int gl_env_start(gl_pool_t *pool, gl_invoke_t *inv);

/* The SPAWN_FAILED event's argument: the error the waiting invoke gets. */
typedef struct gl_env_failure {
    const char *type;          /* Lambda's error type: "Runtime.Unknown", ... */
    const char *message;
} gl_env_failure_t;

/* env.c */
/** Drive the state machine: an on_<event>() per event; set_state() is the one writer of
 *  env->state and only makes transitions that gl_env_transitions() allows. */
void gl_env_handle(gl_env_t *env, gl_env_event_t ev, void *arg);
/** The states event ev may lead to from state `from`, as a mask of (1u << state); a state
 *  an accepted event leaves unchanged counts as its own target. 0: the event is refused. */
unsigned gl_env_transitions(gl_env_state_t from, gl_env_event_t ev);
/** DEAD: release everything; frees the environment once every handle has closed. */
void gl_env_teardown(gl_env_t *env);
/** Harness fault: the new environment's runtime dies during init (SIGKILL). */
void gl_env_inject_init_failure(gl_env_t *env);
/** Read the runtime's output pipes and watch its exit (parent ends of the pipes). */
void gl_env_watch(gl_env_t *env, int out_fd, int err_fd);
int gl_env_takes_work(const gl_env_t *env);
/** Whether env must stop instead of taking more work (replaced, recycled, closing). */
int gl_env_must_retire(const gl_env_t *env);
/** The idle timeout in force for env's function (ms). */
uint64_t gl_env_idle_timeout(const gl_env_t *env);
/** What `galley ps` shows of one environment (new reference). */
json_t *gl_env_json(const gl_env_t *env);

/* env_output.c */
/** Append a platform line (START, REPORT, ...) to the log stream and the invoke's tail. */
void gl_env_log(gl_env_t *env, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The function's LoggingConfig as its environments apply it (env_logging.c). */
int gl_env_log_json(const gl_env_t *env);
void gl_env_log_group(const gl_env_t *env, char *out, size_t len);
/** AWS_LAMBDA_LOG_LEVEL: ApplicationLogLevel (INFO by default) with JSON, else NULL. */
const char *gl_env_app_log_level(const gl_env_t *env);
/** Whether a line the runtime wrote is kept: with JSON, a JSON record whose "level" (INFO when
 *  missing or unknown) is below ApplicationLogLevel is not. */
int gl_env_app_line_kept(const gl_env_t *env, const char *line, size_t len);
/** Write a platform record: the text line fmt with LogFormat Text, else {"time","type":type,
 *  "record":record} unless SystemLogLevel drops it. record is stolen (may be NULL). */
void gl_env_platform(gl_env_t *env, const char *type, json_t *record, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/** Add "status" (and "errorType") parsed from "Status: x\tError Type: y" ("": success). */
json_t *gl_env_status_record(json_t *rec, const char *status_text);
/** Start reading the runtime's output pipes (their parent ends; the pipes take them). */
void gl_env_read_output(gl_env_t *env, int out_fd, int err_fd);
/** Read what the runtime wrote so far, so it lands before END/REPORT and in the tail. */
void gl_env_drain_output(gl_env_t *env);
/** The runtime is gone: read its last output and log any unterminated last lines. */
void gl_env_flush_output(gl_env_t *env);
/** START is logged once per invoke: at delivery, or when it fails before delivery. */
void gl_env_log_start(gl_env_t *env, gl_invoke_t *inv);
/** Finish the assigned invoke: END and REPORT (status_suffix: "" or REPORT's "Status: ...\t"
 *  fields), its outputs, then hand it back (gl_invoke_complete). No-op without an invoke. */
void gl_env_finish_invoke(gl_env_t *env, const char *status_suffix);
/** Fail the assigned invoke with a platform error; status is REPORT's "Status: ..." suffix. */
void gl_env_fail_invoke(gl_env_t *env, const char *type, const char *message, const char *status);

/* env_rapi.c */
/** Once, in gl_sched_new: whether the Runtime API's peer check can run (sock_diag answers);
 *  says at start when it cannot, and what that leaves open. */
void gl_env_rapi_prepare(gl_sched_t *s);
/** Answer the parked /next with the assigned invoke (its START line, once). */
void gl_env_deliver(gl_env_t *env);

/* A gl_sched_warm call waiting for its environments. */
typedef struct gl_warm {
    unsigned waiting, ready, failed;
    void (*done)(unsigned ready, unsigned failed, void *arg);
    void *arg;
} gl_warm_t;

/*
 * sched.c: how an environment reports to its pool. These are the only calls env*.c make
 * into the pool; the pool reads an environment's public fields (state, invoke, provisioned).
 */
/** A new environment joins pool's list and counts as alive (before anything can fail). */
void gl_pool_link(gl_pool_t *pool, gl_env_t *env);
/** Take env out of its pool's list (it no longer takes work); it stays alive until freed. */
void gl_pool_unlink(gl_pool_t *pool, gl_env_t *env);
/** An environment of pool was freed: free a retired empty pool, finish a pending close,
 *  replace a provisioned environment that had initialized. */
void gl_pool_on_env_freed(gl_pool_t *pool, int was_provisioned, int initialized);
/** An environment started by gl_sched_warm finished its init (ok) or failed (once each). */
void gl_pool_on_env_warm(gl_env_t *env, int ok);
/** A provisioned environment's init failed: the config's status becomes FAILED. */
void gl_pool_on_env_provision_failed(gl_pool_t *pool, const char *reason);

/* env_stream.c */
/** From the Runtime API's body_limit: a /response in streaming mode for the current invoke
 *  becomes a streamed body (returns 1; its chunks go to the invoke), else 0. */
int gl_env_stream_begin(gl_env_t *env, gl_http_req_t *req, const char *request_id);
/** The streamed /response is complete (on_request): the invoke's outcome from its trailers.
 *  Returns 0 when req was this environment's stream (answered), -1 when it was not. */
int gl_env_stream_end(gl_env_t *env, gl_http_req_t *req);

/* invoke.c */
void gl_invoke_complete(gl_invoke_t *inv);
/** Make inv's result a platform error {"errorType","errorMessage"} (X-Amz-Function-Error). */
void gl_invoke_set_error(gl_invoke_t *inv, const char *type, const char *message);
/** gl_invoke_set_error, then gl_invoke_complete: for an invoke that never reached a runtime. */
void gl_invoke_fail(gl_invoke_t *inv, const char *type, const char *message);

/* env_info.c */
/** Lambda's wording of a runtime's end from its wait status ("Runtime exited with error: ..."). */
void gl_env_exit_reason(int status, char *out, size_t len);

#endif
