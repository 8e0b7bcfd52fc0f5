/* SPDX-License-Identifier: MIT */
/*
 * aliases.c: function aliases (CreateAlias, GetAlias, UpdateAlias, DeleteAlias, ListAliases):
 * the request body and name checks with Lambda's errors, the rules of RoutingConfig, the
 * AliasConfiguration shape, and aliases/<name>.json in the function's state directory.
 *
 * An alias is owned by its function's gl_fn_set_t (versions.c), sorted by name. An update
 * builds a new gl_alias_t and swaps it in only once it is on disk, so a reader never sees a
 * half-changed alias and a failed write changes nothing.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "galley/log.h"
#include "galley/util.h"
#include "internal.h"

#define ALIAS_PATTERN "(?!^[0-9]+$)([a-zA-Z0-9-_]+)"
#define DESCRIPTION_MAX 256
#define VERSION_FIELD_MAX 1024
#define MAX_ERRORS 6
#define ITEM_MAX 400

void gl_alias_free(gl_alias_t *a)
{
    if (!a)
        return;
    free(a->name);
    free(a->function_version);
    free(a->description);
    free(a->extra_version);
    free(a->revision_id);
    memset(a, 0, sizeof(*a));
}

static int is_word(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

static int alias_name_ok(const char *s)
{
    if (!*s || gl_reg_all_digits(s))
        return 0;
    for (const char *p = s; *p; p++)
        if (!is_word(*p))
            return 0;
    return 1;
}

/* (\$LATEST|[0-9]+) */
static int version_field_ok(const char *s)
{
    return strcmp(s, "$LATEST") == 0 || gl_reg_all_digits(s);
}

/* ---- request parsing (pure) ---- */

static void check_name(gl_violations_t *e, const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > GL_ALIAS_NAME_MAX)
        gl_violation_add(
            e,
            "Value '%.140s' at 'name' failed to satisfy constraint: Member must have length "
            "%s %d",
            name, len ? "less than or equal to" : "greater than or equal to",
            len ? GL_ALIAS_NAME_MAX : 1);
    if (len && !alias_name_ok(name))
        gl_violation_add(
            e,
            "Value '%.140s' at 'name' failed to satisfy constraint: Member must satisfy "
            "regular expression pattern: " ALIAS_PATTERN,
            name);
}

int gl_alias_name_check(const char *name, gl_aws_error_t *aerr)
{
    gl_violations_t e;
    gl_violations_init(&e, MAX_ERRORS, ITEM_MAX);
    check_name(&e, name);
    return gl_violations_report(&e, aerr);
}

/* A string member: NULL when absent or null; sets *bad on a non-string. */
static const char *str_member(const json_t *body, const char *key, const char **bad)
{
    json_t *v = json_object_get(body, key);
    if (!v || json_is_null(v))
        return NULL;
    if (!json_is_string(v)) {
        if (!*bad)
            *bad = key;
        return NULL;
    }
    return json_string_value(v);
}

/* RoutingConfig.AdditionalVersionWeights (borrowed; NULL when absent); sets *has_routing
 * when RoutingConfig is given and *bad (unless set already) on a member of the wrong type. */
static json_t *routing_weights(const json_t *body, int *has_routing, const char **bad)
{
    json_t *routing = json_object_get(body, "RoutingConfig");
    json_t *weights = NULL;
    if (routing && !json_is_null(routing)) {
        if (!json_is_object(routing))
            *bad = *bad ? *bad : "RoutingConfig";
        else if ((weights = json_object_get(routing, "AdditionalVersionWeights")) &&
                 !json_is_null(weights) && !json_is_object(weights))
            *bad = *bad ? *bad : "RoutingConfig.AdditionalVersionWeights";
        *has_routing = 1;
    }
    if (!*bad && weights && json_is_object(weights)) {
        const char *k;
        json_t *w;
        json_object_foreach(weights, k, w)
        {
            if (!json_is_number(w))
                *bad = "RoutingConfig.AdditionalVersionWeights";
        }
    }
    return weights;
}

