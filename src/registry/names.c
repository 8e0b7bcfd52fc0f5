/* SPDX-License-Identifier: MIT */
/*
 * names.c: the FunctionName path parameter in all its forms (name, name:qualifier, partial
 * ARN, full ARN) and the ?Qualifier= value, parsed into a bare name and a qualifier with
 * Lambda's own error types and wording (spec 1.2).
 *
 * It lives in the registry module, not the api module, so that it is a pure function a unit
 * test can reach without an event loop. It owns nothing; it never allocates.
 *
 * The model's pattern is a regular expression of optional groups separated by ':'. Instead of
 * a regex engine we split the value on ':' (at most 9 pieces can match) and try the optional
 * groups greedily, backing off the way a regex engine would, so "function:foo" is the name
 * "foo" while "foo:bar" is the name "foo" with the qualifier "bar".
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "galley/registry.h"

#define MAX_PIECES 9
#define MAX_ERRORS 3
#define ITEM_MAX 600

/* The pattern as Lambda prints it in ValidationException messages; the namespaced form
 * (Invoke, GetFunction: max length above 140) also admits '.' in the name. */
#define NAME_PATTERN_HEAD                                                                          \
    "(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\\d{1}:)?"          \
    "(\\d{12}:)?(function:)?"
#define NAME_PATTERN_TAIL "(:(\\$LATEST|[a-zA-Z0-9-_]+))?"
static const char name_pattern[] = NAME_PATTERN_HEAD "([a-zA-Z0-9-_]+)" NAME_PATTERN_TAIL;
static const char name_pattern_ns[] = NAME_PATTERN_HEAD "([a-zA-Z0-9-_\\.]+)" NAME_PATTERN_TAIL;

typedef struct piece {
    const char *p;
    size_t len;
} piece_t;

typedef struct parsed {
    int has_arn, allow_dot;
    piece_t region, account, name, qualifier; /* len 0 when absent */
} parsed_t;

static int is_lower(char c)
{
    return c >= 'a' && c <= 'z';
}

static int is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int is_word(char c)
{
    return is_lower(c) || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '-' || c == '_';
}

static int piece_is(piece_t s, const char *lit)
{
    return s.len == strlen(lit) && memcmp(s.p, lit, s.len) == 0;
}

/* "-" [a-z]+ "-" \d, to the end of the piece. */
static int region_tail(const char *p, size_t len)
{
    if (len < 4 || p[0] != '-' || !is_digit(p[len - 1]) || p[len - 2] != '-')
        return 0;
    for (size_t i = 1; i < len - 2; i++)
        if (!is_lower(p[i]))
            return 0;
    return 1;
}

/* [a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1} */
static int region_ok(piece_t s)
{
    if (s.len < 2 || !is_lower(s.p[0]) || !is_lower(s.p[1]))
        return 0;
    const char *p = s.p + 2;
    size_t len = s.len - 2;
    if (region_tail(p, len))
        return 1;
    if (len >= 4 && memcmp(p, "-gov", 4) == 0 && region_tail(p + 4, len - 4))
        return 1;
    if (len >= 4 && memcmp(p, "-iso", 4) == 0) {
        if (region_tail(p + 4, len - 4))
            return 1;
        if (len >= 5 && is_lower(p[4]) && region_tail(p + 5, len - 5))
            return 1;
    }
    return 0;
}

static int account_ok(piece_t s)
{
    if (s.len != 12)
        return 0;
    for (size_t i = 0; i < 12; i++)
        if (!is_digit(s.p[i]))
            return 0;
    return 1;
}

/* (aws[a-zA-Z-]*)? */
static int partition_ok(piece_t s)
{
    if (s.len == 0)
        return 1;
    if (s.len < 3 || memcmp(s.p, "aws", 3) != 0)
        return 0;
    for (size_t i = 3; i < s.len; i++) {
        char c = s.p[i];
        if (!(is_lower(c) || (c >= 'A' && c <= 'Z') || c == '-'))
            return 0;
    }
    return 1;
}

