# SPDX-License-Identifier: MIT
"""Issue 9, section 1, written as attacks: on a default `galley serve` (shared network), one
environment's Runtime API belongs to that environment alone.

Function A (python) hunts for other environments' Runtime APIs as an attacker would: it reads
/proc/net/tcp for listening 127.0.0.1 ports and asks GET /_galley/environments, then, while the
test invokes function B with secrets, calls /next and posts forged responses on every port it
was told is one of this daemon's listeners. B's callers must get B's own answers; every one of
A's connections must be refused before it is served. The test itself (a host process) is
refused too; each environment runs as a uid of its own from the range; the environments list
and `galley ps` publish no Runtime API port; --run-as with --uid-range is refused at start.

A attacks only ports of this test's daemon (found by the test through /proc/<pid>/fd and
/proc/<pid>/net/tcp), never other loopback services of the machine; its own hunt is reported
to show it would have found them."""
import http.client
import json
import os
import socket
import threading

import pytest

from conftest import write_template
from helpers import run_galley, wait_until

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="per-environment uids need galley to be root"),
]

ATTACKER = r'''
import http.client, json, os, time, urllib.request

FAKE_ID = "00000000-0000-4000-8000-000000000000"


def listening_loopback_ports():
    ports = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                lines = f.read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            addr, port = fields[1].split(":")
            if fields[3] == "0A" and addr in ("0100007F", "00000000"):
                ports.add(int(port, 16))
    return sorted(ports)


def attempt(port, method, path, body=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        c.request(method, path, body=body)
        r = c.getresponse()
        return {"status": r.status, "rid": r.getheader("Lambda-Runtime-Aws-Request-Id"),
                "body": r.read().decode(errors="replace")[:300]}
    except (OSError, http.client.HTTPException) as e:
        return {"error": type(e).__name__}
    finally:
        c.close()


def environments(api):
    try:
        with urllib.request.urlopen(api + "/_galley/environments", timeout=5) as r:
            return json.loads(r.read())
    except Exception as e:  # the control API may be closed to functions: also fine
        return {"error": type(e).__name__}


def handler(event, context):
    own = int(os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")[1])
    hunted = listening_loopback_ports()
    targets = [p for p in event.get("targets", []) if p != own]
    results = []
    deadline = time.time() + event["seconds"]
    while time.time() < deadline:
        if event.get("targets_file"):  # cold starts: the ports change, the test lists them
            try:
                with open(event["targets_file"]) as f:
                    targets = [p for p in json.load(f) if p != own]
            except (OSError, ValueError):
                pass
        for p in targets:
            got = attempt(p, "GET", "/2018-06-01/runtime/invocation/next")
            results.append(dict(got, port=p, call="next"))
            rid = got.get("rid") or FAKE_ID
            forged = attempt(p, "POST", "/2018-06-01/runtime/invocation/%s/response" % rid,
                             json.dumps({"secret": "forged by A"}))
            results.append(dict(forged, port=p, call="response"))
        time.sleep(0.02)
    return {"hunted": hunted, "targets": event.get("targets"), "results": results,
            "environments": environments(event["api"]), "uid": os.getuid()}
'''

VICTIM = r'''
import os


def handler(event, context):
    return {"secret": event["secret"], "who": "B", "uid": os.getuid()}
'''


def attack_template(tmp_path):
    """A (the attacker) and B (the victim) in one code directory; returns (template, code)."""
    code = tmp_path / "code"
    code.mkdir()
    (code / "attacker.py").write_text(ATTACKER)
    (code / "victim.py").write_text(VICTIM)
    os.chmod(code, 0o755)
    for f in ("attacker.py", "victim.py"):
        os.chmod(code / f, 0o644)
    common = {"CodeUri": str(code), "Runtime": "python3.11", "Timeout": 30}
    tpl = write_template(tmp_path, {
        "A": dict(common, Handler="attacker.handler", FunctionName="iso-a"),
        "B": dict(common, Handler="victim.handler", FunctionName="iso-b"),
    })
    return tpl, code


@pytest.fixture
def pair(daemon_factory, tmp_path):
    return daemon_factory(template=attack_template(tmp_path)[0])


def daemon_listening_ports(daemon):
    """The loopback ports the daemon process listens on, from its descriptors' inodes."""
    pid = daemon.proc.pid
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    ports = set()
    with open(f"/proc/{pid}/net/tcp") as f:
        for line in f.read().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and fields[9] in inodes:
                ports.add(int(fields[1].split(":")[1], 16))
    return ports


def runtime_api_ports(daemon):
    return sorted(daemon_listening_ports(daemon) - {daemon.port})


