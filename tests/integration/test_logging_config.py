# SPDX-License-Identifier: MIT
"""LoggingConfig through a boto3 recent enough to know it (Debian's predates it): Lambda's
defaults and validation on CreateFunction/UpdateFunctionConfiguration, and the JSON format as
the environments apply it: platform records {"time","type","record"} instead of the START/END/
REPORT lines, AWS_LAMBDA_LOG_FORMAT/AWS_LAMBDA_LOG_LEVEL for the runtime, JSON application
logs from the python and nodejs runtimes filtered by ApplicationLogLevel, SystemLogLevel WARN
dropping the platform records, and a custom LogGroup."""
import base64
import json
import urllib.request

import boto3
import pytest
from botocore.config import Config

from conftest import zip_files
from helpers import current_boto3_python, py_basic_daemon, run_boto3_script, run_galley

ROLE = "arn:aws:iam::000000000000:role/lambda-role"
PY = """\
import logging, os
log = logging.getLogger("app")
def handler(event, context):
    log.debug("debug-line")
    log.info("info-line")
    log.warning("warn-line")
    print('{"level": "debug", "msg": "raw-debug"}')
    print('{"msg": "raw-no-level"}')
    print("plain-line")
    return {k: os.environ.get(k) for k in
            ("AWS_LAMBDA_LOG_FORMAT", "AWS_LAMBDA_LOG_LEVEL", "AWS_LAMBDA_LOG_GROUP_NAME")}
"""
NODE = """\
exports.handler = async () => {
  console.debug('debug-line');
  console.info('info-line');
  console.warn('warn-line');
  return process.env.AWS_LAMBDA_LOG_FORMAT || null;
};
"""

PYTHON = current_boto3_python("get_function_recursion_config")
pytestmark = pytest.mark.skipif(
    PYTHON is None, reason="no Python with a boto3 that has LoggingConfig "
                           "(set GALLEY_CURRENT_PYTHON)")

PRELUDE = """
import base64
def zipped(name):
    return base64.b64decode(ZIPS[name])
def create(name, runtime, handler, **kw):
    return c.create_function(FunctionName=name, Runtime=runtime, Handler=handler,
                             Role="%s", Code={"ZipFile": zipped(runtime[:4])}, **kw)
def tail(name):
    r = c.invoke(FunctionName=name, LogType="Tail", Payload=b"{}")
    return [r["ResponseMetadata"]["RequestId"], json.loads(r["Payload"].read()),
            base64.b64decode(r["LogResult"]).decode()]
""" % ROLE


def script(body):
    zips = {"pyth": base64.b64encode(zip_files({"app.py": PY})).decode(),
            "node": base64.b64encode(zip_files({"index.js": NODE})).decode()}
    return f"ZIPS = {zips!r}\n" + PRELUDE + body


def records(text):
    """The log's lines, each parsed ({"raw": line} for a line that is not JSON)."""
    out = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            out.append({"raw": line})
    return out


def app_messages(recs):
    """What the function wrote, in order: the logging records' and JSON prints' messages."""
    return [r.get("message", r.get("msg", r.get("raw"))) for r in recs if "type" not in r]


