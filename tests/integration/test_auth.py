# SPDX-License-Identifier: MIT
"""Who may use galley's API (issue 9, section 2), written as attacks: the /_galley control API
wants the token the daemon writes to <state-dir>/run/control-token, which a function can
neither read nor guess (while it still invokes other functions through the Lambda API);
`galley serve --auth sigv4` refuses every Lambda API request not signed by a configured key
(boto3 and the AWS CLI signed with it pass; another key, another secret, a stale date, a
swapped body and unsigned curl get Lambda's 403s); GET /metrics stays open; a non-loopback
--listen without --auth warns at start."""
import datetime
import json
import os
import stat
import subprocess
import urllib.error
import urllib.request
from unittest import mock

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from conftest import AWS_CLI, AWS_ENV, FIXTURES, GALLEY_BIN, write_template
from helpers import py_basic_daemon, run_galley

KEY, SECRET = "AKIDGALLEYTEST", "galley-test-secret/key+1"
SIGV4 = ["--auth", "sigv4", "--credentials", f"{KEY}:{SECRET}"]

ATTACKER = '''
import urllib.error, urllib.request

def call(endpoint, method, path, headers=None, body=None):
    req = urllib.request.Request(endpoint + path, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return [r.status, None]
    except urllib.error.HTTPError as e:
        return [e.code, e.headers.get("x-amzn-ErrorType")]
    except Exception as e:  # unreachable counts as refused, but say so
        return [0, repr(e)]

def handler(event, context):
    out = {}
    try:
        with open(event["token_path"]) as f:
            out["read_token"] = f.read()
    except OSError as e:
        out["read_token"] = type(e).__name__
    ep = event["endpoint"]
    json_h = {"Content-Type": "application/json"}
    out["environments"] = call(ep, "GET", "/_galley/environments")
    out["guessed"] = call(ep, "GET", "/_galley/environments", {"X-Galley-Control-Token": "0" * 64})
    out["empty"] = call(ep, "GET", "/_galley/environments", {"X-Galley-Control-Token": ""})
    out["reset"] = call(ep, "POST", "/_galley/reset")
    out["fault"] = call(ep, "PUT", "/_galley/functions/victim/faults", json_h,
                        b'{"Kind": "crash", "Count": 5}')
    out["invoke"] = call(ep, "POST", "/2015-03-31/functions/victim/invocations", {}, b"{}")
    return out
'''


def http(url, method="GET", headers=None, body=None):
    """(status, x-amzn-ErrorType, parsed JSON body or text) of one plain request."""
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            status, etype, raw = r.status, r.headers.get("x-amzn-ErrorType"), r.read()
    except urllib.error.HTTPError as e:
        status, etype, raw = e.code, e.headers.get("x-amzn-ErrorType"), e.read()
    try:
        return status, etype, json.loads(raw)
    except ValueError:
        return status, etype, raw.decode(errors="replace")


def client(d, key=KEY, secret=SECRET, region="us-east-1"):
    return boto3.client("lambda", endpoint_url=d.url, region_name=region, aws_access_key_id=key,
                        aws_secret_access_key=secret,
                        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}))


def error_of(call):
    with pytest.raises(ClientError) as exc:
        call()
    e = exc.value.response
    return e["Error"]["Code"], e["ResponseMetadata"]["HTTPStatusCode"], e["Error"]["Message"]


def test_control_api_needs_the_token_and_metrics_stay_open(daemon_factory, tmp_path):
    d = daemon_factory()
    run = d.state / "run"
    token_file = run / "control-token"
    assert stat.S_IMODE(run.stat().st_mode) == 0o700 and run.stat().st_uid == os.geteuid()
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    token = d.control_token
    assert len(token) == 64 and int(token, 16) >= 0
    envs = d.url + "/_galley/environments"
    status, etype, body = http(envs)
    assert (status, etype) == (403, "AccessDeniedException")
    assert body["Message"].startswith("Missing control token")
    assert "run/control-token" in body["Message"]
    for bad in ("0" * 64, token[:-1], token + "0", token.upper() if token.upper() != token
                else "x"):
        status, etype, body = http(envs, headers={"X-Galley-Control-Token": bad})
        assert (status, etype) == (403, "AccessDeniedException"), bad
        assert body["Message"].startswith("Invalid control token")
    assert http(d.url + "/_galley/reset", "POST")[0] == 403
    assert http(d.url + "/_galley/functions/f/cold", "POST")[0] == 403
    assert http(envs, headers={"X-Galley-Control-Token": token})[0] == 200
    status, _, text = http(d.url + "/metrics")
    assert status == 200 and "galley_invocations_total" in text
    # A new token at every start: the old one stops working.
    d.stop()
    d2 = daemon_factory(state_dir=d.state)
    assert d2.control_token != token
    assert http(d2.url + "/_galley/environments",
                headers={"X-Galley-Control-Token": token})[0] == 403
    assert http(d2.url + "/_galley/environments",
                headers={"X-Galley-Control-Token": d2.control_token})[0] == 200


