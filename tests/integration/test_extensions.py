# SPDX-License-Identifier: MIT
"""The Extensions API (2020-01-01): external extensions from a layer's extensions/ directory
(register, INVOKE and SHUTDOWN events, their lines in the function's log stream), Lambda's
life cycle (init waits for every extension, the caller's answer does not wait for an extension
still at work but the next invoke and REPORT do), crashes during init and during an invoke,
internal extensions, AWS_LAMBDA_EXEC_WRAPPER for python and nodejs, and the API's errors."""
import json
import os
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from conftest import GALLEY_BIN, zip_files

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


def ps(d):
    res = subprocess.run([GALLEY_BIN, "ps", "--endpoint", d.url, "--json", "--state-dir",
                          str(d.state)], capture_output=True, text=True, timeout=30)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


def wait_for(pred, timeout=20):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    return pred()


@pytest.mark.parametrize("isolate", [False, True], ids=["shared-network", "isolate-network"])
def test_external_extension_register_invoke_shutdown(daemon_factory, isolate):
    if isolate and os.geteuid() != 0:
        pytest.skip("network namespaces need root here")
    d = daemon_factory(extra_args=["--isolate-network"] if isolate else ())
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
    # The extension's own lines are in the function's log stream, before START, and Lambda's
    # line for each extension ready at the end of init.
    assert text.index("EXT probe registered") < text.index("START RequestId")
    assert "EXTENSION\tName: probe\tState: Ready\tEvents: [INVOKE, SHUTDOWN]" in text


