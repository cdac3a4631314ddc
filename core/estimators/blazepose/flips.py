"""Front/back confusions of a monocular pose model, undone by temporal consistency. numpy only.

Seen small, a person from the front and from the back look alike: BlazePose sometimes
calls the left side right for a few frames, and its 3D answer then faces the other way.
The other reading of the same image is the mirrored one: left and right labels swapped
*and* depth mirrored through the hips (which keeps the skeleton right-handed and its
image the same under weak perspective). Per track, each frame can be read either way;
`choose_readings` picks, by dynamic programming over the whole track, the sequence of
readings whose torso orientation changes least from frame to frame, with a price on
each flipped reading so that BlazePose's own reading wins unless the flip is clearly
more consistent.

Landmark frame: hip-centred, axes of the camera that saw the crop (x right, y down, z
away from the camera), as MediaPipe's world landmarks are.
"""
from __future__ import annotations

import numpy as np

from ...common import rotations
from .landmarks import LANDMARK_NAMES, LM

# Landmark index of each landmark's left/right partner (itself for the nose).
SWAP = np.array([LM[n.replace("left_", "@").replace("right_", "left_").replace("@", "right_")]
                 for n in LANDMARK_NAMES], dtype=np.int64)
# Degrees of torso turn that a flipped reading costs: flips last only where they save more.
FLIP_COST_DEG = 45.0


def mirrored(world: np.ndarray) -> np.ndarray:
    """The other reading of world landmarks [..., 33, 3]: sides swapped, depth mirrored."""
    out = np.asarray(world, np.float64)[..., SWAP, :].copy()
    out[..., 2] *= -1.0
    return out


def swapped(values: np.ndarray, axis: int = -2) -> np.ndarray:
    """Per-landmark values (pixels [..., 33, 2]: axis -2; visibility [..., 33]: axis -1), sides swapped."""
    return np.take(np.asarray(values), SWAP, axis=axis)


def torso_frames(world: np.ndarray) -> np.ndarray:
    """Torso orientation [F, 3, 3] (columns: body left, up, forward) from world landmarks [F, 33, 3]."""
    hips = world[:, LM["left_hip"]] - world[:, LM["right_hip"]]
    shoulders = world[:, LM["left_shoulder"]] - world[:, LM["right_shoulder"]]
    up = 0.5 * (world[:, LM["left_shoulder"]] + world[:, LM["right_shoulder"]]) \
        - 0.5 * (world[:, LM["left_hip"]] + world[:, LM["right_hip"]])
    y = up / np.maximum(np.linalg.norm(up, axis=-1, keepdims=True), 1e-9)
    x = hips + shoulders
    x = x - np.sum(x * y, axis=-1, keepdims=True) * y
    x = x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-9)
    return np.stack([x, y, np.cross(x, y)], axis=-1)


def _angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Degrees between rotations a, b [..., 3, 3]."""
    return np.degrees(np.linalg.norm(rotations.matrix_to_axis_angle(np.swapaxes(a, -1, -2) @ b), axis=-1))


def choose_readings(world_crop: np.ndarray, frames: np.ndarray, flip_cost: float = FLIP_COST_DEG) -> np.ndarray:
    """Which frames of one track to read mirrored: bool [F].

    world_crop [F, 33, 3] landmarks in their crops' camera frames; frames [F] video frame
    numbers (a gap of g frames divides the turn's cost by g). Viterbi over two states per
    frame; the cost is the torso turn between consecutive frames plus `flip_cost` per
    mirrored frame.
    """
    world_crop = np.asarray(world_crop, np.float64)
    n = len(world_crop)
    if n == 0:
        return np.zeros(0, bool)
    readings = np.stack([torso_frames(world_crop), torso_frames(mirrored(world_crop))], axis=1)  # [F,2,3,3]
    unary = np.array([0.0, flip_cost])
    cost = unary.copy()
    back = np.zeros((n, 2), np.int64)
    gaps = np.maximum(np.diff(np.asarray(frames, np.int64)), 1)
    for f in range(1, n):
        # turn[i, j]: from reading i at f-1 to reading j at f
        turn = _angle(readings[f - 1][:, None], readings[f][None, :]) / gaps[f - 1]
        total = cost[:, None] + turn
        back[f] = np.argmin(total, axis=0)
        cost = total[back[f], [0, 1]] + unary
    state = np.zeros(n, np.int64)
    state[-1] = int(np.argmin(cost))
    for f in range(n - 1, 0, -1):
        state[f - 1] = back[f, state[f]]
    return state.astype(bool)
