# SPDX-License-Identifier: MIT
#
# Tests for galley's Python runtime (runtimes/python/bootstrap): a fake
# Runtime API 2018-06-01 server runs in a thread on 127.0.0.1, serves queued
# events and records what the runtime posts; the bootstrap runs as a
# subprocess against a handler directory written to tmp_path.
#
# Run: /usr/bin/python3 -m pytest tests/runtimes/python
# GALLEY_TEST_PYTHON=/path/to/python3.X runs the bootstrap under another
# interpreter (the tests themselves stay on the one running pytest).

import json
import os
import queue
import subprocess
import sys
import textwrap
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]
BOOTSTRAP = REPO_ROOT / "runtimes" / "python" / "bootstrap"
PYTHON = os.environ.get("GALLEY_TEST_PYTHON", sys.executable)
STEP_TIMEOUT = 15.0  # seconds for any single expected step
API = "/2018-06-01/runtime"


class FakeRuntimeApi:
    """A bounded Runtime API: hands out queued events, records posts."""

    def __init__(self):
        self.events = queue.Queue()
        self.posts = queue.Queue()
        self.request_conns = []  # per request: serial of its connection
        self.connections = 0
        self.next_calls = 0
        self.post_status = {}  # request path -> list of statuses to answer
        self.close_after_next_reply = False
        self.drop_after_post = False  # close without answering the next request
        self.stop = threading.Event()
        self.lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def setup(self):
                BaseHTTPRequestHandler.setup(self)
                self.drop_next = False
                with api.lock:
                    api.connections += 1
                    self.conn_serial = api.connections

            def pipelined(self):
                """Whether bytes of a further request are already here."""
                self.connection.setblocking(False)
                try:
                    return bool(self.rfile.peek(1))
                except OSError:
                    return False
                finally:
                    self.connection.setblocking(True)

            def do_GET(self):
                with api.lock:
                    api.request_conns.append(self.conn_serial)
                if self.drop_next:  # read, never answered: the client reconnects
                    self.close_connection = True
                    return
                if self.path != API + "/invocation/next":
                    self.reply(404, {"errorType": "NotFound"})
                    return
                with api.lock:
                    api.next_calls += 1
                deadline = time.monotonic() + 60
                while not api.stop.is_set() and time.monotonic() < deadline:
                    try:
                        headers, body = api.events.get(timeout=0.1)
                        break
                    except queue.Empty:
                        continue
                else:
                    self.close_connection = True
                    return
                self.send_response(200)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                with api.lock:
                    close = api.close_after_next_reply
                    api.close_after_next_reply = False
                if close:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                with api.lock:
                    api.request_conns.append(self.conn_serial)
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                with api.lock:
                    statuses = api.post_status.get(self.path)
                    status = statuses.pop(0) if statuses else 202
                    if api.drop_after_post:
                        api.drop_after_post = False
                        self.drop_next = True
                record = {
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": body,
                    "status": status,
                    "pipelined": self.pipelined(),
                }
                if status == 202:
                    self.reply(202, {"status": "OK"})
                else:
                    self.reply(status, {"errorType": "RequestEntityTooLarge",
                                        "errorMessage": "too large"})
                api.posts.put(record)

            def reply(self, status, obj):
                data = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()

    @property
    def address(self):
        return "127.0.0.1:%d" % self.server.server_address[1]

    def add_event(self, request_id, event=None, raw=None, deadline_ms=None,
                  headers=None):
        if deadline_ms is None:
            deadline_ms = int(time.time() * 1000) + 30000
        all_headers = {
            "Content-Type": "application/json",
            "Lambda-Runtime-Aws-Request-Id": request_id,
            "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn":
                "arn:aws:lambda:us-east-1:000000000000:function:fn",
        }
        all_headers.update(headers or {})
        body = raw if raw is not None else json.dumps(event).encode()
        self.events.put((all_headers, body))

    def wait_post(self, timeout=STEP_TIMEOUT):
        try:
            return self.posts.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("the runtime posted nothing within %ss" % timeout)

    def close(self):
        self.stop.set()
        self.server.shutdown()
        self.server.server_close()


