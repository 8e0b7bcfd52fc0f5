/* SPDX-License-Identifier: MIT */
/*
 * fuzz_rapi.c: the Runtime API's request handling that needs no live environment
 * (src/scheduler/env_rapi.c): the route table's path matching and request-id decoding for
 * every row, the error type check of Lambda-Runtime-Function-Error-Type, and the error body
 * the caller gets (the runtime's bytes, or Lambda's fallback naming the type).
 *
 * Input: the request path, a newline, the error type header, a newline, the error body.
 * A request id that decodes must fit its buffer; the body the caller gets is never empty.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"

/* The router and error checks are statics: reach them as the unit tests do. */
#include "../src/scheduler/env_rapi.c"

/* Split off the text up to the next newline (or the end) as a new string. */
static char *take_line(const uint8_t **data, size_t *size)
{
    const uint8_t *nl = memchr(*data, '\n', *size);
    size_t n = nl ? (size_t)(nl - *data) : *size;
    char *s = strndup((const char *)*data, n);
    *data += nl ? n + 1 : n;
    *size -= nl ? n + 1 : n;
    return s;
}

static void route(const char *path)
{
    char id[128];
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        const char *raw = NULL;
        size_t rawlen = 0;
        if (!match(routes[i].path, path, &raw, &rawlen))
            continue;
        if (raw && (raw < path || raw + rawlen > path + strlen(path)))
            abort(); /* the id must lie inside the path */
        if (decode_id(raw, rawlen, id, sizeof(id)) == 0 && strlen(id) >= sizeof(id))
            abort();
    }
}

static void error_body(const char *type, const uint8_t *body, size_t len)
{
    gl_http_header_t h = {"lambda-runtime-function-error-type", type};
    gl_http_req_t req;
    gl_buf_t out = {0};
    memset(&req, 0, sizeof(req));
    req.headers = &h;
    req.nheaders = 1;
    if (gl_buf_append(&req.body, body, len) < 0)
        return;
    (void)valid_error_type(type);
    take_error_body(&req, &out);
    if (out.len == 0)
        abort(); /* the caller would get no error body at all */
    gl_buf_free(&out);
    gl_buf_free(&req.body);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_quiet();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *path = take_line(&data, &size);
    char *type = take_line(&data, &size);
    if (path && type) {
        route(path);
        error_body(type, data, size);
    }
    free(path);
    free(type);
    return 0;
}
