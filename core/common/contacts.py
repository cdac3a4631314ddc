"""Foot contacts: which foot is planted on the floor, frame by frame. numpy only.

A foot is planted when its sole is near the floor and it barely moves over the floor
(Z up, floor at Z = 0). The worker stores the result in the motion file (`contacts`);
the import locks planted feet in place (core.common.foot_lock).
"""
from __future__ import annotations

import numpy as np

# Per foot: the ankle and the toe-ball joint (SMPL), and their height above the sole of
# a flat foot on the default skeleton (metres; scaled with the body).
LEFT, RIGHT = (7, 10), (8, 11)
FOOT_JOINTS = (LEFT, RIGHT)
SOLE_OFFSETS = np.array([0.10, 0.045])
CONTACT_HEIGHT = 0.06   # m: the sole's height above the floor below which a foot may be planted
CONTACT_SPEED = 0.35    # m/s: horizontal speed below which it is (a stance foot moves at ~0; a swing foot at 2-4)


def sole_heights(joints: np.ndarray, scale: np.ndarray | float = 1.0) -> np.ndarray:
    """[F, 2] height of each foot's sole above Z = 0: the lower of its ankle and toe ball,
    less their height above the sole. joints [F, 24, 3] (world), scale [F] or a number."""
    scale = np.asarray(scale, np.float64).reshape(-1, 1) if np.ndim(scale) else float(scale)
    out = []
    for foot in FOOT_JOINTS:
        z = joints[:, list(foot), 2] - SOLE_OFFSETS[None] * (scale if np.ndim(scale) else scale)
        out.append(z.min(axis=1))
    return np.stack(out, axis=1)


def foot_speeds(joints: np.ndarray, frames: np.ndarray, fps: float) -> np.ndarray:
    """[F, 2] horizontal speed (m/s) of each foot's toe ball; frames [F] may have gaps
    (a difference spans them and is divided by their length)."""
    frames = np.asarray(frames, np.float64)
    if len(frames) < 2:
        return np.zeros((len(frames), 2))
    balls = joints[:, [LEFT[1], RIGHT[1]], :2]
    t = frames / float(fps)
    return np.linalg.norm(np.gradient(balls, t, axis=0), axis=-1)


def detect(joints: np.ndarray, frames: np.ndarray, fps: float, scale: np.ndarray | float = 1.0) -> np.ndarray:
    """[F, 2] bool: left and right foot planted, from world joints [F, 24, 3] of one track."""
    if len(joints) == 0:
        return np.zeros((0, 2), bool)
    low = sole_heights(joints, scale) < CONTACT_HEIGHT
    slow = foot_speeds(joints, frames, fps) < CONTACT_SPEED
    return low & slow
