"""scripts/batch_import.py as a user runs it: `python scripts/batch_import.py -- ...` with bpy from PyPI,
on each Blender-side Python (tests/blender_harness.py); videos go through the worker's Python."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from blender_harness import BLENDER_PYTHONS
from conftest import REPO, TESTS, write_video
from video_to_motion.core.common.motion import write_motion
from motions import random_motion

SCRIPT = REPO / "scripts" / "batch_import.py"


@pytest.fixture(params=BLENDER_PYTHONS, ids=repr)
def blender(request) -> str:
    return request.param


def batch(tmp_path, *args, timeout=300, python=None):
    env = dict(os.environ)
    env["BLENDER_USER_RESOURCES"] = str(tmp_path / "blender_user")
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(TESTS), env.get("PYTHONPATH", "")])
    proc = subprocess.run([python or sys.executable, str(SCRIPT), "--", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=tmp_path)
    # stdout holds the report and nothing else (nothing when argparse refused the command line)
    report = json.loads(proc.stdout) if proc.stdout.strip() else None
    return proc.returncode, report, proc.stderr


@pytest.fixture(scope="module")
def motions(tmp_path_factory, body_model_path):
    folder = tmp_path_factory.mktemp("motions")
    for seed, name in enumerate(("walk", "jump")):
        motion, _ = random_motion(body_model_path, tracks={1: np.arange(8), 2: np.arange(3, 10)}, seed=seed)
        write_motion(folder / f"{name}.npz", motion)
    return folder


def test_motion_files_to_every_output_with_a_report(tmp_path, motions, blender):
    out = tmp_path / "out"
    rc, report, err = batch(tmp_path, "--motion", motions, "--blend", f"{out}/", "--fbx", f"{out}/{{name}}.fbx",
                            "--bvh", f"{out}/", "--glb", f"{out}/", "--amass", f"{out}/", "--track", "all",
                            "--root-smoothing", "none", "--no-ground", "--report", tmp_path / "report.json",
                            python=blender)
    assert rc == 0, err
    assert report["ok"] and [r["name"] for r in report["results"]] == ["jump", "walk"]
    assert json.loads((tmp_path / "report.json").read_text()) == report
    for entry in report["results"]:
        assert entry["tracks"] == [1, 2] and entry["frames"] == [1, 10]
        for key in ("blend", "fbx", "glb"):
            assert [Path(p).name for p in entry["outputs"][key]] == [f"{entry['name']}.{'glb' if key == 'glb' else key}"]
        assert len(entry["outputs"]["bvh"]) == 2 and len(entry["outputs"]["amass"]) == 2
    names = sorted(p.name for p in out.iterdir())
    assert "walk.blend" in names and "walk_track2.bvh" in names and "jump_track1.npz" in names
    assert not [n for n in names if n.startswith(".")], "no temporary files left"


def test_one_bad_input_fails_the_batch_but_not_the_others(tmp_path, motions, blender):
    bad = tmp_path / "broken.npz"
    bad.write_text("not a motion")
    rc, report, _ = batch(tmp_path, "--motion", motions / "walk.npz", bad, tmp_path / "missing.npz",
                          "--fbx", f"{tmp_path}/{{name}}.fbx", "--track", "1", python=blender)
    assert rc == 1 and report["ok"] is False
    by_name = {r["name"]: r for r in report["results"]}
    assert by_name["walk"]["ok"] and by_name["walk"]["tracks"] == [1]
    assert not by_name["broken"]["ok"] and "not a readable .npz" in by_name["broken"]["error"]
    assert not by_name["missing"]["ok"] and "does not exist" in by_name["missing"]["error"]
    assert (tmp_path / "walk.fbx").exists() and not (tmp_path / "broken.fbx").exists()


def test_usage_errors_exit_2(tmp_path, motions):
    rc, report, err = batch(tmp_path, "--motion", motions, "--fbx", tmp_path / "one.fbx")
    assert rc == 2 and "several inputs" in err and report["ok"] is False
    rc, _, err = batch(tmp_path, "--motion", motions, "--root-smoothing", "lots")
    assert rc == 2 and "smoothing" in err
    rc, _, _ = batch(tmp_path, "--fbx", "x.fbx")
    assert rc == 2


def test_videos_through_the_worker(tmp_path, blender):
    videos = tmp_path / "videos"
    videos.mkdir()
    for name in ("a", "b"):
        write_video(videos / f"{name}.mp4", frames=6)
    rc, report, err = batch(tmp_path, "--video", f"{videos}/*.mp4", "--estimator", "doubles:FakeEstimator",
                            "--glb", f"{tmp_path}/out/", "--motion-dir", tmp_path / "motions", "--python",
                            sys.executable, python=blender)
    assert rc == 0, err
    assert [r["name"] for r in report["results"]] == ["a", "b"]
    for entry in report["results"]:
        assert Path(entry["motion"]).parent == tmp_path / "motions" and Path(entry["motion"]).exists()
        assert entry["tracks"] == [1, 2]
        assert Path(entry["outputs"]["glb"][0]).exists()