class RuntimeProcess:
    """The bootstrap subprocess with its stdout/stderr lines collected."""

    def __init__(self, code_dir, api, handler, extra_env=None):
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "TZ": ":UTC",
            "AWS_LAMBDA_RUNTIME_API": api.address,
            "_HANDLER": handler,
            "LAMBDA_TASK_ROOT": str(code_dir),
            "AWS_LAMBDA_FUNCTION_NAME": "fn",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/fn",
            "AWS_LAMBDA_LOG_STREAM_NAME": "2026/01/15/[$LATEST]0123abcd",
            "AWS_REGION": "us-east-1",
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        }
        env.update(extra_env or {})
        self.lines = {"stdout": [], "stderr": []}
        self.cond = threading.Condition()
        self.proc = subprocess.Popen(
            [PYTHON, str(BOOTSTRAP)], cwd=str(code_dir), env=env,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE)
        for name in ("stdout", "stderr"):
            threading.Thread(target=self._pump, args=(name,),
                             daemon=True).start()

    def _pump(self, name):
        stream = getattr(self.proc, name)
        for raw in iter(stream.readline, b""):
            with self.cond:
                self.lines[name].append(raw.decode("utf-8", "replace"))
                self.cond.notify_all()

    def wait_line(self, predicate, stream="stdout", timeout=STEP_TIMEOUT):
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.lines[stream]:
                    if predicate(line):
                        return line
                left = end - time.monotonic()
                if left <= 0:
                    raise AssertionError("no matching %s line; got %r"
                                         % (stream, self.lines[stream]))
                self.cond.wait(left)

    def output(self, stream="stdout"):
        with self.cond:
            return "".join(self.lines[stream])

    def wait_exit(self, timeout=STEP_TIMEOUT):
        return self.proc.wait(timeout=timeout)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=STEP_TIMEOUT)


@pytest.fixture
def galley(tmp_path):
    """Returns start(files, handler, env) -> (api, process); cleans up."""
    started = []

    def start(files, handler="app.handler", env=None, before_start=None):
        code_dir = tmp_path / "task"
        code_dir.mkdir(exist_ok=True)
        for rel, text in files.items():
            path = code_dir / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text))
        api = FakeRuntimeApi()
        started.append(api)
        if before_start:
            before_start(api)
        proc = RuntimeProcess(code_dir, api, handler, env)
        started.append(proc)
        return api, proc

    yield start
    for item in reversed(started):
        if isinstance(item, RuntimeProcess):
            item.kill()
        else:
            item.close()


def body_json(post):
    return json.loads(post["body"].decode())


# ---------------------------------------------------------------- results


def test_result_is_posted_as_json(galley):
    api, proc = galley({"app.py": """
        def handler(event, context):
            return {"echo": event, "n": 1}
    """})
    api.add_event("req-1", {"a": [1, 2]})
    post = api.wait_post()
    assert post["path"] == API + "/invocation/req-1/response"
    assert post["headers"]["content-type"] == "application/json"
    assert body_json(post) == {"echo": {"a": [1, 2]}, "n": 1}
    # Same separators as Lambda's Python runtime.
    assert post["body"] == b'{"echo": {"a": [1, 2]}, "n": 1}'


def test_none_result_is_null(galley):
    api, proc = galley({"app.py": """
        def handler(event, context):
            return None
    """})
    api.add_event("req-none", {})
    post = api.wait_post()
    assert post["path"] == API + "/invocation/req-none/response"
    assert post["body"] == b"null"


def test_request_id_is_url_encoded(galley):
    api, proc = galley({"app.py": """
        def handler(event, context):
            return context.aws_request_id
    """})
    api.add_event("id with/slash", {})
    post = api.wait_post()
    assert post["path"] == API + "/invocation/id%20with%2Fslash/response"
    assert body_json(post) == "id with/slash"


