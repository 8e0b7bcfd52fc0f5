/* SPDX-License-Identifier: MIT */
/*
 * telemetry_events.c: the pure parts of the Telemetry and Logs APIs: the checks of a
 * subscription request (Lambda's error types and messages: DeserializationError for a body
 * that is not a subscription, ValidationError for values out of bounds, joined by "; " as
 * Lambda joins them, AccessDenied for a destination outside the environment), the events each
 * schema version carries for galley's platform records and log lines, and the buffering
 * decisions (when a batch is due, how many old events a full queue drops). No loop, no
 * environment: telemetry.c calls these, and the unit tests drive them directly.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "telemetry.h"

static const char *const schema_names[GL_TEL_SCHEMA_COUNT] = {
    "2020-08-15", "2021-03-18", "2022-07-01", "2022-12-13", "2025-01-29",
};

const char *gl_tel_schema_name(gl_tel_schema_t s)
{
    return (unsigned)s < GL_TEL_SCHEMA_COUNT ? schema_names[s] : "?";
}

/* ---- the subscription request ---- */

static const char *api_prefix(gl_tel_api_t api)
{
    return api == GL_TEL_API_LOGS ? "Logs" : "Telemetry";
}

static int refuse(gl_tel_error_t *err, gl_tel_api_t api, int status, const char *kind,
                  const char *msg)
{
    err->status = status;
    snprintf(err->type, sizeof(err->type), "%s.%s", api_prefix(api), kind);
    snprintf(err->msg, sizeof(err->msg), "%s", msg);
    return -1;
}

static int bad_body(gl_tel_error_t *err, gl_tel_api_t api, const char *fmt, const char *arg)
{
    char msg[300];
    snprintf(msg, sizeof(msg), fmt, arg);
    return refuse(err, api, 400, "DeserializationError", msg);
}

/* One more ValidationError message, joined to the earlier ones by "; ". */
static void violation(char *msgs, size_t size, const char *msg)
{
    size_t n = strlen(msgs);
    snprintf(msgs + n, size - n, "%s%s", n ? "; " : "", msg);
}

static int parse_schema(gl_tel_api_t api, const json_t *v, gl_tel_sub_cfg_t *cfg,
                        gl_tel_error_t *err)
{
    cfg->schema = api == GL_TEL_API_LOGS ? GL_TEL_2020_08_15 : GL_TEL_SCHEMA_COUNT;
    if (!v)
        return 0;
    const char *s = json_string_value(v);
    if (!s)
        return bad_body(err, api, "invalid type for `%s`, expected a string", "schemaVersion");
    for (int i = 0; i < GL_TEL_SCHEMA_COUNT; i++)
        if (!strcmp(s, schema_names[i])) {
            cfg->schema = (gl_tel_schema_t)i;
            return 0;
        }
    return bad_body(err, api,
                    "unknown variant `%s`, expected one of `2020-08-15`, `2021-03-18`, "
                    "`2022-07-01`, `2022-12-13`, `2025-01-29`",
                    s);
}

/* "types": decoded here; empty or repeated types are validation errors (msgs). */
static int parse_types(gl_tel_api_t api, const json_t *v, gl_tel_sub_cfg_t *cfg,
                       gl_tel_error_t *err, char *msgs, size_t size)
{
    static const char *const names[] = {"platform", "function", "extension"};
    size_t i;
    const json_t *t;
    int repeated = 0;
    if (!json_is_array(v))
        return bad_body(err, api, "invalid type for `%s`, expected a sequence", "types");
    json_array_foreach(v, i, t) {
        const char *s = json_string_value(t);
        unsigned bit = 0;
        for (unsigned k = 0; s && k < 3; k++)
            if (!strcmp(s, names[k]))
                bit = 1u << k;
        if (!bit)
            return bad_body(err, api,
                            "unknown variant `%s`, expected one of `platform`, `function`, "
                            "`extension`",
                            s ? s : "(not a string)");
        repeated |= (cfg->types & bit) != 0;
        cfg->types |= bit;
    }
    if (!cfg->types)
        violation(msgs, size, "types should not be empty");
    else if (repeated)
        violation(msgs, size, "types should be unique");
    return 0;
}

