/* SPDX-License-Identifier: MIT */
/*
 * test_request.c: src/registry/request.c (CreateFunction / UpdateFunctionConfiguration /
 * code-source validation, runtime table) and the FunctionConfiguration shape of fnjson.c.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "galley/registry.h"

#define ROLE "arn:aws:iam::123456789012:role/lambda-role"

typedef struct res {
    int rc;
    gl_aws_err_t type;
    char msg[2048];
} res_t;

/* Validate body text as a create (is_update 0) into a fresh config; cfg is freed. */
static res_t validate(const char *text, int is_update, gl_fn_config_t *keep)
{
    res_t r;
    json_error_t jerr;
    gl_fn_config_t cfg = {0};
    json_t *body = json_loads(text, 0, &jerr);
    if (!body)
        fail_msg("bad test JSON %s: %s", text, jerr.text);
    memset(&r, 0, sizeof(r));
    gl_aws_error_t e = {.type = GL_AWS_ERR_COUNT};
    if (keep && is_update)
        cfg = *keep;
    r.rc = gl_fn_config_from_request(body, &cfg, is_update, &e);
    r.type = e.type;
    memcpy(r.msg, e.msg, sizeof(r.msg));
    json_decref(body);
    if (keep)
        *keep = cfg;
    else
        gl_fn_config_free(&cfg);
    return r;
}

static void expect_error(const char *text, int is_update, gl_aws_err_t type, const char *msg)
{
    res_t r = validate(text, is_update, NULL);
    if (r.rc != -EINVAL)
        fail_msg("%s: expected an error, got %d", text, r.rc);
    if (r.type != type)
        fail_msg("%s: type %d, want %d (%s)", text, r.type, type, r.msg);
    assert_string_equal(r.msg, msg);
}

#define BASE "\"FunctionName\":\"f\",\"Role\":\"" ROLE "\",\"Code\":{\"ZipFile\":\"UEsFBg==\"}"

static void test_create_ok_and_defaults(void **state)
{
    (void)state;
    gl_fn_config_t cfg = {0};
    res_t r = validate("{" BASE ",\"Runtime\":\"python3.12\",\"Handler\":\"app.handler\","
                       "\"Environment\":{\"Variables\":{\"AA\":\"1\"}},\"TracingConfig\":{\"Mode\":"
                       "\"Active\"},\"Unknown\":5}",
                       0, &cfg);
    assert_int_equal(r.rc, 0);
    assert_string_equal(cfg.runtime, "python3.12");
    assert_string_equal(cfg.handler, "app.handler");
    assert_string_equal(cfg.role, ROLE);
    assert_string_equal(cfg.description, "");
    assert_int_equal(cfg.timeout_s, 3);
    assert_int_equal(cfg.memory_mb, 128);
    assert_int_equal(cfg.ephemeral_mb, 512);
    assert_string_equal(json_string_value(json_object_get(cfg.env_vars, "AA")), "1");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(cfg.extra, "TracingConfig"), "Mode")),
        "Active");
    assert_null(cfg.name); /* the caller parses FunctionName */
    gl_fn_config_free(&cfg);

    /* provided.* runtimes need no handler. */
    r = validate("{" BASE ",\"Runtime\":\"provided.al2023\"}", 0, NULL);
    assert_int_equal(r.rc, 0);
}

static void test_create_required(void **state)
{
    (void)state;
    expect_error("{\"Role\":\"" ROLE "\",\"Runtime\":\"python3.12\",\"Handler\":\"a.b\","
                 "\"Code\":{}}",
                 0, GL_AWS_VALIDATION,
                 "1 validation error detected: Value null at 'functionName' failed to satisfy "
                 "constraint: Member must not be null");
    expect_error("{\"FunctionName\":\"f\",\"Runtime\":\"python3.12\",\"Handler\":\"a.b\"}", 0,
                 GL_AWS_VALIDATION,
                 "2 validation errors detected: Value null at 'code' failed to satisfy "
                 "constraint: Member must not be null; Value null at 'role' failed to satisfy "
                 "constraint: Member must not be null");
    expect_error("{" BASE ",\"Runtime\":\"python3.12\"}", 0, GL_AWS_INVALID_PARAMETER_VALUE,
                 "Runtime and Handler are mandatory parameters for functions created with "
                 "deployment packages.");
    expect_error("{" BASE ",\"Handler\":\"a.b\"}", 0, GL_AWS_INVALID_PARAMETER_VALUE,
                 "Runtime and Handler are mandatory parameters for functions created with "
                 "deployment packages.");
}

