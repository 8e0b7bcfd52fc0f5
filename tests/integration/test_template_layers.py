# SPDX-License-Identifier: MIT
"""A served template's layers are layer versions (issue 10, section 1): GetLayerVersion,
GetLayerVersionByArn, ListLayers and ListLayerVersions show each as version 1 with CodeSize
and CodeSha256 of its directory; a function created through the API may name its ARN; the
layer is read-only through the API and hides versions of its name published before. Hot
reload of a function with several layers re-merges them when a file is added to one. A
layer's digest is walked off the loop once per start and once per change hot reload sees
(issue 9, section 3), so a layer of 20,000 files stalls no other client."""
import http.client
import json
import socket
import threading
import time

import pytest
from botocore.exceptions import ClientError

from conftest import zip_files
from test_layers import ACCOUNT_ARN, PY_APP, ROLE, err, invoke, sam_project


def test_template_layers_are_versions(daemon_factory, tmp_path):
    # A version of "deps" published before the template named it stays hidden while served.
    early = daemon_factory(state_dir=tmp_path / "state")
    early.client().publish_layer_version(LayerName="deps",
                                         Content={"ZipFile": zip_files({"old.txt": "old"})})
    early.stop()
    tpl = sam_project(tmp_path)
    d = daemon_factory(template=tpl, state_dir=tmp_path / "state")
    c = d.client()

    got = c.get_layer_version(LayerName="deps", VersionNumber=1)
    assert got["LayerVersionArn"] == f"{ACCOUNT_ARN}:layer:deps:1"
    assert got["LayerArn"] == f"{ACCOUNT_ARN}:layer:deps"
    assert got["CompatibleRuntimes"] == ["python3.12"]
    size = sum(len(p.read_bytes()) for p in (tmp_path / "deps").rglob("*") if p.is_file())
    assert got["Content"]["CodeSize"] == size
    assert got["Content"]["Location"] == f"file://{tmp_path / 'deps'}"
    sha = got["Content"]["CodeSha256"]
    assert len(sha) == 44
    assert c.get_layer_version_by_arn(Arn=f"{ACCOUNT_ARN}:layer:OverLayer:1")["Version"] == 1
    names = [lay["LayerName"] for lay in c.list_layers()["Layers"]]
    assert names == ["OverLayer", "deps"]
    assert [v["Version"] for v in c.list_layer_versions(LayerName="deps")["LayerVersions"]] == [1]
    assert [lay["LayerName"] for lay in c.list_layers(CompatibleRuntime="python3.12")[
        "Layers"]] == ["deps"]

    # The digest follows the content once hot reload has seen the change (it is walked off
    # the loop then, and a GetLayerVersion meanwhile waits for it).
    (tmp_path / "deps" / "python" / "extra.py").write_text("E = 1\n")
    wait_log(d, "reloading layer deps: python/extra.py changed")
    again = c.get_layer_version(LayerName="deps", VersionNumber=1)["Content"]
    assert again["CodeSha256"] != sha and again["CodeSize"] == size + 6
    by_arn = c.get_layer_version_by_arn(Arn=f"{ACCOUNT_ARN}:layer:deps:1")["Content"]
    assert by_arn["CodeSha256"] == again["CodeSha256"]

    # Read-only through the API, as template functions are.
    refused = ("InvalidParameterValueException",
               "Layer deps is defined by the template; change it in the template, galley "
               "cannot publish, delete or change versions of it through the API.", 400)
    assert err(c.publish_layer_version, LayerName="deps",
               Content={"ZipFile": zip_files({"a": "a"})}) == list(refused)
    assert err(c.delete_layer_version, LayerName="deps", VersionNumber=1) == list(refused)
    assert err(c.add_layer_version_permission, LayerName="deps", VersionNumber=1,
               StatementId="s", Action="lambda:GetLayerVersion", Principal="*") == list(refused)
    assert err(c.get_layer_version, LayerName="deps", VersionNumber=2)[0] == \
        "ResourceNotFoundException"


