/* SPDX-License-Identifier: MIT */
/*
 * test_load.c: gl_template_load (src/template/load.c with its parser and intrinsics) on the
 * fixture tests/fixtures/templates/app/template.yaml and on small broken templates written
 * to a temporary directory. Warnings are read back from stderr, where gl_log writes them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "galley/template.h"
#include "galley/util.h"

static char fixture_dir[PATH_MAX]; /* <source>/tests/fixtures/templates/app */
static char tmp_dir[64];

/* ---- stderr capture, to see gl_log_warn's lines ---- */

static int saved_stderr = -1;
static char capture_path[96];
static char captured[16384];

static void capture_start(void)
{
    snprintf(capture_path, sizeof(capture_path), "%s/stderr.txt", tmp_dir);
    fflush(stderr);
    saved_stderr = dup(2);
    int fd = open(capture_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    dup2(fd, 2);
    close(fd);
}

static const char *capture_end(void)
{
    fflush(stderr);
    dup2(saved_stderr, 2);
    close(saved_stderr);
    gl_buf_t b = {0};
    assert_int_equal(gl_read_file(capture_path, sizeof(captured) - 1, &b), 0);
    snprintf(captured, sizeof(captured), "%s", b.data ? b.data : "");
    gl_buf_free(&b);
    fputs(captured, stderr); /* keep them visible in the test log */
    return captured;
}

static void assert_contains(const char *hay, const char *needle)
{
    if (!strstr(hay, needle))
        fail_msg("\"%s\" does not contain \"%s\"", hay, needle);
}

/* ---- the fixture ---- */

static const gl_template_fn_t *find_fn(const gl_template_t *t, const char *id)
{
    for (size_t i = 0; i < t->nfns; i++)
        if (!strcmp(t->fns[i].logical_id, id))
            return &t->fns[i];
    return NULL;
}

static const char *env_of(const gl_template_fn_t *f, const char *name)
{
    return json_string_value(json_object_get(f->cfg.env_vars, name));
}

static void load_fixture(gl_template_t *t, const char *const *overrides, size_t n,
                         const char **warnings)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof(path), "%s/template.yaml", fixture_dir);
    gl_template_ctx_t ctx = {.region = "eu-west-3", .account_id = "111122223333",
                             .stack_name = "mystack", .overrides = overrides, .noverrides = n};
    gl_err_t err = {0};
    capture_start();
    int rc = gl_template_load(path, &ctx, t, &err);
    *warnings = capture_end();
    if (rc != 0)
        fail_msg("load failed: %s", err.msg);
}

