# SPDX-License-Identifier: MIT
"""The control plane end to end through boto3 and the AWS CLI v2: create, get, list, update
code and configuration, delete, for each runtime; hostile zips; persistence across a restart."""
import base64
import hashlib
import io
import json
import re
import zipfile

import pytest
from botocore.exceptions import ClientError

from conftest import FIXTURES, c_bootstrap_dir, zip_dir, zip_files

ROLE = "arn:aws:iam::000000000000:role/lambda-role"

PY_V1 = "def handler(event, context):\n    return {'version': 1, 'event': event}\n"
PY_V2 = "import os\ndef handler(event, context):\n    return {'version': 2, 'greeting': os.environ.get('GREETING')}\n"
NODE = ("let n = 0;\nexports.handler = async (event, context) => {\n  n += 1;\n"
        "  return { runtime: 'node', n, name: context.functionName };\n};\n")


def create(c, name, runtime, handler, zipbytes, **kw):
    return c.create_function(FunctionName=name, Runtime=runtime, Handler=handler, Role=ROLE,
                             Code={"ZipFile": zipbytes}, **kw)


def call(c, name, payload=b"{}"):
    r = c.invoke(FunctionName=name, Payload=payload)
    return r, r["Payload"].read()


def test_python_lifecycle(daemon_factory):
    d = daemon_factory()
    c = d.client()
    z = zip_files({"app.py": PY_V1})
    cfg = create(c, "pyfn", "python3.12", "app.handler", z, Timeout=5, MemorySize=256,
                 Environment={"Variables": {"GREETING": "hello"}})
    assert cfg["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert cfg["FunctionName"] == "pyfn"
    assert cfg["FunctionArn"] == "arn:aws:lambda:us-east-1:123456789012:function:pyfn"
    assert cfg["Runtime"] == "python3.12" and cfg["Handler"] == "app.handler"
    assert cfg["Timeout"] == 5 and cfg["MemorySize"] == 256
    assert cfg["CodeSize"] == len(z)
    assert cfg["CodeSha256"] == base64.b64encode(hashlib.sha256(z).digest()).decode()
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$", cfg["LastModified"])
    assert cfg["Version"] == "$LATEST" and cfg["PackageType"] == "Zip"
    assert cfg["Environment"] == {"Variables": {"GREETING": "hello"}}
    assert cfg["State"] in ("Active", "Pending")
    c.get_waiter("function_active_v2").wait(FunctionName="pyfn",
                                            WaiterConfig={"Delay": 1, "MaxAttempts": 5})

    r, body = call(c, "pyfn", b'{"k": 1}')
    assert json.loads(body) == {"version": 1, "event": {"k": 1}}

    got = c.get_function(FunctionName="pyfn")
    assert got["Configuration"]["CodeSha256"] == cfg["CodeSha256"]
    assert got["Code"]["RepositoryType"] == "S3"
    assert c.get_function_configuration(FunctionName="pyfn")["RevisionId"] == cfg["RevisionId"]

    z2 = zip_files({"app.py": PY_V2})
    up = c.update_function_code(FunctionName="pyfn", ZipFile=z2)
    assert up["CodeSha256"] == base64.b64encode(hashlib.sha256(z2).digest()).decode()
    assert up["RevisionId"] != cfg["RevisionId"]
    c.get_waiter("function_updated_v2").wait(FunctionName="pyfn",
                                             WaiterConfig={"Delay": 1, "MaxAttempts": 5})
    assert json.loads(call(c, "pyfn")[1]) == {"version": 2, "greeting": "hello"}

    with pytest.raises(ClientError) as e:
        c.update_function_configuration(FunctionName="pyfn", Timeout=7, RevisionId="wrong")
    assert e.value.response["Error"]["Code"] == "PreconditionFailedException"
    up2 = c.update_function_configuration(FunctionName="pyfn",
                                          Environment={"Variables": {"GREETING": "bonjour"}})
    assert up2["Environment"]["Variables"] == {"GREETING": "bonjour"}
    assert up2["Timeout"] == 5
    assert json.loads(call(c, "pyfn")[1]) == {"version": 2, "greeting": "bonjour"}

    assert c.delete_function(FunctionName="pyfn")["ResponseMetadata"]["HTTPStatusCode"] in (200, 204)
    with pytest.raises(ClientError) as e:
        call(c, "pyfn")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert not [f for f in c.list_functions()["Functions"] if f["FunctionName"] == "pyfn"]


def test_node_and_provided_created_and_warm(daemon_factory):
    d = daemon_factory()
    c = d.client()
    create(c, "nodefn", "nodejs20.x", "index.handler", zip_files({"index.js": NODE}))
    assert json.loads(call(c, "nodefn")[1]) == {"runtime": "node", "n": 1, "name": "nodefn"}
    assert json.loads(call(c, "nodefn")[1])["n"] == 2  # warm: module state kept
    c.update_function_code(FunctionName="nodefn",
                           ZipFile=zip_files({"index.js": NODE.replace("'node'", "'node2'")}))
    assert json.loads(call(c, "nodefn")[1]) == {"runtime": "node2", "n": 1, "name": "nodefn"}
    c.delete_function(FunctionName="nodefn")
    with pytest.raises(ClientError):
        call(c, "nodefn")

    create(c, "cfn", "provided.al2023", "bootstrap", zip_dir(c_bootstrap_dir()))
    r, body = call(c, "cfn", b'{"name":"zip"}')
    assert r["StatusCode"] == 200 and "FunctionError" not in r, body
    c.update_function_configuration(FunctionName="cfn",
                                    Environment={"Variables": {"GREETING": "Salut"}})
    r, body = call(c, "cfn", b'{"name":"zip"}')
    assert b"Salut" in body, body
    # A provided function whose zip has no bootstrap fails as Lambda does.
    c.update_function_code(FunctionName="cfn", ZipFile=zip_files({"readme.txt": "no bootstrap"}))
    r, body = call(c, "cfn")
    assert r["FunctionError"] == "Unhandled"
    assert json.loads(body)["errorType"] == "Runtime.InvalidEntrypoint"
    c.delete_function(FunctionName="cfn")
    assert c.list_functions()["Functions"] == []


def test_list_functions_paginates(daemon_factory):
    d = daemon_factory()
    c = d.client()
    z = zip_files({"app.py": PY_V1})
    names = [f"fn-{i:02d}" for i in range(7)]
    for n in names:
        create(c, n, "python3.12", "app.handler", z)
    page = c.list_functions(MaxItems=3)
    assert [f["FunctionName"] for f in page["Functions"]] == names[:3]
    assert page["NextMarker"]
    seen = []
    for p in c.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 2}):
        seen += [f["FunctionName"] for f in p["Functions"]]
    assert seen == names


