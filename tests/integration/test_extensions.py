# SPDX-License-Identifier: MIT
"""The Extensions API (2020-01-01): external extensions from a layer's extensions/ directory
(register, INVOKE and SHUTDOWN events, their lines in the function's log stream), Lambda's
life cycle (init waits for every extension, the caller's answer does not wait for an extension
still at work but the next invoke and REPORT do), crashes during init and during an invoke,
internal extensions, AWS_LAMBDA_EXEC_WRAPPER for python and nodejs, and the API's errors."""
import json
import time
import urllib.error
import urllib.request

import pytest

from conftest import zip_files

ROLE = "arn:aws:iam::000000000000:role/lambda-role"

# An external extension in Python: it logs what it gets (one JSON line per step) and sleeps
# EXT_SLEEP seconds after each INVOKE; EXT_CRASH=init exits before calling next, =invoke
# exits on the first INVOKE.
EXT = r'''#!/usr/bin/python3
import json, os, sys, time, urllib.request
base = "http://%s/2020-01-01/extension" % os.environ["AWS_LAMBDA_RUNTIME_API"]
name = os.path.basename(__file__)
def log(kind, body):
    print("EXT %s %s %s" % (name, kind, json.dumps(body)), flush=True)
req = urllib.request.Request(base + "/register", method="POST",
                             data=json.dumps({"events": ["INVOKE", "SHUTDOWN"]}).encode(),
                             headers={"Lambda-Extension-Name": name,
                                      "Lambda-Extension-Accept-Feature": "accountId"})
with urllib.request.urlopen(req) as r:
    eid = r.headers["Lambda-Extension-Identifier"]
    log("registered", {"id": eid, "body": json.loads(r.read())})
crash = os.environ.get("EXT_CRASH")
if crash == "init":
    sys.exit(3)
while True:
    req = urllib.request.Request(base + "/event/next", headers={"Lambda-Extension-Identifier": eid})
    with urllib.request.urlopen(req, timeout=600) as r:
        ev = json.loads(r.read())
    log("event", ev)
    if ev["eventType"] == "SHUTDOWN":
        sys.exit(0)
    if crash == "invoke":
        sys.exit(4)
    time.sleep(float(os.environ.get("EXT_SLEEP", "0")))
    log("done", {"requestId": ev["requestId"]})
'''

PY_APP = """
import os
def handler(event, context):
    return {"ok": True, "wrapped": os.environ.get("WRAPPED", "")}
"""


def layer(c, name, files):
    r = c.publish_layer_version(LayerName=name, Content={"ZipFile": zip_files(files)})
    return r["LayerVersionArn"]


def make_fn(c, name, layers, env=None, runtime="python3.12", timeout=30, code=None):
    code = code or {"app.py": PY_APP}
    handler = "app.handler" if runtime.startswith("python") else "index.handler"
    c.create_function(FunctionName=name, Runtime=runtime, Handler=handler, Role=ROLE,
                      Code={"ZipFile": zip_files(code)}, Layers=layers, Timeout=timeout,
                      Environment={"Variables": env or {}})


def log_text(d, fn):
    root = d.state / "logs" / "aws" / "lambda" / fn
    return "".join(p.read_text(errors="replace") for p in sorted(root.rglob("*")) if p.is_file())


def ext_records(text, kind=None):
    out = []
    for line in text.splitlines():
        i = line.find("EXT ")
        if i < 0:
            continue
        _, name, k, body = line[i:].split(" ", 3)
        if kind is None or k == kind:
            out.append((name, k, json.loads(body)))
    return out


def wait_for(pred, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    return pred()


def test_external_extension_register_invoke_shutdown(daemon_factory):
    d = daemon_factory()
    c = d.client()
    arn = layer(c, "probe", {"extensions/probe": (EXT, 0o755)})
    make_fn(c, "fn", [arn])
    r = c.invoke(FunctionName="fn", Payload=b"{}")
    assert json.loads(r["Payload"].read())["ok"] is True
    assert "FunctionError" not in r
    rid = r["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    c.invoke(FunctionName="fn", Payload=b"{}")
    d.stop()  # the daemon's stop sends SHUTDOWN (spindown) to the extension
    text = log_text(d, "fn")
    reg = ext_records(text, "registered")
    assert len(reg) == 1
    body = reg[0][2]["body"]
    assert body == {"functionName": "fn", "functionVersion": "$LATEST", "handler": "app.handler",
                    "accountId": body.get("accountId")} and body["accountId"]
    events = [e for _, _, e in ext_records(text, "event")]
    assert [e["eventType"] for e in events] == ["INVOKE", "INVOKE", "SHUTDOWN"], text
    inv = events[0]
    assert inv["requestId"] == rid
    assert inv["invokedFunctionArn"].endswith(":function:fn")
    assert inv["tracing"]["type"] == "X-Amzn-Trace-Id"
    assert inv["deadlineMs"] > time.time() * 1000 - 60000
    assert events[2]["shutdownReason"] == "spindown" and events[2]["deadlineMs"] > 0
    # The extension's own lines are in the function's log stream, before START.
    assert text.index("EXT probe registered") < text.index("START RequestId")
