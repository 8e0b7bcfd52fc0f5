/* SPDX-License-Identifier: MIT */
/*
 * spares.c: spare, pre-started interpreters for galley's Python and Node runtimes
 * (docs/performance.md, "Spares"). Owns struct gl_spares (the refill timer, the families in
 * use) and every spare not yet taken: its process, pidfd, control socket (watched with a
 * uv_poll_t for the one "ready" byte, then for its end), output pipes, user and cgroup. A
 * spare is a sandboxed process of galley's bootstrap with its interpreter warmed and no code,
 * no /var/task content and no function variables; gl_spares_take hands one over to a cold
 * start in env_start.c, which specializes it. Spares die with the daemon: the sandbox gives
 * them PR_SET_PDEATHSIG like any environment, and gl_spares_close kills them at shutdown.
 * Invariant: a spare in the list is never visible to a function and owns all it holds; a
 * taken one owns nothing here any more (its gl_spare_proc_t moved into the environment).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "galley/log.h"
#include "internal.h"

#define NFAMILIES 2
#define FAIL_LIMIT 3                      /* in a row: stop refilling that family */
#define MEM_FLOOR (256ull << 20)          /* start no spare below this much MemAvailable */
#define REFILL_AFTER_TAKE_MS 50           /* off the critical path of the cold start */
#define REFILL_AFTER_DEATH_MS 1000

static const char *const families[NFAMILIES] = {"python", "nodejs"};

typedef struct gl_spare {
    gl_spare_proc_t proc;
    int family;
    int ready;
    uint64_t started_ns;
    uv_poll_t poll;
    struct gl_spares *owner;
    struct gl_spare *next;
} gl_spare_t;

struct gl_spares {
    gl_sched_t *sched;
    uv_timer_t timer;
    int wanted[NFAMILIES];
    unsigned failures[NFAMILIES];
    int warned_memory;
    gl_spare_t *list;
};

static int family_index(const char *runtime)
{
    const char *f = gl_spare_family(runtime);
    for (int i = 0; f && i < NFAMILIES; i++)
        if (strcmp(f, families[i]) == 0)
            return i;
    return -1;
}

static uint64_t mem_available(void)
{
    FILE *f = fopen("/proc/meminfo", "re");
    char line[128];
    unsigned long long kb = 0;
    if (!f)
        return UINT64_MAX; /* unknown: do not hold spares back */
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1)
            break;
    fclose(f);
    return kb ? (uint64_t)kb << 10 : UINT64_MAX;
}

static void on_refill(uv_timer_t *t);

static void refill_soon(gl_spares_t *sp, uint64_t ms)
{
    if (!uv_is_active((uv_handle_t *)&sp->timer) || ms == 0)
        uv_timer_start(&sp->timer, on_refill, ms, 0);
}

/* The spares of a scheduler, made on first use; NULL when spares are off or impossible. */
static gl_spares_t *spares_of(gl_sched_t *s)
{
    if (s->spares || s->closing || !s->opts.spares || !gl_sbx_can_specialize(s->opts.sbx))
        return s->spares;
    gl_spares_t *sp = calloc(1, sizeof(*sp));
    if (!sp)
        return NULL;
    sp->sched = s;
    uv_timer_init(s->loop, &sp->timer);
    sp->timer.data = sp;
    s->spares = sp;
    return sp;
}

void gl_spare_proc_discard(gl_sched_t *s, gl_spare_proc_t *p)
{
    if (p->pid > 0) {
        gl_sbx_kill_group(p->pid, SIGKILL);
        if (p->cg)
            gl_cg_kill(p->cg);
        while (waitpid(p->pid, NULL, 0) < 0 && errno == EINTR)
            ;
        p->pid = -1;
    }
    if (p->cg)
        gl_cg_destroy(p->cg);
    p->cg = NULL;
    if (p->user.own)
        gl_sbx_user_release(s->opts.sbx, &p->user);
    p->user.own = 0;
    int *fds[] = {&p->pidfd, &p->ctl_fd, &p->out_fd, &p->err_fd, &p->rapi_fd};
    for (size_t i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
        if (*fds[i] >= 0)
            close(*fds[i]);
        *fds[i] = -1;
    }
}

static void on_spare_closed(uv_handle_t *h) { free(h->data); }

/* Take sp out of the list and close its watch; its process was taken over or discarded. */
static void unlink_spare(gl_spares_t *sp, gl_spare_t *spare)
{
    for (gl_spare_t **pp = &sp->list; *pp; pp = &(*pp)->next)
        if (*pp == spare) {
            *pp = spare->next;
            break;
        }
    uv_close((uv_handle_t *)&spare->poll, on_spare_closed);
}

/* The control socket: the bootstrap's "ready" byte once its interpreter is warm, and later
 * its end (EOF) if it dies before a function takes it. */
static void on_ctl(uv_poll_t *h, int status, int events)
{
    gl_spare_t *spare = h->data;
    gl_spares_t *sp = spare->owner;
    char b = 0;
    (void)events;
    ssize_t n = status < 0 ? -1 : recv(spare->proc.ctl_fd, &b, 1, MSG_DONTWAIT);
    if (n < 0 && status >= 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n == 1 && b == 'R' && !spare->ready) {
        spare->ready = 1;
        sp->failures[spare->family] = 0;
        gl_log_debug("spare=%.8s %s pid=%d uid=%u ready in %.1f ms", spare->proc.id,
                     families[spare->family], (int)spare->proc.pid, (unsigned)spare->proc.user.uid,
                     (double)(gl_mono_ns() - spare->started_ns) / 1e6);
        return;
    }
    /* Anything else: the bootstrap died or broke the protocol; it never ran user code. */
    gl_log_warn("spare %.8s (%s, pid %d) ended before a function took it; starting another in "
                "%d ms", spare->proc.id, families[spare->family], (int)spare->proc.pid,
                REFILL_AFTER_DEATH_MS);
    sp->failures[spare->family]++;
    gl_spare_proc_discard(sp->sched, &spare->proc);
    unlink_spare(sp, spare);
    refill_soon(sp, REFILL_AFTER_DEATH_MS);
}

