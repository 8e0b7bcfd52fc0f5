/* SPDX-License-Identifier: MIT */
/*
 * test_registry.c: src/registry/registry.c and fnjson.c: put/find/list/remove, persistence
 * across close and reopen in a temporary state dir, corrupt entries skipped, stale files
 * swept, the listener's arguments, remove_code_on_free only when the code changes, template
 * functions, and the FunctionConfiguration members.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "galley/registry.h"
#include "galley/util.h"
#include "registry_fixture.h"

typedef struct retired {
    int calls;
    gl_fn_t *old_fn, *new_fn;
    int old_remove_flag_at_call;
    char old_name[80];
} retired_t;

static void on_retire(gl_fn_t *old_fn, gl_fn_t *new_fn, void *data)
{
    retired_t *r = data;
    r->calls++;
    r->old_fn = old_fn;
    r->new_fn = new_fn;
    r->old_remove_flag_at_call = old_fn->remove_code_on_free;
    snprintf(r->old_name, sizeof(r->old_name), "%s", old_fn->cfg.name);
}

static int setup(void **state)
{
    (void)state;
    fixture_make_state_dir("galley-reg-test");
    return 0;
}

static gl_registry_t *open_reg(void)
{
    return fixture_open("eu-central-1", "111122223333");
}

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* A created function's code as the API would lay it out: code-<rev>/ plus code-<rev>.zip. */
static void make_cfg(gl_registry_t *r, gl_fn_config_t *c, const char *name, const char *rev)
{
    memset(c, 0, sizeof(*c));
    c->name = strdup(name);
    c->runtime = strdup("python3.12");
    c->handler = strdup("app.handler");
    c->role = strdup("arn:aws:iam::111122223333:role/r");
    c->revision_id = strdup(rev);
    c->code_dir = gl_registry_new_code_dir(r, name, rev);
    c->code_sha256 = strdup("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
    c->code_size = 22;
    assert_int_equal(gl_mkdir_p(c->code_dir, 0755), 0);
    char *zip = gl_registry_code_zip_path(c->code_dir);
    assert_int_equal(gl_write_file_atomic(zip, "PK", 2), 0);
    free(zip);
}

static void test_put_find_list_remove_persist(void **state)
{
    (void)state;
    gl_registry_t *r = open_reg();
    gl_err_t err = {0};
    gl_fn_config_t c;
    gl_fn_t *fn = NULL;

    const char *names[] = {"zeta", "alpha", "mid-1", "Mid_0"};
    for (int i = 0; i < 4; i++) {
        char rev[40];
        snprintf(rev, sizeof(rev), "rev%d", i);
        make_cfg(r, &c, names[i], rev);
        if (strcmp(names[i], "alpha") == 0)
            c.env_vars = json_pack("{s:s}", "KEY", "v");
        assert_int_equal(gl_registry_put(r, &c, &fn, &err), 0);
        assert_non_null(fn);
        assert_null(c.name); /* ownership moved */
        assert_string_equal(fn->cfg.name, names[i]);
        assert_non_null(fn->cfg.last_modified);
    }
    assert_ptr_equal(gl_registry_find(r, "alpha"), gl_registry_find(r, "alpha"));
    assert_non_null(gl_registry_find(r, "Mid_0"));
    assert_null(gl_registry_find(r, "nope"));
    assert_null(gl_registry_find(r, "alph"));

    gl_fn_t **list;
    size_t n;
    assert_int_equal(gl_registry_list(r, &list, &n), 0);
    assert_int_equal(n, 4);
    assert_string_equal(list[0]->cfg.name, "Mid_0");
    assert_string_equal(list[1]->cfg.name, "alpha");
    assert_string_equal(list[2]->cfg.name, "mid-1");
    assert_string_equal(list[3]->cfg.name, "zeta");
    free(list);

    char path[512];
    snprintf(path, sizeof(path), "%s/functions/alpha/function.json", state_dir);
    assert_true(exists(path));
    gl_registry_free(r);

    /* Reopen: everything is back, with the same configuration. */
    r = open_reg();
    fn = gl_registry_find(r, "alpha");
    assert_non_null(fn);
    assert_string_equal(fn->cfg.revision_id, "rev1");
    assert_string_equal(fn->cfg.runtime, "python3.12");
    assert_int_equal(fn->cfg.code_size, 22);
    assert_int_equal(fn->cfg.timeout_s, 3);
    assert_string_equal(json_string_value(json_object_get(fn->cfg.env_vars, "KEY")), "v");
    snprintf(path, sizeof(path), "%s/functions/alpha/code-rev1", state_dir);
    assert_string_equal(fn->cfg.code_dir, path);
    assert_int_equal(gl_registry_list(r, &list, &n), 0);
    assert_int_equal(n, 4);
    free(list);

    /* Remove: gone from the table and from disk (once nothing holds the snapshot). */
    retired_t ret = {0};
    gl_registry_listener_t l = {.on_retire = on_retire, .data = &ret};
    gl_registry_set_listener(r, &l);
    gl_fn_t *held = gl_fn_ref(gl_registry_find(r, "zeta"));
    assert_int_equal(gl_registry_remove(r, "zeta", &err), 0);
    assert_int_equal(ret.calls, 1);
    assert_ptr_equal(ret.old_fn, held);
    assert_null(ret.new_fn);
    assert_int_equal(ret.old_remove_flag_at_call, 1);
    assert_null(gl_registry_find(r, "zeta"));
    snprintf(path, sizeof(path), "%s/functions/zeta/code-rev0", state_dir);
    assert_true(exists(path)); /* still in use by `held` */
    char zip[600];
    snprintf(zip, sizeof(zip), "%s.zip", path);
    assert_false(exists(zip));
    gl_fn_unref(held);
    assert_false(exists(path)); /* the last reference took the code with it */
    assert_int_equal(gl_registry_remove(r, "zeta", &err), -ENOENT);
    gl_registry_free(r);

    r = open_reg();
    assert_null(gl_registry_find(r, "zeta"));
    snprintf(path, sizeof(path), "%s/functions/zeta", state_dir);
    assert_false(exists(path));
    gl_registry_free(r);
}

static void test_replace_and_code_removal(void **state)
{
    (void)state;
    gl_registry_t *r = open_reg();
    gl_err_t err = {0};
    gl_fn_config_t c;
    gl_fn_t *v1, *v2, *v3;
    retired_t ret = {0};
    gl_registry_listener_t l = {.on_retire = on_retire, .data = &ret};
    gl_registry_set_listener(r, &l);

    make_cfg(r, &c, "f", "r1");
    assert_int_equal(gl_registry_put(r, &c, &v1, &err), 0);
    assert_int_equal(ret.calls, 0); /* a new function retires nothing */
    gl_fn_ref(v1);

    /* A configuration update keeps the code directory: it must survive the old snapshot. */
    assert_int_equal(gl_fn_config_copy(&c, &v1->cfg), 0);
    c.timeout_s = 10;
    free(c.revision_id);
    c.revision_id = strdup("r2");
    assert_int_equal(gl_registry_put(r, &c, &v2, &err), 0);
    assert_int_equal(ret.calls, 1);
    assert_ptr_equal(ret.old_fn, v1);
    assert_ptr_equal(ret.new_fn, v2);
    assert_int_equal(v1->remove_code_on_free, 0);
    char dir1[512];
    snprintf(dir1, sizeof(dir1), "%s", v1->cfg.code_dir);
    gl_fn_unref(v1);
    assert_true(exists(dir1));
    assert_ptr_equal(gl_registry_find(r, "f"), v2);
    gl_fn_ref(v2);

    /* A code update moves to a new directory: the old one goes with the old snapshot. */
    make_cfg(r, &c, "f", "r3");
    assert_int_equal(gl_registry_put(r, &c, &v3, &err), 0);
    assert_int_equal(ret.calls, 2);
    assert_ptr_equal(ret.old_fn, v2);
    assert_ptr_equal(ret.new_fn, v3);
    assert_int_equal(v2->remove_code_on_free, 1);
    assert_true(exists(dir1));
    gl_fn_unref(v2);
    assert_false(exists(dir1));
    assert_true(exists(v3->cfg.code_dir));
    gl_registry_free(r);

    r = open_reg();
    gl_fn_t *fn = gl_registry_find(r, "f");
    assert_non_null(fn);
    assert_string_equal(fn->cfg.revision_id, "r3");
    gl_registry_free(r);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_corrupt_and_stale(void **state)
{
    (void)state;
    gl_registry_t *r = open_reg();
    gl_err_t err = {0};
    gl_fn_config_t c;
    make_cfg(r, &c, "good", "g1");
    assert_int_equal(gl_registry_put(r, &c, NULL, &err), 0);
    gl_registry_free(r);

    char path[1024], fdir[512];
    /* Half-written function.json. */
    snprintf(fdir, sizeof(fdir), "%s/functions/broken", state_dir);
    assert_int_equal(gl_mkdir_p(fdir, 0755), 0);
    snprintf(path, sizeof(path), "%s/function.json", fdir);
    write_text(path, "{\"FormatVersion\":1,\"FunctionName\":\"bro");
    /* Valid JSON, wrong content (code dir escaping the function's directory). */
    snprintf(fdir, sizeof(fdir), "%s/functions/evil", state_dir);
    assert_int_equal(gl_mkdir_p(fdir, 0755), 0);
    snprintf(path, sizeof(path), "%s/function.json", fdir);
    write_text(path, "{\"FormatVersion\":1,\"FunctionName\":\"evil\",\"Runtime\":\"python3.12\","
                     "\"Description\":\"\",\"CodeDir\":\"../good\",\"CodeSha256\":\"x\","
                     "\"LastModified\":\"t\",\"RevisionId\":\"r\",\"Timeout\":3,\"MemorySize\":128,"
                     "\"EphemeralStorageSize\":512,\"CodeSize\":1}");
    /* A create that crashed before function.json. */
    snprintf(fdir, sizeof(fdir), "%s/functions/crashed/code-x", state_dir);
    assert_int_equal(gl_mkdir_p(fdir, 0755), 0);
    /* Leftovers next to a good function. */
    snprintf(fdir, sizeof(fdir), "%s/functions/good/code-old", state_dir);
    assert_int_equal(gl_mkdir_p(fdir, 0755), 0);
    snprintf(path, sizeof(path), "%s/functions/good/function.json.tmp", state_dir);
    write_text(path, "partial");

    r = open_reg();
    assert_non_null(gl_registry_find(r, "good"));
    assert_null(gl_registry_find(r, "broken"));
    assert_null(gl_registry_find(r, "evil"));
    gl_fn_t **list;
    size_t n;
    assert_int_equal(gl_registry_list(r, &list, &n), 0);
    assert_int_equal(n, 1);
    free(list);
    assert_false(exists(fdir));
    assert_false(exists(path));
    snprintf(path, sizeof(path), "%s/functions/crashed", state_dir);
    assert_false(exists(path));
    snprintf(path, sizeof(path), "%s/functions/broken/function.json", state_dir);
    assert_true(exists(path)); /* kept for the user to inspect */
    snprintf(path, sizeof(path), "%s/functions/good/code-g1.zip", state_dir);
    assert_true(exists(path));
    gl_registry_free(r);
}

static void test_templates(void **state)
{
    (void)state;
    gl_registry_t *r = open_reg();
    gl_err_t err = {0};
    gl_fn_config_t c = {0};
    c.name = strdup("tmpl-fn");
    c.runtime = strdup("nodejs22.x");
    c.code_dir = strdup("/nonexistent/src");
    gl_fn_config_defaults(&c);
    assert_int_equal(gl_registry_add_template(r, &c, "TmplFunction", &err), 0);
    gl_fn_t *fn = gl_registry_find(r, "tmpl-fn");
    assert_non_null(fn);
    assert_true(fn->from_template);
    assert_ptr_equal(gl_registry_find(r, "TmplFunction"), fn);

    gl_fn_config_t dup = {0};
    dup.name = strdup("tmpl-fn");
    assert_int_equal(gl_registry_add_template(r, &dup, "Other", &err), -EEXIST);
    gl_fn_config_free(&dup);

    /* Created functions cannot replace or remove a template's. */
    gl_fn_config_t mine;
    make_cfg(r, &mine, "tmpl-fn", "x1");
    assert_int_equal(gl_registry_put(r, &mine, NULL, &err), -EPERM);
    assert_non_null(mine.name); /* still the caller's */
    gl_fn_config_free(&mine);
    assert_int_equal(gl_registry_remove(r, "tmpl-fn", &err), -EPERM);
    gl_registry_free(r);

    /* Templates are not persisted. */
    r = open_reg();
    assert_null(gl_registry_find(r, "tmpl-fn"));
    gl_registry_free(r);
}

static void test_configuration_json(void **state)
{
    (void)state;
    gl_registry_t *r = open_reg();
    gl_err_t err = {0};
    gl_fn_config_t c;
    gl_fn_t *fn;
    make_cfg(r, &c, "shape", "rv");
    c.last_modified = strdup("2020-04-10T19:06:32.563+0000");
    c.extra = json_pack("{s:{s:s},s:[s],s:{s:s}}", "TracingConfig", "Mode", "Active",
                        "Architectures", "arm64", "LoggingConfig", "LogFormat", "JSON");
    assert_int_equal(gl_registry_put(r, &c, &fn, &err), 0);

    json_t *j = gl_fn_config_json(r, fn);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "FunctionName")), "shape");
    assert_string_equal(json_string_value(json_object_get(j, "FunctionArn")),
                        "arn:aws:lambda:eu-central-1:111122223333:function:shape");
    assert_string_equal(json_string_value(json_object_get(j, "Runtime")), "python3.12");
    assert_string_equal(json_string_value(json_object_get(j, "Handler")), "app.handler");
    assert_int_equal(json_integer_value(json_object_get(j, "CodeSize")), 22);
    assert_string_equal(json_string_value(json_object_get(j, "Description")), "");
    assert_int_equal(json_integer_value(json_object_get(j, "Timeout")), 3);
    assert_int_equal(json_integer_value(json_object_get(j, "MemorySize")), 128);
    assert_string_equal(json_string_value(json_object_get(j, "LastModified")),
                        "2020-04-10T19:06:32.563+0000");
    assert_string_equal(json_string_value(json_object_get(j, "CodeSha256")),
                        "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
    assert_string_equal(json_string_value(json_object_get(j, "Version")), "$LATEST");
    assert_null(json_object_get(j, "Environment")); /* only when set */
    assert_string_equal(json_string_value(json_object_get(j, "RevisionId")), "rv");
    assert_string_equal(json_string_value(json_object_get(j, "State")), "Active");
    assert_string_equal(json_string_value(json_object_get(j, "LastUpdateStatus")), "Successful");
    assert_string_equal(json_string_value(json_object_get(j, "PackageType")), "Zip");
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(j, "EphemeralStorage"), "Size")), 512);
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(j, "SnapStart"), "ApplyOn")), "None");
    /* Kept members override the defaults; LoggingConfig merges. */
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(j, "TracingConfig"), "Mode")),
        "Active");
    assert_string_equal(json_string_value(json_array_get(json_object_get(j, "Architectures"), 0)),
                        "arm64");
    json_t *lc = json_object_get(j, "LoggingConfig");
    assert_string_equal(json_string_value(json_object_get(lc, "LogFormat")), "JSON");
    assert_string_equal(json_string_value(json_object_get(lc, "LogGroup")), "/aws/lambda/shape");
    json_decref(j);

    /* With variables, Environment appears. */
    gl_fn_config_t c2;
    assert_int_equal(gl_fn_config_copy(&c2, &fn->cfg), 0);
    c2.env_vars = json_pack("{s:s}", "KEY", "v");
    assert_int_equal(gl_registry_put(r, &c2, &fn, &err), 0);
    j = gl_fn_config_json(r, fn);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(j, "Environment"), "Variables"), "KEY")),
                        "v");
    json_decref(j);
    gl_registry_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_put_find_list_remove_persist, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_replace_and_code_removal, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_and_stale, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_templates, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_configuration_json, setup, fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
