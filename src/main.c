/* SPDX-License-Identifier: MIT */
/*
 * main.c: the galley command: one table of subcommands (name, entry point, one line of help)
 * that dispatch walks and `galley --help` prints. The daemon itself is serve.c; the client
 * commands are src/cli. Each entry point gets argv from its own name on and returns the exit
 * code (0 success, 1 failure, 2 a usage error).
 */
#include <stdio.h>
#include <string.h>

#include "galley/cli.h"
#include "serve.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} command_t;

static int version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("galley %s\n", GALLEY_VERSION);
    return 0;
}

static const command_t commands[] = {
    {"serve", gl_serve, "run the daemon: the Lambda API and the functions' environments"},
    {"ps", gl_cli_ps, "live execution environments"},
    {"invoke", gl_cli_invoke, "invoke a function and print its response (and log)"},
    {"logs", gl_cli_logs, "print or follow a function's logs"},
    {"reset", gl_cli_reset, "stop every environment, clear faults and idle timeouts"},
    {"cold", gl_cli_cold, "make a function's next invoke cold"},
    {"warm", gl_cli_warm, "start and initialize N environments of a function"},
    {"idle-timeout", gl_cli_idle_timeout, "show or set a function's idle timeout"},
    {"fault", gl_cli_fault, "show, inject or clear a function's fault"},
    {"version", version, "print galley's version (also --version)"},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
    fputs("usage: galley COMMAND [options]   (galley COMMAND --help: the command's options)\n",
          f);
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-14s %s\n", commands[i].name, commands[i].help);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(name, "--version"))
        name = "version";
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(name, commands[i].name))
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "galley: unknown command '%s'\n", name);
    usage(stderr);
    return 2;
}
