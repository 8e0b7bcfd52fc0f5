/* SPDX-License-Identifier: MIT */
/*
 * api.h: the Lambda API front end: the Invoke API and the control plane, served on one
 * HTTP listener. The FunctionName parser both use is the registry's
 * (gl_registry_parse_fn_name in registry.h).
 */
#ifndef GALLEY_API_H
#define GALLEY_API_H

#include <stddef.h>
#include <uv.h>

#include "galley/err.h"
#include "galley/registry.h"

struct gl_sched;

/* galley's own read/control endpoints live under this prefix, which no Lambda path uses. */
#define GL_API_GALLEY_PREFIX "/_galley"

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
    const char *state_dir;       /* its logs/ is read by the CloudWatch Logs operations */
} gl_api_opts_t;

int gl_api_start(gl_api_t **out, uv_loop_t *loop, const gl_api_opts_t *opts, int *bound_port,
                 gl_err_t *err);
/** Stop listening and close every client connection; on_closed runs when done. */
void gl_api_close(gl_api_t *api, void (*on_closed)(void *arg), void *arg);

#endif
