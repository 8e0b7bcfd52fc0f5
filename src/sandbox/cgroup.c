/* SPDX-License-Identifier: MIT */
/*
 * cgroup.c: the cgroup system of the daemon (gl_cg_system_t) and the dispatch of every group
 * call to the implementation of the detected mode (cgroup_v1.c, cgroup_v2.c, cgroup_none.c).
 *
 * Detection, done once in gl_cg_system_open:
 *   1. statfs(mount_root): CGROUP2_SUPER_MAGIC means a pure v2 host. The daemon's group is the
 *      "0::<path>" line of /proc/self/cgroup, beneath mount_root. Mode V2.
 *   2. Otherwise (a tmpfs holding v1 hierarchies, as on hybrid hosts): when mount_root/memory
 *      is a v1 memory hierarchy and /proc/self/cgroup names our memory group, mode V1, frozen
 *      with the v1 freezer hierarchy (mount_root/freezer) when it is there, else with the core
 *      of the cgroup2 mount at mount_root/unified (cgroup.freeze and cgroup.kill need no
 *      controller). v1 memory is preferred on hybrid hosts because their cgroup2 mount
 *      usually has no controllers at all.
 *   3. A hybrid host with no v1 memory hierarchy but a cgroup2 mount at mount_root/unified:
 *      mode V2 there (it works when the memory controller was given to cgroup2).
 *   4. Anything else, or any failure to create galley's folder (no rights, no delegation,
 *      read-only), is mode NONE with a reason the caller logs.
 * The choice from (statfs magics, /proc/self/cgroup) is the pure gl_cg_plan(); making the
 * folders is the mode's setup(). Only one system may be open per process: its folder is named
 * after the process id.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "cgroup_internal.h"
#include "galley/log.h"
#include "galley/util.h"

#define DEFAULT_MOUNT_ROOT "/sys/fs/cgroup"
#define DEFAULT_SELF_CGROUP "/proc/self/cgroup"

/* The reason for NONE when it names a path; lives as long as the process (one system). */
static char why_text[sizeof(((gl_err_t *)0)->msg) + 128];

const char *gl_cg_mode_name(gl_cg_mode_t m)
{
    switch (m) {
    case GL_CG_V1:
        return "cgroup v1";
    case GL_CG_V2:
        return "cgroup v2";
    case GL_CG_NONE:
        return "none";
    }
    return "unknown";
}

gl_cg_mode_t gl_cg_system_mode(const gl_cg_system_t *s)
{
    return s->mode;
}

/* ---- detection ---- */

static int set_path(char dst[PATH_MAX], const char *src, size_t len)
{
    if (len == 0 || len >= PATH_MAX || src[0] != '/')
        return -EINVAL;
    memcpy(dst, src, len);
    dst[len] = '\0';
    /* ".." would climb out of the hierarchy: the kernel never writes it, so refuse it. */
    if (strstr(dst, "/../") || (len >= 3 && strcmp(dst + len - 3, "/..") == 0))
        return -EINVAL;
    return 0;
}

static bool list_has(const char *list, size_t len, const char *word)
{
    size_t wl = strlen(word);
    for (const char *p = list, *end = list + len; p < end;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        size_t n = comma ? (size_t)(comma - p) : (size_t)(end - p);
        if (n == wl && memcmp(p, word, n) == 0)
            return true;
        p += n + 1;
    }
    return false;
}

int gl_cg_parse_self(const char *text, cg_self_t *out)
{
    memset(out, 0, sizeof(*out));
    for (const char *line = text; *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        if (len > 0) {
            /* "<hierarchy id>:<controllers>:<path>"; the path may itself contain ':'. */
            const char *c1 = memchr(line, ':', len);
            const char *c2 = c1 ? memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - line)) : NULL;
            if (!c1 || !c2 || c1 == line)
                return -EINVAL;
            const char *ctl = c1 + 1, *path = c2 + 1;
            size_t ctl_len = (size_t)(c2 - ctl), path_len = len - (size_t)(path - line);
            bool id0 = (c1 - line == 1 && line[0] == '0');
            int rc = 0;
            if (id0 && ctl_len == 0)
                rc = set_path(out->v2, path, path_len);
            else if (list_has(ctl, ctl_len, "memory"))
                rc = set_path(out->memory, path, path_len);
            else if (list_has(ctl, ctl_len, "freezer"))
                rc = set_path(out->freezer, path, path_len);
            if (rc < 0)
                return rc;
        }
        line += len + (nl ? 1 : 0);
    }
    return 0;
}

