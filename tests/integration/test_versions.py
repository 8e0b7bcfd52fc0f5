# SPDX-License-Identifier: MIT
"""Versions and aliases end to end with boto3 and the AWS CLI v2: PublishVersion (numbering,
preconditions, unchanged publish), invoking name:N / name:$LATEST / name:ALIAS / Qualifier=,
X-Amz-Executed-Version, ListVersionsByFunction, alias CRUD and validation, a weighted alias,
DeleteFunction with a Qualifier, persistence across a restart, and AutoPublishAlias."""
import base64
import hashlib
import json

import pytest
from botocore.exceptions import ClientError

from conftest import write_template, zip_files

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
ARN = "arn:aws:lambda:us-east-1:123456789012:function:"


def code(tag):
    return zip_files({"app.py": (
        "import os\n"
        "def handler(event, context):\n"
        f"    return {{'code': {tag!r}, 'version': context.function_version,\n"
        "            'env_version': os.environ['AWS_LAMBDA_FUNCTION_VERSION'],\n"
        "            'arn': context.invoked_function_arn}\n")})


def sha(z):
    return base64.b64encode(hashlib.sha256(z).digest()).decode()


def create(c, name, tag="v1", **kw):
    return c.create_function(FunctionName=name, Runtime="python3.12", Handler="app.handler",
                             Role=ROLE, Code={"ZipFile": code(tag)}, **kw)


def invoke(c, name, **kw):
    r = c.invoke(FunctionName=name, Payload=b"{}", **kw)
    assert "FunctionError" not in r, r["Payload"].read()
    return r, json.loads(r["Payload"].read())


def err(excinfo):
    e = excinfo.value.response
    return e["ResponseMetadata"]["HTTPStatusCode"], e["Error"]["Code"], e["Error"]["Message"]


