# SPDX-License-Identifier: MIT
"""bench/durable.py: durable functions with the real @aws/durable-execution-sdk-js (the
function of tests/integration/durable_helpers.py, npm-installed once under the build dir):

- steps per second: one execution of N trivial steps (default 200) through a synchronous
  Invoke; each step is a checkpoint round trip (START, SUCCEED) acknowledged only after an
  fdatasync of <state>/durable;
- replay cost per step: N steps, then a wait, skipped with `galley durable skip-waits`: the
  next invocation replays N checkpointed steps before it goes on; its duration (the history's
  InvocationCompleted) for N steps minus the one for 1 step, divided by N - 1.

One daemon on 127.0.0.1:0 with a temp state dir, stopped by pid. Usage:
    python3 bench/durable.py [N]   (with a boto3 that knows the 2025-12-01 operations)"""
import json
import pathlib
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from conftest import GALLEY_BIN, Daemon  # noqa: E402
from durable_helpers import PYTHON, create_durable, function_zip  # noqa: E402
from helpers import run_boto3_script  # noqa: E402


def durations(d, arn):
    out = run_boto3_script(PYTHON, d.url, f"""
        h = c.get_durable_execution_history(DurableExecutionArn={arn!r})
        out["d"] = [(e["InvocationCompletedDetails"]["EndTimestamp"]
                     - e["InvocationCompletedDetails"]["StartTimestamp"]).total_seconds()
                    for e in h["Events"] if e["EventType"] == "InvocationCompleted"]
    """)
    return out["d"]


def replay_seconds(d, n):
    arn = run_boto3_script(PYTHON, d.url, f"""
        r = c.invoke(FunctionName="bench:1", InvocationType="Event",
                     Payload=json.dumps({{"mode": "stepswait", "n": {n}}}).encode())
        out["arn"] = r["DurableExecutionArn"]
    """)["arn"]
    ctl = [str(GALLEY_BIN), "durable", "--endpoint", d.url, "--state-dir", str(d.state)]
    for _ in range(600):  # until it waits
        h = json.loads(subprocess.run(ctl + ["history", arn], capture_output=True,
                                      text=True).stdout)
        if any(e["EventType"] == "WaitStarted" for e in h["Events"]):
            break
        time.sleep(0.1)
    subprocess.run(ctl + ["skip-waits", arn], capture_output=True, check=True)
    for _ in range(600):
        s = json.loads(subprocess.run(ctl + ["show", arn], capture_output=True, text=True).stdout)
        if s["Status"] != "RUNNING":
            break
        time.sleep(0.1)
    return durations(d, arn)[-1]


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    function_zip()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        d = Daemon(tmp, state_dir=tmp / "state").start()
        try:
            create_durable(d, tmp, "bench", timeout=300)
            run_boto3_script(PYTHON, d.url, """
                c.invoke(FunctionName="bench:1", Payload=b'{"mode":"steps","n":1}')
            """)  # warm: the environment and the SDK loaded
            t0 = time.monotonic()
            run_boto3_script(PYTHON, d.url, f"""
                c.invoke(FunctionName="bench:1",
                         Payload=json.dumps({{"mode": "steps", "n": {n}}}).encode())
            """, timeout=600)
            took = time.monotonic() - t0
            one, many = replay_seconds(d, 1), replay_seconds(d, n)
        finally:
            d.stop()
    print(f"steps: {n} in {took:.2f} s = {n / took:.0f} steps/s "
          f"({took / n * 1000:.2f} ms a step, each START and SUCCEED fsynced)")
    print(f"replay: invocation after the wait {one * 1000:.0f} ms for 1 step, "
          f"{many * 1000:.0f} ms for {n}: {(many - one) / (n - 1) * 1000:.3f} ms a replayed step")


if __name__ == "__main__":
    main()
