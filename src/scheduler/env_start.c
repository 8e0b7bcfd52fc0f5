/* SPDX-License-Identifier: MIT */
/*
 * env_start.c: starting one execution environment: its log stream, Runtime API listener,
 * cgroup, the paths and variables the runtime sees (Lambda's /var/task, /var/runtime,
 * /var/lang and /tmp inside a mount namespace; the real paths without one), and the spawn
 * into the sandbox. gl_env_start is its steps in order (allocate and link, Runtime API
 * listener, the environment's user, /tmp, spawn); every failure fails the invoke that asked
 * for the environment with Lambda's error and releases what was made, through one path: the
 * SPAWN_FAILED event.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "galley/log.h"
#include "galley/sbx.h"
#include "internal.h"

#define MAX_ENVP 256
#define SPARE_TMP_MB 512 /* a spare's /tmp: Lambda's default, so most functions keep it */
#define SPARE_GO "G"     /* after the variables: the code is in place (spare_msg.c) */

typedef struct envp_builder {
    char *items[MAX_ENVP];
    size_t n;
} envp_builder_t;

/* What the runtime is started with, as the child sees it, and what is bound where. */
typedef struct layout {
    int inside;          /* a mount namespace: Lambda's paths */
    char *exe;
    char *argv[16];
    char *task_root;     /* LAMBDA_TASK_ROOT and the working directory */
    char *runtime_dir;   /* LAMBDA_RUNTIME_DIR */
    char *runtime_host;  /* galley's runtime, bound at /var/runtime (managed runtimes) */
    char *lang_host;     /* an interpreter's prefix outside /usr, bound at /var/lang */
    const char *tmp;     /* TMPDIR */
    const char *opt;     /* the layers as the child sees them: /opt, or their merged directory
                          * itself without a mount namespace */
} layout_t;

static void envp_set(envp_builder_t *b, const char *name, const char *value)
{
    if (!value)
        return;
    size_t nl = strlen(name);
    for (size_t i = 0; i < b->n; i++) {
        if (strncmp(b->items[i], name, nl) == 0 && b->items[i][nl] == '=') {
            free(b->items[i]);
            if (asprintf(&b->items[i], "%s=%s", name, value) < 0)
                b->items[i] = strdup("");
            return;
        }
    }
    if (b->n + 1 >= MAX_ENVP)
        return;
    if (asprintf(&b->items[b->n], "%s=%s", name, value) >= 0)
        b->n++;
}

static void envp_free(envp_builder_t *b)
{
    for (size_t i = 0; i < b->n; i++)
        free(b->items[i]);
    b->n = 0;
}

/* Lambda's search paths (PATH, LD_LIBRARY_PATH, NODE_PATH; PYTHONPATH when the function has
 * layers, for an interpreter whose version differs from the runtime's name) with the layers'
 * directories; the daemon's own LD_LIBRARY_PATH goes last. /var/lang/lib first also matters
 * to galley: an interpreter bound at /var/lang (pyenv's) may find its libpython only by an
 * absolute RUNPATH the environment's user cannot traverse, and would otherwise load the
 * system's, whose site module misses the interpreter's own site-packages (and boto3). */
static void search_paths(const gl_fn_config_t *c, envp_builder_t *b, const layout_t *l)
{
    const char *rt = l->runtime_dir ? l->runtime_dir : l->task_root;
    const char *own = getenv("LD_LIBRARY_PATH");
    char *v = NULL;
    if (asprintf(&v, "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:%s/bin", l->opt) >= 0)
        envp_set(b, "PATH", v);
    free(v);
    if (asprintf(&v, "/var/lang/lib:/lib64:/usr/lib64:%s:%s/lib:%s:%s/lib:%s/lib%s%s", rt, rt,
                 l->task_root, l->task_root, l->opt, own && *own ? ":" : "", own ? own : "") >= 0)
        envp_set(b, "LD_LIBRARY_PATH", v);
    free(v);
    if (strncmp(c->runtime, "nodejs", 6) == 0 &&
        asprintf(&v, "%s/nodejs/node%d/node_modules:%s/nodejs/node_modules:%s/node_modules:%s:%s",
                 l->opt, atoi(c->runtime + 6), l->opt, rt, rt, l->task_root) >= 0) {
        envp_set(b, "NODE_PATH", v);
        free(v);
    }
    if (strncmp(c->runtime, "python", 6) == 0 && c->opt_dir &&
        asprintf(&v, "%s/python/lib/%s/site-packages:%s/python:%s", l->opt, c->runtime, l->opt,
                 rt) >= 0) {
        envp_set(b, "PYTHONPATH", v);
        free(v);
    }
}

