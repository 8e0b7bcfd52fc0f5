# SPDX-License-Identifier: MIT
# test_hello_c.py: runs the compiled C example (examples/hello-c, built as
# <build>/examples/hello-c/bootstrap) against a fake Runtime API on 127.0.0.1 and checks what it
# posts: the greeting built from GREETING and the event's "name", the invocation counter, the
# error path of an oversized GREETING (init error), and that it exits when /next answers 500.
# The bootstrap path comes from HELLO_C_BOOTSTRAP (set by examples/CMakeLists.txt).
import http.server
import json
import os
import subprocess
import threading

import pytest

BOOTSTRAP = os.environ.get("HELLO_C_BOOTSTRAP", "")


class FakeRuntimeAPI:
    """Serves the given events on /next, then 500; records every POST."""

    def __init__(self, events):
        self.events = list(events)
        self.posts = []
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def send(self, status, body, headers=()):
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path != "/2018-06-01/runtime/invocation/next":
                    return self.send(404, b"{}")
                if not fake.events:
                    return self.send(500, b'{"errorType":"InternalServerError"}')
                rid, event = fake.events.pop(0)
                self.send(200, event.encode(), [
                    ("Lambda-Runtime-Aws-Request-Id", rid),
                    ("Lambda-Runtime-Deadline-Ms", "99999999999999"),
                    ("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:123456789012:function:HelloC"),
                    ("Content-Type", "application/json"),
                ])

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                fake.posts.append((self.path, dict(self.headers), body))
                self.send(202, b'{"status":"OK"}')

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return f"127.0.0.1:{self.server.server_address[1]}"

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def run_bootstrap(api, greeting):
    env = {"AWS_LAMBDA_RUNTIME_API": api, "PATH": "/usr/bin:/bin"}
    if greeting is not None:
        env["GREETING"] = greeting
    return subprocess.run([BOOTSTRAP], env=env, capture_output=True, text=True, timeout=30)


@pytest.fixture(autouse=True)
def need_bootstrap():
    if not os.access(BOOTSTRAP, os.X_OK):
        pytest.skip(f"hello-c bootstrap not built (HELLO_C_BOOTSTRAP={BOOTSTRAP!r})")


def test_greets_counts_and_exits_on_500():
    fake = FakeRuntimeAPI([("id-1", '{"name": "Ada"}'), ("id-2", '{"other":1}'),
                           ("id-3", '{"name":"q\\"uote"}')])
    with fake as api:
        proc = run_bootstrap(api, 'Hi "there"')
    assert proc.returncode == 1
    assert "runtime loop ended" in proc.stderr
    assert [p[0] for p in fake.posts] == [
        "/2018-06-01/runtime/invocation/id-1/response",
        "/2018-06-01/runtime/invocation/id-2/response",
        "/2018-06-01/runtime/invocation/id-3/response",
    ]
    answers = [json.loads(p[2]) for p in fake.posts]
    assert answers[0] == {"message": 'Hi "there", Ada!', "invocations": 1, "requestId": "id-1"}
    assert answers[1]["message"] == 'Hi "there", world!' and answers[1]["invocations"] == 2
    # A name with escapes is not taken apart by the example's tiny matcher.
    assert answers[2]["message"] == 'Hi "there", world!' and answers[2]["invocations"] == 3
    assert proc.stdout.count("hello-c: request") == 3


def test_default_greeting():
    fake = FakeRuntimeAPI([("a", '{"name":"Bo"}')])
    with fake as api:
        run_bootstrap(api, None)
    assert json.loads(fake.posts[0][2])["message"] == "Hello, Bo!"


def test_oversized_greeting_is_an_init_error():
    fake = FakeRuntimeAPI([("never", "{}")])
    with fake as api:
        proc = run_bootstrap(api, "x" * 200)
    assert proc.returncode == 1
    assert len(fake.posts) == 1
    path, headers, body = fake.posts[0]
    assert path == "/2018-06-01/runtime/init/error"
    assert headers["Lambda-Runtime-Function-Error-Type"] == "Runtime.ConfigError"
    assert json.loads(body)["errorType"] == "Runtime.ConfigError"
    assert fake.events, "the example must not fetch an event after a failed init"
