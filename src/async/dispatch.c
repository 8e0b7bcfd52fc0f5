/* SPDX-License-Identifier: MIT */
/*
 * dispatch.c: the worker. Submits ready events to the scheduler (an internal invoke: no HTTP
 * request) with the event's id as request id, and handles each attempt's result:
 *   - throttled (-EAGAIN): parked in its function's list until a concurrency slot frees
 *     (queue.c), then tried again before newer events, oldest first;
 *   - function error, timeout or crash: retried after 1 then 2 minutes while attempts remain
 *     (a STATE record keeps the count across restarts), else OnFailure/DLQ, RetriesExhausted;
 *   - success: OnSuccess;
 *   - older than MaximumEventAgeInSeconds before an attempt: OnFailure/DLQ, EventAgeExceeded.
 * Every delay and the age limit are divided by the time scale. Also turns the journal's
 * replayed events back into queued ones at open.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "galley/log.h"
#include "galley/metrics.h"
#include "internal.h"

#define DEFAULT_RETRIES 2
#define DEFAULT_MAX_AGE_S 21600
#define RETRY_LATER_MS 1000 /* out of memory: try again after this */
#define RETRY_DELAY_1_MS 60000
#define RETRY_DELAY_2_MS 120000

static void on_attempt_done(gl_invoke_t *inv)
{
    gl_async_ev_t *e = inv->data;
    gl_async_t *a = e->a;
    a->running--;
    e->where = GL_ASYNC_NOWHERE;
    if (inv->function_error && a->stopping) {
        /* Most likely stopped by the shutdown itself: the journal still has it as pending,
         * so the next start runs this attempt again. */
        gl_log_info("async: event %s interrupted by shutdown: it runs again after a restart",
                    e->id);
        gl_async_event_free(a, e);
        gl_invoke_free(inv);
        gl_async_maybe_finish_close(a);
        return;
    }
    e->attempts++;
    e->throttled = 0;
    gl_async_outcome_t o = {
        .success = !inv->function_error,
        .condition = inv->function_error ? "RetriesExhausted" : "Success",
        .response = inv->result.data ? inv->result.data : "",
        .response_len = inv->result.len,
        .function_error = inv->function_error,
        .executed_version = inv->fn->version,
    };
    if (inv->function_error) {
        const json_t *cfg = gl_async_configs_get(&a->configs, e->fn_name, e->qualifier);
        int retries = gl_async_cfg_int(cfg, "MaximumRetryAttempts", DEFAULT_RETRIES);
        gl_log_info("async: event %s of %s: attempt %d failed (%s)", e->id, e->fn_name, e->attempts,
                    inv->error_type ? inv->error_type : "Unhandled");
        if (e->attempts <= retries) {
            gl_buf_reset(&e->last_response);
            gl_buf_append(&e->last_response, o.response, o.response_len);
            e->last_function_error = 1;
            int64_t wait = e->attempts == 1 ? RETRY_DELAY_1_MS : RETRY_DELAY_2_MS;
            e->due_ms = gl_now_ms() + gl_async_scaled(a, wait);
            if (gl_async_write_state(a, e) < 0)
                gl_log_warn("async: event %s: retry state not recorded", e->id);
            gl_async_schedule_flush(a);
            gl_async_delay(a, e, e->due_ms);
            gl_invoke_free(inv);
            return;
        }
    }
    gl_async_finish(a, e, &o);
    gl_invoke_free(inv);
}

/* No slot for e: it waits, parked, for one to free (counted once per wait in /metrics).
 * Returns 1: dispatch's "parked". */
static int throttled(gl_async_t *a, gl_async_ev_t *e, const gl_fn_t *fn)
{
    if (!e->throttled) {
        if (!fn)
            fn = gl_async_resolve(a, e->fn_name, e->qualifier, 0);
        gl_metrics_record_throttle(gl_metrics_default(), e->fn_name,
                                   fn ? fn->version : "$LATEST");
        e->throttled = 1;
        gl_log_debug("async: event %s of %s throttled: waits for a slot", e->id, e->fn_name);
    }
    if (gl_async_park(a, e) < 0)
        gl_async_delay(a, e, gl_now_ms() + gl_async_scaled(a, RETRY_LATER_MS));
    return 1;
}

/* Run e now, or fail it when too old; 1 when it was parked for want of a slot, else 0 (and
 * e may be gone). */
