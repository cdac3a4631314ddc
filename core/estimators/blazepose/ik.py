"""Inverse kinematics on SMPL's 24-joint tree: joint positions (+ side vectors) -> rotations.

numpy only. Joints are solved from the root outwards; each joint's *global* rotation
G_j (rest frame -> target frame) is chosen so that its bone points where the targets say:

* a joint with several children (pelvis, spine3) takes the rotation that best maps its
  rest child offsets onto the target offsets (weighted Wahba problem, solved by SVD),
  with its side vector as one more weighted direction;
* a joint with one child (or a leaf with a pointing direction) is swung by the smallest
  rotation, relative to its parent, that turns the rest bone onto the target bone; the
  twist about the bone is then taken from the joint's side vector, by `side_weight`
  (0: keep the minimal-swing twist, 1: follow the side vector fully);
* a leaf without a pointing direction keeps its parent's orientation.

Where a swing is ill-defined (the target bone nearly opposite the rest bone) the previous
frame's rotation is the reference instead, and twist angles are unwrapped over time, so
a sequence of frames yields rotations without sign flips or sudden spins.

Frames: rest joints are in SMPL's frame (x to the body's left, y up, z forward); targets
may be in any frame (e.g. the OpenCV camera frame) and the root rotation maps SMPL's frame
into it. Only bone *directions* of the targets are used: bones keep the rest skeleton's
lengths, so forward kinematics reproduces the targets exactly only when their bone lengths
match the rest skeleton (as for poses of the same body).
"""
from __future__ import annotations

import numpy as np

from ...common import rotations
from ...common.skeleton import NUM_JOINTS, PARENTS, children

CHILDREN = children(PARENTS)

_X, _Y, _Z = np.eye(3)
# Rest direction (SMPL frame) of each joint's side vector: the direction the caller's
# `sides` give after posing. Legs and torso: the body's left (+x; for hips and knees the
# knee's bending axis, thigh x shank). Arms: the elbow's bending axis
# (upper arm x forearm), which is -y for the left arm and +y for the right in SMPL's
# T-pose. Collars: forward (their bones point sideways). Wrists: forward (+z, from pinky
# towards index with the palm down).
SIDE_AXES = np.array([
    _X, _X, _X, _X, _X, _X, _X, _X, _X, _X, _X, _X,   # pelvis .. right_foot (0-11)
    _X, _Z, _Z, _X,                                   # neck, left/right collar, head
    -_Y, _Y, -_Y, _Y, _Z, _Z, _Z, _Z,                 # shoulders, elbows, wrists, hands
])
# Rest pointing direction of leaf joints (no child): head up, feet forward, hands outward.
LEAF_AXES = np.zeros((NUM_JOINTS, 3))
LEAF_AXES[15] = _Y
LEAF_AXES[10] = LEAF_AXES[11] = _Z
LEAF_AXES[22], LEAF_AXES[23] = _X, -_X

# Angle between target and rest bone (in the parent's frame) beyond which the minimal
# swing is treated as ill-defined and the previous frame is used as the reference.
SINGULAR_ANGLE = np.deg2rad(160.0)


def unit(v: np.ndarray) -> np.ndarray:
    """[..., 3] -> unit vectors; zero vectors stay zero."""
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.where(n < 1e-12, 1.0, n)


def minimal_rotation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest rotation turning unit vector a onto unit vector b.

    a, b [..., 3] (broadcast) -> [..., 3, 3]. Opposite vectors give a half turn about an
    arbitrary perpendicular axis (callers avoid relying on it).
    """
    a, b = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(b, np.float64))
    axis = np.cross(a, b)
    sin = np.linalg.norm(axis, axis=-1)
    cos = np.clip(np.sum(a * b, axis=-1), -1.0, 1.0)
    angle = np.arctan2(sin, cos)
    # Opposite vectors: any axis perpendicular to a.
    fallback = np.cross(a, np.where(np.abs(a[..., :1]) < 0.9, _X, _Y))
    axis = np.where((sin < 1e-9)[..., None], fallback, axis)
    return rotations.axis_angle_to_matrix(unit(axis) * angle[..., None])


def axis_rotation(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    """Rotation by `angle` [...] about unit `axis` [..., 3] -> [..., 3, 3]."""
    return rotations.axis_angle_to_matrix(axis * np.asarray(angle)[..., None])


def wahba(rest_vectors: np.ndarray, target_vectors: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Rotation R minimising sum_k w_k |R a_k - b_k|^2 (proper rotation, det +1).

    rest_vectors a [..., K, 3], target_vectors b [..., K, 3], weights [..., K] -> [..., 3, 3].
    """
    return rotations.nearest_rotation(np.einsum("...k,...ki,...kj->...ij", weights, target_vectors, rest_vectors))


