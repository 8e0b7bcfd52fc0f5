/* SPDX-License-Identifier: MIT */
/*
 * test_env.c: the execution environment's state machine (src/scheduler/env.c) driven through
 * the scheduler (sched.c) with real runtimes: a uv loop on the test's thread, a scheduler with
 * a temporary state dir, and provided.al2023 functions whose `bootstrap` is a Python script
 * written by each test that speaks the Runtime API with http.client.
 *
 * The scheduler serves the real Runtime API router (gl_rapi_handler, env_rapi.c). The
 * transition table (gl_env_transitions) is walked cell by cell against docs/env-states.md.
 * Bootstraps report what they observed (status codes of their
 * own calls, their pid) in their response bodies or in files beside the code.
 *
 * After every test the scheduler is closed (on_closed must run), the loop closes with
 * uv_loop_close() == 0, run/ is gone and no child process is left. The test process is a child
 * subreaper, so a runtime's orphaned grandchild would show up as our child.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* cmocka.h needs the headers above. */
#include <cmocka.h>

#include "galley/cgroup.h"
#include "galley/env.h"
#include "galley/rapi.h"
#include "galley/sched.h"
#include "galley/util.h"
#include "internal.h"

#define FN_NAME "env-test"
#define ARN "arn:aws:lambda:us-east-1:123456789012:function:" FN_NAME
#define WAIT_MS 15000
#define MAX_RESULTS 4

/* ---- bootstraps ---- */

/* Every bootstrap starts with this: call(method, path, body, headers) -> (status, hdrs, body). */
static const char prelude[] =
    "#!/usr/bin/python3\n"
    "import http.client, json, os, signal, subprocess, sys, time\n"
    "HOST, PORT = os.environ['AWS_LAMBDA_RUNTIME_API'].split(':')\n"
    "ROOT = os.environ['LAMBDA_TASK_ROOT']\n"
    "def call(method, path, body=None, headers=None):\n"
    "    c = http.client.HTTPConnection(HOST, int(PORT), timeout=60)\n"
    "    c.request(method, '/2018-06-01/runtime/' + path, body=body, headers=headers or {})\n"
    "    r = c.getresponse()\n"
    "    data = r.read()\n"
    "    c.close()\n"
    "    return r.status, r, data\n"
    "def next_event():\n"
    "    st, r, data = call('GET', 'invocation/next')\n"
    "    assert st == 200, st\n"
    "    return r.getheader('Lambda-Runtime-Aws-Request-Id'), json.loads(data), r\n"
    "def respond(rid, obj):\n"
    "    return call('POST', 'invocation/%s/response' % rid, json.dumps(obj))\n"
    "def note(name, text):\n"
    "    with open(os.path.join(ROOT, name), 'w') as f:\n"
    "        f.write(str(text))\n";

/* Serves invokes forever, answering with its pid, a count, and the event it got. */
#define ECHO_LOOP                                                                                  \
    "n = 0\n"                                                                                      \
    "while True:\n"                                                                                \
    "    rid, event, r = next_event()\n"                                                           \
    "    n += 1\n"                                                                                 \
    "    print('handling', rid, flush=True)\n"                                                     \
    "    respond(rid, {'pid': os.getpid(), 'n': n, 'event': event,\n"                              \
    "                  'arn': r.getheader('Lambda-Runtime-Invoked-Function-Arn')})\n"
static const char echo_loop[] = ECHO_LOOP;

/* ---- fixture ---- */

typedef struct result {
    int done;
    char request_id[GL_UUID_LEN + 1];
    char *body;
    json_t *json; /* body parsed, or NULL */
    int function_error;
    char *error_type;
    char *tail; /* decoded log tail */
    int cold;
    char *service_error;
} result_t;

typedef struct fx {
    uv_loop_t loop;
    uv_timer_t tick; /* keeps UV_RUN_ONCE returning while a test waits */
    char dir[64];
    char state_dir[96];
    char code_dir[96];
    char run_dir[128];
    gl_sched_t *sched;
    gl_cg_system_t *cgroups; /* set by a test before start() to freeze idle environments */
    gl_fn_t *fn;
    int closed;
    result_t results[MAX_RESULTS];
} fx_t;

static uint64_t now_ms(void)
{
    return gl_mono_ns() / 1000000;
}

static void on_tick(uv_timer_t *t)
{
    (void)t;
}

static int setup(void **state)
{
    fx_t *fx = calloc(1, sizeof(*fx));
    if (!fx)
        return -1;
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/gl-env-XXXXXX");
    if (!mkdtemp(fx->dir))
        return -1;
    snprintf(fx->state_dir, sizeof(fx->state_dir), "%s/state", fx->dir);
    snprintf(fx->code_dir, sizeof(fx->code_dir), "%s/code", fx->dir);
    snprintf(fx->run_dir, sizeof(fx->run_dir), "%s/run", fx->state_dir);
    if (mkdir(fx->code_dir, 0755) < 0)
        return -1;
    if (uv_loop_init(&fx->loop) != 0)
        return -1;
    uv_timer_init(&fx->loop, &fx->tick);
    uv_timer_start(&fx->tick, on_tick, 20, 20);
    *state = fx;
    return 0;
}

