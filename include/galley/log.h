/* SPDX-License-Identifier: MIT */
/*
 * log.h: the daemon's own log (not functions' logs, see logs.h).
 * One line per call on stderr: "<ISO time> <LEVEL> <message>". Never call from a forked child.
 */
#ifndef GALLEY_LOG_H
#define GALLEY_LOG_H

enum gl_log_level { GL_LOG_DEBUG, GL_LOG_INFO, GL_LOG_WARN, GL_LOG_ERROR };

void gl_log_set_level(enum gl_log_level level);
enum gl_log_level gl_log_get_level(void);
/** Parse "debug"/"info"/"warn"/"error"; returns 0 or -EINVAL. */
int gl_log_parse_level(const char *s, enum gl_log_level *out);
void gl_log(enum gl_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define gl_log_debug(...)                                                                          \
    do {                                                                                           \
        if (gl_log_get_level() <= GL_LOG_DEBUG)                                                    \
            gl_log(GL_LOG_DEBUG, __VA_ARGS__);                                                     \
    } while (0)
#define gl_log_info(...) gl_log(GL_LOG_INFO, __VA_ARGS__)
#define gl_log_warn(...) gl_log(GL_LOG_WARN, __VA_ARGS__)
#define gl_log_error(...) gl_log(GL_LOG_ERROR, __VA_ARGS__)

#endif
