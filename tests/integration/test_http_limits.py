# SPDX-License-Identifier: MIT
"""The Lambda API listener against clients that stall or half-close (src/http limits): a
stalled body or an unfinished head does not block other clients' invokes and is answered 408
at the body timeout; a client that shuts down its write side after its request still gets the
answer. The daemon's default timeouts are used (there is no test-only way to shorten them), so
the stalled body waits out the 30 s body timeout once."""
import json
import socket
import time

from conftest import FIXTURES, write_template

INVOKE = "/2015-03-31/functions/echo/invocations"


def basic_template(tmp_path):
    return write_template(tmp_path, {"Echo": {
        "CodeUri": str(FIXTURES / "py_basic"), "Handler": "app.echo",
        "Runtime": "python3.11", "FunctionName": "echo"}})


def read_all(sock, timeout):
    """Everything the server sends until it closes (or timeout seconds pass)."""
    sock.settimeout(timeout)
    deadline = time.monotonic() + timeout
    out = b""
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            break
        except ConnectionResetError:
            break
        if not chunk:
            break
        out += chunk
    return out


def test_stallers_do_not_block_invokes_and_get_408(daemon_factory, tmp_path):
    d = daemon_factory(template=basic_template(tmp_path))
    stallers = []
    try:
        # A body promised 100 bytes that sends 2, and a head that never ends.
        s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
        s.sendall(f"POST {INVOKE} HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{{}}"
                  .encode())
        stallers.append(s)
        s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
        s.sendall(f"POST {INVOKE} HTTP/1.1\r\nHost: x\r\n".encode())
        stallers.append(s)
        started = time.monotonic()
        client = d.client()
        for i in range(3):
            out = json.loads(client.invoke(FunctionName="echo", Payload=b'{"i": 1}')["Payload"].read())
            assert out["count"] == i + 1
        assert time.monotonic() - started < 25, "invokes waited for the stalled clients"
        # Both are answered at their timeout (head 10 s, body 30 s), then closed.
        for s in stallers:
            resp = read_all(s, 45)
            assert resp.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), resp[:200]
            assert b"x-amzn-ErrorType: RequestTimeoutException" in resp
            assert b"Connection: close" in resp
        assert time.monotonic() - started < 45
    finally:
        for s in stallers:
            s.close()
    assert json.loads(d.client().invoke(FunctionName="echo")["Payload"].read())["count"] == 4


def test_half_closed_client_is_answered(daemon_factory, tmp_path):
    d = daemon_factory(template=basic_template(tmp_path))
    body = b'{"half": "closed"}'
    for _ in range(2):  # cold, then warm
        s = socket.create_connection(("127.0.0.1", d.port), timeout=30)
        try:
            s.sendall(f"POST {INVOKE} HTTP/1.1\r\nHost: x\r\nContent-Length: {len(body)}\r\n\r\n"
                      .encode() + body)
            s.shutdown(socket.SHUT_WR)
            resp = read_all(s, 30)
        finally:
            s.close()
        assert resp.startswith(b"HTTP/1.1 200 OK\r\n"), resp[:300]
        assert b"Connection: close" in resp
        payload = json.loads(resp.split(b"\r\n\r\n", 1)[1])
        assert payload["event"] == {"half": "closed"}, payload
