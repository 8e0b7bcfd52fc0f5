/* SPDX-License-Identifier: MIT */
/*
 * internal.h: declarations shared inside the registry module: the registry itself, the
 * per-function set of published versions and aliases (versions.c, aliases.c), and the
 * helpers registry.c lends them (retiring a snapshot, atomic JSON writes).
 *
 * Invariant: a gl_fn_set_t exists only for a function that is current in by_name, under the
 * same FunctionName; it holds one reference on each version's snapshot and owns its aliases.
 */
#ifndef GALLEY_REGISTRY_INTERNAL_H
#define GALLEY_REGISTRY_INTERNAL_H

#include <stddef.h>

#include "galley/registry.h"

#define GL_REG_STATE_FILE "function.json"
#define GL_REG_VERSIONS_DIR "versions"
#define GL_REG_ALIASES_DIR "aliases"
#define GL_REG_NEXT_FILE "next.json"
#define GL_REG_CONCURRENCY_FILE "concurrency.json"
#define GL_REG_SETTINGS_FILE "settings.json"
#define GL_REG_STATE_MAX_BYTES (1024 * 1024)

typedef struct gl_version_entry {
    unsigned num;
    gl_fn_t *fn;      /* one reference held; fn->version is the decimal num */
    char *source_rev; /* RevisionId of the $LATEST it was published from */
} gl_version_entry_t;

typedef struct gl_fn_set {
    char *name;
    int from_template;            /* in memory only: nothing persisted */
    unsigned next_version;        /* the number the next publish gets, from 1 */
    gl_version_entry_t *versions; /* ascending num */
    size_t nv, capv;
    gl_alias_t **aliases; /* sorted by name */
    size_t na, capa;
    int reserved;         /* reserved concurrency, -1 when none */
    json_t *provisioned;  /* qualifier -> {"Requested", "LastModified"}, or NULL */
    json_t *settings;     /* key -> value of the operations owning one (settings.c), or NULL */
} gl_fn_set_t;

struct gl_registry {
    char *state_dir;
    char *fns_dir; /* <state>/functions */
    char *region;
    char *account;
    gl_registry_listener_t listener;
    /* private */
    gl_fn_t **by_name; /* sorted by cfg.name */
    size_t n, cap;
    gl_fn_t **by_lid; /* template functions with a logical id, sorted by it */
    size_t nl, capl;
    gl_fn_set_t **sets; /* sorted by name */
    size_t ns, caps;
    json_t *tpl_layers; /* the served template's layers by name (layer_template.c) */
    struct gl_reg_tpl_digest *tpl_digests; /* their digests' walks and waiters (layer_digest.c) */
};

/* registry.c */
/** Non-empty and only decimal digits. */
int gl_reg_all_digits(const char *s);
/** The current $LATEST snapshot registered under exactly this FunctionName (no logical id). */
gl_fn_t *gl_reg_latest(gl_registry_t *r, const char *name);
/** Hand a snapshot leaving the registry to the listener and drop the registry's reference;
 *  its code directory is marked for removal when no current snapshot uses it any more. The
 *  caller has already taken old out of every current list. */
void gl_reg_retire(gl_registry_t *r, gl_fn_t *old, gl_fn_t *replacement);
/** fn_dir/file as a JSON object (new reference); NULL when absent or unreadable, and when
 *  not a JSON object (then warned once here). */
json_t *gl_reg_read_json_object(const char *fn_dir, const char *file);
/** Serialise j (borrowed) and write it atomically to path. */
int gl_reg_write_json(const char *path, const json_t *j, gl_err_t *err);

/* versions.c */
gl_fn_set_t *gl_reg_set(gl_registry_t *r, const char *name, int create);
/** Is dir the code directory of a current snapshot of name ($LATEST or a version)? */
int gl_reg_code_dir_in_use(gl_registry_t *r, const char *name, const char *dir);
/** Load versions/ and aliases/ of a created function just loaded (bad entries skipped). */
void gl_reg_load_versions(gl_registry_t *r, gl_fn_t *latest, const char *fn_dir);
/** Would entry (a child name of the function's directory) be a version's code or zip? */
int gl_reg_set_keeps(gl_registry_t *r, const char *name, const char *entry);
/** The function is going away: detach its set and retire every version (listener called). */
void gl_reg_drop_set(gl_registry_t *r, const char *name);
/** Free every set without calling the listener (registry close). */
void gl_reg_free_sets(gl_registry_t *r);

/* settings.c */
/** Load settings.json of a created function into s (absent: none; corrupt: warned, none). */
void gl_reg_load_settings(gl_registry_t *r, gl_fn_set_t *s, const char *fn_dir);
/** Find a version entry; NULL when unknown. */
gl_version_entry_t *gl_reg_find_version(gl_fn_set_t *s, const char *version);

/* concurrency.c */
/** Load concurrency.json of a created function into its set (a bad file is skipped). */
void gl_reg_load_concurrency(gl_registry_t *r, gl_fn_set_t *s, const char *fn_dir);

/* layer_digest.c */
typedef struct gl_reg_tpl_digest gl_reg_tpl_digest_t;
/** r->tpl_layers was replaced: one digest entry per layer, none computed yet. 0 or -ENOMEM. */
int gl_reg_digests_reset(gl_registry_t *r);
/** Forget every entry (walks in flight free themselves when back). */
void gl_reg_digests_free(gl_registry_t *r);

/* aliases.c */
gl_alias_t *gl_reg_find_alias(gl_fn_set_t *s, const char *name, size_t *pos);
void gl_reg_load_aliases(gl_registry_t *r, gl_fn_set_t *s, const char *fn_dir);

#endif
