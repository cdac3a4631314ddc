"""Numpy side of the import: keys, gaps, track choice, frame rates, smoothing, floor, AMASS."""
from __future__ import annotations

import numpy as np
import pytest

from video_to_motion.core.common import rotations
from video_to_motion.core.common.ground import GroundError, contact_points, fit_floor, floor_transform
from video_to_motion.core.common.motion import MotionFormatError
from video_to_motion.core.common.keyframes import (CAMERA_TO_ARMATURE, CAMERA_TO_BLENDER, amass_arrays, blender_fps, camera_lens_mm, object_matrices,
                           select_tracks, track_keys)
from video_to_motion.core.common.skeleton import PARENTS, forward_kinematics
from video_to_motion.core.common.smoothing import OneEuro, smooth_positions, smooth_quaternions
from motions import random_motion, smplx_joints


def blender_heads(keys):
    """Pose-bone heads in armature space, done the long way as Blender poses our rig:
    pose = parent_pose @ (parent_rest^-1 @ rest) @ T(location) @ R, rest = T(head)."""
    rot = rotations.quaternion_to_matrix(keys.quats)
    rest = keys.rest_joints
    pose = np.zeros(keys.quats.shape[:2] + (4, 4))
    for j in range(24):
        basis = np.zeros(pose.shape[:1] + (4, 4))
        basis[:, :3, :3] = rot[:, j]
        basis[:, :3, 3] = keys.locations[:, j]
        basis[:, 3, 3] = 1
        local = np.eye(4)
        p = PARENTS[j]
        local[:3, 3] = rest[j] - (rest[p] if p >= 0 else 0)
        pose[:, j] = (pose[:, p] if p >= 0 else np.eye(4)) @ local @ basis
    return pose[:, :, :3, 3]


def camera_heads(keys):
    return blender_heads(keys) @ CAMERA_TO_ARMATURE.T


def test_keys_put_every_joint_where_smplx_does(body_model_path):
    motion, reference = random_motion(body_model_path)
    for track in (1, 2):
        keys = track_keys(motion, track)
        rows = motion.rows_of_track(track)
        assert keys.observed.all() and np.array_equal(keys.frames, motion.frame_ids[rows])
        np.testing.assert_allclose(camera_heads(keys), reference[rows], atol=1e-5)
        np.testing.assert_allclose(keys.armature_joints(), blender_heads(keys), atol=1e-9)
        # A constant shape needs no location keys below the pelvis; a varying one does.
        assert keys.animated_locations[1:].any() == (track == 2)
        dots = np.sum(keys.quats[1:] * keys.quats[:-1], axis=-1)
        assert (dots >= 0).all(), "quaternions must keep sign continuity"


def test_short_gaps_are_filled_long_gaps_get_no_keys(body_model_path):
    frames = np.r_[0:10, 12:20, 40:50]  # a 2-frame gap, then a 20-frame gap
    motion, reference = random_motion(body_model_path, tracks={5: frames}, varying_betas=())
    keys = track_keys(motion, 5, max_gap=3)
    np.testing.assert_array_equal(keys.frames, np.r_[0:20, 40:50])
    np.testing.assert_array_equal(keys.observed, np.isin(keys.frames, frames))
    assert keys.hold.nonzero()[0].tolist() == [19], "the last key before the long gap holds"
    # Interpolated frames lie between their neighbours: no jump to the origin.
    pelvis = keys.armature_joints()[:, 0]
    assert np.linalg.norm(pelvis[10] - pelvis[9]) < 0.2 and np.linalg.norm(pelvis, axis=1).min() > 1.0
    observed = keys.observed
    np.testing.assert_allclose(camera_heads(keys)[observed], reference, atol=1e-5)


