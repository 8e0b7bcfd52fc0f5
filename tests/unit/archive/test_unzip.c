/* SPDX-License-Identifier: MIT */
/*
 * test_unzip.c: gl_archive_unzip (src/archive/unzip.c) against normal and hostile zips.
 *
 * Nothing binary is committed: normal zips come from libarchive's own zip writer, hostile ones
 * (absolute names, "..", links, fifos, devices, bad CRCs) from a small stored-only zip builder
 * below that writes whatever names and Unix modes it is told to. Every failing case checks
 * that neither the destination nor a temporary sibling is left behind.
 */
#define _GNU_SOURCE
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "galley/archive.h"
#include "galley/buf.h"
#include "galley/util.h"

/* Reach prepare_entry for the hard-link case, which a zip cannot express through libarchive. */
#include "unzip.c"

struct fixture {
    char base[64]; /* a fresh directory holding only what a test makes */
    char dest[96]; /* base/code: the destination, never existing beforehand */
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    snprintf(f->base, sizeof(f->base), "/tmp/gl-unzip-test-XXXXXX");
    if (!mkdtemp(f->base))
        return -1;
    snprintf(f->dest, sizeof(f->dest), "%s/code", f->base);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    gl_rm_rf(f->base);
    free(f);
    return 0;
}

static size_t count_dir_entries(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            n++;
    closedir(d);
    return n;
}

/* After a failure: no destination, no "code.tmp-*" sibling, nothing else either. */
static void assert_nothing_left(struct fixture *f)
{
    struct stat st;
    assert_int_equal(lstat(f->dest, &st), -1);
    assert_int_equal(count_dir_entries(f->base), 0);
}

/* ---- a stored-only zip builder that writes any name and Unix mode ---- */

struct zent {
    const char *name;
    unsigned mode; /* full st_mode: type and permissions */
    const char *data;
};

static uint32_t crc32_of(const void *p, size_t n)
{
    const unsigned char *b = p;
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= b[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1)));
    }
    return ~c;
}

static void put16(gl_buf_t *b, unsigned v)
{
    unsigned char x[2] = {v & 0xff, (v >> 8) & 0xff};
    assert_int_equal(gl_buf_append(b, x, 2), 0);
}

static void put32(gl_buf_t *b, uint32_t v)
{
    put16(b, v & 0xffff);
    put16(b, v >> 16);
}

static gl_buf_t build_zip(const struct zent *ents, size_t n)
{
    gl_buf_t zip = {0}, cd = {0};
    for (size_t i = 0; i < n; i++) {
        size_t nlen = strlen(ents[i].name), dlen = strlen(ents[i].data);
        uint32_t crc = crc32_of(ents[i].data, dlen), offset = (uint32_t)zip.len;
        put32(&zip, 0x04034b50);
        put16(&zip, 10);
        put16(&zip, 0);
        put16(&zip, 0); /* stored */
        put16(&zip, 0);
        put16(&zip, 0x21);
        put32(&zip, crc);
        put32(&zip, (uint32_t)dlen);
        put32(&zip, (uint32_t)dlen);
        put16(&zip, (unsigned)nlen);
        put16(&zip, 0);
        gl_buf_append(&zip, ents[i].name, nlen);
        gl_buf_append(&zip, ents[i].data, dlen);

        put32(&cd, 0x02014b50);
        put16(&cd, (3u << 8) | 20); /* made by Unix: external attributes carry st_mode */
        put16(&cd, 10);
        put16(&cd, 0);
        put16(&cd, 0);
        put16(&cd, 0);
        put16(&cd, 0x21);
        put32(&cd, crc);
        put32(&cd, (uint32_t)dlen);
        put32(&cd, (uint32_t)dlen);
        put16(&cd, (unsigned)nlen);
        put16(&cd, 0);
        put16(&cd, 0);
        put16(&cd, 0);
        put16(&cd, 0);
        put32(&cd, (uint32_t)ents[i].mode << 16);
        put32(&cd, offset);
        gl_buf_append(&cd, ents[i].name, nlen);
    }
    uint32_t cd_offset = (uint32_t)zip.len;
    gl_buf_append(&zip, cd.data, cd.len);
    put32(&zip, 0x06054b50);
    put16(&zip, 0);
    put16(&zip, 0);
    put16(&zip, (unsigned)n);
    put16(&zip, (unsigned)n);
    put32(&zip, (uint32_t)cd.len);
    put32(&zip, cd_offset);
    put16(&zip, 0);
    gl_buf_free(&cd);
    return zip;
}

