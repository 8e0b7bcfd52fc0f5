/* SPDX-License-Identifier: MIT */
/*
 * sbx.c: the daemon-wide sandbox (struct gl_sbx): what gl_sbx_open learns once at start
 * (which namespaces the kernel grants, whether to switch user and to whom, the host's
 * directories the new root reproduces, where the state dir would show) and the seccomp
 * program it builds. After open the struct is only read, by the parent and by every child,
 * except the uid range's allocation map (user.c), which the loop thread alone changes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "galley/log.h"
#include "galley/util.h"
#include "internal.h"

static const char *const top_skip[] = {"proc", "sys", "dev", "tmp", "var", "opt", ".galley-oldroot",
                                       NULL};
static const char *const var_skip[] = {"task", "runtime", "lang", NULL};

static int entries_have_dir(const sbx_entries_t *e, const char *name, size_t len)
{
    for (size_t i = 0; i < e->n; i++)
        if (!e->items[i].link && strlen(e->items[i].name) == len &&
            !memcmp(e->items[i].name, name, len))
            return 1;
    return 0;
}

/* The state dir's path in the new root when the new root shows it (it sits under a bound
 * host directory), else NULL: under /tmp, for instance, it is already out of sight. */
static int resolve_hide(gl_sbx_t *s, const char *hide_dir, gl_err_t *err)
{
    if (!hide_dir || !*hide_dir)
        return 0;
    char real[PATH_MAX];
    if (!realpath(hide_dir, real))
        return gl_err_set(err, errno, "state dir %s", hide_dir);
    const char *first = real + 1;
    size_t flen = strcspn(first, "/");
    int shown = 0;
    if (flen == 0) {
        gl_log_warn("sandbox: not hiding %s: it is the root directory", real);
    } else if (flen == 3 && !memcmp(first, "var", 3) && first[3] == '/') {
        const char *second = first + 4;
        shown = entries_have_dir(&s->var, second, strcspn(second, "/"));
    } else {
        shown = entries_have_dir(&s->top, first, flen);
    }
    if (shown && !(s->hide = strdup(real)))
        return gl_err_set(err, ENOMEM, "state dir");
    return 0;
}

/*
 * The environments' /etc/hosts: the host's lines and sandbox.localdomain on 127.0.0.1, where
 * Lambda's Telemetry and Logs API subscribers listen (their own loopback with
 * --isolate-network). Written once to <state>/sandbox-hosts, bound by each child over the
 * read-only /etc/hosts (made anew at every start: no fsync). Without it the name simply does not resolve: said, not fatal.
 */
static void make_hosts(gl_sbx_t *s, const char *state_dir)
{
    char real[PATH_MAX], *path = NULL;
    gl_buf_t text = {0};
    int rc = -ENOENT;
    if (!state_dir || !realpath(state_dir, real) || access("/etc/hosts", F_OK) < 0 ||
        !(path = gl_path_join(real, "sandbox-hosts")))
        goto out;
    if ((rc = gl_read_file("/etc/hosts", 1u << 20, &text)) < 0 && rc != -ENOENT)
        goto out;
    if (text.len && text.data[text.len - 1] != '\n')
        gl_buf_append(&text, "\n", 1);
    gl_buf_append_str(&text, "127.0.0.1\tsandbox.localdomain sandbox\n");
    if ((rc = gl_write_file_replace(path, text.data, text.len)) == 0 && chmod(path, 0644) == 0) {
        s->hosts = path;
        path = NULL;
    }
out:
    if (!s->hosts)
        gl_log_warn("sandbox: sandbox.localdomain will not resolve in environments (%s): "
                    "a Telemetry API subscriber must listen on 127.0.0.1, where galley delivers",
                    rc == -ENOENT ? "no /etc/hosts or state dir" : strerror(-rc));
    free(path);
    gl_buf_free(&text);
}

static void probe_namespaces(gl_sbx_t *s, const gl_sbx_opts_t *opts, int root)
{
    unsigned long flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS;
    if (opts->isolate_network)
        flags |= CLONE_NEWNET;
    if (!root)
        flags |= CLONE_NEWUSER;
    const char *why = NULL;
    int rc = sbx_probe_namespaces(flags, s->outer_uid, s->outer_gid, &why);
    if (rc < 0) {
        gl_log_warn("sandbox: namespaces unavailable (%s%s: %s): environments share the "
                    "host's mounts, PIDs, IPC and hostname%s",
                    root ? "" : "user namespace, ", why ? why : "probe", strerror(-rc),
                    opts->isolate_network ? "; --isolate-network has no effect" : "");
        return;
    }
    s->clone_ns = flags;
    s->userns = !root;
    s->mount_ns = 1;
    s->isolate_network = opts->isolate_network;
}

/* Who functions run as, and what that leaves unprotected: without a uid of their own, the
 * Runtime API cannot tell one environment's processes from another's. */
