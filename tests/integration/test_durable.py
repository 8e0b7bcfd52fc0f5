# SPDX-License-Identifier: MIT
"""Durable functions with the real @aws/durable-execution-sdk-js inside a nodejs22.x function,
the control plane driven by a boto3 recent enough to know the 2025-12-01 operations:
DurableConfig validation, steps replayed and not re-run, a step retried after failures, a day's
wait finished in seconds by --async-time-scale, idempotent start by name, StopDurableExecution,
GetDurableExecution(State|History) and ListDurableExecutionsByFunction, and Lambda's errors."""
import json

import pytest

from durable_helpers import (PYTHON, ROLE, callback_ids, create_durable, function_zip,
                             step_runs)
from helpers import run_boto3_script

pytestmark = pytest.mark.skipif(
    PYTHON is None, reason="no Python with a boto3 that has CheckpointDurableExecution "
                           "(set GALLEY_CURRENT_PYTHON)")


# Prepended to a boto3 script: wait_end(arn, tries) polls until the execution is not RUNNING.
WAIT_END = """
        import time
        def wait_end(arn, tries):
            for _ in range(tries):
                g = c.get_durable_execution(DurableExecutionArn=arn)
                if g["Status"] != "RUNNING":
                    break
                time.sleep(0.5)
            return g
"""


def invoke(d, fn, payload, name=None, event=False, timeout=300):
    extra = f", DurableExecutionName={name!r}" if name else ""
    kind = "Event" if event else "RequestResponse"
    return run_boto3_script(PYTHON, d.url, f"""
        from botocore.config import Config
        import boto3
        c = boto3.client("lambda", endpoint_url=sys.argv[1], region_name="us-east-1",
                         aws_access_key_id="testing", aws_secret_access_key="testing",
                         config=Config(retries={{"total_max_attempts": 1}}, read_timeout=300))
        try:
            r = c.invoke(FunctionName={fn!r}, InvocationType={kind!r},
                         Payload={json.dumps(payload)!r}{extra})
            out["status"] = r["StatusCode"]
            out["arn"] = r.get("DurableExecutionArn")
            out["error"] = r.get("FunctionError")
            out["body"] = r["Payload"].read().decode()
            out["version"] = r.get("ExecutedVersion")
        except ClientError as e:
            out["client_error"] = [e.response["Error"]["Code"], e.response["Error"]["Message"],
                                   e.response["ResponseMetadata"]["HTTPStatusCode"]]
    """, timeout=timeout)


