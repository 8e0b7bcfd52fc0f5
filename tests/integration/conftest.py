# SPDX-License-Identifier: MIT
"""Integration test harness: starts the real galley daemon on a free loopback port with a
temporary state dir, and hands tests boto3 and AWS CLI v2 clients pointed at it.

Every daemon a test starts is stopped by its own pid (SIGTERM, then SIGKILL after a bound),
and each test can check that no process it started is left behind."""
import base64
import io
import json
import os
import pathlib
import select
import shutil
import signal
import subprocess
import time
import zipfile

import boto3
import pytest
from botocore.config import Config

ROOT = pathlib.Path(os.environ.get("GALLEY_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
BUILD = pathlib.Path(os.environ.get("GALLEY_BUILD_DIR", ROOT / "build"))
GALLEY_BIN = os.environ.get("GALLEY_BIN", str(BUILD / "galley"))
FIXTURES = ROOT / "tests" / "fixtures" / "functions"
AWS_CLI = "/usr/bin/aws"
START_TIMEOUT = 30
STOP_TIMEOUT = 30

AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_PAGER": "",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
}


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: long-running scale tests (still run by ctest)")


def descendants(pid):
    """Every live process whose ancestry reaches pid (by /proc), pid itself excluded."""
    parents = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if fields[0] == "Z":
                continue
            parents[int(entry)] = int(fields[1])
        except (OSError, IndexError, ValueError):
            continue
    found, frontier = set(), {pid}
    while frontier:
        nxt = {p for p, pp in parents.items() if pp in frontier and p not in found}
        found |= nxt
        frontier = nxt
    return found


class Daemon:
    def __init__(self, tmp_path, template=None, extra_args=(), state_dir=None):
        self.tmp = pathlib.Path(tmp_path)
        self.state = pathlib.Path(state_dir) if state_dir else self.tmp / "state"
        self.template = template
        self.extra_args = list(extra_args)
        self.proc = None
        self.port = None
        self.log_path = self.tmp / f"galley-{int(time.time() * 1000)}.log"

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        args = [GALLEY_BIN, "serve", "--listen", "127.0.0.1:0", "--state-dir", str(self.state)]
        if self.template:
            args += ["--template", str(self.template)]
        args += self.extra_args
        env = dict(os.environ, **AWS_ENV)
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log, env=env,
                                     cwd=str(self.tmp))
        deadline = time.monotonic() + START_TIMEOUT
        line = b""
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if ready:
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                line += chunk
                if b"\n" in line:
                    break
            if self.proc.poll() is not None:
                break
        text = line.decode(errors="replace")
        if "listening on http://" not in text:
            self.stop()
            raise RuntimeError(f"galley did not start: {text!r}\n{self.daemon_log()}")
        self.port = int(text.split("listening on http://", 1)[1].split(":")[1].split()[0])
        return self

    @property
    def control_token(self):
        """The token /_galley requests must carry (X-Galley-Control-Token), as the daemon
        wrote it at start to <state>/run/control-token."""
        return (self.state / "run" / "control-token").read_text().strip()

    def daemon_log(self):
        try:
            return self.log_path.read_text()
        except OSError:
            return ""

    def stop(self, sig=signal.SIGTERM):
        """Stop the daemon by its pid; returns its exit code."""
        if not self.proc:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.proc.stdout:
            self.proc.stdout.close()
        self.log.close()
        return self.proc.returncode

    def children(self):
        return descendants(self.proc.pid) if self.proc and self.proc.poll() is None else set()

    def environments(self):
        """GET /_galley/environments: {"Environments": [...], "Spares": [...], ...}."""
        import urllib.request
        req = urllib.request.Request(self.url + "/_galley/environments",
                                     headers={"X-Galley-Control-Token": self.control_token})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.load(r)

    def spare_pids(self):
        """Pids of the daemon's spares: pre-started interpreters no function has taken yet,
        which live as long as the daemon (src/scheduler/spares.c)."""
        return {s["pid"] for s in self.environments()["Spares"]}

    def client(self, read_timeout=120):
        return boto3.client(
            "lambda", endpoint_url=self.url, region_name="us-east-1",
            aws_access_key_id="testing", aws_secret_access_key="testing",
            # total_max_attempts: botocore reads a bare max_attempts as retries after the first
            config=Config(retries={"total_max_attempts": 1, "mode": "standard"},
                          read_timeout=read_timeout, connect_timeout=10))

    def cli(self, *args, check=True, timeout=120):
        """Run AWS CLI v2 against the daemon; returns CompletedProcess with text output."""
        env = dict(os.environ, **AWS_ENV)
        cmd = [AWS_CLI, "--endpoint-url", self.url, "--cli-read-timeout", "120", "lambda", *args]
        res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout,
                             cwd=str(self.tmp))
        if check and res.returncode != 0:
            raise AssertionError(f"aws {' '.join(args)} failed ({res.returncode}): {res.stderr}")
        return res


