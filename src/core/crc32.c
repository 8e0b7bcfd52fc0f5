/* SPDX-License-Identifier: MIT */
/*
 * crc32.c: a table-driven CRC-32 (IEEE 802.3, reflected, as zlib's crc32), shared by the async
 * journal's records and the event-stream framing; no library beyond libc.
 */
#include "galley/crc32.h"

static uint32_t crc_table[256];
static int crc_ready;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
    crc_ready = 1;
}

uint32_t gl_crc32(uint32_t crc, const void *buf, size_t len)
{
    const unsigned char *p = buf;

    if (!crc_ready)
        crc_init(); /* idempotent: a race at worst fills the table twice with the same values */
    crc = ~crc;
    while (len--)
        crc = crc_table[(crc ^ *p++) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