static int start_one(gl_spares_t *sp, int family)
{
    gl_sched_t *s = sp->sched;
    gl_err_t err = {0};
    gl_spare_t *spare = calloc(1, sizeof(*spare));
    if (!spare)
        return -ENOMEM;
    spare->family = family;
    spare->owner = sp;
    spare->started_ns = gl_mono_ns();
    int rc = gl_env_spawn_spare(s, families[family], &spare->proc, &err);
    if (rc < 0) {
        if (++sp->failures[family] == FAIL_LIMIT)
            gl_log_warn("spares: %s: %s (%d failures in a row: no more %s spares)",
                        families[family], err.msg, FAIL_LIMIT, families[family]);
        free(spare);
        return rc;
    }
    uv_poll_init(s->loop, &spare->poll, spare->proc.ctl_fd);
    spare->poll.data = spare;
    uv_poll_start(&spare->poll, UV_READABLE | UV_DISCONNECT, on_ctl);
    spare->next = sp->list;
    sp->list = spare;
    gl_log_debug("spare=%.8s %s pid=%d uid=%u started", spare->proc.id, families[family],
                 (int)spare->proc.pid, (unsigned)spare->proc.user.uid);
    return 0;
}

static unsigned count_family(const gl_spares_t *sp, int family)
{
    unsigned n = 0;
    for (const gl_spare_t *x = sp->list; x; x = x->next)
        n += x->family == family;
    return n;
}

/* One spare per tick, so no loop iteration is held up by more than one spawn. */
static void on_refill(uv_timer_t *t)
{
    gl_spares_t *sp = t->data;
    gl_sched_t *s = sp->sched;
    uint64_t avail = mem_available();
    for (int f = 0; f < NFAMILIES; f++) {
        if (!sp->wanted[f] || sp->failures[f] >= FAIL_LIMIT)
            continue;
        unsigned have = count_family(sp, f);
        unsigned n = gl_spares_to_start(s->opts.spares, have, avail, MEM_FLOOR);
        if (n == 0) {
            if (have < s->opts.spares && !sp->warned_memory++)
                gl_log_warn("spares: only %llu MB of memory available: no new spares",
                            (unsigned long long)(avail >> 20));
            continue;
        }
        if (start_one(sp, f) < 0)
            refill_soon(sp, REFILL_AFTER_DEATH_MS);
        else
            refill_soon(sp, 0); /* the next one, if any, on the next tick */
        return;
    }
}

void gl_sched_spares_note(gl_sched_t *s, const char *runtime)
{
    int f = family_index(runtime);
    gl_spares_t *sp = f < 0 ? NULL : spares_of(s);
    if (!sp || sp->wanted[f])
        return;
    sp->wanted[f] = 1;
    refill_soon(sp, 0);
}

int gl_spares_take(gl_sched_t *s, const gl_fn_t *fn, int debug_port, gl_spare_proc_t *out)
{
    int f = family_index(fn->cfg.runtime);
    gl_spares_t *sp = f < 0 ? NULL : spares_of(s);
    if (!sp || debug_port || !gl_spare_env_ok(fn->cfg.env_vars))
        return 0;
    if (!sp->wanted[f]) {
        sp->wanted[f] = 1;
        refill_soon(sp, REFILL_AFTER_TAKE_MS);
    }
    gl_spare_t *found = NULL;
    for (gl_spare_t *x = sp->list; x; x = x->next)
        if (x->family == f && x->ready)
            found = x; /* the last ready one in the list is the oldest */
    if (!found)
        return 0;
    uv_poll_stop(&found->poll);
    *out = found->proc; /* every descriptor, the user and the cgroup move to the caller */
    unlink_spare(sp, found);
    refill_soon(sp, REFILL_AFTER_TAKE_MS);
    return 1;
}

static void on_timer_closed(uv_handle_t *h) { free(h->data); }

void gl_spares_close(gl_sched_t *s)
{
    gl_spares_t *sp = s->spares;
    if (!sp)
        return;
    s->spares = NULL;
    while (sp->list) {
        gl_spare_t *spare = sp->list;
        gl_spare_proc_discard(s, &spare->proc);
        unlink_spare(sp, spare);
    }
    uv_timer_stop(&sp->timer);
    uv_close((uv_handle_t *)&sp->timer, on_timer_closed);
}

json_t *gl_sched_spares_json(gl_sched_t *s)
{
    json_t *arr = json_array();
    uint64_t now = gl_mono_ns();
    for (gl_spare_t *x = s->spares ? s->spares->list : NULL; x; x = x->next)
        json_array_append_new(
            arr, json_pack("{s:s, s:s, s:s, s:i, s:i, s:I}", "id", x->proc.id, "state",
                           x->ready ? "spare" : "starting", "runtime", families[x->family], "pid",
                           (int)x->proc.pid, "uid", (int)x->proc.user.uid, "age_ms",
                           (json_int_t)((now - x->started_ns) / 1000000)));
    return arr;
}
