/* SPDX-License-Identifier: MIT */
/*
 * sched.c: the scheduler: one pool of environments per function snapshot, the choice
 * between a warm environment and a cold start for each invoke, retiring the pools of
 * replaced functions, and the orderly shutdown of every environment.
 *
 * Invariant: a pool lives while its function is current or while any of its environments
 * is alive (pool->nalive); the scheduler finishes closing when the last environment is freed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "galley/log.h"
#include "internal.h"

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

/* The scheduler and the strings it copied from its options. */
static void free_env_vars(char **vars)
{
    for (size_t i = 0; vars && vars[i]; i++)
        free(vars[i]);
    free(vars);
}

static void free_sched(gl_sched_t *s)
{
    free_env_vars(s->env_vars);
    free(s->logs_root);
    free(s->run_root);
    free((char *)s->opts.runtimes_dir);
    free((char *)s->opts.python);
    free((char *)s->opts.node);
    free((char *)s->opts.state_dir);
    free((char *)s->opts.region);
    free((char *)s->opts.account_id);
    free(s);
}

int gl_sched_new(gl_sched_t **out, uv_loop_t *loop, const gl_sched_opts_t *opts, gl_err_t *err)
{
    gl_sched_t *s = calloc(1, sizeof(*s));
    if (!s)
        return gl_err_set(err, ENOMEM, "scheduler");
    s->loop = loop;
    s->opts = *opts;
    s->opts.runtimes_dir = dup_or_null(opts->runtimes_dir);
    s->opts.python = dup_or_null(opts->python);
    s->opts.node = dup_or_null(opts->node);
    s->opts.state_dir = dup_or_null(opts->state_dir);
    s->opts.region = dup_or_null(opts->region);
    s->opts.account_id = dup_or_null(opts->account_id);
    s->rapi = *opts->rapi;
    s->opts.rapi = &s->rapi;
    gl_env_rapi_prepare(s);
    if (!s->opts.account_concurrency)
        s->opts.account_concurrency = 1000;
    if (!s->opts.init_timeout_ms)
        s->opts.init_timeout_ms = 10000;
    s->logs_root = gl_path_join(opts->state_dir, "logs");
    s->run_root = gl_path_join(opts->state_dir, "run");
    int rc;
    if (!s->logs_root || !s->run_root) {
        rc = gl_err_set(err, ENOMEM, "scheduler");
        goto fail;
    }
    /* run/ holds only what live environments use: anything there is a crashed daemon's. */
    if ((rc = gl_rm_rf(s->run_root)) < 0 || (rc = gl_mkdir_p(s->run_root, 0711)) < 0 ||
        (rc = gl_mkdir_p(s->logs_root, 0755)) < 0) {
        rc = gl_err_set(err, -rc, "prepare %s", opts->state_dir);
        goto fail;
    }
    uv_timer_init(loop, &s->grace_timer);
    s->grace_timer.data = s;
    s->grace_timer_open = 1;
    *out = s;
    return 0;
fail:
    free_sched(s);
    return rc;
}

static gl_pool_t *pool_for(gl_sched_t *s, gl_fn_t *fn)
{
    if (fn->sched)
        return fn->sched;
    gl_pool_t *p = calloc(1, sizeof(*p));
    if (!p)
        return NULL;
    p->sched = s;
    p->retired = fn->retired;
    p->fn = gl_fn_ref(fn);
    fn->sched = p;
    p->next = s->pools;
    if (s->pools)
        s->pools->prev = p;
    s->pools = p;
    return p;
}

static void pool_free(gl_sched_t *s, gl_pool_t *p)
{
    if (p->prev)
        p->prev->next = p->next;
    else
        s->pools = p->next;
    if (p->next)
        p->next->prev = p->prev;
    p->fn->sched = NULL;
    gl_fn_unref(p->fn);
    free(p);
}

/* The pool's side of the interface its environments report through (internal.h). */

void gl_pool_link(gl_pool_t *pool, gl_env_t *env)
{
    env->next = pool->envs;
    if (pool->envs)
        pool->envs->prev = env;
    pool->envs = env;
    pool->nenvs++;
    pool->nalive++;
    pool->sched->nenvs++;
}