def test_bytes_result_and_decimal(galley):
    api, proc = galley({"app.py": """
        import decimal
        def handler(event, context):
            if event == "bytes":
                return b"\\x00raw"
            return {"i": decimal.Decimal("10"), "f": decimal.Decimal("1.5")}
    """})
    api.add_event("r1", "bytes")
    post = api.wait_post()
    assert post["body"] == b"\x00raw"
    assert post["headers"]["content-type"] == "application/unknown"
    api.add_event("r2", "dec")
    assert body_json(api.wait_post()) == {"i": 10, "f": 1.5}


def test_unserializable_result_is_marshal_error(galley):
    api, proc = galley({"app.py": """
        def handler(event, context):
            return {1, 2}
    """})
    api.add_event("req-m", {})
    post = api.wait_post()
    assert post["path"] == API + "/invocation/req-m/error"
    assert body_json(post) == {
        "errorMessage":
            "Unable to marshal response: Object of type set is not JSON serializable",
        "errorType": "Runtime.MarshalError",
        "requestId": "req-m",
        "stackTrace": [],
    }
    assert post["headers"]["lambda-runtime-function-error-type"] == \
        "Runtime.MarshalError"


def test_bad_event_json_is_unmarshal_error(galley):
    api, proc = galley({"app.py": """
        def handler(event, context):
            return "called"
    """})
    api.add_event("req-u", raw=b"{not json")
    post = api.wait_post()
    body = body_json(post)
    assert post["path"] == API + "/invocation/req-u/error"
    assert body["errorType"] == "Runtime.UnmarshalError"
    assert body["errorMessage"].startswith("Unable to unmarshal input: ")


# ---------------------------------------------------------------- errors


def test_exception_posts_error_and_logs_record(galley):
    api, proc = galley({"app.py": """
        def helper():
            raise ValueError("boom")

        def handler(event, context):
            helper()
    """})
    api.add_event("req-e", {})
    post = api.wait_post()
    assert post["path"] == API + "/invocation/req-e/error"
    assert post["headers"]["lambda-runtime-function-error-type"] == "ValueError"
    assert post["headers"]["content-type"] == "application/json"
    body = body_json(post)
    assert body["errorMessage"] == "boom"
    assert body["errorType"] == "ValueError"
    assert body["requestId"] == "req-e"
    trace = body["stackTrace"]
    assert len(trace) == 2, trace
    assert trace[0].startswith('  File "') and "app.py\", line 6, in handler\n" in trace[0]
    assert trace[0].endswith("    helper()\n")
    assert "in helper\n" in trace[1] and 'raise ValueError("boom")' in trace[1]
    assert not any("bootstrap" in frame for frame in trace)
    # One log record (one line for the daemon), continuation lines joined by CR.
    line = proc.wait_line(lambda l: l.startswith("[ERROR] ValueError: boom"))
    parts = line.rstrip("\n").split("\r")
    assert parts[0] == "[ERROR] ValueError: boom"
    assert parts[1] == "Traceback (most recent call last):"
    assert parts[2].startswith("\u00a0\u00a0File \"")
    assert parts[3] == "\u00a0\u00a0\u00a0\u00a0helper()"


def test_loop_continues_after_error(galley):
    api, proc = galley({"app.py": """
        def handler(event, context):
            if event.get("fail"):
                raise RuntimeError("nope")
            return "fine"
    """})
    api.add_event("a", {"fail": True})
    api.add_event("b", {})
    assert api.wait_post()["path"].endswith("/a/error")
    second = api.wait_post()
    assert second["path"].endswith("/b/response")
    assert body_json(second) == "fine"


