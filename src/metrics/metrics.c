/* SPDX-License-Identifier: MIT */
/*
 * metrics.c: the metrics registry: one series per (function, version) in a chained hash
 * table for recording, and the same series in an array kept sorted by (function, version)
 * for rendering, so a scrape is one pass per metric family with no sorting or allocation
 * beyond the output buffer. Series are never removed (Prometheus counters must not go
 * backwards while the daemon runs); their number is capped at GL_METRICS_MAX_SERIES.
 *
 * Histogram buckets are stored per bucket and made cumulative while rendering.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "galley/metrics.h"

/* Prometheus' default buckets, extended to Lambda's 15 minute limit. */
static const double bucket_le[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                   2.5,   5,    10,    30,   60,  300,  900};
static const char *const bucket_text[] = {"0.005", "0.01", "0.025", "0.05", "0.1",
                                          "0.25",  "0.5",  "1",     "2.5",  "5",
                                          "10",    "30",   "60",    "300",  "900"};
#define NBUCKETS (sizeof(bucket_le) / sizeof(bucket_le[0]))

static const char *const state_names[] = {
#define XX(name, text) text,
    GL_ENV_STATE_MAP(XX)
#undef XX
};
#define NSTATES (sizeof(state_names) / sizeof(state_names[0]))

typedef struct histogram {
    uint64_t buckets[NBUCKETS + 1]; /* last one: above every bound (+Inf only) */
    uint64_t count;
    double sum;                     /* seconds */
} histogram_t;

typedef struct series {
    char *function;
    char *version;
    uint32_t hash;
    uint64_t invocations, errors, throttles, timeouts, cold_starts;
    histogram_t duration, init_duration;
    /* gauges of the current scrape */
    unsigned envs[NSTATES];
    unsigned busy;
    struct series *chain;
} series_t;

struct gl_metrics {
    series_t **table;     /* hash buckets, a power of two */
    size_t table_size;
    series_t **sorted;    /* by (function, version) */
    size_t nseries, sorted_cap;
    uint64_t dropped;     /* records refused because of the series cap */
};

static gl_metrics_t *default_registry;

static uint32_t hash_key(const char *function, const char *version)
{
    uint32_t h = 2166136261u; /* FNV-1a over "function\0version" */
    for (const unsigned char *p = (const unsigned char *)function; *p; p++)
        h = (h ^ *p) * 16777619u;
    h = (h ^ 0) * 16777619u;
    for (const unsigned char *p = (const unsigned char *)version; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h;
}

static int compare_key(const char *fa, const char *va, const char *fb, const char *vb)
{
    int c = strcmp(fa, fb);
    return c ? c : strcmp(va, vb);
}

gl_metrics_t *gl_metrics_new(void)
{
    gl_metrics_t *m = calloc(1, sizeof(*m));
    if (!m)
        return NULL;
    m->table_size = 64;
    m->table = calloc(m->table_size, sizeof(*m->table));
    if (!m->table) {
        free(m);
        return NULL;
    }
    return m;
}

void gl_metrics_free(gl_metrics_t *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nseries; i++) {
        free(m->sorted[i]->function);
        free(m->sorted[i]->version);
        free(m->sorted[i]);
    }
    free(m->sorted);
    free(m->table);
    free(m);
}

gl_metrics_t *gl_metrics_default(void)
{
    if (!default_registry)
        default_registry = gl_metrics_new();
    return default_registry;
}

void gl_metrics_default_free(void)
{
    gl_metrics_free(default_registry);
    default_registry = NULL;
}

static int grow_table(gl_metrics_t *m)
{
    size_t size = m->table_size * 2;
    series_t **table = calloc(size, sizeof(*table));
    if (!table)
        return -ENOMEM;
    for (size_t i = 0; i < m->nseries; i++) {
        series_t *s = m->sorted[i];
        s->chain = table[s->hash & (size - 1)];
        table[s->hash & (size - 1)] = s;
    }
    free(m->table);
    m->table = table;
    m->table_size = size;
    return 0;
}

/* The series of (function, version), created on first use; NULL when out of memory or over
 * the cap. */
