/* SPDX-License-Identifier: MIT */
/*
 * test_versions.c: src/registry/versions.c and aliases.c: publish numbering and
 * preconditions, the unchanged publish, delete rules, qualifier resolution with routing,
 * alias request parsing and Lambda's alias rules, persistence across close and reopen
 * (corrupt entries skipped), and code directories shared between $LATEST and versions.
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

static int retire_calls, retire_flag;
static gl_fn_t *retired_fn;

static void on_retire(gl_fn_t *old_fn, gl_fn_t *new_fn, void *data)
{
    (void)new_fn;
    (void)data;
    retire_calls++;
    retired_fn = old_fn;
    retire_flag = old_fn->remove_code_on_free;
}

static int setup(void **state)
{
    (void)state;
    fixture_make_state_dir("galley-ver-test");
    retire_calls = 0;
    return 0;
}

static gl_registry_t *open_reg(void)
{
    gl_registry_t *r = fixture_open("us-east-1", "123456789012");
    gl_registry_listener_t l = {.on_retire = on_retire};
    gl_registry_set_listener(r, &l);
    return r;
}

static int exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

/* Put name with code in code-<rev>/ (sha given), as the API would. */
static gl_fn_t *put(gl_registry_t *r, const char *name, const char *rev, const char *sha)
{
    gl_fn_config_t c = {0};
    gl_err_t err = {0};
    gl_fn_t *fn = NULL;
    c.name = strdup(name);
    c.runtime = strdup("python3.12");
    c.handler = strdup("app.handler");
    c.revision_id = strdup(rev);
    c.code_dir = gl_registry_new_code_dir(r, name, rev);
    c.code_sha256 = strdup(sha);
    assert_int_equal(gl_mkdir_p(c.code_dir, 0755), 0);
    char *zip = gl_registry_code_zip_path(c.code_dir);
    assert_int_equal(gl_write_file_atomic(zip, "PK", 2), 0);
    free(zip);
    if (gl_registry_put(r, &c, &fn, &err) < 0)
        fail_msg("put: %s", err.msg);
    return fn;
}

static gl_fn_t *publish(gl_registry_t *r, const char *name, const char *desc, int want_created)
{
    gl_fn_t *v = NULL;
    gl_aws_error_t aerr;
    int created = -1;
    if (gl_registry_publish(r, name, NULL, NULL, desc, &v, &created, &aerr) < 0)
        fail_msg("publish: %s", aerr.msg);
    assert_int_equal(created, want_created);
    return v;
}

