"""3DPW from its released sequence files: one row per person and image frame, so a window
holds one person at the video's own frame rate (SPIN's 3dpw_test.npz has no person id, and
two people of one sequence would interleave in a window).

The release (virtualhumans.mpi-inf.mpg.de/3DPW) has `sequenceFiles/<split>/<seq>.pkl`, a
Python 2 pickle of a dict: per person (lists) `poses` [N, 72] (world frame), `trans`
[N, 3], `betas` [≥10], `jointPositions` [N, 72] (SMPL joints, world, metres), `poses2d`
[N, 3, 18] (COCO keypoints: x, y, confidence), `campose_valid` [N]; per frame
`img_frame_ids` [N] and `cam_poses` [N, 4, 4] (world -> camera); `cam_intrinsics` [3, 3].
Images are `imageFiles/<seq>/image_%05d.jpg`. The pickle is read by an allow-list
unpickler (numpy arrays and plain containers only), never by plain pickle.load.

The rows are in the FrameTable's keys (SMPL's own 24-joint layout, camera frame), as SPIN
preprocesses them: the global orientation rotated into the camera, the box around the
confident 2D keypoints scaled by 1.2, frames without an aligned camera left out.
"""
from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np

from ..common import rotations
from .datasets import DatasetError

BOX_SCALE = 1.2           # SPIN's margin around the keypoints' box
MIN_KEYPOINTS = 6         # 3DPW gives 2D detections only where at least 6 joints were found


def load_pickle(path: str | os.PathLike, what: str):
    """A dataset's pickle, through the allow-list unpickler (numpy arrays and plain containers)."""
    from ..worker.body_model import NumpyUnpickler

    try:
        with open(path, "rb") as fh:
            return NumpyUnpickler(fh, encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, OSError) as exc:
        raise DatasetError(f"{what} file '{path}' was not read: {exc}") from exc


def read_sequence_file(path: str | os.PathLike) -> dict:
    """One 3DPW .pkl -> its dict."""
    data = load_pickle(path, "3DPW sequence")
    if not isinstance(data, dict):
        raise DatasetError(f"3DPW sequence file '{path}' holds a {type(data).__name__}, not the release's dict")
    missing = [k for k in ("poses", "betas", "cam_poses", "jointPositions", "campose_valid", "cam_intrinsics")
               if k not in data]
    if missing or not any(k in data for k in ("poses2d", "poses2D")):
        raise DatasetError(f"3DPW sequence file '{path}' lacks {', '.join(missing) or 'poses2d'} "
                           f"(it has: {', '.join(sorted(map(str, data)))})")
    return data


def person_rows(data: dict, person: int, seq: str) -> dict[str, np.ndarray]:
    """The rows of one person of one sequence (frames with an aligned camera and a 2D box)."""
    cam = np.asarray(data["cam_poses"], np.float64)                      # [N, 4, 4]
    n = len(cam)
    frames = np.asarray(data.get("img_frame_ids", np.arange(n)), np.int64).reshape(-1)
    if len(frames) != n:
        frames = np.arange(n)
    pose = np.asarray(data["poses"][person], np.float64).reshape(n, 72).copy()
    joints = np.asarray(data["jointPositions"][person], np.float64).reshape(n, 24, 3)
    kp2d = np.asarray(data.get("poses2d", data.get("poses2D"))[person], np.float64).reshape(n, 3, -1)
    valid = np.asarray(data["campose_valid"][person]).astype(bool).reshape(n)
    k = np.asarray(data["cam_intrinsics"], np.float64)
    rot, t = cam[:, :3, :3], cam[:, :3, 3]
    pose[:, :3] = rotations.matrix_to_axis_angle(rot @ rotations.axis_angle_to_matrix(pose[:, :3]))
    cam_joints = np.einsum("nij,nkj->nki", rot, joints) + t[:, None]
    uv = cam_joints[..., :2] / cam_joints[..., 2:3] * k[[0, 1], [0, 1]] + k[:2, 2]
    conf2d = kp2d[:, 2] > 0
    keep = valid & (conf2d.sum(1) >= MIN_KEYPOINTS) & (cam_joints[..., 2] > 0).all(1)
    rows = np.flatnonzero(keep)
    seen = [kp2d[i][:2, conf2d[i]] for i in rows]  # [2, visible] each
    lo = np.array([[xy.min(1), xy.max(1)] for xy in seen]).reshape(-1, 2, 2)  # [rows, (min, max), (x, y)]
    ones = np.ones((len(rows), 24, 1))
    return {
        "imgname": np.array([f"imageFiles/{seq}/image_{f:05d}.jpg" for f in frames[rows]]),
        "center": lo.mean(1),
        "scale": BOX_SCALE * (lo[:, 1] - lo[:, 0]).max(1) / 200.0,
        "part": np.concatenate([uv[rows], ones], -1),
        "S": np.concatenate([cam_joints[rows], ones], -1),
        "pose": pose[rows],
        "shape": np.tile(np.asarray(data["betas"][person], np.float64).reshape(-1)[:10], (len(rows), 1)),
        "img_focal": np.full(len(rows), k[0, 0]),
        "vid_name": np.full(len(rows), seq),
        "frame_id": frames[rows],
        "person_id": np.full(len(rows), person),
    }


def read_3dpw_sequences(folder: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every person of every `<seq>.pkl` in a 3DPW `sequenceFiles/<split>` folder -> FrameTable arrays."""
    folder = Path(folder)
    files = sorted(folder.glob("*.pkl"))
    if not files:
        raise DatasetError(f"'{folder}' holds no 3DPW sequence files (<seq>.pkl); give the release's "
                           "sequenceFiles/<split> folder")
    parts = []
    for path in files:
        data = read_sequence_file(path)
        seq = str(data.get("sequence", path.stem))
        parts += [person_rows(data, p, seq) for p in range(len(data["poses"]))]
    return join_rows(parts, f"3DPW sequences in '{folder}' have no frame with an aligned camera and 2D keypoints")


def join_rows(parts: list[dict], when_empty: str) -> dict[str, np.ndarray]:
    """Per-sequence rows (SMPL ground truth in SMPL's joint layout) -> one FrameTable's arrays;
    DatasetError(`when_empty`) when no sequence has a row."""
    parts = [p for p in parts if len(p["imgname"])]
    if not parts:
        raise DatasetError(when_empty)
    out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    out["has_smpl"] = np.ones(len(out["imgname"]), np.float32)
    out["keypoint_format"] = np.array("smpl24")
    return out
