/* SPDX-License-Identifier: MIT */
/*
 * crc32.h: CRC-32 (IEEE 802.3, as zlib's crc32), for the async journal and the event stream.
 */
#ifndef GALLEY_CRC32_H
#define GALLEY_CRC32_H

#include <stddef.h>
#include <stdint.h>

/** Pass 0 to start, the previous value to continue. */
uint32_t gl_crc32(uint32_t crc, const void *buf, size_t len);

#endif
