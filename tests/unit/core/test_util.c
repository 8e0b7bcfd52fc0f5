/* SPDX-License-Identifier: MIT */
/*
 * test_util.c: the pure helpers of src/core/util.c: base64 (RFC 4648 section 10 vectors, the
 * strict decoder's refusals), CodeSha256, percent decoding, query lookup, time formats, ids,
 * path joins, and the small file helpers in a temporary directory.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
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

#include "galley/util.h"

/* RFC 4648 section 10: BASE64("") = "", ..., BASE64("foobar") = "Zm9vYmFy". */
static const struct {
    const char *plain, *b64;
} rfc4648[] = {
    {"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},         {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"},
};

static void test_b64_encode_rfc4648(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
        char *out = NULL;
        assert_int_equal(gl_b64_encode(rfc4648[i].plain, strlen(rfc4648[i].plain), &out), 0);
        assert_string_equal(out, rfc4648[i].b64);
        free(out);
    }
}

static void test_b64_decode_rfc4648(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
        unsigned char *out = NULL;
        size_t n = 99;
        assert_int_equal(gl_b64_decode(rfc4648[i].b64, strlen(rfc4648[i].b64), &out, &n), 0);
        assert_int_equal(n, strlen(rfc4648[i].plain));
        assert_memory_equal(out, rfc4648[i].plain, n);
        assert_int_equal(out[n], '\0'); /* the decoder terminates its output */
        free(out);
    }
}

static void test_b64_round_trips_binary(void **state)
{
    (void)state;
    unsigned char all[256];
    for (size_t i = 0; i < sizeof(all); i++)
        all[i] = (unsigned char)(255 - i);
    char *text = NULL;
    assert_int_equal(gl_b64_encode(all, sizeof(all), &text), 0);
    assert_int_equal(strlen(text), 4 * ((sizeof(all) + 2) / 3));
    unsigned char *back = NULL;
    size_t n = 0;
    assert_int_equal(gl_b64_decode(text, strlen(text), &back, &n), 0);
    assert_int_equal(n, sizeof(all));
    assert_memory_equal(back, all, sizeof(all));
    free(back);
    free(text);
}

static void b64_bad(const char *text)
{
    unsigned char *out = (unsigned char *)"untouched";
    size_t n = 7;
    assert_int_equal(gl_b64_decode(text, strlen(text), &out, &n), -EINVAL);
    assert_string_equal((const char *)out, "untouched");
    assert_int_equal(n, 7);
}

static void test_b64_decode_refuses_bad_input(void **state)
{
    (void)state;
    b64_bad("Zg");          /* padding is required: length not a multiple of 4 */
    b64_bad("Zg=");
    b64_bad("Zm9vY");
    b64_bad("Zm9v\n");      /* no whitespace */
    b64_bad("Zm 9");
    b64_bad("Zm9-");        /* URL-safe alphabet is not accepted */
    b64_bad("Zm9_");
    b64_bad("Z===");        /* at most two '=' */
    b64_bad("====");
    b64_bad("Zg=a");        /* nothing after padding */
    b64_bad("Zg==Zm9v");    /* padding only in the last quantum */
    b64_bad("Zm=v");
}

static void test_b64_decode_uses_length_not_nul(void **state)
{
    (void)state;
    unsigned char *out = NULL;
    size_t n = 0;
    /* Only the first 4 bytes are read; the trailing garbage is outside len. */
    assert_int_equal(gl_b64_decode("Zm9v!!!", 4, &out, &n), 0);
    assert_int_equal(n, 3);
    assert_memory_equal(out, "foo", 3);
    free(out);
}

