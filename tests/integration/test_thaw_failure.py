# SPDX-License-Identifier: MIT
"""A frozen environment that cannot be thawed (issue 9, section 3): with the daemon out of
descriptors (its RLIMIT_NOFILE lowered from outside with prlimit while its environment is
frozen), the thaw's open() of the freezer file fails with EMFILE. The invoke sent on an
already open connection fails at once with Lambda's 500 ServiceException instead of hanging
until the function's timeout, the environment is stopped, and once descriptors are back the
next invoke is a cold start. Frozen environments need cgroup freezing (v2, or a cgroup2 or v1
freezer): in the "none" mode the thaw is a SIGCONT, which needs no descriptor, so the test
skips there, saying so."""
import http.client
import json
import resource
import time
import urllib.request

import pytest

from conftest import c_bootstrap_dir, write_template
from helpers import wait_until

TIMEOUT_S = 20
PATH = "/2015-03-31/functions/CThaw/invocations"


def env_statuses(d):
    req = urllib.request.Request(d.url + "/_galley/environments",
                                 headers={"X-Galley-Control-Token": d.control_token})
    with urllib.request.urlopen(req, timeout=10) as r:
        return [e["status"] for e in json.loads(r.read())["Environments"]]


# 0, 1 and 2 are always open, so with a limit of 3 every open() fails with EMFILE whatever
# else the daemon holds. (A limit at the lowest free descriptor raced the daemon closing the
# connection env_statuses had just used: the thaw's open() then took that number.)
NO_NEW_DESCRIPTORS = 3


def test_failed_thaw_fails_invoke_at_once(daemon_factory, tmp_path):
    tpl = write_template(tmp_path, {"CThaw": {"CodeUri": str(c_bootstrap_dir()),
                                              "Runtime": "provided.al2023",
                                              "Handler": "bootstrap"}},
                         globals_={"Timeout": TIMEOUT_S})
    d = daemon_factory(template=tpl)
    if "cgroups: none" in d.daemon_log() or "cgroups: v" not in d.daemon_log():
        pytest.skip("no cgroup freezing on this host: a thaw is a SIGCONT, which cannot fail "
                    "for lack of descriptors")
    conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=TIMEOUT_S + 30)
    conn.request("POST", PATH, body=b"{}")
    first = conn.getresponse()
    first.read()
    assert first.status == 200
    assert wait_until(lambda: env_statuses(d) == ["frozen"], timeout=10)

    pid = d.proc.pid
    soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    try:
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (NO_NEW_DESCRIPTORS, hard))
        t0 = time.monotonic()
        conn.request("POST", PATH, body=b"{}")
        resp = conn.getresponse()
        body = json.loads(resp.read())
        took = time.monotonic() - t0
    finally:
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
    conn.close()
    assert resp.status == 500, body
    assert resp.getheader("x-amzn-ErrorType") == "ServiceException"
    assert resp.getheader("X-Amz-Function-Error") is None
    assert body["Type"] == "Service"
    assert "could not be resumed" in body["Message"], body
    assert took < TIMEOUT_S / 2, f"the failed invoke took {took:.1f} s"

    # The environment was stopped; with descriptors back the next invoke starts a new one.
    assert wait_until(lambda: env_statuses(d) == [], timeout=10), env_statuses(d)
    req = urllib.request.Request(d.url + PATH, data=b"{}", method="POST")
    with urllib.request.urlopen(req, timeout=TIMEOUT_S + 10) as r:
        assert r.status == 200
        assert r.headers["X-Galley-Cold-Start"] == "true"
    log = d.daemon_log()
    assert "could not be resumed" in log
    assert "Task timed out" not in log