def test_durable_config_validation(daemon_factory, tmp_path):
    d = daemon_factory(state_dir=tmp_path / "state")
    zpath = tmp_path / "plain.zip"
    from conftest import zip_files
    zpath.write_bytes(zip_files({"index.js": "exports.handler = async () => 1;"}))
    out = run_boto3_script(PYTHON, d.url, f"""
        import boto3
        from botocore.config import Config
        c = boto3.client("lambda", endpoint_url=sys.argv[1], region_name="us-east-1",
                         aws_access_key_id="testing", aws_secret_access_key="testing",
                         config=Config(retries={{"total_max_attempts": 1}},
                                       parameter_validation=False))
        def create(name, cfg):
            return c.create_function(FunctionName=name, Runtime="nodejs22.x", Role={ROLE!r},
                                     Handler="index.handler",
                                     Code={{"ZipFile": open({str(zpath)!r}, "rb").read()}},
                                     DurableConfig=cfg)
        out["too_long"] = error_of(create, name="a", cfg={{"ExecutionTimeout": 31622401}})
        out["zero"] = error_of(create, name="a", cfg={{"ExecutionTimeout": 0}})
        out["retention"] = error_of(create, name="a",
                                    cfg={{"ExecutionTimeout": 60, "RetentionPeriodInDays": 91}})
        out["created"] = create("dur", {{"ExecutionTimeout": 60}})["DurableConfig"]
        out["get"] = c.get_function(FunctionName="dur")["Configuration"]["DurableConfig"]
        out["updated"] = c.update_function_configuration(
            FunctionName="dur", DurableConfig={{"ExecutionTimeout": 90,
                                                "RetentionPeriodInDays": 3}})["DurableConfig"]
        c.create_function(FunctionName="plain", Runtime="nodejs22.x", Role={ROLE!r},
                          Handler="index.handler",
                          Code={{"ZipFile": open({str(zpath)!r}, "rb").read()}})
        out["enable_later"] = error_of(c.update_function_configuration, FunctionName="plain",
                                       DurableConfig={{"ExecutionTimeout": 60}})
        out["unqualified"] = error_of(c.invoke, FunctionName="dur", Payload=b"{{}}")
        out["bad_name"] = error_of(c.invoke, FunctionName="dur:$LATEST", Payload=b"{{}}",
                                   DurableExecutionName="no spaces")
        out["missing"] = error_of(c.get_durable_execution, DurableExecutionArn=(
            "arn:aws:lambda:us-east-1:123456789012:function:dur:1/durable-execution/x/"
            "00000000-0000-0000-0000-000000000000"))
        out["bad_token"] = error_of(c.checkpoint_durable_execution, DurableExecutionArn=(
            "arn:aws:lambda:us-east-1:123456789012:function:dur:1/durable-execution/x/"
            "00000000-0000-0000-0000-000000000000"), CheckpointToken="AAAA")
        out["no_callback"] = error_of(c.send_durable_execution_callback_success,
                                      CallbackId="AAAA", Result=b"1")
    """)
    assert out["too_long"][0] == "ValidationException"
    assert "'durableConfig.executionTimeout'" in out["too_long"][1]
    assert "less than or equal to 31622400" in out["too_long"][1]
    assert out["zero"][0] == "ValidationException"
    assert out["retention"][0] == "ValidationException"
    assert "less than or equal to 90" in out["retention"][1]
    assert out["created"] == {"ExecutionTimeout": 60, "RetentionPeriodInDays": 14}
    assert out["get"] == out["created"]
    assert out["updated"] == {"ExecutionTimeout": 90, "RetentionPeriodInDays": 3}
    assert out["enable_later"][0] == "InvalidParameterValueException"
    assert out["unqualified"][0] == "InvalidParameterValueException"
    assert "unqualified" in out["unqualified"][1]
    assert out["bad_name"][0] == "ValidationException"
    assert out["missing"][:1] == ["ResourceNotFoundException"] and out["missing"][2] == 404
    assert out["bad_token"][0] == "InvalidParameterValueException"
    assert out["bad_token"][1].startswith("Invalid Checkpoint Token")
    assert out["no_callback"][0] == "ResourceNotFoundException"


