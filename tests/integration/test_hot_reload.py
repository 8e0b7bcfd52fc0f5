# SPDX-License-Identifier: MIT
"""Hot reload of template functions (issue 5): editing a file under a function's code
directory retires its environments, so the next invoke is cold and runs the new code; an invoke
running during the edit finishes on the old code; functions sharing a directory and a
template-published version reload together; --no-watch keeps environments warm."""
import json
import shutil
import threading
import time
import urllib.request

from conftest import FIXTURES, write_template

RELOAD_DEADLINE = 8  # seconds: the debounce is 0.2 s; the rest is slack for a loaded machine


def raw_invoke(d, name, payload=b"{}", qualifier=None):
    """Invoke over plain HTTP to read galley's own headers (boto3 hides them)."""
    url = f"{d.url}/2015-03-31/functions/{name}/invocations"
    if qualifier:
        url += f"?Qualifier={qualifier}"
    req = urllib.request.Request(url, data=payload, method="POST")
    with urllib.request.urlopen(req, timeout=60) as r:
        body = json.loads(r.read())
        return body, {k.lower(): v for k, v in r.headers.items()}


def handler_source(version):
    # Versions differ in length too: Python's bytecode cache trusts (mtime, size), and two
    # edits within one second must not look alike.
    return (
        "import time\n"
        f"VERSION = {version!r}\n"
        "def handler(event, context):\n"
        "    return VERSION\n"
        "def slow(event, context):\n"
        "    time.sleep(1.5)\n"
        "    return VERSION\n"
    )


def code_dir(tmp_path):
    """A copy of the py_basic fixture plus hot.py, the handler the tests edit."""
    dst = tmp_path / "code"
    shutil.copytree(FIXTURES / "py_basic", dst, ignore=shutil.ignore_patterns("__pycache__"))
    (dst / "hot.py").write_text(handler_source("one"))
    (dst / "lib").mkdir()
    (dst / "lib" / "data.txt").write_text("x\n")
    return dst


def serve(daemon_factory, tmp_path, functions, extra_args=()):
    tpl = write_template(tmp_path, functions)
    return daemon_factory(template=tpl, extra_args=extra_args)


def props(src, handler="hot.handler", **more):
    p = {"CodeUri": str(src), "Handler": handler, "Runtime": "python3.11", "Timeout": 30}
    p.update(more)
    return p


def wait_for_result(d, name, want, qualifier=None):
    """Invoke until the result is want (bounded); returns the headers of that invoke."""
    deadline = time.monotonic() + RELOAD_DEADLINE
    seen = []
    while time.monotonic() < deadline:
        body, headers = raw_invoke(d, name, qualifier=qualifier)
        if body == want:
            return headers
        seen.append(body)
        time.sleep(0.1)
    raise AssertionError(f"{name}: still {seen[-3:]} after {RELOAD_DEADLINE} s\n{d.daemon_log()}")


def wait_busy(d, name):
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        req = urllib.request.Request(d.url + "/_galley/environments",
                                     headers={"X-Galley-Control-Token": d.control_token})
        with urllib.request.urlopen(req, timeout=10) as r:
            envs = json.loads(r.read())["Environments"]
        if any(e["function"] == name and e["status"] == "busy" for e in envs):
            return
        time.sleep(0.05)
    raise AssertionError(f"{name} never became busy")


def test_edit_reloads_and_next_invoke_is_cold(daemon_factory, tmp_path):
    src = code_dir(tmp_path)
    d = serve(daemon_factory, tmp_path, {"HotFn": props(src)})
    log = d.daemon_log()
    assert f"hot reload: watching 1 code directory (2 directories in all): {src} (2" in log, log
    body, h1 = raw_invoke(d, "HotFn")
    assert body == "one" and h1["x-galley-cold-start"] == "true"
    # Invokes alone (the runtime reading the code, Python writing bytecode) reload nothing.
    time.sleep(0.5)
    body, h2 = raw_invoke(d, "HotFn")
    assert body == "one" and h2["x-galley-cold-start"] == "false"
    assert h2["x-galley-environment-id"] == h1["x-galley-environment-id"]

    (src / "hot.py").write_text(handler_source("two-two"))
    h3 = wait_for_result(d, "HotFn", "two-two")
    assert h3["x-galley-cold-start"] == "true"
    assert h3["x-galley-environment-id"] != h1["x-galley-environment-id"]
    assert d.daemon_log().count("reloading HotFn: hot.py changed") == 1
    # Then warm again on the new code.
    body, h4 = raw_invoke(d, "HotFn")
    assert body == "two-two" and h4["x-galley-cold-start"] == "false"

    # A change in a subdirectory, and in one created after start, reloads too.
    (src / "lib" / "data.txt").write_text("y\n")
    wait_for_log(d, "reloading HotFn: lib/data.txt changed")
    (src / "pkg").mkdir()
    wait_for_log(d, "reloading HotFn: pkg changed")
    raw_invoke(d, "HotFn")
    (src / "pkg" / "mod.py").write_text("X = 1\n")
    wait_for_log(d, "reloading HotFn: pkg/mod.py changed")
    assert raw_invoke(d, "HotFn")[1]["x-galley-cold-start"] == "true"