static void test_sha256_b64(void **state)
{
    (void)state;
    char out[45];
    gl_sha256_b64("", 0, out);
    assert_string_equal(out, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
    gl_sha256_b64("abc", 3, out);
    assert_string_equal(out, "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
}

static void url_ok(const char *in, const char *want)
{
    char *out = NULL;
    assert_int_equal(gl_url_decode(in, strlen(in), &out), 0);
    assert_string_equal(out, want);
    free(out);
}

static void url_bad(const char *in)
{
    char *out = (char *)"untouched";
    assert_int_equal(gl_url_decode(in, strlen(in), &out), -EINVAL);
    assert_string_equal(out, "untouched");
}

static void test_url_decode(void **state)
{
    (void)state;
    url_ok("", "");
    url_ok("plain", "plain");
    url_ok("a%20b", "a b");
    url_ok("%4a%4A", "JJ");                 /* either case of hex digit */
    url_ok("a+b", "a+b");                   /* '+' is kept: paths, not form bodies */
    url_ok("%2B", "+");
    url_ok("%25", "%");
    url_ok("%25%32%30", "%20");             /* decoded once only */
    url_ok("fn%3A1", "fn:1");
    url_ok("%C3%A9", "\xc3\xa9");
    url_bad("%");
    url_bad("a%4");
    url_bad("%zz");
    url_bad("%4g");
    url_bad("%00");                         /* an embedded NUL would truncate the name */
}

static void test_url_decode_reads_len_bytes(void **state)
{
    (void)state;
    char *out = NULL;
    assert_int_equal(gl_url_decode("ab%41cd", 5, &out), 0);
    assert_string_equal(out, "abA");
    free(out);
    /* A literal NUL inside len is refused like %00. */
    assert_int_equal(gl_url_decode("a\0b", 3, &out), -EINVAL);
    /* An escape cut by len is incomplete. */
    assert_int_equal(gl_url_decode("ab%41", 4, &out), -EINVAL);
}

static void query_is(const char *query, const char *key, const char *want)
{
    char *v = gl_query_get(query, key);
    if (!want) {
        assert_null(v);
        return;
    }
    assert_non_null(v);
    assert_string_equal(v, want);
    free(v);
}

static void test_query_get(void **state)
{
    (void)state;
    query_is("a=1&b=2", "a", "1");
    query_is("a=1&b=2", "b", "2");
    query_is("a=1&a=2", "a", "1");          /* the first of repeated keys wins */
    query_is("a=&b=2", "a", "");            /* empty value */
    query_is("a&b=2", "a", "");             /* key without '=' */
    query_is("a=1=2", "a", "1=2");          /* only the first '=' splits */
    query_is("&&a=1&", "a", "1");           /* empty segments are skipped */
    query_is("Qualifier=v%241", "Qualifier", "v$1");
    query_is("x%20y=1", "x y", "1");        /* the key is decoded too */
    query_is("k=a+b", "k", "a+b");          /* '+' is not a space */
    query_is("ab=1&a=2", "a", "2");         /* whole-name match, not a prefix */
    query_is("%zz=1&a=2", "a", "2");        /* an undecodable name is skipped */
}

static void test_query_get_missing(void **state)
{
    (void)state;
    query_is(NULL, "a", NULL);
    query_is("", "a", NULL);
    query_is("b=1", "a", NULL);
    query_is("A=1", "a", NULL);             /* keys are case-sensitive */
    query_is("a=%zz", "a", NULL);           /* a bad escape in the value reads as absent */
}

static void test_time_formats(void **state)
{
    (void)state;
    char out[32];
    gl_fmt_lambda_time(0, out, sizeof(out));
    assert_string_equal(out, "1970-01-01T00:00:00.000+0000");
    gl_fmt_lambda_time(1586545592563, out, sizeof(out));
    assert_string_equal(out, "2020-04-10T19:06:32.563+0000");
    /* The second's text is cached: the same second, the next, back again, and before 1970
     * (the second before, a positive millisecond). */
    static const struct { int64_t ms; const char *want; } iso[] = {
        {1586545592563, "2020-04-10T19:06:32.563Z"}, {1586545592007, "2020-04-10T19:06:32.007Z"},
        {1586545593090, "2020-04-10T19:06:33.090Z"}, {1586545592999, "2020-04-10T19:06:32.999Z"},
        {-1, "1969-12-31T23:59:59.999Z"},
    };
    for (size_t i = 0; i < sizeof(iso) / sizeof(iso[0]); i++) {
        gl_fmt_iso8601(iso[i].ms, out, sizeof(out));
        assert_string_equal(out, iso[i].want);
    }
    char small[12];
    gl_fmt_iso8601(1586545592563, small, sizeof(small)); /* truncated, still terminated */
    assert_string_equal(small, "2020-04-10T");
}

static void test_ids(void **state)
{
    (void)state;
    char a[GL_UUID_LEN + 1], b[GL_UUID_LEN + 1];
    gl_uuid4(a);
    gl_uuid4(b);
    assert_int_equal(strlen(a), GL_UUID_LEN);
    assert_string_not_equal(a, b);
    for (int i = 0; i < GL_UUID_LEN; i++) {
        if (i == 8 || i == 13 || i == 18 || i == 23)
            assert_int_equal(a[i], '-');
        else
            assert_non_null(strchr("0123456789abcdef", a[i]));
    }
    assert_int_equal(a[14], '4');                   /* version 4 */
    assert_non_null(strchr("89ab", a[19]));         /* RFC 4122 variant */

    char hex[2 * 100 + 1];
    gl_random_hex(hex, 100);                        /* more than one 64-byte chunk */
    assert_int_equal(strlen(hex), 200);
    assert_int_equal(strspn(hex, "0123456789abcdef"), 200);
}

/* The bytes come from a pool refilled 512 at a time: ids taken across several refills, and a
 * request larger than the pool, are all distinct (no byte is handed out twice). */
static void test_ids_across_pool_refills(void **state)
{
    (void)state;
    enum { N = 200 }; /* 16 bytes each: six refills */
    static char ids[N][GL_UUID_LEN + 1];
    for (int i = 0; i < N; i++) {
        gl_uuid4(ids[i]);
        for (int j = 0; j < i; j++)
            assert_string_not_equal(ids[i], ids[j]);
    }
    static char big[2 * 1000 + 1], big2[2 * 1000 + 1];
    gl_random_hex(big, 1000);
    gl_random_hex(big2, 1000);
    assert_int_equal(strspn(big, "0123456789abcdef"), 2000);
    assert_string_not_equal(big, big2);
    assert_null(strstr(big, "00000000000000000000")); /* not the zeroed, used-up pool */
}

static void join_is(const char *a, const char *b, const char *want)
{
    char *p = gl_path_join(a, b);
    assert_non_null(p);
    assert_string_equal(p, want);
    free(p);
}

static void test_path_join(void **state)
{
    (void)state;
    join_is("a", "b", "a/b");
    join_is("a/", "b", "a/b");
    join_is("/", "etc", "/etc");
    join_is("", "b", "b");
    join_is("a", "", "a/");
}

static void test_path_plain(void **state)
{
    (void)state;
    assert_true(gl_path_plain("/aws/lambda/f"));
    assert_true(gl_path_plain("my.group/a..b/.c"));
    assert_false(gl_path_plain(""));
    assert_false(gl_path_plain("/"));
    assert_false(gl_path_plain("/a//b"));
    assert_false(gl_path_plain("/a/"));
    assert_false(gl_path_plain("/a/../../etc"));
    assert_false(gl_path_plain(".."));
    assert_false(gl_path_plain("./a"));
    assert_false(gl_path_plain("/a/."));
}

static void test_files(void **state)
{
    (void)state;
    char root[] = "/tmp/gl-test-util-XXXXXX";
    assert_non_null(mkdtemp(root));
    char *deep = gl_path_join(root, "x/y/z");
    assert_int_equal(gl_mkdir_p(deep, 0755), 0);
    assert_int_equal(gl_mkdir_p(deep, 0755), 0);            /* existing is fine */
    struct stat st;
    assert_int_equal(stat(deep, &st), 0);
    assert_true(S_ISDIR(st.st_mode));

    char *file = gl_path_join(deep, "f");
    assert_int_equal(gl_write_file_atomic(file, "hello", 5), 0);
    assert_int_equal(gl_write_file_atomic(file, "bye", 3), 0);  /* replaces */
    gl_buf_t buf = {0};
    assert_int_equal(gl_read_file(file, 3, &buf), 0);
    assert_int_equal(buf.len, 3);
    assert_memory_equal(buf.data, "bye", 3);
    gl_buf_free(&buf);
    gl_buf_t small = {0};
    assert_int_equal(gl_read_file(file, 2, &small), -EFBIG);
    gl_buf_free(&small);
    char *tmp = gl_path_join(deep, "f.tmp");
    assert_int_equal(access(tmp, F_OK), -1);                /* no temporary left behind */

    char *missing = gl_path_join(root, "nope");
    gl_buf_t none = {0};
    assert_int_equal(gl_read_file(missing, 10, &none), -ENOENT);
    gl_buf_free(&none);
    assert_int_equal(gl_rm_rf(missing), 0);                 /* a missing path is success */
    assert_int_equal(gl_rm_rf(root), 0);
    assert_int_equal(access(root, F_OK), -1);
    free(missing);
    free(tmp);
    free(file);
    free(deep);
}

static void *remove_subtree(void *path)
{
    return (void *)(intptr_t)gl_rm_rf(path);
}

/* Two removals of one tree at once, as when a closing scheduler removes its run directory
 * while the work queue still removes an environment's /tmp inside it: both succeed and
 * nothing is left (nftw used to fail when a directory vanished under it). */
static void test_rm_rf_beside_another_removal(void **state)
{
    (void)state;
    for (int round = 0; round < 10; round++) {
        char root[] = "/tmp/gl-test-rmrf-XXXXXX";
        assert_non_null(mkdtemp(root));
        char *sub = gl_path_join(root, "env/tmp");
        /* Empty directories: the other removal's rmdirs race this walk's opendirs. */
        for (int d = 0; d < 300; d++) {
            char dir[64];
            snprintf(dir, sizeof(dir), "d%d", d);
            char *p = gl_path_join(sub, dir);
            assert_int_equal(gl_mkdir_p(p, 0755), 0);
            free(p);
        }
        pthread_t thr;
        assert_int_equal(pthread_create(&thr, NULL, remove_subtree, sub), 0);
        int rc = gl_rm_rf(root);
        void *other;
        pthread_join(thr, &other);
        assert_int_equal(rc, 0);
        assert_int_equal((intptr_t)other, 0);
        assert_int_equal(access(root, F_OK), -1);
        free(sub);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_b64_encode_rfc4648),
        cmocka_unit_test(test_b64_decode_rfc4648),
        cmocka_unit_test(test_b64_round_trips_binary),
        cmocka_unit_test(test_b64_decode_refuses_bad_input),
        cmocka_unit_test(test_b64_decode_uses_length_not_nul),
        cmocka_unit_test(test_sha256_b64),
        cmocka_unit_test(test_url_decode),
        cmocka_unit_test(test_url_decode_reads_len_bytes),
        cmocka_unit_test(test_query_get),
        cmocka_unit_test(test_query_get_missing),
        cmocka_unit_test(test_time_formats),
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_ids_across_pool_refills),
        cmocka_unit_test(test_path_join),
        cmocka_unit_test(test_path_plain),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_rm_rf_beside_another_removal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
