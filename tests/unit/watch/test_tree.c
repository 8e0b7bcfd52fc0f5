/* SPDX-License-Identifier: MIT */
/*
 * test_tree.c: gl_watch_t on a real libuv loop and a temporary directory: one debounced
 * callback per burst, directories created later are watched, ignored names never trigger,
 * the directory bound holds, vanished directories are dropped, and closing leaves no handle
 * (uv_loop_close returns 0). Every loop run is bounded by a timer.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "galley/util.h"
#include "galley/watch.h"
#include "watch_test_util.h"

#define DEBOUNCE_MS 100

typedef struct fixture {
    uv_loop_t loop;
    gl_watch_t *w;
    char dir[64];
    unsigned calls;
    char what[4096];
    unsigned others;
    char root[4096];
    int closed;
} fixture_t;

static void on_change(const char *root, const char *what, unsigned others, void *data)
{
    fixture_t *f = data;
    f->calls++;
    snprintf(f->what, sizeof(f->what), "%s", what);
    snprintf(f->root, sizeof(f->root), "%s", root);
    f->others = others;
}

/* Run until at least want callbacks happened, then ms more to see there is no extra one. */
static void run_until_calls(fixture_t *f, unsigned want, uint64_t settle_ms)
{
    for (int i = 0; i < 100 && f->calls < want; i++)
        watch_test_run_for(&f->loop, 20);
    watch_test_run_for(&f->loop, settle_ms);
}

static void make_dir(const char *dir, const char *name)
{
    char *p = gl_path_join(dir, name);
    assert_non_null(p);
    assert_int_equal(mkdir(p, 0755), 0);
    free(p);
}

static int setup_with(void **state, unsigned max_dirs, uint64_t debounce_ms)
{
    fixture_t *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    snprintf(f->dir, sizeof(f->dir), "/tmp/gl-watch-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    gl_watch_opts_t o = {.debounce_ms = debounce_ms, .max_delay_ms = 1000,
                         .max_dirs = max_dirs, .on_change = on_change, .data = f};
    assert_int_equal(gl_watch_new(&f->w, &f->loop, &o), 0);
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_with(state, 0, DEBOUNCE_MS);
}

/* A debounce long enough that a loaded machine never leaves such a gap between writes. */
static int setup_slow(void **state)
{
    return setup_with(state, 0, 400);
}

static void on_closed(void *arg)
{
    ((fixture_t *)arg)->closed++;
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    if (f->w)
        gl_watch_close(f->w, on_closed, f);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(f->closed, 1);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    gl_rm_rf(f->dir);
    free(f);
    return 0;
}

static void test_ignored_names(void **state)
{
    (void)state;
    assert_true(gl_watch_ignored("mod.pyc"));
    assert_true(gl_watch_ignored("__pycache__"));
    assert_true(gl_watch_ignored(".app.py.swp"));
    assert_true(gl_watch_ignored(".app.py.swx"));
    assert_true(gl_watch_ignored("app.py~"));
    assert_true(gl_watch_ignored(".#app.py"));
    assert_true(gl_watch_ignored("#app.py#"));
    assert_true(gl_watch_ignored(".git"));
    assert_true(gl_watch_ignored("app.py___jb_tmp___"));
    assert_false(gl_watch_ignored("app.py"));
    assert_false(gl_watch_ignored("node_modules"));
    assert_false(gl_watch_ignored("package.json"));
    assert_false(gl_watch_ignored("pyc"));
    assert_false(gl_watch_ignored(".gitignore"));
    assert_false(gl_watch_ignored("#"));
}

static void test_write_gives_one_debounced_callback(void **state)
{
    fixture_t *f = *state;
    watch_test_write_file(f->dir, "app.py", "v = 1\n");
    assert_int_equal(gl_watch_add(f->w, f->dir, NULL), 1);
    watch_test_run_for(&f->loop, 50);
    assert_int_equal(f->calls, 0); /* watching alone reports nothing */
    watch_test_write_file(f->dir, "app.py", "v = 2\n");
    run_until_calls(f, 1, 3 * DEBOUNCE_MS);
    assert_int_equal(f->calls, 1);
    assert_string_equal(f->what, "app.py");
    assert_string_equal(f->root, f->dir);
    assert_int_equal(f->others, 0);
}

static void test_burst_is_one_callback(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(gl_watch_add(f->w, f->dir, NULL), 1);
    /* Ten writes 20 ms apart: each restarts the 400 ms debounce. */
    for (int i = 0; i < 10; i++) {
        char name[16];
        snprintf(name, sizeof(name), "f%d.js", i % 3);
        watch_test_write_file(f->dir, name, "x");
        watch_test_run_for(&f->loop, 20);
    }
    assert_int_equal(f->calls, 0);
    run_until_calls(f, 1, 800);
    assert_int_equal(f->calls, 1);
    assert_string_equal(f->what, "f0.js"); /* the last one written (i = 9) */
    assert_int_equal(f->others, 2);
}

static void test_endless_churn_still_reports(void **state)
{
    fixture_t *f = *state; /* max_delay_ms is 1000 */
    assert_int_equal(gl_watch_add(f->w, f->dir, NULL), 1);
    for (int i = 0; i < 40 && f->calls == 0; i++) {
        watch_test_write_file(f->dir, "busy.txt", "x");
        watch_test_run_for(&f->loop, 50);
    }
    assert_int_equal(f->calls, 1);
}

