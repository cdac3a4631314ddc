"""SMPL model -> a plain numpy mesh file the Blender add-on can read (no pickle, no scipy).

    python -m core.smpl_mesh --smpl-model SMPL_NEUTRAL.pkl -o smpl_mesh.npz

Runs in the worker's environment (official SMPL files are chumpy pickles with scipy
sparse matrices); stdout carries the worker's JSON-lines protocol (a `done` or an
`error` event). The file (`vtm.smpl_mesh/1`) holds:
    v_template  float32 [V, 3]      rest vertices, SMPL frame (y up), metres
    shapedirs   float32 [V, 3, 10]  displacement per unit of each beta
    weights     float32 [V, 24]     skinning weights
    faces       int32   [F, 3]
    j_regressor float32 [24, V]     joints = j_regressor @ vertices
Reading it (`read_mesh_file`) needs numpy only.
"""
from __future__ import annotations

import argparse
import os
import sys
import zipfile
from pathlib import Path
from typing import Sequence

import numpy as np

from .atomic import atomic_path

SCHEMA = "vtm.smpl_mesh/1"
NUM_BETAS = 10


class MeshFileError(ValueError):
    """A mesh file that is missing or not a `vtm.smpl_mesh/1` file."""


def mesh_arrays(smpl_model: str | os.PathLike) -> dict[str, np.ndarray]:
    """The mesh arrays of an SMPL model file (.pkl, official or generated, or .npz)."""
    from .body_model import load_smpl_arrays

    data = load_smpl_arrays(smpl_model)
    jreg = data["J_regressor"]
    jreg = jreg.toarray() if hasattr(jreg, "toarray") else np.asarray(jreg)
    return {
        "schema": np.array(SCHEMA),
        "v_template": np.asarray(data["v_template"], dtype=np.float32),
        "shapedirs": np.asarray(data["shapedirs"], dtype=np.float32)[:, :, :NUM_BETAS],
        "weights": np.asarray(data["weights"], dtype=np.float32),
        "faces": np.asarray(data["f"], dtype=np.int64).astype(np.int32),
        "j_regressor": jreg.astype(np.float32),
    }


def write_mesh_file(smpl_model: str | os.PathLike, output: str | os.PathLike) -> Path:
    arrays = mesh_arrays(smpl_model)
    with atomic_path(output, suffix=".npz") as tmp:
        np.savez(tmp, **arrays)
    return Path(output)


def read_mesh_file(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Load and check a `vtm.smpl_mesh/1` file (numpy only)."""
    path = Path(path)
    if not path.is_file():
        raise MeshFileError(f"SMPL mesh file '{path}' does not exist")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise MeshFileError(f"'{path}' is not a readable SMPL mesh file ({exc})") from exc
    if str(arrays.get("schema", "")) != SCHEMA:
        raise MeshFileError(f"'{path}' is not a {SCHEMA} file; make one with 'python -m core.smpl_mesh'")
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


def main(argv: Sequence[str] | None = None) -> int:
    from .body_model import BodyModelError
    from .protocol import EXIT_ERROR, EXIT_OK, EventWriter

    parser = argparse.ArgumentParser(prog="python -m core.smpl_mesh", description=__doc__.splitlines()[0])
    parser.add_argument("--smpl-model", required=True, type=Path, help="SMPL model file (.pkl or .npz)")
    parser.add_argument("-o", "--output", required=True, type=Path, help="mesh file to write (.npz)")
    args = parser.parse_args(argv)
    events = EventWriter(sys.stdout)
    try:
        events.progress("write", 0, 1)
        write_mesh_file(args.smpl_model, args.output)
        events.progress("write", 1, 1)
    except BodyModelError as exc:
        events.error("smpl_model_invalid", str(exc))
        return EXIT_ERROR
    except (OSError, ValueError) as exc:
        events.error("output_unwritable", f"cannot write '{args.output}': {exc}")
        return EXIT_ERROR
    events.done(str(args.output))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
