/* SPDX-License-Identifier: MIT */
/*
 * rlimit.c: the resource limits Lambda gives a function's processes, set by the child, and
 * the daemon's one check at start that they can be met.
 *
 * They run before the user switch: as root the child may still raise a hard limit (the
 * daemon lifts its own RLIMIT_NOFILE, and that value must not reach the function), and after
 * the switch it could only lower them. No limit is set above the hard limit the child
 * inherited: outside the initial user namespace nothing may raise it, so a host whose hard
 * RLIMIT_NOFILE is below Lambda's 1024 gets that lower value (warned once by
 * sbx_check_rlimits) instead of failing every start. RLIMIT_NPROC counts processes per real
 * uid, so with one run-as user its 1024 is shared by every environment (see docs/sandbox.md).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <sys/resource.h>

#include "galley/log.h"
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

#define N_LIMITS (sizeof(limits) / sizeof(limits[0]))

rlim_t sbx_rlimit_value(rlim_t want, rlim_t hard)
{
    return hard != RLIM_INFINITY && hard < want ? hard : want;
}

void sbx_check_rlimits(void)
{
    for (size_t i = 0; i < N_LIMITS; i++) {
        struct rlimit rl;
        if (getrlimit(limits[i].resource, &rl) < 0 ||
            sbx_rlimit_value(limits[i].value, rl.rlim_max) == limits[i].value)
            continue;
        gl_log_warn("sandbox: the hard %s is %llu, below Lambda's %llu: functions get %llu",
                    limits[i].name, (unsigned long long)rl.rlim_max,
                    (unsigned long long)limits[i].value, (unsigned long long)rl.rlim_max);
    }
}

int sbx_child_rlimits(sbx_child_t *c)
{
    c->step = "setrlimit";
    for (size_t i = 0; i < N_LIMITS; i++) {
        struct rlimit rl;
        if (getrlimit(limits[i].resource, &rl) < 0)
            rl.rlim_max = RLIM_INFINITY; /* unknown: try Lambda's value */
        rlim_t v = sbx_rlimit_value(limits[i].value, rl.rlim_max);
        rl.rlim_cur = rl.rlim_max = v;
        if (setrlimit(limits[i].resource, &rl) < 0) {
            sbx_join(c->what, sizeof(c->what), limits[i].name, "");
            return -errno;
        }
    }
    return 0;
}