static void build_env(gl_env_t *env, envp_builder_t *b, const layout_t *l)
{
    const gl_fn_config_t *c = &env->fn->cfg;
    const gl_sched_opts_t *o = &env->sched->opts;
    char num[32], api[64], group[600], exec_env[96];
    /* Lambda's PATH, not the daemon's; galley's runtimes exec their interpreter by path. */
    search_paths(c, b, l);
    envp_set(b, "LANG", "en_US.UTF-8");
    envp_set(b, "TZ", ":UTC");
    /* The environment's uid has no passwd entry: without HOME, os.homedir() (which the AWS
     * SDK for JavaScript asks for its shared config) throws. /tmp is its own and writable. */
    envp_set(b, "HOME", l->tmp);
    /* The API's endpoint and credentials as Lambda gives a role's, --endpoint-env. */
    for (size_t i = 0; env->sched->env_vars && env->sched->env_vars[i]; i++) {
        const char *kv = env->sched->env_vars[i], *eq = strchr(kv, '=');
        char name[128];
        if (eq && (size_t)(eq - kv) < sizeof(name)) {
            snprintf(name, sizeof(name), "%.*s", (int)(eq - kv), kv);
            envp_set(b, name, eq + 1);
        }
    }
    if (c->env_vars) {
        const char *k;
        json_t *v;
        json_object_foreach(c->env_vars, k, v)
        {
            if (json_is_string(v))
                envp_set(b, k, json_string_value(v));
        }
    }
    /* Lambda's own variables last: reserved, they win over the function's. */
    snprintf(api, sizeof(api), "127.0.0.1:%d", env->rapi_port);
    envp_set(b, "AWS_LAMBDA_RUNTIME_API", api);
    envp_set(b, "_HANDLER", c->handler);
    envp_set(b, "LAMBDA_TASK_ROOT", l->task_root);
    envp_set(b, "LAMBDA_RUNTIME_DIR", l->runtime_dir);
    envp_set(b, "AWS_REGION", o->region);
    envp_set(b, "AWS_DEFAULT_REGION", o->region);
    if (strncmp(c->runtime, "provided", 8) != 0) {
        snprintf(exec_env, sizeof(exec_env), "AWS_Lambda_%s", c->runtime);
        envp_set(b, "AWS_EXECUTION_ENV", exec_env);
    }
    envp_set(b, "AWS_LAMBDA_FUNCTION_NAME", c->name);
    snprintf(num, sizeof(num), "%d", c->memory_mb);
    envp_set(b, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", num);
    envp_set(b, "AWS_LAMBDA_FUNCTION_VERSION", env->fn->version);
    envp_set(b, "AWS_LAMBDA_INITIALIZATION_TYPE",
             env->provisioned ? "provisioned-concurrency" : "on-demand");
    gl_env_log_group(env, group, sizeof(group));
    envp_set(b, "AWS_LAMBDA_LOG_GROUP_NAME", group);
    envp_set(b, "AWS_LAMBDA_LOG_FORMAT", gl_env_log_json(env) ? "JSON" : NULL);
    envp_set(b, "AWS_LAMBDA_LOG_LEVEL", gl_env_app_log_level(env));
    envp_set(b, "AWS_LAMBDA_LOG_STREAM_NAME", env->log_stream);
    envp_set(b, "TMPDIR", l->tmp);
    if (env->debug_port) {
        snprintf(num, sizeof(num), "%d", env->debug_port);
        envp_set(b, "GALLEY_DEBUG_PORT", num); /* galley's Python bootstrap's debugger */
    }
    b->items[b->n] = NULL;
}

static int in_system_dirs(const char *p)
{
    static const char *const sys[] = {"/usr/", "/bin/", "/sbin/", "/lib/", "/lib64/", "/opt/"};
    for (size_t i = 0; i < sizeof(sys) / sizeof(sys[0]); i++)
        if (strncmp(p, sys[i], strlen(sys[i])) == 0)
            return 1;
    return 0;
}

/*
 * The interpreter as the child sees it. Inside a mount namespace the host's system
 * directories are visible as they are; an interpreter elsewhere (pyenv's, nvm's) may sit
 * in a directory the unprivileged user cannot traverse (/root), so its prefix (the parent
 * of its bin/) is bound at /var/lang, as Lambda keeps its languages.
 */
static int place_interpreter(layout_t *l, const char *host)
{
    if (!l->inside || in_system_dirs(host)) {
        l->exe = strdup(host);
        return l->exe ? 0 : -ENOMEM;
    }
    char *copy = strdup(host);
    if (!copy)
        return -ENOMEM;
    char *slash = strrchr(copy, '/');
    char *bin = NULL;
    if (slash && slash != copy) {
        *slash = '\0';
        bin = strrchr(copy, '/');
    }
    if (!bin || bin == copy) {
        free(copy);
        l->exe = strdup(host); /* no prefix to bind: hope it is visible */
        return l->exe ? 0 : -ENOMEM;
    }
    *bin = '\0'; /* copy is now the prefix */
    l->lang_host = copy;
    if (asprintf(&l->exe, "/var/lang%s", host + strlen(copy)) < 0)
        return -ENOMEM;
    return 0;
}

/* A provided runtime under a debugger: gdbserver starts the bootstrap and waits for gdb
 * (as `sam local invoke --debug-port` does), when it is installed; otherwise say so. */
static int plan_gdbserver(gl_env_t *env, layout_t *l)
{
    static const char gdbserver[] = "/usr/bin/gdbserver";
    if (access(gdbserver, X_OK) < 0) {
        gl_env_log(env, "galley: --debug: %s is not installed; the bootstrap starts without "
                        "a debugger", gdbserver);
        return 0;
    }
    l->argv[2] = l->exe; /* the bootstrap, now gdbserver's argument */
    l->exe = strdup(gdbserver);
    free(l->argv[0]);
    l->argv[0] = strdup(gdbserver);
    char *address = NULL;
    if (asprintf(&address, "127.0.0.1:%d", env->debug_port) >= 0)
        l->argv[1] = address;
    return l->exe && l->argv[0] && l->argv[1] ? 0 : -ENOMEM;
}

/* Is dir/name a regular file? */
static int is_file(const char *dir, const char *name)
{
    char *path = gl_path_join(dir, name);
    struct stat st;
    int yes = path && stat(path, &st) == 0 && S_ISREG(st.st_mode);
    free(path);
    return yes;
}

/* Paths and command for the function's runtime; -ENOENT for a missing bootstrap. A spare
 * plans with a configuration holding only its runtime and an empty code directory. */
static int plan_layout_for(const gl_sched_opts_t *o, const gl_fn_config_t *c, gl_env_t *env,
                           layout_t *l)
{
    l->inside = o->sbx && gl_sbx_has_mount_ns(o->sbx);
    l->task_root = strdup(l->inside ? "/var/task" : c->code_dir);
    l->tmp = l->inside ? "/tmp" : env->tmp_dir;
    l->opt = l->inside || !c->opt_dir ? "/opt" : c->opt_dir;
    if (strncmp(c->runtime, "python", 6) == 0 || strncmp(c->runtime, "nodejs", 6) == 0) {
        int py = c->runtime[0] == 'p';
        l->runtime_host = gl_path_join(o->runtimes_dir, py ? "python" : "nodejs");
        l->runtime_dir = l->inside ? strdup("/var/runtime") : strdup(l->runtime_host);
        if (place_interpreter(l, py ? o->python : o->node) < 0)
            return -ENOMEM;
        int i = 0;
        l->argv[i++] = strdup(l->exe);
        if (!py && env && env->debug_port) { /* Node's inspector; Python's: its bootstrap */
            char *inspect = NULL;
            if (asprintf(&inspect, "--inspect=127.0.0.1:%d", env->debug_port) < 0)
                return -ENOMEM;
            l->argv[i++] = inspect;
        }
        l->argv[i] = gl_path_join(l->runtime_dir, "bootstrap");
        return 0;
    }
    /* provided: the bootstrap in the code root, else in the layers (/opt), as Lambda looks. */
    l->runtime_dir = strdup(l->task_root);
    int in_opt = !is_file(c->code_dir, "bootstrap");
    if (in_opt && (!c->opt_dir || !is_file(c->opt_dir, "bootstrap")))
        return -ENOENT;
    l->exe = gl_path_join(in_opt ? l->opt : l->task_root, "bootstrap");
    l->argv[0] = l->exe ? strdup(l->exe) : NULL;
    if (env && env->debug_port)
        return plan_gdbserver(env, l);
    return l->exe && l->argv[0] ? 0 : -ENOMEM;
}

static int plan_layout(gl_env_t *env, layout_t *l)
{
    return plan_layout_for(&env->sched->opts, &env->fn->cfg, env, l);
}

static void layout_free(layout_t *l)
{
    free(l->exe);
    for (int i = 0; i < 16; i++)
        free(l->argv[i]);
    free(l->task_root);
    free(l->runtime_dir);
    free(l->runtime_host);
    free(l->lang_host);
}

/* External extensions: the files in the layers' extensions/ directory (host side); Lambda
 * starts each, and one that cannot be executed is its Extension.LaunchError. */
static unsigned count_extensions(const char *opt_dir)
{
    char *dir = opt_dir ? gl_path_join(opt_dir, "extensions") : NULL;
    DIR *d = dir ? opendir(dir) : NULL;
    struct dirent *de;
    unsigned n = 0;
    while (d && (de = readdir(d))) {
        struct stat st;
        if (de->d_name[0] != '.' && fstatat(dirfd(d), de->d_name, &st, 0) == 0 &&
            S_ISREG(st.st_mode))
            n++;
    }
    if (d)
        closedir(d);
    free(dir);
    return n;
}

/*
 * The launcher, when the function has external extensions or (python, nodejs) an
 * AWS_LAMBDA_EXEC_WRAPPER: a shell in the sandbox starts each executable of /opt/extensions
 * (in name order, as Lambda) with its stdout and stderr on fd 3, a socket the daemon reads as
 * the extensions' output (env_output.c), each watched by a subshell that writes "<marker>
 * <status> <name>" to stderr when it exits (env_ext.c reads it; 126 also when the
 * environment's user cannot execute it). With only a wrapper it execs the runtime's command
 * through it (as Lambda's managed runtimes' bootstraps do). With extensions, as Lambda's init
 * phase goes (extension init, runtime init, function init), it waits until the daemon writes
 * a line on fd 3, which it does once every external extension has registered, then runs the
 * runtime as its child and stays PID 1 of the environment, so that the runtime's end does not
 * end the extensions during Lambda's shutdown phase (env.c): SIGTERM is passed on to the
 * runtime, SIGUSR1 kills it, and once stopping it waits for the extensions (a trapped signal
 * ends a wait early: hence the loops). Its exit status
 * is the runtime's (128+N: signal N, as the daemon reads it back).
 */
static const char launcher[] =
    "d=$1 m=$2 w=$3 n=$4 s= rt= st=0; shift 4\n"
    "for e in \"$d\"/*; do\n"
    "  [ -f \"$e\" ] || continue\n"
    "  [ -x \"$e\" ] || { echo \"$m 126 ${e##*/}\" >&2; continue; }\n"
    "  ( \"$e\" >&3 2>&3 3>&-; echo \"$m $? ${e##*/}\" >&2 ) &\n"
    "done\n"
    "[ -n \"$w\" ] && set -- \"$w\" \"$@\"\n"
    "[ \"$n\" -gt 0 ] || exec \"$@\"\n"
    "trap 's=1; [ -n \"$rt\" ] && kill -TERM $rt' TERM\n"
    "trap '[ -n \"$rt\" ] && kill -KILL $rt' USR1\n"
    "read -r _ <&3\n"
    "exec 3<&-\n"
    "[ -n \"$s\" ] || { \"$@\" & rt=$!; }\n"
    "while [ -n \"$rt\" ] && kill -0 $rt 2>/dev/null; do wait $rt; st=$?; done\n"
    "[ -n \"$s\" ] && until wait; do :; done\n"
    "exit $st\n";

/* The function's AWS_LAMBDA_EXEC_WRAPPER (python, nodejs), else "". */
static const char *exec_wrapper(const gl_fn_config_t *c)
{
    json_t *w = c->env_vars ? json_object_get(c->env_vars, "AWS_LAMBDA_EXEC_WRAPPER") : NULL;
    return json_is_string(w) && (strncmp(c->runtime, "python", 6) == 0 ||
                                 strncmp(c->runtime, "nodejs", 6) == 0)
               ? json_string_value(w)
               : "";
}

/* Counts the function's external extensions into env->ext.expected (read once per start:
 * plan_launcher uses the count). A spare's interpreter is already running: it cannot be
 * started after the extensions or through a wrapper, so such a function starts fresh. */
static int launcher_needed(gl_env_t *env)
{
    const gl_fn_config_t *c = &env->fn->cfg;
    env->ext.expected = count_extensions(c->opt_dir);
    return *exec_wrapper(c) || env->ext.expected > 0;
}

static int plan_launcher(gl_env_t *env, layout_t *l)
{
    const gl_fn_config_t *c = &env->fn->cfg;
    const char *wrapper = exec_wrapper(c); /* env->ext.expected: launcher_needed */
    if (!env->ext.expected && !*wrapper)
        return 0;
    gl_random_hex(env->ext.marker, 8);
    int n = 0;
    while (l->argv[n])
        n++;
    if (n + 8 > 16)
        return -E2BIG;
    memmove(l->argv + 8, l->argv, (size_t)n * sizeof(char *));
    l->argv[0] = strdup("/bin/sh");
    l->argv[1] = strdup("-c");
    l->argv[2] = strdup(launcher);
    l->argv[3] = strdup("galley-launcher");
    l->argv[4] = gl_path_join(l->opt, "extensions");
    l->argv[5] = strdup(env->ext.marker);
    l->argv[6] = strdup(wrapper);
    char num[16];
    snprintf(num, sizeof(num), "%u", env->ext.expected);
    l->argv[7] = strdup(num);
    free(l->exe);
    l->exe = strdup("/bin/sh");
    for (int i = 0; i < 8; i++)
        if (!l->argv[i])
            return -ENOMEM;
    return l->exe ? 0 : -ENOMEM;
}

static int attach_to_cgroup(pid_t pid, void *arg) { return gl_cg_attach(arg, pid); }

/* Why a step failed: the error type and message the waiting invoke gets. */
typedef struct start_error {
    const char *type;
    char msg[512];
} start_error_t;

/* Step 1: allocate the environment, open its log stream and link it into its pool. */
static gl_env_t *env_new(gl_pool_t *pool, gl_invoke_t *inv)
{
    gl_sched_t *s = pool->sched;
    gl_env_t *env = calloc(1, sizeof(*env)); /* zeroed: state is STARTING */
    gl_err_t err = {0};
    if (!env)
        return NULL;
    env->generation = pool->generation;
    if (pool->next_warm) { /* started by gl_sched_warm: on-demand, reported when ready */
        env->warm = pool->next_warm;
        pool->next_warm = NULL;
    } else {
        env->provisioned = !inv; /* no invoke waiting: provisioned concurrency */
    }
    env->sched = s;
    env->pool = pool;
    env->fn = gl_fn_ref(pool->fn);
    env->debug_port = gl_sched_debug_port(s, env->fn->cfg.name);
    env->pid = -1;
    env->pidfd = -1;
    env->log.fd = -1;
    env->state_since_ns = env->spawned_ns = gl_mono_ns();
    gl_random_hex(env->id, 16);
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    snprintf(env->log_stream, sizeof(env->log_stream), "%04d/%02d/%02d/[%s]%s", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, env->fn->version, env->id);
    char group[600];
    gl_env_log_group(env, group, sizeof(group));
    if (gl_logs_stream_open(&env->log, s->logs_root, group, env->log_stream, &err) < 0)
        gl_log_warn("env=%.8s: %s (logs for this environment are not kept)", env->id, err.msg);

    /* Link in before anything can fail, so one teardown path releases all of it. */
    gl_pool_link(pool, env);
    uv_timer_init(s->loop, &env->timer);
    env->timer.data = env;
    env->invoke = inv;
    if (inv) {
        inv->cold = 1;
        snprintf(inv->env_id, sizeof(inv->env_id), "%s", env->id);
    }
    return env;
}

/*
 * Step 2: the Runtime API listener. In a network namespace of its own the runtime cannot
 * reach the host's loopback: the sandbox makes the listener inside the namespace, on Lambda's
 * 127.0.0.1:9001, and it is served once the spawn hands it over (step 5).
 */
static int open_listener(gl_env_t *env, const char *rid, start_error_t *e)
{
    gl_sched_t *s = env->sched;
    gl_err_t err = {0};
    int isolated = gl_sbx_isolates_network(s->opts.sbx), rc;
    if (isolated)
        env->rapi_port = GL_SBX_RAPI_PORT;
    if ((rc = gl_http_server_new(&env->rapi, s->loop, &s->rapi, env)) < 0 ||
        (!isolated &&
         (rc = gl_http_server_listen(env->rapi, "127.0.0.1", 0, &env->rapi_port, &err)) < 0)) {
        snprintf(e->msg, sizeof(e->msg), "RequestId: %s Error: runtime API listener: %s", rid,
                 err.msg[0] ? err.msg : strerror(-rc));
        return rc;
    }
    return 0;
}

/* Step 3: the user the environment runs as: a uid of its own from the sandbox's range (the
 * Runtime API serves only that uid), or the user every environment shares. */
static int take_user(gl_env_t *env, const char *rid, start_error_t *e)
{
    gl_err_t err = {0};
    int rc = gl_sbx_user_acquire(env->sched->opts.sbx, &env->user, &err);
    if (rc < 0)
        snprintf(e->msg, sizeof(e->msg), "RequestId: %s Error: %s", rid, err.msg);
    return rc;
}

/* Step 4: without a mount namespace, /tmp is a directory of the environment's own, owned by
 * its user. */
static int make_tmp(gl_env_t *env, const char *rid, start_error_t *e)
{
    gl_sched_t *s = env->sched;
    char tmpname[80];
    int rc = -ENOMEM;
    if (s->opts.sbx && gl_sbx_has_mount_ns(s->opts.sbx))
        return 0;
    snprintf(tmpname, sizeof(tmpname), "%.16s/tmp", env->id);
    env->tmp_dir = gl_path_join(s->run_root, tmpname);
    if (!env->tmp_dir || (rc = gl_mkdir_p(env->tmp_dir, 0700)) < 0 ||
        (env->user.own && chown(env->tmp_dir, env->user.uid, env->user.gid) < 0 &&
         (rc = -errno) < 0)) {
        snprintf(e->msg, sizeof(e->msg),
                 "RequestId: %s Error: create /tmp for the environment: %s", rid, strerror(-rc));
        return rc;
    }
    return 0;
}

/* The isolated listener's socket did not take: kill and reap the runtime here, as a failed
 * spawn would have (it is not watched yet). */
static void kill_unwatched(gl_env_t *env)
{
    gl_sbx_kill_group(env->pid, SIGKILL);
    if (env->cg)
        gl_cg_kill(env->cg);
    while (waitpid(env->pid, NULL, 0) < 0 && errno == EINTR)
        ;
    env->reaped = 1;
}

/* Step 5: the runtime's process in the sandbox, its cgroup, output pipes and exit watch. */
static int spawn(gl_env_t *env, const char *rid, start_error_t *e)
{
    gl_sched_t *s = env->sched;
    int out_fds[2] = {-1, -1}, err_fds[2] = {-1, -1}, ext_fds[2] = {-1, -1}, rapi_fd = -1, rc;
    int isolated = gl_sbx_isolates_network(s->opts.sbx);
    layout_t l = {0};
    envp_builder_t envb = {0};
    gl_err_t err = {0};

    if ((rc = plan_layout(env, &l)) == -ENOENT) {
        e->type = "Runtime.InvalidEntrypoint";
        snprintf(e->msg, sizeof(e->msg),
                 "RequestId: %s Error: Couldn't find valid bootstrap(s): [%s/bootstrap "
                 "%s/bootstrap]",
                 rid, env->fn->cfg.code_dir, env->fn->cfg.opt_dir ? env->fn->cfg.opt_dir : "/opt");
        goto out;
    } else if (rc < 0 || (rc = plan_launcher(env, &l)) < 0) {
        snprintf(e->msg, sizeof(e->msg), "RequestId: %s Error: %s", rid, strerror(-rc));
        goto out;
    }
    if (s->opts.cgroups && (rc = gl_cg_create(s->opts.cgroups, env->id,
                                              (uint64_t)env->fn->cfg.memory_mb << 20, &env->cg,
                                              &err)) < 0) {
        snprintf(e->msg, sizeof(e->msg), "RequestId: %s Error: cgroup: %s", rid, err.msg);
        goto out;
    }
    if (pipe2(out_fds, O_CLOEXEC) < 0 || pipe2(err_fds, O_CLOEXEC) < 0 ||
        (env->ext.expected &&
         socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ext_fds) < 0)) {
        rc = -errno;
        snprintf(e->msg, sizeof(e->msg), "RequestId: %s Error: pipe: %s", rid, strerror(-rc));
        goto out;
    }
    build_env(env, &envb, &l);
    gl_sbx_spec_t spec = {
        .path = l.exe,
        .argv = l.argv,
        .envp = envb.items,
        .cwd = l.task_root,
        .uid = env->user.own ? env->user.uid : 0,
        .gid = env->user.own ? env->user.gid : 0,
        .stdout_fd = out_fds[1],
        .stderr_fd = err_fds[1],
        .code_dir = env->fn->cfg.code_dir,
        .runtime_dir = l.runtime_host,
        .lang_dir = l.lang_host,
        .opt_dir = env->fn->cfg.opt_dir,
        .tmp_mb = (unsigned)env->fn->cfg.ephemeral_mb,
        .cgroup_fd = env->cg ? gl_cg_clone_fd(env->cg) : -1,
        .before_release = env->cg ? attach_to_cgroup : NULL,
        .before_release_arg = env->cg,
        .rapi_fd = isolated ? &rapi_fd : NULL,
        .ctl_fd = ext_fds[1] > 0 ? ext_fds[1] : 0, /* the launcher's fd 3 (extensions) */
    };
    if ((rc = gl_sbx_spawn(s->opts.sbx, &spec, &env->pid, &env->pidfd, &err)) < 0) {
        if (err.code == ENOENT || err.code == EACCES)
            e->type = "Runtime.InvalidEntrypoint";
        snprintf(e->msg, sizeof(e->msg), "RequestId: %s Error: fork/exec %s: %s", rid, l.exe,
                 err.msg);
        goto out;
    }
    if (isolated && (rc = gl_http_server_listen_fd(env->rapi, rapi_fd, &err)) < 0) {
        kill_unwatched(env);
        snprintf(e->msg, sizeof(e->msg), "RequestId: %s Error: runtime API listener: %s", rid,
                 err.msg);
        goto out;
    }
    close(out_fds[1]);
    close(err_fds[1]);
    out_fds[1] = err_fds[1] = -1;
    gl_env_watch(env, out_fds[0], err_fds[0]);
    if (ext_fds[0] >= 0)
        gl_env_ext_read_output(env, ext_fds[0]);
    out_fds[0] = err_fds[0] = ext_fds[0] = -1; /* moved into the environment's pipes */
out:
    for (int i = 0; i < 2; i++) {
        int *fds[] = {&out_fds[i], &err_fds[i], &ext_fds[i]};
        for (int j = 0; j < 3; j++)
            if (*fds[j] >= 0)
                close(*fds[j]);
    }
    envp_free(&envb);
    layout_free(&l);
    return rc;
}

