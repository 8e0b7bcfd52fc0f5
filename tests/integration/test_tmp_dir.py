# SPDX-License-Identifier: MIT
"""An environment's /tmp without a mount namespace (`--no-sandbox`): a directory of its own
under <state>/run, its size measured after each invoke and the whole tree deleted at teardown,
both on libuv's work queue: a /tmp of 150,000 files used to stall the loop for a walk after
every invoke and for the rm -rf at the end, so no other client was answered meanwhile. Over
EphemeralStorage the environment still stops (once it is idle), and the next invoke is a cold
start.

Count-based where possible; the one timing bound is far above an answer's usual cost and far
below the old stalls."""
import json
import os
import threading
import time
import urllib.request

from conftest import write_template
from helpers import wait_until

FILES = 150_000
WORST_S = 0.25  # the walk of FILES files took about 0.3 s on the loop, the rm -rf about 1 s
APP = """
import os
def handler(event, context):
    d = os.environ["TMPDIR"]
    if event.get("files"):
        sub = os.path.join(d, "many")
        os.makedirs(sub, exist_ok=True)
        for i in range(event["files"]):
            open(os.path.join(sub, "f%06d" % i), "w").close()
    if event.get("big_mb"):
        with open(os.path.join(d, "big"), "wb") as f:
            os.posix_fallocate(f.fileno(), 0, event["big_mb"] << 20)
    return {"tmp": d, "pid": os.getpid()}
"""


def served(daemon_factory, tmp_path):
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text(APP)
    fn = {"CodeUri": str(code), "Runtime": "python3.12", "Handler": "app.handler",
          "Timeout": 120, "EphemeralStorage": {"Size": 512},
          "MemorySize": 1024}  # 150,000 inodes and dentries are charged to its cgroup
    tpl = write_template(tmp_path, {"F": dict(fn, FunctionName="f"),
                                    "Other": dict(fn, FunctionName="other")})
    return daemon_factory(template=tpl, extra_args=["--no-sandbox"])


def invoke(c, event):
    r = c.invoke(FunctionName="f", Payload=json.dumps(event).encode())
    assert "FunctionError" not in r, r["Payload"].read()
    return json.loads(r["Payload"].read())


def force_cold(d):
    req = urllib.request.Request(d.url + "/_galley/functions/f/cold", method="POST",
                                 headers={"X-Galley-Control-Token": d.control_token})
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.status == 200


def f_envs(d):
    return [e for e in d.environments()["Environments"] if e.get("function") == "f"]


class Poller(threading.Thread):
    """GetFunction of another function until stopped (at most 20,000 calls): (start, end, ok)."""

    def __init__(self, d):
        super().__init__(daemon=True)
        self.c = d.client(read_timeout=30)
        self.stop = threading.Event()
        self.calls = []

    def run(self):
        while not self.stop.is_set() and len(self.calls) < 20_000:
            t0 = time.monotonic()
            try:
                ok = self.c.get_function(FunctionName="other")["Configuration"][
                    "FunctionName"] == "other"
            except Exception:  # noqa: BLE001 - counted and asserted on
                ok = False
            self.calls.append((t0, time.monotonic(), ok))


def test_a_big_tmp_is_measured_and_deleted_off_the_loop(daemon_factory, tmp_path):
    d = served(daemon_factory, tmp_path)
    c = d.client(read_timeout=300)
    tmp = invoke(c, {"files": FILES})["tmp"]
    assert tmp.startswith(str(d.state)) and len(os.listdir(os.path.join(tmp, "many"))) == FILES

    poll = Poller(d)
    poll.start()
    assert wait_until(lambda: len(poll.calls) >= 3, timeout=30, step=0.01)
    for _ in range(5):  # each is followed by a walk of the FILES files
        invoke(c, {})
    force_cold(d)
    assert wait_until(lambda: not os.path.exists(os.path.dirname(tmp)), timeout=120, step=0.05)
    time.sleep(0.05)
    poll.stop.set()
    poll.join(timeout=60)
    assert poll.calls and all(ok for _, _, ok in poll.calls)
    worst = max(end - start for start, end, _ in poll.calls)
    assert worst < WORST_S, f"a GetFunction waited {worst:.2f} s beside a /tmp of {FILES} files"


def test_tmp_over_ephemeral_storage_stops_the_environment(daemon_factory, tmp_path):
    d = served(daemon_factory, tmp_path)
    c = d.client(read_timeout=300)
    assert invoke(c, {})["pid"] and len(f_envs(d)) == 1
    first = invoke(c, {"big_mb": 520})  # over the 512 MB of EphemeralStorage
    # Measured after the invoke, off the loop: the environment stops once that is done.
    assert wait_until(lambda: not f_envs(d), timeout=60, step=0.05), f_envs(d)
    assert wait_until(lambda: not os.path.exists(first["tmp"]), timeout=60, step=0.05)
    assert "over its 512 MB: stopping the environment" in d.daemon_log()
    again = invoke(c, {})
    assert again["pid"] != first["pid"] and again["tmp"] != first["tmp"]
    assert os.listdir(again["tmp"]) == []