static void test_fixture_functions(void **state)
{
    gl_template_t t;
    const char *warnings;
    load_fixture(&t, NULL, 0, &warnings);
    assert_int_equal(t.nfns, 3); /* Hello, Root, Classic; Inline skipped; others not functions */

    const gl_template_fn_t *hello = find_fn(&t, "HelloFunction");
    assert_non_null(hello);
    assert_string_equal(hello->cfg.name, "hello-dev");
    assert_string_equal(hello->cfg.runtime, "python3.12"); /* from Globals */
    assert_string_equal(hello->cfg.handler, "app.handler");
    assert_int_equal(hello->cfg.timeout_s, 30);            /* own value wins */
    assert_int_equal(hello->cfg.memory_mb, 256);           /* from Globals */
    assert_int_equal(hello->cfg.ephemeral_mb, 1024);
    assert_string_equal(hello->cfg.description, "say-dev-eu-west-3");
    assert_string_equal(hello->cfg.role, "arn:aws:iam::123456789012:role/hello");
    assert_string_equal(hello->cfg.code_sha256, "");
    assert_int_equal(hello->cfg.code_size, 0);
    char want_dir[PATH_MAX + 16];
    snprintf(want_dir, sizeof(want_dir), "%s/src/hello", fixture_dir);
    assert_string_equal(hello->cfg.code_dir, want_dir);
    json_t *arch = json_object_get(hello->cfg.extra, "Architectures");
    assert_string_equal(json_string_value(json_array_get(arch, 0)), "arm64");

    /* Environment: Globals merged key by key, the function's own values winning. */
    assert_string_equal(env_of(hello, "STAGE"), "dev");
    assert_string_equal(env_of(hello, "SHARED"), "from-globals");
    assert_string_equal(env_of(hello, "OVERRIDDEN"), "local");
    assert_string_equal(env_of(hello, "REGION_URL"),
                        "https://lambda.eu-west-3.amazonaws.com/${Literal}");
    assert_string_equal(env_of(hello, "ACCOUNT"), "111122223333:aws:mystack");
    assert_string_equal(env_of(hello, "LEVEL"), "info");
    assert_string_equal(env_of(hello, "RETRIES"), "3");
    assert_string_equal(env_of(hello, "DEBUG"), "true");
    assert_string_equal(env_of(hello, "RATIO"), "1.10");
    assert_string_equal(env_of(hello, "SUBNETS"), "a,b,c");
    assert_null(json_object_get(hello->cfg.env_vars, "GONE"));  /* AWS::NoValue */
    assert_null(json_object_get(hello->cfg.env_vars, "TABLE")); /* GetAtt: warned, dropped */
    assert_int_equal(json_object_size(hello->cfg.env_vars), 10);

    const gl_template_fn_t *root = find_fn(&t, "RootFunction");
    assert_non_null(root);
    assert_string_equal(root->cfg.name, "RootFunction");
    assert_string_equal(root->cfg.runtime, "provided.al2023");
    assert_null(root->cfg.handler);
    assert_int_equal(root->cfg.memory_mb, 128); /* NoValue removed the Globals value too */
    assert_int_equal(root->cfg.timeout_s, 10);
    assert_string_equal(root->cfg.code_dir, fixture_dir); /* no CodeUri: the template's dir */
    assert_string_equal(env_of(root, "OVERRIDDEN"), "global");

    const gl_template_fn_t *classic = find_fn(&t, "ClassicFunction");
    assert_non_null(classic);
    assert_string_equal(classic->cfg.runtime, "nodejs20.x");
    assert_int_equal(classic->cfg.timeout_s, 3); /* Globals do not apply to AWS::Lambda */
    assert_int_equal(classic->cfg.memory_mb, 128);
    assert_null(classic->cfg.env_vars);
    assert_null(classic->cfg.role); /* !GetAtt: warned and dropped */
    snprintf(want_dir, sizeof(want_dir), "%s/src/other", fixture_dir);
    assert_string_equal(classic->cfg.code_dir, want_dir);
    assert_null(find_fn(&t, "InlineFunction"));

    /* Each unsupported thing is named in a warning. */
    assert_false(strstr(warnings, "property Events is not supported"));
    /* Its Api event is a route (events.c), the method upper-cased. */
    const json_t *route = json_array_get(find_fn(&t, "HelloFunction")->routes, 0);
    assert_string_equal(json_string_value(json_object_get(route, "Type")), "Api");
    assert_string_equal(json_string_value(json_object_get(route, "Method")), "GET");
    assert_string_equal(json_string_value(json_object_get(route, "Path")), "/hello");
    assert_null(find_fn(&t, "HelloFunction")->url_config);
    assert_contains(warnings, "property Environment.Variables.TABLE uses Fn::GetAtt");
    assert_contains(warnings, "ClassicFunction: property Role uses Fn::GetAtt");
    assert_contains(warnings, "InlineFunction: inline code");
    gl_template_free(&t);
    assert_int_equal(t.nfns, 0);
}

static void test_fixture_parameter_override(void **state)
{
    gl_template_t t;
    const char *warnings;
    const char *const overrides[] = {"Stage=prod", "Subnets=x,y", "Nope=1"};
    load_fixture(&t, overrides, 3, &warnings);
    const gl_template_fn_t *hello = find_fn(&t, "HelloFunction");
    assert_non_null(hello);
    assert_string_equal(hello->cfg.name, "hello-prod");
    assert_string_equal(env_of(hello, "STAGE"), "prod");
    assert_string_equal(env_of(hello, "SUBNETS"), "x,y");
    assert_string_equal(env_of(hello, "LEVEL"), "info"); /* default kept */
    assert_contains(warnings, "Nope");
    gl_template_free(&t);
}

/* ---- small templates that must fail, each with a message a person can act on ---- */

static const char *write_template(const char *body)
{
    static char path[128];
    snprintf(path, sizeof(path), "%s/tpl.yaml", tmp_dir);
    assert_int_equal(gl_write_file_atomic(path, body, strlen(body)), 0);
    return path;
}

