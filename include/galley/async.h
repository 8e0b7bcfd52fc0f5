/* SPDX-License-Identifier: MIT */
/*
 * async.h: durable asynchronous invocation. Events (X-Amz-Invocation-Type: Event, InvokeAsync,
 * destination deliveries to functions) go into an append-only journal under <state>/async/ and
 * are acknowledged only once an fsync covering them has completed; a worker runs them through
 * the scheduler with Lambda's retries, throttle backoff and maximum event age, then hands the
 * outcome to the OnSuccess / OnFailure destination or the dead-letter queue. Also owns the
 * FunctionEventInvokeConfig store (<state>/async/event-invoke-configs.json).
 *
 * Everything runs on the loop thread except the fsyncs and the file-sink writes, which run on
 * libuv's thread pool. An event is on disk before its acknowledgement callback says so; an
 * event accepted and not yet done is replayed, in order, by the next gl_async_open.
 */
#ifndef GALLEY_ASYNC_H
#define GALLEY_ASYNC_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "galley/err.h"
#include "galley/registry.h"

struct gl_sched;
typedef struct gl_async gl_async_t;

typedef struct gl_async_opts {
    const char *state_dir;        /* <state>/async and <state>/destinations live under it */
    gl_registry_t *registry;      /* resolves function names at each attempt */
    struct gl_sched *sched;       /* runs the attempts */
    double time_scale;            /* every delay and age limit is divided by this (>= 1 typical) */
    size_t segment_max;           /* journal segment size before rotation; 0 = 8 MiB */
    size_t max_queued_bytes;      /* payload bytes held in the queue; 0 = 1 GiB */
} gl_async_opts_t;

/**
 * Open the journal (replaying every accepted, not yet done event into the queue, in order, and
 * compacting the journal into one fresh segment) and load the event invoke configs. Nothing
 * runs until gl_async_start. On failure nothing is left open.
 */
int gl_async_open(gl_async_t **out, uv_loop_t *loop, const gl_async_opts_t *opts, gl_err_t *err);
/** Begin running queued events (call once functions are loaded). */
void gl_async_start(gl_async_t *a);
/**
 * Stop running events: nothing new is submitted to the scheduler; attempts in flight finish
 * (their outcome is recorded; a failed attempt while stopping is left for the next start).
 * New events are still accepted durably until gl_async_close. Once started, the first call
 * must come while the scheduler is open: it takes back the scheduler's slot-free hook.
 */
void gl_async_stop(gl_async_t *a);
/** Refuse new events, wait for pending fsyncs and sink writes, close every handle and free a;
 *  on_closed(arg) runs last. Implies gl_async_stop. */
void gl_async_close(gl_async_t *a, void (*on_closed)(void *arg), void *arg);

/** status is 0 once the event is on disk, or a negative errno (nothing was accepted). */
typedef void (*gl_async_accepted_fn)(int status, void *arg);

typedef struct gl_async_event_in {
    const char *request_id;       /* the event's id: every attempt runs with it */
    const char *fn_name;
    const char *qualifier;        /* NULL or "" for unqualified */
    const void *payload;          /* valid JSON */
    size_t len;
    const char *trace_id;         /* may be NULL */
} gl_async_event_in_t;

/**
 * Append the event and call accepted(status, arg) once the batch fsync covering it completes
 * (never before this returns). Returns 0, or a negative errno without calling accepted:
 * -EAGAIN when the queue holds max_queued_bytes, -ESHUTDOWN when closing, -EIO when the
 * journal cannot be written.
 */
int gl_async_enqueue(gl_async_t *a, const gl_async_event_in_t *ev, gl_async_accepted_fn accepted,
                     void *arg);
/** The waiter (arg) went away before its callback: it will not be called. */
void gl_async_forget(gl_async_t *a, void *arg);

/** Events accepted and not done (queued, delayed or running). */
size_t gl_async_pending(const gl_async_t *a);
/** When (epoch ms) the oldest event not yet running was accepted; 0 when none waits. O(n). */
int64_t gl_async_oldest_waiting_ms(const gl_async_t *a);

/**
 * Check a destination ARN as Put/UpdateFunctionEventInvokeConfig do: a function, an SQS queue,
 * an SNS topic, an EventBridge bus, or (on failure only) an S3 bucket. Returns 0 and copies
 * the target function's name into function ("" for the other kinds), or -EINVAL.
 */
int gl_async_check_destination(const char *arn, int on_failure, char *function, size_t len);

/* ---- FunctionEventInvokeConfig store, keyed by function name and qualifier ("$LATEST"
 *      for unqualified). Values are the API's JSON shape without FunctionArn. ---- */

/** The stored config (borrowed) or NULL. */
const json_t *gl_async_config_get(gl_async_t *a, const char *fn_name, const char *qualifier);
/** Store (steals cfg) and persist; 0 or a negative errno (nothing changed). */
int gl_async_config_put(gl_async_t *a, const char *fn_name, const char *qualifier, json_t *cfg);
/** Remove and persist; -ENOENT when absent. */
int gl_async_config_delete(gl_async_t *a, const char *fn_name, const char *qualifier);
/** Every qualifier of fn_name with a config, sorted (new reference: an array of strings). */
json_t *gl_async_config_qualifiers(gl_async_t *a, const char *fn_name);
/** The function is gone: drop all its configs. */
void gl_async_forget_function(gl_async_t *a, const char *fn_name);

#endif
