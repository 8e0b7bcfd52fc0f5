/* SPDX-License-Identifier: MIT */
/*
 * cwlogs_events.c: GetLogEvents (one stream, paged forward and backward by byte position)
 * and FilterLogEvents (a group's streams interleaved by time, with a filter pattern). Events
 * are the stored lines (events.c): a line's stamp is both its timestamp and its ingestionTime,
 * and its message ends with "\n" as Lambda's lines do in CloudWatch. A page holds at most
 * `limit` events (1-10000, default 10000) and about 1 MB of messages.
 *
 * GetLogEvents' tokens are "f/<position>/s" and "b/<position>/s": the byte offset in the
 * stream where the next page forward starts, or before which the next page backward ends; a
 * page that finds nothing returns the token it was given, as the service does at a stream's
 * ends. FilterLogEvents' nextToken is opaque and holds the (timestamp, stream, position) of
 * the last event returned; the next page starts after it. eventId is a 56-digit number made
 * of the same three, so it is stable across calls (`aws logs tail --follow` relies on that).
 */
#define _GNU_SOURCE /* qsort_r */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "galley/util.h"
#include "internal.h"

#define EVENTS_MAX 10000
#define PAGE_BYTES (1024 * 1024)
#define TOKEN_DIGITS 56

/* The message as CloudWatch holds a Lambda line: the text and its newline. Bytes that are not
 * UTF-8 become '?' rather than failing the page. */
static json_t *message_json(const gl_logs_event_t *e)
{
    char *text = malloc(e->len + 1);
    if (!text)
        return json_string("");
    memcpy(text, e->msg, e->len);
    text[e->len] = '\n';
    json_t *s = json_stringn(text, e->len + 1);
    if (!s) {
        for (size_t i = 0; i < e->len; i++)
            if ((unsigned char)text[i] >= 0x80 || text[i] == '\0')
                text[i] = '?';
        s = json_stringn(text, e->len + 1);
    }
    free(text);
    return s;
}

/* The time window and limit every event operation reads; -1 after replying. */
static int window(gl_cwl_t *c, int64_t *start, int64_t *end, int64_t *limit)
{
    gl_violations_t v;
    gl_violations_init(&v, 10, 0);
    if (gl_cwl_range(c, &v, "startTime", 0, 0, 0, start) < 0 ||
        gl_cwl_range(c, &v, "endTime", 0, 0, INT64_MAX, end) < 0 ||
        gl_cwl_range(c, &v, "limit", 1, EVENTS_MAX, EVENTS_MAX, limit) < 0)
        return -1;
    return gl_cwl_report(c, &v);
}

/* "f/<56 digits>/s" or "b/...": direction ('f' or 'b') and position; -1 after replying. */
static int parse_position(gl_cwl_t *c, const char *token, char *dir, uint64_t *pos)
{
    size_t n = token ? strlen(token) : 0;
    int ok = n == TOKEN_DIGITS + 4 && (token[0] == 'f' || token[0] == 'b') && token[1] == '/' &&
             !strcmp(token + n - 2, "/s");
    uint64_t v = 0;
    for (size_t i = 2; ok && i < n - 2; i++) {
        ok = token[i] >= '0' && token[i] <= '9' && (i < n - 2 - 19 || v <= UINT64_MAX / 10);
        v = v * 10 + (uint64_t)(token[i] - '0');
    }
    if (!ok) {
        gl_cwl_error(c, GL_CWL_INVALID_PARAMETER, "The specified nextToken is invalid.");
        return -1;
    }
    *dir = token[0];
    *pos = v;
    return 0;
}

static void set_position(json_t *resp, const char *key, char dir, uint64_t pos)
{
    char tok[TOKEN_DIGITS + 8];
    snprintf(tok, sizeof(tok), "%c/%0*" PRIu64 "/s", dir, TOKEN_DIGITS, pos);
    json_object_set_new(resp, key, json_string(tok));
}

/* The events of f in [start, end) chosen by direction: forward, the first up to limit at or
 * after pos; backward, the last up to limit before pos. Sets [*lo, *hi). */
