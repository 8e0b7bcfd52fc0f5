# SPDX-License-Identifier: MIT
"""The Telemetry API (2022-07-01) and the Logs API (2020-08-15): external extensions in a layer
subscribe during init (an HTTP listener on sandbox.localdomain, a TCP one for the Logs API),
receive platform.start, platform.runtimeDone and platform.report with each invoke's request id
and the function's log lines, the init events from before they subscribed, their subscription
event; the subscription errors as Lambda answers them; a subscriber too slow for its traffic
gets platform.logsDropped. The extensions print what they receive ("TEL <name> <event>") to the
function's log stream, which the test reads while it invokes: an environment frozen between
invokes reads its batches at the next one, as in Lambda."""
import json
import os
import socket
import time
import urllib.request

import pytest

from conftest import zip_files

ROLE = "arn:aws:iam::000000000000:role/lambda-role"

# One extension program, four roles by its file name: "tel" subscribes to the Telemetry API
# over HTTP and first probes the subscription errors, "logs" to the Logs API over TCP, "slow"
# to the Telemetry API over HTTP, taking SLOW seconds per batch, "lazy" the same with batches
# every 30 s at most, "exttel" to extension records instead of function ones, any other name
# plainly to platform and function records. Its own printed lines come back to a subscriber
# of extension records: they are skipped.
EXT = r'''#!/usr/bin/python3
import http.server, json, os, socket, sys, threading, time, urllib.error, urllib.request
api = "http://%s" % os.environ["AWS_LAMBDA_RUNTIME_API"]
name = os.path.basename(__file__)
port = int(os.environ["PORT_" + name.upper()])
def out(*parts):  # one write per line: the function and the extensions share the pipe
    os.write(1, (" ".join(parts) + "\n").encode())
def call(method, path, body=None, eid=None):
    h = {"Lambda-Extension-Name": name}
    if eid:
        h["Lambda-Extension-Identifier"] = eid
    req = urllib.request.Request(api + path, method=method, headers=h,
                                 data=None if body is None else json.dumps(body).encode())
    try:
        with urllib.request.urlopen(req, timeout=600) as r:
            return r.status, r.read().decode(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), e.headers
def show(ev):
    rec = ev.get("record")
    if ev["type"] in ("function", "extension") and isinstance(rec, str) and rec[:4] in ("TEL ", "PROB"):
        return
    out("TEL", name, json.dumps(ev))
class Batch(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        batch = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if name == "slow":  # one line per batch for the function's lines: fewer echoes
            nums = [int(e["record"][5:]) for e in batch if e["type"] == "function" and
                    isinstance(e["record"], str) and e["record"].startswith("line ")]
            show({"type": "x-lines", "count": len(nums), "ordered": nums == sorted(nums)})
            batch = [e for e in batch if e["type"] != "function"]
        for ev in batch:
            show(ev)
        time.sleep(float(os.environ.get("SLOW", "0")) if name == "slow" else 0)
        self.send_response(200)
        self.end_headers()
    def log_message(self, *a):
        pass
def tcp_reader():
    srv = socket.create_server(("sandbox.localdomain", port))
    conn, _ = srv.accept()
    buf = b""
    while True:
        data = conn.recv(65536)
        if not data:
            return
        buf += data
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            show(json.loads(line))
_, _, h = call("POST", "/2020-01-01/extension/register", {"events": ["INVOKE", "SHUTDOWN"]})
eid = h["Lambda-Extension-Identifier"]
tel = {"schemaVersion": "2022-12-13",
       "types": ["platform", "extension" if name == "exttel" else "function"],
       "buffering": {"timeoutMs": 30000 if name == "lazy" else 25},
       "destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain:%d/in" % port}}
if name == "logs":
    threading.Thread(target=tcp_reader, daemon=True).start()
    time.sleep(0.2)
    sub = ("/2020-08-15/logs", {"schemaVersion": "2021-03-18", "types": ["platform", "function"],
                                "buffering": {"timeoutMs": 25},
                                "destination": {"protocol": "TCP", "port": port}})
else:
    srv = http.server.ThreadingHTTPServer(("sandbox.localdomain", port), Batch)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    sub = ("/2022-07-01/telemetry", tel)
def probe(label, path, body, eid):
    s, b, _ = call("PUT", path, body, eid)
    out("PROBE", label, str(s), b.replace("\n", " "))
if name == "tel":
    probe("noid", "/2022-07-01/telemetry", tel, None)
    probe("badid", "/2022-07-01/telemetry", tel, "00000000-0000-0000-0000-000000000000")
    bad = dict(tel, types=[], destination={"protocol": "HTTP", "URI": "http://sandbox.localdomain/x"})
    probe("invalid", "/2022-07-01/telemetry", bad, eid)
    probe("host", "/2022-07-01/telemetry",
          dict(tel, destination={"protocol": "HTTP", "URI": "http://example.com:80/"}), eid)
    probe("body", "/2022-07-01/telemetry", {"schemaVersion": "2022-12-13"}, eid)
s, b, _ = call("PUT", sub[0], sub[1], eid)
out("PROBE", "subscribe", str(s), b)
out("HELLO", name)  # an extension's own line: an "extension" record, not a "function" one
if name == "tel":
    probe("other-api", "/2020-08-15/logs", {"types": ["platform"],
          "destination": {"protocol": "TCP", "port": port + 1}}, eid)
    probe("again", sub[0], sub[1], eid)
late = False
while True:
    s, b, _ = call("GET", "/2020-01-01/extension/event/next", eid=eid)
    ev = json.loads(b)
    if ev["eventType"] == "SHUTDOWN":
        time.sleep(1.5)  # the last batches come during the grace
        sys.exit(0)
    if name == "tel" and not late:
        late = True
        probe("late", sub[0], sub[1], eid)
'''

