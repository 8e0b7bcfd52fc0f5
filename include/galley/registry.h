/* SPDX-License-Identifier: MIT */
/*
 * registry.h: every function the daemon knows, by name and by template logical id, and the
 * state dir that makes created functions survive a restart.
 *
 * State dir layout: <state>/functions/<name>/function.json (the FunctionConfiguration we
 * return, plus private members), <state>/functions/<name>/code/ (unpacked),
 * <state>/functions/<name>/code.zip (as uploaded). Writes are atomic (write, fsync, rename).
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

#endif
