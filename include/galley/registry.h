/* SPDX-License-Identifier: MIT */
/*
 * registry.h: every function the daemon knows, by name and by template logical id, and the
 * state dir that makes created functions survive a restart.
 *
 * State dir layout: <state>/functions/<name>/function.json (the configuration and the name
 * of the current code directory), <state>/functions/<name>/code-<revision>/ (unpacked) and
 * <state>/functions/<name>/code-<revision>.zip (as uploaded). Every upload gets a new
 * directory, so a running snapshot's code is never overwritten; a retired snapshot deletes
 * its directory when its last reference goes. Writes are atomic (write, fsync, rename).
 * The registry holds one reference on each current snapshot; replacing or removing one calls
 * the listener so the scheduler can retire environments of the old snapshot.
 */
#ifndef GALLEY_REGISTRY_H
#define GALLEY_REGISTRY_H

#include <stddef.h>

#include "galley/err.h"
#include "galley/fn.h"

typedef struct gl_registry gl_registry_t;

typedef struct gl_registry_listener {
    /** fn is no longer current (updated: new_fn is its replacement; deleted: new_fn is NULL).
     *  The registry drops its reference after this returns. */
    void (*on_retire)(gl_fn_t *old_fn, gl_fn_t *new_fn, void *data);
    void *data;
} gl_registry_listener_t;

typedef struct gl_registry_opts {
    const char *state_dir; /* created when missing */
    const char *region;
    const char *account_id;
} gl_registry_opts_t;

/** Open the state dir and load the functions persisted there (a corrupt entry is logged and
 *  skipped, never fatal). */
int gl_registry_open(gl_registry_t **out, const gl_registry_opts_t *opts, gl_err_t *err);
void gl_registry_set_listener(gl_registry_t *r, const gl_registry_listener_t *l);
/** Close: drops the registry's references (listener not called). */
void gl_registry_free(gl_registry_t *r);

const char *gl_registry_region(const gl_registry_t *r);
const char *gl_registry_account(const gl_registry_t *r);

/** Add a function from a template (not persisted). Takes ownership of *cfg.
 *  -EEXIST if the name or logical id is taken. */
int gl_registry_add_template(gl_registry_t *r, gl_fn_config_t *cfg, const char *logical_id,
                             gl_err_t *err);

/** Current snapshot by FunctionName or template logical id; borrowed (take a ref to keep). */
gl_fn_t *gl_registry_find(gl_registry_t *r, const char *name);

/** Functions sorted by name (borrowed pointers, array malloc'd by the callee). */
int gl_registry_list(gl_registry_t *r, gl_fn_t ***out, size_t *n);

/**
 * Store a new or replaced function. cfg ownership moves in. For a created function the code
 * directory must already be in place under the state dir. Persists function.json, swaps the
 * snapshot, calls on_retire for the old one. *out (borrowed) is the new snapshot.
 */
int gl_registry_put(gl_registry_t *r, gl_fn_config_t *cfg, gl_fn_t **out, gl_err_t *err);
/** Remove (and delete its state dir files). -ENOENT when unknown. Calls on_retire. */
int gl_registry_remove(gl_registry_t *r, const char *name, gl_err_t *err);

/** "<state>/functions/<name>", malloc'd. */
char *gl_registry_fn_dir(const gl_registry_t *r, const char *name);
/** "arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]" into out. */
void gl_registry_fn_arn(const gl_registry_t *r, const char *name, const char *qualifier, char *out,
                        size_t outlen);

/* ---- Added by the registry module: paths, runtimes, request validation, JSON shapes ---- */

/** "<state>/functions/<name>/code-<revision_id>", malloc'd (NULL on ENOMEM). The directory
 *  an upload is unpacked into; its zip is stored next to it (gl_registry_code_zip_path). */
char *gl_registry_new_code_dir(const gl_registry_t *r, const char *name, const char *revision_id);
/** "<code_dir>.zip", malloc'd: where the uploaded zip of a created function is kept. */
char *gl_registry_code_zip_path(const char *code_dir);

typedef enum gl_runtime_class {
    GL_RUNTIME_SUPPORTED,  /* galley runs it (python3.9+, nodejs18.x+, provided.al2/al2023) */
    GL_RUNTIME_OTHER,      /* Lambda accepts it but galley has no runtime for it (java, ...) */
    GL_RUNTIME_DEPRECATED, /* Lambda no longer accepts it for create/update (python3.7, go1.x) */
    GL_RUNTIME_UNKNOWN,    /* not a Lambda runtime identifier at all */
} gl_runtime_class_t;

gl_runtime_class_t gl_runtime_classify(const char *runtime);

