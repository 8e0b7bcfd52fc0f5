/* SPDX-License-Identifier: MIT */
/*
 * serve.c: `galley serve`, the daemon: options into a serve_opts_t, then the bring-up in a
 * fixed order (process limits, interpreters and directories, registry, cgroups, sandbox,
 * scheduler, template, async queue, Lambda API, hot reload, signals), each step one function
 * that logs its own failure, then the loop, then the one teardown that closes whatever was
 * brought up in reverse. On SIGTERM/SIGINT the scheduler drains, then the API closes, then the
 * async queue, and the loop ends with no handle left (the on_*_closed chain below).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <arpa/inet.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "galley/api.h"
#include "galley/cgroup.h"
#include "galley/layers.h"
#include "galley/async.h"
#include "galley/log.h"
#include "galley/metrics.h"
#include "galley/rapi.h"
#include "galley/sbx.h"
#include "galley/registry.h"
#include "galley/sched.h"
#include "galley/template.h"
#include "galley/web.h"
#include "galley/watch.h"

#include "serve.h"
#include "serve_internal.h"

#define SHUTDOWN_GRACE_MS 5000

typedef struct daemon {
    uv_loop_t *loop;
    gl_registry_t *reg;
    gl_sched_t *sched;
    gl_api_t *api;
    gl_async_t *async;
    gl_reload_t *reload;
    gl_sbx_t *sbx;
    gl_cg_system_t *cgroups;
    char *python, *node, *runtimes, *state; /* resolved at start, malloc'd */
    int port;                               /* where the API listens */
    char token[GL_API_CONTROL_TOKEN_LEN + 1]; /* the control API's (run/control-token) */
    uv_signal_t sigterm, sigint;
    int stopping;
    json_t *http_routes; /* the template's Api/HttpApi events, each with its "Function" */
    json_t *http_urls;   /* function name -> the template's FunctionUrlConfig */
    gl_buf_t web_banner; /* their URLs and route table, printed after "listening on" */
    uv_work_t sdk_probe;  /* asks the Python interpreter where boto3 is, off the loop */
    char sdk_boto3[PATH_MAX];
} daemon_t;

static int is_executable_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0;
}

/* The first executable called name on PATH, malloc'd, or NULL. */
static char *which(const char *name)
{
    if (strchr(name, '/'))
        return is_executable_file(name) ? realpath(name, NULL) : NULL;
    const char *path = getenv("PATH");
    if (!path)
        path = "/usr/local/bin:/usr/bin:/bin";
    char *copy = strdup(path), *save = NULL, *found = NULL;
    for (char *dir = strtok_r(copy, ":", &save); dir && !found; dir = strtok_r(NULL, ":", &save)) {
        char *cand = gl_path_join(*dir ? dir : ".", name);
        if (cand && is_executable_file(cand))
            found = cand;
        else
            free(cand);
    }
    free(copy);
    return found;
}

/*
 * Resolve an interpreter once at start. A script on PATH (a pyenv or nvm shim) costs its
 * shell's start-up on every cold start, so ask it once for the real executable.
 */
static char *resolve_interpreter(const char *given, const char *name, const char *probe)
{
    char *path = which(given ? given : name);
    if (!path)
        return NULL;
    FILE *f = fopen(path, "re");
    char magic[2] = {0};
    size_t got = f ? fread(magic, 1, 2, f) : 0;
    if (f)
        fclose(f);
    if (got == 2 && magic[0] == '#' && magic[1] == '!') {
        char *cmd = NULL, line[PATH_MAX] = "";
        if (asprintf(&cmd, "'%s' %s 2>/dev/null", path, probe) >= 0) {
            FILE *p = popen(cmd, "re");
            if (p) {
                if (!fgets(line, sizeof(line), p))
                    line[0] = '\0';
                pclose(p);
            }
            free(cmd);
        }
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '/' && is_executable_file(line)) {
            gl_log_debug("%s: %s is a shim for %s", name, path, line);
            free(path);
            path = strdup(line);
        }
    }
    return path;
}

