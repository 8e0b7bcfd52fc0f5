# SPDX-License-Identifier: MIT
"""Code signing configs through Debian's boto3 and the AWS CLI: Create/Get/Update/Delete/List,
a function's link (Put/Get/DeleteFunctionCodeSigningConfig, ListFunctionsByCodeSigningConfig),
Lambda's errors (validation, unknown configs, deleting a config in use), persistence across a
restart, and the link going with its function. galley stores the configs and never verifies a
signature: a linked function still deploys unsigned code."""
import json
import os
import re
import subprocess

import botocore.exceptions
import pytest

from conftest import AWS_CLI, AWS_ENV, zip_files
from helpers import current_boto3_python, run_boto3_script

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
PY = "def handler(event, context):\n    return event\n"
PROFILE = "arn:aws:signer:us-east-1:123456789012:/signing-profiles/galley/abcdef1234"
PYTHON = current_boto3_python("list_code_signing_configs")
ARN_RE = r"^arn:aws:lambda:us-east-1:123456789012:code-signing-config:csc-[a-z0-9]{17}$"


def create_fn(c, name):
    c.create_function(FunctionName=name, Runtime="python3.12", Handler="app.handler", Role=ROLE,
                      Code={"ZipFile": zip_files({"app.py": PY})})


def error_of(call, **kw):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call(**kw)
    err = e.value.response
    return [err["Error"]["Code"], err["Error"]["Message"],
            err["ResponseMetadata"]["HTTPStatusCode"]]


def aws(d, *args):
    env = dict(os.environ, **AWS_ENV)
    res = subprocess.run([AWS_CLI, "--endpoint-url", d.url, "--output", "json", "lambda", *args],
                         capture_output=True, text=True, env=env, timeout=60)
    return res.returncode, json.loads(res.stdout) if res.stdout.strip() else None, res.stderr


def test_configs_crud_and_errors(daemon_factory, tmp_path):
    d = daemon_factory(state_dir=tmp_path / "state")
    c = d.client()
    r = c.create_code_signing_config(Description="ci",
                                     AllowedPublishers={"SigningProfileVersionArns": [PROFILE]})
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 201
    conf = r["CodeSigningConfig"]
    arn = conf["CodeSigningConfigArn"]
    assert re.match(ARN_RE, arn)
    assert conf["CodeSigningConfigId"] == arn.rsplit(":", 1)[1]
    assert conf["Description"] == "ci"
    assert conf["AllowedPublishers"] == {"SigningProfileVersionArns": [PROFILE]}
    assert conf["CodeSigningPolicies"] == {"UntrustedArtifactOnDeployment": "Warn"}
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$", conf["LastModified"])
    assert c.get_code_signing_config(CodeSigningConfigArn=arn)["CodeSigningConfig"] == conf

    up = c.update_code_signing_config(
        CodeSigningConfigArn=arn, CodeSigningPolicies={"UntrustedArtifactOnDeployment": "Enforce"})
    assert up["CodeSigningConfig"]["CodeSigningPolicies"]["UntrustedArtifactOnDeployment"] == \
        "Enforce"
    assert up["CodeSigningConfig"]["Description"] == "ci"

    second = c.create_code_signing_config(
        AllowedPublishers={"SigningProfileVersionArns": [PROFILE]})["CodeSigningConfig"]
    assert second["Description"] == ""
    listed = c.list_code_signing_configs()["CodeSigningConfigs"]
    assert sorted(x["CodeSigningConfigArn"] for x in listed) == \
        sorted([arn, second["CodeSigningConfigArn"]])
    page = c.list_code_signing_configs(MaxItems=1)
    assert len(page["CodeSigningConfigs"]) == 1 and page["NextMarker"]
    rest = c.list_code_signing_configs(Marker=page["NextMarker"])
    assert len(rest["CodeSigningConfigs"]) == 1 and "NextMarker" not in rest
    assert rest["CodeSigningConfigs"][0] != page["CodeSigningConfigs"][0]

    # Lambda's errors.
    bad = error_of(c.create_code_signing_config,
                   AllowedPublishers={"SigningProfileVersionArns": [PROFILE]},
                   CodeSigningPolicies={"UntrustedArtifactOnDeployment": "Sometimes"})
    assert bad == ["ValidationException",
                   "1 validation error detected: Value 'Sometimes' at "
                   "'codeSigningPolicies.untrustedArtifactOnDeployment' failed to satisfy "
                   "constraint: Member must satisfy enum value set: [Warn, Enforce]", 400]
    bad = error_of(c.create_code_signing_config,
                   AllowedPublishers={"SigningProfileVersionArns": ["not-an-arn"]})
    assert bad[0] == "ValidationException" and "signingProfileVersionArns.1.member" in bad[1]
    gone = arn[:-17] + "0" * 17
    assert error_of(c.get_code_signing_config, CodeSigningConfigArn=gone) == [
        "ResourceNotFoundException",
        f"The Lambda code signing configuration {gone} can not be found.", 404]
    bad = error_of(c.get_code_signing_config, CodeSigningConfigArn="csc-nope")
    assert bad[0] == "ValidationException" and "'codeSigningConfigArn'" in bad[1]

    c.delete_code_signing_config(CodeSigningConfigArn=second["CodeSigningConfigArn"])
    assert [x["CodeSigningConfigArn"] for x in c.list_code_signing_configs()[
        "CodeSigningConfigs"]] == [arn]
    assert error_of(c.delete_code_signing_config,
                    CodeSigningConfigArn=second["CodeSigningConfigArn"])[::2] == \
        ["ResourceNotFoundException", 404]


