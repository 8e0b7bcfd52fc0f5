/* SPDX-License-Identifier: MIT */
/*
 * sigv4.c: AWS Signature Version 4, the pure part (include/galley/sigv4.h): the Authorization
 * header's parser, the canonical request (URI-encoded raw path, sorted and re-encoded query,
 * trimmed signed headers, payload hash), the string to sign, the derived signing key and the
 * HMAC-SHA256 signature, with OpenSSL's HMAC and SHA-256. Owns nothing past a call. The path
 * is encoded as received (so a client's "%3A" becomes "%253A", as botocore signs every
 * service but S3), which also gives the test suite's "/%E1%88%B4" for a raw UTF-8 path.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "galley/sigv4.h"
#include "galley/util.h"

#define MAX_QUERY_PARAMS 256

static void hex(const unsigned char *md, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[md[i] >> 4];
        out[2 * i + 1] = digits[md[i] & 15];
    }
    out[2 * len] = '\0';
}

void gl_sigv4_sha256_hex(const void *data, size_t len, char out[GL_SIGV4_HEX_LEN + 1])
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    SHA256(data, len, md);
    hex(md, sizeof(md), out);
}

/* Copy the value of "name=" found in the comma-separated parts of s (up to ',') into out.
 * 1 when found and it fits, 0 when absent, -1 when too long. */
static int auth_param(const char *s, const char *name, char *out, size_t outlen)
{
    size_t nlen = strlen(name);
    for (const char *p = s; p && *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        size_t len = strcspn(p, ",");
        if (len > nlen && !strncmp(p, name, nlen) && p[nlen] == '=') {
            size_t vlen = len - nlen - 1;
            while (vlen && p[nlen + vlen] == ' ')
                vlen--;
            if (vlen >= outlen)
                return -1;
            memcpy(out, p + nlen + 1, vlen);
            out[vlen] = '\0';
            return 1;
        }
        p += len;
    }
    return 0;
}

/* Split "AK/DATE/REGION/SERVICE/TERM" into out's fields. 0 or -EINVAL. */
static int split_credential(char *cred, gl_sigv4_auth_t *out)
{
    char *parts[5];
    size_t sizes[5] = {sizeof(out->access_key), sizeof(out->date), sizeof(out->region),
                       sizeof(out->service), sizeof(out->terminator)};
    char *dst[5] = {out->access_key, out->date, out->region, out->service, out->terminator};
    char *save = NULL, *p = cred;
    for (int i = 0; i < 5; i++, p = NULL) {
        parts[i] = strtok_r(p, "/", &save);
        if (!parts[i] || strlen(parts[i]) >= sizes[i])
            return -EINVAL;
    }
    if (strtok_r(NULL, "/", &save))
        return -EINVAL;
    for (int i = 0; i < 5; i++)
        strcpy(dst[i], parts[i]);
    return 0;
}

int gl_sigv4_parse_authorization(const char *value, gl_sigv4_auth_t *out, char *why,
                                 size_t whylen)
{
    static const char *const names[] = {"Credential", "Signature", "SignedHeaders"};
    char cred[512];
    memset(out, 0, sizeof(*out));
    size_t alen = strlen(GL_SIGV4_ALGORITHM);
    if (strncmp(value, GL_SIGV4_ALGORITHM, alen) != 0 || value[alen] != ' ') {
        snprintf(why, whylen, "Authorization header uses an unsupported algorithm (only "
                 GL_SIGV4_ALGORITHM " is accepted).");
        return -ENOTSUP;
    }
    const char *params = value + alen + 1;
    int found[3] = {auth_param(params, names[0], cred, sizeof(cred)),
                    auth_param(params, names[1], out->signature, sizeof(out->signature)),
                    auth_param(params, names[2], out->signed_headers,
                               sizeof(out->signed_headers))};
    size_t off = 0;
    why[0] = '\0';
    for (int i = 0; i < 3; i++)
        if (found[i] != 1 && off < whylen)
            off += (size_t)snprintf(why + off, whylen - off,
                                    "Authorization header requires '%s' parameter. ", names[i]);
    if (off) {
        if (off < whylen)
            snprintf(why + off, whylen - off, "Authorization=%.200s", value);
        return -EINVAL;
    }
    if (split_credential(cred, out) < 0 || !out->signed_headers[0] || !out->signature[0]) {
        snprintf(why, whylen, "Authorization header requires a Credential of the form "
                 "ACCESS_KEY/YYYYMMDD/REGION/SERVICE/aws4_request. Authorization=%.200s", value);
        return -EINVAL;
    }
    return 0;
}