def test_track_choice(body_model_path):
    motion, _ = random_motion(body_model_path, tracks={3: np.arange(10), 7: np.arange(25)}, varying_betas=())
    assert select_tracks(motion, "all") == [3, 7]
    assert select_tracks(motion, "largest") == [7]  # on screen for longest
    assert select_tracks(motion, 3) == [3] and select_tracks(motion, "3") == [3]
    with pytest.raises(MotionFormatError, match=r"track 4 is not in the motion; its tracks are \[3, 7\]"):
        select_tracks(motion, 4)
    with pytest.raises(ValueError, match="largest"):
        select_tracks(motion, "biggest")


@pytest.mark.parametrize("fps, expected", [(25, (25, 1.0)), (29.97002997, (30, 1.001)), (23.976, (24, 1.001)),
                                           (59.94, (60, 1.001)), (12.5, (13, 13 / 12.5))])
def test_blender_frame_rates(fps, expected):
    whole, base = blender_fps(fps)
    assert (whole, pytest.approx(base)) == expected
    assert whole / base == pytest.approx(fps, rel=2e-4)


def test_camera_and_armature_matrices():
    arm, cam = object_matrices()
    np.testing.assert_allclose(arm[:3, :3] @ [0, 1, 0], [0, 0, 1])  # SMPL up is world up
    np.testing.assert_allclose(arm[:3, :3] @ [0, 0, 1], [0, -1, 0])  # rest body faces the camera
    np.testing.assert_allclose(arm[:3, :3] @ CAMERA_TO_ARMATURE, CAMERA_TO_BLENDER)
    np.testing.assert_allclose(cam[:3, :3] @ [0, 0, -1], [0, 1, 0])  # Blender camera looks along +Y
    np.testing.assert_allclose(cam[:3, :3] @ [0, 1, 0], [0, 0, 1])
    assert camera_lens_mm(1000, 1920, 1080) == pytest.approx(1000 * 36 / 1920)


def noisy(fps, seconds=4.0, seed=0):
    """A swaying, drifting root (up to 1 m/s) with 2 cm of jitter."""
    t = np.arange(int(seconds * fps)) / fps
    clean = np.stack([0.3 * np.sin(2 * np.pi * 0.5 * t), 0.5 * t, np.zeros_like(t)], axis=1)
    return clean, clean + np.random.default_rng(seed).normal(scale=0.02, size=clean.shape)


def test_smoothing_removes_jitter_without_lag_at_any_frame_rate():
    settings = OneEuro.from_strength(0.5)
    errors = {}
    for fps in (24.0, 60.0):
        clean, x = noisy(fps)
        y = smooth_positions(x, fps, settings)
        errors[fps] = np.sqrt(np.mean((y - clean) ** 2))
        assert errors[fps] < 0.6 * np.sqrt(np.mean((x - clean) ** 2))
        assert abs(np.mean(y[:, 1] - clean[:, 1])) < 0.004, "zero phase: a ramp must not lag"
    assert 0.5 < errors[24.0] / errors[60.0] < 2.5, errors
    assert OneEuro.from_strength(0) is None
    assert OneEuro.from_strength(1).min_cutoff < OneEuro.from_strength(0.2).min_cutoff
    with pytest.raises(ValueError, match="between 0 and 1"):
        OneEuro.from_strength(2)


def test_quaternion_smoothing_keeps_unit_length_across_sign_flips():
    rng = np.random.default_rng(1)
    aa = np.linspace(0, 1, 50)[:, None, None] * np.array([0, 0, 3.0]) + rng.normal(scale=0.02, size=(50, 2, 3))
    q = rotations.axis_angle_to_quaternion(aa)
    q[::2] *= -1
    out = smooth_quaternions(q, 30.0, OneEuro.from_strength(0.5))
    np.testing.assert_allclose(np.linalg.norm(out, axis=-1), 1.0, atol=1e-12)
    angle = 2 * np.arccos(np.clip(np.abs(np.sum(out * rotations.axis_angle_to_quaternion(aa), -1)), 0, 1))
    assert angle.max() < 0.1


