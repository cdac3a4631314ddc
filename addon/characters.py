"""Put an imported track on the user's own character (Mixamo, Rigify, Unreal, any humanoid).

The maths is numpy (core.common.bone_map, core.common.retarget); this module reads the
armatures, appends a character from a file, writes the keys and draws the panel section.
The source is the SMPL armature of the track as it is keyed in the scene (edits
included). A failure leaves the scene as it was: appended objects are removed, and the
character's action, slot and rotation modes are restored.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import bpy
import numpy as np
from bpy.props import BoolProperty, CollectionProperty, IntProperty, PointerProperty, StringProperty
from bpy.types import Operator, Panel, PropertyGroup
from bpy_extras.io_utils import ExportHelper, ImportHelper

from ..core.common import bone_map, retarget
from ..core.common.bone_map import BoneMapError
from ..core.common.retarget import RetargetError
from ..core.common.rotations import make_quaternions_continuous, nearest_rotation
from ..core.common.skeleton import JOINT_NAMES
from . import rigify_rig
from .animation import LINEAR, ActionWriter
from .exporters import sample_armature
from .importer import TRACK_ID_PROP

CHARACTER_PROP = "vtm_character"
CHARACTER_SUFFIXES = (".glb", ".gltf", ".fbx", ".blend")


class CharacterError(RuntimeError):
    """The character could not be animated; the scene was left as it was."""


# --- reading armatures -------------------------------------------------------------------

def character_of(obj) -> retarget.Character:
    """The rest skeleton of an armature object, and the floor under its meshes."""
    bones = obj.data.bones
    names = [b.name for b in bones]
    parents = np.array([names.index(b.parent.name) if b.parent else -1 for b in bones])
    rest = np.array([np.array(b.matrix_local) for b in bones])
    tails = np.array([tuple(b.tail_local) for b in bones], dtype=np.float64)
    return retarget.Character(names=names, parents=parents, rest=rest, tails=tails,
                              matrix_world=np.array(obj.matrix_world), floor_z=rest_floor(obj))


def sole_points(armature, mapping: dict, count: int = 16) -> list | None:
    """(side, bone index, world point) at rest: vertices of each foot's sole (its lowest
    vertices under the foot and toe bones, spread along the foot), None without them."""
    names = [b.name for b in armature.data.bones]
    out = []
    for side in ("left", "right"):
        bones = [mapping.get(f"{side}Foot"), mapping.get(f"{side}Toes")]
        pts = []
        for mesh in skinned_meshes(armature):
            groups = {g.index: g.name for g in mesh.vertex_groups if g.name in bones}
            if not groups:
                continue
            m = np.array(mesh.matrix_world)
            for v in mesh.data.vertices:
                best = max(((g.weight, groups[g.group]) for g in v.groups if g.group in groups), default=None)
                if best is not None and best[0] > 0.5:
                    pts.append((names.index(best[1]), m[:3, :3] @ np.array(v.co) + m[:3, 3]))
        if len(pts) < 3:
            return None
        z = np.array([p[2] for _, p in pts])
        # The sole: vertices within a fifth of the foot's height of its lowest point; the
        # farthest apart of them (heel, toe, both edges) carry the foot's contact.
        low = [pts[i] for i in np.flatnonzero(z < z.min() + 0.2 * (np.ptp(z) or 1.0))]
        coords = np.array([p for _, p in low])
        chosen = [int(np.argmin(coords[:, 2]))]
        while len(chosen) < min(count, len(low)):
            dist = np.min(np.linalg.norm(coords[:, None] - coords[chosen][None], axis=-1), axis=1)
            chosen.append(int(np.argmax(dist)))
        out += [(side, low[i][0], low[i][1]) for i in dict.fromkeys(chosen)]
    return out


def skinned_meshes(armature) -> list:
    """Mesh objects deformed by `armature` (an Armature modifier on it)."""
    return [o for o in bpy.data.objects if o.type == "MESH"
            and any(m.type == "ARMATURE" and m.object == armature for m in o.modifiers)]


def rest_floor(armature) -> float | None:
    """World Z of the lowest vertex of the armature's meshes at rest, None without meshes."""
    lows = []
    for mesh in skinned_meshes(armature):
        n = len(mesh.data.vertices)
        if not n:
            continue
        co = np.empty(3 * n)
        mesh.data.vertices.foreach_get("co", co)
        m = np.array(mesh.matrix_world)
        lows.append(float((co.reshape(-1, 3) @ m[:3, :3].T + m[:3, 3])[:, 2].min()))
    return min(lows) if lows else None


