/* SPDX-License-Identifier: MIT */
/*
 * test_journal.c: the async queue's on-disk journal (src/async/journal.c): append and replay
 * in order with the latest retry state, DONE drops an event, a torn record at the end is
 * ignored, a record with a bad checksum (or garbage between records) is skipped and the rest
 * replayed, duplicate ACCEPTs left by an interrupted compaction replay once, rotation and the
 * deletion of fully done segments (oldest first), and the compaction at open.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "async/internal.h"
#include "galley/util.h"

#define ID(n) ("00000000-0000-4000-8000-0000000000" n)

typedef struct seen {
    char ids[64][GL_JOURNAL_ID_LEN + 1];
    char accept[64][64];
    char state[64][64];
    size_t n;
} seen_t;

static void on_replay(const char *id, const char *accept, size_t alen, const char *state,
                      size_t slen, uint64_t seq, void *arg)
{
    seen_t *s = arg;
    (void)seq;
    assert_true(s->n < 64);
    snprintf(s->ids[s->n], sizeof(s->ids[0]), "%s", id);
    snprintf(s->accept[s->n], sizeof(s->accept[0]), "%.*s", (int)alen, accept);
    snprintf(s->state[s->n], sizeof(s->state[0]), "%.*s", (int)slen, state);
    s->n++;
}

static char *make_dir(void)
{
    char tmpl[] = "/tmp/galley-journal-XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return strdup(d);
}

static size_t count_segments(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (!strncmp(de->d_name, "seg-", 4))
            n++;
    closedir(d);
    return n;
}

/* Path of the only segment in dir. */
static char *only_segment(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    char *found = NULL;
    struct dirent *de;
    while ((de = readdir(d)))
        if (!strncmp(de->d_name, "seg-", 4)) {
            assert_null(found);
            found = gl_path_join(dir, de->d_name);
        }
    closedir(d);
    assert_non_null(found);
    return found;
}

static void put(gl_journal_t *j, gl_jrec_type_t t, const char *id, const char *data)
{
    assert_int_equal(gl_journal_append(j, t, id, data, data ? strlen(data) : 0, NULL), 0);
}

/* Open a journal in a new, empty dir (segment_max 0: the default); nothing replays. */
static gl_journal_t *open_fresh(char **dir, size_t segment_max)
{
    seen_t s = {0};
    gl_journal_t *j;
    gl_err_t err;
    *dir = make_dir();
    assert_int_equal(gl_journal_open(&j, *dir, segment_max, on_replay, &s, &err), 0);
    assert_int_equal(s.n, 0);
    return j;
}

static void drop_dir(char *dir)
{
    gl_rm_rf(dir);
    free(dir);
}

/* Write len bytes into dir's only segment at off, or at its end when off < 0. */
static void patch_segment(const char *dir, off_t off, const void *bytes, size_t len)
{
    char *seg = only_segment(dir);
    int fd = open(seg, off < 0 ? O_WRONLY | O_APPEND : O_RDWR);
    assert_true(fd >= 0);
    ssize_t n = off < 0 ? write(fd, bytes, len) : pwrite(fd, bytes, len, off);
    assert_int_equal(n, (ssize_t)len);
    close(fd);
    free(seg);
}

/* DONE for events from..to-1, each released from the segment it was accepted in. */
static void finish_events(gl_journal_t *j, char ids[][GL_JOURNAL_ID_LEN + 1],
                          const uint64_t *seqs, int from, int to)
{
    for (int i = from; i < to; i++) {
        assert_int_equal(gl_journal_append(j, GL_JREC_DONE, ids[i], NULL, 0, NULL), 0);
        gl_journal_release(j, seqs[i]);
    }
}

/* Write a fresh journal holding ACCEPT 1, 2, 3 (a, b, c); returns its dir. */
static char *three_events(void)
{
    char *dir;
    gl_journal_t *j = open_fresh(&dir, 0);
    put(j, GL_JREC_ACCEPT, ID("01"), "a");
    put(j, GL_JREC_ACCEPT, ID("02"), "b");
    put(j, GL_JREC_ACCEPT, ID("03"), "c");
    gl_journal_close(j);
    return dir;
}

static void reopen(const char *dir, seen_t *s)
{
    gl_journal_t *j;
    gl_err_t err;
    memset(s, 0, sizeof(*s));
    assert_int_equal(gl_journal_open(&j, dir, 0, on_replay, s, &err), 0);
    gl_journal_close(j);
}