def test_rejected_response_is_reported_and_loop_continues(galley):
    def reject_first(api):
        api.post_status[API + "/invocation/big/response"] = [413]

    api, proc = galley({"app.py": """
        def handler(event, context):
            return "x" * 100
    """}, before_start=reject_first)
    api.add_event("big", {})
    first = api.wait_post()
    assert first["status"] == 413
    proc.wait_line(lambda l: "413" in l and "/big/response" in l,
                   stream="stderr")
    api.add_event("next-one", {})
    post = api.wait_post()
    assert post["path"].endswith("/next-one/response")
    assert proc.proc.poll() is None


def test_sys_exit_ends_the_process(galley):
    api, proc = galley({"app.py": """
        import sys
        def handler(event, context):
            print("bye")
            sys.exit(7)
    """})
    api.add_event("req-x", {})
    assert proc.wait_exit() == 7
    assert api.posts.empty()
    assert "bye\n" in proc.output()


def test_os_exit_ends_the_process(galley):
    api, proc = galley({"app.py": """
        import os
        def handler(event, context):
            os._exit(3)
    """})
    api.add_event("req-x", {})
    assert proc.wait_exit() == 3
    assert api.posts.empty()


# ---------------------------------------------------------------- init errors


def init_error(api, proc):
    post = api.wait_post()
    assert post["path"] == API + "/init/error"
    assert proc.wait_exit() != 0
    body = body_json(post)
    assert post["headers"]["lambda-runtime-function-error-type"] == body["errorType"]
    assert body["requestId"] == ""
    assert api.next_calls == 0
    return body


def test_malformed_handler_name(galley):
    api, proc = galley({"app.py": "def handler(e, c): pass\n"},
                       handler="nodot")
    body = init_error(api, proc)
    assert body == {
        "errorMessage":
            "Bad handler 'nodot': not enough values to unpack (expected 2, got 1)",
        "errorType": "Runtime.MalformedHandlerName",
        "requestId": "",
        "stackTrace": [],
    }
    line = proc.wait_line(lambda l: l.startswith("[ERROR]"))
    assert line == ("[ERROR] Runtime.MalformedHandlerName: Bad handler 'nodot': "
                    "not enough values to unpack (expected 2, got 1)\r"
                    "Traceback (most recent call last):\n")


def test_missing_module(galley):
    api, proc = galley({"other.py": "x = 1\n"}, handler="app.handler")
    body = init_error(api, proc)
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert body["errorMessage"] == \
        "Unable to import module 'app': No module named 'app'"
    assert body["stackTrace"] == []


def test_module_importing_missing_package(galley):
    api, proc = galley({"app.py": "import requests_not_here\n"})
    body = init_error(api, proc)
    assert body["errorType"] == "Runtime.ImportModuleError"
    assert body["errorMessage"] == \
        "Unable to import module 'app': No module named 'requests_not_here'"


def test_syntax_error(galley):
    api, proc = galley({"app.py": "def handler(e, c)\n    return 1\n"})
    body = init_error(api, proc)
    assert body["errorType"] == "Runtime.UserCodeSyntaxError"
    assert body["errorMessage"].startswith("Syntax error in module 'app': ")
    assert "app.py, line 1" in body["errorMessage"]
    assert len(body["stackTrace"]) == 1
    assert body["stackTrace"][0].startswith('  File "')
    assert 'app.py" Line 1\n    def handler(e, c)' in body["stackTrace"][0]


def test_handler_not_found(galley):
    api, proc = galley({"app.py": "def other(e, c): pass\n"})
    body = init_error(api, proc)
    assert body == {
        "errorMessage": "Handler 'handler' missing on module 'app'",
        "errorType": "Runtime.HandlerNotFound",
        "requestId": "",
        "stackTrace": [],
    }


def test_builtin_module_conflict(galley):
    api, proc = galley({}, handler="sys.handler")
    body = init_error(api, proc)
    assert body["errorType"] == "Runtime.BuiltInModuleConflict"
    assert body["errorMessage"] == \
        "Cannot use built-in module sys as a handler module"


