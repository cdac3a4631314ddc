"""SMPL motion -> a character's pose-bone keys (numpy only; the add-on writes them).

Rest-pose compensation in world space, bone by bone: every mapped bone follows one SMPL
segment (thigh: hip -> knee, ...). At rest the character's bone is first turned from its
own upright facing onto SMPL's rest frame and then by the smallest rotation that lays its
direction on the SMPL rest segment (A-pose vs T-pose, other rolls and axes); during the motion it
takes the SMPL joint's world rotation from rest on top, so its twist follows SMPL's, and a
last smallest rotation lays it exactly on the posed segment. Spine and neck chains with
another number of bones than SMPL's follow points placed along SMPL's chain at the same
fractions of its length. Bones that are not mapped (fingers, twist bones) keep their rest
pose relative to their parent.

Root: the hips follow the SMPL pelvis, displacements scaled by the ratio of hip heights
(character / person), or in place. Feet: on frames where an SMPL foot is planted (low and
slow), the hips are moved up or down so that the character's foot is on the floor
(Z = 0); between such frames the correction is interpolated. Over each such run the
thigh and shin are turned so the character's foot moves across the floor as the source's
(scaled) does: a foot the import locked stays locked whatever the character's proportions.

Blender's pose convention: a bone's armature-space matrix is
parent_pose @ inv(parent_rest) @ rest @ basis, where basis = T(location) R(quaternion).
"""
from __future__ import annotations

import dataclasses

import numpy as np

from . import rotations
from .bone_map import Skeleton
from .ground import FOOT_JOINT_HEIGHT  # how far SMPL's foot joint sits above the sole
from .keyframes import TrackKeys
from .skeleton import PARENTS, global_rotations

# SMPL joints per role: (segment start, segment end or None, joint whose rotation gives twist).
SEGMENTS = {
    "leftUpperLeg": (1, 4, 1), "rightUpperLeg": (2, 5, 2),
    "leftLowerLeg": (4, 7, 4), "rightLowerLeg": (5, 8, 5),
    "leftFoot": (7, 10, 7), "rightFoot": (8, 11, 8),
    "leftToes": (10, None, 10), "rightToes": (11, None, 11),
    "leftShoulder": (13, 16, 13), "rightShoulder": (14, 17, 14),
    "leftUpperArm": (16, 18, 16), "rightUpperArm": (17, 19, 17),
    "leftLowerArm": (18, 20, 18), "rightLowerArm": (19, 21, 19),
    "leftHand": (20, 22, 20), "rightHand": (21, 23, 21),
    "hips": (0, None, 0), "head": (15, None, 15),
}
SPINE_JOINTS = (0, 3, 6, 9, 12)   # pelvis, spine1-3, neck: the SMPL chain the spine follows
NECK_JOINTS = (12, 15)            # neck -> head
# The bone after each role along its limb: a bone's direction is from its head to that
# bone's head (importers guess tails, heads are exact).
NEXT = {"UpperLeg": "LowerLeg", "LowerLeg": "Foot", "Foot": "Toes", "Shoulder": "UpperArm",
        "UpperArm": "LowerArm", "LowerArm": "Hand"}
# Orientation-only roles borrow the rest alignment of this role.
BORROW = {"leftToes": "leftFoot", "rightToes": "rightFoot", "head": "neck"}
# A foot is planted when its SMPL foot joint is this low (m above the floor) and slow (m/s).
CONTACT_HEIGHT = 0.10
CONTACT_SPEED = 0.6


class RetargetError(ValueError):
    """The motion cannot be put on this character; the message says why."""


