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
#include "galley/archive.h"
#include "galley/http.h"
#include "galley/registry.h"

struct gl_api {
    uv_loop_t *loop;
    gl_registry_t *reg;
    struct gl_sched *sched;
    struct gl_async *async;
    gl_http_server_t *http;
    struct gl_api_auth *auth;   /* who may call (auth.c) */
    char *logs_root; /* <state>/logs, read by the CloudWatch Logs operations; NULL: none */
    json_t *csc;     /* code signing configs by id (code_signing.c) */
    char *csc_path;  /* <state>/code-signing/configs.json; NULL: kept in memory only */
    struct gl_web *web; /* Function URL listeners (include/galley/web.h) */
    void (*on_closed)(void *arg);
    void *on_closed_arg;
    struct gl_durable *durable;    /* durable executions (include/galley/durable.h) */
    struct gl_api_job *jobs;       /* work on the work queue (offload.c) */
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
#define GL_API_OP_CONTROL 4u /* galley's control API: needs the control token (auth.c) */
#define GL_API_OP_STREAM 8u /* InvokeWithResponseStream: the answer is an event stream */

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
    const char *param;    /* the raw parameter ending the path ({Name}, {Control}): the last
                           * segment, so NUL-terminated; NULL when none */
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

/* Who may call (auth.c): the control token of /_galley rows, --auth sigv4 for Lambda's. */
/** Copy the token and load the credentials of opts. 0, or a negative errno with err set. */
int gl_api_auth_open(gl_api_t *api, const gl_api_opts_t *opts, gl_err_t *err);
void gl_api_auth_free(gl_api_t *api);
/** 0 when req carries the control token, else -1 after replying 403 AccessDeniedException. */
int gl_api_check_control(gl_api_t *api, gl_http_req_t *req);
/** 1 when --auth sigv4 is on. */
int gl_api_sigv4_enabled(const gl_api_t *api);
/** Verify req's SigV4 signature (the body hashed off the loop thread when large), then call
 *  next(api, req), now or later; a missing or bad signature gets Lambda's 403 instead. */
void gl_api_verify_sigv4(gl_api_t *api, gl_http_req_t *req,
                         void (*next)(gl_api_t *api, gl_http_req_t *req));

/** A Function URL's AWS_IAM check under --auth sigv4 (the web module's verifier): 0 when req
 *  is signed by a configured key, else -1. The body is hashed on the loop (at most 6 MB). */
int gl_api_url_verify(void *arg, const gl_http_req_t *req);

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

/* Durable executions (durable.c) and the Invoke of a durable function (durable_invoke.c). */
void gl_api_checkpoint_durable(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);
void gl_api_get_durable_state(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);
void gl_api_get_durable(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);
void gl_api_get_durable_history(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);
void gl_api_stop_durable(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);
void gl_api_list_durable(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);
void gl_api_durable_callback(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);
void gl_api_galley_durable(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);
/** Invoke of fn when it is durable: 1 after taking the request over, 0 when fn is not. */
int gl_api_invoke_durable(gl_api_t *api, gl_http_req_t *req, const gl_fn_ref_t *ref, gl_fn_t *fn,
                          const char *type);

/* Get/PutFunctionRecursionConfig (recursion_config.c). */
void gl_api_get_recursion_config(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);
void gl_api_put_recursion_config(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);

/* Function URLs (function_url.c): Create/Get/Update/Delete by method, the list; a deleted
 * alias or function takes its URL along (key: the alias, or "$LATEST"). */
void gl_api_function_url(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);
void gl_api_list_function_urls(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);
int gl_api_function_url_forget(gl_api_t *api, const char *fn_name, const char *key);
void gl_api_function_urls_restore(gl_api_t *api);

/* TagResource, UntagResource, ListTags (tags.c); the Tags of CreateFunction/GetFunction. */
void gl_api_tag_resource(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);
void gl_api_untag_resource(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);
void gl_api_list_tags(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);
/** Check a Tags object against Lambda's limits, counting those not in existing (may be NULL)
 *  on top of have tags already set; 0 or -EINVAL with aerr set. */
int gl_api_tags_check(const json_t *tags, size_t have, const json_t *existing,
                      gl_aws_error_t *aerr);
/** Store a function's tags (stolen; NULL or {} removes them). */
int gl_api_tags_store(gl_api_t *api, const char *fn_name, json_t *tags, gl_err_t *err);
/** A function's tags (borrowed), or NULL when it has none. */
const json_t *gl_api_tags_of(gl_api_t *api, const char *fn_name);

/* AddPermission, GetPolicy, RemovePermission (policy.c, statements built by policy_doc.c). */
void gl_api_add_permission(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);
void gl_api_get_policy(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);
void gl_api_remove_permission(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);
/** AddPermission's statement for body on resource (new reference in *out), or -EINVAL with
 *  aerr set (ValidationException for the schema, InvalidParameterValueException for a
 *  principal of no known form). */
int gl_api_policy_statement(const json_t *body, const char *resource, json_t **out,
                            gl_aws_error_t *aerr);
/** Whether s matches the POSIX extended regular expression re (anchor it yourself). */
int gl_api_matches(const char *re, const char *s);
/** The policy document {"Version","Id","Statement"} as GetPolicy's string (malloc'd), or NULL. */
char *gl_api_policy_document(const json_t *statements);
/** The function ref names and the key of its qualifier ("$LATEST" for none, else the version
 *  or, with allow_alias, the alias), or NULL after replying 404. */
gl_fn_t *gl_api_qualified_target(gl_api_t *api, gl_http_req_t *req, const gl_fn_ref_t *ref,
                                 int allow_alias, const char **key);
/** A deleted version or alias takes its policy and runtime management config along. */
void gl_api_forget_qualifier(gl_api_t *api, const char *fn_name, const char *qualifier);

/* Get/PutRuntimeManagementConfig (runtime_management.c). */
void gl_api_get_runtime_management(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);
void gl_api_put_runtime_management(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);

/* Layers (layers.c, layer_policy.c): the nine layer operations. */
typedef struct gl_api_layer_target {
    char name[141];  /* the layer's name (a layer ARN in the path reduced to it) */
    long version;    /* {VersionNumber}, 0 when the path has none */
    int foreign;     /* an ARN of another region or account: nothing there locally */
    const char *sid; /* the raw {StatementId}, or NULL */
} gl_api_layer_target_t;
/** Read {LayerName} (and {VersionNumber}, {StatementId}) of req's path; -1 after replying. */
int gl_api_layer_target(gl_api_t *api, gl_http_req_t *req, gl_api_layer_target_t *t);
/** The record of the version the path names (new reference), or NULL after replying. */
json_t *gl_api_layer_record(gl_api_t *api, gl_http_req_t *req, gl_api_layer_target_t *t);
/** -1 after replying 400 when name is a layer of the served template (read-only), else 0. */
int gl_api_refuse_template_layer(gl_api_t *api, gl_http_req_t *req, const char *name);
void gl_api_publish_layer_version(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);
void gl_api_list_layer_versions(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);
void gl_api_list_layers(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);
void gl_api_get_layer_version(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);
void gl_api_delete_layer_version(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);
void gl_api_add_layer_permission(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);
void gl_api_get_layer_policy(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);
void gl_api_remove_layer_permission(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);
/** Lambda's error for an upload the archive module refused: the type, and msg filled ("Could
 *  not store the <kind>'s code: ..." for a local failure, which the caller logs). Any thread. */
gl_aws_err_t gl_api_archive_message(const gl_archive_result_t *res, const gl_err_t *err,
                                    const char *kind, char *msg, size_t msglen);
/* Code signing configs (code_signing.c) and a function's link to one (code_signing_fn.c). */
#define GL_API_CSC_SETTING "CodeSigningConfigArn" /* the registry setting of the link */
int gl_api_csc_open(gl_api_t *api, const char *state_dir, gl_err_t *err);
void gl_api_csc_free(gl_api_t *api);
/** The stored id of the config arn names, or NULL after replying a ValidationException for a
 *  malformed ARN or not_found (GL_AWS_RESOURCE_NOT_FOUND or _CODE_SIGNING_CONFIG_NOT_FOUND). */
const char *gl_api_csc_id(gl_api_t *api, gl_http_req_t *req, const char *arn, int not_found);
/** CreateFunction's CodeSigningConfigArn: 0 when absent or a known config, else -1 after
 *  replying (ValidationException, 404 CodeSigningConfigNotFoundException). */
int gl_api_csc_check_create(gl_api_t *api, gl_http_req_t *req, const json_t *body);
/** A config's tags (borrowed; NULL: none), and their replacement (stolen; NULL or {}: none). */
const json_t *gl_api_csc_tags(gl_api_t *api, const char *id);
int gl_api_csc_set_tags(gl_api_t *api, const char *id, json_t *tags, gl_err_t *err);
void gl_api_create_csc(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);
void gl_api_get_csc(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);
void gl_api_update_csc(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);
void gl_api_delete_csc(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);
void gl_api_list_cscs(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);
void gl_api_list_csc_functions(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);
void gl_api_put_function_csc(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);
void gl_api_get_function_csc(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);
void gl_api_delete_function_csc(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);

/* Invoke API (invoke.c): Invoke, and InvokeAsync (rows flagged GL_API_OP_EVENT). */
void gl_api_invoke(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);
struct gl_invoke;
/* InvokeWithResponseStream's answer (invoke_stream.c): attach before submitting (0, or -1 out
 * of memory), detach when the submit was refused. */
int gl_api_stream_attach(struct gl_invoke *inv, gl_http_req_t *req);
void gl_api_stream_detach(struct gl_invoke *inv, gl_http_req_t *req);

/* Control plane (functions.c; ListFunctions in list_functions.c): bodies are JSON, replies
 * are JSON or AWS errors. */
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

/* Work on libuv's work queue (offload.c): code uploads and layer publishes are decoded,
 * hashed and unpacked there, stored and answered on the loop. GL_API_ZIPPED_MAX is Lambda's
 * direct-upload limit. */
#define GL_API_ZIPPED_MAX 52428800u
typedef struct gl_api_job gl_api_job_t;
/** One piece of work: embedded first in its owner, which sets kind, name, run and done. */
struct gl_api_job {
    uv_work_t work;
    gl_api_t *api;
    gl_http_req_t *req;   /* the waiting request; NULL once its client has gone */
    gl_api_job_t *next;   /* api->jobs */
    const char *kind;     /* a static string compared by address: what name names */
    const char *name;     /* borrowed from the owner */
    atomic_int stop;      /* set by gl_api_jobs_cancel: an unzip gives up */
    /** On the work queue's thread; touches only the owner's fields. */
    void (*run)(gl_api_job_t *job);
    /** On the loop once run has ended (or was cancelled: cancelled 1, run never ran);
     *  stopping: the daemon is closing, store nothing. Replies (gl_api_job_take_req) and
     *  frees the owner. */
    void (*done)(gl_api_job_t *job, int stopping, int cancelled);
};
/** Queue job (kind, name, run, done set) and hold req for its reply. 0, or a libuv error
 *  with nothing queued (the caller replies and frees). */
int gl_api_job_start(gl_api_t *api, gl_api_job_t *job, gl_http_req_t *req);
/** The waiting request, detached from the job (NULL when its client has gone). */
gl_http_req_t *gl_api_job_take_req(gl_api_job_t *job);
/** Reply type/msg to the waiting request, if any. */
void gl_api_job_reply_error(gl_api_job_t *job, gl_aws_err_t type, const char *msg);
/** Whether a job of kind for name is queued or running. */
int gl_api_job_busy(const gl_api_t *api, const char *kind, const char *name);
/** Cancel the jobs not started yet and ask the running ones to stop (gl_api_close). */
void gl_api_jobs_cancel(gl_api_t *api);
/** Content.ZipFile to bytes (*zip malloc'd) with its CodeSha256 (sha may be NULL): 0, or a
 *  negative errno with aerr set (not base64, over GL_API_ZIPPED_MAX). Safe on any thread. */
int gl_api_zip_decode(const char *b64, size_t b64_len, unsigned char **zip, size_t *len,
                      char sha[45], gl_aws_error_t *aerr);

/* Code uploads (code_upload.c), jobs of kind "function". */
typedef struct gl_api_upload gl_api_upload_t;
/** The kind of the jobs that change a function (its name): uploads and config_layers.c. */
extern const char gl_api_function_job[];
/** Unpack b64 (a string of body, which the upload keeps a reference to) into a new code
 *  directory of cfg->name, then store cfg (moved in; *cfg is zeroed) and reply status (201 or
 *  200), or the failure in Lambda's words. Replies later, or at once on failure to start. */
void gl_api_upload_start(gl_api_t *api, gl_http_req_t *req, json_t *body, const char *b64,
                         size_t b64_len, gl_fn_config_t *cfg, int status);
/** UpdateFunctionConfiguration with layers (config_layers.c): plan's walk and merge on the work
 *  queue, then cfg (moved in with plan; both zeroed) stamped, stored and answered 200, or the
 *  refusal. Replies later, or at once on failure to start. */
struct gl_layers_plan;
void gl_api_config_layers_start(gl_api_t *api, gl_http_req_t *req, gl_fn_config_t *cfg,
                                struct gl_layers_plan *plan);
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
 *  from it when publish is set; on failure remove new code. req NULL: store only.
 *  create_body: CreateFunction's body, whose Tags and CodeSigningConfigArn are stored with the
 *  new function; NULL for the other operations. */
void gl_api_put_and_reply(gl_api_t *api, gl_http_req_t *req, gl_fn_config_t *cfg, int status,
                          int new_code, int publish, const json_t *create_body);

/* Shared by the control-plane files (functions.c). */
void gl_api_reply_json(gl_http_req_t *req, int status, json_t *body);
/** An optional string member of body into *out (NULL when absent or null): 0, or -1 after
 *  replying 400 InvalidRequestContentException when it is not a string. */
int gl_api_opt_string(gl_http_req_t *req, const json_t *body, const char *key, const char **out);
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

/** The $LATEST of the function called name (any of its names), or NULL after replying 404
 *  ResourceNotFoundException "Function not found: <unqualified ARN>". */
gl_fn_t *gl_api_find_function(gl_api_t *api, gl_http_req_t *req, const char *name);
/** Resolve ref to the current snapshot, or reply 404 ResourceNotFoundException and return NULL.
 *  Qualifier "" and "$LATEST" resolve to $LATEST, "N" to that version, an alias to its
 *  FunctionVersion. */
gl_fn_t *gl_api_resolve(gl_api_t *api, gl_http_req_t *req, const gl_fn_ref_t *ref);
/** As gl_api_resolve, but an alias with RoutingConfig picks its additional version with the
 *  configured probability (Invoke). */
gl_fn_t *gl_api_resolve_routed(gl_api_t *api, gl_http_req_t *req, const gl_fn_ref_t *ref);

/* CloudWatch Logs (cwlogs.c): POST / dispatched by X-Amz-Target to the gl_cwl_ operations. */
void gl_api_cwlogs(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt);
#include "galley/logs.h"
#include "galley/logstore.h"
#define GL_CWL_INVALID_PARAMETER "InvalidParameterException"
#define GL_CWL_NOT_FOUND "ResourceNotFoundException"
#define GL_CWL_SERIALIZATION "SerializationException"
#define GL_CWL_UNKNOWN_OPERATION "UnknownOperationException"
#define GL_CWL_UNAVAILABLE "ServiceUnavailableException"
/** One Logs request, as an operation sees it on a worker thread: everything it may read is
 *  here (it touches no daemon state). It answers exactly once, with gl_cwl_reply or
 *  gl_cwl_error, and cwlogs.c sends that answer from the loop thread. */
typedef struct gl_cwl {
    json_t *in;        /* the request's JSON object */
    char *root;        /* <state>/logs */
    char region[32], account[16];
    /* the answer */
    int status;
    char *out;         /* the JSON body, malloc'd */
    const char *error_type;
} gl_cwl_t;
void gl_cwl_describe_log_groups(gl_cwl_t *c);   /* cwlogs_describe.c */
void gl_cwl_describe_log_streams(gl_cwl_t *c);
void gl_cwl_get_log_events(gl_cwl_t *c);        /* cwlogs_events.c */
void gl_cwl_filter_log_events(gl_cwl_t *c);
/** Answer 200 with body (stolen). */
void gl_cwl_reply(gl_cwl_t *c, json_t *body);
/** Answer {"__type": type, "message": ...}: 400 (500 for GL_CWL_UNAVAILABLE). A later answer
 *  replaces an earlier one; the operations stop at the first. */
void gl_cwl_error(gl_cwl_t *c, const char *type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/** Optional members: absent or null leaves the default; a wrong JSON type replies
 *  SerializationException and returns -1. */
int gl_cwl_str(gl_cwl_t *c, const char *key, const char **out);
int gl_cwl_int(gl_cwl_t *c, const char *key, int64_t *out, int *present);
int gl_cwl_bool(gl_cwl_t *c, const char *key, int *out);
/** An integer member in [lo, hi] (hi 0: no upper bound), dflt when absent; a value out of
 *  range is added to v. -1 after replying (wrong type). */
int gl_cwl_range(gl_cwl_t *c, gl_violations_t *v, const char *key, int64_t lo, int64_t hi,
                 int64_t dflt, int64_t *out);
/** 0 when v is empty, else -1 after replying InvalidParameterException with its message. */
int gl_cwl_report(gl_cwl_t *c, gl_violations_t *v);
/** The log group of logGroupName / logGroupIdentifier: its directory (*gdir, malloc'd) and
 *  name; -1 after replying (both or neither given, no such group). */
int gl_cwl_group(gl_cwl_t *c, char **gdir, char *name, size_t len);
/** "arn:aws:logs:<region>:<account>:log-group:" followed by fmt. */
void gl_cwl_arn(gl_cwl_t *c, char *out, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/** The request's opaque nextToken decoded into out (*present 0 and out "" without one);
 *  -1 after replying for a bad token. */
int gl_cwl_next_token(gl_cwl_t *c, char *out, size_t len, int *present);
/** Set resp[key] to the opaque token for plain. */
void gl_cwl_token_set(json_t *resp, const char *key, const char *plain);

#endif
