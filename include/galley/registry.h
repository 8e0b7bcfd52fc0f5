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
const char *gl_registry_state_dir(const gl_registry_t *r);

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
 * Returns 0, or -EINVAL with *etype and msg set (cfg then holds partial changes: free it).
 */
int gl_fn_config_from_request(const json_t *body, gl_fn_config_t *cfg, int is_update,
                              gl_aws_err_t *etype, char *msg, size_t msglen);

/**
 * The code source of a CreateFunction "Code" object or an UpdateFunctionCode body: only
 * ZipFile is supported. *zip_b64 (borrowed from obj) and *b64_len receive the base64 text.
 * Returns 0 or -EINVAL with *etype and msg (S3Bucket/S3Key/ImageUri, missing, not a string).
 */
int gl_fn_code_from_request(const json_t *obj, const char **zip_b64, size_t *b64_len,
                            gl_aws_err_t *etype, char *msg, size_t msglen);

/** The FunctionConfiguration Lambda returns for fn ($LATEST view); new reference or NULL. */
json_t *gl_fn_config_json(const gl_registry_t *r, const gl_fn_t *fn);

/** function.json content for cfg, whose code_dir must be a child of fn_dir; new reference. */
json_t *gl_fn_config_to_state(const gl_fn_config_t *cfg, const char *fn_dir);
/** Rebuild cfg (zeroed by the callee) from function.json; -EINVAL with err on bad content. */
int gl_fn_config_from_state(const json_t *state, const char *fn_dir, gl_fn_config_t *cfg,
                            gl_err_t *err);

#endif
