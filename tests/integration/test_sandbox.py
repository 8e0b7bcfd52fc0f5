# SPDX-License-Identifier: MIT
"""Execution environments are confined like Lambda's (issue 3), seen from inside a Python
function: seccomp refuses mount, ptrace, reboot and unshare (EPERM) and the function still
returns; the code dir /var/task is read-only; /tmp holds the EphemeralStorage size and no
more (ENOSPC past it) and is fresh per environment; the function is not root, is PID 1 of its
namespace, and runs in /var/task with LAMBDA_TASK_ROOT=/var/task. (Namespaces need root here:
without it the module is skipped and says so.)"""
import json
import os

import pytest

from conftest import write_template

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox's namespaces need root here"),
]

APP = '''
import ctypes, errno, os

libc = ctypes.CDLL(None, use_errno=True)


def _result(rc):
    if rc >= 0:
        return "ok"
    return errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno()))


def refused(event, context):
    out = {
        "mount": _result(libc.mount(b"none", b"/tmp", b"tmpfs", 0, None)),
        "reboot": _result(libc.reboot(0x4321FEDC)),
        "unshare": _result(libc.unshare(0x10000000)),
    }
    # Last: without the filter the process would now be traced (and stop on a signal).
    out["ptrace"] = _result(libc.ptrace(0, 0, None, None))
    return out


def write_code(event, context):
    try:
        with open(os.path.join(os.environ["LAMBDA_TASK_ROOT"], "written"), "w") as f:
            f.write("x")
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


def fill_tmp(event, context):
    path = "/tmp/fill"
    chunk = b"\\0" * (1 << 20)
    try:
        with open(path, "wb") as f:
            for _ in range(int(event["mb"])):
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        return "ok"
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))
    finally:
        try:
            os.unlink(path)
        except OSError:
            pass


def tmp_mark(event, context):
    before = sorted(os.listdir("/tmp"))
    with open("/tmp/mark-" + event["who"], "w") as f:
        f.write(event["who"])
    return {"before": before, "after": sorted(os.listdir("/tmp"))}


def identity(event, context):
    return {"uid": os.getuid(), "euid": os.geteuid(), "pid": os.getpid(),
            "task_root": os.environ.get("LAMBDA_TASK_ROOT"), "cwd": os.getcwd()}
'''


@pytest.fixture
def sandboxed(daemon_factory, tmp_path):
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text(APP)
    os.chmod(code, 0o755)
    os.chmod(code / "app.py", 0o644)
    common = {"CodeUri": str(code), "Runtime": "python3.11"}
    tpl = write_template(tmp_path, {
        "Refused": dict(common, Handler="app.refused", FunctionName="sbx-refused"),
        "WriteCode": dict(common, Handler="app.write_code", FunctionName="sbx-write-code"),
        # tmpfs pages count as the environment's memory: room for a full /tmp.
        "FillTmp": dict(common, Handler="app.fill_tmp", FunctionName="sbx-fill-tmp",
                        EphemeralStorage={"Size": 512}, MemorySize=2048, Timeout=60),
        "MarkA": dict(common, Handler="app.tmp_mark", FunctionName="sbx-mark-a"),
        "MarkB": dict(common, Handler="app.tmp_mark", FunctionName="sbx-mark-b"),
        "Identity": dict(common, Handler="app.identity", FunctionName="sbx-identity"),
    }, globals_={"Timeout": 20, "MemorySize": 256})
    return daemon_factory(template=tpl)


def invoke(daemon, name, event=None):
    resp = daemon.client().invoke(FunctionName=name, Payload=json.dumps(event or {}))
    body = resp["Payload"].read()
    assert resp["StatusCode"] == 200
    assert "FunctionError" not in resp, body
    return json.loads(body)


def test_seccomp_refuses_privileged_calls_and_function_returns(sandboxed):
    assert invoke(sandboxed, "sbx-refused") == {
        "mount": "EPERM", "reboot": "EPERM", "unshare": "EPERM", "ptrace": "EPERM"}
    # The environment survived the refusals: a second (warm) invoke works the same.
    assert invoke(sandboxed, "sbx-refused")["unshare"] == "EPERM"


def test_code_dir_is_read_only(sandboxed, tmp_path):
    assert invoke(sandboxed, "sbx-write-code") == "EROFS"
    assert not (tmp_path / "code" / "written").exists()


def test_tmp_holds_ephemeral_storage_and_no_more(sandboxed):
    assert invoke(sandboxed, "sbx-fill-tmp", {"mb": 10}) == "ok"
    assert invoke(sandboxed, "sbx-fill-tmp", {"mb": 520}) == "ENOSPC"
    # Freed again after the failed write: the environment keeps working.
    assert invoke(sandboxed, "sbx-fill-tmp", {"mb": 10}) == "ok"


def test_tmp_is_fresh_per_environment(sandboxed):
    a = invoke(sandboxed, "sbx-mark-a", {"who": "a"})
    assert a == {"before": [], "after": ["mark-a"]}
    b = invoke(sandboxed, "sbx-mark-b", {"who": "b"})
    assert b == {"before": [], "after": ["mark-b"]}
    # The same (warm) environment of a still has its own file.
    a2 = invoke(sandboxed, "sbx-mark-a", {"who": "a2"})
    assert a2["before"] == ["mark-a"]


def test_identity_pid_and_task_root(sandboxed):
    ident = invoke(sandboxed, "sbx-identity")
    assert ident["uid"] != 0 and ident["euid"] != 0
    assert ident["pid"] == 1
    assert ident["task_root"] == "/var/task"
    assert ident["cwd"] == "/var/task"
