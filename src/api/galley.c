/* SPDX-License-Identifier: MIT */
/*
 * galley.c: galley's own endpoints under GL_API_GALLEY_PREFIX, for `galley ps` and test
 * harnesses. Read-only today: the live execution environments.
 */
#include "galley/sched.h"
#include "internal.h"

void gl_api_galley_environments(gl_api_t *api, gl_http_req_t *req)
{
    json_t *body = json_pack("{s:o, s:i, s:i}", "Environments", gl_sched_envs_json(api->sched),
                             "RunningInvokes", (int)gl_sched_running(api->sched),
                             "AccountConcurrency", (int)gl_sched_account_concurrency(api->sched));
    gl_http_header_t h = {"x-amzn-RequestId", req->request_id};
    gl_http_reply_json(req, 200, &h, 1, body);
}
