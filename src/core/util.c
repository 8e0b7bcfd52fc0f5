/* SPDX-License-Identifier: MIT */
/*
 * util.c: ids (getrandom), clocks, base64 and SHA-256 (OpenSSL's libcrypto), percent
 * decoding, query strings, and the few file-system helpers the daemon needs.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <libgen.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "galley/util.h"

static void fill_random(unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t r = getrandom(p, n, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            /* getrandom cannot fail on Linux >= 3.17 once seeded; fall back to weak bytes. */
            for (size_t i = 0; i < n; i++)
                p[i] = (unsigned char)rand();
            return;
        }
        p += r;
        n -= (size_t)r;
    }
}

/*
 * Random bytes from a per-thread pool refilled by one getrandom() of 512 bytes: a warm invoke
 * takes about 60 (its request id, trace ids, span ids), five syscalls when each was its own.
 * The bytes are the kernel's all the same; only the calls are batched. Each thread has its own
 * pool (the work queue's threads make ids too), and no process forked by the daemon uses it.
 */
static void random_bytes(unsigned char *p, size_t n)
{
    static _Thread_local unsigned char pool[512];
    static _Thread_local size_t left;

    if (n > sizeof(pool)) {
        fill_random(p, n);
        return;
    }
    if (left < n) {
        fill_random(pool, sizeof(pool));
        left = sizeof(pool);
    }
    memcpy(p, pool + sizeof(pool) - left, n);
    explicit_bzero(pool + sizeof(pool) - left, n); /* handed out once only */
    left -= n;
}

void gl_random_bytes(void *out, size_t n) { random_bytes(out, n); }

void gl_uuid4(char out[GL_UUID_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[16];
    random_bytes(b, sizeof(b));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    char *p = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *p++ = '-';
        *p++ = hex[b[i] >> 4];
        *p++ = hex[b[i] & 15];
    }
    *p = '\0';
}

void gl_random_hex(char *out, size_t nbytes)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[64];
    size_t done = 0;
    while (done < nbytes) {
        size_t n = nbytes - done < sizeof(b) ? nbytes - done : sizeof(b);
        random_bytes(b, n);
        for (size_t i = 0; i < n; i++) {
            out[2 * (done + i)] = hex[b[i] >> 4];
            out[2 * (done + i) + 1] = hex[b[i] & 15];
        }
        done += n;
    }
    out[2 * nbytes] = '\0';
}

int64_t gl_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t gl_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* "YYYY-MM-DDTHH:MM:SS" of secs; the last second's is kept per thread (log lines, headers and
 * the daemon log stamp the same second many times over), so gmtime_r and the formatting run
 * once a second. */
static const char *second_prefix(time_t secs)
{
    static __thread time_t cached_secs = (time_t)-1;
    static __thread char cached[64]; /* room for any int year */
    if (secs != cached_secs) {
        struct tm tm;
        if (!gmtime_r(&secs, &tm))
            memset(&tm, 0, sizeof(tm)); /* out of range: 1900-00-00T00:00:00 */
        snprintf(cached, sizeof(cached), "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        cached_secs = secs;
    }
    return cached;
}

static void fmt_time(int64_t ms, char *out, size_t outlen, const char *zone)
{
    int64_t secs = ms / 1000, milli = ms % 1000;
    if (milli < 0) { /* before 1970: the second before, and a positive millisecond */
        secs--;
        milli += 1000;
    }
    const char *prefix = second_prefix((time_t)secs);
    size_t plen = strlen(prefix), zlen = strlen(zone);
    if (outlen < plen + 4 + zlen + 1) {
        snprintf(out, outlen, "%s.%03d%s", prefix, (int)milli, zone);
        return;
    }
    memcpy(out, prefix, plen);
    char *p = out + plen;
    *p++ = '.';
    *p++ = (char)('0' + milli / 100);
    *p++ = (char)('0' + milli / 10 % 10);
    *p++ = (char)('0' + milli % 10);
    memcpy(p, zone, zlen + 1);
}

void gl_fmt_lambda_time(int64_t epoch_ms, char *out, size_t outlen)
{
    fmt_time(epoch_ms, out, outlen, "+0000");
}

void gl_fmt_iso8601(int64_t epoch_ms, char *out, size_t outlen)
{
    fmt_time(epoch_ms, out, outlen, "Z");
}

int gl_b64_encode(const void *data, size_t len, char **out)
{
    if (len > (size_t)1 << 30)
        return -ENOMEM;
    char *p = malloc(4 * ((len + 2) / 3) + 1);
    if (!p)
        return -ENOMEM;
    int n = EVP_EncodeBlock((unsigned char *)p, data, (int)len);
    p[n] = '\0';
    *out = p;
    return 0;
}

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

int gl_b64_decode(const char *text, size_t len, unsigned char **out, size_t *outlen)
{
    if (len % 4 != 0)
        return -EINVAL;
    unsigned char *p = malloc(len / 4 * 3 + 1);
    if (!p)
        return -ENOMEM;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 4) {
        int v[4], pad = 0;
        for (int k = 0; k < 4; k++) {
            unsigned char c = (unsigned char)text[i + k];
            if (c == '=' && i + 4 == len && k >= 2) {
                v[k] = 0;
                pad++;
                continue;
            }
            if (pad || (v[k] = b64_value(c)) < 0) {
                free(p);
                return -EINVAL;
            }
        }
        uint32_t w = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 | (uint32_t)v[2] << 6 | (uint32_t)v[3];
        p[o++] = (unsigned char)(w >> 16);
        if (pad < 2)
            p[o++] = (unsigned char)(w >> 8);
        if (pad < 1)
            p[o++] = (unsigned char)w;
    }
    p[o] = '\0';
    *out = p;
    *outlen = o;
    return 0;
}

