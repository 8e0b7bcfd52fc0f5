# SPDX-License-Identifier: MIT
"""The control-plane operations a deploy touches, driven as a deploy script would through boto3
(Debian's 1.26) and the AWS CLI v2: tags (TagResource, UntagResource, ListTags, Tags on
CreateFunction and GetFunction), resource policies (AddPermission, GetPolicy,
RemovePermission), Get/PutRuntimeManagementConfig, ListFunctions with FunctionVersion=ALL,
Architectures; each error case with Lambda's error name, message and status; persistence
across a restart and nothing inherited by a function created again under the same name."""
import io
import json
import platform
import struct
import urllib.request
import zipfile

import pytest
from botocore.exceptions import ClientError

from conftest import zip_files
from helpers import wait_until

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
PY = "import platform\ndef handler(event, context):\n    return {'echo': event, 'machine': platform.machine()}\n"
ARN = "arn:aws:lambda:us-east-1:123456789012:function:"


def create(c, name, **kw):
    return c.create_function(FunctionName=name, Runtime="python3.12", Handler="app.handler",
                             Role=ROLE, Code={"ZipFile": zip_files({"app.py": PY})}, **kw)


def error_of(call, *args, **kw):
    try:
        call(*args, **kw)
    except ClientError as e:
        return [e.response["Error"]["Code"], e.response["Error"]["Message"],
                e.response["ResponseMetadata"]["HTTPStatusCode"]]
    raise AssertionError(f"{call.__name__} succeeded")


def cli_json(d, *args):
    return json.loads(d.cli(*args).stdout or "{}")


def raw_get(d, path):
    """GET a Lambda path and decode its JSON (for members the CLI's older model drops)."""
    with urllib.request.urlopen(d.url + path, timeout=30) as r:
        return json.loads(r.read())


def runtime_config(d, name, qualifier=None):
    q = f"?Qualifier={qualifier}" if qualifier else ""
    return raw_get(d, f"/2021-07-20/functions/{name}/runtime-management-config{q}")


def cli_error(d, *args):
    res = d.cli(*args, check=False)
    assert res.returncode != 0, res.stdout
    return res.stderr