static char *resolve_runtimes_dir(const char *given)
{
    if (given)
        return realpath(given, NULL);
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            char cand[PATH_MAX + 32];
            snprintf(cand, sizeof(cand), "%s/../runtimes/python/bootstrap", exe);
            if (access(cand, R_OK) == 0) {
                snprintf(cand, sizeof(cand), "%s/../runtimes", exe);
                return realpath(cand, NULL);
            }
            snprintf(cand, sizeof(cand), "%s/../share/galley/runtimes", exe);
            if (access(cand, R_OK) == 0)
                return realpath(cand, NULL);
        }
    }
    return realpath(GALLEY_SOURCE_RUNTIMES_DIR, NULL);
}

static void on_retire(gl_fn_t *old_fn, gl_fn_t *new_fn, void *data)
{
    (void)new_fn;
    gl_sched_retire(data, old_fn);
}

static void on_async_closed(void *arg)
{
    daemon_t *d = arg;
    d->async = NULL;
    uv_close((uv_handle_t *)&d->sigterm, NULL);
    uv_close((uv_handle_t *)&d->sigint, NULL);
}

static void on_api_closed(void *arg)
{
    daemon_t *d = arg;
    d->api = NULL;
    /* Last, once no Event request can arrive: the queue's final records reach the disk and
     * events not yet done stay there for the next start. */
    if (d->async)
        gl_async_close(d->async, on_async_closed, d);
    else
        on_async_closed(d);
}

static void on_sched_closed(void *arg)
{
    daemon_t *d = arg;
    d->sched = NULL;
    /* Every environment is gone: remove galley's cgroup folder (closes its timer). */
    gl_cg_system_close(d->cgroups);
    d->cgroups = NULL;
    gl_log_info("every environment stopped");
    if (d->api)
        gl_api_close(d->api, on_api_closed, d);
}

static void on_signal(uv_signal_t *h, int signum)
{
    daemon_t *d = h->data;
    if (d->stopping) {
        gl_log_warn("second signal: exiting now");
        _exit(1); /* environments die with us (parent-death signal) */
    }
    d->stopping = 1;
    gl_log_info("%s: shutting down (in-flight invokes get %d ms)", strsignal(signum),
                SHUTDOWN_GRACE_MS);
    gl_reload_close(d->reload, NULL, NULL); /* no reload while environments stop */
    d->reload = NULL;
    if (d->async)
        gl_async_stop(d->async); /* no new attempts; in-flight ones finish in the grace */
    gl_sched_close(d->sched, SHUTDOWN_GRACE_MS, on_sched_closed, d);
}

/* AutoPublishAlias: version 1 of the template function and the alias pointing at it (in
 * memory only, like the template function itself: re-created at every start). */
static int publish_template_alias(daemon_t *d, const gl_template_fn_t *f)
{
    gl_fn_t *fn = gl_registry_find(d->reg, f->logical_id), *ver = NULL;
    gl_alias_t a = {.name = f->auto_publish_alias, .description = ""};
    const gl_alias_t *stored = NULL;
    gl_aws_error_t aerr;
    if (!fn || gl_registry_publish(d->reg, fn->cfg.name, NULL, NULL, NULL, &ver, NULL, &aerr) < 0) {
        gl_log_error("template: %s: AutoPublishAlias: %s", f->logical_id,
                     fn ? aerr.msg : "not found");
        return -1;
    }
    a.function_version = ver->version;
    if (gl_registry_put_alias(d->reg, fn->cfg.name, &a, 1, 0, NULL, &stored, &aerr) < 0) {
        gl_log_error("template: %s: AutoPublishAlias %s: %s", f->logical_id, a.name, aerr.msg);
        return -1;
    }
    gl_log_info("template: %s: published version %s, alias %s", fn->cfg.name, ver->version,
                a.name);
    if (f->provisioned > 0) {
        gl_err_t err = {0};
        if (gl_registry_set_provisioned(d->reg, fn->cfg.name, a.name, f->provisioned, &err) < 0)
            gl_log_error("template: %s: ProvisionedConcurrencyConfig: %s", f->logical_id, err.msg);
    }
    return 0;
}