static void test_schema_errors(void **state)
{
    (void)state;
    expect_error("{" BASE ",\"Runtime\":\"python3.12\",\"Handler\":\"a.b\",\"Timeout\":901}", 0,
                 GL_AWS_VALIDATION,
                 "1 validation error detected: Value '901' at 'timeout' failed to satisfy "
                 "constraint: Member must have value less than or equal to 900");
    expect_error("{\"Timeout\":0,\"MemorySize\":127}", 1, GL_AWS_VALIDATION,
                 "2 validation errors detected: Value '0' at 'timeout' failed to satisfy "
                 "constraint: Member must have value greater than or equal to 1; Value '127' at "
                 "'memorySize' failed to satisfy constraint: Member must have value greater than "
                 "or equal to 128");
    expect_error("{\"MemorySize\":10241}", 1, GL_AWS_VALIDATION,
                 "1 validation error detected: Value '10241' at 'memorySize' failed to satisfy "
                 "constraint: Member must have value less than or equal to 10240");
    expect_error("{\"EphemeralStorage\":{\"Size\":511}}", 1, GL_AWS_VALIDATION,
                 "1 validation error detected: Value '511' at 'ephemeralStorage.size' failed to "
                 "satisfy constraint: Member must have value greater than or equal to 512");
    expect_error("{\"Role\":\"arn:aws:iam::1234:role/x\"}", 1, GL_AWS_VALIDATION,
                 "1 validation error detected: Value 'arn:aws:iam::1234:role/x' at 'role' failed "
                 "to satisfy constraint: Member must satisfy regular expression pattern: "
                 "arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+");
    expect_error("{\"Handler\":\"a b\"}", 1, GL_AWS_VALIDATION,
                 "1 validation error detected: Value 'a b' at 'handler' failed to satisfy "
                 "constraint: Member must satisfy regular expression pattern: [^\\s]+");
    char body[600];
    char desc[300];
    memset(desc, 'd', 257);
    desc[257] = '\0';
    snprintf(body, sizeof(body), "{\"Description\":\"%s\"}", desc);
    char want[900];
    snprintf(want, sizeof(want),
             "1 validation error detected: Value '%s' at 'description' failed to satisfy "
             "constraint: Member must have length less than or equal to 256", desc);
    expect_error(body, 1, GL_AWS_VALIDATION, want);
    expect_error("{\"PackageType\":\"Tar\"}", 1, GL_AWS_VALIDATION,
                 "1 validation error detected: Value 'Tar' at 'packageType' failed to satisfy "
                 "constraint: Member must satisfy enum value set: [Zip, Image]");
    expect_error("{\"Environment\":{\"Variables\":{\"1BAD\":\"x\"}}}", 1, GL_AWS_VALIDATION,
                 "1 validation error detected: Value at 'environment.variables' failed to "
                 "satisfy constraint: Map keys must satisfy constraint: [Member must satisfy "
                 "regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+]");
}

static void test_type_errors(void **state)
{
    (void)state;
    expect_error("{\"Timeout\":\"3\"}", 1, GL_AWS_INVALID_REQUEST_CONTENT,
                 "Could not parse request body into json: member Timeout must be an integer");
    expect_error("{\"Environment\":{\"Variables\":{\"AA\":1}}}", 1, GL_AWS_INVALID_REQUEST_CONTENT,
                 "Could not parse request body into json: member Environment.Variables must be "
                 "an object of strings");
}

