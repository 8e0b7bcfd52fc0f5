/* SPDX-License-Identifier: MIT */
/*
 * request.c: CreateFunction / UpdateFunctionConfiguration / UpdateFunctionCode bodies,
 * validated into a gl_fn_config_t with the errors Lambda gives (spec 2 and 7), and the table
 * of runtime identifiers.
 *
 * Checks run in Lambda's order of kinds: a member of the wrong JSON type is
 * InvalidRequestContentException; schema violations (length, range, pattern, enum, missing)
 * are gathered into one ValidationException ("N validation errors detected: a; b"); semantic
 * refusals (deprecated runtime, reserved or oversized environment, code sources galley does
 * not have) are InvalidParameterValueException, the first one wins.
 * Pure functions: no I/O, nothing kept between calls.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "galley/layers.h"
#include "galley/registry.h"
#include "galley/util.h"

#define ENV_MAX_BYTES 4096
#define MAX_ERRORS 8
#define ITEM_MAX 640

/* ---- runtimes ---- */

static const char *const runtimes_galley[] = {
    "python3.9",  "python3.10", "python3.11", "python3.12",   "python3.13",      "python3.14",
    "nodejs18.x", "nodejs20.x", "nodejs22.x", "nodejs24.x",   "provided.al2",    "provided.al2023",
};
static const char *const runtimes_other[] = {
    "java8.al2", "java11", "java17",  "java21",  "java25",
    "dotnet8",   "dotnet10", "ruby3.2", "ruby3.3", "ruby3.4",
};
static const char *const runtimes_deprecated[] = {
    "nodejs",        "nodejs4.3",     "nodejs4.3-edge", "nodejs6.10", "nodejs8.10", "nodejs10.x",
    "nodejs12.x",    "nodejs14.x",    "nodejs16.x",     "java8",      "python2.7",  "python3.6",
    "python3.7",     "python3.8",     "dotnetcore1.0",  "dotnetcore2.0", "dotnetcore2.1",
    "dotnetcore3.1", "dotnet6",       "go1.x",          "ruby2.5",    "ruby2.7",    "provided",
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static int in_list(const char *s, const char *const *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, list[i]) == 0)
            return 1;
    return 0;
}

gl_runtime_class_t gl_runtime_classify(const char *runtime)
{
    if (in_list(runtime, runtimes_galley, COUNT(runtimes_galley)))
        return GL_RUNTIME_SUPPORTED;
    if (in_list(runtime, runtimes_other, COUNT(runtimes_other)))
        return GL_RUNTIME_OTHER;
    if (in_list(runtime, runtimes_deprecated, COUNT(runtimes_deprecated)))
        return GL_RUNTIME_DEPRECATED;
    return GL_RUNTIME_UNKNOWN;
}

/* ---- error collection ---- */

typedef struct check {
    gl_violations_t schema; /* gathered into one ValidationException */
    /* the first type error or semantic refusal, reported instead of schema errors */
    gl_aws_err_t hard_type;
    char hard[1024];
    int has_hard;
    int bad_type; /* hard is a type error: it beats schema errors */
} check_t;

static void refuse(check_t *c, gl_aws_err_t type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void refuse(check_t *c, gl_aws_err_t type, const char *fmt, ...)
{
    if (c->has_hard)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->hard, sizeof(c->hard), fmt, ap);
    va_end(ap);
    c->hard_type = type;
    c->has_hard = 1;
}

static void bad_type(check_t *c, const char *member, const char *want)
{
    if (c->bad_type)
        return;
    c->has_hard = 0;
    refuse(c, GL_AWS_INVALID_REQUEST_CONTENT,
           "Could not parse request body into json: member %s must be %s", member, want);
    c->bad_type = 1;
}

/* Report in Lambda's precedence; returns 0 when nothing was wrong. */
static int report(const check_t *c, gl_aws_error_t *aerr)
{
    if (c->bad_type || (c->has_hard && c->schema.n == 0))
        return gl_aws_error_set(aerr, c->hard_type, EINVAL, "%s", c->hard);
    return gl_violations_report(&c->schema, aerr);
}