/* A template function's HTTP side, served once the API is up (start_web). */
static void keep_http(daemon_t *d, const gl_template_fn_t *f)
{
    size_t i;
    json_t *r;
    if (f->url_config && (d->http_urls || (d->http_urls = json_object())))
        json_object_set(d->http_urls, f->cfg.name, f->url_config);
    json_array_foreach(f->routes, i, r) {
        if (!d->http_routes && !(d->http_routes = json_array()))
            return;
        json_t *copy = json_deep_copy(r);
        json_object_set_new(copy, "Function", json_string(f->cfg.name));
        json_array_append_new(d->http_routes, copy);
    }
}

static int load_template(daemon_t *d, const serve_opts_t *o)
{
    const char *path = o->template_path;
    if (!path) {
        if (access("template.yaml", R_OK) != 0)
            return 0;
        path = "template.yaml";
    }
    gl_template_ctx_t ctx = {
        .region = o->region,
        .account_id = o->account_id,
        .stack_name = "galley",
        .overrides = o->overrides,
        .noverrides = o->noverrides,
    };
    gl_template_t tpl = {0};
    gl_err_t err = {0};
    if (gl_template_load(path, &ctx, &tpl, &err) < 0) {
        gl_log_error("template %s: %s", path, err.msg);
        return -1;
    }
    if (gl_layers_set_template(d->reg, tpl.layers) < 0) { /* its layers as versions 1 */
        gl_log_error("template %s: out of memory", path);
        gl_template_free(&tpl);
        return -1;
    }
    gl_layers_template_digest(d->reg, d->loop, NULL, NULL); /* off the loop (layer_digest.c) */
    size_t loaded = 0;
    for (size_t i = 0; i < tpl.nfns; i++) {
        gl_template_fn_t *f = &tpl.fns[i];
        keep_http(d, f);
        if (gl_layers_template_dir(d->reg, f->cfg.name, f->layer_dirs, &f->cfg, &err) < 0 ||
            gl_registry_add_template(d->reg, &f->cfg, f->logical_id, &err) < 0) {
            gl_log_error("template %s: %s: %s", path, f->logical_id, err.msg);
            gl_template_free(&tpl);
            return -1;
        }
        if (f->auto_publish_alias && publish_template_alias(d, f) < 0) {
            gl_template_free(&tpl);
            return -1;
        }
        loaded++;
    }
    gl_template_free(&tpl);
    gl_log_info("loaded %zu function(s) from %s", loaded, path);
    return 0;
}


/* Descriptors the daemon keeps for itself (listeners, clients, state files) when it says
 * how many environments its limit allows. */
#define SERVE_FDS_RESERVED 256u

/* SIGPIPE off (a client gone mid-reply is an error return, not a death), and the descriptor
 * limit raised: each environment holds about six (listener, connection, pipes, pidfd, log
 * stream), so lift the soft limit to the hard one so a busy daemon does not run out, and say
 * how many environments that allows. */
static void prepare_process(void)
{
    signal(SIGPIPE, SIG_IGN);
    struct rlimit nofile;
    if (getrlimit(RLIMIT_NOFILE, &nofile) != 0)
        return;
    if (nofile.rlim_cur < nofile.rlim_max) {
        nofile.rlim_cur = nofile.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &nofile) != 0)
            getrlimit(RLIMIT_NOFILE, &nofile);
    }
    unsigned long lim = nofile.rlim_cur == RLIM_INFINITY ? 1ul << 20 : (unsigned long)nofile.rlim_cur;
    unsigned long spare = lim > SERVE_FDS_RESERVED ? lim - SERVE_FDS_RESERVED : 0;
    gl_log_info("descriptor limit %lu allows about %lu environments (%u descriptors each)", lim,
                spare / GL_ENV_FDS_EACH, GL_ENV_FDS_EACH);
}

/* Whether the directory that would hold path exists and is writable (errno says why not). */
static int is_writable_dir_of(const char *path)
{
    char *copy = strdup(path), *slash = copy ? strrchr(copy, '/') : NULL;
    const char *dir = !slash ? "." : slash == copy ? "/" : (*slash = '\0', copy);
    int ok = copy && access(dir, W_OK | X_OK) == 0;
    free(copy);
    return ok;
}

