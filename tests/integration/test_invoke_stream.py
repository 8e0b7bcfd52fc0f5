# SPDX-License-Identifier: MIT
"""InvokeWithResponseStream through a boto3 recent enough to know it (Debian's predates it): a
Node function streaming three pieces 300 ms apart reaches the client piece by piece (the first
before the function wrote the last), 50 MB arrive intact, an error thrown after the first piece
ends the stream with InvokeComplete's ErrorCode, a function that does not stream answers as one
PayloadChunk, an unknown function is a plain 404 before any stream, Tail logs come in
InvokeComplete; a timeout or crash after the first piece ends it with InvokeComplete's
ErrorCode; a client that stops reading pauses the function instead of filling galley's memory;
a plain Invoke of a streaming function gets the whole body; the JS SDK v3 reads the same stream
when npm can install it, and the AWS CLI where its version has the command; Qualifier and
ClientContext reach the function; running out of memory after the first piece ends the stream
with InvokeComplete's ErrorCode."""
import base64
import hashlib
import json
import os
import shutil
import subprocess

import pytest

from conftest import zip_files
from helpers import current_boto3_python, run_boto3_script

ROLE = "arn:aws:iam::000000000000:role/lambda-role"

NODE = r"""
const { pipeline } = require('stream/promises');
const { Readable } = require('stream');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

exports.three = awslambda.streamifyResponse(async (event, stream) => {
  stream.setContentType('text/plain');
  for (let i = 0; i < 3; i++) {
    stream.write(`piece ${i} at ${Date.now()}\n`);
    if (i < 2) await sleep(300);
  }
  console.log('last piece written at ' + Date.now());
  stream.end();
});

exports.big = awslambda.streamifyResponse(async (event, stream) => {
  const block = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < block.length; i++) block[i] = (i * 7 + 3) & 0xff;
  let n = 0;
  const src = new Readable({ read() { this.push(n++ < event.mb ? block : null); } });
  await pipeline(src, stream);
});

exports.boom = awslambda.streamifyResponse(async (event, stream) => {
  stream.write('first piece\n');
  await sleep(100);
  throw new Error('broke mid-stream');
});

exports.http = awslambda.streamifyResponse(async (event, stream) => {
  stream = awslambda.HttpResponseStream.from(stream, { statusCode: 201, headers: { 'x-a': 'b' } });
  stream.write('body');
  stream.end();
});

exports.slow = awslambda.streamifyResponse(async (event, stream) => {
  stream.write('before the deadline\n');
  await sleep(5000);
  stream.end();
});

exports.crash = awslambda.streamifyResponse(async (event, stream) => {
  stream.write('before the crash\n');
  await sleep(100);
  process.exit(3);
});

exports.ctx = awslambda.streamifyResponse(async (event, stream, context) => {
  stream.end(JSON.stringify({ version: context.functionVersion, cc: context.clientContext }));
});

exports.oom = awslambda.streamifyResponse(async (event, stream) => {
  stream.write('before the memory runs out\n');
  await sleep(100);
  const held = [];
  for (let i = 0; i < 64; i++) held.push(Buffer.alloc(16 * 1024 * 1024, 1)); // 1 GiB at most
  stream.end(`survived with ${held.length} blocks`);
});

exports.plain = async (event) => {
  console.log('plain says hi');
  return { echo: event };
};
"""

PYTHON = current_boto3_python("invoke_with_response_stream")
pytestmark = pytest.mark.skipif(
    PYTHON is None, reason="no Python with a boto3 that has InvokeWithResponseStream "
                           "(set GALLEY_CURRENT_PYTHON)")

READ_STREAM = """
import time
def read(name, payload, **kw):
    t0 = time.time()
    r = c.invoke_with_response_stream(FunctionName=name, Payload=json.dumps(payload), **kw)
    chunks, complete, times = [], None, []
    for ev in r["EventStream"]:
        if "PayloadChunk" in ev:
            chunks.append(ev["PayloadChunk"]["Payload"])
            times.append(time.time())
        elif "InvokeComplete" in ev:
            complete = ev["InvokeComplete"]
    return r, chunks, complete, times
"""