def test_function_link_in_use_and_persistence(daemon_factory, tmp_path):
    state = tmp_path / "state"
    d = daemon_factory(state_dir=state)
    c = d.client()
    arn = c.create_code_signing_config(
        AllowedPublishers={"SigningProfileVersionArns": [PROFILE]})["CodeSigningConfig"][
        "CodeSigningConfigArn"]
    create_fn(c, "signed")
    create_fn(c, "plain")
    none = c.get_function_code_signing_config(FunctionName="plain")
    assert "CodeSigningConfigArn" not in none and "FunctionName" not in none

    r = c.put_function_code_signing_config(FunctionName="signed", CodeSigningConfigArn=arn)
    assert (r["CodeSigningConfigArn"], r["FunctionName"]) == (arn, "signed")
    assert c.get_function_code_signing_config(FunctionName="signed")["CodeSigningConfigArn"] == arn
    assert c.list_functions_by_code_signing_config(CodeSigningConfigArn=arn)["FunctionArns"] == \
        ["arn:aws:lambda:us-east-1:123456789012:function:signed"]
    # Not enforced: unsigned code still deploys and runs.
    c.update_function_code(FunctionName="signed", ZipFile=zip_files({"app.py": PY}))

    unknown = arn[:-17] + "0" * 17
    # CreateFunction's CodeSigningConfigArn links at creation; an unknown one creates nothing.
    c.create_function(FunctionName="born-signed", Runtime="python3.12", Handler="app.handler",
                      Role=ROLE, Code={"ZipFile": zip_files({"app.py": PY})},
                      CodeSigningConfigArn=arn)
    assert c.get_function_code_signing_config(FunctionName="born-signed")[
        "CodeSigningConfigArn"] == arn
    assert error_of(c.create_function, FunctionName="never", Runtime="python3.12",
                    Handler="app.handler", Role=ROLE, Code={"ZipFile": zip_files({"app.py": PY})},
                    CodeSigningConfigArn=unknown)[::2] == \
        ["CodeSigningConfigNotFoundException", 404]
    assert error_of(c.get_function, FunctionName="never")[0] == "ResourceNotFoundException"
    c.delete_function(FunctionName="born-signed")
    assert error_of(c.put_function_code_signing_config, FunctionName="plain",
                    CodeSigningConfigArn=unknown) == [
        "CodeSigningConfigNotFoundException",
        "The code signing configuration cannot be found. Check that the provided configuration "
        f"is not deleted: {unknown}.", 404]
    assert error_of(c.put_function_code_signing_config, FunctionName="nope",
                    CodeSigningConfigArn=arn)[::2] == ["ResourceNotFoundException", 404]
    in_use = error_of(c.delete_code_signing_config, CodeSigningConfigArn=arn)
    assert in_use[0] == "ResourceConflictException" and in_use[2] == 409

    # The AWS CLI, after a restart: the configs and the link are kept.
    d.stop()
    d = daemon_factory(state_dir=state)
    rc, out, err = aws(d, "get-function-code-signing-config", "--function-name", "signed")
    assert rc == 0, err
    assert out["CodeSigningConfigArn"] == arn
    rc, out, err = aws(d, "list-code-signing-configs")
    assert rc == 0, err
    assert [x["CodeSigningConfigArn"] for x in out["CodeSigningConfigs"]] == [arn]
    rc, out, err = aws(d, "delete-function-code-signing-config", "--function-name", "signed")
    assert rc == 0, err
    rc, out, err = aws(d, "list-functions-by-code-signing-config", "--code-signing-config-arn",
                       arn)
    assert rc == 0, err
    assert out["FunctionArns"] == []

    # The link goes with its function: a deleted function no longer holds the config.
    c = d.client()
    c.put_function_code_signing_config(FunctionName="signed", CodeSigningConfigArn=arn)
    c.delete_function(FunctionName="signed")
    create_fn(c, "signed")
    assert "CodeSigningConfigArn" not in c.get_function_code_signing_config(FunctionName="signed")
    rc, out, err = aws(d, "delete-code-signing-config", "--code-signing-config-arn", arn)
    assert rc == 0, err
    assert c.list_code_signing_configs()["CodeSigningConfigs"] == []


