/* SPDX-License-Identifier: MIT */
/*
 * invoke.c: the life of one invoke record (gl_invoke_t): made by the API, owned by the
 * scheduler once submitted, given its result (a runtime's bytes or a platform error) by an
 * environment, and handed back exactly once through inv->done, or freed here when the caller
 * lost interest. Leaves choosing an environment to sched.c and running it to env.c.
 *
 * Invariant: gl_invoke_complete is the one place an invoke stops counting toward the running
 * invokes, so every way an invoke ends (answered, failed, never started) passes through it;
 * an invoke answered while its extensions still work hands its count to the environment,
 * which gives it back through gl_invoke_release once they are done (env_output.c).
 */
#include <stdlib.h>
#include <string.h>

#include "galley/metrics.h"
#include "internal.h"

gl_invoke_t *gl_invoke_new(gl_fn_t *fn)
{
    gl_invoke_t *inv = calloc(1, sizeof(*inv));
    if (!inv)
        return NULL;
    inv->fn = gl_fn_ref(fn);
    gl_uuid4(inv->request_id);
    return inv;
}

void gl_invoke_free(gl_invoke_t *inv)
{
    if (!inv)
        return;
    gl_fn_unref(inv->fn);
    free(inv->invoked_arn);
    gl_buf_free(&inv->payload);
    free(inv->client_context);
    free(inv->trace_id);
    free(inv->cognito_identity);
    gl_buf_free(&inv->result);
    free(inv->content_type);
    free(inv->log_tail);
    free(inv->error_type);
    free(inv->service_error);
    gl_buf_free(&inv->tail);
    free(inv);
}

void gl_invoke_release(gl_sched_t *s, gl_fn_usage_t *usage)
{
    s->running--;
    if (usage) {
        usage->running--;
        if (usage->reserved < 0)
            s->running_unreserved--;
    }
    if (s->on_slot_free)
        s->on_slot_free(s->on_slot_free_arg);
}

void gl_invoke_complete(gl_invoke_t *inv)
{
    gl_sched_metrics_invoke_done(inv); /* every invoke ends here: one place to count it */
    if (inv->counted_in) {
        gl_sched_t *s = inv->counted_in;
        gl_fn_usage_t *usage = inv->usage;
        inv->counted_in = NULL;
        inv->usage = NULL;
        gl_invoke_release(s, usage);
    }
    if (inv->done)
        inv->done(inv);
    else
        gl_invoke_free(inv);
}

void gl_invoke_set_error(gl_invoke_t *inv, const char *type, const char *message)
{
    json_t *body = json_pack("{s:s, s:s}", "errorType", type, "errorMessage", message);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    gl_buf_reset(&inv->result);
    if (text)
        gl_buf_append_str(&inv->result, text);
    free(text);
    inv->function_error = 1;
    free(inv->content_type);
    inv->content_type = NULL;
    free(inv->error_type);
    inv->error_type = strdup(type);
}

void gl_invoke_fail(gl_invoke_t *inv, const char *type, const char *message)
{
    gl_invoke_set_error(inv, type, message);
    gl_invoke_complete(inv);
}
