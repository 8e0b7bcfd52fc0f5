/* SPDX-License-Identifier: MIT */
/*
 * seccomp.c: the system call filter of every execution environment.
 *
 * sbx_seccomp_build runs once, in gl_sbx_open: it describes the profile with libseccomp
 * (default allow, a list of refusals), exports it as raw BPF into a memfd with
 * seccomp_export_bpf and reads it back into one malloc'd program that the daemon keeps. A
 * child, which shares that memory as a copy after clone, only passes the program to the
 * kernel: no libseccomp call and no allocation happens between clone and exec.
 *
 * The refusals follow the default profiles of container runtimes (moby, crun): calls that
 * need privileges a function never has, reach outside its environment, or widen the kernel's
 * attack surface. docs/sandbox.md gives the reason for each group.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif

/* Refused with EPERM whatever their arguments. Names that an architecture lacks are skipped
 * (libseccomp resolves each name per architecture). */
static const char *const refused[] = {
    /* file system layout: the environment's mounts are fixed before exec */
    "mount",
    "umount",
    "umount2",
    "pivot_root",
    "chroot",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "move_mount",
    "open_tree",
    "mount_setattr",
    /* namespaces: entering or creating them (clone is filtered on its flags below) */
    "setns",
    "unshare",
    /* other processes' memory */
    "ptrace",
    "process_vm_readv",
    "process_vm_writev",
    "kcmp",
    /* the kernel itself: modules, kexec, reboot, swap, eBPF, perf, accounting, quotas */
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "create_module",
    "get_kernel_syms",
    "query_module",
    "reboot",
    "swapon",
    "swapoff",
    "bpf",
    "perf_event_open",
    "acct",
    "quotactl",
    "quotactl_fd",
    "syslog",
    "lookup_dcookie",
    "sysfs",
    "_sysctl",
    "uselib",
    "ustat",
    "nfsservctl",
    "vhangup",
    "iopl",
    "ioperm",
    "vm86",
    "vm86old",
    "fanotify_init",
    /* the kernel keyring is not namespaced */
    "add_key",
    "request_key",
    "keyctl",
    /* file handles bypass path permissions (the "shocker" escape) */
    "open_by_handle_at",
    "name_to_handle_at",
    /* stalling the kernel on page faults helps exploit races */
    "userfaultfd",
    /* the host's clock */
    "clock_settime",
    "clock_settime64",
    "clock_adjtime",
    "clock_adjtime64",
    "settimeofday",
    "adjtimex",
    "stime",
    /* io_uring: a large attack surface that seccomp cannot see into; node falls back */
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
};

/* personality(2): the values allowed are those container runtimes allow: Linux (0),
 * PER_LINUX32 (0x8), UNAME26 (0x20000), both (0x20008), and the query 0xffffffff. Refused are
 * for instance READ_IMPLIES_EXEC, ADDR_NO_RANDOMIZE and other execution domains.
 * libseccomp ANDs comparisons within a rule but accepts only one per argument, so the
 * refused set is written as a union of single-comparison rules (see add_personality_rules). */
#define PERSONALITY_BITS_ALLOWED ((1ULL << 3) | (1ULL << 17))

static const unsigned long clone_ns_flags[] = {CLONE_NEWNS,    CLONE_NEWUTS, CLONE_NEWIPC,
                                               CLONE_NEWUSER,  CLONE_NEWPID, CLONE_NEWNET,
                                               CLONE_NEWCGROUP};

/*
 * Refuse personality(v) unless v is allowed. The kernel reads v as an unsigned int, so only
 * the low 32 bits count (and -1 is the query too). Let L be those bits other than the allowed
 * bits 3 and 17. v is refused when L is neither all zeros nor all ones (then, going round
 * the 30 bits in a cycle, some bit is set whose successor is clear: one rule per adjacent
 * pair), or when L is all ones but bit 3 or 17 is clear.
 */
static int add_personality_rules(scmp_filter_ctx ctx, gl_err_t *err)
{
    unsigned bits[32], n = 0;
    int rc = 0;
    for (unsigned b = 0; b < 32; b++)
        if (!(PERSONALITY_BITS_ALLOWED & (1ULL << b)))
            bits[n++] = b;
    for (unsigned i = 0; i < n && rc == 0; i++) {
        uint64_t set = 1ULL << bits[i], clear = 1ULL << bits[(i + 1) % n];
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(personality), 1,
                              SCMP_A0(SCMP_CMP_MASKED_EQ, set | clear, set));
    }
    static const uint64_t almost_query[] = {0xfffffff7, 0xfffdffff, 0xfffdfff7};
    for (unsigned i = 0; i < 3 && rc == 0; i++)
        rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(personality), 1,
                              SCMP_A0(SCMP_CMP_MASKED_EQ, 0xffffffffULL, almost_query[i]));
    return rc < 0 ? gl_err_set(err, -rc, "seccomp rule personality") : 0;
}

