# SPDX-License-Identifier: MIT
"""Function URLs: the five URL config operations through Debian's boto3 (validation, errors,
persistence across a restart, a URL gone with its alias and its function), and a URL called
as given by curl, Python's urllib and Node's fetch: a payload 2.0 event with the client's
path, query and cookies, a binary body, the response mapping, CORS, AWS_IAM and a function
error. Every listener is on 127.0.0.1."""
import base64
import json
import re
import shutil
import subprocess
import urllib.error
import urllib.request

import botocore.exceptions
import pytest

from conftest import zip_files
from helpers import current_boto3_python, run_boto3_script

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
ECHO = """
import json, base64
def handler(event, context):
    p = event.get("rawPath", "")
    if p == "/fail":
        raise ValueError("boom")
    if p == "/plain":
        return "just text"
    if p == "/object":
        return {"a": 1}
    if p == "/binary":
        return {"statusCode": 201, "headers": {"content-type": "application/octet-stream",
                "x-n": 7}, "cookies": ["s=1; Path=/", "t=2"],
                "body": base64.b64encode(bytes(range(256))).decode(), "isBase64Encoded": True}
    return {"statusCode": 200, "headers": {"content-type": "application/json"},
            "body": json.dumps(event)}
"""


def error_of(fn, **kw):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        fn(**kw)
    r = e.value.response
    return [r["Error"]["Code"], r["Error"]["Message"], r["ResponseMetadata"]["HTTPStatusCode"]]


def create(c, name):
    c.create_function(FunctionName=name, Runtime="python3.12", Handler="app.handler", Role=ROLE,
                      Code={"ZipFile": zip_files({"app.py": ECHO})})


def get(url, headers=None, method="GET", data=None):
    req = urllib.request.Request(url, headers=headers or {}, method=method, data=data)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, dict(r.headers), r.read(), r.headers.get_all("Set-Cookie") or []
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read(), []


def test_operations_and_errors(daemon_factory, tmp_path):
    state = tmp_path / "state"
    d = daemon_factory(state_dir=state)
    c = d.client()
    create(c, "web")
    r = c.create_function_url_config(FunctionName="web", AuthType="NONE",
                                     Cors={"AllowOrigins": ["https://a.example"], "MaxAge": 60})
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 201
    url = r["FunctionUrl"]
    assert url.startswith("http://127.0.0.1:") and url.endswith("/")
    assert r["FunctionArn"] == "arn:aws:lambda:us-east-1:123456789012:function:web"
    assert r["AuthType"] == "NONE"  # InvokeMode: test_invoke_mode (Debian's boto3 predates it)
    assert r["Cors"] == {"AllowOrigins": ["https://a.example"], "MaxAge": 60}
    assert error_of(c.create_function_url_config, FunctionName="web", AuthType="NONE") == [
        "ResourceConflictException",
        "Failed to create function url config for [functionArn = arn:aws:lambda:us-east-1:"
        "123456789012:function:web]. Error message:  FunctionUrlConfig exists for this Lambda "
        "function", 409]
    g = c.get_function_url_config(FunctionName="web")
    assert g["FunctionUrl"] == url and "LastModifiedTime" in g
    u = c.update_function_url_config(FunctionName="web", AuthType="AWS_IAM")
    assert u["FunctionUrl"] == url and u["AuthType"] == "AWS_IAM"
    assert u["Cors"]["MaxAge"] == 60

    bad = error_of(c.create_function_url_config, FunctionName="web", AuthType="OPEN",
                   Qualifier="live")
    assert bad == ["ValidationException",
                   "1 validation error detected: Value 'OPEN' at 'authType' failed to satisfy "
                   "constraint: Member must satisfy enum value set: [NONE, AWS_IAM]", 400]
    bad = error_of(c.update_function_url_config, FunctionName="web", Cors={"MaxAge": 90000})
    assert bad[0] == "ValidationException" and "'cors.maxAge'" in bad[1]
    assert "less than or equal to 86400" in bad[1]
    bad = error_of(c.get_function_url_config, FunctionName="web", Qualifier="1")
    assert bad[0] == "ValidationException" and "at 'qualifier'" in bad[1]
    assert error_of(c.get_function_url_config, FunctionName="web", Qualifier="nope")[2] == 404
    assert error_of(c.get_function_url_config, FunctionName="ghost")[:1] == [
        "ResourceNotFoundException"]

    # An alias gets a URL of its own; the list shows both, sorted, paged.
    c.publish_version(FunctionName="web")
    c.create_alias(FunctionName="web", Name="live", FunctionVersion="1")
    a = c.create_function_url_config(FunctionName="web", Qualifier="live", AuthType="NONE")
    assert a["FunctionUrl"] != url
    assert a["FunctionArn"].endswith(":function:web:live")
    lst = c.list_function_url_configs(FunctionName="web")["FunctionUrlConfigs"]
    assert sorted(x["FunctionUrl"] for x in lst) == sorted([url, a["FunctionUrl"]])
    p1 = c.list_function_url_configs(FunctionName="web", MaxItems=1)
    assert len(p1["FunctionUrlConfigs"]) == 1 and "NextMarker" in p1
    p2 = c.list_function_url_configs(FunctionName="web", Marker=p1["NextMarker"])
    assert len(p2["FunctionUrlConfigs"]) == 1 and "NextMarker" not in p2

    # Kept across a restart, on the same port.
    d.stop()
    d = daemon_factory(state_dir=state)
    c = d.client()
    assert c.get_function_url_config(FunctionName="web")["FunctionUrl"] == url
    assert get(a["FunctionUrl"] + "x")[0] == 200
    # Gone with the alias, then with the function.
    c.delete_alias(FunctionName="web", Name="live")
    assert error_of(c.get_function_url_config, FunctionName="web", Qualifier="live")[2] == 404
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(a["FunctionUrl"], timeout=10)
    r = c.delete_function_url_config(FunctionName="web")
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert error_of(c.delete_function_url_config, FunctionName="web")[2] == 404
    c.create_function_url_config(FunctionName="web", AuthType="NONE")
    c.delete_function(FunctionName="web")
    create(c, "web")
    assert error_of(c.get_function_url_config, FunctionName="web")[2] == 404