void gl_pool_unlink(gl_pool_t *pool, gl_env_t *env)
{
    if (!env->prev && pool->envs != env)
        return; /* not listed */
    if (env->prev)
        env->prev->next = env->next;
    else
        pool->envs = env->next;
    if (env->next)
        env->next->prev = env->prev;
    env->next = env->prev = NULL;
    pool->nenvs--;
}

static void on_grace_closed(uv_handle_t *h)
{
    gl_sched_t *s = h->data;
    void (*cb)(void *) = s->on_closed;
    void *arg = s->on_closed_arg;
    gl_rm_rf(s->run_root);
    free_sched(s);
    if (cb)
        cb(arg);
}

static void finish_close(gl_sched_t *s)
{
    while (s->pools)
        pool_free(s, s->pools);
    gl_usage_map_free(&s->usage);
    if (s->grace_timer_open) {
        s->grace_timer_open = 0;
        uv_close((uv_handle_t *)&s->grace_timer, on_grace_closed);
    }
}

static unsigned provisioned_alive(const gl_pool_t *p)
{
    unsigned n = 0;
    for (const gl_env_t *e = p->envs; e; e = e->next)
        if (e->provisioned && e->state != GL_ENV_STOPPING && e->state != GL_ENV_DEAD)
            n++;
    return n;
}

/* Start provisioned environments until the pool has its target (bounded by the target). */
static void top_up(gl_sched_t *s, gl_pool_t *p)
{
    if (s->closing || p->retired || p->provision_failed)
        return;
    for (unsigned have = provisioned_alive(p); have < p->provisioned; have++)
        if (gl_env_start(p, NULL) < 0)
            break;
}

void gl_sched_provision(gl_sched_t *s, gl_fn_t *fn, unsigned n)
{
    gl_pool_t *p = pool_for(s, fn);
    if (!p)
        return;
    p->provisioned = n;
    p->provision_failed = 0;
    p->provision_reason[0] = '\0';
    /* Fewer wanted: the extra ones become ordinary on-demand environments. */
    unsigned have = 0;
    for (gl_env_t *e = p->envs; e; e = e->next) {
        if (!e->provisioned)
            continue;
        if (have < n)
            have++;
        else
            e->provisioned = 0;
    }
    top_up(s, p);
}

unsigned gl_sched_provisioned_ready(const gl_sched_t *s, const gl_fn_t *fn)
{
    (void)s;
    const gl_pool_t *p = fn->sched;
    unsigned n = 0;
    for (const gl_env_t *e = p ? p->envs : NULL; e; e = e->next)
        if (e->provisioned && e->initialized && e->state != GL_ENV_STOPPING &&
            e->state != GL_ENV_DEAD)
            n++;
    return n;
}

int gl_sched_provisioned_failed(const gl_sched_t *s, const gl_fn_t *fn, const char **reason)
{
    (void)s;
    const gl_pool_t *p = fn->sched;
    if (!p || !p->provision_failed)
        return 0;
    if (reason)
        *reason = p->provision_reason;
    return 1;
}

void gl_pool_on_env_provision_failed(gl_pool_t *pool, const char *reason)
{
    pool->provision_failed = 1;
    snprintf(pool->provision_reason, sizeof(pool->provision_reason), "%s", reason);
}

void gl_pool_on_env_freed(gl_pool_t *pool, int was_provisioned, int initialized)
{
    gl_sched_t *s = pool->sched;
    pool->nalive--;
    s->nenvs--;
    /* A provisioned environment that had been ready died (crash, timeout, memory): replace
     * it. One whose init failed is not retried (the config is FAILED instead). */
    if (was_provisioned && initialized)
        top_up(s, pool);
    if (pool->nalive == 0 && pool->retired)
        pool_free(s, pool);
    else if (pool->nalive == 0 && pool->fn->retired)
        pool_free(s, pool);
    if (s->closing && s->nenvs == 0)
        finish_close(s);
}

