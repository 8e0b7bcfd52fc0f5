/* SPDX-License-Identifier: MIT */
/*
 * test_config.c: the FunctionEventInvokeConfig store (src/async/config.c) in a temp dir: a
 * missing file starts empty, put persists and a reload reads it back, the unqualified key is
 * $LATEST, delete (-ENOENT when absent, the function's key goes with its last qualifier),
 * qualifiers listed sorted, forgetting a function, a corrupt file starting empty, and a failed
 * write leaving the store as it was.
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

#include "async/internal.h"
#include "galley/util.h"

typedef struct fixture {
    char *dir;
    char *path;
    gl_async_configs_t c;
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));
    char tmpl[] = "/tmp/galley-configs-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    f->dir = strdup(tmpl);
    f->path = gl_path_join(f->dir, "event-invoke-configs.json");
    gl_err_t err;
    assert_int_equal(gl_async_configs_load(&f->c, f->path, &err), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    gl_async_configs_free(&f->c);
    gl_rm_rf(f->dir);
    free(f->dir);
    free(f->path);
    free(f);
    return 0;
}

static json_t *retries(int n) { return json_pack("{s:i}", "MaximumRetryAttempts", n); }

static int retries_of(const json_t *cfg)
{
    return (int)json_integer_value(json_object_get(cfg, "MaximumRetryAttempts"));
}

/* Free the store and load it again from its file. */
static void reload(fixture_t *f)
{
    gl_err_t err;
    gl_async_configs_free(&f->c);
    assert_int_equal(gl_async_configs_load(&f->c, f->path, &err), 0);
}

static void write_text(const char *path, const char *text)
{
    assert_int_equal(gl_write_file_atomic(path, text, strlen(text)), 0);
}

static void test_missing_file_starts_empty(void **state)
{
    fixture_t *f = *state;
    assert_null(gl_async_configs_get(&f->c, "fn", NULL));
    json_t *q = gl_async_configs_qualifiers(&f->c, "fn");
    assert_int_equal(json_array_size(q), 0);
    json_decref(q);
    assert_int_equal(access(f->path, F_OK), -1); /* nothing written until a change */
}

static void test_put_persists_and_reloads(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(gl_async_configs_put(&f->c, "fn", NULL, retries(1)), 0);
    assert_int_equal(gl_async_configs_put(&f->c, "fn", "live", retries(2)), 0);
    /* Unqualified is $LATEST, whether NULL or "". */
    assert_int_equal(retries_of(gl_async_configs_get(&f->c, "fn", "")), 1);
    assert_int_equal(retries_of(gl_async_configs_get(&f->c, "fn", "$LATEST")), 1);
    gl_buf_t text = {0};
    assert_int_equal(gl_read_file(f->path, 1 << 20, &text), 0);
    assert_int_equal(text.len, strlen("{\"fn\":{\"$LATEST\":{\"MaximumRetryAttempts\":1},"
                                      "\"live\":{\"MaximumRetryAttempts\":2}}}"));
    assert_memory_equal(text.data,
                        "{\"fn\":{\"$LATEST\":{\"MaximumRetryAttempts\":1},"
                        "\"live\":{\"MaximumRetryAttempts\":2}}}",
                        text.len);
    gl_buf_free(&text);
    reload(f);
    assert_int_equal(retries_of(gl_async_configs_get(&f->c, "fn", NULL)), 1);
    assert_int_equal(retries_of(gl_async_configs_get(&f->c, "fn", "live")), 2);
    /* Put replaces the whole config of that qualifier. */
    assert_int_equal(gl_async_configs_put(&f->c, "fn", "live",
                                          json_pack("{s:i}", "MaximumEventAgeInSeconds", 60)),
                     0);
    assert_null(json_object_get(gl_async_configs_get(&f->c, "fn", "live"),
                                "MaximumRetryAttempts"));
}

static void test_delete(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(gl_async_configs_delete(&f->c, "fn", NULL), -ENOENT);
    assert_int_equal(gl_async_configs_put(&f->c, "fn", NULL, retries(0)), 0);
    assert_int_equal(gl_async_configs_put(&f->c, "fn", "1", retries(1)), 0);
    assert_int_equal(gl_async_configs_delete(&f->c, "fn", "1"), 0);
    assert_int_equal(gl_async_configs_delete(&f->c, "fn", "1"), -ENOENT);
    assert_non_null(gl_async_configs_get(&f->c, "fn", NULL));
    assert_int_equal(gl_async_configs_delete(&f->c, "fn", NULL), 0);
    /* The last qualifier takes the function's key with it. */
    assert_null(json_object_get(f->c.root, "fn"));
    reload(f);
    assert_int_equal(json_object_size(f->c.root), 0);
}

static void test_qualifiers_sorted(void **state)
{
    fixture_t *f = *state;
    const char *order[] = {"live", "2", "$LATEST", "10", "beta"};
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(gl_async_configs_put(&f->c, "fn", order[i], retries(0)), 0);
    assert_int_equal(gl_async_configs_put(&f->c, "other", "zz", retries(0)), 0);
    json_t *q = gl_async_configs_qualifiers(&f->c, "fn");
    const char *want[] = {"$LATEST", "10", "2", "beta", "live"};
    assert_int_equal(json_array_size(q), 5);
    for (size_t i = 0; i < 5; i++)
        assert_string_equal(json_string_value(json_array_get(q, i)), want[i]);
    json_decref(q);
}

static void test_forget_drops_every_qualifier(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(gl_async_configs_put(&f->c, "fn", NULL, retries(0)), 0);
    assert_int_equal(gl_async_configs_put(&f->c, "fn", "3", retries(1)), 0);
    assert_int_equal(gl_async_configs_put(&f->c, "keep", NULL, retries(2)), 0);
    gl_async_configs_forget(&f->c, "fn");
    gl_async_configs_forget(&f->c, "never-had-one"); /* nothing to do */
    reload(f);
    assert_null(json_object_get(f->c.root, "fn"));
    assert_int_equal(retries_of(gl_async_configs_get(&f->c, "keep", NULL)), 2);
}

static void test_corrupt_file_starts_empty(void **state)
{
    fixture_t *f = *state;
    gl_err_t err;
    const char *bad[] = {"{not json", "[1,2]", ""};
    for (size_t i = 0; i < 3; i++) {
        write_text(f->path, bad[i]);
        gl_async_configs_free(&f->c);
        assert_int_equal(gl_async_configs_load(&f->c, f->path, &err), 0);
        assert_true(json_is_object(f->c.root));
        assert_int_equal(json_object_size(f->c.root), 0);
    }
}

static void test_failed_write_changes_nothing(void **state)
{
    fixture_t *f = *state;
    gl_err_t err;
    assert_int_equal(gl_async_configs_put(&f->c, "fn", NULL, retries(1)), 0);
    /* Point the store at a directory that does not exist: every save fails. */
    char *gone = gl_path_join(f->dir, "gone/configs.json");
    gl_async_configs_free(&f->c);
    assert_int_equal(gl_async_configs_load(&f->c, gone, &err), 0);
    assert_true(gl_async_configs_put(&f->c, "fn", NULL, retries(2)) < 0);
    assert_null(gl_async_configs_get(&f->c, "fn", NULL)); /* rolled back */
    free(gone);
    /* The first file still holds what was saved there. */
    reload(f);
    assert_int_equal(retries_of(gl_async_configs_get(&f->c, "fn", NULL)), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_missing_file_starts_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_put_persists_and_reloads, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_qualifiers_sorted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forget_drops_every_qualifier, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_file_starts_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_write_changes_nothing, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