static int add_rules(scmp_filter_ctx ctx, gl_err_t *err)
{
    int rc;
    for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        int nr = seccomp_syscall_resolve_name(refused[i]);
        if (nr == __NR_SCMP_ERROR)
            continue; /* unknown to this libseccomp on every architecture */
        if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0)) < 0)
            return gl_err_set(err, -rc, "seccomp rule %s", refused[i]);
    }
    /* clone: threads and fork stay allowed; any namespace flag is refused. One rule per flag
     * because a rule's comparisons are ANDed. (Argument 0 holds the flags on x86 and arm.) */
    for (size_t i = 0; i < sizeof(clone_ns_flags) / sizeof(clone_ns_flags[0]); i++) {
        if ((rc = seccomp_rule_add(
                 ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
                 SCMP_A0(SCMP_CMP_MASKED_EQ, clone_ns_flags[i], clone_ns_flags[i]))) < 0)
            return gl_err_set(err, -rc, "seccomp rule clone");
    }
    /* clone3 passes its flags in memory, which seccomp cannot read: ENOSYS makes glibc and
     * others fall back to clone, whose flags are checked above. */
    if ((rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0)) < 0)
        return gl_err_set(err, -rc, "seccomp rule clone3");
    return add_personality_rules(ctx, err);
}

int sbx_seccomp_build(struct sock_fprog *out, gl_err_t *err)
{
    scmp_filter_ctx ctx = NULL;
    struct sock_filter *prog = NULL;
    int memfd = -1, rc;

    if (!(ctx = seccomp_init(SCMP_ACT_ALLOW))) {
        rc = gl_err_set(err, ENOMEM, "seccomp_init");
        goto out;
    }
    /* The 32-bit ABIs a 64-bit kernel also accepts: without them a process could make the
     * refused calls through int 0x80 (x86) or the x32 numbers. Other architectures are
     * killed by the filter's bad-architecture action. */
#if defined(__x86_64__)
    if ((rc = seccomp_arch_add(ctx, SCMP_ARCH_X86)) < 0 && rc != -EEXIST) {
        rc = gl_err_set(err, -rc, "seccomp_arch_add x86");
        goto out;
    }
    if ((rc = seccomp_arch_add(ctx, SCMP_ARCH_X32)) < 0 && rc != -EEXIST) {
        rc = gl_err_set(err, -rc, "seccomp_arch_add x32");
        goto out;
    }
#elif defined(__aarch64__)
    if ((rc = seccomp_arch_add(ctx, SCMP_ARCH_ARM)) < 0 && rc != -EEXIST) {
        rc = gl_err_set(err, -rc, "seccomp_arch_add arm");
        goto out;
    }
#endif
    /* A binary tree of syscall numbers instead of a list: fewer instructions per call, and
     * a cheaper load (the kernel runs the filter for every syscall number when it installs it,
     * to cache the ones that are always allowed). */
    if ((rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2)) < 0) {
        rc = gl_err_set(err, -rc, "seccomp optimize");
        goto out;
    }
    if ((rc = add_rules(ctx, err)) < 0)
        goto out;
    if ((memfd = memfd_create("galley-seccomp", MFD_CLOEXEC)) < 0) {
        rc = gl_err_set(err, errno, "memfd_create");
        goto out;
    }
    if ((rc = seccomp_export_bpf(ctx, memfd)) < 0) {
        rc = gl_err_set(err, -rc, "seccomp_export_bpf");
        goto out;
    }
    struct stat st;
    if (fstat(memfd, &st) < 0) {
        rc = gl_err_set(err, errno, "fstat seccomp memfd");
        goto out;
    }
    size_t n = (size_t)st.st_size / sizeof(struct sock_filter);
    if (n == 0 || n > BPF_MAXINSNS || (size_t)st.st_size % sizeof(struct sock_filter)) {
        rc = gl_err_set(err, EINVAL, "seccomp program of %lld bytes", (long long)st.st_size);
        goto out;
    }
    if (!(prog = malloc((size_t)st.st_size))) {
        rc = gl_err_set(err, ENOMEM, "seccomp program");
        goto out;
    }
    if (pread(memfd, prog, (size_t)st.st_size, 0) != st.st_size) {
        rc = gl_err_set(err, errno ? errno : EIO, "read seccomp memfd");
        goto out;
    }
    out->filter = prog;
    out->len = (unsigned short)n;
    prog = NULL;
    rc = 0;
out:
    free(prog);
    if (memfd >= 0)
        close(memfd);
    if (ctx)
        seccomp_release(ctx);
    return rc;
}

/* Child: load the program. no_new_privs is already set, which lets an unprivileged process
 * install a filter and keeps setuid binaries from gaining privileges past it. */
int sbx_child_seccomp(sbx_child_t *c)
{
    c->step = "seccomp";
    if (!c->s || c->s->seccomp.len == 0)
        return 0;
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &c->s->seccomp) == 0)
        return 0;
    if (errno == ENOSYS && prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &c->s->seccomp) == 0)
        return 0;
    return -errno;
}
