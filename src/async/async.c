/* SPDX-License-Identifier: MIT */
/*
 * async.c: the asynchronous invocation queue's lifetime and public calls: open (journal replay,
 * configs, timers), start, stop, close, enqueue, and the EventInvokeConfig calls. The queue
 * is split by concern: queue.c holds events in memory (lists, delay heap), flush.c writes
 * them to the journal and acknowledges them with batched fsyncs, dispatch.c runs them
 * through the scheduler with retries and throttles, outcome.c delivers what they produced.
 *
 * An event's life: accepted (ACCEPT appended, fsynced, waiter told), ready, running, maybe
 * delayed and run again, finished (destinations written, DONE appended). An event accepted
 * and not yet done is replayed, in order, by the next gl_async_open.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "galley/log.h"
#include "internal.h"

#define DEFAULT_MAX_QUEUED (1ull << 30)

int gl_async_open(gl_async_t **out, uv_loop_t *loop, const gl_async_opts_t *opts, gl_err_t *err)
{
    int rc;
    char *cfg_path = NULL;
    gl_async_t *a = calloc(1, sizeof(*a));
    if (!a)
        return gl_err_set(err, ENOMEM, "async");
    a->loop = loop;
    a->reg = opts->registry;
    a->sched = opts->sched;
    a->scale = opts->time_scale > 0 ? opts->time_scale : 1;
    a->max_queued = opts->max_queued_bytes ? opts->max_queued_bytes : DEFAULT_MAX_QUEUED;
    a->dir = gl_path_join(opts->state_dir, "async");
    a->sink_dir = gl_path_join(opts->state_dir, "destinations");
    cfg_path = a->dir ? gl_path_join(a->dir, "event-invoke-configs.json") : NULL;
    if (!a->dir || !a->sink_dir || !cfg_path) {
        rc = gl_err_set(err, ENOMEM, "async");
        goto fail;
    }
    if ((rc = gl_journal_open(&a->journal, a->dir, opts->segment_max, gl_async_on_replay, a, err)) <
        0)
        goto fail;
    if ((rc = gl_async_configs_load(&a->configs, cfg_path, err)) < 0)
        goto fail;
    uv_timer_init(loop, &a->flush_timer);
    uv_timer_init(loop, &a->delay_timer);
    a->flush_timer.data = a->delay_timer.data = a;
    a->handles_open = 2;
    gl_async_arm_delay_timer(a);
    free(cfg_path);
    *out = a;
    return 0;
fail:
    free(cfg_path);
    if (a->journal) {
        /* Replayed events are only in memory; the journal keeps them on disk. */
        gl_async_free_events(a);
        gl_journal_close(a->journal);
    }
    gl_async_configs_free(&a->configs);
    free(a->dir);
    free(a->sink_dir);
    free(a);
    return rc;
}

void gl_async_start(gl_async_t *a)
{
    a->started = 1;
    /* Throttled events wait for this instead of backing off. */
    if (a->sched)
        gl_sched_on_slot_free(a->sched, gl_async_on_slot_free, a);
    gl_log_info("async: %zu pending event(s); destination records for SQS/SNS/EventBridge/S3 "
                "ARNs go to %s/<service>/<name>.jsonl (time scale %g)",
                a->nevents, a->sink_dir, a->scale);
    gl_async_pump(a);
    gl_async_arm_delay_timer(a);
}

void gl_async_stop(gl_async_t *a)
{
    /* The first stop comes before the scheduler closes (the queue may outlive it). */
    if (a->started && a->sched && !a->stopping)
        gl_sched_on_slot_free(a->sched, NULL, NULL);
    a->stopping = 1;
    if (a->handles_open)
        uv_timer_stop(&a->delay_timer);
}

