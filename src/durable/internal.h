/* SPDX-License-Identifier: MIT */
/*
 * internal.h: declarations shared inside the durable module: one execution (gl_dx_t) and the
 * pure functions over its state (exec.c: creation, tokens, events, finishing; ops.c: the
 * checkpoint updates and the timers; pages.c: the paged reads), and the module's state
 * (durable.c: journal, fsyncs, timer; compact.c: the journal kept bounded; invoke.c:
 * invocations and their outcome).
 *
 * An execution's whole state is one JSON document, persisted as it is (a STATE record of the
 * journal holds the latest one):
 *   {"Id", "Arn", "Name", "FunctionName", "Qualifier", "Version", "FunctionArn", "Input",
 *    "Status" (RUNNING, SUCCEEDED, FAILED, TIMED_OUT, STOPPED), "Start", "End" (epoch ms),
 *    "Result", "Error", "Timeout" (s), "Retention" (days), "Seq" (the checkpoint token's
 *    number), "InvSeq" (Seq when the current invocation started), "Ops" {Id: Operation in
 *    the API's shape, in creation order}, "Events" [Event in the API's shape]}
 * Timestamps inside Ops and Events are epoch seconds (the API's JSON form); the due times of
 * waits and retries are already divided by the time scale, so they are when galley acts.
 */
#ifndef GALLEY_DURABLE_INTERNAL_H
#define GALLEY_DURABLE_INTERNAL_H

#include <jansson.h>
#include <stdint.h>

#include "galley/durable.h"
#include "galley/err.h"
#include "galley/journal.h"
#include "galley/util.h"

#define GL_DX_ID_LEN 36

typedef struct gl_dx {
    json_t *doc;                /* the persisted state (above) */
    char id[GL_DX_ID_LEN + 1];  /* journal id and the ARN's last part */
    /* private to durable.c / invoke.c */
    struct gl_durable *d;       /* the module it belongs to */
    uint64_t jseq;              /* journal segment of its ACCEPT record */
    struct gl_invoke *inv;      /* the invocation in flight, or NULL */
    int failures;               /* invocations in a row that failed without an outcome */
    int resume;                 /* something completed during the invocation: invoke again */
    int64_t wake_ms;            /* when to look at it again (0: nothing scheduled) */
    json_t *chained;            /* ids of its chained invokes in flight (chained.c), or NULL */
    struct gl_dx *next;
} gl_dx_t;

typedef struct gl_dx_new_in {
    const char *id, *name, *fn_name, *qualifier, *version, *region, *account;
    const char *payload;
    size_t len;
    long timeout_s, retention_days;
} gl_dx_new_in_t;

/* ---- exec.c ---- */
gl_dx_t *gl_dx_new(const gl_dx_new_in_t *in, int64_t now_ms);
/** An execution from a journal record's document (takes doc); NULL when it is not one. */
gl_dx_t *gl_dx_from_doc(json_t *doc);
void gl_dx_free(gl_dx_t *x);
const char *gl_dx_str(const gl_dx_t *x, const char *key);
int64_t gl_dx_int(const gl_dx_t *x, const char *key);
int gl_dx_running(const gl_dx_t *x);
double gl_dx_secs(int64_t ms);
/** A fresh checkpoint token for the next invocation (Seq + 1, InvSeq = Seq); malloc'd. */
char *gl_dx_new_token(gl_dx_t *x);
/** The current token (malloc'd). */
char *gl_dx_token(const gl_dx_t *x);
/** 0 when token is x's current one (or, with any_of_invocation, one of its invocation). */
int gl_dx_check_token(const gl_dx_t *x, const char *token, int any_of_invocation);
/** The execution id a token or callback id names: 0 and id, or -1. */
int gl_dx_parse_ref(const char *text, char id[GL_DX_ID_LEN + 1], char *rest, size_t rest_len);
/** Append an event (takes details, may be NULL) for op (may be NULL: the execution). */
int gl_dx_event(gl_dx_t *x, const char *type, const json_t *op, json_t *details, int64_t now_ms);
/** End a running execution: status, result (may be NULL), error (borrowed, may be NULL). */
void gl_dx_finish(gl_dx_t *x, const char *status, const char *result, const json_t *error,
                  int64_t now_ms);
/** Execution (list) or GetDurableExecution (full) shape: new reference. */
json_t *gl_dx_summary(const gl_dx_t *x, int full);
/** {"Payload": error} as the history's EventError wants (new reference). */
json_t *gl_dx_event_error(const json_t *error);

/* ---- ops.c ---- */
/**
 * Apply a checkpoint's updates all or nothing: 0 with the ids of the operations that changed
 * appended to changed, or a negative value with aerr (InvalidParameterValueException) and x
 * untouched.
 */
int gl_dx_apply(gl_dx_t *x, const json_t *updates, double scale, int64_t now_ms,
                json_t *changed, gl_aws_error_t *aerr);
