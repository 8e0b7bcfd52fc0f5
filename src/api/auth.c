/* SPDX-License-Identifier: MIT */
/*
 * auth.c: who may use galley's API. galley's control API (/_galley, GL_API_OP_CONTROL rows)
 * needs the control token the daemon writes at start to <state-dir>/run/control-token, which
 * environments cannot read (their own user, the state dir hidden by the sandbox); with
 * `--auth sigv4` every Lambda API request must carry a valid SigV4 signature by one of the
 * configured credentials, answered as Lambda answers (MissingAuthenticationTokenException,
 * IncompleteSignatureException, UnrecognizedClientException, InvalidSignatureException, all
 * 403). GET /metrics stays open. Owns struct gl_api_auth (token and credentials) and, while
 * a large body is hashed on the work queue, one hash_job_t per request. The signing itself is
 * src/core/sigv4.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "galley/log.h"
#include "galley/sigv4.h"
#include "internal.h"

#define MAX_CREDENTIALS 256
#define CREDENTIALS_FILE_MAX (1u << 20)
#define CLOCK_SKEW_S (15 * 60)
/* Bodies up to this size are hashed on the loop thread (well under a millisecond); larger
 * ones (a 70 MB CreateFunction) on libuv's work queue. */
#define INLINE_HASH_MAX (256u << 10)

typedef struct cred {
    char *access_key;
    char *secret;
} cred_t;

struct gl_api_auth {
    char token[GL_API_CONTROL_TOKEN_LEN + 1];
    int sigv4;
    cred_t creds[MAX_CREDENTIALS];
    size_t ncreds;
};

typedef void (*next_fn)(gl_api_t *api, gl_http_req_t *req);

int gl_api_control_token_create(const char *state_dir, char token[GL_API_CONTROL_TOKEN_LEN + 1],
                                gl_err_t *err)
{
    char *dir = gl_path_join(state_dir, "run"), *path = NULL, *tmp = NULL;
    struct stat st;
    int fd = -1, rc = 0;
    if (!dir || asprintf(&path, "%s/control-token", dir) < 0 ||
        asprintf(&tmp, "%s/.control-token.tmp", dir) < 0) {
        rc = gl_err_set(err, ENOMEM, "control token");
        goto out;
    }
    /* The directory is galley's alone: refuse one owned by another user or a symbolic link,
     * and tighten an existing one to 0700. */
    if ((mkdir(dir, 0700) < 0 && errno != EEXIST) || lstat(dir, &st) < 0) {
        rc = gl_err_set(err, errno, "%s", dir);
        goto out;
    }
    if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid()) {
        rc = gl_err_set(err, EPERM, "%s: not a directory owned by uid %u", dir,
                        (unsigned)geteuid());
        goto out;
    }
    if (chmod(dir, 0700) < 0) {
        rc = gl_err_set(err, errno, "chmod %s", dir);
        goto out;
    }
    gl_random_hex(token, GL_API_CONTROL_TOKEN_LEN / 2);
    char line[GL_API_CONTROL_TOKEN_LEN + 1];
    memcpy(line, token, GL_API_CONTROL_TOKEN_LEN);
    line[GL_API_CONTROL_TOKEN_LEN] = '\n';
    unlink(tmp);
    errno = 0;
    /* Renamed into place so a reader never sees half a token. Not fsynced: every start writes
     * a new one, so after a crash the file is rewritten before anyone may use it (an fsync
     * was 4 to 20 ms of the daemon's start-up on a busy disk). */
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 || write(fd, line, sizeof(line)) != (ssize_t)sizeof(line) ||
        rename(tmp, path) < 0) {
        rc = gl_err_set(err, errno ? errno : EIO, "%s", path);
        unlink(tmp);
    }
out:
    if (fd >= 0)
        close(fd);
    free(dir);
    free(path);
    free(tmp);
    return rc;
}

int gl_api_check_control(gl_api_t *api, gl_http_req_t *req)
{
    const char *given = gl_http_req_header(req, "x-galley-control-token");
    if (given && api->auth && api->auth->token[0] && gl_sigv4_equal(given, api->auth->token))
        return 0;
    gl_http_reply_aws_error(req, GL_AWS_ACCESS_DENIED,
                            "%s control token: galley's control API (" GL_API_GALLEY_PREFIX
                            ") needs the " GL_API_CONTROL_TOKEN_HEADER " header with the token "
                            "in <state-dir>/" GL_API_CONTROL_TOKEN_FILE " (the galley CLI reads "
                            "it from --state-dir, $GALLEY_STATE_DIR or ./.galley, or takes "
                            "$GALLEY_CONTROL_TOKEN)",
                            given ? "Invalid" : "Missing");
    return -1;
}