def with_reader(body, extra=""):
    import textwrap
    return extra + "\n" + READ_STREAM + textwrap.dedent(body)


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    from conftest import Daemon
    d = Daemon(tmp_path_factory.mktemp("stream"))
    d.start()
    c = d.client()
    for name in ("three", "big", "boom", "http", "plain", "slow", "crash", "ctx", "oom"):
        c.create_function(FunctionName=name, Runtime="nodejs20.x", Handler=f"index.{name}",
                          Role=ROLE, Timeout=2 if name == "slow" else 60,
                          MemorySize=128 if name == "oom" else 512,
                          Code={"ZipFile": zip_files({"index.js": NODE})})
    c.publish_version(FunctionName="ctx")
    c.create_alias(FunctionName="ctx", Name="live", FunctionVersion="1")
    yield d
    rc = d.stop()
    log = d.daemon_log()
    # As daemon_factory does: a sanitizer build's reports fail the module.
    for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
        assert marker not in log, log[-4000:]
    assert rc == 0, log[-2000:]


def test_pieces_arrive_as_written(daemon):
    out = run_boto3_script(PYTHON, daemon.url, with_reader("""
        r, chunks, complete, times = read("three", {})
        out["status"] = r["StatusCode"]
        out["ctype"] = r["ResponseStreamContentType"]
        out["version"] = r["ExecutedVersion"]
        out["text"] = b"".join(chunks).decode()
        out["arrivals_ms"] = [int(t * 1000) for t in times]
        out["complete"] = complete
    """))
    assert out["status"] == 200
    assert out["ctype"] == "application/vnd.amazon.eventstream"
    assert out["version"] == "$LATEST"
    lines = out["text"].splitlines()
    assert [l.split(" at ")[0] for l in lines] == ["piece 0", "piece 1", "piece 2"]
    written_last = int(lines[2].split(" at ")[1])
    # Ordering, not speed: the first piece reached the client before the function wrote the
    # last one (it sleeps 600 ms in between), so nothing buffered the whole stream.
    assert len(out["arrivals_ms"]) >= 2
    assert out["arrivals_ms"][0] < written_last
    assert out["complete"] == {}


def test_fifty_megabytes_intact(daemon):
    block = bytes(((i * 7 + 3) & 0xFF) for i in range(1024 * 1024))
    want = hashlib.sha256(block * 50).hexdigest()
    out = run_boto3_script(PYTHON, daemon.url, with_reader("""
        import hashlib
        r = c.invoke_with_response_stream(FunctionName="big", Payload=json.dumps({"mb": 50}))
        h, n, events, complete = hashlib.sha256(), 0, 0, None
        for ev in r["EventStream"]:
            if "PayloadChunk" in ev:
                p = ev["PayloadChunk"]["Payload"]
                h.update(p)
                n += len(p)
                events += 1
            elif "InvokeComplete" in ev:
                complete = ev["InvokeComplete"]
        out.update(sha=h.hexdigest(), n=n, events=events, complete=complete)
    """), timeout=300)
    assert out["n"] == 50 * 1024 * 1024
    assert out["sha"] == want
    assert out["events"] > 1
    assert out["complete"] == {}


def test_error_after_first_piece(daemon):
    out = run_boto3_script(PYTHON, daemon.url, with_reader("""
        r, chunks, complete, times = read("boom", {})
        out["status"] = r["StatusCode"]
        out["text"] = b"".join(chunks).decode()
        out["complete"] = complete
    """))
    assert out["status"] == 200
    assert out["text"] == "first piece\n"
    assert out["complete"]["ErrorCode"] == "Error"
    details = json.loads(out["complete"]["ErrorDetails"])
    assert details["errorType"] == "Error"
    assert details["errorMessage"] == "broke mid-stream"


def test_timeout_and_crash_after_first_piece(daemon):
    out = run_boto3_script(PYTHON, daemon.url, with_reader("""
        r, chunks, complete, times = read("slow", {})
        out["slow"] = [b"".join(chunks).decode(), complete]
        r, chunks, complete, times = read("crash", {})
        out["crash"] = [b"".join(chunks).decode(), complete]
        r, chunks, complete, times = read("three", {})
        out["after"] = len(b"".join(chunks).splitlines())
    """))
    text, complete = out["slow"]
    assert text == "before the deadline\n"
    assert complete["ErrorCode"] == "Sandbox.Timedout"
    assert "Task timed out after 2.00 seconds" in complete["ErrorDetails"]
    text, complete = out["crash"]
    assert text == "before the crash\n"
    assert complete["ErrorCode"] == "Runtime.ExitError"
    assert out["after"] == 3  # the daemon and the other functions are unaffected


