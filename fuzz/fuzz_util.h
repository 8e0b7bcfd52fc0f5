/* SPDX-License-Identifier: MIT */
/*
 * fuzz_util.h: what every fuzz target shares: a quiet daemon log, and a scratch directory per
 * process (under /dev/shm when it exists, so fsyncs cost nothing) that each run empties again.
 * Header-only, each target being one executable.
 */
#ifndef GALLEY_FUZZ_UTIL_H
#define GALLEY_FUZZ_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "galley/log.h"
#include "galley/util.h"

/* The target's scratch directory, made on first use and removed at exit. */
static char fuzz_scratch_dir[256];

static inline void fuzz_scratch_remove(void)
{
    if (fuzz_scratch_dir[0])
        gl_rm_rf(fuzz_scratch_dir);
}

static inline const char *fuzz_scratch(void)
{
    if (!fuzz_scratch_dir[0]) {
        const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(fuzz_scratch_dir, sizeof(fuzz_scratch_dir), "%s/galley-fuzz-XXXXXX", base);
        if (!mkdtemp(fuzz_scratch_dir)) {
            perror("fuzz: mkdtemp");
            abort();
        }
        atexit(fuzz_scratch_remove);
    }
    return fuzz_scratch_dir;
}

/* Nothing logs during a run: a warning per bad record would cost more than the parse. */
static inline void fuzz_quiet(void)
{
    gl_log_set_level((enum gl_log_level)(GL_LOG_ERROR + 1));
}

/* path = scratch/name, written with data; aborts when the scratch space fails (not a finding). */
static inline void fuzz_write(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f || (len && fwrite(data, 1, len, f) != len) || fclose(f) != 0) {
        perror(path);
        abort();
    }
}

#endif
