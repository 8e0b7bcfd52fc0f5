# SPDX-License-Identifier: MIT
"""Spares: pre-started Python and Node interpreters in a fresh sandbox, specialized on a cold
start (src/scheduler/spares.c, docs/performance.md). A cold start served by a spare must look
to the function exactly like a fresh one (variables, /var/task, cwd, sys.path or module
paths, confinement, descriptors), run no user code before it is taken, never serve stale
code, keep the memory cap and timeout, show in `galley ps`, and die with the daemon."""
import base64
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import GALLEY_BIN, ROOT, zip_files
from helpers import run_galley, wait_until

ROLE = "arn:aws:iam::000000000000:role/lambda-role"

PY_PROBE = """\
import os, sys
def handler(event, context):
    status = {}
    for line in open("/proc/self/status"):
        k, _, v = line.partition(":")
        if k in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp",
                 "Seccomp_filters"):
            status[k] = v.strip()
    try:
        import mylib
        lib = mylib.VALUE
    except ImportError:
        lib = None
    st, tmp = os.fstat(0), os.statvfs("/tmp")
    return {"env": list(os.environ.items()), "cwd": os.getcwd(),
            "task": sorted(os.listdir("/var/task")), "opt": sorted(os.listdir("/opt")),
            "path": sys.path, "status": status, "uid": os.getuid(), "pid": os.getpid(),
            "fds": sorted(os.listdir("/proc/self/fd")), "stdin": [st.st_mode, st.st_rdev],
            "lib": lib, "tmp": tmp.f_blocks * tmp.f_frsize, "argv": sys.argv}
"""

JS_PROBE = """\
const fs = require('fs');
exports.handler = async () => {
  const status = {};
  for (const line of fs.readFileSync('/proc/self/status', 'utf8').split('\\n')) {
    const [k, v] = line.split(':');
    if (['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb', 'NoNewPrivs', 'Seccomp',
         'Seccomp_filters'].includes(k)) status[k] = v.trim();
  }
  let lib = null;
  try { lib = require('mylib').VALUE; } catch (e) { lib = null; }
  const st = fs.fstatSync(0);
  return {env: Object.entries(process.env), cwd: process.cwd(),
          task: fs.readdirSync('/var/task').sort(), opt: fs.readdirSync('/opt').sort(),
          path: require('module').globalPaths, status, uid: process.getuid(), pid: process.pid,
          fds: fs.readdirSync('/proc/self/fd').sort(), stdin: [st.mode, st.rdev], lib,
          argv: process.argv};
};
"""

# Values that differ between any two environments, spare or not.
PER_ENV = {"AWS_LAMBDA_RUNTIME_API", "AWS_LAMBDA_LOG_STREAM_NAME", "_X_AMZN_TRACE_ID",
           "AWS_ENDPOINT_URL_LAMBDA"}

RUNTIMES = {
    "python": ("python3.12", {"app.py": PY_PROBE}, {"python/mylib.py": "VALUE = 'layer'\n"}),
    "nodejs": ("nodejs20.x", {"app.js": JS_PROBE},
               {"nodejs/node_modules/mylib/index.js": "exports.VALUE = 'layer';\n"}),
}


def wait_spare(d, family, exclude=(), timeout=60):
    """The first ready spare of family (not one of exclude's pids)."""
    found = []

    def ready():
        found[:] = [s for s in d.environments()["Spares"]
                    if s["runtime"] == family and s["state"] == "spare" and s["pid"] not in exclude]
        return bool(found)
    assert wait_until(ready, timeout=timeout), d.environments()
    return found[0]


def env_of(d, function):
    envs = [e for e in d.environments()["Environments"] if e["function"] == function]
    assert len(envs) == 1, envs
    return envs[0]


def invoke(c, name, payload=b"{}"):
    r = c.invoke(FunctionName=name, Payload=payload, LogType="Tail")
    return r, json.loads(r["Payload"].read()), base64.b64decode(r["LogResult"]).decode()


def create(c, name, runtime, files, **kw):
    c.create_function(FunctionName=name, Runtime=runtime, Handler="app.handler", Role=ROLE,
                      Code={"ZipFile": zip_files(files)}, **kw)


