/* SPDX-License-Identifier: MIT */
/*
 * policy_doc.c: the resource-based policy statements AddPermission builds, as Lambda writes
 * them: the request's members checked against the Lambda model (one ValidationException for
 * the schema, InvalidParameterValueException for a principal Lambda cannot read), then one
 * statement {Sid, Effect "Allow", Principal, Action, Resource, Condition} and the document
 * {Version "2012-10-17", Id "default", Statement [...]} GetPolicy returns as a string.
 * Pure functions of their arguments: the handlers (policy.c) store and look up; this file
 * owns no state.
 */
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* The model's patterns, anchored, in POSIX ERE (\d written as [0-9]). */
#define SID_RE "^[a-zA-Z0-9_-]{1,100}$"
#define ACTION_RE "^(lambda:[*]|lambda:[a-zA-Z]+|[*])$"
#define SOURCE_ARN_RE                                                                              \
    "^arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9-])+:([a-z]{2}(-gov)?-[a-z]+-[0-9])?:([0-9]{12})?:(.*)$"
#define ACCOUNT_RE "^[0-9]{12}$"
#define ORG_RE "^o-[a-z0-9]{10,32}$"
#define TOKEN_RE "^[a-zA-Z0-9._-]{0,256}$"

/* The model's patterns as Lambda prints them in its messages. */
#define SID_MODEL "([a-zA-Z0-9-_]+)"
#define ACTION_MODEL "(lambda:[*]|lambda:[a-zA-Z]+|[*])"
#define SOURCE_ARN_MODEL                                                                           \
    "arn:(aws[a-zA-Z0-9-]*):([a-zA-Z0-9\\-])+:([a-z]{2}(-gov)?-[a-z]+-\\d{1})?:(\\d{12})?:(.*)"
#define ACCOUNT_MODEL "\\d{12}"
#define ORG_MODEL "o-[a-z0-9]{10,32}"
#define TOKEN_MODEL "[a-zA-Z0-9._\\-]+"

int gl_api_matches(const char *re, const char *s)
{
    regex_t rx;
    if (regcomp(&rx, re, REG_EXTENDED | REG_NOSUB) != 0)
        return 0;
    int ok = regexec(&rx, s, 0, NULL, 0) == 0;
    regfree(&rx);
    return ok;
}

/*
 * The string member key of body (NULL when absent or null). A member of another type is a
 * violation at field; a string failing re is one with the model's pattern; required adds the
 * "must not be null" item.
 */
static const char *member(gl_violations_t *v, const json_t *body, const char *key,
                          const char *field, const char *re, const char *model, int required)
{
    const json_t *j = json_object_get(body, key);
    const char *s = json_string_value(j);
    if (!j || json_is_null(j)) {
        if (required)
            gl_violation_add(v,
                             "Value null at '%s' failed to satisfy constraint: Member must "
                             "not be null",
                             field);
        return NULL;
    }
    if (!s) {
        gl_violation_add(v, "Value at '%s' failed to satisfy constraint: Member must be a string",
                         field);
        return NULL;
    }
    if (re && !gl_api_matches(re, s)) {
        gl_violation_add(v,
                         "Value '%.256s' at '%s' failed to satisfy constraint: Member must "
                         "satisfy regular expression pattern: %s",
                         s, field, model);
        return NULL;
    }
    return s;
}

/* Lambda's Principal member: "*", an account id, an ARN, or a service ("s3.amazonaws.com").
 * New reference, or NULL for a principal of none of these forms. */
static json_t *principal_json(const char *p)
{
    char arn[64];
    if (!strcmp(p, "*"))
        return json_string("*");
    if (gl_api_matches(ACCOUNT_RE, p)) {
        snprintf(arn, sizeof(arn), "arn:aws:iam::%s:root", p);
        return json_pack("{s:s}", "AWS", arn);
    }
    if (!strncmp(p, "arn:", 4))
        return json_pack("{s:s}", "AWS", p);
    if (strchr(p, '.') && !strchr(p, ':') && !strchr(p, '/'))
        return json_pack("{s:s}", "Service", p);
    return NULL;
}

