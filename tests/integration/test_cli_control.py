# SPDX-License-Identifier: MIT
"""The harness controls from the command line: `galley reset`, `cold`, `warm`, `idle-timeout`
and `fault` against a running daemon. Each prints the daemon's JSON answer and exits 0; an
API error exits 1 with Lambda's error name and message on stderr; a usage error exits 2
before anything is sent; the endpoint comes from --endpoint or $GALLEY_ENDPOINT."""
import json
import os
import urllib.request

import pytest
from botocore.exceptions import ClientError

from helpers import py_basic_daemon, run_galley, wait_until

RUN_TIMEOUT = 120


@pytest.fixture
def served(daemon_factory, tmp_path):
    # A daemon-wide idle timeout other than the built-in 600 s, to see --default return to it.
    return py_basic_daemon(daemon_factory, tmp_path, {
        "Echo": {"Handler": "app.echo", "FunctionName": "echo", "AutoPublishAlias": "live"},
    }, extra_args=["--idle-timeout", "300"])


def galley(*args, env=None):
    return run_galley(*args, timeout=RUN_TIMEOUT, env=env)


def ok(d, *args):
    """Run a control command against d; it must succeed; returns its JSON answer."""
    res = galley(*args, "--endpoint", d.url, "--state-dir", str(d.state))
    assert res.returncode == 0, f"galley {' '.join(args)}: {res.returncode} {res.stderr}"
    assert res.stderr == ""
    return json.loads(res.stdout)


def fails(d, code, *args):
    """Run a control command against d; it must exit with code and print nothing on stdout;
    returns its stderr."""
    res = galley(*args, "--endpoint", d.url, "--state-dir", str(d.state))
    assert res.returncode == code, f"galley {' '.join(args)}: {res.returncode} {res.stdout}"
    assert res.stdout == ""
    return res.stderr


def cold_start(d, name="echo", qualifier=None):
    """Invoke over plain HTTP and return X-Galley-Cold-Start."""
    q = f"?Qualifier={qualifier}" if qualifier else ""
    req = urllib.request.Request(f"{d.url}/2015-03-31/functions/{name}/invocations{q}",
                                 data=b"{}", method="POST")
    with urllib.request.urlopen(req, timeout=60) as r:
        assert r.status == 200
        return r.headers["X-Galley-Cold-Start"]


def envs(d, function="echo"):
    res = galley("ps", "--json", "--endpoint", d.url, "--state-dir", str(d.state))
    assert res.returncode == 0, res.stderr
    return [e for e in json.loads(res.stdout) if e["function"] == function]


def test_reset(served):
    assert cold_start(served) == "true"
    assert cold_start(served) == "false"
    ok(served, "fault", "echo", "service", "5")
    ok(served, "idle-timeout", "echo", "0")
    assert ok(served, "reset") == {"Reset": True}
    # Stopped environments leave the list once their processes are reaped (later under load).
    assert wait_until(lambda: envs(served) == [], timeout=30)
    assert ok(served, "fault", "echo")["Remaining"] == 0
    assert ok(served, "idle-timeout", "echo")["IdleTimeoutSeconds"] == 300
    assert cold_start(served) == "true"
    assert cold_start(served) == "false"  # the function stays; the idle timeout is back
    assert "unexpected argument" in fails(served, 2, "reset", "extra")


def test_cold_by_name_and_qualifier(served):
    cold_start(served)
    assert cold_start(served) == "false"
    out = ok(served, "cold", "echo")
    assert out == {"FunctionName": "echo", "Version": "$LATEST", "EnvironmentsRetired": 1}
    assert cold_start(served) == "true"
    # Version 1 by NAME:Q (the alias) and by --qualifier: $LATEST's environment is untouched.
    cold_start(served, qualifier="live")
    assert cold_start(served, qualifier="1") == "false"
    assert ok(served, "cold", "echo:live") == {"FunctionName": "echo", "Version": "1",
                                               "EnvironmentsRetired": 1}
    assert ok(served, "cold", "echo", "--qualifier", "1")["EnvironmentsRetired"] == 0
    assert cold_start(served, qualifier="1") == "true"
    assert cold_start(served) == "false"
    # by template logical id
    assert ok(served, "cold", "Echo")["FunctionName"] == "echo"


def test_cold_errors(served):
    err = fails(served, 1, "cold", "no-such-function")
    assert err.startswith("galley cold: ResourceNotFoundException (HTTP 404): ")
    assert "no-such-function" in err
    assert "ResourceNotFoundException" in fails(served, 1, "cold", "echo:7")
    assert "NAME is required" in fails(served, 2, "cold")
    assert "too many arguments" in fails(served, 2, "cold", "echo", "echo")
    assert "usage: galley cold" in fails(served, 2, "cold", "echo", "--bogus")


