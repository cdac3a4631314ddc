"""A generated Rigify rig as a retarget target: its FK controls are keyed so that its
deform (DEF-) bones, which the mesh follows, take the pose the retarget asks of them.

A generated rig poses its DEF- bones through constraints (ORG and MCH helpers, tweak
bones, IK/FK switches), so keys on the DEF- bones would not show. Here the limbs are
switched to FK (the rig's IK_FK properties), the retarget is solved on the DEF- bones
(with the metarig's hierarchy, which the ORG- bones keep), and then, frame by frame, the
controls are set from the evaluated rig: the torso takes the hips' turn and puts the
hips' DEF- bone in place, the hips control and spine_fk.001 are solved together (below
the torso's pivot the chain hangs reversed and each of them turns both the hips and the
lower back), and every other FK control is turned by the rotation that takes its DEF-
bone from where the rig puts it to where it should be, parents before children. The hips
being exact, the legs' roots are, and planted feet stay planted. Rigify spreads twist
over B-Bone segments, so some DEF- bones keep a twist residual (returned per bone).
"""
from __future__ import annotations

import numpy as np
from mathutils import Matrix

from ..core.common import retarget
from ..core.common.rotations import (axis_angle_to_matrix, matrix_to_axis_angle, nearest_rotation,
                                    quaternion_to_matrix)

# (control, its DEF- bone): the spine (hips first), then chains from it, each parents first.
SPINE = (("hips", "DEF-spine"), ("spine_fk.001", "DEF-spine.001"), ("spine_fk.002", "DEF-spine.002"),
         ("spine_fk.003", "DEF-spine.003"))
CHAINS = ((("neck", "DEF-spine.004"), ("head", "DEF-spine.006")),) + tuple(
    tuple((f"{c}.{s}", f"DEF-{d}.{s}") for c, d in chain) for s in "LR" for chain in (
        (("shoulder", "shoulder"), ("upper_arm_fk", "upper_arm"), ("forearm_fk", "forearm"), ("hand_fk", "hand")),
        (("thigh_fk", "thigh"), ("shin_fk", "shin"), ("foot_fk", "foot"), ("toe_fk", "toe"))))
CONTROLS = SPINE + tuple(pair for chain in CHAINS for pair in chain)
# Indices into CONTROLS of the chains' bones by depth: no bone of a level moves another's,
# so one evaluation of the rig serves a whole level.
LEVELS = tuple(tuple(CONTROLS.index(chain[d]) for chain in CHAINS if d < len(chain))
               for d in range(max(map(len, CHAINS))))
TORSO = "torso"   # carries the whole body: its turn and location put the hips' DEF- bone in place
# The rig's switches, as the solve needs them: limbs in FK (IK_FK 1), and limbs, neck and
# head following the body's rotation (so a control's DEF- bone turns with its parent's).
SWITCHES = tuple((f"{b}.{s}", p, 1.0) for b in ("thigh_parent", "upper_arm_parent") for s in "LR"
                 for p in ("IK_FK", "FK_limb_follow")) + ((TORSO, "neck_follow", 1.0), (TORSO, "head_follow", 1.0))
FK_SWITCHES = tuple(dict.fromkeys(b for b, p, _ in SWITCHES if p == "IK_FK"))
SPINE_ROUNDS = 2
LOWER_SPINE_ITERATIONS = 8
LM_TRIES = 4
MAX_PASSES = 2   # a second pass when a DEF- bone still points off after the first


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


def _turn(ctrl, bone, want: np.ndarray) -> None:
    """Turn the control `ctrl` by the armature-space rotation that takes its DEF- bone
    (as last evaluated) onto `want` [3, 3]."""
    ctrl_rot = _rotation(ctrl)
    basis = nearest_rotation(np.array(ctrl.matrix_basis)[:3, :3])
    fix = want @ _rotation(bone).T
    ctrl.rotation_quaternion = Matrix((basis @ ctrl_rot.T @ fix @ ctrl_rot).tolist()).to_quaternion()


def _rotation(pb) -> np.ndarray:
    return nearest_rotation(np.array(pb.matrix)[:3, :3])


def _direction_error(have: np.ndarray, want: np.ndarray) -> np.ndarray:
    """Angles (degrees) [K] of DEF- bones at rotations `have` (the hips first) from `want`
    [K, 3, 3]: the hips in full, the others by their direction (the twist Rigify keeps in
    B-Bone segments, or gives the spine from the hips, no control can take away)."""
    hips = _angles(have[0], want[0])
    rest = np.degrees(np.arccos(np.clip(np.einsum("ki,ki->k", have[1:, :, 1], want[1:, :, 1]), -1.0, 1.0)))
    return np.concatenate([[hips], rest])


def _lower_spine_residual(defs, want_hips: np.ndarray, want_back: np.ndarray) -> np.ndarray:
    """[6]: the hips' DEF- bone's rotation from its goal (rotation vector) and the lower
    back's direction (Y axis) from its goal."""
    hips, back = _rotation(defs[0]), _rotation(defs[1])
    return np.concatenate([matrix_to_axis_angle(hips @ want_hips.T), back[:, 1] - want_back[:, 1]])


