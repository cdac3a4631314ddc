"""BVH motion capture: parsing, forward kinematics, and retargeting onto SMPL's 24 joints.

Retargeting keeps the *directions* of the limbs. Each SMPL joint is tied to a position on
the BVH skeleton (a joint, an end site, or a point between two joints) and to the BVH
joint whose rotation carries its twist. For an SMPL joint with one child, its global
rotation is the BVH joint's global rotation (with a fixed rest-pose correction) followed
by the smallest rotation that points the SMPL bone exactly along the BVH segment. Leaves
(head, feet, hands) take the corrected BVH rotation.
The pelvis and the upper spine (several children each) are oriented by two directions
of the BVH skeleton: up the spine and across the hips or shoulders.
The result is SMPL local rotations, so the motion plays on any SMPL body shape; the root
translation is scaled by the ratio of leg lengths.
"""
from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import numpy as np

from ..common import rotations
from ..common.skeleton import DEFAULT_REST_JOINTS, JOINT_NAMES, PARENTS, children


class BVHError(ValueError):
    """A BVH file that cannot be read or retargeted."""


@dataclasses.dataclass
class BVH:
    """A parsed BVH file. Joints are in file order (parents before children)."""

    names: list[str]
    parents: np.ndarray          # [J], -1 for the root
    offsets: np.ndarray          # [J, 3] rest offset from the parent
    end_offsets: dict[int, np.ndarray]  # joint -> offset of its End Site
    channels: list[list[str]]    # per joint, e.g. ["Xposition", ..., "Zrotation", ...]
    motion: np.ndarray           # [F, C] raw channel values
    frame_time: float

    @property
    def fps(self) -> float:
        return 1.0 / self.frame_time

    def index(self, name: str) -> int:
        return self.names.index(name)


def parse_bvh(path: str | os.PathLike) -> BVH:
    """Read a BVH file; raise BVHError with the line that is wrong."""
    path = Path(path)
    if not path.is_file():
        raise BVHError(f"BVH file '{path}' does not exist")
    tokens = path.read_text(errors="replace").split()
    pos = 0

    def take() -> str:
        nonlocal pos
        if pos >= len(tokens):
            raise BVHError(f"'{path}': the file ends inside the HIERARCHY section")
        pos += 1
        return tokens[pos - 1]

    def expect(word: str) -> None:
        got = take()
        if got.upper() != word.upper():
            raise BVHError(f"'{path}': expected '{word}', found '{got}' (token {pos})")

    names: list[str] = []
    parents: list[int] = []
    offsets: list[np.ndarray] = []
    channels: list[list[str]] = []
    end_offsets: dict[int, np.ndarray] = {}
    expect("HIERARCHY")
    stack: list[int] = []
    word = take()
    if word.upper() != "ROOT":
        raise BVHError(f"'{path}': expected ROOT after HIERARCHY, found '{word}'")
    while True:
        if word.upper() in ("ROOT", "JOINT"):
            name = take()
            names.append(name)
            parents.append(stack[-1] if stack else -1)
            expect("{")
            expect("OFFSET")
            offsets.append(np.array([float(take()) for _ in range(3)]))
            expect("CHANNELS")
            n = int(take())
            channels.append([take() for _ in range(n)])
            stack.append(len(names) - 1)
        elif word.upper() == "END":
            take()  # "Site"
            expect("{")
            expect("OFFSET")
            end_offsets[stack[-1]] = np.array([float(take()) for _ in range(3)])
            expect("}")
        elif word == "}":
            stack.pop()
            if not stack:
                break
        else:
            raise BVHError(f"'{path}': unexpected '{word}' in HIERARCHY (token {pos})")
        word = take()
    expect("MOTION")
    expect("Frames:")
    n_frames = int(take())
    expect("Frame")
    expect("Time:")
    frame_time = float(take())
    n_channels = sum(len(c) for c in channels)
    values = np.array(tokens[pos:pos + n_frames * n_channels], dtype=np.float64)
    if values.size != n_frames * n_channels:
        raise BVHError(f"'{path}': MOTION declares {n_frames} frames of {n_channels} channels "
                       f"but holds {values.size} values")
    if frame_time <= 0:
        raise BVHError(f"'{path}': Frame Time must be positive, got {frame_time}")
    return BVH(names, np.array(parents), np.stack(offsets), end_offsets, channels,
               values.reshape(n_frames, n_channels), frame_time)