/*
 * One line saying which AWS SDK each runtime offers its functions: boto3 from the Python
 * interpreter's own site-packages (where it finds it without importing it), the AWS SDK for
 * JavaScript v3 from <runtimes>/nodejs/node_modules (scripts/install-deps --node-sdk). Asking
 * the interpreter is a whole Python start-up (30 to 70 ms), so it runs on libuv's work queue
 * once the daemon is up, and the line comes a moment after "galley listening".
 */
static void on_sdk_probe(uv_work_t *w)
{
    daemon_t *d = w->data;
    char *cmd = NULL;
    d->sdk_boto3[0] = '\0';
    if (d->python && asprintf(&cmd, "'%s' -c \"import importlib.util as u; s = "
                                    "u.find_spec('boto3'); print(s.origin if s else '')\" "
                                    "2>/dev/null", d->python) >= 0) {
        FILE *p = popen(cmd, "re");
        if (p && !fgets(d->sdk_boto3, sizeof(d->sdk_boto3), p))
            d->sdk_boto3[0] = '\0';
        if (p)
            pclose(p);
        d->sdk_boto3[strcspn(d->sdk_boto3, "\r\n")] = '\0';
    }
    free(cmd);
}

static void on_sdk_probed(uv_work_t *w, int status)
{
    daemon_t *d = w->data;
    const char *boto3 = status == 0 ? d->sdk_boto3 : "";
    char *js = gl_path_join(d->runtimes, "nodejs/node_modules/@aws-sdk/client-lambda");
    int has_js = js && access(js, R_OK) == 0;
    gl_log_info("AWS SDK: python3.x functions: %s%s%s; nodejs functions: %s%s",
                boto3[0] ? "boto3 at " : "none (no boto3 for ",
                boto3[0] ? boto3 : d->python ? d->python : "python3", boto3[0] ? "" : ")",
                has_js ? "@aws-sdk/client-lambda at " : "none (scripts/install-deps --node-sdk)",
                has_js ? js : "");
    free(js);
}

static void log_sdks(daemon_t *d)
{
    d->sdk_probe.data = d;
    if (uv_queue_work(d->loop, &d->sdk_probe, on_sdk_probe, on_sdk_probed) < 0)
        gl_log_warn("AWS SDK: could not look for boto3");
}

/* Interpreters, the runtimes directory and the state directory, once. */
static int resolve_paths(daemon_t *d, const serve_opts_t *o)
{
    d->python = resolve_interpreter(o->python, "python3",
                                    "-c 'import sys; print(sys.executable)'");
    d->node = resolve_interpreter(o->node, "node", "-p process.execPath");
    d->runtimes = resolve_runtimes_dir(o->runtimes_dir);
    if (!d->runtimes) {
        gl_log_error("runtimes directory not found (use --runtimes-dir)");
        return -1;
    }
    if (gl_mkdir_p(o->state_dir, 0755) < 0 || !(d->state = realpath(o->state_dir, NULL))) {
        gl_log_error("state dir %s: %s", o->state_dir, strerror(errno));
        return -1;
    }
    /* A --ready-file that cannot be written would leave whoever polls for it waiting. */
    if (o->ready_file && (!o->ready_file[0] || !is_writable_dir_of(o->ready_file))) {
        gl_log_error("--ready-file %s: %s", o->ready_file,
                     o->ready_file[0] ? strerror(errno) : "empty path");
        return -1;
    }
    if (!d->python)
        gl_log_warn("no python3 found: python functions will fail to start (use --python)");
    if (!d->node)
        gl_log_warn("no node found: nodejs functions will fail to start (use --node)");
    gl_log_info("python: %s, node: %s, runtimes: %s, state: %s",
                d->python ? d->python : "(none)", d->node ? d->node : "(none)", d->runtimes,
                d->state);
    return 0;
}