def test_deploy_script(daemon_factory):
    d = daemon_factory()
    c = d.client()

    # Create with tags on arm64; both come back from GetFunction.
    conf = create(c, "app", Tags={"team": "core", "env": "dev"}, Architectures=["arm64"])
    assert conf["Architectures"] == ["arm64"]
    got = c.get_function(FunctionName="app")
    assert got["Tags"] == {"team": "core", "env": "dev"}
    assert got["Configuration"]["Architectures"] == ["arm64"]

    # An arm64 function with an interpreted runtime runs natively on the host.
    out = json.loads(c.invoke(FunctionName="app", Payload=b'{"a":1}')["Payload"].read())
    assert out["echo"] == {"a": 1}

    # Permission for S3, as a deploy wires a trigger.
    st = json.loads(c.add_permission(
        FunctionName="app", StatementId="s3-invoke", Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com", SourceArn="arn:aws:s3:::uploads",
        SourceAccount="123456789012")["Statement"])
    want = {"Sid": "s3-invoke", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
            "Action": "lambda:InvokeFunction", "Resource": ARN + "app",
            "Condition": {"StringEquals": {"AWS:SourceAccount": "123456789012"},
                          "ArnLike": {"AWS:SourceArn": "arn:aws:s3:::uploads"}}}
    assert st == want
    pol = c.get_policy(FunctionName="app")
    doc = json.loads(pol["Policy"])
    assert doc == {"Version": "2012-10-17", "Id": "default", "Statement": [want]}
    assert pol["RevisionId"]

    # The CLI adds an account principal; the policy grows and its RevisionId changes.
    cli_json(d, "add-permission", "--function-name", ARN + "app", "--statement-id", "acct",
             "--action", "lambda:GetFunction", "--principal", "210987654321")
    pol2 = c.get_policy(FunctionName="app")
    assert [s["Sid"] for s in json.loads(pol2["Policy"])["Statement"]] == ["s3-invoke", "acct"]
    assert json.loads(pol2["Policy"])["Statement"][1]["Principal"] == {
        "AWS": "arn:aws:iam::210987654321:root"}
    assert pol2["RevisionId"] != pol["RevisionId"]

    # Runtime management config through the CLI.
    rm = cli_json(d, "put-runtime-management-config", "--function-name", "app",
                  "--update-runtime-on", "FunctionUpdate")
    assert rm == {"UpdateRuntimeOn": "FunctionUpdate", "FunctionArn": ARN + "app:$LATEST"}
    assert cli_json(d, "get-runtime-management-config", "--function-name", "app")[
        "UpdateRuntimeOn"] == "FunctionUpdate"
    assert runtime_config(d, "app") == rm

    # Update, publish, alias; a policy on the alias is its own, on the alias's ARN.
    c.update_function_configuration(FunctionName="app", Timeout=10)
    ver = c.publish_version(FunctionName="app")["Version"]
    assert ver == "1"
    c.create_alias(FunctionName="app", Name="live", FunctionVersion=ver)
    st = json.loads(c.add_permission(FunctionName="app", Qualifier="live", StatementId="apigw",
                                     Action="lambda:InvokeFunction",
                                     Principal="apigateway.amazonaws.com")["Statement"])
    assert st["Resource"] == ARN + "app:live"
    assert len(json.loads(c.get_policy(FunctionName="app:live")["Policy"])["Statement"]) == 1
    assert len(json.loads(c.get_policy(FunctionName="app")["Policy"])["Statement"]) == 2
    rm1 = runtime_config(d, "app", "1")
    assert rm1 == {"UpdateRuntimeOn": "Auto", "FunctionArn": ARN + "app:1"}

    # Tags: the CLI adds one, boto3 lists and removes.
    d.cli("tag-resource", "--resource", ARN + "app", "--tags", "owner=ops,team=platform")
    assert c.list_tags(Resource=ARN + "app")["Tags"] == {
        "team": "platform", "env": "dev", "owner": "ops"}
    c.untag_resource(Resource=ARN + "app", TagKeys=["env", "owner", "absent"])
    assert cli_json(d, "list-tags", "--resource", ARN + "app") == {"Tags": {"team": "platform"}}

    # ListFunctions with FunctionVersion=ALL: $LATEST, then version 1.
    fns = c.list_functions(FunctionVersion="ALL")["Functions"]
    assert [(f["FunctionName"], f["Version"], f["FunctionArn"]) for f in fns] == [
        ("app", "$LATEST", ARN + "app:$LATEST"), ("app", "1", ARN + "app:1")]
    assert c.list_functions(FunctionVersion="ALL", MasterRegion="us-east-1")["Functions"] == []

    # Remove the permissions; the policy is gone with its last statement.
    c.remove_permission(FunctionName="app", StatementId="s3-invoke")
    d.cli("remove-permission", "--function-name", "app", "--statement-id", "acct")
    assert error_of(c.get_policy, FunctionName="app") == [
        "ResourceNotFoundException", "The resource you requested does not exist.", 404]
    assert len(json.loads(c.get_policy(FunctionName="app", Qualifier="live")["Policy"])
               ["Statement"]) == 1

    # A deleted alias takes its policy along: the same name starts without one.
    c.delete_alias(FunctionName="app", Name="live")
    c.create_alias(FunctionName="app", Name="live", FunctionVersion="1")
    assert error_of(c.get_policy, FunctionName="app", Qualifier="live")[2] == 404

    c.delete_function(FunctionName="app")
    assert error_of(c.list_tags, Resource=ARN + "app") == [
        "ResourceNotFoundException", "Function not found: " + ARN + "app", 404]


