/* SPDX-License-Identifier: MIT */
/*
 * async.c: the asynchronous invocation queue: owns every accepted, not yet done event (in
 * memory and, through journal.c, on disk), the batched fsync that acknowledges them, the
 * worker that runs them through the scheduler, and the file-sink writes of their outcomes.
 *
 * An event's life: enqueue appends ACCEPT to the journal and parks the event with its waiter
 * in the open batch; a 0 ms timer (or the end of the fsync in flight) starts one fdatasync on
 * the thread pool for the whole batch; when it completes every waiter hears 0 (the caller
 * answers 202) and the events join the ready list. The worker submits ready events to the
 * scheduler (an internal invoke: no HTTP request) with the event's id as request id:
 *   - throttled (-EAGAIN): into the delay heap for 1 s, doubling up to 5 min;
 *   - function error, timeout or crash: retried after 1 then 2 minutes while attempts remain
 *     (a STATE record keeps the count across restarts), else OnFailure/DLQ, RetriesExhausted;
 *   - success: OnSuccess;
 *   - older than MaximumEventAgeInSeconds before an attempt: OnFailure/DLQ, EventAgeExceeded.
 * Every delay and the age limit are divided by the time scale. Destinations that are
 * functions become new events in this same queue; the others are JSON lines appended and
 * fsynced on the thread pool. Only then is DONE appended, so a crash at any point replays the
 * event rather than losing it (delivery is at least once).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "galley/async.h"
#include "galley/log.h"
#include "galley/sched.h"
#include "internal.h"

#define DEFAULT_MAX_QUEUED (1ull << 30)
#define DEFAULT_RETRIES 2
#define DEFAULT_MAX_AGE_S 21600
#define THROTTLE_FIRST_MS 1000
#define THROTTLE_MAX_MS 300000
#define RETRY_DELAY_1_MS 60000
#define RETRY_DELAY_2_MS 120000

enum where { NOWHERE, SYNCING, READY, DELAYED, RUNNING };

typedef struct event {
    char id[GL_UUID_LEN + 1];
    char *fn_name;
    char *qualifier;           /* "" when unqualified */
    char *trace_id;            /* NULL when none */
    gl_buf_t payload;
    int64_t accepted_ms;       /* epoch */
    int64_t due_ms;            /* not before (epoch) */
    int attempts;              /* attempts that ran the function */
    int64_t backoff_ms;        /* current throttle backoff, unscaled; 0 = not throttled */
    uint64_t seq;              /* journal segment of its ACCEPT */
    uint64_t order;            /* ties between equal due times go first-in, first-out */
    enum where where;
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
    struct event *prev, *next;
} event_t;

typedef struct list {
    event_t *head, *tail;
} list_t;

typedef struct sink_work {
    uv_work_t req;
    struct gl_async *a;
    event_t *ev;
    char *path;
    char *line;
    int rc;
} sink_work_t;

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
    list_t batch;          /* appended, waiting for the next fsync */
    list_t syncing;        /* covered by the fsync in flight */
    int sync_in_flight, dirty, flush_armed;
    uint64_t nsyncs, nacked;  /* fsyncs done, acknowledgements they covered (for the bench) */
    uv_fs_t sync_req;
    uv_timer_t flush_timer;
    /* worker */
    list_t ready;
    event_t **heap;        /* delayed events: a binary min-heap on (due_ms, order) */
    size_t nheap, heap_cap;
    uint64_t next_order;
    uv_timer_t delay_timer;
    size_t nevents, queued_bytes, running, sinks_pending;
    int started, stopping, closing, handles_open;
    void (*on_closed)(void *arg);
    void *on_closed_arg;
};

static void pump(gl_async_t *a);
static void maybe_finish_close(gl_async_t *a);
static void on_delay(uv_timer_t *t);

/* ---- lists ---- */

static void list_push(list_t *l, event_t *e)
{
    e->prev = l->tail;
    e->next = NULL;
    if (l->tail)
        l->tail->next = e;
    else
        l->head = e;
    l->tail = e;
}

static void list_remove(list_t *l, event_t *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        l->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        l->tail = e->prev;
    e->prev = e->next = NULL;
}

/* The list an event is linked in, for unlinking; events being synced are only freed after
 * they left the syncing list. */
static list_t *list_of(gl_async_t *a, event_t *e)
{
    switch (e->where) {
    case READY:
        return &a->ready;
    default:
        return NULL;
    }
}

