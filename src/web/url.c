/* SPDX-License-Identifier: MIT */
/*
 * url.c: Function URL listeners. Each URL config is served on a loopback listener of its own
 * (http://<host>:<port>/), so every path on it belongs to the function and reaches it as
 * rawPath unchanged. A request is checked (AuthType AWS_IAM wants a SigV4 signature, verified
 * by the API's keys under --auth sigv4), a CORS preflight is answered from the config,
 * anything else becomes a payload 2.0 event (event.c) invoked through the scheduler
 * (invoke.c), and the result becomes the response (response.c)
 * with the config's CORS headers (cors.c). A function error is 502, a throttle 429, a body
 * over 6 MB 413, each with Lambda's {"Message": ...} body. A URL with InvokeMode
 * RESPONSE_STREAM streams its answer as the function writes it (url_stream.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "galley/http.h"
#include "galley/log.h"
#include "galley/sched.h"
#include "galley/web.h"
#include "internal.h"

#define URL_BODY_LIMIT (6u * 1024 * 1024)

struct url {
    struct url *next;
    gl_web_t *w;
    char *fn_name;
    char *qualifier;     /* alias, or NULL */
    json_t *config;      /* AuthType, Cors, InvokeMode, UrlId */
    gl_http_server_t *http;
    int port;
};


/* AWS_IAM without --auth sigv4: a SigV4 Authorization header or presigned query, its
 * signature not checked. */
static int signed_request(const gl_http_req_t *req)
{
    const char *auth = gl_http_req_header(req, "authorization");
    if (auth && !strncmp(auth, "AWS4-HMAC-SHA256 ", 17) && strstr(auth, "Credential=") &&
        strstr(auth, "SignedHeaders=") && strstr(auth, "Signature="))
        return 1;
    return strstr(req->query, "X-Amz-Signature=") && strstr(req->query, "X-Amz-Credential=");
}

/* The event of req as its URL's function sees it. NULL on ENOMEM. */
static json_t *event_of(const url_t *u, gl_http_req_t *req)
{
    char ip[64] = "127.0.0.1";
    const char *auth = json_string_value(json_object_get(u->config, "AuthType"));
    gl_http_req_peer_ip(req, ip, sizeof(ip));
    gl_web_in_t in = {
        .method = req->method_name, .path = req->path, .query = req->query,
        .headers = req->headers, .nheaders = req->nheaders, .body = req->body.data,
        .body_len = req->body.len, .source_ip = ip, .request_id = req->request_id,
        .url_id = json_string_value(json_object_get(u->config, "UrlId")),
        .account = auth && !strcmp(auth, "AWS_IAM") ? gl_registry_account(u->w->reg)
                                                    : "anonymous",
        .time_ms = gl_now_ms(),
    };
    if (!in.url_id)
        in.url_id = "galley";
    return gl_web_event_v2(&in);
}

static void on_request(gl_http_req_t *req, void *data)
{
    url_t *u = data;
    gl_uuid4(req->request_id);
    if (req->body_too_large) {
        gl_web_reply_message(req, "Message", 413, "Request must be smaller than 6291456 bytes for the "
                                "InvokeFunction operation");
        return;
    }
    const char *auth = json_string_value(json_object_get(u->config, "AuthType"));
    if (auth && !strcmp(auth, "AWS_IAM") &&
        (u->w->verify ? u->w->verify(u->w->verify_arg, req) < 0 : !signed_request(req))) {
        gl_web_reply_message(req, "Message", 403, "Forbidden");
        return;
    }
    const json_t *cors_cfg = json_object_get(u->config, "Cors");
    const char *origin = gl_http_req_header(req, "origin");
    int preflight = cors_cfg && !strcmp(req->method_name, "OPTIONS") && origin &&
                    gl_http_req_header(req, "access-control-request-method");
    json_t *cors = gl_web_cors_headers(cors_cfg, origin, preflight);
    if (preflight) {
        gl_http_header_t h[GL_WEB_MAX_HEADERS];
        size_t n = gl_web_response_headers(req, NULL, cors, NULL, h);
        gl_http_reply(req, 200, h, n, NULL, 0);
        json_decref(cors);
        return;
    }
    gl_fn_t *fn = gl_registry_resolve(u->w->reg, u->fn_name, u->qualifier ? u->qualifier : "",
                                      gl_registry_route_draw());
    if (!fn) {
        json_decref(cors);
        gl_web_reply_message(req, "Message", 404, "Not Found");
        return;
    }
    json_t *ev = event_of(u, req);
    char arn[512];
    gl_registry_fn_arn(u->w->reg, fn->cfg.name, u->qualifier, arn, sizeof(arn));
    const char *mode = json_string_value(json_object_get(u->config, "InvokeMode"));
    gl_web_invoke(u->w, req, fn, arn, ev, cors,
                  mode && !strcmp(mode, "RESPONSE_STREAM") ? GL_WEB_URL_STREAM : GL_WEB_URL);
}

