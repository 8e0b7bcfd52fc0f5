/* SPDX-License-Identifier: MIT */
/*
 * log.c: the daemon's own log on stderr, one line per message, with a UTC timestamp and
 * level. Single-threaded by design (the daemon is one event loop).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "galley/log.h"
#include "galley/util.h"

static enum gl_log_level current = GL_LOG_INFO;
static const char *const names[] = {"DEBUG", "INFO", "WARN", "ERROR"};

void gl_log_set_level(enum gl_log_level level) { current = level; }
enum gl_log_level gl_log_get_level(void) { return current; }

int gl_log_parse_level(const char *s, enum gl_log_level *out)
{
    static const char *const lower[] = {"debug", "info", "warn", "error"};
    for (int i = 0; i < 4; i++) {
        if (strcasecmp(s, lower[i]) == 0) {
            *out = (enum gl_log_level)i;
            return 0;
        }
    }
    return -EINVAL;
}

void gl_log(enum gl_log_level level, const char *fmt, ...)
{
    if (level < current)
        return;
    char ts[40], line[2048];
    gl_fmt_iso8601(gl_now_ms(), ts, sizeof(ts));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s %-5s %s\n", ts, names[level], line);
}