#define RUN_UNTIL(fx, cond, ms)                                                                    \
    do {                                                                                           \
        uint64_t deadline_ = now_ms() + (ms);                                                      \
        while (!(cond)) {                                                                          \
            if (now_ms() > deadline_)                                                              \
                fail_msg("timed out waiting for: %s", #cond);                                      \
            uv_run(&(fx)->loop, UV_RUN_ONCE);                                                      \
        }                                                                                          \
    } while (0)

static void on_sched_closed(void *arg)
{
    fx_t *fx = arg;
    fx->closed++;
}

/* Reap what is ours; fail if a live child remains after a short bound. */
static int reap_children(void)
{
    uint64_t deadline = now_ms() + 3000;
    for (;;) {
        pid_t r = waitpid(-1, NULL, WNOHANG);
        if (r > 0)
            continue;
        if (r < 0)
            return 0; /* ECHILD: nothing left */
        if (now_ms() > deadline)
            return -1;
        usleep(10000);
    }
}

/* Empty a result slot for reuse. */
static void clear_result(result_t *r)
{
    free(r->body);
    free(r->error_type);
    free(r->tail);
    free(r->service_error);
    json_decref(r->json);
    memset(r, 0, sizeof(*r));
}

static int teardown(void **state)
{
    fx_t *fx = *state;
    int bad = 0;
    if (fx->sched && !fx->closed) {
        /* A test that failed half-way: stop everything now. */
        gl_sched_close(fx->sched, 0, on_sched_closed, fx);
        uint64_t deadline = now_ms() + WAIT_MS;
        while (!fx->closed && now_ms() < deadline)
            uv_run(&fx->loop, UV_RUN_ONCE);
        if (!fx->closed) {
            fprintf(stderr, "teardown: scheduler did not close\n");
            bad = 1;
        }
    }
    uv_close((uv_handle_t *)&fx->tick, NULL);
    uv_run(&fx->loop, UV_RUN_DEFAULT);
    if (uv_loop_close(&fx->loop) != 0) {
        fprintf(stderr, "teardown: uv_loop_close failed (a handle was left open)\n");
        uv_print_all_handles(&fx->loop, stderr);
        bad = 1;
    }
    if (reap_children() < 0) {
        fprintf(stderr, "teardown: a child process is still running\n");
        bad = 1;
    }
    struct stat st;
    if (fx->sched && stat(fx->run_dir, &st) == 0) {
        fprintf(stderr, "teardown: %s was left behind\n", fx->run_dir);
        bad = 1;
    }
    for (int i = 0; i < MAX_RESULTS; i++)
        clear_result(&fx->results[i]);
    gl_fn_unref(fx->fn);
    gl_rm_rf(fx->dir);
    free(fx);
    return bad ? -1 : 0;
}

static void write_bootstrap(fx_t *fx, const char *body)
{
    char path[160];
    snprintf(path, sizeof(path), "%s/bootstrap", fx->code_dir);
    gl_buf_t text = {0};
    gl_buf_append_str(&text, prelude);
    gl_buf_append_str(&text, body);
    assert_int_equal(gl_write_file_atomic(path, text.data, text.len), 0);
    assert_int_equal(chmod(path, 0755), 0);
    gl_buf_free(&text);
}

static void start(fx_t *fx, const char *bootstrap, int timeout_s, uint64_t idle_ms,
                  uint64_t init_ms)
{
    if (bootstrap)
        write_bootstrap(fx, bootstrap);
    gl_fn_config_t cfg = {0};
    cfg.name = strdup(FN_NAME);
    cfg.runtime = strdup("provided.al2023");
    cfg.handler = strdup("bootstrap");
    cfg.code_dir = strdup(fx->code_dir);
    cfg.timeout_s = timeout_s;
    gl_fn_config_defaults(&cfg);
    fx->fn = gl_fn_new(&cfg, "EnvTest", 1);
    assert_non_null(fx->fn);
    gl_sched_opts_t opts = {
        .runtimes_dir = "/nonexistent",
        .python = "/usr/bin/python3",
        .node = "/usr/bin/node",
        .state_dir = fx->state_dir,
        .region = "us-east-1",
        .account_id = "123456789012",
        .idle_timeout_ms = idle_ms,
        .init_timeout_ms = init_ms,
        .rapi = gl_rapi_handler(),
        .cgroups = fx->cgroups,
    };
    gl_err_t err = {0};
    assert_int_equal(gl_sched_new(&fx->sched, &fx->loop, &opts, &err), 0);
}

static void on_done(gl_invoke_t *inv)
{
    result_t *r = inv->data;
    r->done = 1;
    memcpy(r->request_id, inv->request_id, sizeof(r->request_id));
    r->body = strndup(inv->result.data ? inv->result.data : "", inv->result.len);
    r->json = json_loadb(r->body, strlen(r->body), 0, NULL);
    r->function_error = inv->function_error;
    r->error_type = inv->error_type ? strdup(inv->error_type) : NULL;
    r->cold = inv->cold;
    r->service_error = inv->service_error ? strdup(inv->service_error) : NULL;
    if (inv->log_tail) {
        unsigned char *dec = NULL;
        size_t n = 0;
        if (gl_b64_decode(inv->log_tail, strlen(inv->log_tail), &dec, &n) == 0) {
            r->tail = strndup((char *)dec, n);
            free(dec);
        }
    }
    gl_invoke_free(inv);
}

/* Submit an invoke whose result lands in fx->results[slot]. */
static void submit(fx_t *fx, int slot, const char *payload)
{
    gl_invoke_t *inv = gl_invoke_new(fx->fn);
    assert_non_null(inv);
    inv->invoked_arn = strdup(ARN);
    gl_buf_append_str(&inv->payload, payload);
    inv->want_tail = 1;
    inv->done = on_done;
    inv->data = &fx->results[slot];
    gl_sched_submit(fx->sched, inv);
}

static result_t *invoke_and_wait(fx_t *fx, int slot, const char *payload)
{
    submit(fx, slot, payload);
    RUN_UNTIL(fx, fx->results[slot].done, WAIT_MS);
    return &fx->results[slot];
}

static void close_sched(fx_t *fx, uint64_t grace_ms)
{
    gl_sched_close(fx->sched, grace_ms, on_sched_closed, fx);
    RUN_UNTIL(fx, fx->closed, WAIT_MS);
    assert_int_equal(fx->closed, 1);
}

static const char *str_member(json_t *obj, const char *key)
{
    const char *v = json_string_value(json_object_get(obj, key));
    if (!v)
        fail_msg("member %s missing", key);
    return v;
}

static json_int_t int_member(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v))
        fail_msg("integer member %s missing", key);
    return json_integer_value(v);
}

/* The concatenated log stream files of the test function. */
static char *read_log_streams(fx_t *fx)
{
    char pattern[256];
    snprintf(pattern, sizeof(pattern), "%s/logs/aws/lambda/%s/*/*/*/*", fx->state_dir, FN_NAME);
    glob_t g;
    gl_buf_t all = {0};
    if (glob(pattern, 0, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; i++) {
            gl_buf_t one = {0};
            if (gl_read_file(g.gl_pathv[i], 1 << 20, &one) == 0)
                gl_buf_append(&all, one.data, one.len);
            gl_buf_free(&one);
        }
        globfree(&g);
    }
    gl_buf_append(&all, "", 0);
    return gl_buf_steal(&all, NULL);
}

/* A note a bootstrap wrote beside its code (NUL-terminated into buf), or NULL. */
static const char *read_note(fx_t *fx, const char *name, char *buf, size_t len)
{
    char path[160];
    snprintf(path, sizeof(path), "%s/%s", fx->code_dir, name);
    gl_buf_t b = {0};
    if (gl_read_file(path, 64, &b) < 0)
        return NULL;
    snprintf(buf, len, "%.*s", (int)b.len, b.data ? b.data : "");
    gl_buf_free(&b);
    return buf;
}

