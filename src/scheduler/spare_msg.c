/* SPDX-License-Identifier: MIT */
/*
 * spare_msg.c: the pure rules of spares (spares.c keeps the processes): which runtimes have
 * them, which functions may take one, how many to start, and the specialization message a
 * spare reads from its control socket. Nothing here touches a process or the loop, so the unit
 * tests drive it directly (tests/unit/scheduler/test_spare_msg.c).
 *
 * The message is one SOCK_SEQPACKET datagram: the magic "GLSPARE1" and a NUL, then the
 * environment's variables as "NAME=value" strings, each ended by a NUL, exactly the envp a
 * fresh start of the same environment would have been given. A second datagram, the one
 * byte "G", follows once the memory limit and the files are in place (adopt() in
 * env_start.c): the spare replaces its variables while the daemon moves the code in, and
 * looks at /var/task only after "G". galley's Python and Node bootstraps
 * (runtimes/python/bootstrap, runtimes/nodejs/bootstrap) decode both.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

const char *gl_spare_family(const char *runtime)
{
    if (!runtime)
        return NULL;
    if (strncmp(runtime, "python", 6) == 0)
        return "python";
    if (strncmp(runtime, "nodejs", 6) == 0)
        return "nodejs";
    return NULL; /* provided runtimes start as they always did */
}

/*
 * Variables an interpreter (or the dynamic loader) reads once, at its own start, before any
 * line of the bootstrap runs: a spare started without them cannot take them on afterwards.
 * A function setting any of these starts a fresh process instead. TZ is not here: both
 * bootstraps re-read it (time.tzset(), Node's TZ setter); NODE_PATH and PYTHONPATH neither,
 * both bootstraps re-apply them.
 */
static int startup_variable(const char *name)
{
    static const char *const prefixes[] = {"LD_", "PYTHON", "NODE_", "UV_", "LC_", "MALLOC_",
                                           "GLIBC_", "OPENSSL_", "SSL_CERT_"};
    static const char *const exact[] = {"LANG", "LANGUAGE", "HOME", "PATH", "TMPDIR"};
    if (strcmp(name, "NODE_PATH") == 0 || strcmp(name, "PYTHONPATH") == 0)
        return 0;
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
        if (strncmp(name, prefixes[i], strlen(prefixes[i])) == 0)
            return 1;
    for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
        if (strcmp(name, exact[i]) == 0)
            return 1;
    return 0;
}

int gl_spare_env_ok(const json_t *env_vars)
{
    const char *k;
    json_t *v;
    if (!json_is_object(env_vars))
        return 1;
    json_object_foreach((json_t *)env_vars, k, v)
    {
        if (startup_variable(k))
            return 0;
    }
    return 1;
}

int gl_spare_msg_encode(char *const *envp, char **out, size_t *len)
{
    size_t n = sizeof(GL_SPARE_MAGIC); /* with its NUL */
    for (size_t i = 0; envp && envp[i]; i++)
        n += strlen(envp[i]) + 1;
    if (n > GL_SPARE_MSG_MAX)
        return -E2BIG;
    char *buf = malloc(n), *p = buf;
    if (!buf)
        return -ENOMEM;
    memcpy(p, GL_SPARE_MAGIC, sizeof(GL_SPARE_MAGIC));
    p += sizeof(GL_SPARE_MAGIC);
    for (size_t i = 0; envp && envp[i]; i++) {
        size_t l = strlen(envp[i]) + 1;
        memcpy(p, envp[i], l);
        p += l;
    }
    *out = buf;
    *len = n;
    return 0;
}

unsigned gl_spares_to_start(unsigned target, unsigned have, uint64_t mem_available,
                            uint64_t mem_floor)
{
    if (have >= target)
        return 0;
    if (mem_available < mem_floor)
        return 0; /* bounded by memory: a spare costs tens of MB; keep it for functions */
    return target - have;
}
