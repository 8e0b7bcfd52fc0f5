# SPDX-License-Identifier: MIT
"""Helpers of the tests of galley as others install and use it (test_install.py,
test_package.py, test_pytest_plugin.py, test_node_helper.py): serve a template with a galley
installed elsewhere (a `cmake --install` prefix, an unpacked .deb) and invoke one function
through boto3; find the processes a test harness may have left behind."""
import json
import os

import conftest
from conftest import FIXTURES, Daemon, write_template


def serve_and_invoke(monkeypatch, tmp_path, galley_bin):
    """Start galley_bin serve on a template of the py_basic echo function, invoke it once with
    boto3, stop the daemon; returns (the daemon's log, the decoded answer)."""
    monkeypatch.setattr(conftest, "GALLEY_BIN", str(galley_bin))
    tmp_path.mkdir(parents=True, exist_ok=True)
    tpl = write_template(tmp_path, {"Echo": {"CodeUri": str(FIXTURES / "py_basic"),
                                             "Runtime": "python3.11", "Handler": "app.echo"}},
                         globals_={"Timeout": 10})
    d = Daemon(tmp_path, template=tpl).start()
    try:
        resp = d.client().invoke(FunctionName="Echo", Payload=b'{"hello": "installed"}')
        answer = json.loads(resp["Payload"].read())
        assert "FunctionError" not in resp, answer
    finally:
        assert d.stop() == 0
    return d.daemon_log(), answer


def processes_mentioning(marker):
    """pids of live processes whose command line contains marker (a temporary directory a
    harness gave its daemon), to check that none outlived the run."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    if marker.encode() in f.read():
                        found.append(int(entry))
            except OSError:
                continue
    return found