def test_exception_at_module_level(galley):
    api, proc = galley({"app.py": """
        x = 1
        raise KeyError("cfg")
    """})
    body = init_error(api, proc)
    assert body["errorType"] == "KeyError"
    assert body["errorMessage"] == "'cfg'"
    assert 'app.py", line 3, in <module>' in body["stackTrace"][-1]
    assert not any(str(BOOTSTRAP) in frame for frame in body["stackTrace"])


# ---------------------------------------------------------------- handlers


@pytest.mark.parametrize("handler", ["pkg.sub.mod.fn", "pkg/sub/mod.fn"])
def test_handler_in_subpackage(galley, handler):
    api, proc = galley({
        "pkg/__init__.py": "",
        "pkg/sub/__init__.py": "",
        "pkg/sub/mod.py": """
            def fn(event, context):
                return __name__
        """,
    }, handler=handler)
    api.add_event("r", {})
    post = api.wait_post()
    assert post["path"].endswith("/r/response")
    assert body_json(post) == "pkg.sub.mod"


def test_task_root_first_and_runtime_dir_hidden(galley):
    api, proc = galley({"app.py": """
        import sys
        def handler(event, context):
            return sys.path
    """})
    api.add_event("r", {})
    path = body_json(api.wait_post())
    assert Path(path[0]).name == "task"
    assert str(BOOTSTRAP.parent) not in path


def test_module_state_survives_between_invokes(galley):
    api, proc = galley({"app.py": """
        import os
        calls = []
        def handler(event, context):
            calls.append(event["n"])
            return {"calls": calls, "pid": os.getpid()}
    """})
    api.add_event("one", {"n": 1})
    api.add_event("two", {"n": 2})
    first = body_json(api.wait_post())
    second = body_json(api.wait_post())
    assert first["calls"] == [1]
    assert second["calls"] == [1, 2]
    assert first["pid"] == second["pid"] == proc.proc.pid


def test_startup_avoids_heavy_modules(galley):
    api, proc = galley({"app.py": """
        import sys
        def handler(event, context):
            return sorted(m for m in ("http.client", "email", "ssl",
                                      "urllib.parse", "decimal", "asyncio")
                          if m in sys.modules)
    """})
    api.add_event("r", {})
    assert body_json(api.wait_post()) == []


# ---------------------------------------------------------------- context


def test_context_fields(galley):
    api, proc = galley({"app.py": """
        def handler(event, context):
            cc = context.client_context
            return {
                "function_name": context.function_name,
                "function_version": context.function_version,
                "invoked_function_arn": context.invoked_function_arn,
                "memory_limit_in_mb": context.memory_limit_in_mb,
                "aws_request_id": context.aws_request_id,
                "log_group_name": context.log_group_name,
                "log_stream_name": context.log_stream_name,
                "remaining": context.get_remaining_time_in_millis(),
                "identity": [context.identity.cognito_identity_id,
                             context.identity.cognito_identity_pool_id],
                "client": [cc.client.installation_id, cc.client.app_title,
                           cc.client.app_version_name,
                           cc.client.app_version_code,
                           cc.client.app_package_name],
                "custom": cc.custom,
                "env": cc.env,
                "tenant_id": context.tenant_id,
                "w3c": context.w3c(),
            }
    """})
    client_context = {
        "client": {"installation_id": "inst", "app_title": "title",
                   "app_version_name": "1.0", "app_version_code": "10",
                   "app_package_name": "com.example"},
        "custom": {"k": "v"},
        "env": {"platform": "linux"},
        "w3c": {"traceparent": "00-abc-def-01", "junk": "x"},
    }
    api.add_event("ctx-1", {}, deadline_ms=int(time.time() * 1000) + 5000,
                  headers={
                      "Lambda-Runtime-Client-Context": json.dumps(client_context),
                      "Lambda-Runtime-Cognito-Identity": json.dumps(
                          {"cognitoIdentityId": "id-1",
                           "cognitoIdentityPoolId": "pool-1"}),
                      "Lambda-Runtime-Aws-Tenant-Id": "tenant-7",
                  })
    got = body_json(api.wait_post())
    remaining = got.pop("remaining")
    assert 1000 < remaining <= 5000
    assert got == {
        "function_name": "fn",
        "function_version": "$LATEST",
        "invoked_function_arn": "arn:aws:lambda:us-east-1:000000000000:function:fn",
        "memory_limit_in_mb": "256",
        "aws_request_id": "ctx-1",
        "log_group_name": "/aws/lambda/fn",
        "log_stream_name": "2026/01/15/[$LATEST]0123abcd",
        "identity": ["id-1", "pool-1"],
        "client": ["inst", "title", "1.0", "10", "com.example"],
        "custom": {"k": "v"},
        "env": {"platform": "linux"},
        "tenant_id": "tenant-7",
        "w3c": {"traceparent": "00-abc-def-01"},
    }


