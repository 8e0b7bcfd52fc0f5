/* SPDX-License-Identifier: MIT */
/*
 * telemetry.h: the scheduler's Telemetry API (2022-07-01) and Logs API (2020-08-15), shared by
 * telemetry.c (an environment's subscribers, their queues and delivery over the loop),
 * telemetry_sub.c (the subscription requests),
 * telemetry_events.c (the pure parts: the subscription request's checks, the events of each
 * schema version, the buffering decisions) and the hooks in env*.c. Kept apart from internal.h
 * so the hooks stay one line each and the unit tests can include only the pure part.
 */
#ifndef GALLEY_SCHED_TELEMETRY_H
#define GALLEY_SCHED_TELEMETRY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "galley/http.h"

typedef struct gl_env gl_env_t;

/* Which API a subscription came through: its error types start with "Telemetry." or "Logs.". */
typedef enum gl_tel_api { GL_TEL_API_TELEMETRY, GL_TEL_API_LOGS } gl_tel_api_t;

/* Schema versions, oldest first; the first two are the Logs API's. */
typedef enum gl_tel_schema {
    GL_TEL_2020_08_15,
    GL_TEL_2021_03_18,
    GL_TEL_2022_07_01,
    GL_TEL_2022_12_13,
    GL_TEL_2025_01_29,
    GL_TEL_SCHEMA_COUNT
} gl_tel_schema_t;

/* The event types a subscriber asks for (its "types"). */
#define GL_TEL_PLATFORM 1u
#define GL_TEL_FUNCTION 2u
#define GL_TEL_EXTENSION 4u

typedef struct gl_tel_buffering {
    unsigned max_items;  /* 1,000 .. 10,000 */
    size_t max_bytes;    /* 262,144 .. 1,048,576 */
    unsigned timeout_ms; /* 25 .. 30,000 */
} gl_tel_buffering_t;

/* A checked subscription request. */
typedef struct gl_tel_sub_cfg {
    gl_tel_api_t api;
    gl_tel_schema_t schema;
    unsigned types;          /* GL_TEL_* */
    gl_tel_buffering_t buf;
    int tcp;                 /* protocol TCP: newline-delimited JSON on port */
    int port;
    char path[512];          /* HTTP: the URI's path and query ("/" when it has none) */
} gl_tel_sub_cfg_t;

/* A refused subscription: the status and Runtime API error body. */
typedef struct gl_tel_error {
    int status;
    char type[64];
    char msg[400];
} gl_tel_error_t;

/* ---- telemetry_events.c (pure) ---- */

/** Check a subscription request body as Lambda does: 0 with *cfg filled, or -1 with *err
 *  (400 <Api>.DeserializationError or .ValidationError, 403 <Api>.AccessDenied). */
int gl_tel_parse_subscription(gl_tel_api_t api, const char *body, size_t len, gl_tel_sub_cfg_t *cfg,
                              gl_tel_error_t *err);
/** The name of a schema version ("2022-12-13"). */
const char *gl_tel_schema_name(gl_tel_schema_t s);
/** Append to events (an array) what a subscriber of schema receives for galley's platform record
 *  of type (borrowed; the records env_logging.c writes): none, one or (Logs API's runtimeDone and
 *  end) two events {"time","type","record"} in Lambda's shape for that version. */
void gl_tel_platform_events(gl_tel_schema_t schema, const char *type, const json_t *record,
                            const char *time, json_t *events);
/** The event for one log line of a function ("function") or an extension ("extension"): the
 *  record is the text, or with json_format (LogFormat JSON, Telemetry API) the line's object when
 *  it is one. New reference. */
json_t *gl_tel_line_event(gl_tel_schema_t schema, int json_format, const char *type,
                          const char *line, size_t len, const char *time);
/** Whether a batch must go now: maxItems events or maxBytes bytes are waiting. */
int gl_tel_batch_due(const gl_tel_buffering_t *b, size_t items, size_t bytes);
/** Whether the oldest waiting event must go before one of add bytes joins a queue holding
 *  items events of bytes bytes, so the queue stays within maxItems and maxBytes (a subscriber
 *  that falls behind loses its oldest events, never memory without bound). Asked again after
 *  each drop; an empty queue always takes the event. */
int gl_tel_must_drop(const gl_tel_buffering_t *b, size_t items, size_t bytes, size_t add);

/* ---- telemetry.c, for telemetry_sub.c ---- */

/** 1 with *api when the extension name holds a subscription (through either API), else 0. */
int gl_tel_subscribed(const gl_env_t *env, const char *name, gl_tel_api_t *api);
/** A new subscriber (the init phase's events so far replayed to it): 0 or -ENOMEM. */
int gl_tel_add(gl_env_t *env, const char *name, const gl_tel_sub_cfg_t *cfg);

/* ---- telemetry.c and telemetry_sub.c: the hooks (one line each where the scheduler writes its records) ---- */

/** PUT /2022-07-01/telemetry or /2020-08-15/logs from the environment's Runtime API. */
void gl_env_tel_subscribe(gl_env_t *env, gl_http_req_t *req, gl_tel_api_t api);
/** Whether a platform record can still reach a subscriber: one subscribed, or init (when
 *  they subscribe) is not over. */
int gl_env_tel_active(const gl_env_t *env);
/** A platform record galley writes (borrowed): queued for every platform subscriber. */
void gl_env_tel_platform(gl_env_t *env, const char *type, const json_t *record);
/** The runtime answered the assigned invoke while END and REPORT wait for the extensions:
 *  platform.runtimeDone goes now, as Lambda sends it (the END record later is not repeated). */
void gl_env_tel_runtime_done(gl_env_t *env);
/** A log line of the function (type "function") or an extension ("extension"). */
void gl_env_tel_line(gl_env_t *env, const char *type, const char *line, size_t len);
/** The runtime's init ended: platform.initRuntimeDone, and with report also
 *  platform.initReport (the successful init, which writes no INIT_REPORT line).
 *  status_text: "" or "Status: x\tError Type: y". */
void gl_env_tel_init_done(gl_env_t *env, const char *status_text, int report);
/** The environment is stopping: every waiting batch goes now, while its subscribers live. */
void gl_env_tel_flush(gl_env_t *env);
/** The environment is gone: its subscriptions stop (connections closed, queues freed). */
void gl_env_tel_close(gl_env_t *env);

#endif
