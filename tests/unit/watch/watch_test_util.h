/* SPDX-License-Identifier: MIT */
/*
 * watch_test_util.h: helpers the watch module's unit tests share (static, one copy per test
 * executable): a loop run bounded by a timer, and writing a file in a watched directory.
 * Include after <cmocka.h> and the headers it needs.
 */
#ifndef GALLEY_TESTS_WATCH_TEST_UTIL_H
#define GALLEY_TESTS_WATCH_TEST_UTIL_H

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "galley/util.h"

static inline void watch_test_on_stop(uv_timer_t *t)
{
    uv_stop(t->loop);
}

/* Run the loop for about ms milliseconds (a watcher's handles keep it alive), then close the
 * timer and let its close callback run, so the loop holds nothing of ours afterwards. */
static inline void watch_test_run_for(uv_loop_t *loop, uint64_t ms)
{
    uv_timer_t t;
    uv_timer_init(loop, &t);
    uv_timer_start(&t, watch_test_on_stop, ms, 0);
    uv_run(loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
}

/* Create or truncate dir/name and write text to it. */
static inline void watch_test_write_file(const char *dir, const char *name, const char *text)
{
    char *p = gl_path_join(dir, name);
    assert_non_null(p);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    free(p);
}

#endif