def test_api_function_uses_a_template_layer(daemon_factory, tmp_path):
    d = daemon_factory(template=sam_project(tmp_path))
    c = d.client()
    c.create_function(FunctionName="api-fn", Runtime="python3.12", Role=ROLE,
                      Handler="app.handler", Code={"ZipFile": zip_files({"app.py": PY_APP})},
                      Layers=[f"{ACCOUNT_ARN}:layer:deps:1", f"{ACCOUNT_ARN}:layer:OverLayer:1"])
    conf = c.get_function(FunctionName="api-fn")["Configuration"]
    assert [lay["Arn"] for lay in conf["Layers"]] == [f"{ACCOUNT_ARN}:layer:deps:1",
                                                      f"{ACCOUNT_ARN}:layer:OverLayer:1"]
    assert conf["Layers"][0]["CodeSize"] > 0
    assert invoke(c, "api-fn") == {"greet": "v1", "shared": "over"}
    with pytest.raises(ClientError) as e:
        c.create_function(FunctionName="api-bad", Runtime="python3.12", Role=ROLE,
                          Handler="app.handler", Code={"ZipFile": zip_files({"app.py": PY_APP})},
                          Layers=[f"{ACCOUNT_ARN}:layer:deps:2"])
    assert e.value.response["Error"]["Message"] == \
        f"Layer version {ACCOUNT_ARN}:layer:deps:2 does not exist."


def wait_log(d, text, timeout=20):
    deadline = time.monotonic() + timeout
    while text not in d.daemon_log():
        assert time.monotonic() < deadline, d.daemon_log()[-3000:]
        time.sleep(0.1)


def test_hot_reload_remerges_several_layers(daemon_factory, tmp_path):
    d = daemon_factory(template=sam_project(tmp_path))
    c = d.client()
    assert invoke(c, "Two") == {"greet": "v1", "shared": "over"}
    # A file added to the second layer is seen by the next invoke, without a restart.
    (tmp_path / "over" / "python" / "greet.py").write_text("def hello():\n    return 'new'\n")
    wait_log(d, "reloading Two: layer")
    assert invoke(c, "Two") == {"greet": "new", "shared": "over"}
    # An edit in the first layer (overridden by the second for shared.py) and a removal.
    (tmp_path / "over" / "python" / "shared.py").unlink()
    wait_log(d, "python/shared.py")
    deadline = time.monotonic() + 20
    while invoke(c, "Two")["shared"] != "deps":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert invoke(c, "Two") == {"greet": "new", "shared": "deps"}
    # One still runs straight from its single layer's directory.
    assert invoke(c, "One") == {"greet": "v1", "shared": "deps"}


BIG = """AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Resources:
  BigLayer:
    Type: AWS::Serverless::LayerVersion
    Properties:
      LayerName: big
      ContentUri: big/
"""


def walks(d):
    return d.daemon_log().count("layer big: CodeSha256 of ")


def big_project(daemon_factory, tmp_path):
    """A node_modules-like tree no function uses: 20,000 empty files in 40 directories, the
    template naming it as layer "big", and the daemon serving it (debug log)."""
    for i in range(40):
        sub = tmp_path / "big" / "node_modules" / f"pkg{i}"
        sub.mkdir(parents=True)
        for k in range(500):
            (sub / f"f{k}.js").touch()
    (tmp_path / "template.yaml").write_text(BIG)
    return daemon_factory(template=tmp_path / "template.yaml",
                          extra_args=["--log-level", "debug"])


