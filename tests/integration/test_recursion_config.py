# SPDX-License-Identifier: MIT
"""GetFunctionRecursionConfig and PutFunctionRecursionConfig through a boto3 recent enough
to know them (Debian's predates them): the default, a change, Lambda's errors, persistence
across a restart, and a function created again under the same name starting afresh."""
import pytest

from conftest import zip_files
from helpers import current_boto3_python, run_boto3_script

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
PY = "def handler(event, context):\n    return event\n"

PYTHON = current_boto3_python("get_function_recursion_config")
pytestmark = pytest.mark.skipif(
    PYTHON is None, reason="no Python with a boto3 that has GetFunctionRecursionConfig "
                           "(set GALLEY_CURRENT_PYTHON)")


def create(c, name):
    c.create_function(FunctionName=name, Runtime="python3.12", Handler="app.handler", Role=ROLE,
                      Code={"ZipFile": zip_files({"app.py": PY})})


def test_get_put_and_errors(daemon_factory, tmp_path):
    state = tmp_path / "state"
    d = daemon_factory(state_dir=state)
    create(d.client(), "rec")
    out = run_boto3_script(PYTHON, d.url, """
        out["default"] = c.get_function_recursion_config(FunctionName="rec")["RecursiveLoop"]
        r = c.put_function_recursion_config(FunctionName="rec", RecursiveLoop="Allow")
        out["put"] = [r["RecursiveLoop"], r["ResponseMetadata"]["HTTPStatusCode"]]
        arn = "arn:aws:lambda:us-east-1:123456789012:function:rec"
        out["by_arn"] = c.get_function_recursion_config(FunctionName=arn)["RecursiveLoop"]
        out["bad_value"] = error_of(c.put_function_recursion_config, FunctionName="rec",
                                    RecursiveLoop="Sometimes")
        out["unknown"] = error_of(c.get_function_recursion_config, FunctionName="nope")
        out["qualified"] = error_of(c.get_function_recursion_config, FunctionName="rec:1")
        out["after_errors"] = c.get_function_recursion_config(FunctionName="rec")["RecursiveLoop"]
    """)
    assert out["default"] == "Terminate"
    assert out["put"] == ["Allow", 200]
    assert out["by_arn"] == "Allow"
    assert out["bad_value"] == [
        "ValidationException",
        "1 validation error detected: Value 'Sometimes' at 'recursiveLoop' failed to satisfy "
        "constraint: Member must satisfy enum value set: [Allow, Terminate]", 400]
    assert out["unknown"] == [
        "ResourceNotFoundException",
        "Function not found: arn:aws:lambda:us-east-1:123456789012:function:nope", 404]
    assert out["qualified"][0] == "ValidationException" and out["qualified"][2] == 400
    assert "Value 'rec:1' at 'functionName'" in out["qualified"][1]
    assert out["after_errors"] == "Allow"

    # Kept across a restart; gone with the function.
    d.stop()
    d = daemon_factory(state_dir=state)
    c = d.client()
    out = run_boto3_script(PYTHON, d.url, """
        out["restarted"] = c.get_function_recursion_config(FunctionName="rec")["RecursiveLoop"]
    """)
    assert out["restarted"] == "Allow"
    c.delete_function(FunctionName="rec")
    create(c, "rec")
    out = run_boto3_script(PYTHON, d.url, """
        out["recreated"] = c.get_function_recursion_config(FunctionName="rec")["RecursiveLoop"]
        out["missing_body"] = error_of(c.put_function_recursion_config, FunctionName="rec",
                                       RecursiveLoop="")
    """)
    assert out["recreated"] == "Terminate"
    assert out["missing_body"][0] == "ValidationException"
