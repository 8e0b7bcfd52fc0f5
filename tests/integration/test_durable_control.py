# SPDX-License-Identifier: MIT
"""galley's own durable controls and the rest of the execution's life with the real SDK:
`galley durable` (list, show, history, skip-waits, stop, callback) over the control token,
/metrics counting executions by status, a callback failed through the CLI, and an execution
cut off by its ExecutionTimeout."""
import json
import subprocess
import time
import urllib.request

import pytest

from conftest import GALLEY_BIN
from durable_helpers import PYTHON, create_durable, function_zip
from helpers import run_boto3_script

pytestmark = pytest.mark.skipif(
    PYTHON is None, reason="no Python with a boto3 that has CheckpointDurableExecution "
                           "(set GALLEY_CURRENT_PYTHON)")


def galley(d, *args):
    return subprocess.run([str(GALLEY_BIN), "durable", *args, "--endpoint", d.url,
                           "--state-dir", str(d.state)], capture_output=True, text=True,
                          timeout=60)


def start(d, fn, payload):
    return run_boto3_script(PYTHON, d.url, f"""
        r = c.invoke(FunctionName={fn!r}, InvocationType="Event", Payload={json.dumps(payload)!r})
        out["arn"] = r["DurableExecutionArn"]
    """)["arn"]


def wait_status(d, arn, want, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        shown = json.loads(galley(d, "show", arn).stdout or "{}")
        if shown.get("Status") == want:
            return shown
        time.sleep(0.3)
    pytest.fail(f"{arn} did not reach {want}: {shown}")


def history_has(d, arn, event, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        events = json.loads(galley(d, "history", arn).stdout or "{}").get("Events", [])
        found = [e for e in events if e["EventType"] == event]
        if found:
            return found
        time.sleep(0.3)
    pytest.fail(f"no {event} in {arn}")


def test_cli_skip_waits_stop_and_metrics(daemon_factory, tmp_path):
    function_zip()
    d = daemon_factory(state_dir=tmp_path / "state")
    create_durable(d, tmp_path, "cli")
    sleeping = start(d, "cli:1", {"mode": "wait", "days": 30})
    history_has(d, sleeping, "WaitStarted")
    listed = json.loads(galley(d, "list", "--status", "RUNNING").stdout)
    assert [e["DurableExecutionArn"] for e in listed["DurableExecutions"]] == [sleeping]
    assert listed["DurableExecutions"][0]["FunctionName"] == "cli"

    # Thirty days of waiting, skipped.
    res = galley(d, "skip-waits", sleeping)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == {"Skipped": 1}
    done = wait_status(d, sleeping, "SUCCEEDED")
    assert done["Result"] == "3"

    other = start(d, "cli:1", {"mode": "wait"})
    history_has(d, other, "WaitStarted")
    res = galley(d, "stop", other)
    assert res.returncode == 0 and "StopTimestamp" in json.loads(res.stdout)
    res = galley(d, "stop", other)
    assert res.returncode == 1 and "InvalidParameterValueException" in res.stderr

    metrics = urllib.request.urlopen(d.url + "/metrics", timeout=10).read().decode()
    assert 'galley_durable_executions{status="SUCCEEDED"} 1' in metrics
    assert 'galley_durable_executions{status="STOPPED"} 1' in metrics
    assert 'galley_durable_executions{status="RUNNING"} 0' in metrics

    # The control route wants the control token, as every /_galley route.
    req = urllib.request.Request(d.url + "/_galley/durable")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10)
    assert e.value.code == 403
    assert galley(d, "show").returncode == 2
    assert galley(d, "callback", "x").returncode == 2


def test_callback_failure_through_cli_and_execution_timeout(daemon_factory, tmp_path):
    function_zip()
    d = daemon_factory(state_dir=tmp_path / "state")
    create_durable(d, tmp_path, "cb")
    arn = start(d, "cb:1", {"mode": "callback"})
    cid = history_has(d, arn, "CallbackStarted")[0]["CallbackStartedDetails"]["CallbackId"]
    assert galley(d, "callback", cid, "--heartbeat").returncode == 0
    res = galley(d, "callback", cid, "--failure", "rejected by a person")
    assert res.returncode == 0, res.stderr
    failed = wait_status(d, arn, "FAILED")
    assert "rejected by a person" in json.dumps(failed["Error"])

    # An ExecutionTimeout of 3 s ends a day's wait as TIMED_OUT.
    create_durable(d, tmp_path, "short", execution_timeout=3)
    arn = start(d, "short:1", {"mode": "wait"})
    timed_out = wait_status(d, arn, "TIMED_OUT", timeout=60)
    assert timed_out["Error"]["ErrorType"] == "Execution.TimedOut"
    events = [e["EventType"] for e in json.loads(galley(d, "history", arn).stdout)["Events"]]
    assert "ExecutionTimedOut" in events


def test_retention_drops_ended_executions(daemon_factory, tmp_path):
    function_zip()
    state = tmp_path / "state"
    d = daemon_factory(state_dir=state, extra_args=["--async-time-scale", "86400"])  # 1 day: 1 s
    create_durable(d, tmp_path, "brief", execution_timeout=31622400, retention_days=1)
    arn = start(d, "brief:1", {"mode": "steps", "n": 1})
    wait_status(d, arn, "SUCCEEDED", timeout=60)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and galley(d, "show", arn).returncode == 0:
        time.sleep(0.3)
    res = galley(d, "show", arn)
    assert res.returncode == 1 and "ResourceNotFoundException" in res.stderr
    # Gone from the journal too: not back after a restart.
    d.stop()
    d = daemon_factory(state_dir=state)
    assert json.loads(galley(d, "list").stdout) == {"DurableExecutions": []}
