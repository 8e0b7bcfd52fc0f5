# SPDX-License-Identifier: MIT
"""What a function finds in its environment to reach galley, not AWS: the AWS SDK of its
runtime (boto3 from the interpreter's own site-packages, the AWS SDK for JavaScript v3 from
runtimes/nodejs/node_modules), AWS_ENDPOINT_URL_LAMBDA pointing at the daemon, a role's
credentials (fixed fake ones, or the --auth sigv4 key) and --endpoint-env; so a function
invoking another through its SDK, with no endpoint in its code, hits galley."""
import json
import pathlib
import subprocess

import pytest

from conftest import GALLEY_BIN, ROOT, zip_files

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
NODE_SDK = ROOT / "runtimes" / "nodejs" / "node_modules" / "@aws-sdk" / "client-lambda"

ECHO = "def handler(event, context):\n    return {'echo': event}\n"
ENV_PY = """import os
def handler(event, context):
    names = ["AWS_ENDPOINT_URL_LAMBDA", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_ACCESS_KEY_ID",
             "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "LD_LIBRARY_PATH"]
    out = {n: os.environ.get(n) for n in names}
    try:
        import boto3
        out["boto3"] = boto3.__version__
        out["boto3_file"] = boto3.__file__
    except ImportError as e:
        out["boto3"] = None
        out["error"] = str(e)
    return out
"""
# No endpoint, no credentials in the code: boto3 >= 1.28 reads AWS_ENDPOINT_URL_LAMBDA.
CALLER_PY = """import json
import boto3
def handler(event, context):
    r = boto3.client("lambda").invoke(FunctionName=event["target"],
                                      Payload=json.dumps({"from": "py"}))
    return {"status": r["StatusCode"], "payload": json.loads(r["Payload"].read()),
            "boto3": boto3.__version__}
"""
CALLER_JS = """const { LambdaClient, InvokeCommand } = require('@aws-sdk/client-lambda');
exports.handler = async (event) => {
  const r = await new LambdaClient({}).send(new InvokeCommand({
    FunctionName: event.target, Payload: Buffer.from(JSON.stringify({ from: 'js' })) }));
  return { status: r.StatusCode, payload: JSON.parse(Buffer.from(r.Payload).toString()) };
};
"""


def create(c, name, code, runtime="python3.12", handler="app.handler", timeout=30):
    fname = "app.py" if runtime.startswith("python") else "index.js"
    c.create_function(FunctionName=name, Runtime=runtime, Handler=handler, Role=ROLE,
                      Timeout=timeout, Code={"ZipFile": zip_files({fname: code})})


def invoke(c, name, event=None):
    r = c.invoke(FunctionName=name, Payload=json.dumps(event or {}))
    body = json.loads(r["Payload"].read())
    assert "FunctionError" not in r, body
    return body


def version_tuple(v):
    return tuple(int(x) for x in v.split(".")[:2])


def test_variables_credentials_and_boto3(daemon_factory):
    d = daemon_factory(extra_args=["--endpoint-env",
                                   "AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:8000"])
    c = d.client()
    create(c, "env", ENV_PY)
    out = invoke(c, "env")
    assert out["AWS_ENDPOINT_URL_LAMBDA"] == d.url
    assert out["AWS_ENDPOINT_URL_DYNAMODB"] == "http://127.0.0.1:8000"
    # A role's shape (ASIA key, a session token), not the daemon's own ("testing").
    assert out["AWS_ACCESS_KEY_ID"].startswith("ASIA") and out["AWS_SESSION_TOKEN"]
    assert out["AWS_SECRET_ACCESS_KEY"] and out["AWS_SECRET_ACCESS_KEY"] != "testing"
    assert out["LD_LIBRARY_PATH"].startswith("/var/lang/lib:")
    # boto3 from the interpreter galley resolved, as seen inside the sandbox.
    assert out["boto3"], out.get("error")
    assert "AWS SDK: python3.x functions: boto3 at " in d.daemon_log()


def test_debian_python_offers_its_dist_packages(daemon_factory):
    if subprocess.run(["/usr/bin/python3", "-c", "import boto3"]).returncode != 0:
        pytest.skip("/usr/bin/python3 has no boto3 (python3-boto3)")
    d = daemon_factory(extra_args=["--python", "/usr/bin/python3"])
    c = d.client()
    create(c, "env", ENV_PY)
    out = invoke(c, "env")
    assert out["boto3"], out.get("error")
    assert out["boto3_file"].startswith("/usr/lib/python3/dist-packages/")


