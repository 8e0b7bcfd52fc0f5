/* SPDX-License-Identifier: MIT */
/*
 * telemetry.c: an environment's Telemetry API and Logs API subscriptions (struct gl_tel, made
 * at the environment's first platform record and freed after it: env->tel). Owns each
 * subscriber's queue of serialized events, its timer (timeoutMs, then the retry backoff) and
 * its connection (a libuv TCP client on the loop, no thread): HTTP batches are one POST each
 * on a connection of their own ("Connection: close"), TCP batches newline-delimited JSON on one
 * connection kept open. Leaves the subscription requests to telemetry_sub.c, and the checks,
 * the events' shapes and the buffering decisions to telemetry_events.c.
 *
 * Invariants: one batch in flight per subscriber, so events arrive in order; a batch that
 * fails (no listener yet, an error status, a reset) is sent again after a backoff while new
 * events queue behind it; a queue holds at most maxItems events and maxBytes bytes, the oldest
 * dropped first and reported in a platform.logsDropped event at the head of the next batch.
 * Events from before a subscription (the init phase's) are replayed to it, as Lambda does.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "galley/log.h"
#include "galley/sbx.h"
#include "internal.h"
#include "telemetry.h"

#define HISTORY_MAX 1000     /* events of the init phase kept for later subscribers */
#define RETRY_FIRST_MS 100u
#define RETRY_MAX_MS 2000u
#define RESPONSE_HEAD_MAX 8192

typedef struct tel_item {
    struct tel_item *next;
    size_t len;
    char text[];
} tel_item_t;

typedef struct tel_sub tel_sub_t;
typedef struct gl_tel gl_tel_t;

struct tel_sub {
    tel_sub_t *next;
    gl_tel_t *tel;
    char name[128];            /* the subscribing extension's name */
    gl_tel_sub_cfg_t cfg;
    tel_item_t *head, *tail;   /* waiting events, oldest first */
    size_t items, bytes;
    uint64_t dropped_records, dropped_bytes;
    uv_timer_t timer;
    uv_tcp_t conn;
    uv_connect_t connecting;
    uv_write_t writing;
    gl_buf_t out;              /* the batch in flight, kept until it is acknowledged */
    gl_buf_t in;               /* the HTTP answer's head so far */
    int busy;                  /* a batch is in flight (or waits for its retry) */
    int conn_open;             /* conn initialized and not closed */
    int connected;             /* TCP destination: the kept connection is up */
    int ok;                    /* the closing connection delivered its batch */
    int flush_now;             /* the environment is stopping: no more waiting */
    unsigned backoff_ms;
    int handles;               /* open handles; the last close frees the subscriber */
};

struct gl_tel {
    gl_env_t *env;             /* NULL once the environment is gone */
    uv_loop_t *loop;
    tel_sub_t *subs;
    json_t *history;           /* [{"k": kind, "type", "record" | "line", "time"}] or NULL */
    int json_format;           /* LogFormat JSON: function lines that are objects stay objects */
    pid_t netns_pid;           /* --isolate-network: connect inside this process's namespace */
    int peer_check;            /* the listener must be the environment's own (its uid) */
    uid_t uid;
    unsigned refused;          /* listeners of another uid met (said once) */
    char done_rid[40];         /* the invoke whose runtimeDone went out at its response */
    unsigned subs_alive;
};

static void send_batch(tel_sub_t *sub);
static void on_timer(uv_timer_t *t);

static void now_iso(char *out, size_t len) { gl_fmt_iso8601(gl_now_ms(), out, len); }

static gl_tel_t *tel_get(gl_env_t *env)
{
    if (env->tel)
        return env->tel;
    gl_tel_t *tel = calloc(1, sizeof(*tel));
    if (!tel)
        return NULL;
    tel->env = env;
    tel->loop = env->sched->loop;
    tel->history = json_array();
    tel->json_format = gl_env_log_json(env);
    if (gl_sbx_isolates_network(env->sched->opts.sbx))
        tel->netns_pid = env->pid;
    else
        tel->peer_check = env->sched->rapi_peer_check;
    tel->uid = env->user.uid;
    env->tel = tel;
    return tel;
}

/* ---- the queue ---- */

