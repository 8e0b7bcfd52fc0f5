/* SPDX-License-Identifier: MIT */
/*
 * logs.c: `galley logs`: a function's log streams as the daemon writes them
 * (<state>/logs/aws/lambda/<FunctionName>/<YYYY>/<MM>/<DD>/[<version>]<env id>, one file per
 * execution environment, one stamped line per log line: stamp.c), printed with the stream's
 * name in front and without the stamp.
 *
 * Streams are printed whole, the one written least recently first; --since keeps the lines
 * stamped within the duration (a bare line from a file written before stamps existed takes
 * the file's time), and skips without reading the streams not modified since. With -f the
 * directory is polled every POLL_MS: new bytes of known streams and new streams are printed
 * as they appear (a partial last line waits for its newline), until SIGINT or SIGTERM. A
 * stream that shrank (replaced) is read again from its start.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "galley/cli.h"
#include "galley/logs.h"
#include "galley/util.h"
#include "internal.h"

#define POLL_MS 250
#define MAX_DEPTH 6             /* YYYY/MM/DD/stream is 4 below the function's directory */
#define RESOLVE_TIMEOUT_MS 2000

static const char usage_text[] =
    "usage: galley logs NAME [-f] [--since DURATION] [--state-dir DIR] [--endpoint URL]\n"
    "  NAME             function name or template logical id (resolved by the daemon when\n"
    "                   it is reachable, else taken as the FunctionName)\n"
    "  -f, --follow     keep printing new lines and new streams until interrupted\n"
    "  --since D        only lines written in the last D (30s, 10m, 1h, 2d, 1h30m)\n"
    "  --state-dir DIR  the daemon's state dir (default $GALLEY_STATE_DIR or ./.galley)\n"
    "  --endpoint URL   the daemon (default $GALLEY_ENDPOINT or " GL_CLI_DEFAULT_ENDPOINT ")\n";

typedef struct stream {
    char *path;
    const char *name;           /* path relative to the function's directory (points into path) */
    off_t offset;               /* bytes read so far */
    off_t size;                 /* at the latest scan */
    struct timespec mtime;
    int64_t since_ms;           /* lines stamped earlier are not printed (0: all) */
    gl_logs_lines_t lines;      /* a partial last line, until its newline arrives */
    int seen;                   /* found by the latest scan */
} stream_t;

typedef struct streams {
    stream_t *v;                /* sorted by path */
    size_t n, cap;
} streams_t;

static volatile sig_atomic_t stop_requested;

static void on_stop_signal(int sig)
{
    (void)sig;
    stop_requested = 1;
}

int gl_cli_parse_duration(const char *text, double *seconds)
{
    double total = 0;
    const char *p = text;
    if (!p || !*p)
        return -EINVAL;
    while (*p) {
        char *end;
        if (*p < '0' || *p > '9')
            return -EINVAL;
        double n = strtod(p, &end);
        if (end == p || n < 0)
            return -EINVAL;
        double unit;
        switch (*end) {
        case '\0': unit = 1; break; /* a bare number: seconds */
        case 's': unit = 1; break;
        case 'm': unit = 60; break;
        case 'h': unit = 3600; break;
        case 'd': unit = 86400; break;
        default: return -EINVAL;
        }
        if (*end == '\0' && p != text)
            return -EINVAL; /* "1h30" is ambiguous */
        total += n * unit;
        p = *end ? end + 1 : end;
    }
    *seconds = total;
    return 0;
}

static int later(const struct timespec *a, const struct timespec *b)
{
    return a->tv_sec != b->tv_sec ? a->tv_sec > b->tv_sec : a->tv_nsec > b->tv_nsec;
}