def invoke(daemon, name, event, read_timeout=60):
    resp = daemon.client(read_timeout=read_timeout).invoke(FunctionName=name,
                                                           Payload=json.dumps(event))
    body = resp["Payload"].read()
    assert resp["StatusCode"] == 200
    assert "FunctionError" not in resp, body
    return json.loads(body)


def environments(daemon):
    c = http.client.HTTPConnection("127.0.0.1", daemon.port, timeout=10)
    try:
        c.request("GET", "/_galley/environments",
                  headers={"X-Galley-Control-Token": daemon.control_token})
        return json.loads(c.getresponse().read())["Environments"]
    finally:
        c.close()


def test_function_hunting_another_runtime_api_is_refused(pair):
    first = invoke(pair, "iso-b", {"secret": "warm-up"})
    assert first["secret"] == "warm-up"
    b_ports = runtime_api_ports(pair)
    assert len(b_ports) == 1, b_ports

    attack = {}

    def run_attacker():
        attack["out"] = invoke(pair, "iso-a", {"targets": b_ports, "seconds": 4,
                                               "api": pair.url})

    t = threading.Thread(target=run_attacker)
    t.start()
    # B's callers, while A attacks: each gets its own secret back, never A's forgery.
    answers = []
    assert wait_until(lambda: len(runtime_api_ports(pair)) >= 2, timeout=20)
    for i in range(20):
        answers.append(invoke(pair, "iso-b", {"secret": f"s{i}"}))
    t.join(60)
    assert not t.is_alive()
    out = attack["out"]

    assert [a["secret"] for a in answers] == [f"s{i}" for i in range(20)]
    assert all(a["who"] == "B" for a in answers)
    # A's hunt found B's port, and every attempt on it was refused before it was served.
    assert set(b_ports) <= set(out["hunted"])
    assert out["targets"] == b_ports
    assert out["results"], "the attacker made no attempt"
    served = [r for r in out["results"] if "status" in r]
    assert served == [], served[:5]
    assert {r["error"] for r in out["results"]} <= {
        "ConnectionResetError", "RemoteDisconnected", "BrokenPipeError", "ConnectionAbortedError"}
    # A and B ran as different uids, both from the range, neither root.
    assert out["uid"] != answers[0]["uid"]
    assert out["uid"] >= 100000 and answers[0]["uid"] >= 100000
    # The environments list (if A could read it) names no Runtime API port.
    text = json.dumps(out["environments"])
    assert "runtime_api_port" not in text


def test_attacker_racing_cold_starts_steals_nothing(daemon_factory, tmp_path):
    """The worst case of the issue: with every invoke cold, A raced B's runtime to /next
    during init and took every event. Here A keeps attacking each new listener as it
    appears while B is invoked cold ten times."""
    tpl, code = attack_template(tmp_path)
    # --no-watch: the targets file the test rewrites in the code dir must not reload A.
    d = daemon_factory(template=tpl, extra_args=["--idle-timeout", "0", "--no-watch"])
    targets = code / "targets.json"
    targets.write_text("[]")
    stop = threading.Event()

    def publish_ports():  # the attacker's eyes: this daemon's listeners only
        while not stop.is_set():
            tmp = code / "targets.tmp"
            tmp.write_text(json.dumps(runtime_api_ports(d)))
            os.chmod(tmp, 0o644)
            os.rename(tmp, targets)
            stop.wait(0.01)

    publisher = threading.Thread(target=publish_ports)
    publisher.start()
    attack = {}
    t = threading.Thread(target=lambda: attack.update(out=invoke(
        d, "iso-a", {"targets_file": "/var/task/targets.json", "seconds": 6, "api": d.url})))
    try:
        t.start()
        assert wait_until(lambda: len(runtime_api_ports(d)) >= 1, timeout=20)
        answers = [invoke(d, "iso-b", {"secret": f"cold{i}"}) for i in range(10)]
        t.join(60)
    finally:
        stop.set()
        publisher.join(10)
    assert [a["secret"] for a in answers] == [f"cold{i}" for i in range(10)]
    out = attack["out"]
    assert out["results"], "the attacker made no attempt"
    assert [r for r in out["results"] if "status" in r] == []


