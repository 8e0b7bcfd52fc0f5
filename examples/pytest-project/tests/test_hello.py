# SPDX-License-Identifier: MIT
"""The sample project's tests: the pytest-galley fixtures (`lambda_client`, `galley`), the
reset between tests, and the warm and cold markers."""
import json
import os

import pytest


def invoke(client, payload):
    resp = client.invoke(FunctionName="Hello", Payload=json.dumps(payload).encode())
    assert "FunctionError" not in resp
    return json.loads(resp["Payload"].read())


def hello_environments(galley):
    """Hello's environments, less those the reset before this test is still stopping."""
    return [e for e in galley.environments()
            if e["function"] == "Hello" and e["status"] != "stopping"]


def test_hello(lambda_client):
    assert invoke(lambda_client, {"name": "pytest"})["message"] == "Hello, pytest!"


def test_each_test_starts_cold(lambda_client):
    # test_hello's environment was stopped by the reset before this test.
    assert invoke(lambda_client, {})["invokes"] == 1
    assert invoke(lambda_client, {})["invokes"] == 2


@pytest.mark.warm("Hello", count=2)
def test_warm_marker(lambda_client, galley):
    envs = hello_environments(galley)
    assert len(envs) == 2 and all(e["status"] in ("idle", "frozen") for e in envs)
    invoke(lambda_client, {})
    # The invoke went to one of the warmed environments: no third one was started.
    after = hello_environments(galley)
    assert len(after) == 2 and sum(e["invokes"] for e in after) == 1


@pytest.mark.cold("Hello")
def test_cold_marker(lambda_client):
    assert invoke(lambda_client, {})["invokes"] == 1


def test_endpoint_is_exported(galley):
    assert os.environ["AWS_ENDPOINT_URL_LAMBDA"] == galley.endpoint
    assert os.environ["GALLEY_ENDPOINT"] == galley.endpoint


def test_without_the_daemon():
    """A test not asking for galley does not need it (nor resets it)."""
    assert True
