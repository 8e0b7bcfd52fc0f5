/* SPDX-License-Identifier: MIT */
/*
 * metrics.c: what the scheduler tells the metrics registry (src/metrics): each completed
 * invoke, and at scrape time its live environments by state. Reads scheduler state only; owns
 * nothing.
 */
#include <string.h>

#include "galley/metrics.h"
#include "internal.h"

void gl_sched_metrics_invoke_done(const gl_invoke_t *inv)
{
    if (!inv->fn)
        return;
    gl_metrics_invoke_t rec = {
        .function = inv->fn->cfg.name,
        .version = inv->fn->version,
        .function_error = inv->function_error,
        .timeout = inv->error_type && !strcmp(inv->error_type, "Sandbox.Timedout"),
        .cold = inv->cold,
        .duration_ms = inv->duration_ms,
        .init_duration_ms = inv->init_duration_ms,
    };
    gl_metrics_record_invoke(gl_metrics_default(), &rec);
}

void gl_sched_metrics_scan(gl_sched_t *s, gl_metrics_t *m)
{
    gl_metrics_envs_clear(m);
    for (gl_pool_t *p = s->pools; p; p = p->next)
        for (gl_env_t *e = p->envs; e; e = e->next)
            gl_metrics_env_seen(m, e->fn->cfg.name, e->fn->version, e->state, e->invoke != NULL);
}
