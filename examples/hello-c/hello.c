/* SPDX-License-Identifier: MIT */
/*
 * hello.c: the C example function (runtime provided.al2023), built into an executable named
 * bootstrap and linked with galley's C runtime library (include/galley/runtime.h).
 *
 * For an event like {"name":"Ada"} it answers
 * {"message":"<GREETING>, Ada!","invocations":<n>,"requestId":"<id>"}, where n counts the
 * invocations this execution environment has served (it restarts at 1 after a cold start),
 * and logs one line per invocation to stdout. A GREETING that is too long fails the init phase
 * through the Runtime API's init error, to show how a handler reports a failed setup.
 */
#define _GNU_SOURCE /* memmem */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "galley/runtime.h"

#define MAX_NAME 64
#define MAX_GREETING 128

typedef struct hello {
    char greeting[6 * MAX_GREETING + 1]; /* already JSON-escaped */
    unsigned long invocations;
} hello_t;

/*
 * Find the string member "name" of a JSON object without a JSON parser. Only simple names
 * (no escapes, at most MAX_NAME bytes) are taken; anything else gives "world".
 */
static void find_name(const char *event, size_t len, char *out, size_t cap)
{
    const char *p = memmem(event, len, "\"name\"", 6), *end = event + len, *start;

    snprintf(out, cap, "world");
    if (!p)
        return;
    for (p += 6; p < end && strchr(" \t\r\n", *p); p++)
        ;
    if (p == end || *p++ != ':')
        return;
    for (; p < end && strchr(" \t\r\n", *p); p++)
        ;
    if (p == end || *p++ != '"')
        return;
    for (start = p; p < end && *p != '"'; p++)
        if (*p == '\\' || (unsigned char)*p < 0x20 || p - start >= MAX_NAME)
            return;
    if (p == end || p == start)
        return;
    snprintf(out, cap, "%.*s", (int)(p - start), start);
}

static int handle(const gl_rt_invocation_t *inv, gl_rt_response_t *resp, void *user_data)
{
    hello_t *h = user_data;
    char name[MAX_NAME + 1], esc_name[6 * MAX_NAME + 1], esc_id[6 * 64 + 1];

    h->invocations++;
    find_name(inv->payload, inv->payload_len, name, sizeof name);
    gl_rt_json_escape(esc_name, sizeof esc_name, name, strlen(name));
    gl_rt_json_escape(esc_id, sizeof esc_id, inv->request_id, strlen(inv->request_id));
    printf("hello-c: request %s for %s (invocation %lu, %lld ms left)\n", inv->request_id, name,
           h->invocations, (long long)gl_rt_remaining_ms());
    fflush(stdout);
    if (gl_rt_respond_printf(resp, "application/json",
                             "{\"message\":\"%s, %s!\",\"invocations\":%lu,\"requestId\":\"%s\"}",
                             h->greeting, esc_name, h->invocations, esc_id) < 0)
        return gl_rt_set_error(resp, "Runtime.OutOfMemory", "cannot allocate the response");
    return 0;
}

int main(void)
{
    static hello_t h;
    const char *greeting = getenv("GREETING");
    int rc;

    if (!greeting || !*greeting)
        greeting = "Hello";
    if (strlen(greeting) > MAX_GREETING) {
        gl_rt_init_error("Runtime.ConfigError", "GREETING is longer than %d bytes", MAX_GREETING);
        return 1;
    }
    gl_rt_json_escape(h.greeting, sizeof h.greeting, greeting, strlen(greeting));
    rc = gl_rt_run(handle, &h);
    fprintf(stderr, "hello-c: runtime loop ended: %s\n", strerror(-rc));
    return 1;
}
