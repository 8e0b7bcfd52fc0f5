/* SPDX-License-Identifier: MIT */
/*
 * args.c: the argument parsing that `galley invoke` and `galley logs` share: their own
 * options, --endpoint and --help, one NAME, and the endpoint's default. Owns nothing past the
 * call; getopt's optind is reset at the start.
 */
#include <stdio.h>
#include <stdlib.h>

#include "galley/cli.h"
#include "internal.h"

#define OWN_MAX 8

int gl_cli_parse_name_args(int argc, char **argv, const char *shortopts,
                           const struct option *own, gl_cli_opt_fn on_opt, void *ctx,
                           const char *usage, const char **endpoint, const char **name)
{
    struct option opts[OWN_MAX + 3];
    size_t n = 0;
    for (; own[n].name && n < OWN_MAX; n++)
        opts[n] = own[n];
    opts[n++] = (struct option){"endpoint", required_argument, NULL, 'E'};
    opts[n++] = (struct option){"help", no_argument, NULL, 'h'};
    opts[n] = (struct option){NULL, 0, NULL, 0};
    *endpoint = getenv("GALLEY_ENDPOINT");
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, shortopts, opts, NULL)) != -1) {
        switch (c) {
        case 'E': *endpoint = optarg; break;
        case 'h': fputs(usage, stdout); return 0;
        case '?': fputs(usage, stderr); return 2;
        default: on_opt(c, optarg, ctx); break;
        }
    }
    if (optind != argc - 1 || !argv[optind][0]) {
        fputs(usage, stderr);
        return 2;
    }
    if (!*endpoint || !**endpoint)
        *endpoint = GL_CLI_DEFAULT_ENDPOINT;
    *name = argv[optind];
    return -1;
}