static int add_credential(struct gl_api_auth *a, const char *spec, size_t len, gl_err_t *err)
{
    const char *colon = memchr(spec, ':', len);
    if (!colon || colon == spec || colon + 1 == spec + len)
        return gl_err_set(err, EINVAL, "credentials must be ACCESS_KEY:SECRET, got '%.*s...'",
                          (int)(colon ? colon - spec : (len > 4 ? 4 : (int)len)), spec);
    if (a->ncreds == MAX_CREDENTIALS)
        return gl_err_set(err, E2BIG, "more than %d credentials", MAX_CREDENTIALS);
    cred_t *c = &a->creds[a->ncreds];
    c->access_key = strndup(spec, (size_t)(colon - spec));
    c->secret = strndup(colon + 1, len - (size_t)(colon - spec) - 1);
    a->ncreds++; /* counted even when half-made, so gl_api_auth_free releases it */
    if (!c->access_key || !c->secret)
        return gl_err_set(err, ENOMEM, "credentials");
    return 0;
}

/* One ACCESS_KEY:SECRET a line; blank lines and lines starting with '#' are skipped. */
static int load_credentials_file(struct gl_api_auth *a, const char *path, gl_err_t *err)
{
    gl_buf_t text = {0};
    int rc = gl_read_file(path, CREDENTIALS_FILE_MAX, &text);
    if (rc < 0) {
        gl_buf_free(&text);
        return gl_err_set(err, -rc, "credentials file %s", path);
    }
    struct stat st;
    if (stat(path, &st) == 0 && (st.st_mode & 077))
        gl_log_warn("credentials file %s is readable by other users (mode %03o): chmod 600 it",
                    path, (unsigned)(st.st_mode & 0777));
    unsigned line = 0;
    for (char *p = text.data ? text.data : ""; *p && rc == 0;) {
        size_t len = strcspn(p, "\r\n");
        line++;
        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        if (len && p[0] != '#' && (rc = add_credential(a, p, len, err)) < 0)
            gl_err_wrap(err, "%s line %u", path, line);
        p += strcspn(p, "\n");
        p += *p == '\n';
    }
    explicit_bzero(text.data, text.len);
    gl_buf_free(&text);
    return rc;
}

int gl_api_auth_open(gl_api_t *api, const gl_api_opts_t *opts, gl_err_t *err)
{
    struct gl_api_auth *a = calloc(1, sizeof(*a));
    if (!a)
        return gl_err_set(err, ENOMEM, "auth");
    api->auth = a;
    if (opts->control_token)
        snprintf(a->token, sizeof(a->token), "%s", opts->control_token);
    a->sigv4 = opts->auth_sigv4;
    int rc = 0;
    for (size_t i = 0; i < opts->ncredentials && rc == 0; i++)
        rc = add_credential(a, opts->credentials[i], strlen(opts->credentials[i]), err);
    if (rc == 0 && opts->credentials_file)
        rc = load_credentials_file(a, opts->credentials_file, err);
    if (rc == 0 && a->sigv4 && a->ncreds == 0)
        rc = gl_err_set(err, EINVAL, "--auth sigv4 needs credentials (--credentials "
                                     "ACCESS_KEY:SECRET or --credentials-file FILE)");
    if (rc == 0 && !a->sigv4 && a->ncreds > 0)
        rc = gl_err_set(err, EINVAL, "credentials are only used with --auth sigv4");
    return rc;
}

void gl_api_auth_free(gl_api_t *api)
{
    struct gl_api_auth *a = api->auth;
    if (!a)
        return;
    for (size_t i = 0; i < a->ncreds; i++) {
        free(a->creds[i].access_key);
        if (a->creds[i].secret)
            explicit_bzero(a->creds[i].secret, strlen(a->creds[i].secret));
        free(a->creds[i].secret);
    }
    explicit_bzero(a, sizeof(*a));
    free(a);
    api->auth = NULL;
}

int gl_api_sigv4_enabled(const gl_api_t *api)
{
    return api->auth && api->auth->sigv4;
}

static const cred_t *find_credential(const struct gl_api_auth *a, const char *access_key)
{
    for (size_t i = 0; i < a->ncreds; i++)
        if (!strcmp(a->creds[i].access_key, access_key))
            return &a->creds[i];
    return NULL;
}

