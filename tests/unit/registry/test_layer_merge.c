/* SPDX-License-Identifier: MIT */
/*
 * test_layer_merge.c: src/registry/layer_merge.c: layer ARNs and LayerName parameters as
 * Lambda's patterns accept them, and the merge of layers into one directory: a later layer's
 * file replaces an earlier one's (also a file over a directory and back), files of both
 * remain, symbolic links are kept as links, and a failed merge leaves nothing behind; a
 * merge finding the same list merged meanwhile keeps that one; a function's list resolved in
 * its three steps (plan on the loop, prepare on a worker, finish), with a stop and with a
 * version gone before the finish.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "galley/layers.h"
#include "galley/util.h"
#include "registry_fixture.h"

static int setup(void **state)
{
    (void)state;
    fixture_make_state_dir("galley-layer-merge-test");
    return 0;
}

static void test_parse_arn(void **state)
{
    (void)state;
    gl_layer_ref_t ref;
    assert_int_equal(gl_layer_parse_arn("arn:aws:lambda:us-east-1:123456789012:layer:my-lib_2:7",
                                        1, &ref),
                     0);
    assert_string_equal(ref.region, "us-east-1");
    assert_string_equal(ref.account, "123456789012");
    assert_string_equal(ref.name, "my-lib_2");
    assert_int_equal(ref.version, 7);
    assert_int_equal(gl_layer_parse_arn("arn:aws-cn:lambda:cn-north-1:123456789012:layer:x", 0,
                                        &ref),
                     0);
    assert_string_equal(ref.name, "x");
    assert_int_equal(ref.version, 0);
    static const char *const bad[] = {
        "arn:aws:lambda:us-east-1:123456789012:layer:x",      /* no version */
        "arn:aws:lambda:us-east-1:12345678901:layer:x:1",     /* 11-digit account */
        "arn:aws:lambda:us-east-1:123456789012:function:x:1", /* not a layer */
        "arn:aws:lambda:us-east-1:123456789012:layer:x:1a",
        "arn:aws:lambda:us-east-1:123456789012:layer:x:",
        "arn:aws:lambda:us-east-1:123456789012:layer::1",
        "arn:aws:lambda:us-east-1:123456789012:layer:a/b:1",
        "arn:aws:s3:us-east-1:123456789012:layer:x:1",
        "x:1",
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (gl_layer_parse_arn(bad[i], 1, &ref) == 0)
            fail_msg("accepted %s", bad[i]);
    assert_int_equal(gl_layer_parse_arn(NULL, 1, &ref), -EINVAL);
    char longer[200];
    snprintf(longer, sizeof(longer), "arn:aws:lambda:us-east-1:123456789012:layer:%0120d:1", 0);
    assert_int_equal(gl_layer_parse_arn(longer, 1, &ref), -EINVAL); /* over 140 */
}

static void test_parse_name(void **state)
{
    (void)state;
    char name[GL_LAYER_NAME_MAX + 1];
    assert_int_equal(gl_layer_parse_name("plain-name_1", name), 0);
    assert_string_equal(name, "plain-name_1");
    assert_int_equal(gl_layer_parse_name("arn:aws:lambda:eu-west-1:123456789012:layer:lib", name),
                     0);
    assert_string_equal(name, "lib");
    assert_int_equal(gl_layer_parse_name("", name), -EINVAL);
    assert_int_equal(gl_layer_parse_name("a.b", name), -EINVAL);
    assert_int_equal(gl_layer_parse_name("../x", name), -EINVAL);
    assert_int_equal(gl_layer_parse_name("arn:aws:lambda:eu-west-1:123456789012:layer:lib:1",
                                         name),
                     -EINVAL);
}

static void put(const char *dir, const char *rel, const char *text)
{
    char *path = NULL;
    assert_true(asprintf(&path, "%s/%s", dir, rel) > 0);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    assert_int_equal(gl_mkdir_p(path, 0755), 0);
    *slash = '/';
    assert_int_equal(gl_write_file_atomic(path, text, strlen(text)), 0);
    free(path);
}

static char *read_text(const char *dir, const char *rel)
{
    char *path = NULL;
    gl_buf_t b = {0};
    assert_true(asprintf(&path, "%s/%s", dir, rel) > 0);
    int rc = gl_read_file(path, 4096, &b);
    free(path);
    if (rc < 0) {
        gl_buf_free(&b);
        return NULL;
    }
    return gl_buf_steal(&b, NULL);
}