/* ---- member helpers ---- */

static int replace_str(char **dst, const char *src)
{
    char *copy = strdup(src);
    if (!copy)
        return -ENOMEM;
    free(*dst);
    *dst = copy;
    return 0;
}

/* A string member: NULL when absent or JSON null; a type error otherwise. */
static const char *get_str(check_t *c, const json_t *body, const char *key, const char *field)
{
    json_t *v = json_object_get(body, key);
    if (!v || json_is_null(v))
        return NULL;
    if (!json_is_string(v)) {
        bad_type(c, field, "a string");
        return NULL;
    }
    return json_string_value(v);
}

/* An integer member; 0 when absent, 1 when *out is set. */
static int get_int(check_t *c, const json_t *obj, const char *key, const char *field,
                   json_int_t *out)
{
    json_t *v = json_object_get(obj, key);
    if (!v || json_is_null(v))
        return 0;
    if (!json_is_integer(v)) {
        bad_type(c, field, "an integer");
        return 0;
    }
    *out = json_integer_value(v);
    return 1;
}

static int int_in_range(check_t *c, const char *field, json_int_t v, json_int_t lo, json_int_t hi)
{
    if (v < lo) {
        gl_violation_add(
            &c->schema,
            "Value '%lld' at '%s' failed to satisfy constraint: Member must have value "
            "greater than or equal to %lld",
            (long long)v, field, (long long)lo);
        return 0;
    }
    if (v > hi) {
        gl_violation_add(
            &c->schema,
            "Value '%lld' at '%s' failed to satisfy constraint: Member must have value "
            "less than or equal to %lld",
            (long long)v, field, (long long)hi);
        return 0;
    }
    return 1;
}

static int is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v';
}

static int is_alpha(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static int is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

/* arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+ */
static int role_ok(const char *s)
{
    if (strncmp(s, "arn:", 4) != 0)
        return 0;
    s += 4;
    if (strncmp(s, "aws", 3) == 0) {
        s += 3;
        while (is_alpha(*s) || *s == '-')
            s++;
    }
    if (strncmp(s, ":iam::", 6) != 0)
        return 0;
    s += 6;
    for (int i = 0; i < 12; i++, s++)
        if (!is_digit(*s))
            return 0;
    if (strncmp(s, ":role", 5) != 0)
        return 0;
    s += 5;
    if (*s == '/')
        s++;
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!(is_alpha(*s) || is_digit(*s) || strchr("_+=,.@-/", *s)))
            return 0;
    return 1;
}

/* [a-zA-Z]([a-zA-Z0-9_])+ */
static int env_key_ok(const char *k)
{
    if (!is_alpha(k[0]) || !k[1])
        return 0;
    for (k++; *k; k++)
        if (!(is_alpha(*k) || is_digit(*k) || *k == '_'))
            return 0;
    return 1;
}

/* Spec 6.1: variables the platform sets and Lambda refuses to let a function override. */
static const char *const reserved_env[] = {
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
};

/* Validates Environment; on success *vars is a new reference (an empty object when the
 * request clears the variables), or NULL with nothing to change. */
