# SPDX-License-Identifier: MIT
"""The GitHub Actions composite action (action.yml): its steps' scripts run as a runner would
run them (RUNNER_TEMP, GITHUB_ENV, GITHUB_OUTPUT, GITHUB_PATH files; inputs through the steps'
env), with the galley under test on PATH so the install step keeps it: the start step serves
the workspace's template, exports GALLEY_ENDPOINT and AWS_ENDPOINT_URL_LAMBDA, and a later
step's client invokes a function there."""
import json
import os
import pathlib
import signal
import subprocess

import boto3
import pytest
import yaml
from botocore.config import Config

from conftest import FIXTURES, GALLEY_BIN, ROOT, write_template
from helpers import wait_until

RUN_TIMEOUT = 120


def steps():
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    return {s["id"]: s for s in action["runs"]["steps"]}


def run_step(step, workspace, runner, inputs):
    env = dict(os.environ, RUNNER_TEMP=str(runner),
               PATH=f"{pathlib.Path(GALLEY_BIN).parent}:{os.environ['PATH']}")
    for name in ("GITHUB_ENV", "GITHUB_OUTPUT", "GITHUB_PATH"):
        env[name] = str(runner / name.lower())
    for k, v in step.get("env", {}).items():
        expr = v.strip("${} ")
        env[k] = inputs[expr.split(".", 1)[1]] if expr.startswith("inputs.") else str(ROOT)
    return subprocess.run(["bash", "-c", step["run"]], cwd=str(workspace), env=env,
                          capture_output=True, text=True, timeout=RUN_TIMEOUT)


def read_pairs(path):
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def test_action_starts_galley_and_exports_the_endpoint(tmp_path):
    workspace, runner = tmp_path / "workspace", tmp_path / "runner"
    workspace.mkdir()
    runner.mkdir()
    write_template(workspace, {"Echo": {"CodeUri": str(FIXTURES / "py_basic"),
                                        "Runtime": "python3.11", "Handler": "app.echo"}})
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    inputs = {k: v.get("default", "") for k, v in action["inputs"].items()}
    inputs["listen"] = "127.0.0.1:0"
    inputs["args"] = "--no-watch --idle-timeout 30"
    s = steps()
    res = run_step(s["install"], workspace, runner, inputs)
    assert res.returncode == 0 and "galley: using" in res.stdout, res.stdout + res.stderr
    res = run_step(s["start"], workspace, runner, inputs)
    assert res.returncode == 0, res.stdout + res.stderr
    out = read_pairs(runner / "github_output")
    pid = int(out["pid"])
    try:
        exported = read_pairs(runner / "github_env")
        endpoint = exported["GALLEY_ENDPOINT"]
        assert exported["AWS_ENDPOINT_URL_LAMBDA"] == endpoint == out["endpoint"]
        client = boto3.client("lambda", endpoint_url=endpoint, region_name="us-east-1",
                              aws_access_key_id="x", aws_secret_access_key="x",
                              config=Config(retries={"total_max_attempts": 1}))
        resp = client.invoke(FunctionName="Echo", Payload=b'{"from": "ci"}')
        assert json.loads(resp["Payload"].read())["event"] == {"from": "ci"}
        assert "loaded 1 function(s)" in pathlib.Path(out["log"]).read_text()
    finally:
        os.kill(pid, signal.SIGTERM)
        assert wait_until(lambda: not os.path.exists(f"/proc/{pid}") or
                          open(f"/proc/{pid}/stat").read().split(") ")[1][0] == "Z", 30)


def test_action_fails_clearly_when_galley_cannot_start(tmp_path):
    workspace, runner = tmp_path / "workspace", tmp_path / "runner"
    workspace.mkdir()
    runner.mkdir()
    inputs = {"template": "template.yaml", "listen": "not-an-address", "args": "",
              "timeout": "5"}
    res = run_step(steps()["start"], workspace, runner, inputs)
    assert res.returncode != 0
    assert "--listen wants ADDR:PORT" in res.stdout + res.stderr
    assert "galley exited" in res.stderr