static series_t *series_get(gl_metrics_t *m, const char *function, const char *version)
{
    if (!m)
        return NULL;
    if (!function)
        function = "";
    if (!version)
        version = "";
    uint32_t h = hash_key(function, version);
    for (series_t *s = m->table[h & (m->table_size - 1)]; s; s = s->chain)
        if (s->hash == h && !strcmp(s->function, function) && !strcmp(s->version, version))
            return s;
    if (m->nseries >= GL_METRICS_MAX_SERIES) {
        m->dropped++;
        return NULL;
    }
    if (m->nseries + 1 > m->table_size * 3 / 4 && grow_table(m) < 0)
        return NULL;
    if (m->nseries == m->sorted_cap) {
        size_t cap = m->sorted_cap ? m->sorted_cap * 2 : 16;
        series_t **sorted = realloc(m->sorted, cap * sizeof(*sorted));
        if (!sorted)
            return NULL;
        m->sorted = sorted;
        m->sorted_cap = cap;
    }
    series_t *s = calloc(1, sizeof(*s));
    if (!s || !(s->function = strdup(function)) || !(s->version = strdup(version))) {
        if (s)
            free(s->function);
        free(s);
        return NULL;
    }
    s->hash = h;
    s->chain = m->table[h & (m->table_size - 1)];
    m->table[h & (m->table_size - 1)] = s;
    /* New series are rare (a function's first invoke): keep the render order here. */
    size_t lo = 0, hi = m->nseries;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (compare_key(m->sorted[mid]->function, m->sorted[mid]->version, function, version) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    memmove(&m->sorted[lo + 1], &m->sorted[lo], (m->nseries - lo) * sizeof(*m->sorted));
    m->sorted[lo] = s;
    m->nseries++;
    return s;
}

static void observe(histogram_t *h, double seconds)
{
    if (!(seconds >= 0)) /* negative or NaN: a clock oddity, count it as zero */
        seconds = 0;
    size_t i = 0;
    while (i < NBUCKETS && seconds > bucket_le[i])
        i++;
    h->buckets[i]++;
    h->count++;
    h->sum += seconds;
}

void gl_metrics_record_invoke(gl_metrics_t *m, const gl_metrics_invoke_t *inv)
{
    series_t *s = series_get(m, inv->function, inv->version);
    if (!s)
        return;
    s->invocations++;
    if (inv->function_error)
        s->errors++;
    if (inv->timeout)
        s->timeouts++;
    observe(&s->duration, inv->duration_ms / 1000.0);
    if (inv->cold) {
        s->cold_starts++;
        observe(&s->init_duration, inv->init_duration_ms / 1000.0);
    }
}

void gl_metrics_record_throttle(gl_metrics_t *m, const char *function, const char *version)
{
    series_t *s = series_get(m, function, version);
    if (s)
        s->throttles++;
}

void gl_metrics_envs_clear(gl_metrics_t *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nseries; i++) {
        memset(m->sorted[i]->envs, 0, sizeof(m->sorted[i]->envs));
        m->sorted[i]->busy = 0;
    }
}

void gl_metrics_env_seen(gl_metrics_t *m, const char *function, const char *version,
                         gl_env_state_t state, int busy)
{
    series_t *s = series_get(m, function, version);
    if (!s)
        return;
    if ((size_t)state < NSTATES)
        s->envs[state]++;
    if (busy)
        s->busy++;
}

int gl_metrics_append_label_value(gl_buf_t *out, const char *value)
{
    if (gl_buf_append(out, "\"", 1) < 0)
        return -ENOMEM;
    const char *p = value ? value : "";
    while (*p) {
        size_t run = strcspn(p, "\\\"\n");
        if (run && gl_buf_append(out, p, run) < 0)
            return -ENOMEM;
        p += run;
        if (!*p)
            break;
        const char *esc = *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" : "\\n";
        if (gl_buf_append(out, esc, 2) < 0)
            return -ENOMEM;
        p++;
    }
    return gl_buf_append(out, "\"", 1) < 0 ? -ENOMEM : 0;
}

/* The output of one render: appends stop at the first allocation failure, which is kept. */
typedef struct render {
    gl_buf_t *out;
    int failed;
} render_t;

static void put(render_t *r, const char *s)
{
    if (!r->failed && gl_buf_append_str(r->out, s) < 0)
        r->failed = 1;
}

static void putf(render_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(render_t *r, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof(small)) {
        r->failed = 1; /* every caller formats short, fixed text */
        return;
    }
    put(r, small);
}

/* name{function="..",version=".."[,extra]} with no trailing space. */
static void series_name(render_t *r, const char *name, const char *suffix, const series_t *s,
                        const char *extra)
{
    put(r, name);
    put(r, suffix);
    put(r, "{function=");
    if (!r->failed && gl_metrics_append_label_value(r->out, s->function) < 0)
        r->failed = 1;
    put(r, ",version=");
    if (!r->failed && gl_metrics_append_label_value(r->out, s->version) < 0)
        r->failed = 1;
    if (extra) {
        put(r, ",");
        put(r, extra);
    }
    put(r, "}");
}

static void family(render_t *r, const char *name, const char *type, const char *help)
{
    put(r, "# HELP ");
    put(r, name);
    put(r, " ");
    put(r, help);
    put(r, "\n# TYPE ");
    put(r, name);
    put(r, " ");
    put(r, type);
    put(r, "\n");
}

static void counter_family(render_t *r, const gl_metrics_t *m, const char *name,
                           const char *help, size_t field_offset)
{
    family(r, name, "counter", help);
    for (size_t i = 0; i < m->nseries; i++) {
        const series_t *s = m->sorted[i];
        series_name(r, name, "", s, NULL);
        putf(r, " %llu\n",
             (unsigned long long)*(const uint64_t *)((const char *)s + field_offset));
    }
}

