# SPDX-License-Identifier: MIT
"""The durable journal (<state>/durable) stays bounded on a running daemon: an execution whose
every checkpoint carries a 250 KB step result writes far more than the journal may keep, the
journal is compacted while it runs (its older segments' live executions moved forward), and a
SIGKILL right after leaves nothing lost: the execution resumes, each step having run once."""
import json
import pathlib
import signal
import time

import pytest

from durable_helpers import PYTHON, create_durable, function_zip, step_runs
from helpers import run_boto3_script
from test_durable import WAIT_END, invoke

pytestmark = pytest.mark.skipif(
    PYTHON is None, reason="no Python with a boto3 that has CheckpointDurableExecution "
                           "(set GALLEY_CURRENT_PYTHON)")

MB = 1 << 20


def journal_size(state):
    root = pathlib.Path(state) / "durable"
    total = 0
    for p in root.glob("seg-*.log"):
        try:
            total += p.stat().st_size
        except FileNotFoundError:  # deleted between the listing and the stat
            pass
    return total


def test_journal_compacted_while_running_and_sigkill_after(daemon_factory, tmp_path):
    function_zip()
    state = tmp_path / "state"
    d = daemon_factory(state_dir=state)
    create_durable(d, tmp_path, "big")
    n = 120
    r = invoke(d, "big:1", {"mode": "big", "kb": 250, "n": n}, name="heavy", event=True)
    assert r["status"] == 202, r
    arn = r["arn"]
    largest, deadline = 0, time.monotonic() + 240
    while time.monotonic() < deadline:
        largest = max(largest, journal_size(state))
        if step_runs(state, "big").get(f"b{n - 1}"):
            break
        time.sleep(0.1)
    out = run_boto3_script(PYTHON, d.url, f"""
        import time
        for _ in range(240):
            h = c.get_durable_execution_history(DurableExecutionArn={arn!r})
            if any(e["EventType"] == "WaitStarted" for e in h["Events"]):
                break
            time.sleep(0.25)
        out["events"] = len(h["Events"])
    """, timeout=150)
    largest = max(largest, journal_size(state))
    # Every checkpoint after the first step rewrote the whole document (> 250 KB): more than
    # 2 * n records of it went to the journal.
    assert out["events"] > 2 * n
    assert largest < 40 * MB, f"journal reached {largest / MB:.1f} MB"
    segments = sorted(p.name for p in (state / "durable").glob("seg-*.log"))
    assert len(segments) <= 3, segments
    assert "journal compaction" in d.daemon_log()

    d.stop(sig=signal.SIGKILL)
    d = daemon_factory(state_dir=state)
    out = run_boto3_script(PYTHON, d.url, WAIT_END + f"""
        import urllib.request
        g = c.get_durable_execution(DurableExecutionArn={arn!r})
        out["resumed"] = g["Status"]
        for _ in range(240):
            h = c.get_durable_execution_history(DurableExecutionArn={arn!r})
            if [e for e in h["Events"] if e["EventType"] == "WaitStarted"]:
                break
            time.sleep(0.25)
    """, timeout=150)
    assert out["resumed"] == "RUNNING"
    import subprocess
    from conftest import GALLEY_BIN
    res = subprocess.run([str(GALLEY_BIN), "durable", "skip-waits", arn, "--endpoint", d.url,
                          "--state-dir", str(state)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    out = run_boto3_script(PYTHON, d.url, WAIT_END + f"""
        g = wait_end({arn!r}, 240)
        out["status"] = g["Status"]
        out["result"] = g.get("Result")
    """, timeout=180)
    assert out["status"] == "SUCCEEDED", out
    assert json.loads(out["result"]) == {"sum": sum(range(n)), "after": 250 * 1024}
    want = {f"b{i}": 1 for i in range(n)}
    want["after"] = 1
    assert step_runs(state, "big") == want
