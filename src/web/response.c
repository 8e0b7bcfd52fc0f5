/* SPDX-License-Identifier: MIT */
/*
 * response.c: a function's result as the HTTP response of a Function URL, mapped as Lambda
 * maps it. A JSON object with a statusCode is the response: statusCode, headers (values
 * made strings), cookies (one Set-Cookie each), body, isBase64Encoded. Any other result is a
 * 200 with content-type application/json: a JSON string is the body as its text, anything
 * else (an object without statusCode, a number, bytes that are not JSON) the result as is.
 * A RESPONSE_STREAM URL's HttpResponseStream prelude ({statusCode, headers, cookies}, the JSON
 * before the eight NUL bytes) maps the same way, without a body.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "galley/util.h"
#include "internal.h"

static int set_body(gl_web_resp_t *r, const char *data, size_t len)
{
    if (!(r->body = malloc(len + 1)))
        return -ENOMEM;
    memcpy(r->body, data, len);
    r->body[len] = '\0';
    r->body_len = len;
    return 0;
}

/* Header values as strings: numbers and booleans are written out, anything else dropped. */
static void copy_headers(gl_web_resp_t *r, const json_t *headers)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)headers, k, v) {
        if (json_is_string(v)) {
            json_object_set(r->headers, k, v);
        } else if (json_is_number(v) || json_is_boolean(v)) {
            char *s = json_dumps(v, JSON_ENCODE_ANY);
            if (s)
                json_object_set_new(r->headers, k, json_string(s));
            free(s);
        }
    }
}

static int map_structured(gl_web_resp_t *r, const json_t *obj)
{
    const json_t *sc = json_object_get(obj, "statusCode");
    r->status = json_is_integer(sc) ? (int)json_integer_value(sc) : 200;
    if (r->status < 100 || r->status > 599)
        r->status = 500;
    if (json_is_object(json_object_get(obj, "headers")))
        copy_headers(r, json_object_get(obj, "headers"));
    size_t i;
    json_t *c;
    json_array_foreach(json_object_get(obj, "cookies"), i, c)
        if (json_is_string(c))
            json_array_append(r->cookies, c);
    const char *body = json_string_value(json_object_get(obj, "body"));
    size_t blen = json_string_length(json_object_get(obj, "body"));
    if (body && json_is_true(json_object_get(obj, "isBase64Encoded"))) {
        unsigned char *raw = NULL;
        size_t rawlen = 0;
        if (gl_b64_decode(body, blen, &raw, &rawlen) == 0) {
            r->body = (char *)raw;
            r->body_len = rawlen;
            return 0;
        }
        r->status = 502; /* Lambda cannot decode it either */
        return set_body(r, "{\"Message\":\"Internal Server Error\"}", 35);
    }
    return set_body(r, body ? body : "", body ? blen : 0);
}

static int resp_init(gl_web_resp_t *out)
{
    memset(out, 0, sizeof(*out));
    out->status = 200;
    out->headers = json_object();
    out->cookies = json_array();
    if (!out->headers || !out->cookies) {
        gl_web_resp_free(out);
        return -ENOMEM;
    }
    return 0;
}

int gl_web_response_map(const char *result, size_t len, gl_web_resp_t *out)
{
    if (resp_init(out) < 0)
        return -ENOMEM;
    json_t *v = json_loadb(result, len, JSON_DECODE_ANY, NULL);
    int rc;
    if (json_is_object(v) && json_object_get(v, "statusCode")) {
        rc = map_structured(out, v);
    } else {
        json_object_set_new(out->headers, "content-type", json_string("application/json"));
        if (json_is_string(v))
            rc = set_body(out, json_string_value(v), json_string_length(v));
        else
            rc = set_body(out, result, len);
    }
    json_decref(v);
    if (rc < 0)
        gl_web_resp_free(out);
    return rc;
}

static int has_header(const json_t *headers, const char *name)
{
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)headers, k, v)
        if (!strcasecmp(k, name))
            return 1;
    return 0;
}

int gl_web_response_prelude(const char *prelude, size_t len, gl_web_resp_t *out)
{
    json_t *v = json_loadb(prelude, len, 0, NULL);
    const json_t *sc = json_object_get(v, "statusCode");
    int rc = -EINVAL;

    memset(out, 0, sizeof(*out));
    if (json_is_object(v) && (!sc || json_is_integer(sc)) && (rc = resp_init(out)) == 0) {
        json_object_del(v, "body"); /* the body is what follows the prelude */
        json_object_del(v, "isBase64Encoded");
        if ((rc = map_structured(out, v)) == 0 && !has_header(out->headers, "content-type"))
            json_object_set_new(out->headers, "content-type",
                                json_string("application/octet-stream"));
        if (rc < 0)
            gl_web_resp_free(out);
    }
    json_decref(v);
    return rc;
}

void gl_web_resp_free(gl_web_resp_t *r)
{
    json_decref(r->headers);
    json_decref(r->cookies);
    free(r->body);
    memset(r, 0, sizeof(*r));
}

/* multiValueHeaders: each value of each name, after headers' (API Gateway sends both). */
static void add_multi(gl_web_resp_t *r, const json_t *multi)
{
    const char *k;
    json_t *list, *v;
    size_t i;
    json_object_foreach((json_t *)multi, k, list) {
        json_array_foreach(list, i, v) {
            if (!json_is_string(v))
                continue;
            if (!strcasecmp(k, "set-cookie"))
                json_array_append(r->cookies, v);
            else if (i == json_array_size(list) - 1)
                json_object_set(r->headers, k, v); /* one value per name: the last */
        }
    }
}

int gl_web_response_map_v1(const char *result, size_t len, gl_web_resp_t *out)
{
    json_t *v = json_loadb(result, len, JSON_DECODE_ANY, NULL);
    int rc = -EINVAL;
    const json_t *body = json_object_get(v, "body");
    memset(out, 0, sizeof(*out));
    if (json_is_object(v) && json_is_integer(json_object_get(v, "statusCode")) &&
        (!body || json_is_null(body) || json_is_string(body))) {
        json_t *copy = json_deep_copy(v);
        json_object_del(copy, "cookies"); /* payload 1.0 has none: multiValueHeaders does it */
        char *text = json_dumps(copy, JSON_COMPACT);
        rc = text ? gl_web_response_map(text, strlen(text), out) : -ENOMEM;
        if (rc == 0 && json_is_object(json_object_get(v, "multiValueHeaders")))
            add_multi(out, json_object_get(v, "multiValueHeaders"));
        free(text);
        json_decref(copy);
    }
    json_decref(v);
    return rc;
}
