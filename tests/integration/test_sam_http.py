# SPDX-License-Identifier: MIT
"""SAM HTTP events: a template's Api (REST, payload 1.0) and HttpApi (payload 2.0) events
served on --api-listen with API Gateway's route matching (exact, {param}, greedy {proxy+},
ANY, unknown routes), the route table printed at start, and a FunctionUrlConfig whose URL is
created at start and printed. Every listener on 127.0.0.1."""
import json
import subprocess
import time
import urllib.error
import urllib.request

from conftest import write_template

HANDLER = """
import json
def handler(event, context):
    if event.get("path") == "/boom" or event.get("rawPath") == "/v2/boom":
        raise ValueError("boom")
    return {"statusCode": 200, "headers": {"content-type": "application/json"},
            "body": json.dumps(event)}
"""


def banner(d, until, timeout=30):
    """What the daemon printed at start about its URLs and routes (stdout, and its log, which
    the harness leaves unread), once it contains until."""
    deadline = time.monotonic() + timeout
    text = d.daemon_log()
    while until not in text and time.monotonic() < deadline:
        time.sleep(0.1)
        text = d.daemon_log()
    return text


def call(url, method="GET", data=None, headers=None):
    req = urllib.request.Request(url, method=method, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def start(daemon_factory, tmp_path, extra=()):
    code = tmp_path / "src"
    code.mkdir()
    (code / "app.py").write_text(HANDLER)
    common = {"CodeUri": "src", "Handler": "app.handler", "Runtime": "python3.12"}
    tpl = write_template(tmp_path, {
        "Rest": dict(common, Events={
            "List": {"Type": "Api", "Properties": {"Path": "/items", "Method": "get"}},
            "One": {"Type": "Api", "Properties": {"Path": "/items/{id}", "Method": "GET"}},
            "Boom": {"Type": "Api", "Properties": {"Path": "/boom", "Method": "get"}},
            "Files": {"Type": "Api", "Properties": {"Path": "/files/{proxy+}",
                                                   "Method": "any"}}}),
        "Http": dict(common, FunctionUrlConfig={"AuthType": "NONE"}, Events={
            "Get": {"Type": "HttpApi", "Properties": {"Path": "/v2/items/{id}",
                                                     "Method": "GET"}},
            "Any": {"Type": "HttpApi", "Properties": {"Path": "/v2/{proxy+}",
                                                     "Method": "ANY"}}}),
    })
    d = daemon_factory(template=tpl, extra_args=["--api-listen", "127.0.0.1:0", *extra])
    return d, banner(d, "/v2/{proxy+}")


def test_routes_events_and_banner(daemon_factory, tmp_path):
    d, text = start(daemon_factory, tmp_path)
    assert "galley function URL of Http: http://127.0.0.1:" in text
    url = text.split("galley function URL of Http: ", 1)[1].split()[0]
    api = text.split("galley API events on ", 1)[1].split(":\n", 1)[0]
    assert api.startswith("http://127.0.0.1:")
    for row in ("Api     GET     /items", "Api     ANY     /files/{proxy+}",
                "HttpApi GET     /v2/items/{id}"):
        assert row in text, text

    st, body = call(api + "/items?tag=a&tag=b")
    ev = json.loads(body)
    assert st == 200 and ev["resource"] == "/items" and ev["httpMethod"] == "GET"
    assert ev["queryStringParameters"] == {"tag": "b"}
    assert ev["multiValueQueryStringParameters"] == {"tag": ["a", "b"]}
    assert ev["pathParameters"] is None and ev["requestContext"]["stage"] == "Prod"
    st, body = call(api + "/items/42")
    ev = json.loads(body)
    assert ev["resource"] == "/items/{id}" and ev["pathParameters"] == {"id": "42"}
    st, body = call(api + "/files/a/b%20c.txt", "PUT", b"payload",
                    {"Content-Type": "text/plain"})
    ev = json.loads(body)
    assert ev["resource"] == "/files/{proxy+}" and ev["httpMethod"] == "PUT"
    assert ev["pathParameters"] == {"proxy": "a/b c.txt"} and ev["body"] == "payload"

    st, body = call(api + "/v2/items/9")
    ev = json.loads(body)
    assert ev["version"] == "2.0" and ev["routeKey"] == "GET /v2/items/{id}"
    assert ev["requestContext"]["routeKey"] == "GET /v2/items/{id}"
    assert ev["pathParameters"] == {"id": "9"}
    st, body = call(api + "/v2/other/x", "DELETE")
    ev = json.loads(body)
    assert ev["routeKey"] == "ANY /v2/{proxy+}" and ev["pathParameters"] == {"proxy": "other/x"}

    # Unknown routes: the REST API's answer (the table has REST routes).
    assert call(api + "/nope") == (403, b'{"message":"Missing Authentication Token"}')
    assert call(api + "/items", "POST")[0] == 403
    assert call(api + "/boom") == (502, b'{"message":"Internal server error"}')
    assert call(api + "/v2/boom") == (500, b'{"message":"Internal Server Error"}')

    # The template's FunctionUrlConfig: a URL as Create makes it, shown by the API too.
    st, body = call(url + "deep/path?q=1")
    ev = json.loads(body)
    assert st == 200 and ev["rawPath"] == "/deep/path" and ev["routeKey"] == "$default"
    got = d.client().get_function_url_config(FunctionName="Http")
    assert got["FunctionUrl"] == url and got["AuthType"] == "NONE"


def test_http_api_only_unknown_route_is_404(daemon_factory, tmp_path):
    code = tmp_path / "src"
    code.mkdir()
    (code / "app.py").write_text(HANDLER)
    tpl = write_template(tmp_path, {"Only": {
        "CodeUri": "src", "Handler": "app.handler", "Runtime": "python3.12",
        "Events": {"E": {"Type": "HttpApi", "Properties": {"Path": "/a", "Method": "GET"}}}}})
    d = daemon_factory(template=tpl, extra_args=["--api-listen", "127.0.0.1:0"])
    text = banner(d, "-> Only")
    api = text.split("galley API events on ", 1)[1].split(":\n", 1)[0]
    assert call(api + "/b") == (404, b'{"message":"Not Found"}')
    assert call(api + "/a")[0] == 200


def test_bad_event_is_a_start_error(tmp_path):
    from conftest import GALLEY_BIN
    tpl = write_template(tmp_path, {"F": {
        "CodeUri": ".", "Handler": "app.handler", "Runtime": "python3.12",
        "Events": {"E": {"Type": "Api", "Properties": {"Path": "no-slash", "Method": "GET"}}}}})
    out = subprocess.run([GALLEY_BIN, "serve", "--listen", "127.0.0.1:0", "--state-dir",
                          str(tmp_path / "s"), "--template", str(tpl), "--api-listen",
                          "127.0.0.1:0"], capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "event E: Api needs Properties.Path" in out.stderr
