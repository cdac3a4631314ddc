"""Inverse kinematics on SMPL's tree: accuracy on the generated body (real smplx), twist, continuity."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from video_to_motion.core.estimators.blazepose import ik

from video_to_motion.core.common import rotations
from video_to_motion.core.worker.body_model import create_smpl, smpl_rest_joints
from video_to_motion.core.common.skeleton import DEFAULT_REST_JOINTS, PARENTS, forward_kinematics, global_rotations
from video_to_motion.core.training.pose_prior import random_limited_poses as random_poses

def test_ik_reproduces_joints_of_the_generated_body(body_model_path):
    """Issue 6 item 2: random poses of the generated SMPL-format body, mean error < 5 mm."""
    model = create_smpl(body_model_path)
    n = 64
    rng = np.random.default_rng(1)
    betas = rng.normal(scale=1.0, size=(n, 10))
    poses = random_poses(n, seed=2)
    t = lambda a: torch.as_tensor(a, dtype=torch.float32)
    with torch.no_grad():
        out = model(betas=t(betas), global_orient=t(poses[:, :3]), body_pose=t(poses[:, 3:]),
                    transl=t(rng.normal(size=(n, 3))))
    joints = out.joints[:, :24].numpy().astype(np.float64)
    rest = smpl_rest_joints(model, betas).astype(np.float64)
    # The bodies differ (betas), so each frame is its own one-frame problem plus a batch.
    errors = []
    for f in range(n):
        rot = ik.solve(joints[f:f + 1], rest[f])
        trans = joints[f, 0] - rest[f, 0]  # the pelvis is exact: it only translates
        fk = forward_kinematics(rot, rest[f], trans[None])
        errors.append(np.linalg.norm(fk[0] - joints[f], axis=-1))
    errors = np.array(errors)
    assert errors.mean() < 0.005, f"mean joint error {errors.mean() * 1000:.2f} mm"
    assert errors.max() < 0.01, f"max joint error {errors.max() * 1000:.2f} mm"


def test_side_vectors_fix_every_twist():
    """With true side vectors (and leaf directions) the IK recovers the rotations themselves."""
    poses = random_poses(40, seed=3)
    local = rotations.axis_angle_to_matrix(poses.reshape(-1, 24, 3))
    glob = global_rotations(local)
    joints = forward_kinematics(local, DEFAULT_REST_JOINTS)
    axes = ik._rest_side_axes(DEFAULT_REST_JOINTS, ik.SIDE_AXES)
    sides = np.einsum("fjab,jb->fja", glob, axes)
    leaf = np.einsum("fjab,jb->fja", glob, ik.LEAF_AXES)
    leaf[:, [10, 11, 22, 23]] = np.nan  # only the head has a pointing direction here
    solved = ik.solve(joints, DEFAULT_REST_JOINTS, sides=sides, leaf_directions=leaf)
    err = np.degrees(np.linalg.norm(rotations.matrix_to_axis_angle(np.swapaxes(solved, -1, -2) @ local), axis=-1))
    twisted_leaves = [10, 11, 22, 23]
    others = [j for j in range(24) if j not in twisted_leaves]
    assert err[:, others].max() < 1e-4, err[:, others].max(axis=0)
    # Leaves without data keep the parent's orientation.
    np.testing.assert_allclose(solved[:, twisted_leaves], np.broadcast_to(np.eye(3), solved[:, twisted_leaves].shape),
                               atol=1e-9)


def test_without_sides_the_twist_is_the_minimal_swing():
    """No side vector: a single-child joint's local rotation has no twist about its bone."""
    poses = random_poses(20, seed=4)
    local = rotations.axis_angle_to_matrix(poses.reshape(-1, 24, 3))
    joints = forward_kinematics(local, DEFAULT_REST_JOINTS)
    solved = ik.solve(joints, DEFAULT_REST_JOINTS)
    for j in (4, 5, 18, 19):  # knees, elbows: one child each
        bone = DEFAULT_REST_JOINTS[ik.CHILDREN[j][0]] - DEFAULT_REST_JOINTS[j]
        aa = rotations.matrix_to_axis_angle(solved[:, j])
        # The minimal rotation's axis is perpendicular to the rest bone.
        np.testing.assert_allclose(aa @ ik.unit(bone), 0.0, atol=1e-9)


