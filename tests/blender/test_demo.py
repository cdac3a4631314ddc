"""scripts/demo.sh as a user runs it: bad command lines, a full run on a small video with
this environment (--python), and a failing worker that keeps the earlier outputs."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from conftest import REPO, TESTS, write_video

DEMO = REPO / "scripts" / "demo.sh"
OUTPUTS = ("demo.blend", "demo.fbx", "preview.png", "motion.npz")


def demo(cwd, *args, timeout=300):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")])  # the test estimators
    env.setdefault("YOLO_OFFLINE", "1")
    proc = subprocess.run(["bash", str(DEMO), *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)
    return proc.returncode, proc.stdout, proc.stderr


OPEN_BLEND = """
import bpy, json, os, shutil, sys
bpy.ops.wm.open_mainfile(filepath=sys.argv[1])
clips = [c.filepath for c in bpy.data.movieclips]
print("SCENE " + json.dumps({"armatures": sum(o.type == "ARMATURE" for o in bpy.data.objects),
      "camera": bpy.context.scene.camera is not None, "footage": clips,
      "footage_found": all(os.path.isfile(bpy.path.abspath(c)) for c in clips)}), flush=True)
shutil.rmtree(bpy.app.tempdir, ignore_errors=True)  # os._exit skips Blender's clean-up
os._exit(0)
"""


def open_blend(tmp_path, blend):
    """What a .blend holds, opened in a fresh bpy (after the demo moved it into place)."""
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp_path / "blender_user"))
    proc = subprocess.run([sys.executable, "-c", OPEN_BLEND, str(blend)], capture_output=True, text=True, env=env,
                          timeout=120)
    lines = [l for l in proc.stdout.splitlines() if l.startswith("SCENE ")]
    assert lines, proc.stderr[-3000:]
    return json.loads(lines[-1][len("SCENE "):])


@pytest.mark.parametrize("args, message", [
    (["missing.mp4"], "video file 'missing.mp4' does not exist"),
    (["--frames", "20-10"], "the last frame 10 is before the first 20"),
    (["--frames", "ten"], "--frames must look like 0-200"),
    (["--python", "no/such/python"], "is not an executable Python interpreter"),
])
def test_bad_command_lines_fail_before_any_work(tmp_path, args, message):
    rc, out, err = demo(tmp_path, *args, "--out", tmp_path / "out", timeout=60)
    assert rc == 2, (out, err)
    assert err.startswith("demo: error: ") and message in err
    assert not (tmp_path / "out").exists()


def test_a_run_then_a_failing_run_that_keeps_the_outputs(tmp_path):
    video = write_video(tmp_path / "clip.mp4", frames=10, size=(160, 120))
    out = tmp_path / "out"
    rc, stdout, err = demo(tmp_path, video, "--python", sys.executable, "--estimator", "doubles:FakeEstimator",
                           "--frames", "2-7", "--out", "out")
    assert rc == 0, err
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUTS), "outputs only, no temporary folder"
    table = stdout[stdout.index("stage "):]
    for row in ("setup (given environment)", "fetch (video given)", "worker start-up", "worker open",
                "worker estimate", "worker write", "import into Blender", "export demo.blend", "export demo.fbx",
                "preview.png", "total"):
        assert f"\n{row} " in "\n" + table, (row, table)
    assert "tracks [1, 2]" in stdout  # the preview frame has both of the test estimator's tracks
    assert (out / "demo.fbx").read_bytes().startswith(b"Kaydara FBX Binary")
    scene = open_blend(tmp_path, out / "demo.blend")
    # The footage lies beside the output folder: its path is relative to the .blend.
    assert scene == {"armatures": 2, "camera": True, "footage": ["//../clip.mp4"], "footage_found": True}, scene
    before = {name: (out / name).read_bytes() for name in OUTPUTS}

    # Frames the video does not have: the worker's own message, nothing replaced.
    rc, stdout, err = demo(tmp_path, video, "--python", sys.executable, "--estimator", "doubles:FakeEstimator",
                           "--frames", "50-60", "--out", "out")
    assert rc == 1
    assert "demo: error: the worker failed:" in err and "frame" in err.split("the worker failed:")[1]
    assert {name: (out / name).read_bytes() for name in OUTPUTS} == before
    assert sorted(p.name for p in out.iterdir()) == sorted(OUTPUTS)


def load_demo_module(monkeypatch):
    import importlib.util

    monkeypatch.syspath_prepend(str(REPO / "scripts"))  # it imports batch_import beside it
    spec = importlib.util.spec_from_file_location("vtm_demo_script", REPO / "scripts" / "demo.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_set_up_stops_before_pip_when_the_disk_cannot_take_pypis_torch(tmp_path, monkeypatch):
    demo_py = load_demo_module(monkeypatch)
    steps = []
    monkeypatch.setattr(demo_py, "reachable", lambda url, timeout=10.0: False)  # no PyTorch index
    monkeypatch.setattr(demo_py, "has_nvidia_gpu", lambda: False)
    monkeypatch.setattr(demo_py, "run_step", lambda label, argv: steps.append(argv))
    python = tmp_path / "env" / "bin" / "python"
    python.parent.mkdir(parents=True)
    monkeypatch.setattr(demo_py, "CUDA_TORCH_FREE_BYTES", 1 << 60)  # more than any disk
    with pytest.raises(demo_py.DemoError) as err:
        demo_py.install(python, ["torch", "bpy"])
    assert steps == []
    assert "needs about" in str(err.value) and "GB free on the disk of" in str(err.value)
    assert "--index-url https://download.pytorch.org/whl/cpu" in str(err.value)

    monkeypatch.setattr(demo_py, "CUDA_TORCH_FREE_BYTES", 0)
    demo_py.install(python, ["torch", "bpy"])
    assert steps[0][-len(demo_py.TORCH) - 2:] == demo_py.TORCH + ["--isolated", "--no-cache-dir"]
