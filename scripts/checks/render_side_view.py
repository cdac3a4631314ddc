#!/usr/bin/env python
"""Look at an imported scene from the side: a still with Cycles on the CPU.

    python scripts/checks/render_side_view.py SCENE.blend OUT.png [--frame 100] [--at X Y Z]

Opens a .blend made by the import (e.g. `scripts/batch_import.py --motion M.npz --blend
SCENE.blend`), puts a small sphere on every pose bone's head, a floor plane at Z = 0, a
cone where the footage's camera is, and renders from a side camera at `--at` (default 30 m
to the right, 3 m up) looking along -X. People standing on the floor, the camera at its
height above it: the world is consistent. Runs with `bpy` from PyPI (no display).
"""
from __future__ import annotations

import argparse
import math
import sys


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("blend")
    p.add_argument("out")
    p.add_argument("--frame", type=int, default=100)
    p.add_argument("--at", type=float, nargs=3, default=(30.0, 12.0, 3.0), metavar=("X", "Y", "Z"))
    args = p.parse_args()
    import bpy

    bpy.ops.wm.open_mainfile(filepath=args.blend)
    scene = bpy.context.scene
    scene.frame_set(args.frame)
    cameras = [o for o in scene.objects if o.type == "CAMERA"]
    body = bpy.data.materials.new("joint")
    body.diffuse_color = (0.9, 0.3, 0.2, 1)
    for arm in [o for o in scene.objects if o.type == "ARMATURE"]:
        for bone in arm.pose.bones:
            bpy.ops.mesh.primitive_uv_sphere_add(radius=0.06, segments=8, ring_count=6)
            ball = bpy.context.object
            ball.data.materials.append(body)
            ball.parent, ball.parent_type, ball.parent_bone = arm, "BONE", bone.name
            ball.matrix_world = arm.matrix_world @ bone.matrix
    bpy.ops.mesh.primitive_plane_add(size=80, location=(0, 20, 0))
    floor = bpy.data.materials.new("floor")
    floor.diffuse_color = (0.5, 0.6, 0.5, 1)
    bpy.context.object.data.materials.append(floor)
    if cameras:
        bpy.ops.mesh.primitive_cone_add(radius1=0.4, depth=0.8, location=cameras[0].matrix_world.translation)
        bpy.context.object.rotation_euler = cameras[0].matrix_world.to_euler()
    bpy.ops.object.light_add(type="SUN", location=(0, 0, 20))
    bpy.context.object.data.energy = 3
    data = bpy.data.cameras.new("side view")
    side = bpy.data.objects.new("side view", data)
    scene.collection.objects.link(side)
    side.location = args.at
    side.rotation_euler = (math.radians(84), 0, math.radians(90 if args.at[0] > 0 else -90))
    data.lens = 18
    scene.camera = side
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = 8
    scene.render.resolution_x, scene.render.resolution_y = 960, 540
    scene.render.filepath = args.out
    bpy.ops.render.render(write_still=True)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
