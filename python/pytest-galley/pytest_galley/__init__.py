# SPDX-License-Identifier: MIT
"""pytest-galley: run galley, the local Lambda daemon, for a pytest session.

Fixtures:
  galley         (session) a daemon on a free loopback port with a temporary state dir, serving
                 the project's template.yaml (or the galley_template ini option) when there is
                 one; GALLEY_ENDPOINT and AWS_ENDPOINT_URL_LAMBDA point at it for the session.
  lambda_client  a boto3 Lambda client pointed at it, making one attempt per call.
Between tests that use the daemon it is reset (every environment stopped, faults and idle
timeouts cleared: POST /_galley/reset), so each test starts cold unless it says otherwise:
  @pytest.mark.warm("Fn", count=2)  COUNT environments of Fn initialized before the test
  @pytest.mark.cold("Fn")           Fn's next invoke is a cold start (with galley_reset off)
ini options: galley_bin, galley_template, galley_args, galley_reset, galley_start_timeout;
command line: --galley-bin, --galley-template.
"""
import json
import os
import pathlib
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

# The control token another part of galley may require on /_galley (read when present).
CONTROL_TOKEN_FILE = pathlib.Path("run") / "control-token"
CONTROL_TOKEN_HEADER = "X-Galley-Control-Token"
REQUEST_TIMEOUT = 600  # warming waits for every environment's init


class GalleyError(RuntimeError):
    """The daemon did not start, or answered a control request with an error."""


class Galley:
    """One running `galley serve`, started by start() and stopped by stop() (by its pid)."""

    def __init__(self, binary, state_dir, template=None, args=(), start_timeout=60.0):
        self.binary = binary
        self.state_dir = pathlib.Path(state_dir)
        self.template = template
        self.args = list(args)
        self.start_timeout = start_timeout
        self.endpoint = None
        self.proc = None
        self.log_path = self.state_dir.parent / "galley.log"
        self._drain = None

    def start(self):
        cmd = [self.binary, "serve", "--listen", "127.0.0.1:0", "--state-dir", str(self.state_dir)]
        if self.template:
            cmd += ["--template", str(self.template)]
        cmd += self.args
        log = open(self.log_path, "wb")
        cwd = pathlib.Path(self.template).parent if self.template else self.state_dir.parent
        try:
            self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, cwd=str(cwd))
        except OSError as e:
            raise GalleyError(f"cannot run galley ({self.binary}): {e.strerror}") from None
        finally:
            log.close()
        line = self._read_listening_line()
        if "galley listening on " not in line:
            self.stop()
            raise GalleyError(f"galley did not start ({' '.join(cmd)}): {line!r}\n"
                              f"{self.log()[-4000:]}")
        self.endpoint = line.split("galley listening on ", 1)[1].strip()
        # Whatever else reaches stdout goes to the log, so the pipe never fills.
        self._drain = threading.Thread(target=self._drain_stdout, daemon=True)
        self._drain.start()
        return self

    def _read_listening_line(self):
        deadline = time.monotonic() + self.start_timeout
        buf = b""
        fd = self.proc.stdout.fileno()
        while b"\n" not in buf and time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if ready:
                chunk = os.read(fd, 4096)
                if not chunk:
                    break
                buf += chunk
            elif self.proc.poll() is not None:
                break
        return buf.decode(errors="replace")

    def _drain_stdout(self):
        with open(self.log_path, "ab") as log:
            for chunk in iter(lambda: self.proc.stdout.read1(4096), b""):
                log.write(chunk)

    def log(self):
        """The daemon's own log so far (its stderr)."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout=30):
        """SIGTERM, then SIGKILL after timeout seconds; returns the exit code."""
        if not self.proc:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self._drain:
            self._drain.join(timeout=10)
        self.proc.stdout.close()
        return self.proc.returncode

    def request(self, method, path, body=None):
        """One request to galley's own API; returns the decoded JSON answer."""
        headers = {"Content-Type": "application/json"}
        token = self.state_dir / CONTROL_TOKEN_FILE
        if token.exists():
            headers[CONTROL_TOKEN_HEADER] = token.read_text().strip()
        data = json.dumps(body).encode() if body is not None else b""
        req = urllib.request.Request(self.endpoint + path, data=data, method=method,
                                     headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=REQUEST_TIMEOUT) as resp:
                return json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as e:
            raise GalleyError(f"{method} {path}: HTTP {e.code}: {e.read().decode(errors='replace')}")

    def _function_path(self, function, control, qualifier):
        path = f"/_galley/functions/{urllib.parse.quote(function, safe='')}/{control}"
        return path + (f"?Qualifier={urllib.parse.quote(qualifier)}" if qualifier else "")

    def reset(self):
        """Every environment stopped, faults and idle timeout overrides cleared."""
        return self.request("POST", "/_galley/reset")

    def cold(self, function, qualifier=None):
        """The function's next invoke is a cold start."""
        return self.request("POST", self._function_path(function, "cold", qualifier))

    def warm(self, function, count=1, qualifier=None):
        """count environments of the function started and initialized (returns once they are)."""
        return self.request("POST", self._function_path(function, "warm", qualifier),
                            {"Count": count})

    def fault(self, function, kind, count=1):
        """The function's next count invokes fail with kind (throttle, service, timeout, ...)."""
        return self.request("PUT", self._function_path(function, "faults", None),
                            {"Kind": kind, "Count": count})

    def environments(self):
        return self.request("GET", "/_galley/environments")["Environments"]

    def client(self, service="lambda", **kwargs):
        """A boto3 client for service at the daemon, with test credentials and one attempt."""
        import boto3
        from botocore.config import Config
        kwargs.setdefault("config", Config(retries={"total_max_attempts": 1},
                                           read_timeout=900, connect_timeout=10))
        return boto3.client(service, endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing",
                            **kwargs)


