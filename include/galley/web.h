/* SPDX-License-Identifier: MIT */
/*
 * web.h: the HTTP front ends that turn plain web requests into Lambda events: Function URLs
 * (one loopback listener per URL config, so the function sees exactly the client's path as
 * rawPath) and a SAM template's Api/HttpApi events (one listener, API Gateway's routing). A request becomes a payload format 2.0 event, the function's answer becomes the
 * HTTP response as Lambda maps it, with the config's CORS and AuthType applied.
 *
 * The api module owns one gl_web_t and opens and closes URLs as their configs change
 * (src/api/function_url.c); the web module reads nothing persisted itself.
 */
#ifndef GALLEY_WEB_H
#define GALLEY_WEB_H

#include <jansson.h>
#include <uv.h>

#include "galley/err.h"
#include "galley/http.h"
#include "galley/registry.h"

struct gl_sched;
struct gl_durable;
typedef struct gl_web gl_web_t;

/** A front end whose URL listeners bind host (loopback by default). */
int gl_web_new(gl_web_t **out, uv_loop_t *loop, gl_registry_t *reg, struct gl_sched *sched,
               const char *host, gl_err_t *err);
/** How AWS_IAM URLs check a signature (--auth sigv4): verify returns 0 for a request signed
 *  by a known key. Without one, any well-formed SigV4 Authorization header passes. */
void gl_web_set_verifier(gl_web_t *w, int (*verify)(void *arg, const gl_http_req_t *req),
                         void *arg);
/** Where a durable function's URL or API route starts its executions (may be NULL). */
void gl_web_set_durable(gl_web_t *w, struct gl_durable *durable);
/** The host URL listeners bind, as it appears in a FunctionUrl. */
const char *gl_web_host(const gl_web_t *w);
/**
 * Serve the URL of fn_name (qualifier: an alias, or NULL for the unqualified function) with
 * config ({"AuthType", "Cors", "InvokeMode", "UrlId"}: copied). An open URL takes the new
 * config and keeps its port. Otherwise it listens on *port (0: a free one); a stored port
 * that is taken now falls back to a free one with a warning. *port receives the port.
 */
int gl_web_url_open(gl_web_t *w, const char *fn_name, const char *qualifier,
                    const json_t *config, int *port, gl_err_t *err);
/** Stop serving one URL (qualifier NULL: the unqualified one); nothing when it is not open. */
void gl_web_url_close(gl_web_t *w, const char *fn_name, const char *qualifier);
/** Stop serving every URL of fn_name (the function was deleted). */
void gl_web_url_close_function(gl_web_t *w, const char *fn_name);
/**
 * Serve a SAM template's HTTP events on host:port (port 0: a free one, in *bound):
 * routes is [{"Type": "Api"|"HttpApi", "Method", "Path", "Function"}] (copied). Api routes get
 * payload 1.0 events, HttpApi ones 2.0, matched as API Gateway matches them; an unknown route
 * is API Gateway's 403 {"message":"Missing Authentication Token"} when any route is a REST
 * one, else 404 {"message":"Not Found"}.
 */
int gl_web_api_start(gl_web_t *w, const char *host, int port, const json_t *routes, int *bound,
                     gl_err_t *err);
/** Close every listener; on_closed(arg) runs once all are closed and w is freed. */
void gl_web_close(gl_web_t *w, void (*on_closed)(void *arg), void *arg);

#endif
