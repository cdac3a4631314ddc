"""Floor estimate from the feet over a clip, and the rigid transform that puts it at Z = 0.

numpy only. Works in the Blender world (Z up, camera at the origin looking along +Y). A
camera that is not level sees a tilted floor, so the floor is fitted as a plane to the
frames where a foot is planted (low and still), robustly, not just taken as the lowest Z.
"""
from __future__ import annotations

import dataclasses

import numpy as np

# SMPL joints on the feet: ankles and the toe-ball "foot" joints.
ANKLES = (7, 8)
FEET = (10, 11)
# How far the SMPL foot joint sits above the sole when the foot is flat (metres). An
# approximation for an adult SMPL body; the floor is put this far below the joints.
FOOT_JOINT_HEIGHT = 0.03
MAX_TILT_DEG = 45.0
MAX_POINTS = 4000


class GroundError(ValueError):
    """Too little foot data to place a floor."""


@dataclasses.dataclass(frozen=True)
class Floor:
    """A plane {p : normal . p = offset} in the Blender world; normal is unit, Z-ish up."""

    normal: np.ndarray
    offset: float
    inliers: int
    candidates: int


def contact_points(joints: np.ndarray, fps: float, max_speed: float = 0.6) -> np.ndarray:
    """Likely foot-floor contacts of one track.

    joints [F, 24, 3] posed joints (Blender world) on consecutive frames -> [M, 3]: for each
    frame, the lower of the two foot joints, kept when it moves slower than `max_speed`
    m/s (a planted foot). Falls back to every frame's lower foot when too few are still.
    """
    joints = np.asarray(joints, dtype=np.float64)
    feet = joints[:, list(FEET)]                       # [F, 2, 3]
    low = np.argmin(feet[:, :, 2], axis=1)             # [F]
    points = feet[np.arange(len(feet)), low]           # [F, 3]
    if len(feet) < 3:
        return points
    vel = np.gradient(feet, axis=0) * float(fps)       # [F, 2, 3]
    speed = np.linalg.norm(vel[np.arange(len(feet)), low], axis=-1)
    still = speed < max_speed
    return points[still] if still.sum() >= max(3, len(points) // 10) else points


def fit_floor(points: np.ndarray, tolerance: float = 0.03, iterations: int = 256, seed: int = 0) -> Floor:
    """Plane under the contact points: RANSAC, then least squares on the inliers.

    points [M, 3] -> Floor. A candidate plane scores its inliers (within `tolerance`)
    minus a penalty for points well below it (feet do not go through the floor), and
    must tilt less than MAX_TILT_DEG from Z up. When the points do not span a plane (one
    person standing still, or walking along a line) the tilt cannot be measured and the
    floor is taken level at the points' lower height.
    """
    p = np.asarray(points, dtype=np.float64)
    if p.ndim != 2 or p.shape[1] != 3 or len(p) < 3:
        raise GroundError(f"need at least 3 foot contacts to place a floor, got {len(p)}")
    if len(p) > MAX_POINTS:  # an even subsample keeps the fit's cost flat on long clips
        p = p[np.linspace(0, len(p) - 1, MAX_POINTS).astype(np.int64)]
    level = Floor(np.array([0.0, 0.0, 1.0]), float(np.percentile(p[:, 2], 10)), len(p), len(p))
    spread = np.sqrt(np.maximum(np.linalg.eigvalsh(np.cov((p[:, :2] - p[:, :2].mean(0)).T)), 0))
    if spread[0] < 0.15:  # metres of spread across the narrow horizontal direction
        return level

    rng = np.random.default_rng(seed)
    tri = rng.integers(0, len(p), size=(iterations, 3))
    a, b, c = p[tri[:, 0]], p[tri[:, 1]], p[tri[:, 2]]
    n = np.cross(b - a, c - a)
    norm = np.linalg.norm(n, axis=1)
    ok = norm > 1e-9
    n = n[ok] / norm[ok, None]
    n *= np.where(n[:, 2:] < 0, -1.0, 1.0)
    d = np.einsum("kd,kd->k", n, a[ok])
    ok = n[:, 2] > np.cos(np.radians(MAX_TILT_DEG))
    if not np.any(ok):
        return level
    n, d = n[ok], d[ok]
    dist = p @ n.T - d                                  # [M, K] signed height above each plane
    score = (np.abs(dist) < tolerance).sum(0) - 2.0 * (dist < -2 * tolerance).sum(0)
    best = int(np.argmax(score))
    inliers = np.abs(dist[:, best]) < tolerance
    if inliers.sum() < 3:
        return level
    q = p[inliers]
    centre = q.mean(0)
    normal = np.linalg.eigh(np.cov((q - centre).T))[1][:, 0]  # least-spread direction
    normal *= 1.0 if normal[2] >= 0 else -1.0
    if normal[2] < np.cos(np.radians(MAX_TILT_DEG)):
        return level
    return Floor(normal, float(normal @ centre), int(inliers.sum()), len(p))


def rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The smallest rotation [3, 3] taking unit vector a to unit vector b (not opposite)."""
    a = np.asarray(a, dtype=np.float64) / np.linalg.norm(a)
    b = np.asarray(b, dtype=np.float64) / np.linalg.norm(b)
    v = np.cross(a, b)
    c = float(a @ b)
    if c < -1 + 1e-9:
        raise ValueError("opposite vectors have no unique smallest rotation")
    vx = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + vx + vx @ vx / (1.0 + c)


def floor_transform(floor: Floor, joint_height: float = FOOT_JOINT_HEIGHT) -> np.ndarray:
    """The rigid 4x4 world transform that puts `floor` (minus the sole) at Z = 0.

    It turns the floor normal onto +Z about the origin (the camera stays above the world
    origin) and lowers everything so the soles touch Z = 0.
    """
    rot = rotation_between(floor.normal, [0.0, 0.0, 1.0])
    out = np.eye(4)
    out[:3, :3] = rot
    out[2, 3] = -(floor.offset - joint_height)
    return out
