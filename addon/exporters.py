"""Exports of imported tracks: FBX (with engine presets), BVH, glTF and AMASS .npz.

Every file is written to a temporary name beside the destination and renamed when
complete (core.atomic), so a failed export never leaves half a file or replaces a good
one. The user's selection, active object and current frame are restored afterwards.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import re
from pathlib import Path

import bpy
import numpy as np

from ..core.common import keyframes, rotations
from ..core.common.atomic import atomic_path
from ..core.common.skeleton import JOINT_NAMES
from .animation import LINEAR, ActionWriter, action_fcurves, read_curve
from . import common

# Exporter arguments per target. Bones keep Blender's Y-along-bone axis; no leaf bones, so
# the hierarchy is exactly SMPL's 24 joints.
FBX_PRESETS = {
    # Blender's own conventions (re-imports into Blender unchanged).
    "BLENDER": dict(axis_forward="-Z", axis_up="Y", apply_scale_options="FBX_SCALE_NONE"),
    # Unreal: Z up like Blender; the file states metres so Unreal's unit conversion gives cm.
    "UNREAL": dict(axis_forward="-Y", axis_up="Z", apply_scale_options="FBX_SCALE_NONE"),
    # Unity: Y up, scale folded into the units so objects import at scale 1.
    "UNITY": dict(axis_forward="-Z", axis_up="Y", apply_scale_options="FBX_SCALE_UNITS"),
}


@dataclasses.dataclass(frozen=True)
class Format:
    key: str          # the operator's enum value
    label: str
    suffix: str
    description: str
    flag: str         # batch_import's option (--fbx, --glb, ...)
    per_track: bool   # one file per armature (NAME_track<ID>.ext when there are several)
    mesh: bool        # can carry the body meshes


FORMATS = {f.key: f for f in (
    Format("FBX", "FBX", ".fbx", "Armatures, animation and body meshes (.fbx)", "fbx", False, True),
    Format("BVH", "BVH", ".bvh", "Motion capture skeleton, one file per track (.bvh)", "bvh", True, False),
    Format("GLTF", "glTF", ".glb", "Binary glTF with armatures, animation and meshes (.glb)", "glb", False, True),
    Format("AMASS", "AMASS", ".npz", "SMPL parameters per frame, one file per track (.npz)", "amass", True, False),
)}


class ExportError(RuntimeError):
    """An export that could not be written; the message says why."""


def brief(exc: BaseException, limit: int = 300) -> str:
    """The last line of an operator's error: Blender puts the exporter's whole traceback in it."""
    lines = [line.strip() for line in str(exc).splitlines()
             if line.strip() and not line.startswith((" ", "Location:")) and not line.strip().endswith("truncated")]
    raised = [line for line in lines if re.match(r"^[\w.]*(Error|Exception)\b", line)]
    text = (raised or lines or [type(exc).__name__])[-1]
    return text if len(text) <= limit else text[:limit] + "..."


def _run_exporter(what: str, operator, **kwargs):
    """Run Blender's exporter operator; its failure becomes an ExportError of one line."""
    try:
        return operator(**kwargs)
    except RuntimeError as exc:
        raise ExportError(f"the {what} exporter failed: {brief(exc)}") from exc


def vtm_armatures(objects) -> list:
    """The imported track armatures among `objects` (those with vtm_track_id)."""
    return [o for o in objects if o.type == "ARMATURE" and "vtm_track_id" in o]


def body_meshes(armature) -> list:
    return [c for c in armature.children if c.type == "MESH"]


@contextlib.contextmanager
def _only_selected(context, objects):
    """Select exactly `objects` (first one active) inside; restore the user's state after."""
    layer = context.view_layer
    active = layer.objects.active
    selected = [o for o in layer.objects if o.select_get()]
    frame = context.scene.frame_current
    mode_ok = context.mode == "OBJECT"
    if not mode_ok:
        raise ExportError("switch to Object Mode before exporting")
    try:
        for o in selected:
            o.select_set(False)
        for o in objects:
            o.select_set(True)
        layer.objects.active = objects[0]
        yield
    finally:
        for o in layer.objects:
            o.select_set(False)
        for o in selected:
            with contextlib.suppress(ReferenceError):
                o.select_set(True)
        layer.objects.active = active
        context.scene.frame_set(frame)


