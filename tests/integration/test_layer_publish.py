# SPDX-License-Identifier: MIT
"""PublishLayerVersion unpacks off the event loop (issue 9, section 3; issue 10, section 1): a
layer zip of tens of thousands of files no longer stalls other requests; concurrent publishes
of one layer get distinct consecutive versions; a client that disconnects during its publish
still gets its version stored, and a daemon stopped during one stores nothing.

Invokes are counted, not timed: the bounds are hang guards. bench/upload-stall measures."""
import base64
import functools
import http.client
import io
import json
import signal
import time
import zipfile

from conftest import zip_files
from helpers import wait_until
from test_code_upload import Upload, c_daemon, request, send_and_hang_up

FILES = 40_000
LAYERS = "/2018-10-31/layers/"


@functools.lru_cache(maxsize=None)
def many_files_layer():
    """A layer zip with FILES small files under python/ (about 4 MB)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.writestr("python/biglib.py", "WHO = 'big'\n")
        for i in range(FILES):
            z.writestr(f"python/data/{i // 1000:03d}/{i:06d}.txt", f"file {i}\n")
    return buf.getvalue()


def publish_body(zip_bytes, **kw):
    return dict(Content={"ZipFile": base64.b64encode(zip_bytes).decode()}, **kw)


def versions_on_disk(state, name):
    d = state / "layers" / name
    return sorted(p.name for p in d.iterdir() if p.name.isdigit()) if d.exists() else []


def test_invokes_answered_during_a_large_layer_publish(daemon_factory, tmp_path):
    d = c_daemon(daemon_factory, tmp_path)
    path = "/2015-03-31/functions/CFast/invocations"
    assert request(d.port, "POST", path, b"{}")[0] == 200  # warm the environment
    up = Upload(d.port, "POST", LAYERS + "big/versions", publish_body(many_files_layer()))
    up.start()
    conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=60)
    during = 0
    deadline = time.monotonic() + 170
    while up.is_alive() and time.monotonic() < deadline:
        conn.request("POST", path, body=b"{}")
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 200
        during += 1
    up.join(timeout=10)
    conn.close()
    assert up.result is not None and up.result[0] == 201, up.result
    got = json.loads(up.result[2])
    assert got["Version"] == 1 and got["Content"]["CodeSize"] == len(many_files_layer())
    # On the loop thread the unpack answered no invoke until it was done.
    assert during >= 20, f"only {during} invokes answered during the publish"
    # The version is complete: its last file is there.
    content = d.state / "layers" / "big" / "1" / "content" / "python"
    assert (content / "data" / f"{(FILES - 1) // 1000:03d}" / f"{FILES - 1:06d}.txt").exists()


def test_concurrent_publishes_get_consecutive_versions(daemon_factory, tmp_path):
    d = c_daemon(daemon_factory, tmp_path)
    big = publish_body(many_files_layer(), Description="big")
    small = publish_body(zip_files({"python/x.py": "X = 1\n"}), Description="small")
    ups = [Upload(d.port, "POST", LAYERS + "same/versions", body)
           for body in (big, big, small, small)]
    for u in ups:
        u.start()
    for u in ups:
        u.join(timeout=170)
    assert all(u.result is not None and u.result[0] == 201 for u in ups), \
        [u.result and u.result[:2] for u in ups]
    got = [json.loads(u.result[2]) for u in ups]
    assert sorted(g["Version"] for g in got) == [1, 2, 3, 4]
    # Each answer names the version holding its own content.
    for g, body in zip(got, (big, big, small, small)):
        status, _, payload = request(d.port, "GET", f"{LAYERS}same/versions/{g['Version']}")
        assert status == 200 and json.loads(payload)["Description"] == body["Description"]
    # The next one continues the sequence.
    status, _, payload = request(d.port, "POST", LAYERS + "same/versions", small)
    assert status == 201 and json.loads(payload)["Version"] == 5


def test_client_gone_during_publish_still_stores_once(daemon_factory, tmp_path):
    d = c_daemon(daemon_factory, tmp_path)
    send_and_hang_up(d.port, LAYERS + "gone/versions", publish_body(many_files_layer()),
                     lambda: bool(versions_on_disk(d.state, "gone")))
    assert wait_until(lambda: request(d.port, "GET", LAYERS + "gone/versions/1")[0] == 200,
                      timeout=120, step=0.2)
    assert versions_on_disk(d.state, "gone") == ["1"]
    status, _, payload = request(d.port, "POST", LAYERS + "gone/versions",
                                 publish_body(zip_files({"a.txt": "a"})))
    assert status == 201 and json.loads(payload)["Version"] == 2


def test_daemon_stopped_during_publish_leaves_no_version(daemon_factory, tmp_path):
    d = c_daemon(daemon_factory, tmp_path)
    up = Upload(d.port, "POST", LAYERS + "halt/versions", publish_body(many_files_layer()))
    up.start()
    assert wait_until(lambda: bool(versions_on_disk(d.state, "halt")), timeout=60, step=0.02)
    assert d.stop(signal.SIGTERM) == 0
    up.join(timeout=10)
    assert up.result is not None and up.result[0] in (None, 500), up.result
    assert versions_on_disk(d.state, "halt") == []
    assert "ERROR: AddressSanitizer" not in d.daemon_log()


def test_bad_layer_zips_answered_from_the_worker(daemon_factory, tmp_path):
    d = c_daemon(daemon_factory, tmp_path)
    status, etype, payload = request(d.port, "POST", LAYERS + "bad/versions",
                                     {"Content": {"ZipFile": "%%%not base64"}})
    assert (status, etype) == (400, "InvalidRequestContentException"), payload
    status, etype, payload = request(d.port, "POST", LAYERS + "bad/versions",
                                     publish_body(b"not a zip"))
    assert (status, etype) == (400, "InvalidParameterValueException"), payload
    assert "Could not unzip uploaded file" in json.loads(payload)["message"]
    # Refused uploads leave no version.
    assert json.loads(request(d.port, "GET", LAYERS + "bad/versions")[2])["LayerVersions"] == []
