# SPDX-License-Identifier: MIT
"""A function's Layers are resolved off the event loop (issue 9, section 3): the walk that
sizes the code and the merge of a layer of 20,000 files into the function's /opt run on
libuv's work queue, so other clients are answered meanwhile; while it runs the function's
other changes get Lambda's 409 ResourceConflictException, two functions merging the same list
at once share one merged directory, and a daemon stopped meanwhile stores nothing.

Count-based checks where possible; the timing bounds are hang guards."""
import io
import json
import signal
import threading
import time
import zipfile

import pytest
from botocore.exceptions import ClientError

from conftest import zip_files
from helpers import wait_until

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
ARN = "arn:aws:lambda:us-east-1:123456789012:function:"
FILES = 20_000
HANG_GUARD_S = 2.0
APP = """
import os
def handler(event, context):
    n = sum(len(files) for _, _, files in os.walk('/opt'))
    with open('/opt/nodejs/node_modules/pkg007/f01400.js') as f:
        return {'files': n, 'one': f.read()}
"""


def many_files_layer():
    """A layer's zip of FILES one-byte files in 100 package directories (about 2.5 MB)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for i in range(FILES):
            z.writestr(f"nodejs/node_modules/pkg{i // 200:03d}/f{i:05d}.js", "x")
    return buf.getvalue()


@pytest.fixture(scope="module")
def layer_zip():
    return many_files_layer()


def create(c, name):
    c.create_function(FunctionName=name, Runtime="python3.12", Handler="app.handler", Role=ROLE,
                      Code={"ZipFile": zip_files({"app.py": APP})})


def publish(d, layer_zip):
    c = d.client(read_timeout=300)
    return c.publish_layer_version(LayerName="mods", Content={"ZipFile": layer_zip})[
        "LayerVersionArn"]


def sees_layer(c, name):
    """Whether function name's invoke finds every file of the layer at /opt."""
    out = json.loads(c.invoke(FunctionName=name, Payload=b"{}")["Payload"].read())
    assert out == {"files": FILES, "one": "x"}, out
    return True


def merged_dir(d):
    return d.state / "layers" / ".merged"


def merging(d):
    """Whether a merge is being built (its directory is named <list hash>.tmp-...)."""
    root = merged_dir(d)
    return root.exists() and any(".tmp-" in p.name for p in root.iterdir())


class Poller(threading.Thread):
    """GetFunction of another function, again and again until stopped (at most LIMIT
    calls): each call's (start, end, ok)."""
    LIMIT = 5000

    def __init__(self, d, name):
        super().__init__(daemon=True)
        self.c = d.client(read_timeout=30)
        self.name = name
        self.stop = threading.Event()
        self.calls = []

    def run(self):
        while not self.stop.is_set() and len(self.calls) < self.LIMIT:
            t0 = time.monotonic()
            try:
                ok = self.c.get_function(FunctionName=self.name)["Configuration"][
                    "FunctionName"] == self.name
            except Exception:  # noqa: BLE001 - any failure is counted and asserted on
                ok = False
            self.calls.append((t0, time.monotonic(), ok))


class Update(threading.Thread):
    """One UpdateFunctionConfiguration in a thread: result is the reply, or the error's
    (code, message, status), or the exception's name."""

    def __init__(self, d, **kw):
        super().__init__(daemon=True)
        self.c = d.client(read_timeout=300)
        self.kw = kw
        self.result = None
        self.start_t = self.end_t = None

    def run(self):
        self.start_t = time.monotonic()
        try:
            self.result = self.c.update_function_configuration(**self.kw)
        except ClientError as e:
            r = e.response
            self.result = (r["Error"]["Code"], r["Error"]["Message"],
                           r["ResponseMetadata"]["HTTPStatusCode"])
        except Exception as e:  # noqa: BLE001 - a dropped connection, for the stop test
            self.result = type(e).__name__
        self.end_t = time.monotonic()


def test_other_clients_answered_during_a_layer_merge(daemon_factory, layer_zip):
    d = daemon_factory()
    c = d.client()
    create(c, "f")
    create(c, "other")
    arn = publish(d, layer_zip)

    poll = Poller(d, "other")
    poll.start()
    assert wait_until(lambda: len(poll.calls) >= 3, timeout=30, step=0.01)
    up = Update(d, FunctionName="f", Layers=[arn])
    up.start()
    up.join(timeout=240)
    time.sleep(0.05)
    poll.stop.set()
    poll.join(timeout=60)
    assert not up.is_alive() and isinstance(up.result, dict), up.result
    assert up.result["Layers"][0]["Arn"] == arn
    assert poll.calls and all(ok for _, _, ok in poll.calls), \
        [c for c in poll.calls if not c[2]][:3]
    worst = max(end - start for start, end, _ in poll.calls)
    assert worst < HANG_GUARD_S, f"a GetFunction waited {worst:.2f} s during the merge"
    # Answers that began and ended while the update was in flight: with the walk and the
    # merge on the loop there was at most the one the stall held up.
    during = [1 for s, e, _ in poll.calls if s >= up.start_t and e <= up.end_t]
    assert len(during) >= 3, (f"{len(during)} answers during an update of "
                              f"{up.end_t - up.start_t:.2f} s")

    assert sees_layer(c, "f")
    assert not merging(d)


