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