static void expect_text(const char *dir, const char *rel, const char *want)
{
    char *got = read_text(dir, rel);
    if (!want) {
        assert_null(got);
        return;
    }
    assert_non_null(got);
    assert_string_equal(got, want);
    free(got);
}

static void test_merge_order(void **state)
{
    (void)state;
    char a[300], b[300], c[300], dest[300], link_to[64];
    snprintf(a, sizeof(a), "%s/a", state_dir);
    snprintf(b, sizeof(b), "%s/b", state_dir);
    snprintf(c, sizeof(c), "%s/c", state_dir);
    snprintf(dest, sizeof(dest), "%s/merged", state_dir);
    put(a, "python/lib.py", "A");
    put(a, "python/only_a.py", "only a");
    put(a, "thing/inside", "dir in a");
    put(b, "python/lib.py", "B");
    put(b, "thing", "file in b");
    put(b, "bin/tool", "tool");
    char *lnk = NULL;
    assert_true(asprintf(&lnk, "%s/bin/alias", b) > 0);
    assert_int_equal(symlink("tool", lnk), 0);
    free(lnk);
    put(c, "thing/again", "dir in c");

    const char *order[] = {a, b, c};
    gl_err_t err = {0};
    assert_int_equal(gl_layers_merge(order, 3, dest, &err), 0);
    expect_text(dest, "python/lib.py", "B"); /* the later layer wins */
    expect_text(dest, "python/only_a.py", "only a");
    expect_text(dest, "bin/tool", "tool");
    expect_text(dest, "thing/again", "dir in c"); /* c's directory replaced b's file */
    expect_text(dest, "thing/inside", NULL);       /* which had replaced a's directory */
    char *alias = NULL;
    assert_true(asprintf(&alias, "%s/bin/alias", dest) > 0);
    ssize_t n = readlink(alias, link_to, sizeof(link_to) - 1);
    assert_int_equal(n, 4);
    link_to[n] = '\0';
    assert_string_equal(link_to, "tool");
    free(alias);
    /* Files are linked, not copied: the same inode as the layer's. */
    struct stat s1, s2;
    char *p1 = NULL, *p2 = NULL;
    assert_true(asprintf(&p1, "%s/python/lib.py", b) > 0 &&
                asprintf(&p2, "%s/python/lib.py", dest) > 0);
    assert_int_equal(stat(p1, &s1), 0);
    assert_int_equal(stat(p2, &s2), 0);
    assert_true(s1.st_ino == s2.st_ino);
    free(p1);
    free(p2);

    /* The other order: a's file wins. */
    const char *reversed[] = {b, a};
    char dest2[310];
    snprintf(dest2, sizeof(dest2), "%s/merged2", state_dir);
    assert_int_equal(gl_layers_merge(reversed, 2, dest2, &err), 0);
    expect_text(dest2, "python/lib.py", "A");
    expect_text(dest2, "thing/inside", "dir in a");
    assert_true(gl_layers_tree_bytes(dest2) >= strlen("A") + strlen("only a") + strlen("tool"));

    /* A missing layer fails the merge and leaves no directory. */
    char missing[310], dest3[310];
    snprintf(missing, sizeof(missing), "%s/missing", state_dir);
    snprintf(dest3, sizeof(dest3), "%s/merged3", state_dir);
    const char *broken[] = {a, missing};
    assert_true(gl_layers_merge(broken, 2, dest3, &err) < 0);
    assert_int_equal(access(dest3, F_OK), -1);
    assert_int_equal(gl_layers_tree_bytes(dest3), 0);
}

/* Another thread's merge of the same list renamed in first: its directory stays, this
 * merge's goes, and the call succeeds. */
static void test_merge_lost_race(void **state)
{
    (void)state;
    char *a = gl_path_join(state_dir, "a"), *dest = gl_path_join(state_dir, "merged");
    const char *dirs[] = {a};
    gl_err_t err = {0};
    put(a, "x", "new");
    put(dest, "x", "first");
    assert_int_equal(gl_layers_merge(dirs, 1, dest, &err), 0);
    expect_text(dest, "x", "first");
    DIR *d = opendir(state_dir);
    struct dirent *e;
    int entries = 0;
    while ((e = readdir(d)))
        entries += e->d_name[0] != '.';
    closedir(d);
    assert_int_equal(entries, 2); /* a and merged: no half-built merge beside it */
    free(a);
    free(dest);
}

