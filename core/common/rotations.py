"""Rotation conversions in numpy (no torch), shared by the worker and the Blender add-on.

Conventions: axis-angle vectors are [..., 3] (angle = norm, in radians), quaternions are
[..., 4] in (w, x, y, z) order as Blender stores them, matrices are [..., 3, 3] and act
on column vectors.
"""
from __future__ import annotations

import numpy as np

_EPS = 1e-8


def axis_angle_to_quaternion(aa: np.ndarray) -> np.ndarray:
    """[..., 3] axis-angle -> [..., 4] unit quaternion (w, x, y, z)."""
    aa = np.asarray(aa, dtype=np.float64)
    angle = np.linalg.norm(aa, axis=-1, keepdims=True)
    half = 0.5 * angle
    # sin(a/2)/a tends to 1/2 as a -> 0; the series keeps small angles exact.
    small = angle < 1e-6
    scale = np.where(small, 0.5 - angle**2 / 48.0, np.sin(half) / np.where(small, 1.0, angle))
    return np.concatenate([np.cos(half), aa * scale], axis=-1)


def quaternion_to_axis_angle(q: np.ndarray) -> np.ndarray:
    """[..., 4] quaternion (w, x, y, z) -> [..., 3] axis-angle with angle in [0, pi]."""
    q = np.asarray(q, dtype=np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    q = np.where(q[..., :1] < 0, -q, q)
    xyz = q[..., 1:]
    sin_half = np.linalg.norm(xyz, axis=-1, keepdims=True)
    angle = 2.0 * np.arctan2(sin_half, q[..., :1])
    small = sin_half < 1e-7
    scale = np.where(small, 2.0, angle / np.where(small, 1.0, sin_half))
    return xyz * scale


def axis_angle_to_matrix(aa: np.ndarray) -> np.ndarray:
    """[..., 3] axis-angle -> [..., 3, 3] rotation matrix (Rodrigues)."""
    return quaternion_to_matrix(axis_angle_to_quaternion(aa))


def quaternion_to_matrix(q: np.ndarray) -> np.ndarray:
    """[..., 4] quaternion (w, x, y, z) -> [..., 3, 3] rotation matrix."""
    q = np.asarray(q, dtype=np.float64)
    q = q / np.linalg.norm(q, axis=-1, keepdims=True)
    w, x, y, z = np.moveaxis(q, -1, 0)
    m = np.stack(
        [
            1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
            2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
            2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
        ],
        axis=-1,
    )
    return m.reshape(q.shape[:-1] + (3, 3))


def nearest_rotation(m: np.ndarray) -> np.ndarray:
    """[..., 3, 3] any matrices -> the nearest rotations (Frobenius norm, det +1), [..., 3, 3].

    Also the Kabsch/Wahba solution when m is a cross-covariance sum_k w_k b_k a_k^T."""
    u, _, vt = np.linalg.svd(np.asarray(m, dtype=np.float64))
    fix = np.ones(u.shape[:-1])
    fix[..., -1] = np.sign(np.linalg.det(u @ vt))
    return u @ (fix[..., :, None] * vt)


def matrix_to_quaternion(m: np.ndarray) -> np.ndarray:
    """[..., 3, 3] rotation matrix -> [..., 4] unit quaternion (w, x, y, z), w >= 0.

    Uses the largest-diagonal branch per element so that no branch divides by a small
    number.
    """
    m = np.asarray(m, dtype=np.float64)
    batch = m.shape[:-2]
    m = m.reshape(-1, 3, 3)
    tr = m[:, 0, 0] + m[:, 1, 1] + m[:, 2, 2]
    cand = np.stack([tr, m[:, 0, 0], m[:, 1, 1], m[:, 2, 2]], axis=-1)
    branch = np.argmax(cand, axis=-1)
    q = np.empty((m.shape[0], 4))
    for b in range(4):
        idx = branch == b
        if not np.any(idx):
            continue
        r = m[idx]
        if b == 0:
            s = np.sqrt(1.0 + tr[idx]) * 2
            q[idx] = np.stack([0.25 * s, (r[:, 2, 1] - r[:, 1, 2]) / s,
                               (r[:, 0, 2] - r[:, 2, 0]) / s, (r[:, 1, 0] - r[:, 0, 1]) / s], -1)
        elif b == 1:
            s = np.sqrt(np.maximum(1.0 + r[:, 0, 0] - r[:, 1, 1] - r[:, 2, 2], _EPS)) * 2
            q[idx] = np.stack([(r[:, 2, 1] - r[:, 1, 2]) / s, 0.25 * s,
                               (r[:, 0, 1] + r[:, 1, 0]) / s, (r[:, 0, 2] + r[:, 2, 0]) / s], -1)
        elif b == 2:
            s = np.sqrt(np.maximum(1.0 + r[:, 1, 1] - r[:, 0, 0] - r[:, 2, 2], _EPS)) * 2
            q[idx] = np.stack([(r[:, 0, 2] - r[:, 2, 0]) / s, (r[:, 0, 1] + r[:, 1, 0]) / s,
                               0.25 * s, (r[:, 1, 2] + r[:, 2, 1]) / s], -1)
        else:
            s = np.sqrt(np.maximum(1.0 + r[:, 2, 2] - r[:, 0, 0] - r[:, 1, 1], _EPS)) * 2
            q[idx] = np.stack([(r[:, 1, 0] - r[:, 0, 1]) / s, (r[:, 0, 2] + r[:, 2, 0]) / s,
                               (r[:, 1, 2] + r[:, 2, 1]) / s, 0.25 * s], -1)
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    q = np.where(q[:, :1] < 0, -q, q)
    return q.reshape(batch + (4,))


def matrix_to_axis_angle(m: np.ndarray) -> np.ndarray:
    """[..., 3, 3] rotation matrix -> [..., 3] axis-angle."""
    return quaternion_to_axis_angle(matrix_to_quaternion(m))


def quaternion_multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product a*b of [..., 4] (w, x, y, z) quaternions."""
    aw, ax, ay, az = np.moveaxis(np.asarray(a, dtype=np.float64), -1, 0)
    bw, bx, by, bz = np.moveaxis(np.asarray(b, dtype=np.float64), -1, 0)
    return np.stack(
        [
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ],
        axis=-1,
    )


def make_quaternions_continuous(q: np.ndarray, axis: int = 0) -> np.ndarray:
    """Flip signs along `axis` so consecutive quaternions have a non-negative dot product.

    q and -q are the same rotation; interpolating between keys of opposite sign spins the
    bone the long way round, so keyed curves must stay on one hemisphere.
    """
    q = np.moveaxis(np.array(q, dtype=np.float64, copy=True), axis, 0)
    if q.shape[0] > 1:
        dots = np.sum(q[1:] * q[:-1], axis=-1)
        # Cumulative product of the sign changes makes every step relative to the first.
        flips = np.cumprod(np.where(dots < 0, -1.0, 1.0), axis=0)
        q[1:] *= flips[..., None]
    return np.moveaxis(q, 0, axis)


def slerp(q0: np.ndarray, q1: np.ndarray, t: np.ndarray | float) -> np.ndarray:
    """Spherical interpolation between [..., 4] quaternions at fraction t (broadcast)."""
    q0 = np.asarray(q0, dtype=np.float64)
    q1 = np.asarray(q1, dtype=np.float64)
    t = np.asarray(t, dtype=np.float64)[..., None]
    dot = np.sum(q0 * q1, axis=-1, keepdims=True)
    q1 = np.where(dot < 0, -q1, q1)
    dot = np.abs(dot)
    theta = np.arccos(np.clip(dot, -1.0, 1.0))
    sin_theta = np.sin(theta)
    near = sin_theta < 1e-6
    safe = np.where(near, 1.0, sin_theta)
    w0 = np.where(near, 1.0 - t, np.sin((1.0 - t) * theta) / safe)
    w1 = np.where(near, t, np.sin(t * theta) / safe)
    out = w0 * q0 + w1 * q1
    return out / np.linalg.norm(out, axis=-1, keepdims=True)


def rotation_between_vectors(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[..., 3] vectors a, b -> [..., 3, 3] the smallest rotations taking a's direction to b's.

    Opposite directions have no unique smallest rotation: a half turn about an axis
    perpendicular to a is taken. Zero vectors give the identity.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    na = np.linalg.norm(a, axis=-1, keepdims=True)
    nb = np.linalg.norm(b, axis=-1, keepdims=True)
    ok = (na > _EPS) & (nb > _EPS)
    a = np.where(ok, a / np.where(ok, na, 1.0), [1.0, 0.0, 0.0])
    b = np.where(ok, b / np.where(ok, nb, 1.0), [1.0, 0.0, 0.0])
    c = np.einsum("...i,...i->...", a, b)
    # Quaternion of the half-way construction: (1 + c, a x b), normalised.
    q = np.concatenate([(1.0 + c)[..., None], np.cross(a, b)], axis=-1)
    opposite = (1.0 + c) < 1e-9
    if np.any(opposite):
        helper = np.where(np.abs(a[..., :1]) < 0.9, [1.0, 0.0, 0.0], [0.0, 1.0, 0.0])
        axis = np.cross(a, helper)
        axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
        q = np.where(opposite[..., None], np.concatenate([np.zeros_like(c)[..., None], axis], axis=-1), q)
    return quaternion_to_matrix(q)