def source_of(smpl_armature, frames: np.ndarray) -> retarget.Source:
    """The SMPL track armature's motion at Blender `frames`, in the world."""
    quats, pelvis = sample_armature(smpl_armature, frames)
    rest = np.array([smpl_armature.data.bones[n].head_local for n in JOINT_NAMES], dtype=np.float64)
    scene = bpy.context.scene
    fps = float(smpl_armature.get("vtm_fps", scene.render.fps / scene.render.fps_base))
    return retarget.Source.from_pose(quats, pelvis, rest, np.array(smpl_armature.matrix_world), fps)


def mapping_for(armature, preset: str | None = None) -> dict:
    """The bone map: a preset file's, the one stored on the armature, else automatic."""
    names = [b.name for b in armature.data.bones]
    if preset:
        mapping = bone_map.read_preset(preset)
    elif armature.get("vtm_bone_map"):
        mapping = bone_map.read_preset_text(str(armature["vtm_bone_map"]))
    else:
        mapping = bone_map.auto_map(character_of(armature).skeleton())
    return bone_map.check_map(mapping, names)


def _driven_bones(armature, mapping: dict) -> list[str]:
    """Mapped bones that constraints drive (keys on them would not show)."""
    out = []
    for value in mapping.values():
        for name in [value] if isinstance(value, str) else value:
            pb = armature.pose.bones[name]
            if any(not c.mute for c in pb.constraints):
                out.append(name)
    return out


# --- appending a character from a file ---------------------------------------------------

def append_character(context, path: str | os.PathLike, created: list) -> object:
    """Bring the humanoid armature (and its meshes) of a .glb/.gltf/.fbx/.blend file into
    the scene; returns the armature with the most bones. New datablocks go into `created`."""
    path = Path(path)
    if path.suffix.lower() not in CHARACTER_SUFFIXES:
        raise CharacterError(f"'{path.name}' is not a character file ({', '.join(CHARACTER_SUFFIXES)})")
    if not path.is_file():
        raise CharacterError(f"character file '{path}' does not exist")
    before = {k: set(getattr(bpy.data, k)) for k in _KINDS}
    try:
        if path.suffix.lower() in (".glb", ".gltf"):
            result = bpy.ops.import_scene.gltf(filepath=str(path))
        elif path.suffix.lower() == ".fbx":
            result = bpy.ops.import_scene.fbx(filepath=str(path), anim_offset=0.0)
        else:
            with bpy.data.libraries.load(str(path), link=False) as (src, dst):
                dst.objects = list(src.objects)
            for obj in dst.objects:
                if obj is not None:
                    context.scene.collection.objects.link(obj)
            result = {"FINISHED"}
    except RuntimeError as exc:
        raise CharacterError(f"Blender cannot read the character '{path.name}': {exc}") from None
    finally:
        for kind in _KINDS:
            created += [i for i in getattr(bpy.data, kind) if i not in before[kind]]
    if result != {"FINISHED"}:
        raise CharacterError(f"importing the character '{path.name}' did not finish ({result})")
    arms = [o for o in created if isinstance(o, bpy.types.Object) and o.type == "ARMATURE"]
    if not arms:
        raise CharacterError(f"'{path.name}' holds no armature")
    return max(arms, key=lambda o: len(o.data.bones))


_KINDS = ("objects", "armatures", "meshes", "materials", "actions", "images", "textures", "collections",
          "node_groups", "cameras", "lights")


def remove_created(created: list) -> None:
    """Remove what append_character brought in (objects first: that frees their data)."""
    for idblock in sorted(created, key=lambda i: not isinstance(i, bpy.types.Object)):
        for kind in _KINDS:
            store = getattr(bpy.data, kind)
            try:
                if idblock.name in store and store[idblock.name] == idblock:
                    store.remove(idblock)
                    break
            except (ReferenceError, RuntimeError):
                break
    created.clear()


# --- writing the keys --------------------------------------------------------------------

@dataclasses.dataclass
class CharacterResult:
    armature: object
    action: object
    mapping: dict
    retarget: retarget.Result
    frames: np.ndarray
    # A generated Rigify rig: the angle [F, K] (degrees) left between each DEF- bone of
    # rigify_rig.CONTROLS and its retargeted pose after the per-frame solve.
    residual: np.ndarray | None = None


