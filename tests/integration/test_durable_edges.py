# SPDX-License-Identifier: MIT
"""Durable executions at their edges, with the real @aws/durable-execution-sdk-js and a current
boto3: a waitForCallback that times out, one kept alive by heartbeats until they stop, a
synchronous start joining a running execution of the same name (its steps run once),
ListDurableExecutionsByFunction's filters and paging, the history read backwards in pages, and
a checkpoint retried with the same ClientToken (the same answer, applied once), and a Function
URL of a durable function (an alias's starts an execution; the unqualified one is refused), and
a replay of more operations than the invocation's first page holds."""
import json
import time

import pytest

from conftest import zip_files
from durable_helpers import PYTHON, ROLE, create_durable, function_zip, logged, step_runs
from helpers import run_boto3_script
from test_durable import WAIT_END, invoke

pytestmark = pytest.mark.skipif(
    PYTHON is None, reason="no Python with a boto3 that has CheckpointDurableExecution "
                           "(set GALLEY_CURRENT_PYTHON)")

# Prepended to a script: callback_id(arn) waits for the CallbackStarted event's id.
CALLBACK_ID = WAIT_END + """
        def callback_id(arn):
            for _ in range(240):
                h = c.get_durable_execution_history(DurableExecutionArn=arn)
                started = [e for e in h["Events"] if e["EventType"] == "CallbackStarted"]
                if started:
                    return started[0]["CallbackStartedDetails"]["CallbackId"]
                time.sleep(0.25)
        def callback_events(arn):
            h = c.get_durable_execution_history(DurableExecutionArn=arn,
                                                IncludeExecutionData=True)
            return [[e["EventType"], e.get("CallbackTimedOutDetails", {}).get("Error")]
                    for e in h["Events"] if e["EventType"].startswith("Callback")]
"""


def test_callback_timeout(daemon_factory, tmp_path):
    function_zip()
    d = daemon_factory(state_dir=tmp_path / "state")
    create_durable(d, tmp_path, "late")
    r = invoke(d, "late:1", {"mode": "callback", "timeout": 2}, event=True)
    out = run_boto3_script(PYTHON, d.url, CALLBACK_ID + f"""
        arn = {r["arn"]!r}
        cid = callback_id(arn)
        g = wait_end(arn, 120)
        out["status"] = g["Status"]
        out["error"] = g.get("Error")
        out["events"] = callback_events(arn)
        out["late"] = error_of(c.send_durable_execution_callback_success, CallbackId=cid,
                               Result=b'"too late"')
    """, timeout=150)
    assert out["status"] == "FAILED", out
    assert out["events"][0] == ["CallbackStarted", None]
    assert out["events"][1][0] == "CallbackTimedOut"
    assert "Callback.Timeout" in json.dumps(out["events"][1][1])
    assert out["late"][0] == "CallbackTimeoutException" and out["late"][2] == 400


def test_heartbeats_keep_a_callback_alive_until_they_stop(daemon_factory, tmp_path):
    function_zip()
    d = daemon_factory(state_dir=tmp_path / "state")
    create_durable(d, tmp_path, "beat")
    # An hour to complete, but a heartbeat due every 3 s.
    r = invoke(d, "beat:1", {"mode": "callback", "heartbeat": 3}, event=True)
    out = run_boto3_script(PYTHON, d.url, CALLBACK_ID + f"""
        arn = {r["arn"]!r}
        cid = callback_id(arn)
        t0 = time.monotonic()
        while time.monotonic() - t0 < 8:      # more than two heartbeat timeouts
            c.send_durable_execution_callback_heartbeat(CallbackId=cid)
            time.sleep(1)
        out["alive"] = c.get_durable_execution(DurableExecutionArn=arn)["Status"]
        stopped = time.monotonic()
        g = wait_end(arn, 120)
        out["after"] = time.monotonic() - stopped
        out["status"] = g["Status"]
        out["events"] = callback_events(arn)
    """, timeout=180)
    assert out["alive"] == "RUNNING", out
    assert out["status"] == "FAILED", out
    assert out["after"] >= 1.5, out
    assert out["events"][1][0] == "CallbackTimedOut"
    assert "Callback.HeartbeatTimeout" in json.dumps(out["events"][1][1])


def test_sync_start_by_name_joins_the_running_execution(daemon_factory, tmp_path):
    function_zip()
    state = tmp_path / "state"
    d = daemon_factory(state_dir=state)
    create_durable(d, tmp_path, "job")
    payload = {"mode": "steps", "n": 3, "slow": 1500}
    first = invoke(d, "job:1", payload, name="order-7", event=True)
    assert first["status"] == 202
    joined = invoke(d, "job:1", payload, name="order-7")
    assert joined["status"] == 200 and joined["error"] is None, joined
    assert joined["arn"] == first["arn"]
    assert json.loads(joined["body"]) == {"sum": 6}
    assert step_runs(state, "job") == {"s0": 1, "s1": 1, "s2": 1}
    out = run_boto3_script(PYTHON, d.url, """
        l = c.list_durable_executions_by_function(FunctionName="job")
        out["n"] = len(l["DurableExecutions"])
    """)
    assert out["n"] == 1
    # Ended: the name stays taken while the execution is kept (its retention).
    ended = invoke(d, "job:1", payload, name="order-7", event=True)
    assert ended["client_error"][0] == "DurableExecutionAlreadyStartedException"