static int parse_buffering(gl_tel_api_t api, const json_t *v, gl_tel_sub_cfg_t *cfg,
                           gl_tel_error_t *err, char *msgs, size_t size)
{
    static const struct {
        const char *name;
        long long min, max;
    } limits[] = {{"maxItems", 1000, 10000}, {"maxBytes", 262144, 1048576}, {"timeoutMs", 25, 30000}};
    long long value[3] = {api == GL_TEL_API_LOGS ? 10000 : 1000, 262144, 1000};
    if (v && !json_is_object(v))
        return bad_body(err, api, "invalid type for `%s`, expected an object", "buffering");
    for (int i = 0; i < 3; i++) {
        const json_t *x = v ? json_object_get(v, limits[i].name) : NULL;
        if (!x)
            continue;
        if (!json_is_integer(x))
            return bad_body(err, api, "invalid type for `%s`, expected an integer",
                            limits[i].name);
        value[i] = json_integer_value(x);
        if (value[i] < limits[i].min || value[i] > limits[i].max) {
            char msg[120];
            snprintf(msg, sizeof(msg), "%s should be between %lld and %lld", limits[i].name,
                     limits[i].min, limits[i].max);
            violation(msgs, size, msg);
        }
    }
    cfg->buf.max_items = (unsigned)value[0];
    cfg->buf.max_bytes = (size_t)value[1];
    cfg->buf.timeout_ms = (unsigned)value[2];
    return 0;
}

/* The HTTP destination's URI: http://sandbox.localdomain:PORT[/path] (the Logs API also
 * takes http://sandbox:PORT). */
static int parse_uri(gl_tel_api_t api, const char *uri, gl_tel_sub_cfg_t *cfg,
                     gl_tel_error_t *err, char *msgs, size_t size)
{
    const char *p = strstr(uri, "://");
    if (!p || (size_t)(p - uri) != 4 || strncasecmp(uri, "http", 4))
        return refuse(err, api, 403, "AccessDenied", "Only 'http' scheme is supported.");
    p += 3;
    size_t hostlen = strcspn(p, ":/?#");
    if (memchr(p, '@', strcspn(p, "/?#")) || strchr(p, '#')) {
        violation(msgs, size, "invalid destination URI");
        return 0;
    }
    /* The Logs API's subscribers have long used the short name too (AWS's own samples). */
    int logs_short = api == GL_TEL_API_LOGS && hostlen == 7 && !strncasecmp(p, "sandbox", 7);
    if (!logs_short && (hostlen != 19 || strncasecmp(p, "sandbox.localdomain", 19)))
        return refuse(err, api, 403, "AccessDenied",
                      "Only 'sandbox.localdomain' hostname is supported.");
    p += hostlen;
    if (*p != ':' || !(p[1] >= '0' && p[1] <= '9')) {
        violation(msgs, size, "URI port is not provided");
        return 0;
    }
    char *end;
    long port = strtol(p + 1, &end, 10);
    if (port < 1 || port > 65535 || (*end && *end != '/' && *end != '?')) {
        violation(msgs, size, "invalid destination port");
        return 0;
    }
    cfg->port = (int)port;
    snprintf(cfg->path, sizeof(cfg->path), "%s%s", *end == '/' ? "" : "/", end);
    return 0;
}

