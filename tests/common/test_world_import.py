"""The import's world (numpy): a /2 file's camera, a /1 file's fitted floor, foot locking,
contacts, and the /2 schema's checks."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from video_to_motion.core.common import camera as cam
from video_to_motion.core.common import contacts, foot_lock, world
from video_to_motion.core.common.motion import (SCHEMA, SCHEMA_V1, Motion, MotionFormatError, read_motion,
                                                validate_arrays, write_motion)
from video_to_motion.core.common.options import ImportSettings
from video_to_motion.core.common.skeleton import DEFAULT_REST_JOINTS

FPS = 30.0


def standing_motion(frames: int = 40, drift=(0.0, 0.0, 0.0), height: float = 3.0, pitch: float = 0.4) -> Motion:
    """One person in the rest pose with arms down, standing on the floor of a known camera,
    drifting by `drift` m/frame in the world (a skating root)."""
    from video_to_motion.core.common import rotations
    from video_to_motion.core.common.skeleton import forward_kinematics

    m = cam.camera_to_world(height, pitch, 0.0)
    r_cw = m[:3, :3]
    poses = np.zeros((frames, 24, 3))
    poses[:, 16, 2], poses[:, 17, 2] = -1.2, 1.2
    local = rotations.axis_angle_to_matrix(poses)
    to_world = np.array([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]])  # SMPL y-up -> Z-up, facing -Y
    local[:, 0] = r_cw.T @ to_world
    posed = forward_kinematics(local, DEFAULT_REST_JOINTS)           # camera axes, pelvis at rest[0]
    feet_world = posed[0, (7, 8, 10, 11)] @ r_cw.T
    start = np.array([0.0, 6.0, 0.045 - feet_world[:, 2].min() + 0.0])
    pelvis_world = start + np.arange(frames)[:, None] * np.asarray(drift)
    pelvis_cam = (pelvis_world + posed[0, 0] @ r_cw.T - m[:3, 3]) @ r_cw
    trans = pelvis_cam - posed[:, 0]
    n = frames
    return Motion(estimator="test", fps=FPS, image_size=(1280, 720), focal_length=1000.0,
                  frame_ids=np.arange(n, dtype=np.int32), track_ids=np.ones(n, np.int32),
                  poses=rotations.matrix_to_axis_angle(local).reshape(n, 72).astype(np.float32),
                  betas=np.zeros((n, 10), np.float32), trans=trans.astype(np.float32),
                  rest_joints=np.broadcast_to(DEFAULT_REST_JOINTS, (n, 24, 3)).astype(np.float32),
                  bboxes=np.tile([100, 100, 200, 400], (n, 1)).astype(np.float32), scores=np.ones(n, np.float32),
                  camera_frame_ids=np.arange(n, dtype=np.int32),
                  camera_intrinsics=np.tile(cam.intrinsics(1000.0, 1280, 720), (n, 1)).astype(np.float32),
                  camera_to_world=np.tile(m, (n, 1, 1)).astype(np.float32),
                  ground_plane=np.array([0, 0, 1, 0], np.float32), contacts=np.ones((n, 2), bool),
                  calibration=json.dumps({"source": "test"}))


def world_joints(scene, k=0):
    m = scene.armature_matrices[k]
    return scene.keys[k].armature_joints() @ m[:3, :3].T + m[:3, 3]


def test_a_v2_file_places_camera_and_people_in_its_world(tmp_path):
    motion = standing_motion(height=3.0, pitch=0.4)
    back = read_motion(write_motion(tmp_path / "m.npz", motion))
    scene = world.import_world(back, [1], ImportSettings(root_smoothing=0.0, foot_lock=0.0))
    assert scene.camera_matrix[2, 3] == pytest.approx(3.0, abs=1e-5)
    forward = -scene.camera_matrix[:3, 2]
    assert np.degrees(np.arcsin(-forward[2])) == pytest.approx(np.degrees(0.4), abs=1e-3)   # looks down
    joints = world_joints(scene)
    assert joints[:, (10, 11), 2].min() == pytest.approx(0.045, abs=1e-3)                  # feet on Z = 0


def test_a_v1_file_still_imports_with_the_floor_fitted_under_the_feet(tmp_path):
    motion = standing_motion(frames=30, drift=(0.02, 0.0, 0.0))
    v1 = dataclasses.replace(motion, camera_frame_ids=None, camera_intrinsics=None, camera_to_world=None,
                             ground_plane=None, contacts=None, calibration="")
    path = write_motion(tmp_path / "v1.npz", v1)
    assert str(np.load(path)["schema"]) == SCHEMA_V1
    back = read_motion(path)
    assert not back.has_world and back.contacts is None
    scene = world.import_world(back, [1], ImportSettings(root_smoothing=0.0, foot_lock=0.0))
    assert scene.ground is not None
    assert abs(world_joints(scene)[:, (10, 11), 2].min()) < 0.05


def test_foot_lock_keeps_a_planted_ankle_in_place_and_the_legs_rigid():
    motion = standing_motion(frames=40, drift=(0.01, 0.0, 0.0))   # 0.3 m/s of skate
    free = world.import_world(motion, [1], ImportSettings(root_smoothing=0.0, foot_lock=0.0))
    locked = world.import_world(motion, [1], ImportSettings(root_smoothing=0.0, foot_lock=1.0))
    a, b = world_joints(free), world_joints(locked)
    inner = slice(foot_lock.FADE_FRAMES, 40 - foot_lock.FADE_FRAMES)
    skate_free = np.ptp(a[inner, 7, 0])
    skate_locked = np.ptp(b[inner, 7, 0])
    # Not exactly 0: the rest pose's legs are straight, so the ends of the run are out of reach.
    assert skate_free > 0.3 and skate_locked < 0.01
    np.testing.assert_allclose(b[:, 0], a[:, 0], atol=1e-9)                       # the root is not moved
    for parent, child in ((1, 4), (4, 7), (2, 5), (5, 8), (7, 10)):
        np.testing.assert_allclose(np.linalg.norm(b[:, child] - b[:, parent], axis=1),
                                   np.linalg.norm(a[:, child] - a[:, parent], axis=1), atol=1e-6)
    # The foot keeps its orientation: ankle-to-toe vectors unchanged.
    np.testing.assert_allclose(b[:, 10] - b[:, 7], a[:, 10] - a[:, 7], atol=1e-6)


def test_foot_lock_strength_blends_and_frames_beyond_the_fade_are_untouched():
    motion = standing_motion(frames=40, drift=(0.01, 0.0, 0.0))
    contacts_mask = np.zeros((40, 2), bool)
    contacts_mask[10:30] = True
    motion = dataclasses.replace(motion, contacts=contacts_mask)
    settings = ImportSettings(root_smoothing=0.0, foot_lock=0.0)
    free = world.import_world(motion, [1], settings)
    keys, arm = free.keys[0], free.armature_matrices[0]
    np.testing.assert_array_equal(world.planted(motion, keys, arm), contacts_mask)   # the file's contacts rule
    half = foot_lock.lock_feet(keys, arm, contacts_mask, 0.5)
    full = foot_lock.lock_feet(keys, arm, contacts_mask, 1.0)
    j0, jh, jf = (k.armature_joints() for k in (keys, half, full))
    fade = foot_lock.FADE_FRAMES
    np.testing.assert_allclose(jf[:10 - fade], j0[:10 - fade], atol=1e-9)
    np.testing.assert_allclose(jf[30 + fade:], j0[30 + fade:], atol=1e-9)
    # The lock eases in before the run: the frame before it is moved, not all the way.
    assert 0 < np.linalg.norm(jf[9, 7] - j0[9, 7]) < np.linalg.norm(jf[10, 7] - j0[10, 7])
    # Over the whole run, ends included, the planted ankle and toes stay put (to a few mm:
    # the straight rest legs cannot quite reach at the ends), where the free foot slides 0.2 m.
    assert np.ptp(j0[10:30, 7], axis=0).max() > 0.15
    assert np.ptp(jf[10:30, 7], axis=0).max() < 0.01 and np.ptp(jf[10:30, 10], axis=0).max() < 0.01
    mid = 20
    assert np.linalg.norm(jh[mid, 7] - (j0[mid, 7] + jf[mid, 7]) / 2) < 0.01


def test_contacts_find_a_still_foot_on_the_floor_and_not_a_raised_or_sliding_one():
    n = 30
    joints = np.zeros((n, 24, 3))
    joints[:, 7, 2], joints[:, 10, 2] = 0.10, 0.045            # left foot flat on the floor, still
    joints[:, 8, 2], joints[:, 11, 2] = 0.40, 0.35             # right foot raised
    joints[:, 8, 0] = joints[:, 11, 0] = np.arange(n) * 0.1    # and moving at 3 m/s
    found = contacts.detect(joints, np.arange(n), FPS)
    assert found[:, 0].all() and not found[:, 1].any()
    joints[:, 8, 2], joints[:, 11, 2] = 0.10, 0.045            # on the floor but sliding: not planted
    assert not contacts.detect(joints, np.arange(n), FPS)[:, 1].any()


@pytest.mark.parametrize("mutate, message", [
    (lambda a: a.pop("contacts"), "missing key(s) contacts"),
    (lambda a: a.update(camera_to_world=a["camera_to_world"] * 2), "camera_to_world must hold rigid transforms"),
    (lambda a: a.update(camera_intrinsics=a["camera_intrinsics"][:-1]), "camera_intrinsics has shape"),
    (lambda a: a.update(contacts=a["contacts"][:, :1]), "contacts has shape"),
    (lambda a: a.update(ground_plane=np.array([0, 0, 2, 0], np.float32)), "ground_plane's normal"),
    (lambda a: a["camera_to_world"].__setitem__((0, 0, 3), np.nan), "camera_to_world holds a non-finite value"),
])
def test_v2_world_fields_are_checked(mutate, message):
    arrays = standing_motion(frames=8).to_arrays()
    assert str(arrays["schema"]) == SCHEMA
    validate_arrays(arrays)
    mutate(arrays)
    with pytest.raises(MotionFormatError) as err:
        validate_arrays(arrays)
    assert message in str(err.value)


def test_select_keeps_contacts_with_their_rows():
    motion = standing_motion(frames=10)
    mask = np.zeros((10, 2), bool)
    mask[3, 1] = True
    picked = dataclasses.replace(motion, contacts=mask).select(np.array([2, 3, 4]))
    np.testing.assert_array_equal(picked.contacts, mask[2:5])


def test_contacts_grow_into_a_foot_settling_at_the_ends_but_only_briefly():
    n = 40
    joints = np.zeros((n, 24, 3))
    joints[:, 8, 2], joints[:, 11, 2] = 0.40, 0.35             # right foot raised throughout
    joints[:, 7, 2], joints[:, 10, 2] = 0.10, 0.045            # left foot flat on the floor...
    x = np.zeros(n)
    # ...still over frames 15-29; before, it settles: 12 cm high and drifting at 0.8 m/s (an
    # estimate's wobble), too high to start a contact, low and slow enough to keep one.
    joints[:15, 7, 2] += 0.12
    joints[:15, 10, 2] += 0.12
    x[:15] = (np.arange(15) - 15) / FPS * 0.8
    x[30:] = (np.arange(10) + 1) / FPS * 3.0                   # after: it swings away at 3 m/s
    joints[:, 7, 0] = joints[:, 10, 0] = x
    found = contacts.detect(joints, np.arange(n), FPS)[:, 0]
    grow = int(round(contacts.GROW_SECONDS * FPS))
    assert found[15:28].all()
    first = int(np.flatnonzero(found)[0])
    assert first < 15 and first == 15 - grow                     # grown into the settling frames, no further
    assert not found[33:].any()                                  # not into the swing
    assert not found[:15 - grow].any()


def test_image_speeds_read_a_toe_landmark_across_the_line_of_sight():
    n, focal, depth = 30, 1000.0, 10.0
    pixels = np.zeros((n, 2, 2))
    pixels[:, 0, 0] = 400 + 10.0 * np.arange(n)                 # left toe: 10 px a frame
    pixels[:, 1] = 600.0                                         # right toe: still...
    pixels[12, 1] = np.nan                                       # ...and not seen on one frame
    speeds = contacts.image_speeds(pixels, np.full((n, 2), depth), focal, np.arange(n), FPS)
    np.testing.assert_allclose(speeds[10:20, 0], 10.0 * FPS * depth / focal, rtol=1e-6)   # 3 m/s
    assert np.isnan(speeds[12, 1]) and np.nanmax(speeds[:, 1]) < 1e-9
    depths = np.full((n, 2), depth)
    depths[20, 1] = -1.0                                         # behind the camera: no reading, not "still"
    speeds = contacts.image_speeds(pixels, depths, focal, np.arange(n), FPS)
    assert np.isnan(speeds[20, 1]) and np.isfinite(speeds[19, 1])


def test_a_low_foot_still_in_the_picture_is_planted_though_its_depth_wobbles():
    n = 30
    joints = np.zeros((n, 24, 3))
    joints[:, (7, 8), 2], joints[:, (10, 11), 2] = 0.10, 0.045  # both feet on the floor...
    wobble = 0.3 * np.sin(2 * np.pi * np.arange(n) / (0.5 * FPS))   # ...the depth fit swinging 30 cm
    joints[:, (7, 8, 10, 11), 1] = wobble[:, None]
    frames = np.arange(n)
    assert contacts.detect(joints, frames, FPS)[:, 0].mean() < 0.5
    still = np.full((n, 2), 0.02)
    assert contacts.detect(joints, frames, FPS, seen_speeds=still).all()
    crossing = np.full((n, 2), 2.0)                              # the picture sees them slide: not planted
    assert contacts.detect(joints, frames, FPS, seen_speeds=crossing)[:, 0].mean() < 0.5
    unseen = np.full((n, 2), np.nan)
    np.testing.assert_array_equal(contacts.detect(joints, frames, FPS, seen_speeds=unseen),
                                  contacts.detect(joints, frames, FPS))