def test_replay_of_more_operations_than_the_first_page(daemon_factory, tmp_path):
    """The invocation after a wait replays 1,003 steps: the envelope carries the first 1,000
    operations and a NextMarker, and the SDK reads the rest with GetDurableExecutionState and
    the envelope's CheckpointToken. Without the rest, the last steps would run again."""
    function_zip()
    state = tmp_path / "state"
    d = daemon_factory(state_dir=state)
    create_durable(d, tmp_path, "long", timeout=120)
    n = 1003
    r = invoke(d, "long:1", {"mode": "steps", "n": n, "wait": 1}, name="many")
    assert r["status"] == 200 and r["error"] is None, r
    assert json.loads(r["body"]) == {"sum": n * (n - 1)}
    assert step_runs(state, "long") == {f"s{i}": 1 for i in range(n)}
    out = run_boto3_script(PYTHON, d.url, f"""
        h = c.get_durable_execution_history(DurableExecutionArn={r["arn"]!r}, MaxItems=1000)
        events = h["Events"]
        while "NextMarker" in h:
            h = c.get_durable_execution_history(DurableExecutionArn={r["arn"]!r},
                                                Marker=h["NextMarker"], MaxItems=1000)
            events += h["Events"]
        out["invocations"] = sum(e["EventType"] == "InvocationCompleted" for e in events)
        out["steps"] = sum(e["EventType"] == "StepSucceeded" for e in events)
    """)
    assert out["invocations"] >= 2  # the wait ended the first invocation: the rest is a replay
    assert out["steps"] == n


def test_list_filters_and_paging(daemon_factory, tmp_path):
    function_zip()
    d = daemon_factory(state_dir=tmp_path / "state")
    create_durable(d, tmp_path, "many")
    for i in range(3):
        r = invoke(d, "many:1", {"mode": "steps", "n": 1}, name=f"e{i}")
        assert r["status"] == 200 and r["error"] is None, r
        time.sleep(1.1)  # StartTimestamps a second apart
    sleeping = invoke(d, "many:1", {"mode": "wait"}, name="e3", event=True)
    out = run_boto3_script(PYTHON, d.url, f"""
        import datetime
        def names(**kw):
            got, marker = [], None
            for _ in range(20):
                extra = {{"Marker": marker}} if marker else {{}}
                p = c.list_durable_executions_by_function(FunctionName="many", **kw, **extra)
                got.append([e["DurableExecutionName"] for e in p["DurableExecutions"]])
                marker = p.get("NextMarker")
                if not marker:
                    return got
        out["pages"] = names(MaxItems=3)
        out["reverse"] = names(MaxItems=2, ReverseOrder=True)
        out["succeeded"] = names(Statuses=["SUCCEEDED"])
        out["running"] = names(Statuses=["RUNNING", "FAILED"])
        out["by_name"] = names(DurableExecutionName="e1")
        out["qualified"] = names(Qualifier="1", MaxItems=10)
        e1 = c.list_durable_executions_by_function(FunctionName="many",
                                                   DurableExecutionName="e1")
        t1 = e1["DurableExecutions"][0]["StartTimestamp"]
        out["after"] = names(StartedAfter=t1)
        out["before"] = names(StartedBefore=t1)
        out["between"] = names(StartedAfter=t1 - datetime.timedelta(seconds=0.5),
                               StartedBefore=t1 + datetime.timedelta(seconds=0.5))
        out["bad_status"] = error_of(c.list_durable_executions_by_function,
                                     FunctionName="many", Statuses=["NOPE"])
        out["bad_marker"] = error_of(c.list_durable_executions_by_function,
                                     FunctionName="many", Marker="nope")
        arn = {sleeping["arn"]!r}
        h = c.get_durable_execution_history(DurableExecutionArn=arn)
        out["history"] = [e["EventId"] for e in h["Events"]]
        back, marker = [], None
        for _ in range(20):
            extra = {{"Marker": marker}} if marker else {{}}
            p = c.get_durable_execution_history(DurableExecutionArn=arn, ReverseOrder=True,
                                                MaxItems=2, **extra)
            back += [e["EventId"] for e in p["Events"]]
            marker = p.get("NextMarker")
            if not marker:
                break
        out["history_back"] = back
        c.stop_durable_execution(DurableExecutionArn=arn)
    """, timeout=120)
    assert out["pages"] == [["e3", "e2", "e1"], ["e0"]]
    assert out["reverse"] == [["e0", "e1"], ["e2", "e3"]]
    assert out["succeeded"] == [["e2", "e1", "e0"]]
    assert out["running"] == [["e3"]]
    assert out["by_name"] == [["e1"]]
    assert out["qualified"] == [["e3", "e2", "e1", "e0"]]
    assert out["after"] == [["e3", "e2"]]
    assert out["before"] == [["e0"]]
    assert out["between"] == [["e1"]]
    assert out["bad_status"][0] == "ValidationException"
    assert out["bad_marker"][0] == "InvalidParameterValueException"
    assert len(out["history"]) >= 3
    assert out["history_back"] == out["history"][::-1]