/** Elapsed waits succeed, due retries become READY, expired callbacks time out; returns
 *  how many operations changed (their ids appended to changed, which may be NULL). */
int gl_dx_advance(gl_dx_t *x, int64_t now_ms, json_t *changed);
/** galley's fast-forward: x's running waits and pending step retries are due at now_ms;
 *  returns how many. */
int gl_dx_skip_waits(gl_dx_t *x, int64_t now_ms);
/** The earliest time (epoch ms) an operation of x is due; 0 when none is. */
int64_t gl_dx_next_due(const gl_dx_t *x);
/** Complete callback op: kind 'S' (result), 'F' (error) or 'H' (heartbeat). 0, or a
 *  negative errno with aerr set. */
int gl_dx_callback(gl_dx_t *x, const char *op_id, char kind, const char *result, size_t len,
                   const json_t *error, int64_t now_ms, gl_aws_error_t *aerr);

/** A chained invoke ended: result (len bytes) or error (borrowed). 0, or a negative errno
 *  with aerr set when op is no running CHAINED_INVOKE of a running execution. */
int gl_dx_chained_done(gl_dx_t *x, const char *op_id, const char *result, size_t len,
                       const json_t *error, int64_t now_ms, gl_aws_error_t *aerr);

/* ---- pages.c ---- */
/** Operations [start, start + max) as an array; *next is where the next page starts, or 0
 *  when this is the last page. */
json_t *gl_dx_ops_page(const gl_dx_t *x, size_t start, size_t max, size_t *next);
/** A Marker as a page start: 0 and *start, or -1 when it is not one galley gave. */
int gl_dx_marker(const char *marker, size_t *start);

/* ---- durable.c ---- */
struct gl_durable {
    uv_loop_t *loop;
    gl_registry_t *reg;
    struct gl_sched *sched;
    gl_journal_t *j;
    double scale;
    gl_dx_t *list;              /* every execution, newest first */
    uv_timer_t timer;
    struct gl_dx_sync *syncs;   /* fsyncs in flight */
    struct gl_dx_waiter *waiters; /* synchronous invokes waiting for an execution's end */
    unsigned nsyncs;
    int started, closing;
    int compacting;             /* compact.c: a move's fsync is in flight */
    size_t written;             /* bytes of documents journaled since the last move */
    size_t moved;               /* bytes the last move wrote (what was live then) */
    void (*on_closed)(void *arg);
    void *on_closed_arg;
};

gl_dx_t *gl_durable_find(gl_durable_t *d, const char *arn);
gl_dx_t *gl_durable_find_id(gl_durable_t *d, const char *id);
/** Write x's state (ACCEPT when first) and call cb(arg, body, NULL) once an fsync covers it,
 *  or cb(arg, NULL, aerr) when it could not be written (body freed). cb may be NULL. */
void gl_durable_persist(gl_durable_t *d, gl_dx_t *x, int first, gl_durable_reply_fn cb,
                        void *arg, json_t *body);
/** cb(arg, body, NULL) once an fsync of what was written so far is done (aerr on failure). */
void gl_durable_sync(gl_durable_t *d, gl_durable_reply_fn cb, void *arg, json_t *body);

/* ---- compact.c ---- */
/** Move the executions that pin old segments into the active one when the journal holds
 *  mostly dead bytes; the old segments go once the move is on disk. Called after fsyncs. */
void gl_durable_compact(gl_durable_t *d);
/** Re-arm the timer for the earliest thing any execution waits for. */
void gl_durable_rearm(gl_durable_t *d);
/** Answer the invokes waiting for x: those waiting for its start (started: Event invokes,
 *  once its ACCEPT is on disk), or (started 0) every one left, once it ended or failed
 *  (aerr set: the reply is that error). */
void gl_durable_notify(gl_durable_t *d, gl_dx_t *x, const gl_aws_error_t *aerr, int started);
/** The reply body of an invoke of x: {"DurableExecutionArn", "Status", "Result", "Error",
 *  "Version"}. */
json_t *gl_durable_outcome(const gl_dx_t *x);
/** cb(arg, outcome) once x started (on_start) or ended. 0 or -ENOMEM. */
int gl_durable_add_waiter(gl_durable_t *d, gl_dx_t *x, gl_durable_reply_fn cb, void *arg,
                          int on_start);

/* ---- chained.c ---- */
/** Invoke the target of every STARTED chained invoke of x not yet in flight. */
void gl_durable_launch_chained(gl_durable_t *d, gl_dx_t *x);

/* ---- invoke.c ---- */
/** Invoke the function for x now, unless an invocation is in flight or x ended. */
void gl_durable_invoke_now(gl_durable_t *d, gl_dx_t *x);
/** Look at x after something changed: invoke it if it can go on, else set its wake. */
void gl_durable_kick(gl_durable_t *d, gl_dx_t *x);

#endif
