/* SPDX-License-Identifier: MIT */
/*
 * internal.h: the scheduler's private structures: the scheduler, one pool per function
 * snapshot, and the execution environment. Shared by sched.c (pools, submit, shutdown),
 * invoke.c (the invoke record's life), env.c (one environment's state machine and process),
 * env_output.c (its pipes and log lines), env_start.c (starting one), env_rapi.c (the
 * Runtime API router and its entry points) and env_ext.c (its extensions).
 */
#ifndef GALLEY_SCHED_INTERNAL_H
#define GALLEY_SCHED_INTERNAL_H

#include <sys/types.h>
#include <uv.h>

#include "galley/env.h"
#include "galley/logs.h"
#include "galley/sched.h"

typedef struct gl_pool gl_pool_t;
typedef struct gl_env_ext gl_env_ext_t;

/* env_ext.c: the extensions registered in one environment (the Extensions API, 2020-01-01). */
typedef struct gl_env_exts {
    gl_env_ext_t *list;        /* in registration order */
    unsigned count;
    unsigned expected;         /* external extensions started (executables in /opt/extensions) */
    int closed;                /* registration is over: init completed */
    char marker[24];           /* the launcher's notes on stderr start with it (env_start.c) */
    uv_pipe_t out;             /* the launcher's fd 3: the external extensions' stdout and
                                * stderr; a line written to it starts the runtime */
    gl_logs_lines_t out_lines;
    int runtime_released;      /* that line was written */
    /* An extension's exit, noted while reading output (maybe inside another event's handler):
     * the EXT_FAILED event comes from the loop (idle), never from inside that handler. */
    uv_idle_t idle;
    int exit_noted;
    char exit_type[32];
    char exit_msg[256];
    int stopping;              /* 1: SHUTDOWN sent, the phase runs (env.c); 2: processes go */
    uint64_t stop_ns;          /* when the shutdown phase began */
    int runtime_over;          /* the runtime's share of the phase is over */
    int done;                  /* every SHUTDOWN subscriber called next again or exited */
    /* An invoke answered before its extensions were done: END and REPORT wait for them. */
    int post_pending;
    int post_cold;
    int post_max_memory_mb;
    uint64_t post_started_ns;
    char post_rid[GL_UUID_LEN + 1];
    gl_sched_t *post_counted;  /* its concurrency slot, held until the extensions are done */
    struct gl_fn_usage *post_usage;
} gl_env_exts_t;

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
    struct gl_spares *spares;  /* spares.c, made by the first gl_sched_spares_note */
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
    uv_timer_t log_flush;      /* writes an invoke's held log lines (env_output.c); lazy */
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
    char *tmp_dir;             /* without a mount namespace: its /tmp on the host */
    unsigned tmp_checking : 1; /* its size is being measured on the work queue */
    unsigned tmp_over : 1;     /* it was found over EphemeralStorage: stop after the invoke */
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
    int from_spare;            /* started by specializing a spare (spares.c) */
    int freeze_due;            /* IDLE and parked: the timer freezes it first (env.c) */
    int sigkill_sent;
    int handles_open;          /* uv handles (and the listener) whose close is pending */
    int rapi_closing;
    int torn_down;
    gl_env_exts_t ext;         /* its extensions (env_ext.c) */
    struct gl_tel *tel;        /* Telemetry and Logs API subscriptions (telemetry.c), or NULL */
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
/** Keep env from being freed while a handle's close or work off the loop refers to it;
 *  gl_env_unhold lets go and frees it if it was torn down meanwhile. */
void gl_env_hold(gl_env_t *env);
void gl_env_unhold(gl_env_t *env);
/** Close the Runtime API listener (a parked /next is aborted by it); idempotent. */
void gl_env_close_rapi(gl_env_t *env);
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
/** Whether gl_env_platform would use a record: LogFormat JSON, or telemetry subscribers
 *  (a caller on the warm path builds its record only then). */
