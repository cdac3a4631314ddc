"""The extension as users get it: each Blender's extension tool validates and builds it, and the
built zip installs and works in that Blender (tests/blender_harness.py: one run per Blender)."""
from __future__ import annotations

import glob
import subprocess
import zipfile
from pathlib import Path

import pytest

from blender_harness import BLENDER_PYTHONS, case_names, check, run_cases

REPO = Path(__file__).resolve().parents[2]


def ext_tool(python: str) -> str:
    prefix = subprocess.run([python, "-c", "import sys; print(sys.prefix)"], capture_output=True, text=True,
                            timeout=60).stdout.strip()
    found = glob.glob(str(Path(prefix) / "lib" / "python3*" / "site-packages" / "bpy" / "*" / "scripts" /
                          "addons_core" / "bl_pkg" / "cli" / "blender_ext.py"))
    assert found, f"blender_ext.py not found in the bpy wheel of {python}"
    return found[0]


@pytest.fixture(scope="module", params=BLENDER_PYTHONS, ids=repr)
def blender(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def built_zip(tmp_path_factory, blender) -> Path:
    out = tmp_path_factory.mktemp("ext_build")
    proc = subprocess.run([blender, ext_tool(blender), "build", "--source-dir", str(REPO), "--output-dir", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    zips = list(out.glob("*.zip"))
    assert len(zips) == 1, proc.stdout
    return zips[0]


def test_manifest_validates(blender):
    proc = subprocess.run([blender, ext_tool(blender), "validate", str(REPO)], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_zip_holds_the_addon_and_core_but_no_tests(built_zip):
    names = set(zipfile.ZipFile(built_zip).namelist())
    for needed in ("blender_manifest.toml", "__init__.py", "pyproject.toml", "addon/__init__.py",
                   "addon/importer.py", "core/worker/__main__.py", "core/worker/cli.py", "core/common/keyframes.py",
                   "core/client/worker_client.py", "core/estimators/blazepose/estimator.py",
                   "scripts/batch_import.py", "scripts/preview.py"):
        assert needed in names, needed
    # Left out by folder: tests, training, benchmarks and checks.
    for folder in ("tests/", "core/training/", "scripts/bench/", "scripts/checks/", "scripts/training/"):
        assert not any(n.startswith(folder) for n in names), folder
    assert not any("__pycache__" in n for n in names)


@pytest.fixture(scope="module")
def results(built_zip, blender):
    return run_cases("cases_package", extra_env={"VTM_EXTENSION_ZIP": str(built_zip)}, python=blender)


@pytest.mark.parametrize("name", case_names("cases_package"))
def test_installed_zip(results, name):
    check(results, name)
