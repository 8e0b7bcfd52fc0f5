# SPDX-License-Identifier: MIT
"""Function URLs with InvokeMode RESPONSE_STREAM, called as given by curl, Python's urllib
and Node's fetch: pieces a Node function writes 300 ms apart reach the client one by one (the
first before the function wrote the last), the status, headers and cookies come from the
awslambda.HttpResponseStream prelude, a plain stream is a 200 of the function's content type
(application/octet-stream by default), a function that does not stream is mapped as for a
BUFFERED URL, CORS headers are added, 50 MB arrive intact, a failure before the first byte is
a 502 and one after it cuts the chunked body short of its terminating chunk (so each client
reports an incomplete body), the 200 MB and 6 MB limits hold, a client that disconnects
mid-stream leaves the function's environment usable, and a provided runtime in Python streams
through the Runtime API by hand (pieces, an error in its trailers). Every listener is on
127.0.0.1."""
import hashlib
import http.client
import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from conftest import write_template
from helpers import wait_until

NODE = r"""
const { pipeline } = require('stream/promises');
const { Readable } = require('stream');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

exports.three = awslambda.streamifyResponse(async (event, stream) => {
  stream = awslambda.HttpResponseStream.from(stream, {
    statusCode: 201,
    headers: { 'content-type': 'text/plain', 'x-a': 'b', 'x-n': 7 },
    cookies: ['s=1; Path=/', 't=2'],
  });
  for (let i = 0; i < 3; i++) {
    stream.write(`piece ${i} at ${Date.now()}\n`);
    if (i < 2) await sleep(300);
  }
  stream.end();
});

exports.plain = awslambda.streamifyResponse(async (event, stream) => {
  if (event.rawPath === '/typed') stream.setContentType('text/csv');
  stream.write('a,b\n');
  stream.end('1,2\n');
});

exports.empty = awslambda.streamifyResponse(async (event, stream) => {
  stream = awslambda.HttpResponseStream.from(stream, { statusCode: 204, headers: { 'x-e': '1' } });
  stream.end();
});

exports.buffered = async (event) => ({
  statusCode: 202, headers: { 'x-b': 'c' }, cookies: ['u=3'], body: 'whole ' + event.rawPath,
});

exports.big = awslambda.streamifyResponse(async (event, stream) => {
  const mb = Number(event.queryStringParameters?.mb || 50);
  const block = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < block.length; i++) block[i] = (i * 7 + 3) & 0xff;
  let n = 0;
  await pipeline(new Readable({ read() { this.push(n++ < mb ? block : null); } }), stream);
});

exports.boom = awslambda.streamifyResponse(async (event, stream) => {
  if (event.rawPath === '/early') throw new Error('broke before the first byte');
  stream.write('first piece\n');
  await sleep(100);
  throw new Error('broke mid-stream');
});

exports.slow = awslambda.streamifyResponse(async (event, stream) => {
  stream.write('before the deadline\n');
  await sleep(5000);
  stream.end();
});

// Writes a piece every 50 ms for 2 s whether or not anyone reads, then counts itself.
let calls = 0;
exports.ticker = awslambda.streamifyResponse(async (event, stream) => {
  calls++;
  for (let i = 0; i < 40; i++) {
    stream.write(`tick ${i} call ${calls}\n`);
    await sleep(50);
  }
  stream.end(`done call ${calls}\n`);
});
"""

# A provided.al2023 runtime in Python streaming through the Runtime API itself (Python has no
# managed streaming): a chunked /response in streaming mode, three pieces 300 ms apart, and for
# rawPath /fail an error in the trailers.
PY_BOOTSTRAP = r"""#!/usr/bin/python3
import base64, http.client, json, os, socket, time
HOST, PORT = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
while True:
    c = http.client.HTTPConnection(HOST, int(PORT))
    c.request("GET", "/2018-06-01/runtime/invocation/next")
    r = c.getresponse()
    event, rid = json.loads(r.read()), r.getheader("Lambda-Runtime-Aws-Request-Id")
    c.close()
    s = socket.create_connection((HOST, int(PORT)))
    s.sendall(("POST /2018-06-01/runtime/invocation/%s/response HTTP/1.1\r\nHost: rapi\r\n"
               "Lambda-Runtime-Function-Response-Mode: streaming\r\n"
               "Transfer-Encoding: chunked\r\nContent-Type: text/plain\r\n"
               "Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body"
               "\r\n\r\n" % rid).encode())
    for i in range(3):
        piece = ("py %d at %d\n" % (i, int(time.time() * 1000))).encode()
        s.sendall(b"%x\r\n%s\r\n" % (len(piece), piece))
        if i < 2:
            time.sleep(0.3)
    if event.get("rawPath") == "/fail":
        body = base64.b64encode(json.dumps({"errorMessage": "py failed",
                                            "errorType": "PyError"}).encode())
        s.sendall(b"0\r\nLambda-Runtime-Function-Error-Type: PyError\r\n"
                  b"Lambda-Runtime-Function-Error-Body: " + body + b"\r\n\r\n")
    else:
        s.sendall(b"0\r\n\r\n")
    s.recv(4096)
    s.close()
"""

