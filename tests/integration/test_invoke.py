# SPDX-License-Identifier: MIT
"""The Invoke API end to end: template functions in python, node and C (provided.al2023)
invoked through boto3 and the AWS CLI v2, warm reuse, Tail logs, errors by exception name,
Event and DryRun, platform failures (crash, timeout, init error, oversized response)."""
import base64
import json
import os
import re
import time

import pytest
from botocore.exceptions import ClientError

from conftest import FIXTURES, c_bootstrap_dir, decode_tail, write_template

UUID_RE = re.compile(r"^[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}$")


@pytest.fixture
def served(daemon_factory, tmp_path):
    py = str(FIXTURES / "py_basic")
    node = str(FIXTURES / "node_basic")
    tpl = write_template(tmp_path, {
        "PyEcho": {"CodeUri": py, "Handler": "app.echo", "Runtime": "python3.11",
                   "FunctionName": "py-echo", "Environment": {"Variables": {"GREETING": "hi"}}},
        "PyFail": {"CodeUri": py, "Handler": "app.fail", "Runtime": "python3.11"},
        "PyCrash": {"CodeUri": py, "Handler": "app.crash", "Runtime": "python3.11"},
        "PySleep": {"CodeUri": py, "Handler": "app.sleep", "Runtime": "python3.11", "Timeout": 1},
        "PySized": {"CodeUri": py, "Handler": "app.sized", "Runtime": "python3.11"},
        "PyNone": {"CodeUri": py, "Handler": "app.none", "Runtime": "python3.11"},
        "PyPath": {"CodeUri": py, "Handler": "app.path", "Runtime": "python3.11"},
        "PyImportError": {"CodeUri": str(FIXTURES / "py_import_error"), "Handler": "app.handler",
                          "Runtime": "python3.11"},
        "NodeEcho": {"CodeUri": node, "Handler": "index.echo", "Runtime": "nodejs20.x",
                     "Environment": {"Variables": {"GREETING": "hey"}}},
        "NodeFail": {"CodeUri": node, "Handler": "index.fail", "Runtime": "nodejs20.x"},
        "CEcho": {"CodeUri": str(c_bootstrap_dir()), "Runtime": "provided.al2023",
                  "Handler": "bootstrap"},
    }, globals_={"Timeout": 10, "MemorySize": 256})
    d = daemon_factory(template=tpl)
    return d


def invoke(client, name, payload=b"{}", **kw):
    resp = client.invoke(FunctionName=name, Payload=payload, **kw)
    resp["Body"] = resp["Payload"].read()
    return resp


