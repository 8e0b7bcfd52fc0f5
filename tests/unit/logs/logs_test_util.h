/* SPDX-License-Identifier: MIT */
/*
 * logs_test_util.h: what the logs module's unit tests share: a temporary directory per test
 * (cmocka setup / teardown) and writing a file with its parent directories.
 */
#ifndef GALLEY_LOGS_TEST_UTIL_H
#define GALLEY_LOGS_TEST_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "galley/util.h"

typedef struct tmpdir {
    char path[64];
} tmpdir_t;

static int setup_tmp(void **state)
{
    tmpdir_t *t = calloc(1, sizeof(*t));
    snprintf(t->path, sizeof(t->path), "/tmp/gl-logs-XXXXXX");
    if (!mkdtemp(t->path))
        return -1;
    *state = t;
    return 0;
}

static int teardown_tmp(void **state)
{
    tmpdir_t *t = *state;
    gl_rm_rf(t->path);
    free(t);
    return 0;
}

/* Write text to <dir>/<rel>, creating the directories on the way. */
static inline void write_text(const char *dir, const char *rel, const char *text)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, rel);
    char *slash = strrchr(path, '/');
    *slash = '\0';
    assert_int_equal(gl_mkdir_p(path, 0755), 0);
    *slash = '/';
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

#endif