def _axis_rotation(axis: str, degrees: np.ndarray) -> np.ndarray:
    """[F] angles about x, y or z -> [F, 3, 3]."""
    a = np.radians(degrees)
    c, s = np.cos(a), np.sin(a)
    o, z = np.ones_like(a), np.zeros_like(a)
    rows = {"X": [o, z, z, z, c, -s, z, s, c], "Y": [c, z, s, z, o, z, -s, z, c], "Z": [c, -s, z, s, c, z, z, z, o]}
    return np.stack(rows[axis], axis=-1).reshape(a.shape + (3, 3))


def local_transforms(bvh: BVH) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame local rotations [F, J, 3, 3] and root positions [F, 3] from the channels.

    Rotation channels compose in the order listed (intrinsic), as BVH specifies.
    """
    n_frames = len(bvh.motion)
    rot = np.tile(np.eye(3), (n_frames, len(bvh.names), 1, 1))
    root_pos = np.tile(bvh.offsets[0], (n_frames, 1))
    col = 0
    for j, chans in enumerate(bvh.channels):
        for ch in chans:
            values = bvh.motion[:, col]
            col += 1
            m = re.fullmatch(r"([XYZ])(position|rotation)", ch, flags=re.IGNORECASE)
            if not m:
                raise BVHError(f"unknown BVH channel '{ch}' on joint '{bvh.names[j]}'")
            axis, kind = m.group(1).upper(), m.group(2).lower()
            if kind == "rotation":
                rot[:, j] = rot[:, j] @ _axis_rotation(axis, values)
            elif j == 0:
                root_pos[:, "XYZ".index(axis)] = bvh.offsets[0]["XYZ".index(axis)] + values
    return rot, root_pos


def global_transforms(bvh: BVH, local_rot: np.ndarray, root_pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Global rotations [F, J, 3, 3] and joint positions [F, J, 3] (file units)."""
    glob = np.empty_like(local_rot)
    pos = np.empty(local_rot.shape[:2] + (3,))
    for j, p in enumerate(bvh.parents):
        if p < 0:
            glob[:, j] = local_rot[:, j]
            pos[:, j] = root_pos
        else:
            glob[:, j] = glob[:, p] @ local_rot[:, j]
            pos[:, j] = pos[:, p] + glob[:, p] @ bvh.offsets[j]
    return glob, pos


def end_site_positions(bvh: BVH, glob: np.ndarray, pos: np.ndarray) -> dict[int, np.ndarray]:
    """Posed End Site positions [F, 3] by the joint they end."""
    return {j: pos[:, j] + glob[:, j] @ off for j, off in bvh.end_offsets.items()}