static int open_registry(daemon_t *d, const serve_opts_t *o)
{
    gl_err_t err = {0};
    gl_registry_opts_t ropts = {.state_dir = d->state, .region = o->region,
                                .account_id = o->account_id};
    if (gl_registry_open(&d->reg, &ropts, &err) < 0) {
        gl_log_error("state dir %s: %s", d->state, err.msg);
        return -1;
    }
    return 0;
}

static int open_cgroups(daemon_t *d, const serve_opts_t *o)
{
    gl_err_t err = {0};
    const char *why = NULL;
    gl_cg_opts_t cgopts = {.force_mode = o->no_cgroups ? GL_CG_NONE : -1};
    if (gl_cg_system_open(&d->cgroups, d->loop, &cgopts, &why, &err) < 0) {
        gl_log_error("cgroups: %s", err.msg);
        return -1;
    }
    if (gl_cg_system_mode(d->cgroups) == GL_CG_NONE)
        gl_log_warn("cgroups: none (%s): memory caps are enforced approximately by an RSS "
                    "watchdog, and idle environments are frozen with SIGSTOP",
                    why ? why : "disabled");
    return 0;
}

static int open_sandbox(daemon_t *d, serve_opts_t *o)
{
    gl_err_t err = {0};
    if (o->no_sandbox && !o->run_as && !o->uid_count) {
        snprintf(o->self_ids, sizeof(o->self_ids), "%u:%u", (unsigned)geteuid(),
                 (unsigned)getegid());
        o->run_as = o->self_ids; /* no sandbox: functions run as galley's own user */
    }
    gl_sbx_opts_t sbxopts = {.no_namespaces = o->no_sandbox, .no_seccomp = o->no_sandbox,
                             .isolate_network = o->isolate_network, .run_as = o->run_as,
                             .hide_dir = d->state, .uid_first = o->uid_first,
                             .uid_count = o->uid_count};
    if (gl_sbx_open(&d->sbx, &sbxopts, &err) < 0) {
        gl_log_error("sandbox: %s", err.msg);
        return -1;
    }
    return 0;
}

/* The scheduler, and the registry's listener that retires replaced snapshots through it. */
static int open_scheduler(daemon_t *d, const serve_opts_t *o)
{
    gl_err_t err = {0};
    gl_sched_opts_t sopts = {
        .runtimes_dir = d->runtimes,
        .python = d->python ? d->python : "python3",
        .node = d->node ? d->node : "node",
        .state_dir = d->state,
        .region = o->region,
        .account_id = o->account_id,
        .idle_timeout_ms = (uint64_t)(o->idle_timeout_s * 1000),
        .init_timeout_ms = 10000,
        .account_concurrency = o->account_concurrency ? o->account_concurrency : 1000,
        .rapi = gl_rapi_handler(),
        .sbx = d->sbx,
        .cgroups = d->cgroups,
        .spares = o->no_spares ? 0 : o->spares,
    };
    if (gl_sched_new(&d->sched, d->loop, &sopts, &err) < 0) {
        gl_log_error("%s", err.msg);
        return -1;
    }
    gl_registry_listener_t listener = {.on_retire = on_retire, .data = d->sched};
    gl_registry_set_listener(d->reg, &listener);
    return 0;
}

static int open_async(daemon_t *d, const serve_opts_t *o)
{
    gl_err_t err = {0};
    gl_async_opts_t asopts = {.state_dir = d->state, .registry = d->reg, .sched = d->sched,
                              .time_scale = o->async_time_scale > 0 ? o->async_time_scale : 1};
    if (gl_async_open(&d->async, d->loop, &asopts, &err) < 0) {
        gl_log_error("async queue: %s", err.msg);
        return -1;
    }
    return 0;
}

/* 127.0.0.0/8, ::1 (also v4-mapped) and "localhost": only this machine can connect. */
static int is_loopback(const char *host)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (!strcmp(host, "localhost") || (inet_pton(AF_INET, host, &a4) == 1 &&
                                       (ntohl(a4.s_addr) >> 24) == 127))
        return 1;
    return inet_pton(AF_INET6, host, &a6) == 1 &&
           (IN6_IS_ADDR_LOOPBACK(&a6) ||
            (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127));
}

