# SPDX-License-Identifier: MIT
"""galley installed like a tool: `cmake --install` into a temporary prefix puts the binary,
its runtimes (found beside the executable, not in the source tree), the C runtime library
with its header and pkg-config file, a man page per command of the command table and the
bash and zsh completions; the installed galley serves a template. And the commands for shell
pipelines and CI: `galley help COMMAND`, `galley --version`, `galley serve --ready-file` and
`galley wait`."""
import os
import pathlib
import re
import shutil
import subprocess
import time

import pytest

from conftest import BUILD, GALLEY_BIN, ROOT
from helpers import py_basic_daemon, run_galley, wait_until
from install_helpers import serve_and_invoke

RUN_TIMEOUT = 120


def table_commands():
    """The command names `galley help` lists (the command table of src/main.c)."""
    out = run_galley("help", timeout=RUN_TIMEOUT).stdout
    return [m.group(1) for m in re.finditer(r"^  (\S+)\s", out, re.M)]


@pytest.fixture(scope="module")
def prefix(tmp_path_factory):
    root = tmp_path_factory.mktemp("prefix")
    res = subprocess.run(["cmake", "--install", str(BUILD), "--prefix", str(root)],
                         capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert res.returncode == 0, res.stderr
    return root


def test_install_puts_binary_runtimes_library_and_pkgconfig(prefix):
    for rel in ["bin/galley", "share/galley/runtimes/python/bootstrap",
                "share/galley/runtimes/nodejs/bootstrap", "include/galley/runtime.h"]:
        assert (prefix / rel).is_file(), rel
    assert os.access(prefix / "bin/galley", os.X_OK)
    libs = list(prefix.glob("lib*/**/libgalley_runtime.a"))
    pcs = list(prefix.glob("lib*/**/pkgconfig/galley-runtime.pc"))
    assert libs and pcs
    env = dict(os.environ, PKG_CONFIG_PATH=str(pcs[0].parent))
    flags = subprocess.run(["pkg-config", "--cflags", "--libs", "galley-runtime"], env=env,
                           capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert flags.returncode == 0, flags.stderr
    # The C example builds against the installed library alone (not the source tree).
    out = prefix / "hello-bootstrap"
    cc = subprocess.run(["cc", str(ROOT / "examples/hello-c/hello.c"), "-o", str(out),
                         *flags.stdout.split()], capture_output=True, text=True,
                        timeout=RUN_TIMEOUT)
    assert cc.returncode == 0, cc.stderr
    assert os.access(out, os.X_OK)


def test_man_pages_one_per_command_and_render(prefix):
    man1 = prefix / "share/man/man1"
    commands = table_commands()
    assert "serve" in commands and "wait" in commands
    pages = sorted(p.name for p in man1.glob("*.1"))
    assert pages == sorted(["galley.1"] + [f"galley-{c}.1" for c in commands])
    for page in pages:
        res = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-z", str(man1 / page)],
                             capture_output=True, text=True, timeout=RUN_TIMEOUT)
        assert res.returncode == 0 and not res.stderr, (page, res.stderr)
    serve = subprocess.run(["man", "-l", str(man1 / "galley-serve.1")], capture_output=True,
                           text=True, timeout=RUN_TIMEOUT, env=dict(os.environ, MANWIDTH="100"))
    text = re.sub(".\b", "", serve.stdout)
    assert "galley-serve - run the daemon" in text
    # Every option serve --help lists is in its page, with its description.
    assert "--ready-file FILE" in text and "write the API's URL to FILE" in text
    index = (man1 / "galley.1").read_text()
    for c in commands:
        assert f"galley\\-{c.replace('-', chr(92) + '-')} (1)" in index


def complete(script, words):
    """What the bash completion script offers for the command line `words` (last one being
    completed)."""
    line = " ".join(words)
    prog = (f"source {script}; COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; "
            "_galley; printf '%s\\n' \"${COMPREPLY[@]}\"")
    res = subprocess.run(["bash", "-c", prog], capture_output=True, text=True,
                         timeout=RUN_TIMEOUT)
    assert res.returncode == 0, res.stderr
    return res.stdout.split()


def test_bash_and_zsh_completion_from_the_command_table(prefix):
    bash = prefix / "share/bash-completion/completions/galley"
    zsh = prefix / "share/zsh/vendor-completions/_galley"
    assert bash.is_file() and zsh.is_file()
    assert complete(bash, ["galley", "''"]) == table_commands() + ["--help", "--version"]
    assert complete(bash, ["galley", "se"]) == ["serve"]
    assert complete(bash, ["galley", "serve", "--rea"]) == ["--ready-file"]
    assert complete(bash, ["galley", "wait", "--"]) == ["--endpoint", "--timeout"]
    assert complete(bash, ["galley", "help", "idle"]) == ["idle-timeout"]
    # A sentence mentioning an option is not an option of that command.
    assert "--idle-timeout" not in complete(bash, ["galley", "idle-timeout", "--"])
    text = zsh.read_text()
    assert text.startswith("#compdef galley")
    for c in table_commands():
        assert f"'{c}:" in text


def test_installed_galley_serves_a_template_with_its_own_runtimes(prefix, tmp_path,
                                                                   monkeypatch):
    log, answer = serve_and_invoke(monkeypatch, tmp_path, prefix / "bin/galley")
    assert answer["event"] == {"hello": "installed"}
    assert f"runtimes: {prefix.resolve()}/share/galley/runtimes" in log


def test_help_command_and_version():
    res = run_galley("help", "invoke", timeout=RUN_TIMEOUT)
    same = run_galley("invoke", "--help", timeout=RUN_TIMEOUT)
    assert res.returncode == 0 and res.stdout == same.stdout
    assert res.stdout.startswith("usage: galley invoke")
    res = run_galley("help", "nonsense", timeout=RUN_TIMEOUT)
    assert res.returncode == 2 and "unknown command 'nonsense'" in res.stderr
    cmake = (ROOT / "CMakeLists.txt").read_text()
    version = re.search(r"project\(galley VERSION (\S+)", cmake).group(1)
    assert run_galley("--version", timeout=RUN_TIMEOUT).stdout == f"galley {version}\n"
    top = run_galley("--help", timeout=RUN_TIMEOUT)
    assert top.returncode == 0 and "galley help COMMAND" in top.stdout


def test_ready_file_holds_the_url_until_the_daemon_stops(daemon_factory, tmp_path):
    ready = tmp_path / "run" / "ready"
    ready.parent.mkdir()
    d = py_basic_daemon(daemon_factory, tmp_path, {"Echo": {"Handler": "app.echo"}},
                        extra_args=["--ready-file", str(ready)])
    assert ready.read_text() == d.url + "\n"
    assert not list(ready.parent.glob("*.tmp"))
    res = run_galley("wait", "--endpoint", ready.read_text().strip(), "--timeout", "5",
                     timeout=RUN_TIMEOUT)
    assert res.returncode == 0, res.stderr
    assert d.stop() == 0
    assert not ready.exists()


def test_wait_waits_for_a_daemon_started_later(tmp_path):
    """The shell pipeline the docs show: start galley in the background, `galley wait`."""
    ready = tmp_path / "ready"
    port_probe = subprocess.run([GALLEY_BIN, "wait", "--endpoint", "http://127.0.0.1:9",
                                 "--timeout", "0.3"], capture_output=True, text=True,
                                timeout=RUN_TIMEOUT)
    assert port_probe.returncode == 1 and "no answer from http://127.0.0.1:9" in port_probe.stderr
    # Start the daemon on a port of our choosing after `galley wait` has begun waiting.
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    waiter = subprocess.Popen([GALLEY_BIN, "wait", "--timeout", "60"],
                              env=dict(os.environ, GALLEY_ENDPOINT=url),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    daemon = None
    try:
        time.sleep(0.5)
        assert waiter.poll() is None, "galley wait returned before any daemon existed"
        daemon = subprocess.Popen([GALLEY_BIN, "serve", "--listen", f"127.0.0.1:{port}",
                                   "--state-dir", str(tmp_path / "state"), "--no-watch",
                                   "--ready-file", str(ready)], cwd=str(tmp_path),
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert waiter.wait(timeout=60) == 0, waiter.stderr.read()
        assert wait_until(ready.exists, timeout=10)
    finally:
        if waiter.poll() is None:
            waiter.kill()
            waiter.wait(timeout=10)
        if daemon:
            daemon.terminate()
            daemon.wait(timeout=30)


@pytest.mark.parametrize("args,message", [
    (["--timeout", "soon"], "--timeout wants 0..86400 seconds, got 'soon'"),
    (["--timeout", "-1"], "--timeout wants 0..86400 seconds, got '-1'"),
    (["extra"], "unexpected argument 'extra'"),
    (["--endpoint", "http://[::1", "--timeout", "1"], "is not http://HOST:PORT"),
])
def test_wait_usage_errors(args, message):
    res = run_galley("wait", *args, timeout=RUN_TIMEOUT)
    assert res.returncode == 2 and message in res.stderr, res.stderr


def test_ready_file_that_cannot_be_written_stops_the_start(tmp_path):
    res = run_galley("serve", "--listen", "127.0.0.1:0", "--state-dir", str(tmp_path / "state"),
                     "--ready-file", str(tmp_path / "missing" / "ready"), timeout=RUN_TIMEOUT)
    assert res.returncode == 1
    assert "listening" not in res.stdout
    assert f"--ready-file {tmp_path}/missing/ready: No such file or directory" in res.stderr