def _frame_range(armatures) -> tuple[int, int]:
    starts, ends = [], []
    for arm in armatures:
        action = arm.animation_data.action if arm.animation_data else None
        if action is None:
            raise ExportError(f"'{arm.name}' has no animation to export")
        start, end = action.frame_range
        starts.append(int(round(start)))
        ends.append(int(round(end)))
    return min(starts), max(ends)


@contextlib.contextmanager
def _rest_pose_at(context, armatures, frame: int):
    """Show the rest pose at `frame` (outside the exported range) while exporting.

    Blender's FBX exporter writes an armature without a skinned mesh with the pose shown
    at export time as its rest pose; a temporary rest key one frame before the range,
    shown as the current frame, makes that the true rest pose. The keys are removed after.
    """
    added = []
    for arm in armatures:
        for fcurve in action_fcurves(arm.animation_data.action, arm):
            if ".rotation_quaternion" in fcurve.data_path:
                rest = 1.0 if fcurve.array_index == 0 else 0.0
            elif ".location" in fcurve.data_path:
                rest = 0.0
            else:
                continue
            key = fcurve.keyframe_points.insert(frame, rest, options={"FAST"})
            key.interpolation = "CONSTANT"
            added.append((fcurve, frame))
    context.scene.frame_set(frame)
    try:
        yield
    finally:
        for fcurve, f in added:
            for key in fcurve.keyframe_points:
                if abs(key.co[0] - f) < 1e-6:
                    fcurve.keyframe_points.remove(key)
                    break
            fcurve.update()


def export_fbx(context, filepath: str | os.PathLike, armatures, preset: str = "BLENDER",
               include_mesh: bool = True) -> Path:
    """Armatures (+ their body meshes) with their animation as one FBX file."""
    if preset not in FBX_PRESETS:
        raise ExportError(f"unknown FBX preset '{preset}'; choose one of {', '.join(FBX_PRESETS)}")
    armatures = list(armatures)
    if not armatures:
        raise ExportError("nothing to export: select an imported track armature")
    objects = armatures + ([m for a in armatures for m in body_meshes(a)] if include_mesh else [])
    start, end = _frame_range(armatures)
    scene = context.scene
    saved_range = scene.frame_start, scene.frame_end
    with atomic_path(filepath) as tmp, _only_selected(context, objects):
        try:
            scene.frame_start, scene.frame_end = start, end
            with _rest_pose_at(context, armatures, start - 1):
                result = _run_exporter("FBX", bpy.ops.export_scene.fbx,
                    filepath=str(tmp), use_selection=True,
                    object_types={"ARMATURE", "MESH"} if include_mesh else {"ARMATURE"},
                    add_leaf_bones=False, primary_bone_axis="Y", secondary_bone_axis="X",
                    armature_nodetype="NULL", use_armature_deform_only=False, bake_anim=True,
                    bake_anim_use_all_bones=True, bake_anim_use_nla_strips=False,
                    bake_anim_use_all_actions=False, bake_anim_force_startend_keying=True,
                    bake_anim_step=1.0, bake_anim_simplify_factor=0.0, use_custom_props=True,
                    global_scale=1.0, apply_unit_scale=True, **FBX_PRESETS[preset])
        finally:
            scene.frame_start, scene.frame_end = saved_range
        if result != {"FINISHED"}:
            raise ExportError(f"the FBX exporter did not finish ({result})")
    return Path(filepath)