def pytest_addoption(parser):
    group = parser.getgroup("galley")
    group.addoption("--galley-bin", help="the galley executable (ini galley_bin)")
    group.addoption("--galley-template", help="the SAM template to serve (ini galley_template)")
    parser.addini("galley_bin", "the galley executable (default $GALLEY_BIN, then galley on PATH)")
    parser.addini("galley_template", "SAM template to serve, relative to the rootdir "
                  "(default template.yaml there when present)")
    parser.addini("galley_args", "more `galley serve` arguments", type="args")
    parser.addini("galley_reset", "reset the daemon before each test using it", type="bool",
                  default=True)
    parser.addini("galley_start_timeout", "seconds to wait for the daemon to listen",
                  default="60")


def pytest_configure(config):
    config.addinivalue_line("markers", "warm(function, count=1, qualifier=None): start and "
                            "initialize count environments of function before the test")
    config.addinivalue_line("markers", "cold(function, qualifier=None): make the function's "
                            "next invoke a cold start")


def _binary(config):
    found = (config.getoption("galley_bin") or config.getini("galley_bin")
             or os.environ.get("GALLEY_BIN") or shutil.which("galley"))
    if not found:
        raise GalleyError("galley not found: install it, put it on PATH, or set GALLEY_BIN "
                          "(or the galley_bin ini option)")
    return found


def _template(config):
    given = config.getoption("galley_template") or config.getini("galley_template")
    root = pathlib.Path(str(config.rootpath))
    if given:
        path = (root / given).resolve()
        if not path.is_file():
            raise GalleyError(f"galley_template {given}: no such file under {root}")
        return path
    default = root / "template.yaml"
    return default if default.is_file() else None


@pytest.fixture(scope="session")
def galley(pytestconfig):
    """A galley daemon for the session; its endpoint is galley.endpoint."""
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="pytest-galley-"))
    daemon = Galley(_binary(pytestconfig), tmp / "state", _template(pytestconfig),
                    pytestconfig.getini("galley_args"),
                    float(pytestconfig.getini("galley_start_timeout")))
    daemon.start()
    saved = {k: os.environ.get(k) for k in ("GALLEY_ENDPOINT", "AWS_ENDPOINT_URL_LAMBDA")}
    os.environ.update(GALLEY_ENDPOINT=daemon.endpoint, AWS_ENDPOINT_URL_LAMBDA=daemon.endpoint)
    try:
        yield daemon
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        daemon.stop()
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def lambda_client(galley):
    """A boto3 Lambda client pointed at the session's daemon (one attempt per call)."""
    return galley.client("lambda")


@pytest.fixture(autouse=True)
def _galley_between_tests(request):
    """Reset, then apply the test's warm and cold markers; only for tests using the daemon,
    so a suite's other tests never start one."""
    if "galley" not in request.fixturenames:
        yield
        return
    daemon = request.getfixturevalue("galley")
    if request.config.getini("galley_reset"):
        daemon.reset()
    for mark in request.node.iter_markers("cold"):
        daemon.cold(*mark.args, **mark.kwargs)
    for mark in request.node.iter_markers("warm"):
        daemon.warm(*mark.args, **mark.kwargs)
    yield
