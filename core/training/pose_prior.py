"""A hand-made prior over SMPL body poses, for generated training clips.

Each joint's local rotation is drawn as XYZ Euler angles (degrees) from a Gaussian with
anatomical limits; the numbers are for the left side and the right side mirrors them
(an SMPL rotation (x, y, z) mirrors to (x, −y, −z)). Signs in SMPL's frame (x to the
body's left, y up, z forward): hip flexion is −x, knee flexion +x, trunk flexion +x,
lowering the left arm −z, raising it forward −y, bending the left elbow −y.
Smooth motion comes from slerping between poses drawn at random key times.
"""
from __future__ import annotations

import numpy as np

from ..common import rotations
from ..common.skeleton import FLIP_PERMUTATION, JOINT_NAMES

# joint -> (mean xyz, std xyz, low xyz, high xyz), degrees, left side / spine.
_LIMITS = {
    "left_hip": ((-15, 0, 5), (30, 12, 10), (-110, -35, -20), (30, 35, 50)),
    "left_knee": ((25, 0, 0), (30, 3, 2), (0, -5, -5), (140, 5, 5)),
    "left_ankle": ((0, 0, 0), (12, 8, 6), (-40, -20, -15), (40, 20, 15)),
    "left_foot": ((0, 0, 0), (5, 2, 2), (-20, -5, -5), (20, 5, 5)),
    "spine1": ((5, 0, 0), (10, 8, 6), (-20, -30, -20), (45, 30, 20)),
    "spine2": ((3, 0, 0), (6, 6, 4), (-15, -20, -15), (30, 20, 15)),
    "spine3": ((3, 0, 0), (6, 6, 4), (-15, -20, -15), (30, 20, 15)),
    "neck": ((5, 0, 0), (10, 15, 6), (-30, -45, -20), (40, 45, 20)),
    "head": ((0, 0, 0), (8, 12, 6), (-30, -40, -20), (30, 40, 20)),
    "left_collar": ((0, 0, 0), (4, 5, 5), (-10, -15, -20), (10, 15, 15)),
    "left_shoulder": ((0, -10, -55), (25, 30, 30), (-60, -120, -95), (60, 40, 70)),
    "left_elbow": ((0, -35, 0), (10, 35, 3), (-40, -145, -5), (40, 0, 5)),
    "left_wrist": ((0, 0, 0), (15, 10, 15), (-60, -30, -60), (60, 30, 60)),
    "left_hand": ((0, 0, 0), (5, 5, 5), (-15, -15, -15), (15, 15, 15)),
}