static void expect_error(const char *body, const char *msg_part1, const char *msg_part2)
{
    const char *path = write_template(body);
    gl_template_t t;
    gl_err_t err = {0};
    memset(&t, 0x5a, sizeof(t));
    capture_start();
    int rc = gl_template_load(path, NULL, &t, &err);
    capture_end();
    print_message("expected error: %s\n", err.msg);
    assert_true(rc < 0);
    assert_int_equal(t.nfns, 0);
    assert_null(t.fns);
    assert_contains(err.msg, "tpl.yaml");
    assert_contains(err.msg, msg_part1);
    if (msg_part2)
        assert_contains(err.msg, msg_part2);
}

#define FN_HEAD                                                                                    \
    "Resources:\n"                                                                                 \
    "  Fn:\n"                                                                                      \
    "    Type: AWS::Serverless::Function\n"                                                        \
    "    Properties:\n"

static void test_missing_runtime(void **state)
{
    expect_error(FN_HEAD "      Handler: app.handler\n", "resource Fn", "Runtime is required");
}

static void test_missing_handler(void **state)
{
    expect_error(FN_HEAD "      Runtime: python3.12\n", "resource Fn", "Handler is required");
}

static void test_memory_out_of_range(void **state)
{
    /* Line 7 holds MemorySize: the error points at it. */
    expect_error(FN_HEAD "      Runtime: python3.12\n"
                         "      Handler: app.handler\n"
                         "      MemorySize: 64\n",
                 "tpl.yaml:7: resource Fn", "MemorySize 64 is out of range");
    expect_error(FN_HEAD "      Runtime: python3.12\n"
                         "      Handler: app.handler\n"
                         "      Timeout: 901\n",
                 "resource Fn", "Timeout 901 is out of range");
    expect_error(FN_HEAD "      Runtime: python3.12\n"
                         "      Handler: app.handler\n"
                         "      Timeout: soon\n",
                 "resource Fn", "not a whole number");
}

static void test_s3_code_uri(void **state)
{
    expect_error(FN_HEAD "      Runtime: python3.12\n"
                         "      Handler: app.handler\n"
                         "      CodeUri: s3://bucket/code.zip\n",
                 "resource Fn", "only local directories are supported");
    expect_error(FN_HEAD "      Runtime: python3.12\n"
                         "      Handler: app.handler\n"
                         "      CodeUri:\n"
                         "        Bucket: b\n"
                         "        Key: k.zip\n",
                 "resource Fn", "only local directories are supported");
    expect_error("Resources:\n"
                 "  Fn:\n"
                 "    Type: AWS::Lambda::Function\n"
                 "    Properties:\n"
                 "      Runtime: python3.12\n"
                 "      Handler: app.handler\n"
                 "      Code: {S3Bucket: b, S3Key: k}\n",
                 "resource Fn", "only local directories are supported");
}

static void test_missing_code_dir(void **state)
{
    expect_error(FN_HEAD "      Runtime: python3.12\n"
                         "      Handler: app.handler\n"
                         "      CodeUri: no/such/dir\n",
                 "resource Fn", "does not exist");
}

/* Functions sharing a CodeUri share its resolution (the loader keeps the last one); a
 * different CodeUri after them is still checked. */
static void test_shared_code_dir(void **state)
{
    static const char two[] = "Resources:\n"
                              "  A:\n    Type: AWS::Serverless::Function\n    Properties:\n"
                              "      Runtime: python3.12\n      Handler: app.handler\n"
                              "      CodeUri: .\n"
                              "  B:\n    Type: AWS::Serverless::Function\n    Properties:\n"
                              "      Runtime: python3.12\n      Handler: app.handler\n"
                              "      CodeUri: .\n";
    const char *path = write_template(two);
    gl_template_t t;
    gl_err_t err = {0};
    capture_start();
    int rc = gl_template_load(path, NULL, &t, &err);
    capture_end();
    if (rc != 0)
        fail_msg("load failed: %s", err.msg);
    char *real = realpath(tmp_dir, NULL);
    assert_non_null(real);
    assert_int_equal(t.nfns, 2);
    assert_string_equal(t.fns[0].cfg.code_dir, real);
    assert_string_equal(t.fns[1].cfg.code_dir, real);
    assert_ptr_not_equal(t.fns[0].cfg.code_dir, t.fns[1].cfg.code_dir);
    free(real);
    gl_template_free(&t);
    expect_error("Resources:\n"
                 "  A:\n    Type: AWS::Serverless::Function\n    Properties:\n"
                 "      Runtime: python3.12\n      Handler: app.handler\n      CodeUri: .\n"
                 "  B:\n    Type: AWS::Serverless::Function\n    Properties:\n"
                 "      Runtime: python3.12\n      Handler: app.handler\n      CodeUri: .\n"
                 "  C:\n    Type: AWS::Serverless::Function\n    Properties:\n"
                 "      Runtime: python3.12\n      Handler: app.handler\n"
                 "      CodeUri: no/such/dir\n",
                 "resource C", "does not exist");
}

