/* SPDX-License-Identifier: MIT */
/*
 * api.h: the Lambda API front end: the Invoke API and the control plane, served on one
 * HTTP listener. The FunctionName parser both use is the registry's
 * (gl_registry_parse_fn_name in registry.h).
 */
#ifndef GALLEY_API_H
#define GALLEY_API_H

#include <jansson.h>
#include <stddef.h>
#include <uv.h>

#include "galley/err.h"
#include "galley/registry.h"

struct gl_sched;

/* galley's own read/control endpoints live under this prefix, which no Lambda path uses. */
#define GL_API_GALLEY_PREFIX "/_galley"
/* Every request under it carries the daemon's control token in this header (docs/testing.md);
 * the token is written at start to <state-dir>/GL_API_CONTROL_TOKEN_FILE (0600, in a 0700
 * directory) for the galley CLI and test harnesses. */
#define GL_API_CONTROL_TOKEN_HEADER "X-Galley-Control-Token"
#define GL_API_CONTROL_TOKEN_FILE "run/control-token"
#define GL_API_CONTROL_TOKEN_LEN 64 /* hex characters: 32 random bytes */
/* A debugger's port when none is given (serve --debug F, galley debug F): Node's inspector's. */
#define GL_API_DEBUG_PORT 9229

/** A fresh random control token, written to <state_dir>/GL_API_CONTROL_TOKEN_FILE (the run
 *  directory made or tightened to 0700, the file replaced atomically with mode 0600) and
 *  copied to token. 0, or a negative errno with err set. */
int gl_api_control_token_create(const char *state_dir, char token[GL_API_CONTROL_TOKEN_LEN + 1],
                                gl_err_t *err);

/** Apply the stored concurrency settings (reservations, provisioned configs) to the
 *  scheduler; at start, once the template's functions are in the registry. */
void gl_api_apply_concurrency(gl_registry_t *reg, struct gl_sched *sched);

typedef struct gl_api gl_api_t;

typedef struct gl_api_opts {
    const char *host;
    int port;
    gl_registry_t *registry;
    struct gl_sched *sched;
    struct gl_async *async;      /* durable queue for Event invokes */
    const char *control_token;   /* required on /_galley requests (gl_api_control_token_create) */
    int auth_sigv4;              /* --auth sigv4: Lambda API requests must be signed */
    const char *const *credentials; /* "ACCESS_KEY:SECRET" each, for auth_sigv4 */
    size_t ncredentials;
    const char *credentials_file;   /* more of them, one a line ('#' comments), or NULL */
    const char *state_dir;       /* its logs/ is read by the CloudWatch Logs operations */
    const char *url_host;        /* Function URL listeners bind it; NULL: 127.0.0.1 */
    double time_scale;           /* durable waits and retries are divided by it (0: 1) */
} gl_api_opts_t;

int gl_api_start(gl_api_t **out, uv_loop_t *loop, const gl_api_opts_t *opts, int *bound_port,
                 gl_err_t *err);
/** The Function URL and API-event front end the API owns (include/galley/web.h). */
struct gl_web *gl_api_web(gl_api_t *api);
/** A template function's FunctionUrlConfig (AuthType, InvokeMode, Cors): serve its URL, kept
 *  in memory like the function, and put it in url. 0, or a negative errno with err set. */
int gl_api_template_function_url(gl_api_t *api, const char *fn_name, const json_t *config,
                                 char *url, size_t len, gl_err_t *err);
/** Stop listening and close every client connection; on_closed runs when done. */
void gl_api_close(gl_api_t *api, void (*on_closed)(void *arg), void *arg);

#endif