CORS = {"AllowOrigins": ["https://app.example"], "ExposeHeaders": ["x-a"]}


@pytest.fixture(scope="module")
def urls(tmp_path_factory):
    from conftest import Daemon
    tmp = tmp_path_factory.mktemp("urlstream")
    (tmp / "src").mkdir()
    (tmp / "src" / "index.js").write_text(NODE)
    (tmp / "py").mkdir()
    (tmp / "py" / "bootstrap").write_text(PY_BOOTSTRAP)
    (tmp / "py" / "bootstrap").chmod(0o755)
    names = ("three", "plain", "buffered", "big", "boom", "slow", "ticker", "pystream", "empty")
    url_cfg = {"AuthType": "NONE", "InvokeMode": "RESPONSE_STREAM", "Cors": CORS}
    fns = {n.capitalize(): {"FunctionName": n, "CodeUri": "src", "Handler": f"index.{n}",
                            "Runtime": "nodejs20.x", "MemorySize": 512,
                            "Timeout": 2 if n == "slow" else 120, "FunctionUrlConfig": url_cfg}
           for n in names}
    fns["Pystream"].update(CodeUri="py", Handler="bootstrap", Runtime="provided.al2023")
    tpl = write_template(tmp, fns)
    d = Daemon(tmp, template=tpl)
    d.start()
    c = d.client()
    found = {n: c.get_function_url_config(FunctionName=n)["FunctionUrl"] for n in names}
    found["daemon"] = d
    yield found
    rc = d.stop()
    log = d.daemon_log()
    for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
        assert marker not in log, log[-4000:]
    assert rc == 0, log[-2000:]


def pieces_with_times(lines):
    """[(piece text, ms the function wrote it, ms it arrived)] from (line, arrival) pairs."""
    return [(l.split(" at ")[0], int(l.split(" at ")[1]), t) for l, t in lines]


def assert_streamed(got):
    assert [p[0] for p in got] == ["piece 0", "piece 1", "piece 2"]
    # Ordering, not speed: the first piece reached the client before the function wrote the
    # last (600 ms of sleeps in between), so nothing held the whole stream.
    assert got[0][2] < got[2][1], got


def test_pieces_and_prelude_through_urllib(urls):
    req = urllib.request.Request(urls["three"] + "x", headers={"Origin": "https://app.example"})
    lines = []
    with urllib.request.urlopen(req, timeout=60) as r:
        status, headers = r.status, r.headers
        buf = b""
        while True:
            chunk = r.read1(65536)
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                lines.append((line.decode(), int(time.time() * 1000)))
    assert status == 201
    assert headers["Content-Type"] == "text/plain"
    assert headers["x-a"] == "b" and headers["x-n"] == "7"
    assert headers.get_all("Set-Cookie") == ["s=1; Path=/", "t=2"]
    assert headers["Transfer-Encoding"] == "chunked" and "Content-Length" not in headers
    assert headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert headers["Access-Control-Expose-Headers"] == "x-a"
    assert headers["x-amzn-RequestId"]
    assert_streamed(pieces_with_times(lines))


def test_pieces_and_prelude_through_curl(urls):
    p = subprocess.Popen(["curl", "-sS", "-N", "-i", "--max-time", "60", urls["three"]],
                         stdout=subprocess.PIPE)
    lines = []
    try:
        for raw in p.stdout:
            lines.append((raw.decode().rstrip("\r\n"), int(time.time() * 1000)))
    finally:
        p.stdout.close()
        assert p.wait(timeout=60) == 0
    blank = [l for l, _ in lines].index("")
    head = [l for l, _ in lines[:blank]]
    assert head[0].startswith("HTTP/1.1 201")
    low = [h.lower() for h in head]
    assert "content-type: text/plain" in low and "x-a: b" in low
    assert "set-cookie: s=1; path=/" in low and "set-cookie: t=2" in low
    assert "transfer-encoding: chunked" in low
    body = [(l, t) for l, t in lines[blank + 1:] if l]
    assert_streamed(pieces_with_times(body))


