# SPDX-License-Identifier: MIT
"""The control API for test harnesses (docs/testing.md) driven with boto3: invoke headers
(cold, then warm, then cold after a reset), forced cold starts, warming N environments,
per-function idle timeouts, and every injected fault producing exactly what the real failure
produces."""
import base64
import json
import threading
import urllib.error
import urllib.request

import pytest
from botocore.exceptions import ClientError

from conftest import FIXTURES, write_template


def control(d, method, path, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(d.url + "/_galley" + path, data=data, method=method,
                                 headers={"X-Galley-Control-Token": d.control_token})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, json.loads(r.read() or b"null"), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null"), dict(e.headers)


def raw_invoke(d, name, payload=b"{}"):
    """Invoke over plain HTTP and read galley's own headers directly."""
    req = urllib.request.Request(f"{d.url}/2015-03-31/functions/{name}/invocations",
                                 data=payload, method="POST")
    with urllib.request.urlopen(req, timeout=60) as r:
        return r.status, r.read(), {k.lower(): v for k, v in r.headers.items()}


@pytest.fixture
def served(daemon_factory, tmp_path):
    py = str(FIXTURES / "py_basic")
    tpl = write_template(tmp_path, {
        "Echo": {"CodeUri": py, "Handler": "app.echo", "Runtime": "python3.11",
                 "FunctionName": "echo", "Timeout": 30},
        "Sleepy": {"CodeUri": py, "Handler": "app.sleep", "Runtime": "python3.11",
                   "FunctionName": "sleepy", "Timeout": 30},
    })
    return daemon_factory(template=tpl)


def test_headers_cold_warm_then_cold_after_reset(served):
    _, body, h1 = raw_invoke(served, "echo")
    assert h1["x-galley-cold-start"] == "true"
    assert float(h1["x-galley-init-duration-ms"]) > 0
    assert float(h1["x-galley-duration-ms"]) >= 0 and int(h1["x-galley-max-memory-mb"]) > 0
    env1 = h1["x-galley-environment-id"]
    _, _, h2 = raw_invoke(served, "echo")
    assert h2["x-galley-cold-start"] == "false" and "x-galley-init-duration-ms" not in h2
    assert h2["x-galley-environment-id"] == env1
    status, out, _ = control(served, "POST", "/reset")
    assert status == 200 and out == {"Reset": True}
    _, _, h3 = raw_invoke(served, "echo")
    assert h3["x-galley-cold-start"] == "true" and h3["x-galley-environment-id"] != env1


def test_force_cold_and_unknown_function(served):
    raw_invoke(served, "echo")
    status, out, _ = control(served, "POST", "/functions/echo/cold")
    assert status == 200 and out["EnvironmentsRetired"] == 1
    assert raw_invoke(served, "echo")[2]["x-galley-cold-start"] == "true"
    status, out, headers = control(served, "POST", "/functions/nope/cold")
    assert status == 404 and headers["x-amzn-ErrorType"] == "ResourceNotFoundException"


def test_warm_n_environments_then_all_invokes_are_warm(served):
    status, out, _ = control(served, "POST", "/functions/echo/warm", {"Count": 3})
    assert status == 200 and out == {"Requested": 3, "Ready": 3, "Failed": 0}
    envs = [e for e in control(served, "GET", "/environments")[1]["Environments"]
            if e["function"] == "echo"]
    assert len(envs) == 3 and {e["status"] for e in envs} <= {"idle", "frozen"}
    colds = []

    def call():
        colds.append(raw_invoke(served, "echo", b'{"x": 1}')[2]["x-galley-cold-start"])
    threads = [threading.Thread(target=call) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert colds == ["false"] * 3
    status, out, _ = control(served, "POST", "/functions/echo/warm", {"Count": 0})
    assert status == 400 and "Count" in out["message"]


def test_idle_timeout_zero_makes_every_invoke_cold(served):
    status, out, _ = control(served, "PUT", "/functions/echo/idle-timeout", {"Seconds": 0})
    assert status == 200 and out["IdleTimeoutSeconds"] == 0
    assert [raw_invoke(served, "echo")[2]["x-galley-cold-start"] for _ in range(3)] == ["true"] * 3
    status, out, _ = control(served, "DELETE", "/functions/echo/idle-timeout")
    assert out["IdleTimeoutSeconds"] == 600
    raw_invoke(served, "echo")
    assert raw_invoke(served, "echo")[2]["x-galley-cold-start"] == "false"
    status, out, _ = control(served, "PUT", "/functions/echo/idle-timeout", {"Seconds": -1})
    assert status == 400


def test_injected_api_faults(served):
    c = served.client()
    status, out, _ = control(served, "PUT", "/functions/echo/faults", {"Kind": "throttle", "Count": 2})
    assert status == 200 and out == {"FunctionName": "echo", "Kind": "throttle", "Remaining": 2}
    for _ in range(2):
        with pytest.raises(ClientError) as e:
            c.invoke(FunctionName="echo", Payload=b"{}")
        assert e.value.response["Error"]["Code"] == "TooManyRequestsException"
        assert e.value.response["Reason"] == "ConcurrentInvocationLimitExceeded"
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert c.invoke(FunctionName="echo", Payload=b"{}")["StatusCode"] == 200
    control(served, "PUT", "/functions/echo/faults", {"Kind": "service"})
    with pytest.raises(ClientError) as e:
        c.invoke(FunctionName="echo", Payload=b"{}")
    assert e.value.response["Error"]["Code"] == "ServiceException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    status, out, _ = control(served, "PUT", "/functions/echo/faults", {"Kind": "meteor"})
    assert status == 400
    assert control(served, "GET", "/functions/echo/faults")[1]["Remaining"] == 0


def test_injected_runtime_faults(served):
    c = served.client()
    c.invoke(FunctionName="sleepy", Payload=b'{"seconds": 0}')  # warm
    control(served, "PUT", "/functions/sleepy/faults", {"Kind": "timeout"})
    r = c.invoke(FunctionName="sleepy", Payload=b'{"seconds": 0}', LogType="Tail")
    rid = r["ResponseMetadata"]["RequestId"]
    assert r["FunctionError"] == "Unhandled"
    assert json.loads(r["Payload"].read()) == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {rid} Error: Task timed out after 30.00 seconds"}
    assert "Status: timeout" in base64.b64decode(r["LogResult"]).decode()

    control(served, "PUT", "/functions/sleepy/faults", {"Kind": "crash"})
    r = c.invoke(FunctionName="sleepy", Payload=b'{"seconds": 0}')
    body = json.loads(r["Payload"].read())
    assert body["errorType"] == "Runtime.ExitError" and body["errorMessage"].endswith("signal: killed")

    control(served, "PUT", "/functions/sleepy/faults", {"Kind": "init"})
    r = c.invoke(FunctionName="sleepy", Payload=b'{"seconds": 0}', LogType="Tail")
    body = json.loads(r["Payload"].read())
    assert body["errorType"] == "Runtime.ExitError"
    assert "INIT_REPORT" in base64.b64decode(r["LogResult"]).decode()
    # and then everything is back to normal
    r = c.invoke(FunctionName="sleepy", Payload=b'{"seconds": 0}')
    assert "FunctionError" not in r and r["Payload"].read() == b'"slept"'