/* Add cond[op][key] = value. */
static int add_condition(json_t *cond, const char *op, const char *key, const char *value)
{
    json_t *o = json_object_get(cond, op);
    if (!o && json_object_set_new(cond, op, o = json_object()) < 0)
        return -ENOMEM;
    return o && json_object_set_new(o, key, json_string(value)) == 0 ? 0 : -ENOMEM;
}

/* The Condition of a statement from the request's optional members; new reference (an empty
 * object when there is no condition). */
static json_t *condition_json(const char *account, const char *token, const char *org,
                              const char *auth, const char *source_arn)
{
    json_t *c = json_object();
    int rc = c ? 0 : -ENOMEM;
    if (!rc && account)
        rc = add_condition(c, "StringEquals", "AWS:SourceAccount", account);
    if (!rc && token)
        rc = add_condition(c, "StringEquals", "lambda:EventSourceToken", token);
    if (!rc && org)
        rc = add_condition(c, "StringEquals", "aws:PrincipalOrgID", org);
    if (!rc && auth)
        rc = add_condition(c, "StringEquals", "lambda:FunctionUrlAuthType", auth);
    if (!rc && source_arn)
        rc = add_condition(c, "ArnLike", "AWS:SourceArn", source_arn);
    if (rc) {
        json_decref(c);
        return NULL;
    }
    return c;
}

/* FunctionUrlAuthType: NONE or AWS_IAM. */
static const char *auth_type(gl_violations_t *v, const json_t *body)
{
    const char *s = member(v, body, "FunctionUrlAuthType", "functionUrlAuthType", NULL, NULL, 0);
    if (s && strcmp(s, "NONE") && strcmp(s, "AWS_IAM")) {
        gl_violation_add(v,
                         "Value '%.64s' at 'functionUrlAuthType' failed to satisfy "
                         "constraint: Member must satisfy enum value set: [NONE, AWS_IAM]",
                         s);
        return NULL;
    }
    return s;
}

int gl_api_policy_statement(const json_t *body, const char *resource, json_t **out,
                            gl_aws_error_t *aerr)
{
    gl_violations_t v;
    *out = NULL;
    gl_violations_init(&v, 10, 0);
    const char *sid = member(&v, body, "StatementId", "statementId", SID_RE, SID_MODEL, 1);
    const char *action = member(&v, body, "Action", "action", ACTION_RE, ACTION_MODEL, 1);
    const char *principal =
        member(&v, body, "Principal", "principal", "^[^[:space:]]+$", "[^\\s]+", 1);
    const char *src_arn =
        member(&v, body, "SourceArn", "sourceArn", SOURCE_ARN_RE, SOURCE_ARN_MODEL, 0);
    const char *account =
        member(&v, body, "SourceAccount", "sourceAccount", ACCOUNT_RE, ACCOUNT_MODEL, 0);
    const char *token =
        member(&v, body, "EventSourceToken", "eventSourceToken", TOKEN_RE, TOKEN_MODEL, 0);
    const char *org = member(&v, body, "PrincipalOrgID", "principalOrgID", ORG_RE, ORG_MODEL, 0);
    const char *auth = auth_type(&v, body);
    if (gl_violations_report(&v, aerr) < 0)
        return -EINVAL;

    json_t *who = principal_json(principal);
    if (!who)
        return gl_aws_error_set(aerr, GL_AWS_INVALID_PARAMETER_VALUE, EINVAL,
                                "The provided principal was invalid. Please check the principal "
                                "and try again.");
    json_t *cond = condition_json(account, token, org, auth, src_arn);
    json_t *st = cond ? json_pack("{s:s,s:s,s:o,s:s,s:s}", "Sid", sid, "Effect", "Allow",
                                  "Principal", who, "Action", action, "Resource", resource)
                      : (json_decref(who), NULL);
    if (st && json_object_size(cond) && json_object_set(st, "Condition", cond) < 0) {
        json_decref(st);
        st = NULL;
    }
    json_decref(cond);
    if (!st)
        return gl_aws_error_set(aerr, GL_AWS_SERVICE, ENOMEM, "out of memory");
    *out = st;
    return 0;
}

char *gl_api_policy_document(const json_t *statements)
{
    json_t *doc = json_pack("{s:s,s:s,s:O}", "Version", "2012-10-17", "Id", "default", "Statement",
                            (json_t *)statements);
    char *s = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    return s;
}
