"""The SMPL mesh file (`vtm.smpl_mesh/1`): a plain numpy file the add-on reads (no pickle).

The worker writes it from an SMPL model (`python -m video_to_motion.core.worker.smpl_mesh`).
It holds:
    v_template  float32 [V, 3]      rest vertices, SMPL frame (y up), metres
    shapedirs   float32 [V, 3, 10]  displacement per unit of each beta
    weights     float32 [V, 24]     skinning weights
    faces       int32   [F, 3]
    j_regressor float32 [24, V]     joints = j_regressor @ vertices
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .npz import NpzError, read_npz

SCHEMA = "vtm.smpl_mesh/1"
NUM_BETAS = 10
# An SMPL mesh file holds about 2.5 MB of arrays; anything far larger is not one.
MAX_MESH_BYTES = 64 * 2 ** 20


class MeshFileError(ValueError):
    """A mesh file that is missing or not a `vtm.smpl_mesh/1` file."""


def read_mesh_file(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Load and check a `vtm.smpl_mesh/1` file (numpy only)."""
    path = Path(path)
    if not path.exists() or path.is_dir():
        raise MeshFileError(f"SMPL mesh file '{path}' does not exist")
    try:
        arrays = read_npz(path, MAX_MESH_BYTES, what="SMPL mesh file")
    except NpzError as exc:
        raise MeshFileError(str(exc)) from exc
    if str(arrays.get("schema", "")) != SCHEMA:
        raise MeshFileError(f"'{path}' is not a {SCHEMA} file; make one with 'python -m video_to_motion.core.worker.smpl_mesh'")
    v = arrays["v_template"].shape[0]
    expected = {"v_template": (v, 3), "shapedirs": (v, 3, NUM_BETAS), "weights": (v, 24),
                "j_regressor": (24, v)}
    for key, shape in expected.items():
        if arrays[key].shape != shape:
            raise MeshFileError(f"'{path}': {key} has shape {list(arrays[key].shape)}, expected {list(shape)}")
    faces = arrays["faces"]
    if faces.ndim != 2 or faces.shape[1] != 3 or faces.min() < 0 or faces.max() >= v:
        raise MeshFileError(f"'{path}': faces must be [F, 3] indices below {v}")
    return arrays


def shaped_vertices(mesh: dict[str, np.ndarray], betas: np.ndarray) -> np.ndarray:
    """[V, 3] rest vertices of a body shape: v_template + shapedirs . betas."""
    return mesh["v_template"].astype(np.float64) + mesh["shapedirs"].astype(np.float64) @ np.asarray(betas, np.float64)
