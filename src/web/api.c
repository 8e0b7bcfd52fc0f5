/* SPDX-License-Identifier: MIT */
/*
 * api.c: the API-event listener (`galley serve --api-listen`, as `sam local start-api`): a SAM
 * template's Api and HttpApi events as one route table on one listener. A request is routed
 * as API Gateway routes it (routes.c), becomes a payload 1.0 (Api) or 2.0 (HttpApi) event
 * with its path parameters, and its function's result the response (invoke.c). Unknown
 * routes get API Gateway's answers: a REST API's 403 {"message":"Missing Authentication
 * Token"}, an HTTP API's 404 {"message":"Not Found"}.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "galley/log.h"
#include "internal.h"

#define API_BODY_LIMIT (10u * 1024 * 1024) /* API Gateway's payload limit */

struct gl_web_api {
    gl_web_t *w;
    gl_http_server_t *http;
    gl_web_route_t *routes;
    size_t nroutes;
    int any_rest;  /* some route is a REST one: unknown routes get its 403 */
    char api_id[11];
};

static void routes_free(gl_web_api_t *a)
{
    for (size_t i = 0; i < a->nroutes; i++) {
        free(a->routes[i].method);
        free(a->routes[i].path);
        free(a->routes[i].fn_name);
    }
    free(a->routes);
    free(a);
}

static json_t *event_of(gl_web_api_t *a, gl_http_req_t *req, const gl_web_route_t *r,
                        json_t *params)
{
    char ip[64] = "127.0.0.1";
    gl_http_req_peer_ip(req, ip, sizeof(ip));
    gl_web_in_t in = {
        .method = req->method_name, .path = req->path, .query = req->query,
        .headers = req->headers, .nheaders = req->nheaders, .body = req->body.data,
        .body_len = req->body.len, .source_ip = ip, .request_id = req->request_id,
        .url_id = a->api_id, .account = gl_registry_account(a->w->reg), .time_ms = gl_now_ms(),
    };
    if (!r->v2)
        return gl_web_event_v1(&in, r->path, params);
    json_t *ev = gl_web_event_v2(&in);
    char *key = NULL;
    if (!ev || (strcmp(r->path, "$default") && asprintf(&key, "%s %s", r->method, r->path) < 0))
        key = NULL;
    const char *route_key = key ? key : "$default";
    json_object_set_new(ev, "routeKey", json_string(route_key));
    json_object_set_new(json_object_get(ev, "requestContext"), "routeKey",
                        json_string(route_key));
    if (json_object_size(params) > 0)
        json_object_set(ev, "pathParameters", params);
    free(key);
    return ev;
}

static void on_request(gl_http_req_t *req, void *data)
{
    gl_web_api_t *a = data;
    json_t *params = NULL;
    gl_uuid4(req->request_id);
    if (req->body_too_large) {
        gl_web_reply_message(req, "message", 413, "Request Too Long");
        return;
    }
    int i = gl_web_route_match(a->routes, a->nroutes, req->method_name, req->path, &params);
    if (i < 0) {
        if (a->any_rest)
            gl_web_reply_message(req, "message", 403, "Missing Authentication Token");
        else
            gl_web_reply_message(req, "message", 404, "Not Found");
        return;
    }
    const gl_web_route_t *r = &a->routes[i];
    gl_fn_t *fn = gl_registry_find(a->w->reg, r->fn_name);
    if (!fn) {
        json_decref(params);
        gl_web_reply_message(req, "message", 502, "Internal server error");
        return;
    }
    char arn[512];
    gl_registry_fn_arn(a->w->reg, fn->cfg.name, NULL, arn, sizeof(arn));
    json_t *ev = event_of(a, req, r, params);
    json_decref(params);
    gl_web_invoke(a->w, req, fn, arn, ev, NULL, r->v2 ? GL_WEB_HTTPAPI : GL_WEB_REST);
}

static size_t body_limit(gl_http_req_t *req, void *data)
{
    (void)req;
    (void)data;
    return API_BODY_LIMIT;
}

static const gl_http_handler_t handler = {.body_limit = body_limit, .on_request = on_request};

static int copy_routes(gl_web_api_t *a, const json_t *routes)
{
    size_t i;
    json_t *r;
    if (!(a->routes = calloc(json_array_size(routes) + 1, sizeof(*a->routes))))
        return -ENOMEM;
    json_array_foreach(routes, i, r) {
        gl_web_route_t *o = &a->routes[a->nroutes++];
        const char *type = json_string_value(json_object_get(r, "Type"));
        const char *m = json_string_value(json_object_get(r, "Method"));
        const char *p = json_string_value(json_object_get(r, "Path"));
        const char *f = json_string_value(json_object_get(r, "Function"));
        o->v2 = type && !strcmp(type, "HttpApi");
        a->any_rest |= !o->v2;
        if (!m || !p || !f || !(o->method = strdup(m)) || !(o->path = strdup(p)) ||
            !(o->fn_name = strdup(f)))
            return -ENOMEM;
    }
    return 0;
}

int gl_web_api_start(gl_web_t *w, const char *host, int port, const json_t *routes, int *bound,
                     gl_err_t *err)
{
    gl_web_api_t *a = calloc(1, sizeof(*a));
    int rc;
    if (!a || copy_routes(a, routes) < 0) {
        if (a)
            routes_free(a);
        return gl_err_set(err, ENOMEM, "API routes");
    }
    a->w = w;
    gl_random_hex(a->api_id, 5);
    if ((rc = gl_http_server_new(&a->http, w->loop, &handler, a)) < 0) {
        routes_free(a);
        return gl_err_set(err, -rc, "API listener");
    }
    if ((rc = gl_http_server_listen(a->http, host, port, bound, err)) < 0) {
        gl_http_server_close(a->http, NULL, NULL);
        routes_free(a);
        return rc;
    }
    w->api = a;
    return 0;
}

static void on_api_closed(void *arg)
{
    gl_web_api_t *a = arg;
    gl_web_t *w = a->w;
    routes_free(a);
    gl_web_closed(w);
}

void gl_web_api_close(gl_web_t *w)
{
    gl_web_api_t *a = w->api;
    if (!a)
        return;
    w->api = NULL;
    gl_web_closing(w);
    gl_http_server_close(a->http, on_api_closed, a);
}
