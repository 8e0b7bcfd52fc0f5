/* SPDX-License-Identifier: MIT */
/*
 * cwlogs_describe.c: DescribeLogGroups and DescribeLogStreams over the log directories under
 * <state>/logs (store.c finds them). Pages are at most `limit` entries (1-50, default 50);
 * nextToken is opaque to clients and holds the position where the next page starts, so a
 * group or stream created between pages is not lost (at worst one is listed twice).
 * Stored sizes are reported as CloudWatch does for groups (0: not tracked) and as the file
 * size for streams.
 */
#define _GNU_SOURCE /* strcasestr */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"

#define PAGE_MAX 50

/* The page's first position from nextToken ("<kind>:<index>"); -1 after replying. */
static int page_start(gl_cwl_t *c, const char *kind, size_t *start)
{
    char plain[64];
    int present;
    *start = 0;
    if (gl_cwl_next_token(c, plain, sizeof(plain), &present) < 0)
        return -1;
    if (!present)
        return 0;
    size_t klen = strlen(kind);
    char *end = NULL;
    unsigned long long n = strncmp(plain, kind, klen) || plain[klen] != ':'
                               ? 0 : strtoull(plain + klen + 1, &end, 10);
    if (!end || *end || end == plain + klen + 1) {
        gl_cwl_error(c, GL_CWL_INVALID_PARAMETER, "The specified nextToken is invalid.");
        return -1;
    }
    *start = (size_t)n;
    return 0;
}

static void set_next(json_t *resp, const char *kind, size_t next, size_t total)
{
    if (next >= total)
        return;
    char plain[64];
    snprintf(plain, sizeof(plain), "%s:%zu", kind, next);
    gl_cwl_token_set(resp, "nextToken", plain);
}

/* Drop the entries whose name lacks prefix or (case-insensitively) pattern; both may be NULL. */
static void keep_matching(gl_logs_list_t *l, const char *prefix, const char *pattern)
{
    size_t n = 0;
    for (size_t i = 0; i < l->n; i++) {
        gl_logs_entry_t *e = &l->v[i];
        if ((!prefix || !strncmp(e->name, prefix, strlen(prefix))) &&
            (!pattern || strcasestr(e->name, pattern))) {
            l->v[n++] = *e;
        } else {
            free(e->name);
            free(e->path);
        }
    }
    l->n = n;
}

static json_t *group_json(gl_cwl_t *c, const gl_logs_entry_t *g)
{
    char arn[1024], garn[1024];
    gl_cwl_arn(c, arn, sizeof(arn), "%s:*", g->name);
    gl_cwl_arn(c, garn, sizeof(garn), "%s", g->name);
    return json_pack("{s:s, s:I, s:i, s:s, s:i, s:s, s:s}", "logGroupName", g->name,
                     "creationTime", (json_int_t)g->created, "metricFilterCount", 0, "arn", arn,
                     "storedBytes", 0, "logGroupClass", "STANDARD", "logGroupArn", garn);
}

void gl_cwl_describe_log_groups(gl_cwl_t *c)
{
    const char *prefix, *pattern;
    int64_t limit;
    size_t start;
    gl_violations_t v;
    gl_violations_init(&v, 10, 0);
    if (gl_cwl_str(c, "logGroupNamePrefix", &prefix) < 0 ||
        gl_cwl_str(c, "logGroupNamePattern", &pattern) < 0 ||
        gl_cwl_range(c, &v, "limit", 1, PAGE_MAX, PAGE_MAX, &limit) < 0 ||
        gl_cwl_report(c, &v) < 0 || page_start(c, "groups", &start) < 0)
        return;
    if (prefix && pattern) {
        gl_cwl_error(c, GL_CWL_INVALID_PARAMETER, "LogGroupNamePrefix and LogGroupNamePattern "
                     "are mutually exclusive parameters.");
        return;
    }
    gl_logs_list_t all;
    if (gl_logs_list_groups(c->root, &all) < 0) {
        gl_cwl_error(c, GL_CWL_UNAVAILABLE, "out of memory");
        return;
    }
    keep_matching(&all, prefix, pattern);
    json_t *resp = json_object(), *groups = json_array();
    for (size_t k = start; k < all.n && json_array_size(groups) < (size_t)limit; k++)
        json_array_append_new(groups, group_json(c, &all.v[k]));
    json_object_set_new(resp, "logGroups", groups);
    set_next(resp, "groups", start + json_array_size(groups), all.n);
    gl_logs_list_free(&all);
    gl_cwl_reply(c, resp);
}

