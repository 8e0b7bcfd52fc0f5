# SPDX-License-Identifier: MIT
"""GET /metrics: the Prometheus text the daemon serves, parsed by a small parser here, counts
exactly the invokes made: invocations, function errors, a cold start then warm ones, a
throttle (--account-concurrency 1), a timeout, histograms whose counts match, environments by
state, concurrent executions while an invoke runs, and an Event invoke counted once it ran."""
import json
import re
import threading
import time
import urllib.error
import urllib.request

import pytest

from conftest import FIXTURES, write_template

SAMPLE_RE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL_RE = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)')


def parse(text):
    """{(name, frozenset(labels)): value}, checking the exposition format on the way: every
    sample after a TYPE line of its family, no sample twice, every line newline-terminated."""
    assert text.endswith("\n")
    samples, types, family = {}, {}, None
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert name not in types, f"family {name} twice"
            types[name] = kind
            family = name
            continue
        if line.startswith("#") or not line:
            continue
        m = SAMPLE_RE.match(line)
        assert m, f"bad sample line {line!r}"
        name, labels, value = m.group(1), m.group(2) or "", m.group(3)
        base = re.sub(r"_(bucket|sum|count)$", "", name) if types.get(family) == "histogram" else name
        assert base == family, f"{name} outside its family ({family})"
        pairs = LABEL_RE.findall(labels)
        assert ",".join(f'{k}="{v}"' for k, v in pairs) == labels, f"bad labels {labels!r}"
        key = (name, frozenset(pairs))
        assert key not in samples, f"sample {line!r} twice"
        samples[key] = float(value)
    return samples, types


def scrape(daemon):
    with urllib.request.urlopen(daemon.url + "/metrics", timeout=10) as r:
        assert r.status == 200
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        return parse(r.read().decode())


def value(samples, name, fn, version="$LATEST", **labels):
    want = frozenset({("function", fn), ("version", version), *labels.items()})
    return samples.get((name, want))


def env_states(samples, fn):
    return {dict(labels)["state"]: v for (name, labels), v in samples.items()
            if name == "galley_environments" and ("function", fn) in labels}


@pytest.fixture
def served(daemon_factory, tmp_path):
    py = str(FIXTURES / "py_basic")
    tpl = write_template(tmp_path, {
        "PyEcho": {"CodeUri": py, "Handler": "app.echo", "Runtime": "python3.11"},
        "PyFail": {"CodeUri": py, "Handler": "app.fail", "Runtime": "python3.11"},
        "PySleep": {"CodeUri": py, "Handler": "app.sleep", "Runtime": "python3.11",
                    "Timeout": 3},
    }, globals_={"Timeout": 10})
    return daemon_factory(template=tpl, extra_args=["--account-concurrency", "1",
                                                     "--async-time-scale", "600"])


def invoke(client, name, payload=b"{}", **kw):
    resp = client.invoke(FunctionName=name, Payload=payload, **kw)
    resp["Payload"].read()
    return resp