static void test_runtimes(void **state)
{
    (void)state;
    assert_int_equal(gl_runtime_classify("python3.14"), GL_RUNTIME_SUPPORTED);
    assert_int_equal(gl_runtime_classify("nodejs24.x"), GL_RUNTIME_SUPPORTED);
    assert_int_equal(gl_runtime_classify("provided.al2"), GL_RUNTIME_SUPPORTED);
    assert_int_equal(gl_runtime_classify("java21"), GL_RUNTIME_OTHER);
    assert_int_equal(gl_runtime_classify("python3.7"), GL_RUNTIME_DEPRECATED);
    assert_int_equal(gl_runtime_classify("go1.x"), GL_RUNTIME_DEPRECATED);
    assert_int_equal(gl_runtime_classify("provided"), GL_RUNTIME_DEPRECATED);
    assert_int_equal(gl_runtime_classify("cobol"), GL_RUNTIME_UNKNOWN);

    expect_error("{\"Runtime\":\"python3.7\"}", 1, GL_AWS_INVALID_PARAMETER_VALUE,
                 "The runtime parameter of python3.7 is no longer supported for creating or "
                 "updating AWS Lambda functions. We recommend you use a supported runtime while "
                 "creating or updating functions.");
    res_t r = validate("{\"Runtime\":\"cobol\"}", 1, NULL);
    assert_int_equal(r.type, GL_AWS_INVALID_PARAMETER_VALUE);
    assert_non_null(strstr(r.msg, "Value cobol at 'runtime' failed to satisfy constraint: Member "
                                  "must satisfy enum value set: [python3.9, "));
    assert_non_null(strstr(r.msg, "ruby3.4] or be a valid ARN"));
    r = validate("{\"Runtime\":\"java21\"}", 1, NULL);
    assert_int_equal(r.type, GL_AWS_INVALID_PARAMETER_VALUE);
    assert_non_null(strstr(r.msg, "java21 is not supported by galley"));
}

static void test_environment(void **state)
{
    (void)state;
    expect_error("{\"Environment\":{\"Variables\":{\"AWS_REGION\":\"x\",\"OK\":\"1\","
                 "\"AWS_ACCESS_KEY_ID\":\"k\"}}}",
                 1, GL_AWS_INVALID_PARAMETER_VALUE,
                 "Lambda was unable to configure your environment variables because the "
                 "environment variables you have provided contains reserved keys that are "
                 "currently not supported for modification. Reserved keys used in this request: "
                 "AWS_REGION, AWS_ACCESS_KEY_ID");

    /* {"BIG":"<v>"} is 10 bytes of JSON around v: 4086 fits exactly, 4087 does not. */
    size_t vlen = 4086;
    char *body = malloc(vlen + 100), *v = malloc(vlen + 2);
    memset(v, 'v', vlen + 1);
    v[vlen] = '\0';
    snprintf(body, vlen + 100, "{\"Environment\":{\"Variables\":{\"BIG\":\"%s\"}}}", v);
    assert_int_equal(validate(body, 1, NULL).rc, 0);
    v[vlen] = 'v';
    v[vlen + 1] = '\0';
    snprintf(body, vlen + 100, "{\"Environment\":{\"Variables\":{\"BIG\":\"%s\"}}}", v);
    res_t r = validate(body, 1, NULL);
    assert_int_equal(r.type, GL_AWS_INVALID_PARAMETER_VALUE);
    assert_non_null(strstr(r.msg, "Lambda was unable to configure your environment variables "
                                  "because the environment variables you have provided exceeded "
                                  "the 4KB limit. String measured: {\"BIG\":\"vvv"));
    free(body);
    free(v);
}

static void test_update_merges(void **state)
{
    (void)state;
    gl_fn_config_t cfg = {0};
    cfg.runtime = strdup("python3.12");
    cfg.handler = strdup("a.b");
    cfg.description = strdup("old");
    cfg.timeout_s = 30;
    cfg.memory_mb = 256;
    cfg.ephemeral_mb = 512;
    cfg.env_vars = json_pack("{s:s,s:s}", "AA", "1", "BB", "2");

    res_t r = validate("{\"Timeout\":60,\"Environment\":{\"Variables\":{\"CC\":\"3\"}}}", 1, &cfg);
    assert_int_equal(r.rc, 0);
    assert_int_equal(cfg.timeout_s, 60);
    assert_int_equal(cfg.memory_mb, 256);
    assert_string_equal(cfg.description, "old");
    assert_string_equal(cfg.handler, "a.b");
    assert_int_equal(json_object_size(cfg.env_vars), 1); /* replaced whole */
    assert_non_null(json_object_get(cfg.env_vars, "CC"));

    r = validate("{\"Environment\":{}}", 1, &cfg);
    assert_int_equal(r.rc, 0);
    assert_null(cfg.env_vars);
    gl_fn_config_free(&cfg);
}