def test_python_invoke_context_env_and_warm_reuse(served):
    c = served.client()
    r1 = invoke(c, "py-echo", json.dumps({"a": 1}))
    assert r1["StatusCode"] == 200
    assert "FunctionError" not in r1
    assert r1["ExecutedVersion"] == "$LATEST"
    body = json.loads(r1["Body"])
    assert body["event"] == {"a": 1}
    assert body["count"] == 1
    rid = r1["ResponseMetadata"]["RequestId"]
    assert UUID_RE.match(rid)
    assert body["request_id"] == rid
    assert body["function_name"] == "py-echo"
    assert body["invoked_function_arn"] == "arn:aws:lambda:us-east-1:123456789012:function:py-echo"
    assert body["memory_limit_in_mb"] == "256"
    assert 0 < body["remaining_ms"] <= 10000
    env = body["env"]
    assert env["GREETING"] == "hi"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "py-echo"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/py-echo"
    assert re.match(r"^\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}$", env["AWS_LAMBDA_LOG_STREAM_NAME"])
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.11"
    assert env["TZ"] == ":UTC"
    assert env["_HANDLER"] == "app.echo"
    assert env["LAMBDA_TASK_ROOT"] == "/var/task"  # the code, read-only, in its mount namespace
    assert env["AWS_LAMBDA_RUNTIME_API"].startswith("127.0.0.1:")
    assert env["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    assert env["_X_AMZN_TRACE_ID"].startswith("Root=1-")
    assert body["cwd"] == "/var/task"
    assert env["TMPDIR"] == "/tmp"

    r2 = invoke(c, "PyEcho", json.dumps({"a": 2}))  # by logical id, warm
    b2 = json.loads(r2["Body"])
    assert b2["count"] == 2 and b2["pid"] == body["pid"]
    assert b2["request_id"] != rid


LAMBDA_PATH = "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin"


def test_functions_get_lambdas_path_not_the_daemons(served):
    """Issue 9: functions saw the daemon's PATH (this process's); Lambda gives its own."""
    assert os.environ.get("PATH") != LAMBDA_PATH
    c = served.client()
    r = invoke(c, "PyPath", b"{}", LogType="Tail")
    assert json.loads(r["Body"]) == LAMBDA_PATH
    assert LAMBDA_PATH + "\n" in decode_tail(r)
    # The runtimes exec their interpreter by absolute path, so node and C still start.
    assert json.loads(invoke(c, "NodeEcho")["Body"])["greeting"] == "hey"
    assert invoke(c, "CEcho", b'{"name":"galley"}')["StatusCode"] == 200


def test_tail_log_has_platform_lines_for_this_invoke(served):
    c = served.client()
    r = invoke(c, "py-echo", b'{"x":1}', LogType="Tail")
    rid = r["ResponseMetadata"]["RequestId"]
    tail = decode_tail(r)
    assert f"START RequestId: {rid} Version: $LATEST" in tail
    assert "echo call 1" in tail
    assert f"END RequestId: {rid}" in tail
    report = [l for l in tail.splitlines() if l.startswith("REPORT")][0]
    assert re.match(
        rf"^REPORT RequestId: {rid}\tDuration: \d+\.\d\d ms\tBilled Duration: \d+ ms\t"
        r"Memory Size: 256 MB\tMax Memory Used: \d+ MB\tInit Duration: \d+\.\d\d ms\t$", report)
    assert tail.index("START") < tail.index("echo call 1") < tail.index("END") < tail.index("REPORT")
    r2 = invoke(c, "py-echo", b"{}", LogType="Tail")
    tail2 = decode_tail(r2)
    assert "echo call 2" in tail2 and "echo call 1" not in tail2
    assert "Init Duration" not in tail2  # warm


def test_log_stream_file_holds_every_line(served):
    c = served.client()
    r = invoke(c, "py-echo", b"{}")
    body = json.loads(r["Body"])
    stream = served.state / "logs" / "aws" / "lambda" / "py-echo" / body["env"]["AWS_LAMBDA_LOG_STREAM_NAME"]
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and "REPORT" not in stream.read_text():
        time.sleep(0.05)
    text = stream.read_text()
    assert "START RequestId: " + body["request_id"] in text
    assert "echo call 1" in text and "REPORT RequestId: " + body["request_id"] in text


def test_node_and_c_runtimes(served):
    c = served.client()
    r = invoke(c, "NodeEcho", b'{"n":1}')
    b = json.loads(r["Body"])
    assert b["event"] == {"n": 1} and b["count"] == 1 and b["greeting"] == "hey"
    assert b["request_id"] == r["ResponseMetadata"]["RequestId"]
    assert invoke(c, "NodeEcho")["Body"] and json.loads(invoke(c, "NodeEcho")["Body"])["count"] == 3
    r = invoke(c, "CEcho", b'{"name":"galley"}')
    assert r["StatusCode"] == 200 and "FunctionError" not in r, r["Body"]
    assert r["Body"]


def test_function_errors_are_200_with_function_error(served):
    c = served.client()
    r = invoke(c, "PyFail")
    assert r["StatusCode"] == 200 and r["FunctionError"] == "Unhandled"
    b = json.loads(r["Body"])
    assert b["errorType"] == "ValueError" and b["errorMessage"] == "boom"
    r = invoke(c, "NodeFail")
    b = json.loads(r["Body"])
    assert r["FunctionError"] == "Unhandled" and b["errorType"] == "TypeError"
    assert b["errorMessage"] == "node boom"


def test_none_result_is_null(served):
    assert invoke(served.client(), "PyNone")["Body"] == b"null"


def test_crash_is_runtime_exit_error_and_next_invoke_is_cold(served):
    c = served.client()
    r = invoke(c, "PyCrash", LogType="Tail")
    rid = r["ResponseMetadata"]["RequestId"]
    assert r["FunctionError"] == "Unhandled"
    b = json.loads(r["Body"])
    assert b == {"errorType": "Runtime.ExitError",
                 "errorMessage": f"RequestId: {rid} Error: Runtime exited with error: exit status 3"}
    tail = decode_tail(r)
    assert "about to crash" in tail
    assert "Status: error\tError Type: Runtime.ExitError" in tail
    r2 = invoke(c, "PyCrash", LogType="Tail")
    assert "Init Duration" in decode_tail(r2)  # a new environment


def test_timeout(served):
    c = served.client()
    r = invoke(c, "PySleep", b'{"seconds": 5}', LogType="Tail")
    rid = r["ResponseMetadata"]["RequestId"]
    assert r["FunctionError"] == "Unhandled"
    assert json.loads(r["Body"]) == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {rid} Error: Task timed out after 1.00 seconds"}
    tail = decode_tail(r)
    assert f"{rid} Task timed out after 1.00 seconds" in tail
    assert "Status: timeout" in tail
    r2 = invoke(c, "PySleep", b'{"seconds": 0}')
    assert r2["Body"] == b'"slept"'


def test_init_error_is_returned_to_the_caller(served):
    r = invoke(served.client(), "PyImportError")
    assert r["FunctionError"] == "Unhandled"
    b = json.loads(r["Body"])
    assert b["errorType"] == "Runtime.ImportModuleError"
    assert b["errorMessage"].startswith("Unable to import module 'app'")


def test_response_too_large(served):
    c = served.client()
    r = invoke(c, "PySized", json.dumps({"n": 7 * 1024 * 1024}))
    assert r["FunctionError"] == "Unhandled"
    b = json.loads(r["Body"])
    assert b["errorType"] == "Function.ResponseSizeTooLarge"
    # the environment keeps working
    assert invoke(c, "PySized", b'{"n": 3}')["Body"] == b'"xxx"'


def test_event_and_dry_run(served):
    c = served.client()
    r = c.invoke(FunctionName="py-echo", InvocationType="Event", Payload=b'{"async":true}')
    assert r["StatusCode"] == 202
    assert UUID_RE.match(r["ResponseMetadata"]["RequestId"])
    r = c.invoke(FunctionName="py-echo", InvocationType="DryRun")
    assert r["StatusCode"] == 204
    with pytest.raises(ClientError) as e:
        c.invoke(FunctionName="nope", InvocationType="DryRun")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_client_context_is_passed(served):
    c = served.client()
    ctx = base64.b64encode(json.dumps({"custom": {"k": "v"}, "env": {"e": "1"}}).encode()).decode()
    b = json.loads(invoke(c, "py-echo", ClientContext=ctx)["Body"])
    assert b["client_context"] == {"custom": {"k": "v"}, "env": {"e": "1"}}


def test_errors_by_exception_name(served):
    c = served.client()
    cases = [
        (dict(FunctionName="missing"), "ResourceNotFoundException", 404,
         "Function not found: arn:aws:lambda:us-east-1:123456789012:function:missing"),
        (dict(FunctionName="py-echo", Payload=b"{not json"), "InvalidRequestContentException", 400, None),
        (dict(FunctionName="py-echo", ClientContext="bm90IGpzb24="), "InvalidRequestContentException",
         400, "Client context must be a valid Base64-encoded JSON object."),
        (dict(FunctionName="py-echo", Payload=b'"' + b"x" * (6 * 1024 * 1024 + 10) + b'"'),
         "RequestEntityTooLargeException", 413,
         "Request must be smaller than 6291456 bytes for the InvokeFunction operation"),
        (dict(FunctionName="arn:aws:lambda:eu-west-1:123456789012:function:py-echo"),
         "ResourceNotFoundException", 404, None),
        (dict(FunctionName="py-echo:7", Qualifier="8"), "InvalidParameterValueException", 400,
         "The derived qualifier from the function name does not match the specified qualifier."),
    ]
    for kwargs, code, status, message in cases:
        with pytest.raises(ClientError) as e:
            c.invoke(**kwargs)
        err = e.value.response
        assert err["Error"]["Code"] == code, (kwargs.get("FunctionName"), err)
        assert err["ResponseMetadata"]["HTTPStatusCode"] == status
        assert UUID_RE.match(err["ResponseMetadata"]["RequestId"])
        if message:
            assert err["Error"]["Message"] == message
    assert "Could not parse request body into json" in str(
        pytest.raises(ClientError, c.invoke, FunctionName="py-echo", Payload=b"{").value)


def test_function_name_forms(served):
    c = served.client()
    for name in ["py-echo", "py-echo:$LATEST", "123456789012:function:py-echo",
                 "arn:aws:lambda:us-east-1:123456789012:function:py-echo",
                 "arn:aws:lambda:us-east-1:123456789012:function:py-echo:$LATEST"]:
        r = invoke(c, name)
        assert r["StatusCode"] == 200, name
        b = json.loads(r["Body"])
        expected = "arn:aws:lambda:us-east-1:123456789012:function:py-echo"
        if name.endswith(":$LATEST"):
            expected += ":$LATEST"
        assert b["invoked_function_arn"] == expected
    r = c.invoke(FunctionName="py-echo", Qualifier="$LATEST", Payload=b"{}")
    assert r["StatusCode"] == 200


def test_aws_cli_v2_invoke_with_tail(served, tmp_path):
    out = tmp_path / "out.json"
    res = served.cli("invoke", "--function-name", "py-echo", "--cli-binary-format",
                     "raw-in-base64-out", "--payload", '{"from":"cli"}', "--log-type", "Tail",
                     str(out))
    meta = json.loads(res.stdout)
    assert meta["StatusCode"] == 200 and meta["ExecutedVersion"] == "$LATEST"
    assert "START RequestId:" in base64.b64decode(meta["LogResult"]).decode()
    assert json.loads(out.read_text())["event"] == {"from": "cli"}
    res = served.cli("invoke", "--function-name", "nope", str(out), check=False)
    assert res.returncode != 0
    assert "ResourceNotFoundException" in res.stderr


def test_shutdown_stops_every_environment(served):
    c = served.client()
    invoke(c, "py-echo")
    invoke(c, "NodeEcho")
    kids = served.children()
    assert len(kids) >= 2
    assert served.stop() == 0
    time.sleep(0.2)
    alive = [p for p in kids if __import__("os").path.exists(f"/proc/{p}")]
    assert not alive, alive
    assert not list((served.state / "run").glob("*")) if (served.state / "run").exists() else True
