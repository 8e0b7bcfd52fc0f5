/* SPDX-License-Identifier: MIT */
/*
 * metrics.h: counters behind GET /metrics. One registry holds a series per (function,
 * version): invocations, function errors, throttles, timeouts, cold starts, and histograms of
 * duration and init duration. The scheduler records each completed invoke, the Invoke API each
 * throttle; gauges (environments by state, concurrent executions, the async queue) are
 * gathered at scrape time and rendered with the counters in Prometheus' text format.
 *
 * Everything runs on the loop thread: no locks. Recording is a hash lookup and a few adds.
 */
#ifndef GALLEY_METRICS_H
#define GALLEY_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "galley/buf.h"
#include "galley/env.h"

/* Most (function, version) series kept; records for further ones are counted as dropped. */
#define GL_METRICS_MAX_SERIES 65536

typedef struct gl_metrics gl_metrics_t;

/** One completed invoke, as the scheduler saw it. */
typedef struct gl_metrics_invoke {
    const char *function;       /* FunctionName */
    const char *version;        /* executed version: "$LATEST", "1", ... */
    int function_error;         /* X-Amz-Function-Error was (or would be) set */
    int timeout;                /* Sandbox.Timedout */
    int cold;                   /* this invoke started its environment */
    double duration_ms;
    double init_duration_ms;    /* observed only when cold */
} gl_metrics_invoke_t;

/** Values that are not per series, read at scrape time. */
typedef struct gl_metrics_globals {
    unsigned running;                /* invokes running now, account-wide */
    unsigned account_concurrency;    /* the account's limit */
    int have_async;                  /* the two below are meaningful */
    size_t async_depth;              /* events accepted and not done */
    double async_oldest_age_s;       /* age of the oldest waiting event, 0 when none */
    uint64_t log_lines_dropped;      /* gl_logs_dropped_lines() */
} gl_metrics_globals_t;

gl_metrics_t *gl_metrics_new(void);
void gl_metrics_free(gl_metrics_t *m);
/** The daemon's registry, created on first use (loop thread only); never NULL unless out of
 *  memory, in which case the record calls below do nothing. */
gl_metrics_t *gl_metrics_default(void);
/** Free the daemon's registry (at exit); a later gl_metrics_default makes a new one. */
void gl_metrics_default_free(void);

/** Count one completed invoke. m may be NULL (no-op). */
void gl_metrics_record_invoke(gl_metrics_t *m, const gl_metrics_invoke_t *inv);
/** Count one invoke refused with 429 (TooManyRequestsException). m may be NULL. */
void gl_metrics_record_throttle(gl_metrics_t *m, const char *function, const char *version);

/** Scrape: forget the environment counts of the previous scrape. */
void gl_metrics_envs_clear(gl_metrics_t *m);
/** Scrape: one live environment of (function, version) in state; busy when it holds an invoke
 *  (counted as a concurrent execution). */
void gl_metrics_env_seen(gl_metrics_t *m, const char *function, const char *version,
                         gl_env_state_t state, int busy);
/**
 * Append every metric in Prometheus' text exposition format (version 0.0.4) to out: series
 * sorted by function then version, each family with HELP and TYPE lines. g may be NULL.
 * Returns 0 or -ENOMEM.
 */
int gl_metrics_render(gl_metrics_t *m, const gl_metrics_globals_t *g, gl_buf_t *out);

/* ---- The scheduler's side (src/scheduler/metrics.c). ---- */
struct gl_sched;
struct gl_invoke;

/** Count a completed invoke in the daemon's registry (called by gl_invoke_complete). */
void gl_sched_metrics_invoke_done(const struct gl_invoke *inv);
/** Scrape: count every live environment of s by (function, version, state) into m. */
void gl_sched_metrics_scan(struct gl_sched *s, gl_metrics_t *m);

/** Append value as a quoted Prometheus label value ("..." with \\, \" and \n escaped). */
int gl_metrics_append_label_value(gl_buf_t *out, const char *value);

#endif
