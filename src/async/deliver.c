/* SPDX-License-Identifier: MIT */
/*
 * deliver.c: what an async event's outcome turns into: destination ARNs parsed into a kind
 * galley can deliver to, Lambda's destination record (version 1.0), EventBridge's envelope
 * around it, and the dead-letter message. Pure functions; the writing happens in async.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static int valid_chars(const char *s, size_t len, const char *extra)
{
    if (len == 0)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              strchr(extra, ch)))
            return 0;
    }
    return 1;
}

void gl_dest_sanitize(char *name)
{
    for (char *p = name; *p; p++) {
        char ch = *p;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '-'))
            *p = '_';
    }
    if (name[0] == '.')
        name[0] = '_';
}

int gl_dest_parse(const char *arn, gl_dest_t *out)
{
    memset(out, 0, sizeof(*out));
    /* arn:<partition>:<service>:<region>:<account>:<resource> */
    const char *f[6];
    size_t flen[6];
    const char *p = arn;
    for (int i = 0; i < 5; i++) {
        const char *colon = strchr(p, ':');
        if (!colon)
            return -EINVAL;
        f[i] = p;
        flen[i] = (size_t)(colon - p);
        p = colon + 1;
    }
    f[5] = p;
    flen[5] = strlen(p);
    if (flen[0] != 3 || memcmp(f[0], "arn", 3) || flen[1] < 3 || memcmp(f[1], "aws", 3) ||
        flen[5] == 0 || flen[5] >= sizeof(out->resource))
        return -EINVAL;
    const char *svc = f[2], *res = f[5];
    size_t slen = flen[2], rlen = flen[5];
#define IS(name) (slen == strlen(name) && !memcmp(svc, name, slen))
    if (IS("lambda")) {
        if (rlen < 10 || memcmp(res, "function:", 9))
            return -EINVAL;
        const char *name = res + 9, *colon = strchr(name, ':');
        size_t nlen = colon ? (size_t)(colon - name) : strlen(name);
        if (nlen > 64 || !valid_chars(name, nlen, "-_"))
            return -EINVAL;
        if (colon) {
            size_t qlen = strlen(colon + 1);
            if (qlen > 128 || !valid_chars(colon + 1, qlen, "$-_"))
                return -EINVAL;
            memcpy(out->qualifier, colon + 1, qlen + 1);
        }
        out->kind = GL_DEST_FUNCTION;
        memcpy(out->resource, name, nlen);
        out->resource[nlen] = '\0';
        snprintf(out->service, sizeof(out->service), "lambda");
        return 0;
    }
    if (IS("sqs") || IS("sns")) {
        out->kind = IS("sqs") ? GL_DEST_SQS : GL_DEST_SNS;
        snprintf(out->service, sizeof(out->service), "%s", IS("sqs") ? "sqs" : "sns");
    } else if (IS("events")) {
        if (rlen <= 10 || memcmp(res, "event-bus/", 10))
            return -EINVAL;
        res += 10;
        rlen -= 10;
        out->kind = GL_DEST_EVENTS;
        snprintf(out->service, sizeof(out->service), "events");
    } else if (IS("s3")) {
        out->kind = GL_DEST_S3;
        snprintf(out->service, sizeof(out->service), "s3");
    } else {
        return -EINVAL;
    }
#undef IS
    memcpy(out->resource, res, rlen);
    out->resource[rlen] = '\0';
    gl_dest_sanitize(out->resource);
    return 0;
}

int gl_async_check_destination(const char *arn, int on_failure, char *function, size_t len)
{
    gl_dest_t d;
    if (gl_dest_parse(arn, &d) < 0 || (d.kind == GL_DEST_S3 && !on_failure))
        return -EINVAL;
    snprintf(function, len, "%s", d.kind == GL_DEST_FUNCTION ? d.resource : "");
    return 0;
}

json_t *gl_json_or_string(const char *text, size_t len)
{
    if (!text || len == 0)
        return json_null();
    json_t *v = json_loadb(text, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    return v ? v : json_stringn(text, len);
}

json_t *gl_dest_record(const gl_dest_record_in_t *in)
{
    char ts[40];
    gl_fmt_iso8601(in->now_ms, ts, sizeof(ts));
    json_t *resp_ctx = json_pack("{s:i, s:s}", "statusCode", in->response ? 200 : 429,
                                 "executedVersion",
                                 in->executed_version ? in->executed_version : "$LATEST");
    if (resp_ctx && in->function_error)
        json_object_set_new(resp_ctx, "functionError", json_string("Unhandled"));
    json_t *rec = json_pack("{s:s, s:s, s:{s:s, s:s, s:s, s:i}, s:o, s:o}", "version", "1.0",
                            "timestamp", ts, "requestContext", "requestId", in->request_id,
                            "functionArn", in->function_arn, "condition", in->condition,
                            "approximateInvokeCount", in->invoke_count, "requestPayload",
                            gl_json_or_string(in->payload, in->payload_len), "responseContext",
                            resp_ctx);
    if (rec && in->response)
        json_object_set_new(rec, "responsePayload",
                            gl_json_or_string(in->response, in->response_len));
    return rec;
}

json_t *gl_dest_eventbridge(json_t *record, int success, const char *region, const char *account,
                            const char *function_arn, int64_t now_ms)
{
    char id[GL_UUID_LEN + 1], ts[40];
    gl_uuid4(id);
    /* EventBridge's "time" has second precision. */
    gl_fmt_iso8601(now_ms / 1000 * 1000, ts, sizeof(ts));
    char *dot = strchr(ts, '.');
    if (dot)
        memmove(dot, dot + 4, strlen(dot + 4) + 1);
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:[s], s:o}", "version", "0", "id", id,
                     "detail-type",
                     success ? "Lambda Function Invocation Result - Success"
                             : "Lambda Function Invocation Result - Failure",
                     "source", "lambda", "account", account, "time", ts, "region", region,
                     "resources", function_arn, "detail", record);
}

json_t *gl_dest_dlq_message(const char *request_id, const char *payload, size_t payload_len,
                            int error_code, const char *error_message)
{
    /* ErrorMessage carries the first 1 KB, cut on a UTF-8 character boundary. */
    char msg[1025], code[16];
    size_t len = error_message ? strlen(error_message) : 0;
    if (len > 1024) {
        len = 1024;
        while (len > 0 && ((unsigned char)error_message[len] & 0xC0) == 0x80)
            len--;
    }
    if (len)
        memcpy(msg, error_message, len);
    msg[len] = '\0';
    snprintf(code, sizeof(code), "%d", error_code);
    return json_pack("{s:s%, s:{s:{s:s, s:s}, s:{s:s, s:s}, s:{s:s, s:s}}}", "body",
                     payload ? payload : "", payload ? payload_len : 0, "messageAttributes",
                     "RequestID", "DataType", "String", "StringValue", request_id, "ErrorCode",
                     "DataType", "Number", "StringValue", code,
                     "ErrorMessage", "DataType", "String", "StringValue", msg);
}
