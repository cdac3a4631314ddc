"""Where the import puts armatures and camera: one Z-up world, the floor at Z = 0. numpy only.

A `vtm.motion/2` file carries its world (`camera_to_world`, found by the worker from the
people); a `/1` file does not, and the floor is fitted under the feet as before
(core.common.ground). Planted feet are then locked in place (core.common.foot_lock). A
moving camera (camera rows that differ) is keyed along its path, the rows moved into the
first camera's frame (core.common.camera_path).
The add-on's importer and the benchmarks call `import_world`, so both see the same scene.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from . import camera_path
from . import contacts as contact_rules
from . import foot_lock, keyframes
from . import ground as ground_fit
from .motion import Motion
from .smoothing import OneEuro


@dataclasses.dataclass
class PlacedScene:
    keys: list                      # keyframes.TrackKeys per track (feet locked)
    armature_matrices: list         # [4, 4] world matrix per track
    camera_matrix: np.ndarray       # [4, 4] the Blender camera's world matrix
    ground: np.ndarray | None       # [4, 4] the transform applied over the camera-centred world
    warnings: list[str]
    # A moving camera: (video frames [T], the Blender camera's world matrices [T, 4, 4]).
    camera_path: tuple[np.ndarray, np.ndarray] | None = None


def _camera_to_blender() -> np.ndarray:
    out = np.eye(4)
    out[:3, :3] = keyframes.CAMERA_TO_BLENDER
    return out


def import_world(motion: Motion, tracks: list[int], settings, max_gap: int | None = None) -> PlacedScene:
    """Keys and world matrices of `tracks`. settings: root_smoothing, rotation_smoothing,
    ground (bool) and foot_lock (0..1) as in core.common.options.IMPORT."""
    root = OneEuro.from_strength(settings.root_smoothing)
    rot = OneEuro.from_strength(settings.rotation_smoothing)
    path = None
    if camera_path.is_moving(motion):
        # Rows into the first camera's frame: the people keyed in one world, the camera animated.
        path = _camera_path(motion, bool(settings.ground))
        motion = camera_path.into_reference(motion)
    keys = [keyframes.track_keys(motion, t, root, rot, max_gap) for t in tracks]
    warnings: list[str] = []
    ground = None
    if settings.ground and motion.has_world:
        matrices = np.asarray(motion.camera_to_world, np.float64)
        # camera frame -> world = ground @ (camera frame -> camera-centred Blender world)
        ground = matrices[0] @ np.linalg.inv(_camera_to_blender())
    elif settings.ground:
        points = [ground_fit.contact_points(keyframes.world_joints(k, ground_fit.FEET), motion.fps) for k in keys]
        try:
            ground = ground_fit.floor_transform(ground_fit.fit_floor(np.concatenate(points)))
        except ground_fit.GroundError as exc:
            warnings.append(f"ground alignment skipped: {exc}")
    arm, cam = keyframes.object_matrices(ground)
    strength = float(getattr(settings, "foot_lock", 0.0) or 0.0)
    if strength > 0 and ground is not None:
        keys = [foot_lock.lock_feet(k, arm, planted(motion, k, arm), strength) for k in keys]
    return PlacedScene(keys=keys, armature_matrices=[arm] * len(keys), camera_matrix=cam, ground=ground,
                       warnings=warnings, camera_path=path)


def _camera_path(motion: Motion, ground: bool) -> tuple[np.ndarray, np.ndarray]:
    """The Blender camera's world matrix per camera row: on the file's floor, or (no
    ground) relative to the first camera, which then sits at the origin as a static one does."""
    m = np.asarray(motion.camera_to_world, np.float64)
    if not ground:
        m = _camera_to_blender() @ np.linalg.inv(m[0])[None] @ m
    cv_to_blender = np.eye(4)
    cv_to_blender[:3, :3] = keyframes.BLENDER_CAMERA_TO_CV
    return np.asarray(motion.camera_frame_ids, np.int64).copy(), m @ cv_to_blender


def planted(motion: Motion, keys, armature_matrix: np.ndarray) -> np.ndarray:
    """[F, 2] planted feet on the key frames: the file's contacts (/2) on its rows, found
    from the keyed joints elsewhere (a /1 file, interpolated frames)."""
    joints = keys.armature_joints() @ armature_matrix[:3, :3].T + armature_matrix[:3, 3]
    scale = _body_scale(keys.rest_joints)
    found = contact_rules.detect(joints, keys.frames, motion.fps, scale)
    if motion.contacts is not None:
        rows = motion.rows_of_track(keys.track_id)
        at = np.searchsorted(keys.frames, motion.frame_ids[rows])
        ok = (at < len(keys.frames)) & (keys.frames[np.minimum(at, len(keys.frames) - 1)] == motion.frame_ids[rows])
        found[at[ok]] = motion.contacts[rows[ok]]
    return found


def _body_scale(rest: np.ndarray) -> float:
    """A skeleton's size relative to the default one (head joint over the ankles)."""
    from .skeleton import DEFAULT_REST_JOINTS

    ref = DEFAULT_REST_JOINTS[15, 1] - DEFAULT_REST_JOINTS[7, 1]
    return float((rest[15, 1] - rest[7, 1]) / ref)