def test_cli_finds_the_token_or_says_why_not(daemon_factory, tmp_path):
    d = daemon_factory()
    env = {k: v for k, v in os.environ.items()
           if k not in ("GALLEY_CONTROL_TOKEN", "GALLEY_STATE_DIR")}
    # No token where it looks (./.galley of another directory): refused, with where to look.
    res = run_galley("ps", "--endpoint", d.url, timeout=60, cwd=str(tmp_path), env=env)
    assert res.returncode == 1 and res.stdout == ""
    assert res.stderr.startswith("galley ps: AccessDeniedException (HTTP 403): Missing control")
    assert "--state-dir" in res.stderr
    res = run_galley("reset", "--endpoint", d.url, timeout=60, cwd=str(tmp_path), env=env)
    assert res.returncode == 1 and "AccessDeniedException" in res.stderr
    # ./.galley by default, $GALLEY_STATE_DIR, $GALLEY_CONTROL_TOKEN, --state-dir.
    (tmp_path / ".galley").symlink_to(d.state)
    res = run_galley("reset", "--endpoint", d.url, timeout=60, cwd=str(tmp_path), env=env)
    assert res.returncode == 0 and json.loads(res.stdout) == {"Reset": True}, res.stderr
    for extra in ({"GALLEY_STATE_DIR": str(d.state)}, {"GALLEY_CONTROL_TOKEN": d.control_token}):
        res = run_galley("ps", "--json", "--endpoint", d.url, timeout=60, env={**env, **extra})
        assert res.returncode == 0 and json.loads(res.stdout) == [], res.stderr
    res = run_galley("ps", "--endpoint", d.url, timeout=60,
                     env={**env, "GALLEY_CONTROL_TOKEN": "forged"})
    assert res.returncode == 1 and "Invalid control token" in res.stderr
    # An explicit --state-dir wins over $GALLEY_CONTROL_TOKEN.
    res = run_galley("ps", "--endpoint", d.url, "--state-dir", str(d.state), timeout=60,
                     env={**env, "GALLEY_CONTROL_TOKEN": "forged"})
    assert res.returncode == 0, res.stderr


def test_a_function_cannot_reach_the_control_api_but_invokes_others(daemon_factory, tmp_path):
    code = tmp_path / "attacker"
    code.mkdir()
    (code / "app.py").write_text(ATTACKER)
    tpl = write_template(tmp_path, {
        "Attacker": {"CodeUri": str(code), "Handler": "app.handler", "Runtime": "python3.11",
                     "FunctionName": "attacker", "Timeout": 60},
        "Victim": {"CodeUri": str(FIXTURES / "py_basic"), "Handler": "app.echo",
                   "Runtime": "python3.11", "FunctionName": "victim", "Timeout": 30},
    })
    d = daemon_factory(template=tpl)
    event = {"endpoint": d.url, "token_path": str(d.state / "run" / "control-token")}
    out = d.client().invoke(FunctionName="attacker", Payload=json.dumps(event).encode())
    assert "FunctionError" not in out, out["Payload"].read()
    got = json.loads(out["Payload"].read())
    assert got["read_token"] != d.control_token and got["read_token"] in (
        "FileNotFoundError", "PermissionError", "NotADirectoryError"), got
    for probe in ("environments", "guessed", "empty", "reset", "fault"):
        assert got[probe] == [403, "AccessDeniedException"], (probe, got)
    assert got["invoke"] == [200, None], got  # the Lambda API stays reachable from functions
    # Nothing the attacker tried took effect.
    status, _, fault = http(d.url + "/_galley/functions/victim/faults",
                            headers={"X-Galley-Control-Token": d.control_token})
    assert status == 200 and fault["Remaining"] == 0


