"""The built zip installed with Blender's own installer (runner: VTM_EXTENSION_ZIP)."""
from __future__ import annotations

import numpy as np

import bpy

from blender_cases.common import armatures_by_track, camera_to_world, world_heads


def case_installed_extension_enables_and_imports(ctx):
    assert ctx.ext.__name__ == "bl_ext.user_default.video_to_motion"
    assert "/tests/" not in ctx.ext.__file__ and hasattr(bpy.ops.vtm, "run")
    from video_to_motion.core.common.motion import write_motion
    from motions import random_motion

    motion, reference = random_motion(ctx.body_model, tracks={2: np.arange(5)})
    path = write_motion(ctx.tmp / "m.npz", motion)
    bpy.context.scene.vtm.people = "ALL"
    bpy.context.scene.vtm.root_smoothing = 0.0
    bpy.context.scene.vtm.ground = False
    assert bpy.ops.vtm.import_motion(filepath=str(path)) == {"FINISHED"}
    arm = armatures_by_track(bpy.data.objects)[2]
    np.testing.assert_allclose(world_heads(arm, 3), camera_to_world(reference[2]), atol=1e-4)
