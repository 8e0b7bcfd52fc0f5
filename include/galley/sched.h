/* SPDX-License-Identifier: MIT */
/*
 * sched.h: the scheduler: invokes in, execution environments out.
 *
 * Each function snapshot (gl_fn_t) has a pool of environments. An invoke goes to an idle
 * environment of its snapshot when there is one (warm), else a new environment is started
 * for it (cold). The scheduler owns a submitted invoke until it calls inv->done exactly once
 * (possibly before gl_sched_submit returns: never touch inv after submitting it); done takes
 * the invoke over and frees it with gl_invoke_free. A caller that loses interest (client
 * gone) sets inv->done = NULL and the scheduler frees the invoke when it completes.
 */
#ifndef GALLEY_SCHED_H
#define GALLEY_SCHED_H

#include <stdint.h>
#include <uv.h>

#include "galley/buf.h"
#include "galley/cgroup.h"
#include "galley/sbx.h"
#include "galley/err.h"
#include "galley/fn.h"
#include "galley/http.h"
#include "galley/util.h"

typedef struct gl_sched gl_sched_t;
typedef struct gl_invoke gl_invoke_t;
typedef void (*gl_invoke_done_fn)(gl_invoke_t *inv);

struct gl_invoke {
    /* inputs, set before submit */
    gl_fn_t *fn;                 /* reference owned by the invoke */
    char request_id[GL_UUID_LEN + 1];
    char *invoked_arn;           /* malloc'd */
    gl_buf_t payload;            /* event bytes */
    char *client_context;        /* decoded JSON text, or NULL */
    char *trace_id;              /* X-Ray header value, or NULL */
    char *cognito_identity;      /* JSON text, or NULL */
    int want_tail;
    /* response streaming: stream asks for the runtime's streamed bytes as they come: each piece
     * goes to on_chunk (NULL once the caller left: pieces are dropped); on_chunk returns 1 to
     * pause the runtime until gl_invoke_stream_resume. Without stream a streamed response is
     * collected into result (6 MB, as Invoke's). */
    int stream;
    int (*on_chunk)(gl_invoke_t *inv, const char *buf, size_t len);
    /* outputs, valid in done */
    int function_error;          /* send X-Amz-Function-Error: Unhandled */
    char *service_error;         /* malloc'd: the service failed, not the function (an
                                    environment that could not be resumed); the Invoke API
                                    answers 500 ServiceException with this message */
    gl_buf_t result;             /* response bytes or error JSON */
    char *content_type;          /* of the runtime's response, or NULL for application/json */
    char *log_tail;              /* base64 of the last 4 KB of this invoke's log, when want_tail */
    char *error_type;            /* for REPORT/metrics: "Runtime.ExitError", ... or NULL */
    int streamed;                /* the runtime answered in streaming mode */
    uint64_t streamed_bytes;     /* bytes it streamed */
    int cold;                    /* this invoke started its environment */
    char env_id[33];             /* the environment that ran it ("" if none started) */
    double duration_ms, init_duration_ms;
    int max_memory_mb;
    /* callback */
    gl_invoke_done_fn done;
    void *data;
    /* private to the scheduler */
    gl_buf_t tail;
    uint64_t started_ns;
    uint64_t response_begun_ns;   /* the runtime's /response head arrived (0: not yet) */
    struct gl_sched *counted_in;  /* set while it counts toward the running invokes */
    struct gl_fn_usage *usage;    /* its function's running count, while counted */
    const char *throttle_reason;  /* set when gl_sched_submit returned -EAGAIN: Lambda's Reason */
    int fault;                    /* gl_fault_t injected into this invoke by a harness */
    gl_http_req_t *stream_src;    /* the runtime's streaming /response while it is read */
};

typedef struct gl_sched_opts {
    const char *runtimes_dir;    /* holds python/bootstrap and nodejs/bootstrap */
    const char *python;          /* resolved interpreter paths */
    const char *node;
    const char *state_dir;       /* logs/ and run/ live under it */
    const char *region;
    const char *account_id;
    uint64_t idle_timeout_ms;    /* idle environments are stopped after this; 0 = right after
                                    their invoke (every invoke is a cold start) */
    unsigned account_concurrency; /* most invokes running at once (Lambda's account limit) */
    uint64_t init_timeout_ms;    /* Lambda's 10 s */
    const gl_http_handler_t *rapi; /* Runtime API handler; its data is the environment */
    const gl_sbx_t *sbx;         /* the sandbox (NULL: plain processes) */
    gl_cg_system_t *cgroups;     /* memory caps and freezing (NULL: neither) */
    unsigned spares;             /* --spares: pre-started interpreters kept per runtime family
                                    in use (0: none; needs gl_sbx_can_specialize) */
} gl_sched_opts_t;