/* LoggingConfig: enums, LogGroup, levels only with JSON, INFO defaults, merged on update. */
static void test_logging_config(void **state)
{
    (void)state;
    expect_error("{" BASE ",\"Runtime\":\"python3.12\",\"Handler\":\"a.b\","
                 "\"LoggingConfig\":{\"ApplicationLogLevel\":\"DEBUG\"}}",
                 0, GL_AWS_INVALID_PARAMETER_VALUE,
                 "LogLevel is not supported when LogFormat is set to \"Text\". Remove LogLevel "
                 "from your request or change the LogFormat to \"Json\" and try again.");
    expect_error("{\"LoggingConfig\":{\"LogFormat\":\"JSON\",\"ApplicationLogLevel\":"
                 "\"LOUD\"}}",
                 1, GL_AWS_VALIDATION,
                 "1 validation error detected: Value 'LOUD' at 'loggingConfig.applicationLogLevel' "
                 "failed to satisfy constraint: Member must satisfy enum value set: [TRACE, DEBUG, "
                 "INFO, WARN, ERROR, FATAL]");
    expect_error("{\"LoggingConfig\":{\"LogGroup\":\"a b\"}}", 1, GL_AWS_VALIDATION,
                 "1 validation error detected: Value 'a b' at 'loggingConfig.logGroup' failed to "
                 "satisfy constraint: Member must satisfy regular expression pattern: "
                 "[\\.\\-_/#A-Za-z0-9]+");

    /* The pattern allows "..": galley keeps groups as directories, so it refuses them. */
    expect_error("{\"LoggingConfig\":{\"LogGroup\":\"/aws/../../../etc\"}}", 1,
                 GL_AWS_INVALID_PARAMETER_VALUE,
                 "galley keeps a log group as a directory of the state dir: LogGroup "
                 "'/aws/../../../etc' must not have empty, '.' or '..' parts.");

    gl_fn_config_t cfg = {0};
    res_t r = validate("{\"LoggingConfig\":{\"LogFormat\":\"JSON\"}}", 1, &cfg);
    assert_int_equal(r.rc, 0);
    const json_t *lc = json_object_get(cfg.extra, "LoggingConfig");
    assert_string_equal(json_string_value(json_object_get(lc, "ApplicationLogLevel")), "INFO");
    assert_string_equal(json_string_value(json_object_get(lc, "SystemLogLevel")), "INFO");
    r = validate("{\"LoggingConfig\":{\"SystemLogLevel\":\"WARN\",\"LogGroup\":\"/g\"}}", 1,
                 &cfg);
    assert_int_equal(r.rc, 0);
    lc = json_object_get(cfg.extra, "LoggingConfig");
    assert_string_equal(json_string_value(json_object_get(lc, "LogFormat")), "JSON");
    assert_string_equal(json_string_value(json_object_get(lc, "SystemLogLevel")), "WARN");
    assert_string_equal(json_string_value(json_object_get(lc, "LogGroup")), "/g");
    /* Back to Text: the levels go, the group stays. */
    r = validate("{\"LoggingConfig\":{\"LogFormat\":\"Text\"}}", 1, &cfg);
    assert_int_equal(r.rc, 0);
    lc = json_object_get(cfg.extra, "LoggingConfig");
    assert_null(json_object_get(lc, "ApplicationLogLevel"));
    assert_null(json_object_get(lc, "SystemLogLevel"));
    assert_string_equal(json_string_value(json_object_get(lc, "LogGroup")), "/g");
    gl_fn_config_free(&cfg);
}

static void test_code_source(void **state)
{
    (void)state;
    const char *zip;
    size_t len;
    gl_aws_error_t aerr;
    json_t *o = json_pack("{s:s}", "ZipFile", "UEsFBg==");
    assert_int_equal(gl_fn_code_from_request(o, &zip, &len, &aerr), 0);
    assert_string_equal(zip, "UEsFBg==");
    assert_int_equal(len, 8);
    json_decref(o);

    o = json_pack("{s:s,s:s}", "S3Bucket", "b", "S3Key", "k");
    assert_int_equal(gl_fn_code_from_request(o, &zip, &len, &aerr), -EINVAL);
    assert_int_equal(aerr.type, GL_AWS_INVALID_PARAMETER_VALUE);
    assert_non_null(strstr(aerr.msg, "galley supports only ZipFile"));
    json_decref(o);

    o = json_object();
    assert_int_equal(gl_fn_code_from_request(o, &zip, &len, &aerr), -EINVAL);
    assert_string_equal(aerr.msg, "Please provide a source for function code.");
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_create_ok_and_defaults),
        cmocka_unit_test(test_create_required),
        cmocka_unit_test(test_schema_errors),
        cmocka_unit_test(test_type_errors),
        cmocka_unit_test(test_runtimes),
        cmocka_unit_test(test_environment),
        cmocka_unit_test(test_update_merges),
        cmocka_unit_test(test_code_source),
        cmocka_unit_test(test_logging_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
