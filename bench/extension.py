#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""bench/extension.py: what one external extension costs a function, measured in one run beside
the same function without it. One daemon serves two copies of the C example (provided.al2023,
hello-c's bootstrap): Plain, and WithExt, whose layer holds build/bench/galley-ext-loop in
extensions/ (bench/ext-loop.c: registers for INVOKE and SHUTDOWN and calls next in a loop on one
keep-alive connection, the least an extension can do). For each:

- warm invoke latency: galley-bench at concurrency 1 (after a warm-up), p50 and p99 and req/s,
  the median of --reps runs; with the extension every invoke also waits for its next call
  (END/REPORT and the next invoke wait for it);
- cold start: POST /_galley/functions/F/cold (the idle environment stops), then one timed
  invoke; the median of --cold samples. With the extension, init also waits for it to register
  and call next.

It writes the "## One external extension" section of docs/performance.md (replacing the old
one; bench/run keeps it when it rewrites the file), or prints it with --no-write. It talks to
127.0.0.1 only, stops its daemon by pid, and every wait is bounded."""
import argparse
import datetime
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import scale  # noqa: E402: bench/scale.py's Serve (a daemon on an ephemeral port)

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEADING = "## One external extension"


def template(path, code, layer):
    fn = ["    Type: AWS::Serverless::Function", "    Properties:",
          "      Runtime: provided.al2023", "      Handler: bootstrap",
          f"      CodeUri: {json.dumps(code)}", "      Timeout: 10", "      MemorySize: 128"]
    lines = ["AWSTemplateFormatVersion: '2010-09-09'", "Transform: AWS::Serverless-2016-10-31",
             "Resources:", "  ExtLayer:", "    Type: AWS::Serverless::LayerVersion",
             "    Properties:", f"      ContentUri: {json.dumps(layer)}",
             "  Plain:", *fn, "  WithExt:", *fn, "      Layers: [!Ref ExtLayer]"]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def bench_c1(bench, port, name, duration):
    cmd = [bench, "--target", f"127.0.0.1:{port}", "--function", name, "--concurrency", "1",
           "--duration", str(duration)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 120)
    try:
        return json.loads(p.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        sys.exit(f"bench/extension.py: galley-bench printed no JSON: {p.stderr.strip()}")


def measure(args, d, bench, names):
    """Both functions, their runs interleaved so that the machine's load falls on each alike."""
    reps, cold = {n: [] for n in names}, {n: [] for n in names}
    for name in names:
        if d.invoke(name) != 200:
            sys.exit(f"bench/extension.py: a test invoke of {name} failed")
        bench_c1(bench, d.port, name, args.warmup)
    for _ in range(args.reps):
        for name in names:
            reps[name].append(bench_c1(bench, d.port, name, args.duration))
    for _ in range(args.cold):
        for name in names:
            d.control("POST", f"/functions/{name}/cold")
            t0 = time.monotonic()
            if d.invoke(name) != 200:
                sys.exit(f"bench/extension.py: a cold invoke of {name} failed")
            cold[name].append((time.monotonic() - t0) * 1000.0)
    return {n: {"rps": statistics.median(r["rps"] for r in reps[n]),
                "p50": statistics.median(r["p50_ms"] for r in reps[n]),
                "p99": statistics.median(r["p99_ms"] for r in reps[n]),
                "errors": sum(r["errors"] for r in reps[n]), "cold": statistics.median(cold[n]),
                "cold_min": min(cold[n]), "cold_max": max(cold[n])} for n in names}


def extension_ran(state):
    """The extension registered in WithExt's environments (its log stream says so)."""
    root = os.path.join(state, "logs", "aws", "lambda", "WithExt")
    for dirpath, _, files in os.walk(root):
        for f in files:
            with open(os.path.join(dirpath, f), errors="replace") as fh:
                if "EXTENSION\tName: ext-loop\tState: Ready" in fh.read():
                    return True
    return False


def report(res, commit, load):
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    p, e = res["Plain"], res["WithExt"]
    rows = [f"| {label} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {r['cold']:.1f} | "
            f"{r['cold_min']:.1f}–{r['cold_max']:.1f} |"
            for label, r in (("C, no extension", p), ("C, one external extension", e))]
    return "\n".join([
        HEADING, "",
        f"`bench/extension.py`, {now} at commit `{commit}` (load average before: {load}). The C "
        "example with and without a layer holding `galley-ext-loop` ([bench/ext-loop.c](../bench/"
        "ext-loop.c): registers for INVOKE and SHUTDOWN, then calls next in a loop), on one "
        "daemon, in the same run; warm at concurrency 1, cold = `/_galley/functions/F/cold` then "
        "one invoke.", "",
        "| Function | c=1 req/s | c=1 p50 ms | c=1 p99 ms | cold start ms (median) | cold min–max ms |",
        "|---|---|---|---|---|---|", *rows, "",
        f"With the extension: warm p50 {e['p50'] - p['p50']:+.2f} ms, p99 "
        f"{e['p99'] - p['p99']:+.2f} ms, cold start {e['cold'] - p['cold']:+.1f} ms (median). "
        "The caller's answer leaves when the runtime posts it, before END/REPORT are written and "
        "before the extension's next call, so a warm invoke's latency includes little of the "
        "extension: what it adds per invoke is the INVOKE delivery and its next call, during which "
        "the environment is not taken for the next invoke and not frozen (a next request that "
        "comes within that time skips the thaw the plain function pays). A cold start adds the "
        "launcher shell, the extension's exec, its registration and its first next call, which "
        "init waits for. "
        f"Errors during the measured runs: {p['errors'] + e['errors']}.", "", ""])


def write_section(path, text):
    try:
        with open(path) as f:
            old = f.read()
    except OSError:
        old = ""
    m = re.search(r"^" + re.escape(HEADING) + r"\n.*?(?=^## |\Z)", old, re.S | re.M)
    if m:
        new = old[:m.start()] + text + old[m.end():]
    elif "## Method\n" in old:
        new = old.replace("## Method\n", text + "## Method\n", 1)
    else:
        new = old + "\n" + text
    with open(path, "w") as f:
        f.write(new)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--build-dir", default=os.path.join(REPO, "build"))
    p.add_argument("--duration", type=float, default=3.0)
    p.add_argument("--warmup", type=float, default=1.0)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--cold", type=int, default=7)
    p.add_argument("--out", default=os.path.join(REPO, "docs", "performance.md"))
    p.add_argument("--no-write", action="store_true")
    args = p.parse_args()
    galley = os.path.join(args.build_dir, "galley")
    bench = os.path.join(args.build_dir, "bench", "galley-bench")
    ext = os.path.join(args.build_dir, "bench", "galley-ext-loop")
    code = os.path.join(args.build_dir, "examples", "hello-c")
    for path in (galley, bench, ext, os.path.join(code, "bootstrap")):
        if not os.access(path, os.X_OK):
            sys.exit(f"bench/extension.py: {path} is missing: build first")
    load = " ".join(open("/proc/loadavg").read().split()[:3])
    commit = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    tmp = tempfile.mkdtemp(prefix="galley-bench-ext-")
    d = None
    try:
        layer = os.path.join(tmp, "layer")
        os.makedirs(os.path.join(layer, "extensions"))
        shutil.copy2(ext, os.path.join(layer, "extensions", "ext-loop"))
        tpl = os.path.join(tmp, "template.yaml")
        template(tpl, code, layer)
        d = scale.Serve(galley, tpl, tmp)
        res = measure(args, d, bench, ("Plain", "WithExt"))
        print(f"bench/extension.py: {res}", file=sys.stderr)
        if not extension_ran(d.state):
            sys.exit("bench/extension.py: the extension did not run in WithExt's environments")
    finally:
        if d is not None:
            d.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    text = report(res, commit, load)
    print(text)
    if not args.no_write:
        write_section(args.out, text)
        print(f"bench/extension.py: wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
