/* SPDX-License-Identifier: MIT */
/*
 * cgroup_none.c: the mode without cgroups. A group is the process group of the environment's
 * runtime (a session leader, so its pid is the group id): freeze is SIGSTOP to the group,
 * thaw SIGCONT, kill SIGKILL. Processes that leave the group (setsid) escape all three; only
 * cgroups can catch those.
 *
 * One libuv timer (gl_cg_system_t.timer) runs every CG_WATCHDOG_MS while some group is watched:
 * it walks /proc once, sums the resident memory of each watched process group, keeps the peak
 * and SIGKILLs a group over its limit (counted as an out-of-memory kill, then no longer
 * watched). Without a loop (tests of other parts) there is no watchdog.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgroup_internal.h"
#include "galley/log.h"

/* Calls fn(pid, state, pgrp, arg) for every process; stops early when fn returns nonzero. */
static void each_process(int (*fn)(pid_t, char, pid_t, void *), void *arg)
{
    char dir[64], text[512];
    DIR *d = opendir("/proc");
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        char *end;
        long pid = strtol(e->d_name, &end, 10);
        if (*end || pid <= 0)
            continue;
        snprintf(dir, sizeof(dir), "/proc/%ld", pid);
        char state;
        pid_t pgrp;
        if (cg_read(dir, "stat", text, sizeof(text)) < 0 ||
            gl_cg_parse_stat(text, &state, &pgrp) < 0)
            continue; /* gone meanwhile */
        if (fn((pid_t)pid, state, pgrp, arg))
            break;
    }
    closedir(d);
}

struct running_in {
    pid_t pgid;
    int running;
};

/* Whether pid has SIGSTOP pending (process-wide or its own): it stops before it next runs a
 * user instruction. */
static int stop_pending(pid_t pid)
{
    char dir[64], text[2048];
    snprintf(dir, sizeof(dir), "/proc/%d", (int)pid);
    if (cg_read(dir, "status", text, sizeof(text)) < 0)
        return 0;
    unsigned long long mask = 1ull << (SIGSTOP - 1);
    static const char *const keys[] = {"SigPnd:", "ShdPnd:"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        const char *at = strstr(text, keys[i]);
        if (at && (strtoull(at + strlen(keys[i]), NULL, 16) & mask))
            return 1;
    }
    return 0;
}

/*
 * A member counts as running unless it is stopped or dead, or it is in uninterruptible sleep
 * with SIGSTOP pending: it stops on its way out of the kernel. The last case is a shell that
 * vforked a child which the SIGSTOP caught before its exec: the parent waits in the kernel for
 * a child that will not run until thawed, and would otherwise keep the freeze waiting forever.
 */
static int count_running(pid_t pid, char state, pid_t pgrp, void *arg)
{
    struct running_in *r = arg;
    if (pgrp == r->pgid && !strchr("TtZX", state) && !(state == 'D' && stop_pending(pid)))
        r->running++;
    return 0;
}

static uint64_t rss_of(pid_t pid, long page_size)
{
    char dir[64], text[128];
    unsigned long long size, resident;
    snprintf(dir, sizeof(dir), "/proc/%d", (int)pid);
    if (cg_read(dir, "statm", text, sizeof(text)) < 0 ||
        sscanf(text, "%llu %llu", &size, &resident) != 2)
        return 0;
    return (uint64_t)resident * (uint64_t)page_size;
}

static int add_sample(pid_t pid, char state, pid_t pgrp, void *arg)
{
    gl_cg_system_t *s = arg;
    for (gl_cg_t *cg = s->groups; cg; cg = cg->next)
        if (cg->pgid > 0 && cg->pgid == pgrp) {
            cg->sample += rss_of(pid, s->page_size);
            break;
        }
    return 0;
}

static void on_watchdog(uv_timer_t *timer)
{
    gl_cg_system_t *s = timer->data;
    bool watched = false;

    for (gl_cg_t *cg = s->groups; cg; cg = cg->next) {
        cg->sample = 0;
        watched |= cg->pgid > 0;
    }
    if (!watched) {
        uv_timer_stop(&s->timer);
        s->timer_active = false;
        return;
    }
    each_process(add_sample, s);
    for (gl_cg_t *cg = s->groups; cg; cg = cg->next) {
        if (cg->pgid <= 0)
            continue;
        if (cg->sample > cg->peak)
            cg->peak = cg->sample;
        if (cg->limit > 0 && cg->sample > cg->limit) {
            gl_log_warn("cgroup %s: %llu bytes resident, over its limit of %llu: killed", cg->id,
                        (unsigned long long)cg->sample, (unsigned long long)cg->limit);
            kill(-cg->pgid, SIGKILL);
            cg->oom_kills++;
            cg->pgid = 0;
        }
    }
}

static int setup(gl_cg_system_t *s, const cg_plan_t *plan, gl_err_t *err)
{
    int rc;
    if (!s->loop)
        return 0;
    if ((rc = uv_timer_init(s->loop, &s->timer)) < 0)
        return gl_err_set(err, -rc, "cgroup watchdog timer: %s", uv_strerror(rc));
    s->timer.data = s;
    s->timer_init = true;
    return 0;
}

static void teardown(gl_cg_system_t *s) {}

static int create(gl_cg_t *cg, gl_err_t *err)
{
    return 0;
}

static int attach(gl_cg_t *cg, pid_t pid)
{
    gl_cg_system_t *s = cg->sys;
    /* pid becomes the leader of its own group (it may not have called setsid yet, so
     * getpgid(pid) could still name the daemon's group). Never watch the daemon's group. */
    if (pid == getpgrp() || pid == getpid())
        return -EINVAL;
    cg->pgid = pid;
    if (s->timer_init && !s->timer_active) {
        int rc = uv_timer_start(&s->timer, on_watchdog, CG_WATCHDOG_MS, CG_WATCHDOG_MS);
        if (rc < 0)
            return rc;
        s->timer_active = true;
    }
    return 0;
}

static int signal_group(gl_cg_t *cg, int sig)
{
    if (cg->pgid <= 0)
        return 0;
    if (kill(-cg->pgid, sig) < 0)
        return errno == ESRCH ? 0 : -errno;
    return 0;
}

static int freeze(gl_cg_t *cg)
{
    int rc = signal_group(cg, SIGSTOP);
    if (rc < 0 || cg->pgid <= 0)
        return rc;
    /* Synchronous like the cgroup freezers: wait until no member is still running. */
    for (int waited = 0;; waited += 2) {
        struct running_in r = {.pgid = cg->pgid};
        each_process(count_running, &r);
        if (r.running == 0)
            return 0;
        if (waited >= CG_FREEZE_WAIT_MS)
            return -ETIMEDOUT;
        cg_sleep_ms(2);
        /* A process forked while the group was being signalled can miss the SIGSTOP: signal
         * the group again, as writing FROZEN again catches the v1 freezer's stragglers. */
        signal_group(cg, SIGSTOP);
    }
}

static int thaw(gl_cg_t *cg)
{
    return signal_group(cg, SIGCONT);
}

static int kill_all(gl_cg_t *cg)
{
    return signal_group(cg, SIGKILL);
}

static uint64_t peak(gl_cg_t *cg)
{
    return cg->peak;
}

static unsigned oom_kills(gl_cg_t *cg)
{
    return cg->oom_kills;
}

static void destroy(gl_cg_t *cg)
{
    kill_all(cg);
    cg->pgid = 0; /* the watchdog stops itself once no group is watched */
}

CG_OPS_DEFINE(gl_cg_none_ops);