def test_publish_invoke_and_list(daemon_factory):
    d = daemon_factory()
    c = d.client()
    cfg = create(c, "vfn", "v1")
    v1 = c.publish_version(FunctionName="vfn", Description="first")
    assert v1["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert v1["Version"] == "1" and v1["FunctionArn"] == ARN + "vfn:1"
    assert v1["Description"] == "first" and v1["CodeSha256"] == cfg["CodeSha256"]
    # Nothing changed since version 1: Lambda returns it instead of publishing again.
    assert c.publish_version(FunctionName="vfn")["Version"] == "1"

    z2 = code("v2")
    up = c.update_function_code(FunctionName="vfn", ZipFile=z2)
    # Preconditions: a stale CodeSha256 or RevisionId publishes nothing.
    with pytest.raises(ClientError) as ei:
        c.publish_version(FunctionName="vfn", CodeSha256=cfg["CodeSha256"])
    status, etype, msg = err(ei)
    assert (status, etype) == (400, "InvalidParameterValueException")
    assert msg == (f"CodeSHA256 ({cfg['CodeSha256']}) is different from current CodeSHA256 in "
                   f"$LATEST ({sha(z2)}). Please try again with the CodeSHA256 in $LATEST.")
    with pytest.raises(ClientError) as ei:
        c.publish_version(FunctionName="vfn", RevisionId=cfg["RevisionId"])
    assert err(ei)[:2] == (412, "PreconditionFailedException")
    v2 = c.publish_version(FunctionName="vfn", CodeSha256=sha(z2), RevisionId=up["RevisionId"])
    assert v2["Version"] == "2"

    c.update_function_code(FunctionName="vfn", ZipFile=code("v3"))
    for q, want_code, want_ver in (("1", "v1", "1"), ("2", "v2", "2"), ("$LATEST", "v3", "$LATEST")):
        r, body = invoke(c, f"vfn:{q}")
        assert body["code"] == want_code
        assert body["version"] == body["env_version"] == want_ver
        assert body["arn"] == ARN + f"vfn:{q}"
        assert r["ExecutedVersion"] == want_ver
    r, body = invoke(c, "vfn")
    assert body["code"] == "v3" and r["ExecutedVersion"] == "$LATEST" and body["arn"] == ARN + "vfn"
    r, body = invoke(c, ARN + "vfn:2")
    assert body["code"] == "v2" and r["ExecutedVersion"] == "2"
    r, body = invoke(c, "vfn", Qualifier="1")
    assert body["code"] == "v1" and r["ExecutedVersion"] == "1"
    # The START line and the log stream name carry the version that ran.
    r = c.invoke(FunctionName="vfn:2", LogType="Tail")
    tail = base64.b64decode(r["LogResult"]).decode()
    assert "Version: 2" in tail

    with pytest.raises(ClientError) as ei:
        c.invoke(FunctionName="vfn:7")
    assert err(ei) == (404, "ResourceNotFoundException", f"Function not found: {ARN}vfn:7")
    with pytest.raises(ClientError) as ei:
        c.invoke(FunctionName="vfn:nosuchalias")
    assert err(ei) == (404, "ResourceNotFoundException", f"Function not found: {ARN}vfn:nosuchalias")

    conf = c.get_function_configuration(FunctionName="vfn", Qualifier="1")
    assert conf["Version"] == "1" and conf["FunctionArn"] == ARN + "vfn:1"
    got = c.get_function(FunctionName="vfn:2")
    assert got["Configuration"]["Version"] == "2" and got["Configuration"]["CodeSha256"] == sha(z2)

    vs = c.list_versions_by_function(FunctionName="vfn")["Versions"]
    assert [v["Version"] for v in vs] == ["$LATEST", "1", "2"]
    assert [v["FunctionArn"] for v in vs] == [ARN + "vfn:$LATEST", ARN + "vfn:1", ARN + "vfn:2"]
    page = c.list_versions_by_function(FunctionName="vfn", MaxItems=2)
    assert [v["Version"] for v in page["Versions"]] == ["$LATEST", "1"]
    rest = c.list_versions_by_function(FunctionName="vfn", Marker=page["NextMarker"])
    assert [v["Version"] for v in rest["Versions"]] == ["2"] and "NextMarker" not in rest
    pages = c.get_paginator("list_versions_by_function").paginate(
        FunctionName="vfn", PaginationConfig={"PageSize": 1})
    assert [v["Version"] for p in pages for v in p["Versions"]] == ["$LATEST", "1", "2"]


def test_aliases_and_delete(daemon_factory):
    d = daemon_factory()
    c = d.client()
    create(c, "afn", "v1")
    c.publish_version(FunctionName="afn")
    c.update_function_code(FunctionName="afn", ZipFile=code("v2"))
    c.publish_version(FunctionName="afn")
    c.update_function_code(FunctionName="afn", ZipFile=code("v3"))

    a = c.create_alias(FunctionName="afn", Name="live", FunctionVersion="1", Description="prod")
    assert a["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert a["AliasArn"] == ARN + "afn:live" and a["FunctionVersion"] == "1"
    assert a["Description"] == "prod" and a["RevisionId"] and "RoutingConfig" not in a
    assert c.get_alias(FunctionName="afn", Name="live")["RevisionId"] == a["RevisionId"]
    r, body = invoke(c, "afn:live")
    assert body["code"] == "v1" and r["ExecutedVersion"] == "1"
    assert body["version"] == "1" and body["arn"] == ARN + "afn:live"
    conf = c.get_function_configuration(FunctionName="afn", Qualifier="live")
    assert conf["Version"] == "1" and conf["FunctionArn"] == ARN + "afn:live"

    # Validation, as Lambda words it.
    cases = [
        (dict(Name="live", FunctionVersion="2"), 409, "ResourceConflictException",
         f"Alias already exists: {ARN}afn:live"),
        (dict(Name="x", FunctionVersion="9"), 404, "ResourceNotFoundException",
         f"Function not found: {ARN}afn:9"),
        (dict(Name="123", FunctionVersion="1"), 400, "ValidationException", None),
        (dict(Name="w", FunctionVersion="1",
              RoutingConfig={"AdditionalVersionWeights": {"1": 0.5}}), 400,
         "InvalidParameterValueException",
         "Invalid function version 1. Function version 1 is already included in routing configuration."),
        (dict(Name="w", FunctionVersion="$LATEST",
              RoutingConfig={"AdditionalVersionWeights": {"1": 0.5}}), 400,
         "InvalidParameterValueException",
         "$LATEST is not supported for an alias pointing to more than 1 version"),
        (dict(Name="w", FunctionVersion="1",
              RoutingConfig={"AdditionalVersionWeights": {"2": 0.5, "3": 0.1}}), 400,
         "InvalidParameterValueException",
         "Number of items in AdditionalVersionWeights cannot be greater than 1"),
        (dict(Name="w", FunctionVersion="1",
              RoutingConfig={"AdditionalVersionWeights": {"2": 1.5}}), 400,
         "ValidationException", None),
        (dict(Name="w", FunctionVersion="1",
              RoutingConfig={"AdditionalVersionWeights": {"5": 0.5}}), 404,
         "ResourceNotFoundException", f"Function not found: {ARN}afn:5"),
    ]
    for kw, status, etype, msg in cases:
        with pytest.raises(ClientError) as ei:
            c.create_alias(FunctionName="afn", **kw)
        got = err(ei)
        assert got[:2] == (status, etype), (kw, got)
        if msg:
            assert got[2] == msg, (kw, got)
    with pytest.raises(ClientError) as ei:
        c.get_alias(FunctionName="afn", Name="nope")
    assert err(ei) == (404, "ResourceNotFoundException", f"Cannot find alias arn: {ARN}afn:nope")

    # UpdateAlias: RevisionId precondition, then a move and a description change.
    with pytest.raises(ClientError) as ei:
        c.update_alias(FunctionName="afn", Name="live", FunctionVersion="2", RevisionId="stale")
    assert err(ei)[:2] == (412, "PreconditionFailedException")
    u = c.update_alias(FunctionName="afn", Name="live", FunctionVersion="2",
                       RevisionId=a["RevisionId"])
    assert u["FunctionVersion"] == "2" and u["Description"] == "prod"
    assert u["RevisionId"] != a["RevisionId"]
    r, body = invoke(c, "afn:live")
    assert body["code"] == "v2" and r["ExecutedVersion"] == "2"

    c.create_alias(FunctionName="afn", Name="beta", FunctionVersion="$LATEST")
    c.create_alias(FunctionName="afn", Name="old", FunctionVersion="1")
    names = [x["Name"] for x in c.list_aliases(FunctionName="afn")["Aliases"]]
    assert names == ["beta", "live", "old"]
    assert [x["Name"] for x in c.list_aliases(FunctionName="afn", FunctionVersion="2")["Aliases"]] == ["live"]
    page = c.list_aliases(FunctionName="afn", MaxItems=2)
    assert [x["Name"] for x in page["Aliases"]] == ["beta", "live"]
    rest = c.list_aliases(FunctionName="afn", Marker=page["NextMarker"])
    assert [x["Name"] for x in rest["Aliases"]] == ["old"]
    r, body = invoke(c, "afn:beta")
    assert body["code"] == "v3" and r["ExecutedVersion"] == "$LATEST"

    # DeleteFunction with a Qualifier deletes one version, never one an alias routes to.
    with pytest.raises(ClientError) as ei:
        c.delete_function(FunctionName="afn", Qualifier="1")
    assert err(ei) == (409, "ResourceConflictException",
                       "Unable to delete version because the following aliases reference it: [old]")
    with pytest.raises(ClientError) as ei:
        c.delete_function(FunctionName="afn", Qualifier="$LATEST")
    assert err(ei)[:2] == (400, "InvalidParameterValueException")
    c.delete_alias(FunctionName="afn", Name="old")
    c.delete_alias(FunctionName="afn", Name="old")  # gone already: still 204
    c.delete_function(FunctionName="afn", Qualifier="1")
    assert [v["Version"] for v in c.list_versions_by_function(FunctionName="afn")["Versions"]] == ["$LATEST", "2"]
    with pytest.raises(ClientError) as ei:
        c.invoke(FunctionName="afn:1")
    assert err(ei)[0] == 404
    with pytest.raises(ClientError) as ei:
        c.delete_function(FunctionName="afn", Qualifier="1")
    assert err(ei) == (404, "ResourceNotFoundException", f"Function not found: {ARN}afn:1")
    # Numbers are never reused after a delete.
    c.update_function_code(FunctionName="afn", ZipFile=code("v4"))
    assert c.publish_version(FunctionName="afn")["Version"] == "3"
    r, body = invoke(c, "afn:live")
    assert body["code"] == "v2"

    # Deleting the function takes every version and alias with it.
    c.delete_function(FunctionName="afn")
    with pytest.raises(ClientError) as ei:
        c.invoke(FunctionName="afn:2")
    assert err(ei)[0] == 404
    create(c, "afn", "again")
    assert c.list_aliases(FunctionName="afn")["Aliases"] == []
    assert c.publish_version(FunctionName="afn")["Version"] == "1"


def test_weighted_alias(daemon_factory):
    d = daemon_factory()
    c = d.client()
    create(c, "wfn", "v1")
    c.publish_version(FunctionName="wfn")
    c.update_function_code(FunctionName="wfn", ZipFile=code("v2"))
    c.publish_version(FunctionName="wfn")
    a = c.create_alias(FunctionName="wfn", Name="canary", FunctionVersion="1",
                       RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}})
    assert a["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.5}}
    seen = {"1": 0, "2": 0}
    for _ in range(200):
        r, body = invoke(c, "wfn:canary")
        assert r["ExecutedVersion"] == body["version"]
        assert body["code"] == {"1": "v1", "2": "v2"}[body["version"]]
        assert body["arn"] == ARN + "wfn:canary"
        seen[r["ExecutedVersion"]] += 1
    assert 60 <= seen["2"] <= 140, seen
    # Clearing the routing sends everything to FunctionVersion again.
    u = c.update_alias(FunctionName="wfn", Name="canary", RoutingConfig={})
    assert "RoutingConfig" not in u
    for _ in range(10):
        assert invoke(c, "wfn:canary")[0]["ExecutedVersion"] == "1"


def test_survives_restart(daemon_factory, tmp_path):
    state = tmp_path / "state-keep"
    d = daemon_factory(state_dir=state)
    c = d.client()
    create(c, "pfn", "v1")
    c.publish_version(FunctionName="pfn")
    c.update_function_code(FunctionName="pfn", ZipFile=code("v2"))
    c.publish_version(FunctionName="pfn")
    c.publish_version(FunctionName="pfn")
    c.delete_function(FunctionName="pfn", Qualifier="2")
    c.update_function_code(FunctionName="pfn", ZipFile=code("v3"))
    with pytest.raises(ClientError) as ei:  # version 3 does not exist yet
        c.create_alias(FunctionName="pfn", Name="live", FunctionVersion="1",
                       RoutingConfig={"AdditionalVersionWeights": {"3": 0.0}})
    assert err(ei)[0] == 404
    assert c.publish_version(FunctionName="pfn")["Version"] == "3"
    c.create_alias(FunctionName="pfn", Name="live", FunctionVersion="1", Description="kept",
                   RoutingConfig={"AdditionalVersionWeights": {"3": 0.0}})
    alias = c.get_alias(FunctionName="pfn", Name="live")
    assert d.stop() == 0

    d2 = daemon_factory(state_dir=state)
    c2 = d2.client()
    assert [v["Version"] for v in c2.list_versions_by_function(FunctionName="pfn")["Versions"]] == ["$LATEST", "1", "3"]
    again = c2.get_alias(FunctionName="pfn", Name="live")
    for k in ("AliasArn", "Name", "FunctionVersion", "Description", "RoutingConfig", "RevisionId"):
        assert again[k] == alias[k], k
    assert again["RoutingConfig"] == {"AdditionalVersionWeights": {"3": 0.0}}
    for q, want in (("1", "v1"), ("3", "v3"), ("$LATEST", "v3"), ("live", "v1")):
        assert invoke(c2, f"pfn:{q}")[1]["code"] == want
    with pytest.raises(ClientError):
        c2.invoke(FunctionName="pfn:2")
    # Deleted numbers stay burnt across the restart.
    c2.update_function_code(FunctionName="pfn", ZipFile=code("v4"))
    assert c2.publish_version(FunctionName="pfn")["Version"] == "4"


def test_auto_publish_alias_template(daemon_factory, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "app.py").write_text(
        "def handler(event, context):\n"
        "    return {'version': context.function_version, 'arn': context.invoked_function_arn}\n")
    tpl = write_template(tmp_path, {"Tpl": {"CodeUri": str(src), "Handler": "app.handler",
                                            "Runtime": "python3.12", "FunctionName": "tplfn",
                                            "AutoPublishAlias": "live"}})
    d = daemon_factory(template=tpl)
    c = d.client()
    assert c.get_alias(FunctionName="tplfn", Name="live")["FunctionVersion"] == "1"
    r, body = invoke(c, "tplfn:live")
    assert r["ExecutedVersion"] == "1" and body["version"] == "1"
    assert body["arn"] == ARN + "tplfn:live"
    assert [v["Version"] for v in c.list_versions_by_function(FunctionName="tplfn")["Versions"]] == ["$LATEST", "1"]
    # Template functions are read-only through the API.
    with pytest.raises(ClientError) as ei:
        c.publish_version(FunctionName="tplfn")
    assert err(ei)[:2] == (400, "InvalidParameterValueException")
    # Re-created at every start, not duplicated.
    assert d.stop() == 0
    d2 = daemon_factory(template=tpl)
    assert invoke(d2.client(), "tplfn:live")[0]["ExecutedVersion"] == "1"


def test_aws_cli(daemon_factory):
    d = daemon_factory()
    c = d.client()
    create(c, "clifn", "v1")
    out = json.loads(d.cli("publish-version", "--function-name", "clifn",
                           "--description", "from the cli").stdout)
    assert out["Version"] == "1" and out["Description"] == "from the cli"
    out = json.loads(d.cli("create-alias", "--function-name", "clifn", "--name", "prod",
                           "--function-version", "1").stdout)
    assert out["AliasArn"] == ARN + "clifn:prod"
    out = json.loads(d.cli("list-versions-by-function", "--function-name", "clifn").stdout)
    assert [v["Version"] for v in out["Versions"]] == ["$LATEST", "1"]
    res = d.cli("invoke", "--function-name", "clifn", "--qualifier", "prod",
                str(d.tmp / "out.json"))
    assert json.loads(res.stdout)["ExecutedVersion"] == "1"
    assert json.loads((d.tmp / "out.json").read_text())["code"] == "v1"
    res = d.cli("delete-function", "--function-name", "clifn", "--qualifier", "1", check=False)
    assert res.returncode != 0 and "ResourceConflictException" in res.stderr
