/* SPDX-License-Identifier: MIT */
/*
 * flush.c: the queue's journal records (ACCEPT, STATE, DONE) and the batched fsync that
 * acknowledges them. enqueue appends ACCEPT and parks the event with its waiter in the open
 * batch; a 0 ms timer (or the end of the fsync in flight) starts one fdatasync on the thread
 * pool for the whole batch; when it completes every waiter hears 0 (the caller answers 202)
 * and the events join the ready list (or the delay heap when a replayed retry is not due).
 *
 * Only one fsync is in flight at a time, so the journal may rotate its segment between them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "galley/log.h"
#include "internal.h"

int gl_async_write_state(gl_async_t *a, gl_async_ev_t *e)
{
    char data[128];
    int n = snprintf(data, sizeof(data), "{\"attempts\":%d,\"due\":%lld}", e->attempts,
                     (long long)e->due_ms);
    int rc = gl_journal_append(a->journal, GL_JREC_STATE, e->id, data, (size_t)n, NULL);
    a->dirty = 1;
    return rc;
}

/* The event is finished: DONE on disk (batched like everything else), then forgotten. */
void gl_async_event_done(gl_async_t *a, gl_async_ev_t *e)
{
    if (gl_journal_append(a->journal, GL_JREC_DONE, e->id, NULL, 0, NULL) < 0)
        gl_log_error("async: cannot record event %s as done (it will run again after a "
                     "restart)",
                     e->id);
    else
        gl_journal_release(a->journal, e->seq);
    a->dirty = 1;
    gl_async_schedule_flush(a);
    gl_async_event_free(a, e);
    gl_async_maybe_finish_close(a);
}

static void on_synced(uv_fs_t *req)
{
    gl_async_t *a = req->data;
    int status = req->result < 0 ? (int)req->result : 0;
    uv_fs_req_cleanup(req);
    a->sync_in_flight = 0;
    if (status < 0)
        gl_log_error("async journal: fsync failed: %s", uv_strerror(status));
    gl_async_list_t done = a->syncing;
    a->syncing.head = a->syncing.tail = NULL;
    a->nsyncs++;
    for (gl_async_ev_t *e = done.head, *next; e; e = next) {
        next = e->next;
        e->prev = e->next = NULL;
        gl_async_accepted_fn cb = e->accepted;
        void *arg = e->accepted_arg;
        e->accepted = NULL;
        if (status < 0) {
            /* Not durable: the client hears an error; the event is given up. */
            e->where = GL_ASYNC_NOWHERE;
            gl_async_event_done(a, e);
        } else if (e->due_ms > gl_now_ms()) {
            gl_async_delay(a, e, e->due_ms);
        } else {
            e->where = GL_ASYNC_READY;
            gl_async_list_push(&a->ready, e);
        }
        if (cb) {
            a->nacked++;
            cb(status, arg);
        }
    }
    if (a->batch.head || a->dirty)
        gl_async_schedule_flush(a);
    gl_async_pump(a);
    gl_async_maybe_finish_close(a);
}

void gl_async_start_sync(gl_async_t *a)
{
    if (a->sync_in_flight || (!a->batch.head && !a->dirty))
        return;
    /* Safe here: no fsync in flight, so the old fd can be synced and closed. */
    int rc = gl_journal_rotate_if_full(a->journal);
    if (rc < 0)
        gl_log_warn("async journal: cannot start a new segment: %s", strerror(-rc));
    a->syncing = a->batch;
    for (gl_async_ev_t *e = a->syncing.head; e; e = e->next)
        e->where = GL_ASYNC_SYNCING;
    a->batch.head = a->batch.tail = NULL;
    a->dirty = 0;
    a->sync_in_flight = 1;
    a->sync_req.data = a;
    rc = uv_fs_fdatasync(a->loop, &a->sync_req, gl_journal_fd(a->journal), on_synced);
    if (rc < 0) {
        a->sync_req.result = rc;
        on_synced(&a->sync_req);
    }
}

static void on_flush_timer(uv_timer_t *t)
{
    gl_async_t *a = t->data;
    a->flush_armed = 0;
    gl_async_start_sync(a);
}

void gl_async_schedule_flush(gl_async_t *a)
{
    if (a->sync_in_flight || a->flush_armed || !a->handles_open)
        return; /* the end of the fsync in flight starts the next batch */
    /* 0 ms: everything accepted in this loop iteration joins the same fsync. */
    a->flush_armed = 1;
    uv_timer_start(&a->flush_timer, on_flush_timer, 0, 0);
}

/* The ACCEPT record: one line of JSON metadata, '\n', the payload. */
static int write_accept(gl_async_t *a, gl_async_ev_t *e)
{
    json_t *meta = json_pack("{s:s, s:s, s:I}", "fn", e->fn_name, "q", e->qualifier, "t",
                             (json_int_t)e->accepted_ms);
    if (meta && e->trace_id)
        json_object_set_new(meta, "trace", json_string(e->trace_id));
    char *text = meta ? json_dumps(meta, JSON_COMPACT) : NULL;
    json_decref(meta);
    if (!text)
        return -ENOMEM;
    gl_buf_t rec = {0};
    int rc = gl_buf_append_str(&rec, text);
    free(text);
    if (rc == 0)
        rc = gl_buf_append(&rec, "\n", 1);
    if (rc == 0)
        rc = gl_buf_append(&rec, e->payload.data, e->payload.len);
    if (rc == 0)
        rc = gl_journal_append(a->journal, GL_JREC_ACCEPT, e->id, rec.data, rec.len, &e->seq);
    gl_buf_free(&rec);
    return rc;
}

int gl_async_enqueue_event(gl_async_t *a, const gl_async_event_in_t *in, gl_async_accepted_fn cb,
                           void *arg)
{
    gl_async_ev_t *e = gl_async_event_new(a, in->request_id, in->fn_name, in->qualifier,
                                          in->trace_id, in->payload, in->len);
    if (!e)
        return -ENOMEM;
    e->accepted_ms = e->due_ms = gl_now_ms();
    int rc = write_accept(a, e);
    if (rc < 0) {
        gl_log_error("async journal: cannot append event %s: %s", e->id, strerror(-rc));
        e->where = GL_ASYNC_NOWHERE;
        gl_async_event_free(a, e);
        /* The errno reaches the caller's 500 ("No space left on device"); only -EAGAIN,
         * which the Invoke API answers as a throttle, is not a storage failure's. */
        return rc == -EAGAIN ? -EIO : rc;
    }
    e->accepted = cb;
    e->accepted_arg = arg;
    gl_async_list_push(&a->batch, e);
    gl_async_schedule_flush(a);
    return 0;
}