static void test_append_replay_in_order_with_state_and_done(void **state)
{
    (void)state;
    char *dir;
    seen_t s;
    gl_journal_t *j = open_fresh(&dir, 0);
    put(j, GL_JREC_ACCEPT, ID("01"), "{\"fn\":\"a\"}\n{}");
    put(j, GL_JREC_ACCEPT, ID("02"), "b");
    put(j, GL_JREC_STATE, ID("02"), "{\"attempts\":1}");
    put(j, GL_JREC_ACCEPT, ID("03"), "c");
    put(j, GL_JREC_STATE, ID("02"), "{\"attempts\":2}");
    put(j, GL_JREC_DONE, ID("01"), NULL);
    gl_journal_close(j);

    reopen(dir, &s);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.ids[0], ID("02"));
    assert_string_equal(s.accept[0], "b");
    assert_string_equal(s.state[0], "{\"attempts\":2}");
    assert_string_equal(s.ids[1], ID("03"));
    assert_string_equal(s.state[1], "");
    /* Compacted into one segment; a second open replays the same thing. */
    assert_int_equal(count_segments(dir), 1);
    reopen(dir, &s);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.state[0], "{\"attempts\":2}");
    drop_dir(dir);
}

static void test_torn_write_at_end_is_ignored(void **state)
{
    (void)state;
    char *dir = three_events();
    /* A crash in the middle of appending a fourth record: header and part of the body. */
    unsigned char partial[] = {'G', 'L', 'Q', '1', 200, 0, 0, 0, 1, 2, 3, 4, 'A', '0', '0'};
    patch_segment(dir, -1, partial, sizeof(partial));
    seen_t s;
    reopen(dir, &s);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.accept[2], "c");
    /* A header cut short is torn too. */
    patch_segment(dir, -1, "GLQ", 3);
    reopen(dir, &s);
    assert_int_equal(s.n, 3);
    drop_dir(dir);
}

static void test_checksum_mismatch_is_skipped(void **state)
{
    (void)state;
    char *dir = three_events();
    /* Record 2 starts after record 1: 12 header + 1 type + 36 id + 1 data = 50 bytes. Flip
     * its data byte ("b" at 50 + 12 + 37). */
    patch_segment(dir, 50 + 12 + 37, "X", 1);
    seen_t s;
    reopen(dir, &s);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.ids[0], ID("01"));
    assert_string_equal(s.ids[1], ID("03"));
    drop_dir(dir);
}

/* A raw record with a right checksum, as a damaged disk or another writer could leave. */
static void append_raw(const char *dir, char type, const char id[GL_JOURNAL_ID_LEN],
                       const char *data)
{
    unsigned char rec[256];
    size_t dlen = strlen(data), len = 1 + GL_JOURNAL_ID_LEN + dlen;
    assert_true(GL_JOURNAL_HEADER + len <= sizeof(rec));
    memcpy(rec, GL_JOURNAL_MAGIC, 4);
    for (int i = 0; i < 4; i++)
        rec[4 + i] = (unsigned char)(len >> (8 * i));
    rec[12] = (unsigned char)type;
    memcpy(rec + 13, id, GL_JOURNAL_ID_LEN);
    memcpy(rec + 13 + GL_JOURNAL_ID_LEN, data, dlen);
    uint32_t crc = gl_crc32(gl_crc32(0, rec + 4, 4), rec + GL_JOURNAL_HEADER, len);
    for (int i = 0; i < 4; i++)
        rec[8 + i] = (unsigned char)(crc >> (8 * i));
    patch_segment(dir, -1, rec, GL_JOURNAL_HEADER + len);
}

/* Found by fuzz_journal: a checksummed record whose id held a NUL made compaction fail, so
 * the journal (and the daemon) would not open; an id with other bytes (a path, a CR LF)
 * was replayed into request ids. Both are skipped now, and the rest replays. */
static void test_record_without_request_id_is_skipped(void **state)
{
    (void)state;
    char *dir = three_events();
    append_raw(dir, 'A', "00000000-0000-4000-8000-00000000\0""004", "d");
    append_raw(dir, 'A', "../../../../etc/passwd\r\nX-Injected:1", "e");
    append_raw(dir, 'A', ID("05"), "f");
    seen_t s;
    reopen(dir, &s);
    assert_int_equal(s.n, 4);
    assert_string_equal(s.ids[3], ID("05"));
    assert_string_equal(s.accept[3], "f");
    /* Compaction kept only the good records: the journal opens again with the same events. */
    reopen(dir, &s);
    assert_int_equal(s.n, 4);
    drop_dir(dir);
}

