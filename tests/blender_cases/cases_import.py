"""Import into real bpy: the exactness contract, names, frame rate, gaps, bad input, rollback."""
from __future__ import annotations

import numpy as np

import bpy

from blender_cases.common import (JOINTS, armatures_by_track, camera_to_world, populate_user_scene, snapshot,
                                  world_heads)
from video_to_motion.core.common.motion import write_motion
from motions import random_motion


def exact_options(ext, **extra):
    return ext.addon.importer.ImportOptions(root_smoothing=0.0, ground=False, **extra)


def check_exact(motion, reference, result, tol=1e-3):
    worst = 0.0
    by_track = armatures_by_track(result.armatures)
    assert sorted(by_track) == motion.track_list()
    for track, obj in by_track.items():
        rows = motion.rows_of_track(track)
        for row in rows:
            frame = int(motion.frame_ids[row]) + 1
            err = np.abs(world_heads(obj, frame) - camera_to_world(reference[row])).max()
            worst = max(worst, err)
    assert worst < tol, f"worst joint error {worst * 1000:.3f} mm"
    return worst


def case_exactness_two_tracks_random_betas(ctx):
    """With smoothing and ground off, every bone head equals smplx's joint (1 mm)."""
    tracks = {1: np.arange(3, 23), 2: np.arange(15, 31)}  # different frame ranges; track 2 varies its shape
    motion, reference = random_motion(ctx.body_model, tracks=tracks, seed=3, fps=25.0)
    path = write_motion(ctx.tmp / "m.npz", motion)
    importer = ctx.module("addon.importer")
    result = importer.import_motion(bpy.context, path, exact_options(ctx.ext, camera=False))
    worst = check_exact(motion, reference, result)
    assert worst < 1e-4, worst  # in practice float32 rounding only
    for obj in result.armatures:
        assert sorted(b.name for b in obj.data.bones) == sorted(JOINTS)
        assert isinstance(obj["vtm_track_id"], int)
        rows = motion.rows_of_track(obj["vtm_track_id"])
        heads = np.array([obj.data.bones[n].head_local for n in JOINTS])
        np.testing.assert_allclose(heads, motion.rest_joints[rows].mean(0), atol=1e-6)
        for b in obj.data.bones:  # rest matrices aligned with the armature's axes
            np.testing.assert_allclose(np.array(b.matrix_local)[:3, :3], np.eye(3), atol=1e-6)
    scene = bpy.context.scene
    assert (scene.render.fps, scene.render.fps_base) == (25, 1.0)
    assert (scene.frame_start, scene.frame_end) == (4, 31)


def case_keys_are_linear_and_sign_continuous(ctx):
    motion, _ = random_motion(ctx.body_model, tracks={4: np.arange(0, 40)}, seed=5, pose_scale=1.2)
    importer = ctx.module("addon.importer")
    animation = ctx.module("addon.animation")
    result = importer.import_motion(bpy.context, motion_file(ctx, motion), exact_options(ctx.ext))
    obj = result.armatures[0]
    curves = animation.action_fcurves(obj.animation_data.action, obj)
    quats = {}
    for fc in curves:
        assert all(k.interpolation == "LINEAR" for k in fc.keyframe_points)
        frames, values = animation.read_curve(fc)
        np.testing.assert_array_equal(frames, np.arange(1, 41))
        if fc.data_path.endswith("rotation_quaternion"):
            quats.setdefault(fc.data_path, [None] * 4)[fc.array_index] = values
    assert len(quats) == 24
    for comps in quats.values():
        q = np.stack(comps, 1)
        assert (np.sum(q[1:] * q[:-1], 1) >= 0).all()
    # Constant shape: only the pelvis moves by location.
    located = {fc.data_path for fc in curves if fc.data_path.endswith(".location")}
    assert located == {'pose.bones["pelvis"].location'}


def motion_file(ctx, motion, name="clip.npz"):
    return write_motion(ctx.tmp / name, motion)


def case_ntsc_frame_rate_and_video_frame_offset(ctx):
    motion, reference = random_motion(ctx.body_model, tracks={1: np.arange(100, 106)}, fps=30000 / 1001)
    importer = ctx.module("addon.importer")
    result = importer.import_motion(bpy.context, motion_file(ctx, motion), exact_options(ctx.ext))
    scene = bpy.context.scene
    assert scene.render.fps == 30 and abs(scene.render.fps_base - 1.001) < 1e-6
    assert (scene.frame_start, scene.frame_end) == (101, 106)
    check_exact(motion, reference, result)


