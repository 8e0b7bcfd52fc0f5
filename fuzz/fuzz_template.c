/* SPDX-License-Identifier: MIT */
/*
 * fuzz_template.c: SAM / CloudFormation template loading (src/template: libyaml events into
 * the tree, intrinsics, Globals, Parameters, every property's checks) through
 * gl_template_load on a file in the scratch directory, with one parameter override.
 * A refusal must say why (err.msg); an accepted function must have a name Lambda accepts
 * (1-64 of [a-zA-Z0-9-_]: it names directories of the state dir) and a code dir.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "galley/template.h"

static char path[512];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_quiet();
    snprintf(path, sizeof(path), "%s/template.yaml", fuzz_scratch());
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const overrides[] = {"Stage=fuzz"};
    const gl_template_ctx_t ctx = {.region = "us-east-1", .account_id = "123456789012",
                                   .stack_name = "galley", .overrides = overrides,
                                   .noverrides = 1};
    gl_template_t t;
    gl_err_t err = {0};
    fuzz_write(path, data, size);
    if (gl_template_load(path, &ctx, &t, &err) < 0) {
        if (err.msg[0] == '\0' || t.nfns != 0)
            abort();
        return 0;
    }
    for (size_t i = 0; i < t.nfns; i++) {
        const char *name = t.fns[i].cfg.name;
        if (!name || !*name || strlen(name) > 64 ||
            name[strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")] ||
            !t.fns[i].cfg.code_dir) {
            fprintf(stderr, "fuzz_template: accepted function name '%s'\n", name ? name : "");
            abort();
        }
    }
    gl_template_free(&t);
    return 0;
}