static long read_int_file(fx_t *fx, const char *name)
{
    char buf[64];
    return read_note(fx, name, buf, sizeof(buf)) ? strtol(buf, NULL, 10) : -1;
}

static int file_exists(fx_t *fx, const char *name)
{
    char buf[64];
    return read_note(fx, name, buf, sizeof(buf)) != NULL;
}

/* A platform error: X-Amz-Function-Error set, and type both in REPORT and in the body. */
static void assert_platform_error(result_t *r, const char *type)
{
    assert_int_equal(r->function_error, 1);
    assert_string_equal(r->error_type, type);
    assert_string_equal(str_member(r->json, "errorType"), type);
}

/* The body's errorMessage is "RequestId: <id> Error: <what>". */
static void assert_error_message(result_t *r, const char *what)
{
    char want[512];
    snprintf(want, sizeof(want), "RequestId: %s Error: %s", r->request_id, what);
    assert_string_equal(str_member(r->json, "errorMessage"), want);
}

/* Wait until every environment is gone, then close the scheduler. */
static void close_when_gone(fx_t *fx)
{
    RUN_UNTIL(fx, gl_sched_env_count(fx->sched) == 0, WAIT_MS);
    close_sched(fx, 1000);
}

static const char *env_state(fx_t *fx, char *buf, size_t len)
{
    json_t *arr = gl_sched_envs_json(fx->sched);
    json_t *first = json_array_get(arr, 0);
    snprintf(buf, len, "%s", first ? json_string_value(json_object_get(first, "state")) : "-");
    json_decref(arr);
    return buf;
}

/* The first environment's status as galley ps shows it ("frozen", "idle", ...). */
static const char *env_status(fx_t *fx, char *buf, size_t len)
{
    json_t *arr = gl_sched_envs_json(fx->sched);
    json_t *first = json_array_get(arr, 0);
    snprintf(buf, len, "%s", first ? json_string_value(json_object_get(first, "status")) : "-");
    json_decref(arr);
    return buf;
}

/* Fault injection: the binary links with -Wl,--wrap=gl_cg_thaw_request (CMakeLists.txt). */
int __real_gl_cg_thaw_request(gl_cg_t *cg);
int __wrap_gl_cg_thaw_request(gl_cg_t *cg);
static int thaw_failures; /* how many of the next thaws fail with EMFILE */

static int thaw_requests; /* every thaw asked for */

int __wrap_gl_cg_thaw_request(gl_cg_t *cg)
{
    thaw_requests++;
    if (thaw_failures > 0) {
        thaw_failures--;
        return -EMFILE;
    }
    return __real_gl_cg_thaw_request(cg);
}

/* ---- tests ---- */

static void test_name_tables_cover_every_value(void **state)
{
    (void)state;
    static const struct {
        gl_env_state_t v;
        const char *text;
    } states[] = {
#define XX(name, text) {GL_ENV_##name, text},
        GL_ENV_STATE_MAP(XX)
#undef XX
    };
    static const struct {
        gl_env_event_t v;
        const char *text;
    } events[] = {
#define XX(name, text) {GL_ENV_EV_##name, text},
        GL_ENV_EVENT_MAP(XX)
#undef XX
    };
    size_t ns = sizeof(states) / sizeof(states[0]), ne = sizeof(events) / sizeof(events[0]);
    assert_int_equal(ns, 7);
    assert_int_equal(ne, 15);
    for (size_t i = 0; i < ns; i++) {
        assert_int_equal(states[i].v, (int)i); /* dense enum, so the table index is the value */
        assert_non_null(gl_env_state_name(states[i].v));
        assert_string_equal(gl_env_state_name(states[i].v), states[i].text);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(gl_env_state_name(states[i].v), gl_env_state_name(states[j].v));
    }
    for (size_t i = 0; i < ne; i++) {
        assert_int_equal(events[i].v, (int)i);
        assert_string_equal(gl_env_event_name(events[i].v), events[i].text);
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(gl_env_event_name(events[i].v), gl_env_event_name(events[j].v));
    }
    assert_string_equal(gl_env_state_name(GL_ENV_INVOKING), "invoking");
    assert_string_equal(gl_env_event_name(GL_ENV_EV_INIT_ERROR), "init_error");
}

/* docs/env-states.md, found from this file's path (tests/unit/scheduler/test_env.c). */
static char *read_states_doc(void)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s", __FILE__);
    char *cut = strstr(path, "tests/unit/scheduler/");
    if (!cut)
        fail_msg("cannot find the source tree from %s", __FILE__);
    snprintf(cut, sizeof(path) - (size_t)(cut - path), "docs/env-states.md");
    gl_buf_t b = {0};
    if (gl_read_file(path, 1 << 20, &b) < 0)
        fail_msg("cannot read %s", path);
    gl_buf_append(&b, "", 0);
    return gl_buf_steal(&b, NULL);
}

static int state_by_name(const char *name, size_t len)
{
    for (int i = 0; i < GL_ENV_STATE_COUNT; i++) {
        const char *n = gl_env_state_name((gl_env_state_t)i);
        if (strlen(n) != len)
            continue;
        size_t k = 0;
        while (k < len && (name[k] | 0x20) == n[k])
            k++;
        if (k == len)
            return i;
    }
    return -1;
}

static int event_by_name(const char *name, size_t len)
{
    for (int i = 0; i < GL_ENV_EV_COUNT; i++) {
        const char *n = gl_env_event_name((gl_env_event_t)i);
        if (strlen(n) == len && strncmp(n, name, len) == 0)
            return i;
    }
    return -1;
}

/* The next '|'-separated cell of a table row, trimmed; NULL at the end of the row. */
static const char *next_cell(const char **p, size_t *len)
{
    const char *c = *p;
    while (*c == ' ')
        c++;
    const char *bar = strchr(c, '|');
    const char *nl = strchr(c, '\n');
    if (!bar || (nl && nl < bar))
        return NULL;
    *p = bar + 1;
    *len = (size_t)(bar - c);
    while (*len && c[*len - 1] == ' ')
        (*len)--;
    return c;
}

/*
 * docs/env-states.md lists every accepted (state, event) as a row "| FROM | event | TO or TO |
 * ...": parse those rows into a table, then walk every pair: the code's transition table
 * must be exactly the documented one, with no refused pair documented and no accepted one
 * missing. DEAD refuses everything; every other state ends on exited.
 */