@pytest.fixture
def web(daemon_factory):
    d = daemon_factory()
    c = d.client()
    create(c, "site")
    url = c.create_function_url_config(
        FunctionName="site", AuthType="NONE",
        Cors={"AllowOrigins": ["https://app.example"], "AllowMethods": ["GET", "POST"],
              "AllowHeaders": ["x-custom"], "ExposeHeaders": ["x-n"], "MaxAge": 300,
              "AllowCredentials": True})["FunctionUrl"]
    return d, c, url


def test_event_from_curl(web):
    d, c, url = web
    out = subprocess.run(
        ["curl", "-sS", "--max-time", "60", "-H", "Cookie: a=1; b=two", "-H", "X-Rep: one",
         "-H", "X-Rep: two", "-A", "galley-test", url + "some/deep%20path?x=1&x=2&y=h%C3%A9"],
        capture_output=True, check=True, timeout=90)
    ev = json.loads(out.stdout)
    assert ev["version"] == "2.0" and ev["routeKey"] == "$default"
    assert ev["rawPath"] == "/some/deep%20path"
    assert ev["rawQueryString"] == "x=1&x=2&y=h%C3%A9"
    assert ev["queryStringParameters"] == {"x": "1,2", "y": "hé"}
    assert ev["cookies"] == ["a=1", "b=two"]
    assert ev["headers"]["x-rep"] == "one,two" and "cookie" not in ev["headers"]
    rc = ev["requestContext"]
    assert rc["accountId"] == "anonymous" and rc["stage"] == "$default"
    assert rc["http"] == {"method": "GET", "path": "/some/deep%20path", "protocol": "HTTP/1.1",
                          "sourceIp": "127.0.0.1", "userAgent": "galley-test"}
    assert rc["apiId"] == rc["domainPrefix"] and len(rc["apiId"]) == 32
    assert isinstance(rc["timeEpoch"], int) and rc["requestId"]
    assert rc["domainName"] == url.split("/")[2]  # the Host the client sent
    assert re.fullmatch(r"\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d \+0000", rc["time"])
    assert ev["isBase64Encoded"] is False and "body" not in ev


def test_binary_post_and_response_mapping_from_urllib(web):
    d, c, url = web
    body = bytes(range(256)) * 4
    st, h, out, _ = get(url + "echo", {"Content-Type": "application/octet-stream"}, "POST", body)
    ev = json.loads(out)
    assert st == 200 and ev["isBase64Encoded"] is True
    assert base64.b64decode(ev["body"]) == body
    st, h, out, _ = get(url + "echo", {"Content-Type": "application/json"}, "POST", b'{"k":1}')
    assert json.loads(out)["body"] == '{"k":1}' and json.loads(out)["isBase64Encoded"] is False
    st, h, out, cookies = get(url + "binary")
    assert st == 201 and out == bytes(range(256)) and h["x-n"] == "7"
    assert cookies == ["s=1; Path=/", "t=2"]
    st, h, out, _ = get(url + "plain")
    assert (st, out, h["content-type"]) == (200, b"just text", "application/json")
    st, h, out, _ = get(url + "object")
    assert st == 200 and json.loads(out) == {"a": 1}
    st, h, out, _ = get(url + "fail")
    assert (st, json.loads(out)) == (502, {"Message": "Internal Server Error"})
    st, h, out, _ = get(url + "big", {"Content-Type": "text/plain"}, "POST", b"x" * (7 << 20))
    assert st == 413