# How each SMPL joint reads a skeleton family: (position, twist joint). A position is a
# joint name, "NAME/end" for its End Site, or (a, b, t) for the point a + t (b − a).
_CMU = {
    "pelvis": ("Hips", "Hips"), "left_hip": ("LeftUpLeg", "LeftUpLeg"), "right_hip": ("RightUpLeg", "RightUpLeg"),
    "spine1": ("Spine", "LowerBack"), "left_knee": ("LeftLeg", "LeftLeg"), "right_knee": ("RightLeg", "RightLeg"),
    "spine2": (("Spine", "Spine1", 0.6), "Spine"), "left_ankle": ("LeftFoot", "LeftFoot"),
    "right_ankle": ("RightFoot", "RightFoot"), "spine3": ("Spine1", "Spine1"),
    "left_foot": ("LeftToeBase", "LeftToeBase"), "right_foot": ("RightToeBase", "RightToeBase"),
    "neck": ("Neck1", "Neck1"), "left_collar": ("LeftShoulder", "LeftShoulder"),
    "right_collar": ("RightShoulder", "RightShoulder"), "head": ("Head", "Head"),
    "left_shoulder": ("LeftArm", "LeftArm"), "right_shoulder": ("RightArm", "RightArm"),
    "left_elbow": ("LeftForeArm", "LeftForeArm"), "right_elbow": ("RightForeArm", "RightForeArm"),
    "left_wrist": ("LeftHand", "LeftHand"), "right_wrist": ("RightHand", "RightHand"),
    "left_hand": ("LFingers", "LFingers"), "right_hand": ("RFingers", "RFingers"),
}
_CMU_LEAF = {"head": "Head/end", "left_foot": "LeftToeBase/end", "right_foot": "RightToeBase/end",
             "left_hand": "LFingers/end", "right_hand": "RFingers/end"}
_MB = {  # MotionBuilder-style names (e.g. Boxing_Toes.bvh)
    "pelvis": ("Hips", "Hips"), "left_hip": ("LeftHip", "LeftHip"), "right_hip": ("RightHip", "RightHip"),
    "spine1": ("Ab", "Ab"), "left_knee": ("LeftKnee", "LeftKnee"), "right_knee": ("RightKnee", "RightKnee"),
    "spine2": ("Chest", "Chest"), "left_ankle": ("LeftAnkle", "LeftAnkle"), "right_ankle": ("RightAnkle", "RightAnkle"),
    "spine3": (("Chest", "Neck", 0.3), "Chest"), "left_foot": ("LeftToes", "LeftToes"),
    "right_foot": ("RightToes", "RightToes"), "neck": ("Neck", "Neck"), "left_collar": ("LeftCollar", "LeftCollar"),
    "right_collar": ("RightCollar", "RightCollar"), "head": ("Head", "Head"),
    "left_shoulder": ("LeftShoulder", "LeftShoulder"), "right_shoulder": ("RightShoulder", "RightShoulder"),
    "left_elbow": ("LeftElbow", "LeftElbow"), "right_elbow": ("RightElbow", "RightElbow"),
    "left_wrist": ("LeftWrist", "LeftWrist"), "right_wrist": ("RightWrist", "RightWrist"),
    "left_hand": (("LeftWrist", "LeftWrist/end", 0.5), "LeftWrist"),
    "right_hand": (("RightWrist", "RightWrist/end", 0.5), "RightWrist"),
}
_MB_LEAF = {"head": "Head/end", "left_foot": "LeftToes/end", "right_foot": "RightToes/end",
            "left_hand": "LeftWrist/end", "right_hand": "RightWrist/end"}
SKELETON_MAPS = {"cmu": (_CMU, _CMU_LEAF), "motionbuilder": (_MB, _MB_LEAF)}
# Joints with several children are oriented by two directions between SMPL joints
# ((from, to), (from, to)): the spine or neck, and the axis across the hips or shoulders.
_FRAME_VECTORS = {"pelvis": ((0, 3), (2, 1)), "spine3": ((9, 12), (17, 16))}
# Where an SMPL leaf points at rest (SMPL frame: x left, y up, z forward).
_LEAF_DIRECTION = {"head": (0, 1, 0), "left_foot": (0, 0, 1), "right_foot": (0, 0, 1),
                   "left_hand": (1, 0, 0), "right_hand": (-1, 0, 0)}


def detect_skeleton(bvh: BVH) -> str:
    """The name of the mapping in SKELETON_MAPS whose joints the file has."""
    have = set(bvh.names)
    for name, (mapping, _) in SKELETON_MAPS.items():
        needed = {tw for _, tw in mapping.values()}
        if needed <= have:
            return name
    raise BVHError(f"unknown BVH skeleton (joints: {', '.join(bvh.names[:12])}...); supported: CMU-style "
                   "(Hips, LeftUpLeg, LeftLeg, ...) and MotionBuilder-style (Hips, LeftHip, LeftKnee, ...)")