def test_context_defaults_without_optional_headers(galley):
    api, proc = galley({"app.py": """
        def handler(event, context):
            return {
                "client_context": context.client_context,
                "identity": [context.identity.cognito_identity_id,
                             context.identity.cognito_identity_pool_id],
                "tenant_id": context.tenant_id,
                "remaining": context.get_remaining_time_in_millis(),
            }
    """})
    api.add_event("ctx-2", {}, deadline_ms=int(time.time() * 1000) - 1000)
    assert body_json(api.wait_post()) == {
        "client_context": None, "identity": [None, None],
        "tenant_id": None, "remaining": 0,
    }


def test_bad_client_context_is_reported(galley):
    api, proc = galley({"app.py": "def handler(e, c): return 1\n"})
    api.add_event("ctx-3", {}, headers={"Lambda-Runtime-Client-Context": "{"})
    post = api.wait_post()
    body = body_json(post)
    assert post["path"].endswith("/ctx-3/error")
    assert body["errorType"] == "Runtime.LambdaContextUnmarshalError"
    assert body["errorMessage"].startswith("Unable to parse Client Context JSON: ")


def test_trace_id_env_set_and_cleared(galley):
    api, proc = galley({"app.py": """
        import os
        def handler(event, context):
            return os.environ.get("_X_AMZN_TRACE_ID")
    """})
    trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    api.add_event("t1", {}, headers={"Lambda-Runtime-Trace-Id": trace})
    api.add_event("t2", {})
    assert body_json(api.wait_post()) == trace
    assert body_json(api.wait_post()) is None


# ---------------------------------------------------------------- logging


LOG_LINE = (r"^\[(?P<level>[A-Z]+)\]\t\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t"
            r"(?P<rid>[^\t]*)\t(?P<msg>.*)\n$")


def test_logging_line_format(galley):
    import re
    api, proc = galley({"app.py": """
        import logging
        logger = logging.getLogger()
        def handler(event, context):
            logger.info("hello %s", "info")
            logging.getLogger("child").warning("careful\\nsecond line")
            return "ok"
    """}, env={"AWS_LAMBDA_LOG_LEVEL": "INFO"})
    api.add_event("log-1", {})
    api.wait_post()
    info = proc.wait_line(lambda l: "hello info" in l)
    m = re.match(LOG_LINE, info)
    assert m, repr(info)
    assert m.group("level") == "INFO" and m.group("rid") == "log-1"
    assert m.group("msg") == "hello info"
    warn = proc.wait_line(lambda l: "careful" in l)
    m = re.match(LOG_LINE, warn)
    assert m, repr(warn)
    assert m.group("level") == "WARNING"
    assert m.group("msg") == "careful\rsecond line"


def test_default_log_level_is_python_default(galley):
    api, proc = galley({"app.py": """
        import logging
        def handler(event, context):
            logging.getLogger().info("hidden-info")
            logging.getLogger().warning("shown-warning")
            print("printed")
            return "ok"
    """})
    api.add_event("log-2", {})
    api.wait_post()
    proc.wait_line(lambda l: "shown-warning" in l)
    proc.wait_line(lambda l: l == "printed\n")
    assert "hidden-info" not in proc.output()


