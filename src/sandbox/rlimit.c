/* SPDX-License-Identifier: MIT */
/*
 * rlimit.c: the resource limits Lambda gives a function's processes, set by the child.
 *
 * They run before the user switch: as root the child may still raise a hard limit (the
 * daemon lifts its own RLIMIT_NOFILE, and that value must not reach the function), and after
 * the switch it could only lower them. RLIMIT_NPROC counts processes per real uid, so with
 * one run-as user its 1024 is shared by every environment (see docs/sandbox.md).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <sys/resource.h>

#include "internal.h"

static const struct {
    int resource;
    const char *name;
    rlim_t value; /* soft and hard */
} limits[] = {
    {RLIMIT_NOFILE, "RLIMIT_NOFILE", 1024},
    {RLIMIT_NPROC, "RLIMIT_NPROC", 1024},
    {RLIMIT_CORE, "RLIMIT_CORE", 0},
};

int sbx_child_rlimits(sbx_child_t *c)
{
    c->step = "setrlimit";
    for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
        struct rlimit rl = {limits[i].value, limits[i].value};
        if (setrlimit(limits[i].resource, &rl) < 0) {
            sbx_join(c->what, sizeof(c->what), limits[i].name, "");
            return -errno;
        }
    }
    return 0;
}