static void test_new_subdirectory_is_watched(void **state)
{
    fixture_t *f = *state;
    make_dir(f->dir, "old");
    assert_int_equal(gl_watch_add(f->w, f->dir, NULL), 2);
    assert_int_equal(gl_watch_add(f->w, f->dir, NULL), 2); /* twice: same tree */
    make_dir(f->dir, "lib");
    run_until_calls(f, 1, 2 * DEBOUNCE_MS);
    assert_int_equal(f->calls, 1);
    assert_string_equal(f->what, "lib");
    assert_int_equal(gl_watch_count(f->w, f->dir), 3);

    char *lib = gl_path_join(f->dir, "lib");
    watch_test_write_file(lib, "helper.py", "x = 1\n");
    run_until_calls(f, 2, 2 * DEBOUNCE_MS);
    assert_int_equal(f->calls, 2);
    assert_string_equal(f->what, "lib/helper.py");

    /* A tree moved in at once: its inner directories are watched too. */
    char tree[96], inner[128];
    snprintf(tree, sizeof(tree), "%s-outside", f->dir);
    snprintf(inner, sizeof(inner), "%s/a/b", tree);
    assert_int_equal(gl_mkdir_p(inner, 0755), 0);
    char *dest = gl_path_join(lib, "pkg");
    assert_int_equal(rename(tree, dest), 0);
    run_until_calls(f, 3, 2 * DEBOUNCE_MS);
    assert_int_equal(f->calls, 3);
    assert_int_equal(gl_watch_count(f->w, f->dir), 6);
    char *deep = gl_path_join(dest, "a/b");
    watch_test_write_file(deep, "deep.js", "1");
    run_until_calls(f, 4, 2 * DEBOUNCE_MS);
    assert_int_equal(f->calls, 4);
    assert_string_equal(f->what, "lib/pkg/a/b/deep.js");

    /* Gone again: its watchers are closed. */
    assert_int_equal(gl_rm_rf(dest), 0);
    run_until_calls(f, 5, 2 * DEBOUNCE_MS);
    assert_int_equal(f->calls, 5);
    assert_int_equal(gl_watch_count(f->w, f->dir), 3);
    free(deep);
    free(dest);
    free(lib);
}

static void test_ignored_names_do_not_trigger(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(gl_watch_add(f->w, f->dir, NULL), 1);
    watch_test_write_file(f->dir, "app.cpython-311.pyc", "x");
    watch_test_write_file(f->dir, ".app.py.swp", "x");
    watch_test_write_file(f->dir, "app.py~", "x");
    watch_test_write_file(f->dir, ".#app.py", "x");
    make_dir(f->dir, "__pycache__");
    char *cache = gl_path_join(f->dir, "__pycache__");
    watch_test_write_file(cache, "app.cpython-311.pyc", "x");
    watch_test_run_for(&f->loop, 3 * DEBOUNCE_MS);
    assert_int_equal(f->calls, 0);
    assert_int_equal(gl_watch_count(f->w, f->dir), 1); /* __pycache__ not watched */
    /* node_modules matters. */
    make_dir(f->dir, "node_modules");
    run_until_calls(f, 1, 2 * DEBOUNCE_MS);
    assert_int_equal(f->calls, 1);
    assert_int_equal(gl_watch_count(f->w, f->dir), 2);
    free(cache);
}

static int setup_small(void **state)
{
    return setup_with(state, 4, DEBOUNCE_MS);
}

static void test_directory_bound(void **state)
{
    fixture_t *f = *state; /* max_dirs is 4 */
    for (int i = 0; i < 10; i++) {
        char name[16];
        snprintf(name, sizeof(name), "d%d", i);
        make_dir(f->dir, name);
    }
    assert_int_equal(gl_watch_add(f->w, f->dir, NULL), 4);
    make_dir(f->dir, "later");
    run_until_calls(f, 1, 2 * DEBOUNCE_MS);
    assert_int_equal(f->calls, 1); /* seen in the root all the same */
    assert_int_equal(gl_watch_count(f->w, f->dir), 4);
}

static void test_not_a_directory(void **state)
{
    fixture_t *f = *state;
    gl_err_t err = {0};
    watch_test_write_file(f->dir, "file", "x");
    char *p = gl_path_join(f->dir, "file");
    assert_int_equal(gl_watch_add(f->w, p, &err), -ENOTDIR);
    char *missing = gl_path_join(f->dir, "missing");
    assert_int_equal(gl_watch_add(f->w, missing, &err), -ENOENT);
    assert_int_equal(gl_watch_count(f->w, missing), 0);
    free(missing);
    free(p);
}

static void test_close_with_pending_burst(void **state)
{
    fixture_t *f = *state;
    make_dir(f->dir, "a");
    assert_int_equal(gl_watch_add(f->w, f->dir, NULL), 2);
    watch_test_write_file(f->dir, "x.py", "1");
    watch_test_run_for(&f->loop, 20); /* the event is in, the debounce is pending */
    gl_watch_close(f->w, on_closed, f);
    f->w = NULL;
    uv_run(&f->loop, UV_RUN_DEFAULT); /* ends: no handle left */
    assert_int_equal(f->closed, 1);
    assert_int_equal(f->calls, 0); /* no report after close */
}

static void test_close_empty_watcher_is_immediate(void **state)
{
    fixture_t *f = *state;
    gl_watch_close(f->w, on_closed, f);
    f->w = NULL;
    assert_int_equal(f->closed, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ignored_names),
        cmocka_unit_test_setup_teardown(test_write_gives_one_debounced_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_burst_is_one_callback, setup_slow, teardown),
        cmocka_unit_test_setup_teardown(test_endless_churn_still_reports, setup, teardown),
        cmocka_unit_test_setup_teardown(test_new_subdirectory_is_watched, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ignored_names_do_not_trigger, setup, teardown),
        cmocka_unit_test_setup_teardown(test_directory_bound, setup_small, teardown),
        cmocka_unit_test_setup_teardown(test_not_a_directory, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_with_pending_burst, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_empty_watcher_is_immediate, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
