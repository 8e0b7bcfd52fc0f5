/* SPDX-License-Identifier: MIT */
/*
 * queue.c: where an accepted event waits in memory: the intrusive event lists (the fsync
 * batch, the events it covers, the ready list), the delay heap holding retries and
 * throttled events until they are due, and the time scale. Owns the delay timer's callback;
 * the timer itself is opened and closed with the queue (async.c).
 *
 * Throttled events do not back off: each waits in its function's park list, oldest accepted
 * first, and the scheduler's slot-free hook has them tried on the next loop turn, so a queue
 * drains at the function's concurrency. A slow tick (1 s, divided by the time scale, at least
 * 50 ms) also tries them while any are parked: it expires those past their maximum age and
 * catches capacity that grew without a slot freeing (a raised reservation).
 *
 * Invariant: an event is in at most one list or the heap, and e->where says which.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "galley/log.h"
#include "internal.h"

#define PARK_TICK_MS 1000
#define PARK_TICK_MIN_MS 50

static void on_delay(uv_timer_t *t);

void gl_async_list_push(gl_async_list_t *l, gl_async_ev_t *e)
{
    e->prev = l->tail;
    e->next = NULL;
    if (l->tail)
        l->tail->next = e;
    else
        l->head = e;
    l->tail = e;
}

void gl_async_list_remove(gl_async_list_t *l, gl_async_ev_t *e)
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
static gl_async_list_t *list_of(gl_async_t *a, gl_async_ev_t *e)
{
    switch (e->where) {
    case GL_ASYNC_READY:
        return &a->ready;
    case GL_ASYNC_PARKED:
        return &e->park->events;
    default:
        return NULL;
    }
}

gl_async_ev_t *gl_async_event_new(gl_async_t *a, const char *id, const char *fn,
                                  const char *qualifier, const char *trace_id, const void *payload,
                                  size_t len)
{
    gl_async_ev_t *e = calloc(1, sizeof(*e));
    if (!e)
        return NULL;
    snprintf(e->id, sizeof(e->id), "%s", id);
    e->fn_name = strdup(fn);
    e->qualifier = strdup(qualifier ? qualifier : "");
    e->trace_id = trace_id ? strdup(trace_id) : NULL;
    e->a = a;
    e->accept_order = a->next_accept++;
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

void gl_async_event_free(gl_async_t *a, gl_async_ev_t *e)
{
    gl_async_list_t *l = list_of(a, e);
    if (e->where == GL_ASYNC_PARKED)
        a->nparked--;
    if (l)
        gl_async_list_remove(l, e);
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

void gl_async_free_events(gl_async_t *a)
{
    while (a->ready.head)
        gl_async_event_free(a, a->ready.head);
    while (a->nheap)
        gl_async_event_free(a, gl_async_heap_pop(a));
    free(a->heap);
    a->heap = NULL;
    a->nheap = a->heap_cap = 0;
    while (a->parks) {
        gl_async_park_t *p = a->parks;
        while (p->events.head)
            gl_async_event_free(a, p->events.head);
        a->parks = p->next;
        free(p->fn_name);
        free(p);
    }
}

int64_t gl_async_scaled(const gl_async_t *a, int64_t ms)
{
    double v = (double)ms / a->scale;
    return v < 0 ? 0 : (int64_t)v;
}

static int heap_less(const gl_async_ev_t *x, const gl_async_ev_t *y)
{
    return x->due_ms < y->due_ms || (x->due_ms == y->due_ms && x->order < y->order);
}

static void heap_swap(gl_async_t *a, size_t i, size_t k)
{
    gl_async_ev_t *t = a->heap[i];
    a->heap[i] = a->heap[k];
    a->heap[k] = t;
}

gl_async_ev_t *gl_async_heap_pop(gl_async_t *a)
{
    gl_async_ev_t *top = a->heap[0];
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

void gl_async_arm_delay_timer(gl_async_t *a)
{
    if (!a->handles_open || a->stopping)
        return;
    if (!a->nheap && !a->nparked) {
        uv_timer_stop(&a->delay_timer);
        return;
    }
    int64_t wait = a->nheap ? a->heap[0]->due_ms - gl_now_ms() : INT64_MAX;
    if (a->nparked) {
        int64_t tick = gl_async_scaled(a, PARK_TICK_MS);
        if (tick < PARK_TICK_MIN_MS)
            tick = PARK_TICK_MIN_MS;
        if (wait > tick)
            wait = tick;
        if (a->slot_freed)
            wait = 0; /* a wake already asked for */
    }
    uv_timer_start(&a->delay_timer, on_delay, wait > 0 ? (uint64_t)wait : 0, 0);
}