def case_long_gaps_hold_short_gaps_interpolate(ctx):
    frames = np.r_[0:10, 12:20, 50:60]
    motion, reference = random_motion(ctx.body_model, tracks={1: frames}, fps=30.0, varying_betas=())
    importer = ctx.module("addon.importer")
    animation = ctx.module("addon.animation")
    result = importer.import_motion(bpy.context, motion_file(ctx, motion), exact_options(ctx.ext))
    obj = result.armatures[0]
    fc = [c for c in animation.action_fcurves(obj.animation_data.action, obj)
          if c.data_path == 'pose.bones["pelvis"].location' and c.array_index == 0][0]
    keyed, _ = animation.read_curve(fc)
    np.testing.assert_array_equal(keyed, np.r_[1:21, 51:61])
    assert fc.keyframe_points[19].interpolation == "CONSTANT"  # frame 20: holds across the gap
    held = world_heads(obj, 20)
    np.testing.assert_allclose(world_heads(obj, 35), held, atol=1e-6)  # no slide, no jump to the origin
    assert np.linalg.norm(held[0]) > 1.0
    check_exact(motion, reference, result)


def case_names_in_use_are_never_touched(ctx):
    populate_user_scene()
    user_obj = bpy.data.objects["clip track 1"]
    before = snapshot()
    motion, _ = random_motion(ctx.body_model, tracks={1: np.arange(5)})
    importer = ctx.module("addon.importer")
    result = importer.import_motion(bpy.context, motion_file(ctx, motion), exact_options(ctx.ext, camera=True))
    arm = result.armatures[0]
    assert arm.name == "clip track 1.001" and arm.animation_data.action.name == "clip track 1.001"
    assert bpy.data.objects["clip track 1"] is user_obj and user_obj.type == "MESH"
    assert tuple(user_obj.location) == (1.0, 2.0, 3.0) and user_obj.animation_data is None
    animation = ctx.module("addon.animation")
    assert not animation.action_fcurves(bpy.data.actions["clip track 1"])
    after = snapshot()
    for kind in ("objects", "actions", "armatures"):
        assert set(before[kind]) <= set(after[kind]), kind
    assert bpy.data.objects["user empty"].select_get(), "the user's selection stays"


def case_bad_motion_files_change_nothing(ctx):
    populate_user_scene()
    before = snapshot()
    importer = ctx.module("addon.importer")
    motion_mod = ctx.module("core.common.motion")
    bad_text = ctx.tmp / "text.npz"
    bad_text.write_text("not a zip")
    motion, _ = random_motion(ctx.body_model, tracks={1: np.arange(4)})
    arrays = motion.to_arrays()
    arrays["poses"] = arrays["poses"][:, :70]
    bad_shape = ctx.tmp / "shape.npz"
    np.savez(bad_shape, **arrays)
    cases = [(ctx.tmp / "missing.npz", FileNotFoundError, "does not exist"),
             (bad_text, motion_mod.MotionFormatError, "not a readable .npz"),
             (bad_shape, motion_mod.MotionFormatError, "poses has shape [4, 70]")]
    for path, kind, words in cases:
        try:
            importer.import_motion(bpy.context, path)
        except kind as exc:
            assert words in str(exc), str(exc)
        else:
            raise AssertionError(f"{path.name} imported")
        assert snapshot() == before
    try:
        importer.import_motion(bpy.context, motion_file(ctx, motion), importer.ImportOptions(people="9"))
    except motion_mod.MotionFormatError as exc:
        assert "track 9 is not in the motion" in str(exc)
    else:
        raise AssertionError("a missing track imported")
    assert snapshot() == before


def case_failure_part_way_rolls_everything_back(ctx):
    populate_user_scene()
    bpy.context.scene.render.fps = 50
    before = snapshot()
    importer = ctx.module("addon.importer")
    motion, _ = random_motion(ctx.body_model, tracks={1: np.arange(4), 2: np.arange(6)})
    original = importer.build_camera

    def broken_camera(*args, **kwargs):
        original(*args, **kwargs)
        raise RuntimeError("simulated failure after the armatures and the camera exist")

    importer.build_camera = broken_camera
    try:
        importer.import_motion(bpy.context, motion_file(ctx, motion), importer.ImportOptions())
    except importer.ImportFailed as exc:
        assert "simulated failure" in str(exc) and "undone" in str(exc)
    else:
        raise AssertionError("the import should have failed")
    finally:
        importer.build_camera = original
    assert snapshot() == before
    assert bpy.context.scene.render.fps == 50


def _view(scene, cam, points):
    from bpy_extras.object_utils import world_to_camera_view
    from mathutils import Vector

    return np.array([tuple(world_to_camera_view(scene, cam, Vector(tuple(p)))) for p in points])