static void check_environment(check_t *c, const json_t *env, json_t **vars)
{
    *vars = NULL;
    if (!json_is_object(env)) {
        bad_type(c, "Environment", "an object");
        return;
    }
    json_t *v = json_object_get(env, "Variables");
    if (!v || json_is_null(v)) {
        *vars = json_object();
        return;
    }
    if (!json_is_object(v)) {
        bad_type(c, "Environment.Variables", "an object");
        return;
    }
    const char *key;
    json_t *val;
    char reserved[1024] = "";
    size_t roff = 0;
    int bad_key = 0;
    json_object_foreach(v, key, val) {
        if (!json_is_string(val)) {
            bad_type(c, "Environment.Variables", "an object of strings");
            return;
        }
        if (!env_key_ok(key))
            bad_key = 1;
        if (in_list(key, reserved_env, COUNT(reserved_env)) && roff < sizeof(reserved))
            roff += (size_t)snprintf(reserved + roff, sizeof(reserved) - roff, "%s%s",
                                     roff ? ", " : "", key);
    }
    /* Lambda hides the (sensitive) values in this message: "Value at", no value. */
    if (bad_key)
        gl_violation_add(
            &c->schema,
            "Value at 'environment.variables' failed to satisfy constraint: Map keys must "
            "satisfy constraint: [Member must satisfy regular expression pattern: "
            "[a-zA-Z]([a-zA-Z0-9_])+]");
    if (roff)
        refuse(c, GL_AWS_INVALID_PARAMETER_VALUE,
               "Lambda was unable to configure your environment variables because the "
               "environment variables you have provided contains reserved keys that are "
               "currently not supported for modification. Reserved keys used in this request: %s",
               reserved);
    char *measured = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (measured && strlen(measured) > ENV_MAX_BYTES)
        refuse(c, GL_AWS_INVALID_PARAMETER_VALUE,
               "Lambda was unable to configure your environment variables because the "
               "environment variables you have provided exceeded the 4KB limit. String "
               "measured: %.900s", measured);
    free(measured);
    *vars = json_deep_copy(v);
}

static void check_runtime(check_t *c, const char *rt)
{
    switch (gl_runtime_classify(rt)) {
    case GL_RUNTIME_SUPPORTED:
        return;
    case GL_RUNTIME_DEPRECATED:
        refuse(c, GL_AWS_INVALID_PARAMETER_VALUE,
               "The runtime parameter of %s is no longer supported for creating or updating AWS "
               "Lambda functions. We recommend you use a supported runtime while creating or "
               "updating functions.", rt);
        return;
    case GL_RUNTIME_OTHER:
        refuse(c, GL_AWS_INVALID_PARAMETER_VALUE,
               "The runtime parameter of %s is not supported by galley, which runs python3.9 to "
               "python3.14, nodejs18.x to nodejs24.x, provided.al2 and provided.al2023 "
               "functions.", rt);
        return;
    case GL_RUNTIME_UNKNOWN: {
        char set[512];
        size_t off = 0;
        for (size_t i = 0; i < COUNT(runtimes_galley); i++)
            off += (size_t)snprintf(set + off, sizeof(set) - off, "%s, ", runtimes_galley[i]);
        for (size_t i = 0; i < COUNT(runtimes_other) && off < sizeof(set); i++)
            off += (size_t)snprintf(set + off, sizeof(set) - off, "%s%s", runtimes_other[i],
                                    i + 1 < COUNT(runtimes_other) ? ", " : "");
        refuse(c, GL_AWS_INVALID_PARAMETER_VALUE,
               "Value %.128s at 'runtime' failed to satisfy constraint: Member must satisfy enum "
               "value set: [%s] or be a valid ARN", rt, set);
        return;
    }
    }
}

/* Members galley keeps verbatim (or in their response shape) under cfg->extra. */
static int set_extra(gl_fn_config_t *cfg, const char *key, json_t *value)
{
    if (!value)
        return -ENOMEM;
    if (!cfg->extra && !(cfg->extra = json_object())) {
        json_decref(value);
        return -ENOMEM;
    }
    return json_object_set_new(cfg->extra, key, value) == 0 ? 0 : -ENOMEM;
}

static void del_extra(gl_fn_config_t *cfg, const char *key)
{
    if (cfg->extra)
        json_object_del(cfg->extra, key);
}

static const char *enum_member(check_t *c, const json_t *obj, const char *key, const char *field,
                               const char *const *values, size_t n, const char *printed)
{
    const char *s = get_str(c, obj, key, field);
    if (s && !in_list(s, values, n)) {
        gl_violation_add(
            &c->schema,
            "Value '%.128s' at '%s' failed to satisfy constraint: Member must satisfy enum "
            "value set: [%s]",
            s, field, printed);
        return NULL;
    }
    return s;
}