static int parse_destination(gl_tel_api_t api, const json_t *d, gl_tel_sub_cfg_t *cfg,
                             gl_tel_error_t *err, char *msgs, size_t size)
{
    if (!json_is_object(d))
        return bad_body(err, api, "invalid type for `%s`, expected an object", "destination");
    const char *proto = json_string_value(json_object_get(d, "protocol"));
    if (!json_object_get(d, "protocol"))
        return bad_body(err, api, "missing field `%s`", "protocol");
    if (!proto || (strcmp(proto, "HTTP") && strcmp(proto, "TCP")))
        return bad_body(err, api, "unknown variant `%s`, expected `HTTP` or `TCP`",
                        proto ? proto : "(not a string)");
    cfg->tcp = !strcmp(proto, "TCP");
    if (!cfg->tcp) {
        const char *uri = json_string_value(json_object_get(d, "URI"));
        if (!uri)
            return bad_body(err, api, "missing field `%s`", "URI");
        return parse_uri(api, uri, cfg, err, msgs, size);
    }
    const json_t *port = json_object_get(d, "port");
    if (!port)
        return bad_body(err, api, "missing field `%s`", "port");
    if (!json_is_integer(port))
        return bad_body(err, api, "invalid type for `%s`, expected an integer", "port");
    if (json_integer_value(port) < 1 || json_integer_value(port) > 65535)
        violation(msgs, size, "port should be between 1 and 65535");
    else
        cfg->port = (int)json_integer_value(port);
    return 0;
}

int gl_tel_parse_subscription(gl_tel_api_t api, const char *body, size_t len, gl_tel_sub_cfg_t *cfg,
                              gl_tel_error_t *err)
{
    json_error_t je;
    char msgs[sizeof(err->msg)] = "";
    int rc = -1;
    memset(cfg, 0, sizeof(*cfg));
    cfg->api = api;
    json_t *o = json_loadb(body ? body : "", len, 0, &je);
    if (!o)
        return refuse(err, api, 400, "DeserializationError", je.text);
    if (!json_is_object(o)) {
        bad_body(err, api, "%s", "expected a subscription object");
        goto out;
    }
    if (!json_object_get(o, "destination") || !json_object_get(o, "types")) {
        bad_body(err, api, "missing field `%s`",
                 json_object_get(o, "destination") ? "types" : "destination");
        goto out;
    }
    if (parse_schema(api, json_object_get(o, "schemaVersion"), cfg, err) < 0 ||
        parse_destination(api, json_object_get(o, "destination"), cfg, err, msgs, sizeof(msgs)) < 0 ||
        parse_types(api, json_object_get(o, "types"), cfg, err, msgs, sizeof(msgs)) < 0 ||
        parse_buffering(api, json_object_get(o, "buffering"), cfg, err, msgs, sizeof(msgs)) < 0)
        goto out;
    int logs_schema = cfg->schema <= GL_TEL_2021_03_18;
    if (api == GL_TEL_API_LOGS && !logs_schema) {
        refuse(err, api, 400, "ValidationError",
               "LogsAPI only supports the following SchemaVersion: 2020-08-15, 2021-03-18");
        goto out;
    }
    if (api == GL_TEL_API_TELEMETRY && (logs_schema || cfg->schema == GL_TEL_SCHEMA_COUNT)) {
        refuse(err, api, 400, "ValidationError",
               "TelemetryAPI only supports the SchemaVersion released after 2021-03-18");
        goto out;
    }
    if (cfg->port == 9001)
        violation(msgs, sizeof(msgs), "port 9001 is reserved");
    if (msgs[0]) {
        refuse(err, api, 400, "ValidationError", msgs);
        goto out;
    }
    rc = 0;
out:
    json_decref(o);
    return rc;
}

/* ---- events ---- */

static json_t *event(const char *time, const char *type, json_t *record)
{
    return json_pack("{s:s,s:s,s:o}", "time", time, "type", type, "record", record);
}

/* A copy of record keeping only the listed members (NULL-terminated). */
static json_t *pick(const json_t *record, const char *const *keys)
{
    json_t *out = json_object();
    for (; *keys; keys++) {
        json_t *v = json_object_get(record, *keys);
        if (v)
            json_object_set(out, *keys, v);
    }
    return out;
}