def test_steps_replayed_not_rerun_and_reads(daemon_factory, tmp_path):
    function_zip()
    state = tmp_path / "state"
    d = daemon_factory(state_dir=state)
    create_durable(d, tmp_path, "wf")
    r = invoke(d, "wf:1", {"mode": "steps", "n": 5}, name="run-1")
    assert r["status"] == 200 and r["error"] is None, r
    assert json.loads(r["body"]) == {"sum": 20}
    assert r["version"] == "1"
    arn = r["arn"]
    assert arn.startswith("arn:aws:lambda:us-east-1:123456789012:function:wf:1/durable-execution/"
                          "run-1/")
    assert step_runs(state, "wf") == {f"s{i}": 1 for i in range(5)}

    # The same name and payload joins the ended execution's answer? No: it has ended, so a
    # second start under its name is refused; a different name starts anew.
    again = invoke(d, "wf:1", {"mode": "steps", "n": 5}, name="run-1")
    assert again["client_error"][0] == "DurableExecutionAlreadyStartedException"
    assert again["client_error"][2] == 409

    out = run_boto3_script(PYTHON, d.url, f"""
        arn = {arn!r}
        g = c.get_durable_execution(DurableExecutionArn=arn)
        out["get"] = {{k: g.get(k) for k in ("DurableExecutionName", "Status", "Result",
                                             "FunctionArn", "InputPayload", "Version")}}
        out["has_end"] = "EndTimestamp" in g
        h = c.get_durable_execution_history(DurableExecutionArn=arn, IncludeExecutionData=True)
        out["events"] = [e["EventType"] for e in h["Events"]]
        out["ids"] = [e["EventId"] for e in h["Events"]]
        p1 = c.get_durable_execution_history(DurableExecutionArn=arn, MaxItems=3)
        out["page1"] = [len(p1["Events"]), "NextMarker" in p1]
        p2 = c.get_durable_execution_history(DurableExecutionArn=arn, MaxItems=3,
                                             Marker=p1["NextMarker"])
        out["page2_first"] = p2["Events"][0]["EventId"]
        out["no_data"] = "Payload" in json.dumps(p1["Events"][0], default=str)
        l = c.list_durable_executions_by_function(FunctionName="wf")
        out["list"] = [(e["DurableExecutionName"], e["Status"]) for e in l["DurableExecutions"]]
        l = c.list_durable_executions_by_function(FunctionName="wf", Statuses=["RUNNING"])
        out["list_running"] = len(l["DurableExecutions"])
        out["list_unknown"] = error_of(c.list_durable_executions_by_function, FunctionName="nope")
        out["stop_ended"] = error_of(c.stop_durable_execution, DurableExecutionArn=arn)
    """)
    assert out["get"] == {"DurableExecutionName": "run-1", "Status": "SUCCEEDED",
                          "Result": '{"sum":20}',
                          "FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:wf:1",
                          "InputPayload": '{"mode": "steps", "n": 5}', "Version": "1"}
    assert out["has_end"]
    ev = out["events"]
    assert ev[0] == "ExecutionStarted" and ev[-1] in ("ExecutionSucceeded", "InvocationCompleted")
    assert "ExecutionSucceeded" in ev
    assert ev.count("StepStarted") == 5 and ev.count("StepSucceeded") == 5
    assert out["ids"] == list(range(1, len(ev) + 1))
    assert out["page1"] == [3, True] and out["page2_first"] == 4
    assert out["no_data"] is False
    assert out["list"] == [["run-1", "SUCCEEDED"]]
    assert out["list_running"] == 0
    assert out["list_unknown"][0] == "ResourceNotFoundException"
    assert out["stop_ended"][0] == "InvalidParameterValueException"


def test_step_retried_after_two_failures(daemon_factory, tmp_path):
    function_zip()
    state = tmp_path / "state"
    # 30 s retry delays, 30 times faster.
    d = daemon_factory(state_dir=state, extra_args=["--async-time-scale", "30"])
    create_durable(d, tmp_path, "flaky")
    r = invoke(d, "flaky:1", {"mode": "retry"})
    assert r["status"] == 200 and r["error"] is None, r
    assert json.loads(r["body"]) == "ok after 3"
    assert step_runs(state, "flaky") == {"flaky": 3}
    out = run_boto3_script(PYTHON, d.url, f"""
        h = c.get_durable_execution_history(DurableExecutionArn={r["arn"]!r})
        out["events"] = [e["EventType"] for e in h["Events"] if e["EventType"].startswith("Step")]
    """)
    assert out["events"] == ["StepStarted", "StepFailed", "StepStarted", "StepFailed",
                             "StepStarted", "StepSucceeded"]


