# SPDX-License-Identifier: MIT
"""A served template's layers are layer versions (issue 10, section 1): GetLayerVersion,
GetLayerVersionByArn, ListLayers and ListLayerVersions show each as version 1 with CodeSize
and CodeSha256 of its directory; a function created through the API may name its ARN; the
layer is read-only through the API and hides versions of its name published before. Hot
reload of a function with several layers re-merges them when a file is added to one."""
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

    # The digest follows the content.
    (tmp_path / "deps" / "python" / "extra.py").write_text("E = 1\n")
    again = c.get_layer_version(LayerName="deps", VersionNumber=1)["Content"]
    assert again["CodeSha256"] != sha and again["CodeSize"] == size + 6

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
