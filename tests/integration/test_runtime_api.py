# SPDX-License-Identifier: MIT
"""The Runtime API as a hostile runtime sees it, through the real daemon: provided.al2023
functions whose `bootstrap` is a Python script (written here) that drives the Runtime API with
http.client, checked from the caller's side with boto3.

Covered: the Lambda-Runtime-* headers of /next (request id = the caller's x-amzn-RequestId,
deadline = now + Timeout, invoked ARN, trace id, client context for sync invokes only), a
second /response for the same id (403, the caller keeps the first), a second /next during
an invoke (403, never the event again, deadline kept), a second /next beside a parked one
(403), a wrong id (400
InvalidRequestID), /error and /init/error out of turn (403), /error with an empty body, a 7 MB
/response (413 to the runtime, Function.ResponseSizeTooLarge to the caller), a runtime that
takes its event and hangs (Sandbox.Timedout, its process group gone), the daemon serving
another function afterwards, and a /next pipelined behind a result (the 202 held until the next
event, and written with it). The bootstrap reports what its own calls got in a later response
body (a warm environment keeps its memory) or in files under OUT_DIR."""
import base64
import json
import os
import re
import time

import pytest

from conftest import write_template

UUID_RE = re.compile(r"^[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}$")
TRACE_RE = re.compile(r"^Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=[01]$")
ARN_PREFIX = "arn:aws:lambda:us-east-1:123456789012:function:"

BOOTSTRAP = r'''#!/usr/bin/python3
# A runtime written against the Runtime API directly; MODE (a function environment variable)
# picks how it misbehaves. `seen` survives across invokes of one warm environment.
import http.client, json, os, subprocess, sys, time

HOST, PORT = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
MODE = os.environ["MODE"]
OUT_DIR = os.environ["OUT_DIR"]


def call(method, path, body=None, headers=None):
    c = http.client.HTTPConnection(HOST, int(PORT), timeout=30)
    try:
        c.request(method, "/2018-06-01/runtime/" + path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data
    except OSError as e:
        return "exception: %s" % e.__class__.__name__, {}, b""
    finally:
        c.close()


def post(rid, what, body, headers=None):
    status, _, data = call("POST", "invocation/%s/%s" % (rid, what), body, headers)
    return {"status": status, "raw": data.decode(errors="replace")}


seen = {}
while True:
    status, headers, data = call("GET", "invocation/next")
    if status != 200:
        sys.exit(2)
    received_ms = int(time.time() * 1000)
    rid = headers["lambda-runtime-aws-request-id"]
    event = json.loads(data)
    step = event.get("step") if isinstance(event, dict) else None
    if MODE == "observe":
        out = {"headers": {k: v for k, v in headers.items() if k.startswith("lambda-runtime-")},
               "received_ms": received_ms, "event": event, "pid": os.getpid()}
        with open(os.path.join(OUT_DIR, rid + ".json.tmp"), "w") as f:
            json.dump(out, f)
        os.rename(os.path.join(OUT_DIR, rid + ".json.tmp"), os.path.join(OUT_DIR, rid + ".json"))
        post(rid, "response", json.dumps(out))
    elif MODE == "hostile" and step == "ids":
        seen["wrong"] = post("00000000-0000-4000-8000-000000000000", "response", b'{"wrong":1}')
        seen["first"] = post(rid, "response", json.dumps({"answer": "first"}))
        seen["second"] = post(rid, "response", json.dumps({"answer": "second"}))
        seen["error_after"] = post(rid, "error", json.dumps({"errorMessage": "late"}),
                                   {"Lambda-Runtime-Function-Error-Type": "Runtime.Late"})
        status, _, data = call("POST", "init/error", b"{}")
        seen["init_error"] = {"status": status, "raw": data.decode(errors="replace")}
    elif MODE == "empty_error":
        post(rid, "error", b"", {"Lambda-Runtime-Function-Error-Type": "Runtime.HandlerFailed"})
    elif MODE == "huge" and step == "huge":
        seen["huge"] = post(rid, "response", b'"' + b"x" * (7 * 1024 * 1024) + b'"')
    elif MODE == "renext":
        # /next again while the invoke is unanswered: refused, never the same event again, and
        # the clock still runs.
        status, again, data = call("GET", "invocation/next")
        kind = json.loads(data).get("errorType") if status == 403 else "-"
        with open(os.path.join(OUT_DIR, "renext"), "w") as f:
            f.write("%s %s %s %s" % (status, kind, again.get("lambda-runtime-aws-request-id") == rid,
                                     rid.encode() in data))
        time.sleep(300)
    elif MODE == "twonext" and step == "park":
        # A /next parked in a thread, then a second one beside it: refused at once; the parked
        # one gets the next event.
        post(rid, "response", b'"parked"')
        import threading
        box = {}
        parked = threading.Thread(target=lambda: box.update(r=call("GET", "invocation/next")))
        parked.start()
        time.sleep(1)
        status, _, data = call("GET", "invocation/next")
        seen["second"] = {"status": status, "raw": data.decode(errors="replace")}
        parked.join(30)
        status, headers, data = box["r"]
        seen["parked_event"] = json.loads(data)
        post(headers["lambda-runtime-aws-request-id"], "response", json.dumps({"seen": seen}))
    elif MODE == "pipeline" and step == "pipe":
        # A refused result, then this invoke's result and a /next pipelined in one write, on a
        # raw socket: which read brings which reply.
        import re, socket
        def req(method, path, body=b""):
            return (("%s /2018-06-01/runtime/%s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                     % (method, path, len(body))).encode() + body)
        s = socket.create_connection((HOST, int(PORT)), timeout=30)
        s.sendall(req("POST", "invocation/00000000-0000-4000-8000-000000000000/response", b"{}")
                  + req("POST", "invocation/%s/response" % rid, b'"piped"')
                  + req("GET", "invocation/next"))
        reads, buf = [], b""
        while b"report" not in buf and len(reads) < 50:
            data = s.recv(65536)
            if not data:
                break
            reads.append(data)
            buf += data
        with_202 = [r for r in reads if b" 202 Accepted" in r]
        seen["pipeline"] = {"first": reads[0][:12].decode(), "400_alone": b" 202 " not in reads[0],
                            "202_with_event": bool(with_202) and b"report" in with_202[0]}
        rid = re.search(rb"(?i)lambda-runtime-aws-request-id: *([0-9a-f-]+)", buf).group(1).decode()
        s.sendall(req("POST", "invocation/%s/response" % rid, json.dumps({"seen": seen}).encode()))
        s.recv(65536)
        s.close()
    elif MODE == "hang":
        child = subprocess.Popen(["/bin/sleep", "300"])
        with open(os.path.join(OUT_DIR, "hang.pids"), "w") as f:
            f.write("%d %d" % (os.getpid(), child.pid))
        time.sleep(300)
    else:
        # "report": what the earlier invokes' calls got.
        post(rid, "response", json.dumps({"seen": seen, "pid": os.getpid()}))
'''


