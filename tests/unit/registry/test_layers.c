/* SPDX-License-Identifier: MIT */
/*
 * test_layers.c: src/registry/layers.c, the store of published layer versions: numbers from 1,
 * never reused after a delete (also across a close and reopen), the record (CodeSha256 and
 * CodeSize of the zip, the request's members), listing newest first and by name, and a
 * refused archive leaving no version behind; publishes from several threads at once get
 * distinct consecutive numbers. layer_template.c: a template's layers as versions 1 hiding the
 * store's. layer_digest.c: CodeSize and a CodeSha256 walked on the work queue, cached until a
 * change is reported, walked once more for a change during a walk, callers waiting for it. layer_merge.c: a merge done
 * again (gl_layers_remerge) swaps in the new content and keeps the previous one once.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "galley/layers.h"
#include "galley/util.h"
#include "registry_fixture.h"

/* A zip of python/a.py ("A = 1\n"). */
static const unsigned char zip[] = {
    0x50, 0x4b, 0x03, 0x04, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0b, 0x06, 0x82, 0x5d, 0x5e, 0xdf,
    0x83, 0xa8, 0x06, 0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00, 0x0b, 0x00, 0x00, 0x00, 0x70, 0x79,
    0x74, 0x68, 0x6f, 0x6e, 0x2f, 0x61, 0x2e, 0x70, 0x79, 0x41, 0x20, 0x3d, 0x20, 0x31, 0x0a, 0x50,
    0x4b, 0x01, 0x02, 0x14, 0x03, 0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0b, 0x06, 0x82, 0x5d, 0x5e,
    0xdf, 0x83, 0xa8, 0x06, 0x00, 0x00, 0x00, 0x06, 0x00, 0x00, 0x00, 0x0b, 0x00, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x80, 0x01, 0x00, 0x00, 0x00, 0x00, 0x70, 0x79, 0x74,
    0x68, 0x6f, 0x6e, 0x2f, 0x61, 0x2e, 0x70, 0x79, 0x50, 0x4b, 0x05, 0x06, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x39, 0x00, 0x00, 0x00, 0x2f, 0x00, 0x00, 0x00, 0x00, 0x00
};

static int setup(void **state)
{
    (void)state;
    fixture_make_state_dir("galley-layers-test");
    return 0;
}

static long publish(gl_registry_t *r, const char *name, const char *description)
{
    json_t *meta = json_pack("{s:s,s:[s]}", "Description", description, "CompatibleRuntimes",
                             "python3.12");
    json_t *rec = NULL;
    gl_archive_result_t res = {0};
    gl_err_t err = {0};
    if (gl_layer_publish(r, name, zip, sizeof(zip), meta, NULL, &rec, &res, &err) < 0)
        fail_msg("publish: %s", err.msg);
    long v = (long)json_integer_value(json_object_get(rec, "Version"));
    json_decref(rec);
    json_decref(meta);
    return v;
}

static void test_numbers_and_records(void **state)
{
    (void)state;
    gl_registry_t *r = fixture_open("us-east-1", "123456789012");
    assert_int_equal(publish(r, "lib", "one"), 1);
    assert_int_equal(publish(r, "lib", "two"), 2);
    assert_int_equal(gl_layer_delete(r, "lib", 2), 0);
    assert_int_equal(gl_layer_delete(r, "lib", 2), 0); /* gone already: still fine */
    assert_null(gl_layer_get(r, "lib", 2));
    assert_int_equal(publish(r, "lib", "three"), 3); /* 2 is not reused */

    json_t *rec = gl_layer_get(r, "lib", 1);
    char sha[45];
    gl_sha256_b64(zip, sizeof(zip), sha);
    assert_string_equal(json_string_value(json_object_get(rec, "CodeSha256")), sha);
    assert_int_equal(json_integer_value(json_object_get(rec, "CodeSize")), sizeof(zip));
    assert_int_equal(json_integer_value(json_object_get(rec, "UnpackedSize")), 6);
    assert_string_equal(json_string_value(json_object_get(rec, "Description")), "one");
    json_decref(rec);

    json_t *versions = gl_layer_versions(r, "lib");
    assert_int_equal(json_array_size(versions), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(versions, 0), "Version")),
                     3);
    json_decref(versions);
    publish(r, "another", "x");
    json_t *names = gl_layer_names(r);
    assert_int_equal(json_array_size(names), 2);
    assert_string_equal(json_string_value(json_array_get(names, 0)), "another");
    json_decref(names);
    char arn[256];
    gl_layer_arn(r, "lib", 3, arn, sizeof(arn));
    assert_string_equal(arn, "arn:aws:lambda:us-east-1:123456789012:layer:lib:3");
    gl_registry_free(r);

    r = fixture_open("us-east-1", "123456789012");
    assert_int_equal(gl_layer_delete(r, "lib", 3), 0);
    assert_int_equal(publish(r, "lib", "four"), 4); /* after a restart too */
    gl_registry_free(r);
}

