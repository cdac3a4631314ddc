"""The rooms' import rule: Blender imports addon/, core/common and core/client only, and
those import nothing heavier than numpy (never torch, OpenCV, mediapipe, ultralytics, smplx,
scipy), so Blender never loads the worker's libraries."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BLENDER_TOP = {"bpy", "bpy_extras", "mathutils", "addon_utils"}
HEAVY = ("torch", "cv2", "mediapipe", "ultralytics", "smplx", "scipy")
LIGHT_ROOMS = ("common", "client")


def imports(path: Path):
    """(level, module, names) of every import statement in a file, nested ones too."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield 0, alias.name, []
        elif isinstance(node, ast.ImportFrom):
            yield node.level, node.module or "", [a.name for a in node.names]


def outside_allowed(level: int, module: str, allowed_top: set[str]) -> bool:
    return level == 0 and module.split(".")[0] not in allowed_top


def test_addon_imports_only_common_and_client():
    allowed = set(sys.stdlib_module_names) | BLENDER_TOP | {"numpy"}
    for path in sorted((REPO / "addon").glob("*.py")):
        for level, module, names in imports(path):
            assert not outside_allowed(level, module, allowed), f"addon/{path.name}: import {module}"
            if level == 2:  # from ..core.X import / from ..core import X
                parts = module.split(".")
                assert parts[0] == "core", f"addon/{path.name}: from ..{module}"
                rooms = parts[1:2] or names
                for room in rooms:
                    assert room in LIGHT_ROOMS, f"addon/{path.name}: from ..{module} import {names} (core.{room})"
            assert level <= 2, f"addon/{path.name}: from {'.' * level}{module}"


def test_common_and_client_import_only_numpy_stdlib_and_each_other():
    allowed = set(sys.stdlib_module_names) | {"numpy"}
    for room in LIGHT_ROOMS:
        for path in sorted((REPO / "core" / room).glob("*.py")):
            for level, module, names in imports(path):
                where = f"core/{room}/{path.name}"
                assert not outside_allowed(level, module, allowed), f"{where}: import {module}"
                if level == 2:
                    target = module.split(".")[0] if module else names[0]
                    assert target in LIGHT_ROOMS, f"{where}: from ..{module} import {names}"
                    assert not (room == "common" and target != "common"), f"{where}: common imports {target}"
                assert level <= 2, f"{where}: reaches above core/"


def test_light_rooms_load_nothing_heavy_at_run_time():
    modules = [f"video_to_motion.core.{room}.{p.stem}" for room in LIGHT_ROOMS
               for p in sorted((REPO / "core" / room).glob("*.py")) if p.stem != "__init__"]
    code = ("import importlib, sys\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            f"print(','.join(sorted(m for m in {HEAVY + ('bpy',)!r} if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"loaded by core.common/core.client: {out.stdout.strip()}"
    assert len(modules) >= 12
