/* SPDX-License-Identifier: MIT */
/*
 * unzip.c: gl_archive_unzip, unpacking a hostile zip held in memory into a code directory.
 *
 * Owns the libarchive reader and disk writer of one call and the temporary directory it
 * unpacks into. Invariant: dest_dir appears only by the final rename of a fully unpacked and
 * verified tree; every failure removes the temporary tree, so nothing half-unpacked remains.
 *
 * A FIFO mode never reaches us: libarchive turns it into a regular file on purpose (Info-ZIP's
 * `zip -FI` stores a pipe's content under the pipe's mode), which is harmless. Devices and
 * sockets arrive as such and are refused.
 *
 * Defences, each entry in order: the name is normalised as text (no absolute path, no ".."),
 * its type must be a regular file, a directory or a symbolic link whose target stays inside
 * as text; no directory on its way may be a symbolic link already on disk (our own lstat walk,
 * and libarchive's ARCHIVE_EXTRACT_SECURE_SYMLINKS as a second guard); the bytes written are
 * counted as they are decompressed, never trusting the sizes in the headers. After the last
 * entry every symbolic link is resolved by the kernel under RESOLVE_BENEATH, which catches a
 * chain of links that only escapes once all of them exist.
 *
 * ARCHIVE_EXTRACT_SECURE_NOABSOLUTEPATHS cannot be used: the names handed to libarchive are
 * the temporary root (absolute, symlink-free thanks to realpath) joined with the normalised
 * entry name. Absolute entry names are refused by our own check before that join.
 */
#define _GNU_SOURCE
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "galley/archive.h"
#include "galley/util.h"
#include "internal.h"

#define COPY_CHUNK 65536

struct unpack {
    char root[PATH_MAX];   /* realpath of the temporary directory */
    size_t rootlen;
    char **links;          /* normalised paths of the symbolic links written so far */
    size_t nlinks, caplinks;
    uint64_t max;
    gl_archive_result_t *res;
    gl_err_t *err;
    const atomic_int *stop; /* set by another thread: give up before the next entry */
};

