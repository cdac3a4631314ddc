"""Pytest side of the Blender cases: each cases module runs once in a child process.

A child process under a timeout means no bpy state leaks between modules and a stuck
Blender can never hang the test run. The child's Python decides the Blender version:
$VTM_BLENDER_PYTHONS lists Blender-side Pythons (each with bpy, numpy, scipy and pytest;
separated like PATH), and every cases module runs once on each; without it, on this
Python. The worker's Python (torch, OpenCV) is this one, passed as $VTM_WORKER_PYTHON.
"""
from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

TESTS = Path(__file__).resolve().parent
CASES = TESTS / "blender_cases"


class BlenderPython(str):
    """A Blender-side Python executable; str() is its path, `label` names its bpy (test ids)."""

    label = ""

    def __repr__(self) -> str:
        return self.label


def _bpy_version(python: str) -> str:
    code = "import importlib.metadata as m; print(m.version('bpy'))"
    try:
        out = subprocess.run([python, "-c", code], capture_output=True, text=True, timeout=60)
    except OSError as exc:
        raise RuntimeError(f"Blender-side Python '{python}' does not run: {exc}") from exc
    return out.stdout.strip() or "none"


def blender_pythons() -> list[BlenderPython]:
    """The Blender-side Pythons the cases run on ($VTM_BLENDER_PYTHONS, else this Python)."""
    listed = [p for p in os.environ.get("VTM_BLENDER_PYTHONS", "").split(os.pathsep) if p.strip()]
    out = []
    for path in listed or [sys.executable]:
        python = BlenderPython(path)
        python.label = f"bpy{_bpy_version(path)}"
        out.append(python)
    return out


BLENDER_PYTHONS = blender_pythons()


def case_names(module: str) -> list[str]:
    tree = ast.parse((CASES / f"{module}.py").read_text())
    return [n.name for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("case_")]


def run_cases(module: str, timeout: float = 420, extra_env: dict | None = None, python: str | None = None) -> dict:
    with tempfile.TemporaryDirectory(prefix="vtm_blender_") as tmp:
        result = Path(tmp) / "result.json"
        env = dict(os.environ)
        env["BLENDER_USER_RESOURCES"] = str(Path(tmp) / "blender_user")
        env["PYTHONPATH"] = os.pathsep.join([str(TESTS.parent), str(TESTS), env.get("PYTHONPATH", "")])
        env.setdefault("YOLO_OFFLINE", "1")
        env.setdefault("VTM_WORKER_PYTHON", sys.executable)
        env.update(extra_env or {})
        try:
            proc = subprocess.run([str(python or sys.executable), str(TESTS / "blender_runner.py"), module, str(result)],
                                  env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            err = (exc.stderr or b"")[-4000:]
            return {"__setup__": {"ok": False, "error": f"bpy cases '{module}' timed out after {timeout} s\n{err}"}}
        if not result.exists():
            return {"__setup__": {"ok": False, "error": f"runner exited {proc.returncode} without results:\n"
                                                        f"{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"}}
        out = json.loads(result.read_text())
        out["__log__"] = proc.stderr[-6000:]
        return out


def check(results: dict, name: str) -> None:
    """Fail with the case's own traceback (or the setup's) if it did not pass."""
    for key in ("__setup__", "__teardown__"):
        if key in results and not results[key]["ok"]:
            raise AssertionError(f"{key}: {results[key]['error']}")
    if name not in results:
        raise AssertionError(f"case {name} did not run; log:\n{results.get('__log__', '')}")
    if not results[name]["ok"]:
        raise AssertionError(results[name]["error"])


def cases_on_every_blender(module: str):
    """The fixture and the test of a cases module run on each Blender of the matrix; a test
    file binds them: `results, test_case = cases_on_every_blender("cases_import")`."""
    import pytest

    @pytest.fixture(scope="module", params=BLENDER_PYTHONS, ids=repr)
    def results(request):
        return run_cases(module, python=request.param)

    @pytest.mark.parametrize("name", case_names(module))
    def test_case(results, name):
        check(results, name)

    return results, test_case
