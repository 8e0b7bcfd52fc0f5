/* SPDX-License-Identifier: MIT */
/*
 * sigv4.h: AWS Signature Version 4 (AWS4-HMAC-SHA256), the pure part: parse an Authorization
 * header, build the canonical request and the signature a secret key gives, parse and format
 * X-Amz-Date, compare signatures in constant time. No I/O and no clock: the caller (the API's
 * `--auth sigv4` check, src/api/auth.c) decides what a mismatch means. Checked against AWS's
 * published SigV4 test suite (tests/unit/core/test_sigv4.c).
 */
#ifndef GALLEY_SIGV4_H
#define GALLEY_SIGV4_H

#include <stddef.h>
#include <stdint.h>

#include "galley/buf.h"

#define GL_SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define GL_SIGV4_HEX_LEN 64

/** One request header; names are compared case-insensitively. */
typedef struct gl_sigv4_header {
    const char *name;
    const char *value;
} gl_sigv4_header_t;

/** What a signature covers. Borrowed pointers, none owned. */
typedef struct gl_sigv4_request {
    const char *method;        /* "GET", ... */
    const char *path;          /* as sent, still percent-encoded, without the query */
    const char *query;         /* raw query without '?', "" or NULL when none */
    const gl_sigv4_header_t *headers;
    size_t nheaders;
    const char *payload_hash;  /* lowercase hex SHA-256 of the body */
} gl_sigv4_request_t;

/** The parts of "AWS4-HMAC-SHA256 Credential=AK/DATE/REGION/SERVICE/aws4_request,
 *  SignedHeaders=a;b, Signature=hex". */
typedef struct gl_sigv4_auth {
    char access_key[129];
    char date[9];              /* YYYYMMDD of the credential scope */
    char region[64];
    char service[64];
    char terminator[32];       /* "aws4_request" for a valid one */
    char signed_headers[1024]; /* "host;x-amz-date", lowercase, as sent */
    char signature[GL_SIGV4_HEX_LEN + 1];
} gl_sigv4_auth_t;

/**
 * Parse an Authorization header value. 0, or -EINVAL with why (AWS's wording, e.g.
 * "Authorization header requires 'Signature' parameter.") for a header that is not a complete
 * AWS4-HMAC-SHA256 one; -ENOTSUP when the algorithm is another.
 */
int gl_sigv4_parse_authorization(const char *value, gl_sigv4_auth_t *out, char *why,
                                 size_t whylen);

/** The canonical request of r over signed_headers ("a;b"), appended to out. 0 or -ENOMEM. */
int gl_sigv4_canonical_request(const gl_sigv4_request_t *r, const char *signed_headers,
                               gl_buf_t *out);

/**
 * The signature (lowercase hex, NUL-terminated) that secret gives r at amz_date
 * ("YYYYMMDDTHHMMSSZ") under the scope date/region/service/aws4_request. 0 or -ENOMEM.
 */
int gl_sigv4_sign(const gl_sigv4_request_t *r, const char *secret, const char *amz_date,
                  const char *date, const char *region, const char *service,
                  const char *signed_headers, char out[GL_SIGV4_HEX_LEN + 1]);

/** Lowercase hex SHA-256 of data. */
void gl_sigv4_sha256_hex(const void *data, size_t len, char out[GL_SIGV4_HEX_LEN + 1]);

/** "YYYYMMDDTHHMMSSZ" into seconds since the epoch. 0 or -EINVAL. */
int gl_sigv4_parse_date(const char *amz_date, int64_t *epoch_s);
/** Seconds since the epoch as "YYYYMMDDTHHMMSSZ" (out: 17 bytes). */
void gl_sigv4_format_date(int64_t epoch_s, char out[17]);

/** 1 when a and b are equal strings, in time that depends only on their lengths. */
int gl_sigv4_equal(const char *a, const char *b);

#endif
