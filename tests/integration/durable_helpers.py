# SPDX-License-Identifier: MIT
"""Shared by the durable execution tests: the real @aws/durable-execution-sdk-js from npm
(installed once under the build dir, the test skipped with the reason when npm cannot get it),
a nodejs22.x function bundling it, and the count of each step body's runs, read from the
function's log lines (a step body logs "STEP-RUN <name>"; /tmp is per environment)."""
import fcntl
import io
import os
import pathlib
import re
import shutil
import subprocess
import tempfile
import zipfile

import pytest

from conftest import BUILD
from helpers import current_boto3_python

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
SDK_DIR = BUILD / "durable-sdk"
PYTHON = current_boto3_python("checkpoint_durable_execution")

# One function, several workflows picked by event.mode.
FUNCTION_JS = r"""
const { withDurableExecution } = require('@aws/durable-execution-sdk-js');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
exports.handler = withDurableExecution(async (event, context) => {
  if (event.mode === 'steps') {
    let sum = 0;
    for (let i = 0; i < event.n; i++) {
      sum += await context.step(`s${i}`, async () => {
        if (event.slow) await sleep(event.slow);
        console.log(`STEP-RUN s${i}`); // last: a body cut short by a crash logs nothing
        return i * 2;
      });
    }
    if (event.wait) await context.wait('w', { seconds: event.wait }); // then a replay of them all
    return { sum };
  }
  if (event.mode === 'retry') {
    return await context.step('flaky', async (ctx) => {
      console.log(`STEP-RUN flaky`);
      if (ctx.attempt < 3) throw new Error(`boom ${ctx.attempt}`);
      return `ok after ${ctx.attempt}`;
    }, { retryStrategy: (err, attempt) => ({ shouldRetry: attempt < 5, delay: { seconds: 30 } }) });
  }
  if (event.mode === 'wait') {
    const a = await context.step('before', async () => { console.log('STEP-RUN before'); return 1; });
    await context.wait('sleep', { days: event.days || 1 });
    const b = await context.step('after', async () => { console.log('STEP-RUN after'); return 2; });
    return a + b;
  }
  if (event.mode === 'callback') {
    const v = await context.waitForCallback('approve', async (callbackId) => {
      console.log(`CALLBACK-ID ${callbackId}`);
    }, { timeout: { seconds: event.timeout || 3600 },
         heartbeatTimeout: event.heartbeat ? { seconds: event.heartbeat } : undefined });
    return { approved: v };
  }
  if (event.mode === 'stepswait') { // bench/durable.py: n steps, then a wait to replay them
    let sum = 0;
    for (let i = 0; i < event.n; i++) sum += await context.step(`s${i}`, async () => i);
    await context.wait('w', { days: 1 });
    return { sum };
  }
  if (event.mode === 'parallel') {
    const p = await context.parallel('branches', [
      async (ctx) => ctx.step('a', async () => { console.log('STEP-RUN a'); return 1; }),
      async (ctx) => ctx.step('b', async () => { console.log('STEP-RUN b'); return 2; }),
    ]);
    const m = await context.map('items', [3, 4, 5], async (ctx, item) =>
      ctx.step(`m${item}`, async () => { console.log(`STEP-RUN m${item}`); return item * 10; }));
    await context.wait('pause', { seconds: 2 }); // a replay after both, from their checkpoints
    return { parallel: p.getResults(), map: m.getResults() };
  }
  if (event.mode === 'big') { // a large step result that every later checkpoint carries
    const blob = await context.step('blob', async () => 'x'.repeat(event.kb * 1024));
    let sum = 0;
    for (let i = 0; i < event.n; i++) {
      sum += await context.step(`b${i}`, async () => { console.log(`STEP-RUN b${i}`); return i; });
    }
    await context.wait('rest', { days: 1 });
    const after = await context.step('after', async () => {
      console.log('STEP-RUN after');
      return blob.length;
    });
    return { sum, after };
  }
  if (event.requestContext) { // a Function URL's or an HTTP API's payload 2.0 event
    const path = await context.step('web', async () => {
      console.log('STEP-RUN web');
      return event.rawPath;
    });
    await context.wait('w', { seconds: 1 }); // answered from a later invocation
    return { statusCode: 201, body: JSON.stringify({ path }) };
  }
  if (event.mode === 'chain') {
    const got = await context.invoke('call', event.target, { x: 2 });
    console.log('STEP-RUN after-chain');
    return { got };
  }
  throw new Error(`bad mode ${event.mode}`);
});
"""


