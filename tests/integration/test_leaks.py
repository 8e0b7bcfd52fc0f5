# SPDX-License-Identifier: MIT
"""1,000 environments through cold start, invoke and teardown: afterwards the daemon's open
descriptors, child processes, cgroups and temporary directories are back where they started."""
import glob
import json
import os
import urllib.request

from conftest import c_bootstrap_dir, write_template
from helpers import wait_until

ROUNDS = 1000


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def galley_cgroups(pid):
    """Every cgroup directory under this daemon's own galley-<pid> folders."""
    found = []
    for root in glob.glob(f"/sys/fs/cgroup/**/galley-{pid}", recursive=True):
        for dirpath, dirnames, _ in os.walk(root):
            found += [os.path.join(dirpath, d) for d in dirnames]
    return found


def environments(d):
    req = urllib.request.Request(f"{d.url}/_galley/environments",
                                 headers={"X-Galley-Control-Token": d.control_token})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read())["Environments"]


def settle(pred):
    return wait_until(pred, timeout=60.0)


def test_thousand_environments_leave_nothing_behind(daemon_factory, tmp_path):
    tpl = write_template(tmp_path, {"C": {"CodeUri": str(c_bootstrap_dir()),
                                          "Runtime": "provided.al2023", "Handler": "bootstrap",
                                          "FunctionName": "c"}})
    # An idle timeout of 0 retires every environment as soon as its invoke is answered, so
    # each invoke is a cold start in a new environment.
    d = daemon_factory(template=tpl, extra_args=["--idle-timeout", "0"])
    c = d.client()
    pid = d.proc.pid
    c.invoke(FunctionName="c", Payload=b"{}")["Payload"].read()
    assert settle(lambda: not d.children())
    # The retired environment's descriptors close after its process is reaped: count from
    # when the daemon no longer lists it.
    assert settle(lambda: not environments(d))
    fds0, cg0 = open_fds(pid), galley_cgroups(pid)
    run = d.state / "run"
    cold = 0
    for i in range(ROUNDS):
        r = c.invoke(FunctionName="c", Payload=json.dumps({"name": str(i)}).encode())
        body = json.loads(r["Payload"].read())
        assert r["StatusCode"] == 200 and "FunctionError" not in r, body
        cold += body.get("invocations") == 1
    assert cold == ROUNDS  # every one was a new environment
    assert settle(lambda: not d.children()), d.children()
    assert settle(lambda: open_fds(pid) == fds0), (fds0, open_fds(pid), os.listdir(f"/proc/{pid}/fd"))
    assert settle(lambda: galley_cgroups(pid) == cg0), galley_cgroups(pid)
    # run/ holds the control token and, without a mount namespace, environments' /tmp dirs.
    left = lambda: [p for p in run.iterdir() if p.name != "control-token"] if run.exists() else []
    assert settle(lambda: not left()), left()