def case_camera_overlays_the_video(ctx):
    """Joints seen through the Blender camera land on the pixels the motion's pinhole puts them."""
    motion, reference = random_motion(ctx.body_model, tracks={1: np.arange(4)}, size=(1280, 720))
    importer = ctx.module("addon.importer")
    from blender_cases.common import write_video

    video = write_video(ctx.tmp / "clip.mp4", frames=6, size=(1280, 720))
    result = importer.import_motion(bpy.context, motion_file(ctx, motion), exact_options(ctx.ext, video=str(video)))
    scene, cam = bpy.context.scene, result.camera
    assert scene.camera == cam and cam.data.show_background_images
    clip = cam.data.background_images[0].clip
    assert clip.frame_start == 1 and tuple(clip.size) == (1280, 720)
    assert (scene.render.resolution_x, scene.render.resolution_y) == (1280, 720)
    w, h = motion.image_size
    for row in range(4):
        heads = world_heads(result.armatures[0], int(motion.frame_ids[row]) + 1)
        seen = _view(scene, cam, heads)
        x, y, z = reference[row].T
        u = motion.focal_length * x / z + w / 2
        v = motion.focal_length * y / z + h / 2
        np.testing.assert_allclose(seen[:, 0] * w, u, atol=0.05)
        np.testing.assert_allclose((1 - seen[:, 1]) * h, v, atol=0.05)
        np.testing.assert_allclose(seen[:, 2], z, atol=1e-4)  # depth along the view axis


def case_ground_moves_armatures_and_camera_together(ctx):
    motion, reference = random_motion(ctx.body_model, tracks={1: np.arange(20), 2: np.arange(5, 25)})
    importer = ctx.module("addon.importer")
    path = motion_file(ctx, motion)
    off = importer.import_motion(bpy.context, path, exact_options(ctx.ext))
    cam_off = np.array(off.camera.matrix_world)
    heads_off = world_heads(off.armatures[0], 5)
    view_off = _view(bpy.context.scene, off.camera, heads_off)
    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    # Foot locking off: this case is about the one rigid transform of the floor.
    on = importer.import_motion(bpy.context, path, importer.ImportOptions(root_smoothing=0.0, ground=True,
                                                                          foot_lock=0.0))
    g = on.ground
    assert g is not None and not np.allclose(g, np.eye(4))
    np.testing.assert_allclose(g[:3, :3] @ g[:3, :3].T, np.eye(3), atol=1e-9)
    np.testing.assert_allclose(np.array(on.camera.matrix_world), g @ cam_off, atol=1e-5)
    heads_on = world_heads(on.armatures[0], 5)
    np.testing.assert_allclose(heads_on, heads_off @ g[:3, :3].T + g[:3, 3], atol=1e-4)
    np.testing.assert_allclose(_view(bpy.context.scene, on.camera, heads_on), view_off, atol=1e-5)
    for arm in on.armatures:  # one transform for all
        np.testing.assert_allclose(np.array(arm.matrix_world), np.array(on.armatures[0].matrix_world))


def case_smoothing_changes_only_the_root_path(ctx):
    motion, _ = random_motion(ctx.body_model, tracks={1: np.arange(30)})
    importer = ctx.module("addon.importer")
    path = motion_file(ctx, motion)
    raw = importer.import_motion(bpy.context, path, exact_options(ctx.ext))
    pelvis_raw = np.stack([world_heads(raw.armatures[0], f)[0] for f in range(1, 31)])
    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    smooth = importer.import_motion(bpy.context, path, importer.ImportOptions(root_smoothing=0.8, ground=False))
    pelvis = np.stack([world_heads(smooth.armatures[0], f)[0] for f in range(1, 31)])
    jerk = lambda p: np.abs(np.diff(p, 2, axis=0)).mean()
    assert jerk(pelvis) < 0.6 * jerk(pelvis_raw)
    assert np.abs(pelvis - pelvis_raw).max() < 0.05


