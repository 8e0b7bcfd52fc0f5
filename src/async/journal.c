/* SPDX-License-Identifier: MIT */
/*
 * journal.c: the async queue's on-disk form: append-only segment files of length-prefixed,
 * CRC-32-checked records (format and invariants in internal.h). Owns the segment files and
 * the active segment's fd; knows nothing about events beyond their id and record type.
 *
 * It is synchronous and single-threaded: the caller (async.c) batches the fdatasync of the
 * active fd on libuv's thread pool, and calls gl_journal_rotate_if_full only while no fsync
 * is in flight, so an fd is never closed under a running fsync.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "galley/log.h"
#include "internal.h"

#define DEFAULT_SEGMENT_MAX (8u << 20)

typedef struct segment {
    uint64_t seq;
    size_t live;     /* events accepted here and not done */
    struct segment *next;
} segment_t;

struct gl_journal {
    char *dir;
    int dirfd;
    int fd;             /* active segment */
    uint64_t active_seq;
    size_t active_size;
    size_t segment_max;
    segment_t *head, *tail; /* segments written this run, oldest first; tail is active */
    size_t nsegments;
};

static void put_u32(unsigned char *p, uint32_t v)
{
    p[0] = v & 0xff;
    p[1] = (v >> 8) & 0xff;
    p[2] = (v >> 16) & 0xff;
    p[3] = (v >> 24) & 0xff;
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ---- files ---- */

static void segment_name(uint64_t seq, char *out, size_t len)
{
    snprintf(out, len, "seg-%016" PRIu64 ".log", seq);
}

static int parse_segment_name(const char *name, uint64_t *seq)
{
    unsigned long long v;
    int used = 0;
    if (strlen(name) != 24 || sscanf(name, "seg-%16llu.log%n", &v, &used) != 1 || used != 24)
        return -1;
    *seq = v;
    return 0;
}

static int write_all(int fd, const void *data, size_t len)
{
    const char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int open_segment(gl_journal_t *j, uint64_t seq)
{
    char name[32];
    segment_name(seq, name, sizeof(name));
    int fd = openat(j->dirfd, name, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_TRUNC, 0644);
    if (fd < 0)
        return -errno;
    segment_t *s = calloc(1, sizeof(*s));
    if (!s) {
        close(fd);
        unlinkat(j->dirfd, name, 0);
        return -ENOMEM;
    }
    /* The new name must survive a crash before the records in it are trusted. */
    fsync(j->dirfd);
    s->seq = seq;
    if (j->tail)
        j->tail->next = s;
    else
        j->head = s;
    j->tail = s;
    j->nsegments++;
    j->fd = fd;
    j->active_seq = seq;
    j->active_size = 0;
    return 0;
}

static int append_record(int fd, gl_jrec_type_t type, const char *id, const void *data,
                         size_t len)
{
    size_t body_len = 1 + GL_JOURNAL_ID_LEN + len;
    if (body_len > GL_JOURNAL_RECORD_MAX || strlen(id) != GL_JOURNAL_ID_LEN)
        return -EINVAL;
    unsigned char *rec = malloc(GL_JOURNAL_HEADER + body_len);
    if (!rec)
        return -ENOMEM;
    memcpy(rec, GL_JOURNAL_MAGIC, 4);
    put_u32(rec + 4, (uint32_t)body_len);
    unsigned char *body = rec + GL_JOURNAL_HEADER;
    body[0] = (unsigned char)type;
    memcpy(body + 1, id, GL_JOURNAL_ID_LEN);
    if (len)
        memcpy(body + 1 + GL_JOURNAL_ID_LEN, data, len);
    uint32_t crc = gl_crc32(0, rec + 4, 4);
    crc = gl_crc32(crc, body, body_len);
    put_u32(rec + 8, crc);
    int rc = write_all(fd, rec, GL_JOURNAL_HEADER + body_len);
    free(rec);
    return rc;
}

int gl_journal_append(gl_journal_t *j, gl_jrec_type_t type, const char *id, const void *data,
                      size_t len, uint64_t *seq_out)
{
    int rc = append_record(j->fd, type, id, data, len);
    if (rc < 0) {
        /* Cut a partial record off so later appends do not follow garbage. */
        if (ftruncate(j->fd, (off_t)j->active_size) < 0)
            gl_log_warn("async journal: cannot cut a failed append: %s", strerror(errno));
        return rc;
    }
    j->active_size += GL_JOURNAL_HEADER + 1 + GL_JOURNAL_ID_LEN + len;
    if (type == GL_JREC_ACCEPT)
        j->tail->live++;
    if (seq_out)
        *seq_out = j->active_seq;
    return 0;
}

void gl_journal_release(gl_journal_t *j, uint64_t seq)
{
    for (segment_t *s = j->head; s; s = s->next) {
        if (s->seq == seq) {
            if (s->live > 0)
                s->live--;
            break;
        }
    }
    /* Delete from the head only: a DONE record in segment n may refer to an event accepted
     * in an older segment, so n must outlive every older segment. */
    while (j->head && j->head != j->tail && j->head->live == 0) {
        segment_t *s = j->head;
        char name[32];
        segment_name(s->seq, name, sizeof(name));
        if (unlinkat(j->dirfd, name, 0) < 0 && errno != ENOENT)
            gl_log_warn("async journal: delete %s: %s", name, strerror(errno));
        j->head = s->next;
        j->nsegments--;
        free(s);
    }
}

int gl_journal_rotate_if_full(gl_journal_t *j)
{
    if (j->active_size < j->segment_max)
        return 0;
    int old = j->fd;
    if (fdatasync(old) < 0)
        return -errno;
    int rc = open_segment(j, j->active_seq + 1);
    if (rc < 0)
        return rc; /* keep appending to the old one */
    close(old);
    gl_journal_release(j, UINT64_MAX); /* the old tail may already be all done */
    return 0;
}

int gl_journal_fd(const gl_journal_t *j) { return j->fd; }
size_t gl_journal_segment_count(const gl_journal_t *j) { return j->nsegments; }
uint64_t gl_journal_active_seq(const gl_journal_t *j) { return j->active_seq; }

void gl_journal_close(gl_journal_t *j)
{
    if (!j)
        return;
    if (j->fd >= 0) {
        fdatasync(j->fd);
        close(j->fd);
    }
    if (j->dirfd >= 0)
        close(j->dirfd);
    segment_t *s = j->head, *next;
    for (; s; s = next) {
        next = s->next;
        free(s);
    }
    free(j->dir);
    free(j);
}

/* ---- replay ---- */

typedef struct entry {
    char id[GL_JOURNAL_ID_LEN + 1];
    gl_buf_t accept, state;
    int done;
} entry_t;

typedef struct replay {
    entry_t *entries;    /* in order of first ACCEPT */
    size_t n, cap;
    size_t *slots;       /* open addressing: index + 1, 0 = empty */
    size_t nslots;
} replay_t;

static uint64_t hash_id(const char *id)
{
    uint64_t h = 1469598103934665603ull;
    for (int i = 0; i < GL_JOURNAL_ID_LEN; i++)
        h = (h ^ (unsigned char)id[i]) * 1099511628211ull;
    return h;
}

static entry_t *find(replay_t *r, const char *id)
{
    if (!r->nslots)
        return NULL;
    for (size_t i = hash_id(id) & (r->nslots - 1);; i = (i + 1) & (r->nslots - 1)) {
        if (!r->slots[i])
            return NULL;
        entry_t *e = &r->entries[r->slots[i] - 1];
        if (!memcmp(e->id, id, GL_JOURNAL_ID_LEN))
            return e;
    }
}

static int rehash(replay_t *r, size_t nslots)
{
    size_t *slots = calloc(nslots, sizeof(*slots));
    if (!slots)
        return -ENOMEM;
    for (size_t k = 0; k < r->n; k++) {
        size_t i = hash_id(r->entries[k].id) & (nslots - 1);
        while (slots[i])
            i = (i + 1) & (nslots - 1);
        slots[i] = k + 1;
    }
    free(r->slots);
    r->slots = slots;
    r->nslots = nslots;
    return 0;
}

static entry_t *add(replay_t *r, const char *id)
{
    if ((r->n + 1) * 2 > r->nslots && rehash(r, r->nslots ? r->nslots * 2 : 64) < 0)
        return NULL;
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 64;
        entry_t *e = realloc(r->entries, cap * sizeof(*e));
        if (!e)
            return NULL;
        r->entries = e;
        r->cap = cap;
    }
    entry_t *e = &r->entries[r->n];
    memset(e, 0, sizeof(*e));
    memcpy(e->id, id, GL_JOURNAL_ID_LEN);
    size_t i = hash_id(id) & (r->nslots - 1);
    while (r->slots[i])
        i = (i + 1) & (r->nslots - 1);
    r->slots[i] = ++r->n;
    return e;
}

static void replay_free(replay_t *r)
{
    for (size_t k = 0; k < r->n; k++) {
        gl_buf_free(&r->entries[k].accept);
        gl_buf_free(&r->entries[k].state);
    }
    free(r->entries);
    free(r->slots);
}

/* Whether the id bytes of a record are a request id (36 of [0-9a-fA-F-]), as every record
 * galley writes has: the id goes into Runtime API headers, logs and destination records, and
 * compaction could not copy an id holding a NUL, so one damaged record would keep the daemon
 * from starting. */
static int is_request_id(const unsigned char *id)
{
    for (size_t i = 0; i < GL_JOURNAL_ID_LEN; i++)
        if (!(isxdigit(id[i]) || id[i] == '-'))
            return 0;
    return 1;
}

/* Apply one checksummed record to r: 0, 1 when it is damaged (skipped), or -ENOMEM. */
static int apply(replay_t *r, const unsigned char *body, size_t len)
{
    if (len < 1 + GL_JOURNAL_ID_LEN)
        return 0;
    if (!is_request_id(body + 1))
        return 1;
    char id[GL_JOURNAL_ID_LEN + 1];
    memcpy(id, body + 1, GL_JOURNAL_ID_LEN);
    id[GL_JOURNAL_ID_LEN] = '\0';
    const char *data = (const char *)body + 1 + GL_JOURNAL_ID_LEN;
    size_t dlen = len - 1 - GL_JOURNAL_ID_LEN;
    entry_t *e = find(r, id);
    switch (body[0]) {
    case GL_JREC_ACCEPT:
        if (e)
            return 0; /* a copy made by an earlier compaction */
        if (!(e = add(r, id)))
            return -ENOMEM;
        return gl_buf_append(&e->accept, data, dlen);
    case GL_JREC_STATE:
        if (!e || e->done)
            return 0;
        gl_buf_reset(&e->state);
        return gl_buf_append(&e->state, data, dlen);
    case GL_JREC_DONE:
        if (e)
            e->done = 1;
        return 0;
    default:
        return 0;
    }
}

/* Parse one segment's bytes into r. Returns 0 or -ENOMEM. */
static int replay_segment(replay_t *r, const char *name, const unsigned char *p, size_t size)
{
    size_t off = 0, skipped = 0;
    while (off < size) {
        size_t left = size - off;
        if (left < GL_JOURNAL_HEADER) {
            gl_log_warn("async journal: %s: %zu torn byte(s) at the end ignored", name, left);
            break;
        }
        uint32_t len = get_u32(p + off + 4);
        if (memcmp(p + off, GL_JOURNAL_MAGIC, 4) != 0 || len > GL_JOURNAL_RECORD_MAX ||
            len > left - GL_JOURNAL_HEADER) {
            /* Garbage or a torn last record: look for the next record start. */
            const unsigned char *next = memmem(p + off + 1, left - 1, GL_JOURNAL_MAGIC, 4);
            if (!next) {
                gl_log_warn("async journal: %s: %zu byte(s) at offset %zu are not a complete "
                            "record (torn write) and were ignored",
                            name, left, off);
                break;
            }
            skipped++;
            off = (size_t)(next - p);
            continue;
        }
        uint32_t crc = gl_crc32(0, p + off + 4, 4);
        crc = gl_crc32(crc, p + off + GL_JOURNAL_HEADER, len);
        if (crc != get_u32(p + off + 8)) {
            gl_log_warn("async journal: %s: record at offset %zu fails its checksum: skipped",
                        name, off);
            skipped++;
            off += GL_JOURNAL_HEADER + len;
            continue;
        }
        int rc = apply(r, p + off + GL_JOURNAL_HEADER, len);
        if (rc < 0)
            return rc;
        if (rc > 0) {
            gl_log_warn("async journal: %s: record at offset %zu has no request id: skipped",
                        name, off);
            skipped++;
        }
        off += GL_JOURNAL_HEADER + len;
    }
    if (skipped)
        gl_log_warn("async journal: %s: %zu damaged record(s) skipped", name, skipped);
    return 0;
}

static int read_fd_all(int fd, unsigned char **out, size_t *outlen)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return -errno;
    size_t size = (size_t)st.st_size, got = 0;
    unsigned char *buf = malloc(size ? size : 1);
    if (!buf)
        return -ENOMEM;
    while (got < size) {
        ssize_t n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* shorter than fstat said: parse what is there */
        got += (size_t)n;
    }
    *out = buf;
    *outlen = got;
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The existing segments' sequence numbers, sorted. */
static int list_segments(int dirfd, uint64_t **out, size_t *n)
{
    int fd = dup(dirfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return -errno;
    }
    rewinddir(d);
    uint64_t *seqs = NULL;
    size_t cnt = 0, cap = 0;
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d))) {
        uint64_t seq;
        if (parse_segment_name(de->d_name, &seq) < 0)
            continue;
        if (cnt == cap) {
            cap = cap ? cap * 2 : 16;
            uint64_t *ns = realloc(seqs, cap * sizeof(*ns));
            if (!ns) {
                rc = -ENOMEM;
                break;
            }
            seqs = ns;
        }
        seqs[cnt++] = seq;
    }
    closedir(d);
    if (rc < 0) {
        free(seqs);
        return rc;
    }
    if (cnt > 1)
        qsort(seqs, cnt, sizeof(*seqs), cmp_u64); /* seqs is NULL when there are none */
    *out = seqs;
    *n = cnt;
    return 0;
}

