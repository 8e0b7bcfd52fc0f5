/* SPDX-License-Identifier: MIT */
/*
 * outcome.c: what happens once an event's last attempt is known: the OnSuccess / OnFailure
 * destination from its EventInvokeConfig, the function's dead-letter queue, then DONE.
 * Destinations that are functions become new events in this same queue; the others are JSON
 * lines appended and fsynced under <state>/destinations on the thread pool, and DONE is
 * appended only when the last of them is written, so a crash in between replays the event
 * rather than losing its record (delivery is at least once). The records' shapes are
 * deliver.c's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "galley/log.h"
#include "internal.h"

int gl_async_cfg_int(const json_t *cfg, const char *key, int dflt)
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

typedef struct sink_work {
    uv_work_t req;
    gl_async_t *a;
    gl_async_ev_t *ev;
    char *path;
    char *line;
    int rc;
} sink_work_t;

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
    gl_async_ev_t *e = w->ev;
    free(w->path);
    free(w->line);
    free(w);
    if (--e->sinks_pending == 0)
        gl_async_event_done(a, e);
    else
        gl_async_maybe_finish_close(a);
}

/* Append line (+ '\n') to <sinks>/<service>/<resource>.jsonl on the thread pool. */
static int sink_write(gl_async_t *a, gl_async_ev_t *e, const gl_dest_t *d, json_t *doc)
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
gl_fn_t *gl_async_resolve(gl_async_t *a, const char *name, const char *qualifier, int routed)
{
    return gl_registry_resolve(a->reg, name, qualifier, routed ? gl_registry_route_draw() : -1.0);
}

static void deliver_to(gl_async_t *a, gl_async_ev_t *e, const char *arn,
                       const gl_async_outcome_t *o, const char *fn_arn)
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
        gl_async_event_in_t ev = {.request_id = id,
                                  .fn_name = d.resource,
                                  .qualifier = d.qualifier,
                                  .payload = text,
                                  .len = text ? strlen(text) : 0};
        /* Written before this event's DONE: a crash in between replays this event. */
        int rc = text ? gl_async_enqueue_event(a, &ev, NULL, NULL) : -ENOMEM;
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

static void dead_letter(gl_async_t *a, gl_async_ev_t *e, const char *arn,
                        const gl_async_outcome_t *o)
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
        snprintf(msg, sizeof(msg),
                 "Event age exceeded before the function could run "
                 "(throttled)");
    }
    json_t *line =
        gl_dest_dlq_message(e->id, e->payload.data, e->payload.len, o->response ? 200 : 429, msg);
    if (sink_write(a, e, &d, line) < 0)
        gl_log_error("async: event %s: cannot write its dead letter for %s", e->id, arn);
}

/* The event's last outcome is known: destinations, dead letter, then DONE. */
void gl_async_finish(gl_async_t *a, gl_async_ev_t *e, const gl_async_outcome_t *o)
{
    const json_t *cfg = gl_async_configs_get(&a->configs, e->fn_name, e->qualifier);
    char fn_arn[512];
    gl_registry_fn_arn(a->reg, e->fn_name, *e->qualifier ? e->qualifier : "$LATEST", fn_arn,
                       sizeof(fn_arn));
    const char *dest = cfg_destination(cfg, o->success ? "OnSuccess" : "OnFailure");
    e->where = GL_ASYNC_NOWHERE;
    e->sinks_pending = 1; /* held until every write below is queued */
    if (!o->success)
        gl_log_info("async: event %s of %s failed for good (%s after %d attempt(s))", e->id,
                    e->fn_name, o->condition, e->attempts);
    if (dest)
        deliver_to(a, e, dest, o, fn_arn);
    if (!o->success) {
        gl_fn_t *fn = gl_async_resolve(a, e->fn_name, e->qualifier, 0);
        json_t *dlq =
            fn && fn->cfg.extra ? json_object_get(fn->cfg.extra, "DeadLetterConfig") : NULL;
        const char *target = json_string_value(json_object_get(dlq, "TargetArn"));
        if (target && *target)
            dead_letter(a, e, target, o);
    }
    if (--e->sinks_pending == 0)
        gl_async_event_done(a, e);
}

void gl_async_fail_expired(gl_async_t *a, gl_async_ev_t *e)
{
    gl_async_outcome_t o = {.success = 0, .condition = "EventAgeExceeded"};
    if (e->attempts > 0) {
        o.response = e->last_response.data ? e->last_response.data : "";
        o.response_len = e->last_response.len;
        o.function_error = e->last_function_error;
    }
    gl_async_finish(a, e, &o);
}
