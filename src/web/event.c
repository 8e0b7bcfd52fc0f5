/* SPDX-License-Identifier: MIT */
/*
 * event.c: the payload format 2.0 event Lambda gives a function behind a Function URL:
 * rawPath and rawQueryString as sent, cookies split out of the Cookie header, lower-cased
 * headers with repeated ones comma-joined, queryStringParameters decoded with repeated keys
 * comma-joined, requestContext, and the body (base64 unless its content type is text).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "galley/util.h"
#include "internal.h"

int gl_web_is_text_type(const char *ct)
{
    static const char *const text[] = {"text/", "application/json", "application/javascript",
                                       "application/xml", "application/x-www-form-urlencoded",
                                       "application/yaml", "+json", "+xml"};
    if (!ct)
        return 0;
    for (size_t i = 0; i < sizeof(text) / sizeof(text[0]); i++)
        if (strcasestr(ct, text[i]))
            return 1;
    return 0;
}

/* Append value to obj[key], comma-joined when the key is there already. */
static void join_value(json_t *obj, const char *key, const char *value)
{
    const char *had = json_string_value(json_object_get(obj, key));
    if (!had) {
        json_object_set_new(obj, key, json_string(value));
        return;
    }
    char *joined = NULL;
    if (asprintf(&joined, "%s,%s", had, value) >= 0)
        json_object_set_new(obj, key, json_string(joined));
    free(joined);
}

/* Cookie: a=1; b=2 -> ["a=1", "b=2"] (appended to arr). */
static void split_cookies(json_t *arr, const char *header)
{
    const char *p = header;
    while (*p) {
        while (*p == ' ' || *p == ';')
            p++;
        const char *end = strchr(p, ';');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        while (n > 0 && p[n - 1] == ' ')
            n--;
        if (n > 0)
            json_array_append_new(arr, json_stringn(p, n));
        p += end ? (size_t)(end - p) : strlen(p);
    }
}

void gl_web_query_foreach(const char *query, void (*fn)(const char *k, const char *v, void *arg),
                          void *arg)
{
    const char *p = query;
    while (*p) {
        const char *amp = strchr(p, '&');
        size_t n = amp ? (size_t)(amp - p) : strlen(p);
        const char *eq = memchr(p, '=', n);
        size_t kn = eq ? (size_t)(eq - p) : n;
        char *k = NULL, *v = NULL;
        if (kn > 0 && gl_url_decode(p, kn, &k) == 0 &&
            gl_url_decode(eq ? eq + 1 : "", eq ? n - kn - 1 : 0, &v) == 0)
            fn(k, v, arg);
        free(k);
        free(v);
        p += n + (amp ? 1 : 0);
    }
}

static void on_param(const char *k, const char *v, void *arg)
{
    join_value(arg, k, v);
}

static json_t *query_params(const char *query)
{
    json_t *q = json_object();
    if (q)
        gl_web_query_foreach(query, on_param, q);
    return q;
}

void gl_web_clf_time(int64_t ms, char *out, size_t len)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    strftime(out, len, "%d/%b/%Y:%H:%M:%S +0000", &tm);
}

static json_t *headers_and_cookies(const gl_web_in_t *in, json_t *cookies)
{
    json_t *h = json_object();
    for (size_t i = 0; h && i < in->nheaders; i++) {
        if (!strcmp(in->headers[i].name, "cookie"))
            split_cookies(cookies, in->headers[i].value);
        else
            join_value(h, in->headers[i].name, in->headers[i].value);
    }
    return h;
}

const char *gl_web_in_header(const gl_web_in_t *in, const char *name)
{
    for (size_t i = 0; i < in->nheaders; i++)
        if (!strcmp(in->headers[i].name, name))
            return in->headers[i].value;
    return NULL;
}

static json_t *request_context(const gl_web_in_t *in)
{
    char when[64];
    gl_web_clf_time(in->time_ms, when, sizeof(when));
    const char *host = gl_web_in_header(in, "host");
    const char *ua = gl_web_in_header(in, "user-agent");
    return json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s}, s:s, s:s, s:s, s:s, "
                     "s:I}",
                     "accountId", in->account, "apiId", in->url_id, "domainName",
                     host ? host : "127.0.0.1", "domainPrefix", in->url_id, "http", "method",
                     in->method, "path", in->path, "protocol", "HTTP/1.1", "sourceIp",
                     in->source_ip, "userAgent", ua ? ua : "", "requestId", in->request_id,
                     "routeKey", "$default", "stage", "$default", "time", when, "timeEpoch",
                     (json_int_t)in->time_ms);
}

/* body and isBase64Encoded: text as is, anything else base64. */
void gl_web_event_body(json_t *ev, const gl_web_in_t *in)
{
    int text = gl_web_is_text_type(gl_web_in_header(in, "content-type"));
    if (in->body_len > 0) {
        char *b64 = NULL;
        if (text)
            json_object_set_new(ev, "body", json_stringn(in->body, in->body_len));
        else if (gl_b64_encode(in->body, in->body_len, &b64) == 0)
            json_object_set_new(ev, "body", json_string(b64));
        free(b64);
    }
    /* A text body that is not UTF-8 could not be a JSON string: send it base64 too. */
    if (text && in->body_len > 0 && !json_object_get(ev, "body")) {
        char *b64 = NULL;
        if (gl_b64_encode(in->body, in->body_len, &b64) == 0)
            json_object_set_new(ev, "body", json_string(b64));
        free(b64);
        text = 0;
    }
    json_object_set_new(ev, "isBase64Encoded", json_boolean(in->body_len > 0 && !text));
}

json_t *gl_web_event_v2(const gl_web_in_t *in)
{
    json_t *cookies = json_array();
    json_t *ev = json_pack("{s:s, s:s, s:s, s:s}", "version", "2.0", "routeKey", "$default",
                           "rawPath", in->path, "rawQueryString", in->query);
    if (!ev || !cookies) {
        json_decref(ev);
        json_decref(cookies);
        return NULL;
    }
    json_t *headers = headers_and_cookies(in, cookies);
    if (json_array_size(cookies) > 0)
        json_object_set(ev, "cookies", cookies);
    json_decref(cookies);
    json_object_set_new(ev, "headers", headers);
    if (in->query[0])
        json_object_set_new(ev, "queryStringParameters", query_params(in->query));
    json_object_set_new(ev, "requestContext", request_context(in));
    gl_web_event_body(ev, in);
    return ev;
}