def test_tag_errors(daemon_factory):
    d = daemon_factory()
    c = d.client()
    create(c, "t")
    c.publish_version(FunctionName="t")
    assert error_of(c.tag_resource, Resource=ARN + "t:1", Tags={"a": "b"}) == [
        "InvalidParameterValueException",
        "Tags on function aliases and versions are not supported. Please specify a function "
        "ARN.", 400]
    code, msg, status = error_of(c.list_tags, Resource="t")
    assert (code, status) == ("ValidationException", 400)
    assert msg.startswith("1 validation error detected: Value 't' at 'resource' failed to "
                          "satisfy constraint: Member must satisfy regular expression pattern: "
                          "arn:(aws[a-zA-Z-]*):lambda:")
    assert error_of(c.tag_resource, Resource=ARN + "nope", Tags={"a": "b"}) == [
        "ResourceNotFoundException", "Function not found: " + ARN + "nope", 404]
    code, msg, status = error_of(c.tag_resource, Resource=ARN + "t", Tags={"aws:x": "1"})
    assert (code, status) == ("InvalidParameterValueException", 400) and "aws:" in msg
    code, _, status = error_of(c.tag_resource, Resource=ARN + "t", Tags={"k" * 129: "1"})
    assert (code, status) == ("InvalidParameterValueException", 400)
    code, _, status = error_of(c.tag_resource, Resource=ARN + "t", Tags={"k": "v" * 257})
    assert (code, status) == ("InvalidParameterValueException", 400)
    c.tag_resource(Resource=ARN + "t", Tags={f"k{i}": "" for i in range(49)})
    c.tag_resource(Resource=ARN + "t", Tags={"k0": "again", "k49": "last"})  # 50: the limit
    code, msg, status = error_of(c.tag_resource, Resource=ARN + "t", Tags={"one-more": "x"})
    assert (code, status) == ("InvalidParameterValueException", 400) and "50" in msg
    assert len(c.list_tags(Resource=ARN + "t")["Tags"]) == 50
    code, _, status = error_of(create, c, "t2", Tags={f"k{i}": "" for i in range(51)})
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert error_of(c.get_function, FunctionName="t2")[2] == 404  # nothing was created
    # The CLI's own error text carries the same name.
    assert "Tags on function aliases and versions" in cli_error(
        d, "list-tags", "--resource", ARN + "t:1")


def test_policy_errors(daemon_factory):
    d = daemon_factory()
    c = d.client()
    create(c, "p")
    add = dict(FunctionName="p", StatementId="s", Action="lambda:InvokeFunction",
               Principal="events.amazonaws.com")
    assert error_of(c.get_policy, FunctionName="p") == [
        "ResourceNotFoundException", "The resource you requested does not exist.", 404]
    assert error_of(c.remove_permission, FunctionName="p", StatementId="s") == [
        "ResourceNotFoundException", "No policy is associated with the given resource.", 404]
    rev = c.add_permission(**add) and c.get_policy(FunctionName="p")["RevisionId"]
    assert error_of(c.add_permission, **add) == [
        "ResourceConflictException",
        "The statement id (s) provided already exists. Please provide a new statement id, or "
        "remove the existing statement.", 409]
    assert error_of(c.remove_permission, FunctionName="p", StatementId="other") == [
        "ResourceNotFoundException", "Statement other is not found in resource policy.", 404]
    assert error_of(c.add_permission, **dict(add, StatementId="t", RevisionId="stale")) == [
        "PreconditionFailedException",
        "The Revision Id provided does not match the latest Revision Id. Call the GetPolicy API "
        "to retrieve the latest Revision Id", 412]
    c.add_permission(**dict(add, StatementId="t", RevisionId=rev))
    assert error_of(c.add_permission, **dict(add, Qualifier="7")) == [
        "ResourceNotFoundException", "Function not found: " + ARN + "p:7", 404]
    assert error_of(c.get_policy, FunctionName="nope") == [
        "ResourceNotFoundException", "Function not found: " + ARN + "nope", 404]
    code, msg, status = error_of(c.add_permission, **dict(add, StatementId="bad id"))
    assert (code, status) == ("ValidationException", 400) and "'statementId'" in msg
    code, msg, status = error_of(c.add_permission, **dict(add, Principal="nobody"))
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert msg == "The provided principal was invalid. Please check the principal and try again."
    code, msg, status = error_of(c.add_permission, **dict(add, StatementId="u",
                                                          SourceAccount="12"))
    assert (code, status) == ("ValidationException", 400) and "'sourceAccount'" in msg


