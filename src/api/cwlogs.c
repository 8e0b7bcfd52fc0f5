/* SPDX-License-Identifier: MIT */
/*
 * cwlogs.c: the CloudWatch Logs JSON 1.1 protocol on the Lambda API's port: `POST /` with
 * X-Amz-Target: Logs_20140328.<Operation>. Dispatches by target through its own table
 * (the operations live in cwlogs_describe.c and cwlogs_events.c), and owns what they share:
 * reading the request object's members (a wrongly typed member is a SerializationException,
 * an out-of-range one an InvalidParameterException in AWS's "N validation errors detected"
 * wording), finding the log group, opaque page tokens, and replies in the protocol's shape:
 * `{"__type": name, "message": text}` with status 400 and Content-Type
 * application/x-amz-json-1.1. Every call reads the log files under <state>/logs as they are.
 *
 * An operation reads whole stream files, so it runs on libuv's thread pool, never on the loop:
 * the request's body is parsed and everything the operation needs is copied into a work item
 * on the loop thread; the operation fills the item's answer (gl_cwl_reply / gl_cwl_error) on a
 * worker thread touching nothing else; the answer is sent back on the loop thread, unless the
 * client went away meanwhile (on_abort), in which case it is dropped.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "galley/util.h"
#include "internal.h"

#define TARGET_PREFIX "Logs_20140328."
#define CONTENT_TYPE "application/x-amz-json-1.1"
/* What a logGroupName may hold (the model's pattern [\.\-_/#A-Za-z0-9]+). */
#define GROUP_CHARS                                                                                \
    ".-_/#ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

static const struct {
    const char *name;
    void (*run)(gl_cwl_t *c);
} targets[] = {
    {"DescribeLogGroups", gl_cwl_describe_log_groups},
    {"DescribeLogStreams", gl_cwl_describe_log_streams},
    {"GetLogEvents", gl_cwl_get_log_events},
    {"FilterLogEvents", gl_cwl_filter_log_events},
};

/* Keep the answer for the loop thread to send; body is stolen. */
static void answer(gl_cwl_t *c, int status, json_t *body, const char *error_type)
{
    free(c->out);
    c->out = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    c->status = c->out ? status : 500;
    c->error_type = c->out ? error_type : GL_CWL_UNAVAILABLE;
}

void gl_cwl_reply(gl_cwl_t *c, json_t *body) { answer(c, 200, body, NULL); }

void gl_cwl_error(gl_cwl_t *c, const char *type, const char *fmt, ...)
{
    char *msg = NULL;
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&msg, fmt, ap) < 0)
        msg = NULL;
    va_end(ap);
    json_t *s = json_string(msg ? msg : "out of memory");
    if (!s)
        s = json_string("(a message that is not UTF-8)");
    int status = strcmp(type, GL_CWL_UNAVAILABLE) ? 400 : 500;
    answer(c, status, json_pack("{s:s, s:o}", "__type", type, "message", s), type);
    free(msg);
}

/* c->in[key] when present (not absent, not null) and of a type check accepts: *v set, 1.
 * 0 when absent; -1 after replying SerializationException naming what was wanted. */
static int member(gl_cwl_t *c, const char *key, int (*check)(const json_t *), const char *what,
                  json_t **v)
{
    *v = json_object_get(c->in, key);
    if (!*v || json_is_null(*v))
        return 0;
    if (!check(*v)) {
        gl_cwl_error(c, GL_CWL_SERIALIZATION, "Value for '%s' must be %s", key, what);
        return -1;
    }
    return 1;
}

static int is_string(const json_t *v) { return json_is_string(v); }
static int is_integer(const json_t *v) { return json_is_integer(v); }
static int is_boolean(const json_t *v) { return json_is_boolean(v); }

int gl_cwl_str(gl_cwl_t *c, const char *key, const char **out)
{
    json_t *v;
    int rc = member(c, key, is_string, "a string", &v);
    *out = rc > 0 ? json_string_value(v) : NULL;
    return rc < 0 ? -1 : 0;
}

int gl_cwl_int(gl_cwl_t *c, const char *key, int64_t *out, int *present)
{
    json_t *v;
    int rc = member(c, key, is_integer, "an integer", &v);
    *present = rc > 0;
    if (rc > 0)
        *out = json_integer_value(v);
    return rc < 0 ? -1 : 0;
}

int gl_cwl_bool(gl_cwl_t *c, const char *key, int *out)
{
    json_t *v;
    int rc = member(c, key, is_boolean, "a boolean", &v);
    *out = rc > 0 && json_is_true(v);
    return rc < 0 ? -1 : 0;
}