/* ---- zips from libarchive's writer (deflate), as a real tool would make them ---- */

struct lent {
    const char *name;
    unsigned mode;
    const char *data;   /* NULL with size: that many zero bytes */
    size_t size;
    const char *target; /* symbolic link target */
};

static gl_buf_t libarchive_zip(const struct lent *ents, size_t n)
{
    size_t cap = 4 << 20, used = 0;
    gl_buf_t out = {0};
    assert_int_equal(gl_buf_reserve(&out, cap), 0);
    struct archive *a = archive_write_new();
    assert_int_equal(archive_write_set_format_zip(a), ARCHIVE_OK);
    assert_int_equal(archive_write_open_memory(a, out.data, cap, &used), ARCHIVE_OK);
    for (size_t i = 0; i < n; i++) {
        struct archive_entry *e = archive_entry_new();
        archive_entry_set_pathname(e, ents[i].name);
        archive_entry_set_mode(e, ents[i].mode);
        if (ents[i].target)
            archive_entry_set_symlink(e, ents[i].target);
        size_t size = ents[i].data ? strlen(ents[i].data) : ents[i].size;
        archive_entry_set_size(e, S_ISREG(ents[i].mode) ? (la_int64_t)size : 0);
        assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
        if (S_ISREG(ents[i].mode) && ents[i].data) {
            assert_int_equal(archive_write_data(a, ents[i].data, size), (la_ssize_t)size);
        } else if (S_ISREG(ents[i].mode)) {
            char *zeros = calloc(1, size);
            assert_int_equal(archive_write_data(a, zeros, size), (la_ssize_t)size);
            free(zeros);
        }
        archive_entry_free(e);
    }
    assert_int_equal(archive_write_close(a), ARCHIVE_OK);
    archive_write_free(a);
    out.len = used;
    return out;
}

static gl_buf_t normal_zip(void)
{
    const struct lent ents[] = {
        {"bootstrap", S_IFREG | 0755, "#!/bin/sh\necho hi\n"},
        {"lib/", S_IFDIR | 0700},
        {"lib/util.py", S_IFREG | 0644, "def f():\n    return 1\n"},
        {"lib/deep/data.txt", S_IFREG | 0600, "data"},
        {"tools/run.sh", S_IFREG | 04777, "#!/bin/sh\n"},
        {"lib/current", S_IFLNK | 0777, NULL, 0, "deep/data.txt"},
    };
    return libarchive_zip(ents, sizeof(ents) / sizeof(ents[0]));
}

static unsigned mode_of(const char *dir, const char *name)
{
    char path[256];
    struct stat st;
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    assert_int_equal(lstat(path, &st), 0);
    return st.st_mode;
}

static void test_normal_zip_keeps_exec_bits(void **state)
{
    struct fixture *f = *state;
    gl_buf_t zip = normal_zip();
    gl_archive_result_t res;
    gl_err_t err = {0};
    assert_int_equal(gl_archive_unzip(zip.data, zip.len, f->dest, 0, &res, &err), 0);
    assert_int_equal(res.status, GL_ARCHIVE_OK);
    assert_int_equal(res.entries, 6);
    assert_int_equal(res.unpacked_bytes, 18 + 22 + 4 + 10);
    assert_int_equal(mode_of(f->dest, "bootstrap"), S_IFREG | 0755);
    assert_int_equal(mode_of(f->dest, "lib"), S_IFDIR | 0755);
    assert_int_equal(mode_of(f->dest, "lib/util.py"), S_IFREG | 0644);
    assert_int_equal(mode_of(f->dest, "lib/deep"), S_IFDIR | 0755);
    assert_int_equal(mode_of(f->dest, "lib/deep/data.txt"), S_IFREG | 0644);
    assert_int_equal(mode_of(f->dest, "tools/run.sh"), S_IFREG | 0755); /* setuid dropped */
    assert_int_equal(mode_of(f->dest, "lib/current") & S_IFMT, S_IFLNK);
    assert_int_equal(mode_of(f->dest, ".") & 07777, 0755);

    gl_buf_t content = {0};
    char path[256];
    snprintf(path, sizeof(path), "%s/lib/current", f->dest);
    assert_int_equal(gl_read_file(path, 100, &content), 0);
    assert_string_equal(content.data, "data");
    gl_buf_free(&content);
    assert_int_equal(count_dir_entries(f->base), 1); /* only code/, no temporary left */
    gl_buf_free(&zip);
}

