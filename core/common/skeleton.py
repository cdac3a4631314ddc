"""The SMPL kinematic tree (24 joints): names, parents and a default rest skeleton.

numpy only: the Blender add-on builds armatures from this without any SMPL file.
"""
from __future__ import annotations

import numpy as np

JOINT_NAMES = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2",
    "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot", "neck",
    "left_collar", "right_collar", "head", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hand", "right_hand",
)
NUM_JOINTS = 24

# Parent of each joint in JOINT_NAMES order; -1 for the root (SMPL's kintree_table[0]).
PARENTS = np.array(
    [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21],
    dtype=np.int64,
)

# Left/right partner of each joint (itself on the spine); used to mirror poses.
FLIP_PERMUTATION = np.array(
    [0, 2, 1, 3, 5, 4, 6, 8, 7, 9, 11, 10, 12, 14, 13, 15, 17, 16, 19, 18, 21, 20, 23, 22],
    dtype=np.int64,
)

# A neutral adult's rest joints in SMPL's own frame (metres; y up, z forward, x to the
# body's left), close to the neutral SMPL template. Used when no SMPL model file is
# configured, and as the skeleton of the generated body model.
DEFAULT_REST_JOINTS = np.array(
    [
        [0.000, -0.220, 0.025],   # pelvis
        [0.060, -0.315, 0.010],   # left_hip
        [-0.060, -0.315, 0.010],  # right_hip
        [0.000, -0.110, -0.005],  # spine1
        [0.105, -0.690, 0.015],   # left_knee
        [-0.105, -0.690, 0.015],  # right_knee
        [0.005, 0.025, 0.005],    # spine2
        [0.090, -1.090, -0.025],  # left_ankle
        [-0.090, -1.090, -0.025], # right_ankle
        [0.005, 0.080, 0.030],    # spine3
        [0.115, -1.145, 0.095],   # left_foot
        [-0.115, -1.145, 0.095],  # right_foot
        [-0.005, 0.290, -0.010],  # neck
        [0.075, 0.195, 0.000],    # left_collar
        [-0.080, 0.195, -0.005],  # right_collar
        [0.010, 0.385, 0.040],    # head
        [0.170, 0.225, -0.015],   # left_shoulder
        [-0.170, 0.225, -0.020],  # right_shoulder
        [0.430, 0.215, -0.040],   # left_elbow
        [-0.430, 0.215, -0.040],  # right_elbow
        [0.685, 0.225, -0.045],   # left_wrist
        [-0.685, 0.225, -0.045],  # right_wrist
        [0.770, 0.215, -0.055],   # left_hand
        [-0.770, 0.215, -0.055],  # right_hand
    ],
    dtype=np.float64,
)


def children(parents: np.ndarray = PARENTS) -> list[list[int]]:
    """Child indices of each joint."""
    out: list[list[int]] = [[] for _ in range(len(parents))]
    for j, p in enumerate(parents):
        if p >= 0:
            out[int(p)].append(j)
    return out


def forward_kinematics(
    rotmats: np.ndarray, rest_joints: np.ndarray, trans: np.ndarray | None = None,
    parents: np.ndarray = PARENTS,
) -> np.ndarray:
    """Posed joint positions, exactly as SMPL's LBS chain places them.

    rotmats [..., 24, 3, 3] local rotations (root first); rest_joints [..., 24, 3];
    trans [..., 3] or None. Returns [..., 24, 3].
    """
    rotmats = np.asarray(rotmats, dtype=np.float64)
    rest = np.asarray(rest_joints, dtype=np.float64)
    rest = np.broadcast_to(rest, rotmats.shape[:-2] + (3,))
    glob_r = np.empty_like(rotmats)
    glob_t = np.empty(rotmats.shape[:-1], dtype=np.float64)
    glob_r[..., 0, :, :] = rotmats[..., 0, :, :]
    glob_t[..., 0, :] = rest[..., 0, :]
    for j in range(1, len(parents)):
        p = int(parents[j])
        offset = rest[..., j, :] - rest[..., p, :]
        glob_r[..., j, :, :] = glob_r[..., p, :, :] @ rotmats[..., j, :, :]
        glob_t[..., j, :] = glob_t[..., p, :] + np.einsum("...ij,...j->...i", glob_r[..., p, :, :], offset)
    if trans is not None:
        glob_t = glob_t + np.asarray(trans, dtype=np.float64)[..., None, :]
    return glob_t


def global_rotations(local: np.ndarray, parents: np.ndarray = PARENTS) -> np.ndarray:
    """[..., 24, 3, 3] local joint rotations -> rotations in the body's frame (chained to the root)."""
    glob = np.empty_like(local)
    for j, p in enumerate(parents):
        glob[..., j, :, :] = local[..., j, :, :] if p < 0 else glob[..., p, :, :] @ local[..., j, :, :]
    return glob
