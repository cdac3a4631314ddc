"""EMDB (Kaufmann et al. 2023) from its release: the EMDB-1 sequences TAR's Table 6 evaluates.

Layout (the release's dataset.md): `P<k>/<sequence>/P<k>_<sequence>_data.pkl` and
`P<k>/<sequence>/images/%05d.jpg`. The pickle holds a dict: `name`, `gender`, `emdb1`
(bool), `n_frames`, `good_frames_mask` [N], `camera` {`intrinsics` [3, 3], `extrinsics`
[N, 4, 4] world -> camera, `width`, `height`}, `smpl` {`poses_root` [N, 3], `poses_body`
[N, 69], `trans` [N, 3], `betas` [10]}, `kp2d` [N, 24, 2] (SMPL joints projected) and
`bboxes` {`bboxes` [N, 4] x0 y0 x1 y1}. It is read by the allow-list unpickler.

Rows are in the FrameTable's keys: one person per sequence, the global orientation turned
into the camera, the box scaled by 1.2 as for the other datasets, the frames EMDB marks
bad (and empty boxes) left out. EMDB scores SMPL's own 24 joints and the mesh, both
centred on the mean of the hips (metrics.PROTOCOLS['emdb']).
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..common import rotations
from .datasets import DatasetError
from .pw3d import BOX_SCALE, join_rows, load_pickle


def sequence_rows(data: dict, where: str) -> dict[str, np.ndarray]:
    """The good frames of one EMDB sequence -> FrameTable arrays (imgname relative to the root)."""
    try:
        smpl, cam = data["smpl"], data["camera"]
        n = int(data["n_frames"])
        root = np.asarray(smpl["poses_root"], np.float64).reshape(n, 3)
        body = np.asarray(smpl["poses_body"], np.float64).reshape(n, 69)
        extr = np.asarray(cam["extrinsics"], np.float64).reshape(n, 4, 4)
        k = np.asarray(cam["intrinsics"], np.float64).reshape(3, 3)
        boxes = np.asarray(data["bboxes"]["bboxes"], np.float64).reshape(n, 4)
        kp2d = np.asarray(data["kp2d"], np.float64).reshape(n, 24, 2)
        good = np.asarray(data["good_frames_mask"]).astype(bool).reshape(n)
        betas = np.asarray(smpl["betas"], np.float64).reshape(-1)[:10]
        size = (float(cam["width"]), float(cam["height"]))
        name = str(data["name"])
    except (KeyError, TypeError, ValueError) as exc:
        raise DatasetError(f"EMDB file '{where}' is not in the release's layout ({type(exc).__name__}: {exc})") from exc
    keep = np.flatnonzero(good & (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1]))
    pose = np.concatenate([rotations.matrix_to_axis_angle(extr[:, :3, :3] @ rotations.axis_angle_to_matrix(root)),
                           body], -1)
    subject, _, sequence = name.partition("_")
    return {
        "imgname": np.array([f"{subject}/{sequence}/images/{i:05d}.jpg" for i in keep]),
        "center": 0.5 * (boxes[keep, :2] + boxes[keep, 2:]),
        "scale": BOX_SCALE * (boxes[keep, 2:] - boxes[keep, :2]).max(1) / 200.0,
        "part": np.concatenate([kp2d[keep], np.ones((len(keep), 24, 1))], -1),
        "pose": pose[keep],
        "shape": np.tile(betas, (len(keep), 1)),
        "img_focal": np.full(len(keep), k[0, 0]),
        "img_size": np.tile(size, (len(keep), 1)),
        "vid_name": np.full(len(keep), name),
        "frame_id": keep,
    }


def read_emdb(root: str | os.PathLike, subset: str = "emdb1") -> dict[str, np.ndarray]:
    """Every sequence of `subset` ('emdb1' or 'emdb2') under an EMDB root -> FrameTable arrays."""
    root = Path(root)
    files = sorted(root.glob("P*/*/*_data.pkl"))
    if not files:
        raise DatasetError(f"'{root}' holds no EMDB sequences (P*/<sequence>/*_data.pkl); give the folder the "
                           "release unpacks into")
    parts = []
    for path in files:
        data = load_pickle(path, "EMDB")
        if isinstance(data, dict) and bool(data.get(subset, False)):
            parts.append(sequence_rows(data, str(path)))
    return join_rows(parts, f"no {subset.upper()} sequence with good frames under '{root}'")
