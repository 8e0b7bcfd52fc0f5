/* SPDX-License-Identifier: MIT */
/*
 * api.h: the Lambda API front end: the Invoke API and the control plane, served on one
 * HTTP listener, plus the FunctionName parser both use.
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

#define GL_FN_NAME_MAX 64
#define GL_QUALIFIER_MAX 128

/** A FunctionName parameter resolved to a bare name and an optional qualifier. */
typedef struct gl_fn_ref {
    char name[GL_FN_NAME_MAX + 1];
    char qualifier[GL_QUALIFIER_MAX + 1]; /* "" when none */
} gl_fn_ref_t;

/**
 * Parse a FunctionName path parameter (already percent-decoded) in any of its forms: name,
 * name:qualifier, partial ARN account:function:name[:q], full ARN
 * arn:<partition>:lambda:<region>:<account>:function:name[:q]; then merge query_qualifier
 * (the ?Qualifier= value, or NULL). max_len is the model's limit for the whole parameter
 * (256 for Invoke/Get/Delete, 140 for most writes).
 * On failure returns -EINVAL and sets *etype and msg (Lambda's exact wording) for the caller;
 * a region or account that is not ours is GL_AWS_RESOURCE_NOT_FOUND.
 */
int gl_api_parse_fn_name(const char *param, const char *query_qualifier, const char *region,
                         const char *account, size_t max_len, gl_fn_ref_t *out,
                         gl_aws_err_t *etype, char *msg, size_t msglen);

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
} gl_api_opts_t;

int gl_api_start(gl_api_t **out, uv_loop_t *loop, const gl_api_opts_t *opts, int *bound_port,
                 gl_err_t *err);
/** Stop listening and close every client connection; on_closed runs when done. */
void gl_api_close(gl_api_t *api, void (*on_closed)(void *arg), void *arg);

#endif