/* Wait until due_ms. If the heap cannot grow (out of memory) the event is ready at once:
 * running early is better than losing it. */
void gl_async_delay(gl_async_t *a, gl_async_ev_t *e, int64_t due_ms)
{
    e->due_ms = due_ms;
    e->order = a->next_order++;
    if (a->nheap == a->heap_cap) {
        size_t cap = a->heap_cap ? a->heap_cap * 2 : 256;
        gl_async_ev_t **h = realloc(a->heap, cap * sizeof(*h));
        if (!h) {
            e->where = GL_ASYNC_READY;
            gl_async_list_push(&a->ready, e);
            return;
        }
        a->heap = h;
        a->heap_cap = cap;
    }
    e->where = GL_ASYNC_DELAYED;
    size_t i = a->nheap++;
    a->heap[i] = e;
    while (i > 0 && heap_less(a->heap[i], a->heap[(i - 1) / 2])) {
        heap_swap(a, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
    if (a->heap[0] == e)
        gl_async_arm_delay_timer(a);
}

static void on_delay(uv_timer_t *t)
{
    gl_async_t *a = t->data;
    int64_t now = gl_now_ms();
    while (a->nheap && a->heap[0]->due_ms <= now) {
        gl_async_ev_t *e = gl_async_heap_pop(a);
        e->where = GL_ASYNC_READY;
        gl_async_list_push(&a->ready, e);
    }
    gl_async_try_parked(a); /* older than anything just due: they go first */
    gl_async_pump(a);
    gl_async_arm_delay_timer(a);
}

static gl_async_park_t *park_of(gl_async_t *a, const char *fn_name)
{
    gl_async_park_t *p;
    for (p = a->parks; p; p = p->next)
        if (strcmp(p->fn_name, fn_name) == 0)
            return p;
    if (!(p = calloc(1, sizeof(*p))) || !(p->fn_name = strdup(fn_name))) {
        free(p);
        return NULL;
    }
    p->next = a->parks;
    a->parks = p;
    return p;
}

int gl_async_has_parked(gl_async_t *a, const char *fn_name)
{
    if (!a->nparked)
        return 0;
    for (gl_async_park_t *p = a->parks; p; p = p->next)
        if (strcmp(p->fn_name, fn_name) == 0)
            return p->events.head != NULL;
    return 0;
}

int gl_async_park(gl_async_t *a, gl_async_ev_t *e)
{
    gl_async_park_t *p = park_of(a, e->fn_name);
    if (!p)
        return -ENOMEM;
    /* Insert in acceptance order: usually at the tail; further up for one taken out and
     * parked again, or a retry. (Not by accepted_ms: two events accepted in the same
     * millisecond would swap when the older one is parked again.) */
    gl_async_list_t *l = &p->events;
    gl_async_ev_t *after = l->tail;
    while (after && after->accept_order > e->accept_order)
        after = after->prev;
    e->prev = after;
    e->next = after ? after->next : l->head;
    if (e->next)
        e->next->prev = e;
    else
        l->tail = e;
    if (after)
        after->next = e;
    else
        l->head = e;
    e->where = GL_ASYNC_PARKED;
    e->park = p;
    a->nparked++;
    gl_async_arm_delay_timer(a);
    return 0;
}

void gl_async_on_slot_free(void *arg)
{
    gl_async_t *a = arg;
    /* Called inside the scheduler: only note it, and try the parked events on the next
     * loop turn. */
    if (!a->nparked || a->slot_freed || !a->handles_open || a->stopping)
        return;
    a->slot_freed = 1;
    uv_timer_start(&a->delay_timer, on_delay, 0, 0);
}