/* RFC 3986 unreserved characters stay; everything else is %XX (uppercase). */
static void uri_encode(gl_buf_t *out, const char *s, size_t len, int keep_slash)
{
    static const char digits[] = "0123456789ABCDEF";
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' ||
            (keep_slash && c == '/')) {
            gl_buf_append(out, &s[i], 1);
        } else {
            char esc[3] = {'%', digits[c >> 4], digits[c & 15]};
            gl_buf_append(out, esc, 3);
        }
    }
}

typedef struct qparam {
    char *key, *value; /* AWS-encoded, malloc'd */
} qparam_t;

static int cmp_param(const void *a, const void *b)
{
    const qparam_t *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : strcmp(x->value, y->value);
}

/* One query component, decoded (kept raw when its escapes are bad) and AWS-encoded again. */
static char *encode_component(const char *s, size_t len)
{
    char *decoded = NULL;
    gl_buf_t b = {0};
    if (gl_url_decode(s, len, &decoded) == 0)
        uri_encode(&b, decoded, strlen(decoded), 0);
    else
        uri_encode(&b, s, len, 0);
    free(decoded);
    return gl_buf_steal(&b, NULL);
}

static int canonical_query(const char *query, gl_buf_t *out)
{
    qparam_t params[MAX_QUERY_PARAMS];
    size_t n = 0;
    int rc = 0;
    for (const char *p = query ? query : ""; *p && n < MAX_QUERY_PARAMS;) {
        size_t len = strcspn(p, "&");
        if (len) {
            const char *eq = memchr(p, '=', len);
            size_t klen = eq ? (size_t)(eq - p) : len;
            params[n].key = encode_component(p, klen);
            params[n].value = eq ? encode_component(eq + 1, len - klen - 1)
                                 : encode_component("", 0);
            n++;
            if (!params[n - 1].key || !params[n - 1].value) {
                rc = -ENOMEM;
                break;
            }
        }
        p += len + (p[len] == '&');
    }
    if (rc == 0)
        qsort(params, n, sizeof(params[0]), cmp_param);
    for (size_t i = 0; i < n; i++) {
        if (rc == 0)
            gl_buf_printf(out, "%s%s=%s", i ? "&" : "", params[i].key, params[i].value);
        free(params[i].key);
        free(params[i].value);
    }
    return rc;
}

/* A header value as signed: leading and trailing blanks cut, inner runs of blanks as one. */
static void append_trimmed(gl_buf_t *out, const char *v)
{
    while (*v == ' ' || *v == '\t')
        v++;
    int blank = 0;
    for (; *v; v++) {
        if (*v == ' ' || *v == '\t') {
            blank = 1;
            continue;
        }
        if (blank)
            gl_buf_append(out, " ", 1);
        blank = 0;
        gl_buf_append(out, v, 1);
    }
}

/* "name:v1,v2\n" for every header called name (every value, in order). */
static void canonical_header(const gl_sigv4_request_t *r, const char *name, size_t nlen,
                             gl_buf_t *out)
{
    int first = 1;
    gl_buf_printf(out, "%.*s:", (int)nlen, name);
    for (size_t i = 0; i < r->nheaders; i++) {
        const char *h = r->headers[i].name;
        if (strlen(h) != nlen || strncasecmp(h, name, nlen) != 0)
            continue;
        if (!first)
            gl_buf_append(out, ",", 1);
        append_trimmed(out, r->headers[i].value);
        first = 0;
    }
    gl_buf_append(out, "\n", 1);
}