static void test_publish_numbering_and_preconditions(void **state)
{
    (void)state;
    gl_registry_t *r = open_reg();
    gl_fn_t *v = NULL;
    gl_aws_error_t aerr;

    put(r, "f", "rev-a", "SHA-A");
    gl_fn_t *v1 = publish(r, "f", "one", 1);
    assert_string_equal(v1->version, "1");
    assert_string_equal(v1->cfg.description, "one");
    assert_string_equal(v1->cfg.code_sha256, "SHA-A");
    assert_string_not_equal(v1->cfg.revision_id, "rev-a");
    assert_ptr_equal(publish(r, "f", NULL, 0), v1); /* nothing changed: the same version */
    assert_ptr_equal(publish(r, "f", "one", 0), v1);
    gl_fn_t *v2 = publish(r, "f", "two", 1); /* a new description is a change */
    assert_string_equal(v2->version, "2");

    put(r, "f", "rev-b", "SHA-B");
    assert_int_equal(gl_registry_publish(r, "f", "SHA-A", NULL, NULL, &v, NULL, &aerr), -EINVAL);
    assert_int_equal(aerr.type, GL_AWS_INVALID_PARAMETER_VALUE);
    assert_string_equal(aerr.msg,
                        "CodeSHA256 (SHA-A) is different from current CodeSHA256 in $LATEST "
                        "(SHA-B). Please try again with the CodeSHA256 in $LATEST.");
    assert_int_equal(gl_registry_publish(r, "f", NULL, "rev-a", NULL, &v, NULL, &aerr), -EINVAL);
    assert_int_equal(aerr.type, GL_AWS_PRECONDITION_FAILED);
    assert_int_equal(gl_registry_publish(r, "nope", NULL, NULL, NULL, &v, NULL, &aerr), -ENOENT);
    assert_int_equal(aerr.type, GL_AWS_RESOURCE_NOT_FOUND);
    assert_int_equal(gl_registry_publish(r, "f", "SHA-B", "rev-b", NULL, &v, NULL, &aerr), 0);
    assert_string_equal(v->version, "3");

    /* Resolution: "", $LATEST, N, unknown. */
    assert_ptr_equal(gl_registry_resolve(r, "f", "", -1), gl_registry_find(r, "f"));
    assert_ptr_equal(gl_registry_resolve(r, "f", "$LATEST", -1), gl_registry_find(r, "f"));
    assert_ptr_equal(gl_registry_resolve(r, "f", "2", -1), v2);
    assert_null(gl_registry_resolve(r, "f", "4", -1));
    assert_null(gl_registry_resolve(r, "f", "02", -1));
    assert_null(gl_registry_resolve(r, "f", "live", -1));

    gl_fn_t **list;
    size_t n;
    assert_int_equal(gl_registry_list_versions(r, "f", &list, &n), 0);
    assert_int_equal(n, 4);
    assert_string_equal(list[0]->version, "$LATEST");
    assert_string_equal(list[3]->version, "3");
    free(list);

    /* The JSON shape of a version: qualified ARN, its own number. */
    json_t *j = gl_fn_config_json(r, v2);
    assert_string_equal(json_string_value(json_object_get(j, "FunctionArn")),
                        "arn:aws:lambda:us-east-1:123456789012:function:f:2");
    assert_string_equal(json_string_value(json_object_get(j, "Version")), "2");
    json_decref(j);
    gl_registry_free(r);
}

static gl_alias_t alias_of(const char *name, const char *version, const char *extra, double w)
{
    gl_alias_t a = {.name = (char *)name,
                    .function_version = (char *)version,
                    .extra_version = (char *)extra,
                    .extra_weight = w};
    return a;
}

static int put_alias(gl_registry_t *r, gl_alias_t a, int create, int has_routing,
                     gl_aws_error_t *aerr)
{
    const gl_alias_t *out = NULL;
    return gl_registry_put_alias(r, "f", &a, create, has_routing, NULL, &out, aerr);
}