/* 1 when name is one of the ';'-separated signed headers. */
static int is_signed(const char *signed_headers, const char *name)
{
    size_t nlen = strlen(name);
    for (const char *p = signed_headers; *p;) {
        size_t len = strcspn(p, ";");
        if (len == nlen && !strncasecmp(p, name, nlen))
            return 1;
        p += len + (p[len] == ';');
    }
    return 0;
}

/* The credential scope and the clock, in the order and words Lambda's front end uses. */
static int check_scope(gl_api_t *api, const gl_sigv4_auth_t *au, const char *amz_date,
                       gl_aws_error_t *e)
{
    int64_t t, now = gl_now_ms() / 1000;
    char lo[17], hi[17], cur[17];
    if (strncmp(au->date, amz_date, 8) != 0)
        return gl_aws_error_set(e, GL_AWS_INVALID_SIGNATURE, EACCES,
                                "Date in Credential scope does not match YYYYMMDD from ISO-8601 "
                                "version of date from HTTP: '%s' != '%.8s', from '%s'.",
                                au->date, amz_date, amz_date);
    if (strcmp(au->region, gl_registry_region(api->reg)) != 0)
        return gl_aws_error_set(e, GL_AWS_INVALID_SIGNATURE, EACCES,
                                "Credential should be scoped to a valid region. ");
    if (strcmp(au->service, "lambda") != 0)
        return gl_aws_error_set(e, GL_AWS_INVALID_SIGNATURE, EACCES,
                                "Credential should be scoped to correct service: 'lambda'. ");
    if (strcmp(au->terminator, "aws4_request") != 0)
        return gl_aws_error_set(e, GL_AWS_INVALID_SIGNATURE, EACCES,
                                "Credential should be scoped with a valid terminator: "
                                "'aws4_request', not '%s'. ", au->terminator);
    if (!is_signed(au->signed_headers, "host"))
        return gl_aws_error_set(e, GL_AWS_INVALID_SIGNATURE, EACCES,
                                "'Host' or ':authority' must be a 'SignedHeader' in the AWS "
                                "Authorization.");
    gl_sigv4_parse_date(amz_date, &t);
    gl_sigv4_format_date(now, cur);
    if (t < now - CLOCK_SKEW_S) {
        gl_sigv4_format_date(now - CLOCK_SKEW_S, lo);
        return gl_aws_error_set(e, GL_AWS_INVALID_SIGNATURE, EACCES,
                                "Signature expired: %s is now earlier than %s (%s - 15 min.)",
                                amz_date, lo, cur);
    }
    if (t > now + CLOCK_SKEW_S) {
        gl_sigv4_format_date(now + CLOCK_SKEW_S, hi);
        return gl_aws_error_set(e, GL_AWS_INVALID_SIGNATURE, EACCES,
                                "Signature not yet current: %s is still later than %s (%s + 15 "
                                "min.)", amz_date, hi, cur);
    }
    return 0;
}

/* Everything but the signature itself: 0 with *cred and au filled, or e set. */
static int check_header(gl_api_t *api, const gl_http_req_t *req, gl_sigv4_auth_t *au,
                        const cred_t **cred, gl_aws_error_t *e)
{
    const char *authz = gl_http_req_header(req, "authorization");
    const char *amz_date = gl_http_req_header(req, "x-amz-date");
    int64_t t;
    if (!authz)
        return gl_aws_error_set(e, GL_AWS_MISSING_AUTHENTICATION_TOKEN, EACCES,
                                "Missing Authentication Token");
    if (gl_sigv4_parse_authorization(authz, au, e->msg, sizeof(e->msg)) < 0) {
        e->type = GL_AWS_INCOMPLETE_SIGNATURE;
        return -EACCES;
    }
    if (!amz_date)
        return gl_aws_error_set(e, GL_AWS_INCOMPLETE_SIGNATURE, EACCES,
                                "Authorization header requires existence of either a "
                                "'X-Amz-Date' or a 'Date' header. Authorization=%.200s", authz);
    if (gl_sigv4_parse_date(amz_date, &t) < 0)
        return gl_aws_error_set(e, GL_AWS_INCOMPLETE_SIGNATURE, EACCES,
                                "X-Amz-Date must be in the ISO 8601 basic format "
                                "YYYYMMDDTHHMMSSZ, got '%.32s'", amz_date);
    if (!(*cred = find_credential(api->auth, au->access_key)))
        return gl_aws_error_set(e, GL_AWS_UNRECOGNIZED_CLIENT, EACCES,
                                "The security token included in the request is invalid.");
    return check_scope(api, au, amz_date, e);
}

