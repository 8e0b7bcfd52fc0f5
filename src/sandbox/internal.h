/* SPDX-License-Identifier: MIT */
/*
 * internal.h: what the sandbox's files share and nobody else sees: the daemon-wide sandbox
 * (struct gl_sbx, filled once by gl_sbx_open and only read afterwards), the context a child
 * carries from clone to exec, and the child's steps, one function each.
 *
 * Everything a child reads was prepared by the parent before clone: the child runs no libuv,
 * no logger, no malloc, and only walks these structures and makes system calls. A step
 * returns 0 or a negative errno and fills ctx->what with the object it failed on, so the
 * report names both ("mount /var/task: No such file or directory").
 */
#ifndef GALLEY_SANDBOX_INTERNAL_H
#define GALLEY_SANDBOX_INTERNAL_H

#include <linux/filter.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "galley/sbx.h"

/* One entry of a host directory that the new root reproduces: a directory bound read-only,
 * or a symbolic link recreated with the same target. */
typedef struct sbx_entry {
    char *name;
    char *link; /* target of a symbolic link, NULL for a directory */
} sbx_entry_t;

typedef struct sbx_entries {
    sbx_entry_t *items;
    size_t n;
} sbx_entries_t;

/* The uid range (--uid-range): one bit per uid, set while an environment holds it. The only
 * mutable part of a gl_sbx_t after open (loop thread only), hence a pointer from the const
 * struct. */
typedef struct sbx_uids {
    uint32_t first, count;
    uint32_t cursor; /* where the next search starts: round robin */
    uint32_t used;
    unsigned char *bits;
} sbx_uids_t;

struct gl_sbx {
    unsigned long clone_ns; /* CLONE_NEW* flags each environment gets (0: none) */
    int userns;             /* clone_ns includes CLONE_NEWUSER: the parent writes the maps */
    int mount_ns;           /* environments get the /var/task layout */
    int isolate_network;
    int switch_user; /* root daemon: setgroups/setgid/setuid to uid/gid */
    uid_t uid; /* the shared run-as user, when there is no range */
    gid_t gid;
    sbx_uids_t *uids; /* per-environment uids, or NULL */
    uid_t outer_uid; /* the daemon's ids, mapped into a user namespace */
    gid_t outer_gid;
    sbx_entries_t top;         /* the host's "/" minus what the layout builds itself */
    sbx_entries_t var;         /* the host's "/var" minus task, runtime, lang */
    char *hide;                /* hide_dir when the new root would show it, else NULL */
    char *hosts;               /* the environments' /etc/hosts (sandbox.localdomain), or NULL */
    struct sock_fprog seccomp; /* loaded by the child; len 0 = no filter */
};

/* What the child sends the parent on the sync socket (SOCK_SEQPACKET, so one send is one
 * message, told apart by its length): at most one SBX_MSG_LISTENER byte carrying the Runtime
 * API listener (SCM_RIGHTS), then at most one report, of the first failing step. */
#define SBX_MSG_LISTENER 'L'

/* The descriptor a spare's control socket has in the child (gl_sbx_spec_t.ctl_fd). */
#define SBX_CTL_FD 3

/* A report from child to parent on the sync socket: the first failing step. */
typedef struct sbx_report {
    int err;
    char step[32];
    char what[200];
} sbx_report_t;

/* What the child carries from clone to exec (a copy of the parent's stack frame). */
typedef struct sbx_child {
    const gl_sbx_t *s; /* NULL: plain fork/exec */
    const gl_sbx_spec_t *spec;
    int sync_fd;  /* child's end of the sync socket (close-on-exec) */
    pid_t parent; /* the daemon's pid, to notice its death outside a PID namespace */
    int in_pidns;
    int rapi_listener; /* listen on 127.0.0.1:GL_SBX_RAPI_PORT in the new network namespace */
    char tmp_opts[64]; /* mount options of /tmp and /dev/shm, formatted by the parent */
    char shm_opts[64];
    const char *step; /* the step running, for the report */
    char what[200];   /* its object (a path), for the report */
} sbx_child_t;

/* Bounded string building without malloc, for the child. Returns 0 or -ENAMETOOLONG. */
int sbx_join(char *out, size_t outlen, const char *a, const char *b);

/* ns.c: clone3 wrapper (fork-like: no stack), user namespace maps, loopback, hostname. */
pid_t sbx_clone3(unsigned long flags, int cgroup_fd, int *pidfd);
int sbx_write_id_maps(pid_t pid, uid_t outer_uid, gid_t outer_gid);
int sbx_probe_namespaces(unsigned long flags, uid_t outer_uid, gid_t outer_gid, const char **why);
int sbx_child_loopback_up(sbx_child_t *c);
int sbx_child_rapi_listener(sbx_child_t *c);
int sbx_child_hostname(sbx_child_t *c);

/* mounts.c: the host entries read once at open, and the child's new root. */
int sbx_read_entries(const char *dir, const char *const *skip, sbx_entries_t *out);
void sbx_free_entries(sbx_entries_t *e);
int sbx_child_mounts(sbx_child_t *c);

/* rlimit.c: Lambda's limits, never above the hard limit inherited (min(want, hard)). */
rlim_t sbx_rlimit_value(rlim_t want, rlim_t hard);
/* At start: warn once for each limit the daemon's hard limit keeps below Lambda's value. */
void sbx_check_rlimits(void);
int sbx_child_rlimits(sbx_child_t *c);

/* user.c: run_as parsing for the daemon, the uid range, and the child's switch. */
int sbx_resolve_user(const char *run_as, uid_t *uid, gid_t *gid, gl_err_t *err);
/* At open, for a root daemon: the range asked for (or the default when run_as is NULL). */
int sbx_open_users(gl_sbx_t *s, const gl_sbx_opts_t *opts, gl_err_t *err);
void sbx_free_users(gl_sbx_t *s);
int sbx_child_switch_user(sbx_child_t *c);

/* seccomp.c: the filter built once with libseccomp, exported as BPF; the child loads it. */
int sbx_seccomp_build(struct sock_fprog *out, gl_err_t *err);
int sbx_child_seccomp(sbx_child_t *c);

#endif
