"""A motion seen from a turning camera, for the numpy tests and the Blender cases.

`panned` takes a /2 motion of a static camera and turns the camera along a known path:
each row is moved into its frame's turned camera and the camera rows follow, so the
people stand where they stood in the world while the camera pans, tilts and rolls.
"""
from __future__ import annotations

import dataclasses
import json

import numpy as np

from video_to_motion.core.common import camera as cam
from video_to_motion.core.common import rotations
from video_to_motion.core.common.camera_path import moved_rows
from video_to_motion.core.common.motion import Motion


def turns(frames: np.ndarray, pan_deg_per_frame: float = 1.5, tilt_deg: float = 3.0) -> np.ndarray:
    """[T, 3, 3] reference camera -> camera of each frame: a pan about the camera's y axis
    plus a slow tilt (about x) and a little roll (about z)."""
    t = np.asarray(frames, np.float64)
    aa = np.stack([np.radians(tilt_deg) * np.sin(t / 7.0), np.radians(pan_deg_per_frame) * t,
                   np.radians(1.0) * np.sin(t / 5.0)], axis=1)
    return rotations.axis_angle_to_matrix(aa)


def with_static_world(motion: Motion, height: float = 2.0, pitch: float = 0.2) -> Motion:
    """A /1 motion given a static /2 world (a camera `height` m up, pitched down)."""
    frames = np.unique(motion.frame_ids).astype(np.int32)
    n = len(frames)
    width, h = motion.image_size
    return dataclasses.replace(
        motion, camera_frame_ids=frames,
        camera_intrinsics=np.tile(cam.intrinsics(motion.focal_length, width, h), (n, 1)).astype(np.float32),
        camera_to_world=np.tile(cam.camera_to_world(height, pitch, 0.0), (n, 1, 1)).astype(np.float32),
        ground_plane=np.array([0, 0, 1, 0], np.float32), contacts=np.zeros((motion.num_rows, 2), bool),
        calibration=json.dumps({"source": "test"}))


def panned(motion: Motion, **path) -> Motion:
    """The same people and world, the camera turning along `turns(frames, **path)`."""
    frames = np.asarray(motion.camera_frame_ids)
    r = turns(frames, **path)
    at = np.searchsorted(frames, motion.frame_ids)
    moved = moved_rows(motion, r[at], np.zeros((motion.num_rows, 3)))
    turn = np.tile(np.eye(4), (len(frames), 1, 1))
    turn[:, :3, :3] = np.swapaxes(r, 1, 2)
    c2w = np.asarray(motion.camera_to_world, np.float64) @ turn
    return dataclasses.replace(moved, camera_to_world=c2w.astype(np.float32))