static void test_transition_table_matches_docs(void **state)
{
    (void)state;
    unsigned doc[GL_ENV_STATE_COUNT][GL_ENV_EV_COUNT] = {{0}};
    char *text = read_states_doc();
    int rows = 0;
    for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (line[0] != '|')
            continue;
        const char *p = line + 1, *c;
        size_t len;
        int from, ev;
        if (!(c = next_cell(&p, &len)) || (from = state_by_name(c, len)) < 0)
            continue;
        if (!(c = next_cell(&p, &len)) || (ev = event_by_name(c, len)) < 0)
            continue;
        assert_non_null(c = next_cell(&p, &len));
        assert_int_equal(doc[from][ev], 0); /* one row per pair */
        for (size_t k = 0; k < len;) {
            size_t n = strcspn(c + k, " ");
            if (n > len - k)
                n = len - k;
            int to = state_by_name(c + k, n);
            if (strncmp(c + k, "or", n) != 0) {
                if (to < 0)
                    fail_msg("docs/env-states.md: unknown state in '%.*s'", (int)len, c);
                doc[from][ev] |= 1u << to;
            }
            k += n;
            while (k < len && c[k] == ' ')
                k++;
        }
        rows++;
    }
    free(text);
    assert_true(rows > 0);
    for (int st = 0; st < GL_ENV_STATE_COUNT; st++) {
        for (int ev = 0; ev < GL_ENV_EV_COUNT; ev++) {
            unsigned code = gl_env_transitions((gl_env_state_t)st, (gl_env_event_t)ev);
            if (code != doc[st][ev])
                fail_msg("%s on %s: code allows 0x%x, docs/env-states.md 0x%x",
                         gl_env_state_name((gl_env_state_t)st),
                         gl_env_event_name((gl_env_event_t)ev), code, doc[st][ev]);
            if (st == GL_ENV_DEAD)
                assert_int_equal(code, 0);
            else if (ev == GL_ENV_EV_EXITED)
                assert_int_equal(code, 1u << GL_ENV_DEAD);
        }
    }
    assert_int_equal(gl_env_transitions(GL_ENV_STATE_COUNT, GL_ENV_EV_NEXT), 0);
    assert_int_equal(gl_env_transitions(GL_ENV_IDLE, GL_ENV_EV_COUNT), 0);
}

static void test_cold_start_then_warm_reuse(void **state)
{
    fx_t *fx = *state;
    start(fx, "print('init ran', flush=True)\n" ECHO_LOOP, 3, 600000, 0);

    result_t *r1 = invoke_and_wait(fx, 0, "{\"k\":1}");
    assert_int_equal(r1->function_error, 0);
    assert_non_null(r1->json);
    assert_int_equal(r1->cold, 1);
    assert_int_equal(int_member(r1->json, "n"), 1);
    assert_int_equal(int_member(json_object_get(r1->json, "event"), "k"), 1);
    assert_string_equal(str_member(r1->json, "arn"), ARN);
    pid_t pid = (pid_t)int_member(r1->json, "pid");
    assert_true(pid > 0);
    /* The tail holds this invoke's platform lines and the runtime's own output. */
    assert_non_null(r1->tail);
    char want[160];
    snprintf(want, sizeof(want), "START RequestId: %s Version: $LATEST", r1->request_id);
    assert_non_null(strstr(r1->tail, want));
    snprintf(want, sizeof(want), "handling %s\n", r1->request_id);
    assert_non_null(strstr(r1->tail, want));
    snprintf(want, sizeof(want), "END RequestId: %s\n", r1->request_id);
    assert_non_null(strstr(r1->tail, want));
    snprintf(want, sizeof(want), "REPORT RequestId: %s\tDuration: ", r1->request_id);
    assert_non_null(strstr(r1->tail, want));
    assert_non_null(strstr(r1->tail, "Init Duration: "));
    assert_int_equal(gl_sched_env_count(fx->sched), 1);

    result_t *r2 = invoke_and_wait(fx, 1, "{\"k\":2}");
    assert_int_equal(r2->function_error, 0);
    assert_int_equal(r2->cold, 0);
    assert_int_equal(int_member(r2->json, "pid"), pid);
    assert_int_equal(int_member(r2->json, "n"), 2);
    assert_int_equal(int_member(json_object_get(r2->json, "event"), "k"), 2);
    assert_null(strstr(r2->tail, "Init Duration"));
    assert_null(strstr(r2->tail, r1->request_id)); /* a warm invoke's tail is its own */
    assert_int_equal(gl_sched_env_count(fx->sched), 1);

    close_sched(fx, 1000);
    assert_int_equal(kill(pid, 0), -1); /* stopped and reaped */
    char *logs = read_log_streams(fx);
    assert_non_null(strstr(logs, "INIT_START Runtime Version: provided.al2023"));
    assert_non_null(strstr(logs, "init ran\n")); /* output of the init phase is kept too */
    snprintf(want, sizeof(want), "END RequestId: %s\n", r2->request_id);
    assert_non_null(strstr(logs, want));
    free(logs);
}

static void test_init_error_reaches_invoke(void **state)
{
    fx_t *fx = *state;
    /* The daemon signals the runtime as soon as it acknowledged the init error; this one
     * ignores SIGTERM so that it can note the status it got (SIGKILL follows later). */
    start(fx,
          "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
          "st, r, data = call('POST', 'init/error',\n"
          "    json.dumps({'errorMessage': 'no module named x', 'errorType': "
          "'Runtime.ImportModuleError'}),\n"
          "    {'Lambda-Runtime-Function-Error-Type': 'Runtime.ImportModuleError'})\n"
          "note('init-error-status', st)\n"
          "sys.exit(1)\n",
          3, 600000, 0);
    result_t *r = invoke_and_wait(fx, 0, "{}");
    assert_int_equal(r->function_error, 1);
    assert_non_null(r->json);
    assert_string_equal(str_member(r->json, "errorMessage"), "no module named x");
    assert_string_equal(str_member(r->json, "errorType"), "Runtime.ImportModuleError");
    assert_string_equal(r->error_type, "Runtime.ImportModuleError");
    assert_non_null(r->tail);
    assert_non_null(strstr(r->tail, "INIT_REPORT Init Duration: "));
    assert_non_null(
        strstr(r->tail, "Phase: init\tStatus: error\tError Type: Runtime.ImportModuleError"));
    RUN_UNTIL(fx, gl_sched_env_count(fx->sched) == 0, WAIT_MS);
    assert_int_equal(read_int_file(fx, "init-error-status"), 202);
    char *logs = read_log_streams(fx);
    assert_non_null(strstr(logs, "INIT_REPORT Init Duration: "));
    free(logs);
    close_sched(fx, 1000);
}

