/* SPDX-License-Identifier: MIT */
/*
 * err.h: the daemon's error conventions and the table of errors callers see.
 *
 * Functions return 0 or a negative errno. Where a person will read the failure they
 * also take a gl_err_t, a fixed buffer (safe after fork, nothing to free).
 * GL_AWS_ERR_MAP is the one table that maps an AWS error name to its HTTP status,
 * the case of its message key and its "Type" field, as Lambda sends them.
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
       "message", "User")

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

#endif
