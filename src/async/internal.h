/* SPDX-License-Identifier: MIT */
/*
 * internal.h: declarations shared inside the async module: the journal (journal.c), the
 * queue's event and state (async.c), the EventInvokeConfig store (config.c) and the
 * destination records and file sinks (deliver.c).
 */
#ifndef GALLEY_ASYNC_INTERNAL_H
#define GALLEY_ASYNC_INTERNAL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "galley/async.h"
#include "galley/buf.h"
#include "galley/err.h"
#include "galley/util.h"

/* ---- journal.c: append-only segment files of checksummed records ----
 *
 * <dir>/seg-<16 digits>.log holds records, each
 *     "GLQ1" | u32le len | u32le crc32(len bytes, body) | body[len]
 * with body = type (1 byte) | id (36 bytes) | data. Types: ACCEPT (data = the event),
 * STATE (data = the event's retry state; the latest one wins) and DONE (no data).
 * Opening replays every segment in order, keeps each id's first ACCEPT and latest STATE, drops
 * ids that have a DONE, copies what is left into a fresh segment (fsynced) and only then
 * deletes the old segments, so a crash at any point replays every live event at least once.
 * A record with a bad checksum is skipped with a warning; a torn record at the end of a
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

uint32_t gl_crc32(uint32_t crc, const void *data, size_t len);

/* ---- config.c: FunctionEventInvokeConfig store ---- */

typedef struct gl_async_configs {
    char *path;       /* <state>/async/event-invoke-configs.json */
    json_t *root;     /* {"<name>": {"<qualifier>": {config}}} */
} gl_async_configs_t;

int gl_async_configs_load(gl_async_configs_t *c, const char *path, gl_err_t *err);
void gl_async_configs_free(gl_async_configs_t *c);
const json_t *gl_async_configs_get(gl_async_configs_t *c, const char *fn, const char *qualifier);
int gl_async_configs_put(gl_async_configs_t *c, const char *fn, const char *qualifier,
                         json_t *cfg);
int gl_async_configs_delete(gl_async_configs_t *c, const char *fn, const char *qualifier);
json_t *gl_async_configs_qualifiers(gl_async_configs_t *c, const char *fn);
void gl_async_configs_forget(gl_async_configs_t *c, const char *fn);

/* ---- deliver.c: Lambda's destination record and the file sinks ---- */

typedef enum gl_dest_kind {
    GL_DEST_NONE,
    GL_DEST_FUNCTION,  /* arn:aws:lambda:<region>:<account>:function:<name>[:<q>] */
    GL_DEST_SQS,       /* arn:aws:sqs:<region>:<account>:<queue> */
    GL_DEST_SNS,       /* arn:aws:sns:<region>:<account>:<topic> */
    GL_DEST_EVENTS,    /* arn:aws:events:<region>:<account>:event-bus/<bus> */
    GL_DEST_S3,        /* arn:aws:s3:::<bucket> (OnFailure only) */
} gl_dest_kind_t;

typedef struct gl_dest {
    gl_dest_kind_t kind;
    char service[16];        /* directory under <state>/destinations: sqs, sns, events, s3 */
    char resource[256];      /* queue, topic, bus or bucket name (file-name safe), or function */
    char qualifier[129];     /* function destinations: "" when unqualified */
} gl_dest_t;

/** Parse a destination ARN; -EINVAL when it is not one galley can deliver to. */
int gl_dest_parse(const char *arn, gl_dest_t *out);
/** Make a resource name safe as a file name: [A-Za-z0-9._-] kept, anything else '_'. */
void gl_dest_sanitize(char *name);

typedef struct gl_dest_record_in {
    const char *request_id;
    const char *function_arn;      /* qualified */
    const char *condition;         /* "Success", "RetriesExhausted", "EventAgeExceeded" */
    int invoke_count;
    const char *payload;           /* original event (JSON text) */
    size_t payload_len;
    int function_error;
    const char *executed_version;
    const char *response;          /* result or error body; NULL when the function never ran */
    size_t response_len;
    int64_t now_ms;
} gl_dest_record_in_t;

/** Lambda's destination record (new reference, NULL on ENOMEM). */
json_t *gl_dest_record(const gl_dest_record_in_t *in);
/** EventBridge's envelope around a record (new reference; steals record). */
json_t *gl_dest_eventbridge(json_t *record, int success, const char *region, const char *account,
                            const char *function_arn, int64_t now_ms);
/** A DLQ message line: the original event plus RequestID / ErrorCode / ErrorMessage. */
json_t *gl_dest_dlq_message(const char *request_id, const char *payload, size_t payload_len,
                            int error_code, const char *error_message);
/** A JSON value for bytes that should be JSON (their parse), else a string of them. */
json_t *gl_json_or_string(const char *text, size_t len);

#endif
