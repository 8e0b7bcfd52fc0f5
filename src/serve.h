/* SPDX-License-Identifier: MIT */
/*
 * serve.h: `galley serve` (serve.c) for the galley command's table in main.c.
 */
#ifndef GALLEY_SERVE_H
#define GALLEY_SERVE_H

/** `galley serve [options]`: argv[0] is "serve". Runs the daemon until SIGTERM/SIGINT and
 *  returns the exit code: 0 after a clean stop, 1 when the start failed, 2 on bad options. */
int gl_serve(int argc, char **argv);

#endif
