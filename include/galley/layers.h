/* SPDX-License-Identifier: MIT */
/*
 * layers.h: Lambda layers: published layer versions kept by the registry, layer version ARNs,
 * and the one directory a function's layers are merged into and bound at /opt.
 *
 * State dir layout: <state>/layers/<name>/next.json (the number the next publish gets, so a
 * number is never reused), <state>/layers/<name>/<N>/layer.json (what GetLayerVersion shows,
 * the unpacked size and the version's permission statements), <N>/layer.zip (as uploaded) and
 * <N>/content/ (unpacked once). A function's layers are merged, in order, into
 * <state>/layers/.merged/<sha256 of the ARN list>/ with hard links (copies where a link is
 * refused), shared by every snapshot with the same list; the merge holds its own links, so a
 * deleted layer version's files stay for the function versions that still use them.
 */
#ifndef GALLEY_LAYERS_H
#define GALLEY_LAYERS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "galley/archive.h"
#include "galley/err.h"
#include "galley/fn.h"

struct gl_registry;

#define GL_LAYER_NAME_MAX 140
#define GL_LAYERS_MAX 5

/** A layer version ARN arn:<partition>:lambda:<region>:<account>:layer:<name>:<version>. */
typedef struct gl_layer_ref {
    char region[64];
    char account[13];
    char name[GL_LAYER_NAME_MAX + 1];
    long version; /* 0 when the ARN has none (a layer ARN) */
} gl_layer_ref_t;

/** Parse a layer ARN; versioned 1: the version is required, 0: it must be absent.
 *  0, or -EINVAL when arn does not match Lambda's pattern. */
int gl_layer_parse_arn(const char *arn, int versioned, gl_layer_ref_t *out);
/** A LayerName parameter (a name or an unversioned layer ARN) to a bare name (out holds
 *  GL_LAYER_NAME_MAX + 1). 0, or -EINVAL when it is neither. */
int gl_layer_parse_name(const char *param, char *out);

/** PublishLayerVersion: unpack zip as the next version of name. meta holds the request's
 *  Description, CompatibleRuntimes, CompatibleArchitectures, LicenseInfo (borrowed). *out
 *  (new reference) is the stored record. 0, or a negative errno with res/err saying why (the
 *  number taken is then never used). Safe on a work queue thread, several at once; once
 *  *stop (may be NULL) is set it ends with GL_ARCHIVE_CANCELLED. */
int gl_layer_publish(struct gl_registry *r, const char *name, const void *zip, size_t len,
                     const json_t *meta, const atomic_int *stop, json_t **out,
                     gl_archive_result_t *res, gl_err_t *err);
/** The stored record of name:version (new reference), NULL when unknown or deleted. */
json_t *gl_layer_get(struct gl_registry *r, const char *name, long version);
/** Replace the stored record (after a permission change). */
int gl_layer_save(struct gl_registry *r, const char *name, long version, const json_t *rec,
                  gl_err_t *err);
/** Records of name's versions, newest first (new reference; [] when none). */
json_t *gl_layer_versions(struct gl_registry *r, const char *name);
/** Names of layers with at least one version, sorted (new reference). */
json_t *gl_layer_names(struct gl_registry *r);
/** DeleteLayerVersion: 0 also when it never existed (Lambda answers 204 either way). */
int gl_layer_delete(struct gl_registry *r, const char *name, long version);
/** DeleteLayerVersion without the walk: the version's directory is renamed into
 *  <state>/layers/.trash, and *trash (malloc'd, or NULL when there was nothing) is for the
 *  caller to delete off the loop. 0 also when it never existed. */
int gl_layer_retire(struct gl_registry *r, const char *name, long version, char **trash);
/** Delete what gl_layer_retire moved and nobody deleted (a crash meanwhile). */
void gl_layer_trash_clear(struct gl_registry *r);
/** "arn:aws:lambda:<region>:<account>:layer:<name>[:<version>]" (version 0: none). */
void gl_layer_arn(const struct gl_registry *r, const char *name, long version, char *out,
                  size_t outlen);

/**
 * The Layers of cfg (cfg->extra "Layers", [{"Arn"}] as the request gave them) checked as
 * Lambda does (every version exists, no layer twice, code plus layers unpacked within 250 MB),
 * each CodeSize filled in, and the layers merged into their shared directory, which becomes
 * cfg->opt_dir. Three steps, so that no tree is walked on the loop:
 *  - gl_layers_plan, on the loop: the registry lookups;
 *  - gl_layers_prepare, on a work queue thread: the size of the code tree and the merge;
 *  - gl_layers_finish, on the loop: the versions are still there, and cfg->opt_dir is set.
 * A plan with n == 0 (no layers) needs no prepare. gl_layers_plan_free in every case.
 */
typedef struct gl_layers_plan {
    size_t n;                    /* layers named */
    char *dirs[GL_LAYERS_MAX];   /* each version's content directory */
    char *dest;                  /* the merged directory */
    uint64_t layer_bytes;        /* the versions' unpacked sizes */
    const atomic_int *stop;      /* once set, a merge in progress gives up */
    /* the result so far: a refusal of plan or prepare, answered by finish */
    int rc;
    gl_aws_error_t fail;
    char log_msg[512];           /* logged by finish (on the loop) when not empty */
} gl_layers_plan_t;