static int name_ok(piece_t s, int allow_dot)
{
    if (s.len == 0)
        return 0;
    for (size_t i = 0; i < s.len; i++)
        if (!is_word(s.p[i]) && !(allow_dot && s.p[i] == '.'))
            return 0;
    return 1;
}

static int qualifier_piece_ok(piece_t s)
{
    return piece_is(s, "$LATEST") || name_ok(s, 0);
}

/* Match pieces[i..n) from group `stage` on; optional groups are tried taken, then skipped. */
static int match(const piece_t *pc, size_t i, size_t n, int stage, parsed_t *out)
{
    switch (stage) {
    case 0: /* (arn:(aws[a-zA-Z-]*)?:lambda:)? */
        if (i + 3 <= n && piece_is(pc[i], "arn") && partition_ok(pc[i + 1]) &&
            piece_is(pc[i + 2], "lambda")) {
            out->has_arn = 1;
            if (match(pc, i + 3, n, 1, out))
                return 1;
            out->has_arn = 0;
        }
        return match(pc, i, n, 1, out);
    case 1: /* region: */
        if (i + 1 < n && region_ok(pc[i])) {
            out->region = pc[i];
            if (match(pc, i + 1, n, 2, out))
                return 1;
            out->region = (piece_t){NULL, 0};
        }
        return match(pc, i, n, 2, out);
    case 2: /* account: */
        if (i + 1 < n && account_ok(pc[i])) {
            out->account = pc[i];
            if (match(pc, i + 1, n, 3, out))
                return 1;
            out->account = (piece_t){NULL, 0};
        }
        return match(pc, i, n, 3, out);
    case 3: /* function: */
        if (i + 1 < n && piece_is(pc[i], "function") && match(pc, i + 1, n, 4, out))
            return 1;
        return match(pc, i, n, 4, out);
    case 4: /* name, then an optional :qualifier, then the end */
        if (i >= n || !name_ok(pc[i], out->allow_dot))
            return 0;
        out->name = pc[i];
        if (i + 1 == n) {
            out->qualifier = (piece_t){NULL, 0};
            return 1;
        }
        if (i + 2 == n && qualifier_piece_ok(pc[i + 1])) {
            out->qualifier = pc[i + 1];
            return 1;
        }
        return 0;
    }
    return 0;
}

static int split(const char *s, piece_t *pc, size_t *n)
{
    size_t k = 0;
    const char *start = s;
    for (const char *p = s;; p++) {
        if (*p == ':' || *p == '\0') {
            if (k == MAX_PIECES)
                return -1;
            pc[k++] = (piece_t){start, (size_t)(p - start)};
            if (*p == '\0')
                break;
            start = p + 1;
        }
    }
    *n = k;
    return 0;
}

/* Qualifier query value: length 1..128 and (|[a-zA-Z0-9$_-]+). */
static int query_qualifier_chars_ok(const char *q)
{
    for (; *q; q++)
        if (!is_word(*q) && *q != '$')
            return 0;
    return 1;
}