@pytest.fixture
def served(daemon_factory, tmp_path):
    code = tmp_path / "code"
    code.mkdir()
    (code / "bootstrap").write_text(BOOTSTRAP)
    (code / "bootstrap").chmod(0o755)
    out = tmp_path / "out"
    out.mkdir()

    def fn(mode, timeout=5):
        return {"CodeUri": str(code), "Runtime": "provided.al2023", "Handler": "bootstrap",
                "FunctionName": f"rapi-{mode}", "Timeout": timeout,
                "Environment": {"Variables": {"MODE": mode, "OUT_DIR": str(out)}}}

    tpl = write_template(tmp_path, {
        "Observe": fn("observe"),
        "Hostile": fn("hostile"),
        "EmptyError": fn("empty_error"),
        "Huge": fn("huge"),
        "Hang": fn("hang", timeout=1),
        "Renext": fn("renext", timeout=1),
        "Twonext": fn("twonext", timeout=10),
        "Pipeline": fn("pipeline", timeout=10),
    })
    # These runtimes report what they saw into a host directory, so they run outside the
    # sandbox: the Runtime API's behaviour is the same either way (test_sandbox.py covers it).
    d = daemon_factory(template=tpl, extra_args=["--no-sandbox"])
    d.out_dir = out
    return d


def invoke(client, name, payload=b"{}", **kw):
    resp = client.invoke(FunctionName=name, Payload=payload, **kw)
    resp["Body"] = resp["Payload"].read()
    return resp


