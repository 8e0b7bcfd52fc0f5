/* SPDX-License-Identifier: MIT */
/*
 * durable.c: the durable module's state: the executions (a list, newest first), the journal
 * under <state>/durable that holds each one's latest document (include/galley/journal.h: an
 * ACCEPT record when it starts, a STATE record at every change, DONE once retention drops
 * it), the fdatasyncs that run on libuv's thread pool before a change is acknowledged, the
 * one timer that wakes executions whose wait, retry, callback timeout, execution timeout or
 * retention is due, and the synchronous invokes waiting for an execution's end.
 *
 * Invariant: a reply that says a change happened runs only after an fsync that began after
 * the change's record was written. The journal rotates only while no fsync is in flight;
 * compact.c keeps it bounded while the daemon runs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "galley/log.h"
#include "galley/sched.h"
#include "internal.h"

#define SEGMENT_MAX (8u << 20)

/* An fsync in flight and the reply it releases. */
typedef struct gl_dx_sync {
    uv_fs_t req;
    gl_durable_t *d;
    gl_durable_reply_fn cb;
    void *arg;
    json_t *body;
    struct gl_dx_sync *next;
} sync_t;

typedef struct gl_dx_waiter {
    gl_durable_t *d;
    char id[GL_DX_ID_LEN + 1];
    gl_durable_reply_fn cb;
    void *arg;
    int on_start;
    struct gl_dx_waiter *next;
} waiter_t;

gl_dx_t *gl_durable_find_id(gl_durable_t *d, const char *id)
{
    for (gl_dx_t *x = d->list; x; x = x->next)
        if (!strcmp(x->id, id))
            return x;
    return NULL;
}

gl_dx_t *gl_durable_find(gl_durable_t *d, const char *arn)
{
    const char *slash = arn ? strrchr(arn, '/') : NULL;
    gl_dx_t *x = slash && strlen(slash + 1) == GL_DX_ID_LEN ? gl_durable_find_id(d, slash + 1)
                                                             : NULL;
    return x && !strcmp(gl_dx_str(x, "Arn"), arn) ? x : NULL;
}

static void on_replay(const char *id, const char *accept, size_t accept_len, const char *state,
                      size_t state_len, uint64_t seq, void *arg)
{
    gl_durable_t *d = arg;
    json_error_t jerr;
    json_t *doc = state_len ? json_loadb(state, state_len, 0, &jerr)
                            : json_loadb(accept, accept_len, 0, &jerr);
    gl_dx_t *x = doc ? gl_dx_from_doc(doc) : NULL;
    if (!x || strcmp(x->id, id)) {
        gl_log_warn("durable: execution %s in the journal is not readable; skipped", id);
        gl_dx_free(x);
        return;
    }
    x->jseq = seq;
    x->d = d;
    x->next = d->list; /* replayed oldest first: the list ends newest first */
    d->list = x;
}

int gl_durable_open(gl_durable_t **out, uv_loop_t *loop, const gl_durable_opts_t *opts,
                    gl_err_t *err)
{
    gl_durable_t *d = calloc(1, sizeof(*d));
    char *dir = gl_path_join(opts->state_dir, "durable");
    int rc;
    if (!d || !dir) {
        rc = gl_err_set(err, ENOMEM, "durable");
        goto fail;
    }
    d->loop = loop;
    d->reg = opts->registry;
    d->sched = opts->sched;
    d->scale = opts->time_scale > 0 ? opts->time_scale : 1;
    if ((rc = gl_journal_open(&d->j, dir, SEGMENT_MAX, on_replay, d, err)) < 0)
        goto fail;
    if ((rc = uv_timer_init(loop, &d->timer)) < 0) {
        gl_journal_close(d->j);
        rc = gl_err_set(err, -rc, "durable timer");
        goto fail;
    }
    d->timer.data = d;
    free(dir);
    *out = d;
    return 0;
fail:
    for (gl_dx_t *x = d ? d->list : NULL, *n; x; x = n) {
        n = x->next;
        gl_dx_free(x);
    }
    free(dir);
    free(d);
    return rc;
}

