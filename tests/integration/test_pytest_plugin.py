# SPDX-License-Identifier: MIT
"""pytest-galley (python/pytest-galley) as a project uses it: the sample project
examples/pytest-project runs its tests through the plugin's fixtures and markers, loaded with
-p from the source directory and, after `pip install --no-index --target`, through its pytest11
entry point; the session's daemon is stopped at the end; a missing galley or template is a
clear error."""
import os
import shutil
import subprocess
import sys

import pytest

from conftest import GALLEY_BIN, ROOT
from install_helpers import processes_mentioning

PLUGIN = ROOT / "python" / "pytest-galley"
SAMPLE = ROOT / "examples" / "pytest-project"
RUN_TIMEOUT = 600



def run_sample(tmp_path, pythonpath, *extra, env_extra=None):
    project = tmp_path / "project"
    shutil.copytree(SAMPLE, project, ignore=shutil.ignore_patterns("__pycache__"))
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    env = dict(os.environ, GALLEY_BIN=GALLEY_BIN, PYTHONPATH=str(pythonpath),
               TMPDIR=str(tmpdir), **(env_extra or {}))
    env.pop("AWS_ENDPOINT_URL_LAMBDA", None)
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          *extra], cwd=str(project), env=env, capture_output=True, text=True,
                         timeout=RUN_TIMEOUT)
    assert not processes_mentioning(str(tmpdir)), "the session's daemon outlived pytest"
    return res


def test_sample_project_with_the_plugin_from_source(tmp_path):
    res = run_sample(tmp_path, PLUGIN, "-p", "pytest_galley")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "6 passed" in res.stdout


def test_pip_installed_plugin_loads_by_entry_point(tmp_path):
    site = tmp_path / "site"
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "--no-index",
                          "--disable-pip-version-check", "--target", str(site), str(PLUGIN)],
                         capture_output=True, text=True, timeout=RUN_TIMEOUT)
    if pip.returncode != 0 and "No module named pip" in pip.stderr:
        pytest.skip(f"{sys.executable} has no pip")
    assert pip.returncode == 0, pip.stdout + pip.stderr
    assert (site / "pytest_galley-0.1.0.dist-info" / "entry_points.txt").is_file()
    res = run_sample(tmp_path, site)  # no -p: pytest finds the plugin by its entry point
    assert res.returncode == 0, res.stdout + res.stderr
    assert "6 passed" in res.stdout


def test_missing_galley_and_missing_template_are_clear_errors(tmp_path):
    res = run_sample(tmp_path, PLUGIN, "-p", "pytest_galley", "-k", "test_hello",
                     "--galley-bin", str(tmp_path / "no-such-galley"))
    assert res.returncode != 0
    assert "cannot run galley (" in res.stdout and "no-such-galley" in res.stdout
    shutil.rmtree(tmp_path / "project")
    shutil.rmtree(tmp_path / "tmp")
    res = run_sample(tmp_path, PLUGIN, "-p", "pytest_galley", "-k", "test_hello",
                     "--galley-template", "missing.yaml")
    assert res.returncode != 0
    assert "galley_template missing.yaml: no such file" in res.stdout