/* The control token first (the API refuses /_galley without it), then the listener. */
static int start_api(daemon_t *d, const serve_opts_t *o)
{
    gl_err_t err = {0};
    if (gl_api_control_token_create(d->state, d->token, &err) < 0) {
        gl_log_error("control token: %s", err.msg);
        return -1;
    }
    if (!o->auth_sigv4 && !is_loopback(o->host))
        gl_log_warn("listening on %s without --auth: anyone who can reach it can create, change "
                    "and invoke functions (use --auth sigv4 --credentials KEY:SECRET)", o->host);
    gl_api_opts_t aopts = {.host = o->host, .port = o->port, .registry = d->reg,
                           .sched = d->sched, .async = d->async, .control_token = d->token,
                           .auth_sigv4 = o->auth_sigv4, .credentials = o->credentials,
                           .ncredentials = o->ncredentials,
                           .credentials_file = o->credentials_file,
                           .state_dir = d->state, .url_host = o->url_host,
                           .time_scale = o->async_time_scale};
    if (gl_api_start(&d->api, d->loop, &aopts, &d->port, &err) < 0) {
        gl_log_error("Lambda API on %s:%d: %s", o->host, o->port, err.msg);
        return -1;
    }
    return 0;
}

/* The first key pair --auth sigv4 accepts, "KEY:SECRET" into out: --credentials, else the
 * first line of --credentials-file that is not a comment. */
static int first_credential(const serve_opts_t *o, char *out, size_t len)
{
    if (o->ncredentials) {
        snprintf(out, len, "%s", o->credentials[0]);
        return 0;
    }
    FILE *f = o->credentials_file ? fopen(o->credentials_file, "re") : NULL;
    int rc = -1;
    while (f && rc < 0 && fgets(out, (int)len, f)) {
        out[strcspn(out, "\r\n")] = '\0';
        char *p = out + strspn(out, " \t");
        if (*p && *p != '#' && strchr(p, ':')) {
            memmove(out, p, strlen(p) + 1);
            rc = 0;
        }
    }
    if (f)
        fclose(f);
    return rc;
}

/*
 * What every environment is given, once the API listens: the Lambda API's endpoint as the
 * sandbox sees it (the listen address; a wildcard one as loopback), credentials as Lambda
 * gives a role's (under --auth sigv4 the first configured key, so the function's calls are
 * accepted; fixed fake ones otherwise), --endpoint-env; and the --debug functions.
 */
/* Spares (--spares) for the runtimes of the functions loaded so far; CreateFunction and
 * updates note theirs as they come. The first start happens on the loop's first turn. */
static void start_spares(daemon_t *d)
{
    gl_fn_t **fns = NULL;
    size_t n = 0;
    if (gl_registry_list(d->reg, &fns, &n) < 0)
        return;
    for (size_t i = 0; i < n; i++)
        gl_sched_spares_note(d->sched, fns[i]->cfg.runtime);
    free(fns);
}

static int configure_environments(daemon_t *d, const serve_opts_t *o)
{
    char endpoint[320], key[512] = "", id[300], secret[300];
    const char *host = !strcmp(o->host, "0.0.0.0") ? "127.0.0.1"
                       : !strcmp(o->host, "::") ? "::1" : o->host;
    int v6 = strchr(host, ':') != NULL, rc = 0;
    snprintf(endpoint, sizeof(endpoint), "AWS_ENDPOINT_URL_LAMBDA=http://%s%s%s:%d",
             v6 ? "[" : "", host, v6 ? "]" : "", d->port);
    const char *vars[40] = {endpoint}, **v = vars + 1;
    char *colon = o->auth_sigv4 && first_credential(o, key, sizeof(key)) == 0
                      ? strchr(key, ':') : NULL;
    if (colon) {
        *colon = '\0';
        snprintf(id, sizeof(id), "AWS_ACCESS_KEY_ID=%s", key);
        snprintf(secret, sizeof(secret), "AWS_SECRET_ACCESS_KEY=%s", colon + 1);
        *v++ = id;
        *v++ = secret;
    } else {
        *v++ = "AWS_ACCESS_KEY_ID=" SERVE_FAKE_KEY_ID;
        *v++ = "AWS_SECRET_ACCESS_KEY=" SERVE_FAKE_SECRET;
        *v++ = "AWS_SESSION_TOKEN=" SERVE_FAKE_TOKEN;
    }
    for (size_t i = 0; i < o->nendpoint_env; i++)
        *v++ = o->endpoint_env[i];
    *v = NULL;
    if (gl_sched_set_env(d->sched, vars) < 0)
        rc = -1;
    if (o->isolate_network)
        gl_log_warn("--isolate-network: functions cannot reach %s (or any --endpoint-env on "
                    "the host): their network namespace has only its own loopback",
                    endpoint + strlen("AWS_ENDPOINT_URL_LAMBDA="));
    for (size_t i = 0; i < o->ndebug; i++) {
        gl_sched_set_debug(d->sched, o->debug_fn[i], o->debug_port[i]);
        gl_log_info("debug: %s's next environment starts with its debugger on 127.0.0.1:%d",
                    o->debug_fn[i], o->debug_port[i]);
    }
    if (rc < 0)
        gl_log_error("environment variables: out of memory");
    return rc;
}

