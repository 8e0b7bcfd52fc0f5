/* SPDX-License-Identifier: MIT */
/*
 * compact.c: keeps the durable journal (<state>/durable) bounded while the daemon runs.
 * Every change appends an execution's whole document, and a segment can go only once every
 * execution accepted in it is dropped (include/galley/journal.h), so one long execution would
 * pin every segment written since it started. When the journal has three segments or more
 * and most of what was written since the last move is dead (superseded documents), each
 * execution accepted in an older segment is moved: its current document is appended to the
 * active segment as a new ACCEPT (the journal keeps the first ACCEPT and the latest STATE of
 * an id, so the copy is ignored while the old one still exists). Once an fdatasync (on
 * libuv's thread pool) covers the copies, the old segments are counted out and the journal
 * deletes them; a crash before that replays the old records, one after it the copies.
 * Executions dropped by retention have their DONE and are not moved.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "galley/log.h"
#include "internal.h"

#define MIN_SEGMENTS 3

typedef struct move {
    gl_durable_t *d;
    size_t n;
    uint64_t seqs[]; /* the segments the moved executions were accepted in */
} move_t;

static void on_moved(void *arg, json_t *body, const gl_aws_error_t *aerr)
{
    move_t *m = arg;
    json_decref(body);
    if (aerr)
        gl_log_warn("durable: journal compaction not synced (%s): old segments kept until "
                    "the next start", aerr->msg);
    else
        for (size_t i = 0; i < m->n; i++)
            gl_journal_release(m->d->j, m->seqs[i]);
    m->d->compacting = 0;
    free(m);
}

/* Append x's document as a new ACCEPT in the active segment: its size, or 0 on failure. */
static size_t move_one(gl_durable_t *d, gl_dx_t *x)
{
    char *text = json_dumps(x->doc, JSON_COMPACT);
    size_t len = text ? strlen(text) : 0;
    uint64_t seq;
    int rc = text ? gl_journal_append(d->j, GL_JREC_ACCEPT, x->id, text, len, &seq) : -ENOMEM;
    free(text);
    if (rc < 0) {
        gl_log_warn("durable: %s: journal compaction: %s", x->id, strerror(-rc));
        return 0;
    }
    x->jseq = seq;
    return len;
}

void gl_durable_compact(gl_durable_t *d)
{
    if (d->compacting || d->closing || gl_journal_segment_count(d->j) < MIN_SEGMENTS ||
        d->written <= d->moved)
        return;
    uint64_t active = gl_journal_active_seq(d->j);
    size_t n = 0, bytes = 0;
    for (gl_dx_t *x = d->list; x; x = x->next)
        n += x->jseq != active;
    move_t *m = n ? calloc(1, sizeof(*m) + n * sizeof(uint64_t)) : NULL;
    if (!m)
        return;
    m->d = d;
    for (gl_dx_t *x = d->list; x && m->n < n; x = x->next) {
        if (x->jseq == active)
            continue;
        uint64_t old = x->jseq;
        size_t len = move_one(d, x);
        if (!len)
            break; /* what was moved is released; the rest stays where it is */
        m->seqs[m->n++] = old;
        bytes += len;
    }
    gl_log_info("durable: journal compaction: %zu execution(s), %zu bytes moved out of %zu "
                "segment(s)", m->n, bytes, gl_journal_segment_count(d->j) - 1);
    d->written = 0;
    d->moved = bytes;
    d->compacting = 1;
    gl_durable_sync(d, on_moved, m, NULL);
}