static void pick(const gl_logs_file_t *f, int64_t start, int64_t end, int64_t limit,
                 char dir, uint64_t pos, size_t *lo, size_t *hi)
{
    size_t taken = 0, bytes = 0;
    *lo = *hi = 0;
    if (dir == 'f') {
        size_t i = 0;
        while (i < f->n && f->ev[i].off < pos)
            i++;
        *lo = *hi = i;
        for (; i < f->n && taken < (size_t)limit && bytes < PAGE_BYTES; i++) {
            if (f->ev[i].ts < start || f->ev[i].ts >= end) {
                if (!taken)
                    *lo = i + 1;
                continue;
            }
            taken++;
            bytes += f->ev[i].len + 1;
            *hi = i + 1;
        }
        return;
    }
    size_t i = f->n;
    while (i > 0 && f->ev[i - 1].off >= pos)
        i--;
    *lo = *hi = i;
    for (; i > 0 && taken < (size_t)limit && bytes < PAGE_BYTES; i--) {
        const gl_logs_event_t *e = &f->ev[i - 1];
        if (e->ts < start || e->ts >= end) {
            if (!taken)
                *hi = i - 1;
            continue;
        }
        taken++;
        bytes += e->len + 1;
        *lo = i - 1;
    }
}

/* GetLogEvents' answer for events [lo, hi) of f inside the window. */
static json_t *events_page(const gl_logs_file_t *f, size_t lo, size_t hi, int64_t start,
                           int64_t end, char dir, uint64_t pos)
{
    json_t *resp = json_object(), *events = json_array();
    uint64_t first = 0, last = 0;
    int any = 0;
    for (size_t i = lo; i < hi; i++) {
        const gl_logs_event_t *e = &f->ev[i];
        if (e->ts < start || e->ts >= end)
            continue;
        if (!any)
            first = e->off;
        any = 1;
        last = e->end;
        json_array_append_new(events, json_pack("{s:I, s:o, s:I}", "timestamp",
                                                (json_int_t)e->ts, "message", message_json(e),
                                                "ingestionTime", (json_int_t)e->ts));
    }
    json_object_set_new(resp, "events", events);
    set_position(resp, "nextForwardToken", 'f', any ? last : pos);
    set_position(resp, "nextBackwardToken", 'b', any ? first : pos);
    return resp;
}

void gl_cwl_get_log_events(gl_cwl_t *c)
{
    const char *stream, *token;
    int64_t start, end, limit;
    int from_head;
    char group[1024], *gdir = NULL, *path = NULL, dir = 0;
    uint64_t pos = 0;
    if (gl_cwl_str(c, "logStreamName", &stream) < 0 || gl_cwl_str(c, "nextToken", &token) < 0 ||
        gl_cwl_bool(c, "startFromHead", &from_head) < 0 || window(c, &start, &end, &limit) < 0)
        return;
    if (!stream) {
        gl_cwl_error(c, GL_CWL_INVALID_PARAMETER, "1 validation error detected: Value null at "
                     "'logStreamName' failed to satisfy constraint: Member must not be null");
        return;
    }
    if ((token && parse_position(c, token, &dir, &pos) < 0) ||
        gl_cwl_group(c, &gdir, group, sizeof(group)) < 0)
        return;
    int rc = gl_logs_stream_path(gdir, stream, &path);
    free(gdir);
    if (rc < 0) {
        gl_cwl_error(c, GL_CWL_NOT_FOUND, "The specified log stream does not exist.");
        return;
    }
    gl_logs_file_t f;
    rc = gl_logs_file_read(&f, path);
    free(path);
    if (rc < 0) {
        gl_cwl_error(c, GL_CWL_UNAVAILABLE, "reading the log stream: %s", strerror(-rc));
        return;
    }
    if (!token) { /* the head or the tail of the stream */
        dir = from_head ? 'f' : 'b';
        pos = from_head ? 0 : f.size;
    }
    size_t lo, hi;
    pick(&f, start, end, limit, dir, pos, &lo, &hi);
    gl_cwl_reply(c, events_page(&f, lo, hi, start, end, dir, pos));
    gl_logs_file_free(&f);
}

/* One matching event of FilterLogEvents: its stream (index into the sorted list) and line. */
typedef struct hit {
    size_t stream;
    const gl_logs_event_t *ev;
} hit_t;

typedef struct filter_run {
    gl_logs_list_t streams;    /* the group's streams, by name */
    gl_logs_file_t *files;     /* one per stream, read when searched */
    hit_t *hits;
    size_t nhits, cap;
    int64_t start, end, limit;
    gl_logs_filter_t filter;
    /* the token's last event: the page starts after it */
    int has_after;
    int64_t after_ts;
    uint64_t after_off;
    char after_stream[1024];
} filter_run_t;

