/* SPDX-License-Identifier: MIT */
/*
 * main.c: the galley command: one table of subcommands (name, entry point, one line of help)
 * that dispatch walks, `galley help` prints, and from which the build generates the man pages
 * (`galley --man [COMMAND]`) and the shell completions (`galley --completion bash|zsh`), so
 * none of them can drift from the binary (src/cli/doc.c). The daemon itself is serve.c; the
 * client commands are src/cli. Each entry point gets argv from its own name on and returns
 * the exit code (0 success, 1 failure, 2 a usage error).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "galley/cli.h"
#include "serve.h"

static int version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("galley %s\n", GALLEY_VERSION);
    return 0;
}

static int help(int argc, char **argv);

static const gl_cli_command_t commands[] = {
    {"serve", gl_serve, "run the daemon: the Lambda API and the functions' environments"},
    {"wait", gl_cli_wait, "wait until a daemon answers (for scripts and CI)"},
    {"ps", gl_cli_ps, "live execution environments"},
    {"invoke", gl_cli_invoke, "invoke a function and print its response (and log)"},
    {"logs", gl_cli_logs, "print or follow a function's logs"},
    {"reset", gl_cli_reset, "stop every environment, clear faults, idle timeouts, debuggers"},
    {"cold", gl_cli_cold, "make a function's next invoke cold"},
    {"warm", gl_cli_warm, "start and initialize N environments of a function"},
    {"idle-timeout", gl_cli_idle_timeout, "show or set a function's idle timeout"},
    {"fault", gl_cli_fault, "show, inject or clear a function's fault"},
    {"debug", gl_cli_debug, "start a function's next environment under its runtime's debugger"},
    {"durable", gl_cli_durable, "list, show, stop, fast-forward durable executions; callbacks"},
    {"help", help, "print the commands, or a command's options (galley help COMMAND)"},
    {"version", version, "print galley's version (also --version)"},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
    fputs("usage: galley COMMAND [options]   (galley help COMMAND: the command's options)\n",
          f);
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(f, "  %-14s %s\n", commands[i].name, commands[i].help);
}

static const gl_cli_command_t *find(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(name, commands[i].name))
            return &commands[i];
    return NULL;
}

static int unknown(const char *name)
{
    fprintf(stderr, "galley: unknown command '%s'\n", name);
    usage(stderr);
    return 2;
}

/* `galley help [COMMAND]`: the command list, or that command's --help. */
static int help(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    const gl_cli_command_t *cmd = find(argv[1]);
    if (!cmd)
        return unknown(argv[1]);
    char *args[] = {argv[1], "--help", NULL};
    return cmd->run(2, args);
}

/* The build's hidden options: `--man [COMMAND]` (roff on stdout), `--man-dir DIR` (every
 * page, as DIR/galley*.1) and `--completion SHELL`. */
static int generate(int argc, char **argv)
{
    if (!strcmp(argv[1], "--man-dir")) {
        int rc = argc > 2 ? gl_cli_man_dir(argv[2], commands, NCOMMANDS, GALLEY_VERSION) : -EINVAL;
        if (rc < 0)
            fprintf(stderr, "galley --man-dir DIR: %s\n", strerror(-rc));
        return rc < 0 ? 1 : 0;
    }
    if (!strcmp(argv[1], "--man")) {
        if (gl_cli_man(stdout, commands, NCOMMANDS, argc > 2 ? argv[2] : NULL,
                       GALLEY_VERSION) < 0)
            return unknown(argv[2]);
        return 0;
    }
    if (argc < 3 || gl_cli_completion(stdout, commands, NCOMMANDS, argv[2]) < 0) {
        fputs("usage: galley --completion bash|zsh\n", stderr);
        return 2;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help"))
        name = "help";
    if (!strcmp(name, "--version"))
        name = "version";
    if (!strcmp(name, "--man") || !strcmp(name, "--man-dir") || !strcmp(name, "--completion"))
        return generate(argc, argv);
    const gl_cli_command_t *cmd = find(name);
    if (!cmd)
        return unknown(name);
    return cmd->run(argc - 1, argv + 1);
}