static void drop_oldest(tel_sub_t *sub)
{
    tel_item_t *it = sub->head;
    sub->head = it->next;
    if (!sub->head)
        sub->tail = NULL;
    sub->items--;
    sub->bytes -= it->len;
    sub->dropped_records++;
    sub->dropped_bytes += it->len;
    free(it);
}

static void enqueue(tel_sub_t *sub, json_t *ev)
{
    char *text = ev ? json_dumps(ev, JSON_COMPACT) : NULL;
    size_t len = text ? strlen(text) : 0;
    tel_item_t *it = text ? malloc(sizeof(*it) + len + 1) : NULL;
    if (it) {
        while (gl_tel_must_drop(&sub->cfg.buf, sub->items, sub->bytes, len))
            drop_oldest(sub);
        it->next = NULL;
        it->len = len;
        memcpy(it->text, text, len + 1);
        if (sub->tail)
            sub->tail->next = it;
        else
            sub->head = it;
        sub->tail = it;
        sub->items++;
        sub->bytes += len;
    }
    free(text);
    if (sub->busy)
        return; /* the batch in flight's end sends this one */
    if (gl_tel_batch_due(&sub->cfg.buf, sub->items, sub->bytes) || sub->flush_now)
        send_batch(sub);
    else if (sub->items && !uv_is_active((uv_handle_t *)&sub->timer))
        uv_timer_start(&sub->timer, on_timer, sub->cfg.buf.timeout_ms, 0);
}

/* The events of a platform record or a log line (kind), for one subscriber. */
static void offer(tel_sub_t *sub, const char *kind, const char *type, const json_t *record,
                  const char *line, size_t len, const char *time)
{
    if (!strcmp(kind, "platform")) {
        if (!(sub->cfg.types & GL_TEL_PLATFORM))
            return;
        json_t *events = json_array();
        size_t i;
        json_t *ev;
        gl_tel_platform_events(sub->cfg.schema, type, record, time, events);
        json_array_foreach(events, i, ev) enqueue(sub, ev);
        json_decref(events);
        return;
    }
    unsigned bit = !strcmp(kind, "function") ? GL_TEL_FUNCTION : GL_TEL_EXTENSION;
    if (!(sub->cfg.types & bit))
        return;
    json_t *ev = gl_tel_line_event(sub->cfg.schema, sub->tel->json_format, kind, line, len, time);
    enqueue(sub, ev);
    json_decref(ev);
}

/* Keep an event of the init phase for subscribers still to come. */
static void remember(gl_tel_t *tel, const char *kind, const char *type, const json_t *record,
                     const char *line, size_t len, const char *time)
{
    if (!tel->history || json_array_size(tel->history) >= HISTORY_MAX)
        return;
    json_t *h = json_pack("{s:s,s:s,s:s}", "k", kind, "type", type, "time", time);
    if (record)
        json_object_set(h, "record", (json_t *)record);
    else
        json_object_set_new(h, "line", json_stringn(line, len));
    json_array_append_new(tel->history, h);
}

int gl_env_tel_active(const gl_env_t *env)
{
    return env->tel || !(env->initialized || env->torn_down);
}

static void publish(gl_env_t *env, const char *kind, const char *type, const json_t *record,
                    const char *line, size_t len)
{
    gl_tel_t *tel = env->tel;
    char time[40];
    if (!gl_env_tel_active(env) || (!tel && !(tel = tel_get(env))))
        return; /* nobody subscribed during init: nobody ever will (or it is over) */
    now_iso(time, sizeof(time));
    remember(tel, kind, type, record, line, len, time);
    for (tel_sub_t *s = tel->subs; s; s = s->next)
        offer(s, kind, type, record, line, len, time);
}

/* A span {"name","start","durationMs"}: start is the wall time ms_ago milliseconds back. */
static json_t *span(const char *name, double ms_ago, double duration_ms)
{
    char start[40];
    gl_fmt_iso8601(gl_now_ms() - (int64_t)ms_ago, start, sizeof(start));
    return json_pack("{s:s,s:s,s:f}", "name", name, "start", start, "durationMs",
                     (double)(long long)(duration_ms * 100.0) / 100.0);
}

