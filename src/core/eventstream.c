/* SPDX-License-Identifier: MIT */
/*
 * eventstream.c: the encoder of AWS event-stream messages (include/galley/eventstream.h).
 */
#include <errno.h>
#include <string.h>

#include "galley/eventstream.h"

static unsigned char *put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
    return p + 4;
}

/* One string header (type 7); names and values here are short constants. */
static unsigned char *put_header(unsigned char *p, const char *name, const char *value)
{
    size_t n = strlen(name), v = strlen(value);

    *p++ = (unsigned char)n;
    memcpy(p, name, n);
    p += n;
    *p++ = 7;
    *p++ = (unsigned char)(v >> 8);
    *p++ = (unsigned char)v;
    memcpy(p, value, v);
    return p + v;
}

int gl_es_event(gl_buf_t *out, const char *event_type, const char *content_type,
                const void *payload, size_t len)
{
    const char *names[3] = {":event-type", ":content-type", ":message-type"};
    const char *values[3] = {event_type, content_type, "event"};
    size_t hlen = 0, total, start;
    unsigned char *base, *p;

    if (len > GL_ES_MAX_PAYLOAD)
        return -EINVAL;
    for (int i = 0; i < 3; i++) {
        if (strlen(names[i]) > 255 || strlen(values[i]) > 65535)
            return -EINVAL;
        hlen += 1 + strlen(names[i]) + 1 + 2 + strlen(values[i]);
    }
    total = 12 + hlen + len + 4;
    if (gl_buf_reserve(out, total) < 0)
        return -ENOMEM;
    start = out->len;
    base = p = (unsigned char *)out->data + start;
    p = put32(p, (uint32_t)total);
    p = put32(p, (uint32_t)hlen);
    p = put32(p, gl_crc32(0, base, 8));
    for (int i = 0; i < 3; i++)
        p = put_header(p, names[i], values[i]);
    if (len)
        memcpy(p, payload, len);
    p += len;
    p = put32(p, gl_crc32(0, base, total - 4));
    out->len = start + total;
    out->data[out->len] = '\0';
    return 0;
}