def walking_feet(normal, height, fps=30.0, frames=120):
    """Joints whose feet step on the plane normal.p = height, walking in a circle."""
    rng = np.random.default_rng(0)
    t = np.arange(frames) / fps
    centre = np.stack([1.5 * np.cos(t), 4 + 1.5 * np.sin(t), np.zeros_like(t)], 1)
    joints = np.repeat(centre[:, None], 24, axis=1) + [0, 0, 1.0]
    u = np.cross(normal, [1.0, 0, 0])
    u /= np.linalg.norm(u)
    for k, foot in enumerate((10, 11)):
        planted = (np.floor(t * 2) % 2) == k
        lift = np.where(planted, 0.0, 0.15)
        p = centre - centre @ np.outer(normal, normal) + normal * height + normal * lift[:, None]
        # Planted feet stay put within a step: snap them to the step's start.
        step = np.floor(t * 2).astype(int)
        first = np.searchsorted(step, step)
        p[planted] = p[first[planted]]
        joints[:, foot] = p + rng.normal(scale=0.003, size=p.shape) + 0.2 * (k - 0.5) * u
        if foot == 10:
            planted_left = planted
    return joints, planted_left


def test_floor_fit_on_a_tilted_camera():
    normal = np.array([0.0, -0.2, 1.0])
    normal /= np.linalg.norm(normal)
    joints, planted = walking_feet(normal, -1.2)
    floor = fit_floor(contact_points(joints, 30.0))
    assert np.degrees(np.arccos(floor.normal @ normal)) < 1.0
    g = floor_transform(floor, joint_height=0.0)
    np.testing.assert_allclose(g[:3, :3] @ g[:3, :3].T, np.eye(3), atol=1e-12)
    feet = joints[:, 10] @ g[:3, :3].T + g[:3, 3]
    assert np.abs(feet[planted, 2]).max() < 0.015
    assert feet[~planted, 2].min() > 0.1


def test_floor_of_a_person_standing_still_is_level():
    joints = np.zeros((60, 24, 3))
    joints[:, 10] = [0.1, 4, -1.3]
    joints[:, 11] = [-0.1, 4, -1.31]
    floor = fit_floor(contact_points(joints + np.random.default_rng(0).normal(scale=0.002, size=joints.shape), 30))
    np.testing.assert_allclose(floor.normal, [0, 0, 1])
    assert floor.offset == pytest.approx(-1.31, abs=0.01)
    with pytest.raises(GroundError, match="at least 3"):
        fit_floor(np.zeros((2, 3)))


def test_amass_arrays_reproduce_the_armature_in_its_world(body_model_path):
    from video_to_motion.core.worker.body_model import create_smpl

    motion, _ = random_motion(body_model_path, tracks={1: np.arange(8)}, varying_betas=())
    keys = track_keys(motion, 1)
    ground = np.eye(4)
    ground[:3, :3] = rotations.axis_angle_to_matrix(np.array([0.1, -0.05, 0.3]))
    ground[:3, 3] = [0.2, -0.1, 1.1]
    arm, _ = object_matrices(ground)
    poses, trans = amass_arrays(keys.quats, keys.locations[:, 0], keys.rest_joints, arm)
    betas = np.repeat(keys.betas[None], len(poses), 0)
    joints = smplx_joints(create_smpl(body_model_path), betas, poses, trans)
    world = blender_heads(keys) @ arm[:3, :3].T + arm[:3, 3]
    np.testing.assert_allclose(joints, world, atol=1e-5)
    assert CAMERA_TO_BLENDER.shape == (3, 3)


def test_posed_joints_match_forward_kinematics(body_model_path):
    motion, reference = random_motion(body_model_path, tracks={1: np.arange(5)}, varying_betas=(1,))
    keys = track_keys(motion, 1)
    np.testing.assert_allclose(keys.camera_joints(), reference, atol=1e-5)
    fk = forward_kinematics(rotations.axis_angle_to_matrix(motion.poses.reshape(-1, 24, 3)), motion.rest_joints,
                            motion.trans)
    np.testing.assert_allclose(fk, reference, atol=1e-5)