def _resolve(spec, bvh: BVH, pos: np.ndarray, ends: dict[int, np.ndarray]) -> np.ndarray:
    """A position spec -> [F, 3]."""
    if isinstance(spec, tuple):
        a, b, t = spec
        pa, pb = _resolve(a, bvh, pos, ends), _resolve(b, bvh, pos, ends)
        return pa + t * (pb - pa)
    if spec.endswith("/end"):
        j = bvh.index(spec[:-4])
        if j not in ends:
            raise BVHError(f"BVH joint '{spec[:-4]}' has no End Site")
        return ends[j]
    return pos[:, bvh.index(spec)]


def _min_rotation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest rotations [..., 3, 3] taking unit vectors a [..., 3] onto b [..., 3]."""
    axis = np.cross(a, b)
    s = np.linalg.norm(axis, axis=-1, keepdims=True)
    c = np.sum(a * b, axis=-1, keepdims=True)
    angle = np.arctan2(s, c)
    safe = np.where(s > 1e-9, s, 1.0)
    aa = axis / safe * angle
    # Opposite vectors: turn half a circle about any axis perpendicular to a.
    opposite = (s[..., 0] <= 1e-9) & (c[..., 0] < 0)
    if np.any(opposite):
        perp = np.cross(a[opposite], np.array([1.0, 0.0, 0.0]))
        weak = np.linalg.norm(perp, axis=-1) < 1e-6
        perp[weak] = np.cross(a[opposite][weak], np.array([0.0, 1.0, 0.0]))
        aa[opposite] = perp / np.linalg.norm(perp, axis=-1, keepdims=True) * np.pi
    return rotations.axis_angle_to_matrix(aa)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=-1, keepdims=True), 1e-12)


def _frame_alignment(src: list[np.ndarray], dst: list[np.ndarray]) -> np.ndarray:
    """Rotations [..., 3, 3] taking the directions `src` [..., 3] onto `dst` best (Kabsch)."""
    return rotations.nearest_rotation(sum(d[..., :, None] * s[..., None, :] for s, d in zip(src, dst)))


@dataclasses.dataclass
class SmplMotion:
    """SMPL motion: local rotations (axis-angle) [F, 24, 3], root translation [F, 3] (m), fps."""

    poses: np.ndarray
    trans: np.ndarray
    fps: float
    source: str = ""


def retarget_to_smpl(bvh: BVH, rest_joints: np.ndarray = DEFAULT_REST_JOINTS,
                     frames: slice | None = None) -> tuple[SmplMotion, dict]:
    """Retarget a BVH onto SMPL's tree with the given rest joints [24, 3] (metres).

    Returns the motion and `debug` arrays: `targets` [F, 24, 3] (the BVH positions each
    SMPL joint follows, in metres, SMPL frame), `glob` [F, 24, 3, 3] SMPL global rotations.
    """
    mapping, leaves = SKELETON_MAPS[detect_skeleton(bvh)]
    local, root = local_transforms(bvh)
    if frames is not None:
        local, root = local[frames], root[frames]
    glob_b, pos_b = global_transforms(bvh, local, root)
    ends_b = end_site_positions(bvh, glob_b, pos_b)
    rest_local = np.tile(np.eye(3), (1, len(bvh.names), 1, 1))
    rest_glob_b, rest_pos_b = global_transforms(bvh, rest_local, bvh.offsets[:1])
    rest_ends_b = end_site_positions(bvh, rest_glob_b, rest_pos_b)

    targets = np.stack([_resolve(mapping[n][0], bvh, pos_b, ends_b) for n in JOINT_NAMES], axis=1)
    rest_targets = np.stack([_resolve(mapping[n][0], bvh, rest_pos_b, rest_ends_b)[0] for n in JOINT_NAMES])
    leaf_targets = {n: _resolve(s, bvh, pos_b, ends_b) for n, s in leaves.items()}
    rest_leaf = {n: _resolve(s, bvh, rest_pos_b, rest_ends_b)[0] for n, s in leaves.items()}
    twist_glob = np.stack([glob_b[:, bvh.index(mapping[n][1])] for n in JOINT_NAMES], axis=1)

    rest = np.asarray(rest_joints, dtype=np.float64)
    kids = children(PARENTS)
    n_frames = len(local)
    glob = np.empty((n_frames, 24, 3, 3))
    for j, name in enumerate(JOINT_NAMES):
        # Rest-pose correction: the BVH rest rotation is the identity, so this is the
        # rotation of SMPL's rest directions onto the BVH's rest directions.
        if len(kids[j]) == 1:
            c = kids[j][0]
            correction = _min_rotation(_unit(rest[c] - rest[j]), _unit(rest_targets[c] - rest_targets[j]))
        elif not kids[j]:
            correction = _min_rotation(_unit(np.array(_LEAF_DIRECTION[name], float)),
                                       _unit(rest_leaf[name] - rest_targets[j]))
        else:
            a, b = _FRAME_VECTORS[name]
            vec = lambda p: [p[..., a[1], :] - p[..., a[0], :], p[..., b[1], :] - p[..., b[0], :]]
            correction = _frame_alignment([_unit(v) for v in vec(rest)], [_unit(v) for v in vec(rest_targets)])
            # The BVH's own rotation of these two directions from its rest pose.
            twist_glob[:, j] = _frame_alignment([_unit(v) for v in vec(rest_targets)], [_unit(v) for v in vec(targets)])
        base = twist_glob[:, j] @ correction
        if len(kids[j]) == 1:
            c = kids[j][0]
            want = targets[:, c] - targets[:, j]
            have = np.einsum("fij,j->fi", base, _unit(rest[c] - rest[j]))
            ok = np.linalg.norm(want, axis=-1) > 1e-9
            swing = _min_rotation(_unit(have), _unit(np.where(ok[:, None], want, have)))
            base = swing @ base
        glob[:, j] = base

    local_smpl = np.empty_like(glob)
    local_smpl[:, 0] = glob[:, 0]
    for j in range(1, 24):
        local_smpl[:, j] = np.swapaxes(glob[:, PARENTS[j]], -1, -2) @ glob[:, j]

    # Units: scale so that the BVH's hip-to-ankle length equals SMPL's.
    leg = lambda p, hip, ankle: np.linalg.norm(p[knee := JOINT_NAMES.index("left_knee")] - p[hip]) + \
        np.linalg.norm(p[ankle] - p[knee])
    scale = leg(rest, 1, 7) / max(leg(rest_targets, 1, 7), 1e-9)
    trans = targets[:, 0] * scale - rest[0]
    motion = SmplMotion(rotations.matrix_to_axis_angle(local_smpl), trans, bvh.fps, source=bvh.names[0])
    return motion, {"targets": targets * scale, "glob": glob, "scale": scale}


def load_smpl_motion(path: str | os.PathLike, fps: float | None = None,
                     rest_joints: np.ndarray = DEFAULT_REST_JOINTS) -> SmplMotion:
    """Parse and retarget a BVH file, resampled to `fps` (nearest frames; None keeps the file's)."""
    bvh = parse_bvh(path)
    frames = None
    if fps is not None:
        step = bvh.fps / fps
        if step < 1:
            raise BVHError(f"'{path}' runs at {bvh.fps:.0f} fps; cannot resample up to {fps} fps")
        frames = np.round(np.arange(0, len(bvh.motion) - 0.5, step)).astype(int)
    motion, _ = retarget_to_smpl(bvh, rest_joints, frames)
    motion.fps = fps or bvh.fps
    motion.source = Path(path).name
    return motion
