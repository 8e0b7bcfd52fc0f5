/* SPDX-License-Identifier: MIT */
/*
 * env_logging.c: a function's LoggingConfig as its environments apply it: the log group its
 * lines go to (LogGroup, else /aws/lambda/<name>), the AWS_LAMBDA_LOG_FORMAT and
 * AWS_LAMBDA_LOG_LEVEL its runtime is given, and the platform records galley writes (START,
 * END, REPORT, INIT_START, INIT_REPORT): Lambda's text lines with LogFormat Text, and with
 * JSON the records {"time","type","record"} Lambda writes, dropped below SystemLogLevel
 * (platform.runtimeDone is DEBUG, the others INFO); and with JSON, the runtime's JSON records
 * below ApplicationLogLevel dropped, as Lambda filters them whatever the runtime.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "galley/util.h"
#include "internal.h"
#include "telemetry.h"

static const json_t *logging_config(const gl_env_t *env)
{
    const json_t *extra = env->fn->cfg.extra;
    return extra ? json_object_get(extra, "LoggingConfig") : NULL;
}

static const char *member(const gl_env_t *env, const char *key)
{
    return json_string_value(json_object_get(logging_config(env), key));
}

int gl_env_log_json(const gl_env_t *env)
{
    const char *f = member(env, "LogFormat");
    return f && !strcmp(f, "JSON");
}

void gl_env_log_group(const gl_env_t *env, char *out, size_t len)
{
    const char *g = member(env, "LogGroup");
    if (g && *g && gl_path_plain(g)) /* never outside the logs root */
        snprintf(out, len, "%s", g);
    else
        snprintf(out, len, "/aws/lambda/%s", env->fn->cfg.name);
}

const char *gl_env_app_log_level(const gl_env_t *env)
{
    if (!gl_env_log_json(env))
        return NULL;
    const char *l = member(env, "ApplicationLogLevel");
    return l ? l : "INFO";
}

/* A level's rank, TRACE 0 to FATAL 5 (logging's WARNING and CRITICAL too), -1 when unknown. */
static int level_rank(const char *s)
{
    static const char *const names[] = {"TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"};
    if (!s)
        return -1;
    for (int i = 0; i < 6; i++)
        if (!strcasecmp(s, names[i]))
            return i;
    if (!strcasecmp(s, "WARNING"))
        return 3;
    return !strcasecmp(s, "CRITICAL") ? 5 : -1;
}

int gl_env_app_line_kept(const gl_env_t *env, const char *line, size_t len)
{
    int min = level_rank(gl_env_app_log_level(env));
    if (min <= 0 || len == 0 || line[0] != '{')
        return 1; /* Text format, TRACE, or not a JSON record: kept as written */
    json_t *o = json_loadb(line, len, 0, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        return 1; /* text that happens to start with '{': kept as written */
    }
    int rank = level_rank(json_string_value(json_object_get(o, "level")));
    json_decref(o);
    return (rank < 0 ? 2 : rank) >= min; /* a missing or unknown level counts as INFO */
}

/* Whether SystemLogLevel (INFO by default) keeps a record of type: platform.runtimeDone is
 * DEBUG, the others galley writes INFO. */
static int system_kept(const gl_env_t *env, const char *type)
{
    const char *min = member(env, "SystemLogLevel");
    int level = strcmp(type, "platform.runtimeDone") ? 2 : 1;
    return level >= level_rank(min ? min : "INFO");
}

void gl_env_platform(gl_env_t *env, const char *type, json_t *record, const char *fmt, ...)
{
    gl_env_tel_platform(env, type, record); /* its subscribers get it whatever the format */
    if (!gl_env_log_json(env)) {
        char line[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        gl_env_log(env, "%s", line);
    } else if (record && system_kept(env, type)) {
        char now[40];
        gl_fmt_iso8601(gl_now_ms(), now, sizeof(now));
        json_t *o = json_pack("{s:s,s:s,s:O}", "time", now, "type", type, "record", record);
        char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
        if (text)
            gl_env_log(env, "%s", text);
        free(text);
        json_decref(o);
    }
    json_decref(record);
}

int gl_env_platform_wanted(const gl_env_t *env)
{
    return gl_env_tel_active(env) || gl_env_log_json(env);
}

json_t *gl_env_status_record(json_t *rec, const char *status_text)
{
    char status[32] = "success", type[128] = "";
    const char *p = status_text ? strstr(status_text, "Status: ") : NULL;
    if (p)
        sscanf(p, "Status: %31[^\t]", status);
    if (status_text && (p = strstr(status_text, "Error Type: ")))
        sscanf(p, "Error Type: %127[^\t]", type);
    if (rec) {
        json_object_set_new(rec, "status", json_string(status));
        if (type[0])
            json_object_set_new(rec, "errorType", json_string(type));
    }
    return rec;
}
