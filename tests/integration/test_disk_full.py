# SPDX-License-Identifier: MIT
"""A full disk (issue 9): the daemon's state dir on a 2 MB tmpfs this test mounts and fills.
CreateFunction, UpdateFunctionCode, PutFunctionEventInvokeConfig and an Event invoke answer a
Lambda-shaped 500 ServiceException naming "No space left on device" (the daemon log's words),
nothing half-written is left or acknowledged, and everything works again once space is freed.
Needs root (mount); skips and says so otherwise."""
import errno
import json
import os
import subprocess
import urllib.request

import pytest
from botocore.exceptions import ClientError

from conftest import zip_files

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
NOSPC = "No space left on device"
PY = "def handler(event, context):\n    return {'version': %d}\n"


@pytest.fixture
def small_disk(tmp_path):
    mnt = tmp_path / "disk"
    mnt.mkdir()
    try:
        res = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)],
                             capture_output=True, text=True, timeout=30)
    except OSError as e:
        pytest.skip(f"cannot run mount: {e}")
    if res.returncode != 0:
        pytest.skip(f"mounting a tmpfs is not permitted here: {res.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True, timeout=30)


def fill(disk):
    """Write a filler file until the file system is full (bounded: 4 MB at most)."""
    path = disk / "filler"
    chunk = b"\0" * 65536
    with open(path, "wb", buffering=0) as f:
        for _ in range(64):
            try:
                f.write(chunk)
            except OSError as e:
                assert e.errno == errno.ENOSPC, e
                return path
    raise AssertionError("a 2 MB tmpfs took 4 MB")


def service_error(call):
    with pytest.raises(ClientError) as e:
        call()
    err = e.value.response
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 500, err
    assert err["Error"]["Code"] == "ServiceException", err
    assert NOSPC in err["Error"]["Message"], err
    return err


def test_full_disk_answers_say_so_and_lose_nothing(daemon_factory, small_disk):
    d = daemon_factory(state_dir=small_disk / "state")
    c = d.client()
    c.create_function(FunctionName="keep", Runtime="python3.12", Handler="app.handler",
                      Role=ROLE, Code={"ZipFile": zip_files({"app.py": PY % 1})})
    sha = c.get_function(FunctionName="keep")["Configuration"]["CodeSha256"]
    big = zip_files({"app.py": PY % 2, "pad.txt": os.urandom(8192).hex()})

    filler = fill(small_disk)
    service_error(lambda: c.create_function(
        FunctionName="new", Runtime="python3.12", Handler="app.handler", Role=ROLE,
        Code={"ZipFile": big}))
    service_error(lambda: c.update_function_code(FunctionName="keep", ZipFile=big))
    service_error(lambda: c.put_function_event_invoke_config(
        FunctionName="keep", MaximumRetryAttempts=0))
    service_error(lambda: c.invoke(FunctionName="keep", InvocationType="Event",
                                   Payload=json.dumps({"x": "y" * 65536})))
    assert NOSPC in d.daemon_log()

    # Nothing was half-made: no new function, the old code and no event configuration.
    with pytest.raises(ClientError) as e:
        c.get_function(FunctionName="new")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert not (small_disk / "state" / "functions" / "new").exists()
    assert c.get_function(FunctionName="keep")["Configuration"]["CodeSha256"] == sha
    with pytest.raises(ClientError) as e:
        c.get_function_event_invoke_config(FunctionName="keep")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"

    # Space again: the same requests succeed, and survive a restart.
    filler.unlink()
    c.create_function(FunctionName="new", Runtime="python3.12", Handler="app.handler",
                      Role=ROLE, Code={"ZipFile": big})
    c.update_function_code(FunctionName="keep", ZipFile=big)
    c.put_function_event_invoke_config(FunctionName="keep", MaximumRetryAttempts=0)
    assert c.invoke(FunctionName="keep", InvocationType="Event", Payload=b"{}")[
        "StatusCode"] == 202
    assert json.loads(c.invoke(FunctionName="new")["Payload"].read()) == {"version": 2}
    new_sha = c.get_function(FunctionName="keep")["Configuration"]["CodeSha256"]
    assert d.stop() == 0
    d2 = daemon_factory(state_dir=small_disk / "state")
    c2 = d2.client()
    assert c2.get_function(FunctionName="keep")["Configuration"]["CodeSha256"] == new_sha
    assert c2.get_function(FunctionName="new")["Configuration"]["FunctionName"] == "new"
    assert c2.get_function_event_invoke_config(FunctionName="keep")["MaximumRetryAttempts"] == 0


def test_full_disk_log_lines_are_counted(daemon_factory, small_disk):
    """A function's log lines that cannot be written are counted in /metrics and reported
    in the daemon log, not dropped silently."""
    d = daemon_factory(state_dir=small_disk / "state")
    c = d.client()
    code = ("def handler(event, context):\n"
            "    for i in range(200):\n"
            "        print('line %d ' % i + 'x' * 200)\n"
            "    return 'ok'\n")
    c.create_function(FunctionName="chatty", Runtime="python3.12", Handler="app.handler",
                      Role=ROLE, Code={"ZipFile": zip_files({"app.py": code})})
    assert json.loads(c.invoke(FunctionName="chatty")["Payload"].read()) == "ok"  # warm
    fill(small_disk)
    r = c.invoke(FunctionName="chatty", LogType="Tail")
    assert json.loads(r["Payload"].read()) == "ok"
    text = urllib.request.urlopen(d.url + "/metrics", timeout=30).read().decode()
    dropped = [line for line in text.splitlines()
               if line.startswith("galley_log_lines_dropped_total ")]
    # A few lines still fit in the stream file's last, partly used page.
    assert dropped and int(dropped[0].split()[1]) >= 150, dropped
    assert NOSPC in d.daemon_log() and "galley_log_lines_dropped_total" in d.daemon_log()