/* The stream at path, or NULL with *pos where it would be inserted. */
static stream_t *find_stream(streams_t *ss, const char *path, size_t *pos)
{
    size_t lo = 0, hi = ss->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp(ss->v[mid].path, path);
        if (c == 0)
            return &ss->v[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *pos = lo;
    return NULL;
}

/* Walk dir (root_len: length of the function directory's path) and record each regular file:
 * new ones are added with offset 0, known ones get their mtime refreshed. */
static void scan(streams_t *ss, const char *dir, size_t root_len, int depth)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char *path = gl_path_join(dir, de->d_name);
        struct stat st;
        if (!path || lstat(path, &st) < 0) {
            free(path);
            continue;
        }
        if (S_ISDIR(st.st_mode) && depth < MAX_DEPTH) {
            scan(ss, path, root_len, depth + 1);
        } else if (S_ISREG(st.st_mode)) {
            size_t pos = 0;
            stream_t *s = find_stream(ss, path, &pos);
            if (!s && ss->n == ss->cap) {
                size_t cap = ss->cap ? ss->cap * 2 : 32;
                stream_t *v = realloc(ss->v, cap * sizeof(*v));
                if (!v) {
                    free(path);
                    continue;
                }
                ss->v = v;
                ss->cap = cap;
            }
            if (!s) {
                memmove(&ss->v[pos + 1], &ss->v[pos], (ss->n - pos) * sizeof(*ss->v));
                ss->n++;
                s = &ss->v[pos];
                memset(s, 0, sizeof(*s));
                s->path = path;
                s->name = path + root_len + 1;
                path = NULL;
            }
            s->mtime = st.st_mtim;
            s->size = st.st_size;
            s->seen = 1;
        }
        free(path);
    }
    closedir(d);
}

static void print_line(const char *line, size_t len, void *arg)
{
    const stream_t *s = arg;
    int64_t ms = (int64_t)s->mtime.tv_sec * 1000 + s->mtime.tv_nsec / 1000000;
    size_t skip = gl_logs_stamp_parse(line, len, &ms);
    if (ms < s->since_ms)
        return;
    printf("%s %.*s\n", s->name, (int)(len - skip), line + skip);
}

/* Print what s gained since the last read. A partial last line waits in s->lines, unless
 * flush (no more data is coming: the one-shot mode). */
static void print_new(stream_t *s, int flush)
{
    int fd = open(s->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    struct stat st;
    if (fstat(fd, &st) == 0 && st.st_size < s->offset) {
        s->offset = 0; /* replaced or truncated: read it again */
        gl_logs_lines_free(&s->lines);
        memset(&s->lines, 0, sizeof(s->lines));
    }
    char chunk[65536];
    ssize_t n;
    while ((n = pread(fd, chunk, sizeof(chunk), s->offset)) > 0) {
        gl_logs_lines_feed(&s->lines, chunk, (size_t)n, print_line, s);
        s->offset += n;
    }
    close(fd);
    if (flush)
        gl_logs_lines_flush(&s->lines, print_line, s);
}

static int by_mtime(const void *a, const void *b)
{
    const stream_t *const *x = a, *const *y = b;
    if (later(&(*x)->mtime, &(*y)->mtime))
        return 1;
    if (later(&(*y)->mtime, &(*x)->mtime))
        return -1;
    return strcmp((*x)->name, (*y)->name);
}

/*
 * One pass: scan, then print every stream that grew, least recently written first. Streams
 * written before cutoff (when given) are skipped on the first pass: their current end is
 * where following starts.
 */
static void pass(streams_t *ss, const char *fn_dir, const struct timespec *cutoff, int first,
                 int flush)
{
    for (size_t i = 0; i < ss->n; i++)
        ss->v[i].seen = 0;
    scan(ss, fn_dir, strlen(fn_dir), 0);
    stream_t **order = ss->n ? calloc(ss->n, sizeof(*order)) : NULL;
    size_t norder = 0;
    for (size_t i = 0; i < ss->n; i++) {
        stream_t *s = &ss->v[i];
        if (!s->seen)
            continue;
        if (first && cutoff && later(cutoff, &s->mtime)) {
            s->offset = s->size; /* following starts at its current end */
            continue;
        }
        if (first && cutoff)
            s->since_ms = (int64_t)cutoff->tv_sec * 1000 + cutoff->tv_nsec / 1000000;
        if (s->size == s->offset)
            continue; /* unchanged since the last pass: not even opened */
        if (order)
            order[norder++] = s;
    }
    if (order) {
        qsort(order, norder, sizeof(*order), by_mtime);
        for (size_t i = 0; i < norder; i++)
            print_new(order[i], flush);
    }
    free(order);
    fflush(stdout);
}

static void streams_free(streams_t *ss)
{
    for (size_t i = 0; i < ss->n; i++) {
        free(ss->v[i].path);
        gl_logs_lines_free(&ss->v[i].lines);
    }
    free(ss->v);
}

/* The FunctionName for name: the daemon's answer when it knows the function (a template's
 * logical id becomes its FunctionName), else name itself. malloc'd. */
/* The FunctionName of name (a logical id, an ARN, a name) as the daemon knows it, and in *group
 * its custom LoggingConfig.LogGroup when it has one (malloc'd, else NULL). */
static char *resolve_name(const char *endpoint, const char *name, char **group)
{
    gl_buf_t path = {0}, body = {0};
    char *out = NULL;
    gl_buf_append_str(&path, "/2015-03-31/functions/");
    for (const char *p = name; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '_')
            gl_buf_append(&path, p, 1);
        else
            gl_buf_printf(&path, "%%%02X", (unsigned char)*p);
    }
    int status = gl_cli_request(endpoint, "GET", path.data, NULL, 0, RESOLVE_TIMEOUT_MS, &body);
    if (status == 200) {
        json_t *doc = json_loadb(body.data ? body.data : "", body.len, 0, NULL);
        const json_t *conf = json_object_get(doc, "Configuration");
        const char *fn = json_string_value(json_object_get(conf, "FunctionName"));
        const char *g = json_string_value(
            json_object_get(json_object_get(conf, "LoggingConfig"), "LogGroup"));
        if (fn)
            out = strdup(fn);
        if (g && gl_path_plain(g))
            *group = strdup(g);
        json_decref(doc);
    }
    gl_buf_free(&path);
    gl_buf_free(&body);
    return out ? out : strdup(name);
}

