"""From a `vtm.motion/1` track to keyframe arrays for an SMPL armature (numpy only).

Frames: the motion lives in the OpenCV camera frame (x right, y down, z forward). The
Blender world is that frame turned by CAMERA_TO_BLENDER, (x, y, z) -> (x, z, -y): the
camera at the origin looks along +Y with Z up. The rig (what the add-on builds):
- armature space is SMPL's own frame (y up, the body facing +z), so the rest pose stands
  upright; the armature object's world matrix is `ground @ ARMATURE_TO_BLENDER`, a +90
  degree turn about X (Y up -> Z up), and the remaining half turn from the camera's
  y-down to SMPL's y-up (CAMERA_TO_ARMATURE) is folded into the pelvis keys;
- one bone per SMPL joint, head at the track's rest joint, every rest matrix equal to
  the armature's axes, so SMPL's local axis-angle rotations go straight into the pose
  bones' `rotation_quaternion` (the pelvis gets the half turn in front);
- the pelvis pose-bone location places the pelvis where smplx's `transl` puts it. When a
  track's shape varies from row to row, the other bones' locations carry the change of
  their offsets, so every joint stays exact.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from . import rotations
from .motion import CAMERA_TO_ZUP, Motion, MotionFormatError
from .skeleton import NUM_JOINTS, PARENTS
from .smoothing import OneEuro, smooth_positions, smooth_quaternions

# (x, y, z) in the camera frame -> (x, z, -y) in the Blender world.
CAMERA_TO_BLENDER = CAMERA_TO_ZUP
# Half a turn about x: the camera's y-down frame -> SMPL's y-up frame (armature space).
CAMERA_TO_ARMATURE = np.diag([1.0, -1.0, -1.0])
CAMERA_TO_ARMATURE_Q = np.array([0.0, 1.0, 0.0, 0.0])
# Armature space -> Blender world: +90 degrees about X.
ARMATURE_TO_BLENDER = CAMERA_TO_BLENDER @ CAMERA_TO_ARMATURE
# A Blender camera looks along its local -Z with +Y up; OpenCV's along +z with y down.
BLENDER_CAMERA_TO_CV = np.diag([1.0, -1.0, -1.0])
# Gaps up to this long are interpolated; longer ones hold the last pose, with no keys.
DEFAULT_MAX_GAP_SECONDS = 0.25
# Below this (metres) a bone's offset is taken as constant and gets no location keys.
LOCATION_EPS = 1e-6


@dataclasses.dataclass
class TrackKeys:
    """Everything the add-on keys for one track.

    frames [F] video frame ids of the keys (Blender frame = video frame + 1);
    observed [F] False on interpolated frames; hold [F] True on the last key before a
    long gap (keyed CONSTANT, so the pose holds instead of sliding through the gap);
    quats [F, 24, 4] pose-bone rotations (w, x, y, z), sign-continuous per bone;
    locations [F, 24, 3] pose-bone locations; animated_locations [24] which bones need
    location keys; rest_joints [24, 3] the armature's rest (SMPL frame, metres);
    betas [10] the mean shape; trans [F, 3] smplx transl after smoothing (camera
    frame); row_rest_joints [F, 24, 3] each frame's own rest joints.
    """

    track_id: int
    frames: np.ndarray
    observed: np.ndarray
    hold: np.ndarray
    quats: np.ndarray
    locations: np.ndarray
    animated_locations: np.ndarray
    rest_joints: np.ndarray
    betas: np.ndarray
    trans: np.ndarray
    row_rest_joints: np.ndarray

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])

    def armature_joints(self, joints: tuple[int, ...] | None = None) -> np.ndarray:
        """[F, 24, 3] pose-bone heads in armature space, computed as Blender poses the rig.

        With rest matrices equal to the armature's axes a bone's pose matrix is
        parent_pose @ T(rest offset + location) @ R, so heads follow SMPL's chain.
        `joints` limits the work to those joints' chains (the others come back as NaN).
        """
        rest = np.asarray(self.rest_joints, dtype=np.float64)
        parents = np.where(PARENTS < 0, 0, PARENTS)
        offsets = rest - rest[parents]
        offsets[0] = rest[0]
        offsets = offsets[None] + self.locations                          # [F, 24, 3]
        needed = _chains(joints) if joints is not None else range(NUM_JOINTS)
        out = np.full(offsets.shape, np.nan)
        glob = {}
        for j in needed:  # parents come before children in SMPL's order
            local = rotations.quaternion_to_matrix(self.quats[:, j])
            p = int(PARENTS[j])
            if p < 0:
                glob[j], out[:, j] = local, offsets[:, 0]
            else:
                glob[j] = glob[p] @ local
                out[:, j] = out[:, p] + np.einsum("fij,fj->fi", glob[p], offsets[:, j])
        return out

    def camera_joints(self) -> np.ndarray:
        """[F, 24, 3] joints in the motion's camera frame (what smplx gives per row)."""
        return self.armature_joints() @ CAMERA_TO_ARMATURE.T


