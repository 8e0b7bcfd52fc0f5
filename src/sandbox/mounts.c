/* SPDX-License-Identifier: MIT */
/*
 * mounts.c: the file system an execution environment sees, built by the child in its own
 * mount namespace; and the listing of the host's "/" and "/var" that gl_sbx_open reads once
 * so the child never reads a directory.
 *
 * The layout (docs/sandbox.md): a tmpfs root holding read-only recursive binds of the host's
 * top-level directories and copies of its top-level symbolic links; a fresh /proc for the
 * PID namespace; /sys read-only; a minimal /dev; /var a tmpfs of read-only binds of the
 * host's /var entries plus /var/task (the code), /var/runtime, /var/lang; /opt (layers or
 * empty); /tmp a private tmpfs of the function's ephemeral storage; /etc/hosts with
 * sandbox.localdomain (gl_sbx_open writes it to the state dir); the daemon's state dir
 * covered by an empty read-only tmpfs. Like bubblewrap, the child first pivots into the new
 * (empty) root with the old one under OLD, binds from OLD/<host path>, then detaches OLD, so
 * any host path can be a source, including ones under /tmp.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

#define OLD "/.galley-oldroot"

#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#define MOUNT_ATTR_NOSUID 0x00000002
#define MOUNT_ATTR_NODEV 0x00000004
struct mount_attr {
    unsigned long long attr_set, attr_clr, propagation, userns_fd;
};
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif
#ifndef SYS_mount_setattr
#define SYS_mount_setattr 442
#endif

/* ---- parent: the host's entries ---- */

void sbx_free_entries(sbx_entries_t *e)
{
    for (size_t i = 0; i < e->n; i++) {
        free(e->items[i].name);
        free(e->items[i].link);
    }
    free(e->items);
    e->items = NULL;
    e->n = 0;
}

/* Directories and symbolic links of dir, minus the names in skip (NULL-terminated). Other
 * files (sockets, a stray regular file in "/") are left out. */
int sbx_read_entries(const char *dir, const char *const *skip, sbx_entries_t *out)
{
    DIR *d = opendir(dir);
    int rc = 0;
    size_t cap = 0;
    out->items = NULL;
    out->n = 0;
    if (!d)
        return -errno;
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *name = de->d_name;
        if (!strcmp(name, ".") || !strcmp(name, ".."))
            continue;
        int skipped = 0;
        for (const char *const *s = skip; *s && !skipped; s++)
            skipped = !strcmp(name, *s);
        if (skipped)
            continue;
        struct stat st;
        if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue;
        char *link = NULL;
        if (S_ISLNK(st.st_mode)) {
            char target[PATH_MAX];
            ssize_t n = readlinkat(dirfd(d), name, target, sizeof(target) - 1);
            if (n <= 0)
                continue;
            target[n] = '\0';
            if (!(link = strdup(target))) {
                rc = -ENOMEM;
                break;
            }
        } else if (!S_ISDIR(st.st_mode)) {
            continue;
        }
        if (out->n == cap) {
            size_t ncap = cap ? cap * 2 : 32;
            sbx_entry_t *items = realloc(out->items, ncap * sizeof(*items));
            if (!items) {
                free(link);
                rc = -ENOMEM;
                break;
            }
            out->items = items;
            cap = ncap;
        }
        char *copy = strdup(name);
        if (!copy) {
            free(link);
            rc = -ENOMEM;
            break;
        }
        out->items[out->n].name = copy;
        out->items[out->n].link = link;
        out->n++;
    }
    closedir(d);
    if (rc < 0)
        sbx_free_entries(out);
    return rc;
}

/* ---- child ---- */

/* Record what failed and return the negative errno (errno is still the failing call's). */
static int fail(sbx_child_t *c, const char *step, const char *what)
{
    int e = errno ? errno : EIO;
    c->step = step;
    sbx_join(c->what, sizeof(c->what), what, "");
    return -e;
}

/* Bind src (a path under OLD) to dst read-only, nosuid, nodev; recursive binds take their
 * submounts along and mount_setattr makes all of them read-only at once. Kernels before 5.12
 * get a remount of the top mount only, keeping the flags a user namespace may not clear. */