def deploy_probe(d, family):
    c = d.client()
    runtime, files, layer_files = RUNTIMES[family]
    layer = c.publish_layer_version(LayerName="mylib", Content={"ZipFile": zip_files(layer_files)},
                                    CompatibleRuntimes=[runtime])
    create(c, "probe", runtime, files, Layers=[layer["LayerVersionArn"]], MemorySize=256,
           Environment={"Variables": {"TABLE": "orders", "TZ": "Europe/Paris", "EMPTY": ""}})
    return c


@pytest.mark.parametrize("family", ["python", "nodejs"])
def test_spare_start_matches_a_fresh_start(daemon_factory, tmp_path, family):
    fresh = daemon_factory(state_dir=tmp_path / "fresh", extra_args=["--no-spares"])
    spared = daemon_factory(state_dir=tmp_path / "spared")
    deploy_probe(fresh, family)
    c = deploy_probe(spared, family)
    spare = wait_spare(spared, family)
    assert fresh.environments()["Spares"] == []

    _, want, _ = invoke(fresh.client(), "probe")
    r, got, tail = invoke(c, "probe")
    assert r["StatusCode"] == 200 and "FunctionError" not in r, got
    e = env_of(spared, "probe")
    assert e["from_spare"] is True and e["pid"] == spare["pid"] and e["uid"] == spare["uid"]
    assert env_of(fresh, "probe")["from_spare"] is False
    # The variables: the same names in the same order, the same values but the per-environment
    # ones; none of the spare's own (GALLEY_SPARE).
    assert [k for k, _ in got["env"]] == [k for k, _ in want["env"]]
    assert {k: v for k, v in got["env"] if k not in PER_ENV} == \
        {k: v for k, v in want["env"] if k not in PER_ENV}
    assert dict(got["env"])["TABLE"] == "orders" and dict(got["env"])["EMPTY"] == ""
    for key in ("cwd", "task", "opt", "path", "status", "fds", "stdin", "lib", "argv"):
        assert got.get(key) == want.get(key), key
    assert got["cwd"] == "/var/task" and got["lib"] == "layer"
    assert got["uid"] >= 100000 and want["uid"] >= 100000 and got["pid"] == want["pid"] == 1
    assert got["status"]["Seccomp"] == "2" and got["status"]["NoNewPrivs"] == "1"
    assert got["status"]["CapEff"] == "0000000000000000"
    assert "INIT_START" in tail and "Init Duration:" in tail
    # The layers' PYTHONPATH went where the interpreter puts it at start-up.
    if family == "python":
        assert "/opt/python" in got["path"]


