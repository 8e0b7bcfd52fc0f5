/* SPDX-License-Identifier: MIT */
/*
 * cors.c: the CORS headers a Function URL adds from its config's Cors, as Lambda adds them.
 * A request whose Origin is allowed (listed, or "*" listed) gets Access-Control-Allow-Origin
 * (the origin itself, or "*" without AllowCredentials), -Allow-Credentials, -Expose-Headers
 * and Vary: Origin; a preflight also gets -Allow-Methods, -Allow-Headers and -Max-Age. A URL
 * without Cors, or a request without an allowed Origin, gets none.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

static int origin_allowed(const json_t *origins, const char *origin, int *wildcard)
{
    size_t i;
    json_t *o;
    *wildcard = 0;
    json_array_foreach(origins, i, o) {
        const char *s = json_string_value(o);
        if (s && !strcmp(s, "*"))
            *wildcard = 1;
        else if (s && !strcasecmp(s, origin))
            return 1;
    }
    return *wildcard;
}

/* obj[name] = the strings of list joined with ","; nothing for an empty list. */
static void set_joined(json_t *obj, const char *name, const json_t *list)
{
    char buf[4096];
    size_t len = 0, i;
    json_t *v;
    buf[0] = '\0';
    json_array_foreach(list, i, v) {
        const char *s = json_string_value(v);
        size_t n = s ? strlen(s) : 0;
        if (!s || len + n + 2 > sizeof(buf))
            continue;
        if (len)
            buf[len++] = ',';
        memcpy(buf + len, s, n + 1);
        len += n;
    }
    if (len)
        json_object_set_new(obj, name, json_string(buf));
}

json_t *gl_web_cors_headers(const json_t *cors, const char *origin, int preflight)
{
    json_t *h = json_object();
    int wildcard;
    if (!h || !json_is_object(cors) || !origin || !*origin ||
        !origin_allowed(json_object_get(cors, "AllowOrigins"), origin, &wildcard))
        return h;
    int creds = json_is_true(json_object_get(cors, "AllowCredentials"));
    json_object_set_new(h, "Access-Control-Allow-Origin",
                        json_string(wildcard && !creds ? "*" : origin));
    if (creds)
        json_object_set_new(h, "Access-Control-Allow-Credentials", json_string("true"));
    set_joined(h, "Access-Control-Expose-Headers", json_object_get(cors, "ExposeHeaders"));
    if (preflight) {
        set_joined(h, "Access-Control-Allow-Methods", json_object_get(cors, "AllowMethods"));
        set_joined(h, "Access-Control-Allow-Headers", json_object_get(cors, "AllowHeaders"));
        const json_t *age = json_object_get(cors, "MaxAge");
        if (json_is_integer(age)) {
            char s[24];
            snprintf(s, sizeof(s), "%lld", (long long)json_integer_value(age));
            json_object_set_new(h, "Access-Control-Max-Age", json_string(s));
        }
    }
    json_object_set_new(h, "Vary", json_string("Origin"));
    return h;
}
