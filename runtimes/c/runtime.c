/* SPDX-License-Identifier: MIT */
/*
 * runtime.c: the Runtime API loop of the C runtime library (gl_rt_run), init errors, and the
 * helpers handlers use to answer (gl_rt_respond_printf, gl_rt_set_error, gl_rt_json_escape).
 *
 * Owns the process-wide connection (one per process: Lambda runs one invoke at a time per
 * environment) and the deadline of the invocation in progress, which gl_rt_remaining_ms reads.
 * The connection is (re)initialised from AWS_LAMBDA_RUNTIME_API at each gl_rt_run or
 * gl_rt_init_error call and closed when either returns.
 */
#define _GNU_SOURCE /* vasprintf */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

#define API_PREFIX "/2018-06-01/runtime"
#define MAX_REQUEST_ID 255
#define MAX_CONTENT_TYPE 255
#define DEFAULT_CONTENT_TYPE "application/json"
#define NEXT_PATH API_PREFIX "/invocation/next"

static rt_conn_t conn;
static int64_t current_deadline_ms = -1; /* -1: no invocation in progress or no deadline */

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t gl_rt_remaining_ms(void)
{
    int64_t left;

    if (current_deadline_ms <= 0)
        return -1;
    left = current_deadline_ms - now_ms();
    return left < 0 ? 0 : left;
}

size_t gl_rt_json_escape(char *dst, size_t cap, const char *src, size_t len)
{
    size_t need = 0, w = 0;
    int truncated = 0;
    char esc[8];

    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)src[i];
        const char *out = esc;
        size_t n;

        switch (ch) {
        case '"': out = "\\\""; break;
        case '\\': out = "\\\\"; break;
        case '\n': out = "\\n"; break;
        case '\r': out = "\\r"; break;
        case '\t': out = "\\t"; break;
        case '\b': out = "\\b"; break;
        case '\f': out = "\\f"; break;
        default:
            if (ch < 0x20 || ch == 0x7f)
                snprintf(esc, sizeof esc, "\\u%04x", ch);
            else {
                esc[0] = (char)ch;
                esc[1] = '\0';
            }
        }
        n = strlen(out);
        if (!truncated && w + n < cap) {
            memcpy(dst + w, out, n);
            w += n;
        } else {
            truncated = 1;
        }
        need += n;
    }
    if (cap > 0)
        dst[w] = '\0';
    return need;
}

int gl_rt_respond_printf(gl_rt_response_t *resp, const char *content_type, const char *fmt, ...)
{
    va_list ap;
    char *body = NULL;
    int n;

    va_start(ap, fmt);
    n = vasprintf(&body, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -ENOMEM;
    if (resp->body_free && resp->body)
        resp->body_free((void *)resp->body);
    resp->body = body;
    resp->body_len = (size_t)n;
    resp->body_free = free;
    resp->content_type = content_type;
    return 0;
}

int gl_rt_set_error(gl_rt_response_t *resp, const char *error_type, const char *fmt, ...)
{
    va_list ap;

    snprintf(resp->error_type, sizeof resp->error_type, "%s", error_type ? error_type : "");
    va_start(ap, fmt);
    vsnprintf(resp->error_message, sizeof resp->error_message, fmt, ap);
    va_end(ap);
    return -1;
}

/* Use the current AWS_LAMBDA_RUNTIME_API value (tests change it between calls). */
static int ensure_conn(void)
{
    const char *api = getenv("AWS_LAMBDA_RUNTIME_API");
    int rc;

    if (api && conn.hostport[0] && strcmp(api, conn.hostport) == 0)
        return 0;
    rt_conn_close(&conn);
    memset(&conn, 0, sizeof conn);
    if ((rc = rt_conn_init(&conn, api)) < 0) {
        conn.hostport[0] = '\0';
        rt_log("AWS_LAMBDA_RUNTIME_API is %s%s%s, expected host:port", api ? "\"" : "",
               api ? api : "unset", api ? "\"" : "");
    }
    return rc;
}

static void disconnect(void)
{
    rt_conn_close(&conn);
    conn.hostport[0] = '\0';
}

/* Percent-encode id as a path segment (encodeURIComponent's unreserved set stays as is). */
static void encode_segment(char *dst, const char *id)
{
    static const char hex[] = "0123456789ABCDEF";

    for (; *id; id++) {
        unsigned char ch = (unsigned char)*id;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
            strchr("-_.!~*'()", ch)) {
            *dst++ = (char)ch;
        } else {
            *dst++ = '%';
            *dst++ = hex[ch >> 4];
            *dst++ = hex[ch & 15];
        }
    }
    *dst = '\0';
}

