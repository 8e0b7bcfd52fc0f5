/* SPDX-License-Identifier: MIT */
/*
 * test_metrics.c: src/metrics/metrics.c: counters per (function, version), cumulative
 * histogram buckets with inclusive upper bounds, escaping of label values, the render order
 * (sorted series, every sample under its own family's TYPE line), the scrape-time gauges and
 * the series cap (with the hash table grown many times on the way).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* cmocka.h needs the headers above. */
#include <cmocka.h>

#include "galley/metrics.h"

static char *render(gl_metrics_t *m, const gl_metrics_globals_t *g)
{
    gl_buf_t out = {0};
    assert_int_equal(gl_metrics_render(m, g, &out), 0);
    assert_non_null(out.data);
    return gl_buf_steal(&out, NULL);
}

/* The value of the sample whose name-and-labels text is exactly key, or -1 when absent. */
static double sample(const char *text, const char *key)
{
    size_t klen = strlen(key);
    for (const char *line = text; *line;) {
        const char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) : strlen(line);
        if (len > klen && !strncmp(line, key, klen) && line[klen] == ' ')
            return strtod(line + klen + 1, NULL);
        line += len + (nl ? 1 : 0);
    }
    return -1;
}

static void record(gl_metrics_t *m, const char *fn, const char *ver, double ms, int error,
                   int timeout, int cold, double init_ms)
{
    gl_metrics_invoke_t inv = {.function = fn, .version = ver, .duration_ms = ms,
                               .function_error = error, .timeout = timeout, .cold = cold,
                               .init_duration_ms = init_ms};
    gl_metrics_record_invoke(m, &inv);
}

static void test_empty_registry_has_families_and_no_series(void **state)
{
    (void)state;
    gl_metrics_t *m = gl_metrics_new();
    char *text = render(m, NULL);
    assert_non_null(strstr(text, "# TYPE galley_invocations_total counter\n"));
    assert_non_null(strstr(text, "# TYPE galley_duration_seconds histogram\n"));
    assert_non_null(strstr(text, "# TYPE galley_environments gauge\n"));
    assert_null(strstr(text, "{function="));
    assert_null(strstr(text, "galley_async_queue_depth")); /* no globals given */
    assert_true(sample(text, "galley_metrics_series_dropped_total") == 0);
    free(text);
    gl_metrics_free(m);
}

static void test_counters_per_function_and_version(void **state)
{
    (void)state;
    gl_metrics_t *m = gl_metrics_new();
    record(m, "f", "$LATEST", 10, 0, 0, 1, 120);
    record(m, "f", "$LATEST", 10, 1, 0, 0, 0);
    record(m, "f", "$LATEST", 3000, 1, 1, 0, 0);
    record(m, "f", "2", 10, 0, 0, 1, 50);
    gl_metrics_record_throttle(m, "f", "$LATEST");
    gl_metrics_record_throttle(m, "g", "$LATEST"); /* a throttle alone makes a series */
    char *text = render(m, NULL);
    assert_true(sample(text, "galley_invocations_total{function=\"f\",version=\"$LATEST\"}") == 3);
    assert_true(sample(text, "galley_errors_total{function=\"f\",version=\"$LATEST\"}") == 2);
    assert_true(sample(text, "galley_timeouts_total{function=\"f\",version=\"$LATEST\"}") == 1);
    assert_true(sample(text, "galley_cold_starts_total{function=\"f\",version=\"$LATEST\"}") == 1);
    assert_true(sample(text, "galley_throttles_total{function=\"f\",version=\"$LATEST\"}") == 1);
    assert_true(sample(text, "galley_invocations_total{function=\"f\",version=\"2\"}") == 1);
    assert_true(sample(text, "galley_cold_starts_total{function=\"f\",version=\"2\"}") == 1);
    assert_true(sample(text, "galley_throttles_total{function=\"g\",version=\"$LATEST\"}") == 1);
    assert_true(sample(text, "galley_invocations_total{function=\"g\",version=\"$LATEST\"}") == 0);
    /* init duration is observed for cold starts only */
    assert_true(
        sample(text, "galley_init_duration_seconds_count{function=\"f\",version=\"$LATEST\"}") ==
        1);
    assert_true(
        sample(text, "galley_init_duration_seconds_sum{function=\"f\",version=\"$LATEST\"}") ==
        0.12);
    free(text);
    gl_metrics_free(m);
}