def animate_character(context, character, smpl_armature, mapping: dict | None = None, in_place: bool = False,
                      rest_compensation: bool = True, lock_feet: bool = True) -> CharacterResult:
    """Key `character` (an armature object) with the motion of `smpl_armature` (an imported
    track). One new action, named after the character and the track; the scene is left
    as it was on failure. lock_feet: planted feet move as the track's do (retarget.retarget)."""
    if context.mode != "OBJECT":
        raise CharacterError("switch to Object Mode before animating a character")
    if character.type != "ARMATURE" or smpl_armature.type != "ARMATURE":
        raise CharacterError("both the character and the track must be armatures")
    if TRACK_ID_PROP not in smpl_armature or smpl_armature.get(CHARACTER_PROP):
        raise CharacterError(f"'{smpl_armature.name}' is not an imported track armature")
    try:
        mapping = bone_map.check_map(mapping, [b.name for b in character.data.bones]) if mapping else \
            mapping_for(character)
    except BoneMapError as exc:
        raise CharacterError(f"'{character.name}': {exc}") from None
    generated = rigify_rig.is_generated(character)
    driven = [] if generated else _driven_bones(character, mapping)
    if driven:
        raise CharacterError(f"'{character.name}': constraints drive the bones {', '.join(driven[:6])}; keys on "
                             "them would not show. Map bones without constraints (or the rig's controls)")
    action = smpl_armature.animation_data.action if smpl_armature.animation_data else None
    if action is None:
        raise CharacterError(f"'{smpl_armature.name}' has no animation")
    start, end = (int(round(v)) for v in action.frame_range)
    frames = np.arange(start, end + 1)
    try:
        rig = character_of(character)
        soles = sole_points(character, mapping)
        if generated:
            rig = rigify_rig.deform_character(character, rig)
            full = [b.name for b in character.data.bones]
            soles = soles and [(side, rig.names.index(full[b]), p) for side, b, p in soles]
        rig.sole_points = soles
        result = retarget.retarget(rig, mapping, source_of(smpl_armature, frames), in_place=in_place,
                                   rest_compensation=rest_compensation, lock_feet=lock_feet)
    except (RetargetError, ValueError) as exc:
        raise CharacterError(f"'{character.name}': {exc}") from None

    saved = _saved_state(character)
    writer = None
    residual = None
    try:
        track = int(smpl_armature[TRACK_ID_PROP])
        writer = ActionWriter(character, f"{character.name} track {track}")
        if character.animation_data is not None:
            character.animation_data.action = None
        if generated:
            saved["switches"] = rigify_rig.set_switches(character)
            residual = _key_rigify_controls(context, writer, character, rig, result, frames)
        else:
            _key_bones(writer, character, result, frames)
        writer.assign()
        writer.action[TRACK_ID_PROP] = track
        character[TRACK_ID_PROP] = track
        character[CHARACTER_PROP] = True
        character["vtm_bone_map"] = bone_map.to_json(mapping)
        if "vtm_fps" in smpl_armature:
            character["vtm_fps"] = float(smpl_armature["vtm_fps"])
    except Exception as exc:
        _restore(character, saved)
        if writer is not None:
            bpy.data.actions.remove(writer.action)
        raise CharacterError(f"animating '{character.name}' failed and was undone ({type(exc).__name__}: {exc})") \
            from exc
    return CharacterResult(armature=character, action=writer.action, mapping=mapping, retarget=result, frames=frames,
                           residual=residual)


def _key_bones(writer, character, result: retarget.Result, frames: np.ndarray) -> None:
    """Rotation keys on every bone and location keys on the root bones."""
    quats = result.quats.astype(np.float32)
    f = frames.astype(np.float64)
    for b, bone in enumerate(character.data.bones):
        character.pose.bones[bone.name].rotation_mode = "QUATERNION"
        base = f'pose.bones["{bone.name}"]'
        for i in range(4):
            writer.curve(f"{base}.rotation_quaternion", i, f, quats[:, b, i], LINEAR, group=bone.name)
    for k, b in enumerate(result.roots):
        root = character.data.bones[b].name
        for i in range(3):
            writer.curve(f'pose.bones["{root}"].location', i, f, result.locations[:, k, i].astype(np.float32),
                         LINEAR, group=root)