/* Lambda refuses a zip without entries ("Uploaded file must be a non-empty zip", seen for a
 * 22-byte zip) apart from a corrupt one; zero bytes get the same answer. */
static void test_empty_zip_refused(void **state)
{
    struct fixture *f = *state;
    gl_buf_t zip = libarchive_zip(NULL, 0);
    gl_archive_result_t res;
    gl_err_t err = {0};
    assert_int_equal(zip.len, 22);
    assert_true(gl_archive_unzip(zip.data, zip.len, f->dest, 0, &res, &err) < 0);
    assert_int_equal(res.status, GL_ARCHIVE_EMPTY);
    assert_true(gl_archive_unzip("", 0, f->dest, 0, &res, &err) < 0);
    assert_int_equal(res.status, GL_ARCHIVE_EMPTY);
    assert_int_equal(count_dir_entries(f->base), 0);
    gl_buf_free(&zip);
}

static void expect_failure(struct fixture *f, const void *zip, size_t len, uint64_t max,
                           gl_archive_status_t want, const char *msg_part)
{
    gl_archive_result_t res;
    gl_err_t err = {0};
    int rc = gl_archive_unzip(zip, len, f->dest, max, &res, &err);
    assert_true(rc < 0);
    assert_int_equal(res.status, want);
    assert_true(err.msg[0] != '\0');
    if (msg_part && !strstr(err.msg, msg_part))
        fail_msg("error \"%s\" does not mention \"%s\"", err.msg, msg_part);
    assert_nothing_left(f);
}

static void expect_hostile(struct fixture *f, const struct zent *ents, size_t n,
                           gl_archive_status_t want, const char *msg_part)
{
    gl_buf_t zip = build_zip(ents, n);
    expect_failure(f, zip.data, zip.len, 0, want, msg_part);
    gl_buf_free(&zip);
}

static void test_builder_zip_is_accepted(void **state)
{
    /* The hostile cases below are only meaningful if the builder's zips unpack at all. */
    struct fixture *f = *state;
    const struct zent ents[] = {
        {"ok/", S_IFDIR | 0755, ""},
        {"ok/file", S_IFREG | 0644, "x"},
        {"link", S_IFLNK | 0777, "ok/file"},
    };
    gl_buf_t zip = build_zip(ents, 3);
    gl_err_t err = {0};
    assert_int_equal(gl_archive_unzip(zip.data, zip.len, f->dest, 0, NULL, &err), 0);
    assert_int_equal(mode_of(f->dest, "link") & S_IFMT, S_IFLNK);
    gl_buf_free(&zip);
}

static void test_not_a_zip(void **state)
{
    struct fixture *f = *state;
    static const char text[] = "this is certainly not a zip file, just some text";
    expect_failure(f, text, sizeof(text) - 1, 0, GL_ARCHIVE_BAD_ZIP, "zip");
}

static void test_truncated_zip(void **state)
{
    struct fixture *f = *state;
    gl_buf_t zip = normal_zip();
    expect_failure(f, zip.data, zip.len / 2, 0, GL_ARCHIVE_BAD_ZIP, NULL);
    expect_failure(f, zip.data, zip.len - 10, 0, GL_ARCHIVE_BAD_ZIP, NULL);
    gl_buf_free(&zip);
}