static void test_alias_rules_and_delete(void **state)
{
    (void)state;
    gl_registry_t *r = open_reg();
    gl_aws_error_t aerr;

    put(r, "f", "rev-a", "A");
    gl_fn_t *v1 = publish(r, "f", NULL, 1);
    put(r, "f", "rev-b", "B");
    gl_fn_t *v2 = publish(r, "f", NULL, 1);

    assert_int_equal(put_alias(r, alias_of("live", "1", NULL, 0), 1, 0, &aerr), 0);
    assert_int_equal(put_alias(r, alias_of("live", "2", NULL, 0), 1, 0, &aerr), -EEXIST);
    assert_int_equal(aerr.type, GL_AWS_RESOURCE_CONFLICT);
    assert_string_equal(aerr.msg, "Alias already exists: arn:aws:lambda:us-east-1:123456789012:"
                                  "function:f:live");
    assert_int_equal(put_alias(r, alias_of("x", "9", NULL, 0), 1, 0, &aerr), -ENOENT);
    assert_int_equal(aerr.type, GL_AWS_RESOURCE_NOT_FOUND);
    assert_int_equal(put_alias(r, alias_of("x", "1", "1", 0.5), 1, 1, &aerr), -EINVAL);
    assert_int_equal(aerr.type, GL_AWS_INVALID_PARAMETER_VALUE);
    assert_int_equal(put_alias(r, alias_of("x", "$LATEST", "1", 0.5), 1, 1, &aerr), -EINVAL);
    assert_string_equal(aerr.msg, "$LATEST is not supported for an alias pointing to more than 1 "
                                  "version");
    assert_int_equal(put_alias(r, alias_of("x", "1", "7", 0.5), 1, 1, &aerr), -ENOENT);
    assert_int_equal(put_alias(r, alias_of("nope", "1", NULL, 0), 0, 0, &aerr), -ENOENT);
    assert_string_equal(aerr.msg, "Cannot find alias arn: arn:aws:lambda:us-east-1:123456789012:"
                                  "function:f:nope");
    assert_int_equal(put_alias(r, alias_of("canary", "1", "2", 0.25), 1, 1, &aerr), 0);

    /* Routing: below the weight the extra version, at or above it FunctionVersion. */
    assert_ptr_equal(gl_registry_resolve(r, "f", "canary", 0.1), v2);
    assert_ptr_equal(gl_registry_resolve(r, "f", "canary", 0.25), v1);
    assert_ptr_equal(gl_registry_resolve(r, "f", "canary", 0.9), v1);
    assert_ptr_equal(gl_registry_resolve(r, "f", "canary", -1), v1);
    assert_ptr_equal(gl_registry_resolve(r, "f", "live", 0.0), v1);
    int extra = 0;
    for (int i = 0; i < 4000; i++)
        extra += gl_registry_resolve(r, "f", "canary", gl_registry_route_draw()) == v2;
    assert_in_range(extra, 800, 1200); /* 25% of 4000, far outside any plausible draw */

    /* Update: the precondition, and NULL members keep their values. */
    const gl_alias_t *out = NULL;
    gl_alias_t upd = alias_of("canary", NULL, NULL, 0);
    upd.description = "moved";
    assert_int_equal(gl_registry_put_alias(r, "f", &upd, 0, 0, "stale", &out, &aerr), -EINVAL);
    assert_int_equal(aerr.type, GL_AWS_PRECONDITION_FAILED);
    char rev[64];
    snprintf(rev, sizeof(rev), "%s", gl_registry_find_alias(r, "f", "canary")->revision_id);
    assert_int_equal(gl_registry_put_alias(r, "f", &upd, 0, 0, rev, &out, &aerr), 0);
    assert_string_equal(out->description, "moved");
    assert_string_equal(out->extra_version, "2");
    assert_string_not_equal(out->revision_id, rev);

    /* Delete rules: aliases protect their versions; $LATEST is never a version here. */
    assert_int_equal(gl_registry_delete_version(r, "f", "2", &aerr), -EBUSY);
    assert_string_equal(aerr.msg,
                        "Unable to delete version because the following aliases reference "
                        "it: [canary]");
    assert_int_equal(gl_registry_delete_version(r, "f", "1", &aerr), -EBUSY);
    assert_string_equal(aerr.msg,
                        "Unable to delete version because the following aliases reference "
                        "it: [canary, live]");
    assert_int_equal(gl_registry_delete_version(r, "f", "5", &aerr), -ENOENT);
    assert_int_equal(gl_registry_delete_alias(r, "f", "canary", &aerr), 0);
    assert_int_equal(gl_registry_delete_alias(r, "f", "canary", &aerr), 0);
    retire_calls = 0;
    gl_fn_t *held = gl_fn_ref(v2);
    assert_int_equal(gl_registry_delete_version(r, "f", "2", &aerr), 0);
    assert_int_equal(retire_calls, 1);
    assert_ptr_equal(retired_fn, held);
    /* Its code is $LATEST's: not marked for removal. */
    assert_int_equal(retire_flag, 0);
    assert_true(exists(held->cfg.code_dir));
    gl_fn_unref(held);
    assert_true(exists(gl_registry_find(r, "f")->cfg.code_dir));
    assert_null(gl_registry_resolve(r, "f", "2", -1));
    /* Numbers are never reused. */
    put(r, "f", "rev-c", "C");
    assert_string_equal(publish(r, "f", NULL, 1)->version, "3");
    gl_registry_free(r);
}