static void test_garbage_between_records_resyncs(void **state)
{
    (void)state;
    char *dir = three_events();
    /* Break record 2's magic: the reader scans forward to record 3. */
    patch_segment(dir, 50, "XXXX", 4);
    seen_t s;
    reopen(dir, &s);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.ids[1], ID("03"));
    drop_dir(dir);
}

static void test_duplicate_accepts_replay_once(void **state)
{
    (void)state;
    char *dir = three_events();
    char *seg = only_segment(dir);
    /* An interrupted compaction leaves the old segment and a partial copy of it. */
    char *copy = gl_path_join(dir, "seg-0000000000000099.log");
    gl_buf_t b = {0};
    assert_int_equal(gl_read_file(seg, 1 << 20, &b), 0);
    assert_int_equal(gl_write_file_atomic(copy, b.data, b.len), 0);
    gl_buf_free(&b);
    seen_t s;
    reopen(dir, &s);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.ids[0], ID("01"));
    assert_string_equal(s.ids[2], ID("03"));
    assert_int_equal(count_segments(dir), 1);
    free(copy);
    free(seg);
    drop_dir(dir);
}

static void test_rotation_and_deleting_done_segments(void **state)
{
    (void)state;
    char *dir;
    seen_t s;
    /* Each ACCEPT is 50 bytes: a 100-byte segment holds two. */
    gl_journal_t *j = open_fresh(&dir, 100);
    char ids[6][GL_JOURNAL_ID_LEN + 1];
    uint64_t seqs[6];
    for (int i = 0; i < 6; i++) {
        snprintf(ids[i], sizeof(ids[i]), "00000000-0000-4000-8000-0000000000%02d", i);
        assert_int_equal(gl_journal_rotate_if_full(j), 0);
        assert_int_equal(gl_journal_append(j, GL_JREC_ACCEPT, ids[i], "x", 1, &seqs[i]), 0);
    }
    assert_int_equal(gl_journal_segment_count(j), 3);
    assert_int_equal(count_segments(dir), 3);
    assert_true(seqs[0] == seqs[1] && seqs[2] == seqs[3] && seqs[1] < seqs[2]);
    /* The middle segment is all done, but the oldest is not: nothing may go yet, because
     * DONE records in a newer segment can refer to events of an older one. */
    finish_events(j, ids, seqs, 2, 4);
    assert_int_equal(count_segments(dir), 3);
    /* Finishing the oldest deletes both it and the middle one; the active one stays. */
    finish_events(j, ids, seqs, 0, 2);
    assert_int_equal(count_segments(dir), 1);
    assert_int_equal(gl_journal_segment_count(j), 1);
    gl_journal_close(j);
    reopen(dir, &s);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.ids[0], ids[4]);
    assert_string_equal(s.ids[1], ids[5]);
    drop_dir(dir);
}

static void test_bad_input_refused(void **state)
{
    (void)state;
    char *dir;
    seen_t s;
    gl_journal_t *j = open_fresh(&dir, 0);
    assert_int_equal(gl_journal_append(j, GL_JREC_ACCEPT, "short-id", "x", 1, NULL), -EINVAL);
    gl_journal_close(j);
    reopen(dir, &s);
    assert_int_equal(s.n, 0);
    drop_dir(dir);
}

static void test_crc32_known_value(void **state)
{
    (void)state;
    /* The standard check value of CRC-32/IEEE. */
    assert_int_equal(gl_crc32(0, "123456789", 9), 0xCBF43926u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32_known_value),
        cmocka_unit_test(test_append_replay_in_order_with_state_and_done),
        cmocka_unit_test(test_torn_write_at_end_is_ignored),
        cmocka_unit_test(test_checksum_mismatch_is_skipped),
        cmocka_unit_test(test_garbage_between_records_resyncs),
        cmocka_unit_test(test_record_without_request_id_is_skipped),
        cmocka_unit_test(test_duplicate_accepts_replay_once),
        cmocka_unit_test(test_rotation_and_deleting_done_segments),
        cmocka_unit_test(test_bad_input_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
