"""Settings of a run (per scene) and the live state of runs (per window manager)."""
from __future__ import annotations

import bpy
from bpy.props import (BoolProperty, EnumProperty, FloatProperty, IntProperty, PointerProperty,
                       StringProperty)
from bpy.types import PropertyGroup

from ..core.common.options import IMPORT, MIN_DETECTOR_SIZE, WORKER

ESTIMATORS = [
    ("AUTO", "Auto", "TAR when a checkpoint is set, else BlazePose"),
    ("TAR", "TAR", "The TAR video model (needs a checkpoint)"),
    ("BLAZEPOSE", "BlazePose", "MediaPipe BlazePose, works out of the box"),
    ("CUSTOM", "Custom", "Any estimator class importable by the worker, as module:Class"),
]
DEVICES = [
    ("AUTO", "Auto", "The GPU when the worker has one, else the CPU"),
    ("CUDA", "GPU (CUDA)", "An NVIDIA GPU"),
    ("CPU", "CPU", "The processor (slow)"),
]
# The panel's defaults are the option table's (core.common.options).
WORKER_DEFAULT = {o.name: o.default for o in WORKER}
IMPORT_DEFAULT = {o.name: o.default for o in IMPORT}
PEOPLE = [
    ("LARGEST", "Largest", "The person biggest on screen for longest"),
    ("ALL", "All", "One armature per tracked person"),
    ("TRACK", "Track ID", "One track by its id"),
]


class VTM_SceneSettings(PropertyGroup):
    video: StringProperty(name="Video", subtype="FILE_PATH", description="The video to turn into motion")
    use_frame_range: BoolProperty(name="Frame Range", default=False,
                                  description="Process only part of the video")
    frame_start: IntProperty(name="First", default=0, min=0, description="First video frame (0-based)")
    frame_end: IntProperty(name="Last", default=100, min=0, description="Last video frame (0-based, inclusive)")
    estimator: EnumProperty(name="Estimator", items=ESTIMATORS, default=WORKER_DEFAULT["estimator"].upper())
    estimator_custom: StringProperty(name="Class", description="module:Class importable by the worker")
    checkpoint: StringProperty(name="Checkpoint", subtype="FILE_PATH",
                               description="TAR checkpoint (.pt); empty: the default from the preferences")
    device: EnumProperty(name="Device", items=DEVICES, default=WORKER_DEFAULT["device"].upper())
    detector_size: IntProperty(name="Detector Size", default=WORKER_DEFAULT["detector_size"], min=MIN_DETECTOR_SIZE,
                               soft_max=1920, step=32, subtype="PIXEL",
                               description="The person detector's input, its longer side: larger finds smaller "
                                           "people (e.g. 960 for a crowd in 1080p video) and is slower")
    people: EnumProperty(name="People", items=PEOPLE, default=IMPORT_DEFAULT["people"].upper())
    track_id: IntProperty(name="Track", default=1, min=0, description="The track to import")
    root_smoothing: FloatProperty(name="Root Smoothing", default=IMPORT_DEFAULT["root_smoothing"], min=0.0, max=1.0,
                                  subtype="FACTOR",
                                  description="Jitter filter on the root translation (0: off)")
    rotation_smoothing: FloatProperty(name="Rotation Smoothing", default=IMPORT_DEFAULT["rotation_smoothing"], min=0.0, max=1.0,
                                      subtype="FACTOR", description="Jitter filter on joint rotations (0: off)")
    foot_lock: FloatProperty(name="Foot Lock", default=IMPORT_DEFAULT["foot_lock"], min=0.0, max=1.0,
                             subtype="FACTOR",
                             description="Keep planted feet in place with leg IK (0: off)")
    ground: BoolProperty(name="Align Ground", default=IMPORT_DEFAULT["ground"],
                         description="Put the floor under the feet at Z = 0 (moves armatures and camera together)")
    mesh: BoolProperty(name="Body Mesh", default=True,
                       description="Add a skinned SMPL mesh when an SMPL model file is set in the preferences")
    camera: BoolProperty(name="Camera", default=IMPORT_DEFAULT["camera"], description="Add a camera that matches the video")
    camera_motion: BoolProperty(name="Camera Motion", default=WORKER_DEFAULT["camera_motion"],
                                description="Find the camera's own turns from the background and animate the camera "
                                            "along them (off: the camera is taken as static)")


class VTM_RunState(PropertyGroup):
    running: BoolProperty(default=False)
    cancel_requested: BoolProperty(default=False)
    progress: FloatProperty(default=0.0, min=0.0, max=1.0, subtype="FACTOR")
    status: StringProperty(default="")
    last_error: StringProperty(default="")
    last_warning: StringProperty(default="")
    last_motion: StringProperty(default="", subtype="FILE_PATH")
    check_running: BoolProperty(default=False)
    check_report: StringProperty(default="")
    setup_running: BoolProperty(default=False)
    setup_cancel_requested: BoolProperty(default=False)
    setup_progress: FloatProperty(default=0.0, min=0.0, max=1.0, subtype="FACTOR")
    setup_status: StringProperty(default="")
    setup_error: StringProperty(default="")


CLASSES = (VTM_SceneSettings, VTM_RunState)


@bpy.app.handlers.persistent
def _reset_run_state(_dummy=None) -> None:
    """A file saved mid-run must not open with Run disabled: no run survives a file load."""
    for wm in bpy.data.window_managers:
        state = getattr(wm, "vtm", None)
        if state is not None:
            state.running = state.setup_running = state.check_running = False
            state.cancel_requested = state.setup_cancel_requested = False


def register() -> None:
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    bpy.types.Scene.vtm = PointerProperty(type=VTM_SceneSettings)
    bpy.types.WindowManager.vtm = PointerProperty(type=VTM_RunState)
    bpy.app.handlers.load_post.append(_reset_run_state)


def unregister() -> None:
    if _reset_run_state in bpy.app.handlers.load_post:
        bpy.app.handlers.load_post.remove(_reset_run_state)
    del bpy.types.WindowManager.vtm
    del bpy.types.Scene.vtm
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