@dataclasses.dataclass
class Character:
    """A character armature at rest. rest [B, 4, 4] armature-space rest matrices (Blender's
    bone.matrix_local), parents [B], names [B], tails [B, 3] (armature space), matrix_world
    [4, 4] the armature object's (rotation, uniform scale, translation), floor_z the world
    height of its meshes' lowest point at rest (the soles when no sole points are known)."""

    names: list[str]
    parents: np.ndarray
    rest: np.ndarray
    tails: np.ndarray
    matrix_world: np.ndarray
    floor_z: float | None = None
    # (side, bone index, world point at rest): points of the soles that move with a foot
    # bone (from the skinned mesh); None: the foot bones' heads and tails.
    sole_points: list | None = None

    @property
    def scale(self) -> float:
        return float(np.cbrt(abs(np.linalg.det(self.matrix_world[:3, :3]))))

    @property
    def rotation(self) -> np.ndarray:
        return self.matrix_world[:3, :3] / self.scale

    def world_points(self, points: np.ndarray) -> np.ndarray:
        return points @ self.matrix_world[:3, :3].T + self.matrix_world[:3, 3]

    def skeleton(self) -> Skeleton:
        """The rest skeleton in the world, for bone_map."""
        return Skeleton(list(self.names), np.asarray(self.parents), self.world_points(self.rest[:, :3, 3]),
                        self.world_points(self.tails))


@dataclasses.dataclass
class Source:
    """The SMPL motion in the Blender world: joints [F, 24, 3], rotations [F, 24, 3, 3]
    (world rotation of each joint from its rest; SMPL's rest is the armature's axes),
    rest_joints [24, 3] (world, at rest where the armature stands), fps, rest_axes [3, 3]
    the world directions of SMPL's rest axes (columns: left, up, forward; tilted when the
    ground alignment tilted the armature), and the floor at Z = 0."""

    joints: np.ndarray
    rotations: np.ndarray
    rest_joints: np.ndarray
    fps: float
    rest_axes: np.ndarray | None = None

    def axes(self) -> np.ndarray:
        """[3, 3] SMPL's rest axes in the world (from the rest joints when not given)."""
        if self.rest_axes is not None:
            return rotations.nearest_rotation(self.rest_axes)
        rest = self.rest_joints
        left = _unit(rest[1] - rest[2])
        up = _unit(rest[12] - rest[0])
        return rotations.nearest_rotation(np.stack([left, up, np.cross(left, up)], axis=1))

    @classmethod
    def from_keys(cls, keys, matrix_world: np.ndarray, fps: float) -> "Source":
        """From a core.keyframes.TrackKeys and its armature's world matrix [4, 4]."""
        return cls.from_pose(keys.quats, keys.locations, keys.rest_joints, matrix_world, fps)

    @classmethod
    def from_pose(cls, quats: np.ndarray, locations: np.ndarray, rest_joints: np.ndarray,
                  matrix_world: np.ndarray, fps: float) -> "Source":
        """From an SMPL armature's pose: quats [F, 24, 4], pose-bone locations [F, 24, 3]
        (or the pelvis's [F, 3]), rest heads [24, 3] (armature space), its world matrix."""
        quats = np.asarray(quats, dtype=np.float64)
        locations = np.asarray(locations, dtype=np.float64)
        if locations.ndim == 2:
            full = np.zeros(quats.shape[:2] + (3,))
            full[:, 0] = locations
            locations = full
        n = len(quats)
        keys = TrackKeys(track_id=0, frames=np.arange(n), observed=np.ones(n, bool), hold=np.zeros(n, bool),
                         quats=quats, locations=locations, animated_locations=np.ones(24, bool),
                         rest_joints=np.asarray(rest_joints, dtype=np.float64), betas=np.zeros(10),
                         trans=np.zeros((n, 3)), row_rest_joints=np.repeat(np.asarray(rest_joints)[None], n, 0))
        m = np.asarray(matrix_world, dtype=np.float64)
        joints = keys.armature_joints() @ m[:3, :3].T + m[:3, 3]
        glob = global_rotations(rotations.quaternion_to_matrix(quats), PARENTS)
        world = m[:3, :3] @ glob @ m[:3, :3].T
        rest = keys.rest_joints @ m[:3, :3].T + m[:3, 3]
        return cls(joints=joints, rotations=world, rest_joints=rest, fps=float(fps), rest_axes=m[:3, :3].copy())


@dataclasses.dataclass
class Result:
    """quats [F, B, 4] pose-bone rotations (w, x, y, z) of every bone, keyed [B] which
    bones change, roots (the bones that take a location: the hips first, then other root
    bones carrying mapped bones), locations [F, R, 3] their pose locations, scale (character / person hip height), contact [F, 2] planted feet (left,
    right), foot_shift [F] the vertical correction applied to the hips (m)."""

    quats: np.ndarray
    keyed: np.ndarray
    roots: list[int]
    locations: np.ndarray
    scale: float
    contact: np.ndarray
    foot_shift: np.ndarray


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.where(n > 1e-12, n, 1.0)


