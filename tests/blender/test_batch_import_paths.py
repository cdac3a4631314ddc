"""batch_import writes only where it is asked: relative paths are the caller's, an input is never an output."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from conftest import REPO, TESTS, write_video
from hostile import motion_arrays

SCRIPT = REPO / "scripts" / "batch_import.py"


def batch(cwd: Path, *args, timeout=300):
    """Run the script in `cwd`; returns (exit code, the --report file's JSON, stderr)."""
    report = cwd / "report.json"
    env = dict(os.environ)
    env["BLENDER_USER_RESOURCES"] = str(cwd / "blender_user")
    env["TMPDIR"] = str(cwd / "tmp")           # Blender's temp folder goes there
    (cwd / "tmp").mkdir(exist_ok=True)
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")])
    env.setdefault("YOLO_OFFLINE", "1")
    proc = subprocess.run([sys.executable, str(SCRIPT), "--", *map(str, args), "--report", str(report)],
                          capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)
    return proc.returncode, (json.loads(report.read_text()) if report.exists() else None), proc.stderr


def _repo_files() -> set[str]:
    return {str(p.relative_to(REPO)) for p in REPO.rglob("*.npz") if ".git" not in p.parts}


def test_relative_paths_from_another_folder_land_in_that_folder(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "clips").mkdir(parents=True)
    write_video(elsewhere / "clips" / "clip.mp4", frames=6)
    before = _repo_files()
    rc, report, err = batch(elsewhere, "--video", "clips/clip.mp4", "--estimator", "doubles:FakeEstimator",
                            "--motion-dir", "motions", "--glb", "out/")
    assert rc == 0, err
    [entry] = report["results"]
    assert Path(entry["motion"]) == elsewhere / "motions" / "clip.npz" and Path(entry["motion"]).is_file()
    assert (elsewhere / entry["outputs"]["glb"][0]).resolve() == (elsewhere / "out" / "clip.glb").resolve()
    assert (elsewhere / "out" / "clip.glb").is_file()
    assert _repo_files() == before, "nothing may be written into the extension's folder"
    assert not list((elsewhere / "tmp").glob("blender_*")), "Blender's temp folder is left behind"


def test_an_output_naming_the_input_is_refused_and_the_input_kept(tmp_path):
    motion = tmp_path / "walk.npz"
    np.savez(motion, **motion_arrays())
    original = motion.read_bytes()
    rc, report, err = batch(tmp_path, "--motion", "walk.npz", "--blend", "walk.npz")
    assert rc == 1, err
    [entry] = report["results"]
    assert not entry["ok"] and "is the input" in entry["error"] and "walk.npz" in entry["error"]
    assert motion.read_bytes() == original


def test_exports_to_a_full_disk_fail_in_one_line(tmp_path, small_disk):
    motion = tmp_path / "walk.npz"
    np.savez(motion, **motion_arrays())
    rc, report, err = batch(tmp_path, "--motion", motion, "--fbx", small_disk / "walk.fbx")
    assert rc == 1, err
    [entry] = report["results"]
    assert "disk is full" in entry["error"] and "walk.fbx" in entry["error"], entry["error"]
    assert "\n" not in entry["error"] and len(entry["error"]) < 400
    rc, report, err = batch(tmp_path, "--motion", motion, "--blend", small_disk / "walk.blend")
    [entry] = report["results"]
    assert rc == 1 and "disk is full" in entry["error"] and "walk.blend" in entry["error"], entry["error"]
    assert list(small_disk.iterdir()) == [], "no temporary file may be left"
