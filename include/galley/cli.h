/* SPDX-License-Identifier: MIT */
/*
 * cli.h: the client side of the galley command (`galley ps`, ...): a small blocking HTTP/1.1
 * client for a running daemon, and one entry point per subcommand (ps, invoke, logs, and the
 * harness controls reset, cold, warm, idle-timeout, fault).
 */
#ifndef GALLEY_CLI_H
#define GALLEY_CLI_H

#include <stddef.h>
#include <stdio.h>

#include "galley/buf.h"

#define GL_CLI_DEFAULT_ENDPOINT "http://127.0.0.1:3001"

/**
 * One request to endpoint ("http://host:port", no path) with a body (may be NULL). Returns
 * the HTTP status (>= 100) with the body in *out, or a negative errno (connection refused,
 * malformed reply, timeout after timeout_ms).
 */
int gl_cli_request(const char *endpoint, const char *method, const char *path, const char *body,
                   size_t body_len, int timeout_ms, gl_buf_t *out);

/**
 * As gl_cli_request, with extra request header lines (extra_headers: "Name: value\r\n"
 * repeated, or NULL) and, when headers_out is not NULL, the reply's header lines (after the
 * status line, each ending in CRLF) appended to it.
 */
int gl_cli_request_ex(const char *endpoint, const char *method, const char *path,
                      const char *extra_headers, const char *body, size_t body_len,
                      int timeout_ms, gl_buf_t *out, gl_buf_t *headers_out);
/** The value of header name (case-insensitive, trimmed) in a gl_cli_request_ex header block,
 *  malloc'd, or NULL when absent. */
char *gl_cli_header(const gl_buf_t *headers, const char *name);

/** `galley invoke NAME [--event FILE|-] [--qualifier Q] [--tail] [--endpoint URL]`: argv[0] is
 *  "invoke". Exit code 0 on success, 1 on a function error, an API error or no daemon. */
int gl_cli_invoke(int argc, char **argv);
/** `galley logs NAME [-f] [--since DURATION] [--state-dir DIR] [--endpoint URL]`. */
int gl_cli_logs(int argc, char **argv);
/** Parse a duration like "30s", "10m", "1h", "2d" or "1h30m" (a bare number is seconds) into
 *  seconds. 0 or -EINVAL. */
int gl_cli_parse_duration(const char *text, double *seconds);

/** Append s to out percent-encoded (all but RFC 3986's unreserved characters), for paths. */
void gl_cli_append_encoded(gl_buf_t *out, const char *s);

/** On stderr, "galley CMD: Type (HTTP n): message" for an AWS-shaped error reply: the type
 *  from x-amzn-ErrorType (or the body's Type), the message from the body. */
void gl_cli_print_api_error(const char *cmd, int status, const gl_buf_t *headers,
                            const gl_buf_t *body);

/** `galley ps [--endpoint URL] [--json]`; argv[0] is "ps". Returns the exit code. */
int gl_cli_ps(int argc, char **argv);

/*
 * The harness controls (src/cli/control.c, docs/testing.md), each one request to the daemon's
 * /_galley API; argv[0] is the subcommand's name. Each prints the JSON answer on stdout and
 * returns 0; an API error (Lambda's error name and message on stderr) or an unreachable daemon
 * returns 1; a usage error 2. Every one takes --endpoint URL (default $GALLEY_ENDPOINT, then
 * GL_CLI_DEFAULT_ENDPOINT).
 */
/** `galley reset`: every environment stopped, faults and idle timeout overrides cleared. */
int gl_cli_reset(int argc, char **argv);
/** `galley cold NAME[:Q] [--qualifier Q]`: the next invoke of the function or version is cold. */
int gl_cli_cold(int argc, char **argv);
/** `galley warm NAME[:Q] [N] [--qualifier Q]`: N environments started and initialized. */
int gl_cli_warm(int argc, char **argv);
/** `galley idle-timeout NAME [SECONDS | --default]`: show, set or unset the idle timeout. */
int gl_cli_idle_timeout(int argc, char **argv);
/** `galley fault NAME [KIND [COUNT] | --clear]`: show, inject or clear a fault. */
int gl_cli_fault(int argc, char **argv);
/** `galley debug NAME [PORT | --off]`: the function's next environment under its debugger. */
int gl_cli_debug(int argc, char **argv);
/** `galley durable list|show|history|stop|skip-waits|callback ...` (src/cli/durable.c). */
int gl_cli_durable(int argc, char **argv);

/** One of galley's commands: the table in src/main.c, which dispatch walks and from which
 *  `galley help`, the man pages and the shell completions are all generated. */
typedef struct gl_cli_command {
    const char *name;
    int (*run)(int argc, char **argv); /* argv[0] is name; returns the exit code */
    const char *help;                  /* one line, lower case, no full stop */
} gl_cli_command_t;

/**
 * What `cmd --help` prints, captured (the command runs with argv {name, "--help"} and its
 * stdout sent to a temporary file), malloc'd, or NULL on failure. Every command prints its
 * usage and options there, so man pages and completions read the same text users see.
 */
char *gl_cli_help_text(const gl_cli_command_t *cmd);

/**
 * Write a roff man page to f: galley(1) listing every command when name is NULL, else
 * galley-<name>(1) from that command's --help text. 0, or -ENOENT for an unknown name.
 */
int gl_cli_man(FILE *f, const gl_cli_command_t *cmds, size_t n, const char *name,
               const char *version);

/** Every page gl_cli_man writes, as dir/galley.1 and dir/galley-<command>.1. 0 or a
 *  negative errno (the directory must exist). */
int gl_cli_man_dir(const char *dir, const gl_cli_command_t *cmds, size_t n,
                   const char *version);

/** Write the bash ("bash") or zsh ("zsh") completion script for the commands and each one's
 *  --long options (read from its --help) to f. 0, or -EINVAL for another shell. */
int gl_cli_completion(FILE *f, const gl_cli_command_t *cmds, size_t n, const char *shell);

/** `galley wait [--endpoint URL] [--timeout SECONDS]`: poll until the daemon answers (exit 0)
 *  or the timeout passes (default 30 s; exit 1); 2 on a usage error. */
int gl_cli_wait(int argc, char **argv);

#endif