int gl_env_platform_wanted(const gl_env_t *env);
/** Add "status" (and "errorType") parsed from "Status: x\tError Type: y" ("": success). */
json_t *gl_env_status_record(json_t *rec, const char *status_text);
/** Start reading the runtime's output pipes (their parent ends; the pipes take them). */
void gl_env_read_output(gl_env_t *env, int out_fd, int err_fd);
/** Start reading the external extensions' output socket (env->ext.out takes fd). */
void gl_env_ext_read_output(gl_env_t *env, int fd);
/** Read what the runtime wrote so far, so it lands before END/REPORT and in the tail. */
void gl_env_drain_output(gl_env_t *env);
/** The runtime is gone: read its last output and log any unterminated last lines. */
void gl_env_flush_output(gl_env_t *env);
/** INIT_REPORT (platform.initReport) with "Status: ..." fields. */
void gl_env_init_report(gl_env_t *env, const char *status);
/** START is logged once per invoke: at delivery, or when it fails before delivery. */
void gl_env_log_start(gl_env_t *env, gl_invoke_t *inv);
/** Finish the assigned invoke: END and REPORT (status_suffix: "" or REPORT's "Status: ...\t"
 *  fields), its outputs, then hand it back (gl_invoke_complete). No-op without an invoke. */
void gl_env_finish_invoke(gl_env_t *env, const char *status_suffix);
/** The runtime answered but an extension is still at work: the caller gets its answer now,
 *  END and REPORT wait (env->ext.post_*) for gl_env_report_post. */
void gl_env_answer_early(gl_env_t *env);
/** END and REPORT of the invoke answered early; Duration runs until now. */
void gl_env_report_post(gl_env_t *env, const char *status_suffix);
/** Fail the assigned invoke with a platform error; status is REPORT's "Status: ..." suffix. */
void gl_env_fail_invoke(gl_env_t *env, const char *type, const char *message, const char *status);

/* env_rapi.c */
/** Once, in gl_sched_new: whether the Runtime API's peer check can run (sock_diag answers);
 *  says at start when it cannot, and what that leaves open. */
void gl_env_rapi_prepare(gl_sched_t *s);
/** Answer the parked /next with the assigned invoke (its START line, once). */
void gl_env_deliver(gl_env_t *env);
/** The parked /next's connection was shut down: it is answered 400 and 1 returned. */
int gl_env_drop_abandoned_next(gl_env_t *env);

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
/** One running invoke of s (and of usage's function, when given) is over: its slot is free. */
void gl_invoke_release(gl_sched_t *s, gl_fn_usage_t *usage);
/** Make inv's result a platform error {"errorType","errorMessage"} (X-Amz-Function-Error). */
void gl_invoke_set_error(gl_invoke_t *inv, const char *type, const char *message);
/** gl_invoke_set_error, then gl_invoke_complete: for an invoke that never reached a runtime. */
void gl_invoke_fail(gl_invoke_t *inv, const char *type, const char *message);

/* spare_msg.c: the pure rules of spares */
#define GL_SPARE_MAGIC "GLSPARE1"
#define GL_SPARE_MSG_MAX (128u * 1024)
/** "python" or "nodejs" for a runtime galley keeps spares of, else NULL (provided). */
const char *gl_spare_family(const char *runtime);
/** 0 when the function sets a variable an interpreter reads only at its start (LD_*,
 *  PYTHON*, NODE_*, LANG, ...): such a function always starts a fresh process. */
int gl_spare_env_ok(const json_t *env_vars);
/** The specialization message for envp (NULL-terminated): malloc'd into *out. -E2BIG past
 *  GL_SPARE_MSG_MAX. */
int gl_spare_msg_encode(char *const *envp, char **out, size_t *len);
/** How many spares to start now for a family holding `have` (starting or ready) of target. */
unsigned gl_spares_to_start(unsigned target, unsigned have, uint64_t mem_available,
                            uint64_t mem_floor);

/* spares.c: spare, pre-started interpreters (docs/performance.md) */
/** What an environment takes over from a spare: every descriptor and the user and cgroup. */
typedef struct gl_spare_proc {
    char id[33];
    pid_t pid;
    int pidfd;
    int ctl_fd;                /* the daemon's end of the spare's control socket */
    int out_fd, err_fd;        /* the daemon's ends of its output pipes */
    int rapi_fd;               /* its Runtime API listener (isolated network), else -1 */
    gl_sbx_user_t user;
    gl_cg_t *cg;               /* made without a memory limit, or NULL */
} gl_spare_proc_t;
typedef struct gl_spares gl_spares_t;
/** Take a ready spare for a cold start of fn (1), or none (0: start fresh): none is kept for
 *  its runtime, the function is not eligible, or spares are off. Schedules a refill. */
