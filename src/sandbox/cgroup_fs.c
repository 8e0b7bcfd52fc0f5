/* SPDX-License-Identifier: MIT */
/*
 * cgroup_fs.c: reading and writing cgroup files, killing what a group lists, removing group
 * trees and the folders of daemons that are gone. Shared by cgroup_v1.c and cgroup_v2.c.
 *
 * Every call opens, reads or writes once, and closes (O_CLOEXEC); errors come back as a
 * negative errno and a missing file is -ENOENT, never a crash. Every wait is bounded.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cgroup_internal.h"
#include "galley/log.h"

int cg_path(char out[PATH_MAX], const char *dir, const char *file)
{
    int n = snprintf(out, PATH_MAX, "%s/%s", dir, file);
    return (n < 0 || n >= PATH_MAX) ? -ENAMETOOLONG : 0;
}

void cg_sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

int cg_write(const char *dir, const char *file, const char *value)
{
    char path[PATH_MAX];
    int fd, rc;
    size_t len = strlen(value);

    if ((rc = cg_path(path, dir, file)) < 0)
        return rc;
    if ((fd = open(path, O_WRONLY | O_CLOEXEC)) < 0)
        return -errno;
    ssize_t n = write(fd, value, len);
    rc = n < 0 ? -errno : ((size_t)n == len ? 0 : -EIO);
    if (close(fd) < 0 && rc == 0)
        rc = -errno;
    return rc;
}

int cg_read(const char *dir, const char *file, char *buf, size_t len)
{
    char path[PATH_MAX];
    int fd, rc;
    size_t got = 0;

    if (len == 0)
        return -EINVAL;
    if ((rc = cg_path(path, dir, file)) < 0)
        return rc;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return -errno;
    while (got < len - 1) {
        ssize_t n = read(fd, buf + got, len - 1 - got);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            break;
        }
        if (n == 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    return rc < 0 ? rc : (int)got;
}

int cg_read_u64(const char *dir, const char *file, uint64_t *out)
{
    char buf[64], *end;
    int rc = cg_read(dir, file, buf, sizeof(buf));
    if (rc < 0)
        return rc;
    if (strncmp(buf, "max", 3) == 0) {
        *out = UINT64_MAX;
        return 0;
    }
    errno = 0;
    unsigned long long v = strtoull(buf, &end, 10);
    if (errno || end == buf)
        return -EINVAL;
    *out = v;
    return 0;
}

int cg_read_key(const char *dir, const char *file, const char *key, uint64_t *out)
{
    char buf[4096];
    size_t klen = strlen(key);
    int rc = cg_read(dir, file, buf, sizeof(buf));
    if (rc < 0)
        return rc;
    for (char *line = buf; line && *line;
         line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (strncmp(line, key, klen) == 0 && line[klen] == ' ') {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(line + klen + 1, &end, 10);
            if (errno || end == line + klen + 1)
                return -EINVAL;
            *out = v;
            return 0;
        }
    }
    return -ENOENT;
}

int cg_file_has_word(const char *dir, const char *file, const char *word)
{
    char buf[1024];
    int rc = cg_read(dir, file, buf, sizeof(buf));
    if (rc < 0)
        return rc;
    for (char *save = NULL, *tok = strtok_r(buf, " \t\n", &save); tok;
         tok = strtok_r(NULL, " \t\n", &save))
        if (strcmp(tok, word) == 0)
            return 1;
    return 0;
}

/* Calls fn on each pid listed in dir/file; returns the count. A missing file lists nothing. */
static int each_listed(const char *dir, const char *file, void (*fn)(pid_t))
{
    char path[PATH_MAX];
    int rc, count = 0;

    if ((rc = cg_path(path, dir, file)) < 0)
        return rc;
    FILE *f = fopen(path, "re");
    if (!f)
        return errno == ENOENT ? 0 : -errno;
    long v;
    while (fscanf(f, "%ld", &v) == 1) {
        if (v > 0 && v <= INT32_MAX) {
            if (fn)
                fn((pid_t)v);
            count++;
        }
    }
    fclose(f);
    return count;
}

static void sigkill_pid(pid_t pid)
{
    kill(pid, SIGKILL);
}

int cg_kill_listed(const char *dir, const char *file)
{
    return each_listed(dir, file, sigkill_pid);
}

int cg_wait_empty(const char *dir, const char *file, int timeout_ms)
{
    for (int waited = 0;; waited += 5) {
        int n = each_listed(dir, file, NULL);
        if (n <= 0)
            return n;
        if (waited >= timeout_ms)
            return -ETIMEDOUT;
        cg_sleep_ms(5);
    }
}

int cg_rmdir(const char *dir)
{
    /* A group whose last process just died can stay busy for a moment. */
    for (int waited = 0;; waited += 10) {
        if (rmdir(dir) == 0 || errno == ENOENT)
            return 0;
        if (errno != EBUSY || waited >= CG_EMPTY_WAIT_MS)
            return -errno;
        cg_sleep_ms(10);
    }
}