def test_defaults_and_validation(daemon_factory, tmp_path):
    d = daemon_factory(state_dir=tmp_path / "state")
    out = run_boto3_script(PYTHON, d.url, script("""
out["text"] = create("plain", "python3.12", "app.handler")["LoggingConfig"]
out["json"] = create("js", "python3.12", "app.handler",
                     LoggingConfig={"LogFormat": "JSON"})["LoggingConfig"]
out["level_with_text"] = error_of(c.update_function_configuration, FunctionName="plain",
                                  LoggingConfig={"ApplicationLogLevel": "DEBUG"})
out["bad_level"] = error_of(c.update_function_configuration, FunctionName="js",
                            LoggingConfig={"SystemLogLevel": "TRACE"})
out["bad_group"] = error_of(c.update_function_configuration, FunctionName="js",
                            LoggingConfig={"LogGroup": "no spaces"})
out["escape"] = error_of(c.update_function_configuration, FunctionName="js",
                         LoggingConfig={"LogGroup": "/aws/../../../escape"})
out["debug"] = c.update_function_configuration(
    FunctionName="js", LoggingConfig={"ApplicationLogLevel": "DEBUG"})["LoggingConfig"]
out["back_to_text"] = c.update_function_configuration(
    FunctionName="js", LoggingConfig={"LogFormat": "Text"})["LoggingConfig"]
out["got"] = c.get_function_configuration(FunctionName="js")["LoggingConfig"]
"""))
    assert out["text"] == {"LogFormat": "Text", "LogGroup": "/aws/lambda/plain"}
    assert out["json"] == {"LogFormat": "JSON", "ApplicationLogLevel": "INFO",
                           "SystemLogLevel": "INFO", "LogGroup": "/aws/lambda/js"}
    assert out["level_with_text"] == [
        "InvalidParameterValueException",
        'LogLevel is not supported when LogFormat is set to "Text". Remove LogLevel from your '
        'request or change the LogFormat to "Json" and try again.', 400]
    assert out["bad_level"] == [
        "ValidationException",
        "1 validation error detected: Value 'TRACE' at 'loggingConfig.systemLogLevel' failed to "
        "satisfy constraint: Member must satisfy enum value set: [DEBUG, INFO, WARN]", 400]
    assert out["bad_group"][0] == "ValidationException"
    assert "'loggingConfig.logGroup'" in out["bad_group"][1]
    assert out["escape"] == [
        "InvalidParameterValueException",
        "galley keeps a log group as a directory of the state dir: LogGroup "
        "'/aws/../../../escape' must not have empty, '.' or '..' parts.", 400]
    assert out["debug"] == {"LogFormat": "JSON", "ApplicationLogLevel": "DEBUG",
                            "SystemLogLevel": "INFO", "LogGroup": "/aws/lambda/js"}
    assert out["back_to_text"] == {"LogFormat": "Text", "LogGroup": "/aws/lambda/js"}
    assert out["got"] == out["back_to_text"]


def test_json_platform_records_and_app_logs(daemon_factory, tmp_path):
    d = daemon_factory(state_dir=tmp_path / "state")
    out = run_boto3_script(PYTHON, d.url, script("""
create("pyjson", "python3.12", "app.handler", LoggingConfig={"LogFormat": "JSON"})
out["info"] = tail("pyjson")
c.update_function_configuration(FunctionName="pyjson",
                                LoggingConfig={"ApplicationLogLevel": "DEBUG",
                                               "SystemLogLevel": "DEBUG"})
out["debug"] = tail("pyjson")
c.update_function_configuration(FunctionName="pyjson",
                                LoggingConfig={"SystemLogLevel": "WARN",
                                               "ApplicationLogLevel": "WARN"})
out["warn"] = tail("pyjson")
create("pytext", "python3.12", "app.handler")
out["text"] = tail("pytext")
"""))
    rid, env, log = out["info"]
    assert env == {"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "INFO",
                   "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/pyjson"}
    recs = records(log)
    platform = {r["type"]: r for r in recs if "type" in r}
    # platform.runtimeDone is DEBUG: not at the default SystemLogLevel INFO
    assert list(platform) == ["platform.initStart", "platform.start", "platform.report"]
    assert all(set(r) == {"time", "type", "record"} for r in platform.values())
    assert platform["platform.start"]["record"] == {"requestId": rid, "version": "$LATEST"}
    report = platform["platform.report"]["record"]
    assert report["requestId"] == rid and report["status"] == "success"
    assert set(report["metrics"]) == {"durationMs", "billedDurationMs", "memorySizeMB",
                                      "maxMemoryUsedMB", "initDurationMs"}
    assert report["metrics"]["memorySizeMB"] == 128
    init = platform["platform.initStart"]["record"]
    assert init["functionName"] == "pyjson" and init["phase"] == "init"
    app = [r for r in recs if "logger" in r]
    # Python's levels keep logging's names, as the managed runtime's records do.
    assert [(r["level"], r["message"]) for r in app] == [("INFO", "info-line"),
                                                         ("WARNING", "warn-line")]
    assert all(r["requestId"] == rid and r["logger"] == "app" and r["timestamp"] for r in app)
    # A JSON line below the level is dropped whoever wrote it; no level counts as INFO; text
    # lines are kept as written.
    assert app_messages(recs) == ["info-line", "warn-line", "raw-no-level", "plain-line"]

    rid, env, log = out["debug"]
    assert env["AWS_LAMBDA_LOG_LEVEL"] == "DEBUG"
    recs = records(log)
    assert app_messages(recs) == ["debug-line", "info-line", "warn-line", "raw-debug",
                                  "raw-no-level", "plain-line"]
    done = [r for r in recs if r.get("type") == "platform.runtimeDone"]
    assert [r["record"] for r in done] == [{"requestId": rid, "status": "success"}]

    _, env, log = out["warn"]
    recs = records(log)
    assert not [r for r in recs if "type" in r]  # no platform record at WARN
    assert app_messages(recs) == ["warn-line", "plain-line"]

    rid, env, log = out["text"]
    assert env == {"AWS_LAMBDA_LOG_FORMAT": None, "AWS_LAMBDA_LOG_LEVEL": None,
                   "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/pytext"}
    assert f"START RequestId: {rid} Version: $LATEST" in log
    assert f"END RequestId: {rid}" in log and f"REPORT RequestId: {rid}" in log
    # Text: no AWS_LAMBDA_LOG_LEVEL, so Python's root logger keeps its WARNING default; nothing
    # else is filtered.
    assert "[WARNING]" in log and "warn-line" in log and "info-line" not in log
    assert "raw-debug" in log and "plain-line" in log