def test_tags_on_configs(daemon_factory, tmp_path):
    state = tmp_path / "state"
    d = daemon_factory(state_dir=state)
    c = d.client()
    if PYTHON:  # Tags on CreateCodeSigningConfig are newer than Debian's boto3
        arn = run_boto3_script(PYTHON, d.url, """
            out["arn"] = c.create_code_signing_config(
                AllowedPublishers={"SigningProfileVersionArns": [%r]},
                Tags={"team": "a"})["CodeSigningConfig"]["CodeSigningConfigArn"]
        """ % PROFILE)["arn"]
    else:
        arn = c.create_code_signing_config(
            AllowedPublishers={"SigningProfileVersionArns": [PROFILE]})["CodeSigningConfig"][
            "CodeSigningConfigArn"]
        c.tag_resource(Resource=arn, Tags={"team": "a"})
    assert c.list_tags(Resource=arn)["Tags"] == {"team": "a"}
    assert "Tags" not in c.get_code_signing_config(CodeSigningConfigArn=arn)["CodeSigningConfig"]
    c.tag_resource(Resource=arn, Tags={"env": "ci"})
    c.untag_resource(Resource=arn, TagKeys=["team"])
    d.stop()
    d = daemon_factory(state_dir=state)
    c = d.client()
    assert c.list_tags(Resource=arn)["Tags"] == {"env": "ci"}
    gone = arn[:-17] + "0" * 17
    assert error_of(c.list_tags, Resource=gone) == [
        "ResourceNotFoundException",
        f"The Lambda code signing configuration {gone} can not be found.", 404]
    bad = error_of(c.tag_resource, Resource=arn, Tags={"aws:x": "y"})
    assert bad[0] == "InvalidParameterValueException"



def test_unreadable_store_is_set_aside(daemon_factory, tmp_path):
    state = tmp_path / "state"
    (state / "code-signing").mkdir(parents=True)
    store = state / "code-signing" / "configs.json"
    store.write_text("{not json")
    d = daemon_factory(state_dir=state)
    c = d.client()
    assert c.list_code_signing_configs()["CodeSigningConfigs"] == []
    assert (state / "code-signing" / "configs.json.corrupt").read_text() == "{not json"
    assert "moved to" in d.daemon_log()
    c.create_code_signing_config(AllowedPublishers={"SigningProfileVersionArns": [PROFILE]})
    assert len(json.loads(store.read_text())) == 1