def test_qualifier_and_client_context(daemon):
    out = run_boto3_script(PYTHON, daemon.url, with_reader("""
        import base64
        cc = base64.b64encode(json.dumps({"custom": {"k": "v"}}).encode()).decode()
        r, chunks, complete, times = read("ctx", {}, Qualifier="live", ClientContext=cc)
        out["live"] = [r["ExecutedVersion"], json.loads(b"".join(chunks)), complete]
        r, chunks, complete, times = read("ctx", {})
        out["latest"] = [r["ExecutedVersion"], json.loads(b"".join(chunks))]
        out["missing"] = error_of(c.invoke_with_response_stream, FunctionName="ctx",
                                  Qualifier="nope")
    """))
    version, body, complete = out["live"]
    assert version == "1" and body["version"] == "1" and complete == {}
    assert body["cc"]["custom"] == {"k": "v"}
    assert out["latest"] == ["$LATEST", {"version": "$LATEST"}]
    assert out["missing"][0] == "ResourceNotFoundException" and out["missing"][2] == 404


def test_out_of_memory_after_first_piece(daemon):
    out = run_boto3_script(PYTHON, daemon.url, with_reader("""
        r, chunks, complete, times = read("oom", {})
        out["oom"] = [b"".join(chunks).decode(), complete]
        r, chunks, complete, times = read("three", {})
        out["after"] = len(b"".join(chunks).splitlines())
    """), timeout=180)
    text, complete = out["oom"]
    assert text == "before the memory runs out\n"
    assert complete["ErrorCode"] == "Runtime.ExitError", complete
    assert json.loads(complete["ErrorDetails"])["errorMessage"].endswith("signal: killed")
    assert out["after"] == 3


def test_aws_cli_reads_the_stream(daemon, tmp_path):
    """The AWS CLI's invoke-with-response-stream, where this CLI version has the command."""
    from conftest import AWS_CLI
    import subprocess
    have = subprocess.run([AWS_CLI, "lambda", "invoke-with-response-stream", "help"],
                          capture_output=True, timeout=60)
    if have.returncode != 0:
        pytest.skip("this AWS CLI has no `lambda invoke-with-response-stream` (added in 2.11)")
    # Not run on this machine's CLI (2.9): only its exit status and the event names are
    # checked, as the CLI's way of printing an event stream is not pinned here.
    res = daemon.cli("invoke-with-response-stream", "--function-name", "three",
                     "--cli-binary-format", "raw-in-base64-out", "--payload", "{}",
                     str(tmp_path / "out"), check=False)
    assert res.returncode == 0, res.stderr
    assert "InvokeComplete" in res.stdout + (tmp_path / "out").read_text(errors="replace")


def test_not_streaming_is_one_chunk_with_tail(daemon):
    out = run_boto3_script(PYTHON, daemon.url, with_reader("""
        r, chunks, complete, times = read("plain", {"k": 1}, LogType="Tail")
        out["chunks"] = [ch.decode() for ch in chunks]
        out["complete"] = complete
    """))
    assert len(out["chunks"]) == 1
    assert json.loads(out["chunks"][0]) == {"echo": {"k": 1}}
    log = base64.b64decode(out["complete"]["LogResult"]).decode()
    assert "plain says hi" in log and "REPORT RequestId" in log
    assert "ErrorCode" not in out["complete"]


def test_errors_before_the_stream(daemon):
    out = run_boto3_script(PYTHON, daemon.url, """
        out["missing"] = error_of(c.invoke_with_response_stream, FunctionName="nope")
        out["event"] = error_of(c.invoke_with_response_stream, FunctionName="plain",
                                InvocationType="Event")
        r = c.invoke_with_response_stream(FunctionName="plain", InvocationType="DryRun")
        out["dry"] = r["StatusCode"]
        out["bad_json"] = error_of(c.invoke_with_response_stream, FunctionName="plain",
                                   Payload=b"{nope")
    """)
    assert out["missing"] == [
        "ResourceNotFoundException",
        "Function not found: arn:aws:lambda:us-east-1:123456789012:function:nope", 404]
    assert out["event"][0] == "ValidationException" and out["event"][2] == 400
    assert "[RequestResponse, DryRun]" in out["event"][1]
    assert out["dry"] == 204
    assert out["bad_json"][0] == "InvalidRequestContentException"