def test_node_json_and_custom_group(daemon_factory, tmp_path):
    d = daemon_factory(state_dir=tmp_path / "state")
    out = run_boto3_script(PYTHON, d.url, script("""
create("nodejson", "nodejs20.x", "index.handler", LoggingConfig={
    "LogFormat": "JSON", "LogGroup": "/custom/galley-group"})
out["node"] = tail("nodejson")
"""))
    rid, payload, log = out["node"]
    assert payload == "JSON"
    recs = records(log)
    app = [r for r in recs if "type" not in r]
    assert [(r["level"], r["message"]) for r in app] == [("INFO", "info-line"),
                                                         ("WARN", "warn-line")]
    assert all(r["requestId"] == rid for r in app)
    assert {r["type"] for r in recs if "type" in r} >= {"platform.start", "platform.report"}

    logs = boto3.client("logs", endpoint_url=d.url, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing",
                        config=Config(retries={"total_max_attempts": 1}))
    events = logs.filter_log_events(logGroupName="/custom/galley-group")["events"]
    assert any(json.loads(e["message"]).get("type") == "platform.report" for e in events)
    # galley logs finds the function's streams in its custom group.
    res = run_galley("logs", "nodejson", "--state-dir", str(d.state), "--endpoint", d.url,
                     timeout=60)
    assert res.returncode == 0, res.stderr
    assert '"type":"platform.report"' in res.stdout and "info-line" in res.stdout


def test_template_logging_config(daemon_factory, tmp_path):
    """A template function's LoggingConfig works as the API's (Debian's boto3 is enough)."""
    d = py_basic_daemon(daemon_factory, tmp_path, {"Echo": {
        "Handler": "app.echo", "FunctionName": "tpl-json",
        "LoggingConfig": {"LogFormat": "JSON", "SystemLogLevel": "WARN"}}})
    r = d.client().invoke(FunctionName="tpl-json", LogType="Tail", Payload=b"{}")
    log = base64.b64decode(r["LogResult"]).decode()
    assert "START RequestId" not in log and "platform.start" not in log  # dropped at WARN
    # Debian's botocore drops the LoggingConfig it does not know: read the raw answer.
    with urllib.request.urlopen(f"{d.url}/2015-03-31/functions/tpl-json/configuration",
                                timeout=30) as resp:
        conf = json.loads(resp.read())
    assert conf["LoggingConfig"] == {"LogFormat": "JSON", "ApplicationLogLevel": "INFO",
                                     "SystemLogLevel": "WARN", "LogGroup": "/aws/lambda/tpl-json"}



def test_json_report_status_on_timeout(daemon_factory, tmp_path):
    d = daemon_factory(state_dir=tmp_path / "state")
    out = run_boto3_script(PYTHON, d.url, script("""
c.create_function(FunctionName="slow", Runtime="python3.12", Handler="app.slow", Role="%s",
                  Timeout=1, LoggingConfig={"LogFormat": "JSON"},
                  Code={"ZipFile": base64.b64decode(SLOW)})
r = c.invoke(FunctionName="slow", LogType="Tail", Payload=b"{}")
out["error"] = r.get("FunctionError")
out["log"] = base64.b64decode(r["LogResult"]).decode()
""" % ROLE).replace("ZIPS = ", "SLOW = %r\nZIPS = " % base64.b64encode(zip_files(
        {"app.py": "import time\ndef slow(event, context):\n    time.sleep(5)\n"})).decode()))
    assert out["error"] == "Unhandled"
    report = [r for r in records(out["log"]) if r.get("type") == "platform.report"]
    assert len(report) == 1 and report[0]["record"]["status"] == "timeout"
