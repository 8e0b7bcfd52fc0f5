/* SPDX-License-Identifier: MIT */
/*
 * routes.c: API Gateway's route selection for the API-event listener. A route path is
 * literal segments, {name} (one non-empty segment) and a final {name+} (one or more
 * segments). Among the routes whose path matches, the most specific wins: a route without a
 * greedy segment over one with, then more literal segments, then a named method over ANY;
 * HttpApi's "$default" route catches what nothing else matches.
 */
#include <stdlib.h>
#include <string.h>

#include "galley/util.h"
#include "internal.h"

/* Next segment of *p (after '/'), its length in *len; NULL at the end. */
static const char *next_seg(const char **p, size_t *len)
{
    const char *s = *p;
    if (*s == '/')
        s++;
    if (!*s)
        return NULL;
    const char *e = strchr(s, '/');
    *len = e ? (size_t)(e - s) : strlen(s);
    *p = s + *len;
    return s;
}

static void set_param(json_t *params, const char *name, size_t nlen, const char *v, size_t vlen)
{
    char *key = strndup(name, nlen), *val = NULL;
    if (key && gl_url_decode(v, vlen, &val) == 0)
        json_object_set_new(params, key, json_string(val));
    free(key);
    free(val);
}

/* Whether path matches route rp; *literals and *greedy describe the match, params (may be
 * NULL) receives the parameters. */
static int match_path(const char *rp, const char *path, int *literals, int *greedy,
                      json_t *params)
{
    const char *r = rp, *p = path, *rs, *ps;
    size_t rl, pl;
    *literals = *greedy = 0;
    while ((rs = next_seg(&r, &rl))) {
        int is_param = rl >= 2 && rs[0] == '{' && rs[rl - 1] == '}';
        int is_greedy = is_param && rl >= 3 && rs[rl - 2] == '+';
        if (is_greedy) {
            while (*p == '/')
                p++;
            if (!*p || *r)
                return 0; /* {proxy+} takes at least one segment, and comes last */
            if (params)
                set_param(params, rs + 1, rl - 3, p, strlen(p));
            *greedy = 1;
            return 1;
        }
        if (!(ps = next_seg(&p, &pl)))
            return 0;
        if (is_param) {
            if (params)
                set_param(params, rs + 1, rl - 2, ps, pl);
        } else if (rl != pl || memcmp(rs, ps, rl)) {
            return 0;
        } else {
            (*literals)++;
        }
    }
    return !next_seg(&p, &pl);
}

int gl_web_route_match(const gl_web_route_t *r, size_t n, const char *method, const char *path,
                       json_t **params)
{
    int best = -1, dflt = -1;
    long best_score = -1;
    *params = NULL;
    for (size_t i = 0; i < n; i++) {
        int named = !strcmp(r[i].method, method);
        int literals, greedy;
        if (!named && strcmp(r[i].method, "ANY"))
            continue;
        if (!strcmp(r[i].path, "$default")) {
            dflt = (int)i;
            continue;
        }
        if (!match_path(r[i].path, path, &literals, &greedy, NULL))
            continue;
        long score = (greedy ? 0 : 1L << 20) + ((long)literals << 1) + named;
        if (score > best_score) {
            best_score = score;
            best = (int)i;
        }
    }
    if (best < 0)
        best = dflt;
    if (best >= 0 && (*params = json_object())) {
        int literals, greedy;
        if (strcmp(r[best].path, "$default"))
            match_path(r[best].path, path, &literals, &greedy, *params);
    }
    return best;
}