def signed_request(d, method, path, body=b"", when=None, key=KEY, secret=SECRET):
    """A botocore-signed request for d (optionally signed at another time): (url, headers)."""
    req = AWSRequest(method=method, url=d.url + path, data=body)
    signer = SigV4Auth(Credentials(key, secret), "lambda", "us-east-1")
    if when is None:
        signer.add_auth(req)
    else:
        with mock.patch("botocore.auth.datetime") as dt:
            dt.datetime.utcnow.return_value = when
            dt.datetime.now.return_value = when
            signer.add_auth(req)
    return req.url, dict(req.headers.items())


def test_sigv4_boto3_signed_with_the_key_passes_others_get_lambdas_403s(daemon_factory, tmp_path):
    d = py_basic_daemon(daemon_factory, tmp_path, {
        "Echo": {"Handler": "app.echo", "FunctionName": "echo"}}, extra_args=SIGV4)
    good = client(d)
    assert [f["FunctionName"] for f in good.list_functions()["Functions"]] == ["echo"]
    out = good.invoke(FunctionName="arn:aws:lambda:us-east-1:123456789012:function:echo",
                      Qualifier="$LATEST", Payload=b'{"k": "v"}')
    assert out["StatusCode"] == 200 and json.loads(out["Payload"].read())["event"] == {"k": "v"}
    # A body larger than the inline limit is hashed off the loop thread: still verified.
    big = json.dumps({"pad": "x" * 400_000}).encode()
    out = good.invoke(FunctionName="echo", Payload=big)
    assert out["StatusCode"] == 200 and "FunctionError" not in out

    assert error_of(lambda: client(d, key="AKIDSOMEONEELSE").list_functions()) == (
        "UnrecognizedClientException", 403,
        "The security token included in the request is invalid.")
    code, status, msg = error_of(lambda: client(d, secret="wrong").invoke(FunctionName="echo"))
    assert (code, status) == ("InvalidSignatureException", 403)
    assert msg.startswith("The request signature we calculated does not match the signature you "
                          "provided. Check your AWS Secret Access Key and signing method.")
    assert error_of(lambda: client(d, region="eu-west-1").list_functions())[:2] == (
        "InvalidSignatureException", 403)


def test_sigv4_unsigned_stale_or_tampered_requests_are_refused(daemon_factory, tmp_path):
    d = py_basic_daemon(daemon_factory, tmp_path, {
        "Echo": {"Handler": "app.echo", "FunctionName": "echo"}}, extra_args=SIGV4)
    # Unsigned (curl): every Lambda path, unknown ones too.
    for method, path in (("GET", "/2015-03-31/functions/"),
                         ("POST", "/2015-03-31/functions/echo/invocations"),
                         ("GET", "/2015-03-31/no-such-operation")):
        res = subprocess.run(["curl", "-s", "-i", "-X", method, d.url + path], capture_output=True,
                             text=True, timeout=30)
        head, _, body = res.stdout.partition("\n\n")  # text mode turned CRLF into LF
        assert head.startswith("HTTP/1.1 403"), res.stdout
        assert "x-amzn-ErrorType: MissingAuthenticationTokenException" in head
        assert json.loads(body) == {"message": "Missing Authentication Token"}
    # Signed 20 minutes ago (past the 15-minute window) or 20 minutes ahead.
    now = datetime.datetime.utcnow()
    for delta, words in ((-20, "Signature expired: "), (20, "Signature not yet current: ")):
        url, headers = signed_request(d, "GET", "/2015-03-31/functions/",
                                      when=now + datetime.timedelta(minutes=delta))
        status, etype, body = http(url, headers=headers)
        assert (status, etype) == (403, "InvalidSignatureException")
        assert body["message"].startswith(words), body
    # A body swapped after signing, a malformed Authorization, a service other than lambda.
    url, headers = signed_request(d, "POST", "/2015-03-31/functions/echo/invocations", b'{"a":1}')
    assert http(url, "POST", headers, b'{"a":1}')[0] == 200
    assert http(url, "POST", headers, b'{"a":2}')[:2] == (403, "InvalidSignatureException")
    status, etype, body = http(url, "POST", {**headers, "Authorization": "AWS4-HMAC-SHA256 x"},
                               b'{"a":1}')
    assert (status, etype) == (403, "IncompleteSignatureException")
    assert "requires 'Signature' parameter" in body["message"]
    bad_scope = headers["Authorization"].replace("/lambda/", "/s3/")
    status, etype, body = http(url, "POST", {**headers, "Authorization": bad_scope}, b'{"a":1}')
    assert (status, etype) == (403, "InvalidSignatureException")
    assert body["message"].startswith("Credential should be scoped to correct service: 'lambda'")
    # Still open: /metrics. Still the token's: /_galley, signed or not.
    assert http(d.url + "/metrics")[0] == 200
    assert http(d.url + "/_galley/environments",
                headers={"X-Galley-Control-Token": d.control_token})[0] == 200
    url, headers = signed_request(d, "GET", "/_galley/environments")
    assert http(url, headers=headers)[:2] == (403, "AccessDeniedException")