/* An error type goes into a header: send it only if it is a plain token, else "Unhandled". */
static const char *error_type_header(const char *type)
{
    if (!*type || strlen(type) > 120 ||
        strspn(type, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-:") !=
            strlen(type))
        return "Unhandled";
    return type;
}

/* POST an error document to path (then_get: pipeline a GET of it, or NULL). Returns the HTTP
 * status, or a negative errno. */
static int post_error(const char *path, const char *type, const char *message,
                      const char *then_get)
{
    char esc_msg[6 * sizeof ((gl_rt_response_t *)0)->error_message + 1];
    char esc_type[6 * sizeof ((gl_rt_response_t *)0)->error_type + 1];
    char body[sizeof esc_msg + sizeof esc_type + 64];
    rt_req_header_t hdrs[2] = {
        {"Content-Type", DEFAULT_CONTENT_TYPE},
        {"Lambda-Runtime-Function-Error-Type", error_type_header(type)},
    };
    rt_reply_t reply;
    int n, rc;

    gl_rt_json_escape(esc_msg, sizeof esc_msg, message, strlen(message));
    gl_rt_json_escape(esc_type, sizeof esc_type, type, strlen(type));
    n = snprintf(body, sizeof body, "{\"errorMessage\":\"%s\",\"errorType\":\"%s\",\"stackTrace\":[]}",
                 esc_msg, esc_type);
    if (n < 0 || (size_t)n >= sizeof body)
        return -E2BIG; /* cannot happen: the buffers are sized for the worst case */
    rc = rt_http_request_then_get(&conn, "POST", path, hdrs, 2, body, (size_t)n, RT_MAX_SMALL_BODY,
                                  then_get, &reply);
    if (rc == 0 || rc == -EMSGSIZE)
        rc = reply.status;
    rt_reply_free(&reply);
    return rc;
}

/* POST the handler's result and pipeline the next /next behind it. */
static int post_response(const char *path, const gl_rt_response_t *resp)
{
    const char *ctype = resp->content_type ? resp->content_type : DEFAULT_CONTENT_TYPE;
    rt_req_header_t hdr = {"Content-Type", ctype};
    rt_reply_t reply;
    int rc;

    if (strlen(ctype) > MAX_CONTENT_TYPE || strpbrk(ctype, "\r\n")) {
        rt_log("handler's content type is unusable; sending %s", DEFAULT_CONTENT_TYPE);
        hdr.value = DEFAULT_CONTENT_TYPE;
    }
    rc = rt_http_request_then_get(&conn, "POST", path, &hdr, 1, resp->body,
                                  resp->body ? resp->body_len : 0, RT_MAX_SMALL_BODY, NEXT_PATH,
                                  &reply);
    if (rc == 0 || rc == -EMSGSIZE)
        rc = reply.status;
    rt_reply_free(&reply);
    return rc;
}

/*
 * Point _X_AMZN_TRACE_ID at the current trace id. setenv would leak every distinct value (glibc
 * cannot free strings it once put in environ), and trace ids differ per invoke, so the variable
 * lives in one static buffer that putenv hands to environ and that is rewritten in place.
 */
static void set_trace_env(const char *trace_id)
{
    static char var[2048];
    static const char name[] = "_X_AMZN_TRACE_ID=";

    if (!trace_id || !*trace_id || strlen(trace_id) >= sizeof var - sizeof name) {
        if (trace_id && *trace_id)
            rt_log("trace id longer than %zu bytes; _X_AMZN_TRACE_ID left unset",
                   sizeof var - sizeof name);
        unsetenv("_X_AMZN_TRACE_ID");
        return;
    }
    snprintf(var, sizeof var, "%s%s", name, trace_id);
    putenv(var);
}

static int64_t parse_deadline(const char *v)
{
    char *end;
    long long ms;

    if (!v || !*v)
        return 0;
    errno = 0;
    ms = strtoll(v, &end, 10);
    if (errno || *end || ms <= 0)
        return 0;
    return (int64_t)ms;
}

/* Handle one event: call the handler (unless the event was too large) and post its answer.
 * Returns 0 to go on, or a negative errno when the Runtime API is gone. */
static int handle_one(const rt_reply_t *next, int too_large, gl_rt_handler_fn handler,
                      void *user_data)
{
    const char *id = rt_reply_header(next, "Lambda-Runtime-Aws-Request-Id");
    char enc[3 * MAX_REQUEST_ID + 1];
    char path[sizeof enc + 64];
    gl_rt_invocation_t inv;
    gl_rt_response_t resp;
    int hrc, status;
    const char *what;

    if (!id || !*id || strlen(id) > MAX_REQUEST_ID) {
        rt_log("/next reply has %s request id", id && *id ? "an overlong" : "no");
        return -EPROTO;
    }
    encode_segment(enc, id);
    if (too_large) {
        snprintf(path, sizeof path, API_PREFIX "/invocation/%s/error", enc);
        rt_log("event for %s exceeds %d bytes; reporting an error", id, GL_RT_MAX_EVENT_BYTES);
        status = post_error(path, "Runtime.EventTooLarge", "The event exceeds the 6291556-byte limit.",
                            NEXT_PATH);
        return status < 0 ? status : 0;
    }

    memset(&inv, 0, sizeof inv);
    inv.request_id = id;
    inv.payload = next->body ? next->body : "";
    inv.payload_len = next->body_len;
    inv.content_type = rt_reply_header(next, "Content-Type");
    inv.deadline_ms = parse_deadline(rt_reply_header(next, "Lambda-Runtime-Deadline-Ms"));
    inv.invoked_function_arn = rt_reply_header(next, "Lambda-Runtime-Invoked-Function-Arn");
    inv.trace_id = rt_reply_header(next, "Lambda-Runtime-Trace-Id");
    inv.client_context = rt_reply_header(next, "Lambda-Runtime-Client-Context");
    inv.cognito_identity = rt_reply_header(next, "Lambda-Runtime-Cognito-Identity");
    inv.tenant_id = rt_reply_header(next, "Lambda-Runtime-Aws-Tenant-Id");
    set_trace_env(inv.trace_id);
    current_deadline_ms = inv.deadline_ms;

    memset(&resp, 0, sizeof resp);
    snprintf(path, sizeof path, API_PREFIX "/invocation/%s/response", enc);
    rt_stream_set_current(&conn, path);
    hrc = handler(&inv, &resp, user_data);
    current_deadline_ms = -1;
    if (rt_stream_after_handler(hrc, &resp, &status)) {
        what = "streamed response";
    } else if (hrc == 0) {
        snprintf(path, sizeof path, API_PREFIX "/invocation/%s/response", enc);
        what = "response";
        status = post_response(path, &resp);
    } else {
        snprintf(path, sizeof path, API_PREFIX "/invocation/%s/error", enc);
        what = "error";
        status = post_error(path, resp.error_type[0] ? resp.error_type : "HandlerError",
                            resp.error_message[0] ? resp.error_message
                                                  : "The handler failed without a message.",
                            NEXT_PATH);
    }
    if (resp.body_free && resp.body)
        resp.body_free((void *)resp.body);
    if (status < 0)
        return status;
    if (status < 200 || status > 299)
        rt_log("Runtime API refused the %s for %s with status %d", what, id, status);
    return 0;
}

int gl_rt_run(gl_rt_handler_fn handler, void *user_data)
{
    rt_reply_t next;
    int rc;

    if ((rc = ensure_conn()) < 0)
        return rc;
    for (;;) {
        if (conn.next_sent) /* pipelined behind the last result */
            rc = rt_read_pipelined(&conn, NEXT_PATH, GL_RT_MAX_EVENT_BYTES, &next);
        else
            rc = rt_http_request(&conn, "GET", NEXT_PATH, NULL, 0, NULL, 0, GL_RT_MAX_EVENT_BYTES,
                                 &next);
        if (rc < 0 && !(rc == -EMSGSIZE && next.status == 200))
            break;
        if (next.status != 200) {
            rt_log("/next answered %d: %.200s", next.status, next.body ? next.body : "");
            rc = -EIO;
            break;
        }
        rc = handle_one(&next, rc == -EMSGSIZE, handler, user_data);
        rt_reply_free(&next);
        if (rc < 0)
            break;
    }
    rt_reply_free(&next);
    disconnect();
    return rc;
}

int gl_rt_init_error(const char *error_type, const char *fmt, ...)
{
    char message[sizeof ((gl_rt_response_t *)0)->error_message];
    va_list ap;
    int rc;

    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    if ((rc = ensure_conn()) < 0)
        return rc;
    rc = post_error(API_PREFIX "/init/error", error_type ? error_type : "Runtime.InitError",
                    message, NULL);
    disconnect();
    if (rc < 0)
        return rc;
    if (rc < 200 || rc > 299) {
        rt_log("Runtime API refused the init error with status %d", rc);
        return -EIO;
    }
    return 0;
}
