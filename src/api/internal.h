/* SPDX-License-Identifier: MIT */
/*
 * internal.h: declarations shared inside the api module: the front end's state, and one
 * handler per Lambda operation, all of one signature, and the route table's row and match
 * types. The router (router.c) matches method and path, decodes and parses the FunctionName,
 * sets req->request_id, and calls exactly one handler; each handler replies to req exactly
 * once (success or an AWS-shaped error).
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
    struct gl_api_upload *uploads; /* code uploads in progress (code_upload.c) */
    unsigned closing : 1;          /* gl_api_close was called */
    unsigned http_closed : 1;      /* the listener and its connections are gone */
};

typedef struct gl_api_op gl_api_op_t;
typedef struct gl_api_route gl_api_route_t;
/** Every operation's handler: replies to req exactly once. rt lives only during the call. */
typedef void (*gl_api_handler_fn)(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);

/* gl_api_op_t.flags */
#define GL_API_OP_SLASH 1u /* one trailing '/' after the pattern is tolerated */
#define GL_API_OP_EVENT 2u /* an Invoke that is always asynchronous (InvokeAsync) */

/** One row of the route table (router.c): one Lambda (or galley) operation. */
struct gl_api_op {
    const char *date;     /* API date prefix, "2015-03-31"; NULL for galley's own paths */
    const char *pattern;  /* after the date: "/functions/{FunctionName}/aliases/{Name}" */
    unsigned flags;       /* GL_API_OP_* */
    const char *method;   /* "GET", ...; NULL: any, the handler decides */
    const char *name;     /* Lambda's operation name, "GetAlias" */
    size_t body_limit;    /* most body bytes; 0: the default 6 MiB */
    size_t (*body_limit_fn)(const gl_http_req_t *req); /* instead of body_limit, or NULL */
    size_t fn_max;        /* the FunctionName's length limit (256 or 140); 0 when none */
    const char *too_large_as; /* the operation named in the 413 message; NULL: "request" */
    gl_api_handler_fn handler;
};

/** A matched request: its row and the path parameters. */
struct gl_api_route {
    const gl_api_op_t *op;
    const char *fn_seg;   /* the raw (percent-encoded) {FunctionName} in req->path, or NULL */
    size_t fn_len;
    const char *param;    /* the raw second parameter ({Name}, {Control}): always the path's
                           * last segment, so NUL-terminated; NULL when none */
    gl_fn_ref_t ref;      /* the parsed FunctionName, when fn_seg is set */
};

typedef enum { GL_API_ROUTED, GL_API_NO_ROUTE, GL_API_BAD_METHOD } gl_api_match_t;

/** The route table and its length. */
const gl_api_op_t *gl_api_ops(size_t *n);
/** Find the row for method and path (raw, without the query). GL_API_ROUTED fills rt (ref not
 *  yet parsed); GL_API_BAD_METHOD when some row has the path but none the method; otherwise
 *  GL_API_NO_ROUTE. rt is zeroed when nothing is routed. */
gl_api_match_t gl_api_route_match(const char *method, const char *path, gl_api_route_t *rt);
/** The most body bytes op (NULL: no row) accepts for req. */
size_t gl_api_op_body_limit(const gl_api_op_t *op, const gl_http_req_t *req);
/** Decode rt->fn_seg and parse it with req's ?Qualifier= into rt->ref under rt->op->fn_max.
 *  0, or a negative errno with aerr set (Lambda's wording). */
int gl_api_route_parse_fn(gl_api_route_t *rt, const gl_http_req_t *req, const char *region,
                          const char *account, gl_aws_error_t *aerr);

/* galley's own endpoints (galley.c), under GL_API_GALLEY_PREFIX (api.h). */
void gl_api_galley_environments(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);
void gl_api_galley_reset(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);
/** /_galley/functions/<F>/<control>: cold, warm, idle-timeout, faults (control: rt->param). */
void gl_api_galley_function(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);
/** GET /metrics in Prometheus' text format (metrics.c). */
void gl_api_metrics(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);