static void test_alias_request_parsing(void **state)
{
    (void)state;
    gl_alias_t a;
    int routing;
    gl_aws_error_t aerr;
    json_t *b;

    b = json_pack("{s:s,s:s,s:s,s:{s:{s:f}}}", "Name", "live", "FunctionVersion", "3",
                  "Description", "d", "RoutingConfig", "AdditionalVersionWeights", "2", 0.3);
    assert_int_equal(gl_alias_from_request(b, 0, &a, &routing, &aerr), 0);
    assert_string_equal(a.name, "live");
    assert_string_equal(a.function_version, "3");
    assert_string_equal(a.extra_version, "2");
    assert_true(a.extra_weight > 0.29 && a.extra_weight < 0.31);
    assert_int_equal(routing, 1);
    gl_alias_free(&a);
    json_decref(b);

    struct {
        const char *json;
        int is_update;
        gl_aws_err_t want;
        const char *msg_part;
    } bad[] = {
        {"{\"FunctionVersion\":\"1\"}", 0, GL_AWS_VALIDATION, "Value null at 'name'"},
        {"{\"Name\":\"123\",\"FunctionVersion\":\"1\"}", 0, GL_AWS_VALIDATION,
         "Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)"},
        {"{\"Name\":\"a.b\",\"FunctionVersion\":\"1\"}", 0, GL_AWS_VALIDATION, "at 'name'"},
        {"{\"Name\":\"a\",\"FunctionVersion\":\"v1\"}", 0, GL_AWS_VALIDATION,
         "at 'functionVersion'"},
        {"{\"Name\":\"a\",\"FunctionVersion\":1}", 0, GL_AWS_INVALID_REQUEST_CONTENT,
         "FunctionVersion"},
        {"{\"Name\":\"a\",\"FunctionVersion\":\"1\",\"RoutingConfig\":{\"AdditionalVersionWeights\""
         ":{\"2\":1.5}}}",
         0, GL_AWS_VALIDATION, "Map value must satisfy constraint"},
        {"{\"Name\":\"a\",\"FunctionVersion\":\"1\",\"RoutingConfig\":{\"AdditionalVersionWeights\""
         ":{\"x\":0.5}}}",
         0, GL_AWS_VALIDATION, "Map keys must satisfy constraint"},
        {"{\"Name\":\"a\",\"FunctionVersion\":\"1\",\"RoutingConfig\":{\"AdditionalVersionWeights\""
         ":{\"2\":0.5,\"3\":0.1}}}",
         0, GL_AWS_INVALID_PARAMETER_VALUE,
         "Number of items in AdditionalVersionWeights cannot be greater than 1"},
        {"{\"RoutingConfig\":{\"AdditionalVersionWeights\":{\"2\":\"half\"}}}", 1,
         GL_AWS_INVALID_REQUEST_CONTENT, "AdditionalVersionWeights"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        b = json_loads(bad[i].json, 0, NULL);
        assert_non_null(b);
        aerr.type = GL_AWS_SERVICE;
        aerr.msg[0] = '\0';
        if (gl_alias_from_request(b, bad[i].is_update, &a, &routing, &aerr) != -EINVAL ||
            aerr.type != bad[i].want || !strstr(aerr.msg, bad[i].msg_part))
            fail_msg("case %zu: type %d aerr.msg %s", i, (int)aerr.type, aerr.msg);
        json_decref(b);
    }
    /* Update: absent members stay NULL; an empty RoutingConfig clears the routing. */
    b = json_loads("{\"RoutingConfig\":{}}", 0, NULL);
    assert_int_equal(gl_alias_from_request(b, 1, &a, &routing, &aerr), 0);
    assert_null(a.function_version);
    assert_null(a.extra_version);
    assert_int_equal(routing, 1);
    gl_alias_free(&a);
    json_decref(b);
    assert_int_equal(gl_alias_name_check("1234", &aerr), -EINVAL);
    assert_int_equal(gl_alias_name_check("v-1_x", &aerr), 0);
}

static void write_text(const char *path, const char *text)
{
    assert_int_equal(gl_write_file_atomic(path, text, strlen(text)), 0);
}

static void test_persistence_and_code_dirs(void **state)
{
    (void)state;
    gl_registry_t *r = open_reg();
    gl_aws_error_t aerr;
    char path[600], dir_a[512], dir_b[512];

    snprintf(dir_a, sizeof(dir_a), "%s", put(r, "f", "rev-a", "A")->cfg.code_dir);
    publish(r, "f", NULL, 1);
    publish(r, "f", "again", 1);
    assert_int_equal(put_alias(r, alias_of("live", "1", "2", 0.5), 1, 1, &aerr), 0);
    /* New code: the old directory stays, versions 1 and 2 still run it. */
    retire_calls = 0;
    snprintf(dir_b, sizeof(dir_b), "%s", put(r, "f", "rev-b", "B")->cfg.code_dir);
    assert_int_equal(retire_calls, 1);
    assert_int_equal(retire_flag, 0);
    assert_true(exists(dir_a));
    publish(r, "f", NULL, 1); /* version 3 on dir_b */
    assert_int_equal(gl_registry_delete_version(r, "f", "3", &aerr), 0);
    gl_registry_free(r);

    /* Reopen: versions, aliases and the counter come back; the code of 1 and 2 is kept. */
    snprintf(path, sizeof(path), "%s/functions/f/versions/7.json", state_dir);
    write_text(path, "{not json");
    snprintf(path, sizeof(path), "%s/functions/f/aliases/bad.json", state_dir);
    write_text(path, "{\"Name\":\"bad\",\"FunctionVersion\":\"9\",\"Description\":\"\","
                     "\"RevisionId\":\"x\"}");
    r = open_reg();
    assert_true(exists(dir_a));
    assert_true(exists(dir_b));
    gl_fn_t *v1 = gl_registry_resolve(r, "f", "1", -1);
    assert_non_null(v1);
    assert_string_equal(v1->version, "1");
    assert_string_equal(v1->cfg.code_dir, dir_a);
    assert_string_equal(gl_registry_resolve(r, "f", "2", -1)->cfg.description, "again");
    assert_null(gl_registry_resolve(r, "f", "3", -1));
    assert_null(gl_registry_resolve(r, "f", "7", -1));  /* corrupt: skipped */
    assert_null(gl_registry_find_alias(r, "f", "bad")); /* names a missing version: skipped */
    const gl_alias_t *live = gl_registry_find_alias(r, "f", "live");
    assert_non_null(live);
    assert_string_equal(live->extra_version, "2");
    assert_true(live->extra_weight == 0.5);
    /* 3 was burnt before the restart, and a file named 7 was seen: the next is 8. */
    put(r, "f", "rev-c", "C");
    assert_string_equal(publish(r, "f", NULL, 1)->version, "8");

    /* The last version on dir_a goes: only then is the directory marked and removed. */
    assert_int_equal(gl_registry_delete_alias(r, "f", "live", &aerr), 0);
    assert_int_equal(gl_registry_delete_version(r, "f", "1", &aerr), 0);
    assert_int_equal(retire_flag, 0);
    assert_true(exists(dir_a));
    gl_fn_t *held = gl_fn_ref(gl_registry_resolve(r, "f", "2", -1));
    assert_int_equal(gl_registry_delete_version(r, "f", "2", &aerr), 0);
    assert_int_equal(retire_flag, 1);
    assert_true(exists(dir_a)); /* still held */
    gl_fn_unref(held);
    assert_false(exists(dir_a));
    /* rev-b's directory went when rev-c replaced it: version 3, its other user, was gone. */
    assert_false(exists(dir_b));
    gl_registry_free(r);

    /* Deleting the function removes versions/ and aliases/ with it. */
    r = open_reg();
    gl_err_t err = {0};
    assert_int_equal(gl_registry_remove(r, "f", &err), 0);
    snprintf(path, sizeof(path), "%s/functions/f", state_dir);
    assert_false(exists(path));
    gl_registry_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_publish_numbering_and_preconditions, setup,
                                        fixture_teardown),
        cmocka_unit_test_setup_teardown(test_alias_rules_and_delete, setup, fixture_teardown),
        cmocka_unit_test(test_alias_request_parsing),
        cmocka_unit_test_setup_teardown(test_persistence_and_code_dirs, setup, fixture_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