int gl_registry_parse_fn_name(const char *param, const char *query_qualifier, const char *region,
                              const char *account, size_t max_len, gl_fn_ref_t *out,
                              gl_aws_error_t *aerr)
{
    piece_t pc[MAX_PIECES];
    size_t n = 0, len = strlen(param);
    parsed_t pr = {.allow_dot = max_len > 140};
    gl_violations_t errs;
    int bare = strchr(param, ':') == NULL;
    int matched = len > 0 && split(param, pc, &n) == 0 && match(pc, 0, n, 0, &pr);

    gl_violations_init(&errs, MAX_ERRORS, ITEM_MAX);
    memset(out, 0, sizeof(*out));
    if (query_qualifier && !*query_qualifier)
        query_qualifier = NULL;

    /* A foreign region or account is "not here", whatever else is wrong (observed order). */
    if (matched && pr.region.len && !piece_is(pr.region, region))
        return gl_aws_error_set(aerr, GL_AWS_RESOURCE_NOT_FOUND, EINVAL,
                                "Functions from '%.*s' are not reachable in this region ('%s')",
                                (int)pr.region.len, pr.region.p, region);
    if (matched && pr.account.len && !piece_is(pr.account, account))
        return gl_aws_error_set(aerr, GL_AWS_RESOURCE_NOT_FOUND, EINVAL,
                                "Function not found: arn:aws:lambda:%s:%.*s:function:%.*s%s%.*s",
                                region, (int)pr.account.len, pr.account.p, (int)pr.name.len,
                                pr.name.p, pr.qualifier.len ? ":" : "", (int)pr.qualifier.len,
                                pr.qualifier.p);

    if (len == 0)
        gl_violation_add(&errs,
                         "Value '%s' at 'functionName' failed to satisfy constraint: Member must "
                         "have length greater than or equal to 1",
                         param);
    else if (len > max_len)
        gl_violation_add(&errs,
                         "Value '%s' at 'functionName' failed to satisfy constraint: Member must "
                         "have length less than or equal to %zu",
                         param, max_len);
    else if (bare && len > GL_FN_NAME_MAX)
        gl_violation_add(&errs,
                         "Value '%s' at 'functionName' failed to satisfy constraint: Member must "
                         "have length less than or equal to %d",
                         param, GL_FN_NAME_MAX);
    if (len > 0 && !matched)
        gl_violation_add(&errs,
                         "Value '%s' at 'functionName' failed to satisfy constraint: Member must "
                         "satisfy regular expression pattern: %s",
                         param, pr.allow_dot ? name_pattern_ns : name_pattern);
    else if (matched && pr.name.len > GL_FN_NAME_MAX && !(bare && len > GL_FN_NAME_MAX))
        gl_violation_add(&errs,
                         "Value '%s' at 'functionName' failed to satisfy constraint: Member must "
                         "have length less than or equal to %d",
                         param, GL_FN_NAME_MAX);
    if (matched && pr.qualifier.len > GL_QUALIFIER_MAX)
        gl_violation_add(&errs,
                         "Value '%.*s' at 'qualifier' failed to satisfy constraint: Member must "
                         "have length less than or equal to %d",
                         (int)pr.qualifier.len, pr.qualifier.p, GL_QUALIFIER_MAX);
    if (query_qualifier) {
        size_t qlen = strlen(query_qualifier);
        if (qlen > GL_QUALIFIER_MAX)
            gl_violation_add(&errs,
                             "Value '%s' at 'qualifier' failed to satisfy constraint: Member must "
                             "have length less than or equal to %d",
                             query_qualifier, GL_QUALIFIER_MAX);
        if (!query_qualifier_chars_ok(query_qualifier))
            gl_violation_add(&errs,
                             "Value '%s' at 'qualifier' failed to satisfy constraint: Member must "
                             "satisfy regular expression pattern: (|[a-zA-Z0-9$_-]+)",
                             query_qualifier);
    }
    if (errs.n) {
        /* A plain name that is too long or malformed is a semantic error for Lambda
         * (InvalidParameterValueException); anything shaped like an ARN is a schema error. */
        gl_violations_report(&errs, aerr);
        aerr->type = bare && !query_qualifier ? GL_AWS_INVALID_PARAMETER_VALUE : GL_AWS_VALIDATION;
        return -EINVAL;
    }
    if (query_qualifier && pr.qualifier.len && !piece_is(pr.qualifier, query_qualifier))
        return gl_aws_error_set(
            aerr, GL_AWS_INVALID_PARAMETER_VALUE, EINVAL,
            "The derived qualifier from the function name does not match the specified "
            "qualifier.");

    memcpy(out->name, pr.name.p, pr.name.len);
    out->name[pr.name.len] = '\0';
    if (pr.qualifier.len) {
        memcpy(out->qualifier, pr.qualifier.p, pr.qualifier.len);
        out->qualifier[pr.qualifier.len] = '\0';
    } else if (query_qualifier) {
        snprintf(out->qualifier, sizeof(out->qualifier), "%s", query_qualifier);
    }
    return 0;
}
