# SPDX-License-Identifier: MIT
"""Scale (issue 14, item 4): many warm environments of the C runtime held at once through the
control API, counted by `galley ps --json`, still answering invokes, and all gone after a reset;
the start-up line saying how many environments the descriptor limit allows; many functions
(the scheduler's per-function entries are a hash). Marked slow; N is GALLEY_SCALE_ENVS
(default 1,000: about 30 s on this 2-core machine)."""
import json
import os
import re
import subprocess
import threading
import time
import urllib.error
import urllib.request

import pytest

from conftest import GALLEY_BIN, c_bootstrap_dir, write_template

pytestmark = pytest.mark.slow  # registered in conftest.py

N = int(os.environ.get("GALLEY_SCALE_ENVS", "1000"))
WARM_BATCH = 100  # the control API's most per request
DEADLINE = 90     # seconds for the whole warm-up


def control(d, method, path, body=None, timeout=60):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(d.url + "/_galley" + path, data=data, method=method,
                                 headers={"X-Galley-Control-Token": d.control_token})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def ps(d):
    out = subprocess.run([GALLEY_BIN, "ps", "--json", "--endpoint", d.url,
                          "--state-dir", str(d.state)],
                         capture_output=True, text=True, timeout=60, check=True).stdout
    doc = json.loads(out)
    return doc["Environments"] if isinstance(doc, dict) else doc


def vm_rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def invoke(d, name, payload=b'{"name": "Ada"}'):
    req = urllib.request.Request(f"{d.url}/2015-03-31/functions/{name}/invocations",
                                 data=payload, method="POST")
    with urllib.request.urlopen(req, timeout=60) as r:
        return r.status, json.loads(r.read()), r.headers.get("X-Galley-Cold-Start")


def test_many_warm_c_environments_then_reset(daemon_factory, tmp_path):
    tpl = write_template(tmp_path, {"Hello": {
        "CodeUri": str(c_bootstrap_dir()), "Handler": "bootstrap", "Runtime": "provided.al2023",
        "FunctionName": "hello", "MemorySize": 128, "Timeout": 10}})
    d = daemon_factory(template=tpl)
    m = re.search(r"descriptor limit (\d+) allows about (\d+) environments", d.daemon_log())
    assert m, d.daemon_log()[-2000:]
    assert int(m.group(2)) >= N
    rss_before = vm_rss_kb(d.proc.pid)

    results, errors = [], []

    def warm(count):
        try:
            results.append(control(d, "POST", "/functions/hello/warm", {"Count": count},
                                   timeout=DEADLINE))
        except Exception as e:  # noqa: BLE001: reported below
            errors.append(repr(e))

    # Two requests at a time: the daemon starts each batch's environments in parallel.
    start = time.monotonic()
    left = N
    while left > 0 and time.monotonic() - start < DEADLINE:
        batch = [min(WARM_BATCH, left)]
        left -= batch[0]
        if left > 0:
            batch.append(min(WARM_BATCH, left))
            left -= batch[1]
        threads = [threading.Thread(target=warm, args=(n,)) for n in batch]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=DEADLINE)
    assert not errors, errors
    assert left == 0, f"warming took over {DEADLINE}s"
    assert all(s == 200 for s, _ in results), results
    failed = sum(out["Failed"] for _, out in results)
    ready = sum(out["Ready"] for _, out in results)
    problems = [ln for ln in d.daemon_log().splitlines() if " INFO " not in ln]
    assert (ready, failed) == (N, 0), (results, problems[-20:])

    envs = [e for e in ps(d) if e["function"] == "hello"]
    assert len(envs) == N
    rss_after = vm_rss_kb(d.proc.pid)
    print(f"\n{N} warm environments: daemon VmRSS {rss_before} -> {rss_after} KiB, "
          f"{(rss_after - rss_before) / N:.1f} KiB per environment")
    # Each Runtime API server held a 64 KiB read buffer of its own before: about 71 KiB each.
    assert (rss_after - rss_before) / N < 64

    # Invokes still work, warm, on the environments already there.
    for _ in range(5):
        status, body, cold = invoke(d, "hello")
        assert status == 200 and body["message"].endswith("Ada!") and cold == "false"

    assert control(d, "POST", "/reset") == (200, {"Reset": True})
    end = time.monotonic() + 60
    while time.monotonic() < end and [e for e in ps(d) if e["function"] == "hello"]:
        time.sleep(0.2)
    assert [e for e in ps(d) if e["function"] == "hello"] == []
    end = time.monotonic() + 30
    while time.monotonic() < end and d.children():
        time.sleep(0.2)
    assert not d.children()
    status, body, cold = invoke(d, "hello")
    assert status == 200 and cold == "true"


def test_many_functions_each_invoked(daemon_factory, tmp_path):
    code = str(c_bootstrap_dir())
    nfn = 200
    tpl = write_template(tmp_path, {
        f"F{i}": {"CodeUri": code, "Handler": "bootstrap", "Runtime": "provided.al2023",
                  "FunctionName": f"f{i}", "Timeout": 10} for i in range(nfn)})
    d = daemon_factory(template=tpl)
    assert "loaded 200 function(s)" in d.daemon_log()
    c = d.client()
    # A reservation on a few of them (entries made through the hash) is honoured.
    for i in (0, 77, 199):
        c.put_function_concurrency(FunctionName=f"f{i}", ReservedConcurrentExecutions=2)
    for i in (0, 77, 199):
        assert c.get_function_concurrency(FunctionName=f"f{i}")["ReservedConcurrentExecutions"] == 2
    for i in range(0, nfn, 9):
        status, body, _ = invoke(d, f"f{i}")
        assert status == 200 and body["invocations"] == 1
    c.put_function_concurrency(FunctionName="f150", ReservedConcurrentExecutions=0)
    with pytest.raises(urllib.error.HTTPError) as e:
        invoke(d, "f150")
    assert e.value.code == 429
    assert json.loads(e.value.read())["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
