# SPDX-License-Identifier: MIT
"""Durable asynchronous invocation end to end with boto3: Event invokes run with the 202's
request id, retries are counted (from the function's log streams and the OnFailure record's
approximateInvokeCount), a throttled event expires at MaximumEventAgeInSeconds, destination
records are checked field by field (a galley function destination and the SQS / EventBridge
file sinks), dead-letter messages, the SIGKILL durability test with 120 queued events, and the
EventInvokeConfig API with its errors by exception name.

Every async delay is divided by --async-time-scale, so Lambda's minutes of retry delay become
tenths of a second here; every wait below is a bounded poll."""
import concurrent.futures
import datetime
import json
import pathlib
import re
import signal
import struct
import time
import zlib

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import write_template, zip_files

ACCOUNT = "123456789012"
ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:"
ISO_MS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$")

FUNCTION_CODE = '''
import json, time

def record(event, context):
    print("EVENT " + context.aws_request_id + " " + json.dumps(event, sort_keys=True))
    return {"ok": True, "rid": context.aws_request_id}

def fail(event, context):
    print("ATTEMPT " + context.aws_request_id)
    raise ValueError("boom " + str(event.get("n", "")))

def slow(event, context):
    time.sleep(float(event.get("seconds", 1)))
    return "slept"
'''


def write_functions(tmp_path):
    code = pathlib.Path(tmp_path) / "fn"
    code.mkdir(exist_ok=True)
    (code / "app.py").write_text(FUNCTION_CODE)
    fns = {}
    for lid, name, handler in [("Rec", "rec", "app.record"), ("Sink", "sink", "app.record"),
                               ("Failer", "failer", "app.fail"), ("Slow", "slow", "app.slow")]:
        fns[lid] = {"CodeUri": str(code), "Handler": handler, "Runtime": "python3.11",
                    "FunctionName": name, "Timeout": 60}
    return write_template(tmp_path, fns)


