# SPDX-License-Identifier: MIT
"""galley-test-helper (node/galley-test-helper), the Node counterpart of pytest-galley: its own
tests with node's test runner (no dependency), and the sample Jest suite examples/jest-project
(the AWS SDK for JavaScript v3 through AWS_ENDPOINT_URL_LAMBDA, a reset before each test,
warming) after `npm ci` in a temporary copy; skipped, saying why, when npm cannot install."""
import os
import shutil
import subprocess

import pytest

from conftest import GALLEY_BIN, ROOT
from install_helpers import processes_mentioning

HELPER = ROOT / "node" / "galley-test-helper"
SAMPLE = ROOT / "examples" / "jest-project"
NPM_TIMEOUT = 900
RUN_TIMEOUT = 300



def node_env(tmp_path):
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir(exist_ok=True)
    env = dict(os.environ, GALLEY_BIN=GALLEY_BIN, TMPDIR=str(tmpdir))
    for k in ("GALLEY_ENDPOINT", "AWS_ENDPOINT_URL_LAMBDA", "AWS_ENDPOINT_URL"):
        env.pop(k, None)
    return env, tmpdir


@pytest.fixture
def node():
    found = shutil.which("node")
    if not found:
        pytest.skip("node is not installed")
    return found


def test_helper_unit_tests(node, tmp_path):
    env, tmpdir = node_env(tmp_path)
    res = subprocess.run([node, "--test", "test/"], cwd=str(HELPER), env=env,
                         capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "# pass 2" in res.stdout and "# fail 0" in res.stdout
    assert not processes_mentioning(str(tmpdir)), "a daemon outlived the helper's tests"


def test_sample_jest_suite(node, tmp_path):
    npm = shutil.which("npm")
    if not npm:
        pytest.skip("npm is not installed")
    # The same layout as the repository, so the sample's file: dependency resolves.
    shutil.copytree(HELPER, tmp_path / "node" / "galley-test-helper")
    project = tmp_path / "examples" / "jest-project"
    shutil.copytree(SAMPLE, project, ignore=shutil.ignore_patterns("node_modules"))
    env, tmpdir = node_env(tmp_path)
    try:
        install = subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                                 cwd=str(project), env=env, capture_output=True, text=True,
                                 timeout=NPM_TIMEOUT)
    except subprocess.TimeoutExpired:
        pytest.skip(f"npm ci took over {NPM_TIMEOUT} s (registry unreachable?)")
    if install.returncode != 0:
        pytest.skip(f"npm ci failed, so the Jest sample cannot run here: {install.stderr[-600:]}")
    res = subprocess.run([str(project / "node_modules" / ".bin" / "jest"), "--ci"],
                         cwd=str(project), env=env, capture_output=True, text=True,
                         timeout=RUN_TIMEOUT)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "Tests:       4 passed, 4 total" in res.stderr
    assert not processes_mentioning(str(tmpdir)), "the run's daemon outlived Jest"
