/* SPDX-License-Identifier: MIT */
/*
 * internal.h: declarations shared inside the async module: the journal (journal.c), the
 * EventInvokeConfig store (config.c), the destination records (deliver.c), and the queue's
 * event and state, used by async.c (open, close, the public calls), queue.c (event lists,
 * the delay heap), flush.c (journal records, the batched fsync), outcome.c (destinations,
 * dead letters, file sinks) and dispatch.c (attempts, retries, throttles, replay).
 */
#ifndef GALLEY_ASYNC_INTERNAL_H
#define GALLEY_ASYNC_INTERNAL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "galley/async.h"
#include "galley/buf.h"
#include "galley/crc32.h"
#include "galley/err.h"
#include "galley/journal.h"
#include "galley/sched.h"
#include "galley/util.h"

/* ---- journal.c: include/galley/journal.h (the durable module uses it too) ---- */

/* ---- config.c: FunctionEventInvokeConfig store ---- */

typedef struct gl_async_configs {
    char *path;       /* <state>/async/event-invoke-configs.json */
    json_t *root;     /* {"<name>": {"<qualifier>": {config}}} */
} gl_async_configs_t;

int gl_async_configs_load(gl_async_configs_t *c, const char *path, gl_err_t *err);
void gl_async_configs_free(gl_async_configs_t *c);
const json_t *gl_async_configs_get(gl_async_configs_t *c, const char *fn, const char *qualifier);
int gl_async_configs_put(gl_async_configs_t *c, const char *fn, const char *qualifier,
                         json_t *cfg);
int gl_async_configs_delete(gl_async_configs_t *c, const char *fn, const char *qualifier);
json_t *gl_async_configs_qualifiers(gl_async_configs_t *c, const char *fn);
void gl_async_configs_forget(gl_async_configs_t *c, const char *fn);

/* ---- deliver.c: Lambda's destination record and the file sinks ---- */

typedef enum gl_dest_kind {
    GL_DEST_NONE,
    GL_DEST_FUNCTION,  /* arn:aws:lambda:<region>:<account>:function:<name>[:<q>] */
    GL_DEST_SQS,       /* arn:aws:sqs:<region>:<account>:<queue> */
    GL_DEST_SNS,       /* arn:aws:sns:<region>:<account>:<topic> */
    GL_DEST_EVENTS,    /* arn:aws:events:<region>:<account>:event-bus/<bus> */
    GL_DEST_S3,        /* arn:aws:s3:::<bucket> (OnFailure only) */
} gl_dest_kind_t;

typedef struct gl_dest {
    gl_dest_kind_t kind;
    char service[16];        /* directory under <state>/destinations: sqs, sns, events, s3 */
    char resource[256];      /* queue, topic, bus or bucket name (file-name safe), or function */
    char qualifier[129];     /* function destinations: "" when unqualified */
} gl_dest_t;

/** Parse a destination ARN; -EINVAL when it is not one galley can deliver to. */
int gl_dest_parse(const char *arn, gl_dest_t *out);
/** Make a resource name safe as a file name: [A-Za-z0-9._-] kept, anything else '_'. */
void gl_dest_sanitize(char *name);

typedef struct gl_dest_record_in {
    const char *request_id;
    const char *function_arn;      /* qualified */
    const char *condition;         /* "Success", "RetriesExhausted", "EventAgeExceeded" */
    int invoke_count;
    const char *payload;           /* original event (JSON text) */
    size_t payload_len;
    int function_error;
    const char *executed_version;
    const char *response;          /* result or error body; NULL when the function never ran */
    size_t response_len;
    int64_t now_ms;
} gl_dest_record_in_t;

/** Lambda's destination record (new reference, NULL on ENOMEM). */
json_t *gl_dest_record(const gl_dest_record_in_t *in);
/** EventBridge's envelope around a record (new reference; steals record). */
json_t *gl_dest_eventbridge(json_t *record, int success, const char *region, const char *account,
                            const char *function_arn, int64_t now_ms);
