"""SMPL fitted to 2D and 3D landmarks over time (core.estimators.blazepose.fit), on generated
bodies with known poses: exact recovery from clean landmarks, robustness to noisy and to
missing ones, and the per-person bone lengths."""
from __future__ import annotations

import numpy as np
import pytest

from video_to_motion.core.common import rotations
from video_to_motion.core.common.skeleton import DEFAULT_REST_JOINTS, forward_kinematics
from video_to_motion.core.estimators.blazepose import fit, landmarks
from video_to_motion.core.training.pose_prior import random_limited_poses

FOCAL = 1000.0
PRINCIPAL = np.array([640.0, 360.0])
IDS = np.array(list(landmarks.SMPL_TO_LANDMARK))
FPS = 30.0


def project(joints: np.ndarray) -> np.ndarray:
    return FOCAL * joints[..., :2] / joints[..., 2:] + PRINCIPAL


def walk(frames: int, seed: int, rest: np.ndarray = DEFAULT_REST_JOINTS):
    """A smooth motion from one random pose towards another (2 s from one to the other),
    4 m in front of the camera. -> (rotmats [F,24,3,3], trans [F,3], joints [F,24,3])."""
    a, b = random_limited_poses(2, seed=seed).reshape(2, 24, 3)
    s = (0.5 - 0.5 * np.cos(np.pi * np.minimum(np.arange(frames) / (2.0 * FPS), 1.0)))[:, None, None]
    rot = rotations.axis_angle_to_matrix(a + (b - a) * s)
    trans = np.stack([np.arange(frames) * 0.04, np.full(frames, 0.2), np.full(frames, 4.0)], axis=-1)
    return rot, trans, forward_kinematics(rot, rest, trans)


def perturbed(rot, trans, seed, angle=0.1, shift=0.05):
    rng = np.random.default_rng(seed)
    noise = rotations.axis_angle_to_matrix(rng.normal(scale=angle, size=rot.shape[:2] + (3,)))
    return rot @ noise, trans + rng.normal(scale=shift, size=trans.shape) * [1, 1, 0]


def run_fit(rot0, trans0, pixels, weights, world, rest=DEFAULT_REST_JOINTS, iterations=150, **kwargs):
    n = len(rot0)
    result = fit.fit_track(rot0, trans0, rest, IDS, pixels, weights, np.full(n, 350.0), FOCAL, PRINCIPAL,
                           np.arange(n), FPS, world_joints=world, iterations=iterations, **kwargs)
    return result, forward_kinematics(result.rotmats, result.rest_joints, result.trans)


def test_clean_landmarks_are_recovered_exactly():
    rot, trans, joints = walk(12, seed=3)
    rot0, trans0 = perturbed(rot, trans, seed=4)
    start = forward_kinematics(rot0, DEFAULT_REST_JOINTS, trans0)
    result, fitted = run_fit(rot0, trans0, project(joints[:, IDS]), np.ones((12, len(IDS))), joints - trans[:, None])
    start_px = np.linalg.norm(project(start[:, IDS]) - project(joints[:, IDS]), axis=-1).mean()
    px = np.linalg.norm(project(fitted[:, IDS]) - project(joints[:, IDS]), axis=-1)
    err3d = np.linalg.norm(fitted - joints, axis=-1)
    assert start_px > 10, start_px  # the start is far off ...
    assert px.mean() < 1.0 and px.max() < 3.0, (px.mean(), px.max())  # ... the fit lands on the landmarks
    # 3D: up to the pull of the priors towards the (wrong) start, about a centimetre
    assert err3d[:, IDS].mean() < 0.015, err3d[:, IDS].mean()
    assert result.loss[1] < 0.05 * result.loss[0]


