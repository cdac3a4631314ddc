"""Motion file -> armatures with keys, a matching camera, and an optional skinned mesh.

All the maths (keys, smoothing, the world and foot locking) is numpy in core.common and runs
before the scene is touched; this module only creates datablocks. Everything it creates
is recorded, so a failure part-way removes it all and restores the scene settings: the
scene is left as it was. Existing objects, actions and names are never changed (new
datablocks get Blender's ".001" names when a name is taken).
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import bpy
import numpy as np

from ..core.common import keyframes, rotations, world
from ..core.common.mesh_file import read_mesh_file
from ..core.common.motion import Motion, read_motion
from ..core.common.options import ImportSettings
from ..core.common.skeleton import JOINT_NAMES, PARENTS
from . import common
from .animation import CONSTANT, LINEAR, ActionWriter
from .mesh import build_body_mesh

TRACK_ID_PROP = "vtm_track_id"


class ImportFailed(RuntimeError):
    """The import could not finish; the scene was left as it was."""


@dataclasses.dataclass
class ImportOptions(ImportSettings):
    """The table's import options (people, smoothing, ground, camera, mesh_file) and the scene's."""

    video: str | None = None          # footage for the camera background (default: none)
    name: str | None = None           # base name of the new datablocks
    max_gap_seconds: float = keyframes.DEFAULT_MAX_GAP_SECONDS
    set_scene: bool = True            # frame rate, frame range, resolution, active camera


@dataclasses.dataclass
class ImportResult:
    armatures: list
    camera: object | None
    collection: object
    meshes: list
    ground: np.ndarray | None
    track_ids: list[int]
    frame_range: tuple[int, int]
    warnings: list[str]


class _Created:
    """Records new datablocks and scene settings so that a failure can undo everything."""

    SETTINGS = (("render", "fps"), ("render", "fps_base"), ("render", "resolution_x"), ("render", "resolution_y"),
                ("render", "pixel_aspect_x"), ("render", "pixel_aspect_y"), (None, "frame_start"),
                (None, "frame_end"), (None, "frame_current"), (None, "camera"))

    def __init__(self, scene):
        self.scene = scene
        self.ids: list = []
        self.settings = [(owner, attr, getattr(self._owner(owner), attr)) for owner, attr in self.SETTINGS]

    def _owner(self, owner):
        return self.scene if owner is None else getattr(self.scene, owner)

    def add(self, idblock):
        self.ids.append(idblock)
        return idblock

    def rollback(self) -> None:
        if bpy.context.mode != "OBJECT" and bpy.context.view_layer.objects.active in self.ids:
            bpy.ops.object.mode_set(mode="OBJECT")
        for owner, attr, value in self.settings:
            try:
                setattr(self._owner(owner), attr, value)
            except (ReferenceError, AttributeError, TypeError):
                pass
        collections = {bpy.types.Object: bpy.data.objects, bpy.types.Armature: bpy.data.armatures,
                       bpy.types.Action: bpy.data.actions, bpy.types.Camera: bpy.data.cameras,
                       bpy.types.Mesh: bpy.data.meshes, bpy.types.MovieClip: bpy.data.movieclips,
                       bpy.types.Collection: bpy.data.collections}
        # Objects first: removing them frees their data for removal.
        order = sorted(reversed(self.ids), key=lambda i: not isinstance(i, bpy.types.Object))
        for idblock in order:
            for kind, store in collections.items():
                if isinstance(idblock, kind):
                    try:
                        store.remove(idblock)
                    except (ReferenceError, RuntimeError):
                        pass
                    break
        self.ids.clear()
        bpy.context.view_layer.update()


class _IsolatedSelection:
    """Selects only `objects` while inside (edit mode enters every selected object of its
    type), then restores the user's selection and active object exactly."""

    def __init__(self, context, objects):
        self.context, self.objects = context, list(objects)

    def __enter__(self):
        layer = self.context.view_layer
        self.active = layer.objects.active
        self.selected = [o for o in layer.objects if o.select_get()]
        for o in self.selected:
            o.select_set(False)
        for o in self.objects:
            o.select_set(True)
        layer.objects.active = self.objects[0]
        return self

    def __exit__(self, *exc):
        if self.context.mode != "OBJECT":
            bpy.ops.object.mode_set(mode="OBJECT")
        for o in self.objects:
            o.select_set(False)
        for o in self.selected:
            try:
                o.select_set(True)
            except ReferenceError:
                pass
        self.context.view_layer.objects.active = self.active
        return False