static long magic_of(const char *path)
{
    struct statfs st;
    return statfs(path, &st) == 0 ? (long)st.f_type : 0;
}

void cg_probe(const char *mount_root, cg_probe_t *out)
{
    char p[PATH_MAX];
    memset(out, 0, sizeof(*out));
    out->root = magic_of(mount_root);
    if (cg_path(p, mount_root, CG1_MEMORY_MOUNT) == 0)
        out->memory = magic_of(p);
    if (cg_path(p, mount_root, CG1_FREEZER_MOUNT) == 0)
        out->freezer = magic_of(p);
    if (cg_path(p, mount_root, CG2_HYBRID_MOUNT) == 0)
        out->unified = magic_of(p);
}

/* "<root>[/<mount>]<self path>" with the trailing "/" of a root group dropped. */
static bool join_group(char out[PATH_MAX], const char *root, const char *mount, const char *self)
{
    const char *rel = strcmp(self, "/") == 0 ? "" : self;
    int n = mount ? snprintf(out, PATH_MAX, "%s/%s%s", root, mount, rel)
                  : snprintf(out, PATH_MAX, "%s%s", root, rel);
    return n > 0 && n < PATH_MAX;
}

void gl_cg_plan(const cg_probe_t *probe, const cg_self_t *self, const char *mount_root,
                cg_plan_t *out)
{
    memset(out, 0, sizeof(*out));
    out->mode = GL_CG_NONE;
    out->need_memory = true;
    if (probe->root == CG_MAGIC_CGROUP2) {
        if (!self->v2[0])
            out->why = "cgroup2 is mounted but /proc/self/cgroup has no \"0::\" line";
        else if (!join_group(out->memory_dir, mount_root, NULL, self->v2))
            out->why = "the daemon's cgroup path is too long";
        else
            out->mode = GL_CG_V2;
        return;
    }
    if (probe->root == 0) {
        out->why = "no cgroup file system is mounted at the cgroup mount root";
        return;
    }
    if (probe->memory == CG_MAGIC_CGROUP1 && self->memory[0]) {
        if (!join_group(out->memory_dir, mount_root, CG1_MEMORY_MOUNT, self->memory)) {
            out->why = "the daemon's cgroup path is too long";
            return;
        }
        /* Freeze with cgroup2's core freezer when the host has one beside v1: a process
         * frozen there still dies of a fatal signal (so environments die with a killed
         * daemon, through their parent-death signal), one frozen by the v1 freezer does not
         * until it is thawed. */
        if (probe->unified == CG_MAGIC_CGROUP2 && self->v2[0]) {
            if (!join_group(out->freezer_dir, mount_root, CG2_HYBRID_MOUNT, self->v2)) {
                out->why = "the daemon's cgroup path is too long";
                return;
            }
            out->freezer_v2 = true;
        } else if (probe->freezer == CG_MAGIC_CGROUP1 && self->freezer[0]) {
            if (!join_group(out->freezer_dir, mount_root, CG1_FREEZER_MOUNT, self->freezer)) {
                out->why = "the daemon's cgroup path is too long";
                return;
            }
        } else {
            out->why = "cgroup v1 has a memory controller but neither a freezer hierarchy nor "
                       "a cgroup2 mount to freeze with";
            return;
        }
        out->mode = GL_CG_V1;
        return;
    }
    if (probe->unified == CG_MAGIC_CGROUP2 && self->v2[0]) {
        if (!join_group(out->memory_dir, mount_root, CG2_HYBRID_MOUNT, self->v2)) {
            out->why = "the daemon's cgroup path is too long";
            return;
        }
        out->mode = GL_CG_V2;
        return;
    }
    out->why = "no usable cgroup hierarchy (neither cgroup2 nor a cgroup v1 memory controller)";
}