/*
 * Steps 3 to 5 for a cold start served by a spare (spares.c; docs/performance.md, "Spares"):
 * make the spare the function's. First, over its control socket, the variables a fresh start
 * would have been given: the spare wakes up and replaces its environment while the daemon, in
 * parallel, sets the memory limit and puts the code at /var/task and the layers at /opt (into
 * its mount namespace from outside, as it is already confined). Last, the one-byte "go"
 * (SPARE_GO), which is what lets the spare look at /var/task and import the handler: no user
 * code runs before the limit and the files are in place. Only then does the environment take
 * over the spare's process, user, cgroup and pipes. On any failure the spare is killed and
 * released here (a spare told the variables but not "go" has run no user code) and the caller
 * starts the environment afresh: a spare can make a cold start faster, never fail it.
 */
static int send_ctl(int fd, const char *msg, size_t len, const char *what, gl_err_t *err)
{
    if (send(fd, msg, len, MSG_NOSIGNAL) != (ssize_t)len)
        return gl_err_set(err, errno ? errno : EIO, "send %s", what);
    return 0;
}

static int adopt(gl_env_t *env, gl_spare_proc_t *p)
{
    gl_sched_t *s = env->sched;
    const gl_fn_config_t *c = &env->fn->cfg;
    unsigned tmp_mb = c->ephemeral_mb == SPARE_TMP_MB ? 0 : (unsigned)c->ephemeral_mb;
    layout_t l = {0};
    envp_builder_t envb = {0};
    gl_err_t err = {0};
    char *msg = NULL;
    size_t len = 0;
    int rc;

    if ((rc = plan_layout(env, &l)) < 0) {
        gl_err_set(&err, -rc, "layout");
        goto out;
    }
    build_env(env, &envb, &l);
    if ((rc = gl_spare_msg_encode(envb.items, &msg, &len)) < 0) {
        gl_err_set(&err, -rc, "specialization message");
        goto out;
    }
    if ((rc = send_ctl(p->ctl_fd, msg, len, "the specialization message", &err)) < 0 ||
        (p->cg && (rc = gl_cg_set_limit(p->cg, (uint64_t)c->memory_mb << 20, &err)) < 0) ||
        (rc = gl_sbx_specialize(s->opts.sbx, p->pidfd,
                                &(gl_sbx_place_t){c->code_dir, c->opt_dir, tmp_mb}, &err)) < 0 ||
        (rc = send_ctl(p->ctl_fd, SPARE_GO, sizeof(SPARE_GO) - 1, "go", &err)) < 0)
        goto out;
    if (p->rapi_fd >= 0) {
        rc = gl_http_server_listen_fd(env->rapi, p->rapi_fd, &err);
        p->rapi_fd = -1; /* the server took it, or closed it */
        if (rc < 0)
            goto out;
    }
    env->user = p->user; /* the environment owns all of it now: its teardown releases it */
    env->cg = p->cg;
    env->pid = p->pid;
    env->pidfd = p->pidfd;
    env->from_spare = 1;
    p->user.own = 0;
    p->cg = NULL;
    p->pid = p->pidfd = -1;
    gl_env_watch(env, p->out_fd, p->err_fd);
    p->out_fd = p->err_fd = -1; /* moved into the environment's pipes */
out:
    if (rc < 0)
        gl_log_warn("env=%.8s fn=%s: specializing spare %.8s failed (%s); starting afresh",
                    env->id, c->name, p->id, err.msg);
    gl_spare_proc_discard(s, p); /* what is left: the control socket, or all of a failed one */
    free(msg);
    envp_free(&envb);
    layout_free(&l);
    return rc;
}