static void on_handle_closed(uv_handle_t *h)
{
    gl_async_t *a = h->data;
    if (--a->handles_open > 0)
        return;
    gl_journal_close(a->journal);
    gl_async_configs_free(&a->configs);
    gl_async_free_events(a);
    void (*cb)(void *) = a->on_closed;
    void *arg = a->on_closed_arg;
    gl_log_info("async: queue closed");
    free(a->dir);
    free(a->sink_dir);
    free(a);
    if (cb)
        cb(arg);
}

void gl_async_maybe_finish_close(gl_async_t *a)
{
    if (!a->closing || a->handles_open != 2 || a->sync_in_flight || a->running || a->sinks_pending)
        return;
    if (a->batch.head || a->dirty) {
        gl_async_start_sync(a); /* the last records reach the disk before exit */
        return;
    }
    uv_timer_stop(&a->flush_timer);
    uv_timer_stop(&a->delay_timer);
    gl_log_info("async: %zu event(s) left pending on disk for the next start; %llu event(s) "
                "acknowledged by %llu fsync(s)",
                a->nevents, (unsigned long long)a->nacked, (unsigned long long)a->nsyncs);
    uv_close((uv_handle_t *)&a->flush_timer, on_handle_closed);
    uv_close((uv_handle_t *)&a->delay_timer, on_handle_closed);
}

void gl_async_close(gl_async_t *a, void (*on_closed)(void *arg), void *arg)
{
    gl_async_stop(a);
    a->closing = 1;
    a->on_closed = on_closed;
    a->on_closed_arg = arg;
    gl_async_maybe_finish_close(a);
}

int gl_async_enqueue(gl_async_t *a, const gl_async_event_in_t *ev, gl_async_accepted_fn accepted,
                     void *arg)
{
    if (a->closing)
        return -ESHUTDOWN;
    if (a->queued_bytes + ev->len > a->max_queued)
        return -EAGAIN;
    return gl_async_enqueue_event(a, ev, accepted, arg);
}

void gl_async_forget(gl_async_t *a, void *arg)
{
    gl_async_list_t *lists[] = {&a->batch, &a->syncing};
    for (size_t i = 0; i < 2; i++)
        for (gl_async_ev_t *e = lists[i]->head; e; e = e->next)
            if (e->accepted_arg == arg)
                e->accepted = NULL;
}

size_t gl_async_pending(const gl_async_t *a)
{
    return a->nevents;
}

int64_t gl_async_oldest_waiting_ms(const gl_async_t *a)
{
    /* A scan, not an index: it runs once per metrics scrape, and the accept order of the
     * delayed heap is not its order. */
    int64_t oldest = 0;
    const gl_async_list_t *lists[] = {&a->batch, &a->syncing, &a->ready};
    for (size_t i = 0; i < 3; i++)
        for (const gl_async_ev_t *e = lists[i]->head; e; e = e->next)
            if (!oldest || e->accepted_ms < oldest)
                oldest = e->accepted_ms;
    for (size_t i = 0; i < a->nheap; i++)
        if (!oldest || a->heap[i]->accepted_ms < oldest)
            oldest = a->heap[i]->accepted_ms;
    for (const gl_async_park_t *p = a->parks; p; p = p->next)
        if (p->events.head && (!oldest || p->events.head->accepted_ms < oldest))
            oldest = p->events.head->accepted_ms;
    return oldest;
}

const json_t *gl_async_config_get(gl_async_t *a, const char *fn, const char *qualifier)
{
    return gl_async_configs_get(&a->configs, fn, qualifier);
}

int gl_async_config_put(gl_async_t *a, const char *fn, const char *qualifier, json_t *cfg)
{
    return gl_async_configs_put(&a->configs, fn, qualifier, cfg);
}

int gl_async_config_delete(gl_async_t *a, const char *fn, const char *qualifier)
{
    return gl_async_configs_delete(&a->configs, fn, qualifier);
}

json_t *gl_async_config_qualifiers(gl_async_t *a, const char *fn)
{
    return gl_async_configs_qualifiers(&a->configs, fn);
}

void gl_async_forget_function(gl_async_t *a, const char *fn)
{
    gl_async_configs_forget(&a->configs, fn);
}