static void banner(daemon_t *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void banner(daemon_t *d, const char *fmt, ...)
{
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n > 0)
        gl_buf_append(&d->web_banner, line, strlen(line));
    if (n > 1)
        gl_log_info("%.*s", n - 1, line); /* also in the log, for whoever reads that */
}

/* The template's HTTP side: each FunctionUrlConfig's URL, then the Api/HttpApi routes on
 * --api-listen (a taken default port moves to a free one), each printed. */
static int start_web(daemon_t *d, const serve_opts_t *o)
{
    gl_err_t err = {0};
    const char *name;
    json_t *cfg, *r;
    size_t i;
    int bound = 0;
    json_object_foreach(d->http_urls, name, cfg) {
        char url[320];
        if (gl_api_template_function_url(d->api, name, cfg, url, sizeof(url), &err) < 0) {
            gl_log_error("template: %s: FunctionUrlConfig: %s", name, err.msg);
            return -1;
        }
        banner(d, "galley function URL of %s: %s\n", name, url);
    }
    if (!d->http_routes)
        return 0;
    int rc = gl_web_api_start(gl_api_web(d->api), o->api_host, o->api_port, d->http_routes,
                              &bound, &err);
    if (rc < 0 && !o->api_listen_given) {
        gl_log_warn("API events on %s:%d: %s; taking a free port", o->api_host, o->api_port,
                    err.msg);
        rc = gl_web_api_start(gl_api_web(d->api), o->api_host, 0, d->http_routes, &bound, &err);
    }
    if (rc < 0) {
        gl_log_error("API events on %s:%d: %s", o->api_host, o->api_port, err.msg);
        return -1;
    }
    banner(d, "galley API events on http://%s:%d:\n", o->api_host, bound);
    json_array_foreach(d->http_routes, i, r)
        banner(d, "  %-7s %-7s %-32s -> %s\n", json_string_value(json_object_get(r, "Type")),
               json_string_value(json_object_get(r, "Method")),
               json_string_value(json_object_get(r, "Path")),
               json_string_value(json_object_get(r, "Function")));
    return 0;
}

/* Hot reload: after the template is loaded, and after the last step that can fail; a failure
 * only costs the reloads. */
static void start_reload(daemon_t *d, const serve_opts_t *o)
{
    gl_err_t err = {0};
    if (o->no_watch)
        gl_log_info("hot reload: off (--no-watch)");
    else if (gl_reload_start(&d->reload, d->loop, d->reg, d->sched, NULL, &err) < 0)
        gl_log_warn("hot reload: %s", err.msg);
}

static void start_signals(daemon_t *d)
{
    uv_signal_init(d->loop, &d->sigterm);
    uv_signal_init(d->loop, &d->sigint);
    d->sigterm.data = d->sigint.data = d;
    uv_signal_start(&d->sigterm, on_signal, SIGTERM);
    uv_signal_start(&d->sigint, on_signal, SIGINT);
}