def test_cors_and_fetch_from_node(web):
    d, c, url = web
    st, h, out, _ = get(url + "anything", {"Origin": "https://app.example",
                                           "Access-Control-Request-Method": "POST"}, "OPTIONS")
    assert st == 200 and out == b""
    assert h["Access-Control-Allow-Origin"] == "https://app.example"
    assert h["Access-Control-Allow-Methods"] == "GET,POST"
    assert h["Access-Control-Allow-Headers"] == "x-custom"
    assert h["Access-Control-Max-Age"] == "300"
    assert h["Access-Control-Allow-Credentials"] == "true"
    st, h, out, _ = get(url + "other", {"Origin": "https://evil.example",
                                        "Access-Control-Request-Method": "POST"}, "OPTIONS")
    assert "Access-Control-Allow-Origin" not in h
    if not shutil.which("node"):
        pytest.skip("no node")
    script = """
const r = await fetch(process.argv[1] + "from/node?q=1", {headers: {origin: "https://app.example"}});
const ev = await r.json();
console.log(JSON.stringify({status: r.status, path: ev.rawPath, q: ev.queryStringParameters,
  acao: r.headers.get("access-control-allow-origin"),
  expose: r.headers.get("access-control-expose-headers")}));
"""
    out = subprocess.run(["node", "--input-type=module", "-e", script, url],
                         capture_output=True, text=True, timeout=90)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert got == {"status": 200, "path": "/from/node", "q": {"q": "1"},
                   "acao": "https://app.example", "expose": "x-n"}


def test_aws_iam_refuses_unsigned(web):
    d, c, url = web
    c.update_function_url_config(FunctionName="site", AuthType="AWS_IAM")
    st, h, out, _ = get(url + "x")
    assert (st, json.loads(out)) == (403, {"Message": "Forbidden"})
    auth = ("AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/lambda/aws4_request, "
            "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64)
    st, h, out, _ = get(url + "x", {"Authorization": auth, "X-Amz-Date": "20240101T000000Z"})
    assert st == 200 and json.loads(out)["requestContext"]["accountId"] == "123456789012"


def test_invoke_mode(daemon_factory):
    python = current_boto3_python("create_function_url_config")
    if python is None:
        pytest.skip("no Python with a boto3 that knows InvokeMode (set GALLEY_CURRENT_PYTHON)")
    d = daemon_factory()
    create(d.client(), "mode")
    out = run_boto3_script(python, d.url, """
        r = c.create_function_url_config(FunctionName="mode", AuthType="NONE")
        out["default"] = r["InvokeMode"]
        r = c.update_function_url_config(FunctionName="mode", InvokeMode="RESPONSE_STREAM")
        out["updated"] = [r["InvokeMode"], r["AuthType"], r["FunctionUrl"]]
        out["bad"] = error_of(c.update_function_url_config, FunctionName="mode",
                              InvokeMode="CHUNKED")
    """)
    assert out["default"] == "BUFFERED"
    assert out["updated"][:2] == ["RESPONSE_STREAM", "NONE"]
    assert out["bad"] == ["ValidationException",
                          "1 validation error detected: Value 'CHUNKED' at 'invokeMode' failed "
                          "to satisfy constraint: Member must satisfy enum value set: "
                          "[BUFFERED, RESPONSE_STREAM]", 400]
    # A handler that does not stream is answered through a RESPONSE_STREAM URL as through a
    # BUFFERED one (test_function_url_stream.py covers the streamed answers).
    st, h, body, _ = get(out["updated"][2] + "s")
    assert st == 200 and json.loads(body)["rawPath"] == "/s"


def test_aws_iam_checks_signatures_under_auth_sigv4(daemon_factory):
    """With --auth sigv4 an AWS_IAM URL verifies the signature with the daemon's keys."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.config import Config
    from botocore.credentials import Credentials
    import boto3
    key, secret = "AKIDURLTEST", "url-test-secret"
    d = daemon_factory(extra_args=["--auth", "sigv4", "--credentials", f"{key}:{secret}"])
    c = boto3.client("lambda", endpoint_url=d.url, region_name="us-east-1",
                     aws_access_key_id=key, aws_secret_access_key=secret,
                     config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))
    create(c, "iam")
    url = c.create_function_url_config(FunctionName="iam", AuthType="AWS_IAM")["FunctionUrl"]

    def signed(secret_key):
        req = AWSRequest(method="POST", url=url + "signed?a=1", data=b'{"x":1}',
                         headers={"Content-Type": "application/json"})
        SigV4Auth(Credentials(key, secret_key), "lambda", "us-east-1").add_auth(req)
        return get(url + "signed?a=1", dict(req.headers.items()), "POST", b'{"x":1}')

    st, h, out, _ = signed(secret)
    assert st == 200 and json.loads(out)["body"] == '{"x":1}'
    st, h, out, _ = signed("wrong-secret")
    assert (st, json.loads(out)) == (403, {"Message": "Forbidden"})
    assert get(url + "signed")[0] == 403


def test_throttled_url_is_429(web):
    d, c, url = web
    c.put_function_concurrency(FunctionName="site", ReservedConcurrentExecutions=0)
    st, h, out, _ = get(url + "x")
    assert (st, json.loads(out)) == (429, {"Message": "Rate Exceeded."})
