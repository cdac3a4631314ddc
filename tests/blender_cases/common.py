"""Helpers for the Blender cases (run inside tests/blender_runner.py)."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

import bpy

from video_to_motion.core.common.keyframes import CAMERA_TO_BLENDER

TESTS = Path(__file__).resolve().parents[1]

JOINTS = ("pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee", "spine2", "left_ankle",
          "right_ankle", "spine3", "left_foot", "right_foot", "neck", "left_collar", "right_collar", "head",
          "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
          "left_hand", "right_hand")


def snapshot() -> dict:
    """Everything an import may not leave behind or change when it fails."""
    scene = bpy.context.scene
    data = {kind: sorted(i.name for i in getattr(bpy.data, kind))
            for kind in ("objects", "actions", "armatures", "cameras", "meshes", "collections", "movieclips",
                         "images")}
    data["scene"] = (scene.render.fps, round(scene.render.fps_base, 6), scene.frame_start, scene.frame_end,
                     scene.frame_current, scene.render.resolution_x, scene.render.resolution_y,
                     scene.camera.name if scene.camera else None)
    data["children"] = sorted(c.name for c in scene.collection.children)
    data["selected"] = sorted(o.name for o in bpy.context.view_layer.objects if o.select_get())
    active = bpy.context.view_layer.objects.active
    data["active"] = active.name if active else None
    return data


def world_heads(obj, frame: int) -> np.ndarray:
    """[24, 3] world positions of the pose-bone heads at a Blender frame."""
    bpy.context.scene.frame_set(frame)
    m = np.array(obj.matrix_world)
    heads = np.array([obj.pose.bones[name].head for name in JOINTS])
    return heads @ m[:3, :3].T + m[:3, 3]


def camera_to_world(points: np.ndarray) -> np.ndarray:
    return np.asarray(points) @ CAMERA_TO_BLENDER.T


def armatures_by_track(objects) -> dict:
    return {int(o["vtm_track_id"]): o for o in objects if o.type == "ARMATURE" and "vtm_track_id" in o}


def populate_user_scene() -> None:
    """Objects, an action and names a user might have, for the "never touched" checks."""
    mesh = bpy.data.meshes.new("clip track 1")
    obj = bpy.data.objects.new("clip track 1", mesh)
    bpy.context.scene.collection.objects.link(obj)
    obj.location = (1.0, 2.0, 3.0)
    action = bpy.data.actions.new("clip track 1")
    action.use_fake_user = True
    other = bpy.data.objects.new("user empty", None)
    bpy.context.scene.collection.objects.link(other)
    other.select_set(True)
    bpy.context.view_layer.objects.active = other


def worker_python() -> str:
    """The worker's Python (torch, OpenCV); the harness passes it, as the Blender side may lack both."""
    return os.environ.get("VTM_WORKER_PYTHON") or sys.executable


def write_video(path, frames: int = 12, size=(96, 64), fps: float = 25.0) -> Path:
    """tests/conftest.py's small video, written by the worker's Python when OpenCV is not here."""
    try:
        import cv2  # noqa: F401
    except ImportError:
        code = ("import sys; from pathlib import Path; from conftest import write_video; "
                "write_video(Path(sys.argv[1]), frames=int(sys.argv[2]), size=(int(sys.argv[3]), int(sys.argv[4])), "
                "fps=float(sys.argv[5]))")
        subprocess.run([worker_python(), "-c", code, str(path), str(frames), str(size[0]), str(size[1]), str(fps)],
                       check=True, timeout=120, env=dict(os.environ, PYTHONPATH=os.pathsep.join(map(str, (TESTS.parent, TESTS)))))
        return Path(path)
    from conftest import write_video as write

    return write(Path(path), frames=frames, size=size, fps=fps)
