/* SPDX-License-Identifier: MIT */
/*
 * eventstream.h: the AWS event-stream binary framing (application/vnd.amazon.eventstream) that
 * InvokeWithResponseStream answers with, and the CRC32 it is checked with.
 *
 * A message: total length (4 bytes, big endian), headers length (4), CRC32 of those 8 bytes,
 * the headers (name length (1), name, type (1; 7 = string), value length (2), value), the
 * payload, then the CRC32 of everything before it. botocore's eventstream.py decodes it.
 */
#ifndef GALLEY_EVENTSTREAM_H
#define GALLEY_EVENTSTREAM_H

#include <stddef.h>
#include <stdint.h>

#include "galley/buf.h"
#include "galley/crc32.h"

/** The largest payload one message may carry (botocore refuses more than 16 MiB total). */
#define GL_ES_MAX_PAYLOAD (16u * 1024u * 1024u - 1024u)

/**
 * Append one event message to out: headers :event-type, :content-type and :message-type
 * "event", then payload (len bytes, may be 0). 0, -EINVAL for a payload over
 * GL_ES_MAX_PAYLOAD, or -ENOMEM.
 */
int gl_es_event(gl_buf_t *out, const char *event_type, const char *content_type,
                const void *payload, size_t len);

#endif
