# SPDX-License-Identifier: MIT
"""Layers: the nine layer operations through boto3 and the AWS CLI (publish, get, get by ARN,
list with filters and pages, delete with numbers never reused, permissions), a function's
Layers (Python and Node functions importing a library from a layer, two layers overriding a
file in order, a published version keeping its layers, Lambda's errors and limits), and
persistence across a restart."""
import io
import json
import zipfile

import pytest
from botocore.exceptions import ClientError

from conftest import zip_files

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
ACCOUNT_ARN = "arn:aws:lambda:us-east-1:123456789012"

PY_APP = """
import greet, shared
def handler(event, context):
    return {"greet": greet.hello(), "shared": shared.WHO}
"""
NODE_APP = """
const greet = require('greet');
exports.handler = async () => ({greet: greet.hello(), path: process.env.NODE_PATH});
"""


def deflated(name, size):
    """A zip of one file of size zero bytes, compressed (zip_files stores its entries)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(name, b"\0" * size)
    return buf.getvalue()


def err(call, **kw):
    with pytest.raises(ClientError) as e:
        call(**kw)
    r = e.value.response
    return [r["Error"]["Code"], r["Error"]["Message"], r["ResponseMetadata"]["HTTPStatusCode"]]


def publish(c, name, files, **kw):
    return c.publish_layer_version(LayerName=name, Content={"ZipFile": zip_files(files)}, **kw)


def test_publish_get_list_delete(daemon_factory):
    d = daemon_factory()
    c = d.client()
    zip_bytes = zip_files({"python/libx.py": "X = 1\n"})
    v1 = c.publish_layer_version(LayerName="libx", Content={"ZipFile": zip_bytes},
                                 Description="first", CompatibleRuntimes=["python3.12"],
                                 CompatibleArchitectures=["x86_64"], LicenseInfo="MIT")
    assert v1["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert v1["Version"] == 1
    assert v1["LayerArn"] == f"{ACCOUNT_ARN}:layer:libx"
    assert v1["LayerVersionArn"] == f"{ACCOUNT_ARN}:layer:libx:1"
    assert v1["Content"]["CodeSize"] == len(zip_bytes)
    import base64
    import hashlib
    assert v1["Content"]["CodeSha256"] == base64.b64encode(
        hashlib.sha256(zip_bytes).digest()).decode()
    assert v1["CompatibleRuntimes"] == ["python3.12"] and v1["LicenseInfo"] == "MIT"
    v2 = publish(c, "libx", {"python/libx.py": "X = 2\n"}, CompatibleRuntimes=["nodejs20.x"])
    assert v2["Version"] == 2

    got = c.get_layer_version(LayerName="libx", VersionNumber=1)
    assert got["Description"] == "first" and got["Content"]["CodeSha256"] == \
        v1["Content"]["CodeSha256"]
    by_arn = c.get_layer_version_by_arn(Arn=f"{ACCOUNT_ARN}:layer:libx:2")
    assert by_arn["Version"] == 2
    assert c.get_layer_version(LayerName=f"{ACCOUNT_ARN}:layer:libx", VersionNumber=2)[
        "Version"] == 2

    versions = c.list_layer_versions(LayerName="libx")["LayerVersions"]
    assert [v["Version"] for v in versions] == [2, 1]
    only_py = c.list_layer_versions(LayerName="libx", CompatibleRuntime="python3.12")
    assert [v["Version"] for v in only_py["LayerVersions"]] == [1]
    page = c.list_layer_versions(LayerName="libx", MaxItems=1)
    assert [v["Version"] for v in page["LayerVersions"]] == [2] and page["NextMarker"]
    rest = c.list_layer_versions(LayerName="libx", MaxItems=1, Marker=page["NextMarker"])
    assert [v["Version"] for v in rest["LayerVersions"]] == [1] and "NextMarker" not in rest

    publish(c, "other", {"bin/tool": "x"})
    layers = c.list_layers()["Layers"]
    assert [(lay["LayerName"], lay["LatestMatchingVersion"]["Version"]) for lay in layers] == \
        [("libx", 2), ("other", 1)]
    py_layers = c.list_layers(CompatibleRuntime="python3.12")["Layers"]
    assert [(lay["LayerName"], lay["LatestMatchingVersion"]["Version"])
            for lay in py_layers] == [("libx", 1)]
    first = c.list_layers(MaxItems=1)
    assert [lay["LayerName"] for lay in first["Layers"]] == ["libx"]
    assert [lay["LayerName"] for lay in c.list_layers(Marker=first["NextMarker"])["Layers"]] \
        == ["other"]

    # Deleting: 204 (also for a version that is not there); numbers are never reused.
    assert c.delete_layer_version(LayerName="libx", VersionNumber=2)[
        "ResponseMetadata"]["HTTPStatusCode"] == 204
    c.delete_layer_version(LayerName="libx", VersionNumber=2)
    assert err(c.get_layer_version, LayerName="libx", VersionNumber=2) == [
        "ResourceNotFoundException", "The resource you requested does not exist.", 404]
    assert publish(c, "libx", {"a": "b"})["Version"] == 3

    # Errors as Lambda words them.
    e = err(c.publish_layer_version, LayerName="libx",
            Content={"S3Bucket": "bucket", "S3Key": "k.zip"})
    assert e[0] == "InvalidParameterValueException" and e[2] == 400
    e = err(c.publish_layer_version, LayerName="libx", Content={"ZipFile": b"not a zip"})
    assert e == ["InvalidParameterValueException", "Could not unzip uploaded file. Please check "
                 "your file, then try to upload again.", 400]
    e = err(c.get_layer_version_by_arn, Arn=f"{ACCOUNT_ARN}:layer:nope:1")
    assert e[0] == "ResourceNotFoundException"
    e = err(c.list_layer_versions, LayerName="libx", CompatibleArchitecture="sparc")
    assert e[0] == "ValidationException" and "'compatibleArchitecture'" in e[1]
    e = err(c.publish_layer_version, LayerName="bad.name", Content={"ZipFile": zip_bytes})
    assert e[0] == "ValidationException" and "'layerName'" in e[1]
    e = err(c.publish_layer_version, LayerName="libx", Content={"ZipFile": zip_bytes},
            Description="x" * 257)
    assert e[0] == "ValidationException" and "'description'" in e[1]


def test_permissions_stored_not_enforced(daemon_factory):
    d = daemon_factory()
    c = d.client()
    publish(c, "shared", {"python/s.py": "S = 1\n"})
    assert err(c.get_layer_version_policy, LayerName="shared", VersionNumber=1) == [
        "ResourceNotFoundException", "No policy is associated with the given resource.", 404]
    r = c.add_layer_version_permission(LayerName="shared", VersionNumber=1, StatementId="all",
                                       Action="lambda:GetLayerVersion", Principal="*")
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 201
    st = json.loads(r["Statement"])
    assert st == {"Sid": "all", "Effect": "Allow", "Principal": "*",
                  "Action": "lambda:GetLayerVersion",
                  "Resource": f"{ACCOUNT_ARN}:layer:shared:1"}
    c.add_layer_version_permission(LayerName="shared", VersionNumber=1, StatementId="acct",
                                   Action="lambda:GetLayerVersion", Principal="210987654321",
                                   OrganizationId="o-abcdefghij")
    pol = c.get_layer_version_policy(LayerName="shared", VersionNumber=1)
    doc = json.loads(pol["Policy"])
    assert [s["Sid"] for s in doc["Statement"]] == ["all", "acct"]
    assert doc["Statement"][1]["Principal"] == {"AWS": "arn:aws:iam::210987654321:root"}
    assert doc["Statement"][1]["Condition"] == {
        "StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}}
    e = err(c.add_layer_version_permission, LayerName="shared", VersionNumber=1,
            StatementId="all", Action="lambda:GetLayerVersion", Principal="*")
    assert e[0] == "ResourceConflictException" and e[2] == 409
    e = err(c.add_layer_version_permission, LayerName="shared", VersionNumber=1,
            StatementId="x", Action="lambda:InvokeFunction", Principal="*")
    assert e[0] == "ValidationException"
    e = err(c.remove_layer_version_permission, LayerName="shared", VersionNumber=1,
            StatementId="all", RevisionId="stale")
    assert e[0] == "PreconditionFailedException" and e[2] == 412
    c.remove_layer_version_permission(LayerName="shared", VersionNumber=1, StatementId="all",
                                      RevisionId=pol["RevisionId"])
    e = err(c.remove_layer_version_permission, LayerName="shared", VersionNumber=1,
            StatementId="all")
    assert e == ["ResourceNotFoundException", "Statement all is not found in resource policy.",
                 404]
    doc = json.loads(c.get_layer_version_policy(LayerName="shared", VersionNumber=1)["Policy"])
    assert [s["Sid"] for s in doc["Statement"]] == ["acct"]
    assert err(c.get_layer_version_policy, LayerName="shared", VersionNumber=9)[2] == 404


def invoke(c, name, qualifier=None):
    kw = {"Qualifier": qualifier} if qualifier else {}
    r = c.invoke(FunctionName=name, Payload=b"{}", **kw)
    body = json.loads(r["Payload"].read())
    assert "FunctionError" not in r, body
    return body


def test_python_and_node_import_from_layers(daemon_factory, tmp_path):
    state = tmp_path / "state"
    d = daemon_factory(state_dir=state)
    c = d.client()
    base = publish(c, "base", {"python/greet.py": "def hello():\n    return 'base'\n",
                               "python/shared.py": "WHO = 'base'\n",
                               "nodejs/node_modules/greet/index.js":
                                   "exports.hello = () => 'node-layer';\n"})
    over = publish(c, "over", {"python/lib/python3.12/site-packages/shared.py": "WHO = 'over'\n"})
    arns = [base["LayerVersionArn"], over["LayerVersionArn"]]
    fn = c.create_function(FunctionName="py", Runtime="python3.12", Handler="app.handler",
                           Role=ROLE, Code={"ZipFile": zip_files({"app.py": PY_APP})},
                           Layers=arns)
    assert fn["Layers"] == [{"Arn": arns[0], "CodeSize": base["Content"]["CodeSize"]},
                            {"Arn": arns[1], "CodeSize": over["Content"]["CodeSize"]}]
    assert c.get_function(FunctionName="py")["Configuration"]["Layers"] == fn["Layers"]
    # Both layers merged; the site-packages path comes before /opt/python, as on Lambda.
    assert invoke(c, "py") == {"greet": "base", "shared": "over"}

    c.create_function(FunctionName="node", Runtime="nodejs20.x", Handler="index.handler",
                      Role=ROLE, Code={"ZipFile": zip_files({"index.js": NODE_APP})},
                      Layers=[arns[0]])
    out = invoke(c, "node")
    assert out["greet"] == "node-layer"
    assert out["path"].startswith("/opt/nodejs/node20/node_modules:/opt/nodejs/node_modules:")

    # A later layer overrides an earlier one's file; the order is the list's.
    one = publish(c, "one", {"python/greet.py": "def hello():\n    return 'one'\n"})
    c.update_function_configuration(FunctionName="py",
                                    Layers=[arns[0], one["LayerVersionArn"]])
    c.get_waiter("function_updated").wait(FunctionName="py")
    ver = c.publish_version(FunctionName="py")["Version"]
    assert invoke(c, "py")["greet"] == "one"
    c.update_function_configuration(FunctionName="py",
                                    Layers=[one["LayerVersionArn"], arns[0]])
    assert invoke(c, "py")["greet"] == "base"
    # The published version keeps its layers, even once one of them is deleted.
    c.delete_layer_version(LayerName="one", VersionNumber=1)
    assert invoke(c, "py", ver)["greet"] == "one"
    assert c.get_function(FunctionName="py", Qualifier=ver)["Configuration"]["Layers"][1][
        "Arn"] == one["LayerVersionArn"]
    # New code for a function whose layers include a deleted version: the layers stay.
    c.update_function_code(FunctionName="py", ZipFile=zip_files({"app.py": PY_APP}))
    assert invoke(c, "py")["greet"] == "base"

    # Kept across a restart: the layers and the functions using them. The merge of a list no
    # function uses any more ([base, over]) is removed then.
    merged = state / "layers" / ".merged"
    assert len(list(merged.iterdir())) == 4
    d.stop()
    d = daemon_factory(state_dir=state)
    assert len(list(merged.iterdir())) == 3
    c = d.client()
    assert [v["Version"] for v in c.list_layer_versions(LayerName="base")["LayerVersions"]] == [1]
    assert invoke(c, "py") == {"greet": "base", "shared": "base"}
    assert invoke(c, "py", ver)["greet"] == "one"
    assert invoke(c, "node")["greet"] == "node-layer"


def test_function_layer_errors(daemon_factory):
    d = daemon_factory()
    c = d.client()
    lay = publish(c, "lay", {"python/a.py": "A = 1\n"})["LayerVersionArn"]
    lay2 = publish(c, "lay", {"python/a.py": "A = 2\n"})["LayerVersionArn"]
    code = {"ZipFile": zip_files({"app.py": "def handler(e, c):\n    return 1\n"})}

    def create(layers, name="f"):
        return err(c.create_function, FunctionName=name, Runtime="python3.12",
                   Handler="app.handler", Role=ROLE, Code=code, Layers=layers)

    missing = f"{ACCOUNT_ARN}:layer:nope:1"
    assert create([missing]) == ["InvalidParameterValueException",
                                 f"Layer version {missing} does not exist.", 400]
    e = create([lay, lay2])
    assert e[0] == "InvalidParameterValueException" and e[2] == 400
    assert e[1].startswith("Two different versions of the same layer are not allowed")
    e = create([lay] * 6)
    assert e[0] == "ValidationException" and "Member must have length less than or equal to 5" \
        in e[1]
    e = create([f"{ACCOUNT_ARN}:layer:lay"])
    assert e[0] == "ValidationException" and "at 'layers' failed to satisfy constraint" in e[1]
    # Nothing was left behind by the refused creates.
    assert err(c.get_function, FunctionName="f")[2] == 404

    # Code plus layers over 250 MB unzipped (zeros compress well).
    big = c.publish_layer_version(LayerName="big", Content={
        "ZipFile": deflated("blob", 200 * 1024 * 1024)})["LayerVersionArn"]
    big2 = c.publish_layer_version(LayerName="big2", Content={
        "ZipFile": deflated("blob2", 60 * 1024 * 1024)})["LayerVersionArn"]
    e = create([big, big2])
    assert e[0] == "InvalidParameterValueException" and e[2] == 400
    assert e[1].startswith("Function code combined with layers exceeds the maximum allowed size "
                           "of 262144000 bytes. The actual size is ")
    c.create_function(FunctionName="ok", Runtime="python3.12", Handler="app.handler", Role=ROLE,
                      Code=code, Layers=[lay])
    e = err(c.update_function_configuration, FunctionName="ok", Layers=[big, big2])
    assert e[0] == "InvalidParameterValueException"
    assert c.get_function(FunctionName="ok")["Configuration"]["Layers"][0]["Arn"] == lay
    # [] removes every layer.
    assert "Layers" not in c.update_function_configuration(FunctionName="ok", Layers=[])


def test_aws_cli(daemon_factory, tmp_path):
    d = daemon_factory()
    z = tmp_path / "layer.zip"
    z.write_bytes(zip_files({"bin/hello": ("#!/bin/sh\necho hi\n", 0o755)}))
    out = json.loads(d.cli("publish-layer-version", "--layer-name", "tools", "--zip-file",
                           f"fileb://{z}", "--compatible-runtimes", "provided.al2023").stdout)
    assert out["Version"] == 1
    listed = json.loads(d.cli("list-layers").stdout)["Layers"]
    assert listed[0]["LayerName"] == "tools"
    d.cli("delete-layer-version", "--layer-name", "tools", "--version-number", "1")
    assert json.loads(d.cli("list-layers").stdout)["Layers"] == []


SAM = """AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.12
    Layers:
      - !Ref DepsLayer