def test_http_integration_prelude_and_plain_invoke(daemon):
    out = run_boto3_script(PYTHON, daemon.url, with_reader("""
        r, chunks, complete, times = read("http", {})
        out["raw"] = base64.b64encode(b"".join(chunks)).decode()
        p = c.invoke(FunctionName="three", Payload=b"{}")
        out["plain"] = p["Payload"].read().decode()
        out["plain_ct"] = p["ResponseMetadata"]["HTTPHeaders"].get("content-type")
        b = c.invoke(FunctionName="boom", Payload=b"{}")
        out["plain_err"] = [b.get("FunctionError"), b["Payload"].read().decode()]
    """, "import base64"))
    raw = base64.b64decode(out["raw"])
    prelude, _, body = raw.partition(b"\0" * 8)
    assert json.loads(prelude) == {"statusCode": 201, "headers": {"x-a": "b"}}
    assert body == b"body"
    assert [l.split(" at ")[0] for l in out["plain"].splitlines()] == [
        "piece 0", "piece 1", "piece 2"]
    assert out["plain_ct"] == "text/plain"
    assert out["plain_err"][0] == "Unhandled"
    assert json.loads(out["plain_err"][1])["errorMessage"] == "broke mid-stream"


def test_plain_invoke_of_a_stream_keeps_the_6_mb_limit(daemon):
    """A streamed response to a plain Invoke is collected, so the buffered limit applies."""
    r = daemon.client().invoke(FunctionName="big", Payload=json.dumps({"mb": 7}).encode())
    body = json.loads(r["Payload"].read())
    assert r["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Function.ResponseSizeTooLarge"
    assert "6291556 bytes" in body["errorMessage"]
    r = daemon.client().invoke(FunctionName="big", Payload=json.dumps({"mb": 5}).encode())
    assert "FunctionError" not in r and len(r["Payload"].read()) == 5 * 1024 * 1024


def test_over_200_mb_ends_with_an_error(daemon):
    out = run_boto3_script(PYTHON, daemon.url, """
        r = c.invoke_with_response_stream(FunctionName="big", Payload=json.dumps({"mb": 201}))
        n, complete = 0, None
        for ev in r["EventStream"]:
            if "PayloadChunk" in ev:
                n += len(ev["PayloadChunk"]["Payload"])
            elif "InvokeComplete" in ev:
                complete = ev["InvokeComplete"]
        out.update(n=n, complete=complete)
    """, timeout=300)
    assert 190 * 1024 * 1024 < out["n"] <= 200 * 1024 * 1024
    assert out["complete"]["ErrorCode"] == "Function.ResponseSizeTooLarge"
    assert "209715200 bytes" in out["complete"]["ErrorDetails"]


C_HANDLER = r"""
#include <string.h>
#include <unistd.h>
#include "galley/runtime.h"

static int handler(const gl_rt_invocation_t *inv, gl_rt_response_t *resp, void *user_data)
{
    (void)user_data;
    gl_rt_stream_t *s = gl_rt_stream_begin("text/plain");
    if (!s)
        return gl_rt_set_error(resp, "NoStream", "gl_rt_stream_begin failed");
    gl_rt_stream_write(s, "one\n", 4);
    usleep(300 * 1000);
    gl_rt_stream_write(s, "two\n", 4);
    if (strstr(inv->payload, "fail"))
        gl_rt_stream_fail(s, "Custom.Failure", "failed after %d pieces", 2);
    return 0; /* an open stream is finished by the library */
}

int main(void) { return gl_rt_run(handler, NULL) == 0 ? 0 : 1; }
"""


def build_c_stream(tmp_path):
    """The handler above linked against the build's libgalley_runtime.a (with the sanitizer
    runtimes when the library needs them); None when it cannot be built here."""
    from conftest import BUILD, ROOT
    lib = BUILD / "libgalley_runtime.a"
    cc = shutil.which("cc")
    if not cc or not lib.exists():
        return None
    (tmp_path / "h.c").write_text(C_HANDLER)
    for extra in ([], ["-fsanitize=address,undefined"]):
        res = subprocess.run([cc, "-O1", *extra, "-I", str(ROOT / "include"), str(tmp_path / "h.c"),
                              str(lib), "-o", str(tmp_path / "bootstrap")],
                             capture_output=True, text=True, timeout=120)
        if res.returncode == 0:
            return (tmp_path / "bootstrap").read_bytes()
    return None


def test_c_runtime_streams(daemon, tmp_path):
    binary = build_c_stream(tmp_path)
    if binary is None:
        pytest.skip("no C compiler or libgalley_runtime.a in the build dir")
    import io
    import zipfile
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o755 << 16
        z.writestr(info, binary)
    daemon.client().create_function(FunctionName="cstream", Runtime="provided.al2023",
                                    Handler="x", Role=ROLE, Code={"ZipFile": buf.getvalue()})
    out = run_boto3_script(PYTHON, daemon.url, with_reader("""
        r, chunks, complete, times = read("cstream", {})
        out["ok"] = [[ch.decode() for ch in chunks], complete,
                     r["ResponseMetadata"]["HTTPHeaders"]["content-type"],
                     int((times[-1] - times[0]) * 1000)]
        r, chunks, complete, times = read("cstream", {"fail": 1})
        out["fail"] = [b"".join(chunks).decode(), complete]
    """))
    chunks, complete, ctype, spread_ms = out["ok"]
    assert "".join(chunks) == "one\ntwo\n"
    assert len(chunks) == 2 and spread_ms >= 200  # two pieces, 300 ms apart, as written
    assert complete == {} and ctype == "application/vnd.amazon.eventstream"
    text, complete = out["fail"]
    assert text == "one\ntwo\n"
    assert complete["ErrorCode"] == "Custom.Failure"
    assert json.loads(complete["ErrorDetails"]) == {
        "errorMessage": "failed after 2 pieces", "errorType": "Custom.Failure", "stackTrace": []}


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def test_slow_reader_is_not_buffered(daemon):
    """Backpressure: a client that stops reading a 150 MB stream for 3 s does not make galley
    hold the stream (the runtime is paused instead), and then still gets every byte."""
    import http.client
    import time
    port = int(daemon.url.rsplit(":", 1)[1])
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    conn.request("POST", "/2021-11-15/functions/big/response-streaming-invocations",
                 body=json.dumps({"mb": 150}))
    resp = conn.getresponse()
    assert resp.status == 200
    assert resp.getheader("Content-Type") == "application/vnd.amazon.eventstream"
    got = len(resp.read(1 << 20))
    before = rss_kb(daemon.proc.pid)
    time.sleep(3)  # the function could stream all 150 MB meanwhile
    during = rss_kb(daemon.proc.pid)
    while True:
        chunk = resp.read1(1 << 20)
        if not chunk:
            break
        got += len(chunk)
    conn.close()
    assert during - before < 40 * 1024, f"galley grew by {during - before} kB while not read"
    # Event-stream framing: about 100 bytes per piece on top of the payload.
    assert 150 * 1024 * 1024 < got < 151 * 1024 * 1024


JS_CLIENT = r"""
const { LambdaClient, InvokeWithResponseStreamCommand } = require('@aws-sdk/client-lambda');
(async () => {
  const c = new LambdaClient({ endpoint: process.argv[2], region: 'us-east-1',
    credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
  const r = await c.send(new InvokeWithResponseStreamCommand({ FunctionName: 'boom',
    Payload: Buffer.from('{}') }));
  const out = { status: r.StatusCode, text: '', complete: null };
  for await (const ev of r.EventStream) {
    if (ev.PayloadChunk) out.text += Buffer.from(ev.PayloadChunk.Payload).toString();
    if (ev.InvokeComplete) out.complete = ev.InvokeComplete;
  }
  console.log(JSON.stringify(out));
})().catch((e) => { console.error(e); process.exit(1); });
"""


def test_js_sdk_v3(daemon, tmp_path):
    npm = shutil.which("npm")
    if not npm:
        pytest.skip("npm is not installed: cannot install @aws-sdk/client-lambda")
    inst = subprocess.run([npm, "install", "--silent", "--no-audit", "--no-fund", "--prefix",
                           str(tmp_path), "@aws-sdk/client-lambda"],
                          capture_output=True, text=True, timeout=300)
    if inst.returncode != 0:
        pytest.skip("npm could not install @aws-sdk/client-lambda (offline?): "
                    + inst.stderr.strip()[-200:])
    (tmp_path / "client.js").write_text(JS_CLIENT)
    res = subprocess.run(["node", str(tmp_path / "client.js"), daemon.url], capture_output=True,
                         text=True, timeout=120, cwd=tmp_path,
                         env={**os.environ, "NODE_PATH": str(tmp_path / "node_modules")})
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["status"] == 200
    assert out["text"] == "first piece\n"
    assert out["complete"]["ErrorCode"] == "Error"