# A durable function without the SDK: it logs its envelope and leaves the execution to the test.
RAW_JS = r"""
exports.handler = async (e) => {
  console.log(`DX-ARN ${e.DurableExecutionArn}`);
  console.log(`DX-TOKEN ${e.CheckpointToken}`);
  return { Status: 'PENDING' };
};
"""


def test_checkpoint_retried_with_the_same_client_token(daemon_factory, tmp_path):
    state = tmp_path / "state"
    d = daemon_factory(state_dir=state)
    zpath = tmp_path / "raw.zip"
    zpath.write_bytes(zip_files({"index.js": RAW_JS}))
    run_boto3_script(PYTHON, d.url, f"""
        c.create_function(FunctionName="raw", Runtime="nodejs22.x", Handler="index.handler",
                          Role={ROLE!r}, Code={{"ZipFile": open({str(zpath)!r}, "rb").read()}},
                          DurableConfig={{"ExecutionTimeout": 3600}})
        c.invoke(FunctionName="raw:$LATEST", InvocationType="Event", Payload=b"{{}}")
    """)
    deadline = time.monotonic() + 60
    while not logged(state, "raw", "DX-TOKEN") and time.monotonic() < deadline:
        time.sleep(0.2)
    arn, token = logged(state, "raw", "DX-ARN")[0], logged(state, "raw", "DX-TOKEN")[0]
    out = run_boto3_script(PYTHON, d.url, f"""
        arn, token = {arn!r}, {token!r}
        step = [{{"Id": "s1", "Type": "STEP", "Action": "START", "Name": "one"}},
                {{"Id": "s1", "Type": "STEP", "Action": "SUCCEED", "Payload": "1"}}]
        first = c.checkpoint_durable_execution(DurableExecutionArn=arn, CheckpointToken=token,
                                               ClientToken="ct-1", Updates=step)
        again = c.checkpoint_durable_execution(DurableExecutionArn=arn, CheckpointToken=token,
                                               ClientToken="ct-1", Updates=step)
        out["same"] = [first["CheckpointToken"] == again["CheckpointToken"],
                       first["NewExecutionState"] == again["NewExecutionState"]]
        out["ops"] = [[o["Id"], o["Status"]] for o in again["NewExecutionState"]["Operations"]]
        # Another ClientToken with the consumed token is a stale token, as before.
        out["other"] = error_of(c.checkpoint_durable_execution, DurableExecutionArn=arn,
                                CheckpointToken=token, ClientToken="ct-2", Updates=step)
        nxt = c.checkpoint_durable_execution(DurableExecutionArn=arn,
                                             CheckpointToken=first["CheckpointToken"],
                                             ClientToken="ct-3")
        out["next"] = nxt["CheckpointToken"] != first["CheckpointToken"]
        h = c.get_durable_execution_history(DurableExecutionArn=arn)
        out["steps"] = [e["EventType"] for e in h["Events"] if e["EventType"].startswith("Step")]
        c.stop_durable_execution(DurableExecutionArn=arn)
    """)
    assert out["same"] == [True, True]
    assert out["ops"] == [["s1", "SUCCEEDED"]]
    assert out["other"][0] == "InvalidParameterValueException"
    assert out["other"][1].startswith("Invalid Checkpoint Token")
    assert out["next"]
    assert out["steps"] == ["StepStarted", "StepSucceeded"]


def test_function_url_of_a_durable_function(daemon_factory, tmp_path):
    import urllib.error
    import urllib.request
    function_zip()
    state = tmp_path / "state"
    d = daemon_factory(state_dir=state)
    create_durable(d, tmp_path, "site")
    c = d.client()
    c.create_alias(FunctionName="site", Name="live", FunctionVersion="1")
    live = c.create_function_url_config(FunctionName="site", Qualifier="live",
                                        AuthType="NONE")["FunctionUrl"]
    bare = c.create_function_url_config(FunctionName="site", AuthType="NONE")["FunctionUrl"]
    with urllib.request.urlopen(live + "hello", timeout=120) as r:
        status, body = r.status, json.loads(r.read())
    assert (status, body) == (201, {"path": "/hello"})
    assert step_runs(state, "site") == {"web": 1}
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(bare + "hello", timeout=60)
    assert e.value.code == 502
    assert json.loads(e.value.read()) == {"Message": "Internal Server Error"}
    out = run_boto3_script(PYTHON, d.url, """
        l = c.list_durable_executions_by_function(FunctionName="site")
        out["list"] = [[e["Status"], e["DurableExecutionArn"].split("/")[0].split(":")[-1]]
                       for e in l["DurableExecutions"]]
    """)
    assert out["list"] == [["SUCCEEDED", "1"]]
