/* SPDX-License-Identifier: MIT */
/*
 * serve_internal.h: what serve.c (the daemon's bring-up) and serve_opts.c (its options) share:
 * the parsed options of `galley serve`.
 */
#ifndef GALLEY_SERVE_INTERNAL_H
#define GALLEY_SERVE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#define DEFAULT_ACCOUNT "123456789012"

typedef struct serve_opts {
    char host[256];
    int port;
    const char *state_dir;
    const char *template_path;
    const char *python;
    const char *node;
    const char *runtimes_dir;
    char api_host[256];       /* --api-listen: the template's HTTP events (default :3000) */
    int api_port;
    int api_listen_given;     /* a taken default port moves; a given one is an error */
    const char *url_host;     /* --url-host: Function URL listeners bind it (NULL: 127.0.0.1) */
    const char *ready_file;   /* --ready-file: the URL written there once listening */
    const char *region;
    const char *account_id;
    double idle_timeout_s;
    int no_sandbox;
    int no_cgroups;
    unsigned spares;       /* --spares N per runtime family in use (default 1) */
    int no_spares;
    int isolate_network;
    int no_watch;
    const char *run_as;
    uint32_t uid_first, uid_count; /* --uid-range; 0: the sandbox's default */
    char self_ids[48];        /* run_as with --no-sandbox: galley's own uid:gid */
    unsigned account_concurrency;
    double async_time_scale;
    const char *overrides[64];
    size_t noverrides;
    int auth_sigv4;                       /* --auth sigv4 */
    const char *credentials[16];          /* --credentials ACCESS_KEY:SECRET, repeatable */
    size_t ncredentials;
    const char *credentials_file;         /* --credentials-file FILE */
    const char *endpoint_env[32];         /* --endpoint-env NAME=URL, repeatable */
    size_t nendpoint_env;
    char debug_fn[16][65];                /* --debug FUNCTION[:PORT], repeatable */
    int debug_port[16];
    size_t ndebug;
} serve_opts_t;

/* The credentials functions get without --auth sigv4: a role's shape, no real key. */
#define SERVE_FAKE_KEY_ID "ASIAGALLEYLOCAL00000"
#define SERVE_FAKE_SECRET "galleyLocalSecretAccessKeyNotARealOne0000"
#define SERVE_FAKE_TOKEN "galley-local-session-token"


/** Parse `galley serve`'s argv into o (defaults first). -1: go on and serve; otherwise the
 *  exit code (0 after --help, 2 on a bad option, said on stderr). */
int gl_serve_parse_opts(int argc, char **argv, serve_opts_t *o);

#endif