static void test_refused_archive(void **state)
{
    (void)state;
    gl_registry_t *r = fixture_open("us-east-1", "123456789012");
    json_t *rec = NULL;
    gl_archive_result_t res = {0};
    gl_err_t err = {0};
    assert_true(gl_layer_publish(r, "bad", "not a zip", 9, NULL, NULL, &rec, &res, &err) < 0);
    assert_int_equal(res.status, GL_ARCHIVE_BAD_ZIP);
    assert_null(rec);
    json_t *versions = gl_layer_versions(r, "bad");
    assert_int_equal(json_array_size(versions), 0);
    json_decref(versions);
    json_t *names = gl_layer_names(r);
    assert_int_equal(json_array_size(names), 0); /* a layer without versions is not listed */
    json_decref(names);
    gl_registry_free(r);
}

static gl_registry_t *threaded_r;

static void *publish_thread(void *arg)
{
    (void)arg;
    for (int i = 0; i < 5; i++)
        publish(threaded_r, "race", "t");
    return NULL;
}

static void test_concurrent_publishes(void **state)
{
    (void)state;
    pthread_t t[4];
    threaded_r = fixture_open("us-east-1", "123456789012");
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, publish_thread, NULL), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    json_t *versions = gl_layer_versions(threaded_r, "race");
    assert_int_equal(json_array_size(versions), 20); /* 20 distinct numbers: 20 .. 1 */
    for (size_t i = 0; i < 20; i++)
        assert_int_equal(json_integer_value(json_object_get(json_array_get(versions, i),
                                                            "Version")),
                         (json_int_t)(20 - i));
    json_decref(versions);
    gl_registry_free(threaded_r);
}

static void write_text(const char *dir, const char *name, const char *text)
{
    char *path = gl_path_join(dir, name);
    assert_int_equal(gl_write_file_atomic(path, text, strlen(text)), 0);
    free(path);
}

static void on_ready(void *arg)
{
    (*(int *)arg)++;
}

/* The record's CodeSha256 (copied into sha) and CodeSize. */
static long tpl_digest(gl_registry_t *r, char sha[45])
{
    json_t *rec = gl_layer_get(r, "tpl", 1);
    assert_non_null(rec);
    const char *s = json_string_value(json_object_get(rec, "CodeSha256"));
    snprintf(sha, 45, "%s", s ? s : "");
    long size = json_is_integer(json_object_get(rec, "CodeSize"))
                    ? (long)json_integer_value(json_object_get(rec, "CodeSize"))
                    : -1;
    json_decref(rec);
    return size;
}

