/* SPDX-License-Identifier: MIT */
/*
 * crc32.c: CRC-32 (IEEE 802.3, reflected, as zlib's crc32), shared by the async journal's
 * records and the event-stream framing; no library beyond libc. Slicing-by-8 (eight 256-entry
 * tables, eight bytes per step): an event stream checksums every byte a function streams, and
 * the byte-at-a-time loop was most of the daemon's CPU time at 100+ MB/s.
 */
#include <string.h>

#include "galley/crc32.h"

static uint32_t crc_table[8][256];
static int crc_ready;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            crc_table[t][i] = (crc_table[t - 1][i] >> 8) ^ crc_table[0][crc_table[t - 1][i] & 0xFF];
    crc_ready = 1;
}

uint32_t gl_crc32(uint32_t crc, const void *buf, size_t len)
{
    const unsigned char *p = buf;

    if (!crc_ready)
        crc_init(); /* idempotent: a race at worst fills the tables twice with the same values */
    crc = ~crc;
    while (len >= 8) {
        uint32_t lo, hi;
        memcpy(&lo, p, 4); /* little-endian hosts; the byte loop below is exact everywhere */
        memcpy(&hi, p + 4, 4);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        lo = __builtin_bswap32(lo);
        hi = __builtin_bswap32(hi);
#endif
        lo ^= crc;
        crc = crc_table[7][lo & 0xFF] ^ crc_table[6][(lo >> 8) & 0xFF] ^
              crc_table[5][(lo >> 16) & 0xFF] ^ crc_table[4][lo >> 24] ^
              crc_table[3][hi & 0xFF] ^ crc_table[2][(hi >> 8) & 0xFF] ^
              crc_table[1][(hi >> 16) & 0xFF] ^ crc_table[0][hi >> 24];
        p += 8;
        len -= 8;
    }
    while (len--)
        crc = crc_table[0][(crc ^ *p++) & 0xFF] ^ (crc >> 8);
    return ~crc;
}