static void histogram_family(render_t *r, const gl_metrics_t *m, const char *name,
                             const char *help, size_t field_offset)
{
    char extra[32];
    family(r, name, "histogram", help);
    for (size_t i = 0; i < m->nseries; i++) {
        const series_t *s = m->sorted[i];
        const histogram_t *h = (const histogram_t *)((const char *)s + field_offset);
        uint64_t cumulative = 0;
        for (size_t b = 0; b < NBUCKETS; b++) {
            cumulative += h->buckets[b];
            snprintf(extra, sizeof(extra), "le=\"%s\"", bucket_text[b]);
            series_name(r, name, "_bucket", s, extra);
            putf(r, " %llu\n", (unsigned long long)cumulative);
        }
        series_name(r, name, "_bucket", s, "le=\"+Inf\"");
        putf(r, " %llu\n", (unsigned long long)h->count);
        series_name(r, name, "_sum", s, NULL);
        putf(r, " %.6f\n", h->sum);
        series_name(r, name, "_count", s, NULL);
        putf(r, " %llu\n", (unsigned long long)h->count);
    }
}

int gl_metrics_render(gl_metrics_t *m, const gl_metrics_globals_t *g, gl_buf_t *out)
{
    if (!m)
        return -EINVAL;
    render_t r = {.out = out};
    counter_family(&r, m, "galley_invocations_total",
                   "Invokes completed, successful or not (Lambda's Invocations).",
                   offsetof(series_t, invocations));
    counter_family(&r, m, "galley_errors_total",
                   "Invokes that ended in a function error, timeouts and crashes included "
                   "(Lambda's Errors).",
                   offsetof(series_t, errors));
    counter_family(&r, m, "galley_throttles_total",
                   "Invokes refused with 429 TooManyRequestsException (Lambda's Throttles).",
                   offsetof(series_t, throttles));
    counter_family(&r, m, "galley_timeouts_total",
                   "Invokes stopped at the function's timeout (Sandbox.Timedout).",
                   offsetof(series_t, timeouts));
    counter_family(&r, m, "galley_cold_starts_total",
                   "Invokes that started a new execution environment.",
                   offsetof(series_t, cold_starts));
    histogram_family(&r, m, "galley_duration_seconds",
                     "Invoke duration as REPORT gives it (Lambda's Duration).",
                     offsetof(series_t, duration));
    histogram_family(&r, m, "galley_init_duration_seconds",
                     "Init duration of cold starts as REPORT gives it.",
                     offsetof(series_t, init_duration));

    family(&r, "galley_concurrent_executions", "gauge",
           "Invokes held by an execution environment now (Lambda's ConcurrentExecutions).");
    for (size_t i = 0; i < m->nseries; i++) {
        series_name(&r, "galley_concurrent_executions", "", m->sorted[i], NULL);
        putf(&r, " %u\n", m->sorted[i]->busy);
    }
    family(&r, "galley_environments", "gauge", "Live execution environments by state.");
    for (size_t i = 0; i < m->nseries; i++) {
        for (size_t st = 0; st < NSTATES; st++) {
            char extra[48];
            snprintf(extra, sizeof(extra), "state=\"%s\"", state_names[st]);
            series_name(&r, "galley_environments", "", m->sorted[i], extra);
            putf(&r, " %u\n", m->sorted[i]->envs[st]);
        }
    }
    if (g) {
        family(&r, "galley_account_concurrent_executions", "gauge",
               "Invokes running now across every function.");
        putf(&r, "galley_account_concurrent_executions %u\n", g->running);
        family(&r, "galley_account_concurrency_limit", "gauge",
               "Most invokes that may run at once (--account-concurrency).");
        putf(&r, "galley_account_concurrency_limit %u\n", g->account_concurrency);
        if (g->have_async) {
            family(&r, "galley_async_queue_depth", "gauge",
                   "Asynchronous events accepted and not yet done.");
            putf(&r, "galley_async_queue_depth %zu\n", g->async_depth);
            family(&r, "galley_async_oldest_event_age_seconds", "gauge",
                   "Age of the oldest asynchronous event waiting to run, 0 when none.");
            putf(&r, "galley_async_oldest_event_age_seconds %.3f\n", g->async_oldest_age_s);
        }
        family(&r, "galley_log_lines_dropped_total", "counter",
               "Function log lines not written to their stream file (size cap, full disk, I/O "
               "error).");
        putf(&r, "galley_log_lines_dropped_total %llu\n", (unsigned long long)g->log_lines_dropped);
    }
    family(&r, "galley_metrics_series_dropped_total", "counter",
           "Records not kept because the number of (function, version) series reached its cap.");
    putf(&r, "galley_metrics_series_dropped_total %llu\n", (unsigned long long)m->dropped);
    return r.failed ? -ENOMEM : 0;
}