void cg_empty_and_remove(const char *dir, const char *procs)
{
    int rc;
    cg_wait_empty(dir, procs, CG_EMPTY_WAIT_MS);
    if ((rc = cg_rmdir(dir)) < 0)
        gl_log_warn("cgroups: rmdir %s: %s", dir, strerror(-rc));
}

unsigned cg_read_oom_kills(const char *dir, const char *file)
{
    uint64_t v = 0;
    if (cg_read_key(dir, file, "oom_kill", &v) < 0)
        return 0;
    return v > UINT32_MAX ? UINT32_MAX : (unsigned)v;
}

/*
 * Sampled after every invoke for its REPORT: the file stays open after the first read, and each
 * sample is one pread (a cgroup file's content is made afresh at offset 0). Opening it by path
 * every time walked the cgroup file system and cost more than the rest of the sample.
 */
uint64_t cg_sample_peak(gl_cg_t *cg, const char *file)
{
    char path[PATH_MAX], buf[64], *end;
    if (cg->peak_fd < 0 && cg_path(path, cg->memory_dir, file) == 0)
        cg->peak_fd = open(path, O_RDONLY | O_CLOEXEC); /* failed: tried again next time */
    ssize_t n = cg->peak_fd >= 0 ? pread(cg->peak_fd, buf, sizeof(buf) - 1, 0) : -1;
    if (n <= 0)
        return cg->peak;
    buf[n] = '\0';
    errno = 0;
    unsigned long long v = strtoull(buf, &end, 10);
    if (!errno && end != buf && v > cg->peak)
        cg->peak = v;
    return cg->peak;
}

/* Depth-first: a group can only be removed once it has no child groups. */
static int remove_tree(const char *dir, int depth)
{
    char child[PATH_MAX];
    int rc = 0;

    if (depth > 16)
        return -ELOOP;
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : -errno;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_type != DT_DIR || strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        int r = cg_path(child, dir, e->d_name);
        if (r == 0)
            r = remove_tree(child, depth + 1);
        if (r < 0 && rc == 0)
            rc = r;
    }
    closedir(d);
    /* Processes left behind by a dead daemon: SIGKILL them (a v1 frozen group keeps them
     * until thawed, so thaw what can be thawed), then wait for the group to empty. */
    if (cg_kill_listed(dir, CG2_PROCS) > 0) {
        cg_write(dir, CG1_FREEZER_STATE, "THAWED");
        cg_write(dir, CG2_FREEZE, "0");
        cg_wait_empty(dir, CG2_PROCS, CG_EMPTY_WAIT_MS);
    }
    int r = cg_rmdir(dir);
    return rc < 0 ? rc : r;
}

int cg_remove_tree(const char *dir)
{
    return remove_tree(dir, 0);
}

bool cg_pid_is_alive(pid_t pid)
{
    char path[64], text[512], state;
    pid_t pgrp;

    if (pid <= 0 || (kill(pid, 0) < 0 && errno == ESRCH))
        return false;
    snprintf(path, sizeof(path), "/proc/%d", (int)pid);
    int rc = cg_read(path, "stat", text, sizeof(text));
    if (rc == -ENOENT && access("/proc/self/stat", F_OK) == 0)
        return false; /* exited between kill() and here */
    if (rc < 0)
        return true; /* no /proc to ask: trust kill() */
    return gl_cg_parse_stat(text, &state, &pgrp) < 0 || (state != 'Z' && state != 'X');
}

int cg_clean_stale(const char *dir, pid_t self)
{
    char child[PATH_MAX];
    int removed = 0;
    size_t plen = strlen(CG_FOLDER_PREFIX);

    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : -errno;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_type != DT_DIR || strncmp(e->d_name, CG_FOLDER_PREFIX, plen) != 0)
            continue;
        char *end;
        errno = 0;
        long pid = strtol(e->d_name + plen, &end, 10);
        if (errno || *end || end == e->d_name + plen || pid <= 0 || pid > INT32_MAX)
            continue; /* not a name galley makes: leave it alone */
        if (pid == self || cg_pid_is_alive((pid_t)pid))
            continue;
        if (cg_path(child, dir, e->d_name) == 0 && cg_remove_tree(child) == 0)
            removed++;
    }
    closedir(d);
    return removed;
}

int cg_make_fresh_dir(const char *dir, gl_err_t *err)
{
    int rc;
    if (mkdir(dir, 0755) == 0)
        return 0;
    if (errno != EEXIST)
        return gl_err_set(err, errno, "mkdir %s", dir);
    /* Left with this name by an earlier process: start from an empty group. */
    if ((rc = cg_remove_tree(dir)) < 0)
        return gl_err_set(err, -rc, "remove stale %s", dir);
    if (mkdir(dir, 0755) < 0)
        return gl_err_set(err, errno, "mkdir %s", dir);
    return 0;
}