def _chains(joints) -> list[int]:
    """The given joints and all their ancestors, parents first."""
    keep = set()
    for j in joints:
        while j >= 0 and j not in keep:
            keep.add(int(j))
            j = int(PARENTS[j])
    return sorted(keep)


def select_tracks(motion: Motion, people: str | int = "all") -> list[int]:
    """Which tracks to import: "all", "largest" (biggest on screen for longest) or a track id."""
    tracks = motion.track_list()
    if not tracks:
        raise MotionFormatError("the motion holds no rows (nobody was found in the video)")
    if people == "all":
        return tracks
    if people == "largest":
        box = motion.bboxes.astype(np.float64)
        area = np.clip(box[:, 2] - box[:, 0], 0, None) * np.clip(box[:, 3] - box[:, 1], 0, None)
        score = [area[motion.track_ids == t].sum() + 1e-9 * np.count_nonzero(motion.track_ids == t)
                 for t in tracks]
        return [tracks[int(np.argmax(score))]]
    try:
        wanted = int(people)
    except (TypeError, ValueError):
        raise ValueError(f"people must be 'all', 'largest' or a track id, got {people!r}") from None
    if wanted not in tracks:
        raise MotionFormatError(f"track {wanted} is not in the motion; its tracks are {tracks}")
    return [wanted]


def segments(frames: np.ndarray, max_gap: int) -> list[np.ndarray]:
    """Split sorted frame ids where more than `max_gap` frames are missing.

    frames [N] -> list of index arrays into frames, in order.
    """
    frames = np.asarray(frames)
    cuts = np.flatnonzero(np.diff(frames) > max_gap + 1) + 1
    return np.split(np.arange(len(frames)), cuts)


def max_gap_frames(fps: float, seconds: float = DEFAULT_MAX_GAP_SECONDS) -> int:
    return max(1, int(round(seconds * float(fps))))