int gl_alias_from_request(const json_t *body, int is_update, gl_alias_t *a, int *has_routing,
                          gl_aws_error_t *aerr)
{
    gl_violations_t e;
    const char *bad = NULL;
    int nweights = 0;

    gl_violations_init(&e, MAX_ERRORS, ITEM_MAX);
    memset(a, 0, sizeof(*a));
    *has_routing = 0;
    const char *name = is_update ? NULL : str_member(body, "Name", &bad);
    const char *version = str_member(body, "FunctionVersion", &bad);
    const char *desc = str_member(body, "Description", &bad);
    json_t *weights = routing_weights(body, has_routing, &bad);
    if (bad)
        return gl_aws_error_set(
            aerr, GL_AWS_INVALID_REQUEST_CONTENT, -EINVAL,
            "Could not parse request body into json: member %s has the wrong type", bad);

    if (!is_update && !name)
        gl_violation_add(
            &e, "Value null at 'name' failed to satisfy constraint: Member must not be null");
    else if (name)
        check_name(&e, name);
    if (!is_update && !version)
        gl_violation_add(
            &e, "Value null at 'functionVersion' failed to satisfy constraint: Member must not "
                "be null");
    else if (version && (!*version || strlen(version) > VERSION_FIELD_MAX))
        gl_violation_add(
            &e,
            "Value '%.64s' at 'functionVersion' failed to satisfy constraint: Member must "
            "have length %s",
            version, *version ? "less than or equal to 1024" : "greater than or equal to 1");
    else if (version && !version_field_ok(version))
        gl_violation_add(
            &e,
            "Value '%.64s' at 'functionVersion' failed to satisfy constraint: Member must "
            "satisfy regular expression pattern: (\\$LATEST|[0-9]+)",
            version);
    if (desc && strlen(desc) > DESCRIPTION_MAX)
        gl_violation_add(
            &e,
            "Value '%.64s...' at 'description' failed to satisfy constraint: Member must "
            "have length less than or equal to %d",
            desc, DESCRIPTION_MAX);
    if (weights && json_is_object(weights)) {
        const char *k;
        json_t *w;
        json_object_foreach(weights, k, w)
        {
            double x = json_number_value(w);
            nweights++;
            if (!*k || strlen(k) > VERSION_FIELD_MAX || !gl_reg_all_digits(k))
                gl_violation_add(
                    &e,
                    "Value '{%.32s=%g}' at 'routingConfig.additionalVersionWeights' failed "
                    "to satisfy constraint: Map keys must satisfy constraint: [Member must "
                    "have length less than or equal to 1024, Member must have length greater "
                    "than or equal to 1, Member must satisfy regular expression pattern: "
                    "[0-9]+]",
                    k, x);
            if (!(x >= 0.0 && x <= 1.0))
                gl_violation_add(
                    &e,
                    "Value '{%.32s=%g}' at 'routingConfig.additionalVersionWeights' failed "
                    "to satisfy constraint: Map value must satisfy constraint: [Member must "
                    "have value less than or equal to 1.0, Member must have value greater than "
                    "or equal to 0.0]",
                    k, x);
        }
    }
    if (e.n)
        return gl_violations_report(&e, aerr);
    if (nweights > 1)
        return gl_aws_error_set(
            aerr, GL_AWS_INVALID_PARAMETER_VALUE, -EINVAL,
            "Number of items in AdditionalVersionWeights cannot be greater than 1");

    if ((name && !(a->name = strdup(name))) ||
        (version && !(a->function_version = strdup(version))) ||
        (desc && !(a->description = strdup(desc))))
        goto nomem;
    if (nweights == 1) {
        void *it = json_object_iter(weights);
        if (!(a->extra_version = strdup(json_object_iter_key(it))))
            goto nomem;
        a->extra_weight = json_number_value(json_object_iter_value(it));
    }
    return 0;
nomem:
    gl_alias_free(a);
    return gl_aws_error_set(aerr, GL_AWS_SERVICE, -ENOMEM, "out of memory");
}

/* ---- JSON shapes ---- */

