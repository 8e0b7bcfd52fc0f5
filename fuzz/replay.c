/* SPDX-License-Identifier: MIT */
/*
 * replay.c: main() for a fuzz target built without libFuzzer (gcc, or GALLEY_FUZZ off): runs
 * LLVMFuzzerTestOneInput once on every file named, or on every file of every directory named,
 * so ctest replays the seed corpora and the regression inputs in the normal and sanitizer
 * builds. Exits non-zero when an argument cannot be read; a finding crashes as it would
 * under libFuzzer.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "galley/buf.h"
#include "galley/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static int run_file(const char *path)
{
    gl_buf_t b = {0};
    int rc = gl_read_file(path, 64u << 20, &b);
    if (rc < 0) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        return -1;
    }
    /* A copy of exactly the input's size, so ASan sees a read past its end. */
    uint8_t *copy = malloc(b.len ? b.len : 1);
    if (!copy) {
        gl_buf_free(&b);
        return -1;
    }
    if (b.len)
        memcpy(copy, b.data, b.len);
    LLVMFuzzerTestOneInput(copy, b.len);
    free(copy);
    gl_buf_free(&b);
    return 0;
}

static int run_dir(const char *dir, size_t *count)
{
    struct dirent **names;
    int n = scandir(dir, &names, NULL, alphasort), rc = 0;
    if (n < 0) {
        fprintf(stderr, "replay: cannot list %s\n", dir);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if (names[i]->d_name[0] != '.' && rc == 0) {
            char *path = gl_path_join(dir, names[i]->d_name);
            struct stat st;
            if (path && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
                rc = run_file(path);
                (*count)++;
            }
            free(path);
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv)
{
    size_t count = 0;
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize(&argc, &argv);
    for (int i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) < 0) {
            fprintf(stderr, "replay: %s: not found\n", argv[i]);
            return 1;
        }
        if (S_ISDIR(st.st_mode) ? run_dir(argv[i], &count) < 0 : run_file(argv[i]) < 0)
            return 1;
        if (!S_ISDIR(st.st_mode))
            count++;
    }
    printf("replay: %zu input(s) ran\n", count);
    return 0;
}