def test_sigv4_with_the_aws_cli_and_a_credentials_file(daemon_factory, tmp_path):
    creds = tmp_path / "credentials"
    creds.write_text(f"# galley credentials\n\nAKIDFIRST:first-secret\n{KEY}:{SECRET}\n")
    creds.chmod(0o600)
    d = py_basic_daemon(daemon_factory, tmp_path, {
        "Echo": {"Handler": "app.echo", "FunctionName": "echo"}},
        extra_args=["--auth", "sigv4", "--credentials-file", str(creds)])

    def aws(key, secret, *args):
        env = {**os.environ, **AWS_ENV, "AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret}
        return subprocess.run([AWS_CLI, "--endpoint-url", d.url, "lambda", *args],
                              capture_output=True, text=True, env=env, timeout=120)

    res = aws(KEY, SECRET, "list-functions")
    assert res.returncode == 0, res.stderr
    assert [f["FunctionName"] for f in json.loads(res.stdout)["Functions"]] == ["echo"]
    res = aws("AKIDFIRST", "first-secret", "get-function", "--function-name", "echo")
    assert res.returncode == 0, res.stderr
    res = aws("AKIDNOTCONFIGURED", SECRET, "list-functions")
    assert res.returncode != 0 and "UnrecognizedClientException" in res.stderr
    res = aws(KEY, "not-the-secret", "list-functions")
    assert res.returncode != 0 and "InvalidSignatureException" in res.stderr


def serve_once(tmp_path, *args):
    """Run `galley serve` expected to stop by itself (bad options, or a failed listen)."""
    state = tmp_path / "once-state"
    return subprocess.run([GALLEY_BIN, "serve", "--state-dir", str(state), "--no-watch", *args],
                          capture_output=True, text=True, timeout=120, cwd=str(tmp_path),
                          env=dict(os.environ, **AWS_ENV))


def test_non_loopback_listen_without_auth_warns(daemon_factory, tmp_path):
    # 192.0.2.1 (TEST-NET-1) is on no interface here: the listen fails after the warning, so
    # the test never listens beyond loopback.
    res = serve_once(tmp_path, "--listen", "192.0.2.1:0")
    assert res.returncode == 1
    assert "listening on 192.0.2.1 without --auth: anyone who can reach it" in res.stderr
    res = serve_once(tmp_path, "--listen", "192.0.2.1:0", *SIGV4)
    assert res.returncode == 1 and "without --auth" not in res.stderr, res.stderr
    d = daemon_factory()  # 127.0.0.1
    assert "without --auth" not in d.daemon_log()


@pytest.mark.parametrize("args, words", [
    (["--auth", "sigv4"], "--auth sigv4 needs --credentials or --credentials-file"),
    (["--credentials", "AK:SK"], "--credentials need --auth sigv4"),
    (["--auth", "kerberos"], "--auth wants sigv4 or none, got 'kerberos'"),
])
def test_auth_usage_errors(tmp_path, args, words):
    res = serve_once(tmp_path, "--listen", "127.0.0.1:0", *args)
    assert res.returncode == 2 and words in res.stderr, res.stderr


def test_bad_credentials_stop_the_start(tmp_path):
    res = serve_once(tmp_path, "--listen", "127.0.0.1:0", "--auth", "sigv4", "--credentials",
                     "no-colon-here")
    assert res.returncode == 1 and "credentials must be ACCESS_KEY:SECRET" in res.stderr
    res = serve_once(tmp_path, "--listen", "127.0.0.1:0", "--auth", "sigv4",
                     "--credentials-file", str(tmp_path / "missing"))
    assert res.returncode == 1 and "credentials file" in res.stderr