def test_warm(served):
    assert ok(served, "warm", "echo", "2") == {"Requested": 2, "Ready": 2, "Failed": 0}
    states = [e["status"] for e in envs(served)]
    assert len(states) == 2 and set(states) <= {"idle", "frozen"}, states
    assert ok(served, "warm", "echo") == {"Requested": 1, "Ready": 1, "Failed": 0}
    assert len(envs(served)) == 3
    assert cold_start(served) == "false"
    assert ok(served, "warm", "echo:1", "1")["Ready"] == 1
    assert [e["version"] for e in envs(served)].count("1") == 1
    assert cold_start(served, qualifier="1") == "false"

    err = fails(served, 1, "warm", "echo", "0")
    assert err.startswith("galley warm: InvalidParameterValueException (HTTP 400): ")
    assert "Count" in err
    assert "InvalidParameterValueException" in fails(served, 1, "warm", "echo", "101")
    assert "ResourceNotFoundException" in fails(served, 1, "warm", "nope", "1")
    assert "N must be a whole number" in fails(served, 2, "warm", "echo", "two")
    assert "N must be a whole number" in fails(served, 2, "warm", "echo", "1.5")
    assert "too many arguments" in fails(served, 2, "warm", "echo", "1", "2")


def test_idle_timeout(served):
    assert ok(served, "idle-timeout", "echo") == {"FunctionName": "echo",
                                                  "IdleTimeoutSeconds": 300}
    assert ok(served, "idle-timeout", "echo", "0")["IdleTimeoutSeconds"] == 0
    assert [cold_start(served) for _ in range(3)] == ["true"] * 3
    assert ok(served, "idle-timeout", "echo", "2.5")["IdleTimeoutSeconds"] == 2.5
    assert ok(served, "idle-timeout", "echo")["IdleTimeoutSeconds"] == 2.5
    assert ok(served, "idle-timeout", "echo", "--default")["IdleTimeoutSeconds"] == 300
    cold_start(served)
    assert cold_start(served) == "false"

    err = fails(served, 1, "idle-timeout", "echo", "90000")
    assert err.startswith("galley idle-timeout: InvalidParameterValueException (HTTP 400): ")
    assert "ResourceNotFoundException" in fails(served, 1, "idle-timeout", "nope")
    assert "SECONDS must be a number" in fails(served, 2, "idle-timeout", "echo", "soon")
    assert "not both" in fails(served, 2, "idle-timeout", "echo", "5", "--default")
    assert "usage: galley idle-timeout" in fails(served, 2, "idle-timeout", "echo", "-1")
    assert ok(served, "idle-timeout", "echo")["IdleTimeoutSeconds"] == 300  # nothing changed


def test_fault(served):
    c = served.client()
    assert ok(served, "fault", "echo") == {"FunctionName": "echo", "Kind": None, "Remaining": 0}
    assert ok(served, "fault", "echo", "throttle", "2") == {
        "FunctionName": "echo", "Kind": "throttle", "Remaining": 2}
    with pytest.raises(ClientError) as e:
        c.invoke(FunctionName="echo", Payload=b"{}")
    assert e.value.response["Error"]["Code"] == "TooManyRequestsException"
    assert ok(served, "fault", "echo")["Remaining"] == 1
    assert ok(served, "fault", "echo", "--clear") == {"FunctionName": "echo", "Kind": None,
                                                      "Remaining": 0}
    assert c.invoke(FunctionName="echo", Payload=b"{}")["StatusCode"] == 200
    assert ok(served, "fault", "echo", "service") == {"FunctionName": "echo",
                                                      "Kind": "service", "Remaining": 1}
    with pytest.raises(ClientError) as e:
        c.invoke(FunctionName="echo", Payload=b"{}")
    assert e.value.response["Error"]["Code"] == "ServiceException"
    assert ok(served, "fault", "echo")["Remaining"] == 0

    err = fails(served, 1, "fault", "echo", "meteor")
    assert err.startswith("galley fault: InvalidParameterValueException (HTTP 400): ")
    assert "throttle" in err
    assert "InvalidParameterValueException" in fails(served, 1, "fault", "echo", "crash", "0")
    assert "ResourceNotFoundException" in fails(served, 1, "fault", "nope", "crash")
    assert "COUNT must be a whole number" in fails(served, 2, "fault", "echo", "crash", "x")
    assert "not both" in fails(served, 2, "fault", "echo", "crash", "--clear")
    assert "too many arguments" in fails(served, 2, "fault", "echo", "crash", "1", "2")
    assert ok(served, "fault", "echo")["Remaining"] == 0  # nothing was injected


def test_endpoint_from_environment_and_unreachable(served, tmp_path):
    env = dict(os.environ, GALLEY_ENDPOINT=served.url, GALLEY_STATE_DIR=str(served.state))
    res = galley("warm", "echo", env=env)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["Ready"] == 1
    res = galley("ps", "--json", env=env)
    assert res.returncode == 0, res.stderr
    assert len(json.loads(res.stdout)) == 1
    # --endpoint wins over the environment
    res = galley("reset", "--endpoint", "http://127.0.0.1:1", env=env)
    assert res.returncode == 1 and res.stdout == ""
    assert res.stderr.startswith("galley reset: cannot reach http://127.0.0.1:1")
    assert len(envs(served)) == 1  # the reset did not reach the daemon


@pytest.mark.parametrize("cmd", ["reset", "cold", "warm", "idle-timeout", "fault"])
def test_help(cmd):
    res = galley(cmd, "--help")
    assert res.returncode == 0 and res.stdout.startswith(f"usage: galley {cmd}")
    assert "--endpoint URL" in res.stdout and res.stderr == ""