def _key_rigify_controls(context, writer, character, deform: retarget.Character, result: retarget.Result,
                         frames: np.ndarray) -> np.ndarray:
    """Keys on a generated Rigify rig's FK controls (and the torso's turn and location) that put
    its DEF- bones where the retarget put them; the limbs keyed to FK. Returns the
    solve's residual [F, K] (degrees)."""
    mats = retarget.pose_matrices(deform, result.quats, result.roots, result.locations)
    to_arm = np.linalg.inv(np.array(character.matrix_world))
    mats = np.einsum("ij,fbjk->fbik", to_arm, mats)
    rot = lambda name: mats[:, deform.names.index(name), :3, :3]
    targets = np.stack([np.array([nearest_rotation(m) for m in rot(d)]) for _, d in rigify_rig.CONTROLS], axis=1)
    hips = mats[:, deform.names.index("DEF-spine"), :3, 3]
    quats, torso_quats, locations, residual = rigify_rig.solve(context, character, targets, hips)
    quats = make_quaternions_continuous(np.concatenate([quats, torso_quats[:, None]], axis=1), axis=0)
    f = frames.astype(np.float64)
    for k, name in enumerate([c for c, _ in rigify_rig.CONTROLS] + [rigify_rig.TORSO]):
        for i in range(4):
            writer.curve(f'pose.bones["{name}"].rotation_quaternion', i, f, quats[:, k, i].astype(np.float32),
                         LINEAR, group=name)
    for i in range(3):
        writer.curve(f'pose.bones["{rigify_rig.TORSO}"].location', i, f, locations[:, i].astype(np.float32),
                     LINEAR, group=rigify_rig.TORSO)
    for name, prop, value in rigify_rig.SWITCHES:
        writer.curve(f'pose.bones["{name}"]["{prop}"]', 0, f[:1], np.full(1, value, np.float32), LINEAR, group=name)
    return residual


def _saved_state(obj) -> dict:
    anim = obj.animation_data
    return {"modes": {pb.name: pb.rotation_mode for pb in obj.pose.bones},
            "basis": {pb.name: pb.matrix_basis.copy() for pb in obj.pose.bones},
            "action": anim.action if anim else None,
            "slot": getattr(anim, "action_slot", None) if anim else None,
            "had_anim": anim is not None,
            "props": {k: obj[k] for k in (TRACK_ID_PROP, CHARACTER_PROP, "vtm_bone_map", "vtm_fps") if k in obj}}


def _restore(obj, saved: dict) -> None:
    if "switches" in saved:
        rigify_rig.restore_switches(obj, saved["switches"])
    for name, mode in saved["modes"].items():
        obj.pose.bones[name].rotation_mode = mode
        obj.pose.bones[name].matrix_basis = saved["basis"][name]
    if saved["had_anim"]:
        obj.animation_data.action = saved["action"]
        if saved["slot"] is not None:
            try:
                obj.animation_data.action_slot = saved["slot"]
            except (TypeError, RuntimeError, ReferenceError):
                pass
    elif obj.animation_data is not None:
        obj.animation_data_clear()
    for key in (TRACK_ID_PROP, CHARACTER_PROP, "vtm_bone_map", "vtm_fps"):
        if key in obj:
            del obj[key]
    for key, value in saved["props"].items():
        obj[key] = value


# --- panel: settings, the editable bone list, operators ----------------------------------

class VTM_BoneMapItem(PropertyGroup):
    role: StringProperty(name="Role")
    bones: StringProperty(name="Bone", description="Bone name (comma-separated for the spine and neck chains)")


def _is_character(self, obj):
    return obj.type == "ARMATURE" and (TRACK_ID_PROP not in obj or bool(obj.get(CHARACTER_PROP)))


def _is_track(self, obj):
    return obj.type == "ARMATURE" and TRACK_ID_PROP in obj and not obj.get(CHARACTER_PROP)


class VTM_CharacterSettings(PropertyGroup):
    target: PointerProperty(name="Character", type=bpy.types.Object, poll=_is_character,
                            description="The armature to animate (Mixamo, Rigify metarig, Unreal, any humanoid)")
    source: PointerProperty(name="Track", type=bpy.types.Object, poll=_is_track,
                            description="The imported track armature whose motion goes onto the character")
    in_place: BoolProperty(name="In Place", default=False, description="Keep the hips over their first position")
    bones: CollectionProperty(type=VTM_BoneMapItem)
    active: IntProperty(default=0)


def _map_from_items(settings) -> dict:
    out = {}
    for item in settings.bones:
        names = [n.strip() for n in item.bones.split(",") if n.strip()]
        if not names:
            continue
        out[item.role] = names if item.role in bone_map.CHAIN_ROLES else names[0]
    return out