/** A DLQ message line: the original event plus RequestID / ErrorCode / ErrorMessage. */
json_t *gl_dest_dlq_message(const char *request_id, const char *payload, size_t payload_len,
                            int error_code, const char *error_message);
/** A JSON value for bytes that should be JSON (their parse), else a string of them. */
json_t *gl_json_or_string(const char *text, size_t len);

/* ---- the queue (async.c, queue.c, flush.c, outcome.c, dispatch.c) ---- */

/** Where an event is: at most one list or the heap holds it. */
typedef enum gl_async_where {
    GL_ASYNC_NOWHERE,
    GL_ASYNC_SYNCING,  /* in a.batch or a.syncing, waiting for its fsync */
    GL_ASYNC_READY,    /* in a.ready */
    GL_ASYNC_DELAYED,  /* in a.heap until due_ms */
    GL_ASYNC_RUNNING,  /* submitted to the scheduler */
    GL_ASYNC_PARKED,   /* throttled: in its function's park list until a slot frees */
} gl_async_where_t;


typedef struct gl_async_ev {
    char id[GL_UUID_LEN + 1];
    char *fn_name;
    char *qualifier;           /* "" when unqualified */
    char *trace_id;            /* NULL when none */
    gl_buf_t payload;
    int64_t accepted_ms;       /* epoch */
    int64_t due_ms;            /* not before (epoch) */
    int attempts;              /* attempts that ran the function */
    int throttled;             /* its current wait for a slot is counted in /metrics */
    struct gl_async_park *park; /* while GL_ASYNC_PARKED */
    uint64_t seq;              /* journal segment of its ACCEPT */
    uint64_t order;            /* ties between equal due times go first-in, first-out */
    uint64_t accept_order;     /* order of acceptance (replayed ones first): parked events
                                  wait in it (accepted_ms ties within a millisecond) */
    gl_async_where_t where;
    /* the last attempt's outcome, for the failure record after an age expiry */
    gl_buf_t last_response;
    int last_function_error;
    char *last_error_type;
    /* completion */
    int sinks_pending;
    /* waiter for the acknowledgement (external enqueue only) */
    gl_async_accepted_fn accepted;
    void *accepted_arg;
    struct gl_async *a;
    struct gl_async_ev *prev, *next;
} gl_async_ev_t;

typedef struct gl_async_list {
    gl_async_ev_t *head, *tail;
} gl_async_list_t;

/** The events of one function waiting for a concurrency slot, oldest accepted first. */
typedef struct gl_async_park {
    char *fn_name;
    gl_async_list_t events;
    struct gl_async_park *next;
} gl_async_park_t;

struct gl_async {
    uv_loop_t *loop;
    gl_registry_t *reg;
    gl_sched_t *sched;
    double scale;
    size_t max_queued;
    char *dir;             /* <state>/async */
    char *sink_dir;        /* <state>/destinations */
    gl_journal_t *journal;
    gl_async_configs_t configs;
    /* batched fsync */
    gl_async_list_t batch;          /* appended, waiting for the next fsync */
    gl_async_list_t syncing;        /* covered by the fsync in flight */
    int sync_in_flight, dirty, flush_armed;
    uint64_t nsyncs, nacked;  /* fsyncs done, acknowledgements they covered (for the bench) */
    uv_fs_t sync_req;
    uv_timer_t flush_timer;
    /* worker */
    gl_async_list_t ready;
    gl_async_ev_t **heap;        /* delayed events: a binary min-heap on (due_ms, order) */
    size_t nheap, heap_cap;
    uint64_t next_order;
    uint64_t next_accept;
    uv_timer_t delay_timer;
    gl_async_park_t *parks;  /* one per function that had a throttled event */
    size_t nparked;
    int slot_freed;          /* a slot freed since the parked events were last tried */
    size_t nevents, queued_bytes, running, sinks_pending;
    int started, stopping, closing, handles_open;
    void (*on_closed)(void *arg);
    void *on_closed_arg;
};