static int bind_ro(sbx_child_t *c, const char *step, const char *src, const char *dst,
                   int recursive)
{
    if (mount(src, dst, NULL, MS_BIND | (recursive ? MS_REC : 0), NULL) < 0)
        return fail(c, step, src);
    struct mount_attr attr = {
        .attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV,
    };
    if (syscall(SYS_mount_setattr, AT_FDCWD, dst, recursive ? AT_RECURSIVE : 0, &attr,
                sizeof(attr)) == 0)
        return 0;
    if (errno != ENOSYS)
        return fail(c, step, dst);
    struct statvfs sv;
    if (statvfs(dst, &sv) < 0)
        return fail(c, step, dst);
    unsigned long keep = 0;
    if (sv.f_flag & ST_NOEXEC)
        keep |= MS_NOEXEC;
    if (sv.f_flag & ST_NOATIME)
        keep |= MS_NOATIME;
    if (sv.f_flag & ST_NODIRATIME)
        keep |= MS_NODIRATIME;
    if (sv.f_flag & ST_RELATIME)
        keep |= MS_RELATIME;
    if (mount(NULL, dst, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | keep,
              NULL) < 0)
        return fail(c, step, dst);
    return 0;
}

/* Bind the host path host (as seen before the pivot) read-only at dst in the new root. */
static int bind_host_ro(sbx_child_t *c, const char *step, const char *host, const char *dst)
{
    char src[PATH_MAX];
    if (sbx_join(src, sizeof(src), OLD, host) < 0) {
        errno = ENAMETOOLONG;
        return fail(c, step, host);
    }
    int rc = bind_ro(c, step, src, dst, 1);
    if (rc < 0)
        sbx_join(c->what, sizeof(c->what), host, ""); /* name the host path, not OLD's */
    return rc;
}

static int make_dir(sbx_child_t *c, const char *path)
{
    if (mkdir(path, 0755) < 0 && errno != EEXIST)
        return fail(c, "mkdir", path);
    return 0;
}

static int remount_ro(sbx_child_t *c, const char *path, unsigned long extra)
{
    if (mount(NULL, path, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | extra,
              NULL) < 0)
        return fail(c, "remount read-only", path);
    return 0;
}

/* Reproduce a directory's entries under prefix: binds for directories, links for links. */
static int copy_entries(sbx_child_t *c, const sbx_entries_t *e, const char *host_prefix,
                        const char *prefix)
{
    char host[PATH_MAX], dst[PATH_MAX];
    for (size_t i = 0; i < e->n; i++) {
        const sbx_entry_t *it = &e->items[i];
        if (sbx_join(host, sizeof(host), host_prefix, it->name) < 0 ||
            sbx_join(dst, sizeof(dst), prefix, it->name) < 0) {
            errno = ENAMETOOLONG;
            return fail(c, "bind host directory", it->name);
        }
        if (it->link) {
            if (symlink(it->link, dst) < 0)
                return fail(c, "symlink", dst);
            continue;
        }
        int rc;
        if ((rc = make_dir(c, dst)) < 0)
            return rc;
        if ((rc = bind_host_ro(c, "bind host directory", host, dst)) < 0)
            return rc;
    }
    return 0;
}

/* A /dev with only what programs expect: the harmless character devices bound from the host,
 * a private /dev/shm, a private devpts when the kernel allows, and the usual links. */
static int make_dev(sbx_child_t *c)
{
    static const char *const nodes[] = {"null", "zero", "full", "random", "urandom", "tty"};
    char src[64], dst[64];
    int rc;
    if (mount("tmpfs", "/dev", "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k") < 0)
        return fail(c, "mount /dev", "/dev");
    for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
        sbx_join(src, sizeof(src), OLD "/dev/", nodes[i]);
        sbx_join(dst, sizeof(dst), "/dev/", nodes[i]);
        if (access(src, F_OK) < 0 && !strcmp(nodes[i], "tty"))
            continue; /* a host without a tty device (some containers) */
        int fd = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0)
            return fail(c, "create device mount point", dst);
        close(fd);
        if (mount(src, dst, NULL, MS_BIND, NULL) < 0)
            return fail(c, "bind device", dst);
    }
    if ((rc = make_dir(c, "/dev/shm")) < 0)
        return rc;
    if (mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, c->shm_opts) < 0)
        return fail(c, "mount /dev/shm", "/dev/shm");
    if ((rc = make_dir(c, "/dev/pts")) < 0)
        return rc;
    /* Optional: a pseudo-terminal is rarely needed by a function; keep going without. */
    if (mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
              "newinstance,ptmxmode=0666,mode=620") == 0) {
        if (symlink("pts/ptmx", "/dev/ptmx") < 0)
            return fail(c, "symlink", "/dev/ptmx");
    }
    static const char *const links[][2] = {{"/proc/self/fd", "/dev/fd"},
                                           {"/proc/self/fd/0", "/dev/stdin"},
                                           {"/proc/self/fd/1", "/dev/stdout"},
                                           {"/proc/self/fd/2", "/dev/stderr"}};
    for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
        if (symlink(links[i][0], links[i][1]) < 0)
            return fail(c, "symlink", links[i][1]);
    return remount_ro(c, "/dev", MS_NOEXEC);
}

