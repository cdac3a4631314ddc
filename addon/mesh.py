"""A skinned SMPL body mesh for a track, from a `vtm.smpl_mesh/1` file (numpy only).

The worker converts the licence-gated SMPL model into that file (core.smpl_mesh); here
the track's mean shape is applied (v_template + shapedirs . betas) and the mesh is bound
to the armature with SMPL's own skinning weights: linear blend skinning, which is what
SMPL does without its pose correctives.
"""
from __future__ import annotations

import bpy
import numpy as np

from ..core.common.skeleton import JOINT_NAMES
from ..core.common.mesh_file import shaped_vertices

WEIGHT_EPS = 1e-4
JOINT_MISMATCH_M = 0.02


def build_body_mesh(collection, name: str, mesh: dict, keys, armature_obj, created, warnings: list[str]):
    """A mesh object parented to `armature_obj`, deformed by it. Returns the object."""
    verts = shaped_vertices(mesh, keys.betas)                               # [V, 3] armature space
    joints = mesh["j_regressor"].astype(np.float64) @ verts
    # The worker scales each person's skeleton to their body height (vtm.motion/2): the
    # mesh follows, scaled about the pelvis (the regressor's rows sum to one, so its joints
    # scale with it).
    rest = np.asarray(keys.rest_joints, np.float64)
    a, b = joints - joints[0], rest - rest[0]
    scale = float((a * b).sum() / max((a * a).sum(), 1e-12))
    verts = (verts - joints[0]) * scale + rest[0]
    joints = (joints - joints[0]) * scale + rest[0]
    mismatch = float(np.abs(joints - keys.rest_joints).max())
    if mismatch > JOINT_MISMATCH_M:
        warnings.append(f"the SMPL model in the preferences puts joints up to {mismatch * 100:.0f} cm from the "
                        "motion's skeleton; was the motion made with another body model?")
    faces = mesh["faces"].astype(np.int32)
    data = created.add(bpy.data.meshes.new(name))
    data.vertices.add(len(verts))
    data.vertices.foreach_set("co", verts.astype(np.float32).ravel())
    data.loops.add(faces.size)
    data.loops.foreach_set("vertex_index", faces.ravel())
    data.polygons.add(len(faces))
    data.polygons.foreach_set("loop_start", np.arange(0, faces.size, 3, dtype=np.int32))
    data.update()
    data.validate()
    if hasattr(data, "shade_smooth"):
        data.shade_smooth()
    else:  # before 4.1
        data.polygons.foreach_set("use_smooth", np.ones(len(faces), dtype=bool))

    obj = created.add(bpy.data.objects.new(name, data))
    collection.objects.link(obj)
    obj.parent = armature_obj
    obj.matrix_parent_inverse.identity()
    weights = mesh["weights"]
    for j, bone in enumerate(JOINT_NAMES):
        group = obj.vertex_groups.new(name=bone)
        column = weights[:, j]
        ids = np.flatnonzero(column > WEIGHT_EPS)
        # One call per distinct weight: SMPL's weights repeat a lot (many are exactly 1).
        values, inverse = np.unique(column[ids], return_inverse=True)
        for k, w in enumerate(values):
            group.add(ids[inverse == k].tolist(), float(w), "REPLACE")
    modifier = obj.modifiers.new("Armature", "ARMATURE")
    modifier.object = armature_obj
    modifier.use_vertex_groups = True
    obj["vtm_track_id"] = int(keys.track_id)
    return obj