def test_bone_directions_are_kept_when_lengths_differ():
    """Targets from another body: bones point where the targets point, with rest lengths."""
    poses = random_poses(10, seed=5)
    local = rotations.axis_angle_to_matrix(poses.reshape(-1, 24, 3))
    other_body = DEFAULT_REST_JOINTS * np.array([1.2, 0.9, 1.1])
    joints = forward_kinematics(local, other_body)
    solved = ik.solve(joints, DEFAULT_REST_JOINTS)
    fk = forward_kinematics(solved, DEFAULT_REST_JOINTS)
    for j in range(1, 24):
        if len(ik.CHILDREN[int(PARENTS[j])]) > 1:
            continue  # multi-child joints are a best fit, not exact, when proportions differ
        p = PARENTS[j]
        np.testing.assert_allclose(ik.unit(fk[:, j] - fk[:, p]), ik.unit(joints[:, j] - joints[:, p]), atol=1e-9)
        np.testing.assert_allclose(np.linalg.norm(fk[:, j] - fk[:, p], axis=-1),
                                   np.linalg.norm(DEFAULT_REST_JOINTS[j] - DEFAULT_REST_JOINTS[p]), atol=1e-9)


def _max_step_degrees(rotmats: np.ndarray) -> np.ndarray:
    """Largest rotation between consecutive frames, per joint: [F,24,3,3] -> [24] degrees."""
    rel = np.swapaxes(rotmats[:-1], -1, -2) @ rotmats[1:]
    return np.degrees(np.linalg.norm(rotations.matrix_to_axis_angle(rel), axis=-1)).max(axis=0)


def test_smooth_motion_gives_smooth_rotations():
    """A slow motion sweeping the arm straight across the body (through the swing's
    singular direction) yields rotations without flips."""
    frames = 240
    t = np.linspace(0.0, 1.0, frames)
    aa = np.zeros((frames, 24, 3))
    aa[:, 0] = np.stack([0.3 * np.sin(2 * np.pi * t), 2 * np.pi * t, 0 * t], -1)  # a full turn of the body
    aa[:, 16, 1] = -np.pi * t * 0.999  # left arm from sideways to pointing across the body
    aa[:, 16, 2] = 0.05
    aa[:, 18, 1] = 0.8 * np.sin(np.pi * t)
    aa[:, 4, 0] = 1.2 * np.sin(np.pi * t) ** 2
    local = rotations.axis_angle_to_matrix(aa)
    joints = forward_kinematics(local, DEFAULT_REST_JOINTS)
    solved = ik.solve(joints, DEFAULT_REST_JOINTS)
    truth_step = _max_step_degrees(local)
    step = _max_step_degrees(solved)
    assert step.max() < 10.0, f"largest step {step.max():.1f} deg at joint {step.argmax()} (truth {truth_step.max():.1f})"
    np.testing.assert_allclose(forward_kinematics(solved, DEFAULT_REST_JOINTS), joints, atol=1e-9)


def test_partial_side_weight_twists_part_way_and_stays_continuous():
    rest = DEFAULT_REST_JOINTS
    frames = 100
    joints = np.broadcast_to(rest, (frames, 24, 3)).copy()
    # Left upper arm stays put; its side vector turns a full circle about the bone.
    bone = ik.unit(rest[18] - rest[16])
    axes = ik._rest_side_axes(rest, ik.SIDE_AXES)
    angles = np.linspace(0, 2 * np.pi, frames)
    sides = np.full((frames, 24, 3), np.nan)
    sides[:, 16] = np.einsum("fij,j->fi", ik.axis_rotation(np.broadcast_to(bone, (frames, 3)), angles), axes[16])
    weights = np.zeros((frames, 24))
    weights[:, 16] = 0.5
    solved = ik.solve(joints, rest, sides=sides, side_weights=weights)
    twist = rotations.matrix_to_axis_angle(solved[:, 16]) @ bone
    # Half the side's angle, unwrapped: reaches pi without jumping back.
    np.testing.assert_allclose(np.unwrap(twist), 0.5 * angles, atol=1e-6)
    assert _max_step_degrees(solved)[16] < 2.0


@pytest.mark.parametrize("frames", [1, 3])
def test_shapes_and_rest_broadcast(frames):
    joints = np.broadcast_to(DEFAULT_REST_JOINTS, (frames, 24, 3))
    solved = ik.solve(joints, DEFAULT_REST_JOINTS)
    assert solved.shape == (frames, 24, 3, 3)
    np.testing.assert_allclose(solved, np.broadcast_to(np.eye(3), solved.shape), atol=1e-9)
