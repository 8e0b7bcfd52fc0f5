# SPDX-License-Identifier: MIT
"""examples/harness keeps working: its pytest suite (boto3 + the control API) runs as a
subprocess against a daemon serving examples/template.yaml, as its README tells a user to."""
import os
import subprocess
import sys

from conftest import AWS_ENV, BUILD, ROOT

HARNESS = ROOT / "examples" / "harness"


def test_harness_example_passes_against_the_examples_template(daemon_factory):
    d = daemon_factory(template=ROOT / "examples" / "template.yaml", extra_args=[
        "--parameter-overrides", f"HelloCCodeDir={BUILD / 'examples' / 'hello-c'}"])
    env = dict(os.environ, **AWS_ENV, GALLEY_ENDPOINT=d.url, PYTHONDONTWRITEBYTECODE="1",
               GALLEY_STATE_DIR=str(d.state))
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "-o", "addopts=", str(HARNESS)],
                         capture_output=True, text=True, env=env, cwd=str(HARNESS), timeout=600)
    assert res.returncode == 0, f"{res.stdout}\n{res.stderr}"
    # Every test of the example ran (none skipped or deselected) and passed.
    tests = sum(line.startswith("def test_") for line in (HARNESS / "test_example.py").open())
    assert f"{tests} passed" in res.stdout and "skipped" not in res.stdout, res.stdout