static void test_histogram_buckets_are_cumulative_and_inclusive(void **state)
{
    (void)state;
    gl_metrics_t *m = gl_metrics_new();
    const double ms[] = {3, 5 /* exactly on le=0.005 */, 7, 2000, 1000000 /* above 900 s */};
    for (size_t i = 0; i < sizeof(ms) / sizeof(ms[0]); i++)
        record(m, "h", "$LATEST", ms[i], 0, 0, 0, 0);
    char *text = render(m, NULL);
#define B(le) "galley_duration_seconds_bucket{function=\"h\",version=\"$LATEST\",le=\"" le "\"}"
    assert_true(sample(text, B("0.005")) == 2);
    assert_true(sample(text, B("0.01")) == 3);
    assert_true(sample(text, B("1")) == 3);
    assert_true(sample(text, B("2.5")) == 4);
    assert_true(sample(text, B("900")) == 4);
    assert_true(sample(text, B("+Inf")) == 5);
#undef B
    assert_true(sample(text, "galley_duration_seconds_count{function=\"h\",version=\"$LATEST\"}") ==
                5);
    double sum = sample(text, "galley_duration_seconds_sum{function=\"h\",version=\"$LATEST\"}");
    assert_true(sum > 1002.0149 && sum < 1002.0151);
    /* Negative durations (a clock step) land in the first bucket instead of corrupting. */
    record(m, "neg", "$LATEST", -5, 0, 0, 0, 0);
    free(text);
    text = render(m, NULL);
    assert_true(sample(text, "galley_duration_seconds_bucket{function=\"neg\",version=\"$LATEST\","
                             "le=\"0.005\"}") == 1);
    free(text);
    gl_metrics_free(m);
}

static void test_label_values_are_escaped(void **state)
{
    (void)state;
    gl_buf_t out = {0};
    assert_int_equal(gl_metrics_append_label_value(&out, "a\"b\\c\nd"), 0);
    assert_string_equal(out.data, "\"a\\\"b\\\\c\\nd\"");
    gl_buf_reset(&out);
    assert_int_equal(gl_metrics_append_label_value(&out, ""), 0);
    assert_string_equal(out.data, "\"\"");
    gl_buf_free(&out);

    gl_metrics_t *m = gl_metrics_new();
    record(m, "x\"y", "v\n1", 1, 0, 0, 0, 0);
    char *text = render(m, NULL);
    assert_true(sample(text, "galley_invocations_total{function=\"x\\\"y\",version=\"v\\n1\"}") ==
                1);
    free(text);
    gl_metrics_free(m);
}

/* Every sample sits under the TYPE line of its own family, and each family appears once. */
static void test_samples_grouped_under_their_family(void **state)
{
    (void)state;
    gl_metrics_t *m = gl_metrics_new();
    record(m, "zeta", "$LATEST", 1, 0, 0, 1, 1);
    record(m, "alpha", "$LATEST", 1, 0, 0, 1, 1);
    record(m, "alpha", "1", 1, 0, 0, 0, 0);
    gl_metrics_globals_t g = {.running = 2, .account_concurrency = 10, .log_lines_dropped = 7,
                              .have_async = 1, .async_depth = 4, .async_oldest_age_s = 1.5};
    char *text = render(m, &g);
    char family[128] = "", seen[4096] = " ";
    const char *alpha = NULL, *alpha1 = NULL, *zeta = NULL;
    for (char *line = text, *nl; *line; line = nl + 1) {
        nl = strchr(line, '\n');
        assert_non_null(nl); /* every line ends in a newline */
        *nl = '\0';
        if (!strncmp(line, "# TYPE ", 7)) {
            assert_true(sscanf(line + 7, "%127s", family) == 1);
            char key[140];
            snprintf(key, sizeof(key), " %s ", family);
            assert_null(strstr(seen, key)); /* one TYPE line per family */
            strncat(seen, key + 1, sizeof(seen) - strlen(seen) - 1);
            continue;
        }
        if (line[0] == '#')
            continue;
        size_t flen = strlen(family);
        assert_true(flen > 0);
        assert_memory_equal(line, family, flen);
        const char *rest = line + flen;
        assert_true(*rest == '{' || *rest == ' ' || !strncmp(rest, "_bucket{", 8) ||
                    !strncmp(rest, "_sum{", 5) || !strncmp(rest, "_count{", 7));
        if (!strcmp(family, "galley_invocations_total")) {
            if (strstr(line, "\"alpha\",version=\"$LATEST\""))
                alpha = line;
            if (strstr(line, "\"alpha\",version=\"1\""))
                alpha1 = line;
            if (strstr(line, "\"zeta\""))
                zeta = line;
        }
    }
    /* sorted by function, then version ("$" sorts before digits) */
    assert_true(alpha && alpha1 && zeta && alpha < alpha1 && alpha1 < zeta);
    free(text);
    text = render(m, &g);
    assert_true(sample(text, "galley_account_concurrent_executions") == 2);
    assert_true(sample(text, "galley_account_concurrency_limit") == 10);
    assert_true(sample(text, "galley_async_queue_depth") == 4);
    assert_true(sample(text, "galley_async_oldest_event_age_seconds") == 1.5);
    assert_true(sample(text, "galley_log_lines_dropped_total") == 7);
    free(text);
    gl_metrics_free(m);
}

