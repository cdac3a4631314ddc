"""The Blender side never pulls in torch: addon/ imports bpy, numpy and numpy-only core modules only."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import core

REPO = Path(__file__).resolve().parents[1]
ALLOWED_TOP = {"bpy", "bpy_extras", "mathutils", "addon_utils", "numpy", "__future__", "contextlib", "dataclasses",
               "hashlib", "os", "pathlib", "tempfile", "time", "uuid", "sys", "json", "math"}


def test_addon_modules_import_only_bpy_numpy_and_numpy_only_core():
    for path in sorted((REPO / "addon").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    assert alias.name.split(".")[0] in ALLOWED_TOP, f"{path.name}: import {alias.name}"
            elif isinstance(node, ast.ImportFrom):
                if node.level == 0:
                    assert node.module.split(".")[0] in ALLOWED_TOP, f"{path.name}: from {node.module}"
                elif node.level == 2:  # from ..core import x / from ..core.x import y
                    parts = (node.module or "").split(".")
                    assert parts[0] == "core", f"{path.name}: from ..{node.module}"
                    names = parts[1:2] or [a.name for a in node.names]
                    for name in names:
                        assert name in core.NUMPY_ONLY, f"{path.name}: core.{name} is not numpy-only"


def test_numpy_only_core_modules_import_nothing_heavy():
    code = ("import importlib, sys\n"
            f"for m in {list(core.NUMPY_ONLY)!r}: importlib.import_module('core.' + m)\n"
            "heavy = sorted(m for m in ('torch', 'cv2', 'scipy', 'smplx', 'ultralytics', 'mediapipe', 'bpy') "
            "if m in sys.modules)\n"
            "print(','.join(heavy))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"heavy modules imported: {out.stdout}"
