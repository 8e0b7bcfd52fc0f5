/* SPDX-License-Identifier: MIT */
/*
 * fn.h: a function's configuration, as the template loader, the registry, the control plane
 * and the scheduler share it.
 *
 * A gl_fn_t is an immutable, reference-counted snapshot of one function (one version later):
 * an update makes a new snapshot and the registry swaps it in, while invokes and environments
 * that hold the old one finish on it. Only `sched` is mutable, and only the scheduler touches it.
 */
#ifndef GALLEY_FN_H
#define GALLEY_FN_H

#include <jansson.h>
#include <stdint.h>

#define GL_FN_DEFAULT_TIMEOUT 3
#define GL_FN_DEFAULT_MEMORY 128
#define GL_FN_DEFAULT_EPHEMERAL 512

typedef struct gl_fn_config {
    char *name;         /* FunctionName, 1-64 of [A-Za-z0-9-_] */
    char *runtime;      /* "python3.12", "nodejs20.x", "provided.al2023", ... */
    char *handler;      /* may be NULL for provided runtimes */
    char *role;         /* may be NULL for template functions */
    char *description;  /* never NULL once defaults applied ("") */
    int timeout_s;      /* 1..900 */
    int memory_mb;      /* 128..10240 */
    int ephemeral_mb;   /* 512..10240 */
    json_t *env_vars;   /* owned object name -> string value, or NULL */
    char *code_dir;     /* absolute path of the unpacked code (or a template's local dir) */
    char *code_sha256;  /* base64 SHA-256 of the zip ("" for a template's directory) */
    int64_t code_size;  /* zip bytes (0 for a directory) */
    char *last_modified; /* "2020-04-10T19:06:32.563+0000" */
    char *revision_id;   /* UUID, new on every change */
    json_t *extra;       /* owned object: other FunctionConfiguration members kept verbatim
                            (TracingConfig, Layers, Architectures, ...), or NULL */
} gl_fn_config_t;

typedef struct gl_fn {
    gl_fn_config_t cfg;   /* immutable after publish */
    char *logical_id;     /* template logical id, or NULL */
    char *version;        /* "$LATEST" for now */
    int from_template;    /* code_dir is the user's own directory: never delete it */
    int remove_code_on_free; /* set by the registry when a retired snapshot's code directory is
                                no longer shared: the last unref deletes cfg.code_dir */
    int refs;
    /* private to the scheduler */
    void *sched;
    int retired;          /* no longer current: its environments stop after their invoke */
} gl_fn_t;

/** Set the documented defaults on unset members (timeout, memory, storage, description). */
void gl_fn_config_defaults(gl_fn_config_t *c);
/** Deep copy; 0 or -ENOMEM. */
int gl_fn_config_copy(gl_fn_config_t *dst, const gl_fn_config_t *src);
void gl_fn_config_free(gl_fn_config_t *c);

/** New snapshot with refs = 1; takes ownership of *cfg (zeroed on success). NULL on ENOMEM. */
gl_fn_t *gl_fn_new(gl_fn_config_t *cfg, const char *logical_id, int from_template);
gl_fn_t *gl_fn_ref(gl_fn_t *fn);
/** Drop a reference; the last one frees the snapshot (the scheduler must have detached first). */
void gl_fn_unref(gl_fn_t *fn);
/**
 * Who removes the code directory of a snapshot freed with remove_code_on_free: remove(dir,
 * arg) takes the malloc'd dir and deletes it later (off the loop thread); NULL (the default)
 * deletes it at once. The API sets one while it runs (a directory of 100,000 files takes
 * seconds to delete) and clears it when it closes.
 */
void gl_fn_set_code_remover(void (*remove)(char *dir, void *arg), void *arg);

#endif
