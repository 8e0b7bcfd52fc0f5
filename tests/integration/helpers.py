# SPDX-License-Identifier: MIT
"""Helpers several integration test files share (the daemon harness itself is conftest.py):
polling a condition with a bound, reading a process's output until a line shows up, running the galley CLI with a bound, and a daemon serving
functions of the py_basic fixture."""
import os
import select
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


def read_until(proc, needle, timeout):
    """Read proc's stdout until it holds needle; returns everything read (fails after timeout
    seconds, or when proc ends first, showing what it printed)."""
    deadline = time.monotonic() + timeout
    seen = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            seen += chunk
            if needle.encode() in seen:
                return seen.decode()
        if proc.poll() is not None:
            break
    raise AssertionError(f"{needle!r} not seen in {timeout}s; got:\n{seen.decode()}")


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


def current_boto3_python(operation):
    """A Python interpreter whose boto3 knows the Lambda operation (snake_case name), for the
    operations newer than Debian's boto3: $GALLEY_CURRENT_PYTHON, else any pyenv version.
    None when there is none (tests then skip, saying so)."""
    import glob
    import os
    root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    candidates = [os.environ.get("GALLEY_CURRENT_PYTHON", "")]
    candidates += sorted(glob.glob(os.path.join(root, "versions", "*", "bin", "python3")),
                         reverse=True)
    probe = ("import boto3,sys; c=boto3.client('lambda', region_name='us-east-1'); "
             f"sys.exit(0 if hasattr(c, {operation!r}) else 1)")
    for py in candidates:
        if not py or not os.access(py, os.X_OK):
            continue
        try:
            if subprocess.run([py, "-c", probe], capture_output=True, timeout=60).returncode == 0:
                return py
        except (OSError, subprocess.TimeoutExpired):
            continue
    return None


def run_boto3_script(python, endpoint, body, timeout=120):
    """Run body (Python source using `c`, a boto3 Lambda client at endpoint making one attempt
    per call, and `out`, a dict) with the given interpreter; returns out as printed JSON."""
    import json
    import textwrap
    script = textwrap.dedent("""\
        import json, sys
        import boto3
        from botocore.config import Config
        from botocore.exceptions import ClientError
        c = boto3.client("lambda", endpoint_url=sys.argv[1], region_name="us-east-1",
                         aws_access_key_id="testing", aws_secret_access_key="testing",
                         config=Config(retries={"total_max_attempts": 1}))
        out = {}
        def error_of(call, **kw):
            try:
                call(**kw)
            except ClientError as e:
                return [e.response["Error"]["Code"], e.response["Error"]["Message"],
                        e.response["ResponseMetadata"]["HTTPStatusCode"]]
            return None
        """) + textwrap.dedent(body) + "\nprint(json.dumps(out))\n"
    res = subprocess.run([python, "-c", script, endpoint], capture_output=True, text=True,
                         timeout=timeout)
    assert res.returncode == 0, f"boto3 script failed: {res.stderr}"
    return json.loads(res.stdout.strip().splitlines()[-1])