def test_big_template_layer_does_not_stall_the_loop(daemon_factory, tmp_path):
    d = big_project(daemon_factory, tmp_path)
    c = d.client()
    first = c.get_layer_version(LayerName="big", VersionNumber=1)["Content"]  # waits for it
    assert first["CodeSize"] == 0 and len(first["CodeSha256"]) == 44
    wait_log(d, "layer big: CodeSha256 of 20000 entries (0 bytes) walked")

    # One client polls the calls that show the layer; another's cheap call keeps answering.
    rounds, heavy, cheap, slow, failures = 20, [], [], [], []
    done = threading.Event()

    def poll():
        try:
            for _ in range(rounds):
                assert [lay["LayerName"] for lay in c.list_layers()["Layers"]] == ["big"]
                got = c.get_layer_version(LayerName="big", VersionNumber=1)["Content"]
                assert got["CodeSha256"] == first["CodeSha256"]
                c.list_layer_versions(LayerName="big")
                heavy.append(1)
        except Exception as e:  # reported below
            failures.append(repr(e))
        finally:
            done.set()

    def ping():
        conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=30)
        try:
            while not done.is_set() and len(cheap) < 100000:
                t0 = time.monotonic()
                conn.request("GET", "/2015-03-31/functions/")
                r = conn.getresponse()
                r.read()
                if r.status != 200:
                    failures.append(f"ListFunctions: {r.status}")
                if time.monotonic() - t0 > 2:
                    slow.append(time.monotonic() - t0)
                cheap.append(1)
        finally:
            conn.close()

    threads = [threading.Thread(target=poll), threading.Thread(target=ping)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not failures and not slow, (failures, slow)
    assert len(heavy) == rounds and len(cheap) >= rounds
    # Walked once at start, not per call (60 calls showed or listed it).
    assert walks(d) == 1, d.daemon_log()[-3000:]

    # A change is seen by hot reload (the layer's directory is watched though no function
    # uses it) and walked once more: a new CodeSha256.
    (tmp_path / "big" / "node_modules" / "pkg7" / "added.js").write_text("x")
    wait_log(d, "reloading layer big: node_modules/pkg7/added.js changed")
    got = c.get_layer_version(LayerName="big", VersionNumber=1)["Content"]
    assert got["CodeSha256"] != first["CodeSha256"] and got["CodeSize"] == 1
    assert walks(d) == 2


def test_callers_wait_for_the_walk_and_may_leave(daemon_factory, tmp_path):
    d = big_project(daemon_factory, tmp_path)
    wait_log(d, "layer big: CodeSha256 of 20000 entries")
    first = d.client().get_layer_version(LayerName="big", VersionNumber=1)["Content"]
    path = "/2018-10-31/layers/big/versions/1"
    stop, answers, bad = threading.Event(), [], []

    def stay():  # reads every answer: each has the digest of a whole walk
        conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=30)
        while not stop.is_set() and len(answers) < 100000:
            conn.request("GET", path)
            r = conn.getresponse()
            body = json.loads(r.read())
            if r.status != 200 or len(body["Content"]["CodeSha256"]) != 44:
                bad.append((r.status, body))
            answers.append(1)
        conn.close()

    def leave():  # hangs up at once: a parked request whose client is gone
        for _ in range(100000):
            if stop.is_set():
                break
            s = socket.create_connection(("127.0.0.1", d.port), timeout=30)
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
            s.close()
            time.sleep(0.001)

    threads = [threading.Thread(target=stay), threading.Thread(target=leave)]
    for t in threads:
        t.start()
    try:
        for i in range(5):  # five changes, five walks while both poll
            (tmp_path / "big" / "node_modules" / "pkg1" / f"added{i}.js").write_text("x")
            wait_log(d, f"reloading layer big: node_modules/pkg1/added{i}.js changed")
            time.sleep(0.2)
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert not bad and answers, bad[:3]
    assert "waits for layer big's CodeSha256" in d.daemon_log()
    got = d.client().get_layer_version(LayerName="big", VersionNumber=1)["Content"]
    assert got["CodeSha256"] != first["CodeSha256"] and got["CodeSize"] == 5
    assert d.proc.poll() is None
