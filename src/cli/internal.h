/* SPDX-License-Identifier: MIT */
/*
 * internal.h: helpers shared inside the cli module only (the public entry points are in
 * include/galley/cli.h).
 */
#ifndef GALLEY_CLI_INTERNAL_H
#define GALLEY_CLI_INTERNAL_H

#include <getopt.h>

/** Called for each of a command's own options: c is its val, arg its optarg (or NULL). */
typedef void (*gl_cli_opt_fn)(int c, const char *arg, void *ctx);

/**
 * Parse the arguments of a command taking exactly one non-empty NAME: its own options (own,
 * ended by a {NULL} entry, at most 8; shortopts as getopt_long takes them) go to on_opt, and
 * --endpoint URL and --help are added. *endpoint is --endpoint, else $GALLEY_ENDPOINT, else
 * GL_CLI_DEFAULT_ENDPOINT; *name is NAME. Returns -1 to go on, or the exit code when the
 * command is done: 0 after printing usage on stdout (--help), 2 after printing it on stderr.
 */
int gl_cli_parse_name_args(int argc, char **argv, const char *shortopts,
                           const struct option *own, gl_cli_opt_fn on_opt, void *ctx,
                           const char *usage, const char **endpoint, const char **name);

/** The daemon's state dir: given (--state-dir) if not NULL or empty, else $GALLEY_STATE_DIR,
 *  else ".galley". */
const char *gl_cli_state_dir(const char *given);
/**
 * The control token's request header line ("X-Galley-Control-Token: ...\r\n", malloc'd) for
 * the /_galley API: the token the daemon wrote to <state_dir>/run/control-token when state_dir
 * (--state-dir) is given, else $GALLEY_CONTROL_TOKEN, else the file under $GALLEY_STATE_DIR or
 * ./.galley. NULL when none holds one (the request
 * then goes without, and the daemon's 403 says where the token lives).
 */
char *gl_cli_control_header(const char *state_dir);

#endif
