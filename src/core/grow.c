/* SPDX-License-Identifier: MIT */
/*
 * grow.c: gl_grow, the one growth step of the daemon's arrays that are appended to one item at
 * a time (log events, filter terms, version entries, a directory walk's lines): the capacity
 * doubles, from GL_GROW_FIRST, so n appends cost O(n) copies. Owns nothing: the caller keeps
 * the array and its count; a failure leaves both as they were, so the caller's one cleanup
 * path still frees what it had.
 */
#include <stdint.h>
#include <stdlib.h>

#include "galley/util.h"

void *gl_grow(void *items, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return items;
    size_t ncap = *cap ? *cap : GL_GROW_FIRST;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2)
            return NULL;
        ncap *= 2;
    }
    if (size && ncap > SIZE_MAX / size)
        return NULL;
    void *grown = realloc(items, ncap * size);
    if (!grown)
        return NULL;
    *cap = ncap;
    return grown;
}