/* platform.runtimeDone's metrics and spans, from the invoke it ends (galley's log record has
 * only the status). responseLatency runs from the event's delivery to the head of the
 * runtime's /response, responseDuration from there to its last byte (both in one span when
 * no head was seen: an error or a crash). record is kept; new reference. */
static json_t *runtime_done(const gl_invoke_t *inv, const json_t *record)
{
    json_t *r = json_deep_copy(record);
    uint64_t now = gl_mono_ns();
    uint64_t head = inv->response_begun_ns ? inv->response_begun_ns : now;
    double ms = (double)(now - inv->started_ns) / 1e6;
    double latency = (double)(head - inv->started_ns) / 1e6, sending = (double)(now - head) / 1e6;
    json_object_set_new(r, "metrics", json_pack("{s:f,s:I}", "durationMs",
                                                (double)(long long)(ms * 100.0) / 100.0,
                                                "producedBytes", (json_int_t)inv->result.len));
    json_object_set_new(r, "spans", json_pack("[o,o]", span("responseLatency", ms, latency),
                                              span("responseDuration", sending, sending)));
    return r;
}

void gl_env_tel_runtime_done(gl_env_t *env)
{
    gl_invoke_t *inv = env->invoke;
    if (!inv || !inv->started_ns || (!env->tel && env->initialized))
        return;
    json_t *rec = json_pack("{s:s}", "requestId", inv->request_id);
    json_t *r = rec ? runtime_done(inv, gl_env_status_record(rec, "")) : NULL;
    if (r)
        publish(env, "platform", "platform.runtimeDone", r, NULL, 0);
    if (env->tel)
        snprintf(env->tel->done_rid, sizeof(env->tel->done_rid), "%s", inv->request_id);
    json_decref(r);
    json_decref(rec);
}

void gl_env_tel_platform(gl_env_t *env, const char *type, const json_t *record)
{
    if (!record)
        return;
    if (!strcmp(type, "platform.runtimeDone")) {
        const char *rid = json_string_value(json_object_get(record, "requestId"));
        gl_invoke_t *inv = env->invoke;
        if (rid && env->tel && !strcmp(rid, env->tel->done_rid))
            return; /* sent when the runtime answered (gl_env_tel_runtime_done) */
        if (rid && inv && inv->started_ns && !strcmp(rid, inv->request_id)) {
            json_t *r = runtime_done(inv, record);
            publish(env, "platform", type, r, NULL, 0);
            json_decref(r);
            return;
        }
    }
    publish(env, "platform", type, record, NULL, 0);
}

void gl_env_tel_line(gl_env_t *env, const char *type, const char *line, size_t len)
{
    publish(env, type, type, NULL, line, len);
}

void gl_env_tel_init_done(gl_env_t *env, const char *status_text, int report)
{
    const char *type = env->provisioned ? "provisioned-concurrency" : "on-demand";
    double ms = (double)(gl_mono_ns() - env->spawned_ns) / 1e6;
    json_t *done = json_pack("{s:s,s:s}", "initializationType", type, "phase", "init");
    gl_env_tel_platform(env, "platform.initRuntimeDone", gl_env_status_record(done, status_text));
    json_decref(done);
    if (report) {
        json_t *rec = json_pack("{s:s,s:s,s:{s:f}}", "initializationType", type, "phase", "init",
                                "metrics", "durationMs", (double)(long long)(ms * 100.0) / 100.0);
        gl_env_tel_platform(env, "platform.initReport", gl_env_status_record(rec, status_text));
        json_decref(rec);
    }
    gl_tel_t *tel = env->tel;
    if (!tel)
        return;
    json_decref(tel->history); /* subscriptions are closed now: the history has served */
    tel->history = NULL;
    if (!tel->subs) { /* nobody subscribed: the environment's lines cost nothing more */
        env->tel = NULL;
        free(tel);
    }
}

/* ---- delivery ---- */

static void on_conn_closed(uv_handle_t *h);

static void close_conn(tel_sub_t *sub)
{
    if (!sub->conn_open)
        return;
    sub->conn_open = 0;
    sub->connected = 0;
    uv_close((uv_handle_t *)&sub->conn, on_conn_closed);
}