def wait_for(what, check, timeout=60.0, interval=0.1):
    """Poll check() until it returns something truthy; fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


def log_text(daemon, fn):
    """Everything function fn wrote to its log streams under <state>/logs."""
    root = daemon.state / "logs" / "aws" / "lambda" / fn
    if not root.exists():
        return ""
    return "".join(p.read_text(errors="replace") for p in sorted(root.rglob("*")) if p.is_file())


def sink_lines(daemon, service, name):
    p = daemon.state / "destinations" / service / f"{name}.jsonl"
    if not p.exists():
        return []
    return [json.loads(line) for line in p.read_text().splitlines() if line.strip()]


def event_invoke(client, name, payload):
    r = client.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps(payload))
    assert r["StatusCode"] == 202
    assert r["Payload"].read() == b""
    return r["ResponseMetadata"]["RequestId"]


def destination_events(daemon, fn="sink"):
    """Destination records a galley function received (it prints them as EVENT lines)."""
    out = []
    for line in log_text(daemon, fn).splitlines():
        m = re.search(r"EVENT (\S+) (\{.*\})$", line)
        if m:
            out.append((m.group(1), json.loads(m.group(2))))
    return out


@pytest.fixture
def served(daemon_factory, tmp_path):
    tpl = write_functions(tmp_path)
    return daemon_factory(template=tpl, extra_args=["--async-time-scale", "600",
                                                    "--python", "/usr/bin/python3"])


def test_event_runs_with_the_202_request_id(served):
    c = served.client()
    rid = event_invoke(c, "rec", {"hello": "world"})
    text = wait_for("the event's run", lambda: f"REPORT RequestId: {rid}" in log_text(served, "rec")
                    and log_text(served, "rec"))
    assert f"EVENT {rid} " + json.dumps({"hello": "world"}) in text
    assert text.count(f"START RequestId: {rid}") == 1
    # An empty Event body is the event {}.
    r = c.invoke(FunctionName="rec", InvocationType="Event")
    rid2 = r["ResponseMetadata"]["RequestId"]
    wait_for("the empty event", lambda: f"EVENT {rid2} {{}}" in log_text(served, "rec"))
    # Unknown function: 404 at once, nothing queued.
    with pytest.raises(ClientError) as e:
        c.invoke(FunctionName="nope", InvocationType="Event", Payload=b"{}")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_retries_counted_and_on_failure_record_to_sqs_sink(served):
    c = served.client()
    c.put_function_event_invoke_config(
        FunctionName="failer",
        DestinationConfig={"OnFailure": {"Destination": f"arn:aws:sqs:us-east-1:{ACCOUNT}:failures"}})
    start = time.time()
    rid = event_invoke(c, "failer", {"n": 7})
    lines = wait_for("the OnFailure record", lambda: sink_lines(served, "sqs", "failures"))
    assert len(lines) == 1
    rec = lines[0]
    # Default MaximumRetryAttempts is 2: three attempts, each with the event's request id.
    text = log_text(served, "failer")
    assert text.count(f"START RequestId: {rid}") == 3
    assert text.count(f"ATTEMPT {rid}") == 3
    assert set(rec) == {"version", "timestamp", "requestContext", "requestPayload",
                        "responseContext", "responsePayload"}
    assert rec["version"] == "1.0"
    assert ISO_MS.match(rec["timestamp"])
    ts = datetime.datetime.strptime(rec["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()
    assert start - 5 < ts < time.time() + 5
    assert rec["requestContext"] == {"requestId": rid, "functionArn": ARN + "failer:$LATEST",
                                     "condition": "RetriesExhausted",
                                     "approximateInvokeCount": 3}
    assert rec["requestPayload"] == {"n": 7}
    assert rec["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST",
                                      "functionError": "Unhandled"}
    assert rec["responsePayload"]["errorType"] == "ValueError"
    assert rec["responsePayload"]["errorMessage"] == "boom 7"

    # MaximumRetryAttempts 0: one attempt only; an EventBridge bus gets Lambda's envelope.
    c.put_function_event_invoke_config(
        FunctionName="failer", MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {
            "Destination": f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/my-bus"}})
    rid0 = event_invoke(c, "failer", {"n": 0})
    env = wait_for("the EventBridge record", lambda: sink_lines(served, "events", "my-bus"))[0]
    assert log_text(served, "failer").count(f"START RequestId: {rid0}") == 1
    assert env["source"] == "lambda"
    assert env["detail-type"] == "Lambda Function Invocation Result - Failure"
    assert env["account"] == ACCOUNT and env["region"] == "us-east-1"
    assert env["resources"] == [ARN + "failer:$LATEST"]
    assert env["detail"]["requestContext"]["requestId"] == rid0
    assert env["detail"]["requestContext"]["approximateInvokeCount"] == 1
    assert env["detail"]["requestContext"]["condition"] == "RetriesExhausted"
    assert len(sink_lines(served, "sqs", "failures")) == 1


def test_on_success_and_on_failure_to_a_galley_function(served):
    c = served.client()
    c.put_function_event_invoke_config(
        FunctionName="rec", DestinationConfig={"OnSuccess": {"Destination": ARN + "sink"}})
    c.put_function_event_invoke_config(
        FunctionName="failer", MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": ARN + "sink:$LATEST"}})
    rid = event_invoke(c, "rec", {"k": [1, 2]})
    rid_f = event_invoke(c, "failer", {"n": 1})
    got = wait_for("two destination records",
                   lambda: len(destination_events(served)) >= 2 and destination_events(served))
    by_id = {ev["requestContext"]["requestId"]: (sink_rid, ev) for sink_rid, ev in got}
    assert set(by_id) == {rid, rid_f}

    sink_rid, ok = by_id[rid]
    assert sink_rid not in (rid, rid_f)  # the record is a new event with its own id
    assert ok["version"] == "1.0" and ISO_MS.match(ok["timestamp"])
    assert ok["requestContext"] == {"requestId": rid, "functionArn": ARN + "rec:$LATEST",
                                    "condition": "Success", "approximateInvokeCount": 1}
    assert ok["requestPayload"] == {"k": [1, 2]}
    assert ok["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert ok["responsePayload"] == {"ok": True, "rid": rid}

    _, bad = by_id[rid_f]
    assert bad["requestContext"] == {"requestId": rid_f, "functionArn": ARN + "failer:$LATEST",
                                     "condition": "RetriesExhausted",
                                     "approximateInvokeCount": 2}
    assert bad["requestPayload"] == {"n": 1}
    assert bad["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST",
                                      "functionError": "Unhandled"}
    assert bad["responsePayload"]["errorType"] == "ValueError"
    assert log_text(served, "failer").count(f"START RequestId: {rid_f}") == 2


def test_dead_letter_queue_gets_the_original_event(served):
    c = served.client()
    # DeadLetterConfig is part of the function's configuration (CreateFunction here).
    c.create_function(FunctionName="dlq-failer", Runtime="python3.11", Handler="app.fail",
                      Role=f"arn:aws:iam::{ACCOUNT}:role/r",
                      Code={"ZipFile": zip_files({"app.py": FUNCTION_CODE})},
                      DeadLetterConfig={"TargetArn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:my-dlq"})
    c.put_function_event_invoke_config(FunctionName="dlq-failer", MaximumRetryAttempts=0)
    rid = event_invoke(c, "dlq-failer", {"n": "dead"})
    msg = wait_for("the dead letter", lambda: sink_lines(served, "sqs", "my-dlq"))[0]
    assert json.loads(msg["body"]) == {"n": "dead"}
    attrs = msg["messageAttributes"]
    assert attrs["RequestID"] == {"DataType": "String", "StringValue": rid}
    assert attrs["ErrorCode"] == {"DataType": "Number", "StringValue": "200"}
    assert attrs["ErrorMessage"] == {"DataType": "String", "StringValue": "boom dead"}


def test_throttled_event_expires_at_its_maximum_age(daemon_factory, tmp_path):
    tpl = write_functions(tmp_path)
    # Age limit 60 s / 600 = 0.1 s; account concurrency 1, held by a long synchronous invoke.
    d = daemon_factory(template=tpl, extra_args=["--async-time-scale", "600",
                                                 "--account-concurrency", "1",
                                                 "--python", "/usr/bin/python3"])
    c = d.client()
    c.put_function_event_invoke_config(
        FunctionName="rec", MaximumEventAgeInSeconds=60,
        DestinationConfig={"OnFailure": {"Destination": f"arn:aws:sqs:us-east-1:{ACCOUNT}:expired"},
                           "OnSuccess": {"Destination": f"arn:aws:sqs:us-east-1:{ACCOUNT}:ok"}})
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        blocker = pool.submit(d.client().invoke, FunctionName="slow",
                              Payload=json.dumps({"seconds": 6}))
        wait_for("the blocker to run", lambda: "START RequestId" in log_text(d, "slow"))
        rid = event_invoke(c, "rec", {"late": True})
        rec = wait_for("the EventAgeExceeded record",
                       lambda: sink_lines(d, "sqs", "expired"), timeout=5)[0]
        assert not blocker.done()  # it expired while throttled, not after the blocker
        assert blocker.result(timeout=60)["StatusCode"] == 200
    assert rec["requestContext"]["requestId"] == rid
    assert rec["requestContext"]["condition"] == "EventAgeExceeded"
    assert rec["requestContext"]["approximateInvokeCount"] == 0
    assert rec["requestContext"]["functionArn"] == ARN + "rec:$LATEST"
    assert rec["requestPayload"] == {"late": True}
    assert "responsePayload" not in rec
    # It never ran, and is never run later.
    time.sleep(0.5)
    assert f"RequestId: {rid}" not in log_text(d, "rec")
    assert sink_lines(d, "sqs", "ok") == []


def test_sigkill_loses_no_accepted_event(daemon_factory, tmp_path):
    tpl = write_functions(tmp_path)
    state = tmp_path / "state"
    d = daemon_factory(template=tpl, state_dir=state,
                       extra_args=["--async-time-scale", "60", "--account-concurrency", "1",
                                   "--python", "/usr/bin/python3"])
    c = d.client()
    rids = []
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(d.client(read_timeout=120).invoke, FunctionName="slow",
                    Payload=json.dumps({"seconds": 60}))
        wait_for("the blocker to run", lambda: "START RequestId" in log_text(d, "slow"))
        # 120 events accepted (each 202 after its fsync) while every attempt is throttled.
        for i in range(120):
            rids.append(event_invoke(c, "rec", {"i": i}))
        assert len(set(rids)) == 120
        assert not any(f"RequestId: {r}" in log_text(d, "rec") for r in rids)
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait(timeout=10)
    d2 = daemon_factory(template=tpl, state_dir=state,
                        extra_args=["--async-time-scale", "60", "--account-concurrency", "4",
                                    "--python", "/usr/bin/python3"])
    assert "120 pending event(s)" in wait_for("the replay log line",
                                              lambda: "async: 120 pending" in d2.daemon_log()
                                              and d2.daemon_log())

    def missing():
        text = log_text(d2, "rec")
        return [r for r in rids if f"REPORT RequestId: {r}" not in text]
    wait_for("every accepted event to run", lambda: not missing(), timeout=180, interval=0.5)
    text = log_text(d2, "rec")
    for i, r in enumerate(rids):
        assert f"EVENT {r} " + json.dumps({"i": i}) in text
    # Done records reach the disk at shutdown: a third start has nothing left to run.
    assert d2.stop() == 0
    d3 = daemon_factory(template=tpl, state_dir=state, extra_args=["--python", "/usr/bin/python3"])
    assert "async: 0 pending event(s)" in wait_for(
        "the start line", lambda: "async: 0 pending" in d3.daemon_log() and d3.daemon_log())


def test_event_invoke_config_api(served):
    c = served.client()
    # A client that sends out-of-range values, so the daemon's own validation answers.
    raw = boto3.client("lambda", endpoint_url=served.url, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="testing",
                       config=Config(parameter_validation=False,
                                     retries={"max_attempts": 1, "mode": "standard"}))

    def code(fn, **kw):
        with pytest.raises(ClientError) as e:
            fn(**kw)
        return e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]

    assert code(c.get_function_event_invoke_config, FunctionName="rec") == (
        "ResourceNotFoundException",
        f"The function {ARN}rec:$LATEST doesn't have an EventInvokeConfig")
    assert code(c.get_function_event_invoke_config, FunctionName="nope")[0] == \
        "ResourceNotFoundException"
    assert code(c.put_function_event_invoke_config, FunctionName="nope",
                MaximumRetryAttempts=1)[0] == "ResourceNotFoundException"
    assert code(c.put_function_event_invoke_config, FunctionName="rec") == (
        "InvalidParameterValueException",
        "You must specify at least one of error handling or destination setting.")
    err, msg = code(raw.put_function_event_invoke_config, FunctionName="rec",
                    MaximumRetryAttempts=3)
    assert err == "ValidationException" and "maximumRetryAttempts" in msg
    err, msg = code(raw.put_function_event_invoke_config, FunctionName="rec",
                    MaximumEventAgeInSeconds=59)
    assert err == "ValidationException" and "maximumEventAgeInSeconds" in msg
    assert code(c.put_function_event_invoke_config, FunctionName="rec",
                DestinationConfig={"OnSuccess": {"Destination": ARN + "rec"}}) == (
        "InvalidParameterValueException",
        "You can't specify the function as a destination for itself.")
    assert code(c.put_function_event_invoke_config, FunctionName="rec",
                DestinationConfig={"OnFailure": {"Destination": ARN + "missing"}})[0] == \
        "InvalidParameterValueException"
    err, msg = code(c.put_function_event_invoke_config, FunctionName="rec",
                    DestinationConfig={"OnSuccess": {
                        "Destination": f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/t"}})
    assert err == "InvalidParameterValueException" and "DestinationConfig(onSuccess=" in msg
    assert code(c.put_function_event_invoke_config, FunctionName="rec",
                DestinationConfig={"OnSuccess": {"Destination": "arn:aws:s3:::bucket"}})[0] == \
        "InvalidParameterValueException"
    assert code(c.update_function_event_invoke_config, FunctionName="rec",
                MaximumRetryAttempts=1)[0] == "ResourceNotFoundException"
    assert code(c.delete_function_event_invoke_config, FunctionName="rec")[0] == \
        "ResourceNotFoundException"

    before = time.time()
    put = c.put_function_event_invoke_config(
        FunctionName="rec", MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": f"arn:aws:sqs:us-east-1:{ACCOUNT}:q"}})
    assert put["FunctionArn"] == ARN + "rec:$LATEST"
    assert put["MaximumRetryAttempts"] == 1
    assert "MaximumEventAgeInSeconds" not in put
    assert put["DestinationConfig"] == {
        "OnSuccess": {}, "OnFailure": {"Destination": f"arn:aws:sqs:us-east-1:{ACCOUNT}:q"}}
    assert before - 2 < put["LastModified"].timestamp() < time.time() + 2
    got = c.get_function_event_invoke_config(FunctionName="rec")
    assert {k: got[k] for k in ("FunctionArn", "MaximumRetryAttempts", "DestinationConfig")} == \
        {k: put[k] for k in ("FunctionArn", "MaximumRetryAttempts", "DestinationConfig")}
    # Update changes only what it names; Put replaces the whole config.
    upd = c.update_function_event_invoke_config(FunctionName="rec", MaximumEventAgeInSeconds=120)
    assert upd["MaximumRetryAttempts"] == 1 and upd["MaximumEventAgeInSeconds"] == 120
    assert upd["DestinationConfig"]["OnFailure"]["Destination"].endswith(":q")
    c.put_function_event_invoke_config(FunctionName="rec", MaximumEventAgeInSeconds=300)
    got = c.get_function_event_invoke_config(FunctionName=ARN + "rec")
    assert "MaximumRetryAttempts" not in got and got["MaximumEventAgeInSeconds"] == 300
    assert got["DestinationConfig"] == {"OnSuccess": {}, "OnFailure": {}}

    listed = c.list_function_event_invoke_configs(FunctionName="rec")
    assert [x["FunctionArn"] for x in listed["FunctionEventInvokeConfigs"]] == [ARN + "rec:$LATEST"]
    assert "NextMarker" not in listed
    assert code(c.list_function_event_invoke_configs, FunctionName="nope")[0] == \
        "ResourceNotFoundException"
    err, _ = code(raw.list_function_event_invoke_configs, FunctionName="rec", MaxItems=51)
    assert err == "ValidationException"

    # Persisted: a restart on the same state dir keeps the config.
    assert served.stop() == 0
    served.start()
    c = served.client()
    assert c.get_function_event_invoke_config(FunctionName="rec")["MaximumEventAgeInSeconds"] == 300
    c.delete_function_event_invoke_config(FunctionName="rec")
    assert code(c.get_function_event_invoke_config, FunctionName="rec")[0] == \
        "ResourceNotFoundException"


def test_delete_function_drops_its_event_invoke_configs(served):
    """DeleteFunction took the function but left its EventInvokeConfigs behind, so a new
    function of the same name inherited them; deleting a version leaves its config listed."""
    c = served.client()

    def create():
        c.create_function(FunctionName="reborn", Runtime="python3.11", Handler="app.record",
                          Role=f"arn:aws:iam::{ACCOUNT}:role/r",
                          Code={"ZipFile": zip_files({"app.py": FUNCTION_CODE})})

    def listed():
        got = c.list_function_event_invoke_configs(FunctionName="reborn")
        return sorted(x["FunctionArn"] for x in got["FunctionEventInvokeConfigs"])

    create()
    version = c.publish_version(FunctionName="reborn")["Version"]
    c.put_function_event_invoke_config(FunctionName="reborn", MaximumRetryAttempts=0)
    c.put_function_event_invoke_config(FunctionName="reborn", Qualifier=version,
                                       MaximumRetryAttempts=1)
    assert listed() == [f"{ARN}reborn:$LATEST", f"{ARN}reborn:{version}"]
    # Deleting the version drops that version's config only.
    c.delete_function(FunctionName="reborn", Qualifier=version)
    assert listed() == [f"{ARN}reborn:$LATEST"]
    # Deleting the function drops the rest: a new function of that name starts without one.
    c.delete_function(FunctionName="reborn")
    create()
    with pytest.raises(ClientError) as e:
        c.get_function_event_invoke_config(FunctionName="reborn")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert (e.value.response["Error"]["Code"], e.value.response["Error"]["Message"]) == (
        "ResourceNotFoundException",
        f"The function {ARN}reborn:$LATEST doesn't have an EventInvokeConfig")
    assert listed() == []


def throttles(daemon, fn):
    """galley_throttles_total for fn ($LATEST) from /metrics."""
    import urllib.request
    with urllib.request.urlopen(daemon.url + "/metrics", timeout=10) as r:
        text = r.read().decode()
    m = re.search(r'^galley_throttles_total\{function="%s",version="\$LATEST"\} (\d+)' % fn,
                  text, re.M)
    return int(m.group(1)) if m else 0


def reserved_one(daemon):
    c = daemon.client()
    c.put_function_concurrency(FunctionName="slow", ReservedConcurrentExecutions=1)
    return c


def runs(daemon, fn, rids):
    text = log_text(daemon, fn)
    return sum(f"REPORT RequestId: {r}" in text for r in rids)


def test_throttled_events_drain_at_the_functions_concurrency(daemon_factory, tmp_path):
    """60 queued 50 ms events of a function with reserved concurrency 1 took 31.7 s: each
    throttled event backed off on its own (1 s, doubling). They now wait for a slot and run as
    soon as one frees, oldest first. The bound is a hang guard, not a speed assertion."""
    tpl = write_functions(tmp_path)
    d = daemon_factory(template=tpl, extra_args=["--python", "/usr/bin/python3"])
    c = reserved_one(d)
    start = time.monotonic()
    rids = [event_invoke(c, "slow", {"seconds": 0.05, "i": i}) for i in range(60)]
    wait_for("all 60 events to run", lambda: runs(d, "slow", rids) == 60, timeout=30,
             interval=0.2)
    assert time.monotonic() - start < 30
    # Oldest first: the events ran in the order they were accepted.
    text = log_text(d, "slow")
    starts = [text.index(f"START RequestId: {r}") for r in rids]
    assert starts == sorted(starts)
    # Throttles are still counted, once per throttled wait at most.
    assert 1 <= throttles(d, "slow") <= 60


def test_queued_events_drain_after_sigkill_and_restart(daemon_factory, tmp_path):
    tpl = write_functions(tmp_path)
    state = tmp_path / "state"
    d = daemon_factory(template=tpl, state_dir=state, extra_args=["--python", "/usr/bin/python3"])
    c = reserved_one(d)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(d.client(read_timeout=120).invoke, FunctionName="slow",
                    Payload=json.dumps({"seconds": 60}))
        wait_for("the blocker to run", lambda: "START RequestId" in log_text(d, "slow"))
        rids = [event_invoke(c, "slow", {"seconds": 0.05, "i": i}) for i in range(200)]
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait(timeout=10)
    d2 = daemon_factory(template=tpl, state_dir=state, extra_args=["--python", "/usr/bin/python3"])
    wait_for("the replay", lambda: "async: 200 pending" in d2.daemon_log())
    start = time.monotonic()
    wait_for("all 200 events to run", lambda: runs(d2, "slow", rids) == 200, timeout=60,
             interval=0.5)
    assert time.monotonic() - start < 60


def journal_record(kind, event_id, data=b""):
    """One journal record as src/async/journal.c writes it: magic, length, CRC-32, body."""
    body = kind + event_id + data
    length = struct.pack("<I", len(body))
    return b"GLQ1" + length + struct.pack("<I", zlib.crc32(length + body)) + body


def test_damaged_journal_record_does_not_stop_the_start(daemon_factory, tmp_path):
    """Found by fuzz_journal: a record with a right checksum but an id holding a NUL made
    compaction fail, so the daemon would not start; an id holding CR LF was replayed into a
    request id. Both are skipped now, and the good event beside them runs."""
    tpl = write_functions(tmp_path)
    state = tmp_path / "state"
    (state / "async").mkdir(parents=True)
    meta = json.dumps({"fn": "rec", "q": "", "t": int(time.time() * 1000)}).encode()
    good = b"11111111-2222-4333-8444-555555555555"
    (state / "async" / "seg-0000000000000001.log").write_bytes(
        journal_record(b"A", b"00000000-0000-4000-8000-00000000\x00004", meta + b'\n{"bad":1}')
        + journal_record(b"A", b"../../../../etc/passwd\r\nX-Injected:1", meta + b'\n{"bad":2}')
        + journal_record(b"A", good, meta + b'\n{"good":true}'))
    d = daemon_factory(template=tpl, state_dir=state, extra_args=["--python", "/usr/bin/python3"])
    wait_for("the good event to run", lambda: f"EVENT {good.decode()} " in log_text(d, "rec"))
    text = log_text(d, "rec")
    assert '"bad"' not in text
    assert "async: 1 pending event(s)" in d.daemon_log()
    assert "has no request id: skipped" in d.daemon_log()