static void test_env_gauges_reset_each_scrape(void **state)
{
    (void)state;
    gl_metrics_t *m = gl_metrics_new();
    gl_metrics_envs_clear(m);
    gl_metrics_env_seen(m, "f", "$LATEST", GL_ENV_IDLE, 0);
    gl_metrics_env_seen(m, "f", "$LATEST", GL_ENV_IDLE, 0);
    gl_metrics_env_seen(m, "f", "$LATEST", GL_ENV_INVOKING, 1);
    gl_metrics_env_seen(m, "f", "$LATEST", GL_ENV_INITIALIZING, 1);
    char *text = render(m, NULL);
    assert_true(sample(text, "galley_environments{function=\"f\",version=\"$LATEST\","
                             "state=\"idle\"}") == 2);
    assert_true(sample(text, "galley_environments{function=\"f\",version=\"$LATEST\","
                             "state=\"invoking\"}") == 1);
    assert_true(sample(text, "galley_environments{function=\"f\",version=\"$LATEST\","
                             "state=\"dead\"}") == 0);
    assert_true(sample(text, "galley_concurrent_executions{function=\"f\",version=\"$LATEST\"}") ==
                2);
    free(text);
    gl_metrics_envs_clear(m);
    text = render(m, NULL);
    assert_true(sample(text, "galley_environments{function=\"f\",version=\"$LATEST\","
                             "state=\"idle\"}") == 0);
    assert_true(sample(text, "galley_concurrent_executions{function=\"f\",version=\"$LATEST\"}") ==
                0);
    free(text);
    gl_metrics_free(m);
}

static void test_series_cap_and_table_growth(void **state)
{
    (void)state;
    gl_metrics_t *m = gl_metrics_new();
    char name[32];
    for (unsigned i = 0; i < GL_METRICS_MAX_SERIES + 5; i++) {
        snprintf(name, sizeof(name), "fn%u", i);
        record(m, name, "$LATEST", 1, 0, 0, 0, 0);
    }
    /* Every kept series is found again after the table grew (a second record adds to it). */
    for (unsigned i = 0; i < GL_METRICS_MAX_SERIES; i += 997) {
        snprintf(name, sizeof(name), "fn%u", i);
        record(m, name, "$LATEST", 1, 0, 0, 0, 0);
    }
    char *text = render(m, NULL);
    assert_true(sample(text, "galley_metrics_series_dropped_total") == 5);
    assert_true(sample(text, "galley_invocations_total{function=\"fn997\",version=\"$LATEST\"}") ==
                2);
    assert_true(sample(text, "galley_invocations_total{function=\"fn998\",version=\"$LATEST\"}") ==
                1);
    assert_true(sample(text, "galley_invocations_total{function=\"fn65535\",version=\"$LATEST\"}") ==
                1);
    assert_true(sample(text, "galley_invocations_total{function=\"fn65536\",version=\"$LATEST\"}") ==
                -1);
    free(text);
    gl_metrics_free(m);
}

static void test_null_registry_is_a_no_op(void **state)
{
    (void)state;
    record(NULL, "f", "$LATEST", 1, 0, 0, 0, 0);
    gl_metrics_record_throttle(NULL, "f", "$LATEST");
    gl_metrics_envs_clear(NULL);
    gl_metrics_env_seen(NULL, "f", "$LATEST", GL_ENV_IDLE, 0);
    gl_buf_t out = {0};
    assert_int_equal(gl_metrics_render(NULL, NULL, &out), -EINVAL);
    assert_non_null(gl_metrics_default());
    assert_ptr_equal(gl_metrics_default(), gl_metrics_default());
    gl_metrics_default_free();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_registry_has_families_and_no_series),
        cmocka_unit_test(test_counters_per_function_and_version),
        cmocka_unit_test(test_histogram_buckets_are_cumulative_and_inclusive),
        cmocka_unit_test(test_label_values_are_escaped),
        cmocka_unit_test(test_samples_grouped_under_their_family),
        cmocka_unit_test(test_env_gauges_reset_each_scrape),
        cmocka_unit_test(test_series_cap_and_table_growth),
        cmocka_unit_test(test_null_registry_is_a_no_op),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