def _solve_lower_spine(context, ctrls, defs, want_hips: np.ndarray, want_back: np.ndarray, tolerance_deg: float,
                       memory: dict, iterations: int = LOWER_SPINE_ITERATIONS, step: float = 1e-3) -> None:
    """Turn the hips control and spine_fk.001 (`ctrls`) so the hips' and the lower back's
    DEF- bones (`defs`) meet their goals. Below the pivot each of the two controls turns
    both bones (the hips' turn passes half through each of two helpers with spine_fk.001
    between), so they are solved together: Levenberg-Marquardt on their six local angles,
    the Jacobian by finite differences on the evaluated rig, a step kept only if it helps.
    `memory` keeps the last Jacobian: the next frame tries it first (one evaluation of
    the rig instead of seven) and measures a new one only when it does not help."""
    def residual():
        context.view_layer.update()
        return _lower_spine_residual(defs, want_hips, want_back)

    def set_turns(bases, delta):
        for c, basis, d in zip(ctrls, bases, delta.reshape(2, 3)):
            c.rotation_quaternion = Matrix((basis @ axis_angle_to_matrix(d)).tolist()).to_quaternion()

    tolerance = np.radians(tolerance_deg)
    damping = 1e-3
    r = residual()
    for _ in range(iterations):
        if np.abs(r).max() < tolerance:
            return
        bases = [quaternion_to_matrix(np.array(c.rotation_quaternion)) for c in ctrls]
        fresh = "jacobian" not in memory
        if fresh:
            memory["jacobian"] = np.empty((6, 6))
            for j in range(6):
                set_turns(bases, np.eye(6)[j] * step)
                memory["jacobian"][:, j] = (residual() - r) / step
        jac = memory["jacobian"]
        normal, gradient = jac.T @ jac, jac.T @ r
        for _ in range(LM_TRIES if fresh else 1):
            set_turns(bases, np.linalg.solve(normal + damping * (np.diag(np.diag(normal)) + np.eye(6)), -gradient))
            tried = residual()
            if tried @ tried < r @ r:
                r, damping = tried, damping / 4
                break
            damping *= 8
        else:
            set_turns(bases, np.zeros(6))
            if fresh:
                return
            del memory["jacobian"]   # an old Jacobian that does not help: measure it anew
            damping = 1e-3


def solve(context, obj, targets: np.ndarray, hips_head: np.ndarray, tolerance_deg: float = 0.05,
          max_passes: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Control poses putting the DEF- bones at `targets`.

    targets [F, K, 3, 3] armature-space rotations of the DEF- bones of CONTROLS (rest
    rotation included), hips_head [F, 3] armature-space head of DEF-spine. Returns the
    controls' rotation quaternions [F, K, 4] (w, x, y, z), the torso's rotation quaternion
    [F, 4] and location [F, 3], and the remaining angle of each DEF- bone [F, K] (degrees).

    The torso takes the hips' turn from rest: the hips control passes half of its own turn
    through each of two helpers, which cannot turn the body past 180°, and keeps the rest
    small. Each pass then reads the evaluated rig and corrects the spine (see
    _solve_lower_spine), then the other controls one depth of their chains at a time,
    parents first, each depth read back after the one before. Frames start from the
    previous frame's pose."""
    max_passes = MAX_PASSES if max_passes is None else max_passes
    pose = obj.pose.bones
    ctrls = [pose[c] for c, _ in CONTROLS]
    defs = [pose[d] for _, d in CONTROLS]
    torso, hips_def = pose[TORSO], pose["DEF-spine"]
    for pb in ctrls + [torso]:
        pb.rotation_mode = "QUATERNION"
        pb.matrix_basis.identity()
    n_frames, n_ctrl = targets.shape[:2]
    quats = np.empty((n_frames, n_ctrl, 4))
    torso_quats = np.empty((n_frames, 4))
    locations = np.empty((n_frames, 3))
    residual = np.empty((n_frames, n_ctrl))
    context.view_layer.update()
    hips_rest, torso_rest = _rotation(hips_def), _rotation(torso)
    memory = {}
    for f in range(n_frames):
        want = targets[f]
        torso.rotation_quaternion = Matrix((torso_rest.T @ want[0] @ hips_rest.T @ torso_rest).tolist()).to_quaternion()
        for step in range(max_passes + 1):
            context.view_layer.update()
            have = np.array([_rotation(d) for d in defs])
            residual[f] = _angles(have, want)
            if step == max_passes or _direction_error(have, want).max() < tolerance_deg:
                break
            for _ in range(SPINE_ROUNDS):
                _place_torso(torso, hips_def, hips_head[f])
                # A tenth of the tolerance: the legs hang from the hips, planted feet then move < 0.1 mm.
                _solve_lower_spine(context, ctrls[:2], defs[:2], want[0], want[1], tolerance_deg / 10, memory)
                for k in range(2, len(SPINE)):
                    context.view_layer.update()
                    _turn(ctrls[k], defs[k], want[k])
                context.view_layer.update()
                spine = np.array([_rotation(d) for d in defs[:len(SPINE)]])
                if _direction_error(spine, want[:len(SPINE)]).max() < tolerance_deg:
                    break
            _place_torso(torso, hips_def, hips_head[f])
            for level in LEVELS:
                context.view_layer.update()
                for k in level:
                    _turn(ctrls[k], defs[k], want[k])
        context.view_layer.update()
        _place_torso(torso, hips_def, hips_head[f])
        quats[f] = [tuple(c.rotation_quaternion) for c in ctrls]
        torso_quats[f] = tuple(torso.rotation_quaternion)
        locations[f] = tuple(torso.location)
    return quats, torso_quats, locations, residual