static void test_malformed_yaml(void **state)
{
    expect_error("Resources:\n  Fn: [1, 2\n  Other: 3\n", "YAML error", NULL);
    expect_error("Resources:\n  Fn:\n    Type: a\n  Fn:\n    Type: b\n", "tpl.yaml:4:",
                 "duplicate key Fn");
    expect_error("Globals: &g {Function: {}}\nResources: *g\n", "aliases", NULL);
    expect_error("- just\n- a list\n", "not a mapping", NULL);
    expect_error("", "empty", NULL);
    expect_error("Description: no resources\n", "Resources", NULL);
}

static void test_bad_references(void **state)
{
    expect_error(FN_HEAD "      Runtime: python3.12\n"
                         "      Handler: !Ref Missing\n",
                 "tpl.yaml:2: resource Fn", "Missing");
    expect_error("Parameters:\n  NoDefault:\n    Type: String\n" FN_HEAD
                 "      Runtime: python3.12\n"
                 "      Handler: !Sub '${NoDefault}.handler'\n",
                 "NoDefault", "no Default");
    expect_error(FN_HEAD "      Runtime: python3.12\n"
                         "      Handler: !Sub 'app.${unterminated'\n",
                 "resource Fn", "unterminated");
}

static void test_unsupported_property_warns_but_loads(void **state)
{
    const char *path = write_template(FN_HEAD "      Runtime: nodejs20.x\n"
                                              "      Handler: index.handler\n"
                                              "      Layers: [arn:aws:lambda:us-east-1:1:layer:x:1]\n"
                                              "      Policies: AWSLambdaBasicExecutionRole\n"
                                              "      Timeout: !If [IsProd, 30, 3]\n");
    gl_template_t t;
    gl_err_t err = {0};
    capture_start();
    int rc = gl_template_load(path, NULL, &t, &err);
    const char *warnings = capture_end();
    assert_int_equal(rc, 0);
    assert_int_equal(t.nfns, 1);
    assert_string_equal(t.fns[0].cfg.name, "Fn");
    assert_int_equal(t.fns[0].cfg.timeout_s, 3); /* the !If property is skipped: default */
    assert_string_equal(t.fns[0].cfg.code_dir, tmp_dir);
    assert_contains(warnings, "resource Fn: layer arn:aws:lambda:us-east-1:1:layer:x:1 is not a "
                              "layer of this template");
    assert_contains(warnings, "resource Fn: property Policies is not supported");
    assert_contains(warnings, "resource Fn: property Timeout uses Fn::If");
    gl_template_free(&t);
}

/* The template's layers: Ref gives version 1's ARN, Globals' Layers come first, the
 * directories follow the list's order; an S3 layer is left out with a warning. */
static void test_layers(void **state)
{
    (void)state;
    char dir[128];
    snprintf(dir, sizeof(dir), "%s/deps", tmp_dir);
    assert_int_equal(gl_mkdir_p(dir, 0755), 0);
    snprintf(dir, sizeof(dir), "%s/more", tmp_dir);
    assert_int_equal(gl_mkdir_p(dir, 0755), 0);
    const char *path = write_template("Globals:\n"
                                      "  Function:\n"
                                      "    Layers: [!Ref Deps]\n"
                                      "Resources:\n"
                                      "  Deps:\n"
                                      "    Type: AWS::Serverless::LayerVersion\n"
                                      "    Properties:\n"
                                      "      LayerName: deps-layer\n"
                                      "      ContentUri: deps/\n"
                                      "  More:\n"
                                      "    Type: AWS::Lambda::LayerVersion\n"
                                      "    Properties:\n"
                                      "      Content: more\n"
                                      "  Remote:\n"
                                      "    Type: AWS::Serverless::LayerVersion\n"
                                      "    Properties:\n"
                                      "      ContentUri: s3://bucket/layer.zip\n"
                                      "  Fn:\n"
                                      "    Type: AWS::Serverless::Function\n"
                                      "    Properties:\n"
                                      "      Runtime: python3.12\n"
                                      "      Handler: app.handler\n"
                                      "      Layers: [!Ref More]\n");
    gl_template_ctx_t ctx = {.region = "eu-west-1", .account_id = "111122223333"};
    gl_template_t t;
    gl_err_t err = {0};
    capture_start();
    int rc = gl_template_load(path, &ctx, &t, &err);
    const char *warnings = capture_end();
    assert_int_equal(rc, 0);
    assert_int_equal(t.nfns, 1);
    json_t *layers = json_object_get(t.fns[0].cfg.extra, "Layers");
    assert_int_equal(json_array_size(layers), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(layers, 0), "Arn")),
                        "arn:aws:lambda:eu-west-1:111122223333:layer:deps-layer:1");
    assert_string_equal(json_string_value(json_object_get(json_array_get(layers, 1), "Arn")),
                        "arn:aws:lambda:eu-west-1:111122223333:layer:More:1");
    assert_int_equal(json_array_size(t.fns[0].layer_dirs), 2);
    char want[160];
    char *real = realpath(tmp_dir, NULL);
    snprintf(want, sizeof(want), "%s/deps", real);
    assert_string_equal(json_string_value(json_array_get(t.fns[0].layer_dirs, 0)), want);
    snprintf(want, sizeof(want), "%s/more", real);
    assert_string_equal(json_string_value(json_array_get(t.fns[0].layer_dirs, 1)), want);
    free(real);
    assert_contains(warnings, "layer Remote: ContentUri is not a local directory");
    gl_template_free(&t);
}