def test_no_user_code_runs_in_a_spare(daemon_factory, tmp_path):
    """The handler module's import-time side effect (a connection to a listener of the
    test's) happens only once an invoke takes the spare; until then the spare's /var/task is
    empty."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    listener.settimeout(0)
    port = listener.getsockname()[1]
    code = ("import socket\n"
            f"socket.create_connection(('127.0.0.1', {port})).sendall(b'imported')\n"
            "def handler(event, context):\n    return 'ok'\n")
    d = daemon_factory()
    c = d.client()
    create(c, "sidefx", "python3.12", {"app.py": code})
    spare = wait_spare(d, "python")
    assert os.listdir(f"/proc/{spare['pid']}/root/var/task") == []
    time.sleep(1.0)  # whatever a spare would do on its own, it has had time to do
    with pytest.raises(BlockingIOError):
        listener.accept()
    r, body, _ = invoke(c, "sidefx")
    assert body == "ok" and env_of(d, "sidefx")["pid"] == spare["pid"]
    listener.settimeout(10)
    conn, _ = listener.accept()
    assert conn.recv(16) == b"imported"
    conn.close()
    listener.close()
    assert os.listdir(f"/proc/{spare['pid']}/root/var/task") == ["app.py"]


# A bootstrap run as a spare outside galley: the handler module leaves a mark when imported.
SPARE_BOOTSTRAPS = {
    "python": ([sys.executable], "app.py",
               "open({mark!r}, 'w').write('imported')\n"
               "def handler(event, context):\n    return 'ok'\n"),
    "nodejs": (["node"], "app.js",
               "require('fs').writeFileSync({mark!r}, 'imported');\n"
               "exports.handler = async () => 'ok';\n"),
}


def start_bare_spare(family, tmp_path):
    """(process, galley's end of its control socket, mark path, task dir, silent listener)."""
    interp, name, text = SPARE_BOOTSTRAPS[family]
    if not shutil.which(interp[0]):
        pytest.skip(f"{interp[0]} is not installed")
    task, mark = tmp_path / "task", tmp_path / "imported"
    task.mkdir(parents=True)
    (task / name).write_text(text.format(mark=str(mark)))
    listener = socket.socket()  # the Runtime API: accepts, never answers
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    proc = subprocess.Popen(
        interp + [str(ROOT / "runtimes" / family / "bootstrap")], cwd=str(tmp_path),
        env={"GALLEY_SPARE": "1", "PATH": os.environ["PATH"], "HOME": str(tmp_path)},
        pass_fds=(3,), preexec_fn=lambda: os.dup2(theirs.fileno(), 3),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    theirs.close()
    ours.settimeout(60)
    assert ours.recv(16) == b"R"
    variables = {"_HANDLER": "app.handler", "LAMBDA_TASK_ROOT": str(task),
                 "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:%d" % listener.getsockname()[1],
                 "PATH": os.environ["PATH"]}
    ours.send(b"GLSPARE1\0" + b"".join(b"%s=%s\0" % (k.encode(), v.encode())
                                         for k, v in variables.items()))
    return proc, ours, mark, listener


@pytest.mark.parametrize("family", ["python", "nodejs"])
def test_spare_waits_for_go_before_looking_at_its_code(tmp_path, family):
    """galley sends a spare its variables before the code is mounted, and "G" once it is: a
    spare that gets the variables and then loses galley (the mount failed, so it is killed)
    has imported nothing; with "G" it imports the handler and asks for its first invoke."""
    proc, ours, mark, listener = start_bare_spare(family, tmp_path / "lost")
    try:
        time.sleep(0.5)  # long enough to import a one-line module, had it not waited
        assert proc.poll() is None and not mark.exists()
        ours.close()
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0 and not mark.exists(), out
    finally:
        proc.kill()
        proc.wait()
        listener.close()
    proc, ours, mark, listener = start_bare_spare(family, tmp_path / "go")
    try:
        ours.send(b"G")
        assert wait_until(mark.exists, timeout=30)
        listener.settimeout(30)
        conn, _ = listener.accept()  # its first /next
        conn.close()
    finally:
        proc.kill()
        proc.wait()
        ours.close()
        listener.close()


def test_updated_code_reaches_the_next_spare(daemon_factory):
    d = daemon_factory()
    c = d.client()
    create(c, "ver", "nodejs20.x", {"app.js": "exports.handler = async () => 'v1';\n"})
    first = wait_spare(d, "nodejs")
    assert invoke(c, "ver")[1] == "v1"
    wait_spare(d, "nodejs", exclude={first["pid"]})  # the refill, holding no code
    c.update_function_code(FunctionName="ver",
                           ZipFile=zip_files({"app.js": "exports.handler = async () => 'v2';\n"}))
    assert wait_until(lambda: c.get_function(FunctionName="ver")["Configuration"]
                      .get("LastUpdateStatus", "Successful") == "Successful", timeout=30)
    r, body, tail = invoke(c, "ver")
    assert body == "v2" and "Init Duration:" in tail
    assert env_of(d, "ver")["from_spare"] is True


def test_memory_cap_and_timeout_hold_in_a_specialized_spare(daemon_factory):
    d = daemon_factory()
    c = d.client()
    hog = ("def handler(event, context):\n"
           "    if event.get('sleep'):\n        import time; time.sleep(10)\n"
           "    blocks = []\n"
           "    for _ in range(400):\n        blocks.append(bytearray(1 << 20))\n"
           "    return len(blocks)\n")
    create(c, "hog", "python3.12", {"app.py": hog}, MemorySize=128, Timeout=2)
    spare = wait_spare(d, "python")
    r, body, tail = invoke(c, "hog")
    assert r["FunctionError"] == "Unhandled" and body["errorType"] == "Runtime.ExitError", body
    assert body["errorMessage"].endswith("signal: killed"), body
    assert spare["pid"] not in {e["pid"] for e in d.environments()["Environments"]}
    wait_spare(d, "python", exclude={spare["pid"]})
    r, body, tail = invoke(c, "hog", b'{"sleep": true}')
    assert body["errorType"] == "Sandbox.Timedout", body
    assert "Task timed out after 2.00 seconds" in body["errorMessage"]


def uid_processes(uid):
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("Uid:") and int(line.split()[1]) == uid:
                        found.append(int(pid))
        except (OSError, ValueError):
            pass
    return found


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_spares_die_with_the_daemon(daemon_factory, sig):
    # A uid range of its own, so no other daemon's environment on this host shares its uids.
    first = 3_700_000 + (os.getpid() % 1000) * 64
    d = daemon_factory(extra_args=["--spares", "2", "--uid-range", f"{first}:64"])
    c = d.client()
    create(c, "p", "python3.12", {"app.py": "def handler(e, c):\n    return 1\n"})
    create(c, "n", "nodejs20.x", {"app.js": "exports.handler = async () => 1;\n"})
    assert wait_until(lambda: len([s for s in d.environments()["Spares"]
                                   if s["state"] == "spare"]) == 4, timeout=90)
    spares = d.environments()["Spares"]
    assert sorted(s["runtime"] for s in spares) == ["nodejs", "nodejs", "python", "python"]
    assert len({s["uid"] for s in spares}) == 4  # a uid of its own each
    assert all(first <= s["uid"] < first + 64 for s in spares)
    pids = {s["pid"] for s in spares}
    assert pids <= d.children()
    d.proc.send_signal(sig)
    d.proc.wait(timeout=30)

    def gone():
        return all(not os.path.exists(f"/proc/{p}") for p in pids) and \
            all(not uid_processes(s["uid"]) for s in spares)
    assert wait_until(gone, timeout=15), [(s, uid_processes(s["uid"])) for s in spares]


def test_galley_ps_lists_spares_apart(daemon_factory):
    d = daemon_factory()
    create(d.client(), "p", "python3.12", {"app.py": "def handler(e, c):\n    return 1\n"})
    spare = wait_spare(d, "python")
    table = run_galley("ps", "--endpoint", d.url, "--state-dir", str(d.state), timeout=30)
    assert table.returncode == 0, table.stderr
    assert "SPARE" in table.stdout and "python" in table.stdout
    assert str(spare["pid"]) in table.stdout
    plain = run_galley("ps", "--json", "--endpoint", d.url, "--state-dir", str(d.state),
                       timeout=30)
    assert json.loads(plain.stdout) == []  # no function has an environment yet
    both = run_galley("ps", "--json", "--spares", "--endpoint", d.url, "--state-dir",
                      str(d.state), timeout=30)
    doc = json.loads(both.stdout)
    assert doc["Environments"] == [] and doc["Spares"][0]["pid"] == spare["pid"]
    assert doc["Spares"][0]["state"] == "spare"


def test_no_spares_and_ineligible_functions_start_fresh(daemon_factory):
    off = daemon_factory(extra_args=["--no-spares"])
    create(off.client(), "p", "python3.12", {"app.py": "def handler(e, c):\n    return 1\n"})
    time.sleep(1.0)
    assert off.environments()["Spares"] == []
    d = daemon_factory()
    c = d.client()
    # A variable the interpreter reads only at its start: a spare cannot honour it.
    create(c, "seeded", "python3.12",
           {"app.py": "import os, sys\ndef handler(e, c):\n    return sys.flags.hash_randomization\n"},
           Environment={"Variables": {"PYTHONHASHSEED": "0"}})
    spare = wait_spare(d, "python")
    r, body, _ = invoke(c, "seeded")
    assert body == 0  # PYTHONHASHSEED=0 took effect: a fresh interpreter
    assert env_of(d, "seeded")["from_spare"] is False
    assert spare["pid"] in {s["pid"] for s in d.environments()["Spares"]}
    # provided runtimes never have spares
    assert all(s["runtime"] in ("python", "nodejs") for s in d.environments()["Spares"])
    assert os.path.exists(GALLEY_BIN)


def test_spare_in_an_isolated_network(daemon_factory):
    """With --isolate-network the spare made its Runtime API listener inside its own network
    namespace at start; the environment serves it once the spare is taken."""
    d = daemon_factory(extra_args=["--isolate-network"])
    c = d.client()
    create(c, "iso", "python3.12",
           {"app.py": "import os\ndef handler(e, c):\n    return os.environ['AWS_LAMBDA_RUNTIME_API']\n"})
    spare = wait_spare(d, "python")
    r, body, tail = invoke(c, "iso")
    assert body == "127.0.0.1:9001" and "Init Duration:" in tail
    assert env_of(d, "iso")["pid"] == spare["pid"]
    assert invoke(c, "iso")[1] == "127.0.0.1:9001"  # warm, same environment