def test_host_process_is_refused_and_ports_are_not_published(pair, tmp_path):
    assert invoke(pair, "iso-b", {"secret": "x"})["secret"] == "x"
    ports = runtime_api_ports(pair)
    assert len(ports) == 1
    # The test itself, a root process on the host, is refused before anything is served.
    for method, path in (("GET", "/2018-06-01/runtime/invocation/next"),
                         ("POST", "/2018-06-01/runtime/invocation/x/response"),
                         ("GET", "/2018-06-01/ping")):
        c = http.client.HTTPConnection("127.0.0.1", ports[0], timeout=5)
        with pytest.raises((ConnectionResetError, http.client.RemoteDisconnected,
                            BrokenPipeError)):
            c.request(method, path, body=b"{}" if method == "POST" else None)
            c.getresponse().read()
        c.close()
    # A raw connection gets a reset, not an answer.
    s = None
    try:
        s = socket.create_connection(("127.0.0.1", ports[0]), timeout=5)
        s.sendall(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n")
        data = s.recv(100)
    except (ConnectionResetError, BrokenPipeError) as e:
        data = type(e).__name__
    finally:
        if s:
            s.close()
    assert data in ("ConnectionResetError", "BrokenPipeError")
    # B still works afterwards: its own runtime was never refused.
    assert invoke(pair, "iso-b", {"secret": "y"})["secret"] == "y"
    assert "refused a Runtime API connection from uid 0" in pair.daemon_log()

    envs = environments(pair)
    assert envs and all("runtime_api_port" not in e for e in envs)
    assert all(e["uid"] >= 100000 for e in envs)
    ps = run_galley("ps", "--json", "--endpoint", pair.url, "--state-dir", str(pair.state),
                    timeout=30)
    assert ps.returncode == 0, ps.stderr
    assert "runtime_api_port" not in ps.stdout
    assert str(ports[0]) not in ps.stdout


def test_run_as_and_uid_range_exclude_each_other(tmp_path):
    r = run_galley("serve", "--listen", "127.0.0.1:0", "--state-dir", str(tmp_path / "s"),
                   "--run-as", "nobody", "--uid-range", "200000:10", timeout=30)
    assert r.returncode != 0
    assert "exclude each other" in r.stderr


def test_uid_range_is_checked(tmp_path):
    for bad in ("0:10", "100000", "100000:0", "x:1", "4294967290:100"):
        r = run_galley("serve", "--uid-range", bad, "--state-dir", str(tmp_path / "s"),
                       timeout=30)
        assert r.returncode == 2, (bad, r.stderr)
        assert "--uid-range wants FIRST:COUNT" in r.stderr


def test_run_as_shares_one_uid_and_is_still_checked(daemon_factory, tmp_path):
    """--run-as disables per-environment uids: every environment runs as that user, and the
    peer check still refuses the host's root."""
    code = tmp_path / "code"
    code.mkdir()
    (code / "victim.py").write_text(VICTIM)
    os.chmod(code, 0o755)
    os.chmod(code / "victim.py", 0o644)
    common = {"CodeUri": str(code), "Runtime": "python3.11", "Handler": "victim.handler"}
    tpl = write_template(tmp_path, {"A": dict(common, FunctionName="iso-one"),
                                    "B": dict(common, FunctionName="iso-two")})
    d = daemon_factory(template=tpl, extra_args=["--run-as", "nobody"])
    assert "every environment runs as uid 65534" in d.daemon_log()
    one = invoke(d, "iso-one", {"secret": "1"})
    two = invoke(d, "iso-two", {"secret": "2"})
    assert one["uid"] == two["uid"] == 65534
    port = runtime_api_ports(d)[0]
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    with pytest.raises((ConnectionResetError, http.client.RemoteDisconnected)):
        c.request("GET", "/2018-06-01/runtime/invocation/next")
        c.getresponse().read()
    c.close()


def test_unsafe_switch_turns_the_check_off_loudly(daemon_factory, tmp_path, monkeypatch):
    """GALLEY_UNSAFE_NO_RUNTIME_API_PEER_CHECK=1 (for bench/peer-check only) serves a host
    process on an environment's Runtime API, and says so at start."""
    monkeypatch.setenv("GALLEY_UNSAFE_NO_RUNTIME_API_PEER_CHECK", "1")
    d = daemon_factory(template=attack_template(tmp_path)[0])
    assert "UNSAFE: GALLEY_UNSAFE_NO_RUNTIME_API_PEER_CHECK=1: the Runtime API peer check is " \
           "OFF" in d.daemon_log()
    assert invoke(d, "iso-b", {"secret": "x"})["secret"] == "x"
    ports = runtime_api_ports(d)
    assert len(ports) == 1
    # A harmless request from the host (not /next: that would take B's next event) is served.
    c = http.client.HTTPConnection("127.0.0.1", ports[0], timeout=5)
    c.request("GET", "/2018-06-01/ping")
    status = c.getresponse().status
    c.close()
    assert status in (200, 404)
    assert invoke(d, "iso-b", {"secret": "y"})["secret"] == "y"
    assert "refused a Runtime API connection" not in d.daemon_log()
