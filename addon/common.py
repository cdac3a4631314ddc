"""Small shared helpers of the add-on: its package name, preferences, folders, paths."""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import bpy
import numpy as np
from mathutils import Matrix

from ..core.client.worker_setup import venv_python

# The extension's package ("bl_ext.<repository>.video_to_motion" once installed); the
# preferences are registered under this name.
ADDON_ID = __package__.rpartition(".")[0]


def preferences():
    """The add-on's preferences, or None when the package runs without being enabled."""
    addon = bpy.context.preferences.addons.get(ADDON_ID)
    return addon.preferences if addon is not None else None


def abspath(path: str | None) -> str:
    """A Blender path ('//' relative to the .blend) as an absolute path; '' stays ''."""
    if not path:
        return ""
    return os.path.normpath(bpy.path.abspath(path))


def user_folder(*parts: str) -> Path:
    """A writable folder of this extension (its user folder; a temp folder outside Blender's
    extension system)."""
    try:
        base = Path(bpy.utils.extension_path_user(ADDON_ID, path="", create=True))
    except (ValueError, AttributeError, RuntimeError, OSError):
        base = Path(tempfile.gettempdir()) / "video_to_motion"
    folder = base.joinpath(*parts)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def default_worker_env() -> Path:
    """Where "Set up worker" creates the worker's virtual environment."""
    return user_folder("worker_env")


def worker_python() -> str:
    """The interpreter the worker runs with: the preference, else the set-up environment's."""
    prefs = preferences()
    chosen = abspath(prefs.worker_python) if prefs is not None else ""
    if chosen:
        return chosen
    candidate = venv_python(abspath(prefs.worker_env_dir) if prefs is not None and prefs.worker_env_dir
                            else default_worker_env())
    return str(candidate) if candidate.exists() else ""


def mesh_cache_path(smpl_model: str) -> Path:
    """Where the numpy mesh converted from `smpl_model` is kept (keyed by file identity)."""
    st = os.stat(smpl_model)
    key = hashlib.sha1(f"{os.path.abspath(smpl_model)}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:16]
    return user_folder("meshes") / f"smpl_mesh_{key}.npz"


def redraw_all(context=None) -> None:
    wm = bpy.context.window_manager
    for window in wm.windows:
        for area in window.screen.areas:
            if area.type in {"VIEW_3D", "PREFERENCES"}:
                area.tag_redraw()


def blender_matrix(m: np.ndarray) -> Matrix:
    """A numpy 4x4 as a mathutils Matrix."""
    return Matrix([list(map(float, row)) for row in np.asarray(m)])


def progress_bar(layout, factor: float, text: str) -> None:
    if hasattr(layout, "progress"):  # Blender 4.0+
        layout.progress(factor=factor, type="BAR", text=text)
    else:
        layout.label(text=f"{text} ({factor * 100:.0f}%)")