def test_day_long_wait_with_time_scale_and_event_invoke(daemon_factory, tmp_path):
    function_zip()
    state = tmp_path / "state"
    d = daemon_factory(state_dir=state, extra_args=["--async-time-scale", "8640"])  # 1 day: 10 s
    # The time scale shortens the execution timeout too: a year is an hour here.
    create_durable(d, tmp_path, "sleepy", execution_timeout=31622400)
    r = invoke(d, "sleepy:1", {"mode": "wait"}, name="nap", event=True)
    assert r["status"] == 202 and r["arn"].endswith("/durable-execution/nap/" + r["arn"][-36:])
    # An Event start with the same name and payload is the same execution.
    again = invoke(d, "sleepy:1", {"mode": "wait"}, name="nap", event=True)
    assert again.get("arn") == r["arn"], again
    other = invoke(d, "sleepy:1", {"mode": "wait", "days": 2}, name="nap", event=True)
    assert other["client_error"][0] == "DurableExecutionAlreadyStartedException"
    out = run_boto3_script(PYTHON, d.url, WAIT_END + f"""
        g = wait_end({r["arn"]!r}, 120)
        out["status"] = g["Status"]
        out["result"] = g.get("Result")
        h = c.get_durable_execution_history(DurableExecutionArn={r["arn"]!r})
        out["waits"] = [[e["EventType"], e.get("WaitStartedDetails", {{}}).get("Duration")]
                        for e in h["Events"] if e["EventType"].startswith("Wait")]
    """)
    assert out["status"] == "SUCCEEDED" and out["result"] == "3"
    assert out["waits"] == [["WaitStarted", 86400], ["WaitSucceeded", None]]
    assert step_runs(state, "sleepy") == {"before": 1, "after": 1}


def test_stop_a_waiting_execution(daemon_factory, tmp_path):
    function_zip()
    state = tmp_path / "state"
    d = daemon_factory(state_dir=state)
    create_durable(d, tmp_path, "stoppable")
    r = invoke(d, "stoppable:1", {"mode": "wait"}, event=True)
    out = run_boto3_script(PYTHON, d.url, f"""
        import time
        arn = {r["arn"]!r}
        for _ in range(120):
            h = c.get_durable_execution_history(DurableExecutionArn=arn)
            if any(e["EventType"] == "WaitStarted" for e in h["Events"]):
                break
            time.sleep(0.5)
        s = c.stop_durable_execution(DurableExecutionArn=arn,
                                     Error={{"ErrorType": "Manual", "ErrorMessage": "enough"}})
        out["stop"] = "StopTimestamp" in s
        g = c.get_durable_execution(DurableExecutionArn=arn)
        out["status"] = g["Status"]
        out["error"] = g.get("Error")
        l = c.list_durable_executions_by_function(FunctionName="stoppable", Statuses=["STOPPED"])
        out["listed"] = len(l["DurableExecutions"])
    """)
    assert out["stop"] and out["status"] == "STOPPED"
    assert out["error"] == {"ErrorType": "Manual", "ErrorMessage": "enough"}
    assert out["listed"] == 1


def test_wait_for_callback_success(daemon_factory, tmp_path):
    function_zip()
    state = tmp_path / "state"
    d = daemon_factory(state_dir=state)
    create_durable(d, tmp_path, "approval")
    r = invoke(d, "approval:1", {"mode": "callback"}, event=True)
    out = run_boto3_script(PYTHON, d.url, f"""
        import time, glob, re
        arn = {r["arn"]!r}
        cid = None
        for _ in range(120):
            h = c.get_durable_execution_history(DurableExecutionArn=arn)
            started = [e for e in h["Events"] if e["EventType"] == "CallbackStarted"]
            if started:
                cid = started[0]["CallbackStartedDetails"]["CallbackId"]
                break
            time.sleep(0.5)
        out["cid"] = cid
        c.send_durable_execution_callback_heartbeat(CallbackId=cid)
        c.send_durable_execution_callback_success(CallbackId=cid, Result=b'"yes"')
        out["again"] = error_of(c.send_durable_execution_callback_success, CallbackId=cid,
                                Result=b'"no"')
        for _ in range(120):
            g = c.get_durable_execution(DurableExecutionArn=arn)
            if g["Status"] != "RUNNING":
                break
            time.sleep(0.5)
        out["status"] = g["Status"]
        out["result"] = g.get("Result")
    """)
    assert out["cid"]
    assert out["again"][0] == "CallbackTimeoutException"
    assert out["status"] == "SUCCEEDED"
    assert json.loads(out["result"]) == {"approved": '"yes"'}  # the callback's bytes as sent
    assert out["cid"] in callback_ids(state, "approval")