def bone_length(rest: np.ndarray, j: int) -> float:
    """Display length of a bone (they all point along +Y, SMPL's up): short and tidy."""
    kids = [k for k in range(len(PARENTS)) if PARENTS[k] == j]
    if not kids:
        return 0.05
    return float(np.clip(np.linalg.norm(rest[kids[0]] - rest[j]), 0.04, 0.12))


def build_armatures(context, collection, named_rests: list[tuple[str, np.ndarray]], created: _Created) -> list:
    """Armature objects with the 24 SMPL bones at each rest [24, 3] (armature space), all
    built in one edit-mode session."""
    objects = []
    for name, _ in named_rests:
        arm = created.add(bpy.data.armatures.new(name))
        obj = created.add(bpy.data.objects.new(name, arm))
        collection.objects.link(obj)
        objects.append(obj)
    with _IsolatedSelection(context, objects):
        bpy.ops.object.mode_set(mode="EDIT")
        for obj, (_, rest_joints) in zip(objects, named_rests):
            bones = []
            for j, bone_name in enumerate(JOINT_NAMES):
                bone = obj.data.edit_bones.new(bone_name)
                head = rest_joints[j]
                bone.head = tuple(map(float, head))
                bone.tail = (float(head[0]), float(head[1] + bone_length(rest_joints, j)), float(head[2]))
                bone.roll = 0.0
                if PARENTS[j] >= 0:
                    bone.parent = bones[PARENTS[j]]
                    bone.use_connect = False
                bones.append(bone)
        bpy.ops.object.mode_set(mode="OBJECT")
    for obj in objects:
        for pb in obj.pose.bones:
            pb.rotation_mode = "QUATERNION"
    return objects


def key_track(obj, keys: keyframes.TrackKeys, action_name: str, created: _Created) -> bpy.types.Action:
    """Write the track's keys: Blender frame = video frame + 1, linear, holds before long gaps."""
    writer = ActionWriter(obj, action_name)
    created.add(writer.action)
    frames = keys.frames.astype(np.float64) + 1.0
    interp = np.where(keys.hold, CONSTANT, LINEAR).astype(np.int32)
    quats = keys.quats.astype(np.float32)
    locs = keys.locations.astype(np.float32)
    for j, bone in enumerate(JOINT_NAMES):
        base = f'pose.bones["{bone}"]'
        for i in range(4):
            writer.curve(f"{base}.rotation_quaternion", i, frames, quats[:, j, i], interp, group=bone)
        if keys.animated_locations[j]:
            for i in range(3):
                writer.curve(f"{base}.location", i, frames, locs[:, j, i], interp, group=bone)
    writer.assign()
    return writer.action


def key_camera_path(obj, frames: np.ndarray, matrices: np.ndarray, created: _Created) -> None:
    """Keys on every camera row: location and rotation (quaternion) of a moving camera.

    frames [T] video frames, matrices [T, 4, 4] the camera's world matrices (rigid).
    """
    writer = ActionWriter(obj, f"{obj.name} path")
    created.add(writer.action)
    obj.rotation_mode = "QUATERNION"
    keyed = np.asarray(frames, np.float64) + 1.0  # video frame i is Blender frame i + 1
    quats = rotations.make_quaternions_continuous(rotations.matrix_to_quaternion(matrices[:, :3, :3]), axis=0)
    for i in range(3):
        writer.curve("location", i, keyed, matrices[:, i, 3], LINEAR, group="Object Transforms")
    for i in range(4):
        writer.curve("rotation_quaternion", i, keyed, quats[:, i], LINEAR, group="Object Transforms")
    writer.assign()


