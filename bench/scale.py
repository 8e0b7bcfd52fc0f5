# SPDX-License-Identifier: MIT
"""bench/scale.py: the cases of bench/run for issue 14's items 2 and 4, each beside a baseline
measured in the same run:

- floor: build/bench/galley-floor (bench/floor.c, a fixed-200 keep-alive responder) loaded by
  galley-bench like galley itself; galley's warm C c=1 p50 and c=16 throughput as ratios to it;
- start-to-ready: `galley serve` with a template of 1 and of N C functions (default 200), from
  the exec to the "galley listening" line, median of several starts;
- many functions: warm C c=1 p50 on a daemon with 1 function and on one with N (default 500)
  functions, each invoked once first (so each has its pool, usage entry and metrics series);
- memory: the daemon's VmRSS before and after warming N C environments (default 1,000) through
  the control API, per environment, with the descriptors it then holds.

Every daemon listens on 127.0.0.1:0 with its own temp state dir and is stopped by pid."""
import concurrent.futures
import json
import os
import select
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
import urllib.request

READY = b"galley listening on http://"


def c_template(path, code, n):
    lines = ["AWSTemplateFormatVersion: '2010-09-09'", "Transform: AWS::Serverless-2016-10-31",
             "Resources:"]
    for i in range(n):
        lines += [f"  Fn{i}:", "    Type: AWS::Serverless::Function", "    Properties:",
                  "      Runtime: provided.al2023", "      Handler: bootstrap",
                  f"      CodeUri: {json.dumps(code)}", "      Timeout: 10", "      MemorySize: 128"]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


