/* SPDX-License-Identifier: MIT */
/*
 * events.c: what makes a serverless function reachable over HTTP: its FunctionUrlConfig
 * (AuthType, Cors, InvokeMode, checked as CreateFunctionUrlConfig checks them) and its Events
 * of Type Api (REST API, payload 1.0) and HttpApi (payload 2.0) as routes
 * {"Type", "Method", "Path"} (HttpApi without Path and Method: the "$default" route). Other
 * event types are warned about and ignored; so are authorizers and explicit RestApiId/ApiId
 * (galley serves one implicit API).
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "galley/log.h"
#include "internal.h"

static const char *const methods[] = {"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD",
                                      "OPTIONS", "ANY", NULL};

static json_t *route_of(const char *file, const char *id, const char *name, json_t *ev,
                        gl_err_t *err)
{
    const char *type = json_string_value(json_object_get(ev, "Type"));
    json_t *props = json_object_get(ev, "Properties");
    const char *path = json_string_value(json_object_get(props, "Path"));
    const char *method = json_string_value(json_object_get(props, "Method"));
    int http = type && !strcmp(type, "HttpApi");
    char up[16] = "";

    if (http && !path && !method)
        return json_pack("{s:s, s:s, s:s}", "Type", "HttpApi", "Method", "ANY", "Path",
                         "$default");
    if (!path || path[0] != '/' || !method) {
        gl_err_set(err, EINVAL, "%s: resource %s: event %s: %s needs Properties.Path (starting "
                   "with '/') and Properties.Method", file, id, name, type);
        return NULL;
    }
    if (!strcasecmp(method, "x-amazon-apigateway-any-method"))
        method = "ANY";
    for (size_t i = 0; method[i] && i < sizeof(up) - 1; i++)
        up[i] = (char)toupper((unsigned char)method[i]), up[i + 1] = '\0';
    size_t k = 0;
    while (methods[k] && strcmp(methods[k], up))
        k++;
    if (!methods[k]) {
        gl_err_set(err, EINVAL, "%s: resource %s: event %s: unknown Method '%s'", file, id, name,
                   method);
        return NULL;
    }
    if (json_object_get(props, "Auth") || json_object_get(props, "RestApiId") ||
        json_object_get(props, "ApiId"))
        gl_log_warn("%s: resource %s: event %s: Auth, RestApiId and ApiId are not emulated "
                    "(one implicit API, no authorizers)", file, id, name);
    return json_pack("{s:s, s:s, s:s}", "Type", http ? "HttpApi" : "Api", "Method", up, "Path",
                     path);
}

int gl_template_read_events(const char *file, const char *id, json_t *events, json_t **routes,
                            gl_err_t *err)
{
    const char *name;
    json_t *ev;
    *routes = NULL;
    if (!events || json_is_null(events))
        return 0;
    if (!json_is_object(events))
        return gl_err_set(err, EINVAL, "%s: resource %s: Events must be a mapping", file, id);
    json_t *out = json_array();
    if (!out)
        return gl_err_set(err, ENOMEM, "out of memory");
    json_object_foreach(events, name, ev) {
        const char *type = json_string_value(json_object_get(ev, "Type"));
        if (!type || (strcmp(type, "Api") && strcmp(type, "HttpApi"))) {
            gl_log_warn("%s: resource %s: event %s of type %s is not supported and is ignored",
                        file, id, name, type ? type : "(none)");
            continue;
        }
        json_t *r = route_of(file, id, name, ev, err);
        if (!r) {
            json_decref(out);
            return -EINVAL;
        }
        json_array_append_new(out, r);
    }
    if (json_array_size(out) > 0)
        *routes = out;
    else
        json_decref(out);
    return 0;
}

static int check_enum(const char *file, const char *id, json_t *cfg, const char *key,
                      const char *a, const char *b, int required, gl_err_t *err)
{
    json_t *v = json_object_get(cfg, key);
    const char *s = json_string_value(v);
    if ((!v && !required) || (s && (!strcmp(s, a) || !strcmp(s, b))))
        return 0;
    return gl_err_set(err, EINVAL, "%s: resource %s: FunctionUrlConfig.%s must be %s or %s",
                      file, id, key, a, b);
}

int gl_template_read_url_config(const char *file, const char *id, json_t *cfg, json_t **out,
                                gl_err_t *err)
{
    *out = NULL;
    if (!cfg || json_is_null(cfg))
        return 0;
    if (!json_is_object(cfg))
        return gl_err_set(err, EINVAL, "%s: resource %s: FunctionUrlConfig must be a mapping",
                          file, id);
    int rc;
    if ((rc = check_enum(file, id, cfg, "AuthType", "NONE", "AWS_IAM", 1, err)) < 0 ||
        (rc = check_enum(file, id, cfg, "InvokeMode", "BUFFERED", "RESPONSE_STREAM", 0, err)) < 0)
        return rc;
    json_t *cors = json_object_get(cfg, "Cors");
    if (cors && !json_is_object(cors))
        return gl_err_set(err, EINVAL, "%s: resource %s: FunctionUrlConfig.Cors must be a "
                          "mapping", file, id);
    *out = json_pack("{s:O, s:s}", "AuthType", json_object_get(cfg, "AuthType"), "InvokeMode",
                     json_string_value(json_object_get(cfg, "InvokeMode"))
                         ? json_string_value(json_object_get(cfg, "InvokeMode"))
                         : "BUFFERED");
    if (*out && cors) {
        /* YAML scalars are strings: MaxAge and AllowCredentials become their JSON types. */
        json_t *c = json_deep_copy(cors);
        const char *age = json_string_value(json_object_get(c, "MaxAge"));
        const char *cred = json_string_value(json_object_get(c, "AllowCredentials"));
        if (age)
            json_object_set_new(c, "MaxAge", json_integer(strtoll(age, NULL, 10)));
        if (cred)
            json_object_set_new(c, "AllowCredentials", json_boolean(!strcasecmp(cred, "true")));
        json_object_set_new(*out, "Cors", c);
    }
    return *out ? 0 : gl_err_set(err, ENOMEM, "out of memory");
}