/* A spare: galley's bootstrap for family in a fresh sandbox with no function: an empty
 * /var/task, no layers, no cgroup limit, and only the variables every environment has
 * (Lambda's search paths, LANG, TZ, HOME) plus GALLEY_SPARE, which makes the bootstrap warm
 * up and wait on fd 3 for its function's variables. */
int gl_env_spawn_spare(gl_sched_t *s, const char *family, gl_spare_proc_t *p, gl_err_t *err)
{
    int out_fds[2] = {-1, -1}, err_fds[2] = {-1, -1}, ctl[2] = {-1, -1}, rc;
    char *empty = gl_path_join(s->run_root, "spare-task");
    gl_fn_config_t c = {.runtime = (char *)family, .code_dir = empty};
    layout_t l = {0};
    envp_builder_t envb = {0};

    *p = (gl_spare_proc_t){.pid = -1, .pidfd = -1, .ctl_fd = -1, .out_fd = -1, .err_fd = -1,
                           .rapi_fd = -1};
    gl_random_hex(p->id, 16);
    if (!empty || (rc = gl_mkdir_p(empty, 0755)) < 0 || (rc = plan_layout_for(&s->opts, &c, NULL,
                                                                               &l)) < 0) {
        rc = gl_err_set(err, empty ? -rc : ENOMEM, "prepare a spare");
        goto out;
    }
    search_paths(&c, &envb, &l);
    envp_set(&envb, "LANG", "en_US.UTF-8");
    envp_set(&envb, "TZ", ":UTC");
    envp_set(&envb, "HOME", l.tmp);
    envp_set(&envb, "GALLEY_SPARE", "1");
    envb.items[envb.n] = NULL;
    if ((rc = gl_sbx_user_acquire(s->opts.sbx, &p->user, err)) < 0 ||
        (s->opts.cgroups && (rc = gl_cg_create(s->opts.cgroups, p->id, 0, &p->cg, err)) < 0))
        goto out;
    if (pipe2(out_fds, O_CLOEXEC) < 0 || pipe2(err_fds, O_CLOEXEC) < 0 ||
        socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) < 0) {
        rc = gl_err_set(err, errno, "pipe");
        goto out;
    }
    gl_sbx_spec_t spec = {
        .path = l.exe,
        .argv = l.argv,
        .envp = envb.items,
        .cwd = l.task_root,
        .uid = p->user.own ? p->user.uid : 0,
        .gid = p->user.own ? p->user.gid : 0,
        .stdout_fd = out_fds[1],
        .stderr_fd = err_fds[1],
        .code_dir = empty,
        .tmp_mb = SPARE_TMP_MB,
        .runtime_dir = l.runtime_host,
        .lang_dir = l.lang_host,
        .cgroup_fd = p->cg ? gl_cg_clone_fd(p->cg) : -1,
        .before_release = p->cg ? attach_to_cgroup : NULL,
        .before_release_arg = p->cg,
        .rapi_fd = gl_sbx_isolates_network(s->opts.sbx) ? &p->rapi_fd : NULL,
        .ctl_fd = ctl[1],
    };
    if ((rc = gl_sbx_spawn(s->opts.sbx, &spec, &p->pid, &p->pidfd, err)) < 0)
        goto out;
    p->out_fd = out_fds[0];
    p->err_fd = err_fds[0];
    p->ctl_fd = ctl[0];
    out_fds[0] = err_fds[0] = ctl[0] = -1; /* moved into p */
