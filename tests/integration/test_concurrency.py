# SPDX-License-Identifier: MIT
"""Concurrency as Lambda has it, through boto3: reserved concurrency (a cap and a guarantee,
the unreserved floor, 0 throttles everything, exact counts under simultaneous load) and
provisioned concurrency (environments initialized ahead of traffic, READY status, spill-over to
on-demand, the errors), persisted across a restart."""
import base64
import json
import threading
import time

import pytest
from botocore.exceptions import ClientError

from conftest import zip_files
from helpers import wait_until

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
CODE = """import os, time
def handler(event, context):
    time.sleep(float(event.get("sleep", 0)))
    return {"init": os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE"),
            "version": context.function_version}
"""


def create(c, name="fn", **kw):
    c.create_function(FunctionName=name, Runtime="python3.12", Handler="app.handler", Role=ROLE,
                      Code={"ZipFile": zip_files({"app.py": CODE})}, Timeout=30, **kw)


def code_of(e):
    return e.value.response["Error"]["Code"]


def settle(pred, timeout=20.0):
    return wait_until(pred, timeout=timeout, step=0.1)


def test_reserved_concurrency_api_and_floor(daemon_factory):
    d = daemon_factory()
    c = d.client()
    create(c)
    assert c.get_function_concurrency(FunctionName="fn").get("ReservedConcurrentExecutions") is None
    assert c.put_function_concurrency(FunctionName="fn", ReservedConcurrentExecutions=5)[
        "ReservedConcurrentExecutions"] == 5
    assert c.get_function_concurrency(FunctionName="fn")["ReservedConcurrentExecutions"] == 5
    assert c.get_function(FunctionName="fn")["Concurrency"] == {"ReservedConcurrentExecutions": 5}
    acct = c.get_account_settings()["AccountLimit"]
    assert acct["ConcurrentExecutions"] == 1000 and acct["UnreservedConcurrentExecutions"] == 995
    with pytest.raises(ClientError) as e:
        c.put_function_concurrency(FunctionName="fn", ReservedConcurrentExecutions=901)
    assert code_of(e) == "InvalidParameterValueException"
    assert "below its minimum value of [100]" in e.value.response["Error"]["Message"]
    c.delete_function_concurrency(FunctionName="fn")
    assert c.get_function_concurrency(FunctionName="fn").get("ReservedConcurrentExecutions") is None
    with pytest.raises(ClientError) as e:
        c.put_function_concurrency(FunctionName="nope", ReservedConcurrentExecutions=1)
    assert code_of(e) == "ResourceNotFoundException"