def track_keys(motion: Motion, track_id: int, root_smoothing: OneEuro | None = None,
               rotation_smoothing: OneEuro | None = None, max_gap: int | None = None) -> TrackKeys:
    """Keyframe arrays for one track; see the module docstring for the convention.

    Short gaps (<= max_gap missing frames; default a quarter second) are interpolated
    (slerp for rotations, linear for the rest); longer gaps get no keys. Smoothing runs on
    each gap-free stretch on its own and never moves keys across a long gap.
    """
    rows = motion.rows_of_track(track_id)
    if rows.size == 0:
        raise MotionFormatError(f"track {track_id} is not in the motion; its tracks are {motion.track_list()}")
    if max_gap is None:
        max_gap = max_gap_frames(motion.fps)
    parts = []
    for seg in segments(motion.frame_ids[rows], max_gap):
        filled = _fill(motion, rows[seg], track_id)
        quats = rotations.axis_angle_to_quaternion(filled["poses"].reshape(-1, NUM_JOINTS, 3))
        quats = smooth_quaternions(quats, motion.fps, rotation_smoothing)
        trans = smooth_positions(filled["trans"], motion.fps, root_smoothing)
        hold = np.zeros(len(filled["frame_ids"]), dtype=bool)
        hold[-1] = True
        parts.append(dict(frames=filled["frame_ids"], observed=filled["observed"], hold=hold, quats=quats,
                          trans=trans, rest=filled["rest_joints"]))
    parts[-1]["hold"][-1] = False
    cat = lambda key: np.concatenate([p[key] for p in parts])
    quats = cat("quats")
    quats[:, 0] = rotations.quaternion_multiply(CAMERA_TO_ARMATURE_Q, quats[:, 0])
    quats = rotations.make_quaternions_continuous(quats, axis=0)
    row_rest = cat("rest")
    trans = cat("trans")
    rest = motion.rest_joints[rows].astype(np.float64).mean(0)
    betas = motion.betas[rows].astype(np.float64).mean(0)
    locations, animated = bone_locations(row_rest, trans, rest)
    return TrackKeys(track_id=int(track_id), frames=cat("frames").astype(np.int64), observed=cat("observed"),
                     hold=cat("hold"), quats=quats, locations=locations, animated_locations=animated,
                     rest_joints=rest, betas=betas, trans=trans, row_rest_joints=row_rest)


def interpolated_track(motion: Motion, track_id: int) -> dict[str, np.ndarray]:
    """One track on every frame from its first to its last, gaps interpolated.

    Rotations are slerped joint by joint, translations and shapes interpolated linearly.
    Returns frame_ids, poses [F,72], trans [F,3], betas [F,10], rest_joints [F,24,3] and
    `observed` [F] (False on interpolated frames).
    """
    rows = motion.rows_of_track(track_id)
    if rows.size == 0:
        raise MotionFormatError(f"track {track_id} is not in the motion; tracks are {motion.track_list()}")
    frames = motion.frame_ids[rows].astype(np.int64)
    full = np.arange(frames[0], frames[-1] + 1)
    # Index of the last observed row at or before each frame, and the fraction to the next.
    left = np.searchsorted(frames, full, side="right") - 1
    right = np.minimum(left + 1, len(frames) - 1)
    span = np.maximum(frames[right] - frames[left], 1)
    t = np.clip((full - frames[left]) / span, 0.0, 1.0)

    def lerp(a: np.ndarray) -> np.ndarray:
        a = a.astype(np.float64)
        shape = (-1,) + (1,) * (a.ndim - 1)
        return a[left] * (1 - t.reshape(shape)) + a[right] * t.reshape(shape)

    quats = rotations.axis_angle_to_quaternion(motion.poses[rows].reshape(-1, 24, 3))
    q = rotations.slerp(quats[left], quats[right], np.broadcast_to(t[:, None], (len(full), 24)))
    return {
        "frame_ids": full,
        "poses": rotations.quaternion_to_axis_angle(q).reshape(-1, 72),
        "trans": lerp(motion.trans[rows]),
        "betas": lerp(motion.betas[rows]),
        "rest_joints": lerp(motion.rest_joints[rows]),
        "observed": np.isin(full, frames),
    }


def _fill(motion: Motion, rows: np.ndarray, track_id: int) -> dict[str, np.ndarray]:
    """interpolated_track on some rows of a track, without the slerps when nothing is missing."""
    frames = motion.frame_ids[rows].astype(np.int64)
    if frames[-1] - frames[0] + 1 > len(frames):
        return interpolated_track(motion.select(rows), track_id)
    f64 = lambda a: np.asarray(a[rows], dtype=np.float64)
    return {"frame_ids": frames, "poses": f64(motion.poses), "trans": f64(motion.trans),
            "betas": f64(motion.betas), "rest_joints": f64(motion.rest_joints),
            "observed": np.ones(len(frames), dtype=bool)}


