"""Root translation from 2D points, its smoothing over time, and the crop camera geometry."""
from __future__ import annotations

import numpy as np

from video_to_motion.core.common import rotations
from video_to_motion.core.common.camera import default_focal_length
from video_to_motion.core.estimators.blazepose.root_fit import (body_height, crop_camera_rotation, depth_confidence, fit_translation,
                           project, smooth_translation)
from video_to_motion.core.common.skeleton import DEFAULT_REST_JOINTS, forward_kinematics

FOCAL = default_focal_length(768, 576)
PRINCIPAL = np.array([384.0, 288.0])


def walking_skeletons(n: int, seed: int = 0):
    """Posed joints [n,24,3] (no translation) and true translations [n,3], 8-25 m away."""
    rng = np.random.default_rng(seed)
    aa = rng.normal(scale=0.2, size=(n, 24, 3))
    aa[:, 0] = [np.pi, 0, 0] + rng.normal(scale=0.3, size=(n, 3))  # upright in the camera frame
    joints = forward_kinematics(rotations.axis_angle_to_matrix(aa), DEFAULT_REST_JOINTS)
    trans = np.stack([rng.uniform(-4, 4, n), rng.uniform(-1, 2, n), rng.uniform(8, 25, n)], -1)
    return joints, trans


def test_cliff_focal_length_is_the_diagonal():
    assert default_focal_length(768, 576) == 960.0


def test_exact_points_give_the_exact_translation():
    joints, trans = walking_skeletons(20)
    pixels = project(joints + trans[:, None], FOCAL, PRINCIPAL)
    fitted, rms = fit_translation(joints, pixels, np.ones(pixels.shape[:2]), FOCAL, PRINCIPAL)
    np.testing.assert_allclose(fitted, trans, atol=1e-6)
    assert rms.max() < 1e-6


def test_wrong_and_invisible_points_are_shrugged_off():
    joints, trans = walking_skeletons(20, seed=1)
    pixels = project(joints + trans[:, None], FOCAL, PRINCIPAL)
    weights = np.ones(pixels.shape[:2])
    pixels[:, 3] += 200.0          # one landmark far off on every frame
    pixels[:, 7] = [5000.0, -50.0]  # and one absurd but invisible
    weights[:, 7] = 0.0
    rng = np.random.default_rng(2)
    pixels += rng.normal(scale=0.5, size=pixels.shape)
    fitted, _ = fit_translation(joints, pixels, weights, FOCAL, PRINCIPAL)
    relative = np.abs(fitted[:, 2] - trans[:, 2]) / trans[:, 2]
    assert relative.max() < 0.03, relative.max()
    assert np.abs(fitted[:, :2] - trans[:, :2]).max() < 0.15


def test_smoothing_removes_depth_noise_and_outliers_without_lag():
    frames = np.arange(100)
    true_depth = 12.0 + 0.14 * frames   # walking away at 1.4 m/s at 10 fps
    true_x = -2.0 + 0.03 * frames
    rng = np.random.default_rng(3)
    depth = true_depth * np.exp(rng.normal(scale=0.03, size=100))
    depth[[20, 21, 60]] *= [1.6, 1.5, 0.6]  # frames where the pose was wrong
    pelvis_rest = DEFAULT_REST_JOINTS[0]
    pixel_x = FOCAL * true_x / true_depth + PRINCIPAL[0]
    pelvis = np.stack([(pixel_x - PRINCIPAL[0]) * depth / FOCAL, np.zeros(100), depth], -1)
    smoothed = smooth_translation(pelvis - pelvis_rest, pelvis_rest, frames, FOCAL, PRINCIPAL, depth_sigma=5.0)
    out = smoothed + pelvis_rest
    err = np.abs(out[:, 2] - true_depth) / true_depth
    assert err.max() < 0.03, err.max()
    assert np.abs(np.diff(out[:, 2])).max() < 0.3
    # The image position is kept: the pelvis stays on its pixel.
    np.testing.assert_allclose(project(out, FOCAL, PRINCIPAL)[:, 0], pixel_x, atol=1e-6)
    # Steady motion is not lagged at the ends (local lines, not local means).
    assert abs(out[-1, 2] - true_depth[-1]) / true_depth[-1] < 0.03


def test_smoothing_a_short_track_does_not_extrapolate():
    """Four frames whose depths happen to rise: a plausible speed keeps them together."""
    frames = np.array([0, 1, 2, 3])
    depth = np.array([20.0, 20.7, 21.3, 22.0])
    trans = np.stack([np.zeros(4), np.zeros(4), depth], -1) - DEFAULT_REST_JOINTS[0]
    z = lambda speed: smooth_translation(trans, DEFAULT_REST_JOINTS[0], frames, FOCAL, PRINCIPAL, depth_sigma=5.0,
                                         depth_speed=speed)[:, 2] + DEFAULT_REST_JOINTS[0, 2]
    free, held = z(None), z(0.01)
    assert np.ptp(free) > 1.5  # a line through noise
    assert np.ptp(held) < 0.5 * np.ptp(free) and abs(held.mean() - depth.mean()) < 0.2


def test_depth_confidence_flags_frames_that_disagree_with_the_box():
    height = body_height(DEFAULT_REST_JOINTS)
    assert 1.6 < height < 1.8
    box_h = np.array([90.0, 90.0, 90.0])
    box_depth = FOCAL * height / 90.0
    conf = depth_confidence(np.array([box_depth, 1.6 * box_depth, box_depth]), np.array([1.0, 1.0, 20.0]),
                            box_h, height, FOCAL)
    assert conf[0] > 0.9 and conf[1] < 0.3 and conf[2] < 0.1


def test_crop_rotation_points_the_optical_axis_through_the_crop_centre():
    centers = np.array([[384.0, 288.0], [700.0, 100.0], [10.0, 500.0]])
    rot = crop_camera_rotation(centers, (768, 576), FOCAL)
    np.testing.assert_allclose(rot[0], np.eye(3), atol=1e-12)
    axis = rot[:, :, 2]  # the crop camera's z axis in the camera frame
    np.testing.assert_allclose(project(axis * 10, FOCAL, PRINCIPAL), centers, atol=1e-9)
    np.testing.assert_allclose(np.linalg.det(rot), 1.0, atol=1e-12)
