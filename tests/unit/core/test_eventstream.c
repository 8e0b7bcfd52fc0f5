/* SPDX-License-Identifier: MIT */
/*
 * test_eventstream.c: src/core/eventstream.c and crc32.c: CRC-32 check values (and zlib's
 * value for a longer buffer at several alignments), and messages compared byte
 * for byte with vectors made by hand (struct + zlib.crc32) that botocore's EventStreamBuffer
 * decodes to the headers and payloads InvokeWithResponseStream's shapes expect.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "galley/eventstream.h"

static void test_crc32_check_values(void **state)
{
    (void)state;
    assert_int_equal(gl_crc32(0, "", 0), 0);
    assert_int_equal(gl_crc32(0, "123456789", 9), 0xCBF43926u);
    const char *fox = "The quick brown fox jumps over the lazy dog";
    assert_int_equal(gl_crc32(0, fox, strlen(fox)), 0x414FA339u);
    /* Continuing a CRC gives the CRC of the concatenation. */
    assert_int_equal(gl_crc32(gl_crc32(0, "12345", 5), "6789", 4), 0xCBF43926u);
    /* The eight-byte steps agree with zlib (python3 -c 'zlib.crc32(bytes(range(256))*4)') at
     * every alignment and tail length. */
    unsigned char buf[1024 + 16];
    for (size_t i = 0; i < 1024; i++)
        buf[i + 3] = (unsigned char)i;
    assert_int_equal(gl_crc32(0, buf + 3, 1024), 0xB70B4C26u);
    for (size_t split = 0; split < 20; split++)
        assert_int_equal(gl_crc32(gl_crc32(0, buf + 3, split), buf + 3 + split, 1024 - split),
                         0xB70B4C26u);
}

static size_t unhex(const char *hex, unsigned char *out)
{
    size_t n = strlen(hex) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (unsigned char)v;
    }
    return n;
}

static void expect_message(const char *et, const char *ct, const char *payload, const char *hex)
{
    unsigned char want[512];
    size_t n = unhex(hex, want);
    gl_buf_t out = {0};

    assert_int_equal(gl_es_event(&out, et, ct, payload, strlen(payload)), 0);
    assert_int_equal(out.len, n);
    assert_memory_equal(out.data, want, n);
    gl_buf_free(&out);
}

static void test_payload_chunk_vector(void **state)
{
    (void)state;
    expect_message("PayloadChunk", "application/octet-stream", "hello",
                   "0000006f0000005af5fe871f0b3a6576656e742d7479706507000c5061796c6f61644368756e"
                   "6b0d3a636f6e74656e742d747970650700186170706c69636174696f6e2f6f637465742d7374"
                   "7265616d0d3a6d6573736167652d747970650700056576656e7468656c6c6f29e71260");
}

static void test_invoke_complete_vector(void **state)
{
    (void)state;
    expect_message("InvokeComplete", "application/json", "{}",
                   "00000066000000541f56c8690b3a6576656e742d7479706507000e496e766f6b65436f6d70"
                   "6c6574650d3a636f6e74656e742d747970650700106170706c69636174696f6e2f6a736f6e"
                   "0d3a6d6573736167652d747970650700056576656e747b7d7006d467");
}

/* Messages append: two in one buffer are the two encodings back to back. */
static void test_appends(void **state)
{
    (void)state;
    gl_buf_t a = {0}, b = {0};
    assert_int_equal(gl_es_event(&a, "PayloadChunk", "application/octet-stream", "x", 1), 0);
    size_t first = a.len;
    assert_int_equal(gl_es_event(&a, "PayloadChunk", "application/octet-stream", NULL, 0), 0);
    assert_int_equal(gl_es_event(&b, "PayloadChunk", "application/octet-stream", NULL, 0), 0);
    assert_int_equal(a.len, first + b.len);
    assert_memory_equal(a.data + first, b.data, b.len);
    /* total length field and the message CRC cover exactly the message */
    uint32_t total = ((uint32_t)(unsigned char)b.data[0] << 24) |
                     ((uint32_t)(unsigned char)b.data[1] << 16) |
                     ((uint32_t)(unsigned char)b.data[2] << 8) | (unsigned char)b.data[3];
    assert_int_equal(total, b.len);
    gl_buf_free(&a);
    gl_buf_free(&b);
}

static void test_payload_too_large(void **state)
{
    (void)state;
    gl_buf_t out = {0};
    assert_int_equal(gl_es_event(&out, "PayloadChunk", "application/octet-stream", "",
                                 GL_ES_MAX_PAYLOAD + 1),
                     -EINVAL);
    assert_int_equal(out.len, 0);
    gl_buf_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32_check_values),
        cmocka_unit_test(test_payload_chunk_vector),
        cmocka_unit_test(test_invoke_complete_vector),
        cmocka_unit_test(test_appends),
        cmocka_unit_test(test_payload_too_large),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
