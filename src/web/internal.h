/* SPDX-License-Identifier: MIT */
/*
 * internal.h: the web module's pure parts, shared by url.c and its unit tests: the payload
 * format 2.0 event of a request (event.c), the HTTP response of a function's result
 * (response.c) and the CORS headers of a URL config (cors.c).
 */
#ifndef GALLEY_WEB_INTERNAL_H
#define GALLEY_WEB_INTERNAL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "galley/http.h"

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

/** The CORS headers for a request with Origin origin (NULL: none) under cors (the config's
 *  Cors object, NULL: none), for a preflight (1) or an ordinary response (0). New reference
 *  (an object, maybe empty). */
json_t *gl_web_cors_headers(const json_t *cors, const char *origin, int preflight);

#endif