static int dispatch(gl_async_t *a, gl_async_ev_t *e)
{
    const json_t *cfg = gl_async_configs_get(&a->configs, e->fn_name, e->qualifier);
    int64_t max_age_ms =
        (int64_t)gl_async_cfg_int(cfg, "MaximumEventAgeInSeconds", DEFAULT_MAX_AGE_S) * 1000;
    if (gl_now_ms() - e->accepted_ms > gl_async_scaled(a, max_age_ms)) {
        gl_async_fail_expired(a, e);
        return 0;
    }
    /* Reserved concurrency 0 disables the function: Lambda sends its events straight to
     * the failure destination / dead-letter queue, without attempts or retries. */
    if (gl_sched_reserved(a->sched, e->fn_name) == 0) {
        gl_async_outcome_t o = {.success = 0, .condition = "RetriesExhausted"};
        gl_async_finish(a, e, &o);
        return 0;
    }
    /* Cheap early answer when the whole account is busy: no invoke is built just to be
     * refused (gl_sched_submit stays the authority for everything else). */
    if (gl_sched_running(a->sched) >= gl_sched_account_concurrency(a->sched))
        return throttled(a, e, NULL);
    gl_fn_t *fn = gl_async_resolve(a, e->fn_name, e->qualifier, 1);
    if (!fn) {
        gl_log_warn("async: event %s: function %s%s%s no longer exists: event discarded", e->id,
                    e->fn_name, *e->qualifier ? ":" : "", e->qualifier);
        e->where = GL_ASYNC_NOWHERE;
        gl_async_event_done(a, e);
        return 0;
    }
    gl_invoke_t *inv = gl_invoke_new(fn);
    char arn[512];
    gl_registry_fn_arn(a->reg, e->fn_name, *e->qualifier ? e->qualifier : NULL, arn, sizeof(arn));
    if (!inv || !(inv->invoked_arn = strdup(arn)) ||
        gl_buf_append(&inv->payload, e->payload.data, e->payload.len) < 0 ||
        (e->trace_id && !(inv->trace_id = strdup(e->trace_id)))) {
        gl_invoke_free(inv);
        gl_async_delay(a, e, gl_now_ms() + gl_async_scaled(a, RETRY_LATER_MS)); /* ENOMEM */
        return 0;
    }
    memcpy(inv->request_id, e->id, sizeof(inv->request_id));
    inv->done = on_attempt_done;
    inv->data = e;
    e->where = GL_ASYNC_RUNNING;
    a->running++;
    if (gl_sched_submit(a->sched, inv) == -EAGAIN) {
        a->running--;
        gl_invoke_free(inv);
        return throttled(a, e, fn);
    }
    /* e may already be finished and freed (done can run inside submit). */
    return 0;
}

void gl_async_try_parked(gl_async_t *a)
{
    a->slot_freed = 0;
    if (!a->started || a->stopping)
        return;
    for (gl_async_park_t *p = a->parks; p; p = p->next) {
        /* Bounded: each turn takes the head out; one parked again ends this function's turn
         * (it is the oldest, so it is the head again). */
        while (p->events.head && !a->stopping) {
            gl_async_ev_t *e = p->events.head;
            gl_async_list_remove(&p->events, e);
            a->nparked--;
            e->where = GL_ASYNC_NOWHERE;
            e->park = NULL;
            if (dispatch(a, e))
                break;
        }
    }
}

void gl_async_pump(gl_async_t *a)
{
    if (!a->started || a->stopping)
        return;
    /* Bounded: each event leaves the ready list (running, delayed or done). */
    while (a->ready.head && !a->stopping) {
        gl_async_ev_t *e = a->ready.head;
        gl_async_list_remove(&a->ready, e);
        e->where = GL_ASYNC_NOWHERE;
        /* Older events of its function wait for a slot: it queues behind them. */
        if (gl_async_has_parked(a, e->fn_name))
            throttled(a, e, NULL);
        else
            dispatch(a, e);
    }
}

void gl_async_on_replay(const char *id, const char *accept, size_t alen, const char *state,
                        size_t slen, uint64_t seq, void *arg)
{
    gl_async_t *a = arg;
    const char *nl = memchr(accept, '\n', alen);
    json_t *meta = nl ? json_loadb(accept, (size_t)(nl - accept), 0, NULL) : NULL;
    const char *fn = json_string_value(json_object_get(meta, "fn"));
    const char *q = json_string_value(json_object_get(meta, "q"));
    json_t *t = json_object_get(meta, "t");
    if (!fn || !q || !json_is_integer(t)) {
        gl_log_warn("async journal: event %s has unreadable metadata: skipped", id);
        json_decref(meta);
        return;
    }
    gl_async_ev_t *e =
        gl_async_event_new(a, id, fn, q, json_string_value(json_object_get(meta, "trace")), nl + 1,
                           alen - (size_t)(nl + 1 - accept));
    if (!e) {
        gl_log_error("async journal: out of memory replaying event %s", id);
        json_decref(meta);
        return;
    }
    e->accepted_ms = e->due_ms = json_integer_value(t);
    e->seq = seq;
    json_decref(meta);
    if (slen) {
        json_t *st = json_loadb(state, slen, 0, NULL);
        json_t *att = json_object_get(st, "attempts"), *due = json_object_get(st, "due");
        if (json_is_integer(att) && json_integer_value(att) >= 0 && json_integer_value(att) < 100)
            e->attempts = (int)json_integer_value(att);
        if (json_is_integer(due))
            e->due_ms = json_integer_value(due);
        json_decref(st);
    }
    if (e->due_ms > gl_now_ms()) {
        gl_async_delay(a, e, e->due_ms);
    } else {
        e->where = GL_ASYNC_READY;
        gl_async_list_push(&a->ready, e);
    }
}