def test_runtime_management_errors(daemon_factory):
    d = daemon_factory()
    c = d.client()
    create(c, "r")
    c.publish_version(FunctionName="r")
    c.create_alias(FunctionName="r", Name="live", FunctionVersion="1")
    err = cli_error(d, "put-runtime-management-config", "--function-name", "r",
                    "--update-runtime-on", "Manual")
    assert "InvalidParameterValueException" in err
    assert "RuntimeVersionArn is required when UpdateRuntimeOn is Manual." in err
    err = cli_error(d, "put-runtime-management-config", "--function-name", "r",
                    "--update-runtime-on", "Manual", "--runtime-version-arn",
                    "arn:aws:lambda:us-east-1::layer:not-a-runtime")
    assert "ValidationException" in err and "'runtimeVersionArn'" in err
    err = cli_error(d, "get-runtime-management-config", "--function-name", "r",
                    "--qualifier", "live")
    assert "ResourceNotFoundException" in err and ARN + "r:live" in err
    err = cli_error(d, "get-runtime-management-config", "--function-name", "nope")
    assert "ResourceNotFoundException" in err and "Function not found: " + ARN + "nope" in err
    rv = "arn:aws:lambda:us-east-1::runtime:0123456789abcdef"
    out = cli_json(d, "put-runtime-management-config", "--function-name", "r", "--qualifier", "1",
                   "--update-runtime-on", "Manual", "--runtime-version-arn", rv)
    assert out == {"UpdateRuntimeOn": "Manual", "FunctionArn": ARN + "r:1",
                   "RuntimeVersionArn": rv}
    # $LATEST keeps its own (default) mode.
    assert runtime_config(d, "r") == {
        "UpdateRuntimeOn": "Auto", "FunctionArn": ARN + "r:$LATEST"}


def test_persisted_and_dropped(daemon_factory, tmp_path):
    state = tmp_path / "state"
    d = daemon_factory(state_dir=state)
    c = d.client()
    create(c, "keep", Tags={"a": "1"}, Architectures=["arm64"])
    c.add_permission(FunctionName="keep", StatementId="s", Action="lambda:InvokeFunction",
                     Principal="sns.amazonaws.com")
    c.publish_version(FunctionName="keep")
    c.add_permission(FunctionName="keep", Qualifier="1", StatementId="v",
                     Action="lambda:InvokeFunction", Principal="sns.amazonaws.com")
    d.cli("put-runtime-management-config", "--function-name", "keep", "--update-runtime-on",
          "FunctionUpdate")
    policy = c.get_policy(FunctionName="keep")
    d.stop()

    d = daemon_factory(state_dir=state)
    c = d.client()
    got = c.get_function(FunctionName="keep")
    assert (got["Tags"], got["Configuration"]["Architectures"]) == ({"a": "1"}, ["arm64"])
    again = c.get_policy(FunctionName="keep")
    assert (again["Policy"], again["RevisionId"]) == (policy["Policy"], policy["RevisionId"])
    assert runtime_config(d, "keep")["UpdateRuntimeOn"] == "FunctionUpdate"

    # A deleted version takes its policy along (versions are never renumbered, so only the
    # state dir shows it).
    settings = state / "functions" / "keep" / "settings.json"
    assert "1" in json.loads(settings.read_text())["Policy"]
    c.delete_function(FunctionName="keep", Qualifier="1")
    assert set(json.loads(settings.read_text())["Policy"]) == {"$LATEST"}
    assert error_of(c.get_policy, FunctionName="keep", Qualifier="1")[2] == 404

    # Deleted with the function: the same name starts afresh, also after a restart.
    c.delete_function(FunctionName="keep")
    create(c, "keep")
    assert "Tags" not in c.get_function(FunctionName="keep")
    assert error_of(c.get_policy, FunctionName="keep")[0] == "ResourceNotFoundException"
    d.stop()
    d = daemon_factory(state_dir=state)
    c = d.client()
    assert c.list_tags(Resource=ARN + "keep")["Tags"] == {}
    assert runtime_config(d, "keep")["UpdateRuntimeOn"] == "Auto"