def _table() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-joint mean, std, low, high [24, 3] (degrees); the pelvis row is zero."""
    mean, std, lo, hi = (np.zeros((24, 3)) for _ in range(4))
    mirror = np.array([1.0, -1.0, -1.0])
    for name, (m, s, l, h) in _LIMITS.items():
        j = JOINT_NAMES.index(name)
        mean[j], std[j], lo[j], hi[j] = m, s, l, h
        k = int(FLIP_PERMUTATION[j])
        if k != j:
            mean[k], std[k] = np.multiply(m, mirror), s
            # Mirroring swaps which bound of y and z is the low one.
            lo[k] = np.where(mirror > 0, l, -np.asarray(h))
            hi[k] = np.where(mirror > 0, h, -np.asarray(l))
    return mean, std, lo, hi


MEAN_DEG, STD_DEG, LOW_DEG, HIGH_DEG = _table()


def euler_xyz_to_matrix(deg: np.ndarray) -> np.ndarray:
    """[..., 3] Euler angles (degrees, applied x then y then z: R = Rz Ry Rx) -> [..., 3, 3]."""
    x, y, z = np.moveaxis(np.radians(deg), -1, 0)
    cx, sx, cy, sy, cz, sz = np.cos(x), np.sin(x), np.cos(y), np.sin(y), np.cos(z), np.sin(z)
    o, n = np.ones_like(x), np.zeros_like(x)
    rx = np.stack([o, n, n, n, cx, -sx, n, sx, cx], -1).reshape(x.shape + (3, 3))
    ry = np.stack([cy, n, sy, n, o, n, -sy, n, cy], -1).reshape(x.shape + (3, 3))
    rz = np.stack([cz, -sz, n, sz, cz, n, n, n, o], -1).reshape(x.shape + (3, 3))
    return rz @ ry @ rx


def sample_body_poses(rng: np.random.Generator, n: int, spread: float = 1.0) -> np.ndarray:
    """n random body poses as SMPL axis-angle [n, 24, 3] with a zero root rotation."""
    deg = MEAN_DEG + spread * STD_DEG * rng.standard_normal((n, 24, 3))
    deg = np.clip(deg, LOW_DEG, HIGH_DEG)
    deg[:, 0] = 0.0
    return rotations.matrix_to_axis_angle(euler_xyz_to_matrix(deg))


def interpolate_poses(keys: np.ndarray, key_times: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Slerp each joint between key poses. keys [K, 24, 3] at key_times [K] -> [len(times), 24, 3]."""
    q = rotations.make_quaternions_continuous(rotations.axis_angle_to_quaternion(keys), axis=0)
    idx = np.clip(np.searchsorted(key_times, times, side="right") - 1, 0, len(key_times) - 2)
    t0, t1 = key_times[idx], key_times[idx + 1]
    frac = np.clip((times - t0) / np.maximum(t1 - t0, 1e-9), 0.0, 1.0)
    # Smoothstep eases in and out of each key so that the motion has no velocity jumps.
    frac = frac * frac * (3 - 2 * frac)
    out = rotations.slerp(q[idx], q[idx + 1], np.broadcast_to(frac[:, None], (len(times), 24)))
    return rotations.quaternion_to_axis_angle(out)


def sample_prior_motion(rng: np.random.Generator, n_frames: int, fps: float,
                        key_interval: tuple[float, float] = (0.4, 1.2), spread: float = 1.0) -> np.ndarray:
    """A smooth random motion [n_frames, 24, 3]: poses from the prior at random key times."""
    duration = n_frames / fps
    times = [0.0]
    while times[-1] <= duration:
        times.append(times[-1] + rng.uniform(*key_interval))
    keys = sample_body_poses(rng, len(times), spread)
    return interpolate_poses(keys, np.array(times), np.arange(n_frames) / fps)


# Joint-angle limits (radians) for random but human poses: per joint, the largest rotation
# about each SMPL axis (x: left, y: up, z: forward).
TEST_POSE_LIMITS = np.zeros((24, 3))
TEST_POSE_LIMITS[0] = [np.pi, np.pi, np.pi]
TEST_POSE_LIMITS[[1, 2]] = [1.2, 0.5, 0.5]
TEST_POSE_LIMITS[[4, 5]] = [1.3, 0.1, 0.1]
TEST_POSE_LIMITS[[3, 6, 9]] = [0.3, 0.3, 0.2]
TEST_POSE_LIMITS[[7, 8]] = [0.5, 0.2, 0.3]
TEST_POSE_LIMITS[[12, 15]] = [0.4, 0.6, 0.3]
TEST_POSE_LIMITS[[13, 14]] = [0.2, 0.2, 0.3]
TEST_POSE_LIMITS[[16, 17]] = [1.0, 1.2, 1.2]
TEST_POSE_LIMITS[[18, 19]] = [0.2, 1.3, 0.2]
TEST_POSE_LIMITS[[20, 21]] = [0.6, 0.4, 0.6]
TEST_POSE_LIMITS[[10, 11, 22, 23]] = [0.3, 0.3, 0.3]


def random_limited_poses(n: int, seed: int) -> np.ndarray:
    """[n, 72] axis-angle poses within TEST_POSE_LIMITS (knees bend backwards only)."""
    rng = np.random.default_rng(seed)
    aa = rng.uniform(-1, 1, size=(n, 24, 3)) * TEST_POSE_LIMITS
    aa[:, [4, 5], 0] = np.abs(aa[:, [4, 5], 0])
    return aa.reshape(n, 72)