def build_camera(collection, name: str, motion: Motion, matrix: np.ndarray, video: str | None,
                 created: _Created, warnings: list[str], path: tuple[np.ndarray, np.ndarray] | None = None):
    """A camera with the video's focal length and aspect, the footage behind it; keyed
    along `path` (video frames, world matrices) when the camera moves."""
    width, height = motion.image_size
    cam = created.add(bpy.data.cameras.new(name))
    cam.sensor_fit = "AUTO"
    cam.sensor_width = 36.0
    cam.lens = keyframes.camera_lens_mm(motion.focal_length, width, height, 36.0)  # /2: the calibrated focal
    cam.clip_start, cam.clip_end = 0.05, 1000.0
    obj = created.add(bpy.data.objects.new(name, cam))
    collection.objects.link(obj)
    obj.matrix_world = common.blender_matrix(matrix if path is None else path[1][0])
    obj["vtm_camera"] = True
    if path is not None:
        key_camera_path(obj, path[0], path[1], created)
    if video:
        if not os.path.isfile(video):
            warnings.append(f"the footage '{video}' is missing; the camera has no background")
        else:
            try:
                clip = created.add(bpy.data.movieclips.load(video, check_existing=False))
            except RuntimeError as exc:
                warnings.append(f"Blender cannot open the footage '{video}' ({exc}); the camera has no background")
            else:
                clip.frame_start = 1  # video frame i is Blender frame i + 1, as for the keys
                bg = cam.background_images.new()
                bg.source = "MOVIE_CLIP"
                bg.clip = clip
                bg.alpha = 1.0
                bg.frame_method = "FIT"
                cam.show_background_images = True
    return obj


def import_motion(context, motion: Motion | str | os.PathLike, options: ImportOptions | None = None) -> ImportResult:
    """Import a motion into context.scene; on any failure the scene is left as it was.

    Raises FileNotFoundError / core.motion.MotionFormatError for a bad file (before
    anything changes) and ImportFailed for a failure while building (after rollback).
    """
    options = options or ImportOptions()
    source = None
    if not isinstance(motion, Motion):
        source = os.fspath(motion)
        motion = read_motion(source)
    if context.mode != "OBJECT":
        raise ImportFailed("switch to Object Mode before importing a motion")
    name = options.name or (Path(options.video or source).stem if (options.video or source) else "motion")

    # Numpy first: a failure here has not touched the scene.
    tracks = keyframes.select_tracks(motion, options.people)
    gap = keyframes.max_gap_frames(motion.fps, options.max_gap_seconds)
    placed = world.import_world(motion, tracks, options, gap)
    all_keys, ground, warnings = placed.keys, placed.ground, list(placed.warnings)
    arm_matrix, cam_matrix = placed.armature_matrices[0], placed.camera_matrix
    mesh_data = None
    if options.mesh_file:
        mesh_data = read_mesh_file(options.mesh_file)

    scene = context.scene
    created = _Created(scene)
    try:
        collection = created.add(bpy.data.collections.new(f"{name} (Video to Motion)"))
        scene.collection.children.link(collection)
        meshes = []
        labels = [f"{name} track {keys.track_id}" for keys in all_keys]
        armatures = build_armatures(context, collection, [(label, k.rest_joints) for label, k in
                                                          zip(labels, all_keys)], created)
        for keys, label, obj in zip(all_keys, labels, armatures):
            obj.matrix_world = common.blender_matrix(arm_matrix)
            obj[TRACK_ID_PROP] = int(keys.track_id)
            obj["vtm_betas"] = [float(b) for b in keys.betas]
            obj["vtm_fps"] = float(motion.fps)
            if source:
                obj["vtm_motion_file"] = source
            action = key_track(obj, keys, label, created)
            action["vtm_track_id"] = int(keys.track_id)
            if mesh_data is not None:
                meshes.append(build_body_mesh(collection, f"{label} body", mesh_data, keys, obj, created, warnings))
        camera = None
        if options.camera:
            camera = build_camera(collection, f"{name} camera", motion, cam_matrix, options.video, created, warnings,
                                  placed.camera_path)
        first = int(min(k.frames[0] for k in all_keys)) + 1
        last = int(max(k.frames[-1] for k in all_keys)) + 1
        if options.set_scene:
            fps, base = keyframes.blender_fps(motion.fps)
            scene.render.fps, scene.render.fps_base = fps, base
            scene.render.resolution_x, scene.render.resolution_y = motion.image_size
            scene.render.pixel_aspect_x = scene.render.pixel_aspect_y = 1.0
            scene.frame_start, scene.frame_end = first, max(last, first)
            if camera is not None:
                scene.camera = camera
        for obj in armatures:
            obj.select_set(True)
        context.view_layer.objects.active = armatures[0]
    except Exception as exc:
        created.rollback()
        raise ImportFailed(f"import failed and was undone ({type(exc).__name__}: {exc})") from exc
    return ImportResult(armatures=armatures, camera=camera, collection=collection, meshes=meshes, ground=ground,
                        track_ids=[k.track_id for k in all_keys], frame_range=(first, last), warnings=warnings)
