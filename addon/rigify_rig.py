"""A generated Rigify rig as a retarget target: its FK controls are keyed so that its
deform (DEF-) bones, which the mesh follows, take the pose the retarget asks of them.

A generated rig poses its DEF- bones through constraints (ORG and MCH helpers, tweak
bones, IK/FK switches), so keys on the DEF- bones would not show. Here the limbs are
switched to FK (the rig's IK_FK properties), the retarget is solved on the DEF- bones
(with the metarig's hierarchy, which the ORG- bones keep), and then, frame by frame,
each FK control is turned by the rotation that takes its DEF- bone from where the rig
puts it to where it should be (and the torso moved so the hips' DEF- bone is in place),
parents before children, reading each DEF- bone back from the evaluated rig after its
parents were set. Rigify spreads twist over B-Bone segments, so some DEF- bones keep a
residual (returned per bone); the hips' residual moves the legs' roots, so the thighs and
shins are aimed by two-bone IK at the ankles the retarget asked for: planted feet stay put.
"""
from __future__ import annotations

import numpy as np
from mathutils import Matrix

from ..core.common import retarget
from ..core.common.rotations import nearest_rotation

# (control, its DEF- bone) parents first: the order in which a frame is solved.
CONTROLS = (
    ("hips", "DEF-spine"), ("spine_fk.001", "DEF-spine.001"), ("spine_fk.002", "DEF-spine.002"),
    ("spine_fk.003", "DEF-spine.003"), ("neck", "DEF-spine.004"), ("head", "DEF-spine.006"),
) + tuple((f"{c}.{s}", f"DEF-{d}.{s}") for s in "LR" for c, d in (
    ("shoulder", "shoulder"), ("upper_arm_fk", "upper_arm"), ("forearm_fk", "forearm"), ("hand_fk", "hand"),
    ("thigh_fk", "thigh"), ("shin_fk", "shin"), ("foot_fk", "foot"), ("toe_fk", "toe")))
TORSO = "torso"   # carries the whole body: its location puts DEF-spine's head in place
# The rig's switches, as the solve needs them: limbs in FK (IK_FK 1), and limbs, neck and
# head following the body's rotation (so a control's DEF- bone turns with its parent's).
SWITCHES = tuple((f"{b}.{s}", p, 1.0) for b in ("thigh_parent", "upper_arm_parent") for s in "LR"
                 for p in ("IK_FK", "FK_limb_follow")) + ((TORSO, "neck_follow", 1.0), (TORSO, "head_follow", 1.0))
FK_SWITCHES = tuple(dict.fromkeys(b for b, p, _ in SWITCHES if p == "IK_FK"))
MAX_PASSES = 2   # the twist Rigify spreads over B-Bone segments keeps some bones above the tolerance


def is_generated(obj) -> bool:
    """True for an armature made by Rigify's Generate (its FK controls and DEF- bones)."""
    bones = obj.data.bones
    return (TORSO in bones and all(c in bones and d in bones for c, d in CONTROLS)
            and all(b in obj.pose.bones and p in obj.pose.bones[b] for b, p, _ in SWITCHES))


def deform_character(obj, base: retarget.Character) -> retarget.Character:
    """The rig's DEF- bones as a retarget Character: rest matrices and tails of the DEF-
    bones, parents from their ORG- bones (the metarig's tree; the DEF- bones themselves
    hang from ORG- and tweak helpers). Only DEF- bones with an ORG- twin are kept (the
    limbs' extra B-Bone segments are not)."""
    names = [n for n in base.names if n.startswith("DEF-") and f"ORG-{n[4:]}" in obj.data.bones]
    keep = [base.names.index(n) for n in names]
    parents = []
    for n in names:
        org = obj.data.bones[f"ORG-{n[4:]}"].parent
        while org is not None and not (org.name.startswith("ORG-") and f"DEF-{org.name[4:]}" in names):
            org = org.parent
        parents.append(names.index(f"DEF-{org.name[4:]}") if org is not None else -1)
    return retarget.Character(names=names, parents=np.array(parents), rest=base.rest[keep], tails=base.tails[keep],
                              matrix_world=base.matrix_world, floor_z=base.floor_z)


def set_switches(obj) -> dict:
    """Set the rig's SWITCHES; returns the previous values (for restore_switches)."""
    saved = {(b, p): obj.pose.bones[b][p] for b, p, _ in SWITCHES}
    for b, p, value in SWITCHES:
        obj.pose.bones[b][p] = value
    return saved


def restore_switches(obj, saved: dict) -> None:
    for (b, p), value in saved.items():
        obj.pose.bones[b][p] = value