def test_python_invokes_another_function_with_no_endpoint(daemon_factory):
    d = daemon_factory()
    c = d.client()
    create(c, "env", ENV_PY)
    v = invoke(c, "env")["boto3"]
    if not v or version_tuple(v) < (1, 28):
        pytest.skip(f"the sandboxed python's boto3 ({v}) predates AWS_ENDPOINT_URL_LAMBDA "
                    "(1.28): run galley with --python pointing at a newer one")
    create(c, "callee", ECHO)
    create(c, "caller", CALLER_PY)
    out = invoke(c, "caller", {"target": "callee"})
    assert out["status"] == 200
    assert out["payload"] == {"echo": {"from": "py"}}


def test_function_calls_are_accepted_under_sigv4(daemon_factory):
    d = daemon_factory(extra_args=["--auth", "sigv4", "--credentials", "testing:testing"])
    c = d.client()
    create(c, "env", ENV_PY)
    out = invoke(c, "env")
    assert out["AWS_ACCESS_KEY_ID"] == "testing" and out["AWS_SECRET_ACCESS_KEY"] == "testing"
    assert out["AWS_SESSION_TOKEN"] is None
    if not out["boto3"] or version_tuple(out["boto3"]) < (1, 28):
        pytest.skip("the sandboxed python's boto3 predates AWS_ENDPOINT_URL_LAMBDA")
    create(c, "callee", ECHO)
    create(c, "caller", CALLER_PY)
    assert invoke(c, "caller", {"target": "callee"})["payload"] == {"echo": {"from": "py"}}


@pytest.mark.skipif(not NODE_SDK.is_dir(),
                    reason="no AWS SDK for JavaScript v3 in runtimes/nodejs/node_modules "
                           "(scripts/install-deps --node-sdk)")
def test_node_invokes_another_function_with_no_endpoint(daemon_factory):
    d = daemon_factory()
    c = d.client()
    create(c, "callee", ECHO)
    create(c, "caller", CALLER_JS, runtime="nodejs20.x", handler="index.handler")
    out = invoke(c, "caller", {"target": "callee"})
    assert out == {"status": 200, "payload": {"echo": {"from": "js"}}}
    assert "nodejs functions: @aws-sdk/client-lambda at " in d.daemon_log()


@pytest.mark.parametrize("arg, said", [
    ("NOEQUALS", "--endpoint-env wants NAME=URL, got 'NOEQUALS'"),
    ("1BAD=http://x", "--endpoint-env wants NAME=URL"),
    ("A-B=http://x", "--endpoint-env wants NAME=URL"),
    ("EMPTY=", "--endpoint-env wants NAME=URL"),
])
def test_bad_endpoint_env_is_refused(tmp_path, arg, said):
    r = subprocess.run([GALLEY_BIN, "serve", "--listen", "127.0.0.1:0", "--state-dir",
                        str(tmp_path / "s"), "--endpoint-env", arg],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert said in r.stderr


REACH_PY = """import os, socket, urllib.parse
def handler(event, context):
    url = urllib.parse.urlsplit(os.environ["AWS_ENDPOINT_URL_LAMBDA"])
    try:
        socket.create_connection((url.hostname, url.port), timeout=5).close()
        return {"url": url.geturl(), "reached": True}
    except OSError as e:
        return {"url": url.geturl(), "reached": False, "error": e.__class__.__name__}
"""


@pytest.mark.skipif(__import__("os").geteuid() != 0, reason="network namespaces need root here")
def test_isolated_network_cannot_reach_the_endpoint(daemon_factory):
    # Documented: the variable is still set (no SDK call goes to AWS by accident), but the
    # environment's own loopback has no daemon on it; galley says so at start.
    d = daemon_factory(extra_args=["--isolate-network"])
    c = d.client()
    create(c, "reach", REACH_PY)
    out = invoke(c, "reach")
    assert out["url"] == d.url
    assert out["reached"] is False and out["error"] == "ConnectionRefusedError"
    assert "--isolate-network: functions cannot reach " + d.url in d.daemon_log()
