/* SPDX-License-Identifier: MIT */
/*
 * fuzz_journal.c: replay of the async queue's journal (src/async/journal.c) from a corrupted
 * or truncated segment: the input is written as <dir>/seg-0000000000000001.log, the journal
 * is opened (which nothing in a segment may prevent), replaying every live event through a
 * callback that checks its id (a request id: 36 of [0-9a-fA-F-], since it goes into headers and
 * logs) and its lengths, then compacting into a fresh segment; one record is appended and
 * the journal closed. The directory is emptied after each run. Reopening must replay exactly the events the first
 * open replayed, plus the appended one: compaction loses nothing acknowledged.
 *
 * An input starting with 'F' is a segment whose records get their checksums fixed before it
 * is written, so that mutations reach what valid-looking records say (types, ids, lengths,
 * orders) instead of stopping at the checksum.
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
    if (strlen(id) != GL_JOURNAL_ID_LEN || strspn(id, "0123456789abcdefABCDEF-") != GL_JOURNAL_ID_LEN ||
        alen > GL_JOURNAL_RECORD_MAX ||
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

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Give every complete record of seg its right checksum, walking as the replay does. */
static void fix_checksums(uint8_t *seg, size_t size)
{
    size_t off = 0;
    while (size - off >= GL_JOURNAL_HEADER) {
        uint32_t len = (uint32_t)seg[off + 4] | (uint32_t)seg[off + 5] << 8 |
                       (uint32_t)seg[off + 6] << 16 | (uint32_t)seg[off + 7] << 24;
        if (memcmp(seg + off, GL_JOURNAL_MAGIC, 4) != 0 || len > size - off - GL_JOURNAL_HEADER) {
            off++;
            continue;
        }
        uint32_t crc = gl_crc32(0, seg + off + 4, 4);
        put_u32(seg + off + 8, gl_crc32(crc, seg + off + GL_JOURNAL_HEADER, len));
        off += GL_JOURNAL_HEADER + len;
    }
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
    if (size > 0 && data[0] == 'F') {
        uint8_t *copy = malloc(size);
        if (!copy)
            abort();
        memcpy(copy, data + 1, size - 1);
        fix_checksums(copy, size - 1);
        fuzz_write(seg, copy, size - 1);
        free(copy);
    } else {
        fuzz_write(seg, data, size);
    }
    /* Nothing a segment holds may keep the journal from opening (the daemon from starting). */
    if (gl_journal_open(&j, dir, 0, on_replay, &first, &err) < 0) {
        fprintf(stderr, "fuzz_journal: open refused: %s\n", err.msg);
        abort();
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
