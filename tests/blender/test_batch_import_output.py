"""What scripts/batch_import.py hands a program: the report alone on stdout, warnings logged
before the run's result, and footage paths in the .blend that move with the project."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from conftest import write_video
from video_to_motion.core.common.motion import write_motion
from motions import random_motion
from test_batch_import import batch, blender  # noqa: F401 - the fixture runs on each Blender

OPEN_BLEND = """
import bpy, json, os, shutil, sys
bpy.ops.wm.open_mainfile(filepath=sys.argv[1])
clips = [(c.filepath, os.path.isfile(bpy.path.abspath(c.filepath))) for c in bpy.data.movieclips]
sys.stdout.flush()
os.write(1, ("CLIPS " + json.dumps(clips) + "\\n").encode())
shutil.rmtree(bpy.app.tempdir, ignore_errors=True)  # os._exit skips Blender's clean-up
os._exit(0)
"""


def clips_in(python, tmp_path, blend):
    env = {"BLENDER_USER_RESOURCES": str(tmp_path / "blender_user_open"), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([python, "-c", OPEN_BLEND, str(blend)], capture_output=True, text=True, timeout=120,
                          env=env)
    line = [l for l in proc.stdout.splitlines() if l.startswith("CLIPS ")]
    assert line, proc.stdout + proc.stderr
    return json.loads(line[-1][len("CLIPS "):])


def test_stdout_is_one_json_document_and_footage_is_relative_in_a_project(tmp_path, body_model_path, blender):
    project = tmp_path / "project"
    (project / "footage").mkdir(parents=True)
    video = write_video(project / "footage" / "clip.mp4", frames=4, size=(640, 480))
    motion, _ = random_motion(body_model_path, tracks={1: np.arange(4)})
    path = write_motion(project / "clip.npz", motion)
    apart = tmp_path / "elsewhere" / "deep" / "down"
    rc, report, err = batch(tmp_path, "--motion", path, "--footage", video, "--blend", project / "scenes" / "a.blend",
                            "--fbx", project / "a.fbx", python=blender)
    assert rc == 0 and report["ok"], err  # batch() parses all of stdout as one JSON document
    assert "FBX export" in err or "export" in err.lower()  # Blender's own prints went to stderr
    assert clips_in(blender, tmp_path, project / "scenes" / "a.blend") == [["//../footage/clip.mp4", True]]
    rc, report, err = batch(tmp_path, "--motion", path, "--footage", video, "--blend", apart / "b.blend",
                            python=blender)
    assert rc == 0, err
    assert clips_in(blender, tmp_path, apart / "b.blend") == [[str(video), True]]


def test_worker_warnings_are_logged_before_the_result(tmp_path):
    video = write_video(tmp_path / "w.mp4", frames=4)
    rc, report, err = batch(tmp_path, "--video", video, "--estimator", "doubles:WarningEstimator", "--python",
                            sys.executable, "--glb", tmp_path / "w.glb")
    assert rc == 0, err
    warnings = report["results"][0]["warnings"]
    assert warnings[0] == "test warning: using the offline fallback detector"
    assert all("camera could not be found" in w for w in warnings[1:])  # 4 frames: too little for a camera
    warned = err.index("w: warning: test warning")
    assert warned < err.index("[vtm] w: ok"), err
