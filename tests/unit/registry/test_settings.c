/* SPDX-License-Identifier: MIT */
/*
 * test_settings.c: src/registry/settings.c and what DeleteFunction leaves behind: a setting
 * is stored, replaced and removed, persists across close and reopen, is refused for an
 * unknown function, and (with reserved concurrency) does not come back with a new function
 * of the same name, even after a restart.
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

static int setup(void **state)
{
    (void)state;
    fixture_make_state_dir("galley-settings-test");
    return 0;
}

static gl_registry_t *open_reg(void)
{
    return fixture_open("us-east-1", "123456789012");
}

static void create(gl_registry_t *r, const char *name)
{
    gl_fn_config_t c = {0};
    gl_err_t err = {0};
    c.name = strdup(name);
    c.runtime = strdup("python3.12");
    c.handler = strdup("app.handler");
    c.revision_id = strdup("rev");
    c.code_dir = gl_registry_new_code_dir(r, name, "rev");
    c.code_sha256 = strdup("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
    assert_int_equal(gl_mkdir_p(c.code_dir, 0755), 0);
    assert_int_equal(gl_registry_put(r, &c, NULL, &err), 0);
}

static const char *setting(gl_registry_t *r, const char *name, const char *key)
{
    return json_string_value(gl_registry_setting(r, name, key));
}

static void test_set_replace_remove_persist(void **state)
{
    (void)state;
    gl_registry_t *r = open_reg();
    gl_err_t err = {0};
    create(r, "f");
    assert_null(gl_registry_setting(r, "f", "RecursiveLoop"));
    assert_int_equal(gl_registry_set_setting(r, "f", "RecursiveLoop", json_string("Allow"), &err),
                     0);
    assert_string_equal(setting(r, "f", "RecursiveLoop"), "Allow");
    assert_int_equal(
        gl_registry_set_setting(r, "f", "RecursiveLoop", json_string("Terminate"), &err), 0);
    assert_int_equal(gl_registry_set_setting(r, "f", "Other", json_integer(7), &err), 0);
    gl_registry_free(r);

    r = open_reg();
    assert_string_equal(setting(r, "f", "RecursiveLoop"), "Terminate");
    assert_int_equal(json_integer_value(gl_registry_setting(r, "f", "Other")), 7);
    assert_int_equal(gl_registry_set_setting(r, "f", "Other", NULL, &err), 0);
    assert_int_equal(gl_registry_set_setting(r, "f", "RecursiveLoop", NULL, &err), 0);
    assert_null(gl_registry_setting(r, "f", "RecursiveLoop"));
    char path[512];
    snprintf(path, sizeof(path), "%s/functions/f/settings.json", state_dir);
    assert_int_equal(access(path, F_OK), -1); /* nothing left to keep */
    gl_registry_free(r);

    r = open_reg();
    assert_null(gl_registry_setting(r, "f", "Other"));
    gl_registry_free(r);
}

static void test_unknown_function(void **state)
{
    (void)state;
    gl_registry_t *r = open_reg();
    gl_err_t err = {0};
    assert_int_equal(gl_registry_set_setting(r, "nope", "K", json_string("v"), &err), -ENOENT);
    assert_null(gl_registry_setting(r, "nope", "K"));
    gl_registry_free(r);
}

/* DeleteFunction, then CreateFunction with the same name: the new function starts with
 * nothing of the old one's, in this run and after a restart. */
static void test_delete_forgets(void **state)
{
    (void)state;
    gl_registry_t *r = open_reg();
    gl_err_t err = {0};
    create(r, "g");
    assert_int_equal(gl_registry_set_setting(r, "g", "RecursiveLoop", json_string("Allow"), &err),
                     0);
    assert_int_equal(gl_registry_set_reserved(r, "g", 5, &err), 0);
    assert_int_equal(gl_registry_remove(r, "g", &err), 0);
    create(r, "g");
    assert_null(gl_registry_setting(r, "g", "RecursiveLoop"));
    assert_int_equal(gl_registry_reserved(r, "g"), -1);
    gl_registry_free(r);

    r = open_reg();
    assert_non_null(gl_registry_find(r, "g"));
    assert_null(gl_registry_setting(r, "g", "RecursiveLoop"));
    assert_int_equal(gl_registry_reserved(r, "g"), -1);
    gl_registry_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_set_replace_remove_persist, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_unknown_function, setup, fixture_teardown),
        cmocka_unit_test_setup_teardown(test_delete_forgets, setup, fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
