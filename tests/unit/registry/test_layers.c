/* SPDX-License-Identifier: MIT */
/*
 * test_layers.c: src/registry/layers.c, the store of published layer versions: numbers from 1,
 * never reused after a delete (also across a close and reopen), the record (CodeSha256 and
 * CodeSize of the zip, the request's members), listing newest first and by name, and a
 * refused archive leaving no version behind.
 */
#define _GNU_SOURCE
#include <errno.h>
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_numbers_and_records, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_refused_archive, setup, fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