def test_noisy_landmarks_end_closer_to_the_truth_and_smoother():
    frames = 30
    rot, trans, joints = walk(frames, seed=5)
    rng = np.random.default_rng(6)
    pixels = project(joints[:, IDS]) + rng.normal(scale=4.0, size=(frames, len(IDS), 2))
    world = joints - trans[:, None] + rng.normal(scale=0.03, size=joints.shape)
    rot0, trans0 = perturbed(rot, trans, seed=7)
    _, fitted = run_fit(rot0, trans0, pixels, np.ones((frames, len(IDS))), world, iterations=80)
    truth_px = project(joints[:, IDS])
    noise_px = np.linalg.norm(pixels - truth_px, axis=-1).mean()
    fit_px = np.linalg.norm(project(fitted[:, IDS]) - truth_px, axis=-1).mean()
    assert fit_px < 0.7 * noise_px, (fit_px, noise_px)
    # Jitter: frame-to-frame acceleration of the fitted joints, against the landmarks'.
    accel = lambda x: np.linalg.norm(np.diff(x, 2, axis=0), axis=-1).mean()
    assert accel(project(fitted[:, IDS])) < 0.3 * accel(pixels)


def test_missing_and_wrong_landmarks_do_not_pull():
    frames = 20
    rot, trans, joints = walk(frames, seed=8)
    pixels = project(joints[:, IDS])
    weights = np.ones((frames, len(IDS)))
    wrist = list(IDS).index(21)
    knee = list(IDS).index(4)
    pixels[::2, wrist] += 300.0           # missing (weight 0) and far off
    weights[::2, wrist] = 0.0
    pixels[5, knee] += 150.0              # one wrong landmark that claims to be seen
    rot0, trans0 = perturbed(rot, trans, seed=9)
    _, fitted = run_fit(rot0, trans0, pixels, weights, joints - trans[:, None])
    err = np.linalg.norm(project(fitted) - project(joints), axis=-1)
    assert err[::2, 21].max() < 3.0, err[::2, 21]
    assert err[5, 4] < 10.0, err[5, 4]
    assert np.median(err[:, IDS]) < 1.0


def test_bone_lengths_of_another_person_are_found():
    rest_other = DEFAULT_REST_JOINTS + fit.bone_length_space(DEFAULT_REST_JOINTS) @ np.array(
        [0.1, 0.08, -0.06, 0.05, 0.0, -0.05, 0.05, 0.0])
    rot, trans, joints = walk(15, seed=10, rest=rest_other)
    rot0, trans0 = perturbed(rot, trans, seed=11, angle=0.05)
    result, fitted = run_fit(rot0, trans0, project(joints[:, IDS]), np.ones((15, len(IDS))),
                             joints - trans[:, None], shape_dirs=fit.bone_length_space(DEFAULT_REST_JOINTS),
                             shape_sigma=fit.SIGMA_BONE, iterations=200)
    thigh = lambda r: np.linalg.norm(r[4] - r[1])
    assert abs(thigh(result.rest_joints) - thigh(rest_other)) < 0.01
    assert np.linalg.norm(fitted - joints, axis=-1)[:, IDS].mean() < 0.01


def test_bone_length_space_lengthens_the_group_and_moves_what_hangs_on_it():
    rest = DEFAULT_REST_JOINTS.astype(np.float64)
    dirs = fit.bone_length_space(rest)
    thigh_group = 1
    longer = rest + dirs[..., thigh_group] * 0.2
    for hip, knee in ((1, 4), (2, 5)):
        np.testing.assert_allclose(np.linalg.norm(longer[knee] - longer[hip]),
                                   1.2 * np.linalg.norm(rest[knee] - rest[hip]))
    np.testing.assert_allclose(longer[7] - longer[4], rest[7] - rest[4])  # the shank moves, unchanged
    np.testing.assert_allclose(longer[:4], rest[:4])                       # above the knees: unchanged


@pytest.mark.parametrize("frames", [1, 2])
def test_short_tracks(frames):
    rot, trans, joints = walk(frames, seed=12)
    rot0, trans0 = perturbed(rot, trans, seed=13)
    _, fitted = run_fit(rot0, trans0, project(joints[:, IDS]), np.ones((frames, len(IDS))), None)
    assert np.linalg.norm(project(fitted[:, IDS]) - project(joints[:, IDS]), axis=-1).mean() < 2.0
