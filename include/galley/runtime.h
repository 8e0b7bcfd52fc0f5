/* SPDX-License-Identifier: MIT */
/*
 * runtime.h: galley's C runtime library for Lambda handlers written in C (custom runtimes,
 * `provided.al2023`): a blocking client of the Runtime API 2018-06-01.
 *
 * A handler program links the static library galley_runtime and calls gl_rt_run() from main.
 * The library keeps one keep-alive TCP connection to $AWS_LAMBDA_RUNTIME_API ("host:port") and
 * loops: GET /runtime/invocation/next -> handler -> POST /runtime/invocation/<id>/response
 * (or /error), with the next GET pipelined behind each POST in the same write (galley's Runtime
 * API then answers the POST and the next event together; any HTTP/1.1 server works). It depends on libc only, is not thread-safe (one loop per process, as Lambda
 * runs one invoke at a time per environment), and writes its own diagnostics to stderr with the
 * prefix "galley-runtime: ".
 *
 * Everything the Runtime API sends is treated as untrusted: header blocks are bounded
 * (GL_RT_MAX_HEADER_BYTES), events are bounded (GL_RT_MAX_EVENT_BYTES, the 6 MiB + 100 bytes
 * Lambda itself reads), and a malformed reply makes gl_rt_run return an error rather than guess.
 */
#ifndef GALLEY_RUNTIME_H
#define GALLEY_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Largest event accepted from /next: 6 MiB + 100 bytes, as Lambda reads. */
#define GL_RT_MAX_EVENT_BYTES (6 * 1024 * 1024 + 100)
/** Largest status line + header block accepted in any Runtime API reply. */
#define GL_RT_MAX_HEADER_BYTES (64 * 1024)

/**
 * One invocation, built from the reply to GET /runtime/invocation/next.
 * Every pointer is owned by the library and valid only until the handler returns.
 * Optional headers that were absent are NULL (never "").
 */
typedef struct gl_rt_invocation {
    const char *request_id;           /* Lambda-Runtime-Aws-Request-Id, never NULL */
    const char *payload;              /* the event bytes, followed by a NUL not counted in len */
    size_t payload_len;
    const char *content_type;         /* Content-Type of the event, or NULL */
    int64_t deadline_ms;              /* Lambda-Runtime-Deadline-Ms (Unix epoch ms), 0 if absent */
    const char *invoked_function_arn; /* Lambda-Runtime-Invoked-Function-Arn, or NULL */
    const char *trace_id;             /* Lambda-Runtime-Trace-Id, or NULL */
    const char *client_context;       /* Lambda-Runtime-Client-Context (JSON), or NULL */
    const char *cognito_identity;     /* Lambda-Runtime-Cognito-Identity (JSON), or NULL */
    const char *tenant_id;            /* Lambda-Runtime-Aws-Tenant-Id, or NULL */
} gl_rt_invocation_t;

/**
 * What a handler answers. The library zeroes it before each call.
 *
 * Success (handler returns 0): set body/body_len (and content_type, default
 * "application/json"). The body must stay valid after the handler returns: it is sent then,
 * and body_free(body) is called afterwards when body_free is not NULL. A NULL body with
 * body_len 0 sends an empty body. gl_rt_respond_printf() fills all three for you.
 *
 * Failure (handler returns non-zero): set error_type / error_message with gl_rt_set_error().
 * The library posts {"errorMessage":...,"errorType":...,"stackTrace":[]} to /error. A handler
 * that fails without calling gl_rt_set_error gets errorType "HandlerError" and a generic message.
 * If a body was also set it is discarded (body_free still runs).
 */
typedef struct gl_rt_response {
    const void *body;
    size_t body_len;
    const char *content_type;     /* NULL means "application/json"; must outlive the call */
    void (*body_free)(void *body); /* may be NULL */
    char error_type[128];
    char error_message[1024];
} gl_rt_response_t;

/**
 * A handler. Called once per invocation, on the thread that called gl_rt_run.
 * Return 0 and fill resp's body on success; return non-zero after gl_rt_set_error on failure.
 */
typedef int (*gl_rt_handler_fn)(const gl_rt_invocation_t *inv, gl_rt_response_t *resp,
                                void *user_data);