void gl_sha256_b64(const void *data, size_t len, char out[45])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(data, len, md);
    EVP_EncodeBlock((unsigned char *)out, md, SHA256_DIGEST_LENGTH);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int gl_url_decode(const char *in, size_t len, char **out)
{
    char *p = malloc(len + 1);
    if (!p)
        return -ENOMEM;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == '%') {
            int hi, lo;
            if (i + 2 >= len || (hi = hexval(in[i + 1])) < 0 || (lo = hexval(in[i + 2])) < 0) {
                free(p);
                return -EINVAL;
            }
            c = (char)(hi << 4 | lo);
            i += 2;
        }
        if (c == '\0') {
            free(p);
            return -EINVAL;
        }
        p[o++] = c;
    }
    p[o] = '\0';
    *out = p;
    return 0;
}

char *gl_query_get(const char *query, const char *key)
{
    if (!query)
        return NULL;
    size_t klen = strlen(key);
    const char *p = query;
    while (*p) {
        const char *end = strchr(p, '&');
        size_t seglen = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', seglen);
        size_t namelen = eq ? (size_t)(eq - p) : seglen;
        char *name = NULL;
        if (gl_url_decode(p, namelen, &name) == 0) {
            int match = strlen(name) == klen && memcmp(name, key, klen) == 0;
            free(name);
            if (match) {
                char *val = NULL;
                const char *v = eq ? eq + 1 : p + seglen;
                size_t vlen = eq ? seglen - namelen - 1 : 0;
                if (gl_url_decode(v, vlen, &val) < 0)
                    return NULL;
                return val;
            }
        }
        if (!end)
            break;
        p = end + 1;
    }
    return NULL;
}

int gl_mkdir_p(const char *path, mode_t mode)
{
    char *copy = strdup(path);
    if (!copy)
        return -ENOMEM;
    int rc = 0;
    for (char *p = copy + 1; ; p++) {
        if (*p == '/' || *p == '\0') {
            char saved = *p;
            *p = '\0';
            if (mkdir(copy, mode) < 0 && errno != EEXIST) {
                rc = -errno;
                break;
            }
            *p = saved;
            if (saved == '\0')
                break;
        }
    }
    free(copy);
    return rc;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP)
        return rmdir(path) < 0 && errno != ENOENT ? -1 : 0;
    return unlink(path) < 0 && errno != ENOENT ? -1 : 0;
}

int gl_rm_rf(const char *path)
{
    struct stat st;
    if (lstat(path, &st) < 0)
        return errno == ENOENT ? 0 : -errno;
    if (!S_ISDIR(st.st_mode))
        return unlink(path) < 0 ? -errno : 0;
    /* A directory removed underneath the walk (another removal of the same tree on libuv's
     * work queue, or the function's own processes) ends nftw with ENOENT: walk again. */
    for (int walk = 0; walk < 64; walk++) {
        if (nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) == 0)
            return 0;
        if (errno != ENOENT)
            return errno ? -errno : -EIO;
        if (lstat(path, &st) < 0)
            return errno == ENOENT ? 0 : -errno;
    }
    return -ENOTEMPTY;
}

/* path.tmp, then a rename over path; durable: fsync the file before and the directory after. */
static int write_and_rename(const char *path, const void *data, size_t len, int durable)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 8);
    if (!tmp)
        return -ENOMEM;
    snprintf(tmp, plen + 8, "%s.tmp", path);
    int rc = 0;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = -errno;
        goto out;
    }
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t w = write(fd, p, left);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            goto out;
        }
        p += w;
        left -= (size_t)w;
    }
    if (durable && fsync(fd) < 0) {
        rc = -errno;
        goto out;
    }
    close(fd);
    fd = -1;
    if (rename(tmp, path) < 0) {
        rc = -errno;
        goto out;
    }
    char *dircopy = durable ? strdup(path) : NULL;
    if (dircopy) {
        int dfd = open(dirname(dircopy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
        free(dircopy);
    }
out:
    if (fd >= 0)
        close(fd);
    if (rc < 0)
        unlink(tmp);
    free(tmp);
    return rc;
}

int gl_write_file_atomic(const char *path, const void *data, size_t len)
{
    return write_and_rename(path, data, len, 1);
}

int gl_write_file_replace(const char *path, const void *data, size_t len)
{
    return write_and_rename(path, data, len, 0);
}

int gl_read_file(const char *path, size_t max, gl_buf_t *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = 0;
    char chunk[65536];
    for (;;) {
        ssize_t r = read(fd, chunk, sizeof(chunk));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            rc = -errno;
            break;
        }
        if (r == 0)
            break;
        if (out->len + (size_t)r > max) {
            rc = -EFBIG;
            break;
        }
        if ((rc = gl_buf_append(out, chunk, (size_t)r)) < 0)
            break;
    }
    close(fd);
    return rc;
}

char *gl_path_join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *p = malloc(la + lb + 2);
    if (!p)
        return NULL;
    memcpy(p, a, la);
    size_t o = la;
    if (la && a[la - 1] != '/')
        p[o++] = '/';
    memcpy(p + o, b, lb + 1);
    return p;
}

int gl_path_plain(const char *path)
{
    const char *p = *path == '/' ? path + 1 : path;
    for (;;) {
        size_t n = strcspn(p, "/");
        if (n == 0 || (n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
            return 0;
        if (!p[n])
            return 1;
        p += n + 1;
    }
}
