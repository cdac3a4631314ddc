from __future__ import annotations

import numpy as np

from video_to_motion.core.common import rotations as R


def random_axis_angle(n, seed=0, max_angle=np.pi):
    rng = np.random.default_rng(seed)
    axis = rng.normal(size=(n, 3))
    axis /= np.linalg.norm(axis, axis=1, keepdims=True)
    return axis * rng.uniform(0, max_angle, size=(n, 1))


def test_conversions_agree():
    aa = random_axis_angle(500)
    m = R.axis_angle_to_matrix(aa)
    np.testing.assert_allclose(m @ np.swapaxes(m, -1, -2), np.broadcast_to(np.eye(3), m.shape), atol=1e-12)
    np.testing.assert_allclose(np.linalg.det(m), 1.0, atol=1e-12)
    np.testing.assert_allclose(R.matrix_to_axis_angle(m), aa, atol=1e-9)
    np.testing.assert_allclose(R.quaternion_to_matrix(R.matrix_to_quaternion(m)), m, atol=1e-12)
    # Rodrigues by hand for one rotation: 90 degrees about z sends x to y.
    np.testing.assert_allclose(R.axis_angle_to_matrix(np.array([0, 0, np.pi / 2])) @ [1, 0, 0], [0, 1, 0], atol=1e-12)


def test_small_angles_are_exact():
    aa = np.array([[1e-9, -2e-9, 3e-9], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(R.quaternion_to_axis_angle(R.axis_angle_to_quaternion(aa)), aa, atol=1e-15)


def test_quaternion_continuity_and_slerp():
    q = R.axis_angle_to_quaternion(random_axis_angle(50, seed=1, max_angle=0.2).cumsum(0))
    flipped = q * np.where(np.arange(50) % 3 == 0, -1, 1)[:, None]
    cont = R.make_quaternions_continuous(flipped)
    assert np.all(np.sum(cont[1:] * cont[:-1], axis=-1) > 0)
    np.testing.assert_allclose(R.quaternion_to_matrix(cont), R.quaternion_to_matrix(q), atol=1e-12)
    a, b = R.axis_angle_to_quaternion(np.array([0, 0, 0.2])), R.axis_angle_to_quaternion(np.array([0, 0, 1.0]))
    np.testing.assert_allclose(R.quaternion_to_axis_angle(R.slerp(a, b, 0.5)), [0, 0, 0.6], atol=1e-12)
    ab = R.quaternion_multiply(a, b)
    np.testing.assert_allclose(R.quaternion_to_axis_angle(ab), [0, 0, 1.2], atol=1e-12)


def test_nearest_rotation_of_a_scaled_noisy_rotation():
    rng = np.random.default_rng(1)
    r = R.axis_angle_to_matrix(rng.normal(size=(50, 3)))
    out = R.nearest_rotation(1.7 * r + 1e-3 * rng.normal(size=r.shape))
    np.testing.assert_allclose(out @ np.swapaxes(out, -1, -2), np.broadcast_to(np.eye(3), out.shape), atol=1e-9)
    np.testing.assert_allclose(np.linalg.det(out), 1.0, atol=1e-9)
    assert np.abs(out - r).max() < 5e-3