static int cmp_key(const filter_run_t *r, size_t stream, const gl_logs_event_t *e,
                   int64_t ts, const char *name, uint64_t off)
{
    if (e->ts != ts)
        return e->ts < ts ? -1 : 1;
    int c = strcmp(r->streams.v[stream].name, name);
    if (c)
        return c;
    return e->off < off ? -1 : e->off > off;
}

static int by_key(const void *a, const void *b, void *run)
{
    const filter_run_t *r = run;
    const hit_t *x = a, *y = b;
    return cmp_key(r, x->stream, x->ev, y->ev->ts, r->streams.v[y->stream].name, y->ev->off);
}

/* Search stream i: every event in the window, matching the pattern, after the token. */
static int search_stream(filter_run_t *r, size_t i)
{
    const gl_logs_entry_t *s = &r->streams.v[i];
    if (s->last < r->start || s->first > r->end)
        return 0; /* nothing inside the window: not even read */
    int rc = gl_logs_file_read(&r->files[i], s->path);
    if (rc == -ENOENT)
        return 0; /* removed meanwhile */
    if (rc < 0)
        return rc;
    const gl_logs_file_t *f = &r->files[i];
    for (size_t k = 0; k < f->n; k++) {
        const gl_logs_event_t *e = &f->ev[k];
        if (e->ts < r->start || e->ts > r->end || !gl_logs_filter_match(&r->filter, e->msg, e->len))
            continue;
        if (r->has_after && cmp_key(r, i, e, r->after_ts, r->after_stream, r->after_off) <= 0)
            continue;
        hit_t *v = gl_grow(r->hits, &r->cap, r->nhits + 1, sizeof(*v));
        if (!v)
            return -ENOMEM;
        r->hits = v;
        r->hits[r->nhits++] = (hit_t){i, e};
    }
    return 0;
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

/* The page: up to limit events (and about a megabyte), and nextToken when more remain. */
static json_t *filter_page(filter_run_t *r)
{
    json_t *resp = json_object(), *events = json_array();
    size_t bytes = 0, k;
    for (k = 0; k < r->nhits && k < (size_t)r->limit && bytes < PAGE_BYTES; k++) {
        const hit_t *h = &r->hits[k];
        const char *name = r->streams.v[h->stream].name;
        char id[80];
        snprintf(id, sizeof(id), "%020" PRId64 "%020" PRIu64 "%016" PRIu64, h->ev->ts,
                 (uint64_t)(fnv1a(name) % 10000000000000000000ULL),
                 (uint64_t)(h->ev->off % 10000000000000000ULL));
        bytes += h->ev->len + 1;
        json_array_append_new(events, json_pack("{s:s, s:I, s:o, s:I, s:s}", "logStreamName",
                                                name, "timestamp", (json_int_t)h->ev->ts,
                                                "message", message_json(h->ev), "ingestionTime",
                                                (json_int_t)h->ev->ts, "eventId", id));
    }
    json_object_set_new(resp, "events", events);
    json_object_set_new(resp, "searchedLogStreams", json_array());
    if (k < r->nhits) {
        const hit_t *h = &r->hits[k - 1];
        char plain[1200];
        snprintf(plain, sizeof(plain), "%" PRId64 ":%" PRIu64 ":%s", h->ev->ts, h->ev->off,
                 r->streams.v[h->stream].name);
        gl_cwl_token_set(resp, "nextToken", plain);
    }
    return resp;
}

/* The token's last event into r (none without a token); -1 after replying. */
static int resume_after(gl_cwl_t *c, filter_run_t *r)
{
    char plain[1200];
    int present;
    if (gl_cwl_next_token(c, plain, sizeof(plain), &present) < 0)
        return -1;
    if (!present)
        return 0;
    int used = 0;
    if (sscanf(plain, "%" SCNd64 ":%" SCNu64 ":%n", &r->after_ts, &r->after_off, &used) != 2 ||
        !used || strlen(plain + used) >= sizeof(r->after_stream)) {
        gl_cwl_error(c, GL_CWL_INVALID_PARAMETER, "The specified nextToken is invalid.");
        return -1;
    }
    strcpy(r->after_stream, plain + used);
    r->has_after = 1;
    return 0;
}

/* 1 when stream name is selected by logStreamNames (names) or logStreamNamePrefix. */
static int selected(const char *name, json_t *names, const char *prefix)
{
    if (prefix)
        return !strncmp(name, prefix, strlen(prefix));
    if (!names)
        return 1;
    size_t i;
    json_t *v;
    json_array_foreach(names, i, v) if (!strcmp(json_string_value(v), name)) return 1;
    return 0;
}

/* logStreamNames and logStreamNamePrefix, checked; -1 after replying. */
static int stream_selection(gl_cwl_t *c, json_t **names, const char **prefix)
{
    *names = json_object_get(c->in, "logStreamNames");
    if (json_is_null(*names))
        *names = NULL;
    if (gl_cwl_str(c, "logStreamNamePrefix", prefix) < 0)
        return -1;
    size_t i;
    json_t *v;
    int ok = !*names || json_is_array(*names);
    if (ok)
        json_array_foreach(*names, i, v) ok &= json_is_string(v);
    if (!ok) {
        gl_cwl_error(c, GL_CWL_SERIALIZATION, "Value for 'logStreamNames' must be a list of "
                     "strings");
        return -1;
    }
    size_t n = *names ? json_array_size(*names) : 0;
    if (*names && (n < 1 || n > 100)) {
        gl_cwl_error(c, GL_CWL_INVALID_PARAMETER, "1 validation error detected: Value at "
                     "'logStreamNames' failed to satisfy constraint: Member must have length "
                     "%s", n < 1 ? "greater than or equal to 1" : "less than or equal to 100");
        return -1;
    }
    if (*names && *prefix) {
        gl_cwl_error(c, GL_CWL_INVALID_PARAMETER, "logStreamNames and logStreamNamePrefix are "
                     "mutually exclusive parameters.");
        return -1;
    }
    return 0;
}

/* Read the request into r, find the group and its streams; -1 after replying. */
static int filter_setup(gl_cwl_t *c, filter_run_t *r)
{
    json_t *names;
    const char *prefix, *pattern;
    char group[1024], *gdir = NULL, msg[256];
    if (gl_cwl_str(c, "filterPattern", &pattern) < 0 || stream_selection(c, &names, &prefix) < 0 ||
        window(c, &r->start, &r->end, &r->limit) < 0 || resume_after(c, r) < 0)
        return -1;
    if (pattern && strlen(pattern) > 1024) {
        gl_cwl_error(c, GL_CWL_INVALID_PARAMETER, "1 validation error detected: Value at "
                     "'filterPattern' failed to satisfy constraint: Member must have length "
                     "less than or equal to 1024");
        return -1;
    }
    if (gl_logs_filter_compile(&r->filter, pattern, msg, sizeof(msg)) < 0) {
        gl_cwl_error(c, GL_CWL_INVALID_PARAMETER, "%s", msg);
        return -1;
    }
    if (gl_cwl_group(c, &gdir, group, sizeof(group)) < 0)
        return -1;
    int rc = gl_logs_list_streams(gdir, &r->streams);
    free(gdir);
    size_t n = 0;
    for (size_t i = 0; rc == 0 && i < r->streams.n; i++) {
        gl_logs_entry_t *e = &r->streams.v[i];
        if (selected(e->name, names, prefix)) {
            r->streams.v[n++] = *e;
        } else {
            free(e->name);
            free(e->path);
        }
    }
    r->streams.n = n;
    if (rc == 0 && n && !(r->files = calloc(n, sizeof(*r->files))))
        rc = -ENOMEM;
    if (rc < 0) {
        gl_cwl_error(c, GL_CWL_UNAVAILABLE, "listing the log streams: %s", strerror(-rc));
        return -1;
    }
    return 0;
}

void gl_cwl_filter_log_events(gl_cwl_t *c)
{
    filter_run_t r = {0};
    if (filter_setup(c, &r) < 0)
        goto out;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < r.streams.n; i++)
        rc = search_stream(&r, i);
    if (rc < 0) {
        gl_cwl_error(c, GL_CWL_UNAVAILABLE, "reading the log streams: %s", strerror(-rc));
        goto out;
    }
    if (r.nhits)
        qsort_r(r.hits, r.nhits, sizeof(*r.hits), by_key, &r);
    gl_cwl_reply(c, filter_page(&r));
out:
    for (size_t i = 0; r.files && i < r.streams.n; i++)
        gl_logs_file_free(&r.files[i]);
    free(r.files);
    free(r.hits);
    gl_logs_list_free(&r.streams);
    gl_logs_filter_free(&r.filter);
}