def test_metrics_count_the_invokes_made(served):
    c = served.client()
    samples, types = scrape(served)
    assert types["galley_invocations_total"] == "counter"
    assert types["galley_duration_seconds"] == "histogram"
    assert types["galley_environments"] == "gauge"
    assert value(samples, "galley_invocations_total", "PyEcho") is None  # nothing yet
    assert samples[("galley_async_queue_depth", frozenset())] == 0

    invoke(c, "PyEcho")
    s, _ = scrape(served)
    assert value(s, "galley_invocations_total", "PyEcho") == 1
    assert value(s, "galley_cold_starts_total", "PyEcho") == 1
    # one environment, idle once its runtime is back in /next (responded until then)
    assert env_states(s, "PyEcho")["idle"] + env_states(s, "PyEcho")["responded"] == 1
    assert sum(env_states(s, "PyEcho").values()) == 1
    for _ in range(3):
        invoke(c, "PyEcho")  # warm
    for _ in range(2):
        assert invoke(c, "PyFail").get("FunctionError") == "Unhandled"

    # While PySleep runs (it times out after 3 s), the one unit of account concurrency is
    # taken: PyEcho is throttled, and the gauges show the running invoke.
    result = {}
    t = threading.Thread(target=lambda: result.update(
        invoke(served.client(), "PySleep", json.dumps({"seconds": 30}).encode())))
    t.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        s, _ = scrape(served)
        if value(s, "galley_concurrent_executions", "PySleep") == 1:
            break
        time.sleep(0.05)
    assert value(s, "galley_concurrent_executions", "PySleep") == 1
    assert s[("galley_account_concurrent_executions", frozenset())] == 1
    assert s[("galley_account_concurrency_limit", frozenset())] == 1
    # One plain HTTP request: an SDK would retry a 429 and count twice.
    req = urllib.request.Request(served.url + "/2015-03-31/functions/PyEcho/invocations",
                                 data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as ei:
        urllib.request.urlopen(req, timeout=10)
    assert ei.value.code == 429
    assert ei.value.headers["x-amzn-ErrorType"].startswith("TooManyRequestsException")
    t.join(timeout=30)
    assert not t.is_alive()
    assert result.get("FunctionError") == "Unhandled"

    s, _ = scrape(served)
    assert value(s, "galley_invocations_total", "PyEcho") == 4  # the throttled one did not run
    assert value(s, "galley_throttles_total", "PyEcho") == 1
    assert value(s, "galley_cold_starts_total", "PyEcho") == 1
    assert value(s, "galley_errors_total", "PyEcho") == 0
    assert value(s, "galley_invocations_total", "PyFail") == 2
    assert value(s, "galley_errors_total", "PyFail") == 2
    assert value(s, "galley_timeouts_total", "PyFail") == 0
    assert value(s, "galley_invocations_total", "PySleep") == 1
    assert value(s, "galley_errors_total", "PySleep") == 1
    assert value(s, "galley_timeouts_total", "PySleep") == 1
    assert value(s, "galley_concurrent_executions", "PySleep") == 0
    assert s[("galley_account_concurrent_executions", frozenset())] == 0

    # Histograms agree with the counters; the timed-out invoke took about its 3 s.
    for fn, n in (("PyEcho", 4), ("PyFail", 2), ("PySleep", 1)):
        assert value(s, "galley_duration_seconds_count", fn) == n
        assert value(s, "galley_duration_seconds_bucket", fn, le="+Inf") == n
        cold = value(s, "galley_cold_starts_total", fn)
        assert value(s, "galley_init_duration_seconds_count", fn) == cold
        buckets = [v for (name, labels), v in s.items()
                   if name == "galley_duration_seconds_bucket" and ("function", fn) in labels]
        assert len(buckets) == 16
    assert value(s, "galley_duration_seconds_bucket", "PySleep", le="1") == 0
    assert value(s, "galley_duration_seconds_bucket", "PySleep", le="5") == 1
    assert 2.9 < value(s, "galley_duration_seconds_sum", "PySleep") < 5

    # Environments by state: PyEcho's one environment is idle, nothing else of it lives.
    deadline = time.monotonic() + 10
    while env_states(s, "PyEcho")["idle"] != 1 and time.monotonic() < deadline:
        time.sleep(0.05)
        s, _ = scrape(served)
    assert env_states(s, "PyEcho")["idle"] == 1 and sum(env_states(s, "PyEcho").values()) == 1


def test_metrics_count_event_invokes_and_refuse_other_methods(served):
    c = served.client()
    assert c.invoke(FunctionName="PyEcho", InvocationType="Event",
                    Payload=b"{}")["StatusCode"] == 202
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        s, _ = scrape(served)
        if value(s, "galley_invocations_total", "PyEcho") == 1:
            break
        time.sleep(0.05)
    assert value(s, "galley_invocations_total", "PyEcho") == 1
    req = urllib.request.Request(served.url + "/metrics", data=b"", method="POST")
    with pytest.raises(urllib.error.HTTPError) as ei:
        urllib.request.urlopen(req, timeout=10)
    assert ei.value.code >= 400
