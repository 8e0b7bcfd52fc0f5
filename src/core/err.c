/* SPDX-License-Identifier: MIT */
/*
 * err.c: gl_err_t helpers and the table of AWS errors (GL_AWS_ERR_MAP in err.h): the one
 * place that decides the HTTP status, name, message key and Type of what callers see.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "galley/err.h"

int gl_err_set(gl_err_t *err, int code, const char *fmt, ...)
{
    if (code < 0)
        code = -code;
    if (code == 0)
        code = EIO;
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return -code;
}

int gl_err_wrap(gl_err_t *err, const char *fmt, ...)
{
    if (!err)
        return -EIO;
    char prefix[sizeof(err->msg)], old[sizeof(err->msg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof(old));
    snprintf(err->msg, sizeof(err->msg), "%s: %s", prefix, old);
    if (err->code == 0)
        err->code = EIO;
    return -err->code;
}

static const struct {
    int status;
    const char *name, *key, *type;
} aws_errs[] = {
#define XX(e, status, name, key, type) {status, name, key, type},
    GL_AWS_ERR_MAP(XX)
#undef XX
};

int gl_aws_err_status(gl_aws_err_t e)
{
    return (unsigned)e < GL_AWS_ERR_COUNT ? aws_errs[e].status : 500;
}

const char *gl_aws_err_name(gl_aws_err_t e)
{
    return (unsigned)e < GL_AWS_ERR_COUNT ? aws_errs[e].name : "ServiceException";
}

const char *gl_aws_err_message_key(gl_aws_err_t e)
{
    return (unsigned)e < GL_AWS_ERR_COUNT ? aws_errs[e].key : "Message";
}

const char *gl_aws_err_type(gl_aws_err_t e)
{
    return (unsigned)e < GL_AWS_ERR_COUNT ? aws_errs[e].type : "Service";
}
