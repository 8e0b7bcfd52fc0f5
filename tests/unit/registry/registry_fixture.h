/* SPDX-License-Identifier: MIT */
/*
 * registry_fixture.h: what the registry's unit tests share: a fresh temporary state dir per
 * test (state_dir, removed by fixture_teardown) and a registry opened on it. Included by one
 * test file each, so its statics are that file's own.
 */
#ifndef GALLEY_TEST_REGISTRY_FIXTURE_H
#define GALLEY_TEST_REGISTRY_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>

#include "galley/registry.h"
#include "galley/util.h"

static char state_dir[256];

/** Create state_dir as a new directory /tmp/<prefix>-XXXXXX. */
static void fixture_make_state_dir(const char *prefix)
{
    snprintf(state_dir, sizeof(state_dir), "/tmp/%s-XXXXXX", prefix);
    assert_non_null(mkdtemp(state_dir));
}

static int fixture_teardown(void **state)
{
    (void)state;
    gl_rm_rf(state_dir);
    return 0;
}

/** Open a registry on state_dir for region and account; fails the test on error. */
static gl_registry_t *fixture_open(const char *region, const char *account)
{
    gl_registry_t *r = NULL;
    gl_err_t err = {0};
    gl_registry_opts_t o = {.state_dir = state_dir, .region = region, .account_id = account};
    if (gl_registry_open(&r, &o, &err) < 0)
        fail_msg("open: %s", err.msg);
    return r;
}

#endif
