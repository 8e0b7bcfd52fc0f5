/* SPDX-License-Identifier: MIT */
/*
 * stamp.c: the time stamp in front of every stored log line. A stamped line is
 * "2026-12-01T23:28:44.123Z <line>": the event's time in UTC with milliseconds, fixed width,
 * then one space, so the files stay readable and sort by time within a stream. Files written
 * before stamps existed hold bare lines; a reader takes the file's time for those. The parser
 * is strict (every digit, separator and range checked), so a bare line that happens to start
 * with a date in another shape (a Node runtime's "<iso>\t<request id>") is not mistaken for
 * a stamp.
 */
#define _GNU_SOURCE /* timegm */
#include <string.h>
#include <time.h>

#include "galley/logs.h"
#include "galley/util.h"

size_t gl_logs_stamp_format(int64_t epoch_ms, char out[GL_LOGS_STAMP_LEN + 1])
{
    char iso[32];
    gl_fmt_iso8601(epoch_ms, iso, sizeof(iso));
    memcpy(out, iso, GL_LOGS_STAMP_LEN - 1);
    out[GL_LOGS_STAMP_LEN - 1] = ' ';
    out[GL_LOGS_STAMP_LEN] = '\0';
    return GL_LOGS_STAMP_LEN;
}

/* The n digits at p as a number, or -1 when one is not a digit. */
static int digits(const char *p, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '9')
            return -1;
        v = v * 10 + (p[i] - '0');
    }
    return v;
}

size_t gl_logs_stamp_parse(const char *line, size_t len, int64_t *epoch_ms)
{
    /* 0123456789012345678901234
     * YYYY-MM-DDTHH:MM:SS.mmmZ_ */
    static const struct { int at, n, lo, hi; } fields[] = {
        {0, 4, 1970, 9999}, {5, 2, 1, 12}, {8, 2, 1, 31}, {11, 2, 0, 23},
        {14, 2, 0, 59},     {17, 2, 0, 60}, {20, 3, 0, 999},
    };
    static const struct { int at; char c; } seps[] = {
        {4, '-'}, {7, '-'}, {10, 'T'}, {13, ':'}, {16, ':'}, {19, '.'}, {23, 'Z'}, {24, ' '},
    };
    int v[7];
    if (len < GL_LOGS_STAMP_LEN)
        return 0;
    for (size_t i = 0; i < sizeof(seps) / sizeof(seps[0]); i++)
        if (line[seps[i].at] != seps[i].c)
            return 0;
    for (size_t i = 0; i < 7; i++) {
        v[i] = digits(line + fields[i].at, fields[i].n);
        if (v[i] < fields[i].lo || v[i] > fields[i].hi)
            return 0;
    }
    struct tm tm = {.tm_year = v[0] - 1900, .tm_mon = v[1] - 1, .tm_mday = v[2],
                    .tm_hour = v[3], .tm_min = v[4], .tm_sec = v[5]};
    time_t t = timegm(&tm);
    if (t == (time_t)-1)
        return 0;
    if (epoch_ms)
        *epoch_ms = (int64_t)t * 1000 + v[6];
    return GL_LOGS_STAMP_LEN;
}
