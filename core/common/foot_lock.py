"""Foot locking: a planted foot stays where it is. numpy only.

For each run of frames where a foot is planted, its ankle is pulled to one place (the
run's median position) by two-bone leg IK: the hip stays, the thigh and shin turn in the
leg's own bending plane (the knee keeps pointing where it did), and the foot holds the
run's mean orientation, so the toes stay put too (an estimate's foot rotation wobbles by
degrees, which swings the toes by centimetres). `strength` (0..1) blends from the keyed
foot to the locked one. The lock holds fully over the whole run and fades in and out
over a few frames just outside it (the foot eases into its resting place), so the leg
does not pop and a planted foot does not slide while the lock fades.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from . import rotations
from .skeleton import NUM_JOINTS, PARENTS

LEGS = ((1, 4, 7), (2, 5, 8))   # (hip, knee, ankle): left, right
FADE_FRAMES = 3
REACH = 0.999                    # the leg never straightens fully (the knee direction stays defined)


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of each run of True."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)))


def _global(quats: np.ndarray) -> np.ndarray:
    local = rotations.quaternion_to_matrix(quats)
    glob = np.empty_like(local)
    for j in range(NUM_JOINTS):
        p = int(PARENTS[j])
        glob[:, j] = local[:, j] if p < 0 else glob[:, p] @ local[:, j]
    return glob


def _min_rotation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[F, 3, 3] smallest rotations taking directions a [F, 3] to b [F, 3]."""
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    v = np.cross(a, b)
    c = np.einsum("fi,fi->f", a, b)
    vx = np.zeros(a.shape[:-1] + (3, 3))
    vx[:, 0, 1], vx[:, 0, 2], vx[:, 1, 2] = -v[:, 2], v[:, 1], -v[:, 0]
    vx[:, 1, 0], vx[:, 2, 0], vx[:, 2, 1] = v[:, 2], -v[:, 1], v[:, 0]
    return np.eye(3) + vx + vx @ vx / np.maximum(1.0 + c, 1e-9)[:, None, None]


def lock_weights(planted: np.ndarray, strength: float, cut: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Blend weight [F] of the lock for one foot's planted mask [F], and the index [F] of the
    planted frame each weight belongs to (-1: none). Strength on planted frames, fading to 0
    over FADE_FRAMES frames outside each run; cut [F] (True where a frame starts a new piece
    of keys after a gap) stops a fade from crossing a gap."""
    n = len(planted)
    w, source = np.zeros(n), np.full(n, -1)
    piece = np.cumsum(cut) if cut is not None else np.zeros(n, np.int64)
    best = np.full(n, np.inf)
    for i in np.flatnonzero(planted):
        lo, hi = max(0, i - FADE_FRAMES), min(n, i + FADE_FRAMES + 1)
        span = np.arange(lo, hi)
        dist = np.abs(span - i).astype(np.float64)
        closer = (dist < best[span]) & (piece[span] == piece[i])
        best[span[closer]], source[span[closer]] = dist[closer], i
    near = source >= 0
    w[near] = np.clip(1.0 - best[near] / (FADE_FRAMES + 1), 0.0, 1.0)
    return w * float(strength), source


def lock_feet(keys, armature_matrix: np.ndarray, planted: np.ndarray, strength: float):
    """TrackKeys with the hips', knees' and ankles' rotations changed so that each planted
    foot's ankle stays put. planted [F, 2] (left, right) on keys.frames; armature_matrix
    [4, 4] the armature's world matrix (a rotation and a translation, no scale)."""
    strength = float(strength)
    if strength <= 0 or keys.num_frames < 2 or not np.any(planted):
        return keys
    quats = keys.quats.copy()
    rot = np.asarray(armature_matrix, np.float64)[:3, :3]
    joints = keys.armature_joints()                          # [F, 24, 3] armature space
    glob = _global(quats)
    # Runs must not span a cut in the keys (a gap the import does not bridge).
    cut = np.concatenate([[False], np.diff(keys.frames) > 1])
    for side, (hip, knee, ankle) in enumerate(LEGS):
        mask = np.asarray(planted[:, side], bool)
        target = joints[:, ankle].copy()
        target_rot = glob[:, ankle].copy()
        for start, stop in runs(mask):
            pieces = np.split(np.arange(start, stop), np.flatnonzero(cut[start + 1:stop]) + 1)
            for piece in pieces:
                # The place the foot rests: the median over the run, in the world's horizontal,
                # and its median height (armature space is a rotation of the world); the way
                # it rests: the mean of its orientations (chordal mean).
                target[piece] = np.median(joints[piece, ankle], axis=0)
                target_rot[piece] = rotations.nearest_rotation(glob[piece, ankle].sum(axis=0))
        w, source = lock_weights(mask, strength, cut)
        frames = np.flatnonzero(w > 0)
        if frames.size == 0:
            continue
        goal, goal_rot = target[source[frames]], target_rot[source[frames]]
        h, k, a = joints[frames, hip], joints[frames, knee], joints[frames, ankle]
        want = a + w[frames, None] * (goal - a)
        l1 = np.linalg.norm(k - h, axis=1)
        l2 = np.linalg.norm(a - k, axis=1)
        reach = want - h
        dist = np.linalg.norm(reach, axis=1)
        dist_c = np.clip(dist, np.abs(l1 - l2) + 1e-6, REACH * (l1 + l2))
        axis = reach / np.maximum(dist, 1e-9)[:, None]
        want = h + axis * dist_c[:, None]
        # Knee in the plane of the reach and the current knee, by the law of cosines.
        along = (l1**2 - l2**2 + dist_c**2) / (2 * dist_c)
        across = np.sqrt(np.maximum(l1**2 - along**2, 0.0))
        bend = (k - h) - np.einsum("fi,fi->f", k - h, axis)[:, None] * axis
        norm = np.linalg.norm(bend, axis=1)
        fallback = np.cross(axis, rot.T @ np.array([1.0, 0.0, 0.0]))  # any side direction for a straight leg
        bend = np.where(norm[:, None] > 1e-6, bend / np.maximum(norm, 1e-9)[:, None],
                        fallback / np.maximum(np.linalg.norm(fallback, axis=1, keepdims=True), 1e-9))
        k_new = h + along[:, None] * axis + across[:, None] * bend
        r1 = _min_rotation(k - h, k_new - h)
        g_hip = r1 @ glob[frames, hip]
        shin = np.einsum("fij,fj->fi", r1, a - k)
        r2 = _min_rotation(shin, want - k_new)
        g_knee = r2 @ r1 @ glob[frames, knee]
        g_parent = glob[frames, int(PARENTS[hip])]
        local_hip = np.swapaxes(g_parent, -1, -2) @ g_hip
        local_knee = np.swapaxes(g_hip, -1, -2) @ g_knee
        g_ankle = rotations.quaternion_to_matrix(rotations.slerp(
            rotations.matrix_to_quaternion(glob[frames, ankle]), rotations.matrix_to_quaternion(goal_rot),
            w[frames]))
        local_ankle = np.swapaxes(g_knee, -1, -2) @ g_ankle
        for j, m in ((hip, local_hip), (knee, local_knee), (ankle, local_ankle)):
            quats[frames, j] = rotations.matrix_to_quaternion(m)
        glob = _global(quats)
    quats = rotations.make_quaternions_continuous(quats, axis=0)
    return dataclasses.replace(keys, quats=quats)