def wait_for_log(d, text):
    deadline = time.monotonic() + RELOAD_DEADLINE
    while time.monotonic() < deadline:
        if text in d.daemon_log():
            return
        time.sleep(0.05)
    raise AssertionError(f"no {text!r} in the log:\n{d.daemon_log()}")


def test_ignored_files_do_not_reload(daemon_factory, tmp_path):
    src = code_dir(tmp_path)
    d = serve(daemon_factory, tmp_path, {"HotFn": props(src)})
    _, h1 = raw_invoke(d, "HotFn")
    (src / ".hot.py.swp").write_text("swap")
    (src / "hot.py~").write_text("backup")
    (src / "__pycache__").mkdir(exist_ok=True)
    (src / "__pycache__" / "hot.cpython-311.pyc").write_bytes(b"\0")
    time.sleep(1.0)  # five debounce periods: long enough for a reload that should not happen
    body, h2 = raw_invoke(d, "HotFn")
    assert body == "one" and h2["x-galley-environment-id"] == h1["x-galley-environment-id"]
    assert "reloading" not in d.daemon_log()


def test_inflight_invoke_finishes_on_old_code(daemon_factory, tmp_path):
    src = code_dir(tmp_path)
    d = serve(daemon_factory, tmp_path, {"Slow": props(src, handler="hot.slow")})
    _, h1 = raw_invoke(d, "Slow")  # warm, so the next invoke starts at once
    out = {}

    def call():
        out["result"] = raw_invoke(d, "Slow")

    t = threading.Thread(target=call)
    t.start()
    wait_busy(d, "Slow")
    (src / "hot.py").write_text(handler_source("two-two"))
    wait_for_log(d, "reloading Slow: hot.py changed")
    t.join(timeout=30)
    assert not t.is_alive()
    body, h2 = out["result"]
    assert body == "one" and h2["x-galley-cold-start"] == "false"
    assert h2["x-galley-environment-id"] == h1["x-galley-environment-id"]
    assert "x-amz-function-error" not in h2
    body, h3 = raw_invoke(d, "Slow")
    assert body == "two-two" and h3["x-galley-cold-start"] == "true"
    assert h3["x-galley-environment-id"] != h1["x-galley-environment-id"]


def test_shared_directory_and_published_version_reload(daemon_factory, tmp_path):
    src = code_dir(tmp_path)
    d = serve(daemon_factory, tmp_path, {
        "First": props(src),
        "Second": props(src, AutoPublishAlias="live"),
    })
    log = d.daemon_log()
    assert f"{src} (2 directories, 2 functions)" in log, log
    before = {}
    for name, q in (("First", None), ("Second", None), ("Second", "live")):
        body, h = raw_invoke(d, name, qualifier=q)
        assert body == "one"
        before[(name, q)] = h["x-galley-environment-id"]
    (src / "hot.py").write_text(handler_source("two-two"))
    for name, q in before:
        h = wait_for_result(d, name, "two-two", qualifier=q)
        assert h["x-galley-cold-start"] == "true", (name, q)
        assert h["x-galley-environment-id"] != before[(name, q)]
    log = d.daemon_log()
    assert log.count("reloading First: hot.py changed") == 1
    assert log.count("reloading Second: hot.py changed") == 1


def test_no_watch_keeps_environment_warm(daemon_factory, tmp_path):
    src = code_dir(tmp_path)
    d = serve(daemon_factory, tmp_path, {"HotFn": props(src)}, extra_args=["--no-watch"])
    assert "hot reload: off (--no-watch)" in d.daemon_log()
    body, h1 = raw_invoke(d, "HotFn")
    assert body == "one"
    (src / "hot.py").write_text(handler_source("two-two"))
    time.sleep(1.0)  # five debounce periods: a watching daemon would have reloaded by now
    body, h2 = raw_invoke(d, "HotFn")
    assert body == "one" and h2["x-galley-cold-start"] == "false"
    assert h2["x-galley-environment-id"] == h1["x-galley-environment-id"]
    assert "reloading" not in d.daemon_log()
