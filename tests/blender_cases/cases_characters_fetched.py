"""Public rigged characters (scripts/checks/get_test_characters.py fetches them into
$VTM_TEST_CHARACTERS): a real motion-capture walk put on each, held to the issue's limits."""
from __future__ import annotations

import os
from pathlib import Path

import bpy

from blender_cases.cases_characters import check_module, check_numbers


def case_public_characters_follow_real_motion(ctx):
    folder = Path(os.environ["VTM_TEST_CHARACTERS"])
    sample = Path(os.environ.get("VTM_SAMPLE_DATA", "sample_data")) / "bvh" / "01_01.bvh"
    check = check_module()
    motion = check.motion_from_bvh(sample, 90, ctx.tmp / "walk.npz")
    characters = ctx.module("addon.characters")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in characters.CHARACTER_SUFFIXES)
    assert files, f"no character files in {folder}"
    for path in files:
        row = check.run_one(path.stem, lambda: characters.append_character(bpy.context, path, []), motion,
                            ctx.tmp)
        check_numbers(row, path.stem)
        assert row["mesh moves cm"] > 1.0, f"{path.stem}: the skinned mesh does not move"
        for kind in ("fbx", "glb"):
            assert row[f"{kind} mm"] < 1.0, f"{path.stem}: {kind} round trip moves joints by {row[f'{kind} mm']:.2f} mm"