/* The batch is done (ok) or failed: next batch, or the same one after a backoff. */
static void batch_end(tel_sub_t *sub, int ok)
{
    if (!sub->tel->env)
        return; /* closing: nothing more goes out */
    if (!ok) {
        sub->backoff_ms = sub->backoff_ms ? sub->backoff_ms * 2 : RETRY_FIRST_MS;
        if (sub->backoff_ms > RETRY_MAX_MS)
            sub->backoff_ms = RETRY_MAX_MS;
        uv_timer_start(&sub->timer, on_timer, sub->backoff_ms, 0);
        return; /* busy stays set: the timer sends sub->out again */
    }
    sub->backoff_ms = 0;
    sub->busy = 0;
    gl_buf_reset(&sub->out);
    if (gl_tel_batch_due(&sub->cfg.buf, sub->items, sub->bytes) || (sub->flush_now && sub->items))
        send_batch(sub);
    else if (sub->items && !uv_is_active((uv_handle_t *)&sub->timer))
        uv_timer_start(&sub->timer, on_timer, sub->cfg.buf.timeout_ms, 0);
}

static void on_write(uv_write_t *w, int status)
{
    tel_sub_t *sub = w->data;
    if (!sub->cfg.tcp) {
        if (status < 0)
            close_conn(sub); /* HTTP: the answer (or its absence) ends the batch */
        return;
    }
    if (status < 0)
        close_conn(sub);
    else
        batch_end(sub, 1); /* TCP: in the subscriber's socket is all Lambda promises */
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static char slab[4096];
    (void)h;
    (void)suggested;
    *buf = uv_buf_init(slab, sizeof(slab));
}

/* HTTP: the batch is acknowledged by a 2xx status line; the rest is not waited for. */
static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
    tel_sub_t *sub = s->data;
    if (n < 0) {
        close_conn(sub);
        return;
    }
    if (sub->cfg.tcp || n == 0)
        return; /* what a TCP subscriber writes back is ignored */
    gl_buf_append(&sub->in, buf->base, (size_t)n);
    if (!memmem(sub->in.data, sub->in.len, "\r\n\r\n", 4) && sub->in.len < RESPONSE_HEAD_MAX)
        return;
    int code = 0;
    sscanf(sub->in.data, "HTTP/%*d.%*d %d", &code);
    sub->ok = code >= 200 && code < 300;
    if (!sub->ok)
        gl_log_debug("telemetry: %s answered %d to a batch: sent again", sub->name, code);
    close_conn(sub);
}

static void write_out(tel_sub_t *sub, const char *data, size_t len)
{
    uv_buf_t b = uv_buf_init((char *)data, (unsigned)len);
    sub->writing.data = sub;
    if (uv_write(&sub->writing, (uv_stream_t *)&sub->conn, &b, 1, on_write) < 0)
        close_conn(sub);
}

/* On the host's shared loopback any process may listen on the subscriber's port: the batch
 * goes only to a listener of the environment's own uid (the Runtime API's peer check, the
 * other way round). */
static int peer_is_env(tel_sub_t *sub)
{
    gl_tel_t *tel = sub->tel;
    uv_os_fd_t fd;
    uid_t uid = (uid_t)-1;
    if (!tel->peer_check || uv_fileno((uv_handle_t *)&sub->conn, &fd) != 0)
        return 1;
    if (gl_http_peer_uid(fd, &uid) == 0 && uid == tel->uid)
        return 1;
    if (tel->refused++ == 0)
        gl_log_warn("telemetry: %s: port %d is not the environment's (uid %u): no batch goes "
                    "there", sub->name, sub->cfg.port, (unsigned)uid);
    return 0;
}

static void on_connect(uv_connect_t *c, int status)
{
    tel_sub_t *sub = c->data;
    if (status < 0 || !sub->conn_open || !peer_is_env(sub)) {
        close_conn(sub);
        return;
    }
    sub->connected = 1;
    uv_read_start((uv_stream_t *)&sub->conn, on_alloc, on_read);
    write_out(sub, sub->out.data, sub->out.len);
}