json_t *gl_alias_json(const gl_registry_t *r, const char *fn_name, const gl_alias_t *a)
{
    char arn[512];
    gl_registry_fn_arn(r, fn_name, a->name, arn, sizeof(arn));
    json_t *o =
        json_pack("{s:s,s:s,s:s,s:s,s:s}", "AliasArn", arn, "Name", a->name, "FunctionVersion",
                  a->function_version, "Description", a->description ? a->description : "",
                  "RevisionId", a->revision_id ? a->revision_id : "");
    if (o && a->extra_version &&
        json_object_set_new(o, "RoutingConfig",
                            json_pack("{s:{s:f}}", "AdditionalVersionWeights", a->extra_version,
                                      a->extra_weight)) < 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* aliases/<name>.json: the alias's members, checked again when read back. */
static json_t *alias_state(const gl_alias_t *a)
{
    json_t *o =
        json_pack("{s:i,s:s,s:s,s:s,s:s}", "FormatVersion", 1, "Name", a->name, "FunctionVersion",
                  a->function_version, "Description", a->description, "RevisionId", a->revision_id);
    if (o && a->extra_version &&
        json_object_set_new(o, "AdditionalVersionWeights",
                            json_pack("{s:f}", a->extra_version, a->extra_weight)) < 0) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* ---- lookups ---- */

gl_alias_t *gl_reg_find_alias(gl_fn_set_t *s, const char *name, size_t *pos)
{
    size_t lo = 0, hi = s ? s->na : 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (strcmp(s->aliases[mid]->name, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (pos)
        *pos = lo;
    return s && lo < s->na && strcmp(s->aliases[lo]->name, name) == 0 ? s->aliases[lo] : NULL;
}

const gl_alias_t *gl_registry_find_alias(gl_registry_t *r, const char *name, const char *alias)
{
    gl_fn_t *latest = gl_registry_find(r, name);
    return latest ? gl_reg_find_alias(gl_reg_set(r, latest->cfg.name, 0), alias, NULL) : NULL;
}

int gl_registry_list_aliases(gl_registry_t *r, const char *name, const gl_alias_t ***out, size_t *n)
{
    gl_fn_t *latest = gl_registry_find(r, name);
    gl_fn_set_t *s = latest ? gl_reg_set(r, latest->cfg.name, 0) : NULL;
    size_t na = s ? s->na : 0;
    *out = NULL;
    *n = 0;
    if (!latest)
        return -ENOENT;
    if (!(*out = malloc((na ? na : 1) * sizeof(**out))))
        return -ENOMEM;
    for (size_t i = 0; i < na; i++)
        (*out)[i] = s->aliases[i];
    *n = na;
    return 0;
}

/* ---- changes ---- */

static char *alias_path(gl_registry_t *r, const char *fn_name, const char *alias, int mkdir)
{
    char *fn_dir = gl_registry_fn_dir(r, fn_name);
    char *dir = fn_dir ? gl_path_join(fn_dir, GL_REG_ALIASES_DIR) : NULL;
    char file[GL_ALIAS_NAME_MAX + 8];
    char *p = NULL;
    snprintf(file, sizeof(file), "%s.json", alias);
    if (dir && (!mkdir || gl_mkdir_p(dir, 0755) == 0))
        p = gl_path_join(dir, file);
    free(dir);
    free(fn_dir);
    return p;
}

static int dup_or_keep(char **dst, const char *given, const char *old)
{
    const char *v = given ? given : old;
    *dst = v ? strdup(v) : NULL;
    return v && !*dst ? -ENOMEM : 0;
}

/* Lambda's preconditions of a create or an update, checked before anything is built. */
static int check_put(gl_registry_t *r, const char *name, const gl_alias_t *a, int create,
                     const gl_alias_t *old, const char *expect_revision, gl_aws_error_t *aerr)
{
    char arn[512];

    gl_registry_fn_arn(r, name, a->name, arn, sizeof(arn));
    if (create && a->function_version && !gl_registry_find_version(r, name, a->function_version)) {
        gl_registry_fn_arn(r, name, a->function_version, arn, sizeof(arn));
        return gl_aws_error_set(aerr, GL_AWS_RESOURCE_NOT_FOUND, -ENOENT, "Function not found: %s",
                                arn);
    }
    if (create && old)
        return gl_aws_error_set(aerr, GL_AWS_RESOURCE_CONFLICT, -EEXIST, "Alias already exists: %s",
                                arn);
    if (!create && !old)
        return gl_aws_error_set(aerr, GL_AWS_RESOURCE_NOT_FOUND, -ENOENT,
                                "Cannot find alias arn: %s", arn);
    if (!create && expect_revision && *expect_revision &&
        strcmp(expect_revision, old->revision_id) != 0)
        return gl_aws_error_set(aerr, GL_AWS_PRECONDITION_FAILED, -EINVAL,
                                "The Revision Id provided does not match the latest Revision Id. "
                                "Call the GetFunction/GetAlias API to retrieve the latest "
                                "Revision Id");
    return 0;
}

/* The alias as it will be stored: a's members over old's (NULL for a create), a new
 * RevisionId. *out is malloc'd. */
static int build_alias(const gl_alias_t *a, const gl_alias_t *old, int has_routing,
                       gl_alias_t **out, gl_aws_error_t *aerr)
{
    char rev[GL_UUID_LEN + 1];
    gl_alias_t *na = calloc(1, sizeof(*na));

    *out = NULL;
    if (!na)
        return gl_aws_error_set(aerr, GL_AWS_SERVICE, -ENOMEM, "out of memory");
    gl_uuid4(rev);
    if (dup_or_keep(&na->name, a->name, NULL) < 0 ||
        dup_or_keep(&na->function_version, a->function_version,
                    old ? old->function_version : NULL) < 0 ||
        dup_or_keep(&na->description, a->description, old ? old->description : "") < 0 ||
        dup_or_keep(&na->extra_version, has_routing ? a->extra_version : NULL,
                    has_routing || !old ? NULL : old->extra_version) < 0 ||
        !(na->revision_id = strdup(rev))) {
        gl_alias_free(na);
        free(na);
        return gl_aws_error_set(aerr, GL_AWS_SERVICE, -ENOMEM, "out of memory");
    }
    na->extra_weight = has_routing ? a->extra_weight : old ? old->extra_weight : 0;
    *out = na;
    return 0;
}

/* The rules of the alias to be stored: its versions exist, routing names one other
 * published version. */
static int check_routing(gl_registry_t *r, const char *name, const gl_alias_t *na,
                         gl_aws_error_t *aerr)
{
    char arn[512];

    if (!na->function_version)
        return gl_aws_error_set(aerr, GL_AWS_VALIDATION, -EINVAL,
                                "1 validation error detected: Value null at 'functionVersion' "
                                "failed to satisfy constraint: Member must not be null");
    if (!gl_registry_find_version(r, name, na->function_version)) {
        gl_registry_fn_arn(r, name, na->function_version, arn, sizeof(arn));
        return gl_aws_error_set(aerr, GL_AWS_RESOURCE_NOT_FOUND, -ENOENT, "Function not found: %s",
                                arn);
    }
    if (!na->extra_version)
        return 0;
    if (strcmp(na->extra_version, na->function_version) == 0)
        return gl_aws_error_set(aerr, GL_AWS_INVALID_PARAMETER_VALUE, -EINVAL,
                                "Invalid function version %s. Function version %s is already "
                                "included in routing configuration.",
                                na->function_version, na->function_version);
    if (strcmp(na->function_version, "$LATEST") == 0)
        return gl_aws_error_set(aerr, GL_AWS_INVALID_PARAMETER_VALUE, -EINVAL,
                                "$LATEST is not supported for an alias pointing to more than 1 "
                                "version");
    if (!gl_registry_find_version(r, name, na->extra_version)) {
        gl_registry_fn_arn(r, name, na->extra_version, arn, sizeof(arn));
        return gl_aws_error_set(aerr, GL_AWS_RESOURCE_NOT_FOUND, -ENOENT, "Function not found: %s",
                                arn);
    }
    return 0;
}

/* aliases/<name>.json of a created function (template functions keep aliases in memory). */
static int store_alias(gl_registry_t *r, const gl_fn_set_t *s, const gl_alias_t *na,
                       gl_aws_error_t *aerr)
{
    gl_err_t err = {0};
    json_t *state = NULL;
    char *path = NULL;
    int rc = 0;

    if (s->from_template)
        return 0;
    if (!(path = alias_path(r, s->name, na->name, 1)) || !(state = alias_state(na))) {
        rc = gl_aws_error_set(aerr, GL_AWS_SERVICE, -EIO, "Could not store the alias");
        goto out;
    }
    if ((rc = gl_reg_write_json(path, state, &err)) < 0) {
        gl_log_error("registry: alias %s of %s: %s", na->name, s->name, err.msg);
        rc = gl_aws_error_set(aerr, GL_AWS_SERVICE, rc, "Could not store the alias: %s", err.msg);
    }
out:
    json_decref(state);
    free(path);
    return rc;
}

int gl_registry_put_alias(gl_registry_t *r, const char *name, const gl_alias_t *a, int create,
                          int has_routing, const char *expect_revision, const gl_alias_t **out,
                          gl_aws_error_t *aerr)
{
    gl_fn_t *latest = gl_registry_find(r, name);
    gl_alias_t *na = NULL;
    char arn[512];
    size_t pos;
    int rc;

    *out = NULL;
    if (!latest) {
        gl_registry_fn_arn(r, name, NULL, arn, sizeof(arn));
        return gl_aws_error_set(aerr, GL_AWS_RESOURCE_NOT_FOUND, -ENOENT, "Function not found: %s",
                                arn);
    }
    name = latest->cfg.name;
    gl_fn_set_t *s = gl_reg_set(r, name, 1);
    if (!s)
        return gl_aws_error_set(aerr, GL_AWS_SERVICE, -ENOMEM, "out of memory");
    gl_alias_t *old = gl_reg_find_alias(s, a->name, &pos);
    if ((rc = check_put(r, name, a, create, old, expect_revision, aerr)) < 0 ||
        (rc = build_alias(a, old, has_routing, &na, aerr)) < 0 ||
        (rc = check_routing(r, name, na, aerr)) < 0)
        goto out;
    if (!old && s->na == s->capa) {
        size_t ncap = s->capa ? s->capa * 2 : 8;
        gl_alias_t **grown = realloc(s->aliases, ncap * sizeof(*grown));
        if (!grown) {
            rc = gl_aws_error_set(aerr, GL_AWS_SERVICE, -ENOMEM, "out of memory");
            goto out;
        }
        s->aliases = grown;
        s->capa = ncap;
    }
    if ((rc = store_alias(r, s, na, aerr)) < 0)
        goto out;
    if (old) {
        s->aliases[pos] = na;
        gl_alias_free(old);
        free(old);
    } else {
        memmove(s->aliases + pos + 1, s->aliases + pos, (s->na - pos) * sizeof(*s->aliases));
        s->aliases[pos] = na;
        s->na++;
    }
    *out = na;
    na = NULL; /* owned by s */
out:
    if (na) {
        gl_alias_free(na);
        free(na);
    }
    return rc;
}

int gl_registry_delete_alias(gl_registry_t *r, const char *name, const char *alias,
                             gl_aws_error_t *aerr)
{
    gl_fn_t *latest = gl_registry_find(r, name);
    char arn[512];
    size_t pos;

    if (!latest) {
        gl_registry_fn_arn(r, name, NULL, arn, sizeof(arn));
        return gl_aws_error_set(aerr, GL_AWS_RESOURCE_NOT_FOUND, -ENOENT, "Function not found: %s",
                                arn);
    }
    gl_fn_set_t *s = gl_reg_set(r, latest->cfg.name, 0);
    gl_alias_t *a = gl_reg_find_alias(s, alias, &pos);
    if (!a)
        return 0; /* Lambda answers 204 for an alias that is not there */
    if (!s->from_template) {
        char *path = alias_path(r, s->name, alias, 0);
        if (!path)
            return gl_aws_error_set(aerr, GL_AWS_SERVICE, -ENOMEM, "out of memory");
        if (unlink(path) < 0 && errno != ENOENT) {
            int e = errno;
            gl_log_error("registry: remove %s: %s", path, strerror(e));
            free(path);
            return gl_aws_error_set(aerr, GL_AWS_SERVICE, -EIO, "Could not delete the alias");
        }
        free(path);
    }
    memmove(s->aliases + pos, s->aliases + pos + 1, (s->na - pos - 1) * sizeof(*s->aliases));
    s->na--;
    gl_alias_free(a);
    free(a);
    return 0;
}

/* ---- loading ---- */

static void load_alias(gl_registry_t *r, gl_fn_set_t *s, const char *path, const char *stem)
{
    gl_buf_t buf = {0};
    json_error_t jerr;
    json_t *j = NULL;
    gl_alias_t a = {0};
    size_t pos;

    if (gl_read_file(path, 64 * 1024, &buf) < 0 || !(j = json_loadb(buf.data, buf.len, 0, &jerr))) {
        gl_log_warn("registry: skipping alias %s: unreadable or corrupt JSON", path);
        goto out;
    }
    const char *name = json_string_value(json_object_get(j, "Name"));
    const char *ver = json_string_value(json_object_get(j, "FunctionVersion"));
    const char *desc = json_string_value(json_object_get(j, "Description"));
    const char *rev = json_string_value(json_object_get(j, "RevisionId"));
    json_t *w = json_object_get(j, "AdditionalVersionWeights");
    if (!name || !ver || !desc || !rev || strcmp(name, stem) != 0 || !alias_name_ok(name) ||
        strlen(name) > GL_ALIAS_NAME_MAX ||
        (w && (!json_is_object(w) || json_object_size(w) != 1))) {
        gl_log_warn("registry: skipping alias %s: missing or bad members", path);
        goto out;
    }
    if (!gl_registry_find_version(r, s->name, ver)) {
        gl_log_warn("registry: skipping alias %s: version %s does not exist", path, ver);
        goto out;
    }
    if (w) {
        void *it = json_object_iter(w);
        const char *k = json_object_iter_key(it);
        json_t *x = json_object_iter_value(it);
        if (!json_is_number(x) || !(json_number_value(x) >= 0 && json_number_value(x) <= 1) ||
            !gl_reg_find_version(s, k) || strcmp(k, ver) == 0) {
            gl_log_warn("registry: skipping alias %s: bad AdditionalVersionWeights", path);
            goto out;
        }
        a.extra_version = strdup(k);
        a.extra_weight = json_number_value(x);
    }
    a.name = strdup(name);
    a.function_version = strdup(ver);
    a.description = strdup(desc);
    a.revision_id = strdup(rev);
    gl_alias_t *na = malloc(sizeof(*na));
    if (!na || !a.name || !a.function_version || !a.description || !a.revision_id ||
        (w && !a.extra_version) || gl_reg_find_alias(s, name, &pos)) {
        free(na);
        goto out;
    }
    if (s->na == s->capa) {
        size_t ncap = s->capa ? s->capa * 2 : 8;
        gl_alias_t **grown = realloc(s->aliases, ncap * sizeof(*grown));
        if (!grown) {
            free(na);
            goto out;
        }
        s->aliases = grown;
        s->capa = ncap;
    }
    *na = a;
    memset(&a, 0, sizeof(a));
    memmove(s->aliases + pos + 1, s->aliases + pos, (s->na - pos) * sizeof(*s->aliases));
    s->aliases[pos] = na;
    s->na++;
out:
    gl_alias_free(&a);
    json_decref(j);
    gl_buf_free(&buf);
}

void gl_reg_load_aliases(gl_registry_t *r, gl_fn_set_t *s, const char *fn_dir)
{
    char *dir = gl_path_join(fn_dir, GL_REG_ALIASES_DIR);
    DIR *d = dir ? opendir(dir) : NULL;
    struct dirent *de;
    while (d && (de = readdir(d))) {
        const char *e = de->d_name;
        size_t len = strlen(e);
        char *path;
        if (e[0] == '.' || !(path = gl_path_join(dir, e)))
            continue;
        if (strstr(e, ".tmp")) {
            gl_log_info("registry: removing stale %s", path);
            unlink(path);
        } else if (len > 5 && len - 5 <= GL_ALIAS_NAME_MAX && strcmp(e + len - 5, ".json") == 0) {
            char stem[GL_ALIAS_NAME_MAX + 1];
            memcpy(stem, e, len - 5);
            stem[len - 5] = '\0';
            load_alias(r, s, path, stem);
        } else {
            gl_log_warn("registry: ignoring unexpected %s", path);
        }
        free(path);
    }
    if (d)
        closedir(d);
    free(dir);
}
