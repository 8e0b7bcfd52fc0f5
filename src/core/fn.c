/* SPDX-License-Identifier: MIT */
/*
 * fn.c: gl_fn_config_t (defaults, copy, free) and gl_fn_t snapshots (reference counting).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "galley/fn.h"
#include "galley/util.h"

void gl_fn_config_defaults(gl_fn_config_t *c)
{
    if (c->timeout_s <= 0)
        c->timeout_s = GL_FN_DEFAULT_TIMEOUT;
    if (c->memory_mb <= 0)
        c->memory_mb = GL_FN_DEFAULT_MEMORY;
    if (c->ephemeral_mb <= 0)
        c->ephemeral_mb = GL_FN_DEFAULT_EPHEMERAL;
    if (!c->description)
        c->description = strdup("");
    if (!c->code_sha256)
        c->code_sha256 = strdup("");
}

static int dup_str(char **dst, const char *src)
{
    *dst = NULL;
    if (!src)
        return 0;
    *dst = strdup(src);
    return *dst ? 0 : -ENOMEM;
}

int gl_fn_config_copy(gl_fn_config_t *dst, const gl_fn_config_t *src)
{
    memset(dst, 0, sizeof(*dst));
    dst->timeout_s = src->timeout_s;
    dst->memory_mb = src->memory_mb;
    dst->ephemeral_mb = src->ephemeral_mb;
    dst->code_size = src->code_size;
    if (dup_str(&dst->name, src->name) || dup_str(&dst->runtime, src->runtime) ||
        dup_str(&dst->handler, src->handler) || dup_str(&dst->role, src->role) ||
        dup_str(&dst->description, src->description) || dup_str(&dst->code_dir, src->code_dir) ||
        dup_str(&dst->code_sha256, src->code_sha256) ||
        dup_str(&dst->last_modified, src->last_modified) ||
        dup_str(&dst->revision_id, src->revision_id))
        goto nomem;
    if (src->env_vars && !(dst->env_vars = json_deep_copy(src->env_vars)))
        goto nomem;
    if (src->extra && !(dst->extra = json_deep_copy(src->extra)))
        goto nomem;
    return 0;
nomem:
    gl_fn_config_free(dst);
    return -ENOMEM;
}

void gl_fn_config_free(gl_fn_config_t *c)
{
    free(c->name);
    free(c->runtime);
    free(c->handler);
    free(c->role);
    free(c->description);
    free(c->code_dir);
    free(c->code_sha256);
    free(c->last_modified);
    free(c->revision_id);
    json_decref(c->env_vars);
    json_decref(c->extra);
    memset(c, 0, sizeof(*c));
}

gl_fn_t *gl_fn_new(gl_fn_config_t *cfg, const char *logical_id, int from_template)
{
    gl_fn_t *fn = calloc(1, sizeof(*fn));
    if (!fn)
        return NULL;
    fn->version = strdup("$LATEST");
    fn->logical_id = logical_id ? strdup(logical_id) : NULL;
    if (!fn->version || (logical_id && !fn->logical_id)) {
        free(fn->version);
        free(fn->logical_id);
        free(fn);
        return NULL;
    }
    fn->cfg = *cfg;
    memset(cfg, 0, sizeof(*cfg));
    fn->from_template = from_template;
    fn->refs = 1;
    return fn;
}

gl_fn_t *gl_fn_ref(gl_fn_t *fn)
{
    fn->refs++;
    return fn;
}

static void (*code_remover)(char *dir, void *arg);
static void *code_remover_arg;

void gl_fn_set_code_remover(void (*remove)(char *dir, void *arg), void *arg)
{
    code_remover = remove;
    code_remover_arg = arg;
}

void gl_fn_unref(gl_fn_t *fn)
{
    if (!fn || --fn->refs > 0)
        return;
    if (fn->remove_code_on_free && !fn->from_template && fn->cfg.code_dir) {
        char *dir = code_remover ? strdup(fn->cfg.code_dir) : NULL;
        if (dir)
            code_remover(dir, code_remover_arg); /* takes dir */
        else
            gl_rm_rf(fn->cfg.code_dir);
    }
    gl_fn_config_free(&fn->cfg);
    free(fn->logical_id);
    free(fn->version);
    free(fn);
}