static const char TPL_ARN[] = "arn:aws:lambda:us-east-1:123456789012:layer:tpl:1";

/* A function's config naming arn, and its layers resolved up to (not including) the finish. */
static void plan_and_prepare(gl_registry_t *r, gl_fn_config_t *cfg, const char *arn,
                             const atomic_int *stop, gl_layers_plan_t *p, int want)
{
    gl_aws_error_t aerr;
    json_decref(cfg->extra);
    cfg->extra = json_pack("{s:[{s:s}]}", "Layers", "Arn", arn);
    assert_int_equal(gl_layers_plan(r, cfg, stop, p, &aerr), want < 0 && !stop ? want : 0);
    assert_int_equal(gl_layers_prepare(p, cfg->code_dir) < 0, want < 0);
}

static void test_resolve_steps(void **state)
{
    (void)state;
    gl_registry_t *r = fixture_open("us-east-1", "123456789012");
    char *lay = gl_path_join(state_dir, "lay");
    gl_fn_config_t cfg = {.code_dir = gl_path_join(state_dir, "code")};
    gl_layers_plan_t p;
    gl_aws_error_t aerr;
    put(lay, "nodejs/node_modules/m/index.js", "module");
    put(cfg.code_dir, "app.py", "x");
    json_t *tpl = json_pack("{s:{s:s,s:s}}", "L", "Name", "tpl", "Dir", lay);
    assert_int_equal(gl_layers_set_template(r, tpl), 0);

    /* A stop while merging: nothing is left, and the finish answers the failure. */
    atomic_int stop = 1;
    plan_and_prepare(r, &cfg, TPL_ARN, &stop, &p, -1);
    assert_int_equal(p.n, 1);
    assert_int_equal(access(p.dest, F_OK), -1);
    assert_int_equal(gl_layers_finish(r, &p, &cfg, &aerr), p.rc);
    assert_int_equal(aerr.type, GL_AWS_SERVICE);
    assert_null(cfg.opt_dir);
    gl_layers_plan_free(&p);

    /* The three steps: merged, then bound. */
    plan_and_prepare(r, &cfg, TPL_ARN, NULL, &p, 0);
    char *dest = strdup(p.dest);
    assert_int_equal(gl_layers_finish(r, &p, &cfg, &aerr), 0);
    assert_string_equal(cfg.opt_dir, dest);
    expect_text(cfg.opt_dir, "nodejs/node_modules/m/index.js", "module");
    gl_layers_plan_free(&p);

    /* The version gone before the finish: Lambda's answer, as if it had gone first. */
    plan_and_prepare(r, &cfg, TPL_ARN, NULL, &p, 0);
    json_t *none = json_object();
    assert_int_equal(gl_layers_set_template(r, none), 0);
    assert_int_equal(gl_layers_finish(r, &p, &cfg, &aerr), -EINVAL);
    assert_int_equal(aerr.type, GL_AWS_INVALID_PARAMETER_VALUE);
    assert_string_equal(aerr.msg, "Layer version arn:aws:lambda:us-east-1:123456789012:layer:"
                                  "tpl:1 does not exist.");
    assert_null(cfg.opt_dir);
    gl_layers_plan_free(&p);

    /* The plan's refusal is kept for the finish (CreateFunction answers it after the unzip). */
    plan_and_prepare(r, &cfg, TPL_ARN, NULL, &p, -EINVAL);
    assert_int_equal(gl_layers_finish(r, &p, &cfg, &aerr), -EINVAL);
    assert_true(strstr(aerr.msg, "does not exist") != NULL);
    gl_layers_plan_free(&p);

    json_decref(none);
    json_decref(tpl);
    free(dest);
    free(lay);
    gl_fn_config_free(&cfg);
    gl_registry_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_arn),
        cmocka_unit_test(test_parse_name),
        cmocka_unit_test_setup_teardown(test_merge_order, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_merge_lost_race, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_resolve_steps, setup, fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