/* LoggingConfig: kept in extra with the INFO defaults of JSON; levels without JSON refused. */
static void test_logging_config(void **state)
{
    (void)state;
    expect_error(FN_HEAD "      Runtime: python3.12\n"
                         "      Handler: app.handler\n"
                         "      LoggingConfig:\n"
                         "        ApplicationLogLevel: DEBUG\n",
                 "resource Fn", "LogLevel is not supported when LogFormat is set to \"Text\"");
    expect_error(FN_HEAD "      Runtime: python3.12\n"
                         "      Handler: app.handler\n"
                         "      LoggingConfig:\n"
                         "        LogFormat: XML\n",
                 "resource Fn", "LoggingConfig must be a mapping");
    const char *path = write_template(FN_HEAD "      Runtime: python3.12\n"
                                              "      Handler: app.handler\n"
                                              "      LoggingConfig:\n"
                                              "        LogFormat: JSON\n"
                                              "        SystemLogLevel: WARN\n");
    gl_template_t t;
    gl_err_t err = {0};
    capture_start();
    int rc = gl_template_load(path, NULL, &t, &err);
    capture_end();
    assert_int_equal(rc, 0);
    const json_t *lc = json_object_get(t.fns[0].cfg.extra, "LoggingConfig");
    assert_string_equal(json_string_value(json_object_get(lc, "LogFormat")), "JSON");
    assert_string_equal(json_string_value(json_object_get(lc, "ApplicationLogLevel")), "INFO");
    assert_string_equal(json_string_value(json_object_get(lc, "SystemLogLevel")), "WARN");
    gl_template_free(&t);
}

static int group_setup(void **state)
{
    /* __FILE__ is <source>/tests/unit/template/test_load.c. */
    const char *marker = strstr(__FILE__, "/unit/template/test_load.c");
    if (!marker)
        return -1;
    snprintf(fixture_dir, sizeof(fixture_dir), "%.*s/fixtures/templates/app",
             (int)(marker - __FILE__), __FILE__);
    char *real = realpath(fixture_dir, NULL);
    if (!real)
        return -1;
    snprintf(fixture_dir, sizeof(fixture_dir), "%s", real);
    free(real);
    snprintf(tmp_dir, sizeof(tmp_dir), "/tmp/gl-template-test-XXXXXX");
    return mkdtemp(tmp_dir) ? 0 : -1;
}

static int group_teardown(void **state)
{
    return gl_rm_rf(tmp_dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fixture_functions),
        cmocka_unit_test(test_fixture_parameter_override),
        cmocka_unit_test(test_missing_runtime),
        cmocka_unit_test(test_missing_handler),
        cmocka_unit_test(test_memory_out_of_range),
        cmocka_unit_test(test_s3_code_uri),
        cmocka_unit_test(test_missing_code_dir),
        cmocka_unit_test(test_shared_code_dir),
        cmocka_unit_test(test_malformed_yaml),
        cmocka_unit_test(test_bad_references),
        cmocka_unit_test(test_unsupported_property_warns_but_loads),
        cmocka_unit_test(test_layers),
        cmocka_unit_test(test_logging_config),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