int gl_sigv4_canonical_request(const gl_sigv4_request_t *r, const char *signed_headers,
                               gl_buf_t *out)
{
    gl_buf_printf(out, "%s\n", r->method);
    if (!r->path || !r->path[0])
        gl_buf_append(out, "/", 1);
    else
        uri_encode(out, r->path, strlen(r->path), 1);
    gl_buf_append(out, "\n", 1);
    if (canonical_query(r->query, out) < 0)
        return -ENOMEM;
    gl_buf_append(out, "\n", 1);
    for (const char *p = signed_headers; *p;) {
        size_t len = strcspn(p, ";");
        if (len)
            canonical_header(r, p, len, out);
        p += len + (p[len] == ';');
    }
    gl_buf_printf(out, "\n%s\n%s", signed_headers, r->payload_hash);
    return out->data ? 0 : -ENOMEM;
}

static void hmac(const void *key, size_t keylen, const char *msg, unsigned char out[32])
{
    unsigned int len = 32;
    HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg, strlen(msg), out, &len);
}

int gl_sigv4_sign(const gl_sigv4_request_t *r, const char *secret, const char *amz_date,
                  const char *date, const char *region, const char *service,
                  const char *signed_headers, char out[GL_SIGV4_HEX_LEN + 1])
{
    gl_buf_t creq = {0}, sts = {0};
    char creq_hash[GL_SIGV4_HEX_LEN + 1];
    int rc = gl_sigv4_canonical_request(r, signed_headers, &creq);
    if (rc < 0)
        goto out;
    gl_sigv4_sha256_hex(creq.data, creq.len, creq_hash);
    gl_buf_printf(&sts, GL_SIGV4_ALGORITHM "\n%s\n%s/%s/%s/aws4_request\n%s", amz_date, date,
                  region, service, creq_hash);
    char *k_secret = NULL;
    if (!sts.data || asprintf(&k_secret, "AWS4%s", secret) < 0) {
        rc = -ENOMEM;
        goto out;
    }
    unsigned char k[32], sig[32];
    hmac(k_secret, strlen(k_secret), date, k);
    explicit_bzero(k_secret, strlen(k_secret));
    free(k_secret);
    hmac(k, sizeof(k), region, k);
    hmac(k, sizeof(k), service, k);
    hmac(k, sizeof(k), "aws4_request", k);
    hmac(k, sizeof(k), sts.data, sig);
    explicit_bzero(k, sizeof(k));
    hex(sig, sizeof(sig), out);
out:
    gl_buf_free(&creq);
    gl_buf_free(&sts);
    return rc;
}

int gl_sigv4_parse_date(const char *s, int64_t *epoch_s)
{
    struct tm tm = {0};
    int n = 0;
    if (!s || strlen(s) != 16 ||
        sscanf(s, "%4d%2d%2dT%2d%2d%2dZ%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec, &n) != 6 || n != 16)
        return -EINVAL;
    for (int i = 0; i < 15; i++)
        if (i != 8 && !isdigit((unsigned char)s[i]))
            return -EINVAL;
    if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
        tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
        return -EINVAL;
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    *epoch_s = (int64_t)timegm(&tm);
    return 0;
}

void gl_sigv4_format_date(int64_t epoch_s, char out[17])
{
    time_t t = (time_t)epoch_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 17, "%Y%m%dT%H%M%SZ", &tm);
}

int gl_sigv4_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = la != lb;
    for (size_t i = 0; i < la && i < lb; i++)
        diff |= (unsigned char)(a[i] ^ b[i]);
    return diff == 0;
}
