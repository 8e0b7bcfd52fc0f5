/* SPDX-License-Identifier: MIT */
/*
 * event_v1.c: the payload format 1.0 event API Gateway's REST API gives a function (SAM's
 * `Type: Api`): resource, path, httpMethod, headers and multiValueHeaders, the query string
 * as queryStringParameters (last value) and multiValueQueryStringParameters (all), the route's
 * pathParameters, stageVariables, requestContext (stage "Prod", as `sam local start-api`),
 * body and isBase64Encoded. Members without a value are JSON null, as API Gateway sends them.
 */
#include <stdlib.h>
#include <string.h>

#include "galley/util.h"
#include "internal.h"

/* Add value under key to one (last wins) and many (all, in order). */
static void add_value(json_t *one, json_t *many, const char *key, const char *value)
{
    json_t *list = json_object_get(many, key);
    if (!list) {
        list = json_array();
        json_object_set_new(many, key, list);
    }
    json_array_append_new(list, json_string(value));
    json_object_set_new(one, key, json_string(value));
}

/* "null" for an empty object: steals obj. */
static json_t *or_null(json_t *obj)
{
    if (obj && json_object_size(obj) > 0)
        return obj;
    json_decref(obj);
    return json_null();
}

static void on_param(const char *k, const char *v, void *arg)
{
    json_t **both = arg;
    add_value(both[0], both[1], k, v);
}

static void set_query(json_t *ev, const char *query)
{
    json_t *both[2] = {json_object(), json_object()};
    if (both[0] && both[1])
        gl_web_query_foreach(query, on_param, both);
    json_object_set_new(ev, "queryStringParameters", or_null(both[0]));
    json_object_set_new(ev, "multiValueQueryStringParameters", or_null(both[1]));
}

static json_t *request_context(const gl_web_in_t *in, const char *resource)
{
    char when[64];
    gl_web_clf_time(in->time_ms, when, sizeof(when));
    const char *host = gl_web_in_header(in, "host");
    const char *ua = gl_web_in_header(in, "user-agent");
    return json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s?}, s:s, s:s, s:s, s:s, s:I, s:s, s:s, "
                     "s:s}",
                     "accountId", in->account, "apiId", in->url_id, "domainName",
                     host ? host : "127.0.0.1", "httpMethod", in->method, "identity",
                     "sourceIp", in->source_ip, "userAgent", ua, "path", in->path, "protocol",
                     "HTTP/1.1", "requestId", in->request_id, "requestTime", when,
                     "requestTimeEpoch", (json_int_t)in->time_ms, "resourceId", in->url_id,
                     "resourcePath", resource, "stage", "Prod");
}

json_t *gl_web_event_v1(const gl_web_in_t *in, const char *resource, const json_t *params)
{
    json_t *ev = json_pack("{s:s, s:s, s:s, s:n}", "resource", resource, "path", in->path,
                           "httpMethod", in->method, "stageVariables");
    json_t *one = json_object(), *many = json_object();
    if (!ev || !one || !many) {
        json_decref(ev);
        json_decref(one);
        json_decref(many);
        return NULL;
    }
    for (size_t i = 0; i < in->nheaders; i++)
        add_value(one, many, in->headers[i].name, in->headers[i].value);
    json_object_set_new(ev, "headers", or_null(one));
    json_object_set_new(ev, "multiValueHeaders", or_null(many));
    set_query(ev, in->query);
    json_object_set_new(ev, "pathParameters", or_null(params ? json_deep_copy(params) : NULL));
    json_object_set_new(ev, "requestContext", request_context(in, resource));
    gl_web_event_body(ev, in);
    if (!json_object_get(ev, "body"))
        json_object_set_new(ev, "body", json_null());
    return ev;
}
