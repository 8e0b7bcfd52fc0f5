/* SPDX-License-Identifier: MIT */
/*
 * internal.h: declarations shared inside the api module: the front end's state, and one
 * handler per Lambda operation. The router (router.c) matches method and path, decodes and
 * parses the FunctionName, sets req->request_id, and calls exactly one handler; each handler
 * replies to req exactly once (success or an AWS-shaped error).
 */
#ifndef GALLEY_API_INTERNAL_H
#define GALLEY_API_INTERNAL_H

#include <uv.h>

#include "galley/api.h"
#include "galley/http.h"
#include "galley/registry.h"

struct gl_api {
    uv_loop_t *loop;
    gl_registry_t *reg;
    struct gl_sched *sched;
    struct gl_async *async;
    gl_http_server_t *http;
    void (*on_closed)(void *arg);
    void *on_closed_arg;
};

/* galley's own endpoints (galley.c), under GL_API_GALLEY_PREFIX (api.h). */
void gl_api_galley_environments(gl_api_t *api, gl_http_req_t *req);
void gl_api_galley_reset(gl_api_t *api, gl_http_req_t *req);
/** /_galley/functions/<F>/<control>: cold, warm, idle-timeout, faults. */
void gl_api_galley_function(gl_api_t *api, gl_http_req_t *req, const gl_fn_ref_t *ref,
                            const char *control);
/** GET /metrics in Prometheus' text format (metrics.c). */
void gl_api_metrics(gl_api_t *api, gl_http_req_t *req);

/* Concurrency (concurrency.c): Put/Get/DeleteFunctionConcurrency and
 * Put/Get/Delete/ListProvisionedConcurrencyConfig(s), by method (and ?List=ALL). */
void gl_api_function_concurrency(gl_api_t *api, gl_http_req_t *req, const gl_fn_ref_t *ref);
void gl_api_provisioned_concurrency(gl_api_t *api, gl_http_req_t *req, const gl_fn_ref_t *ref);

/* Invoke API (invoke.c) */
void gl_api_invoke(gl_api_t *api, gl_http_req_t *req, const gl_fn_ref_t *ref, int legacy_async);

/* Control plane (functions.c): bodies are JSON, replies are JSON or AWS errors. */
void gl_api_create_function(gl_api_t *api, gl_http_req_t *req);
void gl_api_list_functions(gl_api_t *api, gl_http_req_t *req);
void gl_api_get_function(gl_api_t *api, gl_http_req_t *req, const gl_fn_ref_t *ref);
void gl_api_get_function_configuration(gl_api_t *api, gl_http_req_t *req, const gl_fn_ref_t *ref);
void gl_api_update_function_code(gl_api_t *api, gl_http_req_t *req, const gl_fn_ref_t *ref);
void gl_api_update_function_configuration(gl_api_t *api, gl_http_req_t *req,
                                          const gl_fn_ref_t *ref);
void gl_api_delete_function(gl_api_t *api, gl_http_req_t *req, const gl_fn_ref_t *ref);
void gl_api_get_account_settings(gl_api_t *api, gl_http_req_t *req);

/* Put/Get/Update/DeleteFunctionEventInvokeConfig by method, and the list
 * (event_invoke_config.c). */
void gl_api_event_invoke_config(gl_api_t *api, gl_http_req_t *req, const gl_fn_ref_t *ref);
void gl_api_list_event_invoke_configs(gl_api_t *api, gl_http_req_t *req, const gl_fn_ref_t *ref);

/* Versions (versions.c) and aliases (aliases.c). alias_seg is the raw (percent-encoded)
 * last path segment naming the alias. */
void gl_api_publish_version(gl_api_t *api, gl_http_req_t *req, const gl_fn_ref_t *ref);
void gl_api_list_versions(gl_api_t *api, gl_http_req_t *req, const gl_fn_ref_t *ref);
void gl_api_create_alias(gl_api_t *api, gl_http_req_t *req, const gl_fn_ref_t *ref);
void gl_api_list_aliases(gl_api_t *api, gl_http_req_t *req, const gl_fn_ref_t *ref);
void gl_api_get_alias(gl_api_t *api, gl_http_req_t *req, const gl_fn_ref_t *ref,
                      const char *alias_seg);
void gl_api_update_alias(gl_api_t *api, gl_http_req_t *req, const gl_fn_ref_t *ref,
                         const char *alias_seg);
void gl_api_delete_alias(gl_api_t *api, gl_http_req_t *req, const gl_fn_ref_t *ref,
                         const char *alias_seg);

/* Shared by the control-plane files (functions.c). */
void gl_api_reply_json(gl_http_req_t *req, int status, json_t *body);
/** The request body as a JSON object ({} when empty), or NULL after replying 400. */
json_t *gl_api_body_object(gl_http_req_t *req);
/** MaxItems query value: page size min(MaxItems, 50); -1 after replying 400. */
int gl_api_max_items(gl_http_req_t *req, size_t *page);
/**
 * A List operation's Marker, opaque to clients: base64 of the last key of the previous page.
 * Decodes marker (NULL or "" for the first page) into out (max_len + 1 bytes, "" for the first
 * page); -1 after replying 400 InvalidParameterValueException for a malformed one.
 */
int gl_api_marker(gl_http_req_t *req, const char *marker, size_t max_len, char *out);
/** Set resp's NextMarker for a page that ended at key last. */
void gl_api_next_marker(json_t *resp, const char *last);
/** Template functions are read-only through the API: -1 after replying 400. */
int gl_api_refuse_template(gl_http_req_t *req, const gl_fn_t *fn);

/** FunctionConfiguration JSON for fn, as Lambda returns it (new reference). */
json_t *gl_api_fn_configuration_json(gl_api_t *api, const gl_fn_t *fn);

/** Resolve ref to the current snapshot, or reply 404 ResourceNotFoundException and return NULL.
 *  Qualifier "" and "$LATEST" resolve to $LATEST, "N" to that version, an alias to its
 *  FunctionVersion. */
gl_fn_t *gl_api_resolve(gl_api_t *api, gl_http_req_t *req, const gl_fn_ref_t *ref);
/** As gl_api_resolve, but an alias with RoutingConfig picks its additional version with the
 *  configured probability (Invoke). */
gl_fn_t *gl_api_resolve_routed(gl_api_t *api, gl_http_req_t *req, const gl_fn_ref_t *ref);

#endif
