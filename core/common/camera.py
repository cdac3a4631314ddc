"""The camera of the footage: what is known or guessed about it, and where it stands.

numpy only. A static camera over a floor is described by its focal length (pixels,
principal point at the image centre), its height above the floor and two angles: pitch
(positive looking down) and roll. The world is Blender's: Z up, the floor at Z = 0, the
camera above the origin with its view turned along +Y.
"""
from __future__ import annotations

import math

import numpy as np

# OpenCV camera axes of a level camera looking along +Y: x = +X, y (down) = -Z, z = +Y.
LEVEL_CAMERA = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])


def default_focal_length(width: int, height: int) -> float:
    """CLIFF's guess of an unknown focal length: the image diagonal, in pixels."""
    return float(math.hypot(width, height))


def _rx(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def _rz(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def camera_rotation(pitch: float, roll: float) -> np.ndarray:
    """[3, 3] OpenCV camera axes -> world, for pitch (radians, down positive) and roll."""
    return LEVEL_CAMERA @ _rx(-pitch) @ _rz(roll)


def up_in_camera(pitch: float, roll: float) -> np.ndarray:
    """The world's up direction [3] in the camera frame."""
    return camera_rotation(pitch, roll).T @ np.array([0.0, 0.0, 1.0])


def angles_from_up(up: np.ndarray) -> tuple[float, float]:
    """(pitch, roll) radians of a camera that sees the world's up as `up` [3] (camera frame)."""
    u = np.asarray(up, np.float64) / np.linalg.norm(up)
    pitch = math.asin(float(np.clip(-u[2], -1.0, 1.0)))
    roll = math.atan2(-u[0], -u[1])
    return pitch, roll


def camera_to_world(height: float, pitch: float, roll: float) -> np.ndarray:
    """[4, 4] OpenCV camera frame -> world (Z up, floor at Z = 0, camera over the origin)."""
    out = np.eye(4)
    out[:3, :3] = camera_rotation(pitch, roll)
    out[2, 3] = float(height)
    return out


def intrinsics(focal: float, width: int, height: int) -> np.ndarray:
    """[4] (fx, fy, cx, cy) of a camera with square pixels and a centred principal point."""
    return np.array([focal, focal, width / 2.0, height / 2.0])