/* Every old segment, oldest first, into r. */
static int read_segments(gl_journal_t *j, replay_t *r, const uint64_t *old, size_t nold,
                         gl_err_t *err)
{
    for (size_t i = 0; i < nold; i++) {
        char name[32];
        segment_name(old[i], name, sizeof(name));
        int fd = openat(j->dirfd, name, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            return gl_err_set(err, errno, "open %s/%s", j->dir, name);
        unsigned char *data = NULL;
        size_t size = 0;
        int rc = read_fd_all(fd, &data, &size);
        close(fd);
        if (rc == 0)
            rc = replay_segment(r, name, data, size);
        free(data);
        if (rc < 0)
            return gl_err_set(err, -rc, "read %s/%s", j->dir, name);
    }
    return 0;
}

/* The live events of r, in order, into a fresh segment (fsynced); only then the old ones go.
 * On failure the old segments are untouched and the new one is left for the caller to drop. */
static int compact(gl_journal_t *j, const replay_t *r, const uint64_t *old, size_t nold,
                   size_t *live, gl_err_t *err)
{
    int rc;
    if ((rc = open_segment(j, nold ? old[nold - 1] + 1 : 1)) < 0)
        return gl_err_set(err, -rc, "create a segment in %s", j->dir);
    for (size_t k = 0; k < r->n; k++) {
        const entry_t *e = &r->entries[k];
        if (e->done)
            continue;
        (*live)++;
        if ((rc = gl_journal_append(j, GL_JREC_ACCEPT, e->id, e->accept.data, e->accept.len,
                                    NULL)) < 0 ||
            (e->state.len &&
             (rc = gl_journal_append(j, GL_JREC_STATE, e->id, e->state.data, e->state.len,
                                     NULL)) < 0))
            return gl_err_set(err, -rc, "compact %s", j->dir);
    }
    /* Nothing copied (a fresh state dir, or every event done): nothing to make durable. */
    if (j->active_size > 0 && fdatasync(j->fd) < 0)
        return gl_err_set(err, errno, "fsync %s", j->dir);
    if (nold == 0)
        return 0; /* no old segment to delete: the new name was fsynced by open_segment */
    for (size_t i = 0; i < nold; i++) {
        char name[32];
        segment_name(old[i], name, sizeof(name));
        if (unlinkat(j->dirfd, name, 0) < 0 && errno != ENOENT)
            gl_log_warn("async journal: delete %s/%s: %s", j->dir, name, strerror(errno));
    }
    fsync(j->dirfd);
    return 0;
}

int gl_journal_open(gl_journal_t **out, const char *dir, size_t segment_max,
                    gl_journal_replay_fn cb, void *arg, gl_err_t *err)
{
    replay_t r = {0};
    uint64_t *old = NULL;
    size_t nold = 0, live = 0;
    int rc;
    gl_journal_t *j = calloc(1, sizeof(*j));
    if (!j)
        return gl_err_set(err, ENOMEM, "async journal");
    j->fd = j->dirfd = -1;
    j->segment_max = segment_max ? segment_max : DEFAULT_SEGMENT_MAX;
    if (!(j->dir = strdup(dir))) {
        rc = gl_err_set(err, ENOMEM, "async journal");
        goto fail;
    }
    if ((rc = gl_mkdir_p(dir, 0755)) < 0) {
        rc = gl_err_set(err, -rc, "create %s", dir);
        goto fail;
    }
    if ((j->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        rc = gl_err_set(err, errno, "open %s", dir);
        goto fail;
    }
    if ((rc = list_segments(j->dirfd, &old, &nold)) < 0) {
        rc = gl_err_set(err, -rc, "list %s", dir);
        goto fail;
    }
    if ((rc = read_segments(j, &r, old, nold, err)) < 0 ||
        (rc = compact(j, &r, old, nold, &live, err)) < 0)
        goto fail;
    if (nold)
        gl_log_info("async journal: %zu pending event(s) replayed from %zu segment(s) in %s",
                    live, nold, dir);
    for (size_t k = 0; k < r.n; k++) {
        entry_t *e = &r.entries[k];
        if (!e->done)
            cb(e->id, e->accept.data ? e->accept.data : "", e->accept.len,
               e->state.data ? e->state.data : "", e->state.len, j->active_seq, arg);
    }
    replay_free(&r);
    free(old);
    *out = j;
    return 0;
fail:
    replay_free(&r);
    free(old);
    /* Keep the old segments: a failed open must never lose events. Only the new one goes. */
    if (j->fd >= 0 && j->dirfd >= 0) {
        char name[32];
        segment_name(j->active_seq, name, sizeof(name));
        close(j->fd);
        j->fd = -1;
        unlinkat(j->dirfd, name, 0);
    }
    gl_journal_close(j);
    return rc;
}