typedef struct logs_args {
    const char *since, *state_dir;
    int follow;
} logs_args_t;

static void on_opt(int c, const char *arg, void *ctx)
{
    logs_args_t *a = ctx;
    switch (c) {
    case 'f': a->follow = 1; break;
    case 's': a->since = arg; break;
    case 'd': a->state_dir = arg; break;
    }
}

int gl_cli_logs(int argc, char **argv)
{
    static const struct option opts[] = {
        {"follow", no_argument, NULL, 'f'},
        {"since", required_argument, NULL, 's'},
        {"state-dir", required_argument, NULL, 'd'},
        {NULL, 0, NULL, 0},
    };
    logs_args_t a = {.state_dir = gl_cli_state_dir(NULL)};
    const char *endpoint, *arg_name;
    int rc = gl_cli_parse_name_args(argc, argv, "f", opts, on_opt, &a, usage_text, &endpoint,
                                    &arg_name);
    if (rc >= 0)
        return rc;
    const char *since = a.since, *state_dir = a.state_dir;
    int follow = a.follow;
    struct timespec cutoff;
    if (since) {
        double secs;
        if (gl_cli_parse_duration(since, &secs) < 0) {
            fprintf(stderr, "galley logs: --since wants a duration like 30s, 10m, 1h or 2d, got "
                            "'%s'\n", since);
            return 2;
        }
        clock_gettime(CLOCK_REALTIME, &cutoff);
        cutoff.tv_sec -= (time_t)secs;
    }

    char *group = NULL;
    char *name = resolve_name(endpoint, arg_name, &group);
    if (!name || !*name || strchr(name, '/') || !strcmp(name, "..") || !strcmp(name, ".")) {
        fprintf(stderr, "galley logs: '%s' is not a function name\n", arg_name);
        free(group);
        free(name);
        return 2;
    }
    char *fn_dir = NULL;
    int n = group ? asprintf(&fn_dir, "%s/logs/%s", state_dir, group + (group[0] == '/'))
                  : asprintf(&fn_dir, "%s/logs/aws/lambda/%s", state_dir, name);
    free(group);
    if (n < 0) {
        free(name);
        return 1;
    }
    struct stat st;
    if (!follow && (stat(fn_dir, &st) < 0 || !S_ISDIR(st.st_mode))) {
        fprintf(stderr, "galley logs: no logs for %s under %s\n", name, state_dir);
        free(fn_dir);
        free(name);
        return 1;
    }

    struct sigaction sa = {.sa_handler = on_stop_signal}, old_int, old_term;
    sigemptyset(&sa.sa_mask);
    if (follow) {
        sigaction(SIGINT, &sa, &old_int);
        sigaction(SIGTERM, &sa, &old_term);
    }
    streams_t ss = {0};
    pass(&ss, fn_dir, since ? &cutoff : NULL, 1, !follow);
    while (follow && !stop_requested) {
        struct timespec nap = {0, POLL_MS * 1000000L};
        nanosleep(&nap, NULL); /* a signal cuts it short */
        if (!stop_requested)
            pass(&ss, fn_dir, NULL, 0, 0);
    }
    if (follow) {
        sigaction(SIGINT, &old_int, NULL);
        sigaction(SIGTERM, &old_term, NULL);
    }
    streams_free(&ss);
    free(fn_dir);
    free(name);
    return 0;
}