def _facing(left_point: np.ndarray, right_point: np.ndarray) -> np.ndarray:
    """Horizontal facing direction [..., 3] from the left and right hip points (Z up)."""
    across = left_point - right_point
    across = across * np.array([1.0, 1.0, 0.0])
    return _unit(np.cross(_unit(across), [0.0, 0.0, 1.0]))


def facing_angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Signed angle (radians) about +Z from horizontal direction a to b."""
    return np.arctan2(a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0], (a[..., :2] * b[..., :2]).sum(-1))


def _polyline_points(points: np.ndarray, rest: np.ndarray, fractions: np.ndarray) -> np.ndarray:
    """Points at `fractions` of the rest arc length of a polyline.

    points [F, K, 3] posed polyline, rest [K, 3] the same at rest, fractions [M] in [0, 1]
    -> [F, M, 3] (each point keeps its place on its rest segment)."""
    seg = np.linalg.norm(np.diff(rest, axis=0), axis=-1)
    cum = np.concatenate([[0.0], np.cumsum(seg)]) / max(seg.sum(), 1e-12)
    out = []
    for u in fractions:
        k = int(np.clip(np.searchsorted(cum, u, side="right") - 1, 0, len(seg) - 1))
        t = (u - cum[k]) / max(cum[k + 1] - cum[k], 1e-12)
        out.append(points[..., k, :] * (1 - t) + points[..., k + 1, :] * t)
    return np.stack(out, axis=-2)


def _chain_fractions(points: np.ndarray) -> np.ndarray:
    seg = np.linalg.norm(np.diff(points, axis=0), axis=-1)
    return np.concatenate([[0.0], np.cumsum(seg)]) / max(seg.sum(), 1e-12)


def hip_height(character: Character, mapping: dict) -> float:
    """Height of the character's hips above its soles at rest (m, world)."""
    names = character.names
    heads = character.world_points(character.rest[:, :3, 3])
    hips = heads[names.index(mapping["hips"])]
    return float(hips[2] - sole_height(character, mapping))


def sole_height(character: Character, mapping: dict) -> float:
    """World Z of the character's soles at rest: the lowest of its sole points, else floor_z,
    else its lowest foot bone point. The feet's own vertices come first: a mesh may reach
    below the soles (a base, a cape, a root bone's shape) and would lift the planted feet."""
    if character.sole_points:
        return float(min(p[2] for _, _, p in character.sole_points))
    if character.floor_z is not None:
        return float(character.floor_z)
    return float(min(p[2] for _, _, p in _foot_points(character, mapping)))


def _foot_points(character: Character, mapping: dict) -> list[tuple[str, int, np.ndarray]]:
    """(side, bone, world point at rest) of each foot's contact points: the character's
    sole points, else ankle, ball and toe tip from the foot bones."""
    if character.sole_points:
        return list(character.sole_points)
    idx = character.names.index
    heads = character.world_points(character.rest[:, :3, 3])
    tails = character.world_points(character.tails)
    out = []
    for side in ("left", "right"):
        foot = idx(mapping[f"{side}Foot"])
        toes = idx(mapping[f"{side}Toes"]) if mapping.get(f"{side}Toes") else None
        out.append((side, foot, heads[foot]))
        if toes is not None:
            out += [(side, toes, heads[toes]), (side, toes, tails[toes])]
        else:
            out.append((side, foot, tails[foot]))
    return out


def source_hip_height(source: Source) -> float:
    rest = source.rest_joints
    return float(rest[0, 2] - min(rest[10, 2], rest[11, 2]) + FOOT_JOINT_HEIGHT)


def contacts(source: Source) -> np.ndarray:
    """[F, 2] True where the SMPL foot (left, right) is planted: low and slow."""
    feet = source.joints[:, [10, 11]]
    low = feet[..., 2] < CONTACT_HEIGHT + FOOT_JOINT_HEIGHT
    if len(feet) < 3:
        return low
    speed = np.linalg.norm(np.gradient(feet, axis=0), axis=-1) * source.fps
    return low & (speed < CONTACT_SPEED)


