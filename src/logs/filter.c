/* SPDX-License-Identifier: MIT */
/*
 * filter.c: CloudWatch Logs filter patterns over unstructured log events, the subset galley
 * answers: terms separated by spaces, each matched case-sensitively anywhere in the message
 * (all must match); "quoted phrases" (with \" and \\ inside) match as one term; a term written
 * -term must not match; ?term terms are alternatives, of which at least one must match. An
 * empty pattern matches every event. JSON patterns ({ $.x = 1 }), space-delimited patterns
 * ([a, b]) and regular expressions (%re%) are refused with a message saying so, rather than
 * matched wrongly. The compiled filter owns copies of its terms.
 */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "galley/logs.h"
#include "galley/util.h"

static int add_term(gl_logs_filter_t *f, int kind, const char *text, size_t len)
{
    gl_logs_term_t *v = gl_grow(f->terms, &f->cap, f->n + 1, sizeof(*v));
    if (!v)
        return -ENOMEM;
    f->terms = v;
    char *copy = malloc(len + 1);
    if (!copy)
        return -ENOMEM;
    memcpy(copy, text, len);
    copy[len] = '\0';
    f->terms[f->n++] = (gl_logs_term_t){.kind = kind, .text = copy, .len = len};
    return 0;
}

/* A quoted phrase starting after the opening quote at *pp: unescaped into out (as long as
 * the pattern), *pp moved past the closing quote. -EINVAL when it never closes. */
static int quoted(const char **pp, char *out, size_t *outlen)
{
    const char *p = *pp;
    size_t n = 0;
    while (*p && *p != '"') {
        if (*p == '\\' && (p[1] == '"' || p[1] == '\\'))
            p++;
        out[n++] = *p++;
    }
    if (*p != '"')
        return -EINVAL;
    *pp = p + 1;
    *outlen = n;
    return 0;
}

static int refuse(char *errmsg, size_t errlen, const char *what)
{
    snprintf(errmsg, errlen, "Invalid filter pattern: galley matches terms, \"quoted phrases\", "
             "-term and ?term only; %s patterns are not supported", what);
    return -EINVAL;
}

int gl_logs_filter_compile(gl_logs_filter_t *f, const char *pattern, char *errmsg, size_t errlen)
{
    memset(f, 0, sizeof(*f));
    const char *p = pattern ? pattern : "";
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == '{')
        return refuse(errmsg, errlen, "JSON");
    if (*p == '[')
        return refuse(errmsg, errlen, "space-delimited");
    if (*p == '%')
        return refuse(errmsg, errlen, "regular expression");
    char *scratch = malloc(strlen(p) + 1);
    int rc = scratch ? 0 : -ENOMEM;
    while (rc == 0 && *p) {
        int kind = GL_LOGS_TERM_ALL;
        if ((*p == '-' || *p == '?') && p[1] && p[1] != ' ' && p[1] != '\t')
            kind = *p++ == '-' ? GL_LOGS_TERM_NOT : GL_LOGS_TERM_ANY;
        size_t len;
        if (*p == '"') {
            p++;
            if (quoted(&p, scratch, &len) < 0) {
                snprintf(errmsg, errlen, "Invalid filter pattern: unterminated quote");
                rc = -EINVAL;
                break;
            }
            rc = add_term(f, kind, scratch, len);
        } else {
            len = strcspn(p, " \t");
            rc = add_term(f, kind, p, len);
            p += len;
        }
        while (*p == ' ' || *p == '\t')
            p++;
    }
    free(scratch);
    if (rc == -ENOMEM)
        snprintf(errmsg, errlen, "out of memory");
    if (rc < 0)
        gl_logs_filter_free(f);
    return rc;
}

/* memmem for a term: an empty term ("") matches everything. */
static int contains(const char *msg, size_t len, const gl_logs_term_t *t)
{
    return t->len == 0 || memmem(msg, len, t->text, t->len) != NULL;
}

int gl_logs_filter_match(const gl_logs_filter_t *f, const char *msg, size_t len)
{
    int any_seen = 0, any_hit = 0;
    for (size_t i = 0; i < f->n; i++) {
        const gl_logs_term_t *t = &f->terms[i];
        int hit = contains(msg, len, t);
        switch (t->kind) {
        case GL_LOGS_TERM_ALL:
            if (!hit)
                return 0;
            break;
        case GL_LOGS_TERM_NOT:
            if (hit)
                return 0;
            break;
        default:
            any_seen = 1;
            any_hit |= hit;
        }
    }
    return !any_seen || any_hit;
}

void gl_logs_filter_free(gl_logs_filter_t *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->terms[i].text);
    free(f->terms);
    memset(f, 0, sizeof(*f));
}