class Serve:
    """galley serve on an ephemeral port; .ready_ms is exec to the listening line."""

    def __init__(self, galley, template, tmp, extra=(), timeout=60):
        self.state = tempfile.mkdtemp(prefix="state-", dir=tmp)
        self.err = open(os.path.join(self.state, "..", os.path.basename(self.state) + ".log"), "w")
        t0 = time.monotonic()
        self.proc = subprocess.Popen([galley, "serve", "--listen", "127.0.0.1:0", "--state-dir",
                                      self.state, "--template", template, *extra],
                                     stdout=subprocess.PIPE, stderr=self.err,
                                     stdin=subprocess.DEVNULL)
        line, end = b"", t0 + timeout
        while READY not in line or not line.endswith(b"\n"):
            left = end - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError(f"galley serve was not ready: {line!r}")
            if select.select([self.proc.stdout], [], [], min(left, 0.5))[0]:
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                line += chunk
        self.ready_ms = (time.monotonic() - t0) * 1000.0
        self.port = int(line.split(READY, 1)[1].split(b":")[1].split()[0].rstrip(b"/"))

    def control(self, method, path, body=None, timeout=120):
        with open(os.path.join(self.state, "run", "control-token")) as f:
            token = f.read().strip()
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/_galley{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"X-Galley-Control-Token": token})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.loads(r.read() or b"null")

    def invoke(self, name):
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/2015-03-31/functions/{name}/invocations",
            data=b'{"name":"bench"}', method="POST")
        with urllib.request.urlopen(req, timeout=60) as r:
            r.read()
            return r.status

    def rss_kb(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def fds(self):
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        self.proc.stdout.close()
        self.err.close()


def bench_reps(run_bench, port, name, c, args):
    if args.warmup > 0:
        run_bench(port, name, c, args.warmup)
    reps = [run_bench(port, name, c, args.duration) for _ in range(args.reps)]
    return {"rps": statistics.median(r["rps"] for r in reps),
            "p50_ms": statistics.median(r["p50_ms"] for r in reps),
            "errors": sum(r["errors"] for r in reps)}


def floor_case(args, run_bench, log):
    exe = os.path.join(args.build_dir, "bench", "galley-floor")
    proc = subprocess.Popen([exe], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        if not select.select([proc.stdout], [], [], 10)[0]:
            raise RuntimeError("galley-floor did not start")
        port = int(proc.stdout.readline().decode().rsplit(":", 1)[1])
        out = {c: bench_reps(run_bench, port, "floor", c, args) for c in args.concurrency}
        for c, r in out.items():
            log(f"floor c={c}: {r['rps']:.0f} req/s, p50 {r['p50_ms']:.3f} ms")
        return out
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        proc.stdout.close()


def startup_case(args, galley, code, tmp, log):
    out = {}
    for n in (1, args.template_functions):
        tpl = os.path.join(tmp, f"start-{n}.yaml")
        c_template(tpl, code, n)
        samples = []
        for _ in range(args.start_reps):
            s = Serve(galley, tpl, tmp, args.serve_extra)
            samples.append(s.ready_ms)
            s.stop()
        out[n] = statistics.median(samples)
        log(f"start-to-ready with {n} function(s): {out[n]:.1f} ms (median of {len(samples)})")
    return out


def functions_case(args, galley, code, tmp, run_bench, log):
    out = {}
    for n in (1, args.scale_functions):
        tpl = os.path.join(tmp, f"fns-{n}.yaml")
        c_template(tpl, code, n)
        s = Serve(galley, tpl, tmp, args.serve_extra)
        try:
            with concurrent.futures.ThreadPoolExecutor(8) as ex:
                bad = [st for st in ex.map(s.invoke, [f"Fn{i}" for i in range(n)]) if st != 200]
            if bad:
                raise RuntimeError(f"{len(bad)} first invokes failed")
            out[n] = bench_reps(run_bench, s.port, f"Fn{n // 2}", 1, args)
        finally:
            s.stop()
        log(f"warm c=1 with {n} function(s): p50 {out[n]['p50_ms']:.3f} ms")
    return out


def memory_case(args, galley, code, tmp, log):
    tpl = os.path.join(tmp, "mem.yaml")
    c_template(tpl, code, 1)
    s = Serve(galley, tpl, tmp, args.serve_extra)
    try:
        s.invoke("Fn0")
        before, fds_before = s.rss_kb(), s.fds()
        ready = failed = 0
        t0 = time.monotonic()
        left = args.scale_envs
        while left > 0:
            r = s.control("POST", "/functions/Fn0/warm", {"Count": min(100, left)})
            ready, failed, left = ready + r["Ready"], failed + r["Failed"], left - min(100, left)
        warm_s = time.monotonic() - t0
        after, fds_after = s.rss_kb(), s.fds()
        s.control("POST", "/reset")
    finally:
        s.stop()
    per = (after - before) / max(ready, 1)
    log(f"{ready} warm environments ({failed} failed) in {warm_s:.1f} s: VmRSS {before} -> "
        f"{after} KiB, {per:.1f} KiB each")
    return {"ready": ready, "failed": failed, "before_kb": before, "after_kb": after,
            "per_env_kb": per, "fds_before": fds_before, "fds_after": fds_after, "warm_s": warm_s}


def run(args, galley, run_bench, log):
    # The interpreters named, as bench/run's daemon does: looking for them costs seconds.
    extra = []
    if getattr(args, "python", None):
        extra += ["--python", args.python]
    if getattr(args, "node", None):
        extra += ["--node", args.node]
    args.serve_extra = extra
    code = os.path.join(args.build_dir, "examples", "hello-c")
    tmp = tempfile.mkdtemp(prefix="galley-bench-scale-")
    try:
        return {"floor": floor_case(args, run_bench, log),
                "start": startup_case(args, galley, code, tmp, log),
                "functions": functions_case(args, galley, code, tmp, run_bench, log),
                "memory": memory_case(args, galley, code, tmp, log)}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def ratio(a, b):
    return f"{a / b:.2f}x" if a is not None and b else "n/a"


def report(args, res, warm_c):
    """The Markdown section; warm_c is bench/run's C results by concurrency (or None)."""
    fl, st, fn, mem = res["floor"], res["start"], res["functions"], res["memory"]
    rows = ["| Figure | galley | baseline (same run) | ratio | goal |", "|---|---|---|---|---|"]
    c1 = warm_c.get(1) if warm_c else None
    c16 = warm_c.get(16) if warm_c else None
    if c1 and 1 in fl:
        rows.append(f"| warm C c=1 p50 | {c1['p50_ms']:.3f} ms | floor {fl[1]['p50_ms']:.3f} ms "
                    f"| {ratio(c1['p50_ms'], fl[1]['p50_ms'])} | at most 2x |")
    if c16 and 16 in fl:
        rows.append(f"| warm C c=16 throughput | {c16['rps']:.0f} req/s | floor {fl[16]['rps']:.0f} "
                    f"req/s | {100 * c16['rps'] / fl[16]['rps']:.1f}% | at least 35% |")
    n, big = 1, args.template_functions
    rows.append(f"| start-to-ready, {big} template functions | {st[big]:.1f} ms | 1 function "
                f"{st[n]:.1f} ms | {ratio(st[big], st[n])} | under 20 ms |")
    big = args.scale_functions
    rows.append(f"| warm C c=1 p50, {big} functions | {fn[big]['p50_ms']:.3f} ms | 1 function "
                f"{fn[1]['p50_ms']:.3f} ms | {ratio(fn[big]['p50_ms'], fn[1]['p50_ms'])} "
                "| within 1.10x |")
    rows.append(f"| daemon memory per idle environment, {mem['ready']} warm | "
                f"{mem['per_env_kb']:.1f} KiB | daemon before warming {mem['before_kb']} KiB | "
                f"{mem['after_kb'] / max(mem['before_kb'], 1):.1f}x total | under 64 KiB each |")
    return f"""
## Scale and the loopback floor

The loopback floor is `build/bench/galley-floor` ([bench/floor.c](../bench/floor.c)): one
thread, epoll, a fixed `200` with a 2-byte body per request, sent once the whole request (head
and body) has been read, loaded by the same galley-bench, which sends each request only after
the whole previous reply: one HTTP exchange per request, as against galley.
Warming: {mem['ready']} C environments ({mem['failed']} failed) through
`POST /_galley/functions/F/warm` in batches of 100 took {mem['warm_s']:.1f} s; the daemon then
held {mem['fds_after']} descriptors ({mem['fds_before']} before).

{chr(10).join(rows)}
"""
