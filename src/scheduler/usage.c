/* SPDX-License-Identifier: MIT */
/*
 * usage.c: gl_usage_map_t, the scheduler's per-function usage entries (reservation, running
 * invokes, idle timeout, injected faults) by function name. Looked up on every submit, so it
 * is a hash (FNV-1a, chained, doubled at a load of 1) and stays O(1) however many functions
 * there are; the entries are also listed, for the walks of reset and close. An entry lives
 * until the scheduler is freed (invokes hold pointers to it).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define MIN_BUCKETS 64

static uint32_t hash_name(const char *name)
{
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h;
}

gl_fn_usage_t *gl_usage_find(const gl_usage_map_t *m, const char *name)
{
    if (!m->nbuckets)
        return NULL;
    uint32_t h = hash_name(name);
    for (gl_fn_usage_t *u = m->buckets[h & (m->nbuckets - 1)]; u; u = u->hnext)
        if (u->hash == h && strcmp(u->name, name) == 0)
            return u;
    return NULL;
}

/* Doubles the bucket array (or makes the first one); on failure the old one stays. */
static int grow(gl_usage_map_t *m)
{
    size_t n = m->nbuckets ? m->nbuckets * 2 : MIN_BUCKETS;
    gl_fn_usage_t **b = calloc(n, sizeof(*b));
    if (!b)
        return -1;
    for (gl_fn_usage_t *u = m->list; u; u = u->next) {
        u->hnext = b[u->hash & (n - 1)];
        b[u->hash & (n - 1)] = u;
    }
    free(m->buckets);
    m->buckets = b;
    m->nbuckets = n;
    return 0;
}

gl_fn_usage_t *gl_usage_get(gl_usage_map_t *m, const char *name)
{
    gl_fn_usage_t *u = gl_usage_find(m, name);
    if (u)
        return u;
    if (m->count >= m->nbuckets && grow(m) < 0 && !m->nbuckets)
        return NULL;
    u = calloc(1, sizeof(*u));
    if (!u || !(u->name = strdup(name))) {
        free(u);
        return NULL;
    }
    u->reserved = -1;
    u->idle_timeout_ms = -1;
    u->hash = hash_name(name);
    u->hnext = m->buckets[u->hash & (m->nbuckets - 1)];
    m->buckets[u->hash & (m->nbuckets - 1)] = u;
    u->next = m->list;
    m->list = u;
    m->count++;
    return u;
}

void gl_usage_map_free(gl_usage_map_t *m)
{
    while (m->list) {
        gl_fn_usage_t *u = m->list;
        m->list = u->next;
        free(u->name);
        free(u);
    }
    free(m->buckets);
    memset(m, 0, sizeof(*m));
}