static int refuse(struct unpack *u, gl_archive_status_t st, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int refuse(struct unpack *u, gl_archive_status_t st, int code, const char *fmt, ...)
{
    char msg[sizeof(u->err->msg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    u->res->status = st;
    return gl_err_set(u->err, code, "%s", msg);
}

static int remember_link(struct unpack *u, const char *path)
{
    if (u->nlinks == u->caplinks) {
        size_t cap = u->caplinks ? u->caplinks * 2 : 16;
        char **p = realloc(u->links, cap * sizeof(*p));
        if (!p)
            return refuse(u, GL_ARCHIVE_IO, ENOMEM, "out of memory");
        u->links = p;
        u->caplinks = cap;
    }
    if (!(u->links[u->nlinks] = strdup(path)))
        return refuse(u, GL_ARCHIVE_IO, ENOMEM, "out of memory");
    u->nlinks++;
    return 0;
}

/* Refuse an entry whose parent directories include a symbolic link already on disk:
 * writing "link/passwd" after "link -> /etc" would otherwise land outside the root. A parent
 * that is a file ("x" then "x/y") is a conflict: libarchive would replace the file with a
 * directory, or fail with an errno that looks like a local write error. */
static int check_parents(struct unpack *u, const char *norm, const char *full)
{
    char path[PATH_MAX];
    size_t fulllen = strlen(full);
    memcpy(path, full, fulllen + 1);
    for (size_t i = u->rootlen + 1; i < fulllen; i++) {
        if (path[i] != '/')
            continue;
        path[i] = '\0';
        struct stat st;
        int r = lstat(path, &st);
        path[i] = '/';
        if (r < 0) {
            if (errno == ENOENT || errno == ENOTDIR)
                return 0; /* nothing deeper exists yet */
            return refuse(u, GL_ARCHIVE_IO, errno, "inspect %s", norm);
        }
        if (S_ISLNK(st.st_mode))
            return refuse(u, GL_ARCHIVE_UNSAFE_ENTRY, EPERM,
                        "zip entry %s writes through a symbolic link", norm);
        if (!S_ISDIR(st.st_mode))
            return refuse(u, GL_ARCHIVE_CONFLICT, ENOTDIR,
                        "zip entry %s is inside %.*s, which is a file", norm,
                        (int)(i - u->rootlen - 1), norm);
    }
    return 0;
}

/* Refuse a directory entry where a file was unpacked, or a file or link where a directory
 * was ("x/" and "x", in either order). A repeated file replaces the earlier one, as unzip
 * does; a repeated directory is harmless. */
static int check_clash(struct unpack *u, const char *norm, const char *full, mode_t type)
{
    struct stat st;
    if (lstat(full, &st) < 0) {
        if (errno == ENOENT)
            return 0;
        return refuse(u, GL_ARCHIVE_IO, errno, "inspect %s", norm);
    }
    if (!S_ISDIR(st.st_mode) == (type != AE_IFDIR))
        return 0;
    return refuse(u, GL_ARCHIVE_CONFLICT, EEXIST,
                "zip entries name %s both as a file and as a directory", norm);
}

/* Decide what may be unpacked and rewrite the entry to land under the root with capped
 * modes. Returns 1 to write it, 0 to skip it (the root itself), or a negative errno. */
static int prepare_entry(struct unpack *u, struct archive_entry *e)
{
    const char *name = archive_entry_pathname(e);
    char norm[PATH_MAX], full[PATH_MAX];
    int rc = gl_archive_normalize_name(name, norm, sizeof(norm));
    if (rc == -EPERM)
        return refuse(u, GL_ARCHIVE_UNSAFE_ENTRY, EPERM,
                    "zip entry %s is an absolute path or contains \"..\"", name);
    if (rc == -ENAMETOOLONG)
        return refuse(u, GL_ARCHIVE_UNSAFE_ENTRY, ENAMETOOLONG, "zip entry name is too long");
    if (rc < 0)
        return refuse(u, GL_ARCHIVE_BAD_ZIP, EINVAL, "zip entry without a usable name");
    if (archive_entry_hardlink(e))
        return refuse(u, GL_ARCHIVE_UNSAFE_ENTRY, EPERM, "zip entry %s is a hard link", norm);

    mode_t type = archive_entry_filetype(e);
    mode_t perm = archive_entry_perm(e);
    if (type == AE_IFREG) {
        archive_entry_set_perm(e, (perm & 0111) ? 0755 : 0644);
    } else if (type == AE_IFDIR) {
        archive_entry_set_perm(e, 0755);
    } else if (type == AE_IFLNK) {
        const char *target = archive_entry_symlink(e);
        if (gl_archive_check_link_target(norm, target) < 0)
            return refuse(u, GL_ARCHIVE_UNSAFE_ENTRY, EPERM,
                        "zip entry %s is a symbolic link leaving the archive (to %s)", norm,
                        target ? target : "");
    } else {
        return refuse(u, GL_ARCHIVE_UNSAFE_ENTRY, EPERM,
                    "zip entry %s is not a regular file, directory or symbolic link", norm);
    }
    if (!*norm)
        return 0;
    if ((size_t)snprintf(full, sizeof(full), "%s/%s", u->root, norm) >= sizeof(full))
        return refuse(u, GL_ARCHIVE_UNSAFE_ENTRY, ENAMETOOLONG, "zip entry %s is too long", norm);
    if ((rc = check_parents(u, norm, full)) < 0 || (rc = check_clash(u, norm, full, type)) < 0)
        return rc;
    if (type == AE_IFLNK && (rc = remember_link(u, norm)) < 0)
        return rc;
    archive_entry_copy_pathname(e, full);
    /* Ownership is never restored (no ARCHIVE_EXTRACT_OWNER); drop the rest of the metadata. */
    archive_entry_xattr_clear(e);
    archive_entry_acl_clear(e);
    archive_entry_set_fflags(e, 0, 0);
    return 1;
}

static int copy_data(struct unpack *u, struct archive *in, struct archive *out, const char *name)
{
    char *buf = malloc(COPY_CHUNK);
    int rc = 0;
    if (!buf)
        return refuse(u, GL_ARCHIVE_IO, ENOMEM, "out of memory");
    for (;;) {
        la_ssize_t n = archive_read_data(in, buf, COPY_CHUNK);
        if (n == 0)
            break;
        if (n < 0) {
            rc = refuse(u, GL_ARCHIVE_BAD_ZIP, EINVAL, "zip entry %s: %s", name,
                      archive_error_string(in) ? archive_error_string(in) : "unreadable");
            break;
        }
        /* The limit is checked before the bytes reach the disk, so a bomb stops here. */
        if (u->res->unpacked_bytes + (uint64_t)n > u->max) {
            rc = refuse(u, GL_ARCHIVE_TOO_LARGE, EFBIG,
                      "unzipped size is over the limit of %llu bytes (at entry %s)",
                      (unsigned long long)u->max, name);
            break;
        }
        if (archive_write_data(out, buf, (size_t)n) < 0) {
            rc = refuse(u, GL_ARCHIVE_IO, archive_errno(out) > 0 ? archive_errno(out) : EIO,
                      "write %s: %s", name, archive_error_string(out));
            break;
        }
        u->res->unpacked_bytes += (uint64_t)n;
    }
    free(buf);
    return rc;
}

/* Let the kernel resolve every link under the root; a chain that escapes only once all its
 * links exist (a -> ".", b -> "a/../..") fails here with EXDEV. */
static int verify_links(struct unpack *u)
{
    if (u->nlinks == 0)
        return 0;
    int rootfd = open(u->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0)
        return refuse(u, GL_ARCHIVE_IO, errno, "open %s", u->root);
    int rc = 0;
    for (size_t i = 0; i < u->nlinks && rc == 0; i++) {
        struct open_how how = {.flags = O_PATH | O_CLOEXEC,
                               .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS};
        long fd = syscall(SYS_openat2, rootfd, u->links[i], &how, sizeof(how));
        if (fd >= 0) {
            close((int)fd);
            continue;
        }
        if (errno == ENOENT || errno == ENOTDIR)
            continue; /* dangling, but every step so far stayed inside */
        if (errno == ENOSYS) {
            /* Kernels before 5.6: let realpath resolve it and compare prefixes. */
            char full[PATH_MAX], *real;
            if ((size_t)snprintf(full, sizeof(full), "%s/%s", u->root, u->links[i]) >=
                sizeof(full)) {
                rc = refuse(u, GL_ARCHIVE_UNSAFE_ENTRY, ENAMETOOLONG, "path too long");
                break;
            }
            if (!(real = realpath(full, NULL))) {
                if (errno == ENOENT || errno == ENOTDIR)
                    continue;
                rc = refuse(u, GL_ARCHIVE_UNSAFE_ENTRY, EPERM,
                          "zip entry %s is a symbolic link that cannot be resolved", u->links[i]);
                break;
            }
            int inside = strncmp(real, u->root, u->rootlen) == 0 &&
                         (real[u->rootlen] == '/' || real[u->rootlen] == '\0');
            free(real);
            if (!inside)
                rc = refuse(u, GL_ARCHIVE_UNSAFE_ENTRY, EPERM,
                          "zip entry %s is a symbolic link leaving the archive", u->links[i]);
            continue;
        }
        if (errno == EXDEV || errno == ELOOP)
            rc = refuse(u, GL_ARCHIVE_UNSAFE_ENTRY, EPERM,
                      "zip entry %s is a symbolic link leaving the archive", u->links[i]);
        else
            rc = refuse(u, GL_ARCHIVE_IO, errno, "resolve %s", u->links[i]);
    }
    close(rootfd);
    return rc;
}

/* Directories libarchive made on its own (for "a/b/file" without an "a/" entry) follow the
 * umask; make every directory 0755 so the function's user can read its code. */
static int fix_dir_modes(struct unpack *u, const char *dir, int depth)
{
    if (depth > 512)
        return refuse(u, GL_ARCHIVE_UNSAFE_ENTRY, ELOOP, "zip nests directories too deeply");
    if (chmod(dir, 0755) < 0)
        return refuse(u, GL_ARCHIVE_IO, errno, "chmod %s", dir);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return refuse(u, GL_ARCHIVE_IO, errno, "open %s", dir);
    DIR *d = fdopendir(fd);
    if (!d) {
        close(fd);
        return refuse(u, GL_ARCHIVE_IO, errno, "open %s", dir);
    }
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(d))) {
        if (de->d_type != DT_DIR || !strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        char *sub = gl_path_join(dir, de->d_name);
        if (!sub) {
            rc = refuse(u, GL_ARCHIVE_IO, ENOMEM, "out of memory");
            break;
        }
        rc = fix_dir_modes(u, sub, depth + 1);
        free(sub);
    }
    closedir(d);
    return rc;
}

static int unpack_all(struct unpack *u, struct archive *in, struct archive *out)
{
    struct archive_entry *e;
    int rc;
    for (;;) {
        int r = archive_read_next_header(in, &e);
        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_WARN)
            return refuse(u, GL_ARCHIVE_BAD_ZIP, EINVAL, "not a valid zip file: %s",
                        archive_error_string(in) ? archive_error_string(in) : "unreadable");
        if (u->stop && atomic_load(u->stop))
            return refuse(u, GL_ARCHIVE_CANCELLED, ECANCELED, "unpacking cancelled");
        u->res->entries++;
        if ((rc = prepare_entry(u, e)) < 0)
            return rc;
        if (rc == 0)
            continue;
        const char *full = archive_entry_pathname(e);
        const char *name = full + u->rootlen + 1;
        r = archive_write_header(out, e);
        if (r < ARCHIVE_WARN) {
            int code = archive_errno(out);
            /* libarchive reports its own refusals (symbolic links, "..") with a non-errno. */
            if (code <= 0)
                return refuse(u, GL_ARCHIVE_UNSAFE_ENTRY, EPERM, "zip entry %s refused: %s", name,
                            archive_error_string(out));
            return refuse(u, GL_ARCHIVE_IO, code, "unpack %s: %s", name, archive_error_string(out));
        }
        if (archive_entry_filetype(e) == AE_IFREG && (rc = copy_data(u, in, out, name)) < 0)
            return rc;
        if (archive_write_finish_entry(out) < ARCHIVE_WARN)
            return refuse(u, GL_ARCHIVE_IO, archive_errno(out) > 0 ? archive_errno(out) : EIO,
                        "unpack %s: %s", name, archive_error_string(out));
    }
    if (archive_write_close(out) < ARCHIVE_WARN)
        return refuse(u, GL_ARCHIVE_IO, archive_errno(out) > 0 ? archive_errno(out) : EIO,
                    "finish unpacking: %s", archive_error_string(out));
    if ((rc = verify_links(u)) < 0)
        return rc;
    return fix_dir_modes(u, u->root, 0);
}

/* realpath of dest_dir's parent joined with its last component; the parent must exist. */
static int resolve_dest(struct unpack *u, const char *dest_dir, char *out, size_t outlen)
{
    char copy[PATH_MAX], *parent, *base, *real;
    size_t len = strlen(dest_dir);
    while (len > 1 && dest_dir[len - 1] == '/')
        len--;
    if (len == 0 || len >= sizeof(copy))
        return refuse(u, GL_ARCHIVE_IO, EINVAL, "bad destination directory");
    memcpy(copy, dest_dir, len);
    copy[len] = '\0';
    base = strrchr(copy, '/');
    if (base == copy) {
        parent = "/";
        base++;
    } else if (base) {
        *base++ = '\0';
        parent = copy;
    } else {
        parent = ".";
        base = copy;
    }
    if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
        return refuse(u, GL_ARCHIVE_IO, EINVAL, "bad destination directory %s", dest_dir);
    if (!(real = realpath(parent, NULL)))
        return refuse(u, GL_ARCHIVE_IO, errno, "destination parent %s", parent);
    int n = snprintf(out, outlen, "%s%s%s", real, strcmp(real, "/") ? "/" : "", base);
    free(real);
    if (n < 0 || (size_t)n + sizeof(".tmp-XXXXXX") > outlen)
        return refuse(u, GL_ARCHIVE_IO, ENAMETOOLONG, "destination path too long");
    return 0;
}

/* A zip without entries is only an end-of-central-directory record (and its comment); zip
 * tools make them. libarchive's seekable reader does not recognise one, and Lambda refuses it
 * apart from other bad zips ("Uploaded file must be a non-empty zip"), so it is told apart. */
static int is_empty_zip(const unsigned char *p, size_t len)
{
    if (len < 22 || memcmp(p, "PK\5\6", 4) != 0)
        return 0;
    unsigned entries = p[10] | p[11] << 8, comment = p[20] | p[21] << 8;
    uint32_t cd_size = p[12] | p[13] << 8 | p[14] << 16 | (uint32_t)p[15] << 24;
    return entries == 0 && cd_size == 0 && len == 22 + (size_t)comment;
}

static int rename_into_place(struct unpack *u, const char *dest)
{
    if (renameat2(AT_FDCWD, u->root, AT_FDCWD, dest, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return refuse(u, GL_ARCHIVE_IO, errno, "rename into %s", dest);
    /* File systems without RENAME_NOREPLACE: check, then rename (a small race, documented). */
    struct stat st;
    if (lstat(dest, &st) == 0)
        return refuse(u, GL_ARCHIVE_IO, EEXIST, "%s already exists", dest);
    if (rename(u->root, dest) < 0)
        return refuse(u, GL_ARCHIVE_IO, errno, "rename into %s", dest);
    return 0;
}

int gl_archive_unzip(const void *zip, size_t len, const char *dest_dir, uint64_t max_unpacked,
                     gl_archive_result_t *res, gl_err_t *err)
{
    return gl_archive_unzip_stoppable(zip, len, dest_dir, max_unpacked, NULL, res, err);
}

int gl_archive_unzip_stoppable(const void *zip, size_t len, const char *dest_dir,
                               uint64_t max_unpacked, const atomic_int *stop,
                               gl_archive_result_t *res, gl_err_t *err)
{
    gl_archive_result_t local_res;
    struct unpack u = {.max = max_unpacked ? max_unpacked : GL_ARCHIVE_MAX_UNPACKED,
                       .res = res ? res : &local_res, .err = err, .stop = stop};
    char dest[PATH_MAX];
    struct archive *in = NULL, *out = NULL;
    int made_tmp = 0, rc;
    struct stat st;

    memset(u.res, 0, sizeof(*u.res));
    if ((rc = resolve_dest(&u, dest_dir, dest, sizeof(dest))) < 0)
        goto out;
    if (lstat(dest, &st) == 0) {
        rc = refuse(&u, GL_ARCHIVE_IO, EEXIST, "%s already exists", dest_dir);
        goto out;
    }
    if (!zip || len == 0 || is_empty_zip(zip, len)) {
        rc = refuse(&u, GL_ARCHIVE_EMPTY, EINVAL, "the zip file has no entries");
        goto out;
    }
    if ((size_t)snprintf(u.root, sizeof(u.root), "%s.tmp-XXXXXX", dest) >= sizeof(u.root)) {
        rc = refuse(&u, GL_ARCHIVE_IO, ENAMETOOLONG, "destination path too long");
        goto out;
    }
    if (!mkdtemp(u.root)) {
        rc = refuse(&u, GL_ARCHIVE_IO, errno, "create a temporary directory beside %s", dest_dir);
        goto out;
    }
    made_tmp = 1;
    u.rootlen = strlen(u.root);

    if (!(in = archive_read_new()) || !(out = archive_write_disk_new())) {
        rc = refuse(&u, GL_ARCHIVE_IO, ENOMEM, "out of memory");
        goto out;
    }
    /* Only the seekable reader: it trusts the central directory, where the Unix modes live.
     * The streaming one reads local headers only, which would lose executable bits and
     * turn symbolic links into files, and would accept a zip whose directory is missing. */
    archive_read_support_format_zip_seekable(in);
    if (archive_read_open_memory(in, zip, len) != ARCHIVE_OK) {
        rc = refuse(&u, GL_ARCHIVE_BAD_ZIP, EINVAL, "not a valid zip file: %s",
                  archive_error_string(in) ? archive_error_string(in) : "unreadable");
        goto out;
    }
    archive_write_disk_set_options(out, ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_TIME |
                                            ARCHIVE_EXTRACT_SECURE_SYMLINKS |
                                            ARCHIVE_EXTRACT_SECURE_NODOTDOT);
    if ((rc = unpack_all(&u, in, out)) < 0)
        goto out;
    if ((rc = rename_into_place(&u, dest)) < 0)
        goto out;
    made_tmp = 0; /* the tree is dest now */
    u.res->status = GL_ARCHIVE_OK;
    rc = 0;
out:
    if (in)
        archive_read_free(in);
    if (out)
        archive_write_free(out); /* closes first: pending directory fixups land in tmp */
    if (made_tmp)
        gl_rm_rf(u.root);
    for (size_t i = 0; i < u.nlinks; i++)
        free(u.links[i]);
    free(u.links);
    return rc;
}
