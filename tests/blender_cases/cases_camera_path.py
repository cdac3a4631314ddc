"""A moving camera into real bpy: the camera keyed along its path, the people still in the
world, the overlay lined up (a joint projects through the keyed camera where its own
camera frame puts it)."""
from __future__ import annotations

import numpy as np

import bpy

from blender_cases.common import armatures_by_track, snapshot, world_heads
from camera_paths import panned, turns, with_static_world
from motions import random_motion
from video_to_motion.core.common.motion import write_motion


def moving_motion(ctx):
    motion, reference = random_motion(ctx.body_model, tracks={1: np.arange(0, 24)}, seed=7, varying_betas=())
    return panned(with_static_world(motion), pan_deg_per_frame=2.0), reference


def options(ctx, **extra):
    return ctx.module("addon.importer").ImportOptions(root_smoothing=0.0, rotation_smoothing=0.0, foot_lock=0.0,
                                                      **extra)


def pixels(camera, points: np.ndarray) -> np.ndarray:
    """[K, 2] pixels of world points through a Blender camera at the current frame."""
    scene = bpy.context.scene
    m = np.array(camera.matrix_world)
    local = (points - m[:3, 3]) @ m[:3, :3]                       # Blender camera axes: -Z forward, +Y up
    w, h = scene.render.resolution_x, scene.render.resolution_y
    focal = camera.data.lens * max(w, h) / camera.data.sensor_width
    return np.stack([focal * local[:, 0] / -local[:, 2] + w / 2, -focal * local[:, 1] / -local[:, 2] + h / 2], 1)


def case_the_camera_follows_its_path_and_the_overlay_lines_up(ctx):
    motion, reference = moving_motion(ctx)
    importer = ctx.module("addon.importer")
    animation = ctx.module("addon.animation")
    result = importer.import_motion(bpy.context, write_motion(ctx.tmp / "pan.npz", motion), options(ctx))
    camera = result.camera
    curves = animation.action_fcurves(camera.animation_data.action, camera)
    paths = sorted({c.data_path for c in curves})
    assert paths == ["location", "rotation_quaternion"], paths
    assert all(len(c.keyframe_points) == len(motion.camera_frame_ids) for c in curves)
    obj = armatures_by_track(result.armatures)[1]
    focal, (w, h) = motion.focal_length, motion.image_size
    forwards = []
    for frame in (0, 11, 23):
        heads = world_heads(obj, frame + 1)
        forwards.append(-np.array(camera.matrix_world)[:3, 2])
        seen = pixels(camera, heads)
        row = int(np.flatnonzero(motion.frame_ids == frame)[0])
        # The joints in that frame's turned camera (smplx's, turned): where the footage shows them.
        cam = reference[row] @ turns(np.array([frame]), pan_deg_per_frame=2.0)[0].T
        expected = focal * cam[:, :2] / cam[:, 2:] + [w / 2, h / 2]
        err = np.abs(seen - expected).max()
        assert err < 0.5, (frame, err)
    turned = np.degrees(np.arccos(np.clip(forwards[0] @ forwards[-1], -1, 1)))
    assert 40 < turned < 52, turned


def case_a_failed_moving_camera_import_leaves_the_scene_as_it_was(ctx):
    motion, _ = moving_motion(ctx)
    importer = ctx.module("addon.importer")
    before = snapshot()
    real = importer.key_camera_path

    def broken(*args, **kwargs):
        real(*args, **kwargs)
        raise RuntimeError("disk full")

    importer.key_camera_path = broken
    try:
        importer.import_motion(bpy.context, write_motion(ctx.tmp / "fail.npz", motion), options(ctx))
    except importer.ImportFailed as exc:
        assert "undone" in str(exc)
    else:
        raise AssertionError("the import did not fail")
    finally:
        importer.key_camera_path = real
    assert snapshot() == before