def _targets(character: Character, mapping: dict, source: Source):
    """Per mapped bone: (bone, rest direction in the world, source rest direction [3],
    posed source direction [F, 3] or None, twist joint). Directions from heads."""
    names = character.names
    heads = character.world_points(character.rest[:, :3, 3])
    tails = character.world_points(character.tails)
    idx = names.index
    out = []

    def own_dir(b, nxt):
        end = heads[nxt] if nxt is not None else tails[b]
        return end - heads[b]

    for role, (a, b, twist) in SEGMENTS.items():
        bone = mapping.get(role)
        if not bone:
            continue
        i = idx(bone)
        if b is None:
            out.append((role, i, None, None, None, twist))
            continue
        part = role[4:] if role.startswith("left") else role[5:]
        side = role[: len(role) - len(part)]
        nxt = mapping.get(f"{side}{NEXT[part]}") if part in NEXT else None
        out.append((role, i, own_dir(i, idx(nxt) if nxt else None), source.rest_joints[b] - source.rest_joints[a],
                    source.joints[:, b] - source.joints[:, a], twist))
    hips = idx(mapping["hips"])
    head = idx(mapping["head"])
    for role, joints, start, end in (("spine", SPINE_JOINTS, hips, None), ("neck", NECK_JOINTS, None, head)):
        chain = [idx(n) for n in mapping.get(role, [])]
        if not chain:
            continue
        if role == "spine":
            end_bone = idx(mapping["neck"][0]) if mapping.get("neck") else head
            pts = [heads[start]] + [heads[c] for c in chain] + [heads[end_bone]]
            first = 1
        else:
            pts = [heads[c] for c in chain] + [heads[head]]
            first = 0
        frac = _chain_fractions(np.array(pts))
        src_rest = source.rest_joints[list(joints)]
        rest_pts = _polyline_points(src_rest[None], src_rest, frac)[0]
        posed = _polyline_points(source.joints[:, list(joints)], src_rest, frac)
        cum = _chain_fractions(src_rest)
        for k, bone in enumerate(chain):
            j = first + k
            mid = 0.5 * (frac[j] + frac[j + 1])
            seg = int(np.clip(np.searchsorted(cum, mid, side="right") - 1, 0, len(joints) - 2))
            out.append((role, bone, pts[j + 1] - pts[j], rest_pts[j + 1] - rest_pts[j],
                        posed[:, j + 1] - posed[:, j], joints[seg]))
    return out


def _aim_spine(targets: list, source: Source, turn: np.ndarray, heads_w: np.ndarray, hips: int) -> list:
    """Turn the spine bones' posed directions together so that the whole chain, from the
    hips' head to its end, points where SMPL's pelvis -> neck points.

    The first stretch (hips head -> first spine bone) turns with the pelvis; the chain's
    bones keep SMPL's bends between them and are turned as one by the smallest rotation
    that puts the chain's end on the line from the hips along SMPL's pelvis -> neck."""
    spine = [k for k, t in enumerate(targets) if t[0] == "spine"]
    if not spine:
        return targets
    first = targets[spine[0]][1]
    v0 = np.einsum("fij,j->fi", source.rotations[:, 0] @ turn, heads_w[first] - heads_w[hips])
    length = [np.linalg.norm(targets[k][2]) for k in spine]
    chain = sum(l * _unit(targets[k][4]) for k, l in zip(spine, length))            # [F, 3]
    d = _unit(source.joints[:, 12] - source.joints[:, 0])
    dv = np.einsum("fi,fi->f", d, v0)
    reach = np.linalg.norm(chain, axis=-1)
    disc = dv ** 2 - np.einsum("fi,fi->f", v0, v0) + reach ** 2
    lam = dv + np.sqrt(np.maximum(disc, 0.0))
    turn_chain = rotations.rotation_between_vectors(chain, lam[:, None] * d - v0)
    out = list(targets)
    for k in spine:
        role, bone, c_dir, s_dir, posed, twist = targets[k]
        out[k] = (role, bone, c_dir, s_dir, np.einsum("fij,fj->fi", turn_chain, posed), twist)
    return out