/* /var: a tmpfs with the host's entries read-only, and the function's own directories. */
static int make_var(sbx_child_t *c)
{
    const gl_sbx_t *s = c->s;
    const gl_sbx_spec_t *spec = c->spec;
    int rc;
    if (mount("tmpfs", "/var", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64k") < 0)
        return fail(c, "mount /var", "/var");
    if ((rc = copy_entries(c, &s->var, "/var/", "/var/")) < 0)
        return rc;
    if ((rc = make_dir(c, "/var/task")) < 0 || (rc = make_dir(c, "/var/runtime")) < 0 ||
        (rc = make_dir(c, "/var/lang")) < 0)
        return rc;
    if (!spec->code_dir || !*spec->code_dir) {
        errno = EINVAL;
        return fail(c, "bind code_dir", "(none given)");
    }
    if ((rc = bind_host_ro(c, "bind code_dir", spec->code_dir, "/var/task")) < 0)
        return rc;
    if (spec->runtime_dir &&
        (rc = bind_host_ro(c, "bind runtime_dir", spec->runtime_dir, "/var/runtime")) < 0)
        return rc;
    if (spec->lang_dir && (rc = bind_host_ro(c, "bind lang_dir", spec->lang_dir, "/var/lang")) < 0)
        return rc;
    return remount_ro(c, "/var", 0);
}

int sbx_child_mounts(sbx_child_t *c)
{
    const gl_sbx_t *s = c->s;
    const gl_sbx_spec_t *spec = c->spec;
    int rc;
    if (!s || !s->mount_ns)
        return 0;
    errno = 0;
    /* Nothing mounted here may propagate back to the host (or from it, mid-setup). */
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        return fail(c, "make mounts private", "/");
    /* The new root, entered at once so every host path stays reachable under OLD. */
    if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64k") < 0)
        return fail(c, "mount new root", "/tmp");
    if (chdir("/tmp") < 0)
        return fail(c, "chdir", "/tmp");
    if (mkdir(&OLD[1], 0700) < 0)
        return fail(c, "mkdir", OLD);
    if (syscall(SYS_pivot_root, ".", &OLD[1]) < 0)
        return fail(c, "pivot_root", "/tmp");
    if (chdir("/") < 0)
        return fail(c, "chdir", "/");
    if ((rc = copy_entries(c, &s->top, "/", "/")) < 0)
        return rc;
    static const char *const dirs[] = {"/proc", "/sys", "/dev", "/var", "/opt", "/tmp"};
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++)
        if ((rc = make_dir(c, dirs[i])) < 0)
            return rc;
    if ((rc = bind_host_ro(c, "bind /sys", "/sys", "/sys")) < 0)
        return rc;
    /* proc while the host's /proc is still visible under OLD: a user namespace may only
     * mount a proc when an unobstructed one is already in its mount namespace. */
    if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
        return fail(c, "mount /proc", "/proc");
    if ((rc = make_dev(c)) < 0)
        return rc;
    if ((rc = make_var(c)) < 0)
        return rc;
    if (spec->opt_dir && (rc = bind_host_ro(c, "bind opt_dir", spec->opt_dir, "/opt")) < 0)
        return rc;
    if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, c->tmp_opts) < 0)
        return fail(c, "mount /tmp", c->tmp_opts);
    /* sandbox.localdomain, before the state dir holding the file is covered. */
    if (s->hosts && access("/etc/hosts", F_OK) == 0 &&
        (rc = bind_host_ro(c, "bind /etc/hosts", s->hosts, "/etc/hosts")) < 0)
        return rc;
    /* Other functions' code and logs: covered, after everything that binds from the host. */
    if (s->hide &&
        mount("tmpfs", s->hide, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
              "mode=0755,size=4k") < 0 &&
        errno != ENOENT)
        return fail(c, "hide state dir", s->hide);
    if (umount2(OLD, MNT_DETACH) < 0)
        return fail(c, "detach old root", OLD);
    if (rmdir(OLD) < 0)
        return fail(c, "rmdir", OLD);
    return remount_ro(c, "/", 0);
}

/* ---- daemon: the size of a /tmp that is a plain directory ---- */

static int usage_at(int fd, uint64_t *bytes, int depth)
{
    if (depth > 256)
        return -ELOOP;
    DIR *d = fdopendir(fd);
    if (!d) {
        int e = errno;
        close(fd);
        return -e;
    }
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
            continue; /* removed meanwhile */
        *bytes += (uint64_t)st.st_blocks * 512;
        if (S_ISDIR(st.st_mode)) {
            int sub = openat(dirfd(d), de->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub >= 0 && (rc = usage_at(sub, bytes, depth + 1)) < 0)
                break;
        }
    }
    closedir(d);
    return rc;
}

int gl_sbx_dir_usage(const char *dir, uint64_t *bytes)
{
    *bytes = 0;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    return usage_at(fd, bytes, 0);
}