static void on_synced(uv_fs_t *req)
{
    sync_t *s = req->data;
    gl_durable_t *d = s->d;
    int status = (int)req->result;
    uv_fs_req_cleanup(req);
    for (sync_t **p = &d->syncs; *p; p = &(*p)->next)
        if (*p == s) {
            *p = s->next;
            break;
        }
    d->nsyncs--;
    if (status < 0)
        gl_log_error("durable: fdatasync: %s", uv_strerror(status));
    if (s->cb) {
        gl_aws_error_t aerr;
        if (status < 0) {
            gl_aws_error_set(&aerr, GL_AWS_SERVICE, -status,
                             "The change could not be stored: %s", uv_strerror(status));
            json_decref(s->body);
            s->body = NULL;
        }
        s->cb(s->arg, s->body, status < 0 ? &aerr : NULL);
    } else {
        json_decref(s->body);
    }
    free(s);
    if (d->nsyncs == 0 && !d->closing && gl_journal_rotate_if_full(d->j) < 0)
        gl_log_warn("durable: journal rotation failed");
    gl_durable_compact(d);
    if (d->closing && d->nsyncs == 0 && !uv_is_closing((uv_handle_t *)&d->timer))
        gl_durable_close(d, d->on_closed, d->on_closed_arg);
}

static void fail_reply(gl_durable_reply_fn cb, void *arg, json_t *body, int code, const char *why)
{
    json_decref(body);
    if (!cb)
        return;
    gl_aws_error_t aerr;
    gl_aws_error_set(&aerr, GL_AWS_SERVICE, code, "The change could not be stored: %s", why);
    cb(arg, NULL, &aerr);
}

void gl_durable_sync(gl_durable_t *d, gl_durable_reply_fn cb, void *arg, json_t *body)
{
    sync_t *s = calloc(1, sizeof(*s));
    int rc = s ? 0 : -ENOMEM;
    if (s) {
        *s = (sync_t){.d = d, .cb = cb, .arg = arg, .body = body, .next = d->syncs};
        s->req.data = s;
        rc = uv_fs_fdatasync(d->loop, &s->req, gl_journal_fd(d->j), on_synced);
    }
    if (rc < 0) {
        free(s);
        fail_reply(cb, arg, body, -rc, uv_strerror(rc));
        return;
    }
    d->syncs = s;
    d->nsyncs++;
}

void gl_durable_persist(gl_durable_t *d, gl_dx_t *x, int first, gl_durable_reply_fn cb,
                        void *arg, json_t *body)
{
    char *text = json_dumps(x->doc, JSON_COMPACT);
    size_t len = text ? strlen(text) : 0;
    int rc = text ? gl_journal_append(d->j, first ? GL_JREC_ACCEPT : GL_JREC_STATE, x->id, text,
                                      len, first ? &x->jseq : NULL)
                  : -ENOMEM;
    free(text);
    if (rc < 0) {
        gl_log_error("durable: %s: journal write: %s", x->id, strerror(-rc));
        fail_reply(cb, arg, body, -rc, strerror(-rc));
        return;
    }
    d->written += len;
    gl_durable_sync(d, cb, arg, body);
}

void gl_durable_forget(gl_durable_t *d, void *arg)
{
    if (!d)
        return;
    for (sync_t *s = d->syncs; s; s = s->next)
        if (s->arg == arg)
            s->cb = NULL;
    for (waiter_t **p = &d->waiters; *p;) {
        waiter_t *w = *p;
        if (w->arg == arg) {
            *p = w->next;
            free(w);
        } else {
            p = &w->next;
        }
    }
}

int gl_durable_add_waiter(gl_durable_t *d, gl_dx_t *x, gl_durable_reply_fn cb, void *arg,
                          int on_start)
{
    waiter_t *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    *w = (waiter_t){.d = d, .cb = cb, .arg = arg, .on_start = on_start, .next = d->waiters};
    memcpy(w->id, x->id, sizeof(w->id));
    d->waiters = w;
    return 0;
}

json_t *gl_durable_outcome(const gl_dx_t *x)
{
    return json_pack("{s:O,s:O,s:O?,s:O?,s:O?}", "DurableExecutionArn",
                     json_object_get(x->doc, "Arn"), "Status", json_object_get(x->doc, "Status"),
                     "Result", json_object_get(x->doc, "Result"), "Error",
                     json_object_get(x->doc, "Error"), "Version",
                     json_object_get(x->doc, "Version"));
}

void gl_durable_notify(gl_durable_t *d, gl_dx_t *x, const gl_aws_error_t *aerr, int started)
{
    for (waiter_t **p = &d->waiters; *p;) {
        waiter_t *w = *p;
        if (strcmp(w->id, x->id) || (started && !w->on_start)) {
            p = &w->next;
            continue;
        }
        *p = w->next;
        w->cb(w->arg, aerr ? NULL : gl_durable_outcome(x), aerr);
        free(w);
    }
}

