"""BlazePose landmarks -> SMPL joint targets -> IK, on landmarks placed on a posed skeleton."""
from __future__ import annotations

import numpy as np

from video_to_motion.core.estimators.blazepose import ik, flips as landmark_flips, landmarks

from video_to_motion.core.common import rotations
from video_to_motion.core.estimators.blazepose.landmarks import LM
from video_to_motion.core.common.skeleton import DEFAULT_REST_JOINTS, forward_kinematics, global_rotations

REST = DEFAULT_REST_JOINTS



def blazepose_like(local: np.ndarray) -> np.ndarray:
    """33 landmarks [F,33,3] on the skeleton posed by `local` [F,24,3,3], hip-centred.

    Limb and torso points sit on SMPL's joints; face, hand and foot points at fixed
    offsets in their joint's frame, where BlazePose would put them.
    """
    joints = forward_kinematics(local, REST)
    glob = global_rotations(local)
    at = lambda j, offset: joints[:, j] + np.einsum("fij,j->fi", glob[:, j], offset)
    lm = np.zeros((len(local), 33, 3))
    for name, j in (("hip", 1), ("knee", 4), ("ankle", 7), ("shoulder", 16), ("elbow", 18), ("wrist", 20)):
        lm[:, LM[f"left_{name}"]] = joints[:, j]
        lm[:, LM[f"right_{name}"]] = joints[:, j + 1]
    for side, sign, s in (("left", 1, 0), ("right", -1, 1)):
        lm[:, LM[f"{side}_heel"]] = at(7 + s, [0, -0.06, -0.05])
        lm[:, LM[f"{side}_foot_index"]] = at(7 + s, [0, -0.06, 0.17])
        lm[:, LM[f"{side}_ear"]] = at(15, [sign * 0.075, 0.0, -0.01])
        lm[:, LM[f"{side}_eye"]] = at(15, [sign * 0.03, 0.0, 0.08])
        hand = REST[22 + s] - REST[20 + s]
        lm[:, LM[f"{side}_index"]] = at(20 + s, hand + [0, 0, 0.025])
        lm[:, LM[f"{side}_pinky"]] = at(20 + s, hand - [0, 0, 0.025])
    lm[:, LM["nose"]] = at(15, [0, -0.02, 0.11])
    return lm - 0.5 * (lm[:, [LM["left_hip"]]] + lm[:, [LM["right_hip"]]])


def mapped_pose(n: int, seed: int, bend: tuple[float, float] = (0.7, 1.3)) -> np.ndarray:
    """[n,24,3] local axis-angles of poses the mapping can express exactly: spine twist
    shared equally, collars still, neck = head, knees and elbows bending as hinges."""
    rng = np.random.default_rng(seed)
    aa = np.zeros((n, 24, 3))
    axis = rng.normal(size=(n, 3))
    aa[:, 0] = axis / np.linalg.norm(axis, axis=1, keepdims=True) * rng.uniform(0, np.pi, (n, 1))
    aa[:, [3, 6, 9], 1] = rng.uniform(-0.25, 0.25, (n, 1))
    aa[:, 12] = aa[:, 15] = rng.uniform(-1, 1, (n, 3)) * [0.25, 0.3, 0.15]
    aa[:, [1, 2]] = rng.uniform(-1, 1, (n, 2, 3)) * [1.0, 0.5, 0.4]
    aa[:, [4, 5], 0] = rng.uniform(*bend, (n, 2))
    aa[:, [7, 8]] = rng.uniform(-1, 1, (n, 2, 3)) * [0.4, 0.2, 0.2]
    aa[:, [16, 17]] = rng.uniform(-1, 1, (n, 2, 3)) * [0.8, 0.8, 1.0]
    aa[:, 18, 1] = -rng.uniform(*bend, n)
    aa[:, 19, 1] = rng.uniform(*bend, n)
    aa[:, [20, 21]] = rng.uniform(-1, 1, (n, 2, 3)) * [0.5, 0.3, 0.5]
    return aa


def solve_from_landmarks(lm: np.ndarray) -> np.ndarray:
    targets = landmarks.smpl_targets(lm, REST)
    return ik.solve(targets.joints, REST, sides=targets.sides, side_weights=targets.side_weights,
                    leaf_directions=targets.leaf_directions)


