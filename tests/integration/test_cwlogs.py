# SPDX-License-Identifier: MIT
"""CloudWatch Logs on the Lambda API's port (X-Amz-Target: Logs_20140328.*): boto3's logs
client for DescribeLogGroups, DescribeLogStreams, GetLogEvents and FilterLogEvents over a
function's real log streams and over stream files written with known stamps (paging, time
windows, filter patterns, errors in the JSON 1.1 shape), `aws logs tail` with and
without --follow, and when a running invoke's lines become readable."""
import json
import os
import subprocess
import threading
import time
import urllib.error
import urllib.request

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import AWS_CLI, AWS_ENV, write_template
from helpers import current_boto3_python, py_basic_daemon, read_until, run_boto3_script

GROUP = "/aws/lambda/crafted"
DAY = "2026/01/02"
BASE = 1767312000000  # 2026-01-02T00:00:00.000Z


def logs_client(d):
    return boto3.client("logs", endpoint_url=d.url, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing",
                        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))


def stamp(ms):
    t = time.gmtime(ms // 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + f".{ms % 1000:03d}Z"


def write_stream(state, group, name, lines):
    """A stream file as the daemon writes it: lines is a list of (ms, text)."""
    p = state / "logs" / group.lstrip("/") / name
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text("".join(f"{stamp(ms)} {text}\n" for ms, text in lines))
    return p


def raw_call(d, op, body):
    """POST / with X-Amz-Target Logs_20140328.<op> and body (bytes, or JSON-encoded);
    returns (status, Content-Type, decoded body)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(d.url + "/", data=data, method="POST", headers={
        "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": f"Logs_20140328.{op}"})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.headers["Content-Type"], json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, e.headers["Content-Type"], json.loads(e.read())


def error_of(call, **kwargs):
    with pytest.raises(ClientError) as e:
        call(**kwargs)
    err = e.value.response
    return [err["Error"]["Code"], err["Error"]["Message"], err["ResponseMetadata"]["HTTPStatusCode"]]


@pytest.fixture
def crafted(daemon_factory, tmp_path):
    """A daemon whose state holds two streams with known times and one file from before
    stamps existed."""
    state = tmp_path / "state"
    a = [(BASE + i * 1000, f"a{i} ERROR disk" if i % 3 == 0 else f"a{i} info ok") for i in range(6)]
    b = [(BASE + i * 1000 + 500, f"b{i} WARN \"quoted words\" here" if i == 2 else f"b{i} info")
         for i in range(4)]
    write_stream(state, GROUP, f"{DAY}/[$LATEST]aaaa", a)
    write_stream(state, GROUP, f"{DAY}/[$LATEST]bbbb", b)
    old = state / "logs" / "aws" / "lambda" / "old" / "2020" / "05" / "06" / "[1]cccc"
    old.parent.mkdir(parents=True)
    old.write_text("bare one\nbare two\n")
    os.utime(old, (1588766400, 1588766400))  # 2020-05-06T12:00:00Z
    d = daemon_factory(state_dir=state)
    d.a, d.b = a, b
    return d


def test_function_logs_through_every_operation(daemon_factory, tmp_path):
    d = py_basic_daemon(daemon_factory, tmp_path, {"CwEcho": {"Handler": "app.echo",
                                                              "FunctionName": "cw-echo"}})
    lam, logs = d.client(), logs_client(d)
    t0 = int(time.time() * 1000) - 5
    r = lam.invoke(FunctionName="cw-echo", Payload=b"{}")
    rid = r["ResponseMetadata"]["RequestId"]
    body = json.loads(r["Payload"].read())
    lam.invoke(FunctionName="cw-echo", Payload=b"{}")["Payload"].read()
    t1 = int(time.time() * 1000) + 5
    stream = body["env"]["AWS_LAMBDA_LOG_STREAM_NAME"]

    groups = logs.describe_log_groups()["logGroups"]
    assert [g["logGroupName"] for g in groups] == ["/aws/lambda/cw-echo"]
    assert groups[0]["arn"] == "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/cw-echo:*"
    streams = logs.describe_log_streams(logGroupName="/aws/lambda/cw-echo")["logStreams"]
    assert [s["logStreamName"] for s in streams] == [stream]
    assert t0 <= streams[0]["firstEventTimestamp"] <= streams[0]["lastEventTimestamp"] <= t1

    # The file keeps each line's stamp; the API hands back the line with Lambda's newline.
    raw = (d.state / "logs" / "aws" / "lambda" / "cw-echo" / stream).read_text().splitlines()
    assert raw and all(line[23:25] == "Z " for line in raw)
    ev = logs.get_log_events(logGroupName="/aws/lambda/cw-echo", logStreamName=stream,
                             startFromHead=True)["events"]
    msgs = [e["message"] for e in ev]
    assert f"START RequestId: {rid} Version: $LATEST\n" in msgs
    assert "echo call 1\n" in msgs and "echo call 2\n" in msgs
    assert all(t0 <= e["timestamp"] == e["ingestionTime"] <= t1 for e in ev)
    assert [e["timestamp"] for e in ev] == sorted(e["timestamp"] for e in ev)

    found = logs.filter_log_events(logGroupName="/aws/lambda/cw-echo", filterPattern="echo call",
                                   startTime=t0)["events"]
    assert [e["message"] for e in found] == ["echo call 1\n", "echo call 2\n"]
    assert all(e["logStreamName"] == stream and len(e["eventId"]) == 56 for e in found)
    assert logs.filter_log_events(logGroupName="/aws/lambda/cw-echo", filterPattern="echo",
                                  startTime=t1 + 60000)["events"] == []


def test_get_log_events_pages_both_ways(crafted):
    logs = logs_client(crafted)
    kw = {"logGroupName": GROUP, "logStreamName": f"{DAY}/[$LATEST]aaaa"}
    first = logs.get_log_events(startFromHead=True, limit=4, **kw)
    assert [e["message"] for e in first["events"]] == [f"{t}\n" for _, t in crafted.a[:4]]
    assert [e["timestamp"] for e in first["events"]] == [ms for ms, _ in crafted.a[:4]]
    nxt = logs.get_log_events(startFromHead=True, limit=4, nextToken=first["nextForwardToken"], **kw)
    assert [e["message"] for e in nxt["events"]] == [f"{t}\n" for _, t in crafted.a[4:]]
    end = logs.get_log_events(nextToken=nxt["nextForwardToken"], **kw)
    assert end["events"] == [] and end["nextForwardToken"] == nxt["nextForwardToken"]
    # A new line shows up behind the forward token.
    path = crafted.state / "logs" / GROUP.lstrip("/") / kw["logStreamName"]
    with open(path, "a") as f:
        f.write(f"{stamp(BASE + 9000)} late line\n")
    late = logs.get_log_events(nextToken=nxt["nextForwardToken"], **kw)
    assert [e["message"] for e in late["events"]] == ["late line\n"]

    # Without startFromHead: the newest events, then backwards to the head, which repeats.
    tail = logs.get_log_events(limit=3, **kw)
    assert [e["message"] for e in tail["events"]] == ["a4 info ok\n", "a5 info ok\n", "late line\n"]
    back = logs.get_log_events(limit=3, nextToken=tail["nextBackwardToken"], **kw)
    assert [e["message"] for e in back["events"]] == [f"{t}\n" for _, t in crafted.a[1:4]]
    back = logs.get_log_events(limit=3, nextToken=back["nextBackwardToken"], **kw)
    assert [e["message"] for e in back["events"]] == ["a0 ERROR disk\n"]
    head = logs.get_log_events(limit=3, nextToken=back["nextBackwardToken"], **kw)
    assert head["events"] == [] and head["nextBackwardToken"] == back["nextBackwardToken"]

    # Time window: startTime inclusive, endTime exclusive.
    win = logs.get_log_events(startTime=BASE + 1000, endTime=BASE + 3000, startFromHead=True, **kw)
    assert [e["timestamp"] for e in win["events"]] == [BASE + 1000, BASE + 2000]


def test_filter_log_events_patterns_windows_and_paging(crafted):
    logs = logs_client(crafted)

    def messages(**kw):
        return [e["message"].rstrip("\n") for e in
                logs.filter_log_events(logGroupName=GROUP, **kw)["events"]]

    everything = messages()
    assert everything == [t for _, t in sorted(crafted.a + crafted.b)]  # interleaved by time
    assert messages(filterPattern="ERROR") == ["a0 ERROR disk", "a3 ERROR disk"]
    assert messages(filterPattern="info -ok") == ["b0 info", "b1 info", "b3 info"]
    assert messages(filterPattern="?ERROR ?WARN") == [
        "a0 ERROR disk", "b2 WARN \"quoted words\" here", "a3 ERROR disk"]
    assert messages(filterPattern='"quoted words"') == ['b2 WARN "quoted words" here']
    assert messages(filterPattern="info ok", startTime=BASE + 2000, endTime=BASE + 4000) == [
        "a2 info ok", "a4 info ok"]  # endTime is inclusive here
    assert messages(logStreamNames=[f"{DAY}/[$LATEST]bbbb"]) == [t for _, t in crafted.b]
    assert messages(logStreamNamePrefix=f"{DAY}/[$LATEST]a") == [t for _, t in crafted.a]
    assert messages(logStreamNames=[f"{DAY}/[$LATEST]nope"]) == []

    # Paging: limit 3 until no nextToken; each event once, in order, with stable ids.
    seen, token, pages = [], None, 0
    while pages < 10:
        kw = {"nextToken": token} if token else {}
        page = logs.filter_log_events(logGroupName=GROUP, limit=3, **kw)
        seen += page["events"]
        pages += 1
        token = page.get("nextToken")
        if not token:
            break
    assert pages == 4 and [e["message"].rstrip("\n") for e in seen] == everything
    again = logs.filter_log_events(logGroupName=GROUP)["events"]
    assert [e["eventId"] for e in again] == [e["eventId"] for e in seen]
    assert len({e["eventId"] for e in seen}) == len(seen)
    pager = logs.get_paginator("filter_log_events")
    assert sum(len(p["events"]) for p in pager.paginate(logGroupName=GROUP, limit=4)) == 10

    # A file from before stamps: its lines carry the file's time.
    old = logs.filter_log_events(logGroupName="/aws/lambda/old")["events"]
    assert [(e["message"], e["timestamp"]) for e in old] == [
        ("bare one\n", 1588766400000), ("bare two\n", 1588766400000)]


def test_describe_groups_and_streams(crafted):
    logs = logs_client(crafted)
    names = [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]]
    assert names == ["/aws/lambda/crafted", "/aws/lambda/old"]
    assert [g["logGroupName"] for g in
            logs.describe_log_groups(logGroupNamePrefix="/aws/lambda/o")["logGroups"]] == [
        "/aws/lambda/old"]
    page = logs.describe_log_groups(limit=1)
    assert len(page["logGroups"]) == 1 and page["nextToken"]
    page2 = logs.describe_log_groups(limit=1, nextToken=page["nextToken"])
    assert [g["logGroupName"] for g in page2["logGroups"]] == ["/aws/lambda/old"]
    assert "nextToken" not in page2

    streams = logs.describe_log_streams(logGroupName=GROUP)["logStreams"]
    assert [s["logStreamName"] for s in streams] == [f"{DAY}/[$LATEST]aaaa",
                                                      f"{DAY}/[$LATEST]bbbb"]
    a, b = streams
    assert (a["firstEventTimestamp"], a["lastEventTimestamp"]) == (BASE, BASE + 5000)
    assert (b["firstEventTimestamp"], b["lastEventTimestamp"]) == (BASE + 500, BASE + 3500)
    assert a["arn"] == ("arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/crafted:"
                        "log-stream:2026/01/02/[$LATEST]aaaa")
    by_time = logs.describe_log_streams(logGroupName=GROUP, orderBy="LastEventTime",
                                        descending=True)["logStreams"]
    assert [s["logStreamName"] for s in by_time] == [f"{DAY}/[$LATEST]aaaa",
                                                      f"{DAY}/[$LATEST]bbbb"]
    by_time = logs.describe_log_streams(logGroupName=GROUP, orderBy="LastEventTime", limit=1)
    assert [s["logStreamName"] for s in by_time["logStreams"]] == [f"{DAY}/[$LATEST]bbbb"]
    rest = logs.describe_log_streams(logGroupName=GROUP, orderBy="LastEventTime",
                                     limit=1, nextToken=by_time["nextToken"])
    assert [s["logStreamName"] for s in rest["logStreams"]] == [f"{DAY}/[$LATEST]aaaa"]
    assert "nextToken" not in rest
    # logGroupIdentifier (newer than this boto3): a name or an ARN
    arn = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/crafted:*"
    for ident in (GROUP, arn):
        status, _, body = raw_call(crafted, "DescribeLogStreams", {
            "logGroupIdentifier": ident, "logStreamNamePrefix": f"{DAY}/[$LATEST]b"})
        assert status == 200 and [s["logStreamName"] for s in body["logStreams"]] == [
            f"{DAY}/[$LATEST]bbbb"]


def test_a_current_boto3_with_log_group_identifiers(crafted):
    """A current boto3 (newer than Debian's) talks to the same endpoint; logGroupIdentifier by
    name and by ARN."""
    python = current_boto3_python("get_function_recursion_config")
    if python is None:
        pytest.skip("no Python with a current boto3 (set GALLEY_CURRENT_PYTHON)")
    out = run_boto3_script(python, crafted.url, f"""
        logs = boto3.client("logs", endpoint_url=sys.argv[1], region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing",
                            config=Config(retries={{"total_max_attempts": 1}}))
        arn = "arn:aws:logs:us-east-1:123456789012:log-group:{GROUP}"
        out["streams"] = [s["logStreamName"] for s in
                          logs.describe_log_streams(logGroupIdentifier=arn)["logStreams"]]
        out["get"] = len(logs.get_log_events(logGroupIdentifier="{GROUP}", startFromHead=True,
                                             logStreamName="{DAY}/[$LATEST]bbbb")["events"])
        out["filter"] = len(logs.filter_log_events(logGroupIdentifier=arn + ":*",
                                                   filterPattern="info")["events"])
        out["missing"] = error_of(logs.filter_log_events, logGroupIdentifier="/aws/lambda/none")
    """)
    assert out["streams"] == [f"{DAY}/[$LATEST]aaaa", f"{DAY}/[$LATEST]bbbb"]
    assert out["get"] == 4 and out["filter"] == 7
    assert out["missing"] == ["ResourceNotFoundException", "The specified log group does not exist.",
                              400]


def test_errors_in_the_json_protocol_shape(crafted):
    logs = logs_client(crafted)
    missing = ["ResourceNotFoundException", "The specified log group does not exist.", 400]
    assert error_of(logs.describe_log_streams, logGroupName="/aws/lambda/nope") == missing
    assert error_of(logs.filter_log_events, logGroupName="/aws/lambda/nope") == missing
    assert error_of(logs.get_log_events, logGroupName="/aws/lambda/nope", logStreamName="x") == missing
    assert error_of(logs.get_log_events, logGroupName=GROUP, logStreamName=f"{DAY}/x") == [
        "ResourceNotFoundException", "The specified log stream does not exist.", 400]
    assert error_of(logs.describe_log_streams, logGroupName=GROUP, orderBy="LastEventTime",
                    logStreamNamePrefix="2026") == [
        "InvalidParameterException", "Cannot order by LastEventTime with a logStreamNamePrefix.",
        400]
    assert error_of(logs.get_log_events, logGroupName=GROUP, logStreamName=f"{DAY}/[$LATEST]aaaa",
                    nextToken="f/123/s")[0] == "InvalidParameterException"
    assert error_of(logs.filter_log_events, logGroupName=GROUP, nextToken="garbage")[:2] == [
        "InvalidParameterException", "The specified nextToken is invalid."]
    err = error_of(logs.filter_log_events, logGroupName=GROUP, filterPattern="{ $.level = 1 }")
    assert err[0] == "InvalidParameterException" and "JSON" in err[1]
    err = error_of(logs.filter_log_events, logGroupName=GROUP, logStreamNames=["x"],
                   logStreamNamePrefix="y")
    assert err[0] == "InvalidParameterException"
    assert error_of(logs.describe_log_streams, logGroupName="/aws/lambda/a b") == [
        "InvalidParameterException", "1 validation error detected: Value '/aws/lambda/a b' at "
        "'logGroupName' failed to satisfy constraint: Member must satisfy regular expression "
        "pattern: [\\.\\-_/#A-Za-z0-9]+", 400]
    assert error_of(logs.get_log_events, logGroupName=GROUP,
                    logStreamName="../../../aws/lambda/crafted/2026/01/02/[$LATEST]aaaa")[0] == \
        "ResourceNotFoundException"
    status, _, body = raw_call(crafted, "DescribeLogStreams",
                               {"logGroupName": GROUP, "logGroupIdentifier": GROUP})
    assert (status, body["__type"]) == (400, "InvalidParameterException")

    status, ctype, body = raw_call(crafted, "PutLogEvents", {})
    assert (status, ctype, body["__type"]) == (400, "application/x-amz-json-1.1",
                                               "UnknownOperationException")
    assert raw_call(crafted, "DescribeLogGroups", b"[1")[2]["__type"] == "SerializationException"
    status, _, body = raw_call(crafted, "GetLogEvents",
                          json.dumps({"logGroupName": GROUP, "logStreamName": "x",
                                      "limit": 0}).encode())
    assert (status, body) == (400, {"__type": "InvalidParameterException", "message":
                                    "1 validation error detected: Value '0' at 'limit' failed to "
                                    "satisfy constraint: Member must have value greater than or "
                                    "equal to 1"})
    wrong_type = raw_call(crafted, "GetLogEvents", {"logGroupName": 3, "logStreamName": "x"})
    assert wrong_type[2]["__type"] == "SerializationException"


def test_a_client_gone_before_the_answer(crafted):
    """The operations run on worker threads: a client that hangs up first leaves the daemon
    answering the next ones."""
    import socket
    body = json.dumps({"logGroupName": GROUP}).encode()
    head = (f"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-amz-json-1.1\r\n"
            f"X-Amz-Target: Logs_20140328.FilterLogEvents\r\nContent-Length: {len(body)}\r\n"
            f"\r\n").encode()
    for _ in range(20):
        with socket.create_connection(("127.0.0.1", crafted.port), timeout=5) as s:
            s.sendall(head + body)
    logs = logs_client(crafted)
    assert len(logs.filter_log_events(logGroupName=GROUP)["events"]) == 10
    assert crafted.proc.poll() is None


def aws_logs(d, *args, timeout=60):
    env = dict(os.environ, **AWS_ENV)
    return subprocess.run([AWS_CLI, "--endpoint-url", d.url, "logs", *args], capture_output=True,
                          text=True, env=env, timeout=timeout)


def test_aws_logs_tail(daemon_factory, tmp_path):
    d = py_basic_daemon(daemon_factory, tmp_path, {"CwEcho": {"Handler": "app.echo",
                                                              "FunctionName": "cw-tail"}})
    lam = d.client()
    rid = lam.invoke(FunctionName="cw-tail", Payload=b"{}")["ResponseMetadata"]["RequestId"]
    res = aws_logs(d, "tail", "/aws/lambda/cw-tail", "--since", "1h")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert any(l.endswith(f"START RequestId: {rid} Version: $LATEST") for l in lines), lines
    assert any(l.endswith("echo call 1") and "[$LATEST]" in l for l in lines), lines
    res = aws_logs(d, "tail", "/aws/lambda/cw-tail", "--since", "1h", "--filter-pattern",
                   "echo", "--format", "short")
    assert res.returncode == 0 and len(res.stdout.splitlines()) == 1
    res = aws_logs(d, "tail", "/aws/lambda/nope")
    assert res.returncode != 0 and "ResourceNotFoundException" in res.stderr

    # --follow: a line invoked after it started shows up (it polls every 5 s).
    env = dict(os.environ, **AWS_ENV)
    proc = subprocess.Popen([AWS_CLI, "--endpoint-url", d.url, "logs", "tail",
                             "/aws/lambda/cw-tail", "--follow", "--since", "1h"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        out = read_until(proc, "echo call 1", 30)
        lam.invoke(FunctionName="cw-tail", Payload=b"{}")["Payload"].read()
        out += read_until(proc, "echo call 2", 30)
        assert out.count("echo call 1") == 1  # not repeated by the follow polls
    finally:
        proc.kill()
        proc.wait(timeout=10)
        proc.stdout.close()
        proc.stderr.close()


def test_a_running_invokes_lines_are_readable_before_it_ends(daemon_factory, tmp_path):
    """An invoke's lines are held from START and written together at REPORT (one write per
    invoke), but a line of a long invoke still reaches the stream within a few ms, and all of
    an invoke's lines are there once its reply is."""
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text(
        "import time\n"
        "def handler(event, context):\n"
        "    print('before the nap', flush=True)\n"
        "    time.sleep(event['seconds'])\n"
        "    print('after the nap', flush=True)\n"
        "    return 'ok'\n")
    tpl = write_template(tmp_path, {"Nap": {"CodeUri": str(code), "Runtime": "python3.11",
                                            "Handler": "app.handler", "FunctionName": "nap",
                                            "Timeout": 30}})
    d = daemon_factory(template=tpl)
    lam, logs = d.client(), logs_client(d)
    assert lam.invoke(FunctionName="nap", Payload=b'{"seconds": 0}')["Payload"].read() == b'"ok"'
    done = {}
    t = threading.Thread(target=lambda: done.setdefault(
        "r", lam.invoke(FunctionName="nap", Payload=b'{"seconds": 3}')))
    t.start()
    try:
        def lines():
            ev = logs.filter_log_events(logGroupName="/aws/lambda/nap")["events"]
            return [e["message"] for e in ev]
        deadline = time.monotonic() + 2.5
        while lines().count("before the nap\n") < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        seen = lines()
        assert "r" not in done, "the invoke ended before its line was checked"
        assert seen.count("before the nap\n") == 2 and seen.count("after the nap\n") == 1
        assert sum(m.startswith("START RequestId") for m in seen) == 2
        assert sum(m.startswith("REPORT RequestId") for m in seen) == 1
    finally:
        t.join(timeout=30)
    rid = done["r"]["ResponseMetadata"]["RequestId"]
    msgs = lines()
    mine = [m for m in msgs if rid in m or "nap" in m]
    assert mine[-5:] == [f"START RequestId: {rid} Version: $LATEST\n", "before the nap\n",
                         "after the nap\n", f"END RequestId: {rid}\n", mine[-1]]
    assert mine[-1].startswith(f"REPORT RequestId: {rid}\t")
