"""Characters with the SMPL result's foot lock on (the default): CMU motion capture of a
walk (sample data) put on the built rigs; planted feet stay on the floor and do not slide."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

import bpy

from blender_cases.cases_characters import build_rig, check_module, check_numbers
from rigs import FAMILIES

SLIDE_CM_S = 5.0   # a planted foot moving slower than this over the floor stands still to the eye


def case_planted_feet_stay_on_the_floor_with_the_foot_lock(ctx):
    sample = Path(os.environ.get("VTM_SAMPLE_DATA", "sample_data")) / "bvh" / "01_01.bvh"
    check = check_module()
    motion = check.motion_from_bvh(sample, 90, ctx.tmp / "walk.npz")
    characters = ctx.module("addon.characters")
    importer = ctx.module("addon.importer")
    assert importer.ImportOptions().foot_lock > 0, "the foot lock is expected on by default"
    for family in FAMILIES:
        bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
        smpl = importer.import_motion(bpy.context, motion, importer.ImportOptions(root_smoothing=0.0)).armatures[0]
        rig = build_rig(f"{family} rig", family, turn_deg=0.0 if family == "blender" else 180.0,
                        scale=0.01 if family == "mixamo" else 1.0)
        result = characters.animate_character(bpy.context, rig, smpl)
        assert result.retarget.contact.sum() >= 30, f"{family}: too few planted frames to measure"
        row = check.measure(bpy.context, rig, smpl, result)
        label = f"{family} (foot lock on)"
        check_numbers(row, label, limit=2.0)
        assert np.isfinite(row["feet cm"]), f"{label}: no planted foot measured"
        assert row["slide cm/s"] <= SLIDE_CM_S, f"{label}: planted feet slide at {row['slide cm/s']:.1f} cm/s"


def case_generated_rigify_rig_keeps_planted_feet(ctx):
    """Rigify's generated rig on the walk (turning round): the legs hang from the hips,
    which the hips control alone could not turn past 180° nor reach with spine_fk.001 bent;
    the feet land where the retarget put them, so planted feet neither float nor slide."""
    sample = Path(os.environ.get("VTM_SAMPLE_DATA", "sample_data")) / "bvh" / "01_01.bvh"
    check = check_module()
    motion = check.motion_from_bvh(sample, 60, ctx.tmp / "walk.npz")
    characters = ctx.module("addon.characters")
    importer = ctx.module("addon.importer")
    retarget = ctx.module("core.common.retarget")
    rigify_rig = ctx.module("addon.rigify_rig")
    bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
    smpl = importer.import_motion(bpy.context, motion, importer.ImportOptions(root_smoothing=0.0)).armatures[0]
    rig = check.rigify_generated(bpy.context)
    bpy.ops.object.select_all(action="DESELECT")
    result = characters.animate_character(bpy.context, rig, smpl)
    assert result.retarget.contact.sum() >= 20, "too few planted frames to measure"
    # Where the retarget put the DEF- feet, and where the evaluated rig has them.
    deform = rigify_rig.deform_character(rig, characters.character_of(rig))
    mats = retarget.pose_matrices(deform, result.retarget.quats, result.retarget.roots, result.retarget.locations)
    feet = [deform.names.index(f"DEF-foot.{s}") for s in "LR"]
    m = np.array(rig.matrix_world)
    off = []
    for k, f in enumerate(result.frames):
        bpy.context.scene.frame_set(int(f))
        have = np.array([rig.pose.bones[f"DEF-foot.{s}"].head for s in "LR"]) @ m[:3, :3].T + m[:3, 3]
        off.append(np.linalg.norm(have - mats[k, feet, :3, 3], axis=-1))
    off_cm = 100 * np.percentile(off, 95) / result.retarget.scale
    assert off_cm <= 1.0, f"the rig's feet are {off_cm:.2f} cm from where the retarget put them (p95)"
    row = check.measure(bpy.context, rig, smpl, result)
    check_numbers(row, "rigify generated (foot lock on)")
    assert row["slide cm/s"] <= SLIDE_CM_S, f"rigify generated: planted feet slide at {row['slide cm/s']:.1f} cm/s"
