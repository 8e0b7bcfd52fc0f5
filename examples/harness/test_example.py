# SPDX-License-Identifier: MIT
# test_example.py: what a test suite can do with galley's control API, against the
# HelloPython function of examples/template.yaml (scripts/serve-examples serves it). Each
# test starts from a reset daemon (conftest.py's reset_galley).
import json
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError

from galley_control import GalleyError

FUNCTION = "HelloPython"


def invoke(client, event=None):
    """Invoke FUNCTION with boto3; returns (payload, galley's headers). botocore keeps every
    response header, galley's X-Galley-* among them, in ResponseMetadata.HTTPHeaders with
    lower-case names."""
    r = client.invoke(FunctionName=FUNCTION, Payload=json.dumps(event or {}).encode())
    headers = r["ResponseMetadata"]["HTTPHeaders"]
    return json.loads(r["Payload"].read()), {k: v for k, v in headers.items()
                                             if k.startswith("x-galley-")}


def invoke_with_retry(client, event, attempts=4, first_delay=0.05):
    """The kind of client code a harness tests: retry a throttled invoke with backoff.
    Returns (payload, how many attempts it took)."""
    for attempt in range(1, attempts + 1):
        try:
            r = client.invoke(FunctionName=FUNCTION, Payload=json.dumps(event).encode())
            return json.loads(r["Payload"].read()), attempt
        except client.exceptions.TooManyRequestsException:
            if attempt == attempts:
                raise
            time.sleep(first_delay * 2 ** (attempt - 1))


def test_first_invoke_is_cold_then_warm(lambda_client):
    body, h = invoke(lambda_client, {"name": "harness"})
    assert h["x-galley-cold-start"] == "true"
    assert float(h["x-galley-init-duration-ms"]) > 0  # only a cold start has one
    assert body["message"] == "Hello from Python, harness!" and body["invocations"] == 1

    body, h2 = invoke(lambda_client)
    assert h2["x-galley-cold-start"] == "false" and "x-galley-init-duration-ms" not in h2
    assert h2["x-galley-environment-id"] == h["x-galley-environment-id"]
    assert body["invocations"] == 2  # module state survived: the same environment


def test_raw_http_shows_the_same_headers(galley):
    status, body, h = galley.invoke_raw(FUNCTION, {"name": "raw"})
    assert status == 200 and json.loads(body)["invocations"] == 1
    assert h["x-galley-cold-start"] == "true"
    assert float(h["x-galley-duration-ms"]) >= 0 and int(h["x-galley-max-memory-mb"]) > 0


def test_force_a_cold_start(galley, lambda_client):
    invoke(lambda_client)
    assert invoke(lambda_client)[1]["x-galley-cold-start"] == "false"
    assert galley.cold(FUNCTION)["EnvironmentsRetired"] == 1
    body, h = invoke(lambda_client)
    assert h["x-galley-cold-start"] == "true" and body["invocations"] == 1


def test_warm_n_environments_ahead_of_traffic(galley, lambda_client):
    assert galley.warm(FUNCTION, 3) == {"Requested": 3, "Ready": 3, "Failed": 0}
    assert len([e for e in galley.environments() if e["function"] == FUNCTION]) == 3
    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(lambda i: invoke(lambda_client, {"name": str(i)}), range(3)))
    assert [h["x-galley-cold-start"] for _, h in results] == ["false"] * 3


def test_idle_timeout_zero_makes_every_invoke_cold(galley, lambda_client):
    galley.set_idle_timeout(FUNCTION, 0)
    assert [invoke(lambda_client)[1]["x-galley-cold-start"] for _ in range(3)] == ["true"] * 3


def test_throttle_reaches_the_client_and_the_retry_handles_it(galley, lambda_client):
    galley.fault(FUNCTION, "throttle", count=2)
    with pytest.raises(lambda_client.exceptions.TooManyRequestsException) as e:
        lambda_client.invoke(FunctionName=FUNCTION, Payload=b"{}")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert e.value.response["Reason"] == "ConcurrentInvocationLimitExceeded"
    # One throttle left: the retrying client gets through on its second attempt.
    body, attempts = invoke_with_retry(lambda_client, {"name": "retry"})
    assert attempts == 2 and body["message"] == "Hello from Python, retry!"
    assert galley.pending_fault(FUNCTION)["Remaining"] == 0


def test_service_error_and_runtime_crash(galley, lambda_client):
    galley.fault(FUNCTION, "service")
    with pytest.raises(ClientError) as e:
        lambda_client.invoke(FunctionName=FUNCTION, Payload=b"{}")
    assert e.value.response["Error"]["Code"] == "ServiceException"
    galley.fault(FUNCTION, "crash")
    r = lambda_client.invoke(FunctionName=FUNCTION, Payload=b"{}")
    assert r["FunctionError"] == "Unhandled"
    assert json.loads(r["Payload"].read())["errorType"] == "Runtime.ExitError"
    # the next invoke gets a new environment and succeeds
    body, h = invoke(lambda_client)
    assert h["x-galley-cold-start"] == "true" and body["invocations"] == 1


def test_bad_arguments_are_clear_errors(galley):
    with pytest.raises(GalleyError) as e:
        galley.fault(FUNCTION, "meteor")
    assert e.value.status == 400 and e.value.type == "InvalidParameterValueException"
    with pytest.raises(GalleyError) as e:
        galley.cold("NoSuchFunction")
    assert e.value.status == 404 and e.value.type == "ResourceNotFoundException"