def test_sigkill_mid_execution_resumes_without_rerunning_steps(daemon_factory, tmp_path):
    import signal
    import time
    from durable_helpers import step_runs as runs
    function_zip()
    state = tmp_path / "state"
    d = daemon_factory(state_dir=state)
    create_durable(d, tmp_path, "long")
    # Each step body sleeps 1 s and logs as it ends; the kill comes half a second after the
    # sixth line, inside the seventh body, once the sixth step's checkpoint is acknowledged.
    # (A body the kill cuts after its log line but before its checkpoint would run again:
    # the SDK's at-least-once steps. The kill is placed so that this test does not do it.)
    r = invoke(d, "long:1", {"mode": "steps", "n": 20, "slow": 1000}, name="crash", event=True)
    assert r["status"] == 202
    deadline = time.monotonic() + 120
    while len(runs(state, "long")) < 6 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(runs(state, "long")) >= 6, runs(state, "long")
    time.sleep(0.5)
    d.stop(sig=signal.SIGKILL)
    done_before = runs(state, "long")
    assert len(done_before) < 20, "the execution ended before the daemon was killed"

    d = daemon_factory(state_dir=state)  # resumes every running execution
    out = run_boto3_script(PYTHON, d.url, WAIT_END + f"""
        g = wait_end({r["arn"]!r}, 240)
        out["status"] = g["Status"]
        out["result"] = g.get("Result")
        out["error"] = g.get("Error")
        h = c.get_durable_execution_history(DurableExecutionArn={r["arn"]!r},
                                            IncludeExecutionData=True)
        out["tail"] = [json.dumps(e, default=str)[:300] for e in h["Events"][-4:]]
    """, timeout=200)
    assert out["status"] == "SUCCEEDED", out
    assert json.loads(out["result"]) == {"sum": sum(i * 2 for i in range(20))}
    assert runs(state, "long") == {f"s{i}": 1 for i in range(20)}


def test_chained_invoke_of_another_function(daemon_factory, tmp_path):
    from conftest import zip_files
    function_zip()
    state = tmp_path / "state"
    d = daemon_factory(state_dir=state)
    create_durable(d, tmp_path, "caller")
    d.client().create_function(
        FunctionName="callee", Runtime="nodejs22.x", Handler="index.handler", Role=ROLE,
        Code={"ZipFile": zip_files({"index.js": "exports.handler = async (e) => "
                                                "({ ten: e.x * 10 });"})})
    r = invoke(d, "caller:1", {"mode": "chain", "target": "callee"})
    assert r["status"] == 200 and r["error"] is None, r
    assert json.loads(r["body"]) == {"got": {"ten": 20}}
    assert step_runs(state, "caller") == {"after-chain": 1}
    missing = invoke(d, "caller:1", {"mode": "chain", "target": "nope"})
    assert missing["error"] == "Unhandled"
    out = run_boto3_script(PYTHON, d.url, f"""
        h = c.get_durable_execution_history(DurableExecutionArn={r["arn"]!r})
        out["events"] = [e["EventType"] for e in h["Events"] if "Chained" in e["EventType"]]
    """)
    assert out["events"] == ["ChainedInvokeStarted", "ChainedInvokeSucceeded"]


def test_parallel_and_map_replayed(daemon_factory, tmp_path):
    function_zip()
    state = tmp_path / "state"
    d = daemon_factory(state_dir=state)
    create_durable(d, tmp_path, "fan")
    r = invoke(d, "fan:1", {"mode": "parallel"})
    assert r["status"] == 200 and r["error"] is None, r
    assert json.loads(r["body"]) == {"parallel": [1, 2], "map": [30, 40, 50]}
    assert step_runs(state, "fan") == {"a": 1, "b": 1, "m3": 1, "m4": 1, "m5": 1}