def test_slow_extension_after_the_response(daemon_factory):
    """The caller gets its answer as soon as the runtime posts it; the environment takes the
    next invoke, and writes END and REPORT, only once the extension called next again."""
    d = daemon_factory()
    c = d.client()
    arn = layer(c, "probe", {"extensions/probe": (EXT, 0o755)})
    make_fn(c, "slow", [arn], env={"EXT_SLEEP": "4"})
    t0 = time.monotonic()
    r1 = c.invoke(FunctionName="slow", Payload=b"{}")
    t1 = time.monotonic()
    assert json.loads(r1["Payload"].read())["ok"] is True
    r2 = c.invoke(FunctionName="slow", Payload=b"{}")
    t2 = time.monotonic()
    assert "FunctionError" not in r2
    assert t1 - t0 < 3.5, t1 - t0  # a cold start, but it did not wait for the extension
    # Meanwhile the environment is busy (never frozen while an extension works).
    assert [e["status"] for e in ps(d)] == ["busy"]
    assert t2 - t1 >= 3.0, t2 - t1  # the next invoke waited for it
    rid1 = r1["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    rid2 = r2["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    text = wait_for(lambda: f"REPORT RequestId: {rid2}" in log_text(d, "slow"), 15)
    assert text, log_text(d, "slow")
    text = log_text(d, "slow")
    # The extension finished invoke 1 before invoke 2 started; REPORT counts its time.
    done1 = text.index(f'EXT probe done {{"requestId": "{rid1}"}}')
    assert done1 < text.index(f"START RequestId: {rid2}")
    assert done1 < text.index(f"END RequestId: {rid1}")
    report = [ln for ln in text.splitlines() if f"REPORT RequestId: {rid1}" in ln][0]
    duration = float(report.split("Duration: ")[1].split(" ms")[0])
    assert duration >= 3900, report
    # Frozen once the runtime and the extension both wait in their next calls.
    assert wait_for(lambda: [e["status"] for e in ps(d)] == ["frozen"], 10), ps(d)


def test_extension_crash_during_init(daemon_factory):
    d = daemon_factory()
    c = d.client()
    arn = layer(c, "probe", {"extensions/probe": (EXT, 0o755)})
    make_fn(c, "crash", [arn], env={"EXT_CRASH": "init"})
    r = c.invoke(FunctionName="crash", Payload=b"{}")
    assert r["FunctionError"] == "Unhandled"
    body = json.loads(r["Payload"].read())
    assert body["errorType"] == "Extension.Crash", body
    assert "exit status 3" in body["errorMessage"]
    text = log_text(d, "crash")
    assert "Status: error\tError Type: Extension.Crash" in text, text


def test_extension_crash_during_an_invoke(daemon_factory):
    d = daemon_factory()
    c = d.client()
    arn = layer(c, "probe", {"extensions/probe": (EXT, 0o755)})
    slow_app = "import time\ndef handler(e, c):\n    time.sleep(1.5)\n    return {'ok': True}\n"
    make_fn(c, "crash", [arn], env={"EXT_CRASH": "invoke"}, code={"app.py": slow_app})
    r = c.invoke(FunctionName="crash", Payload=b"{}")
    assert r["FunctionError"] == "Unhandled"
    body = json.loads(r["Payload"].read())
    assert body["errorType"] == "Extension.Crash", body
    assert "exit status 4" in body["errorMessage"]
    # The environment is gone: the next invoke starts a new one (and fails the same way).
    r = c.invoke(FunctionName="crash", Payload=b"{}")
    assert json.loads(r["Payload"].read())["errorType"] == "Extension.Crash"


INTERNAL_APP = r'''
import json, os, threading, urllib.request, urllib.error
base = "http://%s/2020-01-01/extension" % os.environ["AWS_LAMBDA_RUNTIME_API"]
def call(path, method="GET", headers=None, body=None):
    req = urllib.request.Request(base + path, method=method, headers=headers or {},
                                 data=json.dumps(body).encode() if body is not None else None)
    try:
        with urllib.request.urlopen(req, timeout=600) as r:
            return r.status, dict(r.headers), json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), json.loads(e.read() or b"null")
# Registered at import (init): an internal extension may not subscribe to SHUTDOWN.
BAD_EVENTS = call("/register", "POST", {"Lambda-Extension-Name": "inner"},
                  {"events": ["INVOKE", "SHUTDOWN"]})[::2]
st, hdrs, _ = call("/register", "POST", {"Lambda-Extension-Name": "inner"}, {"events": ["INVOKE"]})
EID = hdrs["Lambda-Extension-Identifier"]
SEEN = []
def loop():
    while True:
        st, _, ev = call("/event/next", headers={"Lambda-Extension-Identifier": EID})
        SEEN.append(ev["requestId"])
        print("INNER got", ev["eventType"], flush=True)
threading.Thread(target=loop, daemon=True).start()
def handler(event, context):
    out = {"bad_events": BAD_EVENTS, "seen_before": list(SEEN), "rid": context.aws_request_id}
    out["late"] = call("/register", "POST", {"Lambda-Extension-Name": "late"}, {"events": []})[::2]
    out["no_id"] = call("/event/next")[::2]
    out["bad_id"] = call("/event/next", headers={"Lambda-Extension-Identifier": "nope"})[::2]
    out["unknown"] = call("/event/next", headers={
        "Lambda-Extension-Identifier": "00000000-0000-4000-8000-000000000000"})[::2]
    out["no_type"] = call("/init/error", "POST", {"Lambda-Extension-Identifier": EID})[::2]
    return out
'''


def test_internal_extension_and_bad_requests(daemon_factory):
    d = daemon_factory()
    c = d.client()
    make_fn(c, "inner", [], code={"app.py": INTERNAL_APP})
    r = c.invoke(FunctionName="inner", Payload=b"{}")
    out = json.loads(r["Payload"].read())
    assert "FunctionError" not in r, out
    assert out["bad_events"] == [403, {"errorType": "Extension.InvalidEventType",
                                       "errorMessage": "SHUTDOWN: ErrorInvalidEventType"}]
    assert out["late"] == [403, {"errorType": "Extension.RegistrationClosed",
                                 "errorMessage": "Extension registration closed already"}]
    assert out["no_id"] == [403, {"errorType": "Extension.MissingExtensionIdentifier",
                                  "errorMessage": "Missing Lambda-Extension-Identifier header"}]
    assert out["bad_id"] == [403, {"errorType": "Extension.InvalidExtensionIdentifier",
                                   "errorMessage": "Invalid Lambda-Extension-Identifier"}]
    assert out["unknown"] == [403, {
        "errorType": "Extension.UnknownExtensionIdentifier",
        "errorMessage": "Unknown extension 00000000-0000-4000-8000-000000000000"}]
    assert out["no_type"] == [403, {"errorType": "Extension.MissingHeader",
                                    "errorMessage": "Lambda-Extension-Function-Error-Type not found"}]
    # The internal extension got the INVOKE of this request (the handler may run first).
    r2 = c.invoke(FunctionName="inner", Payload=b"{}")
    out2 = json.loads(r2["Payload"].read())
    assert out["rid"] in out2["seen_before"], (out, out2)


WRAPPER = '#!/bin/sh\nexport WRAPPED="$*"\nexec "$@"\n'
NODE_APP = "exports.handler = async () => ({ok: true, wrapped: process.env.WRAPPED || ''});\n"


@pytest.mark.parametrize("runtime", ["python3.12", "nodejs20.x"])
def test_exec_wrapper(daemon_factory, runtime):
    d = daemon_factory()
    c = d.client()
    arn = layer(c, "wrap", {"wrapper.sh": (WRAPPER, 0o755)})
    code = {"app.py": PY_APP} if runtime.startswith("python") else {"index.js": NODE_APP}
    make_fn(c, "w", [arn], env={"AWS_LAMBDA_EXEC_WRAPPER": "/opt/wrapper.sh"}, runtime=runtime,
            code=code)
    r = c.invoke(FunctionName="w", Payload=b"{}")
    out = json.loads(r["Payload"].read())
    assert "FunctionError" not in r, out
    # The wrapper ran with the runtime's command (interpreter and bootstrap) as arguments.
    assert "bootstrap" in out["wrapped"], out
    assert ("python" if runtime.startswith("python") else "node") in out["wrapped"], out


def test_extension_that_is_not_executable(daemon_factory):
    """A file in /opt/extensions that cannot be executed (mode 0644) fails the init with
    Lambda's Extension.LaunchError (Lambda starts every file there)."""
    d = daemon_factory()
    c = d.client()
    arn = layer(c, "noexec", {"extensions/private": (EXT, 0o644)})
    make_fn(c, "noexec", [arn])
    r = c.invoke(FunctionName="noexec", Payload=b"{}")
    body = json.loads(r["Payload"].read())
    assert r.get("FunctionError") == "Unhandled", body
    assert body["errorType"] == "Extension.LaunchError", body
    assert "private could not be launched: permission denied" in body["errorMessage"]


def test_function_timeout_covers_the_extensions(daemon_factory):
    """An extension still at work when the function's Timeout passes: the caller already has
    its answer; REPORT says Status: timeout and the environment is replaced."""
    d = daemon_factory()
    c = d.client()
    arn = layer(c, "probe", {"extensions/probe": (EXT, 0o755)})
    make_fn(c, "late", [arn], env={"EXT_SLEEP": "30"}, timeout=2)
    t0 = time.monotonic()
    r = c.invoke(FunctionName="late", Payload=b"{}")
    assert json.loads(r["Payload"].read())["ok"] is True and "FunctionError" not in r
    assert time.monotonic() - t0 < 10  # not the extension's 30 s
    rid = r["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    assert wait_for(lambda: "Status: timeout" in log_text(d, "late"), 15), log_text(d, "late")
    text = log_text(d, "late")
    assert f"{rid} Task timed out after 2.00 seconds" in text
    report = [ln for ln in text.splitlines() if f"REPORT RequestId: {rid}" in ln][0]
    assert "Status: timeout" in report and float(report.split("Duration: ")[1].split(" ms")[0]) >= 1900
    # A new environment takes the next invoke.
    r = c.invoke(FunctionName="late", Payload=b"{}")
    assert "FunctionError" not in r


INIT_ERROR_APP = r'''
import json, os, urllib.request
base = "http://%s/2020-01-01/extension" % os.environ["AWS_LAMBDA_RUNTIME_API"]
req = urllib.request.Request(base + "/register", method="POST", data=b'{"events":[]}',
                             headers={"Lambda-Extension-Name": "inner"})
with urllib.request.urlopen(req) as r:
    eid = r.headers["Lambda-Extension-Identifier"]
req = urllib.request.Request(base + "/init/error", method="POST", data=b"{}",
                             headers={"Lambda-Extension-Identifier": eid,
                                      "Lambda-Extension-Function-Error-Type": "Extension.ConfigInvalid"})
with urllib.request.urlopen(req) as r:
    print("INIT ERROR POSTED", r.status, r.read().decode(), flush=True)
def handler(event, context):
    return "never"
'''


def test_extension_init_error(daemon_factory):
    d = daemon_factory()
    c = d.client()
    make_fn(c, "ie", [], code={"app.py": INIT_ERROR_APP})
    r = c.invoke(FunctionName="ie", Payload=b"{}")
    body = json.loads(r["Payload"].read())
    assert r.get("FunctionError") == "Unhandled", body
    assert body["errorType"] == "Extension.InitError", body
    assert "Extension.ConfigInvalid" in body["errorMessage"]
    text = log_text(d, "ie")
    assert "Status: error\tError Type: Extension.InitError" in text


BASH_EXT = r'''#!/bin/bash
# A bash extension (curl): SHUTDOWN only, and it ignores it (sleeps) to test Lambda's grace.
api="http://${AWS_LAMBDA_RUNTIME_API}/2020-01-01/extension"
hdrs=$(mktemp)
curl -sS -D "$hdrs" -o /dev/null -X POST "$api/register" \
     -H "Lambda-Extension-Name: ${0##*/}" -d '{"events":["SHUTDOWN"]}'
id=$(grep -i '^lambda-extension-identifier:' "$hdrs" | tr -d '\r' | cut -d' ' -f2)
echo "BASH registered $id"
while true; do
    ev=$(curl -sS "$api/event/next" -H "Lambda-Extension-Identifier: $id")
    echo "BASH got $ev"
    case "$ev" in *SHUTDOWN*) sleep 60 ;; esac
done
'''


def test_bash_extension_gets_shutdown_and_its_grace(daemon_factory):
    """SHUTDOWN gives an extension Lambda's 2,000 ms; one that does not finish is killed."""
    d = daemon_factory()
    c = d.client()
    arn = layer(c, "bash", {"extensions/bashext": (BASH_EXT, 0o755)})
    make_fn(c, "b", [arn])
    assert "FunctionError" not in c.invoke(FunctionName="b", Payload=b"{}")
    pids = d.children()
    t0 = time.monotonic()
    d.stop()
    took = time.monotonic() - t0
    assert 1.9 <= took < 10, took
    text = log_text(d, "b")
    assert "BASH registered " in text
    got = [json.loads(ln.split("BASH got ", 1)[1]) for ln in text.splitlines() if "BASH got " in ln]
    assert [e["eventType"] for e in got] == ["SHUTDOWN"], text  # INVOKE was not subscribed
    assert got[0]["shutdownReason"] == "spindown"
    assert "EXTENSION\tName: bashext\tState: Ready\tEvents: [SHUTDOWN]" in text
    for pid in pids:  # the extension (and everything else of the environment) is gone
        assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"


def test_reserved_concurrency_counts_the_extensions_time(daemon_factory):
    """The environment is busy until its extensions are done, so with a reservation of 1 a
    second invoke meanwhile is throttled, as on Lambda; once they are done it runs."""
    from botocore.exceptions import ClientError
    d = daemon_factory()
    c = d.client()
    arn = layer(c, "probe", {"extensions/probe": (EXT, 0o755)})
    make_fn(c, "one", [arn], env={"EXT_SLEEP": "4"})
    c.put_function_concurrency(FunctionName="one", ReservedConcurrentExecutions=1)
    assert "FunctionError" not in c.invoke(FunctionName="one", Payload=b"{}")
    with pytest.raises(ClientError) as e:
        c.invoke(FunctionName="one", Payload=b"{}")
    assert e.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert wait_for(lambda: [x["status"] for x in ps(d)] != ["busy"], 15), ps(d)
    assert "FunctionError" not in c.invoke(FunctionName="one", Payload=b"{}")


# Starts slowly: 300 ms, then a marker file in /tmp just before it registers.
SLOW_START_EXT = r'''#!/usr/bin/python3
import json, os, time, urllib.request
base = "http://%s/2020-01-01/extension" % os.environ["AWS_LAMBDA_RUNTIME_API"]
time.sleep(0.3)
open(os.path.join(os.environ.get("TMPDIR", "/tmp"), "ext-marker"), "w").close()
req = urllib.request.Request(base + "/register", method="POST", data=b'{"events": ["INVOKE"]}',
                             headers={"Lambda-Extension-Name": os.path.basename(__file__)})
with urllib.request.urlopen(req) as r:
    eid = r.headers["Lambda-Extension-Identifier"]
while True:
    req = urllib.request.Request(base + "/event/next", headers={"Lambda-Extension-Identifier": eid})
    urllib.request.urlopen(req, timeout=600).read()
'''
MARKER_APP = """
import os
SEEN_AT_IMPORT = os.path.exists(os.path.join(os.environ.get("TMPDIR", "/tmp"), "ext-marker"))
def handler(event, context):
    return {"seen": SEEN_AT_IMPORT}
"""


@pytest.mark.parametrize("runtime", ["python3.12", "provided.al2023"])
def test_runtime_starts_after_the_extensions_registered(daemon_factory, runtime):
    """Lambda's init phase: extension init, then runtime init, then function init. The handler
    module is imported only after the (slow) extension registered."""
    d = daemon_factory()
    c = d.client()
    arn = layer(c, "slowstart", {"extensions/slowstart": (SLOW_START_EXT, 0o755)})
    if runtime.startswith("python"):
        make_fn(c, "order", [arn], code={"app.py": MARKER_APP})
    else:  # a shell bootstrap: its first act looks for the marker
        boot = ("#!/bin/sh\n[ -e \"${TMPDIR:-/tmp}/ext-marker\" ] && s=true || s=false\n"
                "api=http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation\n"
                "while true; do\n"
                "  rid=$(curl -sS -D - -o /dev/null \"$api/next\" | tr -d '\\r' |"
                " sed -n 's/^[Ll]ambda-[Rr]untime-[Aa]ws-[Rr]equest-[Ii]d: //p')\n"
                "  curl -sS -X POST \"$api/$rid/response\" -d \"{\\\"seen\\\": $s}\" >/dev/null\n"
                "done\n")
        c.create_function(FunctionName="order", Runtime=runtime, Handler="x", Role=ROLE,
                          Code={"ZipFile": zip_files({"bootstrap": (boot, 0o755)})},
                          Layers=[arn], Timeout=30)
    r = c.invoke(FunctionName="order", Payload=b"{}")
    out = json.loads(r["Payload"].read())
    assert "FunctionError" not in r, out
    assert out == {"seen": True}, out


# SHUTDOWN only: it logs the event, works on it for SLOW_SHUTDOWN seconds, then logs again.
SLOW_SHUTDOWN_EXT = r'''#!/usr/bin/python3
import json, os, time, urllib.request
base = "http://%s/2020-01-01/extension" % os.environ["AWS_LAMBDA_RUNTIME_API"]
req = urllib.request.Request(base + "/register", method="POST", data=b'{"events": ["SHUTDOWN"]}',
                             headers={"Lambda-Extension-Name": os.path.basename(__file__)})
with urllib.request.urlopen(req) as r:
    eid = r.headers["Lambda-Extension-Identifier"]
while True:
    req = urllib.request.Request(base + "/event/next", headers={"Lambda-Extension-Identifier": eid})
    ev = json.loads(urllib.request.urlopen(req, timeout=600).read())
    print("EXT GOT", ev["eventType"], ev["shutdownReason"], flush=True)
    time.sleep(float(os.environ["SLOW_SHUTDOWN"]))
    print("EXT DONE", flush=True)
'''
SIGTERM_APP = """
import signal, sys
def on_term(signum, frame):
    print("RUNTIME SIGTERM", flush=True)
    sys.exit(0)
signal.signal(signal.SIGTERM, on_term)
def handler(event, context):
    return {"ok": True}
"""


@pytest.mark.parametrize("slow", ["1", "5"])
def test_shutdown_phase_as_lambda(daemon_factory, slow):
    """Lambda's shutdown phase with an external extension lasts 2,000 ms at most: the runtime
    gets SIGTERM at its start, with the extension's SHUTDOWN (not after the extension's grace),
    the runtime's exit does not cut the extension's work short, and an extension still at work
    at 2,000 ms is killed."""
    d = daemon_factory()
    c = d.client()
    arn = layer(c, "slowstop", {"extensions/slowstop": (SLOW_SHUTDOWN_EXT, 0o755)})
    make_fn(c, "stop", [arn], env={"SLOW_SHUTDOWN": slow}, code={"app.py": SIGTERM_APP})
    assert "FunctionError" not in c.invoke(FunctionName="stop", Payload=b"{}")
    t0 = time.monotonic()
    d.stop()
    took = time.monotonic() - t0
    text = log_text(d, "stop")
    assert "EXT GOT SHUTDOWN spindown" in text and "RUNTIME SIGTERM" in text, text
    if slow == "1":  # done within the phase: its last line is there, after the runtime's
        assert text.index("RUNTIME SIGTERM") < text.index("EXT DONE"), text
        assert took < 1.9, took  # the phase ended when both were done
    else:  # still at work at 2,000 ms: killed then
        assert "EXT DONE" not in text, text
        assert 1.9 <= took < 2.45, took  # not 2,000 ms then the runtime's 500 ms


def test_runtime_crash_beside_extensions(daemon_factory):
    """With extensions the runtime is the launcher's child: its death by a signal still reads
    as Lambda words it, and its exit code as that code."""
    d = daemon_factory()
    c = d.client()
    arn = layer(c, "probe", {"extensions/probe": (EXT, 0o755)})
    app = ("import os, signal\ndef handler(e, c):\n"
           "    os.kill(os.getpid(), signal.SIGSEGV) if e.get('sig') else os._exit(3)\n")
    make_fn(c, "dies", [arn], code={"app.py": app})
    for payload, want in [(b'{"sig": 1}', "signal: segmentation fault"), (b"{}", "exit status 3")]:
        r = c.invoke(FunctionName="dies", Payload=payload)
        body = json.loads(r["Payload"].read())
        assert body["errorType"] == "Runtime.ExitError", body
        assert body["errorMessage"].endswith("Runtime exited with error: " + want), body