/* queue.c: event lists, the delay heap, time */
void gl_async_list_push(gl_async_list_t *l, gl_async_ev_t *e);
void gl_async_list_remove(gl_async_list_t *l, gl_async_ev_t *e);
/** A new event, counted in a->nevents and a->queued_bytes (NULL on ENOMEM). */
gl_async_ev_t *gl_async_event_new(gl_async_t *a, const char *id, const char *fn,
                                  const char *qualifier, const char *trace_id,
                                  const void *payload, size_t len);
/** Unlink (from the ready list) and free; counts it out. Nothing is written to the journal. */
void gl_async_event_free(gl_async_t *a, gl_async_ev_t *e);
/** Free every event still held in memory (ready list and heap) and the heap itself. */
void gl_async_free_events(gl_async_t *a);
/** ms divided by the time scale. */
int64_t gl_async_scaled(const gl_async_t *a, int64_t ms);
/** Hold e until due_ms (epoch), then move it to the ready list and pump. */
void gl_async_delay(gl_async_t *a, gl_async_ev_t *e, int64_t due_ms);
gl_async_ev_t *gl_async_heap_pop(gl_async_t *a);
void gl_async_arm_delay_timer(gl_async_t *a);
/** Throttled: wait in e's function's park list (oldest accepted first) until a slot frees.
 *  -ENOMEM when the function's list cannot be made (e is untouched). */
int gl_async_park(gl_async_t *a, gl_async_ev_t *e);
/** Whether fn_name has events parked. */
int gl_async_has_parked(gl_async_t *a, const char *fn_name);
/** gl_sched_on_slot_free's hook: the parked events are tried on the next loop turn. */
void gl_async_on_slot_free(void *arg);

/* flush.c: journal records and the batched fsync */
int gl_async_enqueue_event(gl_async_t *a, const gl_async_event_in_t *in,
                           gl_async_accepted_fn cb, void *arg);
int gl_async_write_state(gl_async_t *a, gl_async_ev_t *e);
/** The event is finished: DONE appended (fsynced with the next batch), then e is freed. */
void gl_async_event_done(gl_async_t *a, gl_async_ev_t *e);
void gl_async_schedule_flush(gl_async_t *a);
void gl_async_start_sync(gl_async_t *a);

/* outcome.c: what a finished event turns into */
typedef struct gl_async_outcome {
    int success;
    const char *condition;
    const char *response;   /* NULL when the function never ran */
    size_t response_len;
    int function_error;
    const char *executed_version;
} gl_async_outcome_t;

int gl_async_cfg_int(const json_t *cfg, const char *key, int dflt);
gl_fn_t *gl_async_resolve(gl_async_t *a, const char *name, const char *qualifier, int routed);
/** Destinations, dead letter, then DONE (once the sink writes are done). */
void gl_async_finish(gl_async_t *a, gl_async_ev_t *e, const gl_async_outcome_t *o);
void gl_async_fail_expired(gl_async_t *a, gl_async_ev_t *e);

/* dispatch.c: the worker */
/** Submit every ready event (no-op before start or while stopping). */
void gl_async_pump(gl_async_t *a);
/** Try every function's parked events, oldest first, until the scheduler refuses one; fail
 *  those past MaximumEventAgeInSeconds. */
void gl_async_try_parked(gl_async_t *a);
/** gl_journal_open's replay callback: one live event back into the queue. */
void gl_async_on_replay(const char *id, const char *accept, size_t alen, const char *state,
                        size_t slen, uint64_t seq, void *arg);

/* async.c */
/** Close the handles once closing and nothing is in flight any more. */
void gl_async_maybe_finish_close(gl_async_t *a);

#endif
