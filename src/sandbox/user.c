/* SPDX-License-Identifier: MIT */
/*
 * user.c: who functions run as. sbx_resolve_user turns --run-as ("name", "uid" or
 * "uid:gid") into ids once, in gl_sbx_open; sbx_open_users sets up the uid range
 * (--uid-range, the default for a root daemon without --run-as) from which
 * gl_sbx_user_acquire gives each environment a uid of its own; sbx_child_switch_user drops
 * the child to its environment's ids (spec->uid) or the shared run-as ids.
 *
 * A uid of its own is what lets the daemon tell an environment's processes from every other
 * process on the host (its Runtime API checks the peer's uid at accept), and gives each
 * environment its own RLIMIT_NPROC, which the kernel counts per real uid.
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
#include <stdint.h>
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

static int parse_range(const char *text, uint32_t *first, uint32_t *count)
{
    const char *colon = text ? strchr(text, ':') : NULL;
    unsigned long f, n;
    if (!colon || parse_id(text, colon, &f) < 0 || parse_id(colon + 1, colon + strlen(colon), &n) < 0)
        return -EINVAL;
    *first = (uint32_t)f;
    *count = (uint32_t)n;
    return 0;
}

int gl_sbx_parse_uid_range(const char *text, uint32_t *first, uint32_t *count)
{
    if (parse_range(text, first, count) < 0 || *first == 0 || *count == 0 ||
        *count > GL_SBX_UID_RANGE_MAX || (uint64_t)*first + *count > 0xffffffffULL)
        return -EINVAL;
    return 0;
}

int sbx_open_users(gl_sbx_t *s, const gl_sbx_opts_t *opts, gl_err_t *err)
{
    uint32_t first = opts->uid_first, count = opts->uid_count;
    if (count && opts->run_as)
        return gl_err_set(err, EINVAL,
                          "--run-as %s and --uid-range exclude each other: --run-as runs every "
                          "environment as one user",
                          opts->run_as);
    if (!count && opts->run_as)
        return 0;
    if (!count) {
        first = GL_SBX_UID_RANGE_FIRST;
        count = GL_SBX_UID_RANGE_COUNT;
    }
    if (first == 0 || count > GL_SBX_UID_RANGE_MAX || (uint64_t)first + count > 0xffffffffULL)
        return gl_err_set(err, EINVAL, "uid range %u:%u: want FIRST >= 1, COUNT <= %u, below "
                          "uid 4294967295", (unsigned)first, (unsigned)count, GL_SBX_UID_RANGE_MAX);
    sbx_uids_t *u = calloc(1, sizeof(*u));
    if (!u || !(u->bits = calloc((count + 7) / 8, 1))) {
        free(u);
        return gl_err_set(err, ENOMEM, "uid range");
    }
    u->first = first;
    u->count = count;
    s->uids = u;
    s->switch_user = 1;
    return 0;
}

void sbx_free_users(gl_sbx_t *s)
{
    if (s->uids)
        free(s->uids->bits);
    free(s->uids);
    s->uids = NULL;
}

int gl_sbx_user_per_env(const gl_sbx_t *s) { return s && s->uids; }

int gl_sbx_user_acquire(const gl_sbx_t *s, gl_sbx_user_t *out, gl_err_t *err)
{
    sbx_uids_t *u = s ? s->uids : NULL;
    *out = (gl_sbx_user_t){0};
    if (!u) {
        out->uid = s && s->switch_user ? s->uid : (s ? s->outer_uid : geteuid());
        out->gid = s && s->switch_user ? s->gid : (s ? s->outer_gid : getegid());
        return 0;
    }
    if (u->used == u->count)
        return gl_err_set(err, EAGAIN, "all %u uids of the uid range %u:%u are in use",
                          (unsigned)u->count, (unsigned)u->first, (unsigned)u->count);
    for (uint32_t i = 0; i < u->count; i++) {
        uint32_t k = (u->cursor + i) % u->count;
        if (u->bits[k / 8] & (1u << (k % 8)))
            continue;
        u->bits[k / 8] |= (unsigned char)(1u << (k % 8));
        u->used++;
        u->cursor = (k + 1) % u->count;
        out->uid = (uid_t)(u->first + k);
        out->gid = (gid_t)out->uid;
        out->own = 1;
        return 0;
    }
    return gl_err_set(err, EAGAIN, "uid range: no free uid"); /* unreachable: used < count */
}

void gl_sbx_user_release(const gl_sbx_t *s, const gl_sbx_user_t *user)
{
    sbx_uids_t *u = s ? s->uids : NULL;
    if (!u || !user->own || user->uid < u->first || user->uid - u->first >= u->count)
        return;
    uint32_t k = (uint32_t)(user->uid - u->first);
    if (u->bits[k / 8] & (1u << (k % 8))) {
        u->bits[k / 8] &= (unsigned char)~(1u << (k % 8));
        u->used--;
    }
}

int sbx_child_switch_user(sbx_child_t *c)
{
    if (!c->s || !c->s->switch_user)
        return 0;
    /* The environment's own ids when it has them, else the shared run-as user. */
    uid_t uid = c->spec->uid ? c->spec->uid : c->s->uid;
    gid_t gid = c->spec->uid ? c->spec->gid : c->s->gid;
    c->step = "setgroups";
    if (setgroups(1, &gid) < 0)
        return -errno;
    c->step = "setresgid";
    if (setresgid(gid, gid, gid) < 0)
        return -errno;
    c->step = "setresuid";
    if (setresuid(uid, uid, uid) < 0)
        return -errno;
    return 0;
}