def test_create_errors(daemon_factory):
    d = daemon_factory()
    c = d.client()
    z = zip_files({"app.py": PY_V1})
    create(c, "dup", "python3.12", "app.handler", z)
    cases = [
        (dict(FunctionName="dup", Runtime="python3.12", Handler="app.handler", Role=ROLE,
              Code={"ZipFile": z}), "ResourceConflictException"),
        (dict(FunctionName="bad", Runtime="python3.12", Handler="app.handler", Role=ROLE,
              Code={"ZipFile": b"not a zip"}), "InvalidParameterValueException"),
        (dict(FunctionName="bad", Runtime="python3.12", Handler="app.handler", Role=ROLE,
              Code={"ZipFile": z}, MemorySize=20000), "ValidationException"),
        (dict(FunctionName="bad", Runtime="python3.12", Handler="app.handler", Role=ROLE,
              Code={"ZipFile": z}, Timeout=901), "ValidationException"),
        (dict(FunctionName="bad", Runtime="python3.12", Handler="app.handler", Role=ROLE,
              Code={"ZipFile": z}, Environment={"Variables": {"AWS_REGION": "x"}}),
         "InvalidParameterValueException"),
        (dict(FunctionName="bad", Runtime="python3.12", Handler="app.handler", Role=ROLE,
              Code={"S3Bucket": "my-bucket", "S3Key": "code.zip"}), "InvalidParameterValueException"),
    ]
    for kwargs, code in cases:
        with pytest.raises(ClientError) as e:
            c.create_function(**kwargs)
        assert e.value.response["Error"]["Code"] == code, (kwargs, e.value.response)
    with pytest.raises(ClientError) as e:
        c.create_function(FunctionName="bad", Runtime="python3.12", Handler="app.handler",
                          Role=ROLE, Code={"ZipFile": b"not a zip"})
    assert e.value.response["Error"]["Message"] == (
        "Could not unzip uploaded file. Please check your file, then try to upload again.")
    with pytest.raises(ClientError) as e:
        c.get_function(FunctionName="bad")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_hostile_zips_are_refused_and_leave_nothing(daemon_factory):
    d = daemon_factory()
    c = d.client()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("../../escape.py", "x = 1\n")
    link = io.BytesIO()
    with zipfile.ZipFile(link, "w") as zf:
        info = zipfile.ZipInfo("evil")
        info.external_attr = (0o120777 << 16)
        zf.writestr(info, "/etc")
    for i, data in enumerate([buf.getvalue(), link.getvalue()]):
        with pytest.raises(ClientError) as e:
            create(c, f"hostile{i}", "python3.12", "app.handler", data)
        assert e.value.response["Error"]["Code"] == "InvalidParameterValueException"
        assert not (d.state / "functions" / f"hostile{i}").exists()
    assert not (d.tmp / "escape.py").exists() and not (d.state / "escape.py").exists()