def test_reserved_zero_throttles_every_invoke(daemon_factory):
    d = daemon_factory()
    c = d.client()
    create(c)
    c.put_function_concurrency(FunctionName="fn", ReservedConcurrentExecutions=0)
    with pytest.raises(ClientError) as e:
        c.invoke(FunctionName="fn", Payload=b"{}")
    err = e.value.response
    assert err["Error"]["Code"] == "TooManyRequestsException"
    assert err["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 429
    c.delete_function_concurrency(FunctionName="fn")
    assert c.invoke(FunctionName="fn", Payload=b"{}")["StatusCode"] == 200


def test_exactly_n_of_m_simultaneous_invokes_run(daemon_factory):
    n, m = 3, 7
    d = daemon_factory()
    c = d.client()
    create(c)
    c.put_function_concurrency(FunctionName="fn", ReservedConcurrentExecutions=n)
    barrier = threading.Barrier(m)
    outcomes, lock = [], threading.Lock()

    def worker():
        client = d.client()
        barrier.wait(timeout=30)
        try:
            r = client.invoke(FunctionName="fn", Payload=b'{"sleep": 3}')
            out = ("ran", r["StatusCode"])
        except ClientError as e:
            out = ("throttled", e.response.get("Reason"))
        with lock:
            outcomes.append(out)
    threads = [threading.Thread(target=worker) for _ in range(m)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    ran = [o for o in outcomes if o[0] == "ran"]
    throttled = [o for o in outcomes if o[0] == "throttled"]
    assert len(ran) == n, outcomes
    assert throttled == [("throttled", "ReservedFunctionConcurrentInvocationLimitExceeded")] * (m - n)


def test_provisioned_concurrency(daemon_factory, tmp_path):
    state = tmp_path / "pcstate"
    d = daemon_factory(state_dir=state)
    c = d.client()
    create(c)
    v = c.publish_version(FunctionName="fn")["Version"]
    with pytest.raises(ClientError) as e:
        c.put_provisioned_concurrency_config(FunctionName="fn", Qualifier="$LATEST",
                                             ProvisionedConcurrentExecutions=1)
    assert code_of(e) == "InvalidParameterValueException"
    assert "unpublished function versions" in e.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as e:
        c.get_provisioned_concurrency_config(FunctionName="fn", Qualifier=v)
    assert code_of(e) == "ProvisionedConcurrencyConfigNotFoundException"

    r = c.put_provisioned_concurrency_config(FunctionName="fn", Qualifier=v,
                                             ProvisionedConcurrentExecutions=2)
    assert r["RequestedProvisionedConcurrentExecutions"] == 2
    assert r["Status"] in ("IN_PROGRESS", "READY")
    assert settle(lambda: c.get_provisioned_concurrency_config(
        FunctionName="fn", Qualifier=v)["Status"] == "READY")
    got = c.get_provisioned_concurrency_config(FunctionName="fn", Qualifier=v)
    assert got["AllocatedProvisionedConcurrentExecutions"] == 2
    listed = c.list_provisioned_concurrency_configs(FunctionName="fn")["ProvisionedConcurrencyConfigs"]
    assert [x["FunctionArn"].endswith(f":fn:{v}") for x in listed] == [True]

    # Warm from the first invoke, and initialized as provisioned.
    r = c.invoke(FunctionName="fn", Qualifier=v, Payload=b"{}", LogType="Tail")
    assert json.loads(r["Payload"].read()) == {"init": "provisioned-concurrency", "version": v}
    assert "Init Duration" not in base64.b64decode(r["LogResult"]).decode()

    # Three at once: two on provisioned environments, one spills over to on-demand.
    results = []

    def call():
        resp = d.client().invoke(FunctionName="fn", Qualifier=v, Payload=b'{"sleep": 2}')
        results.append(json.loads(resp["Payload"].read())["init"])
    threads = [threading.Thread(target=call) for _ in range(3)]
    for t in threads:
        t.start()
        time.sleep(0.2)
    for t in threads:
        t.join(timeout=60)
    assert sorted(results) == ["on-demand", "provisioned-concurrency", "provisioned-concurrency"]

    # The config and its environments survive a restart.
    assert d.stop() == 0
    d2 = daemon_factory(state_dir=state)
    c2 = d2.client()
    assert settle(lambda: c2.get_provisioned_concurrency_config(
        FunctionName="fn", Qualifier=v)["Status"] == "READY")
    r = c2.invoke(FunctionName="fn", Qualifier=v, Payload=b"{}")
    assert json.loads(r["Payload"].read())["init"] == "provisioned-concurrency"
    c2.delete_provisioned_concurrency_config(FunctionName="fn", Qualifier=v)
    with pytest.raises(ClientError) as e:
        c2.get_provisioned_concurrency_config(FunctionName="fn", Qualifier=v)
    assert code_of(e) == "ProvisionedConcurrencyConfigNotFoundException"


def test_reserved_concurrency_survives_restart(daemon_factory, tmp_path):
    state = tmp_path / "rstate"
    d = daemon_factory(state_dir=state)
    create(d.client())
    d.client().put_function_concurrency(FunctionName="fn", ReservedConcurrentExecutions=0)
    assert d.stop() == 0
    d2 = daemon_factory(state_dir=state)
    c2 = d2.client()
    assert c2.get_function_concurrency(FunctionName="fn")["ReservedConcurrentExecutions"] == 0
    with pytest.raises(ClientError) as e:
        c2.invoke(FunctionName="fn", Payload=b"{}")
    assert e.value.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"


def test_sam_provisioned_concurrency_on_the_auto_published_alias(daemon_factory, tmp_path):
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text(CODE)
    tpl = tmp_path / "template.yaml"
    tpl.write_text(f"""Transform: AWS::Serverless-2016-10-31
Resources:
  Pc:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: pc
      CodeUri: {code}
      Handler: app.handler
      Runtime: python3.12
      AutoPublishAlias: live
      ProvisionedConcurrencyConfig:
        ProvisionedConcurrentExecutions: 2
""")
    d = daemon_factory(template=tpl)
    c = d.client()
    assert settle(lambda: c.get_provisioned_concurrency_config(
        FunctionName="pc", Qualifier="live")["Status"] == "READY")
    r = c.invoke(FunctionName="pc", Qualifier="live", Payload=b"{}")
    assert json.loads(r["Payload"].read()) == {"init": "provisioned-concurrency", "version": "1"}
    assert r["ExecutedVersion"] == "1"


def test_async_events_of_a_function_reserved_at_zero_go_to_on_failure(daemon_factory):
    d = daemon_factory()
    c = d.client()
    create(c)
    c.put_function_event_invoke_config(
        FunctionName="fn", DestinationConfig={
            "OnFailure": {"Destination": "arn:aws:sqs:us-east-1:123456789012:failures"}})
    c.put_function_concurrency(FunctionName="fn", ReservedConcurrentExecutions=0)
    r = c.invoke(FunctionName="fn", InvocationType="Event", Payload=b'{"k": "v"}')
    assert r["StatusCode"] == 202
    sink = d.state / "destinations" / "sqs" / "failures.jsonl"
    assert settle(lambda: sink.exists() and sink.read_text().strip(), timeout=10)
    record = json.loads(sink.read_text().splitlines()[0])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["requestId"] == r["ResponseMetadata"]["RequestId"]
    assert record["requestPayload"] == {"k": "v"}