/**
 * Validate a CreateFunction (is_update 0) or UpdateFunctionConfiguration (is_update 1) JSON
 * body into cfg with Lambda's errors. For create, cfg must start zeroed; FunctionName and Code
 * are checked for presence only (the caller parses the name and stores the code), and the
 * defaults are applied. For update, cfg holds a copy of the current configuration and only
 * the members present change (Environment replaces the variables whole).
 * Returns 0, or -EINVAL with aerr set (cfg then holds partial changes: free it).
 */
int gl_fn_config_from_request(const json_t *body, gl_fn_config_t *cfg, int is_update,
                              gl_aws_error_t *aerr);

/**
 * The code source of a CreateFunction "Code" object or an UpdateFunctionCode body: only
 * ZipFile is supported. *zip_b64 (borrowed from obj) and *b64_len receive the base64 text.
 * Returns 0 or -EINVAL with aerr set (S3Bucket/S3Key/ImageUri, missing, not a string).
 */
int gl_fn_code_from_request(const json_t *obj, const char **zip_b64, size_t *b64_len,
                            gl_aws_error_t *aerr);

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
 * On failure returns -EINVAL and fills aerr (Lambda's exact wording) for the caller;
 * a region or account that is not ours is GL_AWS_RESOURCE_NOT_FOUND.
 */
int gl_registry_parse_fn_name(const char *param, const char *query_qualifier, const char *region,
                              const char *account, size_t max_len, gl_fn_ref_t *out,
                              gl_aws_error_t *aerr);

/** The FunctionConfiguration Lambda returns for fn ($LATEST view); new reference or NULL. */
json_t *gl_fn_config_json(const gl_registry_t *r, const gl_fn_t *fn);

/** function.json content for cfg, whose code_dir must be a child of fn_dir; new reference. */
json_t *gl_fn_config_to_state(const gl_fn_config_t *cfg, const char *fn_dir);
/** Rebuild cfg (zeroed by the callee) from function.json; -EINVAL with err on bad content. */
int gl_fn_config_from_state(const json_t *state, const char *fn_dir, gl_fn_config_t *cfg,
                            gl_err_t *err);

/* ---- Versions and aliases (versions.c, aliases.c, alias_request.c) ----
 *
 * A published version is an immutable gl_fn_t snapshot with version "N", numbered 1, 2, ...
 * per function and never reused. It shares $LATEST's code directory at the time it was
 * published: a code directory is marked for removal (remove_code_on_free) only when neither
 * $LATEST nor any version still uses it. Created functions persist versions in
 * <state>/functions/<name>/versions/<N>.json, the next number in versions/next.json and
 * aliases in aliases/<alias>.json; template functions keep them in memory only.
 * Errors that a client sees come back in a gl_aws_error_t (Lambda's error name and message).
 */

#define GL_ALIAS_NAME_MAX 128

typedef struct gl_alias {
    char *name;             /* 1-128 of [a-zA-Z0-9-_], not all digits */
    char *function_version; /* "$LATEST" or "N" */
    char *description;      /* never NULL once stored ("") */
    char *extra_version;    /* RoutingConfig's one AdditionalVersionWeights key, or NULL */
    double extra_weight;    /* 0.0..1.0: share of invokes that run extra_version */
    char *revision_id;      /* UUID, new on every change */
} gl_alias_t;

void gl_alias_free(gl_alias_t *a);

/** $LATEST for version NULL, "" or "$LATEST"; published version "N" otherwise. Borrowed;
 *  NULL when unknown. */
gl_fn_t *gl_registry_find_version(gl_registry_t *r, const char *name, const char *version);
/** Alias of a function; borrowed (valid until the alias changes); NULL when unknown. */
const gl_alias_t *gl_registry_find_alias(gl_registry_t *r, const char *name, const char *alias);
/**
 * The snapshot a qualifier ("", "$LATEST", "N" or an alias) runs. For an alias with routing,
 * route in [0,1) picks the additional version when route < its weight; route < 0 always
 * gives the alias's FunctionVersion. Borrowed; NULL when the function or qualifier is unknown.
 */
gl_fn_t *gl_registry_resolve(gl_registry_t *r, const char *name, const char *qualifier,
                             double route);
/** A uniform double in [0,1) from the kernel's random source, for gl_registry_resolve. */
double gl_registry_route_draw(void);

/**
 * PublishVersion: snapshot $LATEST of name as the next version. code_sha256 and revision_id
 * (may be NULL) are preconditions (400 InvalidParameterValueException / 412); description
 * (may be NULL) overrides $LATEST's. When $LATEST has not changed since the newest version
 * was published (and description is NULL or the same), that version is returned and
 * *created is 0. *out is borrowed. Returns 0 or -EINVAL/-ENOENT/-EIO with aerr set.
 */
int gl_registry_publish(gl_registry_t *r, const char *name, const char *code_sha256,
                        const char *revision_id, const char *description, gl_fn_t **out,
                        int *created, gl_aws_error_t *aerr);
/** $LATEST first, then versions 1..n ascending (borrowed pointers, array malloc'd). */
int gl_registry_list_versions(gl_registry_t *r, const char *name, gl_fn_t ***out, size_t *n);
/** DeleteFunction with Qualifier=N: 404 when unknown, 409 when an alias routes to it; its
 *  snapshot goes to on_retire(old, NULL). */
int gl_registry_delete_version(gl_registry_t *r, const char *name, const char *version,
                               gl_aws_error_t *aerr);

/**
 * Parse a CreateAlias (is_update 0) or UpdateAlias (is_update 1) body into a (zeroed by the
 * callee). Type errors are InvalidRequestContentException, schema errors one
 * ValidationException (Name only for create; FunctionVersion, Description, weights' keys
 * and range). For update, members absent stay NULL and *has_routing says whether
 * RoutingConfig was given (an empty one clears the routing). Returns 0 or -EINVAL.
 */
int gl_alias_from_request(const json_t *body, int is_update, gl_alias_t *a, int *has_routing,
                          gl_aws_error_t *aerr);
/** An alias name from a URL: 1-128 of [a-zA-Z0-9-_], not all digits; else ValidationException. */
int gl_alias_name_check(const char *name, gl_aws_error_t *aerr);

/**
 * CreateAlias (create 1: 409 if it exists) or UpdateAlias (create 0: 404 if missing, 412 when
 * expect_revision is given and differs; NULL members of *a keep their value, has_routing 0
 * keeps the routing). Checks Lambda's rules (versions exist, one additional version, not the
 * same as FunctionVersion, no $LATEST with routing), stamps a new RevisionId, persists.
 * *a's strings are copied. *out is borrowed.
 */
int gl_registry_put_alias(gl_registry_t *r, const char *name, const gl_alias_t *a, int create,
                          int has_routing, const char *expect_revision, const gl_alias_t **out,
                          gl_aws_error_t *aerr);
/** DeleteAlias. Returns 0 (also when the alias does not exist), -ENOENT for an unknown
 *  function, -EIO on a storage failure (aerr set). */
int gl_registry_delete_alias(gl_registry_t *r, const char *name, const char *alias,
                             gl_aws_error_t *aerr);
/** Aliases of name sorted by alias name (borrowed pointers, array malloc'd). */
int gl_registry_list_aliases(gl_registry_t *r, const char *name, const gl_alias_t ***out,
                             size_t *n);

/** The FunctionConfiguration of fn as addressed with qualifier (NULL: "$LATEST" or the
 *  version's number): FunctionArn carries ":<qualifier>" unless it is NULL for $LATEST. */
json_t *gl_fn_config_json_qualified(const gl_registry_t *r, const gl_fn_t *fn,
                                    const char *qualifier);
/** The AliasConfiguration Lambda returns (new reference). */
json_t *gl_alias_json(const gl_registry_t *r, const char *fn_name, const gl_alias_t *a);

/*
 * Concurrency settings of a function (all its versions), kept in
 * <state>/functions/<name>/concurrency.json for created functions, in memory for template ones.
 */
/** Reserved concurrency, or -1 when none is set. */
int gl_registry_reserved(gl_registry_t *r, const char *name);
/** Set (n >= 0) or remove (n < 0) the reservation; -ENOENT for an unknown function. */
int gl_registry_set_reserved(gl_registry_t *r, const char *name, int n, gl_err_t *err);
/** Sum of every function's reservation. */
long gl_registry_total_reserved(gl_registry_t *r);
/** The value an operation stored under key for function name (borrowed), or NULL. */
const json_t *gl_registry_setting(gl_registry_t *r, const char *name, const char *key);
/**
 * Store value (stolen; NULL removes key) under key for function name, persisted for created
 * functions and dropped with the function. -ENOENT for an unknown function; on a failed write
 * the previous value stays and the error is returned.
 */
int gl_registry_set_setting(gl_registry_t *r, const char *name, const char *key, json_t *value,
                            gl_err_t *err);
/** Provisioned concurrency configs of name: a borrowed JSON object qualifier ->
 *  {"Requested": n, "LastModified": "..."}, or NULL when there is none. */
const json_t *gl_registry_provisioned(gl_registry_t *r, const char *name);
/** Set (n >= 1) or remove (n <= 0) the config of one qualifier; -ENOENT for an unknown
 *  function (or, when removing, a qualifier without a config). */
int gl_registry_set_provisioned(gl_registry_t *r, const char *name, const char *qualifier, int n,
                                gl_err_t *err);

#endif