static gl_fn_usage_t *usage_of(gl_sched_t *s, const char *name, int create)
{
    return create ? gl_usage_get(&s->usage, name) : gl_usage_find(&s->usage, name);
}

void gl_sched_set_reserved(gl_sched_t *s, const char *name, int n)
{
    gl_fn_usage_t *u = usage_of(s, name, 1);
    if (!u)
        return;
    if (u->reserved >= 0)
        s->total_reserved -= u->reserved;
    /* Its running invokes move between the reserved and the unreserved pools. */
    if (u->reserved < 0 && n >= 0)
        s->running_unreserved -= u->running;
    else if (u->reserved >= 0 && n < 0)
        s->running_unreserved += u->running;
    u->reserved = n < 0 ? -1 : n;
    if (u->reserved >= 0)
        s->total_reserved += u->reserved;
}

int gl_sched_reserved(const gl_sched_t *s, const char *name)
{
    const gl_fn_usage_t *u = gl_usage_find(&s->usage, name);
    return u ? u->reserved : -1;
}

unsigned gl_sched_unreserved(const gl_sched_t *s)
{
    long left = (long)s->opts.account_concurrency - s->total_reserved;
    return left > 0 ? (unsigned)left : 0;
}

void gl_sched_on_slot_free(gl_sched_t *s, void (*cb)(void *arg), void *arg)
{
    s->on_slot_free = cb;
    s->on_slot_free_arg = arg;
}

int gl_sched_submit(gl_sched_t *s, gl_invoke_t *inv)
{
    if (s->closing) {
        gl_invoke_fail(inv, "Runtime.Unknown", "galley is shutting down");
        return 0;
    }
    gl_fn_usage_t *u = usage_of(s, inv->fn->cfg.name, 1);
    /* A reservation is both a guarantee and a cap; the others share what is left. One
     * invoke at a time while a debugger is attached: one environment holds its port. */
    if (u && ((u->reserved >= 0 && u->running >= (unsigned)u->reserved) ||
              (u->debug_port && u->running >= 1))) {
        inv->throttle_reason = GL_THROTTLE_RESERVED;
        return -EAGAIN;
    }
    if (s->running >= s->opts.account_concurrency ||
        ((!u || u->reserved < 0) && s->running_unreserved >= gl_sched_unreserved(s))) {
        inv->throttle_reason = GL_THROTTLE_ACCOUNT;
        return -EAGAIN;
    }
    gl_pool_t *pool = pool_for(s, inv->fn);
    if (!pool) {
        gl_invoke_fail(inv, "Runtime.Unknown", "out of memory");
        return 0;
    }
    /* A harness's fault for this function rides on the invoke to its environment. */
    if (u && u->fault_count && (u->fault == GL_FAULT_TIMEOUT || u->fault == GL_FAULT_INIT ||
                                u->fault == GL_FAULT_CRASH)) {
        inv->fault = u->fault;
        u->fault_count--;
    }
    s->running++;
    inv->counted_in = s;
    if (u) {
        u->running++;
        if (u->reserved < 0)
            s->running_unreserved++;
        inv->usage = u;
    }
    /* Warm first: a runtime already parked in /next, else one about to call it. */
    gl_env_t *best = NULL;
    for (gl_env_t *e = pool->envs; e; e = e->next) {
        if (!gl_env_takes_work(e))
            continue;
        if (e->state == GL_ENV_IDLE && e->parked) {
            best = e;
            break;
        }
        if (!best)
            best = e;
    }
    if (best && !pool->retired && inv->fault != GL_FAULT_INIT)
        gl_env_handle(best, GL_ENV_EV_ASSIGN, inv);
    else
        gl_env_start(pool, inv); /* an injected init failure needs a cold start */
    return 0;
}

/* ---- test-harness controls ---- */

uint64_t gl_sched_idle_timeout(const gl_sched_t *s, const char *name)
{
    const gl_fn_usage_t *u = gl_usage_find(&s->usage, name);
    return u && u->idle_timeout_ms >= 0 ? (uint64_t)u->idle_timeout_ms : s->opts.idle_timeout_ms;
}

