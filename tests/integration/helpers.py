# SPDX-License-Identifier: MIT
"""Helpers several integration test files share (the daemon harness itself is conftest.py):
polling a condition with a bound, running the galley CLI with a bound, and a daemon serving
functions of the py_basic fixture."""
import subprocess
import time

from conftest import FIXTURES, GALLEY_BIN, write_template


def wait_until(pred, timeout=10.0, step=0.05):
    """Poll pred() every step seconds until it is truthy or timeout seconds have passed;
    returns whether it became so (pred() is asked once more at the deadline)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(step)
    return pred()


def run_galley(*args, timeout, stdin=None, cwd=None, env=None):
    """Run `galley args...` to its end (text mode, output captured), bounded by timeout."""
    return subprocess.run([GALLEY_BIN, *args], input=stdin, capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, env=env)


def py_basic_daemon(daemon_factory, tmp_path, functions, extra_args=()):
    """Start a daemon whose template holds functions of tests/fixtures/functions/py_basic:
    functions maps a logical id to its properties (Handler at least); CodeUri and Runtime
    python3.11 are added, and every function gets Timeout 10."""
    py = str(FIXTURES / "py_basic")
    tpl = write_template(tmp_path, {
        lid: {"CodeUri": py, "Runtime": "python3.11", **props}
        for lid, props in functions.items()
    }, globals_={"Timeout": 10})
    return daemon_factory(template=tpl, extra_args=extra_args)