FETCH = r"""
const r = await fetch(process.argv[1]);
const out = { status: r.status, ctype: r.headers.get('content-type'),
  cookies: r.headers.getSetCookie ? r.headers.getSetCookie() : null, lines: [] };
const reader = r.body.getReader();
const dec = new TextDecoder();
let buf = '';
for (;;) {
  const { value, done } = await reader.read();
  if (done) break;
  buf += dec.decode(value, { stream: true });
  let i;
  while ((i = buf.indexOf('\n')) >= 0) {
    out.lines.push([buf.slice(0, i), Date.now()]);
    buf = buf.slice(i + 1);
  }
}
console.log(JSON.stringify(out));
"""


def node_fetch(script, url):
    if not shutil.which("node"):
        pytest.skip("no node")
    res = subprocess.run(["node", "--input-type=module", "-e", script, url], capture_output=True,
                         text=True, timeout=120)
    return res


def test_pieces_and_prelude_through_fetch(urls):
    res = node_fetch(FETCH, urls["three"])
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["status"] == 201 and out["ctype"] == "text/plain"
    if out["cookies"] is not None:
        assert out["cookies"] == ["s=1; Path=/", "t=2"]
    assert_streamed(pieces_with_times(out["lines"]))


def get(url, headers=None, method="GET", data=None):
    req = urllib.request.Request(url, headers=headers or {}, method=method, data=data)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.headers, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def test_plain_stream_and_buffered_handler(urls):
    st, h, body = get(urls["plain"], {"Origin": "https://app.example"})
    assert (st, h["Content-Type"], body) == (200, "application/octet-stream", b"a,b\n1,2\n")
    assert h["Transfer-Encoding"] == "chunked"
    assert h["Access-Control-Allow-Origin"] == "https://app.example"
    st, h, body = get(urls["plain"] + "typed")
    assert (st, h["Content-Type"], body) == (200, "text/csv", b"a,b\n1,2\n")
    assert "Access-Control-Allow-Origin" not in h  # no Origin, no CORS headers
    # A handler that does not stream is answered as a BUFFERED URL answers it.
    st, h, body = get(urls["buffered"] + "p", {"Origin": "https://app.example"})
    assert (st, h["x-b"], body) == (202, "c", b"whole /p")
    assert h.get_all("Set-Cookie") == ["u=3"]
    assert h["Access-Control-Allow-Origin"] == "https://app.example"


def test_replies_without_a_body(urls):
    """A HEAD, and a prelude's 204: the head alone, and the connection carries the next
    request (no stray chunk left on it)."""
    for name, method, status in (("three", "HEAD", 201), ("empty", "GET", 204)):
        u = urllib.parse.urlsplit(urls[name])
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        try:
            conn.request(method, "/")
            r = conn.getresponse()
            assert (r.status, r.read()) == (status, b"")
            assert r.getheader("Transfer-Encoding") == ("chunked" if method == "HEAD" else None)
            conn.request("GET", "/again")
            r = conn.getresponse()
            assert r.status == status and (r.read() != b"") == (name == "three")
        finally:
            conn.close()
    st, h, body = get(urls["empty"])
    assert (st, h["x-e"], body) == (204, "1", b"")


def test_fifty_megabytes_intact(urls):
    block = bytes(((i * 7 + 3) & 0xFF) for i in range(1024 * 1024))
    want = hashlib.sha256(block * 50).hexdigest()
    h, n = hashlib.sha256(), 0
    with urllib.request.urlopen(urls["big"] + "?mb=50", timeout=120) as r:
        assert r.headers["Transfer-Encoding"] == "chunked"
        while True:
            chunk = r.read1(1 << 20)
            if not chunk:
                break
            h.update(chunk)
            n += len(chunk)
    assert n == 50 * 1024 * 1024 and h.hexdigest() == want
    # The same through curl, into sha256 as it arrives.
    out = subprocess.run(f"curl -sS --max-time 120 '{urls['big']}?mb=50' | sha256sum",
                         shell=True, capture_output=True, text=True, timeout=180)
    assert out.stdout.split()[0] == want, out.stderr


def test_errors_before_and_after_the_first_byte(urls):
    st, h, body = get(urls["boom"] + "early")
    assert (st, json.loads(body)) == (502, {"Message": "Internal Server Error"})
    # After the first byte the body is cut: no terminating chunk, so each client says so.
    with urllib.request.urlopen(urls["boom"], timeout=60) as r:
        assert r.status == 200
        with pytest.raises(http.client.IncompleteRead) as e:
            r.read()
        assert e.value.partial == b"first piece\n"
    out = subprocess.run(["curl", "-sS", "--max-time", "60", urls["boom"]], capture_output=True,
                         timeout=90)
    assert out.returncode == 18 and out.stdout == b"first piece\n", out.stderr
    script = """
const r = await fetch(process.argv[1]);
let text = '';
try {
  for await (const c of r.body) text += Buffer.from(c).toString();
  console.log(JSON.stringify({ status: r.status, text, error: null }));
} catch (e) { console.log(JSON.stringify({ status: r.status, text, error: String(e) })); }
"""
    res = node_fetch(script, urls["boom"])
    got = json.loads(res.stdout)
    assert got["status"] == 200 and got["text"] == "first piece\n" and got["error"], got
    # A timeout after the first byte ends it the same way.
    out = subprocess.run(["curl", "-sS", "--max-time", "60", urls["slow"]], capture_output=True,
                         timeout=90)
    assert out.returncode == 18 and out.stdout == b"before the deadline\n", out.stderr


