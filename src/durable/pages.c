/* SPDX-License-Identifier: MIT */
/*
 * pages.c: the durable reads: GetDurableExecution, GetDurableExecutionState (operations in
 * pages), GetDurableExecutionHistory (events in pages, payloads only when asked for) and
 * ListDurableExecutionsByFunction (filters, newest first unless reversed). A Marker is the
 * decimal index of the next item; galley gives it and checks it. Nothing here changes state.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define DEFAULT_PAGE 1000

int gl_dx_marker(const char *marker, size_t *start)
{
    char *end;
    *start = 0;
    if (!marker || !*marker)
        return 0;
    unsigned long long v = strtoull(marker, &end, 10);
    if (*end || marker[0] == '-')
        return -1;
    *start = (size_t)v;
    return 0;
}

/* op as the API shows it: galley's own "_" members left out (new reference). */
static json_t *wire_op(const json_t *op)
{
    json_t *o = json_object();
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)op, k, v) if (k[0] != '_') json_object_set(o, k, v);
    return o;
}

json_t *gl_dx_ops_page(const gl_dx_t *x, size_t start, size_t max, size_t *next)
{
    json_t *arr = json_array();
    size_t i = 0;
    const char *id;
    json_t *op;
    *next = 0;
    json_object_foreach(json_object_get(x->doc, "Ops"), id, op) {
        if (i >= start && json_array_size(arr) < max)
            json_array_append_new(arr, wire_op(op));
        else if (i >= start) {
            *next = i;
            break;
        }
        i++;
    }
    return arr;
}

static long page_size(long max_items)
{
    return max_items > 0 && max_items <= DEFAULT_PAGE ? max_items : DEFAULT_PAGE;
}

static gl_dx_t *find(gl_durable_t *d, const char *arn, gl_aws_error_t *aerr)
{
    gl_dx_t *x = gl_durable_find(d, arn);
    if (!x)
        gl_aws_error_set(aerr, GL_AWS_RESOURCE_NOT_FOUND, ENOENT,
                         "The durable execution %.1024s was not found.", arn);
    return x;
}

static int bad_marker(gl_aws_error_t *aerr)
{
    return gl_aws_error_set(aerr, GL_AWS_INVALID_PARAMETER_VALUE, EINVAL,
                            "The Marker is not valid.");
}

json_t *gl_durable_get(gl_durable_t *d, const char *arn, gl_aws_error_t *aerr)
{
    gl_dx_t *x = find(d, arn, aerr);
    return x ? gl_dx_summary(x, 1) : NULL;
}

json_t *gl_durable_state(gl_durable_t *d, const char *arn, const char *token, const char *marker,
                         long max_items, gl_aws_error_t *aerr)
{
    size_t start, next;
    gl_dx_t *x = gl_durable_find(d, arn);
    if (!x || gl_dx_check_token(x, token, 1) < 0) {
        gl_aws_error_set(aerr, GL_AWS_INVALID_PARAMETER_VALUE, EINVAL,
                         "Invalid Checkpoint Token: the token is not one of the current "
                         "invocation of this durable execution.");
        return NULL;
    }
    if (gl_dx_marker(marker, &start) < 0) {
        bad_marker(aerr);
        return NULL;
    }
    json_t *ops = gl_dx_ops_page(x, start, (size_t)page_size(max_items), &next);
    json_t *o = json_pack("{s:o}", "Operations", ops);
    if (o && next)
        json_object_set_new(o, "NextMarker", json_sprintf("%zu", next));
    return o;
}

/* An event without its payloads (IncludeExecutionData not true). */
static json_t *without_data(const json_t *ev)
{
    json_t *e = json_deep_copy(ev);
    const char *k;
    json_t *v;
    json_object_foreach(e, k, v) {
        if (!json_is_object(v))
            continue;
        static const char *const parts[] = {"Input", "Result", "Error"};
        for (size_t i = 0; i < 3; i++) {
            json_t *p = json_object_get(v, parts[i]);
            if (json_is_object(p) && json_object_get(p, "Payload"))
                json_object_del(p, "Payload");
        }
    }
    return e;
}