/*
 * Say the daemon is ready: the "galley listening on URL" line harnesses read, and with
 * --ready-file the URL in that file, written to a temporary name and renamed so a reader
 * polling for it never sees it half written. A failed write is logged and costs only the file.
 */
static void announce(daemon_t *d, const serve_opts_t *o)
{
    char url[300], tmp[PATH_MAX];
    int v6 = strchr(o->host, ':') != NULL;
    snprintf(url, sizeof(url), "http://%s%s%s:%d", v6 ? "[" : "", o->host, v6 ? "]" : "",
             d->port);
    if (o->ready_file) {
        snprintf(tmp, sizeof(tmp), "%s.%d.tmp", o->ready_file, (int)getpid());
        FILE *f = fopen(tmp, "we");
        int ok = f && fprintf(f, "%s\n", url) > 0;
        if (f && fclose(f) != 0)
            ok = 0;
        if (!ok || rename(tmp, o->ready_file) < 0) {
            gl_log_error("--ready-file %s: %s", o->ready_file, strerror(errno));
            unlink(tmp);
        }
    }
    printf("galley listening on %s\n", url);
    fflush(stdout);
}

/*
 * Close what the bring-up opened, in reverse. After a clean run the on_*_closed chain has
 * already closed the scheduler, the cgroups, the API and the async queue; after a failed
 * start the scheduler (and the queue) may still be open and are closed here at once.
 */
static void close_daemon(daemon_t *d)
{
    if (d->sched) {
        if (d->async)
            gl_async_close(d->async, NULL, NULL);
        gl_sched_close(d->sched, 0, NULL, NULL);
        uv_run(d->loop, UV_RUN_DEFAULT);
    }
    if (d->cgroups) {
        gl_cg_system_close(d->cgroups);
        uv_run(d->loop, UV_RUN_DEFAULT);
    }
    gl_sbx_close(d->sbx);
    if (d->reg)
        gl_registry_free(d->reg);
    gl_metrics_default_free();
    free(d->python);
    free(d->node);
    free(d->runtimes);
    free(d->state);
}

int gl_serve(int argc, char **argv)
{
    serve_opts_t o;
    int rc = gl_serve_parse_opts(argc, argv, &o);
    if (rc >= 0)
        return rc;
    daemon_t d = {.loop = uv_default_loop()};
    rc = 1;
    prepare_process();
    if (resolve_paths(&d, &o) < 0)
        goto out;
    if (open_registry(&d, &o) < 0)
        goto out;
    /* cgroups and the sandbox before the scheduler, which spawns through both. */
    if (open_cgroups(&d, &o) < 0)
        goto out;
    if (open_sandbox(&d, &o) < 0)
        goto out;
    if (open_scheduler(&d, &o) < 0)
        goto out;
    /* Template functions and stored concurrency settings before any request can arrive. */
    if (load_template(&d, &o) < 0)
        goto out;
    gl_api_apply_concurrency(d.reg, d.sched);
    /* The async queue before the API, which enqueues Event invokes into it. */
    if (open_async(&d, &o) < 0)
        goto out;
    if (start_api(&d, &o) < 0 || start_web(&d, &o) < 0)
        goto out;
    if (configure_environments(&d, &o) < 0)
        goto out;
    start_spares(&d);
    start_reload(&d, &o);
    start_signals(&d);
    gl_async_start(d.async);
    announce(&d, &o);
    log_sdks(&d); /* here: nothing between it and uv_run can fail and free what it reads */
    if (d.web_banner.len) {
        fwrite(d.web_banner.data, 1, d.web_banner.len, stdout);
        fflush(stdout);
    }

    uv_run(d.loop, UV_RUN_DEFAULT);
    rc = uv_loop_close(d.loop) == 0 ? 0 : 1;
    if (rc)
        gl_log_warn("event loop closed with handles still open");
    gl_log_info("stopped");
    if (o.ready_file)
        unlink(o.ready_file);
out:
    close_daemon(&d);
    json_decref(d.http_routes);
    json_decref(d.http_urls);
    gl_buf_free(&d.web_banner);
    return rc;
}
