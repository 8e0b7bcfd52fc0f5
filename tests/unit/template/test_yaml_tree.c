/* SPDX-License-Identifier: MIT */
/*
 * test_yaml_tree.c: the YAML -> jansson tree of src/template/yaml_tree.c (short-form tags,
 * scalars kept as text, nulls, line map, hostile nesting) and Fn::Sub edge cases of
 * src/template/intrinsics.c.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"

static json_t *parse_ok(const char *text, json_t **lines)
{
    json_t *root = NULL, *l = NULL;
    gl_err_t err = {0};
    int rc = gl_template_parse_yaml(text, strlen(text), "t.yaml", &root, &l, &err);
    if (rc != 0)
        fail_msg("parse failed: %s", err.msg);
    if (lines)
        *lines = l;
    else
        json_decref(l);
    return root;
}

static void assert_json(json_t *got, const char *want_json)
{
    json_t *want = json_loads(want_json, 0, NULL);
    assert_non_null(want);
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_SORT_KEYS);
        fail_msg("got %s, want %s", g, want_json);
    }
    json_decref(want);
}

static void test_short_form_tags(void **state)
{
    json_t *root = parse_ok("a: !Ref Stage\n"
                            "b: !GetAtt Table.Arn\n"
                            "c: !Sub [\"${X}\", {X: !Ref Y}]\n"
                            "d: !If [Cond, 1, 2]\n"
                            "e: !Condition IsProd\n"
                            "f: !!str\n"
                            "g:\n"
                            "h: ~\n"
                            "i: 'null'\n"
                            "j: 1.10\n"
                            "k: yes\n",
                            NULL);
    assert_json(root, "{\"a\": {\"Ref\": \"Stage\"},"
                      " \"b\": {\"Fn::GetAtt\": [\"Table\", \"Arn\"]},"
                      " \"c\": {\"Fn::Sub\": [\"${X}\", {\"X\": {\"Ref\": \"Y\"}}]},"
                      " \"d\": {\"Fn::If\": [\"Cond\", \"1\", \"2\"]},"
                      " \"e\": {\"Condition\": \"IsProd\"},"
                      " \"f\": \"\", \"g\": null, \"h\": null, \"i\": \"null\","
                      " \"j\": \"1.10\", \"k\": \"yes\"}");
    json_decref(root);
}

static void test_line_map(void **state)
{
    json_t *lines;
    json_t *root = parse_ok("# comment\n"
                            "Resources:\n"
                            "  Fn:\n"
                            "    Type: X\n"
                            "    Properties:\n"
                            "      Timeout: 3\n",
                            &lines);
    const char *prop[] = {"Resources", "Fn", "Properties", "Timeout", NULL};
    const char *missing[] = {"Resources", "Fn", "Properties", "MemorySize", NULL};
    const char *other[] = {"Nothing", NULL};
    assert_int_equal(gl_template_line(lines, prop), 6);
    assert_int_equal(gl_template_line(lines, missing), 5); /* falls back to the parent key */
    assert_int_equal(gl_template_line(lines, other), 0);
    json_decref(lines);
    json_decref(root);
}

static void test_deep_nesting_refused(void **state)
{
    char text[1024];
    size_t o = 0;
    o += (size_t)snprintf(text, sizeof(text), "a: ");
    for (int i = 0; i < 300; i++)
        text[o++] = '[';
    for (int i = 0; i < 300; i++)
        text[o++] = ']';
    text[o++] = '\n';
    text[o] = '\0';
    json_t *root = NULL, *lines = NULL;
    gl_err_t err = {0};
    assert_int_equal(gl_template_parse_yaml(text, o, "t.yaml", &root, &lines, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "too deep"));
    assert_null(root);
    assert_null(lines);
}

static void test_complex_key_refused(void **state)
{
    json_t *root = NULL, *lines = NULL;
    gl_err_t err = {0};
    const char *text = "? [a, b]\n: c\n";
    assert_true(gl_template_parse_yaml(text, strlen(text), "t.yaml", &root, &lines, &err) < 0);
    assert_non_null(strstr(err.msg, "t.yaml:1:"));
}

static json_t *sub(const char *yaml_value, gl_err_t *err, int *rc)
{
    char text[512];
    snprintf(text, sizeof(text), "v: %s\nParameters: {P: {Type: String, Default: pv}}\n",
             yaml_value);
    json_t *root = parse_ok(text, NULL), *params = NULL, *out = NULL;
    gl_template_ctx_t ctx = {.region = "ap-south-1"};
    assert_int_equal(gl_template_params("t.yaml", json_object_get(root, "Parameters"), &ctx, &params,
                                   err),
                     0);
    json_t *resources = json_object();
    gl_template_eval_t ev = {.file = "t.yaml", .ctx = &ctx, .params = params, .resources = resources,
                        .resource = "R"};
    *rc = gl_template_resolve(&ev, json_object_get(root, "v"), "v", &out, err);
    json_decref(resources);
    json_decref(params);
    json_decref(root);
    return out;
}

static void test_sub_forms(void **state)
{
    gl_err_t err = {0};
    int rc;
    json_t *v = sub("!Sub '${P}-${AWS::Region}-${!P}-$P-${AWS::AccountId}-${AWS::StackName}'",
                    &err, &rc);
    assert_int_equal(rc, GL_TEMPLATE_VALUE);
    assert_string_equal(json_string_value(v), "pv-ap-south-1-${P}-$P-123456789012-galley");
    json_decref(v);

    v = sub("!Sub ['${A}/${P}', {A: !Join ['', [x, !Ref P]]}]", &err, &rc);
    assert_int_equal(rc, GL_TEMPLATE_VALUE);
    assert_string_equal(json_string_value(v), "xpv/pv");
    json_decref(v);

    v = sub("{'Fn::Sub': 'no variables at all'}", &err, &rc);
    assert_string_equal(json_string_value(v), "no variables at all");
    json_decref(v);

    v = sub("!Sub '${Res.Arn}'", &err, &rc);
    assert_int_equal(rc, GL_TEMPLATE_UNSUPPORTED);
    assert_null(v);

    v = sub("!Sub [1, 2, 3]", &err, &rc);
    assert_true(rc < 0);
    assert_non_null(strstr(err.msg, "Fn::Sub takes"));
}

static void test_novalue_in_lists(void **state)
{
    gl_err_t err = {0};
    int rc;
    json_t *v = sub("[a, !Ref AWS::NoValue, b]", &err, &rc);
    assert_int_equal(rc, GL_TEMPLATE_VALUE);
    assert_json(v, "[\"a\", \"b\"]");
    json_decref(v);
    v = sub("!Ref AWS::NoValue", &err, &rc);
    assert_int_equal(rc, GL_TEMPLATE_NOVALUE);
    v = sub("[a, !Select [0, [b]]]", &err, &rc);
    assert_int_equal(rc, GL_TEMPLATE_UNSUPPORTED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_short_form_tags),
        cmocka_unit_test(test_line_map),
        cmocka_unit_test(test_deep_nesting_refused),
        cmocka_unit_test(test_complex_key_refused),
        cmocka_unit_test(test_sub_forms),
        cmocka_unit_test(test_novalue_in_lists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