def retarget(character: Character, mapping: dict, source: Source, in_place: bool = False,
             feet_on_floor: bool = True, rest_compensation: bool = True, lock_feet: bool = True) -> Result:
    """Pose-bone rotations and the root location for every frame of `source`.

    feet_on_floor moves the hips up or down so the lower planted foot touches the floor.
    lock_feet holds each planted foot in one place (_locked_legs): a character's legs are
    not the person's in proportion to its hips, so following the limbs alone slides it.

    rest_compensation=False copies SMPL's rotations from rest as they are (the whole
    body turned to face SMPL's way only, no alignment of rest directions, no aiming): what a plain rotation copy does,
    kept to measure what the compensation is worth (scripts/checks/check_characters.py)."""
    names, parents = character.names, np.asarray(character.parents)
    n_bones, n_frames = len(names), len(source.joints)
    idx = names.index
    crot = character.rotation
    rest_rot = np.array([_unit_rot(r[:3, :3]) for r in character.rest])       # [B, 3, 3] armature
    rest_world = crot @ rest_rot                                               # [B, 3, 3]
    heads_w = character.world_points(character.rest[:, :3, 3])

    # The character stands upright (Z up) facing across its hips; SMPL's rest frame may be
    # tilted by the ground alignment: `turn` takes the one onto the other.
    chr_left = heads_w[idx(mapping["leftUpperLeg"])] - heads_w[idx(mapping["rightUpperLeg"])]
    chr_left = _unit(chr_left * [1.0, 1.0, 0.0])
    up = np.array([0.0, 0.0, 1.0])
    chr_axes = np.stack([chr_left, up, np.cross(chr_left, up)], axis=1)
    turn = source.axes() @ chr_axes.T

    world = np.full((n_frames, n_bones, 3, 3), np.nan)
    align: dict[str, np.ndarray] = {}
    targets = _targets(character, mapping, source)
    if rest_compensation:
        targets = _aim_spine(targets, source, turn, heads_w, idx(mapping["hips"]))
    for role, bone, c_dir, s_dir, posed, twist in targets:
        if c_dir is None:
            continue
        if not rest_compensation:
            world[:, bone] = source.rotations[:, twist] @ turn @ rest_world[bone]
            continue
        a = rotations.rotation_between_vectors(turn @ c_dir, s_dir) @ turn
        align.setdefault(role, a)
        w = source.rotations[:, twist] @ a @ rest_world[bone]
        have = np.einsum("fij,j->fi", source.rotations[:, twist], s_dir)
        world[:, bone] = rotations.rotation_between_vectors(have, posed) @ w
    for role, bone, c_dir, _, _, twist in targets:
        if c_dir is not None:
            continue
        a = align.get(BORROW.get(role, ""), turn)
        world[:, bone] = source.rotations[:, twist] @ a @ rest_world[bone]

    for b in _co_roots(parents, idx(mapping["hips"]), mapping, names):
        if np.isnan(world[0, b, 0, 0]):   # an unmapped root bone turns with the pelvis
            world[:, b] = source.rotations[:, 0] @ turn @ rest_world[b]

    arm, quats = _locals(world, crot, rest_rot, parents)
    keyed = np.array([bool(np.isfinite(world[0, b, 0, 0])) for b in range(n_bones)])

    # Root: hips displacement scaled by the hip-height ratio, the floor at Z = 0.
    scale = hip_height(character, mapping) / max(source_hip_height(source), 1e-6)
    pelvis = source.joints[:, 0]
    start = pelvis[0]
    target = np.empty_like(pelvis)
    target[:, :2] = start[:2] + (0.0 if in_place else scale * (pelvis[:, :2] - start[:2]))
    target[:, 2] = scale * pelvis[:, 2]
    contact = contacts(source)
    shift = np.zeros(n_frames)
    hips = idx(mapping["hips"])
    # Other root bones carrying mapped bones (legs rooted beside the hips) move with the hips.
    pelvis_turn = source.rotations[:, 0] @ turn
    offsets = {b: heads_w[b] - heads_w[hips] for b in _co_roots(parents, hips, mapping, names)}
    roots_at = lambda t: {hips: t, **{b: t + np.einsum("fij,j->fi", pelvis_turn, o) for b, o in offsets.items()}}
    if feet_on_floor:
        shift = _foot_shift(character, mapping, arm, roots_at(target), contact)
        target[:, 2] += shift
    placed = roots_at(target)
    if lock_feet and contact.any():
        world = _locked_legs(character, mapping, world, placed, contact, scale * source.joints[:, [7, 8]])
        arm, quats = _locals(world, crot, rest_rot, parents)
    roots = list(placed)
    locations = np.stack([_root_locations(character, b, placed[b]) for b in roots], axis=1)
    return Result(quats=quats, keyed=keyed, roots=roots, locations=locations, scale=float(scale), contact=contact,
                  foot_shift=shift)


