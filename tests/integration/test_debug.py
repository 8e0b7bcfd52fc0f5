# SPDX-License-Identifier: MIT
"""Attaching a debugger (docs/debugging.md): `serve --debug F[:PORT]`, `galley debug` and
/_galley/functions/F/debug start the function's next environment with its runtime's debugger
on 127.0.0.1:PORT: Node's inspector (answering the inspector protocol's /json/version), a pdb
console for Python without debugpy; no invoke timeout while it is held at a breakpoint, one
invoke at a time; DELETE stops it."""
import json
import socket
import threading
import time
import urllib.error
import urllib.request

import pytest
from botocore.exceptions import ClientError

from conftest import zip_files
from helpers import run_galley, wait_until

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
NODE = "exports.handler = async (event) => ({ node: process.version, event });\n"
PY = "def handler(event, context):\n    x = 41\n    return {'answer': x + 1}\n"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def create(c, name, runtime, timeout=1):
    node = runtime.startswith("nodejs")
    c.create_function(FunctionName=name, Runtime=runtime, Role=ROLE, Timeout=timeout,
                      Handler="index.handler" if node else "app.handler",
                      Code={"ZipFile": zip_files({"index.js" if node else "app.py":
                                                  NODE if node else PY})})


def control(d, method, name, body=None):
    req = urllib.request.Request(f"{d.url}/_galley/functions/{name}/debug", method=method,
                                 data=json.dumps(body).encode() if body is not None else None,
                                 headers={"X-Galley-Control-Token": d.control_token,
                                          "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def answers(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def test_node_inspector_from_serve_flag(daemon_factory):
    port = free_port()
    d = daemon_factory(extra_args=["--debug", f"dbg:{port}"])
    c = d.client()
    create(c, "dbg", "nodejs20.x")
    r = c.invoke(FunctionName="dbg", Payload=b'{"a": 1}')
    assert "FunctionError" not in r
    assert json.loads(r["Payload"].read())["event"] == {"a": 1}
    # The inspector protocol's HTTP side, on the host's loopback.
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/version", timeout=10) as v:
        version = json.loads(v.read())
    assert version["Browser"].startswith("node.js/") and version["Protocol-Version"]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as v:
        assert json.loads(v.read())[0]["webSocketDebuggerUrl"].startswith("ws://127.0.0.1:")
    assert f"debug: dbg's next environment starts with its debugger on 127.0.0.1:{port}" \
        in d.daemon_log()
    assert control(d, "GET", "dbg") == (200, {"FunctionName": "dbg", "Port": port})
    # Off: the environment is recycled and the port closes; the next one runs plainly.
    assert control(d, "DELETE", "dbg") == (200, {"FunctionName": "dbg", "Port": None})
    assert wait_until(lambda: not answers(port), timeout=15)
    assert "FunctionError" not in c.invoke(FunctionName="dbg")
    assert not answers(port)


def connect(port):
    try:
        return socket.create_connection(("127.0.0.1", port), timeout=20)
    except OSError:
        return None


def first_client(d, port):
    """A connection to the debugger's port once it listens. The first client is the one the
    debugger serves: no probe connection first."""
    conn = []
    assert wait_until(lambda: conn.append(connect(port)) or conn[-1], timeout=20), \
        d.daemon_log()
    return conn[-1]


def read_until_prompt(f, timeout=20):
    deadline, seen = time.monotonic() + timeout, ""
    while "(Pdb)" not in seen and time.monotonic() < deadline:
        chunk = f.recv(4096).decode(errors="replace")
        if not chunk:
            break
        seen += chunk
    return seen


def test_python_pdb_console_from_cli(daemon_factory):
    port = free_port()
    d = daemon_factory()
    c = d.client()
    create(c, "pdbfn", "python3.12", timeout=1)
    r = run_galley("debug", "pdbfn", str(port), "--endpoint", d.url, "--state-dir",
                   str(d.state), timeout=30)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"FunctionName": "pdbfn", "Port": port}

    result = {}

    def call():
        resp = c.invoke(FunctionName="pdbfn", Payload=b"{}")
        result["resp"] = resp
        result["payload"] = json.loads(resp["Payload"].read())

    t = threading.Thread(target=call)
    t.start()
    try:
        with first_client(d, port) as s:
            seen = read_until_prompt(s)
            assert "(Pdb)" in seen and "app.py" in seen, seen
            # Held at the breakpoint past the function's 1 s timeout, and a second invoke
            # meanwhile is throttled: one environment holds the port.
            with pytest.raises(ClientError) as e:
                c.invoke(FunctionName="pdbfn", Payload=b"{}")
            assert e.value.response["Error"]["Code"] == "TooManyRequestsException"
            time.sleep(1.5)
            s.sendall(b"p x if 'x' in dir() else 'no x yet'\nc\n")
            t.join(timeout=30)
    finally:
        t.join(timeout=30)
    assert not t.is_alive()
    assert "FunctionError" not in result["resp"], result["payload"]
    assert result["payload"] == {"answer": 42}
    r = run_galley("debug", "pdbfn", "--off", "--endpoint", d.url, "--state-dir", str(d.state),
                   timeout=30)
    assert r.returncode == 0 and json.loads(r.stdout)["Port"] is None


# A stand-in for debugpy in the function's code: the bootstrap must pick it (the function
# provides it) and call listen(("127.0.0.1", PORT)) then wait_for_client().
FAKE_DEBUGPY = """import socket
_server = None
calls = []
def listen(address):
    global _server
    calls.append(["listen", list(address)])
    _server = socket.socket()
    _server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    _server.bind(address)
    _server.listen(1)
def wait_for_client():
    conn, _ = _server.accept()
    calls.append(["wait_for_client"])
    conn.sendall(b"attached\\n")
    conn.close()
"""
USES_DEBUGPY = """import sys
def handler(event, context):
    return {"calls": sys.modules["debugpy"].calls}
"""


def test_python_debugpy_from_the_function(daemon_factory):
    port = free_port()
    d = daemon_factory(extra_args=["--debug", f"dpy:{port}"])
    c = d.client()
    c.create_function(FunctionName="dpy", Runtime="python3.12", Role=ROLE, Timeout=1,
                      Handler="app.handler",
                      Code={"ZipFile": zip_files({"app.py": USES_DEBUGPY,
                                                  "debugpy/__init__.py": FAKE_DEBUGPY})})
    result = {}
    t = threading.Thread(target=lambda: result.update(r=c.invoke(FunctionName="dpy")))
    t.start()
    try:
        with first_client(d, port) as s:
            time.sleep(1.5)  # attached later than the 1 s timeout: the init waits
            assert s.recv(100) == b"attached\n"
    finally:
        t.join(timeout=30)
    r = result["r"]
    assert "FunctionError" not in r
    assert json.loads(r["Payload"].read()) == {
        "calls": [["listen", ["127.0.0.1", port]], ["wait_for_client"]]}


def test_control_api_errors(daemon_factory):
    d = daemon_factory()
    c = d.client()
    create(c, "f", "python3.12")
    for bad in (0, 65536, "9229"):
        status, body = control(d, "POST", "f", {"Port": bad})
        assert status == 400
        assert body["message"] == "Port must be an integer from 1 to 65535"
    assert control(d, "GET", "f") == (200, {"FunctionName": "f", "Port": None})
    # No port: Node's inspector's default.
    assert control(d, "POST", "f", {}) == (200, {"FunctionName": "f", "Port": 9229})
    status, body = control(d, "POST", "nope", {"Port": 9300})
    assert status == 404 and "Function not found" in body.get("Message", body.get("message"))
    status, body = control(d, "PATCH", "f")
    assert status == 404 and body["message"] == "Use GET, POST or DELETE"
    r = run_galley("debug", "f", "notaport", "--endpoint", d.url, timeout=30)
    assert r.returncode == 2 and "PORT must be a whole number" in r.stderr
    r = run_galley("debug", "f", "70000", "--endpoint", d.url, "--state-dir", str(d.state),
                   timeout=30)
    assert r.returncode == 1 and "Port must be an integer from 1 to 65535" in r.stderr


@pytest.mark.parametrize("arg", ["", ":9229", "f:", "f:0", "f:x", "f:70000"])
def test_bad_serve_debug_is_refused(tmp_path, arg):
    r = run_galley("serve", "--listen", "127.0.0.1:0", "--state-dir", str(tmp_path / "s"),
                   "--debug", arg, timeout=30)
    assert r.returncode == 2
    assert "--debug wants FUNCTION[:PORT]" in r.stderr