static void test_exit_mid_invoke(void **state)
{
    fx_t *fx = *state;
    start(fx,
          "rid, event, r = next_event()\n"
          "print('about to exit', flush=True)\n"
          "os._exit(7)\n",
          3, 600000, 0);
    result_t *r = invoke_and_wait(fx, 0, "{}");
    assert_platform_error(r, "Runtime.ExitError");
    assert_error_message(r, "Runtime exited with error: exit status 7");
    /* Output written before the exit is in the tail, ahead of END. */
    char *printed = strstr(r->tail, "about to exit\n");
    char *end = strstr(r->tail, "END RequestId: ");
    assert_non_null(printed);
    assert_non_null(end);
    assert_true(printed < end);
    assert_non_null(strstr(r->tail, "Error Type: Runtime.ExitError"));
    close_when_gone(fx);
}

static void test_invoke_timeout_kills_group(void **state)
{
    fx_t *fx = *state;
    start(fx,
          "child = subprocess.Popen(['/bin/sleep', '60'])\n"
          "note('grandchild.pid', child.pid)\n"
          "rid, event, r = next_event()\n"
          "note('got-event', rid)\n"
          "time.sleep(60)\n",
          1, 600000, 0);
    uint64_t t0 = now_ms();
    result_t *r = invoke_and_wait(fx, 0, "{}");
    uint64_t took = now_ms() - t0;
    assert_true(file_exists(fx, "got-event"));
    assert_platform_error(r, "Sandbox.Timedout");
    assert_error_message(r, "Task timed out after 1.00 seconds");
    assert_true(took >= 900 && took < 5000);
    assert_non_null(strstr(r->tail, "Task timed out after 1.00 seconds"));
    assert_non_null(strstr(r->tail, "Status: timeout"));

    /* The grandchild was killed with its group. Once the runtime itself is reaped, the
     * grandchild has been reparented to us (subreaper) and its status can be read. */
    RUN_UNTIL(fx, gl_sched_env_count(fx->sched) == 0, WAIT_MS);
    pid_t gc = (pid_t)read_int_file(fx, "grandchild.pid");
    assert_true(gc > 0);
    int status = 0;
    pid_t w;
    uint64_t deadline = now_ms() + 5000;
    while ((w = waitpid(gc, &status, WNOHANG)) == 0) {
        assert_true(now_ms() < deadline);
        uv_run(&fx->loop, UV_RUN_ONCE);
    }
    assert_int_equal(w, gc);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);
    close_sched(fx, 1000);
}

/*
 * A runtime that calls /next again while its invoke is unanswered is refused (403
 * InvalidStateTransition), never handed the event again (issue 9: only the runtime may hold
 * an event, once), and the refusal does not cancel the invoke's deadline.
 */
static void test_next_again_while_invoking_keeps_deadline(void **state)
{
    fx_t *fx = *state;
    start(fx,
          "rid, event, r = next_event()\n"
          "st, r2, data = call('GET', 'invocation/next')\n"
          "note('again', '%d %s' % (st, 'leaked' if rid.encode() in data else "
          "json.loads(data)['errorType']))\n"
          "time.sleep(60)\n",
          1, 600000, 0);
    uint64_t t0 = now_ms();
    result_t *r = invoke_and_wait(fx, 0, "{}");
    assert_true(now_ms() - t0 < 5000);
    assert_string_equal(r->error_type, "Sandbox.Timedout");
    char again[64];
    assert_non_null(read_note(fx, "again", again, sizeof(again)));
    assert_string_equal(again, "403 InvalidStateTransition");
    close_when_gone(fx);
}

static void test_init_timeout(void **state)
{
    fx_t *fx = *state;
    start(fx, "time.sleep(60)\n", 3, 600000, 400);
    result_t *r = invoke_and_wait(fx, 0, "{}");
    assert_int_equal(r->function_error, 1);
    assert_string_equal(r->error_type, "Sandbox.Timedout");
    assert_non_null(strstr(str_member(r->json, "errorMessage"), "Task timed out after"));
    assert_non_null(strstr(r->tail, "INIT_REPORT Init Duration: "));
    assert_non_null(strstr(r->tail, "Phase: init\tStatus: timeout"));
    close_when_gone(fx);
}

/*
 * Invoke 1: a response for a wrong id (400), the right response, a second response for the
 * same id (403) and an /init/error after init (403). Invoke 2 reports what invoke 1 saw.
 */
static void test_hostile_request_ids(void **state)
{
    fx_t *fx = *state;
    start(fx,
          "seen = {}\n"
          "rid, event, r = next_event()\n"
          "st, _, data = respond('00000000-0000-0000-0000-000000000000', {'wrong': True})\n"
          "seen['wrong'] = [st, json.loads(data)]\n"
          "st, _, data = respond(rid, {'first': True})\n"
          "seen['first'] = st\n"
          "st, _, data = respond(rid, {'second': True})\n"
          "seen['second'] = [st, json.loads(data)]\n"
          "st, _, data = call('POST', 'invocation/%s/error' % rid, '{}')\n"
          "seen['error_after'] = [st, json.loads(data)]\n"
          "st, _, data = call('POST', 'init/error', '{}')\n"
          "seen['init_error'] = [st, json.loads(data)]\n"
          "rid2, event, r = next_event()\n"
          "respond(rid2, seen)\n"
          "time.sleep(60)\n",
          3, 600000, 0);
    result_t *r1 = invoke_and_wait(fx, 0, "{}");
    assert_int_equal(r1->function_error, 0);
    assert_non_null(r1->json);
    assert_true(json_is_true(json_object_get(r1->json, "first")));
    result_t *r2 = invoke_and_wait(fx, 1, "{}");
    assert_int_equal(r2->function_error, 0);
    json_t *seen = r2->json;
    assert_non_null(seen);

    json_t *wrong = json_object_get(seen, "wrong");
    assert_int_equal(json_integer_value(json_array_get(wrong, 0)), 400);
    assert_string_equal(str_member(json_array_get(wrong, 1), "errorType"), "InvalidRequestID");
    assert_string_equal(str_member(json_array_get(wrong, 1), "errorMessage"), "Invalid request ID");
    assert_int_equal(int_member(seen, "first"), 202);
    json_t *second = json_object_get(seen, "second");
    assert_int_equal(json_integer_value(json_array_get(second, 0)), 403);
    assert_string_equal(str_member(json_array_get(second, 1), "errorType"),
                        "InvalidStateTransition");
    json_t *after = json_object_get(seen, "error_after");
    assert_int_equal(json_integer_value(json_array_get(after, 0)), 403);
    json_t *init_error = json_object_get(seen, "init_error");
    assert_int_equal(json_integer_value(json_array_get(init_error, 0)), 403);
    assert_string_equal(str_member(json_array_get(init_error, 1), "errorType"),
                        "InvalidStateTransition");
    /* None of it disturbed the environment: one, still alive, serving the second invoke. */
    assert_int_equal(gl_sched_env_count(fx->sched), 1);
    close_sched(fx, 1000);
}

