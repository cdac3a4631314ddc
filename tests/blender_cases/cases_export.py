"""Exports: FBX (each preset), BVH, glTF and AMASS keep the joint positions on a round trip."""
from __future__ import annotations

import numpy as np

import bpy

from blender_cases.common import JOINTS, armatures_by_track, world_heads
from video_to_motion.core.common.motion import write_motion
from motions import random_motion


def imported(ctx, tracks=None, varying=(2,), seed=7, fps=30.0):
    tracks = tracks or {1: np.arange(2, 14), 2: np.arange(6, 16)}
    motion, reference = random_motion(ctx.body_model, tracks=tracks, varying_betas=varying, seed=seed, fps=fps)
    path = write_motion(ctx.tmp / "clip.npz", motion)
    importer = ctx.module("addon.importer")
    result = importer.import_motion(bpy.context, path, importer.ImportOptions(root_smoothing=0.0, ground=True))
    return motion, reference, result


def heads_over(obj, frames):
    return np.stack([world_heads(obj, int(f)) for f in frames])


def rest_heads(obj):
    m = np.array(obj.matrix_world)
    return np.array([obj.data.bones[n].head_local for n in JOINTS]) @ m[:3, :3].T + m[:3, 3]


def fresh_scene_with(fps):
    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    bpy.context.scene.render.fps = fps


def case_fbx_round_trip_every_preset(ctx):
    motion, _, result = imported(ctx)
    exporters = ctx.module("addon.exporters")
    originals = {}
    for arm in result.armatures:
        start, end = (int(round(v)) for v in arm.animation_data.action.frame_range)
        frames = np.arange(start, end + 1)
        originals[arm.name] = (frames, heads_over(arm, frames), rest_heads(arm))
    names = list(originals)
    for preset in ("BLENDER", "UNREAL", "UNITY"):
        path = ctx.tmp / f"out_{preset}.fbx"
        bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
        motion, _, result = imported(ctx)
        exporters.export_fbx(bpy.context, path, result.armatures, preset=preset)
        fresh_scene_with(30)
        assert bpy.ops.import_scene.fbx(filepath=str(path), anim_offset=0.0) == {"FINISHED"}
        for name in names:
            back = bpy.data.objects[name]
            frames, heads, rest = originals[name]
            err_rest = np.abs(rest_heads(back) - rest).max()
            assert err_rest < 1e-4, f"{preset} {name}: rest pose off by {err_rest * 1000:.3f} mm"
            err = np.abs(heads_over(back, frames) - heads).max()
            assert err < 1e-3, f"{preset} {name}: joints off by {err * 1000:.3f} mm"


def case_bvh_round_trip(ctx):
    _, _, result = imported(ctx)
    exporters = ctx.module("addon.exporters")
    arm = armatures_by_track(result.armatures)[2]  # the one whose shape varies
    start, end = (int(round(v)) for v in arm.animation_data.action.frame_range)
    frames = np.arange(start, end + 1)
    heads = heads_over(arm, frames)
    path = exporters.export_bvh(bpy.context, ctx.tmp / "out.bvh", arm)
    fresh_scene_with(30)
    assert bpy.ops.import_anim.bvh(filepath=str(path), rotate_mode="NATIVE", frame_start=start,
                                   use_fps_scale=False) == {"FINISHED"}
    back = bpy.context.view_layer.objects.active
    err = np.abs(heads_over(back, frames) - heads).max()
    assert err < 1e-3, f"BVH joints off by {err * 1000:.3f} mm"


def case_gltf_round_trip(ctx):
    _, _, result = imported(ctx)
    exporters = ctx.module("addon.exporters")
    originals = {}
    for arm in result.armatures:
        start, end = (int(round(v)) for v in arm.animation_data.action.frame_range)
        frames = np.arange(start, end + 1)
        originals[arm.name] = (frames, heads_over(arm, frames), rest_heads(arm))
    path = exporters.export_gltf(bpy.context, ctx.tmp / "out.glb", result.armatures)
    fresh_scene_with(30)
    assert bpy.ops.import_scene.gltf(filepath=str(path)) == {"FINISHED"}
    for name, (frames, heads, rest) in originals.items():
        back = bpy.data.objects[name]
        assert np.abs(rest_heads(back) - rest).max() < 1e-4, f"glTF {name}: rest pose moved"
        err = np.abs(heads_over(back, frames) - heads).max()
        assert err < 1e-3, f"glTF {name}: joints off by {err * 1000:.3f} mm"