size_t gl_cg_v1_limit_writes(uint64_t bytes, cg_write_t out[CG_MAX_WRITES])
{
    /* The memory limit first: memsw (memory + swap) may never be below it. Equal values
     * leave no room for swap. */
    out[0] = (cg_write_t){.file = CG1_MEMORY_LIMIT};
    snprintf(out[0].value, sizeof(out[0].value), "%" PRIu64, bytes);
    out[1] = (cg_write_t){.file = CG1_MEMSW_LIMIT, .optional = true};
    snprintf(out[1].value, sizeof(out[1].value), "%" PRIu64, bytes);
    return 2;
}

size_t gl_cg_v2_limit_writes(uint64_t bytes, cg_write_t out[CG_MAX_WRITES])
{
    out[0] = (cg_write_t){.file = CG2_MEMORY_MAX};
    snprintf(out[0].value, sizeof(out[0].value), "%" PRIu64, bytes);
    /* Absent without swap accounting: then there is no swap to forbid. */
    out[1] = (cg_write_t){.file = CG2_MEMORY_SWAP_MAX, .value = "0", .optional = true};
    /* An out-of-memory kill takes the whole environment, as Lambda does (Linux >= 4.19). */
    out[2] = (cg_write_t){.file = CG2_MEMORY_OOM_GROUP, .value = "1", .optional = true};
    return 3;
}

int gl_cg_parse_stat(const char *text, char *state, pid_t *pgrp)
{
    /* "pid (comm) S ppid pgrp ...": comm may hold spaces and ')', so start after the last ')'. */
    const char *rp = strrchr(text, ')');
    char st;
    int ppid, pg;
    if (!rp || sscanf(rp + 1, " %c %d %d", &st, &ppid, &pg) != 3)
        return -EINVAL;
    *state = st;
    *pgrp = (pid_t)pg;
    return 0;
}

/* ---- the system ---- */

static int fall_back(gl_cg_system_t *s, const char *reason, const char **why)
{
    s->mode = GL_CG_NONE;
    s->ops = &gl_cg_none_ops;
    if (why)
        *why = reason;
    return gl_cg_none_ops.setup(s, NULL, NULL);
}

int gl_cg_system_open_plan(gl_cg_system_t **out, uv_loop_t *loop, const cg_plan_t *plan,
                           const char **why, gl_err_t *err)
{
    gl_cg_system_t *s = calloc(1, sizeof(*s));
    gl_err_t setup_err = {0};
    int rc;

    if (why)
        *why = NULL;
    if (!s)
        return gl_err_set(err, ENOMEM, "cgroup system");
    s->loop = loop;
    s->pid = getpid();
    s->page_size = sysconf(_SC_PAGESIZE) > 0 ? sysconf(_SC_PAGESIZE) : 4096;
    s->mode = plan->mode;
    s->freezer_v2 = plan->freezer_v2;
    s->need_memory = plan->need_memory;
    if (plan->mode == GL_CG_NONE) {
        rc = fall_back(s, plan->why, why);
        goto out;
    }
    snprintf(s->own_memory, sizeof(s->own_memory), "%s", plan->memory_dir);
    snprintf(s->own_freezer, sizeof(s->own_freezer), "%s", plan->freezer_dir);
    if (snprintf(s->base_memory, PATH_MAX, "%s/" CG_FOLDER_PREFIX "%d", s->own_memory,
                 (int)s->pid) >= PATH_MAX ||
        snprintf(s->base_freezer, PATH_MAX, "%s/" CG_FOLDER_PREFIX "%d", s->own_freezer,
                 (int)s->pid) >= PATH_MAX) {
        rc = fall_back(s, "the daemon's cgroup path is too long", why);
        goto out;
    }
    s->ops = plan->mode == GL_CG_V1 ? &gl_cg_v1_ops : &gl_cg_v2_ops;
    if ((rc = s->ops->setup(s, plan, &setup_err)) < 0) {
        s->ops->teardown(s);
        snprintf(why_text, sizeof(why_text), "%s unusable: %s: %s", gl_cg_mode_name(plan->mode),
                 setup_err.msg, strerror(setup_err.code ? setup_err.code : EIO));
        rc = fall_back(s, why_text, why);
        goto out;
    }
    if (s->mode == GL_CG_V1)
        gl_log_info("cgroups: v1, memory in %s, frozen with %s %s", s->base_memory,
                    s->freezer_v2 ? "cgroup2" : "the freezer in", s->base_freezer);
    else
        gl_log_info("cgroups: v2 in %s", s->base_memory);
out:
    if (rc < 0) {
        gl_err_set(err, -rc, "cgroup watchdog");
        free(s);
        return rc;
    }
    *out = s;
    return 0;
}

