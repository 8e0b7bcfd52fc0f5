/* SPDX-License-Identifier: MIT */
/*
 * config.c: the FunctionEventInvokeConfig store: one JSON document,
 * <state>/async/event-invoke-configs.json = {"<function>": {"<qualifier>": {config}}}, kept in
 * memory and rewritten atomically (write, fsync, rename) on every change. A config holds only
 * the members that were set (MaximumRetryAttempts, MaximumEventAgeInSeconds,
 * DestinationConfig) plus LastModified (epoch seconds); validation is the API's job.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "galley/log.h"
#include "internal.h"

#define CONFIGS_MAX_BYTES (16u << 20)

int gl_async_configs_load(gl_async_configs_t *c, const char *path, gl_err_t *err)
{
    gl_buf_t text = {0};
    c->root = NULL;
    if (!(c->path = strdup(path)))
        return gl_err_set(err, ENOMEM, "event invoke configs");
    int rc = gl_read_file(path, CONFIGS_MAX_BYTES, &text);
    if (rc == -ENOENT) {
        c->root = json_object();
        return c->root ? 0 : gl_err_set(err, ENOMEM, "event invoke configs");
    }
    if (rc < 0) {
        gl_async_configs_free(c);
        return gl_err_set(err, -rc, "read %s", path);
    }
    json_error_t jerr;
    c->root = json_loadb(text.data ? text.data : "", text.len, 0, &jerr);
    gl_buf_free(&text);
    if (!json_is_object(c->root)) {
        /* Not fatal: the events themselves are safe in the journal. */
        gl_log_warn("%s: not a JSON object (%s): event invoke configs start empty", path,
                    c->root ? "wrong type" : jerr.text);
        json_decref(c->root);
        c->root = json_object();
    }
    return c->root ? 0 : gl_err_set(err, ENOMEM, "event invoke configs");
}

void gl_async_configs_free(gl_async_configs_t *c)
{
    json_decref(c->root);
    c->root = NULL;
    free(c->path);
    c->path = NULL;
}

static int save(gl_async_configs_t *c)
{
    char *text = json_dumps(c->root, JSON_COMPACT | JSON_SORT_KEYS);
    if (!text)
        return -ENOMEM;
    int rc = gl_write_file_atomic(c->path, text, strlen(text));
    free(text);
    if (rc < 0)
        gl_log_error("write %s: %s", c->path, strerror(-rc));
    return rc;
}

static const char *qual_key(const char *qualifier)
{
    return qualifier && *qualifier ? qualifier : "$LATEST";
}

/* The functions in the store live in gl_async_t; these take its configs member. */
const json_t *gl_async_configs_get(gl_async_configs_t *c, const char *fn, const char *qualifier)
{
    return json_object_get(json_object_get(c->root, fn), qual_key(qualifier));
}

int gl_async_configs_put(gl_async_configs_t *c, const char *fn, const char *qualifier,
                         json_t *cfg)
{
    json_t *before = json_deep_copy(c->root);
    json_t *per_fn = json_object_get(c->root, fn);
    int rc = 0;
    if (!before || !cfg) {
        rc = -ENOMEM;
        goto out;
    }
    if (!per_fn) {
        per_fn = json_object();
        if (!per_fn || json_object_set_new(c->root, fn, per_fn) < 0) {
            rc = -ENOMEM;
            goto out;
        }
    }
    if (json_object_set(per_fn, qual_key(qualifier), cfg) < 0) {
        rc = -ENOMEM;
        goto out;
    }
    if ((rc = save(c)) < 0) {
        json_decref(c->root);
        c->root = before;
        before = NULL;
    }
out:
    json_decref(cfg);
    json_decref(before);
    return rc;
}

int gl_async_configs_delete(gl_async_configs_t *c, const char *fn, const char *qualifier)
{
    if (!gl_async_configs_get(c, fn, qualifier))
        return -ENOENT;
    json_t *before = json_deep_copy(c->root);
    if (!before)
        return -ENOMEM;
    json_t *per_fn = json_object_get(c->root, fn);
    json_object_del(per_fn, qual_key(qualifier));
    if (json_object_size(per_fn) == 0)
        json_object_del(c->root, fn);
    int rc = save(c);
    if (rc < 0) {
        json_decref(c->root);
        c->root = before;
    } else {
        json_decref(before);
    }
    return rc;
}

json_t *gl_async_configs_qualifiers(gl_async_configs_t *c, const char *fn)
{
    json_t *out = json_array();
    json_t *per_fn = json_object_get(c->root, fn);
    const char *q;
    json_t *v;
    if (!out)
        return NULL;
    json_object_foreach(per_fn, q, v) json_array_append_new(out, json_string(q));
    /* jansson keeps insertion order; sort so pagination markers are stable. */
    size_t n = json_array_size(out);
    for (size_t i = 1; i < n; i++)
        for (size_t k = i; k > 0; k--) {
            json_t *a = json_array_get(out, k - 1), *b = json_array_get(out, k);
            if (strcmp(json_string_value(a), json_string_value(b)) <= 0)
                break;
            json_incref(a);
            json_array_set(out, k - 1, b);
            json_array_set_new(out, k, a);
        }
    return out;
}

void gl_async_configs_forget(gl_async_configs_t *c, const char *fn)
{
    if (json_object_get(c->root, fn)) {
        json_object_del(c->root, fn);
        save(c);
    }
}