#define LAYER_ARN_PATTERN                                                                          \
    "(arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+)|"              \
    "(arn:[a-zA-Z0-9-]+:lambda:::awslayer:[a-zA-Z0-9-_]+)"

/* Layers: version ARNs, at most 5, kept as [{"Arn", "CodeSize"}]; the caller resolves them
 * (gl_layers_plan and the steps after it: they exist, their sizes, the merged /opt). [] removes
 * them. */
static int check_layers(check_t *c, const json_t *v, gl_fn_config_t *cfg)
{
    json_t *layers = json_array();
    char printed[800] = "";
    size_t i, used = 0;
    int bad = 0;
    json_t *arn;
    gl_layer_ref_t ref;
    if (!json_is_array(v))
        bad_type(c, "Layers", "an array");
    else if (json_array_size(v) > GL_LAYERS_MAX)
        gl_violation_add(
            &c->schema,
            "Value '[%zu items]' at 'layers' failed to satisfy constraint: Member must "
            "have length less than or equal to 5",
            json_array_size(v));
    json_array_foreach(v, i, arn)
    {
        if (!json_is_string(arn)) {
            bad_type(c, "Layers", "an array of strings");
            break;
        }
        const char *s = json_string_value(arn);
        bad |= gl_layer_parse_arn(s, 1, &ref) < 0;
        if (used < sizeof(printed))
            used += (size_t)snprintf(printed + used, sizeof(printed) - used, "%s%.200s",
                                     i ? ", " : "", s);
        json_array_append_new(layers, json_pack("{s:s,s:i}", "Arn", s, "CodeSize", 0));
    }
    if (bad)
        gl_violation_add(&c->schema,
                         "Value '[%s]' at 'layers' failed to satisfy constraint: Member must "
                         "satisfy constraint: [Member must have length less than or equal to "
                         "140, Member must have length greater than or equal to 1, Member must "
                         "satisfy regular expression pattern: " LAYER_ARN_PATTERN "]",
                         printed);
    if (json_array_size(layers))
        return set_extra(cfg, "Layers", layers);
    json_decref(layers);
    del_extra(cfg, "Layers");
    return 0;
}

/*
 * LoggingConfig: its members merged into the function's (an update changes what it names),
 * checked as Lambda does: the enums, LogGroup's pattern, and log levels only with the JSON
 * format (those left from an earlier JSON config go when it turns to Text). With JSON the
 * levels default to INFO.
 */
