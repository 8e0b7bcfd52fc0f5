# SPDX-License-Identifier: MIT
"""The developer loop commands against a running daemon: `galley invoke` (result on stdout,
--tail log on stderr, exit codes for function errors, unknown functions and an unreachable
daemon) and `galley logs` (an invoke's lines with their stream, --since by modification time,
and -f following new lines and new streams until SIGINT)."""
import json
import os
import pathlib
import signal
import subprocess
import time

import pytest

from conftest import GALLEY_BIN
from helpers import py_basic_daemon, read_until, run_galley

RUN_TIMEOUT = 60


@pytest.fixture
def served(daemon_factory, tmp_path):
    return py_basic_daemon(daemon_factory, tmp_path, {
        # A FunctionName that differs from the logical id: both must work from the CLI.
        "PyEcho": {"Handler": "app.echo", "FunctionName": "cli-echo"},
        "PyFail": {"Handler": "app.fail"},
    })


def galley(*args, stdin=None, cwd=None):
    return run_galley(*args, timeout=RUN_TIMEOUT, stdin=stdin, cwd=cwd)


def test_invoke_prints_result_and_exits_zero(served, tmp_path):
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"from": "file"}))
    res = galley("invoke", "cli-echo", "--event", str(event), "--endpoint", served.url)
    assert res.returncode == 0, res.stderr
    body = json.loads(res.stdout)
    assert body["event"] == {"from": "file"}
    assert body["function_name"] == "cli-echo"
    assert "START RequestId" not in res.stderr  # no --tail: no log

    # by logical id, event on stdin, and a qualifier
    res = galley("invoke", "PyEcho", "--event", "-", "--qualifier", "$LATEST",
                 "--endpoint", served.url, stdin=json.dumps([1, 2, 3]))
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["event"] == [1, 2, 3]

    # no --event: {} as sam local invoke sends
    res = galley("invoke", "cli-echo", "--endpoint", served.url)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["event"] == {}


def test_invoke_tail_prints_the_log_on_stderr(served):
    res = galley("invoke", "cli-echo", "--tail", "--endpoint", served.url)
    assert res.returncode == 0, res.stderr
    rid = json.loads(res.stdout)["request_id"]
    assert f"START RequestId: {rid}" in res.stderr
    assert f"REPORT RequestId: {rid}" in res.stderr
    assert "echo call" in res.stderr
    assert "START RequestId" not in res.stdout


def test_invoke_exit_codes(served, tmp_path):
    res = galley("invoke", "PyFail", "--tail", "--endpoint", served.url)
    assert res.returncode == 1
    err = json.loads(res.stdout)
    assert err["errorType"] == "ValueError" and err["errorMessage"] == "boom"
    assert "function error" in res.stderr and "about to fail" in res.stderr

    res = galley("invoke", "no-such-function", "--endpoint", served.url)
    assert res.returncode == 1
    assert "ResourceNotFoundException" in res.stderr and "no-such-function" in res.stderr
    assert res.stdout == ""

    res = galley("invoke", "cli-echo", "--qualifier", "77", "--endpoint", served.url)
    assert res.returncode == 1
    assert "ResourceNotFoundException" in res.stderr

    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    res = galley("invoke", "cli-echo", "--event", str(bad), "--endpoint", served.url)
    assert res.returncode == 1
    assert "InvalidRequestContentException" in res.stderr

    res = galley("invoke", "cli-echo", "--event", str(tmp_path / "missing.json"),
                 "--endpoint", served.url)
    assert res.returncode == 2 and "missing.json" in res.stderr

    res = galley("invoke", "--endpoint", served.url)  # no NAME
    assert res.returncode == 2 and "usage" in res.stderr


def test_invoke_without_a_daemon_says_so(tmp_path):
    # A port nothing listens on: bind one, note it, close it.
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    res = galley("invoke", "f", "--endpoint", f"http://127.0.0.1:{port}")
    assert res.returncode == 1
    assert "cannot reach" in res.stderr


def log_dir(daemon, name):
    return daemon.state / "logs" / "aws" / "lambda" / name