def test_list_all_versions_paged(daemon_factory):
    d = daemon_factory()
    c = d.client()
    for name in ("b", "a"):
        create(c, name)
        for t in (5, 6):
            c.update_function_configuration(FunctionName=name, Timeout=t)
            c.publish_version(FunctionName=name)
    want = [(n, v) for n in ("a", "b") for v in ("$LATEST", "1", "2")]
    seen, marker = [], None
    for _ in range(10):
        kw = {"Marker": marker} if marker else {}
        page = c.list_functions(FunctionVersion="ALL", MaxItems=4, **kw)
        assert len(page["Functions"]) <= 4
        seen += [(f["FunctionName"], f["Version"]) for f in page["Functions"]]
        marker = page.get("NextMarker")
        if not marker:
            break
    assert seen == want
    # Without ALL: one entry per function, unqualified ARNs.
    fns = c.list_functions()["Functions"]
    assert [(f["FunctionName"], f["FunctionArn"]) for f in fns] == [
        ("a", ARN + "a"), ("b", ARN + "b")]
    # The CLI paginates through every version too.
    out = cli_json(d, "list-functions", "--function-version", "ALL", "--page-size", "2")
    assert [(f["FunctionName"], f["Version"]) for f in out["Functions"]] == want
    code, msg, status = error_of(c.list_functions, MasterRegion="us-east-1")
    assert (code, status) == ("InvalidParameterValueException", 400)
    code, msg, status = error_of(c.list_functions, FunctionVersion="ALL", MasterRegion="mars")
    assert (code, status) == ("ValidationException", 400) and "'masterRegion'" in msg


def foreign_elf():
    """A zip whose executable bootstrap is an ELF header for the other architecture."""
    machine = 62 if platform.machine() in ("aarch64", "arm64") else 183  # x86_64 : AArch64
    hdr = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)
    hdr += struct.pack("<HHIQQQIHHHHHH", 2, machine, 1, 0x400000, 64, 0, 0, 64, 56, 0, 64, 0, 0)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o100755 << 16
        z.writestr(info, hdr + bytes(64))
    return buf.getvalue()


def test_foreign_architecture_binary(daemon_factory):
    """A provided function whose bootstrap is built for the other architecture is accepted at
    create (Lambda cannot tell either) and fails at its invoke with the exec format error."""
    d = daemon_factory()
    c = d.client()
    arch = "x86_64" if platform.machine() in ("aarch64", "arm64") else "arm64"
    c.create_function(FunctionName="foreign", Runtime="provided.al2023", Handler="x", Role=ROLE,
                      Code={"ZipFile": foreign_elf()}, Architectures=[arch])
    r = c.invoke(FunctionName="foreign", Payload=b"{}")
    assert (r["StatusCode"], r.get("FunctionError")) == (200, "Unhandled")
    err = json.loads(r["Payload"].read())
    assert err["errorType"] == "Runtime.Unknown"
    assert "Exec format error" in err["errorMessage"]
    c.delete_function(FunctionName="foreign")
    assert wait_until(lambda: not d.children(), timeout=10), d.children()