static void test_error_response_and_empty_error_body(void **state)
{
    fx_t *fx = *state;
    start(fx,
          "rid, event, r = next_event()\n"
          "call('POST', 'invocation/%s/error' % rid,\n"
          "     json.dumps({'errorMessage': 'bad', 'errorType': 'ValueError'}),\n"
          "     {'Lambda-Runtime-Function-Error-Type': 'Function.ValueError'})\n"
          "rid, event, r = next_event()\n"
          "call('POST', 'invocation/%s/error' % rid, b'',\n"
          "     {'Lambda-Runtime-Function-Error-Type': 'Runtime.Bad'})\n"
          "rid, event, r = next_event()\n"
          "call('POST', 'invocation/%s/error' % rid, b'x', {'Lambda-Runtime-Function-Error-Type': "
          "'not valid'})\n"
          "time.sleep(60)\n",
          3, 600000, 0);
    result_t *r = invoke_and_wait(fx, 0, "{}");
    assert_int_equal(r->function_error, 1);
    assert_string_equal(r->error_type, "Function.ValueError");
    assert_string_equal(str_member(r->json, "errorMessage"), "bad");
    r = invoke_and_wait(fx, 1, "{}");
    assert_int_equal(r->function_error, 1);
    assert_string_equal(r->body, "{\"errorMessage\":\"Unknown application error occurred\","
                                 "\"errorType\":\"Runtime.Bad\"}");
    r = invoke_and_wait(fx, 2, "{}");
    assert_int_equal(r->function_error, 1);
    assert_string_equal(r->body, "x");
    assert_string_equal(r->error_type, "Runtime.Unknown");
    close_sched(fx, 1000);
}

static void test_missing_bootstrap(void **state)
{
    fx_t *fx = *state;
    start(fx, NULL, 3, 600000, 0);
    submit(fx, 0, "{}");
    /* Found missing before anything is spawned: done runs inside submit. */
    result_t *r = &fx->results[0];
    assert_int_equal(r->done, 1);
    assert_platform_error(r, "Runtime.InvalidEntrypoint");
    char want[256];
    snprintf(want, sizeof(want), "Couldn't find valid bootstrap(s): [%s/bootstrap /opt/bootstrap]",
             fx->code_dir);
    assert_error_message(r, want);
    close_when_gone(fx);
}

static void test_idle_timeout_stops_environment(void **state)
{
    fx_t *fx = *state;
    start(fx, echo_loop, 3, 300, 0);
    result_t *r = invoke_and_wait(fx, 0, "{}");
    assert_int_equal(r->function_error, 0);
    pid_t pid = (pid_t)int_member(r->json, "pid");
    assert_int_equal(gl_sched_env_count(fx->sched), 1);
    uint64_t t0 = now_ms();
    RUN_UNTIL(fx, gl_sched_env_count(fx->sched) == 0, WAIT_MS);
    assert_true(now_ms() - t0 >= 250);
    assert_int_equal(kill(pid, 0), -1);
    /* A new invoke starts a new environment. */
    r = invoke_and_wait(fx, 1, "{}");
    assert_int_equal(r->cold, 1);
    assert_true(int_member(r->json, "pid") != pid);
    close_sched(fx, 1000);
}

static void test_retire_stops_idle_environment(void **state)
{
    fx_t *fx = *state;
    start(fx, echo_loop, 3, 600000, 0);
    result_t *r = invoke_and_wait(fx, 0, "{}");
    pid_t pid = (pid_t)int_member(r->json, "pid");
    char st[32];
    RUN_UNTIL(fx, strcmp(env_state(fx, st, sizeof(st)), "idle") == 0, WAIT_MS);
    gl_sched_retire(fx->sched, fx->fn);
    RUN_UNTIL(fx, gl_sched_env_count(fx->sched) == 0, WAIT_MS);
    assert_int_equal(kill(pid, 0), -1);
    assert_null(fx->fn->sched); /* the retired, empty pool is gone */
    close_sched(fx, 1000);
}

static void test_retire_lets_busy_environment_finish(void **state)
{
    fx_t *fx = *state;
    start(fx,
          "rid, event, r = next_event()\n"
          "note('got-event', rid)\n"
          "time.sleep(0.5)\n"
          "respond(rid, {'pid': os.getpid()})\n"
          "next_event()\n",
          5, 600000, 0);
    submit(fx, 0, "{}");
    RUN_UNTIL(fx, file_exists(fx, "got-event"), WAIT_MS);
    gl_sched_retire(fx->sched, fx->fn);
    RUN_UNTIL(fx, fx->results[0].done, WAIT_MS);
    assert_int_equal(fx->results[0].function_error, 0);
    assert_true(int_member(fx->results[0].json, "pid") > 0);
    close_when_gone(fx);
}

/* gl_sched_recycle (`galley cold`) counts the environments it retires: one already on its
 * way out, stopping or busy with an older generation, is not counted a second time. */
static void test_recycle_counts_each_environment_once(void **state)
{
    fx_t *fx = *state;
    start(fx,
          "while True:\n"
          "    rid, event, r = next_event()\n"
          "    if event.get('slow'):\n"
          "        note('got-event', rid)\n"
          "        time.sleep(0.3)\n"
          "    respond(rid, {})\n",
          5, 600000, 0);
    invoke_and_wait(fx, 0, "{}");
    char st[32];
    RUN_UNTIL(fx, strcmp(env_state(fx, st, sizeof(st)), "idle") == 0, WAIT_MS);
    assert_int_equal(gl_sched_recycle(fx->sched, fx->fn), 1);
    assert_string_equal(env_state(fx, st, sizeof(st)), "stopping");
    assert_int_equal(gl_sched_recycle(fx->sched, fx->fn), 0);
    RUN_UNTIL(fx, gl_sched_env_count(fx->sched) == 0, WAIT_MS);

    submit(fx, 1, "{\"slow\":1}"); /* a new environment, busy when retired */
    RUN_UNTIL(fx, file_exists(fx, "got-event"), WAIT_MS);
    assert_int_equal(gl_sched_recycle(fx->sched, fx->fn), 1);
    assert_int_equal(gl_sched_recycle(fx->sched, fx->fn), 0);
    RUN_UNTIL(fx, fx->results[1].done, WAIT_MS);
    assert_int_equal(fx->results[1].function_error, 0);
    close_when_gone(fx);
}

