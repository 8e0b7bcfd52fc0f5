/* SPDX-License-Identifier: MIT */
/*
 * settings.c: a function's small per-function settings that one API operation owns each
 * (RecursiveLoop, and those of the operations to come), one JSON value per key, persisted
 * together in <state>/functions/<name>/settings.json for created functions (template
 * functions keep them in memory). The registry stores them and forgets them with the
 * function; the operation that owns a key validates it and gives it meaning.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "galley/log.h"
#include "galley/util.h"
#include "internal.h"

static int save(gl_registry_t *r, gl_fn_set_t *s, gl_err_t *err)
{
    if (s->from_template)
        return 0;
    char *dir = gl_registry_fn_dir(r, s->name);
    char *path = dir ? gl_path_join(dir, GL_REG_SETTINGS_FILE) : NULL;
    int rc;
    if (!path)
        rc = gl_err_set(err, ENOMEM, "settings of %s", s->name);
    else if (!s->settings || json_object_size(s->settings) == 0)
        rc = unlink(path) == 0 || errno == ENOENT ? 0
                                                  : gl_err_set(err, errno, "remove %s", path);
    else
        rc = gl_reg_write_json(path, s->settings, err);
    free(path);
    free(dir);
    return rc;
}

void gl_reg_load_settings(gl_registry_t *r, gl_fn_set_t *s, const char *fn_dir)
{
    (void)r;
    json_t *j = gl_reg_read_json_object(fn_dir, GL_REG_SETTINGS_FILE);
    if (j) {
        json_decref(s->settings);
        s->settings = j;
    }
}

const json_t *gl_registry_setting(gl_registry_t *r, const char *name, const char *key)
{
    gl_fn_set_t *s = gl_reg_set(r, name, 0);
    return s && s->settings ? json_object_get(s->settings, key) : NULL;
}

int gl_registry_set_setting(gl_registry_t *r, const char *name, const char *key, json_t *value,
                            gl_err_t *err)
{
    gl_fn_set_t *s = gl_reg_set(r, name, 1);
    json_t *old = NULL;
    int rc;
    if (!s) {
        json_decref(value);
        return gl_err_set(err, ENOENT, "function %s not found", name);
    }
    if (!s->settings && !(s->settings = json_object())) {
        json_decref(value);
        return gl_err_set(err, ENOMEM, "settings of %s", name);
    }
    if ((old = json_object_get(s->settings, key)))
        json_incref(old);
    if (value)
        rc = json_object_set_new(s->settings, key, value) == 0 ? 0 : -ENOMEM;
    else
        rc = json_object_del(s->settings, key) == 0 || !old ? 0 : -ENOMEM;
    if (rc < 0)
        rc = gl_err_set(err, ENOMEM, "settings of %s", name);
    else if ((rc = save(r, s, err)) < 0) {
        /* Not persisted: what clients see stays what is on disk. */
        if (old)
            json_object_set(s->settings, key, old);
        else
            json_object_del(s->settings, key);
    }
    json_decref(old);
    return rc;
}
