"""Characters: a track put on rigs built from bone lists in the Mixamo, Unreal and Blender
.L/.R naming families (with skinned meshes), on Blender's bundled Rigify metarig, and
its errors; measured with scripts/checks/check_characters.py's measure()."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

import bpy

from blender_cases.common import snapshot
from motions import random_motion
from rigs import FAMILIES, build
from video_to_motion.core.common.motion import write_motion

REPO = Path(__file__).resolve().parents[2]
LIMIT_DEG = 10.0


def check_module():
    spec = importlib.util.spec_from_file_location("vtm_check_characters", REPO / "scripts" / "checks" /
                                                  "check_characters.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_rig(name, family, turn_deg=180.0, scale=1.0, mesh=True, seed=0, drop=()):
    """An armature object from tests/rigs.py's bone list (random rolls) under an object
    transform that turns it about Z and scales it, with a box of skinned vertices around
    every bone (mesh and bones line up)."""
    rng = np.random.default_rng(seed)
    bones = [b for b in build(family) if b[0] not in drop]
    arm = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, arm)
    bpy.context.scene.collection.objects.link(obj)
    obj.rotation_euler = (0.0, 0.0, np.radians(turn_deg))
    obj.scale = (scale,) * 3
    bpy.context.view_layer.objects.active = obj
    obj.select_set(True)
    bpy.ops.object.mode_set(mode="EDIT")
    for bname, parent, head, tail in bones:
        eb = arm.edit_bones.new(bname)
        eb.head, eb.tail = tuple(head / scale), tuple(tail / scale)
        eb.roll = float(rng.uniform(-np.pi, np.pi))
        if parent:
            eb.parent = arm.edit_bones[parent]
    bpy.ops.object.mode_set(mode="OBJECT")
    if mesh:
        verts, faces, groups = [], [], []
        for k, (bname, _, head, tail) in enumerate(bones):
            axis = (tail - head) / np.linalg.norm(tail - head)
            side = np.cross(axis, [0.3, 0.5, 0.8])
            side /= np.linalg.norm(side)
            up = np.cross(axis, side)
            base = len(verts)
            for end in (head, tail):
                for a, b in ((1, 1), (1, -1), (-1, -1), (-1, 1)):
                    verts.append(end + 0.03 * (a * side + b * up))
            faces += [(base, base + 1, base + 2, base + 3), (base + 4, base + 5, base + 6, base + 7)]
            groups.append((bname, range(base, base + 8)))
        me = bpy.data.meshes.new(f"{name} body")
        me.from_pydata([tuple(v / scale) for v in verts], [], faces)   # in the armature's space, as the bones
        body = bpy.data.objects.new(f"{name} body", me)
        bpy.context.scene.collection.objects.link(body)
        body.parent = obj
        for bname, idx in groups:
            vg = body.vertex_groups.new(name=bname)
            vg.add(list(idx), 1.0, "REPLACE")
        body.modifiers.new("Armature", "ARMATURE").object = obj
    bpy.context.view_layer.update()
    return obj


def imported_track(ctx, frames=30, seed=4):
    motion, _ = random_motion(ctx.body_model, tracks={1: np.arange(frames)}, seed=seed, pose_scale=0.25)
    path = write_motion(ctx.tmp / "clip.npz", motion)
    importer = ctx.module("addon.importer")
    options = importer.ImportOptions(root_smoothing=0.0)   # the foot lock on, as by default
    return importer.import_motion(bpy.context, path, options).armatures[0]


def check_numbers(row, label, limit=LIMIT_DEG, feet=True):
    for key in ("thigh", "shin", "upper arm", "forearm", "spine", "neck", "facing"):
        assert row[key] <= limit, f"{label}: {key} {row[key]:.2f} deg (> {limit})"
    assert row["root %"] <= 10.0, f"{label}: root displacement off by {row['root %']:.1f} %"
    if feet and np.isfinite(row["feet cm"]):
        assert row["feet cm"] <= 3.0, f"{label}: planted feet {row['feet cm']:.2f} cm off the floor"


def case_built_rigs_follow_the_track(ctx):
    """On the action API of the running Blender (legacy on 4.2, slotted from 4.4: the
    support matrix runs this on both)."""
    characters = ctx.module("addon.characters")
    slotted = ctx.module("addon.animation").has_slotted_actions()
    measure = check_module().measure
    for family in FAMILIES:
        bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
        smpl = imported_track(ctx)
        rig = build_rig(f"{family} rig", family, turn_deg=0.0 if family == "blender" else 180.0,
                        scale=0.01 if family == "mixamo" else 1.0)
        body = rig.children[0]
        result = characters.animate_character(bpy.context, rig, smpl)
        assert rig["vtm_character"] is True and rig["vtm_track_id"] == smpl["vtm_track_id"]
        assert rig.animation_data.action == result.action and result.action["vtm_track_id"] == 1
        if slotted:
            assert rig.animation_data.action_slot is not None
        row = measure(bpy.context, rig, smpl, result)
        check_numbers(row, f"{family} slotted={slotted}", limit=2.0)
        assert row["mesh moves cm"] > 1.0, f"{family}: the skinned mesh does not move"
        assert body.modifiers[0].object == rig


def case_rigify_metarig(ctx):
    characters = ctx.module("addon.characters")
    check = check_module()
    smpl = imported_track(ctx)
    rig = check.rigify_metarig(bpy.context)
    mapping = characters.mapping_for(rig)
    assert mapping["hips"] == "spine" and mapping["head"] == "spine.006"
    assert mapping["spine"] == ["spine.001", "spine.002", "spine.003"] and mapping["neck"] == ["spine.004", "spine.005"]
    assert mapping["leftUpperArm"] == "upper_arm.L" and mapping["rightLowerLeg"] == "shin.R"
    result = characters.animate_character(bpy.context, rig, smpl)
    check_numbers(check.measure(bpy.context, rig, smpl, result), "rigify metarig")


def case_in_place_and_preset_from_the_panel_operators(ctx):
    smpl = imported_track(ctx)
    rig = build_rig("ue", "unreal")
    settings = bpy.context.scene.vtm_character
    settings.target, settings.source, settings.in_place = rig, smpl, True
    assert bpy.ops.vtm.character_auto_map() == {"FINISHED"}
    items = {i.role: i.bones for i in settings.bones}
    assert items["leftLowerLeg"] == "calf_l" and items["spine"] == ", ".join(f"spine_0{k}" for k in range(1, 6))
    preset = ctx.tmp / "ue.json"
    assert bpy.ops.vtm.character_save_map(filepath=str(preset)) == {"FINISHED"}
    settings.bones.clear()
    assert bpy.ops.vtm.character_load_map(filepath=str(preset)) == {"FINISHED"}
    assert {i.role: i.bones for i in settings.bones} == items
    assert bpy.ops.vtm.animate_character() == {"FINISHED"}
    pelvis = rig.pose.bones["pelvis"]
    start, end = (int(v) for v in rig.animation_data.action.frame_range)
    m = np.array(rig.matrix_world)
    at = []
    for f in (start, end):
        bpy.context.scene.frame_set(f)
        at.append(m[:3, :3] @ np.array(pelvis.head) + m[:3, 3])
    assert np.abs(at[0][:2] - at[1][:2]).max() < 1e-4, "in place: the hips stay over their start"


def case_missing_bones_are_named_and_nothing_changes(ctx):
    characters = ctx.module("addon.characters")
    smpl = imported_track(ctx)
    rig = build_rig("legless", "mixamo", drop=("mixamorig:LeftLeg", "mixamorig:LeftFoot", "mixamorig:LeftToeBase"))
    modes = {pb.name: pb.rotation_mode for pb in rig.pose.bones}
    before = snapshot()
    try:
        characters.animate_character(bpy.context, rig, smpl)
    except characters.CharacterError as exc:
        assert "left lower leg" in str(exc) and "left foot" in str(exc), str(exc)
    else:
        raise AssertionError("a rig without a left shin and foot was animated")
    assert snapshot() == before
    assert {pb.name: pb.rotation_mode for pb in rig.pose.bones} == modes and rig.animation_data is None
    assert "vtm_character" not in rig


def case_failure_while_keying_restores_the_character(ctx):
    characters = ctx.module("addon.characters")
    smpl = imported_track(ctx)
    rig = build_rig("mixamo rig", "mixamo")
    previous = bpy.data.actions.new("user action")
    rig.animation_data_create().action = previous
    for k, pb in enumerate(rig.pose.bones):
        pb.rotation_mode = ("XYZ", "ZXY", "AXIS_ANGLE")[k % 3]
    modes = {pb.name: pb.rotation_mode for pb in rig.pose.bones}
    before = snapshot()
    original = characters.ActionWriter.assign

    def broken(self):
        raise RuntimeError("simulated failure")

    characters.ActionWriter.assign = broken
    try:
        characters.animate_character(bpy.context, rig, smpl)
    except characters.CharacterError as exc:
        assert "undone" in str(exc)
    else:
        raise AssertionError("the failure did not surface")
    finally:
        characters.ActionWriter.assign = original
    assert snapshot() == before and rig.animation_data.action == previous
    assert {pb.name: pb.rotation_mode for pb in rig.pose.bones} == modes


def case_character_fbx_and_gltf_round_trips(ctx):
    characters = ctx.module("addon.characters")
    check = check_module()
    smpl = imported_track(ctx)
    rig = build_rig("mixamo rig", "mixamo", scale=0.01)
    result = characters.animate_character(bpy.context, rig, smpl)
    errs = check.round_trips(bpy.context, rig, result.frames[::5],
                             {"fbx": ctx.tmp / "character.fbx", "glb": ctx.tmp / "character.glb"})
    for kind, err in errs.items():
        assert err < 1e-3, f"{kind} round trip moves joints by {err * 1000:.2f} mm"


def case_character_file_append_and_bad_files(ctx):
    characters = ctx.module("addon.characters")
    build_rig("blend rig", "blender")
    path = ctx.tmp / "rig.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(path), copy=True)
    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    smpl = imported_track(ctx)
    created = []
    rig = characters.append_character(bpy.context, path, created)
    assert rig.name == "blend rig" and any(o.type == "MESH" for o in created if isinstance(o, bpy.types.Object))
    characters.animate_character(bpy.context, rig, smpl)
    before = snapshot()
    for bad, words in ((ctx.tmp / "nope.glb", "does not exist"), (ctx.tmp / "clip.npz", "not a character file")):
        try:
            characters.append_character(bpy.context, bad, [])
        except characters.CharacterError as exc:
            assert words in str(exc), str(exc)
        else:
            raise AssertionError(f"{bad} was accepted")
    assert snapshot() == before


def case_batch_import_puts_the_track_on_a_character_file(ctx):
    import json

    motion, _ = random_motion(ctx.body_model, tracks={3: np.arange(12)}, seed=2, pose_scale=0.25)
    clip = write_motion(ctx.tmp / "clip.npz", motion)
    build_rig("mixamo rig", "mixamo", scale=0.01)
    rig_file = ctx.tmp / "rig.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(rig_file), copy=True)
    spec = importlib.util.spec_from_file_location("vtm_batch_import", REPO / "scripts" / "batch_import.py")
    batch = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(batch)
    out = ctx.tmp / "out"
    report = ctx.tmp / "report.json"
    code = batch.main(["batch_import.py", "--", "--motion", str(clip), "--character", str(rig_file), "--blend",
                       str(out / "scene.blend"), "--fbx", str(out / "character.fbx"), "--fbx-preset", "UNITY",
                       "--report", str(report)])
    entry = json.loads(report.read_text())["results"][0]
    assert code == 0, entry
    assert entry["character"]["armature"] == "mixamo rig" and entry["character"]["track"] == 3
    assert (out / "character.fbx").stat().st_size > 0
    bpy.ops.wm.open_mainfile(filepath=str(out / "scene.blend"))
    rig = bpy.data.objects["mixamo rig"]
    assert rig["vtm_character"] and rig["vtm_track_id"] == 3 and rig.animation_data.action.name == "mixamo rig track 3"
    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    bpy.ops.import_scene.fbx(filepath=str(out / "character.fbx"), anim_offset=0.0)
    names = {b.name for o in bpy.data.objects if o.type == "ARMATURE" for b in o.data.bones}
    assert "mixamorig:LeftUpLeg" in names and "pelvis" not in names, "the FBX carries the character, not SMPL"
    # A preset that leaves out essential bones fails that input, naming them; no outputs.
    bad = ctx.tmp / "bad.json"
    bad.write_text('{"schema": "vtm.bonemap/1", "bones": {"hips": "mixamorig:Hips"}}')
    code = batch.main(["batch_import.py", "--", "--motion", str(clip), "--character", str(rig_file),
                       "--character-map", str(bad), "--blend", str(ctx.tmp / "bad.blend"), "--report", str(report)])
    entry = json.loads(report.read_text())["results"][0]
    assert code == 1 and "left upper leg" in entry["error"] and not (ctx.tmp / "bad.blend").exists()


def case_generated_rigify_rig_follows_on_its_deform_bones(ctx):
    """Rigify's generated rig: keys on its FK controls (limbs switched to FK), measured on
    the DEF- bones the mesh follows, as the depsgraph evaluates them."""
    characters = ctx.module("addon.characters")
    rigify_rig = ctx.module("addon.rigify_rig")
    check = check_module()
    smpl = imported_track(ctx, frames=10)
    rig = check.rigify_generated(bpy.context)
    assert rigify_rig.is_generated(rig) and not rigify_rig.is_generated(smpl)
    mapping = characters.mapping_for(rig)
    assert mapping["leftUpperLeg"] == "DEF-thigh.L" and mapping["hips"] == "DEF-spine"
    # Without the lock on the character: its legs would then leave the source's directions
    # (planted feet follow the source's, on a rig in other proportions) and the solve's
    # exactness is under test here; cases_characters_walk checks the lock.
    result = characters.animate_character(bpy.context, rig, smpl, lock_feet=False)
    assert result.residual is not None and result.residual.shape == (len(result.frames), len(rigify_rig.CONTROLS))
    paths = {c.data_path for c in ctx.module("addon.animation").action_fcurves(result.action, rig)}
    assert {'pose.bones["thigh_fk.L"].rotation_quaternion', 'pose.bones["torso"].rotation_quaternion',
            'pose.bones["torso"].location'} <= paths
    assert not any('"DEF-' in p for p in paths), "keys on constraint-driven DEF- bones"
    bpy.context.scene.frame_set(int(result.frames[0]))
    assert all(rig.pose.bones[s]["IK_FK"] == 1.0 for s in rigify_rig.FK_SWITCHES), "limbs not in FK"
    row = check.measure(bpy.context, rig, smpl, result)
    for key, limit in (("thigh", 0.5), ("shin", 0.5), ("upper arm", 0.5), ("forearm", 0.5), ("spine", 1.0),
                       ("facing", 1.0)):   # exact but for rounding (the spine and facing: the solve's tolerance)
        assert row[key] <= limit, f"rigify generated: {key} {row[key]:.2f} deg"
    assert row["neck"] <= LIMIT_DEG, f"rigify generated: neck {row['neck']:.2f} deg (> {LIMIT_DEG})"
    assert row["root %"] <= 10.0, f"rigify generated: root displacement off by {row['root %']:.1f} %"


def case_generated_rigify_failure_restores_the_rig(ctx):
    characters = ctx.module("addon.characters")
    rigify_rig = ctx.module("addon.rigify_rig")
    check = check_module()
    smpl = imported_track(ctx, frames=4)
    rig = check.rigify_generated(bpy.context)
    switches = {(b, p): rig.pose.bones[b][p] for b, p, _ in rigify_rig.SWITCHES}
    basis = {pb.name: tuple(map(tuple, pb.matrix_basis)) for pb in rig.pose.bones}
    before = snapshot()
    original = rigify_rig.solve

    def broken(*args, **kwargs):
        original(*args, **kwargs)   # the controls are moved, then it fails
        raise RuntimeError("simulated failure")

    rigify_rig.solve = broken
    try:
        characters.animate_character(bpy.context, rig, smpl)
    except characters.CharacterError as exc:
        assert "undone" in str(exc)
    else:
        raise AssertionError("the failure did not surface")
    finally:
        rigify_rig.solve = original
    assert snapshot() == before
    assert {(b, p): rig.pose.bones[b][p] for b, p, _ in rigify_rig.SWITCHES} == switches
    assert {pb.name: tuple(map(tuple, pb.matrix_basis)) for pb in rig.pose.bones} == basis


def case_panel_section_draws_the_bone_list(ctx):
    from blender_cases import cases_addon

    class Layout(cases_addon.FakeLayout):
        def _child(self, *args, **kwargs):
            return Layout(self.log)

        row = column = box = split = _child

        def template_list(self, list_type, list_id, data, prop, active_data, active_prop, **kwargs):
            assert hasattr(bpy.types, list_type) and prop in data.bl_rna.properties
            self.log.append(("list", len(getattr(data, prop))))

    smpl = imported_track(ctx, frames=6)
    rig = build_rig("rig", "blender", mesh=False)
    settings = bpy.context.scene.vtm_character
    assert settings.bl_rna.properties["target"].fixed_type.identifier == "Object"
    log = []
    bpy.types.VTM_PT_character.draw(cases_addon._WithLayout(None, Layout(log)), bpy.context)
    assert ("operator", "vtm.animate_character") in log and not any(e[0] == "list" for e in log)
    assert not bpy.ops.vtm.animate_character.poll()
    settings.target, settings.source = rig, smpl
    assert bpy.ops.vtm.character_auto_map() == {"FINISHED"}
    log = []
    bpy.types.VTM_PT_character.draw(cases_addon._WithLayout(None, Layout(log)), bpy.context)
    assert ("list", len(ctx.module("core.common.bone_map").ROLES)) in log and bpy.ops.vtm.animate_character.poll()
    # The pickers offer characters and tracks apart.
    characters = ctx.module("addon.characters")
    assert characters._is_character(None, rig) and not characters._is_character(None, smpl)
    assert characters._is_track(None, smpl) and not characters._is_track(None, rig)