def case_body_mesh_is_skinned_like_smpl(ctx):
    """The mesh from core.worker.smpl_mesh deforms like SMPL's LBS (pose correctives off), within 1 mm."""
    from video_to_motion.core.worker.smpl_mesh import write_mesh_file
    from smpl_numpy import NumpySMPL

    mesh_file = write_mesh_file(ctx.body_model, ctx.tmp / "mesh.npz")
    motion, _ = random_motion(ctx.body_model, tracks={1: np.arange(3), 2: np.arange(1, 4)}, varying_betas=())
    importer = ctx.module("addon.importer")
    result = importer.import_motion(bpy.context, motion_file(ctx, motion),
                                    exact_options(ctx.ext, mesh_file=str(mesh_file)))
    assert len(result.meshes) == 2
    model = NumpySMPL(ctx.body_model)
    depsgraph = bpy.context.evaluated_depsgraph_get()
    for body in result.meshes:
        arm = body.parent
        assert arm in result.armatures and body.modifiers[0].object == arm
        assert len(body.data.vertices) == 6890 and len(body.vertex_groups) == 24
        track = int(body["vtm_track_id"])
        rows = motion.rows_of_track(track)
        betas = np.repeat(motion.betas[rows].mean(0, keepdims=True).astype(np.float64), len(rows), 0)
        _, vertices = model.forward(betas, motion.poses[rows], motion.trans[rows], pose_correctives=False)
        for k, row in enumerate(rows):
            bpy.context.scene.frame_set(int(motion.frame_ids[row]) + 1)
            depsgraph = bpy.context.evaluated_depsgraph_get()
            evaluated = body.evaluated_get(depsgraph)
            m = np.array(evaluated.matrix_world)
            co = np.empty(6890 * 3, np.float32)
            evaluated.data.vertices.foreach_get("co", co)
            world = co.reshape(-1, 3) @ m[:3, :3].T + m[:3, 3]
            err = np.abs(world - camera_to_world(vertices[k])).max()
            assert err < 1e-3, f"track {track} frame {row}: mesh off by {err * 1000:.2f} mm"


def case_failure_while_keying_rolls_back_too(ctx):
    populate_user_scene()
    before = snapshot()
    importer = ctx.module("addon.importer")
    writer = ctx.module("addon.animation").ActionWriter
    original = writer.curve
    calls = []

    def flaky(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 150:  # part-way through the second armature
            raise MemoryError("simulated: out of memory while keying")
        return original(self, *args, **kwargs)

    writer.curve = flaky
    motion, _ = random_motion(ctx.body_model, tracks={1: np.arange(4), 2: np.arange(6)})
    try:
        importer.import_motion(bpy.context, motion_file(ctx, motion), importer.ImportOptions())
    except importer.ImportFailed as exc:
        assert "out of memory while keying" in str(exc)
    else:
        raise AssertionError("the import should have failed")
    finally:
        writer.curve = original
    assert snapshot() == before


def case_actions_use_the_api_this_blender_has(ctx):
    """Slotted actions from 4.4 on (channelbag of the armature's slot), the legacy API before."""
    animation = ctx.module("addon.animation")
    slotted = bpy.app.version >= (4, 4, 0)
    assert animation.has_slotted_actions() is slotted
    motion, reference = random_motion(ctx.body_model, tracks={1: np.arange(4)}, varying_betas=())
    importer = ctx.module("addon.importer")
    result = importer.import_motion(bpy.context, motion_file(ctx, motion), exact_options(ctx.ext))
    obj = result.armatures[0]
    action = obj.animation_data.action
    if slotted:
        slot = obj.animation_data.action_slot
        assert slot is not None and len(action.slots) == 1 and slot == action.slots[0]
        bag = action.layers[0].strips[0].channelbag(slot)
        assert len(bag.fcurves) == len(animation.action_fcurves(action, obj)) > 0
        assert {g.name for g in bag.groups} == set(JOINTS)
    else:
        assert len(action.fcurves) == len(animation.action_fcurves(action, obj)) > 0
    check_exact(motion, reference, result)


def case_world_of_a_v2_file_places_camera_footage_and_people(ctx):
    """A /2 file's camera goes where the file says (height, pitch), with the file's focal
    length; the people stand on Z = 0; feet locked by default, and nothing else moves."""
    import math

    from video_to_motion.core.worker.world import place_people

    from worker.scenes import crowd, scene_motion

    motion = scene_motion(crowd(4), 1100.0, 5.0, 30.0, 0.0, frames=30)
    placed = place_people(motion)
    assert placed.has_world
    path = motion_file(ctx, placed)
    importer = ctx.module("addon.importer")
    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    result = importer.import_motion(bpy.context, path, importer.ImportOptions(root_smoothing=0.0))
    m = np.array(result.camera.matrix_world)
    file_m = placed.camera_to_world[0].astype(np.float64)
    assert abs(m[2, 3] - file_m[2, 3]) < 1e-4 and 3.5 < m[2, 3] < 6.5
    pitch = math.degrees(math.asin(-(-m[2, 2])))              # the camera looks along its -Z
    assert 26.0 < pitch < 34.0
    width = placed.image_size[0]
    assert abs(result.camera.data.lens - placed.focal_length * 36.0 / width) < 1e-3
    lows = []
    for obj in result.armatures:
        for frame in (1, 15, 30):
            heads = world_heads(obj, frame)
            lows.append(heads[[10, 11], 2].min())
    assert np.median(np.abs(np.array(lows) - 0.045)) < 0.03, lows  # toe balls on the floor
