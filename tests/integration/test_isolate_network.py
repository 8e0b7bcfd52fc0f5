# SPDX-License-Identifier: MIT
"""`galley serve --isolate-network` end to end: each environment has a network namespace of
its own with only loopback, and its Runtime API is served on 127.0.0.1:9001 inside it (the
sandbox passes the listener it made there to the daemon). A Python function invoked through
boto3 works cold and warm, a Node.js one and a crashing one too; the function sees
AWS_LAMBDA_RUNTIME_API=127.0.0.1:9001 and nothing but `lo`, and a TCP server the test starts
on the host's 127.0.0.1 is out of its reach, while without the option the same function
reaches it. (Namespaces need root here: without it the module is skipped and says so.)"""
import json
import os
import socket

import pytest

from conftest import FIXTURES, write_template

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root here"),
]

APP = '''
import errno, os, socket

COUNT = 0


def probe(event, context):
    global COUNT
    COUNT += 1
    try:
        socket.create_connection(("127.0.0.1", int(event["port"])), timeout=3).close()
        reach = "connected"
    except OSError as e:
        reach = errno.errorcode.get(e.errno, str(e.errno)) if e.errno else type(e).__name__
    return {"count": COUNT, "pid": os.getpid(), "reach": reach,
            "api": os.environ.get("AWS_LAMBDA_RUNTIME_API"),
            "ifaces": sorted(name for _, name in socket.if_nameindex())}
'''


@pytest.fixture
def host_server():
    """A TCP listener on the host's 127.0.0.1 (connections wait in its backlog)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    yield s.getsockname()[1]
    s.close()


@pytest.fixture
def template(tmp_path):
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text(APP)
    os.chmod(code, 0o755)
    os.chmod(code / "app.py", 0o644)
    return write_template(tmp_path, {
        "Probe": {"CodeUri": str(code), "Handler": "app.probe", "Runtime": "python3.11",
                  "FunctionName": "net-probe"},
        "PyEcho": {"CodeUri": str(FIXTURES / "py_basic"), "Handler": "app.echo",
                   "Runtime": "python3.11", "FunctionName": "net-py-echo"},
        "PyCrash": {"CodeUri": str(FIXTURES / "py_basic"), "Handler": "app.crash",
                    "Runtime": "python3.11", "FunctionName": "net-py-crash"},
        "NodeEcho": {"CodeUri": str(FIXTURES / "node_basic"), "Handler": "index.echo",
                     "Runtime": "nodejs20.x", "FunctionName": "net-node-echo"},
    }, globals_={"Timeout": 20, "MemorySize": 256})


def invoke(daemon, name, event=None, error=None):
    resp = daemon.client().invoke(FunctionName=name, Payload=json.dumps(event or {}))
    body = json.loads(resp["Payload"].read())
    assert resp["StatusCode"] == 200
    assert resp.get("FunctionError") == error, body
    return body


def isolated_daemon(daemon_factory, template):
    d = daemon_factory(template=template, extra_args=["--isolate-network"])
    if "namespaces unavailable" in d.daemon_log():
        pytest.skip("the kernel grants no namespaces here: " + d.daemon_log()[-300:])
    return d


def test_python_function_cold_and_warm_through_port_9001(daemon_factory, template):
    d = isolated_daemon(daemon_factory, template)
    cold = invoke(d, "net-py-echo", {"n": 1})
    warm = invoke(d, "net-py-echo", {"n": 2})
    assert (cold["count"], warm["count"]) == (1, 2)
    assert cold["pid"] == warm["pid"] == 1  # the same environment, PID 1 of its namespace
    assert warm["event"] == {"n": 2}
    assert cold["env"]["AWS_LAMBDA_RUNTIME_API"] == "127.0.0.1:9001"


def test_node_function_and_a_crash(daemon_factory, template):
    d = isolated_daemon(daemon_factory, template)
    body = invoke(d, "net-node-echo", {"x": 1})
    assert body["count"] == 1 and body["event"] == {"x": 1}
    body = invoke(d, "net-py-crash", error="Unhandled")
    assert body["errorType"] == "Runtime.ExitError"
    # The next invoke gets a fresh environment (and listener) and works.
    assert invoke(d, "net-py-echo")["count"] == 1


def test_isolated_function_cannot_reach_the_host(daemon_factory, template, host_server):
    d = isolated_daemon(daemon_factory, template)
    for _ in range(2):  # cold, then warm
        body = invoke(d, "net-probe", {"port": host_server})
        assert body["api"] == "127.0.0.1:9001"
        assert body["ifaces"] == ["lo"]
        assert body["reach"] == "ECONNREFUSED"
    assert body["count"] == 2


def test_shared_network_reaches_the_host(daemon_factory, template, host_server):
    d = daemon_factory(template=template)
    body = invoke(d, "net-probe", {"port": host_server})
    assert body["reach"] == "connected"
    assert body["api"] != "127.0.0.1:9001" and body["api"].startswith("127.0.0.1:")
