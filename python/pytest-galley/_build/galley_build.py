# SPDX-License-Identifier: MIT
"""A PEP 517 build backend for pytest-galley that needs nothing but the standard library, so
`pip install ./python/pytest-galley` works without a package index (no setuptools download).
It builds one pure-Python wheel: the pytest_galley package, its metadata and the pytest11
entry point that makes pytest load the plugin. Names and version come from pyproject.toml."""
import base64
import hashlib
import os
import pathlib
import re
import zipfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGE = "pytest_galley"


def _project():
    text = (ROOT / "pyproject.toml").read_text()
    get = lambda key: re.search(rf'^{key} = "([^"]*)"', text, re.M).group(1)
    return get("name"), get("version"), get("description"), get("requires-python")


def _dist_info(name, version):
    return f"{name.replace('-', '_')}-{version}.dist-info"


def _metadata_files():
    name, version, summary, python = _project()
    readme = (ROOT / "README.md").read_text() if (ROOT / "README.md").exists() else ""
    info = _dist_info(name, version)
    return {
        f"{info}/METADATA": (f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
                             f"Summary: {summary}\nLicense: MIT\nRequires-Python: {python}\n"
                             "Classifier: Framework :: Pytest\n"
                             f"Description-Content-Type: text/markdown\n\n{readme}"),
        f"{info}/WHEEL": ("Wheel-Version: 1.0\nGenerator: galley_build\nRoot-Is-Purelib: true\n"
                          "Tag: py3-none-any\n"),
        f"{info}/entry_points.txt": f"[pytest11]\ngalley = {PACKAGE}\n",
    }


def _record_line(path, data):
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def get_requires_for_build_wheel(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    files = _metadata_files()
    for path, text in files.items():
        target = pathlib.Path(metadata_directory) / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return next(iter(files)).split("/")[0]


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    name, version, _, _ = _project()
    wheel = f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
    files = {}
    for src in sorted((ROOT / PACKAGE).rglob("*.py")):
        files[str(src.relative_to(ROOT))] = src.read_bytes()
    files.update({k: v.encode() for k, v in _metadata_files().items()})
    record = f"{_dist_info(name, version)}/RECORD"
    lines = [_record_line(p, d) for p, d in files.items()] + [f"{record},,"]
    files[record] = ("\n".join(lines) + "\n").encode()
    with zipfile.ZipFile(os.path.join(wheel_directory, wheel), "w", zipfile.ZIP_DEFLATED) as z:
        for path, data in files.items():
            z.writestr(path, data)
    return wheel