out:
    for (int i = 0; i < 2; i++) {
        int *fds[] = {&out_fds[i], &err_fds[i], &ctl[i]};
        for (int j = 0; j < 3; j++)
            if (*fds[j] >= 0)
                close(*fds[j]);
    }
    if (rc < 0)
        gl_spare_proc_discard(s, p);
    envp_free(&envb);
    layout_free(&l);
    free(empty);
    return rc;
}

int gl_env_start(gl_pool_t *pool, gl_invoke_t *inv)
{
    const char *rid = inv ? inv->request_id : "(provisioned)";
    start_error_t e = {.type = "Runtime.Unknown"};
    gl_env_t *env = env_new(pool, inv);
    int rc;
    if (!env) {
        if (inv)
            gl_invoke_fail(inv, "Runtime.Unknown", "out of memory");
        return -ENOMEM;
    }
    gl_spare_proc_t spare;
    rc = open_listener(env, rid, &e);
    if (rc == 0 && !launcher_needed(env) &&
        gl_spares_take(pool->sched, env->fn, env->debug_port, &spare) &&
        adopt(env, &spare) == 0)
        ; /* a pre-started interpreter: the fast cold start */
    else if (rc == 0 && (rc = take_user(env, rid, &e)) == 0 && (rc = make_tmp(env, rid, &e)) == 0)
        rc = spawn(env, rid, &e);
    if (rc < 0) {
        /* The one cleanup path: the invoke fails with e, the environment is torn down. */
        gl_env_handle(env, GL_ENV_EV_SPAWN_FAILED, &(gl_env_failure_t){e.type, e.msg});
        return rc;
    }
    gl_log_debug("env=%.8s fn=%s pid=%d uid=%u started%s (runtime API on port %d)", env->id,
                 env->fn->cfg.name, (int)env->pid, (unsigned)env->user.uid,
                 env->from_spare ? " from a spare" : "", env->rapi_port);
    char rv[96], rv_arn[192];
    snprintf(rv, sizeof(rv), "%s.galley", env->fn->cfg.runtime);
    snprintf(rv_arn, sizeof(rv_arn), "arn:aws:lambda:%s::runtime:galley-%s",
             pool->sched->opts.region, env->fn->cfg.runtime);
    gl_env_platform(env, "platform.initStart",
                    json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "initializationType",
                              env->provisioned ? "provisioned-concurrency" : "on-demand", "phase",
                              "init", "runtimeVersion", rv, "runtimeVersionArn", rv_arn,
                              "functionName", env->fn->cfg.name, "functionVersion",
                              env->fn->version),
                    "INIT_START Runtime Version: %s\tRuntime Version ARN: %s", rv, rv_arn);
    gl_env_handle(env, GL_ENV_EV_SPAWNED, NULL);
    if (inv && inv->fault == GL_FAULT_INIT)
        gl_env_inject_init_failure(env);
    return 0;
}