static int check_logging(check_t *c, const json_t *v, gl_fn_config_t *cfg)
{
    static const char *const formats[] = {"JSON", "Text"};
    static const char *const app[] = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"};
    static const char *const sys[] = {"DEBUG", "INFO", "WARN"};
    if (!json_is_object(v)) {
        bad_type(c, "LoggingConfig", "an object");
        return 0;
    }
    enum_member(c, v, "LogFormat", "loggingConfig.logFormat", formats, 2, "JSON, Text");
    const char *a = enum_member(c, v, "ApplicationLogLevel", "loggingConfig.applicationLogLevel",
                                app, COUNT(app), "TRACE, DEBUG, INFO, WARN, ERROR, FATAL");
    const char *y = enum_member(c, v, "SystemLogLevel", "loggingConfig.systemLogLevel", sys,
                                COUNT(sys), "DEBUG, INFO, WARN");
    const char *g = get_str(c, v, "LogGroup", "loggingConfig.logGroup");
    if (g && (!*g || strlen(g) > 512 || strspn(g, ".-_/#ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                  "abcdefghijklmnopqrstuvwxyz0123456789") !=
                                             strlen(g)))
        gl_violation_add(&c->schema,
                         "Value '%.128s' at 'loggingConfig.logGroup' failed to satisfy "
                         "constraint: Member must %s",
                         g, !*g || strlen(g) > 512 ? "have length between 1 and 512"
                                                   : "satisfy regular expression pattern: "
                                                     "[\\.\\-_/#A-Za-z0-9]+");
    else if (g && !gl_path_plain(g))
        refuse(c, GL_AWS_INVALID_PARAMETER_VALUE,
               "galley keeps a log group as a directory of the state dir: LogGroup '%.128s' "
               "must not have empty, '.' or '..' parts.",
               g);
    const json_t *old = cfg->extra ? json_object_get(cfg->extra, "LoggingConfig") : NULL;
    json_t *merged = json_is_object(old) ? json_deep_copy(old) : json_object();
    if (!merged || json_object_update(merged, (json_t *)v) < 0) {
        json_decref(merged);
        return -ENOMEM;
    }
    const char *k;
    json_t *m;
    void *tmp;
    json_object_foreach_safe(merged, tmp, k, m) if (json_is_null(m)) json_object_del(merged, k);
    const char *fmt = json_string_value(json_object_get(merged, "LogFormat"));
    int json_fmt = fmt && !strcmp(fmt, "JSON");
    if (!json_fmt && (a || y))
        refuse(c, GL_AWS_INVALID_PARAMETER_VALUE,
               "LogLevel is not supported when LogFormat is set to \"Text\". Remove LogLevel "
               "from your request or change the LogFormat to \"Json\" and try again.");
    int rc = 0;
    if (!json_fmt) {
        json_object_del(merged, "ApplicationLogLevel");
        json_object_del(merged, "SystemLogLevel");
    } else {
        if (!json_object_get(merged, "ApplicationLogLevel"))
            rc |= json_object_set_new(merged, "ApplicationLogLevel", json_string("INFO"));
        if (!json_object_get(merged, "SystemLogLevel"))
            rc |= json_object_set_new(merged, "SystemLogLevel", json_string("INFO"));
    }
    return rc | set_extra(cfg, "LoggingConfig", merged);
}

/*
 * DurableConfig: ExecutionTimeout (1 to 31,622,400 s) and RetentionPeriodInDays (1 to 90,
 * default 14), the model's ranges. As Lambda, durable execution is turned on only by
 * CreateFunction: an update may change the values of a durable function, not add them.
 */
static int check_durable(check_t *c, const json_t *v, gl_fn_config_t *cfg, int is_update)
{
    json_int_t timeout = 0, days = 14;
    const json_t *old = cfg->extra ? json_object_get(cfg->extra, "DurableConfig") : NULL;
    if (!json_is_object(v)) {
        bad_type(c, "DurableConfig", "an object");
        return 0;
    }
    if (is_update && !old) {
        refuse(c, GL_AWS_INVALID_PARAMETER_VALUE,
               "Durable execution can only be enabled when the function is created.");
        return 0;
    }
    if (old) {
        timeout = json_integer_value(json_object_get(old, "ExecutionTimeout"));
        days = json_integer_value(json_object_get(old, "RetentionPeriodInDays"));
    }
    if (get_int(c, v, "ExecutionTimeout", "DurableConfig.ExecutionTimeout", &timeout))
        int_in_range(c, "durableConfig.executionTimeout", timeout, 1, 31622400);
    else if (!old && !c->bad_type)
        gl_violation_add(&c->schema, "Value null at 'durableConfig.executionTimeout' failed to "
                                     "satisfy constraint: Member must not be null");
    if (get_int(c, v, "RetentionPeriodInDays", "DurableConfig.RetentionPeriodInDays", &days))
        int_in_range(c, "durableConfig.retentionPeriodInDays", days, 1, 90);
    return set_extra(cfg, "DurableConfig", json_pack("{s:I,s:I}", "ExecutionTimeout", timeout,
                                                     "RetentionPeriodInDays", days));
}

static int check_extras(check_t *c, const json_t *body, gl_fn_config_t *cfg, int is_update)
{
    json_t *v;
    int rc = 0;

    if ((v = json_object_get(body, "TracingConfig")) && !json_is_null(v)) {
        static const char *const modes[] = {"Active", "PassThrough"};
        if (!json_is_object(v))
            bad_type(c, "TracingConfig", "an object");
        else {
            const char *m = enum_member(c, v, "Mode", "tracingConfig.mode", modes, 2,
                                        "Active, PassThrough");
            if (m)
                rc |= set_extra(cfg, "TracingConfig", json_pack("{s:s}", "Mode", m));
        }
    }
    if ((v = json_object_get(body, "Architectures")) && !json_is_null(v)) {
        static const char *const archs[] = {"x86_64", "arm64"};
        if (!json_is_array(v))
            bad_type(c, "Architectures", "an array");
        else if (json_array_size(v) != 1)
            gl_violation_add(&c->schema,
                             "Value '[%zu items]' at 'architectures' failed to satisfy constraint: "
                             "Member must have length %s",
                             json_array_size(v),
                             json_array_size(v) ? "less than or equal to 1"
                                                : "greater than or equal to 1");
        else if (!json_is_string(json_array_get(v, 0)))
            bad_type(c, "Architectures", "an array of strings");
        else if (!in_list(json_string_value(json_array_get(v, 0)), archs, 2))
            gl_violation_add(
                &c->schema,
                "Value '[%.64s]' at 'architectures' failed to satisfy constraint: Member "
                "must satisfy constraint: [Member must satisfy enum value set: [x86_64, "
                "arm64]]",
                json_string_value(json_array_get(v, 0)));
        else
            rc |= set_extra(cfg, "Architectures", json_deep_copy(v));
    }
    if ((v = json_object_get(body, "DeadLetterConfig")) && !json_is_null(v)) {
        const char *arn = json_is_object(v) ? get_str(c, v, "TargetArn", "DeadLetterConfig")
                                            : (bad_type(c, "DeadLetterConfig", "an object"), NULL);
        if (arn && *arn)
            rc |= set_extra(cfg, "DeadLetterConfig", json_pack("{s:s}", "TargetArn", arn));
        else
            del_extra(cfg, "DeadLetterConfig");
    }
    if (json_object_get(body, "KMSKeyArn")) {
        const char *arn = get_str(c, body, "KMSKeyArn", "KMSKeyArn");
        if (arn && *arn)
            rc |= set_extra(cfg, "KMSKeyArn", json_string(arn));
        else
            del_extra(cfg, "KMSKeyArn");
    }
    if ((v = json_object_get(body, "LoggingConfig")) && !json_is_null(v))
        rc |= check_logging(c, v, cfg);
    if ((v = json_object_get(body, "SnapStart")) && !json_is_null(v)) {
        static const char *const apply[] = {"PublishedVersions", "None"};
        if (!json_is_object(v))
            bad_type(c, "SnapStart", "an object");
        else {
            const char *a = enum_member(c, v, "ApplyOn", "snapStart.applyOn", apply, 2,
                                        "PublishedVersions, None");
            rc |= set_extra(cfg, "SnapStart", json_pack("{s:s,s:s}", "ApplyOn", a ? a : "None",
                                                        "OptimizationStatus", "Off"));
        }
    }
    if ((v = json_object_get(body, "VpcConfig")) && !json_is_null(v)) {
        if (!json_is_object(v))
            bad_type(c, "VpcConfig", "an object");
        else
            rc |= set_extra(cfg, "VpcConfig", json_deep_copy(v));
    }
    if ((v = json_object_get(body, "Layers")) && !json_is_null(v))
        rc |= check_layers(c, v, cfg);
    if ((v = json_object_get(body, "DurableConfig")) && !json_is_null(v))
        rc |= check_durable(c, v, cfg, is_update);
    return rc ? -ENOMEM : 0;
}

/* CreateFunction's FunctionName and Code: present and of the right type (the caller parses
 * the name and stores the code). */
static void check_create_members(check_t *c, const json_t *body)
{
    json_t *name = json_object_get(body, "FunctionName");
    if (!name || json_is_null(name))
        gl_violation_add(&c->schema, "Value null at 'functionName' failed to satisfy "
                                     "constraint: Member must not be null");
    else if (!json_is_string(name))
        bad_type(c, "FunctionName", "a string");
    json_t *code = json_object_get(body, "Code");
    if (!code || json_is_null(code))
        gl_violation_add(&c->schema, "Value null at 'code' failed to satisfy constraint: Member "
                                     "must not be null");
    else if (!json_is_object(code))
        bad_type(c, "Code", "an object");
}

/* PackageType and ImageConfig: galley runs .zip packages only. */
static void check_package(check_t *c, const json_t *body)
{
    const char *s = enum_member(c, body, "PackageType", "packageType",
                                (const char *const[]){"Zip", "Image"}, 2, "Zip, Image");
    if (s && strcmp(s, "Image") == 0)
        refuse(c, GL_AWS_INVALID_PARAMETER_VALUE,
               "galley supports only .zip deployment packages (PackageType Zip); container "
               "images (PackageType Image) are not supported.");
    if (json_object_get(body, "ImageConfig") && !json_is_null(json_object_get(body, "ImageConfig")))
        refuse(c, GL_AWS_INVALID_PARAMETER_VALUE,
               "ImageConfig applies only to container images, which galley does not support.");
}

/* Role, Handler and Description; -ENOMEM when a copy failed. */
static int check_texts(check_t *c, const json_t *body, gl_fn_config_t *cfg, int is_update)
{
    const char *s;
    int rc = 0;

    if ((s = get_str(c, body, "Role", "Role"))) {
        if (!role_ok(s))
            gl_violation_add(&c->schema,
                             "Value '%.256s' at 'role' failed to satisfy constraint: Member must "
                             "satisfy regular expression pattern: "
                             "arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+",
                             s);
        else
            rc |= replace_str(&cfg->role, s);
    } else if (!is_update && !c->bad_type) {
        gl_violation_add(&c->schema,
                         "Value null at 'role' failed to satisfy constraint: Member must not be "
                         "null");
    }
    if ((s = get_str(c, body, "Handler", "Handler"))) {
        int ws = 0;
        for (const char *p = s; *p; p++)
            ws |= is_space(*p);
        if (strlen(s) > 128)
            gl_violation_add(&c->schema,
                             "Value '%.256s' at 'handler' failed to satisfy constraint: Member "
                             "must have length less than or equal to 128",
                             s);
        else if (ws || !*s)
            gl_violation_add(&c->schema,
                             "Value '%.256s' at 'handler' failed to satisfy constraint: Member "
                             "must satisfy regular expression pattern: [^\\s]+",
                             s);
        else
            rc |= replace_str(&cfg->handler, s);
    }
    if ((s = get_str(c, body, "Description", "Description"))) {
        if (strlen(s) > 256)
            gl_violation_add(&c->schema,
                             "Value '%.300s' at 'description' failed to satisfy constraint: "
                             "Member must have length less than or equal to 256",
                             s);
        else
            rc |= replace_str(&cfg->description, s);
    }
    return rc ? -ENOMEM : 0;
}

/* Timeout, MemorySize and EphemeralStorage.Size, each within Lambda's range. */
static void check_limits(check_t *c, const json_t *body, gl_fn_config_t *cfg)
{
    json_int_t iv;

    if (get_int(c, body, "Timeout", "Timeout", &iv) && int_in_range(c, "timeout", iv, 1, 900))
        cfg->timeout_s = (int)iv;
    if (get_int(c, body, "MemorySize", "MemorySize", &iv) &&
        int_in_range(c, "memorySize", iv, 128, 10240))
        cfg->memory_mb = (int)iv;
    json_t *eph = json_object_get(body, "EphemeralStorage");
    if (!eph || json_is_null(eph))
        return;
    if (!json_is_object(eph))
        bad_type(c, "EphemeralStorage", "an object");
    else if (!get_int(c, eph, "Size", "EphemeralStorage.Size", &iv)) {
        if (!c->bad_type)
            gl_violation_add(&c->schema, "Value null at 'ephemeralStorage.size' failed to satisfy "
                                         "constraint: Member must not be null");
    } else if (int_in_range(c, "ephemeralStorage.size", iv, 512, 10240))
        cfg->ephemeral_mb = (int)iv;
}

/* Runtime and Environment; -ENOMEM when a copy failed. */
static int check_runtime_env(check_t *c, const json_t *body, gl_fn_config_t *cfg)
{
    const char *s;
    int rc = 0;

    if ((s = get_str(c, body, "Runtime", "Runtime"))) {
        check_runtime(c, s);
        rc = replace_str(&cfg->runtime, s);
    }
    json_t *env = json_object_get(body, "Environment");
    if (env && !json_is_null(env)) {
        json_t *vars = NULL;
        check_environment(c, env, &vars);
        if (vars) {
            json_decref(cfg->env_vars);
            cfg->env_vars = json_object_size(vars) ? vars : NULL;
            if (!cfg->env_vars)
                json_decref(vars);
        }
    }
    return rc;
}

int gl_fn_config_from_request(const json_t *body, gl_fn_config_t *cfg, int is_update,
                              gl_aws_error_t *aerr)
{
    check_t c = {.has_hard = 0};
    int rc = 0;

    if (!json_is_object(body))
        return gl_aws_error_set(aerr, GL_AWS_INVALID_REQUEST_CONTENT, EINVAL,
                                "Could not parse request body into json: expected a JSON object");
    gl_violations_init(&c.schema, MAX_ERRORS, ITEM_MAX);
    if (!is_update)
        check_create_members(&c, body);
    check_package(&c, body);
    rc |= check_texts(&c, body, cfg, is_update);
    check_limits(&c, body, cfg);
    rc |= check_runtime_env(&c, body, cfg);
    rc |= check_extras(&c, body, cfg, is_update);

    /* Zip packages need a runtime and (except the OS-only runtimes) a handler. */
    if (!is_update && c.schema.n == 0 && !c.has_hard &&
        (!cfg->runtime || (!cfg->handler && strncmp(cfg->runtime, "provided", 8) != 0)))
        refuse(&c, GL_AWS_INVALID_PARAMETER_VALUE,
               "Runtime and Handler are mandatory parameters for functions created with "
               "deployment packages.");

    if (rc)
        return gl_aws_error_set(aerr, GL_AWS_SERVICE, ENOMEM, "Out of memory");
    if (report(&c, aerr) < 0)
        return -EINVAL;
    if (!is_update)
        gl_fn_config_defaults(cfg);
    return 0;
}

int gl_fn_code_from_request(const json_t *obj, const char **zip_b64, size_t *b64_len,
                            gl_aws_error_t *aerr)
{
    static const char *const others[] = {"S3Bucket", "S3Key", "S3ObjectVersion", "ImageUri"};
    *zip_b64 = NULL;
    *b64_len = 0;
    for (size_t i = 0; i < COUNT(others); i++) {
        json_t *v = json_object_get(obj, others[i]);
        if (v && !json_is_null(v)) {
            return gl_aws_error_set(aerr, GL_AWS_INVALID_PARAMETER_VALUE, EINVAL,
                                    "galley supports only ZipFile as the code source; %s (S3 or "
                                    "container image code) is not supported. Upload the .zip "
                                    "directly (aws lambda ... --zip-file fileb://function.zip).",
                                    others[i]);
        }
    }
    json_t *zip = json_object_get(obj, "ZipFile");
    if (!zip || json_is_null(zip))
        return gl_aws_error_set(aerr, GL_AWS_INVALID_PARAMETER_VALUE, EINVAL,
                                "Please provide a source for function code.");
    if (!json_is_string(zip))
        return gl_aws_error_set(aerr, GL_AWS_INVALID_REQUEST_CONTENT, EINVAL,
                                "Could not parse request body into json: member ZipFile must be "
                                "a base64 string");
    *zip_b64 = json_string_value(zip);
    *b64_len = json_string_length(zip);
    return 0;
}
