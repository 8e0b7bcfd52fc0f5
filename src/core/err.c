/* SPDX-License-Identifier: MIT */
/*
 * err.c: gl_err_t helpers, the table of AWS errors (GL_AWS_ERR_MAP in err.h): the one
 * place that decides the HTTP status, name, message key and Type of what callers see, and
 * the gl_aws_error_t and gl_violations_t that carry a client's error to the reply.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "galley/err.h"

/* A code given with either sign, as the negative errno a failing call returns; 0 is EIO. */
static int negative(int code)
{
    if (code < 0)
        code = -code;
    return code ? -code : -EIO;
}

int gl_err_set(gl_err_t *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
        err->code = -negative(code);
    }
    return negative(code);
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

int gl_aws_error_set(gl_aws_error_t *e, gl_aws_err_t type, int code, const char *fmt, ...)
{
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
        va_end(ap);
        e->type = type;
    }
    return negative(code);
}

void gl_violations_init(gl_violations_t *v, int max, size_t item_max)
{
    v->n = 0;
    v->max = max;
    v->item_max = item_max;
    v->len = 0;
    v->text[0] = '\0';
}

void gl_violation_add(gl_violations_t *v, const char *fmt, ...)
{
    if (v->n == v->max)
        return;
    if (v->n && v->len < sizeof(v->text))
        v->len += (size_t)snprintf(v->text + v->len, sizeof(v->text) - v->len, "; ");
    v->n++;
    if (v->len >= sizeof(v->text))
        return;
    size_t room = sizeof(v->text) - v->len;
    size_t cap = v->item_max && v->item_max < room ? v->item_max : room;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(v->text + v->len, cap, fmt, ap);
    va_end(ap);
    /* Count only what was kept, so the next item follows the cut one. */
    size_t kept = w < 0 ? 0 : (size_t)w < cap ? (size_t)w : cap - 1;
    v->len += kept;
}

int gl_violations_report(const gl_violations_t *v, gl_aws_error_t *e)
{
    if (v->n == 0)
        return 0;
    size_t text_len = v->len < sizeof(v->text) ? v->len : sizeof(v->text) - 1;
    return gl_aws_error_set(e, GL_AWS_VALIDATION, EINVAL, "%d validation error%s detected: %.*s",
                            v->n, v->n > 1 ? "s" : "", (int)text_len, v->text);
}
