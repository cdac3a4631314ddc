"""Random SMPL motions whose rest joints and reference joints come from SMPL's forward pass.

Shared by the numpy tests and the Blender cases (tests/blender_cases/), which run in a
child process with tests/ on sys.path, in an environment without torch: the reference is
tests/smpl_numpy.py (checked against smplx in tests/test_smpl_numpy.py).
"""
from __future__ import annotations

import numpy as np

from video_to_motion.core.common.motion import Motion, sort_rows
from smpl_numpy import NumpySMPL


def smplx_joints(model, betas, poses, trans) -> np.ndarray:
    """[N, 24, 3] joints an smplx model gives for rows of betas [N,10], poses [N,72], trans [N,3]."""
    import torch

    t = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.float64)
    model = model.double()
    with torch.no_grad():
        out = model(betas=t(betas), global_orient=t(poses[:, :3]), body_pose=t(poses[:, 3:]), transl=t(trans))
    return out.joints[:, :24].numpy()


def random_motion(body_model_path, tracks=None, seed=0, fps=30.0, varying_betas=(2,), size=(640, 480),
                  pose_scale=0.35):
    """A motion with tracks {id: frame ids}; tracks in `varying_betas` change shape every row.

    Returns (Motion, reference joints [N, 24, 3] in the camera frame, row order of the Motion).
    """
    tracks = tracks or {1: np.arange(0, 30), 2: np.arange(12, 40)}
    rng = np.random.default_rng(seed)
    model = NumpySMPL(body_model_path)
    rows = []
    for track, frames in tracks.items():
        base_betas = rng.normal(size=10)
        start = rng.normal(scale=0.3, size=3) + [0.8 * (track - 1.5), 0.3, 4.0]
        for i, f in enumerate(frames):
            betas = base_betas + (rng.normal(scale=0.3, size=10) if track in varying_betas else 0.0)
            poses = rng.normal(scale=pose_scale, size=72)
            poses[:3] = rng.normal(scale=0.2, size=3) + [np.pi, 0.0, 0.0]
            trans = start + [0.02 * i, 0.0, 0.01 * i] + rng.normal(scale=0.01, size=3)
            rows.append((int(f), int(track), betas, poses, trans))
    betas = np.stack([r[2] for r in rows]).astype(np.float32)
    poses = np.stack([r[3] for r in rows]).astype(np.float32)
    trans = np.stack([r[4] for r in rows]).astype(np.float32)
    rest = model.rest_joints(betas).astype(np.float32)
    n = len(rows)
    w, h = size
    centre = np.array([w / 2, h / 2, w / 2, h / 2])
    half = rng.uniform(20, 120, size=(n, 1)) * np.array([-1, -2, 1, 2])
    motion = Motion(estimator="test", fps=fps, image_size=size, focal_length=float(0.9 * w),
                    frame_ids=np.array([r[0] for r in rows], np.int32), track_ids=np.array([r[1] for r in rows], np.int32),
                    poses=poses, betas=betas, trans=trans, rest_joints=rest,
                    bboxes=(centre + half).astype(np.float32), scores=np.full(n, 0.9, np.float32))
    motion = sort_rows(motion)
    reference = model.joints(motion.betas, motion.poses, motion.trans)
    return motion, reference