def test_logs_prints_an_invokes_lines_with_their_stream(served):
    c = served.client()
    rid = c.invoke(FunctionName="cli-echo", Payload=b"{}")["ResponseMetadata"]["RequestId"]
    # by logical id: the daemon resolves it to the FunctionName's directory
    res = galley("logs", "PyEcho", "--state-dir", str(served.state), "--endpoint", served.url)
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    streams = [p for p in log_dir(served, "cli-echo").rglob("*") if p.is_file()]
    assert len(streams) == 1
    stream = str(streams[0].relative_to(log_dir(served, "cli-echo")))
    assert f"{stream} START RequestId: {rid} Version: $LATEST" in lines
    assert f"{stream} echo call 1" in lines
    assert any(l.startswith(f"{stream} REPORT RequestId: {rid}") for l in lines)
    start = lines.index(f"{stream} START RequestId: {rid} Version: $LATEST")
    assert any(l.startswith(f"{stream} END RequestId: {rid}") for l in lines[start:])

    # --since: the stream counts when modified within the duration
    res = galley("logs", "cli-echo", "--since", "10m", "--state-dir", str(served.state),
                 "--endpoint", served.url)
    assert res.returncode == 0 and f"{stream} echo call 1" in res.stdout.splitlines()
    old = time.time() - 2 * 3600
    os.utime(streams[0], (old, old))
    res = galley("logs", "cli-echo", "--since", "1h", "--state-dir", str(served.state),
                 "--endpoint", served.url)
    assert res.returncode == 0 and res.stdout == ""
    res = galley("logs", "cli-echo", "--since", "3h", "--state-dir", str(served.state),
                 "--endpoint", served.url)
    assert f"{stream} echo call 1" in res.stdout.splitlines()

    res = galley("logs", "cli-echo", "--since", "soon", "--state-dir", str(served.state))
    assert res.returncode == 2
    res = galley("logs", "never-invoked", "--state-dir", str(served.state),
                 "--endpoint", served.url)
    assert res.returncode == 1 and "no logs" in res.stderr


def test_logs_without_a_daemon_takes_the_name_as_given(tmp_path):
    d = tmp_path / "state" / "logs" / "aws" / "lambda" / "fn" / "2024" / "01" / "02"
    d.mkdir(parents=True)
    (d / "[$LATEST]aaaa").write_text("one\ntwo\n")
    (d / "[$LATEST]bbbb").write_text("three\n")
    os.utime(d / "[$LATEST]aaaa", (time.time() - 60, time.time() - 60))
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    res = galley("logs", "fn", "--state-dir", str(tmp_path / "state"),
                 "--endpoint", f"http://127.0.0.1:{port}")
    assert res.returncode == 0, res.stderr
    # least recently written stream first
    assert res.stdout.splitlines() == ["2024/01/02/[$LATEST]aaaa one",
                                       "2024/01/02/[$LATEST]aaaa two",
                                       "2024/01/02/[$LATEST]bbbb three"]


def test_logs_since_keeps_lines_by_their_stamp(tmp_path):
    """--since goes by each line's stamp; the stamp is not printed; a file from before stamps
    existed goes by its modification time."""
    d = tmp_path / "state" / "logs" / "aws" / "lambda" / "fn" / "2024" / "01" / "02"
    d.mkdir(parents=True)

    def stamp(t):
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".000Z"
    now = time.time()
    (d / "[$LATEST]mixed").write_text(f"{stamp(now - 7200)} two hours ago\n"
                                      f"{stamp(now - 1800)} half an hour ago\n"
                                      f"{stamp(now - 5)} just now\n")
    (d / "[$LATEST]bare").write_text("bare and recent\n")
    (d / "[$LATEST]bareold").write_text("bare and old\n")
    os.utime(d / "[$LATEST]bareold", (now - 7200, now - 7200))
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()

    def logs(*args):
        res = galley("logs", "fn", *args, "--state-dir", str(tmp_path / "state"),
                     "--endpoint", f"http://127.0.0.1:{port}")
        assert res.returncode == 0, res.stderr
        return sorted(res.stdout.splitlines())
    mixed, bare = "2024/01/02/[$LATEST]mixed", "2024/01/02/[$LATEST]bare"
    assert logs("--since", "1h") == [f"{bare} bare and recent", f"{mixed} half an hour ago",
                                     f"{mixed} just now"]
    assert logs("--since", "1m") == [f"{bare} bare and recent", f"{mixed} just now"]
    assert len(logs()) == 5 and f"{mixed} two hours ago" in logs()




def test_logs_follow_shows_new_lines_and_new_streams(served):
    c = served.client()
    first = c.invoke(FunctionName="cli-echo", Payload=b"{}")["ResponseMetadata"]["RequestId"]
    proc = subprocess.Popen([GALLEY_BIN, "logs", "cli-echo", "-f", "--state-dir",
                             str(served.state), "--endpoint", served.url],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        read_until(proc, f"START RequestId: {first}", 20)
        # an invoke made after -f started: lines appended to the (warm) stream
        second = c.invoke(FunctionName="cli-echo", Payload=b"{}")["ResponseMetadata"]["RequestId"]
        out = read_until(proc, f"REPORT RequestId: {second}", 20)
        assert "echo call 2" in out
        # a stream that appears later (a new environment's) is picked up too
        d = log_dir(served, "cli-echo") / "2099" / "01" / "01"
        d.mkdir(parents=True)
        with open(d / "[$LATEST]feedface", "w") as f:
            f.write("half of a line")
            f.flush()
            time.sleep(0.6)  # more than a poll: the partial line must wait for its newline
            f.write(" and the rest\n")
        out = read_until(proc, "and the rest", 20)
        assert "2099/01/01/[$LATEST]feedface half of a line and the rest" in out.splitlines()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()