int gl_cg_system_open_probed(gl_cg_system_t **out, uv_loop_t *loop, const gl_cg_opts_t *opts,
                             const cg_probe_t *probe, const char **why, gl_err_t *err)
{
    const char *root = opts && opts->mount_root ? opts->mount_root : DEFAULT_MOUNT_ROOT;
    const char *self_path = opts && opts->self_cgroup ? opts->self_cgroup : DEFAULT_SELF_CGROUP;
    cg_plan_t plan;
    cg_self_t *self = calloc(1, sizeof(*self));
    gl_buf_t text = {0};
    int rc;

    if (!self)
        return gl_err_set(err, ENOMEM, "cgroup system");
    if (opts && opts->force_mode == GL_CG_NONE) {
        memset(&plan, 0, sizeof(plan));
        plan.why = "cgroups were turned off";
    } else if ((rc = gl_read_file(self_path, 64 * 1024, &text)) < 0) {
        memset(&plan, 0, sizeof(plan));
        snprintf(why_text, sizeof(why_text), "cannot read %s: %s", self_path, strerror(-rc));
        plan.why = why_text;
    } else if (gl_cg_parse_self(text.data ? text.data : "", self) < 0) {
        memset(&plan, 0, sizeof(plan));
        snprintf(why_text, sizeof(why_text), "cannot parse %s", self_path);
        plan.why = why_text;
    } else {
        gl_cg_plan(probe, self, root, &plan);
        if (opts && opts->force_mode > 0 && (int)plan.mode != opts->force_mode &&
            plan.mode != GL_CG_NONE) {
            plan.mode = GL_CG_NONE;
            plan.why = "the forced cgroup mode is not the one this host has";
        }
    }
    rc = gl_cg_system_open_plan(out, loop, &plan, why, err);
    gl_buf_free(&text);
    free(self);
    return rc;
}

int gl_cg_system_open(gl_cg_system_t **out, uv_loop_t *loop, const gl_cg_opts_t *opts,
                      const char **why, gl_err_t *err)
{
    cg_probe_t probe;
    cg_probe(opts && opts->mount_root ? opts->mount_root : DEFAULT_MOUNT_ROOT, &probe);
    return gl_cg_system_open_probed(out, loop, opts, &probe, why, err);
}

static void on_timer_closed(uv_handle_t *h)
{
    free(h->data);
}

void gl_cg_system_close(gl_cg_system_t *s)
{
    if (!s)
        return;
    while (s->groups) {
        gl_log_warn("cgroup %s still exists at exit: killing it", s->groups->id);
        gl_cg_destroy(s->groups);
    }
    s->ops->teardown(s);
    if (s->timer_init)
        uv_close((uv_handle_t *)&s->timer, on_timer_closed); /* frees s */
    else
        free(s);
}

/* ---- groups ---- */