def export_bvh(context, filepath: str | os.PathLike, armature) -> Path:
    """One armature's animation as BVH (one skeleton per file), Y up, in the world.

    BVH has no object transform and Blender's exporter writes armature space, so the
    export goes through a temporary copy whose pelvis keys carry the ground transform;
    the file then reads back (Y up -> Z up, Blender's default) where the armature is.
    """
    start, end = _frame_range([armature])
    with _world_baked_copy(context, armature) as baked:
        with atomic_path(filepath) as tmp, _only_selected(context, [baked]):
            result = _run_exporter("BVH", bpy.ops.export_anim.bvh, filepath=str(tmp), frame_start=start,
                                   frame_end=end, global_scale=1.0, rotate_mode="NATIVE", root_transform_only=False)
            if result != {"FINISHED"}:
                raise ExportError(f"the BVH exporter did not finish ({result})")
    return Path(filepath)


@contextlib.contextmanager
def _world_baked_copy(context, armature):
    """A temporary copy of `armature` at the plain Y-up -> Z-up turn, with the rest of its
    world transform (the ground alignment) folded into the pelvis keys; removed after."""
    target = np.eye(4)
    target[:3, :3] = keyframes.ARMATURE_TO_BLENDER
    m = np.linalg.inv(target) @ np.array(armature.matrix_world)     # rigid, in armature space
    curves = {(fc.data_path, fc.array_index): fc for fc in action_fcurves(armature.animation_data.action, armature)}
    rot_paths = [('pose.bones["pelvis"].rotation_quaternion', i) for i in range(4)]
    loc_paths = [('pose.bones["pelvis"].location', i) for i in range(3)]
    frames = np.unique(np.concatenate([read_curve(curves[k])[0] for k in rot_paths + loc_paths if k in curves]))
    evaluate = lambda key, default: (np.array([curves[key].evaluate(float(f)) for f in frames])
                                     if key in curves else np.full(len(frames), default))
    quat = np.stack([evaluate(k, 1.0 if k[1] == 0 else 0.0) for k in rot_paths], 1)
    loc = np.stack([evaluate(k, 0.0) for k in loc_paths], 1)
    j0 = np.array(armature.data.bones["pelvis"].head_local, dtype=np.float64)
    quat = rotations.make_quaternions_continuous(
        rotations.quaternion_multiply(rotations.matrix_to_quaternion(m[:3, :3]), quat))
    loc = (j0 + loc) @ m[:3, :3].T + m[:3, 3] - j0

    copy = armature.copy()
    context.scene.collection.objects.link(copy)
    copy.matrix_world = common.blender_matrix(target)
    writer = ActionWriter(copy, f"{armature.name} (BVH)")
    for (path, index), fc in curves.items():
        if (path, index) in rot_paths or (path, index) in loc_paths:
            continue
        f, v = read_curve(fc)
        writer.curve(path, index, f, v, LINEAR, group=fc.group.name if fc.group else None)
    for k, (path, index) in enumerate(rot_paths):
        writer.curve(path, index, frames, quat[:, k], LINEAR, group="pelvis")
    for k, (path, index) in enumerate(loc_paths):
        writer.curve(path, index, frames, loc[:, k], LINEAR, group="pelvis")
    if copy.animation_data is not None:
        copy.animation_data.action = None
    writer.assign()
    try:
        yield copy
    finally:
        bpy.data.objects.remove(copy)
        bpy.data.actions.remove(writer.action)


def export_gltf(context, filepath: str | os.PathLike, armatures, include_mesh: bool = True) -> Path:
    """Armatures (+ meshes) with their animation as glTF binary (.glb)."""
    armatures = list(armatures)
    if not armatures:
        raise ExportError("nothing to export: select an imported track armature")
    objects = armatures + ([m for a in armatures for m in body_meshes(a)] if include_mesh else [])
    start, end = _frame_range(armatures)
    scene = context.scene
    saved_range = scene.frame_start, scene.frame_end
    filepath = Path(filepath)
    if filepath.suffix.lower() != ".glb":
        raise ExportError(f"glTF exports are written as binary .glb; got '{filepath.name}'")
    with atomic_path(filepath) as tmp, _only_selected(context, objects):
        try:
            scene.frame_start, scene.frame_end = start, end
            result = _run_exporter("glTF", bpy.ops.export_scene.gltf, filepath=str(tmp), export_format="GLB",
                                   use_selection=True, export_animations=True, export_frame_range=True,
                                   # One glTF animation for all tracks: importers
                                   # then play every armature, not the first only.
                                   export_animation_mode="ACTIVE_ACTIONS",
                                   export_rest_position_armature=True,
                                   export_force_sampling=True, export_optimize_animation_size=False,
                                   export_apply=False, export_skins=True,
                                   # Else, with one armature, every action in the file whose
                                   # paths fit it (other tracks') is exported too (seen on 4.2).
                                   export_anim_single_armature=False)
        finally:
            scene.frame_start, scene.frame_end = saved_range
        if result != {"FINISHED"}:
            raise ExportError(f"the glTF exporter did not finish ({result})")
    return filepath