static void log_users(const gl_sbx_t *s)
{
    if (s->uids) {
        gl_log_info("sandbox: each environment runs as a uid of its own from %u:%u; its Runtime "
                    "API serves only that uid",
                    (unsigned)s->uids->first, (unsigned)s->uids->count);
        return;
    }
    uid_t uid = s->switch_user ? s->uid : s->outer_uid;
    if (s->switch_user)
        gl_log_info("sandbox: run-as uid %u gid %u", (unsigned)s->uid, (unsigned)s->gid);
    if (s->isolate_network)
        return; /* each Runtime API is reachable only from its environment's namespace */
    gl_log_warn("sandbox: every environment runs as uid %u (%s): any process of that uid, another "
                "environment's included, can take an environment's events and post its "
                "responses; per-environment uids need galley to run as root without --run-as "
                "(or use --isolate-network)",
                (unsigned)uid, s->switch_user ? "--run-as" : "galley's own user");
}

int gl_sbx_open(gl_sbx_t **out, const gl_sbx_opts_t *opts, gl_err_t *err)
{
    gl_sbx_opts_t defaults = {0};
    gl_sbx_t *s = NULL;
    int rc;
    if (!opts)
        opts = &defaults;
    if (!(s = calloc(1, sizeof(*s)))) {
        rc = gl_err_set(err, ENOMEM, "sandbox");
        goto fail;
    }
    s->outer_uid = geteuid();
    s->outer_gid = getegid();
    int root = s->outer_uid == 0;

    if (root && (rc = sbx_open_users(s, opts, err)) < 0)
        goto fail;
    /* With a range too: the shared user is what a spawn without an environment's own uid
     * (spec->uid 0) runs as, never root. */
    if (root) {
        const char *run_as = opts->run_as ? opts->run_as : "nobody";
        if ((rc = sbx_resolve_user(run_as, &s->uid, &s->gid, err)) < 0) {
            if (opts->run_as)
                goto fail;
            gl_log_warn("sandbox: no user \"nobody\": functions run as 65534:65534");
            s->uid = s->gid = 65534;
        }
        /* "--run-as 0:0" (what --no-sandbox passes) keeps galley's own user. */
        s->switch_user = s->uids || s->uid != s->outer_uid || s->gid != s->outer_gid;
    } else if (!root && (opts->run_as || opts->uid_count)) {
        gl_log_warn("sandbox: %s ignored: galley is not root, functions run as uid %u",
                    opts->run_as ? "--run-as" : "--uid-range", (unsigned)s->outer_uid);
    }

    if (opts->no_namespaces)
        gl_log_warn("sandbox: namespaces disabled (--no-namespaces)");
    else
        probe_namespaces(s, opts, root);
    if (s->mount_ns) {
        if ((rc = sbx_read_entries("/", top_skip, &s->top)) < 0) {
            rc = gl_err_set(err, -rc, "reading / for the sandbox root");
            goto fail;
        }
        if ((rc = sbx_read_entries("/var", var_skip, &s->var)) < 0 && rc != -ENOENT) {
            rc = gl_err_set(err, -rc, "reading /var for the sandbox root");
            goto fail;
        }
        if ((rc = resolve_hide(s, opts->hide_dir, err)) < 0)
            goto fail;
        make_hosts(s, opts->hide_dir);
    } else {
        gl_log_warn("sandbox: no mount namespace: functions see the host's files, /tmp is a "
                    "plain directory whose size galley checks after each invoke, and layers are "
                    "not at /opt: PATH, LD_LIBRARY_PATH, NODE_PATH and PYTHONPATH name their "
                    "merged directory instead");
    }

    if (opts->no_seccomp) {
        gl_log_warn("sandbox: seccomp disabled (--no-seccomp)");
    } else if ((rc = sbx_seccomp_build(&s->seccomp, err)) < 0) {
        gl_err_wrap(err, "seccomp filter");
        goto fail;
    }
    gl_log_info("sandbox: %s%s%s, %s, seccomp %s",
                s->clone_ns ? "namespaces mnt pid ipc uts" : "no namespaces",
                s->isolate_network ? " net" : "", s->userns ? " (in a user namespace)" : "",
                s->switch_user ? "functions run as a separate user"
                               : "functions run as galley's user",
                s->seccomp.len ? "on" : "off");
    log_users(s);
    sbx_check_rlimits();
    *out = s;
    return 0;
fail:
    gl_sbx_close(s);
    return rc;
}

void gl_sbx_close(gl_sbx_t *s)
{
    if (!s)
        return;
    sbx_free_entries(&s->top);
    sbx_free_entries(&s->var);
    free(s->hide);
    free(s->hosts);
    sbx_free_users(s);
    free(s->seccomp.filter);
    free(s);
}

int gl_sbx_has_mount_ns(const gl_sbx_t *s)
{
    return s && s->mount_ns;
}
