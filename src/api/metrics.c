/* SPDX-License-Identifier: MIT */
/*
 * metrics.c: GET /metrics, the daemon's counters and gauges in Prometheus' text exposition
 * format. Counters come from the registry the scheduler and the Invoke API update as they go;
 * the gauges (environments by state, concurrency, the async queue) are read now. A scrape is
 * one pass over the environments and the series, on the loop, without touching any process.
 */
#include "galley/async.h"
#include "galley/durable.h"
#include "galley/logs.h"
#include "galley/metrics.h"
#include "galley/sched.h"
#include "internal.h"

/* Durable executions by status, read now (src/durable keeps them all in memory). */
static int durable_gauges(gl_api_t *api, gl_buf_t *out)
{
    json_t *counts = api->durable ? gl_durable_counts(api->durable) : NULL;
    const char *status;
    json_t *n;
    int rc = 0;
    if (!counts)
        return 0;
    rc |= gl_buf_append_str(out, "# HELP galley_durable_executions Durable executions kept, by "
                                 "status.\n# TYPE galley_durable_executions gauge\n");
    json_object_foreach(counts, status, n)
        rc |= gl_buf_printf(out, "galley_durable_executions{status=\"%s\"} %lld\n", status,
                            (long long)json_integer_value(n));
    json_decref(counts);
    return rc;
}

void gl_api_metrics(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    (void)rt;
    gl_metrics_t *m = gl_metrics_default();
    gl_metrics_globals_t g = {
        .running = gl_sched_running(api->sched),
        .account_concurrency = gl_sched_account_concurrency(api->sched),
        .log_lines_dropped = gl_logs_dropped_lines(),
    };
    if (api->async) {
        int64_t oldest = gl_async_oldest_waiting_ms(api->async), now = gl_now_ms();
        g.have_async = 1;
        g.async_depth = gl_async_pending(api->async);
        g.async_oldest_age_s = oldest && now > oldest ? (double)(now - oldest) / 1000.0 : 0.0;
    }
    gl_buf_t out = {0};
    if (m)
        gl_sched_metrics_scan(api->sched, m);
    if (!m || gl_metrics_render(m, &g, &out) < 0 || durable_gauges(api, &out) < 0) {
        gl_buf_free(&out);
        gl_http_reply_aws_error(req, GL_AWS_SERVICE, "out of memory");
        return;
    }
    gl_http_header_t h[] = {
        {"Content-Type", "text/plain; version=0.0.4; charset=utf-8"},
        {"x-amzn-RequestId", req->request_id},
    };
    size_t len;
    char *body = gl_buf_steal(&out, &len);
    gl_http_reply_owned(req, 200, h, 2, body, len);
}
