"""SMPL model -> the add-on's mesh file (`vtm.smpl_mesh/1`, see core.common.mesh_file).

    python -m video_to_motion.core.worker.smpl_mesh --smpl-model SMPL_NEUTRAL.pkl -o smpl_mesh.npz

Runs in the worker's environment (official SMPL files are chumpy pickles with scipy
sparse matrices); stdout carries the worker's JSON-lines protocol (a `done` or an
`error` event).
"""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from ..common.atomic import atomic_path
from ..common.mesh_file import NUM_BETAS, SCHEMA


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
    from ..common.atomic import check_writable_destination

    check_writable_destination(output, inputs=(smpl_model,))
    with atomic_path(output, suffix=".npz") as tmp:
        np.savez(tmp, **arrays)
    return Path(output)


def main(argv: Sequence[str] | None = None) -> int:
    from .body_model import BodyModelError
    from ..common.atomic import OutputPathError
    from ..common.protocol import EXIT_ERROR, EXIT_OK, EventWriter

    parser = argparse.ArgumentParser(prog="python -m video_to_motion.core.worker.smpl_mesh", description=__doc__.splitlines()[0])
    parser.add_argument("--smpl-model", required=True, type=Path, help="SMPL model file (.pkl or .npz)")
    parser.add_argument("-o", "--output", required=True, type=Path, help="mesh file to write (.npz)")
    args = parser.parse_args(argv)
    events = EventWriter(sys.stdout)
    try:
        events.progress("write", 0, 1)
        write_mesh_file(args.smpl_model, args.output)
        events.progress("write", 1, 1)
    except BodyModelError as exc:
        events.error(exc.code, str(exc))
        return EXIT_ERROR
    except OutputPathError as exc:
        events.error(exc.code, str(exc))
        return EXIT_ERROR
    except (OSError, ValueError) as exc:
        events.error("output_unwritable", f"cannot write '{args.output}': {exc}")
        return EXIT_ERROR
    events.done(str(args.output))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