def sdk_modules():
    """node_modules holding the durable SDK (npm install once, cached under the build dir).
    ctest runs test files in parallel: the install holds a lock and goes to a fresh directory
    renamed into place, so no test sees (or makes) a half-installed SDK."""
    mods = SDK_DIR / "node_modules"
    marker = mods / "@aws" / "durable-execution-sdk-js" / "package.json"
    if marker.exists():
        return mods
    npm = shutil.which("npm")
    if not npm:
        pytest.skip("npm is not installed: cannot get @aws/durable-execution-sdk-js")
    BUILD.mkdir(parents=True, exist_ok=True)
    with open(BUILD / "durable-sdk.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # bounded: the holder's npm has a timeout
        if marker.exists():
            return mods
        fresh = pathlib.Path(tempfile.mkdtemp(dir=BUILD, prefix="durable-sdk-"))
        try:
            res = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--prefix",
                                  str(fresh), "@aws/durable-execution-sdk-js@2"],
                                 capture_output=True, text=True, timeout=300)
        except subprocess.TimeoutExpired:
            shutil.rmtree(fresh, ignore_errors=True)
            pytest.skip("npm install @aws/durable-execution-sdk-js timed out "
                        "(registry unreachable?)")
        if res.returncode != 0:
            shutil.rmtree(fresh, ignore_errors=True)
            pytest.skip(f"npm install @aws/durable-execution-sdk-js failed: {res.stderr[-300:]}")
        shutil.rmtree(SDK_DIR, ignore_errors=True)  # a half install left by an older run
        os.rename(fresh, SDK_DIR)
    return mods


_ZIP = {}


def function_zip():
    """index.js and the SDK's node_modules (no source maps or type files), built once."""
    if "zip" in _ZIP:
        return _ZIP["zip"]
    mods = sdk_modules()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("index.js", FUNCTION_JS)
        for root, dirs, files in os.walk(mods):
            dirs[:] = [d for d in dirs if d not in ("dist-types", "dist-es")]
            for f in files:
                if f.endswith((".map", ".d.ts", ".md")):
                    continue
                p = pathlib.Path(root) / f
                z.write(p, "node_modules/" + str(p.relative_to(mods)))
    _ZIP["zip"] = buf.getvalue()
    return _ZIP["zip"]


def create_durable(d, tmp_path, name, timeout=30, execution_timeout=3600, publish=True,
                   retention_days=14):
    """Create the durable function through a current boto3 and publish version 1."""
    from helpers import run_boto3_script
    zpath = tmp_path / f"{name}.zip"
    zpath.write_bytes(function_zip())
    return run_boto3_script(PYTHON, d.url, f"""
        c.create_function(FunctionName={name!r}, Runtime="nodejs22.x", Handler="index.handler",
                          Role={ROLE!r}, Timeout={timeout}, MemorySize=512,
                          Code={{"ZipFile": open({str(zpath)!r}, "rb").read()}},
                          DurableConfig={{"ExecutionTimeout": {execution_timeout},
                                          "RetentionPeriodInDays": {retention_days}}})
        if {publish!r}:
            out["version"] = c.publish_version(FunctionName={name!r})["Version"]
    """, timeout=180)


def step_runs(state, fn):
    """How many times each step body ran: {name: count}, from the function's log files."""
    counts = {}
    root = pathlib.Path(state) / "logs" / "aws" / "lambda" / fn
    for p in root.rglob("*") if root.exists() else []:
        if p.is_file():
            for m in re.finditer(r"STEP-RUN (\S+)", p.read_text(errors="replace")):
                counts[m.group(1)] = counts.get(m.group(1), 0) + 1
    return counts


def logged(state, fn, tag):
    """Every "<tag> <word>" the function logged, in file order."""
    root = pathlib.Path(state) / "logs" / "aws" / "lambda" / fn
    found = []
    for p in sorted(root.rglob("*")) if root.exists() else []:
        if p.is_file():
            found += re.findall(tag + r" (\S+)", p.read_text(errors="replace"))
    return found


def callback_ids(state, fn):
    return logged(state, fn, "CALLBACK-ID")