/* The whole check, given the body's SHA-256. 0, or e set. */
static int check_signature(gl_api_t *api, const gl_http_req_t *req, const char *body_hash,
                           gl_aws_error_t *e)
{
    gl_sigv4_auth_t au;
    const cred_t *cred = NULL;
    char sig[GL_SIGV4_HEX_LEN + 1];
    int rc = check_header(api, req, &au, &cred, e);
    if (rc < 0)
        return rc;
    gl_sigv4_header_t *h = calloc(req->nheaders ? req->nheaders : 1, sizeof(*h));
    if (!h)
        return gl_aws_error_set(e, GL_AWS_SERVICE, ENOMEM, "out of memory");
    for (size_t i = 0; i < req->nheaders; i++)
        h[i] = (gl_sigv4_header_t){req->headers[i].name, req->headers[i].value};
    gl_sigv4_request_t r = {req->method_name, req->path, req->query, h, req->nheaders,
                            body_hash};
    rc = gl_sigv4_sign(&r, cred->secret, gl_http_req_header(req, "x-amz-date"), au.date,
                       au.region, au.service, au.signed_headers, sig);
    free(h);
    if (rc < 0)
        return gl_aws_error_set(e, GL_AWS_SERVICE, -rc, "out of memory");
    if (!gl_sigv4_equal(sig, au.signature))
        return gl_aws_error_set(e, GL_AWS_INVALID_SIGNATURE, EACCES,
                                "The request signature we calculated does not match the "
                                "signature you provided. Check your AWS Secret Access Key and "
                                "signing method. Consult the service documentation for "
                                "details.");
    return 0;
}

int gl_api_url_verify(void *arg, const gl_http_req_t *req)
{
    gl_api_t *api = arg;
    char hash[GL_SIGV4_HEX_LEN + 1];
    gl_aws_error_t e;
    gl_sigv4_sha256_hex(req->body.data ? req->body.data : "", req->body.len, hash);
    if (check_signature(api, req, hash, &e) < 0) {
        gl_log_debug("sigv4: function URL %s %s refused: %s", req->method_name, req->path, e.msg);
        return -1;
    }
    return 0;
}

static void finish(gl_api_t *api, gl_http_req_t *req, const char *body_hash, next_fn next)
{
    gl_aws_error_t e;
    if (check_signature(api, req, body_hash, &e) < 0) {
        gl_log_debug("sigv4: %s %s refused: %s", req->method_name, req->path, e.msg);
        gl_http_reply_aws_err(req, &e);
        return;
    }
    next(api, req);
}

/* A large body's hash on libuv's work queue. The request has no on_abort meanwhile, so it
 * (and its body) stays alive until it is answered, even when its client goes away. */
typedef struct hash_job {
    uv_work_t work;
    gl_api_t *api;
    gl_http_req_t *req;
    next_fn next;
    char hash[GL_SIGV4_HEX_LEN + 1];
} hash_job_t;

static void on_hash_work(uv_work_t *w)
{
    hash_job_t *j = w->data;
    gl_sigv4_sha256_hex(j->req->body.data, j->req->body.len, j->hash);
}

static void on_hash_done(uv_work_t *w, int status)
{
    hash_job_t *j = w->data;
    if (status < 0 || gl_http_req_gone(j->req))
        gl_http_reply_aws_error(j->req, GL_AWS_SERVICE, "request abandoned"); /* frees it */
    else
        finish(j->api, j->req, j->hash, j->next);
    free(j);
}

void gl_api_verify_sigv4(gl_api_t *api, gl_http_req_t *req, next_fn next)
{
    char hash[GL_SIGV4_HEX_LEN + 1];
    if (req->body.len <= INLINE_HASH_MAX || !gl_http_req_header(req, "authorization")) {
        gl_sigv4_sha256_hex(req->body.data ? req->body.data : "", req->body.len, hash);
        finish(api, req, hash, next);
        return;
    }
    hash_job_t *j = calloc(1, sizeof(*j));
    if (!j) {
        gl_http_reply_aws_error(req, GL_AWS_SERVICE, "out of memory");
        return;
    }
    *j = (hash_job_t){.api = api, .req = req, .next = next};
    j->work.data = j;
    int rc = uv_queue_work(api->loop, &j->work, on_hash_work, on_hash_done);
    if (rc < 0) {
        free(j);
        gl_http_reply_aws_error(req, GL_AWS_SERVICE, "hash: %s", uv_strerror(rc));
    }
}
