/* SPDX-License-Identifier: MIT */
/*
 * concurrency.c: a function's concurrency settings, reserved concurrency (one number for all
 * its versions) and provisioned concurrency configs (one per version or alias), persisted
 * together in <state>/functions/<name>/concurrency.json for created functions. The registry
 * only stores them; the scheduler enforces them and the API validates them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "galley/log.h"
#include "galley/util.h"
#include "internal.h"

static int save(gl_registry_t *r, gl_fn_set_t *s, gl_err_t *err)
{
    if (s->from_template)
        return 0; /* template functions live in memory only */
    char *dir = gl_registry_fn_dir(r, s->name);
    char *path = dir ? gl_path_join(dir, GL_REG_CONCURRENCY_FILE) : NULL;
    json_t *j = json_object();
    int rc;
    if (!path || !j) {
        rc = gl_err_set(err, ENOMEM, "concurrency of %s", s->name);
        goto out;
    }
    if (s->reserved >= 0)
        json_object_set_new(j, "ReservedConcurrentExecutions", json_integer(s->reserved));
    if (s->provisioned && json_object_size(s->provisioned))
        json_object_set(j, "Provisioned", s->provisioned);
    rc = gl_reg_write_json(path, j, err);
out:
    json_decref(j);
    free(path);
    free(dir);
    return rc;
}

void gl_reg_load_concurrency(gl_registry_t *r, gl_fn_set_t *s, const char *fn_dir)
{
    (void)r;
    json_t *j = gl_reg_read_json_object(fn_dir, GL_REG_CONCURRENCY_FILE);
    if (!j)
        return; /* absent (nothing set) or warned */
    json_t *res = json_object_get(j, "ReservedConcurrentExecutions");
    if (json_is_integer(res) && json_integer_value(res) >= 0 &&
        json_integer_value(res) <= 1000000)
        s->reserved = (int)json_integer_value(res);
    json_t *pc = json_object_get(j, "Provisioned");
    if (json_is_object(pc)) {
        const char *q;
        json_t *v;
        json_object_foreach(pc, q, v)
        {
            json_t *n = json_object_get(v, "Requested");
            if (!json_is_integer(n) || json_integer_value(n) < 1 ||
                json_integer_value(n) > 100000) {
                gl_log_warn("registry: %s/%s: skipping the provisioned config of %s", fn_dir,
                            GL_REG_CONCURRENCY_FILE, q);
                continue;
            }
            if (!s->provisioned)
                s->provisioned = json_object();
            json_object_set(s->provisioned, q, v);
        }
    }
    json_decref(j);
}

int gl_registry_reserved(gl_registry_t *r, const char *name)
{
    gl_fn_set_t *s = gl_reg_set(r, name, 0);
    return s ? s->reserved : -1;
}

int gl_registry_set_reserved(gl_registry_t *r, const char *name, int n, gl_err_t *err)
{
    gl_fn_set_t *s = gl_reg_set(r, name, 1);
    if (!s)
        return gl_err_set(err, ENOENT, "function %s not found", name);
    int old = s->reserved;
    s->reserved = n < 0 ? -1 : n;
    int rc = save(r, s, err);
    if (rc < 0)
        s->reserved = old;
    return rc;
}

long gl_registry_total_reserved(gl_registry_t *r)
{
    long sum = 0;
    for (size_t i = 0; i < r->ns; i++)
        if (r->sets[i]->reserved > 0)
            sum += r->sets[i]->reserved;
    return sum;
}

const json_t *gl_registry_provisioned(gl_registry_t *r, const char *name)
{
    gl_fn_set_t *s = gl_reg_set(r, name, 0);
    return s && s->provisioned && json_object_size(s->provisioned) ? s->provisioned : NULL;
}

int gl_registry_set_provisioned(gl_registry_t *r, const char *name, const char *qualifier, int n,
                                gl_err_t *err)
{
    gl_fn_set_t *s = gl_reg_set(r, name, 1);
    if (!s)
        return gl_err_set(err, ENOENT, "function %s not found", name);
    json_t *before = s->provisioned ? json_deep_copy(s->provisioned) : NULL;
    if (n <= 0) {
        if (!s->provisioned || !json_object_get(s->provisioned, qualifier)) {
            json_decref(before);
            return gl_err_set(err, ENOENT, "no provisioned config for %s:%s", name, qualifier);
        }
        json_object_del(s->provisioned, qualifier);
    } else {
        char ts[40];
        gl_fmt_lambda_time(gl_now_ms(), ts, sizeof(ts));
        if (!s->provisioned)
            s->provisioned = json_object();
        json_object_set_new(s->provisioned, qualifier,
                            json_pack("{s:i, s:s}", "Requested", n, "LastModified", ts));
    }
    int rc = save(r, s, err);
    if (rc < 0) {
        json_decref(s->provisioned);
        s->provisioned = before;
    } else {
        json_decref(before);
    }
    return rc;
}
