/* SPDX-License-Identifier: MIT */
/*
 * journal.h: append-only segment files of checksummed records (src/async/journal.c), used by
 * the async queue for events and by the durable module for executions. Each user keeps its
 * own directory; the record types and their meaning (ACCEPT opens an id, the latest STATE
 * wins, DONE closes it) are the journal's, what the bytes mean is the user's.
 */
#ifndef GALLEY_JOURNAL_H
#define GALLEY_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "galley/err.h"

/* ---- journal.c: append-only segment files of checksummed records ----
 *
 * <dir>/seg-<16 digits>.log holds records, each
 *     "GLQ1" | u32le len | u32le crc32(len bytes, body) | body[len]
 * with body = type (1 byte) | id (36 bytes) | data. Types: ACCEPT (data = the event),
 * STATE (data = the event's retry state; the latest one wins) and DONE (no data).
 * Opening replays every segment in order, keeps each id's first ACCEPT and latest STATE, drops
 * ids that have a DONE, copies what is left into a fresh segment (fsynced) and only then
 * deletes the old segments, so a crash at any point replays every live event at least once.
 * A record with a bad checksum, or whose id is not a request id (36 of [0-9a-fA-F-]), is
 * skipped with a warning; a torn record at the end of a
 * segment (a crash mid-write) ends that segment. While running, a segment whose events are all
 * done is deleted once every older segment is gone (a DONE record may refer to an event of an
 * older segment, never a newer one).
 */
#define GL_JOURNAL_MAGIC "GLQ1"
#define GL_JOURNAL_HEADER 12
#define GL_JOURNAL_ID_LEN 36
#define GL_JOURNAL_RECORD_MAX (64u << 20)

typedef enum gl_jrec_type {
    GL_JREC_ACCEPT = 'A',
    GL_JREC_STATE = 'S',
    GL_JREC_DONE = 'D',
} gl_jrec_type_t;

typedef struct gl_journal gl_journal_t;

/** One live event found at open: its ACCEPT data and its latest STATE data (len 0: none). */
typedef void (*gl_journal_replay_fn)(const char *id, const char *accept, size_t accept_len,
                                     const char *state, size_t state_len, uint64_t seq, void *arg);

/** Open (creating dir), replay live events in acceptance order through cb, compact. */
int gl_journal_open(gl_journal_t **out, const char *dir, size_t segment_max,
                    gl_journal_replay_fn cb, void *arg, gl_err_t *err);
/**
 * Append one record to the active segment (written, not yet synced). *seq_out (may be NULL)
 * receives the segment it went to: pass it back to gl_journal_release when the event is done.
 * On failure the segment is cut back to its previous length.
 */
int gl_journal_append(gl_journal_t *j, gl_jrec_type_t type, const char *id, const void *data,
                      size_t len, uint64_t *seq_out);
/** An event accepted into segment seq is done (its DONE record was appended): count it out,
 *  and delete the segments at the head that no longer hold live events. */
void gl_journal_release(gl_journal_t *j, uint64_t seq);
/** Start a new segment if the active one is over segment_max. Call only while no fsync of
 *  the active fd is in flight: the old segment is fsynced here and its fd closed. */
int gl_journal_rotate_if_full(gl_journal_t *j);
/** The active segment's fd, for the batched fdatasync. */
int gl_journal_fd(const gl_journal_t *j);
size_t gl_journal_segment_count(const gl_journal_t *j);
uint64_t gl_journal_active_seq(const gl_journal_t *j);
void gl_journal_close(gl_journal_t *j);

#endif