static void event_free(gl_async_t *a, event_t *e)
{
    list_t *l = list_of(a, e);
    if (l)
        list_remove(l, e);
    a->nevents--;
    a->queued_bytes -= e->payload.len;
    free(e->fn_name);
    free(e->qualifier);
    free(e->trace_id);
    gl_buf_free(&e->payload);
    gl_buf_free(&e->last_response);
    free(e->last_error_type);
    free(e);
}

/* ---- time ---- */

static int64_t scaled(const gl_async_t *a, int64_t ms)
{
    double v = (double)ms / a->scale;
    return v < 0 ? 0 : (int64_t)v;
}

/* ---- the delay heap: retries and throttled events wait here until due ---- */

static int heap_less(const event_t *x, const event_t *y)
{
    return x->due_ms < y->due_ms || (x->due_ms == y->due_ms && x->order < y->order);
}

static void heap_swap(gl_async_t *a, size_t i, size_t k)
{
    event_t *t = a->heap[i];
    a->heap[i] = a->heap[k];
    a->heap[k] = t;
}

static event_t *heap_pop(gl_async_t *a)
{
    event_t *top = a->heap[0];
    a->heap[0] = a->heap[--a->nheap];
    for (size_t i = 0;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < a->nheap && heap_less(a->heap[l], a->heap[m]))
            m = l;
        if (r < a->nheap && heap_less(a->heap[r], a->heap[m]))
            m = r;
        if (m == i)
            break;
        heap_swap(a, i, m);
        i = m;
    }
    return top;
}

static void arm_delay_timer(gl_async_t *a)
{
    if (!a->handles_open || a->stopping)
        return;
    if (!a->nheap) {
        uv_timer_stop(&a->delay_timer);
        return;
    }
    int64_t wait = a->heap[0]->due_ms - gl_now_ms();
    uv_timer_start(&a->delay_timer, on_delay, wait > 0 ? (uint64_t)wait : 0, 0);
}

/* Wait until due_ms. If the heap cannot grow (out of memory) the event is ready at once:
 * running early is better than losing it. */