static int64_t retention_end(const gl_durable_t *d, const gl_dx_t *x)
{
    return gl_dx_int(x, "End") +
           (int64_t)((double)gl_dx_int(x, "Retention") * 86400000.0 / d->scale);
}

static int64_t timeout_end(const gl_durable_t *d, const gl_dx_t *x)
{
    return gl_dx_int(x, "Start") +
           (int64_t)((double)gl_dx_int(x, "Timeout") * 1000.0 / d->scale);
}

/* Retention is over: the DONE record, then the execution is gone. */
static void drop(gl_durable_t *d, gl_dx_t **link)
{
    gl_dx_t *x = *link;
    *link = x->next;
    if (gl_journal_append(d->j, GL_JREC_DONE, x->id, NULL, 0, NULL) == 0)
        gl_journal_release(d->j, x->jseq);
    gl_dx_free(x);
}

static void on_timer(uv_timer_t *t)
{
    gl_durable_t *d = t->data;
    int64_t now = gl_now_ms();
    for (gl_dx_t **p = &d->list; *p;) {
        gl_dx_t *x = *p;
        if (!gl_dx_running(x)) {
            if (!x->inv && retention_end(d, x) <= now) {
                drop(d, p);
                continue;
            }
        } else if (timeout_end(d, x) <= now) {
            json_t *err = json_pack("{s:s,s:s}", "ErrorType", "Execution.TimedOut",
                                    "ErrorMessage", "The durable execution timed out.");
            gl_dx_finish(x, "TIMED_OUT", NULL, err, now);
            json_decref(err);
            gl_durable_persist(d, x, 0, NULL, NULL, NULL);
            gl_durable_notify(d, x, NULL, 0);
        } else if (!x->inv && x->wake_ms && x->wake_ms <= now) {
            x->wake_ms = 0;
            gl_durable_kick(d, x);
        }
        p = &x->next;
    }
    gl_durable_rearm(d);
}

void gl_durable_rearm(gl_durable_t *d)
{
    if (d->closing || !d->started)
        return;
    int64_t best = 0;
    for (gl_dx_t *x = d->list; x; x = x->next) {
        int64_t t = gl_dx_running(x) ? timeout_end(d, x) : x->inv ? 0 : retention_end(d, x);
        if (gl_dx_running(x) && !x->inv && x->wake_ms && x->wake_ms < t)
            t = x->wake_ms;
        if (t && (!best || t < best))
            best = t;
    }
    uv_timer_stop(&d->timer);
    if (best) {
        int64_t delay = best - gl_now_ms();
        uv_timer_start(&d->timer, on_timer, delay > 0 ? (uint64_t)delay : 0, 0);
    }
}

/* Every running execution is replayed at once, from the loop's first turn: the daemon's
 * bring-up (the environments' endpoint and credentials) is complete by then. */
void gl_durable_start(gl_durable_t *d)
{
    d->started = 1;
    int64_t now = gl_now_ms();
    for (gl_dx_t *x = d->list; x; x = x->next)
        if (gl_dx_running(x))
            x->wake_ms = now;
    gl_durable_rearm(d);
}

static void on_timer_closed(uv_handle_t *h)
{
    gl_durable_t *d = h->data;
    void (*cb)(void *) = d->on_closed;
    void *arg = d->on_closed_arg;
    /* Only galley's own waiters are left (a chained invoke of a durable function): the
     * API's went with their connections. */
    gl_aws_error_t aerr;
    gl_aws_error_set(&aerr, GL_AWS_SERVICE, ESHUTDOWN, "galley is shutting down");
    for (waiter_t *w = d->waiters, *n; w; w = n) {
        n = w->next;
        w->cb(w->arg, NULL, &aerr);
        free(w);
    }
    d->waiters = NULL;
    for (gl_dx_t *x = d->list, *n; x; x = n) {
        n = x->next;
        if (x->inv) { /* the scheduler frees it when it ends */
            x->inv->done = NULL;
            x->inv->data = NULL;
        }
        gl_dx_free(x);
    }
    gl_journal_close(d->j);
    free(d);
    if (cb)
        cb(arg);
}

void gl_durable_close(gl_durable_t *d, void (*on_closed)(void *arg), void *arg)
{
    d->closing = 1;
    d->on_closed = on_closed;
    d->on_closed_arg = arg;
    uv_timer_stop(&d->timer);
    if (d->nsyncs) /* the last fsync's callback comes back here */
        return;
    uv_close((uv_handle_t *)&d->timer, on_timer_closed);
}
