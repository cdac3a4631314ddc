"""Set up worker on Blender 5.1+ (Python 3.13): the environment is made from a Python the
worker's packages support (mediapipe 0.10.21: 3.11/3.12), found on the machine; without
one, the set-up says what to install before running anything."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import REPO
from video_to_motion.core.client import worker_setup


def python313() -> str | None:
    for exe in [p for p in os.environ.get("VTM_BLENDER_PYTHONS", "").split(os.pathsep) if p] + \
            worker_setup.python_candidates((3, 13)):
        if worker_setup.python_version(exe) == (3, 13):
            return exe
    return None


def test_the_plan_from_a_313_interpreter_uses_a_supported_python(tmp_path):
    base = python313()
    if base is None:
        pytest.skip("no Python 3.13 here")
    package = tmp_path / "package"  # the package by its one name, for a bare interpreter
    package.mkdir()
    (package / "video_to_motion").symlink_to(REPO, target_is_directory=True)
    code = ("import json, sys; from video_to_motion.core.client import worker_setup as w; "
            "b = w.default_base_python(); "
            "steps = w.plan(b, sys.argv[1], gpu=False, check=False); "
            "print(json.dumps([b, w.python_version(b), steps[0].argv, w.unsupported_base(b, steps)]))")
    out = subprocess.run([base, "-c", code, str(tmp_path / "env")], cwd=REPO, capture_output=True, text=True,
                         timeout=120, env=dict(os.environ, PYTHONPATH=str(package)))
    assert out.returncode == 0, out.stderr
    chosen, version, first, problem = json.loads(out.stdout.strip().splitlines()[-1])
    if tuple(version) not in worker_setup.WORKER_PYTHONS:
        pytest.skip("no Python 3.11/3.12 on this machine to choose")
    assert chosen != base and first == [chosen, "-m", "venv", str(tmp_path / "env")] and problem is None


def test_a_313_base_without_a_supported_python_is_refused_with_what_to_do(tmp_path):
    base = python313()
    if base is None:
        pytest.skip("no Python 3.13 here")
    steps = worker_setup.plan(base, tmp_path / "env", gpu=False, requirements=["mediapipe==0.10.21"], check=False)
    setup = worker_setup.WorkerSetup(steps, base, tmp_path / "env")
    setup.start()
    assert setup.finished and not setup.succeeded
    assert "need Python 3.11 or 3.12" in setup.error and "uv python install 3.12" in setup.error
    assert not (tmp_path / "env").exists(), "nothing ran"


def test_a_supported_interpreter_is_its_own_base():
    assert worker_setup.default_base_python("/x/python", (3, 11)) == "/x/python"
    assert worker_setup.default_base_python(sys.executable, (3, 12)) == sys.executable