static void test_bad_crc(void **state)
{
    struct fixture *f = *state;
    const struct zent ents[] = {{"a.txt", S_IFREG | 0644, "hello, world"}};
    gl_buf_t zip = build_zip(ents, 1);
    zip.data[30 + 5 + 3] ^= 0x20; /* a byte of the data, after the 30-byte header and name */
    expect_failure(f, zip.data, zip.len, 0, GL_ARCHIVE_BAD_ZIP, "a.txt");
    gl_buf_free(&zip);
}

static void test_dotdot_entry(void **state)
{
    struct fixture *f = *state;
    const struct zent ents[] = {{"fine.txt", S_IFREG | 0644, "x"},
                                {"../evil", S_IFREG | 0644, "pwned"}};
    expect_hostile(f, ents, 2, GL_ARCHIVE_UNSAFE_ENTRY, "../evil");
    const struct zent nested[] = {{"a/b/../../../evil", S_IFREG | 0644, "pwned"}};
    expect_hostile(f, nested, 1, GL_ARCHIVE_UNSAFE_ENTRY, "evil");
}

static void test_absolute_entry(void **state)
{
    struct fixture *f = *state;
    char name[128];
    snprintf(name, sizeof(name), "%s/abs-evil", f->base);
    const struct zent ents[] = {{name, S_IFREG | 0644, "pwned"}};
    expect_hostile(f, ents, 1, GL_ARCHIVE_UNSAFE_ENTRY, "absolute");
}

static void test_symlink_escaping(void **state)
{
    struct fixture *f = *state;
    const struct zent abs[] = {{"link", S_IFLNK | 0777, "/etc/passwd"}};
    expect_hostile(f, abs, 1, GL_ARCHIVE_UNSAFE_ENTRY, "link");
    const struct zent up[] = {{"dir/", S_IFDIR | 0755, ""},
                              {"dir/link", S_IFLNK | 0777, "../../outside"}};
    expect_hostile(f, up, 2, GL_ARCHIVE_UNSAFE_ENTRY, "dir/link");
}

static void test_symlink_chain_escaping(void **state)
{
    /* Each link stays inside as text; together d1/L resolves to base/x. Only the kernel's
     * resolution after unpacking sees it. */
    struct fixture *f = *state;
    const struct zent ents[] = {{"d1/", S_IFDIR | 0755, ""},
                                {"d1/d2", S_IFLNK | 0777, "."},
                                {"d1/L", S_IFLNK | 0777, "d2/../../x"}};
    expect_hostile(f, ents, 3, GL_ARCHIVE_UNSAFE_ENTRY, "d1/L");
}

static void test_symlink_then_write_through(void **state)
{
    struct fixture *f = *state;
    char target[128], outside[128], victim[160];
    snprintf(outside, sizeof(outside), "%s/outside", f->base);
    snprintf(victim, sizeof(victim), "%s/passwd", outside);
    snprintf(target, sizeof(target), "%s", outside);
    const struct zent abs[] = {{"link", S_IFLNK | 0777, target},
                               {"link/passwd", S_IFREG | 0644, "pwned"}};
    gl_buf_t zip = build_zip(abs, 2);
    assert_int_equal(mkdir(outside, 0755), 0);
    gl_archive_result_t res;
    gl_err_t err = {0};
    assert_true(gl_archive_unzip(zip.data, zip.len, f->dest, 0, &res, &err) < 0);
    assert_int_equal(res.status, GL_ARCHIVE_UNSAFE_ENTRY);
    assert_int_equal(access(victim, F_OK), -1);
    assert_int_equal(rmdir(outside), 0);
    assert_nothing_left(f);
    gl_buf_free(&zip);

    /* A link that stays inside may exist, but nothing may be written through it. */
    const struct zent inside[] = {{"sub/", S_IFDIR | 0755, ""},
                                  {"link", S_IFLNK | 0777, "sub"},
                                  {"link/file", S_IFREG | 0644, "x"}};
    expect_hostile(f, inside, 3, GL_ARCHIVE_UNSAFE_ENTRY, "symbolic link");
}

