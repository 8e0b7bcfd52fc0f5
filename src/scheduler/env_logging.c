/* SPDX-License-Identifier: MIT */
/*
 * env_logging.c: a function's LoggingConfig as its environments apply it: the log group its
 * lines go to (LogGroup, else /aws/lambda/<name>), the AWS_LAMBDA_LOG_FORMAT and
 * AWS_LAMBDA_LOG_LEVEL its runtime is given, and the platform records galley writes (START,
 * END, REPORT, INIT_START, INIT_REPORT): Lambda's text lines with LogFormat Text, and with
 * JSON the records {"time","type","record"} Lambda writes, dropped below SystemLogLevel.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "galley/util.h"
#include "internal.h"

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
    if (g && *g)
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

/* Whether a platform record of level INFO passes SystemLogLevel (DEBUG, INFO: yes; WARN: no). */
static int system_info_kept(const gl_env_t *env)
{
    const char *l = member(env, "SystemLogLevel");
    return !l || strcmp(l, "WARN") != 0;
}

void gl_env_platform(gl_env_t *env, const char *type, json_t *record, const char *fmt, ...)
{
    if (!gl_env_log_json(env)) {
        char line[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(line, sizeof(line), fmt, ap);
        va_end(ap);
        gl_env_log(env, "%s", line);
    } else if (record && system_info_kept(env)) {
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