static json_t *stream_json(gl_cwl_t *c, const char *group, const gl_logs_entry_t *s)
{
    char arn[2048];
    gl_cwl_arn(c, arn, sizeof(arn), "%s:log-stream:%s", group, s->name);
    return json_pack("{s:s, s:I, s:I, s:I, s:I, s:s, s:I}", "logStreamName", s->name,
                     "creationTime", (json_int_t)s->created, "firstEventTimestamp",
                     (json_int_t)s->first, "lastEventTimestamp", (json_int_t)s->last,
                     "lastIngestionTime", (json_int_t)s->last, "arn", arn, "storedBytes",
                     (json_int_t)s->bytes);
}

static int by_last_event(const void *a, const void *b)
{
    const gl_logs_entry_t *x = a, *y = b;
    if (x->last != y->last)
        return x->last < y->last ? -1 : 1;
    return strcmp(x->name, y->name);
}

/* The request's orderBy, descending and prefix, checked; -1 after replying. */
static int stream_order(gl_cwl_t *c, gl_violations_t *v, int *by_time, int *descending,
                        const char **prefix)
{
    const char *order;
    if (gl_cwl_str(c, "orderBy", &order) < 0 || gl_cwl_bool(c, "descending", descending) < 0 ||
        gl_cwl_str(c, "logStreamNamePrefix", prefix) < 0)
        return -1;
    *by_time = order && !strcmp(order, "LastEventTime");
    if (order && !*by_time && strcmp(order, "LogStreamName"))
        gl_violation_add(v, "Value '%s' at 'orderBy' failed to satisfy constraint: Member must "
                         "satisfy enum value set: [LogStreamName, LastEventTime]", order);
    if (*prefix && !**prefix)
        gl_violation_add(v, "Value '' at 'logStreamNamePrefix' failed to satisfy constraint: "
                         "Member must have length greater than or equal to 1");
    return 0;
}

void gl_cwl_describe_log_streams(gl_cwl_t *c)
{
    const char *prefix;
    int by_time, descending;
    int64_t limit;
    size_t start;
    char group[1024], *gdir = NULL;
    gl_violations_t v;
    gl_violations_init(&v, 10, 0);
    if (stream_order(c, &v, &by_time, &descending, &prefix) < 0 ||
        gl_cwl_range(c, &v, "limit", 1, PAGE_MAX, PAGE_MAX, &limit) < 0 ||
        gl_cwl_report(c, &v) < 0)
        return;
    if (by_time && prefix) {
        gl_cwl_error(c, GL_CWL_INVALID_PARAMETER,
                     "Cannot order by LastEventTime with a logStreamNamePrefix.");
        return;
    }
    if (page_start(c, "streams", &start) < 0 || gl_cwl_group(c, &gdir, group, sizeof(group)) < 0)
        return;
    gl_logs_list_t all;
    if (gl_logs_list_streams(gdir, &all) < 0) {
        free(gdir);
        gl_cwl_error(c, GL_CWL_UNAVAILABLE, "out of memory");
        return;
    }
    free(gdir);
    keep_matching(&all, prefix, NULL);
    size_t n = all.n;
    if (by_time && n)
        qsort(all.v, n, sizeof(*all.v), by_last_event);
    json_t *resp = json_object(), *streams = json_array();
    for (size_t k = start; k < n && json_array_size(streams) < (size_t)limit; k++)
        json_array_append_new(streams,
                              stream_json(c, group, &all.v[descending ? n - 1 - k : k]));
    json_object_set_new(resp, "logStreams", streams);
    set_next(resp, "streams", start + json_array_size(streams), n);
    gl_logs_list_free(&all);
    gl_cwl_reply(c, resp);
}