static size_t body_limit(gl_http_req_t *req, void *data)
{
    (void)req;
    (void)data;
    return URL_BODY_LIMIT;
}

static const gl_http_handler_t handler = {.body_limit = body_limit, .on_request = on_request};

int gl_web_new(gl_web_t **out, uv_loop_t *loop, gl_registry_t *reg, struct gl_sched *sched,
               const char *host, gl_err_t *err)
{
    gl_web_t *w = calloc(1, sizeof(*w));
    if (!w || !(w->host = strdup(host ? host : "127.0.0.1"))) {
        free(w);
        return gl_err_set(err, ENOMEM, "function URLs");
    }
    w->loop = loop;
    w->reg = reg;
    w->sched = sched;
    *out = w;
    return 0;
}

void gl_web_set_verifier(gl_web_t *w, int (*verify)(void *arg, const gl_http_req_t *req),
                         void *arg)
{
    w->verify = verify;
    w->verify_arg = arg;
}

const char *gl_web_host(const gl_web_t *w)
{
    return w->host;
}

static int same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

static url_t **find(gl_web_t *w, const char *fn_name, const char *qualifier)
{
    url_t **p = &w->urls;
    for (; *p; p = &(*p)->next)
        if (!strcmp((*p)->fn_name, fn_name) && same((*p)->qualifier, qualifier))
            return p;
    return p;
}

static void url_free(url_t *u)
{
    free(u->fn_name);
    free(u->qualifier);
    json_decref(u->config);
    free(u);
}

/* Bind u on *port, or on a free port when that one is taken. */
static int listen_url(gl_web_t *w, url_t *u, int *port, gl_err_t *err)
{
    int rc = gl_http_server_new(&u->http, w->loop, &handler, u);
    if (rc < 0)
        return gl_err_set(err, -rc, "function URL listener");
    gl_err_t first = {0};
    if ((rc = gl_http_server_listen(u->http, w->host, *port, &u->port, &first)) < 0 && *port) {
        gl_log_warn("function URL of %s: port %d: %s; taking a free port", u->fn_name, *port,
                    first.msg);
        rc = gl_http_server_listen(u->http, w->host, 0, &u->port, err);
    } else if (rc < 0) {
        *err = first;
    }
    if (rc < 0) {
        gl_http_server_close(u->http, NULL, NULL);
        return rc;
    }
    *port = u->port;
    return 0;
}

int gl_web_url_open(gl_web_t *w, const char *fn_name, const char *qualifier,
                    const json_t *config, int *port, gl_err_t *err)
{
    url_t **p = find(w, fn_name, qualifier);
    json_t *copy = json_deep_copy(config);
    if (!copy)
        return gl_err_set(err, ENOMEM, "function URL");
    if (*p) {
        json_decref((*p)->config);
        (*p)->config = copy;
        *port = (*p)->port;
        return 0;
    }
    url_t *u = calloc(1, sizeof(*u));
    if (!u || !(u->fn_name = strdup(fn_name)) || (qualifier && !(u->qualifier = strdup(qualifier)))) {
        json_decref(copy);
        if (u)
            url_free(u);
        return gl_err_set(err, ENOMEM, "function URL");
    }
    u->w = w;
    u->config = copy;
    int rc = listen_url(w, u, port, err);
    if (rc < 0) {
        url_free(u);
        return rc;
    }
    *p = u;
    return 0;
}

void gl_web_closing(gl_web_t *w)
{
    w->closing++;
}

void gl_web_closed(gl_web_t *w)
{
    if (--w->closing == 0 && w->close_requested) {
        void (*cb)(void *) = w->on_closed;
        void *cb_arg = w->on_closed_arg;
        free(w->host);
        free(w);
        if (cb)
            cb(cb_arg);
    }
}

static void on_url_closed(void *arg)
{
    url_t *u = arg;
    gl_web_t *w = u->w;
    url_free(u);
    gl_web_closed(w);
}

static void unlink_and_close(url_t **p)
{
    url_t *u = *p;
    *p = u->next;
    gl_web_closing(u->w);
    gl_http_server_close(u->http, on_url_closed, u);
}

void gl_web_url_close(gl_web_t *w, const char *fn_name, const char *qualifier)
{
    url_t **p = find(w, fn_name, qualifier);
    if (*p)
        unlink_and_close(p);
}

void gl_web_url_close_function(gl_web_t *w, const char *fn_name)
{
    url_t **p = &w->urls;
    while (*p) {
        if (!strcmp((*p)->fn_name, fn_name))
            unlink_and_close(p);
        else
            p = &(*p)->next;
    }
}

void gl_web_close(gl_web_t *w, void (*on_closed)(void *arg), void *arg)
{
    w->on_closed = on_closed;
    w->on_closed_arg = arg;
    w->close_requested = 1;
    gl_web_closing(w); /* held until every listener is asked to close */
    while (w->urls)
        unlink_and_close(&w->urls);
    gl_web_api_close(w);
    gl_web_closed(w);
}
