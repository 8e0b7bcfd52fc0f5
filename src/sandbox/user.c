/* SPDX-License-Identifier: MIT */
/*
 * user.c: who functions run as. sbx_resolve_user turns --run-as ("name", "uid" or
 * "uid:gid") into ids once, in gl_sbx_open; sbx_child_switch_user drops the child to them.
 *
 * The switch comes after the mounts (which need root) and the rlimits (which a non-root
 * process can no longer raise), and before no_new_privs and seccomp (setgroups is not
 * refused by the filter, but nothing after the switch needs privileges). Changing the uid
 * clears the parent-death signal, so the caller sets it again afterwards.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"

static int parse_id(const char *s, const char *end, unsigned long *out)
{
    if (s == end || (size_t)(end - s) > 10)
        return -EINVAL;
    unsigned long v = 0;
    for (const char *p = s; p < end; p++) {
        if (*p < '0' || *p > '9')
            return -EINVAL;
        v = v * 10 + (unsigned long)(*p - '0');
    }
    if (v >= 0xffffffffUL) /* (uid_t)-1 means "unchanged" to setresuid */
        return -ERANGE;
    *out = v;
    return 0;
}

int sbx_resolve_user(const char *run_as, uid_t *uid, gid_t *gid, gl_err_t *err)
{
    if (!run_as || !*run_as)
        return gl_err_set(err, EINVAL, "run-as: empty user");
    const char *colon = strchr(run_as, ':');
    unsigned long u, g;
    if (colon) {
        if (parse_id(run_as, colon, &u) < 0 || parse_id(colon + 1, colon + strlen(colon), &g) < 0)
            return gl_err_set(err, EINVAL, "run-as %s: expected uid:gid", run_as);
        *uid = (uid_t)u;
        *gid = (gid_t)g;
        return 0;
    }
    if (parse_id(run_as, run_as + strlen(run_as), &u) == 0) {
        /* A bare uid takes the group of its passwd entry, or the same number. */
        struct passwd *pw = getpwuid((uid_t)u);
        *uid = (uid_t)u;
        *gid = pw ? pw->pw_gid : (gid_t)u;
        return 0;
    }
    errno = 0;
    struct passwd *pw = getpwnam(run_as);
    if (!pw)
        return gl_err_set(err, errno ? errno : ENOENT, "run-as %s: no such user", run_as);
    if (pw->pw_uid == 0)
        return gl_err_set(err, EINVAL, "run-as %s: refusing to run functions as root", run_as);
    *uid = pw->pw_uid;
    *gid = pw->pw_gid;
    return 0;
}

int sbx_child_switch_user(sbx_child_t *c)
{
    if (!c->s || !c->s->switch_user)
        return 0;
    gid_t gid = c->s->gid;
    c->step = "setgroups";
    if (setgroups(1, &gid) < 0)
        return -errno;
    c->step = "setresgid";
    if (setresgid(gid, gid, gid) < 0)
        return -errno;
    c->step = "setresuid";
    if (setresuid(c->s->uid, c->s->uid, c->s->uid) < 0)
        return -errno;
    return 0;
}