/* A TCP socket in the environment's network: its own namespace with --isolate-network. */
static int open_conn(tel_sub_t *sub)
{
    gl_tel_t *tel = sub->tel;
    int rc = uv_tcp_init(tel->loop, &sub->conn);
    if (rc < 0)
        return rc;
    sub->conn.data = sub;
    sub->conn_open = 1;
    sub->handles++;
    if (tel->netns_pid > 0) {
        int fd = gl_sbx_netns_socket(tel->netns_pid);
        if (fd < 0 || (rc = uv_tcp_open(&sub->conn, fd)) < 0) {
            if (fd >= 0)
                close(fd);
            close_conn(sub);
            return fd < 0 ? fd : rc;
        }
    }
    struct sockaddr_in sa;
    uv_ip4_addr("127.0.0.1", sub->cfg.port, &sa);
    sub->connecting.data = sub;
    if ((rc = uv_tcp_connect(&sub->connecting, &sub->conn, (const struct sockaddr *)&sa,
                             on_connect)) < 0)
        close_conn(sub);
    return rc;
}

/* Put every waiting event (after a platform.logsDropped for what was lost) in sub->out. */
static void take_batch(tel_sub_t *sub)
{
    gl_buf_t body = {0};
    int first = 1;
    if (sub->dropped_records) {
        char time[40];
        json_t *rec = json_pack("{s:s,s:I,s:I}", "reason",
                                "Consumer seems to have fallen behind as it has not acknowledged "
                                "receipt of logs.",
                                "droppedRecords", (json_int_t)sub->dropped_records, "droppedBytes",
                                (json_int_t)sub->dropped_bytes);
        json_t *evs = json_array();
        now_iso(time, sizeof(time));
        gl_tel_platform_events(sub->cfg.schema, "platform.logsDropped", rec, time, evs);
        char *text = json_array_size(evs) ? json_dumps(json_array_get(evs, 0), JSON_COMPACT) : NULL;
        if (text && (sub->cfg.types & GL_TEL_PLATFORM)) {
            gl_buf_append_str(&body, text);
            first = 0;
        }
        free(text);
        json_decref(evs);
        json_decref(rec);
        sub->dropped_records = sub->dropped_bytes = 0;
    }
    while (sub->head) {
        tel_item_t *it = sub->head;
        sub->head = it->next;
        if (!sub->cfg.tcp && !first)
            gl_buf_append(&body, ",", 1);
        gl_buf_append(&body, it->text, it->len);
        if (sub->cfg.tcp)
            gl_buf_append(&body, "\n", 1);
        first = 0;
        free(it);
    }
    if (sub->cfg.tcp && body.len && body.data[body.len - 1] != '\n')
        gl_buf_append(&body, "\n", 1); /* the logsDropped line alone */
    sub->tail = NULL;
    sub->items = sub->bytes = 0;
    gl_buf_reset(&sub->out);
    if (!sub->cfg.tcp)
        gl_buf_printf(&sub->out,
                      "POST %s HTTP/1.1\r\nHost: sandbox.localdomain:%d\r\nContent-Type: "
                      "application/json\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n[",
                      sub->cfg.path, sub->cfg.port, body.len + 2);
    gl_buf_append(&sub->out, body.data ? body.data : "", body.len);
    if (!sub->cfg.tcp)
        gl_buf_append(&sub->out, "]", 1);
    gl_buf_free(&body);
}

/* Send sub->out: on the kept TCP connection, else on a new one. */
static void transmit(tel_sub_t *sub)
{
    sub->ok = 0;
    gl_buf_reset(&sub->in);
    if (sub->cfg.tcp && sub->connected) {
        write_out(sub, sub->out.data, sub->out.len);
        return;
    }
    if (sub->conn_open)
        return; /* a connection still closing: its close callback sends */
    int rc = open_conn(sub);
    if (rc < 0 && !sub->conn_open) {
        gl_log_debug("telemetry: %s: cannot connect: %s", sub->name, uv_strerror(rc));
        batch_end(sub, 0);
    }
}

static void send_batch(tel_sub_t *sub)
{
    if (sub->busy || (!sub->items && !sub->dropped_records))
        return;
    uv_timer_stop(&sub->timer);
    sub->busy = 1;
    take_batch(sub);
    transmit(sub);
}

static void on_timer(uv_timer_t *t)
{
    tel_sub_t *sub = t->data;
    if (sub->busy)
        transmit(sub); /* a retry of the batch in flight */
    else
        send_batch(sub);
}

