# SPDX-License-Identifier: MIT
"""Helpers of the installed-galley tests (test_install.py, test_package.py): serve a template
with a galley installed elsewhere (a `cmake --install` prefix, an unpacked .deb) and invoke
one function through boto3."""
import json

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
