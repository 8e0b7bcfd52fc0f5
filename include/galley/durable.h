/* SPDX-License-Identifier: MIT */
/*
 * durable.h: durable executions (Lambda durable functions, API 2025-12-01). An Invoke of a
 * function with a DurableConfig starts an execution; galley invokes the function with Lambda's
 * envelope (DurableExecutionArn, CheckpointToken, InitialExecutionState), keeps what the SDK
 * checkpoints, and invokes it again to replay when a wait elapses or a step's retry is due.
 * Every change to an execution is a record in a journal under <state>/durable, and a
 * checkpoint is acknowledged only once an fsync covering it completed; opening the journal
 * brings back every execution and gl_durable_start resumes the running ones.
 * Everything runs on the loop thread except the fsyncs (libuv's thread pool).
 *
 * The calls that answer a client take a reply callback: it runs exactly once, after the
 * change is on disk (never before the call returns), unless gl_durable_forget(arg) came first.
 * Their body is a new reference the callback owns (NULL with aerr filled on failure).
 */
#ifndef GALLEY_DURABLE_H
#define GALLEY_DURABLE_H

#include <jansson.h>
#include <stddef.h>
#include <uv.h>

#include "galley/err.h"
#include "galley/registry.h"

struct gl_sched;
typedef struct gl_durable gl_durable_t;

typedef struct gl_durable_opts {
    const char *state_dir;      /* <state>/durable holds the journal */
    gl_registry_t *registry;
    struct gl_sched *sched;
    double time_scale;          /* waits, retry delays and timeouts are divided by it */
} gl_durable_opts_t;

int gl_durable_open(gl_durable_t **out, uv_loop_t *loop, const gl_durable_opts_t *opts,
                    gl_err_t *err);
/** Resume every running execution (call once functions are loaded). */
void gl_durable_start(gl_durable_t *d);
/** Stop invoking, wait for pending fsyncs, close the timer; on_closed(arg) runs last. */
void gl_durable_close(gl_durable_t *d, void (*on_closed)(void *arg), void *arg);

/** body: a new reference for the reply (NULL: aerr says what failed). */
typedef void (*gl_durable_reply_fn)(void *arg, json_t *body, const gl_aws_error_t *aerr);
/** The reply for arg is no longer wanted (its client left). */
void gl_durable_forget(gl_durable_t *d, void *arg);

/** The DurableConfig of fn, or NULL when it is not a durable function (borrowed). */
const json_t *gl_durable_config(const gl_fn_t *fn);

typedef struct gl_durable_start_in {
    gl_fn_t *fn;                /* the snapshot the qualifier resolved to */
    const char *qualifier;      /* as invoked: "$LATEST", a version or an alias */
    const char *name;           /* X-Amz-Durable-Execution-Name, or NULL */
    const char *payload;        /* JSON text */
    size_t len;
    int wait;                   /* reply when the execution ends (RequestResponse), else once
                                   it is started and on disk (Event) */
} gl_durable_start_in_t;

/**
 * Start (or, same name and payload while running, join) an execution. The reply body is
 * {"DurableExecutionArn", "Status", "Result"?, "Error"?, "Version"}: Status RUNNING once an
 * Event start is on disk, else the end. Returns 0, or -1 with aerr set
 * (DurableExecutionAlreadyStartedException, ServiceException) and no callback.
 */
int gl_durable_invoke(gl_durable_t *d, const gl_durable_start_in_t *in, gl_durable_reply_fn cb,
                      void *arg, gl_aws_error_t *aerr);

/** CheckpointDurableExecution: apply updates (may be NULL), reply with the new token and
 *  the operations that changed, once on disk; a retry with the same client_token (may be
 *  NULL) and token gets the first answer again. 0, or -1 with aerr set. */
int gl_durable_checkpoint(gl_durable_t *d, const char *arn, const char *token,
                          const char *client_token, const json_t *updates,
                          gl_durable_reply_fn cb, void *arg, gl_aws_error_t *aerr);
/** StopDurableExecution (error may be NULL); the reply is {"StopTimestamp"}. */
int gl_durable_stop(gl_durable_t *d, const char *arn, const json_t *error, gl_durable_reply_fn cb,
                    void *arg, gl_aws_error_t *aerr);
/** SendDurableExecutionCallback{Success,Failure,Heartbeat}: kind 'S', 'F' or 'H'. */
int gl_durable_callback(gl_durable_t *d, const char *callback_id, char kind, const char *result,
                        size_t len, const json_t *error, gl_durable_reply_fn cb, void *arg,
                        gl_aws_error_t *aerr);

/* Reads: a new reference, or NULL with aerr set. */
json_t *gl_durable_get(gl_durable_t *d, const char *arn, gl_aws_error_t *aerr);
json_t *gl_durable_state(gl_durable_t *d, const char *arn, const char *token, const char *marker,
                         long max_items, gl_aws_error_t *aerr);
json_t *gl_durable_history(gl_durable_t *d, const char *arn, int include_data, int reverse,
                           const char *marker, long max_items, gl_aws_error_t *aerr);

typedef struct gl_durable_filter {
    const char *fn_name;
    const char *qualifier;      /* NULL: every qualifier */
    const char *name;           /* DurableExecutionName, or NULL */
    const char *const *statuses; /* NULL-terminated, or NULL */
    double started_after, started_before; /* epoch seconds, 0: none */
    int reverse;
} gl_durable_filter_t;
json_t *gl_durable_list(gl_durable_t *d, const gl_durable_filter_t *f, const char *marker,
                        long max_items, gl_aws_error_t *aerr);

/* galley's own controls (GL_API_GALLEY_PREFIX "/durable", `galley durable`). */
/** Every execution of every function, newest first (status: only those; NULL: all). */
json_t *gl_durable_list_all(gl_durable_t *d, const char *status);
/** Fast-forward one execution: its waits end and its step retries are due now, and it is
 *  invoked to go on; the reply is {"Skipped": n}. */
int gl_durable_skip_waits(gl_durable_t *d, const char *arn, gl_durable_reply_fn cb, void *arg,
                          gl_aws_error_t *aerr);
/** Executions by status, for /metrics and galley's control API: {"RUNNING": n, ...}. */
json_t *gl_durable_counts(gl_durable_t *d);

#endif
