/* SPDX-License-Identifier: MIT */
/*
 * env.h: one execution environment: a runtime process, its Runtime API listener, its
 * output pipes and log stream, and the state machine whose set_state() is the only writer of
 * its state (src/scheduler/env.c). The Runtime API router (src/scheduler/env_rapi.c) turns
 * HTTP requests into events here.
 */
#ifndef GALLEY_ENV_H
#define GALLEY_ENV_H

#include "galley/http.h"

/* Descriptors the daemon holds per idle environment (its Runtime API listener and connection,
 * stdout/stderr pipes, pidfd, log file, its cgroup's memory peak file): what `galley serve`
 * divides its limit by. One with external extensions holds 1 + N more (their output socket,
 * each extension's parked /event/next connection), which this estimate leaves out. */
#define GL_ENV_FDS_EACH 7u

/*
 * STARTING: forked, exec not yet confirmed (brief; spawn is synchronous today).
 * INITIALIZING: runtime (and extensions) running their init, not all of them in next yet.
 * IDLE: runtime parked in /next, no invoke.
 * INVOKING: event delivered, waiting for /response or /error.
 * RESPONDED: the invoke is answered; waiting for the runtime's next /next (and for the
 *   extensions still at work on it).
 * STOPPING: extensions told SHUTDOWN, or signalled: waiting for the process to exit.
 * DEAD: exited and reaped; handles closing.
 */
#define GL_ENV_STATE_MAP(XX)                                                                       \
    XX(STARTING, "starting")                                                                       \
    XX(INITIALIZING, "initializing")                                                               \
    XX(IDLE, "idle")                                                                               \
    XX(INVOKING, "invoking")                                                                       \
    XX(RESPONDED, "responded")                                                                     \
    XX(STOPPING, "stopping")                                                                       \
    XX(DEAD, "dead")

typedef enum gl_env_state {
#define XX(name, text) GL_ENV_##name,
    GL_ENV_STATE_MAP(XX)
#undef XX
    GL_ENV_STATE_COUNT
} gl_env_state_t;

#define GL_ENV_EVENT_MAP(XX)                                                                       \
    XX(SPAWNED, "spawned")                                                                         \
    XX(SPAWN_FAILED, "spawn_failed") /* it could not start: its invoke fails, it is freed */      \
    XX(ASSIGN, "assign")          /* an invoke is given to this environment */                     \
    XX(NEXT, "next")                                                                               \
    XX(RESPONSE, "response")                                                                       \
    XX(ERROR, "error")                                                                             \
    XX(INIT_ERROR, "init_error")                                                                   \
    XX(TIMEOUT, "timeout")        /* invoke deadline */                                            \
    XX(INIT_TIMEOUT, "init_timeout")                                                               \
    XX(IDLE_TIMEOUT, "idle_timeout")                                                               \
    XX(EXITED, "exited")                                                                           \
    XX(THAW_FAILED, "thaw_failed") /* a frozen runtime could not be resumed for its invoke */    \
    XX(SHUTDOWN, "shutdown")                                                                       \
    XX(EXT_READY, "ext_ready")    /* an extension waits in /extension/event/next */                \
    XX(EXT_FAILED, "ext_failed")  /* an extension crashed or posted init/exit error */

typedef enum gl_env_event {
#define XX(name, text) GL_ENV_EV_##name,
    GL_ENV_EVENT_MAP(XX)
#undef XX
    GL_ENV_EV_COUNT
} gl_env_event_t;

typedef struct gl_env gl_env_t;

const char *gl_env_state_name(gl_env_state_t s);
const char *gl_env_event_name(gl_env_event_t e);

/*
 * Runtime API entry points (called by the router in env_rapi.c). Each replies to req exactly once,
 * with 2xx or the Runtime API's error body, and drives the state machine.
 */
void gl_env_rapi_next(gl_env_t *env, gl_http_req_t *req);
void gl_env_rapi_response(gl_env_t *env, gl_http_req_t *req, const char *request_id);
void gl_env_rapi_error(gl_env_t *env, gl_http_req_t *req, const char *request_id);
void gl_env_rapi_init_error(gl_env_t *env, gl_http_req_t *req);
/** The runtime posted a response over the size limit (req->body_too_large). */
void gl_env_rapi_response_too_large(gl_env_t *env, gl_http_req_t *req, const char *request_id);

/** Reply with the Runtime API error shape {"errorMessage","errorType"}. */
void gl_rapi_reply_error(gl_http_req_t *req, int status, const char *type, const char *msg);

#endif