int gl_spares_take(gl_sched_t *s, const gl_fn_t *fn, int debug_port, gl_spare_proc_t *out);
/** Kill and release a spare's process and everything it holds (a failed take, shutdown). */
void gl_spare_proc_discard(gl_sched_t *s, gl_spare_proc_t *p);
/** Stop refilling and kill every spare (shutdown); the spares' handles close on their own. */
void gl_spares_close(gl_sched_t *s);

/* env_start.c, for spares.c */
/** Start a spare of family ("python", "nodejs") in a fresh sandbox: its own user and cgroup
 *  (no memory limit), an empty /var/task, no function variables. */
int gl_env_spawn_spare(gl_sched_t *s, const char *family, gl_spare_proc_t *p, gl_err_t *err);

/* env_ext.c: one registered extension. The Telemetry API finds its subscriber by identifier. */
#define GL_ENV_EXT_INVOKE 1u
#define GL_ENV_EXT_SHUTDOWN 2u
struct gl_env_ext {
    char id[GL_UUID_LEN + 1];  /* Lambda-Extension-Identifier */
    char name[128];            /* Lambda-Extension-Name */
    int external;              /* started from /opt/extensions (else internal: in the runtime) */
    unsigned events;           /* GL_ENV_EXT_INVOKE | GL_ENV_EXT_SHUTDOWN */
    gl_env_t *env;
    /* private */
    gl_http_req_t *parked;     /* its /event/next, waiting for an event */
    char *pending;             /* an event not yet taken (JSON text) */
    int waiting;               /* called /event/next and was given nothing since */
    int exited;
    gl_env_ext_t *next;
};
/** The extension of env registered under identifier, or NULL. */
gl_env_ext_t *gl_env_ext_find(gl_env_t *env, const char *identifier);
/** Extensions API entry points (the router in env_rapi.c). Each replies to req once. */
void gl_env_ext_register(gl_env_t *env, gl_http_req_t *req);
void gl_env_ext_next(gl_env_t *env, gl_http_req_t *req);
void gl_env_ext_error(gl_env_t *env, gl_http_req_t *req, int at_init);
/** Init is over: Lambda's "EXTENSION Name: ... State: Ready Events: [...]" line for each. */
void gl_env_ext_log_ready(gl_env_t *env);
/** Every external extension registered: the launcher may start the runtime (Lambda's order:
 *  extension init, then runtime init). Once. */
void gl_env_ext_release_runtime(gl_env_t *env);
/** Every extension is waiting in /event/next (and every external one registered). */
int gl_env_ext_ready(const gl_env_t *env);
/** Hand INVOKE to the extensions subscribed to it. */
void gl_env_ext_invoke(gl_env_t *env, const gl_invoke_t *inv, int64_t deadline_ms);
/** Hand SHUTDOWN (reason: spindown, timeout, failure) to the subscribed extensions still
 *  running; returns how many were told. */
unsigned gl_env_ext_shutdown(gl_env_t *env, const char *reason, int64_t deadline_ms);
/** A line of the runtime's output that is the launcher's note of an extension's exit: it
 *  becomes the EXT_FAILED event and 1 is returned (the line is not logged); else 0. */
int gl_env_ext_note(gl_env_t *env, const char *line, size_t len);
/** After SHUTDOWN: every subscribed extension called /event/next again or exited. */
int gl_env_ext_shutdown_done(const gl_env_t *env);
/** Release the list (after the Runtime API closed: no request is parked any more). */
void gl_env_ext_free(gl_env_t *env);
/** Event bodies (new strings; NULL on ENOMEM), and the register body's events (0, or -1 with
 *  Lambda's error type and message). */
char *gl_env_ext_invoke_event(int64_t deadline_ms, const char *request_id, const char *arn,
                              const char *trace_id);
char *gl_env_ext_shutdown_event(const char *reason, int64_t deadline_ms);
int gl_env_ext_parse_events(const char *body, size_t len, int external, unsigned *events,
                            const char **type, char *msg, size_t msglen);
int gl_env_ext_valid_id(const char *s);

/* env_info.c */
/** Whether the process handles SIGTERM (SigCgt in /proc). */
int gl_env_catches_sigterm(pid_t pid);
/** Without a mount namespace: measure /tmp on the work queue after an invoke (not while a
 *  measure runs); over EphemeralStorage sets tmp_over (said in the log) and stops env if it
 *  is idle, else after its current invoke. */
void gl_env_check_tmp(gl_env_t *env);
/** Lambda's wording of a runtime's end from its wait status ("Runtime exited with error: ..."). */
void gl_env_exit_reason(int status, char *out, size_t len);

#endif