int gl_sched_new(gl_sched_t **out, uv_loop_t *loop, const gl_sched_opts_t *opts, gl_err_t *err);
/**
 * Orderly stop: no new invokes; in-flight ones get until grace_ms to finish, then every
 * environment is stopped (SIGTERM, then SIGKILL) and their invokes fail. on_closed(arg) runs
 * when every environment has exited and every handle is closed; then the scheduler is freed.
 */
void gl_sched_close(gl_sched_t *s, uint64_t grace_ms, void (*on_closed)(void *arg), void *arg);

gl_invoke_t *gl_invoke_new(gl_fn_t *fn);
void gl_invoke_free(gl_invoke_t *inv);
/**
 * Hand inv over: returns 0 and inv belongs to the scheduler (fails it with a Lambda error
 * body when the scheduler is closing). Returns -EAGAIN when running it would exceed the
 * account concurrency (no warm environment is free): inv stays the caller's, who answers
 * 429 TooManyRequestsException.
 */
int gl_sched_submit(gl_sched_t *s, gl_invoke_t *inv);
/** Resume reading a streaming invoke's runtime after on_chunk asked for a pause. */
void gl_invoke_stream_resume(gl_invoke_t *inv);
/**
 * Make inv answer req as a stream: inv->stream set, inv's on_chunk, done and data (owner) and
 * req's data (inv) and on_abort (on_gone) set; req->on_drain resumes the runtime. on_gone
 * should end with gl_invoke_stream_unbind and free its owner.
 */
void gl_invoke_stream_bind(gl_invoke_t *inv, gl_http_req_t *req, void *owner,
                           int (*on_chunk)(gl_invoke_t *inv, const char *buf, size_t len),
                           gl_invoke_done_fn done, void (*on_gone)(gl_http_req_t *req));
/** The caller is gone (req may be NULL): inv runs on answering no one, its streamed pieces
 *  dropped and its runtime resumed; req (if any) loses its data and callbacks. */
void gl_invoke_stream_unbind(gl_invoke_t *inv, gl_http_req_t *req);

/** Lambda's limit on a streamed response (200 MB); a plain Invoke keeps 6 MB. */
#define GL_STREAM_MAX_RESPONSE (200ull * 1024 * 1024)

/**
 * cb(arg) runs each time a running invoke completes and its concurrency slot frees, before
 * the invoke's done callback, possibly deep inside an environment's transition: it must not
 * submit there, only note the slot (the async queue arms a 0 ms timer). One hook; NULL clears.
 */
void gl_sched_on_slot_free(gl_sched_t *s, void (*cb)(void *arg), void *arg);

#define GL_THROTTLE_ACCOUNT "ConcurrentInvocationLimitExceeded"
#define GL_THROTTLE_RESERVED "ReservedFunctionConcurrentInvocationLimitExceeded"

/**
 * Reserved concurrency of the function called name (all its versions): at most n of its
 * invokes run at once (0 throttles all of them), and n is taken out of the account's pool that
 * functions without a reservation share. n < 0 removes the reservation.
 */
void gl_sched_set_reserved(gl_sched_t *s, const char *name, int n);
/** The reservation of name, or -1. */
int gl_sched_reserved(const gl_sched_t *s, const char *name);
/** Account concurrency minus every reservation. */
unsigned gl_sched_unreserved(const gl_sched_t *s);

/**
 * Provisioned concurrency for one snapshot (a published version): keep n environments
 * initialized ahead of traffic (AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency), never
 * torn down for idleness, replaced when one dies. Invokes use them first; more traffic spills
 * over to on-demand environments. n = 0 lets them go.
 */
void gl_sched_provision(gl_sched_t *s, gl_fn_t *fn, unsigned n);
/**
 * Test-harness controls (galley's own API, not Lambda's).
 * Force the next invoke of fn to be cold: idle environments stop now, busy ones after their
 * invoke. Returns how many environments were affected.
 */
unsigned gl_sched_recycle(gl_sched_t *s, gl_fn_t *fn);
/** Idle timeout for every version of the function called name (ms; 0 = every invoke cold);
 *  a negative value returns it to the daemon's --idle-timeout. */