static void delay(gl_async_t *a, event_t *e, int64_t due_ms)
{
    e->due_ms = due_ms;
    e->order = a->next_order++;
    if (a->nheap == a->heap_cap) {
        size_t cap = a->heap_cap ? a->heap_cap * 2 : 256;
        event_t **h = realloc(a->heap, cap * sizeof(*h));
        if (!h) {
            e->where = READY;
            list_push(&a->ready, e);
            return;
        }
        a->heap = h;
        a->heap_cap = cap;
    }
    e->where = DELAYED;
    size_t i = a->nheap++;
    a->heap[i] = e;
    while (i > 0 && heap_less(a->heap[i], a->heap[(i - 1) / 2])) {
        heap_swap(a, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
    if (a->heap[0] == e)
        arm_delay_timer(a);
}

static void on_delay(uv_timer_t *t)
{
    gl_async_t *a = t->data;
    int64_t now = gl_now_ms();
    while (a->nheap && a->heap[0]->due_ms <= now) {
        event_t *e = heap_pop(a);
        e->where = READY;
        list_push(&a->ready, e);
    }
    pump(a);
    arm_delay_timer(a);
}

/* ---- journal records ---- */

static int write_state(gl_async_t *a, event_t *e)
{
    char data[128];
    int n = snprintf(data, sizeof(data), "{\"attempts\":%d,\"due\":%lld}", e->attempts,
                     (long long)e->due_ms);
    int rc = gl_journal_append(a->journal, GL_JREC_STATE, e->id, data, (size_t)n, NULL);
    a->dirty = 1;
    return rc;
}

static void schedule_flush(gl_async_t *a);

/* The event is finished: DONE on disk (batched like everything else), then forgotten. */
static void event_done(gl_async_t *a, event_t *e)
{
    if (gl_journal_append(a->journal, GL_JREC_DONE, e->id, NULL, 0, NULL) < 0)
        gl_log_error("async: cannot record event %s as done (it will run again after a "
                     "restart)",
                     e->id);
    else
        gl_journal_release(a->journal, e->seq);
    a->dirty = 1;
    schedule_flush(a);
    event_free(a, e);
    maybe_finish_close(a);
}

/* ---- batched fsync ---- */

static void on_synced(uv_fs_t *req)
{
    gl_async_t *a = req->data;
    int status = req->result < 0 ? (int)req->result : 0;
    uv_fs_req_cleanup(req);
    a->sync_in_flight = 0;
    if (status < 0)
        gl_log_error("async journal: fsync failed: %s", uv_strerror(status));
    list_t done = a->syncing;
    a->syncing.head = a->syncing.tail = NULL;
    a->nsyncs++;
    for (event_t *e = done.head, *next; e; e = next) {
        next = e->next;
        e->prev = e->next = NULL;
        gl_async_accepted_fn cb = e->accepted;
        void *arg = e->accepted_arg;
        e->accepted = NULL;
        if (status < 0) {
            /* Not durable: the client hears an error; the event is given up. */
            e->where = NOWHERE;
            event_done(a, e);
        } else if (e->due_ms > gl_now_ms()) {
            delay(a, e, e->due_ms);
        } else {
            e->where = READY;
            list_push(&a->ready, e);
        }
        if (cb) {
            a->nacked++;
            cb(status, arg);
        }
    }
    if (a->batch.head || a->dirty)
        schedule_flush(a);
    pump(a);
    maybe_finish_close(a);
}

static void start_sync(gl_async_t *a)
{
    if (a->sync_in_flight || (!a->batch.head && !a->dirty))
        return;
    /* Safe here: no fsync in flight, so the old fd can be synced and closed. */
    int rc = gl_journal_rotate_if_full(a->journal);
    if (rc < 0)
        gl_log_warn("async journal: cannot start a new segment: %s", strerror(-rc));
    a->syncing = a->batch;
    for (event_t *e = a->syncing.head; e; e = e->next)
        e->where = SYNCING;
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
    start_sync(a);
}

static void schedule_flush(gl_async_t *a)
{
    if (a->sync_in_flight || a->flush_armed || !a->handles_open)
        return; /* the end of the fsync in flight starts the next batch */
    /* 0 ms: everything accepted in this loop iteration joins the same fsync. */
    a->flush_armed = 1;
    uv_timer_start(&a->flush_timer, on_flush_timer, 0, 0);
}

/* ---- enqueue ---- */

static event_t *event_new(gl_async_t *a, const char *id, const char *fn, const char *qualifier,
                          const char *trace_id, const void *payload, size_t len)
{
    event_t *e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    snprintf(e->id, sizeof(e->id), "%s", id);
    e->fn_name = strdup(fn);
    e->qualifier = strdup(qualifier ? qualifier : "");
    e->trace_id = trace_id ? strdup(trace_id) : NULL;
    e->a = a;
    if (!e->fn_name || !e->qualifier || (trace_id && !e->trace_id) ||
        gl_buf_append(&e->payload, payload, len) < 0) {
        free(e->fn_name);
        free(e->qualifier);
        free(e->trace_id);
        gl_buf_free(&e->payload);
        free(e);
        return NULL;
    }
    a->nevents++;
    a->queued_bytes += len;
    return e;
}

/* The ACCEPT record: one line of JSON metadata, '\n', the payload. */
static int write_accept(gl_async_t *a, event_t *e)
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

static int enqueue(gl_async_t *a, const gl_async_event_in_t *in, gl_async_accepted_fn cb,
                   void *arg)
{
    event_t *e = event_new(a, in->request_id, in->fn_name, in->qualifier, in->trace_id,
                           in->payload, in->len);
    if (!e)
        return -ENOMEM;
    e->accepted_ms = e->due_ms = gl_now_ms();
    int rc = write_accept(a, e);
    if (rc < 0) {
        gl_log_error("async journal: cannot append event %s: %s", e->id, strerror(-rc));
        e->where = NOWHERE;
        event_free(a, e);
        /* The errno reaches the caller's 500 ("No space left on device"); only -EAGAIN,
         * which the Invoke API answers as a throttle, is not a storage failure's. */
        return rc == -EAGAIN ? -EIO : rc;
    }
    e->accepted = cb;
    e->accepted_arg = arg;
    list_push(&a->batch, e);
    schedule_flush(a);
    return 0;
}

int gl_async_enqueue(gl_async_t *a, const gl_async_event_in_t *ev, gl_async_accepted_fn accepted,
                     void *arg)
{
    if (a->closing)
        return -ESHUTDOWN;
    if (a->queued_bytes + ev->len > a->max_queued)
        return -EAGAIN;
    return enqueue(a, ev, accepted, arg);
}

void gl_async_forget(gl_async_t *a, void *arg)
{
    list_t *lists[] = {&a->batch, &a->syncing};
    for (size_t i = 0; i < 2; i++)
        for (event_t *e = lists[i]->head; e; e = e->next)
            if (e->accepted_arg == arg)
                e->accepted = NULL;
}

size_t gl_async_pending(const gl_async_t *a) { return a->nevents; }

int64_t gl_async_oldest_waiting_ms(const gl_async_t *a)
{
    /* A scan, not an index: it runs once per metrics scrape, and the accept order of the
     * delayed heap is not its order. */
    int64_t oldest = 0;
    const list_t *lists[] = {&a->batch, &a->syncing, &a->ready};
    for (size_t i = 0; i < 3; i++)
        for (const event_t *e = lists[i]->head; e; e = e->next)
            if (!oldest || e->accepted_ms < oldest)
                oldest = e->accepted_ms;
    for (size_t i = 0; i < a->nheap; i++)
        if (!oldest || a->heap[i]->accepted_ms < oldest)
            oldest = a->heap[i]->accepted_ms;
    return oldest;
}
const char *gl_async_sink_dir(const gl_async_t *a) { return a->sink_dir; }

/* ---- config ---- */

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

static int cfg_int(const json_t *cfg, const char *key, int dflt)
{
    json_t *v = json_object_get(cfg, key);
    return json_is_integer(v) ? (int)json_integer_value(v) : dflt;
}

static const char *cfg_destination(const json_t *cfg, const char *which)
{
    json_t *d = json_object_get(json_object_get(json_object_get(cfg, "DestinationConfig"), which),
                                "Destination");
    const char *s = json_string_value(d);
    return s && *s ? s : NULL;
}

/* ---- outcomes ---- */

static void on_sink_work(uv_work_t *req)
{
    sink_work_t *w = req->data;
    char *slash = strrchr(w->path, '/');
    *slash = '\0';
    int rc = gl_mkdir_p(w->path, 0755);
    *slash = '/';
    if (rc < 0) {
        w->rc = rc;
        return;
    }
    int fd = open(w->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        w->rc = -errno;
        return;
    }
    /* One write: O_APPEND keeps lines from concurrent writers whole. */
    size_t len = strlen(w->line);
    ssize_t n = write(fd, w->line, len);
    if (n < 0)
        w->rc = -errno;
    else if ((size_t)n != len)
        w->rc = -EIO;
    else if (fdatasync(fd) < 0)
        w->rc = -errno;
    close(fd);
}

static void on_sink_done(uv_work_t *req, int status)
{
    sink_work_t *w = req->data;
    gl_async_t *a = w->a;
    if (status < 0 || w->rc < 0)
        gl_log_error("async: writing %s failed: %s", w->path,
                     strerror(status < 0 ? -status : -w->rc));
    a->sinks_pending--;
    event_t *e = w->ev;
    free(w->path);
    free(w->line);
    free(w);
    if (--e->sinks_pending == 0)
        event_done(a, e);
    else
        maybe_finish_close(a);
}

/* Append line (+ '\n') to <sinks>/<service>/<resource>.jsonl on the thread pool. */
static int sink_write(gl_async_t *a, event_t *e, const gl_dest_t *d, json_t *doc)
{
    char *text = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    sink_work_t *w = text ? calloc(1, sizeof(*w)) : NULL;
    if (!w || asprintf(&w->path, "%s/%s/%s.jsonl", a->sink_dir, d->service, d->resource) < 0 ||
        asprintf(&w->line, "%s\n", text) < 0) {
        if (w) {
            free(w->path);
            free(w);
        }
        free(text);
        return -ENOMEM;
    }
    free(text);
    w->a = a;
    w->ev = e;
    w->req.data = w;
    int rc = uv_queue_work(a->loop, &w->req, on_sink_work, on_sink_done);
    if (rc < 0) {
        free(w->path);
        free(w->line);
        free(w);
        return rc;
    }
    e->sinks_pending++;
    a->sinks_pending++;
    gl_log_info("async: event %s: record for %s:%s written to %s/%s/%s.jsonl", e->id, d->service,
                d->resource, a->sink_dir, d->service, d->resource);
    return 0;
}

/* The snapshot an attempt runs: an alias with routing is routed at each attempt, as Lambda
 * routes when the event is processed, not when it is queued. */
static gl_fn_t *resolve(gl_async_t *a, const char *name, const char *qualifier, int routed)
{
    return gl_registry_resolve(a->reg, name, qualifier, routed ? gl_registry_route_draw() : -1.0);
}

typedef struct outcome {
    int success;
    const char *condition;
    const char *response;   /* NULL when the function never ran */
    size_t response_len;
    int function_error;
    const char *executed_version;
} outcome_t;

static void deliver_to(gl_async_t *a, event_t *e, const char *arn, const outcome_t *o,
                       const char *fn_arn)
{
    gl_dest_t d;
    if (gl_dest_parse(arn, &d) < 0) {
        gl_log_warn("async: event %s: destination %s is not one galley delivers to", e->id, arn);
        return;
    }
    gl_dest_record_in_t in = {
        .request_id = e->id,
        .function_arn = fn_arn,
        .condition = o->condition,
        .invoke_count = e->attempts,
        .payload = e->payload.data,
        .payload_len = e->payload.len,
        .function_error = o->function_error,
        .executed_version = o->executed_version,
        .response = o->response,
        .response_len = o->response_len,
        .now_ms = gl_now_ms(),
    };
    json_t *rec = gl_dest_record(&in);
    if (!rec) {
        gl_log_error("async: event %s: out of memory building its record", e->id);
        return;
    }
    if (d.kind == GL_DEST_FUNCTION) {
        char *text = json_dumps(rec, JSON_COMPACT);
        json_decref(rec);
        char id[GL_UUID_LEN + 1];
        gl_uuid4(id);
        gl_async_event_in_t ev = {.request_id = id, .fn_name = d.resource,
                                  .qualifier = d.qualifier, .payload = text,
                                  .len = text ? strlen(text) : 0};
        /* Written before this event's DONE: a crash in between replays this event. */
        int rc = text ? enqueue(a, &ev, NULL, NULL) : -ENOMEM;
        free(text);
        if (rc < 0)
            gl_log_error("async: event %s: cannot queue its record for %s: %s", e->id, arn,
                         strerror(-rc));
        else
            gl_log_info("async: event %s: record queued as event %s of %s", e->id, id, arn);
        return;
    }
    if (d.kind == GL_DEST_EVENTS)
        rec = gl_dest_eventbridge(rec, o->success, gl_registry_region(a->reg),
                                  gl_registry_account(a->reg), fn_arn, in.now_ms);
    if (sink_write(a, e, &d, rec) < 0)
        gl_log_error("async: event %s: cannot write its record for %s", e->id, arn);
}

static void dead_letter(gl_async_t *a, event_t *e, const char *arn, const outcome_t *o)
{
    gl_dest_t d;
    if (gl_dest_parse(arn, &d) < 0 || (d.kind != GL_DEST_SQS && d.kind != GL_DEST_SNS)) {
        gl_log_warn("async: event %s: dead-letter target %s is not an SQS queue or SNS topic",
                    e->id, arn);
        return;
    }
    char msg[1100] = "";
    if (o->response) {
        json_t *body = json_loadb(o->response, o->response_len, 0, NULL);
        const char *m = json_string_value(json_object_get(body, "errorMessage"));
        snprintf(msg, sizeof(msg), "%s", m ? m : "");
        json_decref(body);
    } else {
        snprintf(msg, sizeof(msg), "Event age exceeded before the function could run "
                                   "(throttled)");
    }
    json_t *line = gl_dest_dlq_message(e->id, e->payload.data, e->payload.len,
                                       o->response ? 200 : 429, msg);
    if (sink_write(a, e, &d, line) < 0)
        gl_log_error("async: event %s: cannot write its dead letter for %s", e->id, arn);
}

/* The event's last outcome is known: destinations, dead letter, then DONE. */
static void finish(gl_async_t *a, event_t *e, const outcome_t *o)
{
    const json_t *cfg = gl_async_configs_get(&a->configs, e->fn_name, e->qualifier);
    char fn_arn[512];
    gl_registry_fn_arn(a->reg, e->fn_name, *e->qualifier ? e->qualifier : "$LATEST", fn_arn,
                       sizeof(fn_arn));
    const char *dest = cfg_destination(cfg, o->success ? "OnSuccess" : "OnFailure");
    e->where = NOWHERE;
    e->sinks_pending = 1; /* held until every write below is queued */
    if (!o->success)
        gl_log_info("async: event %s of %s failed for good (%s after %d attempt(s))", e->id,
                    e->fn_name, o->condition, e->attempts);
    if (dest)
        deliver_to(a, e, dest, o, fn_arn);
    if (!o->success) {
        gl_fn_t *fn = resolve(a, e->fn_name, e->qualifier, 0);
        json_t *dlq = fn && fn->cfg.extra ? json_object_get(fn->cfg.extra, "DeadLetterConfig")
                                          : NULL;
        const char *target = json_string_value(json_object_get(dlq, "TargetArn"));
        if (target && *target)
            dead_letter(a, e, target, o);
    }
    if (--e->sinks_pending == 0)
        event_done(a, e);
}

static void fail_expired(gl_async_t *a, event_t *e)
{
    outcome_t o = {.success = 0, .condition = "EventAgeExceeded"};
    if (e->attempts > 0) {
        o.response = e->last_response.data ? e->last_response.data : "";
        o.response_len = e->last_response.len;
        o.function_error = e->last_function_error;
    }
    finish(a, e, &o);
}

/* ---- the worker ---- */

static void on_attempt_done(gl_invoke_t *inv)
{
    event_t *e = inv->data;
    gl_async_t *a = e->a;
    a->running--;
    e->where = NOWHERE;
    if (inv->function_error && a->stopping) {
        /* Most likely stopped by the shutdown itself: the journal still has it as pending,
         * so the next start runs this attempt again. */
        gl_log_info("async: event %s interrupted by shutdown: it runs again after a restart",
                    e->id);
        event_free(a, e);
        gl_invoke_free(inv);
        maybe_finish_close(a);
        return;
    }
    e->attempts++;
    e->backoff_ms = 0;
    outcome_t o = {
        .success = !inv->function_error,
        .condition = inv->function_error ? "RetriesExhausted" : "Success",
        .response = inv->result.data ? inv->result.data : "",
        .response_len = inv->result.len,
        .function_error = inv->function_error,
        .executed_version = inv->fn->version,
    };
    if (inv->function_error) {
        const json_t *cfg = gl_async_configs_get(&a->configs, e->fn_name, e->qualifier);
        int retries = cfg_int(cfg, "MaximumRetryAttempts", DEFAULT_RETRIES);
        gl_log_info("async: event %s of %s: attempt %d failed (%s)", e->id, e->fn_name,
                    e->attempts, inv->error_type ? inv->error_type : "Unhandled");
        if (e->attempts <= retries) {
            gl_buf_reset(&e->last_response);
            gl_buf_append(&e->last_response, o.response, o.response_len);
            e->last_function_error = 1;
            int64_t wait = e->attempts == 1 ? RETRY_DELAY_1_MS : RETRY_DELAY_2_MS;
            e->due_ms = gl_now_ms() + scaled(a, wait);
            if (write_state(a, e) < 0)
                gl_log_warn("async: event %s: retry state not recorded", e->id);
            schedule_flush(a);
            delay(a, e, e->due_ms);
            gl_invoke_free(inv);
            return;
        }
    }
    finish(a, e, &o);
    gl_invoke_free(inv);
}

static void throttled(gl_async_t *a, event_t *e)
{
    e->backoff_ms = e->backoff_ms ? e->backoff_ms * 2 : THROTTLE_FIRST_MS;
    if (e->backoff_ms > THROTTLE_MAX_MS)
        e->backoff_ms = THROTTLE_MAX_MS;
    gl_log_debug("async: event %s of %s throttled: next try in %lld ms", e->id, e->fn_name,
                 (long long)scaled(a, e->backoff_ms));
    delay(a, e, gl_now_ms() + scaled(a, e->backoff_ms));
}

static void dispatch(gl_async_t *a, event_t *e)
{
    const json_t *cfg = gl_async_configs_get(&a->configs, e->fn_name, e->qualifier);
    int64_t max_age_ms = (int64_t)cfg_int(cfg, "MaximumEventAgeInSeconds", DEFAULT_MAX_AGE_S) *
                         1000;
    if (gl_now_ms() - e->accepted_ms > scaled(a, max_age_ms)) {
        fail_expired(a, e);
        return;
    }
    /* Reserved concurrency 0 disables the function: Lambda sends its events straight to
     * the failure destination / dead-letter queue, without attempts or retries. */
    if (gl_sched_reserved(a->sched, e->fn_name) == 0) {
        outcome_t o = {.success = 0, .condition = "RetriesExhausted"};
        finish(a, e, &o);
        return;
    }
    /* Cheap early answer when the whole account is busy: no invoke is built just to be
     * refused (gl_sched_submit stays the authority for everything else). */
    if (gl_sched_running(a->sched) >= gl_sched_account_concurrency(a->sched)) {
        throttled(a, e);
        return;
    }
    gl_fn_t *fn = resolve(a, e->fn_name, e->qualifier, 1);
    if (!fn) {
        gl_log_warn("async: event %s: function %s%s%s no longer exists: event discarded", e->id,
                    e->fn_name, *e->qualifier ? ":" : "", e->qualifier);
        e->where = NOWHERE;
        event_done(a, e);
        return;
    }
    gl_invoke_t *inv = gl_invoke_new(fn);
    char arn[512];
    gl_registry_fn_arn(a->reg, e->fn_name, *e->qualifier ? e->qualifier : NULL, arn, sizeof(arn));
    if (!inv || !(inv->invoked_arn = strdup(arn)) ||
        gl_buf_append(&inv->payload, e->payload.data, e->payload.len) < 0 ||
        (e->trace_id && !(inv->trace_id = strdup(e->trace_id)))) {
        gl_invoke_free(inv);
        throttled(a, e); /* out of memory: try again later */
        return;
    }
    memcpy(inv->request_id, e->id, sizeof(inv->request_id));
    inv->done = on_attempt_done;
    inv->data = e;
    e->where = RUNNING;
    a->running++;
    if (gl_sched_submit(a->sched, inv) == -EAGAIN) {
        a->running--;
        gl_invoke_free(inv);
        throttled(a, e);
    }
    /* else: e may already be finished and freed (done can run inside submit). */
}

static void pump(gl_async_t *a)
{
    if (!a->started || a->stopping)
        return;
    /* Bounded: each event leaves the ready list (running, delayed or done). */
    while (a->ready.head && !a->stopping) {
        event_t *e = a->ready.head;
        list_remove(&a->ready, e);
        e->where = NOWHERE;
        dispatch(a, e);
    }
}

/* ---- open, start, stop, close ---- */

static void on_replay(const char *id, const char *accept, size_t alen, const char *state,
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
    event_t *e = event_new(a, id, fn, q, json_string_value(json_object_get(meta, "trace")),
                           nl + 1, alen - (size_t)(nl + 1 - accept));
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
        delay(a, e, e->due_ms);
    } else {
        e->where = READY;
        list_push(&a->ready, e);
    }
}

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
    if ((rc = gl_journal_open(&a->journal, a->dir, opts->segment_max, on_replay, a, err)) < 0)
        goto fail;
    if ((rc = gl_async_configs_load(&a->configs, cfg_path, err)) < 0)
        goto fail;
    uv_timer_init(loop, &a->flush_timer);
    uv_timer_init(loop, &a->delay_timer);
    a->flush_timer.data = a->delay_timer.data = a;
    a->handles_open = 2;
    arm_delay_timer(a);
    free(cfg_path);
    *out = a;
    return 0;
fail:
    free(cfg_path);
    if (a->journal) {
        /* Replayed events are only in memory; the journal keeps them on disk. */
        while (a->ready.head)
            event_free(a, a->ready.head);
        while (a->nheap)
            event_free(a, heap_pop(a));
        free(a->heap);
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
    gl_log_info("async: %zu pending event(s); destination records for SQS/SNS/EventBridge/S3 "
                "ARNs go to %s/<service>/<name>.jsonl (time scale %g)",
                a->nevents, a->sink_dir, a->scale);
    pump(a);
    arm_delay_timer(a);
}

void gl_async_stop(gl_async_t *a)
{
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
    while (a->ready.head)
        event_free(a, a->ready.head);
    while (a->nheap)
        event_free(a, heap_pop(a));
    free(a->heap);
    void (*cb)(void *) = a->on_closed;
    void *arg = a->on_closed_arg;
    gl_log_info("async: queue closed");
    free(a->dir);
    free(a->sink_dir);
    free(a);
    if (cb)
        cb(arg);
}

static void maybe_finish_close(gl_async_t *a)
{
    if (!a->closing || a->handles_open != 2 || a->sync_in_flight || a->running ||
        a->sinks_pending)
        return;
    if (a->batch.head || a->dirty) {
        start_sync(a); /* the last records reach the disk before exit */
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
    maybe_finish_close(a);
}
