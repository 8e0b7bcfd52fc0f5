/* SPDX-License-Identifier: MIT */
/*
 * invoke_stream.c: InvokeWithResponseStream's answer. invoke.c validates the request as for
 * Invoke and hands the invoke here before submitting it (gl_api_stream_attach). Nothing is sent
 * until the function produces its first bytes or ends, so errors before that (404, 429, ...)
 * are ordinary Lambda errors; then 200, Content-Type application/vnd.amazon.eventstream, and
 * one PayloadChunk event per piece the runtime streams, written as it arrives (the runtime is
 * paused while the client's connection is backed up), and one InvokeComplete at the end
 * carrying ErrorCode/ErrorDetails for a failure after the start (function error, timeout,
 * crash) and LogResult for Tail. A function that does not stream answers as one PayloadChunk.
 * A client that goes away detaches the invoke; what the runtime still streams is dropped.
 */
#include <stdlib.h>
#include <string.h>

#include "galley/eventstream.h"
#include "galley/sched.h"
#include "internal.h"

typedef struct stream stream_t;
static void drop(stream_t *st, gl_http_req_t *req);
static void on_client_gone(gl_http_req_t *req);

struct stream {
    gl_http_req_t *req;  /* NULL once the client left */
    gl_invoke_t *inv;
    int started;         /* the 200 and its headers were sent */
    gl_buf_t msg;        /* one encoded event at a time */
};

/* Send the head once. 0, or -1 when the client is gone. */
static int start(stream_t *st)
{
    gl_invoke_t *inv = st->inv;
    gl_http_header_t h[] = {
        {"Content-Type", "application/vnd.amazon.eventstream"},
        {"x-amzn-RequestId", inv->request_id},
        {"X-Amz-Executed-Version", inv->fn->version},
    };

    if (st->started)
        return 0;
    st->started = 1;
    return gl_http_reply_start(st->req, 200, h, sizeof(h) / sizeof(h[0])) < 0 ? -1 : 0;
}

/* Encode and queue one event: the reply's write result (1: backed up). */
static int send_event(stream_t *st, const char *type, const char *ct, const void *buf, size_t len)
{
    int rc;

    gl_buf_reset(&st->msg);
    if (gl_es_event(&st->msg, type, ct, buf, len) < 0)
        return -1;
    rc = gl_http_reply_write(st->req, st->msg.data, st->msg.len);
    if (st->msg.cap > 256 * 1024)
        gl_buf_free(&st->msg); /* a large non-streamed answer: do not keep its copy */
    return rc;
}

static int on_chunk(gl_invoke_t *inv, const char *buf, size_t len)
{
    stream_t *st = inv->data;
    gl_http_req_t *req = st ? st->req : NULL;
    int rc = 0;

    if (!req)
        return 0;
    /* A write that fails closes the connection at once: with on_abort off meanwhile, st stays
     * valid here and the request is ours to end (which frees it) below. */
    req->on_abort = NULL;
    rc = start(st);
    while (len > 0 && rc >= 0) { /* pieces come from one socket read: one event each */
        size_t n = len < GL_ES_MAX_PAYLOAD ? len : GL_ES_MAX_PAYLOAD;
        int r = send_event(st, "PayloadChunk", "application/octet-stream", buf, n);
        rc = r < 0 ? r : (r > rc ? r : rc);
        buf += n;
        len -= n;
    }
    if (gl_http_req_gone(req)) {
        gl_http_reply_end(req);
        drop(st, NULL);
        return 0;
    }
    req->on_abort = on_client_gone;
    return rc == 1;
}

/* InvokeComplete's body: ErrorCode and ErrorDetails for a failure, LogResult for Tail. */
static char *complete_body(gl_invoke_t *inv)
{
    json_t *o = json_object();
    char *text;

    if (inv->function_error) {
        json_object_set_new(o, "ErrorCode",
                            json_string(inv->error_type ? inv->error_type : "Unhandled"));
        json_t *details = json_stringn(inv->result.data ? inv->result.data : "", inv->result.len);
        json_object_set_new(o, "ErrorDetails",
                            details ? details : json_string("Unknown application error occurred"));
    }
    if (inv->want_tail)
        json_object_set_new(o, "LogResult", json_string(inv->log_tail ? inv->log_tail : ""));
    text = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return text;
}

static void on_done(gl_invoke_t *inv)
{
    stream_t *st = inv->data;
    gl_http_req_t *req = st->req;
    char *body;

    req->on_abort = NULL;
    req->on_drain = NULL;
    if (start(st) == 0) {
        /* A function that did not stream answers its whole result as one chunk. */
        if (!inv->streamed && !inv->function_error && inv->result.len > 0)
            send_event(st, "PayloadChunk", "application/octet-stream", inv->result.data,
                       inv->result.len);
        body = complete_body(inv);
        send_event(st, "InvokeComplete", "application/json", body ? body : "{}",
                   body ? strlen(body) : 2);
        free(body);
    }
    gl_http_reply_end(req);
    gl_buf_free(&st->msg);
    free(st);
    gl_invoke_free(inv);
}

/* The invoke no longer answers anyone: it runs on, its streamed bytes are dropped. */
static void drop(stream_t *st, gl_http_req_t *req)
{
    gl_invoke_stream_unbind(st->inv, req);
    gl_buf_free(&st->msg);
    free(st);
}

static void on_client_gone(gl_http_req_t *req)
{
    gl_invoke_t *inv = req->data;

    drop(inv->data, req); /* the runtime is resumed to finish */
}

int gl_api_stream_attach(gl_invoke_t *inv, gl_http_req_t *req)
{
    stream_t *st = calloc(1, sizeof(*st));

    if (!st)
        return -1;
    st->req = req;
    st->inv = inv;
    gl_invoke_stream_bind(inv, req, st, on_chunk, on_done, on_client_gone);
    return 0;
}

void gl_api_stream_detach(gl_invoke_t *inv, gl_http_req_t *req)
{
    drop(inv->data, req);
}