Resources:
  DepsLayer:
    Type: AWS::Serverless::LayerVersion
    Properties:
      LayerName: deps
      ContentUri: deps/
      CompatibleRuntimes: [python3.12]
  OverLayer:
    Type: AWS::Lambda::LayerVersion
    Properties:
      Content: over/
  One:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
  Two:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: src/
      Handler: app.handler
      Layers:
        - !Ref OverLayer
"""


def sam_project(tmp_path):
    """SAM's project in tmp_path: src/app.py, the layers deps/ and over/; the template."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.py").write_text(PY_APP)
    (tmp_path / "deps" / "python").mkdir(parents=True)
    (tmp_path / "deps" / "python" / "greet.py").write_text("def hello():\n    return 'v1'\n")
    (tmp_path / "deps" / "python" / "shared.py").write_text("WHO = 'deps'\n")
    (tmp_path / "over" / "python").mkdir(parents=True)
    (tmp_path / "over" / "python" / "shared.py").write_text("WHO = 'over'\n")
    tpl = tmp_path / "template.yaml"
    tpl.write_text(SAM)
    return tpl


def test_sam_layers_and_hot_reload(daemon_factory, tmp_path):
    import time
    d = daemon_factory(template=sam_project(tmp_path))
    c = d.client()
    conf = c.get_function(FunctionName="One")["Configuration"]
    assert conf["Layers"] == [{"Arn": f"{ACCOUNT_ARN}:layer:deps:1", "CodeSize": 0}]
    assert [lay["Arn"] for lay in c.get_function(FunctionName="Two")["Configuration"][
        "Layers"]] == [f"{ACCOUNT_ARN}:layer:deps:1", f"{ACCOUNT_ARN}:layer:OverLayer:1"]
    assert invoke(c, "One") == {"greet": "v1", "shared": "deps"}
    assert invoke(c, "Two") == {"greet": "v1", "shared": "over"}
    # Editing the layer's directory reloads the function using it.
    (tmp_path / "deps" / "python" / "greet.py").write_text("def hello():\n    return 'v2'\n")
    deadline = time.monotonic() + 10
    while "reloading One: python/greet.py changed" not in d.daemon_log():
        assert time.monotonic() < deadline, d.daemon_log()
        time.sleep(0.1)
    assert invoke(c, "One")["greet"] == "v2"