def twist_angle(current: np.ndarray, target: np.ndarray, axis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Signed angle about `axis` from `current` to `target` (both projected off the axis).

    [..., 3] each -> (angle [...] in (-pi, pi], valid [...]: False where `target` is
    (nearly) parallel to the axis and no twist can be read from it).
    """
    t = target - np.sum(target * axis, axis=-1, keepdims=True) * axis
    c = current - np.sum(current * axis, axis=-1, keepdims=True) * axis
    valid = (np.linalg.norm(t, axis=-1) > 1e-3 * np.maximum(np.linalg.norm(target, axis=-1), 1e-12)) & \
        np.isfinite(t).all(axis=-1)
    sin = np.sum(np.cross(c, t) * axis, axis=-1)
    cos = np.sum(c * t, axis=-1)
    angle = np.arctan2(np.nan_to_num(sin), np.nan_to_num(cos))
    return np.where(valid, angle, 0.0), valid


def _rest_side_axes(rest: np.ndarray, side_axes: np.ndarray) -> np.ndarray:
    """Side axes made exactly perpendicular to each joint's rest bone. rest [24,3] -> [24,3]."""
    out = np.array(side_axes, dtype=np.float64, copy=True)
    for j in range(NUM_JOINTS):
        kids = CHILDREN[j]
        bone = rest[kids[0]] - rest[j] if len(kids) == 1 else LEAF_AXES[j] if not kids else None
        if bone is None or not np.any(bone):
            continue
        bone = unit(bone)
        out[j] = unit(out[j] - np.dot(out[j], bone) * bone)
    return out


def solve(joints: np.ndarray, rest_joints: np.ndarray, sides: np.ndarray | None = None,
          side_weights: np.ndarray | None = None, leaf_directions: np.ndarray | None = None,
          side_axes: np.ndarray = SIDE_AXES) -> np.ndarray:
    """Local joint rotations of SMPL's tree that pose `rest_joints` like `joints`.

    joints [F, 24, 3] target positions, consecutive frames of one person (time order
    matters only for continuity); rest_joints [24, 3] (or [F, 24, 3]) in SMPL's frame;
    sides [F, 24, 3] target direction of each joint's `side_axes` vector (NaN: none);
    side_weights [F, 24] in [0, 1] (default 1 where a side is given); leaf_directions
    [F, 24, 3] target direction of each leaf's LEAF_AXES vector (NaN: none).
    Returns rotmats [F, 24, 3, 3]: local rotations, the root's mapping SMPL's frame into
    the targets' frame, as `core.skeleton.forward_kinematics` takes them.
    """
    joints = np.asarray(joints, dtype=np.float64)
    num_frames = joints.shape[0]
    rest = np.broadcast_to(np.asarray(rest_joints, dtype=np.float64), joints.shape)
    nan = np.full(joints.shape, np.nan)
    sides = nan if sides is None else np.asarray(sides, dtype=np.float64)
    leaf_dirs = nan if leaf_directions is None else np.asarray(leaf_directions, dtype=np.float64)
    if side_weights is None:
        side_weights = np.isfinite(sides).all(axis=-1).astype(np.float64)
    side_weights = np.where(np.isfinite(sides).all(axis=-1), np.clip(side_weights, 0.0, 1.0), 0.0)

    glob = np.empty((num_frames, NUM_JOINTS, 3, 3))
    local = np.empty_like(glob)
    identity = np.broadcast_to(np.eye(3), (num_frames, 3, 3))
    # One skeleton per track: the side axes follow the first frame's rest bones.
    axes = _rest_side_axes(rest[0], side_axes)
    for j in range(NUM_JOINTS):
        p = int(PARENTS[j])
        parent = identity if p < 0 else glob[:, p]
        side_rest = axes[j]
        kids = CHILDREN[j]
        if len(kids) > 1:
            glob[:, j] = _solve_multi(joints, rest, j, kids, sides[:, j], side_weights[:, j], side_rest)
        else:
            if kids:
                rest_bone = rest[:, kids[0]] - rest[:, j]
                target_bone = joints[:, kids[0]] - joints[:, j]
            else:
                rest_bone = np.broadcast_to(LEAF_AXES[j], (num_frames, 3))
                target_bone = leaf_dirs[:, j]
            glob[:, j] = _solve_single(parent, unit(rest_bone), target_bone, sides[:, j], side_weights[:, j],
                                       side_rest)
        local[:, j] = np.swapaxes(parent, -1, -2) @ glob[:, j]
    return local


def _solve_multi(joints, rest, j, kids, side, weight, side_rest) -> np.ndarray:
    """Global rotation [F, 3, 3] of a joint with several children (weighted Wahba)."""
    a = np.stack([rest[:, k] - rest[:, j] for k in kids], axis=1)
    b = np.stack([joints[:, k] - joints[:, j] for k in kids], axis=1)
    # Directions only: each child counts by its rest length, whatever the target's length.
    length = np.linalg.norm(a, axis=-1, keepdims=True)
    a_dir, b_dir = unit(a), unit(b)
    w = length[..., 0]
    side_ok = weight > 0
    a_all = np.concatenate([a_dir, np.broadcast_to(side_rest, a_dir[:, :1].shape)], axis=1)
    b_all = np.concatenate([b_dir, np.where(side_ok[:, None, None], unit(np.nan_to_num(side))[:, None], 0.0)],
                           axis=1)
    w_all = np.concatenate([w, (weight * w.sum(axis=1))[:, None]], axis=1)
    return wahba(a_all, b_all, w_all)


def _solve_single(parent, rest_dir, target_bone, side, weight, side_rest) -> np.ndarray:
    """Global rotation [F, 3, 3] of a joint with one bone: swing from the parent, then twist.

    parent [F,3,3]; rest_dir [F,3] unit; target_bone [F,3] (NaN: keep the parent's
    orientation); side [F,3]; weight [F]; side_rest [3] perpendicular to rest_dir.
    """
    has_bone = np.isfinite(target_bone).all(axis=-1) & (np.linalg.norm(np.nan_to_num(target_bone), axis=-1) > 1e-9)
    keep = np.einsum("fij,fj->fi", parent, rest_dir)  # the bone where the parent alone puts it
    b = unit(np.where(has_bone[:, None], np.nan_to_num(target_bone), keep))
    b_local = np.einsum("fji,fj->fi", parent, b)  # parent^T b
    local = minimal_rotation(rest_dir, b_local)
    angle = np.arccos(np.clip(np.sum(rest_dir * b_local, axis=-1), -1.0, 1.0))
    # Near a half turn the minimal swing's axis is ill-defined: swing from the previous
    # frame's rotation instead, so the bone keeps its twist through the singularity.
    for f in np.flatnonzero(angle > SINGULAR_ANGLE):
        prev = local[f - 1] if f > 0 else np.eye(3)
        local[f] = minimal_rotation(prev @ rest_dir[f], b_local[f]) @ prev
    glob = parent @ local

    current = np.einsum("fij,j->fi", glob, side_rest)
    phi, valid = twist_angle(current, np.nan_to_num(side), b)
    use = valid & has_bone & (weight > 0)
    w = np.where(use, weight, 0.0)
    if use.sum() > 1:
        # Partial weights scale the angle: keep it continuous where it passes +-pi.
        phi[use] = np.unwrap(phi[use])
    return axis_rotation(b, w * phi) @ glob
