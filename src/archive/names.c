/* SPDX-License-Identifier: MIT */
/*
 * names.c: text-only checks of archive entry names and symbolic link targets.
 *
 * Owns no state. The invariant it gives unzip.c: a name that passes normalisation has no
 * absolute prefix and no ".." component, so joining it under the unpack root cannot name a
 * path outside the root unless a symbolic link is in the way (unzip.c guards that).
 */
#include <errno.h>
#include <string.h>

#include "internal.h"

int gl_archive_normalize_name(const char *name, char *out, size_t outlen)
{
    if (!name || !*name)
        return -EINVAL;
    if (name[0] == '/')
        return -EPERM;
    size_t o = 0;
    const char *p = name;
    while (*p) {
        const char *end = strchr(p, '/');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return -EPERM;
        if (n > 0 && !(n == 1 && p[0] == '.')) {
            if (o + (o ? 1 : 0) + n + 1 > outlen)
                return -ENAMETOOLONG;
            if (o)
                out[o++] = '/';
            memcpy(out + o, p, n);
            o += n;
        }
        if (!end)
            break;
        p = end + 1;
    }
    if (outlen == 0)
        return -ENAMETOOLONG;
    out[o] = '\0';
    return 0;
}

int gl_archive_check_link_target(const char *link_path, const char *target)
{
    if (!target || !*target || target[0] == '/')
        return -EPERM;
    /* Depth of the link's directory: one per component of link_path but the last. */
    long depth = 0;
    for (const char *p = link_path; *p; p++)
        if (*p == '/')
            depth++;
    const char *p = target;
    while (*p) {
        const char *end = strchr(p, '/');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            if (--depth < 0)
                return -EPERM;
        } else if (n > 0 && !(n == 1 && p[0] == '.')) {
            depth++;
        }
        if (!end)
            break;
        p = end + 1;
    }
    return 0;
}