def zip_dir(path):
    """A zip of a directory's files, with their modes kept (as `zip -r` would)."""
    buf = io.BytesIO()
    path = pathlib.Path(path)
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for f in sorted(path.rglob("*")):
            if f.is_file():
                info = zipfile.ZipInfo(str(f.relative_to(path)))
                info.external_attr = (f.stat().st_mode & 0o777 | 0o100000) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                z.writestr(info, f.read_bytes())
    return buf.getvalue()


def zip_files(files):
    """A zip from {name: text or bytes or (bytes, mode)}."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in files.items():
            mode = 0o644
            if isinstance(content, tuple):
                content, mode = content
            info = zipfile.ZipInfo(name)
            info.external_attr = (mode | 0o100000) << 16
            z.writestr(info, content if isinstance(content, bytes) else content.encode())
    return buf.getvalue()


def c_bootstrap_dir():
    """Directory holding the C example's built bootstrap (a provided.al2023 function)."""
    d = BUILD / "examples" / "hello-c"
    if not (d / "bootstrap").exists():
        pytest.fail(f"{d}/bootstrap is not built")
    return d


def write_template(tmp_path, functions, globals_=None):
    """Write a SAM template; functions maps logical id -> properties."""
    lines = ["AWSTemplateFormatVersion: '2010-09-09'",
             "Transform: AWS::Serverless-2016-10-31"]
    if globals_:
        lines.append("Globals:")
        lines.append("  Function:")
        for k, v in globals_.items():
            lines.append(f"    {k}: {json.dumps(v)}")
    lines.append("Resources:")
    for lid, props in functions.items():
        lines.append(f"  {lid}:")
        lines.append("    Type: AWS::Serverless::Function")
        lines.append("    Properties:")
        for k, v in props.items():
            lines.append(f"      {k}: {json.dumps(v)}")
    p = pathlib.Path(tmp_path) / "template.yaml"
    p.write_text("\n".join(lines) + "\n")
    return p


def decode_tail(resp):
    return base64.b64decode(resp["LogResult"]).decode()


@pytest.fixture
def daemon_factory(tmp_path):
    started = []

    def make(template=None, extra_args=(), state_dir=None, start=True):
        d = Daemon(tmp_path, template=template, extra_args=extra_args, state_dir=state_dir)
        started.append(d)
        return d.start() if start else d

    yield make
    problems = []
    for d in started:
        killed = d.proc is not None and d.proc.returncode == -signal.SIGKILL
        rc = d.stop()
        log = d.daemon_log()
        # A sanitizer build reports leaks and undefined behaviour in the daemon's stderr and
        # exit code: every test fails on them, not only the ones that check.
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
            if marker in log:
                problems.append(f"{marker} in galley's log:\n{log[-4000:]}")
        if not killed and rc != 0:
            problems.append(f"galley exited with {rc}:\n{log[-2000:]}")
    assert not problems, "\n".join(problems)