static void test_close_with_busy_environment(void **state)
{
    fx_t *fx = *state;
    /* Ignores SIGTERM, so only the SIGKILL after the stop grace ends it. */
    start(fx,
          "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
          "rid, event, r = next_event()\n"
          "note('got-event', rid)\n"
          "time.sleep(60)\n",
          30, 600000, 0);
    submit(fx, 0, "{}");
    RUN_UNTIL(fx, file_exists(fx, "got-event"), WAIT_MS);
    char st[32];
    assert_string_equal(env_state(fx, st, sizeof(st)), "invoking");
    uint64_t t0 = now_ms();
    gl_sched_close(fx->sched, 200, on_sched_closed, fx);
    /* Closing refuses new work at once. */
    gl_invoke_t *late = gl_invoke_new(fx->fn);
    late->done = on_done;
    late->data = &fx->results[1];
    gl_sched_submit(fx->sched, late);
    assert_int_equal(fx->results[1].done, 1);
    assert_string_equal(fx->results[1].error_type, "Runtime.Unknown");

    RUN_UNTIL(fx, fx->closed, WAIT_MS);
    uint64_t took = now_ms() - t0;
    assert_int_equal(fx->closed, 1);
    assert_true(took >= 200 && took < 5000);
    result_t *r = &fx->results[0];
    assert_int_equal(r->done, 1);
    assert_int_equal(r->function_error, 1);
    assert_string_equal(r->error_type, "Runtime.ExitError");
    assert_non_null(strstr(str_member(r->json, "errorMessage"), "signal: killed"));
}

/* A runtime that dies while parked in /next: the environment goes, the next invoke is cold. */
static void test_runtime_killed_while_idle(void **state)
{
    fx_t *fx = *state;
    start(fx, echo_loop, 3, 600000, 0);
    result_t *r = invoke_and_wait(fx, 0, "{}");
    pid_t pid = (pid_t)int_member(r->json, "pid");
    char st[32];
    RUN_UNTIL(fx, strcmp(env_state(fx, st, sizeof(st)), "idle") == 0, WAIT_MS);
    assert_int_equal(kill(pid, SIGKILL), 0);
    RUN_UNTIL(fx, gl_sched_env_count(fx->sched) == 0, WAIT_MS);
    r = invoke_and_wait(fx, 1, "{}");
    assert_int_equal(r->function_error, 0);
    assert_int_equal(r->cold, 1);
    assert_true(int_member(r->json, "pid") != pid);
    close_sched(fx, 1000);
}

/*
 * An environment that parks in /next is frozen only once it has stayed idle for a moment: one
 * given its next invoke soon after (steady traffic) is never frozen and thawed in between,
 * while one left alone is frozen, and thawed for its next invoke.
 */
static void test_idle_env_frozen_after_delay_not_between_invokes(void **state)
{
    fx_t *fx = *state;
    gl_cg_opts_t copts = {.force_mode = GL_CG_NONE}; /* SIGSTOP freezing, no rights needed */
    gl_err_t err = {0};
    char st[32];
    assert_int_equal(gl_cg_system_open(&fx->cgroups, &fx->loop, &copts, NULL, &err), 0);
    start(fx, echo_loop, 30, 600000, 0);
    invoke_and_wait(fx, 0, "{}");
    thaw_requests = 0;
    for (int i = 0; i < 10; i++) {
        /* Parked in /next (idle), then the next invoke at once: before, it was frozen on
         * parking and every one of these invokes began with a thaw. */
        RUN_UNTIL(fx, strcmp(env_state(fx, st, sizeof(st)), "idle") == 0, WAIT_MS);
        clear_result(&fx->results[1]);
        result_t *r = invoke_and_wait(fx, 1, "{}");
        assert_int_equal(r->function_error, 0);
        assert_int_equal(int_member(r->json, "n"), i + 2);
    }
    assert_true(thaw_requests < 5); /* a loaded machine may pause the test past the delay */
    RUN_UNTIL(fx, strcmp(env_status(fx, st, sizeof(st)), "frozen") == 0, WAIT_MS);
    int before = thaw_requests;
    result_t *r = invoke_and_wait(fx, 2, "{}");
    assert_int_equal(r->function_error, 0);
    assert_int_equal(int_member(r->json, "n"), 12);
    assert_int_equal(thaw_requests, before + 1);
    close_sched(fx, 1000);
    gl_cg_system_close(fx->cgroups);
    fx->cgroups = NULL;
}

/*
 * A frozen environment that cannot be thawed (EMFILE opening the freezer file) fails the invoke
 * given to it at once with a service error, instead of at the function's 30 s timeout, and is
 * stopped (the group is killed although the thaw failed twice); the next invoke is cold.
 */
static void test_failed_thaw_fails_invoke_at_once(void **state)
{
    fx_t *fx = *state;
    gl_cg_opts_t copts = {.force_mode = GL_CG_NONE}; /* SIGSTOP freezing, no rights needed */
    gl_err_t err = {0};
    assert_int_equal(gl_cg_system_open(&fx->cgroups, &fx->loop, &copts, NULL, &err), 0);
    start(fx, echo_loop, 30, 600000, 0);
    result_t *r = invoke_and_wait(fx, 0, "{}");
    pid_t pid = (pid_t)int_member(r->json, "pid");
    char st[32];
    RUN_UNTIL(fx, strcmp(env_status(fx, st, sizeof(st)), "frozen") == 0, WAIT_MS);

    thaw_failures = 2; /* the assign's thaw and the stop's retry */
    uint64_t t0 = now_ms();
    r = invoke_and_wait(fx, 1, "{}");
    assert_true(now_ms() - t0 < 5000);
    assert_non_null(r->service_error);
    assert_non_null(strstr(r->service_error, "could not be resumed"));
    assert_non_null(strstr(r->service_error, r->request_id));
    assert_string_equal(r->error_type, "ServiceException");
    assert_int_equal(thaw_failures, 0);
    RUN_UNTIL(fx, gl_sched_env_count(fx->sched) == 0, WAIT_MS);
    char *logs = read_log_streams(fx);
    assert_non_null(strstr(logs, "Error Type: ServiceException"));
    assert_null(strstr(logs, "Task timed out"));
    free(logs);

    r = invoke_and_wait(fx, 2, "{}");
    assert_int_equal(r->function_error, 0);
    assert_int_equal(r->cold, 1);
    assert_true(int_member(r->json, "pid") != pid);
    close_sched(fx, 1000);
    gl_cg_system_close(fx->cgroups);
    fx->cgroups = NULL;
}