/* Concurrency (concurrency.c): Put/Get/DeleteFunctionConcurrency and
 * Put/Get/Delete/ListProvisionedConcurrencyConfig(s), by method (and ?List=ALL). */
void gl_api_function_concurrency(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);
void gl_api_provisioned_concurrency(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);

/* Get/PutFunctionRecursionConfig (recursion_config.c). */
void gl_api_get_recursion_config(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);
void gl_api_put_recursion_config(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);

/* Invoke API (invoke.c): Invoke, and InvokeAsync (rows flagged GL_API_OP_EVENT). */
void gl_api_invoke(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);

/* Control plane (functions.c): bodies are JSON, replies are JSON or AWS errors. */
void gl_api_create_function(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);
void gl_api_list_functions(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);
void gl_api_get_function(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);
void gl_api_get_function_configuration(gl_api_t *api, gl_http_req_t *req,
                                       const gl_api_route_t *rt);
void gl_api_update_function_code(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);
void gl_api_update_function_configuration(gl_api_t *api, gl_http_req_t *req,
                                          const gl_api_route_t *rt);
void gl_api_delete_function(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);
void gl_api_get_account_settings(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);

/* Put/Get/Update/DeleteFunctionEventInvokeConfig by method, and the list
 * (event_invoke_config.c). */
void gl_api_event_invoke_config(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);
void gl_api_list_event_invoke_configs(gl_api_t *api, gl_http_req_t *req,
                                      const gl_api_route_t *rt);

/* Versions (versions.c) and aliases (aliases.c). The alias name is rt->param, the raw
 * (percent-encoded) last path segment. */
void gl_api_publish_version(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);
void gl_api_list_versions(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);
void gl_api_create_alias(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);
void gl_api_list_aliases(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);
void gl_api_get_alias(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);
void gl_api_update_alias(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);
void gl_api_delete_alias(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);

/* Code uploads (code_upload.c): unpacked on libuv's work queue, stored and answered on the
 * loop. GL_API_ZIPPED_MAX is Lambda's direct-upload limit. */
#define GL_API_ZIPPED_MAX 52428800u
typedef struct gl_api_upload gl_api_upload_t;
/** Unpack b64 (a string of body, which the upload keeps a reference to) into a new code
 *  directory of cfg->name, then store cfg (moved in; *cfg is zeroed) and reply status (201 or
 *  200), or the failure in Lambda's words. Replies later, or at once on failure to start. */
void gl_api_upload_start(gl_api_t *api, gl_http_req_t *req, json_t *body, const char *b64,
                         size_t b64_len, gl_fn_config_t *cfg, int status);
/** Whether an upload of function name is in progress. */
int gl_api_upload_in_progress(const gl_api_t *api, const char *name);
/** -1 after replying 409 ResourceConflictException ("An update is in progress") when an
 *  upload of name is in progress, else 0. */
int gl_api_upload_conflict(gl_api_t *api, gl_http_req_t *req, const char *name);
/** gl_api_start: replaced code directories are deleted on the work queue from now on. */
void gl_api_code_removal_start(gl_api_t *api);
/** gl_api_close: cancel the uploads not started yet (the others finish, storing nothing), and
 *  delete replaced code directories at once again. */
void gl_api_uploads_cancel(gl_api_t *api);
/** Free api and run its on_closed once it is closed and no upload is left (router.c). */
void gl_api_maybe_free(gl_api_t *api);
/** Remove an upload's code directory, its zip, and the function's directory if now empty. */
void gl_api_discard_code(const char *code_dir);
/** Set cfg's RevisionId and LastModified (now). */
void gl_api_stamp(gl_fn_config_t *cfg, const char *revision_id);
/** Store cfg (moved in) and answer status with the configuration, or the version published
 *  from it when publish is set; on failure remove new code. req NULL: store only. */
void gl_api_put_and_reply(gl_api_t *api, gl_http_req_t *req, gl_fn_config_t *cfg, int status,
                          int new_code, int publish);

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