APP = """
import json, sys, time
def handler(event, context):
    sys.stdout.write("hello %s\\n" % context.aws_request_id)
    if "json" in event:
        sys.stdout.write(json.dumps(event["json"]) + "\\n")
    for i in range(event.get("lines", 0)):
        sys.stdout.write("line %d\\n" % i)
    sys.stdout.flush()
    time.sleep(event.get("sleep", 0))
    return {"ok": True}
"""


def invoke(c, fn, payload=None):
    r = c.invoke(FunctionName=fn, Payload=json.dumps(payload or {}).encode())
    assert json.loads(r["Payload"].read()) == {"ok": True}
    return r["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]


def invoke_until(d, c, fn, pred, tries=30):
    """Invoke fn (a short pause between) until pred(log text) holds; the text."""
    for _ in range(tries):
        text = log_text(d, fn)
        if pred(text):
            return text
        time.sleep(0.2)
        invoke(c, fn)
    text = log_text(d, fn)
    assert pred(text), text[-3000:]
    return text


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# A provided runtime whose /response body comes 0.3 s after its head: platform.runtimeDone's
# responseDuration covers that gap, its responseLatency the time before the head.
SLOW_BODY_BOOTSTRAP = r'''#!/usr/bin/python3
import http.client, os, time
host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].rsplit(":", 1)
for _ in range(1000):
    c = http.client.HTTPConnection(host, int(port), timeout=600)
    c.request("GET", "/2018-06-01/runtime/invocation/next")
    r = c.getresponse()
    r.read()
    rid, body = r.getheader("Lambda-Runtime-Aws-Request-Id"), b'{"ok": true}'
    c.putrequest("POST", "/2018-06-01/runtime/invocation/%s/response" % rid)
    c.putheader("Content-Length", str(len(body)))
    c.endheaders()
    time.sleep(0.3)
    c.send(body)
    c.getresponse().read()
    c.close()
'''


def make_fn(c, name, extensions, env, runtime="python3.12", handler="app.handler", code=None):
    files = {f"extensions/{e}": (EXT, 0o755) for e in extensions}
    arn = c.publish_layer_version(LayerName=f"{name}-exts", Content={
        "ZipFile": zip_files(files)})["LayerVersionArn"]
    c.create_function(FunctionName=name, Runtime=runtime, Handler=handler, Role=ROLE,
                      Code={"ZipFile": zip_files(code or {"app.py": APP})}, Layers=[arn],
                      Timeout=30, Environment={"Variables": env})


def log_text(d, fn):
    root = d.state / "logs" / "aws" / "lambda" / fn
    return "".join(p.read_text(errors="replace") for p in sorted(root.rglob("*")) if p.is_file())


def received(text, who):
    """The events extension who printed, in order."""
    out = []
    for line in text.splitlines():
        i = line.find(f"TEL {who} ")
        if i >= 0:
            out.append(json.loads(line[i + len(f"TEL {who} "):]))
    return out


def probes(text):
    out = {}
    for line in text.splitlines():
        i = line.find("PROBE ")
        if i >= 0:
            _, label, status, body = line[i:].split(" ", 3)
            out[label] = (int(status), json.loads(body))
    return out


def of_type(events, type_, rid=None):
    return [e for e in events if e["type"] == type_ and
            (rid is None or isinstance(e["record"], dict) and e["record"].get("requestId") == rid)]


@pytest.mark.parametrize("network", ["shared", "isolated"])
def test_subscribers_receive_platform_events_and_function_lines(daemon_factory, network):
    if network == "isolated" and os.geteuid() != 0:
        pytest.skip("network namespaces need root here")
    d = daemon_factory(extra_args=["--isolate-network"] if network == "isolated" else [])
    if network == "isolated" and "net" not in d.daemon_log().split("sandbox: namespaces", 1)[-1][:40]:
        pytest.skip("the kernel grants no network namespace here")
    c = d.client()
    make_fn(c, "fn", ["tel", "logs"], {"PORT_TEL": str(free_port()),
                                       "PORT_LOGS": str(free_port())})
    rids = [invoke(c, "fn") for _ in range(2)]
    # Batches of a frozen environment are read at its next invoke, as in Lambda.
    text = invoke_until(d, c, "fn", lambda t: all(
        of_type(received(t, w), "platform.report", rid) for w in ("tel", "logs") for rid in rids))
    d.stop()

    tel = received(text, "tel")
    assert tel, text
    init = of_type(tel, "platform.initStart")  # from before the subscription: replayed
    assert init and init[0]["record"]["functionName"] == "fn"
    assert of_type(tel, "platform.initRuntimeDone")[0]["record"]["status"] == "success"
    assert of_type(tel, "platform.initReport")[0]["record"]["metrics"]["durationMs"] > 0
    exts = [e["record"] for e in of_type(tel, "platform.extension")]  # registered before
    assert {"name": "tel", "state": "Ready", "events": ["INVOKE", "SHUTDOWN"]} in exts
    assert {"logs"} <= {e["name"] for e in exts}
    subs = of_type(tel, "platform.telemetrySubscription")
    assert {"name": "tel", "state": "Subscribed", "types": ["platform", "function"]} in \
        [s["record"] for s in subs]
    for i, rid in enumerate(rids):
        assert len(of_type(tel, "platform.start", rid)) == 1, (rid, tel)
        done = of_type(tel, "platform.runtimeDone", rid)[0]["record"]
        assert done["status"] == "success"
        assert done["metrics"]["producedBytes"] == len(b'{"ok": true}')
        assert [s["name"] for s in done["spans"]] == ["responseLatency", "responseDuration"]
        report = of_type(tel, "platform.report", rid)[0]["record"]
        assert report["status"] == "success"
        m = report["metrics"]
        assert m["memorySizeMB"] == 128 and m["billedDurationMs"] >= 1
        assert m["maxMemoryUsedMB"] >= 1 and m["durationMs"] > 0
        assert ("initDurationMs" in m) == (i == 0)  # cold start only
        lines = [e for e in of_type(tel, "function") if e["record"] == f"hello {rid}"]
        assert len(lines) == 1 and lines[0]["time"].endswith("Z")
    order = [e["type"] for e in tel if e["type"] in ("platform.start", "platform.report")]
    assert order[:4] == ["platform.start", "platform.report"] * 2  # in order, per subscriber

    logs = received(text, "logs")  # the Logs API, 2021-03-18, over TCP
    assert of_type(logs, "platform.initStart") == []  # not a Logs API event
    assert "logs" in [s["record"]["name"] for s in of_type(logs, "platform.logsSubscription")]
    for rid in rids:
        assert of_type(logs, "platform.start", rid)
        assert of_type(logs, "platform.runtimeDone", rid)[0]["record"] == {
            "requestId": rid, "status": "success"}
        assert of_type(logs, "platform.end", rid)[0]["record"] == {"requestId": rid}
        rec = of_type(logs, "platform.report", rid)[0]["record"]
        assert set(rec) == {"requestId", "metrics"}
        assert [e for e in of_type(logs, "function") if e["record"] == f"hello {rid}"]

    p = probes(text)
    assert p["noid"] == (403, {"errorType": "Extension.MissingExtensionIdentifier",
                               "errorMessage": "Missing Lambda-Extension-Identifier header"})
    assert p["badid"][0] == 403 and \
        p["badid"][1]["errorType"] == "Extension.InvalidExtensionIdentifier"
    assert p["invalid"] == (400, {"errorType": "Telemetry.ValidationError",
                                  "errorMessage": "URI port is not provided; types should not "
                                                  "be empty"})
    assert p["host"] == (403, {"errorType": "Telemetry.AccessDenied", "errorMessage":
                               "Only 'sandbox.localdomain' hostname is supported."})
    assert p["body"] == (400, {"errorType": "Telemetry.DeserializationError",
                               "errorMessage": "missing field `destination`"})
    assert p["subscribe"] == (200, "OK")
    assert p["other-api"][0] == 400 and p["other-api"][1]["errorType"] == "Logs.AccessDenied"
    assert p["again"] == (200, "OK")  # idempotent: still one subscription
    assert len([s for s in subs if s["record"]["name"] == "tel"]) == 1
    assert p["late"] == (403, {"errorType": "Telemetry.SubscriptionClosed",
                               "errorMessage": "Telemetry API subscription is closed already"})


def test_runtime_done_spans_split_at_the_response_head(daemon_factory):
    d = daemon_factory()
    c = d.client()
    make_fn(c, "slowbody", ["tel"], {"PORT_TEL": str(free_port())}, runtime="provided.al2023",
            handler="x", code={"bootstrap": (SLOW_BODY_BOOTSTRAP, 0o755)})
    rid = invoke(c, "slowbody")
    text = invoke_until(d, c, "slowbody", lambda t: of_type(received(t, "tel"),
                                                             "platform.runtimeDone", rid))
    d.stop()
    done = of_type(received(text, "tel"), "platform.runtimeDone", rid)[0]["record"]
    spans = {s["name"]: s["durationMs"] for s in done["spans"]}
    assert spans["responseDuration"] >= 250, done
    assert spans["responseLatency"] < spans["responseDuration"], done
    assert spans["responseLatency"] + spans["responseDuration"] <= \
        done["metrics"]["durationMs"] + 0.05, done


def test_slow_subscriber_gets_logs_dropped(daemon_factory):
    d = daemon_factory()
    c = d.client()
    make_fn(c, "slowfn", ["slow"], {"PORT_SLOW": str(free_port()), "SLOW": "0.5"})
    # 6,000 lines while the subscriber takes 0.5 s per batch; the invoke lasts 1.5 s more, so
    # the environment is not frozen while the subscriber catches up.
    rid = invoke(c, "slowfn", {"lines": 6000, "sleep": 1.5})
    text = invoke_until(d, c, "slowfn", lambda t: of_type(received(t, "slow"),
                                                          "platform.report", rid))
    d.stop()
    events = received(text, "slow")
    dropped = of_type(events, "platform.logsDropped")
    assert dropped, events[-5:]
    rec = dropped[0]["record"]
    assert rec["droppedRecords"] > 0 and rec["droppedBytes"] > rec["droppedRecords"]
    assert rec["reason"].startswith("Consumer seems to have fallen behind")
    batches = of_type(events, "x-lines")
    assert 0 < sum(b["count"] for b in batches) < 6000  # at most maxItems (1000) kept behind
    assert all(b["ordered"] for b in batches)
    # The newest survived: the invoke's report came through after the drops.
    assert of_type(events, "platform.report", rid)


def test_stop_sends_what_waits(daemon_factory):
    """A batch that would wait 30 s goes when the environment stops, while the extension
    still runs in its SHUTDOWN grace."""
    d = daemon_factory()
    c = d.client()
    make_fn(c, "lazyfn", ["lazy"], {"PORT_LAZY": str(free_port())})
    rid = invoke(c, "lazyfn")
    assert received(log_text(d, "lazyfn"), "lazy") == []  # nothing due yet
    d.stop()
    events = received(log_text(d, "lazyfn"), "lazy")
    assert of_type(events, "platform.start", rid) and of_type(events, "platform.report", rid)
    assert [e for e in of_type(events, "function") if e["record"] == f"hello {rid}"]


def test_json_log_format_gives_object_records(daemon_factory):
    """With LoggingConfig LogFormat JSON a function line that is a JSON object reaches a
    Telemetry API subscriber as an object record; other lines stay text."""
    d = daemon_factory()
    c = d.client()
    make_fn(c, "jsonfn", ["lazy"], {"PORT_LAZY": str(free_port())})
    # Debian's boto3 predates LoggingConfig: the REST call itself.
    req = urllib.request.Request(
        f"{d.url}/2015-03-31/functions/jsonfn/configuration", method="PUT",
        data=json.dumps({"LoggingConfig": {"LogFormat": "JSON"}}).encode(),
        headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        assert json.loads(r.read())["LoggingConfig"]["LogFormat"] == "JSON"
    rid = invoke(c, "jsonfn", {"json": {"level": "INFO", "message": "structured"}})
    d.stop()
    events = received(log_text(d, "jsonfn"), "lazy")
    records = [e["record"] for e in of_type(events, "function")]
    assert {"level": "INFO", "message": "structured"} in records, records
    assert f"hello {rid}" in records


def test_extension_lines_are_extension_records(daemon_factory):
    """An external extension's own output has its own pipe: its lines are in the function's log
    stream, and subscribers get them as "extension" records, never as "function" ones."""
    d = daemon_factory()
    c = d.client()
    make_fn(c, "extfn", ["exttel", "fntel"], {"PORT_EXTTEL": str(free_port()),
                                             "PORT_FNTEL": str(free_port())})
    text = invoke_until(d, c, "extfn", lambda t: of_type(received(t, "exttel"), "extension") and
                        of_type(received(t, "fntel"), "function"))
    ext_got, fn_got = received(text, "exttel"), received(text, "fntel")
    assert "HELLO exttel" in [e["record"] for e in of_type(ext_got, "extension")], ext_got
    assert not of_type(ext_got, "function"), ext_got
    assert not [e for e in fn_got if "HELLO" in json.dumps(e)], fn_got
    assert [e for e in of_type(fn_got, "function") if e["record"].startswith("hello ")], fn_got
    assert "HELLO fntel" in text and "HELLO exttel" in text  # in the function's log stream
