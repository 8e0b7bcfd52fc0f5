# SPDX-License-Identifier: MIT
# galley_control.py: a small client for galley's control API (docs/testing.md), standard
# library only: reset, force a cold start, warm N environments, per-function idle timeout,
# injected faults, the environment list, and a raw invoke that returns galley's X-Galley-*
# headers. Every control request carries the daemon's control token (X-Galley-Control-Token):
# $GALLEY_CONTROL_TOKEN, else the file the daemon writes at start, <state-dir>/run/control-token,
# under $GALLEY_STATE_DIR or ./.galley. Copy it into your own test suite as it is.
import json
import os
import urllib.error
import urllib.parse
import urllib.request

DEFAULT_ENDPOINT = "http://127.0.0.1:3001"


def endpoint_from_env():
    """$GALLEY_ENDPOINT, or galley's default listener."""
    return os.environ.get("GALLEY_ENDPOINT") or DEFAULT_ENDPOINT


def control_token_from_env(state_dir=None):
    """The daemon's control token: the one in state_dir when given, else $GALLEY_CONTROL_TOKEN,
    else the one in $GALLEY_STATE_DIR or ./.galley; None when there is none to read."""
    token = os.environ.get("GALLEY_CONTROL_TOKEN")
    if token and not state_dir:
        return token.strip()
    state_dir = state_dir or os.environ.get("GALLEY_STATE_DIR") or ".galley"
    try:
        with open(os.path.join(state_dir, "run", "control-token")) as f:
            return f.read().strip()
    except OSError:
        return None


class GalleyError(Exception):
    """An error answer from galley: Lambda's error name (`type`), its message and status."""

    def __init__(self, status, type_, message):
        super().__init__(f"{type_} (HTTP {status}): {message}")
        self.status = status
        self.type = type_
        self.message = message


class GalleyControl:
    def __init__(self, endpoint=None, timeout=60, token=None, state_dir=None):
        self.endpoint = (endpoint or endpoint_from_env()).rstrip("/")
        self.timeout = timeout
        self.token = token or control_token_from_env(state_dir)

    def _request(self, method, path, body=None, timeout=None):
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["X-Galley-Control-Token"] = self.token
        req = urllib.request.Request(self.endpoint + path, data=data, method=method,
                                     headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=timeout or self.timeout) as r:
                return json.loads(r.read() or b"null")
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                doc = json.loads(raw)
            except ValueError:
                doc = {}
            # x-amzn-ErrorType may carry ":<url>" after the name, as Lambda's does.
            type_ = (e.headers.get("x-amzn-ErrorType") or doc.get("Type") or "Error").split(":")[0]
            message = doc.get("message") or doc.get("Message") or raw.decode(errors="replace")
            raise GalleyError(e.code, type_, message) from None

    def _function(self, name, control, qualifier=None):
        path = f"/_galley/functions/{urllib.parse.quote(name, safe='')}/{control}"
        if qualifier:
            path += "?Qualifier=" + urllib.parse.quote(qualifier, safe="")
        return path

    def environments(self):
        """The live execution environments (what `galley ps` shows)."""
        return self._request("GET", "/_galley/environments")["Environments"]

    def reset(self):
        """Every environment stopped, faults and idle timeout overrides cleared."""
        return self._request("POST", "/_galley/reset")

    def cold(self, name, qualifier=None):
        """Make the next invoke of the function (or version / alias) a cold start."""
        return self._request("POST", self._function(name, "cold", qualifier))

    def warm(self, name, count=1, qualifier=None):
        """Start count environments and return once they are initialized:
        {"Requested": n, "Ready": n, "Failed": 0}."""
        return self._request("POST", self._function(name, "warm", qualifier), {"Count": count},
                             timeout=max(self.timeout, 300))

    def idle_timeout(self, name):
        return self._request("GET", self._function(name, "idle-timeout"))["IdleTimeoutSeconds"]

    def set_idle_timeout(self, name, seconds):
        """Seconds an idle environment of the function is kept; 0: every invoke is cold."""
        return self._request("PUT", self._function(name, "idle-timeout"), {"Seconds": seconds})

    def default_idle_timeout(self, name):
        """Back to the daemon's --idle-timeout."""
        return self._request("DELETE", self._function(name, "idle-timeout"))

    def fault(self, name, kind, count=1):
        """The next count invokes fail with kind: throttle, service, timeout, init or crash."""
        return self._request("PUT", self._function(name, "faults"), {"Kind": kind, "Count": count})

    def pending_fault(self, name):
        """{"FunctionName": ..., "Kind": kind or None, "Remaining": n}."""
        return self._request("GET", self._function(name, "faults"))

    def clear_fault(self, name):
        return self._request("DELETE", self._function(name, "faults"))

    def invoke_raw(self, name, event=None):
        """One RequestResponse invoke over plain HTTP: (status, body bytes, headers with
        lower-case names). Shows every header galley adds, whatever the client library."""
        req = urllib.request.Request(
            f"{self.endpoint}/2015-03-31/functions/{urllib.parse.quote(name, safe='')}/invocations",
            data=json.dumps(event if event is not None else {}).encode(), method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as r:
                return r.status, r.read(), {k.lower(): v for k, v in r.headers.items()}
        except urllib.error.HTTPError as e:
            return e.code, e.read(), {k.lower(): v for k, v in e.headers.items()}
