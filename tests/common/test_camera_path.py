"""A moving camera in the import (numpy): rows into the first camera's frame, the camera path."""
from __future__ import annotations

import numpy as np

from camera_paths import panned, turns
from video_to_motion.core.common import camera_path, keyframes, world
from video_to_motion.core.common.options import ImportSettings
from test_world_import import standing_motion, world_joints


def exact_settings(**extra):
    return ImportSettings(root_smoothing=0.0, rotation_smoothing=0.0, foot_lock=0.0, **extra)


def test_moved_rows_move_the_body_rigidly():
    motion = standing_motion(frames=5)
    from video_to_motion.core.worker.world import posed_joints

    r = turns(np.arange(5), pan_deg_per_frame=20.0, tilt_deg=10.0)
    t = np.arange(15, dtype=np.float64).reshape(5, 3) / 10
    moved = camera_path.moved_rows(motion, r, t)
    expected = np.einsum("nij,nkj->nki", r, posed_joints(motion)) + t[:, None]
    assert np.abs(posed_joints(moved) - expected).max() < 1e-5


def test_a_turning_camera_keeps_a_standing_person_still_in_the_world():
    still = standing_motion(frames=30)
    moving = panned(still, pan_deg_per_frame=2.0)
    assert camera_path.is_moving(moving) and not camera_path.is_moving(still)
    # In its own camera frames the person sweeps across the view ...
    assert np.ptp(moving.trans[:, 0]) > 1.0
    reference = world.import_world(still, [1], exact_settings())
    scene = world.import_world(moving, [1], exact_settings())
    # ... in the world they stand where the static camera put them.
    assert np.abs(world_joints(scene) - world_joints(reference)).max() < 1e-4
    assert scene.camera_path is not None and reference.camera_path is None
    frames, matrices = scene.camera_path
    assert list(frames) == list(moving.camera_frame_ids)
    # The camera's first key is the static camera; later keys turn with the path (about 58 degrees).
    assert np.abs(matrices[0] - reference.camera_matrix).max() < 1e-5
    forward = -matrices[:, :3, 2]
    turned = np.degrees(np.arccos(np.clip(forward[0] @ forward[-1], -1, 1)))
    assert 50 < turned < 65
    assert np.allclose(matrices[:, :3, 3], matrices[0, :3, 3], atol=1e-5)   # it turns in place


def test_a_moving_camera_without_ground_is_relative_to_its_first_frame():
    moving = panned(standing_motion(frames=10), pan_deg_per_frame=3.0)
    scene = world.import_world(moving, [1], exact_settings(ground=False))
    _, cam0 = keyframes.object_matrices(None)
    assert np.abs(scene.camera_path[1][0] - cam0).max() < 1e-5
    assert not scene.warnings
