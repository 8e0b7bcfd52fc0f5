/* SPDX-License-Identifier: MIT */
/*
 * internal.h: the pure path checks shared by the archive module's files (and its tests).
 *
 * These functions look only at names, never at the file system: they decide whether an entry
 * name or a symbolic link target may be unpacked at all. unzip.c adds the checks that need the
 * file system (writing through a link made earlier, links resolved by the kernel).
 */
#ifndef GALLEY_ARCHIVE_INTERNAL_H
#define GALLEY_ARCHIVE_INTERNAL_H

#include <stddef.h>

/**
 * Normalise an entry name into out (outlen bytes): empty and "." components dropped, no
 * leading or trailing '/'. The root itself ("./", "/" is refused before) becomes "".
 * Returns 0, -EPERM for an absolute name or a ".." component, -ENAMETOOLONG when it does not
 * fit, -EINVAL for an empty name.
 */
int gl_archive_normalize_name(const char *name, char *out, size_t outlen);

/**
 * Whether a symbolic link at normalised path link_path with target stays inside the root when
 * resolved as text relative to the link's directory (other links are not followed here).
 * Returns 0, or -EPERM for an absolute or empty target or one that climbs above the root.
 */
int gl_archive_check_link_target(const char *link_path, const char *target);

#endif
