"""A moving camera's path and the rows it carries. numpy only.

A `vtm.motion/2` row lives in the camera frame of its own video frame; `camera_to_world`
has a row per frame. When the camera moves, the worker's world stage and the import both
want every row in one camera frame (a reference camera that does not move): `moved_rows`
moves rows rigidly, `into_reference` puts a /2 motion's rows in the frame of its first
camera row. The worker fills the path (core.worker.camera_motion); the import animates the
Blender camera along it (core.common.world).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from . import rotations
from .motion import Motion

# Camera rows that differ by less than this (matrix entries) are one static camera.
STATIC_TOLERANCE = 1e-4


def moved_rows(motion: Motion, rotation: np.ndarray, translation: np.ndarray) -> Motion:
    """Each row's body moved rigidly, x -> R x + t.

    rotation [N, 3, 3], translation [N, 3] per row. The root orientation turns with R and
    the pelvis (rest joint 0 + trans, where smplx puts it) moves with R and t; the pose
    below the root is unchanged, so the body moves as a whole.
    """
    rotation = np.asarray(rotation, np.float64)
    poses = motion.poses.astype(np.float64).copy()
    root = rotations.axis_angle_to_matrix(poses[:, :3])
    poses[:, :3] = rotations.matrix_to_axis_angle(rotation @ root)
    rest0 = motion.rest_joints[:, 0].astype(np.float64)
    pelvis = np.einsum("nij,nj->ni", rotation, rest0 + motion.trans.astype(np.float64))
    trans = pelvis + np.asarray(translation, np.float64) - rest0
    return dataclasses.replace(motion, poses=poses.astype(np.float32), trans=trans.astype(np.float32))


def camera_rows(motion: Motion) -> np.ndarray:
    """[N] each row's camera row: the one of its frame, else the nearest earlier one."""
    frames = np.asarray(motion.camera_frame_ids)
    at = np.searchsorted(frames, motion.frame_ids, side="right") - 1
    return np.clip(at, 0, len(frames) - 1)


def is_moving(motion: Motion) -> bool:
    """True when a /2 motion's camera rows differ (a moving camera)."""
    if not motion.has_world:
        return False
    m = np.asarray(motion.camera_to_world, np.float64)
    return bool(np.abs(m - m[:1]).max() > STATIC_TOLERANCE)


def into_reference(motion: Motion) -> Motion:
    """Every row in the camera frame of the first camera row (a /2 motion).

    A row at camera row k goes through camera_to_world[0]^-1 @ camera_to_world[k], so
    `camera_to_world[0]` then places all rows in the world, as for a static camera.
    """
    m = np.asarray(motion.camera_to_world, np.float64)
    relative = np.linalg.inv(m[0])[None] @ m[camera_rows(motion)]
    return moved_rows(motion, relative[:, :3, :3], relative[:, :3, 3])
