/* SPDX-License-Identifier: MIT */
/*
 * rapi.h: the Lambda Runtime API (2018-06-01) as served to each environment on its own
 * loopback listener. The handler's data pointer is the environment (gl_env_t).
 */
#ifndef GALLEY_RAPI_H
#define GALLEY_RAPI_H

#include "galley/http.h"

/* Largest response or error body a runtime may post: 6 MiB + 100 bytes, as Lambda. */
#define GL_RAPI_MAX_RESPONSE 6291556

/** The handler to pass to the scheduler (gl_sched_opts_t.rapi); static storage. */
const gl_http_handler_t *gl_rapi_handler(void);

#endif