static bool id_ok(const char *id)
{
    size_t n = strlen(id);
    if (n == 0 || n >= sizeof(((gl_cg_t *)0)->id) || id[0] == '.' ||
        strcmp(id, CG2_DAEMON_LEAF) == 0)
        return false;
    for (const char *p = id; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_' || *p == '.'))
            return false;
    return true;
}

int gl_cg_create(gl_cg_system_t *s, const char *id, uint64_t memory_bytes, gl_cg_t **out,
                 gl_err_t *err)
{
    gl_cg_t *cg;
    int rc;

    if (!id_ok(id))
        return gl_err_set(err, EINVAL, "cgroup name \"%s\": letters, digits, '-', '_', '.'", id);
    if (!(cg = calloc(1, sizeof(*cg))))
        return gl_err_set(err, ENOMEM, "cgroup %s", id);
    cg->sys = s;
    cg->dir_fd = -1;
    cg->limit = memory_bytes;
    snprintf(cg->id, sizeof(cg->id), "%s", id);
    if (snprintf(cg->memory_dir, PATH_MAX, "%s/%s", s->base_memory, id) >= PATH_MAX ||
        snprintf(cg->freezer_dir, PATH_MAX, "%s/%s", s->base_freezer, id) >= PATH_MAX) {
        free(cg);
        return gl_err_set(err, ENAMETOOLONG, "cgroup %s: path too long", id);
    }
    if ((rc = s->ops->create(cg, err)) < 0) {
        free(cg);
        return rc;
    }
    cg->next = s->groups;
    if (s->groups)
        s->groups->prev = cg;
    s->groups = cg;
    *out = cg;
    return 0;
}

int gl_cg_clone_fd(const gl_cg_t *cg)
{
    return cg->dir_fd;
}

int gl_cg_attach(gl_cg_t *cg, pid_t pid)
{
    if (pid <= 0)
        return -EINVAL;
    return cg->sys->ops->attach(cg, pid);
}

int gl_cg_freeze(gl_cg_t *cg)
{
    return cg->sys->ops->freeze(cg);
}

int gl_cg_thaw(gl_cg_t *cg)
{
    return cg->sys->ops->thaw(cg);
}

/* One write (or signal) that starts freezing or thawing, with no wait: the same files the
 * waiting versions write, in every mode. */
static int request_freeze(gl_cg_t *cg, int frozen)
{
    switch (cg->sys->mode) {
    case GL_CG_V2:
        return cg_write(cg->memory_dir, CG2_FREEZE, frozen ? "1" : "0");
    case GL_CG_V1:
        if (cg->sys->freezer_v2)
            return cg_write(cg->freezer_dir, CG2_FREEZE, frozen ? "1" : "0");
        return cg_write(cg->freezer_dir, CG1_FREEZER_STATE, frozen ? "FROZEN" : "THAWED");
    default:
        if (cg->pgid <= 0)
            return 0;
        return kill(-cg->pgid, frozen ? SIGSTOP : SIGCONT) < 0 ? -errno : 0;
    }
}

int gl_cg_freeze_request(gl_cg_t *cg) { return request_freeze(cg, 1); }

int gl_cg_thaw_request(gl_cg_t *cg) { return request_freeze(cg, 0); }

int gl_cg_kill(gl_cg_t *cg)
{
    return cg->sys->ops->kill(cg);
}

uint64_t gl_cg_peak(gl_cg_t *cg)
{
    return cg->sys->ops->peak(cg);
}

unsigned gl_cg_oom_kills(gl_cg_t *cg)
{
    return cg->sys->ops->oom_kills(cg);
}

void gl_cg_destroy(gl_cg_t *cg)
{
    if (!cg)
        return;
    gl_cg_system_t *s = cg->sys;
    s->ops->destroy(cg);
    if (cg->dir_fd >= 0)
        close(cg->dir_fd);
    if (cg->prev)
        cg->prev->next = cg->next;
    else
        s->groups = cg->next;
    if (cg->next)
        cg->next->prev = cg->prev;
    free(cg);
}

int gl_cg_set_limit(gl_cg_t *cg, uint64_t memory_bytes, gl_err_t *err)
{
    cg_write_t writes[CG_MAX_WRITES];
    size_t n = 0;
    cg->limit = memory_bytes; /* NONE: the watchdog reads it */
    if (cg->sys->mode == GL_CG_V1)
        n = gl_cg_v1_limit_writes(memory_bytes, writes);
    else if (cg->sys->mode == GL_CG_V2)
        n = gl_cg_v2_limit_writes(memory_bytes, writes);
    for (size_t i = 0; i < n; i++) {
        int rc = cg_write(cg->memory_dir, writes[i].file, writes[i].value);
        if (rc == -ENOENT && writes[i].optional)
            continue;
        if (rc < 0)
            return gl_err_set(err, -rc, "write %s to %s/%s", writes[i].value, cg->memory_dir,
                              writes[i].file);
    }
    return 0;
}