/** Look cfg's Layers up (cfg->opt_dir is cleared; CodeSize set in each entry). 0, or
 *  -EINVAL/-ENOMEM with aerr set, kept in p too (a caller may answer it after other checks).
 *  stop may be NULL. */
int gl_layers_plan(struct gl_registry *r, gl_fn_config_t *cfg, const atomic_int *stop,
                   gl_layers_plan_t *p, gl_aws_error_t *aerr);
/** Safe on any thread, touching only p and the trees: code_dir plus the layers within the
 *  limit, then the merge if not made yet. 0, or p->rc with p->fail (and p->log_msg) set. */
int gl_layers_prepare(gl_layers_plan_t *p, const char *code_dir);
/** On the loop after prepare: 0 with cfg->opt_dir set (NULL without layers), or -EINVAL/-EIO
 *  with aerr set (prepare's refusal, or a version deleted meanwhile). */
int gl_layers_finish(struct gl_registry *r, gl_layers_plan_t *p, gl_fn_config_t *cfg,
                     gl_aws_error_t *aerr);
void gl_layers_plan_free(gl_layers_plan_t *p);

/** UpdateFunctionCode: new code (code_dir) plus the layers already merged (opt_dir, NULL for
 *  none; it may include versions deleted since) within the unzipped limit; 0 or -EINVAL with
 *  aerr set. Walks both trees: safe on any thread. */
int gl_layers_check_size(const char *code_dir, const char *opt_dir, gl_aws_error_t *aerr);
/**
 * A served template's layers (layer_template.c): layers is the template's, logical id ->
 * {"Name", "Dir", "Description"?, "CompatibleRuntimes"?, "CompatibleArchitectures"?,
 * "LicenseInfo"?} (borrowed). Each becomes version 1 of Name, its content the directory, and
 * hides the store's versions of that name while it is served. 0 or -ENOMEM.
 */
int gl_layers_set_template(struct gl_registry *r, const json_t *layers);
/** Whether name is a layer of the served template. */
int gl_layer_is_template(const struct gl_registry *r, const char *name);
/** Version 1 of template layer name as gl_layer_get gives it, with "TemplateDir" (its
 *  directory) and the cached CodeSize/CodeSha256 of the directory's content (layer_digest.c;
 *  absent until the first walk is back, possibly older than the content while
 *  gl_layer_template_wait would wait); new reference, NULL when name is not a template layer. */
json_t *gl_layer_template_record(struct gl_registry *r, const char *name);
/** The template layers' directories (new reference). */
json_t *gl_layer_template_dirs(const struct gl_registry *r);
/**
 * Compute CodeSize and CodeSha256 of the template layers whose directory is dir (NULL: every
 * one) again, on loop's work queue: at template load, and when hot reload sees dir change
 * (what: the change, for the "reloading layer NAME: WHAT changed" line; NULL: no line).
 * Returns how many layers have that directory.
 */
int gl_layers_template_digest(struct gl_registry *r, uv_loop_t *loop, const char *dir,
                              const char *what);
typedef struct gl_layer_waiter gl_layer_waiter_t;
/**
 * Before showing template layer name's CodeSize/CodeSha256: 0 when the record's values are
 * current (or name is not a template layer); 1 when a walk is in flight: cb(arg) runs on the
 * loop once it is back (*w identifies the wait until then); -ENOMEM.
 */
int gl_layer_template_wait(struct gl_registry *r, const char *name, void (*cb)(void *arg),
                           void *arg, gl_layer_waiter_t **w);
/** Drop a wait whose caller went away before its cb ran (cb never runs). */
void gl_layer_template_unwait(struct gl_registry *r, gl_layer_waiter_t *w);
/** Names of the template's layers (new reference). */
json_t *gl_layer_template_names(const struct gl_registry *r);
/** The directories of the template layers cfg's Layers name, in order (new reference). */
json_t *gl_layers_template_sources(const struct gl_registry *r, const gl_fn_config_t *cfg);
/** At open: remove the merged directories no loaded function or version uses (a list of
 *  layers that was replaced, a merge cut short). */
void gl_layers_gc(struct gl_registry *r);
/** A template function's /opt (cfg->opt_dir) from its layers' directories (json array, may be
 *  NULL): one layer is its own directory, so edits show at once; several are merged at
 *  <state>/layers/.template/<name>. 0, or a negative errno with err set. */
int gl_layers_template_dir(struct gl_registry *r, const char *name, const json_t *dirs,
                           gl_fn_config_t *cfg, gl_err_t *err);
/** Merge dirs[0..n) into dest (which must not exist) so a later one's files win; hard links,
 *  copies where linking fails. Built beside dest and renamed in (when a merge on another
 *  thread renamed its own in first, that one stays). 0 or a negative errno. */
int gl_layers_merge(const char *const *dirs, size_t n, const char *dest, gl_err_t *err);
/** Hot reload: merge dirs again into a new dest, built beside it and swapped in; the dest it
 *  replaces stays as dest.old (environments still running use it) until the next call, which
 *  removes it. Safe on a work queue thread. 0 or a negative errno with err set. */
int gl_layers_remerge(const char *const *dirs, size_t n, const char *dest, gl_err_t *err);
/** Bytes of regular files under dir (symbolic links not followed); 0 when absent. */
uint64_t gl_layers_tree_bytes(const char *dir);

#endif