def _angles(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angles (degrees) between rotations a, b [..., 3, 3]."""
    cos = (np.einsum("...ij,...ij->...", a, b) - 1) / 2
    return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))


def _place_torso(torso, hips_def, head: np.ndarray) -> None:
    """Move the torso so that DEF-spine's head (as last evaluated) comes to `head` [3]
    (armature space); the location runs along the torso's parent's (rest) axes."""
    axes = nearest_rotation(np.array(torso.matrix)[:3, :3]) @ nearest_rotation(np.array(torso.matrix_basis)[:3, :3]).T
    torso.location = tuple(np.array(torso.location) + axes.T @ (head - np.array(hips_def.head)))


def solve(context, obj, targets: np.ndarray, hips_head: np.ndarray, legs: np.ndarray | None = None,
          tolerance_deg: float = 0.05, max_passes: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Control poses putting the DEF- bones at `targets`.

    targets [F, K, 3, 3] armature-space rotations of the DEF- bones of CONTROLS (rest
    rotation included), hips_head [F, 3] armature-space head of DEF-spine; legs [F, 2, 3,
    3] (left, right; hip, knee, ankle) the heads of the DEF- thigh, shin and foot where
    the retarget put them (armature space), or None. Returns the controls' rotation
    quaternions [F, K, 4] (w, x, y, z), the torso's location [F, 3] and the remaining
    angle of each DEF- bone [F, K] (degrees).

    Each pass reads the evaluated rig and corrects every control, parents first, each
    read back after the one before: a control turns its DEF- bone onto the target with
    its parents already in place. The rig's hips keep part of their twist in the B-Bone
    segments, which moves the legs' roots: with `legs`, each thigh and shin are turned
    (two-bone IK from where the rig put the hip) so the ankle still lands where the
    retarget put it, and a planted foot stays planted. Frames start from the previous
    frame's pose."""
    max_passes = MAX_PASSES if max_passes is None else max_passes
    pose = obj.pose.bones
    ctrls = [pose[c] for c, _ in CONTROLS]
    defs = [pose[d] for _, d in CONTROLS]
    torso, hips_def = pose[TORSO], pose["DEF-spine"]
    names = [d for _, d in CONTROLS]
    thighs = {names.index(f"DEF-thigh.{s}"): (i, names.index(f"DEF-shin.{s}")) for i, s in enumerate("LR")}
    for pb in ctrls + [torso]:
        pb.rotation_mode = "QUATERNION"
        pb.matrix_basis.identity()
    n_frames, n_ctrl = targets.shape[:2]
    quats = np.empty((n_frames, n_ctrl, 4))
    locations = np.empty((n_frames, 3))
    residual = np.empty((n_frames, n_ctrl))
    for f in range(n_frames):
        want = targets[f].copy()
        for step in range(max_passes + 1):
            context.view_layer.update()
            have = np.array([nearest_rotation(np.array(d.matrix)[:3, :3]) for d in defs])
            residual[f] = _angles(have, want)
            if step == max_passes or residual[f].max() < tolerance_deg:
                break
            _place_torso(torso, hips_def, hips_head[f])
            for k, (ctrl, bone) in enumerate(zip(ctrls, defs)):
                context.view_layer.update()
                if legs is not None and k in thighs:
                    side, shin = thighs[k]
                    hip, knee, ankle = legs[f, side]
                    turn_thigh, turn_shin = retarget.two_bone_turns(hip, knee, ankle, np.array(bone.head), ankle)
                    want[k], want[shin] = turn_thigh @ targets[f, k], turn_shin @ targets[f, shin]
                have_k = nearest_rotation(np.array(bone.matrix)[:3, :3])
                ctrl_rot = nearest_rotation(np.array(ctrl.matrix)[:3, :3])
                basis = nearest_rotation(np.array(ctrl.matrix_basis)[:3, :3])
                fix = want[k] @ have_k.T                                     # armature-space turn of DEF k
                ctrl.rotation_quaternion = Matrix((basis @ ctrl_rot.T @ fix @ ctrl_rot).tolist()).to_quaternion()
                if k == 0:   # the hips turn about the torso's pivot: put them back before the legs
                    context.view_layer.update()
                    _place_torso(torso, hips_def, hips_head[f])
        _place_torso(torso, hips_def, hips_head[f])   # the rotations are final: one move puts the hips
        quats[f] = [tuple(c.rotation_quaternion) for c in ctrls]
        locations[f] = tuple(torso.location)
    return quats, locations, residual