def request_id(resp):
    return resp["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]


def runtime_pids(daemon, mode):
    """Live descendants of the daemon started for the function with MODE=mode."""
    found = set()
    for pid in daemon.children():
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = f.read().split(b"\0")
        except OSError:
            continue
        if f"MODE={mode}".encode() in env:
            found.add(pid)
    return found


def alive(pid):
    """pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_next_headers(served):
    c = served.client()
    context = {"client": {"installation_id": "abc"}, "custom": {"k": "v"}, "env": {"os": "test"}}
    before = int(time.time() * 1000)
    r = invoke(c, "rapi-observe", json.dumps({"hello": "world"}),
               ClientContext=base64.b64encode(json.dumps(context).encode()).decode())
    after = int(time.time() * 1000)
    assert r["StatusCode"] == 200
    assert "FunctionError" not in r
    body = json.loads(r["Body"])
    h = body["headers"]
    rid = request_id(r)
    assert UUID_RE.match(rid)
    assert h["lambda-runtime-aws-request-id"] == rid
    assert body["event"] == {"hello": "world"}
    # Deadline: wall-clock ms of now + Timeout (5 s), as seen both by the runtime and by us.
    deadline = int(h["lambda-runtime-deadline-ms"])
    assert abs(deadline - (body["received_ms"] + 5000)) < 1000
    assert before + 5000 - 1000 <= deadline <= after + 5000
    assert h["lambda-runtime-invoked-function-arn"] == ARN_PREFIX + "rapi-observe"
    assert TRACE_RE.match(h["lambda-runtime-trace-id"]), h["lambda-runtime-trace-id"]
    assert json.loads(h["lambda-runtime-client-context"]) == context
    assert "lambda-runtime-cognito-identity" not in h

    # Warm: a second invoke, new request id and deadline, no client context this time.
    r2 = invoke(c, "rapi-observe", b"[1,2]")
    b2 = json.loads(r2["Body"])
    assert b2["pid"] == body["pid"]
    assert b2["headers"]["lambda-runtime-aws-request-id"] == request_id(r2) != rid
    assert b2["event"] == [1, 2]
    assert "lambda-runtime-client-context" not in b2["headers"]
    assert int(b2["headers"]["lambda-runtime-deadline-ms"]) > deadline - 1000


def test_trace_header_passed_through(served):
    c = served.client()
    trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"

    def add_trace(request, **kwargs):
        request.headers["X-Amzn-Trace-Id"] = trace

    c.meta.events.register("before-sign.lambda.Invoke", add_trace)
    r = invoke(c, "rapi-observe")
    assert json.loads(r["Body"])["headers"]["lambda-runtime-trace-id"] == trace


def test_async_invoke_gets_no_client_context(served):
    c = served.client()
    context = base64.b64encode(json.dumps({"custom": {"k": "v"}}).encode()).decode()
    r = c.invoke(FunctionName="rapi-observe", InvocationType="Event", Payload=b'{"async":true}',
                 ClientContext=context)
    assert r["StatusCode"] == 202
    rid = request_id(r)
    path = served.out_dir / f"{rid}.json"
    deadline = time.monotonic() + 20
    while not path.exists():
        assert time.monotonic() < deadline, "the async invoke never reached the runtime"
        time.sleep(0.05)
    seen = json.loads(path.read_text())
    assert seen["event"] == {"async": True}
    assert seen["headers"]["lambda-runtime-aws-request-id"] == rid
    assert "lambda-runtime-client-context" not in seen["headers"]
    assert TRACE_RE.match(seen["headers"]["lambda-runtime-trace-id"])


def test_wrong_id_and_second_response(served):
    c = served.client()
    r1 = invoke(c, "rapi-hostile", json.dumps({"step": "ids"}))
    assert r1["StatusCode"] == 200
    assert "FunctionError" not in r1
    assert json.loads(r1["Body"]) == {"answer": "first"}  # not the second response

    r2 = invoke(c, "rapi-hostile", json.dumps({"step": "report"}))
    assert "FunctionError" not in r2
    seen = json.loads(r2["Body"])["seen"]
    assert seen["wrong"]["status"] == 400
    assert seen["wrong"]["raw"] == ('{"errorMessage":"Invalid request ID",'
                                    '"errorType":"InvalidRequestID"}')
    assert seen["first"]["status"] == 202
    assert seen["second"]["status"] == 403
    assert json.loads(seen["second"]["raw"])["errorType"] == "InvalidStateTransition"
    assert seen["error_after"]["status"] == 403
    assert json.loads(seen["error_after"]["raw"])["errorType"] == "InvalidStateTransition"
    assert seen["init_error"]["status"] == 403
    assert json.loads(seen["init_error"]["raw"])["errorType"] == "InvalidStateTransition"


def test_error_with_empty_body(served):
    r = invoke(served.client(), "rapi-empty_error")
    assert r["StatusCode"] == 200
    assert r["FunctionError"] == "Unhandled"
    assert r["Body"] == (b'{"errorMessage":"Unknown application error occurred",'
                         b'"errorType":"Runtime.HandlerFailed"}')


def test_response_over_limit(served):
    c = served.client()
    r = invoke(c, "rapi-huge", json.dumps({"step": "huge"}))
    assert r["StatusCode"] == 200
    assert r["FunctionError"] == "Unhandled"
    body = json.loads(r["Body"])
    assert body["errorType"] == "Function.ResponseSizeTooLarge"
    assert "6291556" in body["errorMessage"]

    # The same environment carries on and tells what its oversized post got.
    r2 = invoke(c, "rapi-huge", json.dumps({"step": "report"}))
    assert "FunctionError" not in r2
    huge = json.loads(r2["Body"])["seen"]["huge"]
    assert huge["status"] == 413
    assert json.loads(huge["raw"])["errorType"] == "RequestEntityTooLarge"


def test_next_again_while_invoking_still_times_out(served):
    """Regression: a second /next during an invoke used to cancel the invoke's deadline."""
    t0 = time.monotonic()
    r = invoke(served.client(read_timeout=30), "rapi-renext")
    assert time.monotonic() - t0 < 10
    assert json.loads(r["Body"])["errorType"] == "Sandbox.Timedout"
    assert (served.out_dir / "renext").read_text() == "403 InvalidStateTransition False False"


def test_second_concurrent_next_is_refused(served):
    """Issue 9: a /next beside a parked one is refused (403 InvalidStateTransition, as the
    emulator answers a /next out of turn); the parked one gets the next event, once."""
    c = served.client()
    r1 = invoke(c, "rapi-twonext", json.dumps({"step": "park"}))
    assert r1["Body"] == b'"parked"'
    r2 = invoke(c, "rapi-twonext", json.dumps({"step": "take"}))
    assert "FunctionError" not in r2
    seen = json.loads(r2["Body"])["seen"]
    assert seen["second"]["status"] == 403
    assert json.loads(seen["second"]["raw"])["errorType"] == "InvalidStateTransition"
    assert "take" not in seen["second"]["raw"]
    assert seen["parked_event"] == {"step": "take"}


def test_pipelined_next_gets_the_202_with_the_next_event(served):
    """A runtime that pipelines /next behind its result (as galley's own do) gets the 202 in one
    write with the next event; a refused result's 400 before it is not held."""
    c = served.client()
    r1 = invoke(c, "rapi-pipeline", json.dumps({"step": "pipe"}))
    assert r1["Body"] == b'"piped"'
    time.sleep(0.5)  # a 202 written on its own would reach the runtime well before the event
    r2 = invoke(c, "rapi-pipeline", json.dumps({"step": "report"}))
    assert "FunctionError" not in r2
    assert json.loads(r2["Body"])["seen"]["pipeline"] == {
        "first": "HTTP/1.1 400", "400_alone": True, "202_with_event": True}


def test_hanging_runtime_times_out_and_daemon_carries_on(served):
    c = served.client()
    t0 = time.monotonic()
    r = invoke(c, "rapi-hang")
    took = time.monotonic() - t0
    assert r["StatusCode"] == 200
    assert r["FunctionError"] == "Unhandled"
    rid = request_id(r)
    assert json.loads(r["Body"]) == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {rid} Error: Task timed out after 1.00 seconds"}
    assert 0.9 <= took < 10

    # The runtime and the child it started are gone (their process group was killed).
    runtime_pid, child_pid = map(int, (served.out_dir / "hang.pids").read_text().split())
    deadline = time.monotonic() + 10
    while runtime_pids(served, "hang") or alive(runtime_pid) or alive(child_pid):
        assert time.monotonic() < deadline, "the hung runtime or its child survived"
        time.sleep(0.05)

    # Another function, and the timed-out one again (a fresh environment), still work.
    r2 = invoke(c, "rapi-observe", b'{"after":"hang"}')
    assert "FunctionError" not in r2
    assert json.loads(r2["Body"])["event"] == {"after": "hang"}
    r3 = invoke(c, "rapi-hang")
    assert json.loads(r3["Body"])["errorType"] == "Sandbox.Timedout"