def _locked_legs(character: Character, mapping: dict, world: np.ndarray, roots_world: dict,
                 contact: np.ndarray, ankles: np.ndarray) -> np.ndarray:
    """World rotations [F, B, 3, 3] with the thighs and shins turned so that, over each run
    of a planted foot, the character's ankle moves across the floor exactly as the source's
    ankle (ankles [F, 2, 3], scaled to the character) does, from the run's median offset
    between them (heights as they were): a locked source foot stays locked whatever the
    character's proportions. Two-bone IK in the leg's bending plane (the knee keeps its
    side), the foot's own rotation kept; faded in and out over a few frames around each
    run as core.common.foot_lock does."""
    from .foot_lock import lock_weights, runs

    idx = character.names.index
    crot = character.rotation
    rest_rot = np.array([_unit_rot(r[:3, :3]) for r in character.rest])
    arm, _ = _locals(world, crot, rest_rot, np.asarray(character.parents))
    heads, _ = posed_heads(character, arm, roots_world)
    world = world.copy()
    for s, side in enumerate(("left", "right")):
        thigh, shin, foot = (idx(mapping[f"{side}{r}"]) for r in ("UpperLeg", "LowerLeg", "Foot"))
        planted = contact[:, s]
        weight, nearest = lock_weights(planted, 1.0)   # nearest: the planted frame a weight is from
        f = np.flatnonzero(weight > 0)
        if not len(f):
            continue
        spans = runs(planted)
        run = np.full(len(planted), -1)
        for r, (start, stop) in enumerate(spans):
            run[start:stop] = r
        goal = heads[:, foot].copy()
        for r, (start, stop) in enumerate(spans):
            offset = np.median(heads[start:stop, foot, :2] - ankles[start:stop, s, :2], axis=0)
            at = f[run[nearest[f]] == r]
            goal[at, :2] = offset + ankles[at, s, :2]
        hip, knee, ankle = heads[f, thigh], heads[f, shin], heads[f, foot]
        want = ankle + weight[f, None] * (goal[f] - ankle)
        turn_thigh, turn_shin = two_bone_turns(hip, knee, ankle, want)
        world[f, thigh] = turn_thigh @ world[f, thigh]
        world[f, shin] = turn_shin @ world[f, shin]
    return world