def angle_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Degrees between rotation matrices [...,3,3]."""
    return np.degrees(np.linalg.norm(rotations.matrix_to_axis_angle(np.swapaxes(a, -1, -2) @ b), axis=-1))


def test_bent_limbs_recover_the_pose_exactly():
    """Knees and elbows bending as hinges about SMPL's axes, no spine twist: every
    rotation is recovered, although SMPL's rest limbs are neither straight nor square to
    their hinges."""
    aa = mapped_pose(50, seed=0)
    aa[:, [3, 6, 9]] = 0.0
    local = rotations.axis_angle_to_matrix(aa)
    solved = solve_from_landmarks(blazepose_like(local))
    err = angle_between(solved, local)
    assert err.max() < 1e-4, err.max(axis=0)


def test_spine_twist_is_shared_out():
    """With the chest turned against the pelvis the torso is read from two lines only; the
    twist is shared by the spine joints and every joint still lands where it should."""
    local = rotations.axis_angle_to_matrix(mapped_pose(50, seed=0))
    solved = solve_from_landmarks(blazepose_like(local))
    err = angle_between(solved, local)
    assert err[:, [0, 3, 6, 9]].max() < 3.0, err.max(axis=0)
    assert np.median(err[:, [3, 6, 9]]) < 1.0
    chest_twist = angle_between(global_rotations(solved)[:, 0], global_rotations(solved)[:, 9])
    truth_twist = angle_between(local[:, 0], global_rotations(local)[:, 9])
    np.testing.assert_allclose(chest_twist, truth_twist, atol=3.0)
    fk = forward_kinematics(solved, REST)
    truth = forward_kinematics(local, REST)
    error = np.linalg.norm((fk - fk[:, :1]) - (truth - truth[:, :1]), axis=-1)
    assert error.max() < 0.03 and error.mean() < 0.015, (error.max(), error.mean())


def test_straight_limbs_still_reach_every_joint():
    aa = mapped_pose(30, seed=1, bend=(0.0, 0.1))
    aa[:, [3, 6, 9]] = 0.0
    local = rotations.axis_angle_to_matrix(aa)
    solved = solve_from_landmarks(blazepose_like(local))
    fk, truth = forward_kinematics(solved, REST), forward_kinematics(local, REST)
    np.testing.assert_allclose(fk - fk[:, :1], truth - truth[:, :1], atol=1e-6)


def test_camera_frame_orientation():
    """A person upright and facing the camera: SMPL's y (up) is the camera's -y and SMPL's
    z (forward) the camera's -z, i.e. the root is a half turn about x."""
    upright_facing = rotations.axis_angle_to_matrix(np.array([np.pi, 0.0, 0.0]))
    local = np.broadcast_to(np.eye(3), (1, 24, 3, 3)).copy()
    local[:, 0] = upright_facing
    lm = blazepose_like(local)
    # As BlazePose reports it: the left shoulder on the image's right, the head up (-y).
    assert lm[0, LM["left_shoulder"], 0] > lm[0, LM["right_shoulder"], 0]
    assert lm[0, LM["nose"], 1] < lm[0, LM["left_hip"], 1]
    solved = solve_from_landmarks(lm)
    assert angle_between(solved[:, 0], upright_facing).max() < 1e-6
    assert angle_between(solved[:, 1:], local[:, 1:]).max() < 1e-6


def test_head_turn_is_limited():
    local = np.broadcast_to(np.eye(3), (1, 24, 3, 3)).copy()
    local[:, 15] = rotations.axis_angle_to_matrix(np.array([0.0, 2.5, 0.0]))  # face turned 143 deg: wrong
    solved = solve_from_landmarks(blazepose_like(local))
    head_turn = angle_between(solved[:, 9], global_rotations(solved)[:, 15])
    assert abs(head_turn[0] - np.degrees(landmarks.MAX_HEAD_TURN)) < 1e-6


def turning_track(frames: int = 60) -> np.ndarray:
    """Landmarks [F,33,3] of a person upright before the camera, turning slowly about the vertical."""
    aa = np.zeros((frames, 24, 3))
    turn = rotations.axis_angle_to_matrix(np.stack([np.zeros(frames), np.linspace(0, 1.5, frames),
                                                    np.zeros(frames)], -1))
    upright = rotations.axis_angle_to_matrix(np.array([np.pi, 0.0, 0.0]))
    aa[:, 0] = rotations.matrix_to_axis_angle(upright @ turn)
    aa[:, [4, 5], 0] = 0.4
    aa[:, 18, 1], aa[:, 19, 1] = -0.5, 0.5
    return blazepose_like(rotations.axis_angle_to_matrix(aa))


def test_mirrored_reading_keeps_the_image_and_turns_the_body_round():
    lm = turning_track(5)
    other = landmark_flips.mirrored(lm)
    # Same points in the image plane (x, y), with left and right labels swapped.
    np.testing.assert_allclose(other[..., :2], lm[:, landmark_flips.SWAP, :2])
    torso, torso_other = landmark_flips.torso_frames(lm), landmark_flips.torso_frames(other)
    np.testing.assert_allclose(np.linalg.det(torso_other), 1.0, atol=1e-9)  # still a right-handed body
    # The facing direction is mirrored in depth: seen from the front it turns round, seen
    # from the side it stays (there the two readings differ in which leg is in front).
    np.testing.assert_allclose(torso_other[:, :, 2], torso[:, :, 2] * [1, 1, -1], atol=1e-9)
    assert torso[0, 2, 2] < -0.99 and torso_other[0, 2, 2] > 0.99
    np.testing.assert_allclose(landmark_flips.mirrored(other), lm, atol=1e-12)
    np.testing.assert_allclose(landmark_flips.swapped(landmark_flips.swapped(lm)), lm)


def test_short_front_back_confusions_are_undone():
    lm = turning_track(60)
    confused = np.zeros(60, bool)
    confused[[10, 11, 12, 30, 45, 46]] = True
    observed = lm.copy()
    observed[confused] = landmark_flips.mirrored(lm[confused])
    chosen = landmark_flips.choose_readings(observed, np.arange(60))
    np.testing.assert_array_equal(chosen, confused)
    # BlazePose's own reading is kept where it is consistent.
    assert not landmark_flips.choose_readings(lm, np.arange(60)).any()


def test_a_lasting_reading_is_not_overturned():
    """Half the track read the other way: nothing says which half is right, so each
    half keeps its own reading and one switch remains."""
    lm = turning_track(40)
    observed = lm.copy()
    observed[20:] = landmark_flips.mirrored(lm[20:])
    assert landmark_flips.choose_readings(observed, np.arange(40)).sum() in (0, 20)
