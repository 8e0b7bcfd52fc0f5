# SPDX-License-Identifier: MIT
"""The daemon as a process: idle teardown, environments dying with a SIGKILLed daemon,
asynchronous invokes really running, malformed HTTP, many concurrent invokes."""
import json
import os
import signal
import socket
import threading
import time

from conftest import FIXTURES, write_template
from helpers import wait_until


def basic_template(tmp_path, **extra):
    props = {"CodeUri": str(FIXTURES / "py_basic"), "Handler": "app.echo",
             "Runtime": "python3.11", "FunctionName": "echo"}
    props.update(extra)
    return write_template(tmp_path, {"Echo": props})


def alive(pids):
    out = []
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] != "Z":
                    out.append(p)
        except OSError:
            pass
    return out


def test_idle_environment_is_torn_down(daemon_factory, tmp_path):
    d = daemon_factory(template=basic_template(tmp_path), extra_args=["--idle-timeout", "0.5"])
    c = d.client()
    first = json.loads(c.invoke(FunctionName="echo")["Payload"].read())
    # host pids (inside its PID namespace the runtime is pid 1); spares stay, by design
    kids = d.children() - d.spare_pids()
    assert first["count"] == 1 and kids
    assert wait_until(lambda: not alive(kids), timeout=10)
    second = json.loads(c.invoke(FunctionName="echo")["Payload"].read())
    assert second["count"] == 1  # cold again: a new environment


def test_environments_die_with_a_killed_daemon(daemon_factory, tmp_path):
    d = daemon_factory(template=basic_template(tmp_path))
    d.client().invoke(FunctionName="echo")["Payload"].read()
    kids = d.children()
    assert kids and alive(kids)
    d.proc.send_signal(signal.SIGKILL)
    d.proc.wait(timeout=10)
    assert wait_until(lambda: not alive(kids), timeout=10), f"{alive(kids)} outlived the daemon"


def test_event_invoke_runs_in_background(daemon_factory, tmp_path):
    d = daemon_factory(template=basic_template(tmp_path))
    c = d.client()
    r = c.invoke(FunctionName="echo", InvocationType="Event", Payload=b'{"bg": 1}')
    assert r["StatusCode"] == 202
    rid = r["ResponseMetadata"]["RequestId"]
    logs = d.state / "logs" / "aws" / "lambda" / "echo"

    def reported():
        return any(f"REPORT RequestId: {rid}" in p.read_text()
                   for p in logs.rglob("*") if p.is_file())
    assert wait_until(reported, timeout=15)


def raw_request(port, data, timeout=5):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        try:
            while True:
                b = s.recv(65536)
                if not b:
                    break
                chunks.append(b)
        except socket.timeout:
            pass
    return b"".join(chunks)


def test_malformed_http_gets_400_and_daemon_keeps_serving(daemon_factory, tmp_path):
    d = daemon_factory(template=basic_template(tmp_path))
    resp = raw_request(d.port, b"GARBAGE / HTTP/1.1\r\n\x00\x01\r\n\r\n")
    assert resp.startswith(b"HTTP/1.1 400"), resp[:200]
    resp = raw_request(d.port, b"POST /2015-03-31/functions/echo/invocations HTTP/1.1\r\n"
                                b"Host: x\r\nContent-Length: 99999999\r\n\r\n")
    assert resp.startswith(b"HTTP/1.1 413"), resp[:200]
    assert b"RequestEntityTooLargeException" in resp
    resp = raw_request(d.port, b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert resp.startswith(b"HTTP/1.1 404"), resp[:200]
    assert json.loads(d.client().invoke(FunctionName="echo")["Payload"].read())["count"] == 1


def test_concurrent_invokes_get_their_own_results(daemon_factory, tmp_path):
    d = daemon_factory(template=basic_template(tmp_path))
    results, errors = {}, []

    def worker(i):
        try:
            c = d.client()
            for j in range(5):
                payload = json.dumps({"i": i, "j": j}).encode()
                r = c.invoke(FunctionName="echo", Payload=payload)
                body = json.loads(r["Payload"].read())
                results[(i, j)] = (body["event"], body["request_id"], r["ResponseMetadata"]["RequestId"])
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert len(results) == 40
    for (i, j), (event, rid, header_rid) in results.items():
        assert event == {"i": i, "j": j}
        assert rid == header_rid
    assert len({v[1] for v in results.values()}) == 40
    kids = d.children()
    assert d.stop() == 0
    assert wait_until(lambda: not alive(kids), timeout=10)


def test_account_concurrency_throttles_with_429(daemon_factory, tmp_path):
    tpl = basic_template(tmp_path, Handler="app.sleep", Timeout=20)
    d = daemon_factory(template=tpl, extra_args=["--account-concurrency", "2"])
    assert d.client().get_account_settings()["AccountLimit"]["ConcurrentExecutions"] == 2
    outcomes, lock = [], threading.Lock()

    def worker():
        try:
            r = d.client().invoke(FunctionName="echo", Payload=b'{"seconds": 2}')
            out = ("ok", r["Payload"].read())
        except Exception as e:  # noqa: BLE001 - classified below
            resp = getattr(e, "response", {})
            out = ("err", resp.get("Error", {}).get("Code"), resp.get("Reason"),
                   resp.get("ResponseMetadata", {}).get("HTTPStatusCode"))
        with lock:
            outcomes.append(out)
    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
        time.sleep(0.3)
    for t in threads:
        t.join(timeout=60)
    oks = [o for o in outcomes if o[0] == "ok"]
    errs = [o for o in outcomes if o[0] == "err"]
    assert len(oks) == 2 and all(o[1] == b'"slept"' for o in oks), outcomes
    assert errs == [("err", "TooManyRequestsException", "ConcurrentInvocationLimitExceeded", 429)]
    # capacity comes back once the invokes finish
    assert d.client().invoke(FunctionName="echo", Payload=b'{"seconds": 0}')["StatusCode"] == 200


def test_galley_ps_lists_environments(daemon_factory, tmp_path):
    import subprocess
    from conftest import GALLEY_BIN
    d = daemon_factory(template=basic_template(tmp_path))
    body = json.loads(d.client().invoke(FunctionName="echo")["Payload"].read())
    res = subprocess.run([GALLEY_BIN, "ps", "--endpoint", d.url, "--json", "--state-dir",
                          str(d.state)], capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    envs = json.loads(res.stdout)
    assert len(envs) == 1
    e = envs[0]
    assert e["function"] == "echo" and e["version"] == "$LATEST"
    assert e["pid"] in d.children() and e["invokes"] == 1
    assert e["status"] in ("idle", "frozen") and e["max_memory_mb"] > 0
    table = subprocess.run([GALLEY_BIN, "ps", "--endpoint", d.url, "--state-dir", str(d.state)],
                           capture_output=True, text=True, timeout=30)
    assert table.returncode == 0 and "echo" in table.stdout and str(e["pid"]) in table.stdout
    d.stop()
    down = subprocess.run([GALLEY_BIN, "ps", "--endpoint", d.url], capture_output=True,
                          text=True, timeout=30)
    assert down.returncode == 1 and "cannot reach" in down.stderr