def two_bone_turns(hip: np.ndarray, knee: np.ndarray, ankle: np.ndarray,
                   want: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two-bone IK: the world turns [..., 3, 3] of the upper and the lower bone of a limb
    posed hip -> knee -> ankle [..., 3] that bring its end to `want` [..., 3]; lengths
    kept, the knee on its side of the hip-to-goal line (the bending plane kept), a goal
    out of reach approached along that line."""
    l1 = np.linalg.norm(knee - hip, axis=-1)
    l2 = np.linalg.norm(ankle - knee, axis=-1)
    reach = want - hip
    d = np.clip(np.linalg.norm(reach, axis=-1), np.abs(l1 - l2) + 1e-6, 0.999 * (l1 + l2))
    u = _unit(reach)
    along = (l1 ** 2 - l2 ** 2 + d ** 2) / (2 * d)
    side = (knee - hip) - np.einsum("...i,...i->...", knee - hip, u)[..., None] * u
    new_knee = hip + along[..., None] * u + np.sqrt(np.maximum(l1 ** 2 - along ** 2, 0.0))[..., None] * _unit(side)
    return (rotations.rotation_between_vectors(knee - hip, new_knee - hip),
            rotations.rotation_between_vectors(ankle - knee, hip + d[..., None] * u - new_knee))


def _locals(world: np.ndarray, crot: np.ndarray, rest_rot: np.ndarray, parents: np.ndarray) -> tuple:
    """World rotations [F, B, 3, 3] (NaN for unmapped bones) -> (armature-space rotations
    [F, B, 3, 3], pose-bone quaternions [F, B, 4]); unmapped bones keep their rest relative
    to their parent."""
    n_frames, n_bones = world.shape[:2]
    arm = np.einsum("ij,fbjk->fbik", crot.T, world)
    local = np.empty((n_frames, n_bones, 3, 3))
    for b in _parents_first(parents):
        p = int(parents[b])
        parent_rest = rest_rot[p] if p >= 0 else np.eye(3)
        parent_pose = arm[:, p] if p >= 0 else np.broadcast_to(np.eye(3), (n_frames, 3, 3))
        if np.isnan(arm[0, b, 0, 0]):
            arm[:, b] = parent_pose @ (parent_rest.T @ rest_rot[b])
            local[:, b] = np.eye(3)
        else:
            local[:, b] = rest_rot[b].T @ parent_rest @ np.swapaxes(parent_pose, -1, -2) @ arm[:, b]
    return arm, rotations.make_quaternions_continuous(rotations.matrix_to_quaternion(local), axis=0)


def _co_roots(parents: np.ndarray, hips: int, mapping: dict, names: list[str]) -> list[int]:
    """Parentless bones other than the hips' own root whose subtree holds mapped bones."""
    mapped = {names.index(v) for val in mapping.values() for v in ([val] if isinstance(val, str) else val)}
    top = lambda b: b if parents[b] < 0 else top(int(parents[b]))
    hips_root = top(hips)
    return sorted({top(b) for b in mapped} - {hips_root})


def _unit_rot(m: np.ndarray) -> np.ndarray:
    return rotations.nearest_rotation(m)


def _parents_first(parents: np.ndarray) -> list[int]:
    depth = np.zeros(len(parents), dtype=int)
    for b in range(len(parents)):
        p, d = int(parents[b]), 0
        while p >= 0:
            p, d = int(parents[p]), d + 1
        depth[b] = d
    return [int(b) for b in np.argsort(depth, kind="stable")]


def posed_heads(character: Character, arm: np.ndarray, roots_world: dict, points: list | None = None) -> tuple:
    """World heads and tails [F, B, 3] with armature-space bone rotations arm [F, B, 3, 3]
    and the root bones' heads at roots_world {bone: [F, 3]}. Bone offsets are rigid: a
    child's head is where its parent's pose carries its rest offset. With `points` [(bone,
    world point at rest)], also those points carried by their bones [F, K, 3]."""
    parents = np.asarray(character.parents)
    rest = character.rest
    n_frames = len(arm)
    m = character.matrix_world
    minv = np.linalg.inv(m)
    heads = np.empty((n_frames, len(parents), 3))
    rest_rot = np.array([_unit_rot(r[:3, :3]) for r in rest])
    for b in _parents_first(parents):
        p = int(parents[b])
        if b in roots_world:
            heads[:, b] = roots_world[b] @ minv[:3, :3].T + minv[:3, 3]
        elif p < 0 or _is_ancestor(parents, b, roots_world):
            heads[:, b] = rest[b, :3, 3]   # the roots' ancestors are not posed
        else:
            local_offset = rest_rot[p].T @ (rest[b, :3, 3] - rest[p, :3, 3])
            heads[:, b] = heads[:, p] + np.einsum("fij,j->fi", arm[:, p], local_offset)
    tail_offset = np.einsum("bji,bj->bi", rest_rot, character.tails - rest[:, :3, 3])
    tails = heads + np.einsum("fbij,bj->fbi", arm, tail_offset)
    to_world = lambda x: x @ m[:3, :3].T + m[:3, 3]
    if points is None:
        return to_world(heads), to_world(tails)
    # Points carried rigidly by a bone: their offset from its head in the bone's rest frame.
    carried = []
    for bone, point in points:
        local = rest_rot[bone].T @ (minv[:3, :3] @ point + minv[:3, 3] - rest[bone, :3, 3])
        carried.append(heads[:, bone] + np.einsum("fij,j->fi", arm[:, bone], local))
    return to_world(heads), to_world(tails), to_world(np.stack(carried, axis=1))


def _is_ancestor(parents: np.ndarray, bone: int, of) -> bool:
    """True when `bone` is an ancestor of any bone in `of`."""
    for b in of:
        p = int(parents[b])
        while p >= 0:
            if p == bone:
                return True
            p = int(parents[p])
    return False


def _foot_gaps(character, mapping, arm, roots_world) -> np.ndarray:
    """[F, 2] height of each foot (left, right) above the floor (Z = 0): its contact points'
    lowest height, less their heights above the soles when standing."""
    feet = _foot_points(character, mapping)
    _, _, pts = posed_heads(character, arm, roots_world, [(b, p) for _, b, p in feet])
    sole = sole_height(character, mapping)
    gaps = np.full((len(arm), 2), np.inf)
    for k, (side, _, rest_point) in enumerate(feet):
        s = 0 if side == "left" else 1
        gaps[:, s] = np.minimum(gaps[:, s], pts[:, k, 2] - (rest_point[2] - sole))
    return gaps


def _foot_shift(character, mapping, arm, roots_world, contact) -> np.ndarray:
    """Vertical hips correction [F] putting the lower planted foot on the floor; between
    frames with a planted foot it is interpolated."""
    planted = np.where(contact, _foot_gaps(character, mapping, arm, roots_world), np.inf).min(axis=1)
    have = np.isfinite(planted)
    if not np.any(have):
        return np.zeros(len(contact))
    frames = np.arange(len(contact))
    return -np.interp(frames, frames[have], planted[have])


def _root_locations(character: Character, root: int, target_world: np.ndarray) -> np.ndarray:
    """Pose location [F, 3] of a root bone that puts its head at target_world [F, 3].

    head = parent_pose @ inv(parent_rest) @ rest @ T(location) @ origin; the root's
    ancestors are not posed, so that is rest @ T(location) @ origin."""
    m = character.matrix_world
    minv = np.linalg.inv(m)
    target = target_world @ minv[:3, :3].T + minv[:3, 3]
    rest = character.rest
    return (target - rest[root, :3, 3]) @ _unit_rot(rest[root, :3, :3])


def pose_matrices(character: Character, quats: np.ndarray, roots: list[int], locations: np.ndarray) -> np.ndarray:
    """World matrices [F, B, 4, 4] of the posed bones, computed as Blender poses them:
    parent_pose @ inv(parent_rest) @ rest @ T(location) @ R(quaternion) (locations [F, R, 3]
    on the root bones), then the object's world matrix."""
    parents = np.asarray(character.parents)
    n_frames, n_bones = quats.shape[:2]
    basis = np.tile(np.eye(4), (n_frames, n_bones, 1, 1))
    basis[..., :3, :3] = rotations.quaternion_to_matrix(quats)
    for k, root in enumerate(roots):
        basis[:, root, :3, 3] = locations[:, k]
    rest = character.rest.copy()
    rest[:, :3, :3] = np.array([_unit_rot(r[:3, :3]) for r in rest])
    out = np.empty_like(basis)
    for b in _parents_first(parents):
        p = int(parents[b])
        rel = rest[b] if p < 0 else np.linalg.inv(rest[p]) @ rest[b]
        out[:, b] = (rel @ basis[:, b]) if p < 0 else out[:, p] @ rel @ basis[:, b]
    return character.matrix_world @ out


def posed_points(character: Character, quats: np.ndarray, roots: list[int], locations: np.ndarray) -> tuple:
    """World heads and tails [F, B, 3] of the posed bones (see pose_matrices)."""
    mats = pose_matrices(character, quats, roots, locations)
    rest_rot = np.array([_unit_rot(r[:3, :3]) for r in character.rest])
    length = np.einsum("bji,bj->bi", rest_rot, character.tails - character.rest[:, :3, 3])
    heads = mats[..., :3, 3]
    tails = heads + np.einsum("fbij,bj->fbi", mats[..., :3, :3], length)
    return heads, tails
