# SPDX-License-Identifier: MIT
"""The Debian package: CPack makes a .deb of the build under test (packaging/install.cmake,
as scripts/package does) whose control fields name the runtime libraries; unpacked into a
temporary root with `dpkg -x` (nothing is installed on the machine), its galley serves a
template with the runtimes it carries and answers one boto3 invoke, then stops."""
import re
import shutil
import subprocess

import pytest

from conftest import BUILD
from install_helpers import serve_and_invoke

RUN_TIMEOUT = 300


@pytest.fixture(scope="module")
def deb(tmp_path_factory):
    for tool in ("cpack", "dpkg-deb"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is not installed")
    out = tmp_path_factory.mktemp("package")
    res = subprocess.run(["cpack", "--config", str(BUILD / "CPackConfig.cmake"), "-B", str(out)],
                         capture_output=True, text=True, timeout=RUN_TIMEOUT)
    assert res.returncode == 0, res.stdout + res.stderr
    debs = list(out.glob("galley_*.deb"))
    assert len(debs) == 1, res.stdout
    return debs[0]


def field(deb, name):
    res = subprocess.run(["dpkg-deb", "--field", str(deb), name], capture_output=True,
                         text=True, timeout=RUN_TIMEOUT)
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()


def test_package_depends_on_the_runtime_libraries(deb):
    assert field(deb, "Package") == "galley"
    depends = [alt.strip() for alt in field(deb, "Depends").split(",")]
    for lib in ["libuv1", "libjansson4", "libseccomp2", "libarchive13", "libyaml-0-2", "libssl3"]:
        assert any(re.match(rf"{re.escape(lib)}\b", d) for d in depends), (lib, depends)
    recommends = field(deb, "Recommends")
    assert "python3" in recommends and "nodejs" in recommends
    # Every dependency is satisfiable here, where the package is smoke-tested.
    for dep in depends:
        names = [a.split()[0].split(":")[0] for a in dep.split("|")]
        ok = any(subprocess.run(["dpkg-query", "-W", n], capture_output=True,
                                timeout=RUN_TIMEOUT).returncode == 0 for n in names)
        assert ok, f"no installed package satisfies '{dep}'"


def test_unpacked_package_serves_a_template(deb, tmp_path, monkeypatch):
    root = tmp_path / "root"
    res = subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], capture_output=True,
                         text=True, timeout=RUN_TIMEOUT)
    assert res.returncode == 0, res.stderr
    files = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True,
                           timeout=RUN_TIMEOUT).stdout
    for path in ["/usr/bin/galley", "/usr/share/galley/runtimes/python/bootstrap",
                 "/usr/share/man/man1/galley-serve.1", "/usr/include/galley/runtime.h",
                 "/usr/share/bash-completion/completions/galley"]:
        assert f".{path}\n" in files, path
    galley = root / "usr/bin/galley"
    log, answer = serve_and_invoke(monkeypatch, tmp_path / "serve", galley)
    assert answer["event"] == {"hello": "installed"}
    assert f"runtimes: {root.resolve()}/usr/share/galley/runtimes" in log
