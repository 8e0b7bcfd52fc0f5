/* SPDX-License-Identifier: MIT */
/*
 * token.c: where the galley CLI finds the daemon's control token for its /_galley requests
 * (`galley ps`, reset, cold, warm, idle-timeout, fault): the file the daemon wrote at start,
 * <state-dir>/run/control-token, for an explicit --state-dir; else $GALLEY_CONTROL_TOKEN; else
 * that file under $GALLEY_STATE_DIR or ./.galley. Owns nothing past the call.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "galley/api.h"
#include "galley/util.h"
#include "internal.h"

#define TOKEN_MAX 256

const char *gl_cli_state_dir(const char *given)
{
    const char *env = getenv("GALLEY_STATE_DIR");
    if (given && *given)
        return given;
    return env && *env ? env : ".galley";
}

/* A token is printable ASCII without blanks: nothing that could end the header line. */
static int valid_token(const char *t, size_t len)
{
    if (len == 0 || len > TOKEN_MAX)
        return 0;
    for (size_t i = 0; i < len; i++)
        if (!isgraph((unsigned char)t[i]))
            return 0;
    return 1;
}

char *gl_cli_control_header(const char *state_dir)
{
    const char *env = getenv("GALLEY_CONTROL_TOKEN");
    char *line = NULL, *path = NULL;
    gl_buf_t text = {0};
    if (env && *env && !(state_dir && *state_dir)) {
        if (valid_token(env, strlen(env)) &&
            asprintf(&line, GL_API_CONTROL_TOKEN_HEADER ": %s\r\n", env) < 0)
            line = NULL;
        return line;
    }
    if (asprintf(&path, "%s/" GL_API_CONTROL_TOKEN_FILE, gl_cli_state_dir(state_dir)) < 0)
        return NULL;
    if (gl_read_file(path, TOKEN_MAX + 2, &text) == 0 && text.data) {
        size_t len = strcspn(text.data, "\r\n");
        if (valid_token(text.data, len) &&
            asprintf(&line, GL_API_CONTROL_TOKEN_HEADER ": %.*s\r\n", (int)len, text.data) < 0)
            line = NULL;
    }
    gl_buf_free(&text);
    free(path);
    return line;
}
