/* SPDX-License-Identifier: MIT */
/*
 * internal.h: the web module's pure parts, shared by url.c and its unit tests: the payload
 * format 2.0 event of a request (event.c), the HTTP response of a function's result
 * (response.c) and the CORS headers of a URL config (cors.c); and the invoke glue shared by
 * the listeners (invoke.c, url_stream.c).
 */
#ifndef GALLEY_WEB_INTERNAL_H
#define GALLEY_WEB_INTERNAL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "galley/http.h"
#include "galley/registry.h"
#include "galley/sched.h"
#include "galley/web.h"

#define GL_WEB_MAX_HEADERS 64

typedef struct url url_t;         /* one Function URL listener (url.c) */
typedef struct gl_web_api gl_web_api_t; /* the API-event listener (api.c) */

struct gl_web {
    uv_loop_t *loop;
    gl_registry_t *reg;
    struct gl_sched *sched;
    char *host;
    url_t *urls;
    gl_web_api_t *api;   /* NULL until gl_web_api_start */
    int (*verify)(void *arg, const gl_http_req_t *req); /* AWS_IAM signatures, or NULL */
    void *verify_arg;
    struct gl_durable *durable; /* durable executions (gl_web_set_durable), or NULL */
    /* private */
    unsigned closing;    /* listeners asked to close and not closed yet */
    int close_requested;
    void (*on_closed)(void *arg);
    void *on_closed_arg;
};

/* Whose rules a response follows (invoke.c). */
typedef enum gl_web_mode {
    GL_WEB_URL,     /* Function URL: payload 2.0, {"Message": ...} errors */
    GL_WEB_HTTPAPI, /* API Gateway HTTP API: payload 2.0, {"message": ...} errors */
    GL_WEB_REST,    /* API Gateway REST API: payload 1.0 */
    GL_WEB_URL_STREAM, /* Function URL with InvokeMode RESPONSE_STREAM (url_stream.c) */
} gl_web_mode_t;

/** Reply {key: msg} with status and the request id. */
void gl_web_reply_message(gl_http_req_t *req, const char *key, int status, const char *msg);
/** Fill out (GL_WEB_MAX_HEADERS) with hdrs' members (not those cors sets), cors', one
 *  Set-Cookie per cookie and x-amzn-RequestId; any of them may be NULL. The count. */
size_t gl_web_response_headers(gl_http_req_t *req, const json_t *hdrs, const json_t *cors,
                               const json_t *cookies, gl_http_header_t *out);
/** Invoke fn with event (stolen; NULL: reply 500) as arn, and answer req with its result under
 *  mode's rules, with the headers of cors (stolen, may be NULL). */
void gl_web_invoke(gl_web_t *w, gl_http_req_t *req, gl_fn_t *fn, const char *arn, json_t *event,
                   json_t *cors, gl_web_mode_t mode);
/** Answer req with inv's (buffered) result under mode's rules and the headers of cors
 *  (borrowed): the mapped response, or the mode's error for a failed invoke. */
void gl_web_answer(gl_http_req_t *req, const gl_invoke_t *inv, const json_t *cors,
                   gl_web_mode_t mode);
/** The same for a result of len bytes, or (failed) the mode's error. */
void gl_web_answer_result(gl_http_req_t *req, int failed, const char *result, size_t len,
                          const json_t *cors, gl_web_mode_t mode);
/** The mode's answer to a failed invoke (502 or 500, "Internal Server Error"). */
void gl_web_reply_failed(gl_http_req_t *req, gl_web_mode_t mode);
/** durable.c: when fn is durable, start an execution with event and answer req at its end
 *  (1; event and cors stolen); else 0 and nothing taken. */
int gl_web_invoke_durable(gl_web_t *w, gl_http_req_t *req, gl_fn_t *fn, const char *arn,
                          json_t *event, json_t *cors, gl_web_mode_t mode);
/** A RESPONSE_STREAM URL's invoke answers req as the function streams (url_stream.c): takes
 *  over inv's done, on_chunk and data and req's data, on_abort and on_drain, and cors (stolen).
 *  0, or -ENOMEM with nothing taken. */