def test_clashing_and_empty_zips_get_lambdas_400(daemon_factory):
    """Issue 9: a zip holding both x and x/y got a 500; an empty zip was taken, where Lambda
    answers "Uploaded file must be a non-empty zip" (22 bytes of end record, or nothing)."""
    d = daemon_factory()
    c = d.client()
    clash = io.BytesIO()
    with zipfile.ZipFile(clash, "w") as zf:
        zf.writestr("x", "a\n")
        zf.writestr("x/y", "b\n")
    empty = io.BytesIO()
    with zipfile.ZipFile(empty, "w"):
        pass
    assert len(empty.getvalue()) == 22
    cases = [(clash.getvalue(), "Could not unzip uploaded file: zip entry x/y is inside x, "
                                "which is a file"),
             (empty.getvalue(), "Uploaded file must be a non-empty zip"),
             (b"", "Uploaded file must be a non-empty zip")]
    for i, (data, msg) in enumerate(cases):
        with pytest.raises(ClientError) as e:
            create(c, f"clash{i}", "python3.12", "app.handler", data)
        err = e.value.response
        assert err["ResponseMetadata"]["HTTPStatusCode"] == 400, err
        assert err["Error"]["Code"] == "InvalidParameterValueException", err
        assert err["Error"]["Message"] == msg
        assert not (d.state / "functions" / f"clash{i}").exists()
    create(c, "clashfn", "python3.12", "app.handler", zip_files({"app.py": PY_V1}))
    with pytest.raises(ClientError) as e:
        c.update_function_code(FunctionName="clashfn", ZipFile=clash.getvalue())
    assert e.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert json.loads(call(c, "clashfn")[1])["version"] == 1


def test_created_functions_survive_restart(daemon_factory, tmp_path):
    state = tmp_path / "persist"
    d = daemon_factory(state_dir=state)
    c = d.client()
    create(c, "keeper", "python3.12", "app.handler", zip_files({"app.py": PY_V1}))
    sha = c.get_function(FunctionName="keeper")["Configuration"]["CodeSha256"]
    assert d.stop() == 0
    d2 = daemon_factory(state_dir=state)
    c2 = d2.client()
    assert c2.get_function(FunctionName="keeper")["Configuration"]["CodeSha256"] == sha
    assert json.loads(call(c2, "keeper")[1])["version"] == 1


def test_aws_cli_v2_create_invoke_delete(daemon_factory, tmp_path):
    d = daemon_factory()
    zpath = tmp_path / "f.zip"
    zpath.write_bytes(zip_files({"index.js": NODE}))
    res = d.cli("create-function", "--function-name", "clifn", "--runtime", "nodejs20.x",
                "--handler", "index.handler", "--zip-file", f"fileb://{zpath}", "--role", ROLE)
    assert json.loads(res.stdout)["FunctionName"] == "clifn"
    out = tmp_path / "out.json"
    res = d.cli("invoke", "--function-name", "clifn", "--log-type", "Tail", str(out))
    assert json.loads(res.stdout)["StatusCode"] == 200
    assert json.loads(out.read_text())["name"] == "clifn"
    names = json.loads(d.cli("list-functions").stdout)["Functions"]
    assert [f["FunctionName"] for f in names] == ["clifn"]
    d.cli("delete-function", "--function-name", "clifn")
    res = d.cli("get-function", "--function-name", "clifn", check=False)
    assert res.returncode != 0 and "ResourceNotFoundException" in res.stderr


def test_account_settings(daemon_factory):
    s = daemon_factory().client().get_account_settings()
    assert s["AccountLimit"]["ConcurrentExecutions"] == 1000
    assert s["AccountLimit"]["CodeSizeZipped"] == 52428800