static void test_special_files(void **state)
{
    struct fixture *f = *state;
    /* libarchive deliberately reads a FIFO mode as a regular file (Info-ZIP `zip -FI`): what
     * lands on disk must be a plain file holding the entry's bytes, never a FIFO. */
    const struct zent fifo[] = {{"fifo", S_IFIFO | 0644, "piped"}};
    gl_buf_t zip = build_zip(fifo, 1);
    gl_err_t err = {0};
    assert_int_equal(gl_archive_unzip(zip.data, zip.len, f->dest, 0, NULL, &err), 0);
    assert_int_equal(mode_of(f->dest, "fifo"), S_IFREG | 0644);
    assert_int_equal(gl_rm_rf(f->dest), 0);
    gl_buf_free(&zip);

    const struct zent chr[] = {{"null", S_IFCHR | 0666, ""}};
    expect_hostile(f, chr, 1, GL_ARCHIVE_UNSAFE_ENTRY, "null");
    const struct zent blk[] = {{"sda", S_IFBLK | 0660, ""}};
    expect_hostile(f, blk, 1, GL_ARCHIVE_UNSAFE_ENTRY, "sda");
    const struct zent sock[] = {{"sock", S_IFSOCK | 0755, ""}};
    expect_hostile(f, sock, 1, GL_ARCHIVE_UNSAFE_ENTRY, "sock");
}

static void test_hard_link_refused(void **state)
{
    gl_archive_result_t res = {0};
    gl_err_t err = {0};
    struct unpack u = {.max = 1000, .res = &res, .err = &err};
    snprintf(u.root, sizeof(u.root), "/nonexistent-root");
    u.rootlen = strlen(u.root);
    struct archive_entry *e = archive_entry_new();
    archive_entry_set_pathname(e, "copy");
    archive_entry_set_mode(e, S_IFREG | 0644);
    archive_entry_set_hardlink(e, "original");
    assert_true(prepare_entry(&u, e) < 0);
    assert_int_equal(res.status, GL_ARCHIVE_UNSAFE_ENTRY);
    assert_non_null(strstr(err.msg, "hard link"));
    archive_entry_free(e);
}

static void test_zip_bomb_stopped_at_limit(void **state)
{
    struct fixture *f = *state;
    const struct lent ents[] = {{"zeros.bin", S_IFREG | 0644, NULL, 1 << 20}};
    gl_buf_t zip = libarchive_zip(ents, 1);
    assert_true(zip.len < 20000); /* highly compressible: the limit must bite on output */
    gl_archive_result_t res;
    gl_err_t err = {0};
    assert_true(gl_archive_unzip(zip.data, zip.len, f->dest, 1000, &res, &err) < 0);
    assert_int_equal(res.status, GL_ARCHIVE_TOO_LARGE);
    assert_true(res.unpacked_bytes <= 1000); /* stopped when crossing, not after */
    assert_non_null(strstr(err.msg, "limit"));
    assert_nothing_left(f);

    /* The same archive fits a limit of exactly its size. */
    assert_int_equal(gl_archive_unzip(zip.data, zip.len, f->dest, 1 << 20, &res, &err), 0);
    assert_int_equal(res.unpacked_bytes, 1 << 20);
    gl_buf_free(&zip);
}

/* "x" and "x/y" (issue 9): a clash between two entries, answered as bad input, not as a
 * local write failure; every order and the "x/" directory entry too. */
