/* SPDX-License-Identifier: MIT */
/*
 * err.h: the daemon's error conventions and the table of errors callers see.
 *
 * Functions return 0 or a negative errno. Where a person will read the failure they
 * also take a gl_err_t, a fixed buffer (safe after fork, nothing to free).
 * GL_AWS_ERR_MAP is the one table that maps an AWS error name to its HTTP status,
 * the case of its message key and its "Type" field, as Lambda sends them.
 * A failure a Lambda client will read travels as a gl_aws_error_t (error name and message),
 * and a request's schema violations are gathered by a gl_violations_t into Lambda's one
 * "N validation errors detected: a; b" message.
 */
#ifndef GALLEY_ERR_H
#define GALLEY_ERR_H

#include <stdarg.h>

typedef struct gl_err {
    int code;      /* positive errno */
    char msg[256]; /* human-readable, already includes context */
} gl_err_t;

/** Fill err (may be NULL) and return -code, or -EIO when code is 0. */
int gl_err_set(gl_err_t *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** Prefix err->msg with outer context ("loading template: <old msg>"); returns -err->code. */
int gl_err_wrap(gl_err_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * XX(ENUM, http_status, error_name, message_key, type_field)
 * message_key follows botocore's model per exception; type_field NULL means no "Type" member.
 */
#define GL_AWS_ERR_MAP(XX)                                                                         \
    XX(RESOURCE_NOT_FOUND, 404, "ResourceNotFoundException", "Message", "User")                   \
    XX(INVALID_REQUEST_CONTENT, 400, "InvalidRequestContentException", "message", "User")         \
    XX(REQUEST_ENTITY_TOO_LARGE, 413, "RequestEntityTooLargeException", "Message", NULL)          \
    XX(TOO_MANY_REQUESTS, 429, "TooManyRequestsException", "message", "User")                     \
    XX(RESOURCE_CONFLICT, 409, "ResourceConflictException", "message", "User")                    \
    XX(INVALID_PARAMETER_VALUE, 400, "InvalidParameterValueException", "message", "User")         \
    XX(VALIDATION, 400, "ValidationException", "message", NULL)                                    \
    XX(PRECONDITION_FAILED, 412, "PreconditionFailedException", "message", "User")                \
    XX(UNSUPPORTED_MEDIA_TYPE, 415, "UnsupportedMediaTypeException", "message", "User")           \
    XX(SERVICE, 500, "ServiceException", "Message", "Service")                                     \
    XX(INVALID_RUNTIME, 502, "InvalidRuntimeException", "Message", "User")                        \
    XX(RESOURCE_NOT_READY, 502, "ResourceNotReadyException", "message", "User")                   \
    XX(ACCESS_DENIED, 403, "AccessDeniedException", "Message", NULL)                               \
    XX(UNKNOWN_OPERATION, 404, "UnknownOperationException", "message", NULL)                      \
    XX(PROVISIONED_CONFIG_NOT_FOUND, 404, "ProvisionedConcurrencyConfigNotFoundException",       \
       "message", "User")                                                                          \
    XX(CODE_SIGNING_CONFIG_NOT_FOUND, 404, "CodeSigningConfigNotFoundException", "Message",       \
       "User")                                                                                     \
    XX(MISSING_AUTHENTICATION_TOKEN, 403, "MissingAuthenticationTokenException", "message", NULL) \
    XX(INCOMPLETE_SIGNATURE, 403, "IncompleteSignatureException", "message", NULL)                 \
    XX(INVALID_SIGNATURE, 403, "InvalidSignatureException", "message", NULL)                       \
    XX(UNRECOGNIZED_CLIENT, 403, "UnrecognizedClientException", "message", NULL)                 \
    XX(DURABLE_ALREADY_STARTED, 409, "DurableExecutionAlreadyStartedException", "Message", "User") \
    XX(CALLBACK_TIMEOUT, 400, "CallbackTimeoutException", "Message", "User")

typedef enum gl_aws_err {
#define XX(e, status, name, key, type) GL_AWS_##e,
    GL_AWS_ERR_MAP(XX)
#undef XX
        GL_AWS_ERR_COUNT
} gl_aws_err_t;

int gl_aws_err_status(gl_aws_err_t e);
const char *gl_aws_err_name(gl_aws_err_t e);
const char *gl_aws_err_message_key(gl_aws_err_t e);
/** "User", "Service" or NULL when the error carries no Type member. */
const char *gl_aws_err_type(gl_aws_err_t e);

/* Longest message a gl_aws_error_t keeps (bytes, with the NUL); longer text is cut. */
#define GL_AWS_MSG_MAX 2048

/** What a Lambda client will be told: the error name and its message (Lambda's wording).
 *  Passed last, like gl_err_t; a fixed buffer, nothing to free. */
typedef struct gl_aws_error {
    gl_aws_err_t type;
    char msg[GL_AWS_MSG_MAX];
} gl_aws_error_t;

/** Fill e (may be NULL) and return -code, or -EIO when code is 0 (code may be given with
 *  either sign, so `return gl_aws_error_set(e, GL_AWS_VALIDATION, -EINVAL, ...)` works). */
int gl_aws_error_set(gl_aws_error_t *e, gl_aws_err_t type, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * Schema violations of one request, gathered in order and reported as one
 * ValidationException: "1 validation error detected: <item>" or "N validation errors
 * detected: <item>; <item>". Each site keeps its own limits: at most max items are kept
 * (later ones are dropped and not counted) and each item is cut to item_max - 1 bytes
 * (item_max 0: no limit but the buffer's). The joined items are cut at GL_AWS_MSG_MAX - 1
 * bytes; items cut away still count. Items are taken as formatted; nothing is escaped.
 */
typedef struct gl_violations {
    int n; /* items kept */
    /* private */
    int max;
    size_t item_max;
    size_t len;
    char text[GL_AWS_MSG_MAX]; /* the items joined with "; " */
} gl_violations_t;

/** Start an empty collector keeping at most max items of at most item_max - 1 bytes (0: any). */
void gl_violations_init(gl_violations_t *v, int max, size_t item_max);
/** Add one item ("Value '...' at '...' failed to satisfy constraint: ..."). */
void gl_violation_add(gl_violations_t *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/** 0 when v holds no item; otherwise fill e with GL_AWS_VALIDATION and the message, and
 *  return -EINVAL. */
int gl_violations_report(const gl_violations_t *v, gl_aws_error_t *e);

#endif