def case_gltf_round_trip_at_the_motion_frame_rate(ctx):
    """glTF keys are seconds; read back at the motion's 25 fps they land on the same frames."""
    motion, _, result = imported(ctx, fps=25.0)
    assert bpy.context.scene.render.fps == 25
    exporters = ctx.module("addon.exporters")
    arm = armatures_by_track(result.armatures)[2]
    name = arm.name
    start, end = (int(round(v)) for v in arm.animation_data.action.frame_range)
    frames = np.arange(start, end + 1)
    heads = heads_over(arm, frames)
    path = exporters.export_gltf(bpy.context, ctx.tmp / "out25.glb", [arm])
    fresh_scene_with(int(motion.fps))
    assert bpy.ops.import_scene.gltf(filepath=str(path)) == {"FINISHED"}
    err = np.abs(heads_over(bpy.data.objects[name], frames) - heads).max()
    assert err < 1e-3, f"glTF at 25 fps: joints off by {err * 1000:.3f} mm"


def case_amass_export_matches_smpl(ctx):
    from smpl_numpy import NumpySMPL

    _, _, result = imported(ctx, tracks={4: np.arange(0, 10)}, varying=())
    exporters = ctx.module("addon.exporters")
    arm = result.armatures[0]
    path = exporters.export_amass(bpy.context, ctx.tmp / "amass.npz", arm)
    data = np.load(path)
    assert data["poses"].shape == (10, 72) and float(data["mocap_framerate"]) == 30.0
    np.testing.assert_array_equal(data["frame_ids"], np.arange(10))
    betas = np.repeat(data["betas"][None], 10, 0)
    joints = NumpySMPL(ctx.body_model).joints(betas, data["poses"], data["trans"])
    heads = heads_over(arm, np.arange(1, 11))
    assert np.abs(joints - heads).max() < 1e-3


def case_export_operator_writes_each_format_and_keeps_the_selection(ctx):
    _, _, result = imported(ctx)
    user = bpy.data.objects.new("user empty", None)
    bpy.context.scene.collection.objects.link(user)
    for obj in bpy.context.view_layer.objects:
        obj.select_set(obj in result.armatures)
    frame = bpy.context.scene.frame_current
    for fmt, name in (("FBX", "a.fbx"), ("GLTF", "a.glb"), ("BVH", "a.bvh"), ("AMASS", "a.npz")):
        assert bpy.ops.vtm.export(filepath=str(ctx.tmp / name), format=fmt) == {"FINISHED"}
    assert (ctx.tmp / "a.fbx").stat().st_size > 0 and (ctx.tmp / "a.glb").stat().st_size > 0
    assert sorted(p.name for p in ctx.tmp.glob("a_track*")) == ["a_track1.bvh", "a_track1.npz", "a_track2.bvh",
                                                               "a_track2.npz"]
    assert not list(ctx.tmp.glob(".a*")), "no temporary files left behind"
    assert sorted(o.name for o in bpy.context.selected_objects) == sorted(a.name for a in result.armatures)
    assert bpy.context.scene.frame_current == frame
    assert not [a for a in bpy.data.actions if a.name.endswith("(BVH)")]
    for obj in bpy.context.view_layer.objects:
        obj.select_set(obj == user)
    bpy.context.view_layer.objects.active = user
    try:
        bpy.ops.vtm.export(filepath=str(ctx.tmp / "b.fbx"), format="FBX")
    except RuntimeError as exc:
        assert "select an imported track armature" in str(exc)
    else:
        raise AssertionError("exporting nothing should fail")
    assert not (ctx.tmp / "b.fbx").exists()
