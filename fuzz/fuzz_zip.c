/* SPDX-License-Identifier: MIT */
/*
 * fuzz_zip.c: unpacking a function's zip (src/archive: libarchive reading, entry names,
 * types, modes, links, the unpacked-size limit) with gl_archive_unzip from memory into a
 * directory of the scratch space, removed after each run. The limit is 1 MiB here so bombs
 * are refused quickly. A refusal must say why and leave nothing behind; nothing may be
 * written outside the destination (the scratch directory must hold only it afterwards). An
 * unpacked tree holds only files, directories and symbolic links; no mode above 0755 (no
 * set-id bits, nothing writable by others); every link that resolves stays inside, and every
 * hard-linked file has all its names inside.
 *
 * An input that does not start with "PK" describes entries instead, and the harness writes
 * them as a zip with libarchive first, so that mutations reach entry names, types, modes and
 * link targets rather than stopping in the zip structure. Each entry: type (byte % 6: file,
 * directory, symlink, hard link, fifo, character device), mode (2 bytes, little endian),
 * name length (1 byte), name, data length (1 byte), data (a link's target).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <ftw.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "fuzz_util.h"
#include "galley/archive.h"

static char dest[512];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_quiet();
    snprintf(dest, sizeof(dest), "%s/code", fuzz_scratch());
    return 0;
}

/* Entries of the scratch directory other than "." and "..". */
static int scratch_entries(void)
{
    DIR *d = opendir(fuzz_scratch());
    struct dirent *e;
    int n = 0;
    if (!d)
        abort();
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
            n++;
    closedir(d);
    return n;
}

static uint8_t built[1u << 20];

/* Take n bytes of the description (fewer at its end). */
static const uint8_t *take(const uint8_t **p, size_t *left, size_t n, size_t *got)
{
    const uint8_t *at = *p;
    *got = n < *left ? n : *left;
    *p += *got;
    *left -= *got;
    return at;
}

static void add_entry(struct archive *a, const uint8_t **p, size_t *left)
{
    static const unsigned types[] = {AE_IFREG, AE_IFDIR, AE_IFLNK, AE_IFREG, AE_IFIFO, AE_IFCHR};
    uint8_t type = (*p)[0] % 6;
    unsigned mode = ((*p)[1] | (*p)[2] << 8) & 07777;
    size_t namelen, datalen, n;
    const uint8_t *head = take(p, left, 4, &n);
    const uint8_t *name = take(p, left, head[3], &namelen);
    const uint8_t *dl = take(p, left, 1, &n);
    const uint8_t *body = take(p, left, n ? dl[0] : 0, &datalen);
    char *path = strndup((const char *)name, namelen);
    char *target = strndup((const char *)body, datalen);
    struct archive_entry *e = archive_entry_new();
    if (!path || !target || !e)
        abort();
    archive_entry_set_pathname(e, path);
    archive_entry_set_filetype(e, types[type]);
    archive_entry_set_perm(e, mode);
    if (type == 2)
        archive_entry_set_symlink(e, target);
    else if (type == 3)
        archive_entry_set_hardlink(e, target);
    if (type == 0)
        archive_entry_set_size(e, (la_int64_t)datalen);
    if (archive_write_header(a, e) == ARCHIVE_OK && type == 0)
        archive_write_data(a, body, datalen);
    archive_entry_free(e);
    free(path);
    free(target);
}

/* The zip an entry description stands for, in built[]; its length, 0 when none was made. */
static size_t build_zip(const uint8_t *p, size_t left)
{
    struct archive *a = archive_write_new();
    size_t used = 0;
    if (!a || archive_write_set_format_zip(a) != ARCHIVE_OK ||
        archive_write_open_memory(a, built, sizeof(built), &used) != ARCHIVE_OK)
        abort();
    for (int n = 0; left >= 4 && n < 64; n++)
        add_entry(a, &p, &left);
    if (archive_write_close(a) != ARCHIVE_OK)
        used = 0;
    archive_write_free(a);
    return used;
}

static char dest_real[PATH_MAX];
static size_t dest_real_len;
/* Files with more than one name, once per name met: inode and link count. */
static struct {
    ino_t ino;
    nlink_t nlink;
} linked[256];
static size_t nlinked;

static void fail(const char *what, const char *path)
{
    fprintf(stderr, "fuzz_zip: %s: %s\n", what, path);
    abort();
}

static int check_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    char real[PATH_MAX];
    if (S_ISLNK(st->st_mode)) {
        if (realpath(path, real) &&
            (strncmp(real, dest_real, dest_real_len) != 0 ||
             (real[dest_real_len] != '/' && real[dest_real_len] != '\0')))
            fail("symbolic link resolves outside the code directory", path);
        return 0;
    }
    if (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode))
        fail("special file unpacked", path);
    if (st->st_mode & 07022)
        fail("mode above 0755", path);
    if (S_ISREG(st->st_mode) && st->st_nlink > 1 && nlinked < sizeof(linked) / sizeof(linked[0]))
        linked[nlinked].ino = st->st_ino, linked[nlinked++].nlink = st->st_nlink;
    return 0;
}

/* The tree a successful unpack left: see the file's opening comment. */
static void check_tree(void)
{
    nlinked = 0;
    if (!realpath(dest, dest_real))
        fail("code directory missing after success", dest);
    dest_real_len = strlen(dest_real);
    if (nftw(dest, check_entry, 16, FTW_PHYS) != 0)
        fail("cannot walk", dest);
    if (nlinked == sizeof(linked) / sizeof(linked[0]))
        return; /* too many to tell */
    for (size_t i = 0; i < nlinked; i++) {
        size_t names = 0;
        for (size_t k = 0; k < nlinked; k++)
            names += linked[k].ino == linked[i].ino;
        if (names != linked[i].nlink) /* the walk meets every name inside once */
            fail("hard link to a file outside the code directory", dest);
    }
}

/* Unpack and check what the unpacking left in the scratch directory. */
static void unpack(const uint8_t *zip, size_t len)
{
    gl_archive_result_t res = {0};
    gl_err_t err = {0};
    int rc = gl_archive_unzip(zip, len, dest, 1u << 20, &res, &err);
    if (rc < 0 && (err.msg[0] == '\0' || res.status == GL_ARCHIVE_OK || access(dest, F_OK) == 0))
        abort(); /* a refusal without a reason, or one that left a partial tree */
    if (scratch_entries() > (rc == 0))
        abort(); /* something was written beside the destination */
    if (rc == 0)
        check_tree();
    gl_rm_rf(dest);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size >= 2 && data[0] == 'P' && data[1] == 'K')
        unpack(data, size);
    else
        unpack(built, build_zip(data, size));
    return 0;
}