static void test_template_layers(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    gl_registry_t *r = fixture_open("us-east-1", "123456789012");
    assert_int_equal(publish(r, "tpl", "stored"), 1);
    char *dir = gl_path_join(state_dir, "tpl-src");
    assert_int_equal(gl_mkdir_p(dir, 0755), 0);
    write_text(dir, "a.txt", "12345");
    json_t *layers = json_pack("{s:{s:s,s:s,s:s}}", "TplLayer", "Name", "tpl", "Dir", dir,
                               "Description", "from the template");
    assert_int_equal(gl_layers_set_template(r, layers), 0);
    json_decref(layers);

    assert_true(gl_layer_is_template(r, "tpl"));
    json_t *rec = gl_layer_get(r, "tpl", 1);
    assert_non_null(rec);
    assert_string_equal(json_string_value(json_object_get(rec, "Description")),
                        "from the template");
    assert_string_equal(json_string_value(json_object_get(rec, "TemplateDir")), dir);
    assert_null(json_object_get(rec, "CodeSha256")); /* not walked yet */
    json_decref(rec);
    gl_layer_waiter_t *w = NULL;
    int woken = 0;
    assert_int_equal(gl_layer_template_wait(r, "tpl", on_ready, &woken, &w), 0); /* no walk */

    /* The first walk, off the loop: a caller waits for it. */
    assert_int_equal(gl_layers_template_digest(r, &loop, NULL, NULL), 1);
    assert_int_equal(gl_layer_template_wait(r, "tpl", on_ready, &woken, &w), 1);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(woken, 1);
    char sha[45], again[45];
    assert_int_equal(tpl_digest(r, sha), 5);
    assert_int_equal(strlen(sha), 44);
    assert_null(gl_layer_get(r, "tpl", 2)); /* only version 1 while the template serves it */

    /* Unchanged content: the same digest (cached: no walk unless something changed). */
    assert_int_equal(gl_layer_template_wait(r, "tpl", on_ready, &woken, &w), 0);
    write_text(dir, "b.txt", "xy");
    assert_int_equal(tpl_digest(r, again), 5); /* until hot reload says so */
    assert_string_equal(again, sha);
    assert_int_equal(gl_layers_template_digest(r, &loop, dir, "b.txt"), 1);
    assert_int_equal(gl_layers_template_digest(r, &loop, "/elsewhere", NULL), 0);
    assert_int_equal(gl_layer_template_wait(r, "tpl", on_ready, &woken, &w), 1);
    /* A second caller that goes away before the walk is back is never called. */
    gl_layer_waiter_t *gone = NULL;
    int gone_woken = 0;
    assert_int_equal(gl_layer_template_wait(r, "tpl", on_ready, &gone_woken, &gone), 1);
    gl_layer_template_unwait(r, gone);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(woken, 2);
    assert_int_equal(gone_woken, 0);
    assert_int_equal(tpl_digest(r, again), 7);
    assert_string_not_equal(again, sha);

    json_t *names = gl_layer_names(r);
    assert_int_equal(json_array_size(names), 1);
    json_decref(names);
    json_t *dirs = gl_layer_template_dirs(r);
    assert_int_equal(json_array_size(dirs), 1);
    assert_string_equal(json_string_value(json_array_get(dirs, 0)), dir);
    json_decref(dirs);
    gl_fn_config_t cfg = {0};
    cfg.extra = json_pack("{s:[{s:s},{s:s}]}", "Layers", "Arn",
                          "arn:aws:lambda:us-east-1:123456789012:layer:tpl:1", "Arn",
                          "arn:aws:lambda:us-east-1:123456789012:layer:other:1");
    json_t *srcs = gl_layers_template_sources(r, &cfg);
    assert_int_equal(json_array_size(srcs), 1);
    assert_string_equal(json_string_value(json_array_get(srcs, 0)), dir);
    json_decref(srcs);
    json_decref(cfg.extra);
    free(dir);
    gl_registry_free(r);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* Changes while a walk is in flight: one more walk when it is back, of the newest content,
 * and only then are the callers woken; a registry freed meanwhile leaves the walk to free
 * itself. */
static void test_template_digest_changes(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    gl_registry_t *r = fixture_open("us-east-1", "123456789012");
    char *dir = gl_path_join(state_dir, "many");
    assert_int_equal(gl_mkdir_p(dir, 0755), 0);
    write_text(dir, "a", "1");
    json_t *layers = json_pack("{s:{s:s,s:s},s:{s:s,s:s}}", "A", "Name", "tpl", "Dir", dir, "B",
                               "Name", "same", "Dir", dir);
    assert_int_equal(gl_layers_set_template(r, layers), 0);
    json_decref(layers);
    assert_int_equal(gl_layers_template_digest(r, &loop, NULL, NULL), 2);
    usleep(200 * 1000); /* the walks (of "a" alone) are over, but not yet back on the loop */
    write_text(dir, "b", "22"); /* so they must walk again for these */
    assert_int_equal(gl_layers_template_digest(r, &loop, dir, "b"), 2);
    write_text(dir, "c", "333");
    assert_int_equal(gl_layers_template_digest(r, &loop, dir, "c"), 2);
    gl_layer_waiter_t *w = NULL;
    int woken = 0;
    assert_int_equal(gl_layer_template_wait(r, "tpl", on_ready, &woken, &w), 1);
    assert_int_equal(gl_layer_template_wait(r, "same", on_ready, &woken, &w), 1);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(woken, 2);
    char sha[45];
    assert_int_equal(tpl_digest(r, sha), 6);

    /* Freed with a walk in flight (and a caller waiting): nothing leaks or is touched. */
    assert_int_equal(gl_layers_template_digest(r, &loop, dir, NULL), 2);
    assert_int_equal(gl_layer_template_wait(r, "tpl", on_ready, &woken, &w), 1);
    gl_registry_free(r);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(woken, 2);
    assert_int_equal(uv_loop_close(&loop), 0);
    free(dir);
}

static void test_remerge(void **state)
{
    (void)state;
    char *a = gl_path_join(state_dir, "a"), *b = gl_path_join(state_dir, "b");
    char *dest = gl_path_join(state_dir, "merged"), *path = NULL;
    const char *dirs[] = {a, b};
    gl_err_t err = {0};
    gl_buf_t buf = {0};
    assert_int_equal(gl_mkdir_p(a, 0755), 0);
    assert_int_equal(gl_mkdir_p(b, 0755), 0);
    write_text(a, "x", "from a");
    assert_int_equal(gl_layers_merge(dirs, 2, dest, &err), 0);
    write_text(b, "x", "from b");
    assert_int_equal(gl_layers_remerge(dirs, 2, dest, &err), 0);
    path = gl_path_join(dest, "x");
    assert_int_equal(gl_read_file(path, 100, &buf), 0);
    assert_memory_equal(buf.data, "from b", 6);
    gl_buf_free(&buf);
    free(path);
    path = gl_path_join(state_dir, "merged.old/x"); /* the previous merge, kept once */
    assert_int_equal(gl_read_file(path, 100, &buf), 0);
    assert_memory_equal(buf.data, "from a", 6);
    gl_buf_free(&buf);
    assert_int_equal(gl_layers_remerge(dirs, 2, dest, &err), 0);
    assert_int_equal(gl_read_file(path, 100, &buf), 0); /* replaced by the newer one */
    assert_memory_equal(buf.data, "from b", 6);
    gl_buf_free(&buf);
    free(path);
    free(a);
    free(b);
    free(dest);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_numbers_and_records, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_refused_archive, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_publishes, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_template_layers, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_template_digest_changes, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_remerge, setup, fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