unsigned gl_sched_recycle(gl_sched_t *s, gl_fn_t *fn)
{
    (void)s;
    gl_pool_t *p = fn->sched;
    if (!p)
        return 0;
    unsigned current = p->generation++;
    unsigned n = 0;
    gl_env_t *e = p->envs, *next;
    for (; e; e = next) {
        next = e->next;
        /* one retired earlier and still on its way out is not counted again */
        if (e->generation == current && e->state != GL_ENV_STOPPING && e->state != GL_ENV_DEAD)
            n++;
        if (gl_env_takes_work(e) || e->state == GL_ENV_INITIALIZING)
            gl_env_handle(e, GL_ENV_EV_SHUTDOWN, NULL);
        /* busy ones see their old generation when they finish */
    }
    return n;
}

static void recycle_named(gl_sched_t *s, const char *name)
{
    for (gl_pool_t *p = s->pools; p; p = p->next)
        if (strcmp(p->fn->cfg.name, name) == 0)
            gl_sched_recycle(s, p->fn);
}

void gl_sched_set_idle_timeout(gl_sched_t *s, const char *name, int64_t ms)
{
    gl_fn_usage_t *u = usage_of(s, name, 1);
    if (!u)
        return;
    u->idle_timeout_ms = ms < 0 ? -1 : ms;
    /* The running timers were armed with the old value: start the idle ones afresh. */
    recycle_named(s, name);
}

void gl_sched_set_debug(gl_sched_t *s, const char *name, int port)
{
    gl_fn_usage_t *u = usage_of(s, name, 1);
    if (!u)
        return;
    u->debug_port = port > 0 && port < 65536 ? port : 0;
    recycle_named(s, name); /* the next environment starts with (or without) the debugger */
}

int gl_sched_debug_port(const gl_sched_t *s, const char *name)
{
    for (const gl_fn_usage_t *u = s->usage.list; u; u = u->next)
        if (strcmp(u->name, name) == 0)
            return u->debug_port;
    return 0;
}

int gl_sched_set_env(gl_sched_t *s, const char *const *vars)
{
    size_t n = 0;
    while (vars && vars[n])
        n++;
    char **copy = calloc(n + 1, sizeof(*copy));
    if (!copy)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        if (!(copy[i] = strdup(vars[i]))) {
            free_env_vars(copy);
            return -ENOMEM;
        }
    }
    free_env_vars(s->env_vars);
    s->env_vars = copy;
    return 0;
}

static const char *const fault_names[] = {"none", "throttle", "service", "timeout", "init",
                                          "crash"};

gl_fault_t gl_fault_parse(const char *str)
{
    for (int i = 1; i < (int)(sizeof(fault_names) / sizeof(fault_names[0])); i++)
        if (str && strcmp(str, fault_names[i]) == 0)
            return (gl_fault_t)i;
    return GL_FAULT_NONE;
}

const char *gl_fault_name(gl_fault_t f)
{
    return (unsigned)f < sizeof(fault_names) / sizeof(fault_names[0]) ? fault_names[f] : "none";
}

void gl_sched_inject(gl_sched_t *s, const char *name, gl_fault_t kind, unsigned count)
{
    gl_fn_usage_t *u = usage_of(s, name, 1);
    if (!u)
        return;
    u->fault = count ? kind : GL_FAULT_NONE;
    u->fault_count = kind == GL_FAULT_NONE ? 0 : count;
}

unsigned gl_sched_pending_fault(const gl_sched_t *s, const char *name, gl_fault_t *kind)
{
    const gl_fn_usage_t *u = gl_usage_find(&s->usage, name);
    if (u && u->fault_count) {
        if (kind)
            *kind = u->fault;
        return u->fault_count;
    }
    if (kind)
        *kind = GL_FAULT_NONE;
    return 0;
}

gl_fault_t gl_sched_take_api_fault(gl_sched_t *s, const char *name)
{
    gl_fn_usage_t *u = usage_of(s, name, 0);
    if (!u || !u->fault_count || (u->fault != GL_FAULT_THROTTLE && u->fault != GL_FAULT_SERVICE))
        return GL_FAULT_NONE;
    u->fault_count--;
    return u->fault;
}