def test_limits(urls):
    # Over 200 MB streamed: the client gets at most 200 MB, then the body is cut.
    out = subprocess.run(["curl", "-sS", "--max-time", "240", "-o", "/dev/null", "-w",
                          "%{size_download}", urls["big"] + "?mb=201"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 18, out.stderr
    assert 190 * 1024 * 1024 < int(out.stdout) <= 200 * 1024 * 1024
    st, h, body = get(urls["plain"], {"Content-Type": "text/plain"}, "POST", b"x" * (7 << 20))
    assert st == 413 and "6291456 bytes" in json.loads(body)["Message"]
    # A throttle is answered before any stream: 429, as for a BUFFERED URL.
    c = urls["daemon"].client()
    c.put_function_concurrency(FunctionName="plain", ReservedConcurrentExecutions=0)
    try:
        st, h, body = get(urls["plain"])
        assert (st, json.loads(body)) == (429, {"Message": "Rate Exceeded."})
    finally:
        c.delete_function_concurrency(FunctionName="plain")
    assert get(urls["plain"])[0] == 200


def environments(d):
    req = urllib.request.Request(f"{d.url}/_galley/environments",
                                 headers={"X-Galley-Control-Token": d.control_token})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())["Environments"]


def raw_get(url, until):
    """A socket sending GET for url: (socket, the answer's bytes up to until, or all that came
    in 30 s)."""
    u = urllib.parse.urlsplit(url)
    path = u.path + ("?" + u.query if u.query else "")
    s = socket.create_connection((u.hostname, u.port), timeout=30)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: {u.netloc}\r\n\r\n".encode())
    got, deadline = b"", time.monotonic() + 30
    while until not in got and time.monotonic() < deadline:
        data = s.recv(65536)
        if not data:
            break
        got += data
    return s, got


def test_client_gone_mid_stream(urls):
    d = urls["daemon"]
    # A client reading the first piece and then closing: the function runs on unread.
    s, first = raw_get(urls["ticker"], b"tick 0 call 1")
    assert first.startswith(b"HTTP/1.1 200") and b"tick 0 call 1" in first
    s.close()
    # A client that stops reading a 150 MB stream, then resets the connection: the paused
    # runtime is resumed and finishes.
    s, first = raw_get(urls["big"] + "?mb=150", b"\r\n\r\n")
    assert first.startswith(b"HTTP/1.1 200")
    time.sleep(0.5)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
    s.close()
    # Both environments finish their invokes and stay usable: the next calls get whole answers.
    with urllib.request.urlopen(urls["ticker"], timeout=60) as r:
        text = r.read().decode()
    assert text.splitlines()[-1].startswith("done call ")
    with urllib.request.urlopen(urls["big"] + "?mb=1", timeout=60) as r:
        assert len(r.read()) == 1024 * 1024
    # Nothing is left busy: every environment is back to idle.
    assert wait_until(lambda: all(e["status"] != "busy" for e in environments(d)),
                      timeout=30), environments(d)


def test_provided_python_runtime_streams(urls):
    """A runtime streaming through the Runtime API by hand reaches a URL's client piece by
    piece; an error in its trailers cuts the body; a plain Invoke gets it all collected."""
    p = subprocess.Popen(["curl", "-sS", "-N", "--max-time", "60", urls["pystream"]],
                         stdout=subprocess.PIPE)
    lines = []
    try:
        for raw in p.stdout:
            lines.append((raw.decode().rstrip("\n"), int(time.time() * 1000)))
    finally:
        p.stdout.close()
        assert p.wait(timeout=60) == 0
    assert [l.split(" at ")[0] for l, _ in lines] == ["py 0", "py 1", "py 2"]
    assert lines[0][1] < int(lines[2][0].split(" at ")[1]), lines
    out = subprocess.run(["curl", "-sS", "--max-time", "60", urls["pystream"] + "fail"],
                         capture_output=True, timeout=90)
    assert out.returncode == 18 and out.stdout.count(b"\n") == 3, out
    r = urls["daemon"].client().invoke(FunctionName="pystream", Payload=b"{}")
    body = r["Payload"].read().decode()
    assert "FunctionError" not in r and [l.split(" at ")[0] for l in body.splitlines()] == [
        "py 0", "py 1", "py 2"]
    assert r["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "text/plain"
