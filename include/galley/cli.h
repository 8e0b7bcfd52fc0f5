/* SPDX-License-Identifier: MIT */
/*
 * cli.h: the client side of the galley command (`galley ps`, ...): a small blocking HTTP/1.1
 * client for a running daemon, and one entry point per subcommand.
 */
#ifndef GALLEY_CLI_H
#define GALLEY_CLI_H

#include <stddef.h>

#include "galley/buf.h"

#define GL_CLI_DEFAULT_ENDPOINT "http://127.0.0.1:3001"

/**
 * One request to endpoint ("http://host:port", no path) with a body (may be NULL). Returns
 * the HTTP status (>= 100) with the body in *out, or a negative errno (connection refused,
 * malformed reply, timeout after timeout_ms).
 */
int gl_cli_request(const char *endpoint, const char *method, const char *path, const char *body,
                   size_t body_len, int timeout_ms, gl_buf_t *out);

/** `galley ps [--endpoint URL] [--json]`; argv[0] is "ps". Returns the exit code. */
int gl_cli_ps(int argc, char **argv);

#endif
