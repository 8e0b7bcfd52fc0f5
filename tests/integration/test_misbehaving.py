# SPDX-License-Identifier: MIT
"""Misbehaving functions: each ends with Lambda's error for that invoke, and the daemon keeps
serving other functions afterwards. (Sandbox-specific cases live in test_sandbox.py.)"""
import json
import os
import time

import pytest

from conftest import FIXTURES, write_template
from helpers import wait_until


def cmdline(pid):
    """A process's command line, or b"" when it has exited meanwhile."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


def pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.fixture
def served(daemon_factory, tmp_path):
    code = str(FIXTURES / "py_misbehave")
    fns = {name: {"CodeUri": code, "Handler": f"app.{handler}", "Runtime": "python3.11",
                  "FunctionName": name, **extra}
           for name, handler, extra in [
               ("spin", "spin", {"Timeout": 2}),
               ("forkbomb", "fork_bomb", {"Timeout": 10}),
               ("hog", "hog", {"Timeout": 20, "MemorySize": 128}),
               ("filltmp", "fill_tmp", {"Timeout": 30}),
               ("exitmid", "exit_mid", {}),
               ("orphan", "orphan", {}),
               ("counter", "counter", {}),
               ("ticker", "bg_ticker", {}),
           ]}
    return daemon_factory(template=write_template(tmp_path, fns, globals_={"Timeout": 5}))


def invoke(d, name, payload=b"{}"):
    r = d.client().invoke(FunctionName=name, Payload=payload, LogType="Tail")
    return r, r["Payload"].read()


def still_serving(d):
    r, body = invoke(d, "counter")
    assert r["StatusCode"] == 200 and "FunctionError" not in r, body


def test_infinite_loop_times_out(served):
    r, body = invoke(served, "spin")
    assert r["FunctionError"] == "Unhandled"
    assert json.loads(body)["errorType"] == "Sandbox.Timedout"
    still_serving(served)


def test_exit_mid_invoke(served):
    r, body = invoke(served, "exitmid")
    b = json.loads(body)
    assert b["errorType"] == "Runtime.ExitError" and b["errorMessage"].endswith("exit status 2")
    still_serving(served)


def test_memory_hog_is_killed_at_its_cap(served):
    r, body = invoke(served, "hog")
    b = json.loads(body)
    assert r["FunctionError"] == "Unhandled"
    assert b["errorType"] == "Runtime.ExitError", b
    assert b["errorMessage"].endswith("signal: killed"), b
    import base64
    tail = base64.b64decode(r["LogResult"]).decode()
    assert "Status: error" in tail
    still_serving(served)


def test_fork_bomb_is_contained(served):
    r, body = invoke(served, "forkbomb")
    # Either the function saw fork fail (EAGAIN) and returned, or it was stopped at its timeout.
    if "FunctionError" in r:
        assert json.loads(body)["errorType"] in ("Sandbox.Timedout", "Runtime.ExitError")
    else:
        assert json.loads(body)["errno"] == 11
    still_serving(served)


def test_child_outliving_the_invoke_dies_with_the_environment(served):
    # The child starts a session of its own, so only the environment's PID namespace or
    # cgroup can find it, not its process group.
    r, body = invoke(served, "orphan", json.dumps({"new_session": True}).encode())
    child = json.loads(body)["child"]
    # In a PID namespace the pid is not the host's: find the sleeper by its command line.
    # Popen returns once the child's exec has begun, but /proc/PID/cmdline stays empty until
    # the kernel has set up the new image's arguments: on a loaded machine that can be later
    # than this look, so look again for a while.
    def find_sleepers():
        return [p for p in os.listdir("/proc") if p.isdigit() and
                b"time.sleep(600)" in cmdline(p)]
    assert wait_until(lambda: find_sleepers(), timeout=10), \
        f"child {child} not found; daemon log:\n{served.daemon_log()[-3000:]}"
    sleepers = find_sleepers()
    assert served.stop() == 0
    assert wait_until(lambda: not any(pid_alive(int(p)) for p in sleepers)), sleepers


def test_background_thread_is_frozen_between_invokes(served):
    _, b1 = invoke(served, "ticker")
    time.sleep(1.0)
    _, b2 = invoke(served, "ticker")
    first, second = json.loads(b1), json.loads(b2)
    # Unfrozen, the thread would tick ~100 times in the second between invokes.
    assert second["ticks"] - first["ticks"] < 20, (first, second)


def test_runtime_that_never_calls_next_hits_the_init_limit(daemon_factory, tmp_path):
    code = tmp_path / "silent"
    code.mkdir()
    boot = code / "bootstrap"
    boot.write_text("#!/bin/sh\nexec sleep 600\n")
    boot.chmod(0o755)
    tpl = write_template(tmp_path, {
        "Silent": {"CodeUri": str(code), "Runtime": "provided.al2023", "Handler": "x",
                   "FunctionName": "silent", "Timeout": 30},
        "Counter": {"CodeUri": str(FIXTURES / "py_misbehave"), "Handler": "app.counter",
                    "Runtime": "python3.11", "FunctionName": "counter"}})
    d = daemon_factory(template=tpl)
    started = time.monotonic()
    r, body = invoke(d, "silent")
    waited = time.monotonic() - started
    assert r["FunctionError"] == "Unhandled"
    assert json.loads(body)["errorType"] == "Sandbox.Timedout"
    import base64
    assert "INIT_REPORT" in base64.b64decode(r["LogResult"]).decode()
    assert waited > 9  # it waited for Lambda's 10-second init limit, not less
    still_serving(d)