/**
 * Run the invocation loop: forever, fetch the next event, call handler, post its answer.
 * For each invocation, _X_AMZN_TRACE_ID is set to the trace id (or unset when there is none)
 * before the handler runs.
 *
 * Returns only on a fatal failure, as a negative errno:
 *  -EINVAL       AWS_LAMBDA_RUNTIME_API is unset or not "host:port";
 *  -ECONNREFUSED, -ECONNRESET, -EPIPE, ... the Runtime API could not be reached, even after one
 *                reconnect;
 *  -EPROTO       a reply was not valid HTTP/1.x, or /next carried no request id;
 *  -EIO          /next answered with a status other than 200 (Lambda's 500 means "exit now").
 * Per-invocation problems do not end the loop: a /response or /error refused by the Runtime API
 * (400, 403, 413) is logged to stderr, and an event larger than GL_RT_MAX_EVENT_BYTES is
 * answered with an /error of type "Runtime.EventTooLarge" without calling the handler.
 */
int gl_rt_run(gl_rt_handler_fn handler, void *user_data);

/**
 * Report a failed initialisation: POST /runtime/init/error with header
 * Lambda-Runtime-Function-Error-Type: error_type and the same JSON body as a handler error.
 * Call it instead of gl_rt_run when setup fails, then exit (Lambda serves the error to the
 * first invoke). error_type NULL means "Runtime.InitError".
 * Returns 0 when the Runtime API accepted it (202), -EIO for any other status, or a negative
 * errno as gl_rt_run.
 */
int gl_rt_init_error(const char *error_type, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/**
 * Milliseconds left before the current invocation's deadline (0 once it has passed), or -1
 * outside an invocation or when /next sent no usable Lambda-Runtime-Deadline-Ms.
 */
int64_t gl_rt_remaining_ms(void);

/**
 * Format the response body (malloc'd, freed by the library after sending) and set content_type
 * (NULL means "application/json"). Returns 0, or -ENOMEM (resp left without a body).
 */
int gl_rt_respond_printf(gl_rt_response_t *resp, const char *content_type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/**
 * Record a handler error in resp (both strings are truncated to their buffers). Returns -1 so a
 * handler can write `return gl_rt_set_error(resp, "ValueError", "bad input %d", n);`.
 */
int gl_rt_set_error(gl_rt_response_t *resp, const char *error_type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * Response streaming (Lambda-Runtime-Function-Response-Mode: streaming). From inside a handler,
 * gl_rt_stream_begin opens a chunked POST of the invocation's response; each gl_rt_stream_write
 * sends one chunk at once (the caller of InvokeWithResponseStream sees it as it is written);
 * gl_rt_stream_finish ends it, gl_rt_stream_fail ends it with an error (sent as the trailers
 * Lambda-Runtime-Function-Error-Type and Lambda-Runtime-Function-Error-Body, base64 of the
 * same JSON document as a handler error). A handler that returns with its stream still open has
 * it finished for it (or failed with resp's error when it returns non-zero); once a stream was
 * begun, resp's body is ignored. Writes block while the Runtime API (and so the client) is
 * slow to take the bytes: that is the backpressure.
 */
typedef struct gl_rt_stream gl_rt_stream_t;
/** Begin streaming the current invocation's response; content_type NULL means
 *  "application/octet-stream". NULL with errno set: EINVAL outside a handler or when already
 *  begun, else the connection's error. */
gl_rt_stream_t *gl_rt_stream_begin(const char *content_type);
/** Send len bytes as one chunk (len 0 sends nothing). 0 or a negative errno. */
int gl_rt_stream_write(gl_rt_stream_t *s, const void *buf, size_t len);
/** End the stream successfully. The Runtime API's status (202), or a negative errno. */
int gl_rt_stream_finish(gl_rt_stream_t *s);
/** End the stream with an error; error_type NULL means "Unhandled". Status or negative errno. */
int gl_rt_stream_fail(gl_rt_stream_t *s, const char *error_type, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/**
 * Write src[0..len) as the inside of a JSON string (no surrounding quotes) into dst, escaping
 * '"', '\\' and control characters; bytes >= 0x80 are copied as they are. dst is always
 * NUL-terminated when cap > 0. Returns the length the full escape needs (excluding the NUL),
 * like snprintf: a result >= cap means dst was truncated (never inside an escape sequence).
 */
size_t gl_rt_json_escape(char *dst, size_t cap, const char *src, size_t len);

#ifdef __cplusplus
}
#endif

#endif