/* The Logs API's events (2020-08-15; 2021-03-18 adds platform.runtimeDone). */
static void logs_events(gl_tel_schema_t schema, const char *type, const json_t *record,
                        const char *time, json_t *events)
{
    static const char *const start[] = {"requestId", "version", NULL};
    static const char *const id[] = {"requestId", NULL};
    static const char *const done[] = {"requestId", "status", NULL};
    static const char *const report[] = {"requestId", "metrics", NULL};
    if (!strcmp(type, "platform.start")) {
        json_array_append_new(events, event(time, type, pick(record, start)));
    } else if (!strcmp(type, "platform.runtimeDone")) {
        if (schema == GL_TEL_2021_03_18)
            json_array_append_new(events, event(time, type, pick(record, done)));
        json_array_append_new(events, event(time, "platform.end", pick(record, id)));
    } else if (!strcmp(type, "platform.report")) {
        json_t *r = pick(record, report);
        json_t *m = json_object_get(r, "metrics");
        static const char *const metrics[] = {"durationMs", "billedDurationMs", "memorySizeMB",
                                              "maxMemoryUsedMB", "initDurationMs", NULL};
        if (m)
            json_object_set_new(r, "metrics", pick(m, metrics));
        json_array_append_new(events, event(time, type, r));
    } else if (!strcmp(type, "platform.telemetrySubscription")) {
        json_array_append_new(events, event(time, "platform.logsSubscription", json_deep_copy(record)));
    } else if (!strcmp(type, "platform.extension") || !strcmp(type, "platform.logsDropped") ||
               !strcmp(type, "platform.fault")) {
        json_array_append_new(events, event(time, type, json_deep_copy(record)));
    } /* the init events are the Telemetry API's only */
}

void gl_tel_platform_events(gl_tel_schema_t schema, const char *type, const json_t *record,
                            const char *time, json_t *events)
{
    static const char *const init_start_v1[] = {"initializationType", "phase", "runtimeVersion",
                                                "runtimeVersionArn", NULL};
    static const char *const init_report_v1[] = {"initializationType", "phase", "metrics",
                                                 "spans", NULL};
    if (schema <= GL_TEL_2021_03_18) {
        logs_events(schema, type, record, time, events);
        return;
    }
    if (!strcmp(type, "platform.fault"))
        return; /* the Logs API's only */
    json_t *r;
    /* 2022-07-01 predates initStart's function name and version and initReport's status. */
    if (schema == GL_TEL_2022_07_01 && !strcmp(type, "platform.initStart"))
        r = pick(record, init_start_v1);
    else if (schema == GL_TEL_2022_07_01 && !strcmp(type, "platform.initReport"))
        r = pick(record, init_report_v1);
    else
        r = json_deep_copy(record);
    json_array_append_new(events, event(time, type, r));
}

json_t *gl_tel_line_event(gl_tel_schema_t schema, int json_format, const char *type,
                          const char *line, size_t len, const char *time)
{
    json_t *record = NULL;
    if (json_format && schema >= GL_TEL_2022_07_01 && len && line[0] == '{') {
        record = json_loadb(line, len, 0, NULL);
        if (!json_is_object(record)) {
            json_decref(record);
            record = NULL;
        }
    }
    if (!record)
        record = json_stringn(line, len);
    if (!record) { /* not UTF-8: its stray bytes become '?', as JSON has no way to carry them */
        char *copy = malloc(len + 1);
        for (size_t i = 0; copy && i < len; i++)
            copy[i] = (unsigned char)line[i] < 0x80 && line[i] ? line[i] : '?';
        record = copy ? json_stringn(copy, len) : NULL;
        free(copy);
    }
    return record ? event(time, type, record) : NULL;
}

/* ---- buffering ---- */

int gl_tel_batch_due(const gl_tel_buffering_t *b, size_t items, size_t bytes)
{
    return items > 0 && (items >= b->max_items || bytes >= b->max_bytes);
}

int gl_tel_must_drop(const gl_tel_buffering_t *b, size_t items, size_t bytes, size_t add)
{
    return items > 0 && (items + 1 > b->max_items || bytes + add > b->max_bytes);
}
