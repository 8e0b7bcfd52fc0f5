# SPDX-License-Identifier: MIT
"""The README's promise: examples/template.yaml served by galley, each hello function invoked
with the AWS CLI v2 exactly as examples/README.md shows, cold then warm."""
import base64
import json

from conftest import BUILD, ROOT


def test_examples_template_with_aws_cli(daemon_factory, tmp_path):
    d = daemon_factory(template=ROOT / "examples" / "template.yaml", extra_args=[
        "--parameter-overrides", f"HelloCCodeDir={BUILD / 'examples' / 'hello-c'}"])
    for name, greeting in [("HelloPython", "Hello from Python"), ("HelloNode", "Hello from Node"),
                           ("HelloC", "Hello from C")]:
        for attempt in (1, 2):
            out = tmp_path / f"{name}-{attempt}.json"
            res = d.cli("invoke", "--function-name", name, "--cli-binary-format",
                        "raw-in-base64-out", "--payload", '{"name":"galley"}', "--log-type",
                        "Tail", str(out))
            meta = json.loads(res.stdout)
            assert meta["StatusCode"] == 200 and "FunctionError" not in meta, out.read_text()
            tail = base64.b64decode(meta["LogResult"]).decode()
            assert ("Init Duration" in tail) == (attempt == 1), tail
            assert greeting in out.read_text(), out.read_text()