static void test_file_and_directory_clash(void **state)
{
    struct fixture *f = *state;
    const struct zent file_then_child[] = {{"x", S_IFREG | 0644, "a"},
                                           {"x/y", S_IFREG | 0644, "b"}};
    const struct zent child_then_file[] = {{"x/y", S_IFREG | 0644, "b"},
                                           {"x", S_IFREG | 0644, "a"}};
    const struct zent dir_then_file[] = {{"d/", S_IFDIR | 0755, ""}, {"d", S_IFREG | 0644, "a"}};
    const struct zent file_then_dir[] = {{"d", S_IFREG | 0644, "a"}, {"d/", S_IFDIR | 0755, ""}};
    const struct zent deep[] = {{"a/x", S_IFREG | 0644, "a"}, {"a/x/y/z", S_IFREG | 0644, "b"}};
    const struct zent link_then_dir[] = {{"l", S_IFLNK | 0777, "x"}, {"l/", S_IFDIR | 0755, ""}};
    expect_hostile(f, file_then_child, 2, GL_ARCHIVE_CONFLICT, "x/y is inside x, which is a file");
    expect_hostile(f, child_then_file, 2, GL_ARCHIVE_CONFLICT, "x both as a file and as a dir");
    expect_hostile(f, dir_then_file, 2, GL_ARCHIVE_CONFLICT, "d both");
    expect_hostile(f, file_then_dir, 2, GL_ARCHIVE_CONFLICT, "d both");
    expect_hostile(f, deep, 2, GL_ARCHIVE_CONFLICT, "inside a/x,");
    expect_hostile(f, link_then_dir, 2, GL_ARCHIVE_CONFLICT, "l both");
}

static void test_repeated_entries_accepted(void **state)
{
    /* A repeated file replaces the first copy (as unzip does); a repeated directory is fine. */
    struct fixture *f = *state;
    const struct zent ents[] = {{"d/", S_IFDIR | 0755, ""}, {"d/f", S_IFREG | 0644, "one"},
                                {"d/", S_IFDIR | 0755, ""}, {"d/f", S_IFREG | 0644, "two"}};
    gl_buf_t zip = build_zip(ents, 4);
    gl_err_t err = {0};
    gl_buf_t content = {0};
    char path[160];
    assert_int_equal(gl_archive_unzip(zip.data, zip.len, f->dest, 0, NULL, &err), 0);
    snprintf(path, sizeof(path), "%s/d/f", f->dest);
    assert_int_equal(gl_read_file(path, 100, &content), 0);
    assert_int_equal(content.len, 3);
    assert_memory_equal(content.data, "two", 3);
    gl_buf_free(&content);
    gl_buf_free(&zip);
}

static void test_existing_destination_refused(void **state)
{
    struct fixture *f = *state;
    gl_buf_t zip = normal_zip();
    assert_int_equal(mkdir(f->dest, 0755), 0);
    gl_archive_result_t res;
    gl_err_t err = {0};
    assert_int_equal(gl_archive_unzip(zip.data, zip.len, f->dest, 0, &res, &err), -EEXIST);
    assert_int_equal(res.status, GL_ARCHIVE_IO);
    assert_int_equal(count_dir_entries(f->dest), 0);
    assert_int_equal(count_dir_entries(f->base), 1);
    gl_buf_free(&zip);
}

/* A stop flag set by another thread (the API closing) ends the unzip with nothing left. */
static void test_stop_flag_cancels(void **state)
{
    struct fixture *f = *state;
    gl_buf_t zip = normal_zip();
    gl_archive_result_t res;
    gl_err_t err = {0};
    atomic_int stop = 1;
    assert_int_equal(gl_archive_unzip_stoppable(zip.data, zip.len, f->dest, 0, &stop, &res, &err),
                     -ECANCELED);
    assert_int_equal(res.status, GL_ARCHIVE_CANCELLED);
    assert_nothing_left(f);
    atomic_store(&stop, 0);
    assert_int_equal(gl_archive_unzip_stoppable(zip.data, zip.len, f->dest, 0, &stop, &res, &err),
                     0);
    assert_int_equal(res.entries, 6);
    gl_buf_free(&zip);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_normal_zip_keeps_exec_bits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_zip_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_builder_zip_is_accepted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_a_zip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_zip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_crc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dotdot_entry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_absolute_entry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlink_escaping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlink_chain_escaping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_symlink_then_write_through, setup, teardown),
        cmocka_unit_test_setup_teardown(test_special_files, setup, teardown),
        cmocka_unit_test(test_hard_link_refused),
        cmocka_unit_test_setup_teardown(test_zip_bomb_stopped_at_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_existing_destination_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_and_directory_clash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_repeated_entries_accepted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_flag_cancels, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