void gl_sched_set_idle_timeout(gl_sched_t *s, const char *name, int64_t ms);
/** The idle timeout in force for name, in ms. */
uint64_t gl_sched_idle_timeout(const gl_sched_t *s, const char *name);

typedef enum gl_fault {
    GL_FAULT_NONE = 0,
    GL_FAULT_THROTTLE, /* 429 TooManyRequestsException, as a throttled invoke gets */
    GL_FAULT_SERVICE,  /* 500 ServiceException */
    GL_FAULT_TIMEOUT,  /* the invoke runs out of time at once: Sandbox.Timedout, cold next */
    GL_FAULT_INIT,     /* a cold start whose runtime dies during init */
    GL_FAULT_CRASH,    /* the runtime is killed during the invoke: Runtime.ExitError */
} gl_fault_t;
/** Parse "throttle", "service", "timeout", "init", "crash"; GL_FAULT_NONE when unknown. */
gl_fault_t gl_fault_parse(const char *s);
const char *gl_fault_name(gl_fault_t f);
/** Make the next count invokes of the function called name fail with kind (replaces what
 *  was pending); count 0 clears. */
void gl_sched_inject(gl_sched_t *s, const char *name, gl_fault_t kind, unsigned count);
/** The fault pending for name and how many invokes it still takes (0: none). */
unsigned gl_sched_pending_fault(const gl_sched_t *s, const char *name, gl_fault_t *kind);
/** Take one pending API-level fault (throttle, service) for the function, if any: the API
 *  answers with it instead of invoking. Faults of the other kinds are taken by submit. */
gl_fault_t gl_sched_take_api_fault(gl_sched_t *s, const char *name);

/**
 * Start n environments of fn ahead of traffic (on-demand ones, subject to the idle timeout)
 * and call done(ready, failed, arg) once each has finished its init or failed. Never calls
 * done before returning.
 */
void gl_sched_warm(gl_sched_t *s, gl_fn_t *fn, unsigned n,
                   void (*done)(unsigned ready, unsigned failed, void *arg), void *arg);
/** Variables ("NAME=VALUE", NULL-terminated; copied) every environment gets before the
 *  function's own: the API's endpoint and credentials, --endpoint-env. -ENOMEM or 0. */
int gl_sched_set_env(gl_sched_t *s, const char *const *vars);
/** The next environments of the function called name start with their runtime's debugger
 *  listening on 127.0.0.1:port (0: off), without deadlines or freezing, one at a time; its
 *  current environments are recycled. */
void gl_sched_set_debug(gl_sched_t *s, const char *name, int port);
/** The debugger port set for name, or 0. */
int gl_sched_debug_port(const gl_sched_t *s, const char *name);
/** Everything back to the state after start: every environment stopped, faults, idle
 *  timeout overrides and debugger ports cleared (functions, reservations and provisioned
 *  configs stay). */
void gl_sched_reset(gl_sched_t *s);

/** Provisioned environments of fn that finished their init and are alive. */
unsigned gl_sched_provisioned_ready(const gl_sched_t *s, const gl_fn_t *fn);
/** 1 when provisioning fn failed (an environment's init failed), with its reason. */
int gl_sched_provisioned_failed(const gl_sched_t *s, const gl_fn_t *fn, const char **reason);
/** Invokes running now (Lambda's ConcurrentExecutions). */
unsigned gl_sched_running(const gl_sched_t *s);
unsigned gl_sched_account_concurrency(const gl_sched_t *s);
/** fn is no longer current: stop its idle environments now, busy ones after their invoke. */
void gl_sched_retire(gl_sched_t *s, gl_fn_t *fn);

/** Live environments, for `ps` and leak checks (new reference: a JSON array). */
json_t *gl_sched_envs_json(gl_sched_t *s);
/** A function of this runtime exists (loaded, created or updated): keep spares for its
 *  family from now on (python*, nodejs*; anything else is ignored). */
void gl_sched_spares_note(gl_sched_t *s, const char *runtime);
/** The spares, for `galley ps` and GET /_galley/environments (new reference): id, state
 *  ("starting" until its interpreter is warm, then "spare"), runtime family, pid, uid, age. */
json_t *gl_sched_spares_json(gl_sched_t *s);
size_t gl_sched_env_count(gl_sched_t *s);

#endif