def start_merge(d, layer_zip):
    """Function f given the layer; returns (client, layer ARN, Update) once the update's job
    is merging (its merge directory shows; bounded poll)."""
    c = d.client()
    create(c, "f")
    arn = publish(d, layer_zip)
    up = Update(d, FunctionName="f", Layers=[arn])
    up.start()
    assert wait_until(lambda: merging(d), timeout=60, step=0.002), up.result
    return c, arn, up


def test_changes_during_a_layer_merge_conflict(daemon_factory, layer_zip):
    d = daemon_factory()
    c, arn, up = start_merge(d, layer_zip)
    conflict = ("ResourceConflictException",
                "The operation cannot be performed at this time. An update is in progress for "
                f"resource: {ARN}f", 409)

    def err(call, **kw):
        try:
            call(**kw)
        except ClientError as e:
            r = e.response
            return r["Error"]["Code"], r["Error"]["Message"], r["ResponseMetadata"][
                "HTTPStatusCode"]
        return None

    assert err(c.update_function_configuration, FunctionName="f", Description="x") == conflict
    assert err(c.update_function_code, FunctionName="f",
               ZipFile=zip_files({"app.py": APP})) == conflict
    assert err(c.delete_function, FunctionName="f") == conflict
    assert c.get_function(FunctionName="f")["Configuration"].get("Layers") is None
    up.join(timeout=240)
    assert isinstance(up.result, dict) and up.result["Layers"][0]["Arn"] == arn, up.result
    # Once done, the function takes changes again, and its layers stay.
    after = c.update_function_configuration(FunctionName="f", Description="x")
    assert after["Layers"] == up.result["Layers"] and after["Description"] == "x"


def test_two_functions_merge_one_list_at_once(daemon_factory, layer_zip):
    d = daemon_factory()
    c = d.client()
    for name in ("a", "b"):
        create(c, name)
    arn = publish(d, layer_zip)
    ups = [Update(d, FunctionName=name, Layers=[arn]) for name in ("a", "b")]
    for u in ups:
        u.start()
    for u in ups:
        u.join(timeout=240)
    assert [isinstance(u.result, dict) for u in ups] == [True, True], [u.result for u in ups]
    # One merged directory for the list, no half-built one left beside it.
    assert [p.name for p in merged_dir(d).iterdir() if ".tmp-" in p.name] == []
    assert len(list(merged_dir(d).iterdir())) == 1
    assert sees_layer(c, "a") and sees_layer(c, "b")


def test_daemon_stopped_during_a_layer_merge_stores_nothing(daemon_factory, layer_zip, tmp_path):
    state = tmp_path / "state"
    d = daemon_factory(state_dir=state)
    up = start_merge(d, layer_zip)[2]
    assert d.stop(signal.SIGTERM) == 0
    up.join(timeout=30)
    # The stopping daemon answered "The service is stopping" or closed the connection.
    assert up.result is not None and not isinstance(up.result, dict), up.result
    if isinstance(up.result, tuple):
        assert up.result[0] == "ServiceException" and up.result[1].startswith(
            "The service is stopping"), up.result
    assert "ERROR: AddressSanitizer" not in d.daemon_log()
    d = daemon_factory(state_dir=state)
    assert "Layers" not in d.client().get_function(FunctionName="f")["Configuration"]
    assert not merging(d)


def test_delete_layer_version_deletes_off_the_loop(daemon_factory, layer_zip):
    """DeleteLayerVersion of a 20,000-file layer renames its directory into layers/.trash on
    the loop and deletes it on the work queue; what a crash left there goes at the next
    start."""
    d = daemon_factory()
    c = d.client()
    # 204 for a version that is not there, also before any layer was ever published.
    c.delete_layer_version(LayerName="mods", VersionNumber=3)
    create(c, "other")
    publish(d, layer_zip)
    version_dir = d.state / "layers" / "mods" / "1"
    trash = d.state / "layers" / ".trash"
    assert version_dir.is_dir()

    poll = Poller(d, "other")
    poll.start()
    assert wait_until(lambda: len(poll.calls) >= 3, timeout=30, step=0.01)
    c.delete_layer_version(LayerName="mods", VersionNumber=1)
    assert not version_dir.exists()  # moved out of sight before the 204
    assert wait_until(lambda: not trash.exists() or not any(trash.iterdir()), timeout=60)
    poll.stop.set()
    poll.join(timeout=60)
    assert poll.calls and all(ok for _, _, ok in poll.calls)
    worst = max(end - start for start, end, _ in poll.calls)
    assert worst < HANG_GUARD_S, f"a GetFunction waited {worst:.2f} s during the delete"
    with pytest.raises(ClientError) as e:
        c.get_layer_version(LayerName="mods", VersionNumber=1)
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert c.list_layer_versions(LayerName="mods")["LayerVersions"] == []

    # A crash between the rename and the deletion leaves the directory in the trash.
    d.stop()
    (trash / "mods-1-0123456789abcdef" / "content").mkdir(parents=True)
    (trash / "mods-1-0123456789abcdef" / "content" / "f").write_text("x")
    d2 = daemon_factory(state_dir=d.state)
    assert not trash.exists(), list(trash.iterdir())
    assert d2.client().list_layers()["Layers"] == []