def sample_armature(armature, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(quats [F, 24, 4], pelvis location [F, 3]) evaluated from the armature's F-curves."""
    curves = {(fc.data_path, fc.array_index): fc for fc in action_fcurves(armature.animation_data.action, armature)}
    quats = np.zeros((len(frames), 24, 4))
    quats[..., 0] = 1.0
    loc = np.zeros((len(frames), 3))
    for j, bone in enumerate(JOINT_NAMES):
        for i in range(4):
            fc = curves.get((f'pose.bones["{bone}"].rotation_quaternion', i))
            if fc is not None:
                quats[:, j, i] = [fc.evaluate(float(f)) for f in frames]
    for i in range(3):
        fc = curves.get(('pose.bones["pelvis"].location', i))
        if fc is not None:
            loc[:, i] = [fc.evaluate(float(f)) for f in frames]
    return quats / np.linalg.norm(quats, axis=-1, keepdims=True), loc


def export_amass(context, filepath: str | os.PathLike, armature, gender: str = "neutral") -> Path:
    """One armature as an AMASS-style .npz, in the Blender world (Z up), from its keys.

    Keys: poses [F, 72], trans [F, 3], betas [10], mocap_framerate, gender, frame_ids
    (video frames). Edits made in Blender are included; per-frame changes of body shape
    are not (AMASS has one shape per sequence).
    """
    start, end = _frame_range([armature])
    frames = np.arange(start, end + 1)
    quats, pelvis = sample_armature(armature, frames)
    rest = np.array([armature.data.bones[name].head_local for name in JOINT_NAMES], dtype=np.float64)
    poses, trans = keyframes.amass_arrays(quats, pelvis, rest, np.array(armature.matrix_world))
    render = context.scene.render
    arrays = {
        "poses": poses.astype(np.float32), "trans": trans.astype(np.float32),
        "betas": np.asarray(armature.get("vtm_betas", [0.0] * 10), dtype=np.float32),
        "mocap_framerate": np.array(render.fps / render.fps_base), "gender": np.array(gender),
        "frame_ids": (frames - 1).astype(np.int32),
    }
    with atomic_path(filepath, suffix=".npz") as tmp:
        np.savez(tmp, **arrays)
    return Path(filepath)


def per_track_path(path: str | os.PathLike, armature, count: int) -> Path:
    """`path` for one of `count` armatures: NAME_track<ID>.ext when there are several."""
    path = Path(path)
    if count == 1:
        return path
    return path.with_name(f"{path.stem}_track{int(armature['vtm_track_id'])}{path.suffix}")


def export(context, key: str, filepath: str | os.PathLike, armatures, *, fbx_preset: str = "BLENDER",
           include_mesh: bool = True) -> list[Path]:
    """Write `armatures` in the format `key` of FORMATS; returns the files written."""
    fmt = FORMATS[key]
    if key == "FBX":
        return [export_fbx(context, filepath, armatures, fbx_preset, include_mesh)]
    if key == "GLTF":
        return [export_gltf(context, filepath, armatures, include_mesh)]
    one = export_bvh if key == "BVH" else export_amass
    assert fmt.per_track
    return [one(context, per_track_path(filepath, a, len(armatures)), a) for a in armatures]