json_t *gl_durable_history(gl_durable_t *d, const char *arn, int include_data, int reverse,
                           const char *marker, long max_items, gl_aws_error_t *aerr)
{
    size_t start;
    gl_dx_t *x = find(d, arn, aerr);
    if (!x)
        return NULL;
    if (gl_dx_marker(marker, &start) < 0) {
        bad_marker(aerr);
        return NULL;
    }
    json_t *events = json_object_get(x->doc, "Events"), *out = json_array();
    size_t n = json_array_size(events), max = (size_t)page_size(max_items), i;
    for (i = start; i < n && json_array_size(out) < max; i++) {
        json_t *ev = json_array_get(events, reverse ? n - 1 - i : i);
        json_array_append_new(out, include_data ? json_deep_copy(ev) : without_data(ev));
    }
    json_t *o = json_pack("{s:o}", "Events", out);
    if (o && i < n)
        json_object_set_new(o, "NextMarker", json_sprintf("%zu", i));
    return o;
}

static int matches(const gl_dx_t *x, const gl_durable_filter_t *f)
{
    const char *s;
    if (!(s = gl_dx_str(x, "FunctionName")) || strcmp(s, f->fn_name))
        return 0;
    if (f->qualifier && strcmp(gl_dx_str(x, "Qualifier"), f->qualifier))
        return 0;
    if (f->name && strcmp(gl_dx_str(x, "Name"), f->name))
        return 0;
    double started = gl_dx_secs(gl_dx_int(x, "Start"));
    if ((f->started_after > 0 && started <= f->started_after) ||
        (f->started_before > 0 && started >= f->started_before))
        return 0;
    if (!f->statuses)
        return 1;
    for (size_t i = 0; f->statuses[i]; i++)
        if (!strcmp(f->statuses[i], gl_dx_str(x, "Status")))
            return 1;
    return 0;
}

json_t *gl_durable_list(gl_durable_t *d, const gl_durable_filter_t *f, const char *marker,
                        long max_items, gl_aws_error_t *aerr)
{
    size_t start, max = (size_t)page_size(max_items), n = 0, i;
    if (gl_dx_marker(marker, &start) < 0) {
        bad_marker(aerr);
        return NULL;
    }
    for (gl_dx_t *x = d->list; x; x = x->next)
        n += matches(x, f);
    gl_dx_t **all = calloc(n ? n : 1, sizeof(*all));
    json_t *out = json_array();
    if (!all || !out) {
        free(all);
        json_decref(out);
        gl_aws_error_set(aerr, GL_AWS_SERVICE, ENOMEM, "Out of memory");
        return NULL;
    }
    n = 0;
    for (gl_dx_t *x = d->list; x; x = x->next) /* newest first */
        if (matches(x, f))
            all[n++] = x;
    for (i = start; i < n && json_array_size(out) < max; i++)
        json_array_append_new(out, gl_dx_summary(all[f->reverse ? n - 1 - i : i], 0));
    free(all);
    json_t *o = json_pack("{s:o}", "DurableExecutions", out);
    if (o && i < n)
        json_object_set_new(o, "NextMarker", json_sprintf("%zu", i));
    return o;
}

json_t *gl_durable_counts(gl_durable_t *d)
{
    json_t *o = json_pack("{s:i,s:i,s:i,s:i,s:i}", "RUNNING", 0, "SUCCEEDED", 0, "FAILED", 0,
                          "TIMED_OUT", 0, "STOPPED", 0);
    for (gl_dx_t *x = d ? d->list : NULL; o && x; x = x->next) {
        const char *s = gl_dx_str(x, "Status");
        json_t *v = s ? json_object_get(o, s) : NULL;
        if (v)
            json_integer_set(v, json_integer_value(v) + 1);
    }
    return o;
}

json_t *gl_durable_list_all(gl_durable_t *d, const char *status)
{
    json_t *out = json_array();
    for (gl_dx_t *x = d->list; out && x; x = x->next) {
        if (status && strcmp(status, gl_dx_str(x, "Status")))
            continue;
        json_t *s = gl_dx_summary(x, 0);
        json_object_set(s, "FunctionName", json_object_get(x->doc, "FunctionName"));
        json_object_set_new(s, "Invoking", json_boolean(x->inv != NULL));
        json_array_append_new(out, s);
    }
    return json_pack("{s:o}", "DurableExecutions", out);
}