int gl_cwl_range(gl_cwl_t *c, gl_violations_t *v, const char *key, int64_t lo, int64_t hi,
                 int64_t dflt, int64_t *out)
{
    int present;
    if (gl_cwl_int(c, key, out, &present) < 0)
        return -1;
    if (!present)
        *out = dflt;
    else if (*out < lo)
        gl_violation_add(v, "Value '%" PRId64 "' at '%s' failed to satisfy constraint: Member "
                         "must have value greater than or equal to %" PRId64, *out, key, lo);
    else if (hi > 0 && *out > hi)
        gl_violation_add(v, "Value '%" PRId64 "' at '%s' failed to satisfy constraint: Member "
                         "must have value less than or equal to %" PRId64, *out, key, hi);
    return 0;
}

int gl_cwl_report(gl_cwl_t *c, gl_violations_t *v)
{
    gl_aws_error_t e;
    if (gl_violations_report(v, &e) == 0)
        return 0;
    gl_cwl_error(c, GL_CWL_INVALID_PARAMETER, "%s", e.msg);
    return -1;
}

/* The group's name from logGroupName or logGroupIdentifier (a name or an ARN, with or without
 * the trailing ":*"), into buf. */
static int group_name(gl_cwl_t *c, char *buf, size_t len)
{
    const char *name, *ident;
    if (gl_cwl_str(c, "logGroupName", &name) < 0 || gl_cwl_str(c, "logGroupIdentifier", &ident) < 0)
        return -1;
    if (name && ident) {
        gl_cwl_error(c, GL_CWL_INVALID_PARAMETER,
                     "LogGroup name and LogGroup ARN are mutually exclusive parameters.");
        return -1;
    }
    if (!name && !ident) {
        gl_cwl_error(c, GL_CWL_INVALID_PARAMETER,
                     "Should provide either logGroupName or logGroupIdentifier.");
        return -1;
    }
    if (name && (strlen(name) > 512 || name[strspn(name, GROUP_CHARS)] || !*name)) {
        gl_cwl_error(c, GL_CWL_INVALID_PARAMETER, "1 validation error detected: Value '%.600s' "
                     "at 'logGroupName' failed to satisfy constraint: Member must satisfy "
                     "regular expression pattern: [\\.\\-_/#A-Za-z0-9]+", name);
        return -1;
    }
    if (ident && !strncmp(ident, "arn:", 4)) {
        const char *at = strstr(ident, ":log-group:");
        name = at ? at + strlen(":log-group:") : ident;
    } else if (ident) {
        name = ident;
    }
    size_t n = strlen(name);
    if (n >= 2 && !strcmp(name + n - 2, ":*"))
        n -= 2;
    snprintf(buf, len, "%.*s", (int)n, name);
    return 0;
}

int gl_cwl_group(gl_cwl_t *c, char **gdir, char *name, size_t len)
{
    if (group_name(c, name, len) < 0)
        return -1;
    int rc = gl_logs_group_dir(c->root, name, gdir);
    if (rc == -ENOMEM)
        gl_cwl_error(c, GL_CWL_UNAVAILABLE, "out of memory");
    else if (rc < 0)
        gl_cwl_error(c, GL_CWL_NOT_FOUND, "The specified log group does not exist.");
    return rc < 0 ? -1 : 0;
}

void gl_cwl_arn(gl_cwl_t *c, char *out, size_t len, const char *fmt, ...)
{
    char rest[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rest, sizeof(rest), fmt, ap);
    va_end(ap);
    snprintf(out, len, "arn:aws:logs:%s:%s:log-group:%s", c->region, c->account, rest);
}

int gl_cwl_next_token(gl_cwl_t *c, char *out, size_t len, int *present)
{
    const char *token;
    unsigned char *raw = NULL;
    size_t n = 0;
    out[0] = '\0';
    *present = 0;
    if (gl_cwl_str(c, "nextToken", &token) < 0)
        return -1;
    if (!token)
        return 0;
    if (gl_b64_decode(token, strlen(token), &raw, &n) < 0 || n == 0 || n >= len ||
        memchr(raw, '\0', n)) {
        free(raw);
        gl_cwl_error(c, GL_CWL_INVALID_PARAMETER, "The specified nextToken is invalid.");
        return -1;
    }
    memcpy(out, raw, n);
    out[n] = '\0';
    free(raw);
    *present = 1;
    return 0;
}

void gl_cwl_token_set(json_t *resp, const char *key, const char *plain)
{
    char *tok = NULL;
    if (gl_b64_encode(plain, strlen(plain), &tok) == 0)
        json_object_set_new(resp, key, json_string(tok));
    free(tok);
}