int gl_web_stream_attach(gl_invoke_t *inv, gl_http_req_t *req, json_t *cors);
/** Undo gl_web_stream_attach for an invoke that was not submitted (cors is freed). */
void gl_web_stream_detach(gl_invoke_t *inv, gl_http_req_t *req);
/** Closing listeners: count one more, and the callback that counts it done. */
void gl_web_closing(gl_web_t *w);
void gl_web_closed(gl_web_t *w);
/** Close the API-event listener, if any (api.c). */
void gl_web_api_close(gl_web_t *w);

/** What an event is built from: one HTTP request and where it arrived. */
typedef struct gl_web_in {
    const char *method;
    const char *path;       /* raw, as the client sent it */
    const char *query;      /* raw, without '?', "" when none */
    const gl_http_header_t *headers; /* names lowercase */
    size_t nheaders;
    const void *body;
    size_t body_len;
    const char *source_ip;
    const char *request_id;
    const char *url_id;     /* apiId and domainPrefix */
    const char *account;    /* requestContext.accountId */
    int64_t time_ms;
} gl_web_in_t;

/** The payload format 2.0 event of in (new reference), or NULL on ENOMEM. */
json_t *gl_web_event_v2(const gl_web_in_t *in);
/** Call fn with each decoded key and value of a raw query string. */
void gl_web_query_foreach(const char *query, void (*fn)(const char *k, const char *v, void *arg),
                          void *arg);
/** API Gateway's request time, "14/Nov/2023:22:13:20 +0000". */
void gl_web_clf_time(int64_t ms, char *out, size_t len);
/** The value of in's header name (lowercase), or NULL. */
const char *gl_web_in_header(const gl_web_in_t *in, const char *name);
/** Set ev's body and isBase64Encoded from in (text for text types, else base64). */
void gl_web_event_body(json_t *ev, const gl_web_in_t *in);
/** 1 when a body of this content type is passed as text (else base64). */
int gl_web_is_text_type(const char *content_type);

/** An HTTP response mapped from a function's result. */
typedef struct gl_web_resp {
    int status;
    json_t *headers;  /* object: name -> string value */
    json_t *cookies;  /* array of Set-Cookie values */
    char *body;       /* malloc'd */
    size_t body_len;
} gl_web_resp_t;

/** Map a function's result bytes as Lambda maps them for a Function URL: a JSON object with
 *  statusCode is the response, any other result a 200 application/json body. 0 or -ENOMEM. */
int gl_web_response_map(const char *result, size_t len, gl_web_resp_t *out);
void gl_web_resp_free(gl_web_resp_t *r);
/** Map an HttpResponseStream prelude (the JSON object before the eight NUL bytes: statusCode,
 *  default 200; headers; cookies) with an empty body; content-type application/octet-stream
 *  unless its headers name one. -EINVAL when it is not such an object, or -ENOMEM. */
int gl_web_response_prelude(const char *prelude, size_t len, gl_web_resp_t *out);

/** Payload format 1.0 (REST API) response: statusCode, headers, multiValueHeaders, body,
 *  isBase64Encoded. -EINVAL for a result without a statusCode (API Gateway's 502). */
int gl_web_response_map_v1(const char *result, size_t len, gl_web_resp_t *out);

/** The payload format 1.0 (REST API) event of in for the route resource ("/items/{id}") with
 *  its decoded path parameters (borrowed, may be NULL). New reference or NULL. */
json_t *gl_web_event_v1(const gl_web_in_t *in, const char *resource, const json_t *params);

/** One route of the API-event listener. */
typedef struct gl_web_route {
    int v2;          /* HttpApi (payload 2.0); else Api (REST, 1.0) */
    char *method;    /* "GET", ..., or "ANY" */
    char *path;      /* "/items/{id}", "/{proxy+}", or "$default" (HttpApi's catch-all) */
    char *fn_name;
} gl_web_route_t;
/** The route API Gateway picks for method and raw path among r[0..n): exact paths first, then
 *  {param} ones by how many literal segments they match, greedy {proxy+} last, "$default"
 *  after everything; a named method beats ANY. Its index, with *params (new reference, an
 *  object, empty when none) holding the decoded path parameters; -1 when none matches. */
int gl_web_route_match(const gl_web_route_t *r, size_t n, const char *method, const char *path,
                       json_t **params);

/** The CORS headers for a request with Origin origin (NULL: none) under cors (the config's
 *  Cors object, NULL: none), for a preflight (1) or an ordinary response (0). New reference
 *  (an object, maybe empty). */
json_t *gl_web_cors_headers(const json_t *cors, const char *origin, int preflight);

#endif
