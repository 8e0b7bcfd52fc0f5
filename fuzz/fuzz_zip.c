/* SPDX-License-Identifier: MIT */
/*
 * fuzz_zip.c: unpacking a function's zip (src/archive: libarchive reading, entry names,
 * types, modes, links, the unpacked-size limit) with gl_archive_unzip from memory into a
 * directory of the scratch space, removed after each run. The limit is 1 MiB here so bombs
 * are refused quickly. A refusal must say why and leave nothing behind; nothing may be
 * written outside the destination (the scratch directory must hold only it afterwards).
 */
#include <dirent.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "galley/archive.h"

static char dest[512];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_quiet();
    snprintf(dest, sizeof(dest), "%s/code", fuzz_scratch());
    return 0;
}

/* Entries of the scratch directory other than "." and "..". */
static int scratch_entries(void)
{
    DIR *d = opendir(fuzz_scratch());
    struct dirent *e;
    int n = 0;
    if (!d)
        abort();
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gl_archive_result_t res = {0};
    gl_err_t err = {0};
    int rc = gl_archive_unzip(data, size, dest, 1u << 20, &res, &err);
    if (rc < 0 && (err.msg[0] == '\0' || res.status == GL_ARCHIVE_OK || access(dest, F_OK) == 0))
        abort(); /* a refusal without a reason, or one that left a partial tree */
    if (scratch_entries() > (rc == 0))
        abort(); /* something was written beside the destination */
    gl_rm_rf(dest);
    return 0;
}