def _fill_items(settings, mapping: dict) -> None:
    settings.bones.clear()
    for role in bone_map.ROLES:
        item = settings.bones.add()
        item.role = role
        value = mapping.get(role, "")
        item.bones = ", ".join(value) if isinstance(value, list) else value


class VTM_OT_character_auto_map(Operator):
    """Map the character's bones automatically (names, then the skeleton's shape)"""

    bl_idname = "vtm.character_auto_map"
    bl_label = "Auto Map Bones"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        return context.scene.vtm_character.target is not None

    def execute(self, context):
        settings = context.scene.vtm_character
        mapping = bone_map.auto_map(character_of(settings.target).skeleton())
        _fill_items(settings, mapping)
        missing = bone_map.missing_roles(mapping)
        if missing:
            self.report({"WARNING"}, "no bone found for: " + ", ".join(bone_map.role_label(r) for r in missing))
        return {"FINISHED"}


class VTM_OT_character_save_map(Operator, ExportHelper):
    """Save the bone map as a JSON preset"""

    bl_idname = "vtm.character_save_map"
    bl_label = "Save Bone Map"
    filename_ext = ".json"
    filter_glob: StringProperty(default="*.json", options={"HIDDEN"})

    def execute(self, context):
        bone_map.write_preset(self.filepath, _map_from_items(context.scene.vtm_character))
        return {"FINISHED"}


class VTM_OT_character_load_map(Operator, ImportHelper):
    """Load a bone map JSON preset"""

    bl_idname = "vtm.character_load_map"
    bl_label = "Load Bone Map"
    bl_options = {"REGISTER", "UNDO"}
    filename_ext = ".json"
    filter_glob: StringProperty(default="*.json", options={"HIDDEN"})

    def execute(self, context):
        try:
            mapping = bone_map.read_preset(self.filepath)
        except BoneMapError as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        _fill_items(context.scene.vtm_character, mapping)
        return {"FINISHED"}


class VTM_OT_animate_character(Operator):
    """Put the track's motion on the character (one action; one undo step)"""

    bl_idname = "vtm.animate_character"
    bl_label = "Animate Character"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context):
        s = context.scene.vtm_character
        return s.target is not None and s.source is not None

    def execute(self, context):
        settings = context.scene.vtm_character
        mapping = _map_from_items(settings) or None
        try:
            result = animate_character(context, settings.target, settings.source, mapping, settings.in_place)
        except CharacterError as exc:
            context.window_manager.vtm.last_error = str(exc)
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        context.window_manager.vtm.last_error = ""
        _fill_items(settings, result.mapping)
        self.report({"INFO"}, f"'{settings.target.name}' animated with {result.action.name}")
        return {"FINISHED"}


class VTM_UL_bone_map(bpy.types.UIList):
    def draw_item(self, context, layout, data, item, icon, active_data, active_propname, index=0):
        row = layout.row(align=True)
        row.label(text=bone_map.role_label(item.role))
        row.prop(item, "bones", text="")


class VTM_PT_character(Panel):
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Video to Motion"
    bl_label = "Character"
    bl_idname = "VTM_PT_character"
    bl_parent_id = "VTM_PT_main"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        layout = self.layout
        settings = context.scene.vtm_character
        layout.prop(settings, "target")
        layout.prop(settings, "source")
        layout.prop(settings, "in_place")
        row = layout.row(align=True)
        row.operator("vtm.character_auto_map", icon="BONE_DATA")
        row.operator("vtm.character_load_map", text="", icon="FILEBROWSER")
        row.operator("vtm.character_save_map", text="", icon="FILE_TICK")
        if len(settings.bones):
            layout.template_list("VTM_UL_bone_map", "", settings, "bones", settings, "active", rows=6)
        row = layout.row()
        row.scale_y = 1.3
        row.operator("vtm.animate_character", icon="ARMATURE_DATA")


CLASSES = (VTM_BoneMapItem, VTM_CharacterSettings, VTM_OT_character_auto_map, VTM_OT_character_save_map,
           VTM_OT_character_load_map, VTM_OT_animate_character, VTM_UL_bone_map, VTM_PT_character)


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    bpy.types.Scene.vtm_character = PointerProperty(type=VTM_CharacterSettings)


def unregister() -> None:
    del bpy.types.Scene.vtm_character
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