/* ---- lifetime ---- */

static void sub_free(tel_sub_t *sub)
{
    gl_tel_t *tel = sub->tel;
    while (sub->head)
        drop_oldest(sub);
    gl_buf_free(&sub->out);
    gl_buf_free(&sub->in);
    free(sub);
    if (--tel->subs_alive == 0 && !tel->env) {
        json_decref(tel->history);
        free(tel);
    }
}

static void on_conn_closed(uv_handle_t *h)
{
    tel_sub_t *sub = h->data;
    sub->handles--;
    if (!sub->tel->env) {
        if (sub->handles == 0)
            sub_free(sub);
        return;
    }
    if (!sub->cfg.tcp || sub->busy) {
        if (!sub->cfg.tcp)
            batch_end(sub, sub->ok);
        else
            batch_end(sub, 0); /* the kept connection broke with a batch in flight */
    }
}

static void on_timer_closed(uv_handle_t *h)
{
    tel_sub_t *sub = h->data;
    if (--sub->handles == 0)
        sub_free(sub);
}

void gl_env_tel_flush(gl_env_t *env)
{
    if (!env->tel)
        return;
    for (tel_sub_t *s = env->tel->subs; s; s = s->next) {
        s->flush_now = 1;
        send_batch(s);
    }
}

void gl_env_tel_close(gl_env_t *env)
{
    gl_tel_t *tel = env->tel;
    if (!tel)
        return;
    env->tel = NULL;
    tel->env = NULL;
    tel_sub_t *s = tel->subs;
    tel->subs = NULL;
    while (s) {
        tel_sub_t *next = s->next;
        if (s->items || s->busy)
            gl_log_debug("telemetry: %s: %zu events not delivered: the environment is gone",
                         s->name, s->items + (size_t)s->busy);
        close_conn(s);
        uv_close((uv_handle_t *)&s->timer, on_timer_closed);
        s = next;
    }
    if (tel->subs_alive == 0) {
        json_decref(tel->history);
        free(tel);
    }
}

/* ---- subscribers (the request itself is telemetry_sub.c's) ---- */

static tel_sub_t *sub_new(gl_tel_t *tel, const char *name, const gl_tel_sub_cfg_t *cfg)
{
    tel_sub_t *sub = calloc(1, sizeof(*sub));
    if (!sub)
        return NULL;
    sub->tel = tel;
    snprintf(sub->name, sizeof(sub->name), "%s", name);
    sub->cfg = *cfg;
    uv_timer_init(tel->loop, &sub->timer);
    sub->timer.data = sub;
    sub->handles = 1;
    tel->subs_alive++;
    tel_sub_t **tail = &tel->subs;
    while (*tail)
        tail = &(*tail)->next;
    *tail = sub;
    return sub;
}

/* What happened before the subscription, in this subscriber's schema. */
static void replay(tel_sub_t *sub, const json_t *history)
{
    size_t i;
    const json_t *h;
    json_array_foreach(history, i, h) {
        const char *line = json_string_value(json_object_get(h, "line"));
        offer(sub, json_string_value(json_object_get(h, "k")),
              json_string_value(json_object_get(h, "type")), json_object_get(h, "record"), line,
              line ? json_string_length(json_object_get(h, "line")) : 0,
              json_string_value(json_object_get(h, "time")));
    }
}

int gl_tel_subscribed(const gl_env_t *env, const char *name, gl_tel_api_t *api)
{
    for (const tel_sub_t *s = env->tel ? env->tel->subs : NULL; s; s = s->next)
        if (!strcmp(s->name, name)) {
            *api = s->cfg.api;
            return 1;
        }
    return 0;
}

int gl_tel_add(gl_env_t *env, const char *name, const gl_tel_sub_cfg_t *cfg)
{
    gl_tel_t *tel = tel_get(env);
    tel_sub_t *sub = tel ? sub_new(tel, name, cfg) : NULL;
    if (!sub)
        return -ENOMEM;
    gl_log_debug("env=%.8s: %s subscribed (%s, %s port %d)", env->id, name,
                 gl_tel_schema_name(cfg->schema), cfg->tcp ? "TCP" : "HTTP", cfg->port);
    replay(sub, tel->history);
    return 0;
}