void gl_sched_warm(gl_sched_t *s, gl_fn_t *fn, unsigned n,
                   void (*done)(unsigned ready, unsigned failed, void *arg), void *arg)
{
    gl_pool_t *p = pool_for(s, fn);
    gl_warm_t *w = calloc(1, sizeof(*w));
    if (!p || !w || s->closing || n == 0) {
        free(w);
        done(0, n, arg);
        return;
    }
    w->waiting = n + 1; /* one for this loop, so done cannot run half-way through it */
    w->done = done;
    w->arg = arg;
    for (unsigned i = 0; i < n; i++) {
        p->next_warm = w;
        if (gl_env_start(p, NULL) < 0 && p->next_warm) {
            /* not even allocated: count it failed here */
            w->failed++;
            w->waiting--;
        }
        p->next_warm = NULL;
    }
    if (--w->waiting == 0) {
        w->done(w->ready, w->failed, w->arg);
        free(w);
    }
}

void gl_pool_on_env_warm(gl_env_t *env, int ok)
{
    gl_warm_t *w = env->warm;
    if (!w)
        return;
    env->warm = NULL;
    if (ok)
        w->ready++;
    else
        w->failed++;
    if (--w->waiting == 0) {
        w->done(w->ready, w->failed, w->arg);
        free(w);
    }
}

void gl_sched_reset(gl_sched_t *s)
{
    for (gl_fn_usage_t *u = s->usage.list; u; u = u->next) {
        u->idle_timeout_ms = -1;
        u->fault = GL_FAULT_NONE;
        u->fault_count = 0;
        u->debug_port = 0;
    }
    for (gl_pool_t *p = s->pools; p; p = p->next)
        gl_sched_recycle(s, p->fn);
}

unsigned gl_sched_running(const gl_sched_t *s) { return s->running; }

unsigned gl_sched_account_concurrency(const gl_sched_t *s)
{
    return s->opts.account_concurrency;
}

static void shutdown_pool_envs(gl_pool_t *p, int only_free)
{
    gl_env_t *e = p->envs, *next;
    for (; e; e = next) {
        next = e->next;
        if (!only_free || !e->invoke)
            gl_env_handle(e, GL_ENV_EV_SHUTDOWN, NULL);
    }
}

void gl_sched_retire(gl_sched_t *s, gl_fn_t *fn)
{
    gl_pool_t *p = fn->sched;
    fn->retired = 1; /* a late submit for fn makes a pool that is retired from the start */
    if (!p)
        return;
    p->retired = 1;
    shutdown_pool_envs(p, 1);
    if (p->nalive == 0)
        pool_free(s, p);
}

static void on_grace(uv_timer_t *t)
{
    gl_sched_t *s = t->data;
    gl_log_info("shutdown: stopping %zu busy environment(s)", s->nenvs);
    for (gl_pool_t *p = s->pools; p; p = p->next)
        shutdown_pool_envs(p, 0);
}

void gl_sched_close(gl_sched_t *s, uint64_t grace_ms, void (*on_closed)(void *arg), void *arg)
{
    s->closing = 1;
    gl_spares_close(s);
    s->on_closed = on_closed;
    s->on_closed_arg = arg;
    for (gl_pool_t *p = s->pools; p; p = p->next)
        shutdown_pool_envs(p, 1);
    if (s->nenvs == 0) {
        finish_close(s);
        return;
    }
    uv_timer_start(&s->grace_timer, on_grace, grace_ms, 0);
}

size_t gl_sched_env_count(gl_sched_t *s) { return s->nenvs; }

json_t *gl_sched_envs_json(gl_sched_t *s)
{
    json_t *arr = json_array();
    for (gl_pool_t *p = s->pools; p; p = p->next)
        for (gl_env_t *e = p->envs; e; e = e->next)
            json_array_append_new(arr, gl_env_json(e));
    return arr;
}