typedef struct cwl_work {
    uv_work_t work;
    gl_http_req_t *req; /* NULL once the client went away */
    void (*run)(gl_cwl_t *c);
    gl_cwl_t c;
} cwl_work_t;

static void on_work(uv_work_t *w)
{
    cwl_work_t *cw = w->data;
    cw->run(&cw->c);
}

static void on_req_abort(gl_http_req_t *req)
{
    cwl_work_t *cw = req->data;
    cw->req = NULL;
}

/* Send the answer the operation left in cw->c (or a 500 when it left none). */
static void send_answer(gl_http_req_t *req, gl_cwl_t *c)
{
    static const char fallback[] = "{\"__type\":\"ServiceUnavailableException\","
                                   "\"message\":\"the operation gave no answer\"}";
    gl_http_header_t hdrs[] = {
        {"x-amzn-RequestId", req->request_id},
        {"Content-Type", CONTENT_TYPE},
        {"x-amzn-ErrorType", c->error_type},
    };
    size_t n = c->error_type ? 3 : 2;
    if (!c->out) {
        hdrs[2].value = GL_CWL_UNAVAILABLE;
        gl_http_reply(req, 500, hdrs, 3, fallback, sizeof(fallback) - 1);
        return;
    }
    char *body = c->out;
    c->out = NULL;
    gl_http_reply_owned(req, c->status, hdrs, n, body, strlen(body));
}

static void cwl_work_free(cwl_work_t *cw)
{
    json_decref(cw->c.in);
    free(cw->c.root);
    free(cw->c.out);
    free(cw);
}

static void on_work_done(uv_work_t *w, int status)
{
    (void)status;
    cwl_work_t *cw = w->data;
    if (cw->req) {
        cw->req->on_abort = NULL;
        cw->req->data = NULL;
        send_answer(cw->req, &cw->c);
    }
    cwl_work_free(cw);
}

/* The work item for one operation, with the request's JSON object; NULL after answering in
 * c (a body that is not a JSON object, no logs, out of memory). */
static cwl_work_t *work_new(gl_api_t *api, gl_http_req_t *req, gl_cwl_t *c)
{
    cwl_work_t *cw = calloc(1, sizeof(*cw));
    json_error_t jerr;
    json_t *in = req->body.len ? json_loadb(req->body.data, req->body.len, 0, &jerr)
                               : json_object();
    if (!json_is_object(in))
        gl_cwl_error(c, GL_CWL_SERIALIZATION, "Start of structure or map found where not "
                     "expected: the request body must be a JSON object");
    else if (!api->logs_root)
        gl_cwl_error(c, GL_CWL_UNAVAILABLE, "galley keeps no logs (no state dir)");
    else if (!cw || !(cw->c.root = strdup(api->logs_root)))
        gl_cwl_error(c, GL_CWL_UNAVAILABLE, "out of memory");
    if (c->out) {
        json_decref(in);
        if (cw)
            free(cw->c.root);
        free(cw);
        return NULL;
    }
    cw->req = req;
    cw->c.in = in;
    snprintf(cw->c.region, sizeof(cw->c.region), "%s", gl_registry_region(api->reg));
    snprintf(cw->c.account, sizeof(cw->c.account), "%s", gl_registry_account(api->reg));
    cw->work.data = cw;
    return cw;
}

void gl_api_cwlogs(gl_api_t *api, gl_http_req_t *req, const gl_api_route_t *rt)
{
    (void)rt;
    gl_cwl_t c = {0};
    const char *target = gl_http_req_header(req, "x-amz-target");
    const char *op = target && !strncmp(target, TARGET_PREFIX, strlen(TARGET_PREFIX))
                         ? target + strlen(TARGET_PREFIX) : NULL;
    size_t i = 0, n = sizeof(targets) / sizeof(targets[0]);
    while (op && i < n && strcmp(targets[i].name, op) != 0)
        i++;
    if (!op || i == n) {
        gl_cwl_error(&c, GL_CWL_UNKNOWN_OPERATION, "%s%s is not an operation galley answers",
                     target ? "" : "no X-Amz-Target: ", target ? target : "POST /");
        send_answer(req, &c);
        free(c.out);
        return;
    }
    cwl_work_t *cw = work_new(api, req, &c);
    if (cw) {
        cw->run = targets[i].run;
        if (uv_queue_work(api->loop, &cw->work, on_work, on_work_done) == 0) {
            req->data = cw;
            req->on_abort = on_req_abort;
            return;
        }
        gl_cwl_error(&c, GL_CWL_UNAVAILABLE, "could not queue the operation");
        cwl_work_free(cw);
    }
    send_answer(req, &c);
    free(c.out);
}