/*
 * A runtime that drops its parked /next connection stays IDLE without a parked request; an
 * invoke assigned then waits for its next /next instead of being lost.
 */
static void test_dropped_next_connection(void **state)
{
    fx_t *fx = *state;
    start(
        fx,
        "import socket\n"
        "rid, event, r = next_event()\n"
        "respond(rid, {'n': 1})\n"
        "s = socket.create_connection((HOST, int(PORT)))\n"
        "s.sendall(b'GET /2018-06-01/runtime/invocation/next HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n')\n"
        "time.sleep(0.2)\n"
        "s.close()\n"
        "time.sleep(0.2)\n"
        "note('dropped', 1)\n"
        "while not os.path.exists(os.path.join(ROOT, 'go')):\n"
        "    time.sleep(0.02)\n"
        "rid, event, r = next_event()\n"
        "respond(rid, {'n': 2, 'event': event})\n"
        "next_event()\n",
        5, 600000, 0);
    result_t *r = invoke_and_wait(fx, 0, "{}");
    assert_int_equal(int_member(r->json, "n"), 1);
    RUN_UNTIL(fx, file_exists(fx, "dropped"), WAIT_MS);
    char st[32];
    assert_string_equal(env_state(fx, st, sizeof(st)), "idle");
    submit(fx, 1, "{\"k\":2}");
    /* Assigned, waiting for the runtime's next /next. */
    assert_int_equal(fx->results[1].done, 0);
    char path[160];
    snprintf(path, sizeof(path), "%s/go", fx->code_dir);
    assert_int_equal(gl_write_file_atomic(path, "1", 1), 0);
    RUN_UNTIL(fx, fx->results[1].done, WAIT_MS);
    r = &fx->results[1];
    assert_int_equal(r->function_error, 0);
    assert_int_equal(r->cold, 0);
    assert_int_equal(int_member(r->json, "n"), 2);
    assert_int_equal(int_member(json_object_get(r->json, "event"), "k"), 2);
    close_sched(fx, 1000);
}

static void test_close_idle_only(void **state)
{
    fx_t *fx = *state;
    start(fx, echo_loop, 3, 600000, 0);
    result_t *r = invoke_and_wait(fx, 0, "{}");
    pid_t pid = (pid_t)int_member(r->json, "pid");
    close_sched(fx, 60000); /* idle environments do not wait for the grace */
    assert_int_equal(kill(pid, 0), -1);
}

/*
 * The daemon's variables (gl_sched_set_env) reach the runtime; under a debugger
 * (gl_sched_set_debug) the function's timeout does not apply, GALLEY_DEBUG_PORT says the port,
 * and a second concurrent invoke is refused: one environment holds the port.
 */
static void test_env_vars_and_debug(void **state)
{
    fx_t *fx = *state;
    if (access("/usr/bin/gdbserver", X_OK) == 0)
        skip(); /* a provided runtime would start under gdbserver, waiting for gdb */
    start(fx,
          "rid, event, r = next_event()\n"
          "time.sleep(1.5)\n"
          "respond(rid, {k: os.environ.get(k) for k in\n"
          "              ['AWS_ENDPOINT_URL_LAMBDA', 'FOO', 'GALLEY_DEBUG_PORT', 'HOME']})\n"
          "next_event()\n",
          1, 600000, 0);
    const char *vars[] = {"AWS_ENDPOINT_URL_LAMBDA=http://127.0.0.1:1", "FOO=a=b", NULL};
    assert_int_equal(gl_sched_set_env(fx->sched, vars), 0);
    assert_int_equal(gl_sched_debug_port(fx->sched, FN_NAME), 0);
    gl_sched_set_debug(fx->sched, FN_NAME, 45678);
    assert_int_equal(gl_sched_debug_port(fx->sched, FN_NAME), 45678);
    submit(fx, 0, "{}");
    gl_invoke_t *second = gl_invoke_new(fx->fn);
    assert_non_null(second);
    assert_int_equal(gl_sched_submit(fx->sched, second), -EAGAIN);
    assert_string_equal(second->throttle_reason, GL_THROTTLE_RESERVED);
    gl_invoke_free(second);
    RUN_UNTIL(fx, fx->results[0].done, WAIT_MS);
    result_t *r = &fx->results[0];
    assert_false(r->function_error); /* 1.5 s in a function with a 1 s timeout */
    assert_non_null(r->json);
    assert_string_equal(json_string_value(json_object_get(r->json, "AWS_ENDPOINT_URL_LAMBDA")),
                        "http://127.0.0.1:1");
    assert_string_equal(json_string_value(json_object_get(r->json, "FOO")), "a=b");
    assert_string_equal(json_string_value(json_object_get(r->json, "GALLEY_DEBUG_PORT")),
                        "45678");
    assert_non_null(json_string_value(json_object_get(r->json, "HOME")));
    gl_sched_set_debug(fx->sched, FN_NAME, 0); /* recycles the environment */
    assert_int_equal(gl_sched_debug_port(fx->sched, FN_NAME), 0);
    close_when_gone(fx);
}

int main(void)
{
    /* Orphaned grandchildren of runtimes become ours, so the tests can see and reap them. */
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0)
        return 1;
    signal(SIGPIPE, SIG_IGN);
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_tables_cover_every_value),
        cmocka_unit_test(test_transition_table_matches_docs),
        T(test_cold_start_then_warm_reuse),
        T(test_init_error_reaches_invoke),
        T(test_exit_mid_invoke),
        T(test_invoke_timeout_kills_group),
        T(test_next_again_while_invoking_keeps_deadline),
        T(test_init_timeout),
        T(test_hostile_request_ids),
        T(test_error_response_and_empty_error_body),
        T(test_missing_bootstrap),
        T(test_idle_timeout_stops_environment),
        T(test_retire_stops_idle_environment),
        T(test_retire_lets_busy_environment_finish),
        T(test_recycle_counts_each_environment_once),
        T(test_close_with_busy_environment),
        T(test_runtime_killed_while_idle),
        T(test_failed_thaw_fails_invoke_at_once),
        T(test_idle_env_frozen_after_delay_not_between_invokes),
        T(test_dropped_next_connection),
        T(test_close_idle_only),
        T(test_env_vars_and_debug),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