def test_json_log_format(galley):
    api, proc = galley({"app.py": """
        import logging
        def handler(event, context):
            logging.getLogger("app").info("structured", extra={"k": 1})
            raise TypeError("bad")
    """}, env={"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "INFO"})
    api.add_event("log-3", {})
    api.wait_post()
    info = json.loads(proc.wait_line(lambda l: "structured" in l))
    assert info["level"] == "INFO" and info["message"] == "structured"
    assert info["logger"] == "app" and info["requestId"] == "log-3"
    assert info["k"] == 1 and info["timestamp"].endswith("Z")
    err = json.loads(proc.wait_line(lambda l: '"TypeError"' in l))
    assert err["level"] == "ERROR" and err["errorMessage"] == "bad"
    assert err["requestId"] == "log-3" and err["stackTrace"]


def test_output_flushed_before_response(galley):
    api, proc = galley({"app.py": """
        import sys
        def handler(event, context):
            print("from print", end="")
            print()
            sys.stderr.write("from stderr\\n")
            return "ok"
    """})
    api.add_event("flush-1", {})
    api.wait_post()
    # The process now blocks in /next: anything still buffered would never
    # reach the pipes.
    proc.wait_line(lambda l: l == "from print\n", timeout=3)
    proc.wait_line(lambda l: l == "from stderr\n", stream="stderr", timeout=3)


# ---------------------------------------------------------------- connection


def test_one_keep_alive_connection(galley):
    api, proc = galley({"app.py": "def handler(e, c): return e\n"})
    for i in range(3):
        api.add_event("k%d" % i, i)
    for i in range(3):
        assert body_json(api.wait_post()) == i
    deadline = time.monotonic() + STEP_TIMEOUT
    while api.next_calls < 4 and time.monotonic() < deadline:
        time.sleep(0.02)
    with api.lock:
        assert set(api.request_conns) == {1}
        assert api.connections == 1


def test_next_is_pipelined_behind_each_result(galley):
    api, proc = galley({"app.py": """
        def handler(event, context):
            if event == "fail":
                raise ValueError("no")
            return event
    """})
    for i, event in enumerate(["a", "fail", "b"]):
        api.add_event("p%d" % i, event)
    posts = [api.wait_post() for _ in range(3)]
    assert [p["path"].rsplit("/", 1)[1] for p in posts] == ["response", "error", "response"]
    assert all(p["pipelined"] for p in posts)
    with api.lock:
        assert api.connections == 1


def test_reconnects_when_server_closed_connection(galley):
    api, proc = galley({"app.py": "def handler(e, c): return e\n"})
    api.close_after_next_reply = True
    api.add_event("c1", "first")
    assert body_json(api.wait_post()) == "first"
    api.add_event("c2", "second")
    assert body_json(api.wait_post()) == "second"
    with api.lock:
        conns_before = api.connections
        api.drop_after_post = True
    assert conns_before == 2
    api.add_event("c3", "third")
    assert body_json(api.wait_post()) == "third"
    api.add_event("c4", "fourth")
    assert body_json(api.wait_post()) == "fourth"
    with api.lock:
        assert api.connections == 3
    assert proc.proc.poll() is None


def test_missing_runtime_api_exits(galley):
    api, proc = galley({"app.py": "def handler(e, c): return 1\n"},
                       env={"AWS_LAMBDA_RUNTIME_API": "127.0.0.1:1"})
    assert proc.wait_exit() != 0
    assert "cannot connect" in proc.output("stderr")


def test_non_json_content_type_passes_bytes(galley):
    api, proc = galley({"app.py": """
        def handler(event, context):
            return [type(event).__name__, event.decode()]
    """})
    api.add_event("raw-1", raw=b"plain text",
                  headers={"Content-Type": "text/plain"})
    assert body_json(api.wait_post()) == ["bytes", "plain text"]