def test_no_sandbox_paths_name_the_merged_directory(daemon_factory):
    d = daemon_factory(extra_args=["--no-sandbox"])
    assert "layers are not at /opt" in d.daemon_log()
    c = d.client()
    base = publish(c, "base", {"python/greet.py": "def hello():\n    return 'base'\n",
                               "python/shared.py": "WHO = 'base'\n",
                               "nodejs/node_modules/greet/index.js":
                                   "exports.hello = () => 'node-layer';\n"})
    c.create_function(FunctionName="py", Runtime="python3.12", Handler="app.handler", Role=ROLE,
                      Code={"ZipFile": zip_files({"app.py": PY_APP})},
                      Layers=[base["LayerVersionArn"]])
    assert invoke(c, "py") == {"greet": "base", "shared": "base"}
    c.create_function(FunctionName="node", Runtime="nodejs20.x", Handler="index.handler",
                      Role=ROLE, Code={"ZipFile": zip_files({"index.js": NODE_APP})},
                      Layers=[base["LayerVersionArn"]])
    out = invoke(c, "node")
    assert out["greet"] == "node-layer"
    assert "/layers/.merged/" in out["path"].split(":")[0]


SH_BOOTSTRAP = """#!/bin/sh
api="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation"
while true; do
  headers=$(mktemp)
  curl -sS -D "$headers" -o /dev/null "$api/next"
  id=$(grep -i '^Lambda-Runtime-Aws-Request-Id:' "$headers" | tr -d '\\r' | cut -d' ' -f2)
  rm -f "$headers"
  curl -sS -o /dev/null -X POST "$api/$id/response" -d '{"bootstrap": "'"$0"'"}'
done
"""


def test_provided_bootstrap_from_a_layer(daemon_factory):
    d = daemon_factory()
    c = d.client()
    rt = publish(c, "shell-runtime", {"bootstrap": (SH_BOOTSTRAP, 0o755)})["LayerVersionArn"]
    code = {"ZipFile": zip_files({"README": "code without a bootstrap\n"})}
    c.create_function(FunctionName="sh", Runtime="provided.al2023", Handler="x", Role=ROLE,
                      Code=code, Layers=[rt])
    assert invoke(c, "sh") == {"bootstrap": "/opt/bootstrap"}
    # Neither in the code nor in a layer: Lambda's error names both places.
    c.create_function(FunctionName="none", Runtime="provided.al2023", Handler="x", Role=ROLE,
                      Code=code)
    r = c.invoke(FunctionName="none", Payload=b"{}")
    body = json.loads(r["Payload"].read())
    assert r["FunctionError"] == "Unhandled"
    assert body["errorType"] == "Runtime.InvalidEntrypoint"
    assert "Couldn't find valid bootstrap(s): [" in body["errorMessage"]
    assert "/bootstrap /opt/bootstrap]" in body["errorMessage"]