def bone_locations(row_rest: np.ndarray, trans: np.ndarray, rest: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pose-bone locations that put every head where SMPL puts its joint.

    row_rest [F, 24, 3] each frame's rest joints, trans [F, 3] smplx transl (camera
    frame), rest [24, 3] the armature's rest -> (locations [F, 24, 3], animated [24]).
    With rest matrices aligned to the armature, a bone's head sits at parent head +
    R_parent (offset + loc), so loc = row offset - rest offset. SMPL puts the pelvis at
    J0 + transl in the camera frame, which is CAMERA_TO_ARMATURE (J0 + transl) in
    armature space.
    """
    row_rest = np.asarray(row_rest, dtype=np.float64)
    parents = np.where(PARENTS < 0, 0, PARENTS)
    row_off = row_rest - row_rest[:, parents]
    rest_off = rest - rest[parents]
    row_off[:, 0] = row_rest[:, 0]
    rest_off[0] = rest[0]
    loc = row_off - rest_off
    loc[:, 0] = (row_rest[:, 0] + np.asarray(trans, dtype=np.float64)) @ CAMERA_TO_ARMATURE.T - rest[0]
    animated = np.abs(loc).max(axis=0).max(axis=-1) > LOCATION_EPS
    animated[0] = True
    return loc, animated


def blender_fps(fps: float) -> tuple[int, float]:
    """Blender's (render.fps, render.fps_base) for a frame rate: 29.97 -> (30, 1.001)."""
    fps = float(fps)
    if not np.isfinite(fps) or fps <= 0:
        raise ValueError(f"frame rate must be positive, got {fps!r}")
    whole = max(1, int(fps + 0.5))
    for base in (1.0, 1.001):  # the NTSC family, exactly as Blender's presets store it
        if abs(whole / base - fps) < 5e-4 * fps / whole + 1e-9:
            return whole, base
    return whole, whole / fps


def camera_lens_mm(focal_px: float, width: int, height: int, sensor_mm: float = 36.0) -> float:
    """Focal length in mm on a `sensor_mm` sensor fitted to the image's longer side."""
    return float(focal_px) * sensor_mm / float(max(width, height))


def object_matrices(ground: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """World matrices (4x4) of the armatures and of the camera.

    ground: the rigid floor transform (core.ground.floor_transform) or None.
    """
    g = np.eye(4) if ground is None else np.asarray(ground, dtype=np.float64)
    arm = np.eye(4)
    arm[:3, :3] = ARMATURE_TO_BLENDER
    cam = np.eye(4)
    cam[:3, :3] = CAMERA_TO_BLENDER @ BLENDER_CAMERA_TO_CV
    return g @ arm, g @ cam


def world_joints(keys: TrackKeys, joints: tuple[int, ...] | None = None) -> np.ndarray:
    """[F, 24, 3] posed joints in the Blender world before any ground transform
    (only `joints` and their chains when given; NaN elsewhere)."""
    return keys.armature_joints(joints) @ ARMATURE_TO_BLENDER.T


def amass_arrays(quats: np.ndarray, pelvis_location: np.ndarray, rest_joints: np.ndarray,
                 armature_matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AMASS-style (poses [F, 72], trans [F, 3]) of a keyed armature, in its world.

    quats [F, 24, 4] pose-bone rotations, pelvis_location [F, 3] the pelvis pose-bone
    location, rest_joints [24, 3] the armature's rest, armature_matrix [4, 4] its world
    matrix (a rotation and a translation). The pelvis world position is
    M (J0 + loc) and AMASS's trans is that minus J0.
    """
    m = np.asarray(armature_matrix, dtype=np.float64)
    rot, offset = m[:3, :3], m[:3, 3]
    mats = rotations.quaternion_to_matrix(quats)
    mats[:, 0] = rot @ mats[:, 0]
    poses = rotations.matrix_to_axis_angle(mats).reshape(len(quats), -1)
    j0 = np.asarray(rest_joints, dtype=np.float64)[0]
    pelvis = (j0 + np.asarray(pelvis_location, dtype=np.float64)) @ rot.T + offset
    return poses, pelvis - j0
