"""The add-on's worker polling class against real worker child processes (no Blender)."""
from __future__ import annotations

import os
import sys
import time

import numpy as np
import pytest

from conftest import TESTS
from video_to_motion.core.common.motion import read_motion
from video_to_motion.core.client.worker_client import WorkerOptions, WorkerRun, format_eta, worker_command, worker_env


def make_run(video, out, estimator, **options):
    return WorkerRun(sys.executable, video, out, WorkerOptions(estimator=estimator, **options),
                     env=worker_env([str(TESTS)]))


def test_command_line_carries_every_option():
    argv = worker_command("/py", "v.mp4", "o.npz", WorkerOptions(estimator="tar", checkpoint="c.pt",
                                                                  smpl_model="s.pkl", device="cpu", start_frame=0,
                                                                  end_frame=9, max_people=1))
    # Paths are the caller's: the child runs in the extension's folder.
    here = os.path.abspath
    assert argv[:6] == ["/py", "-m", "video_to_motion.core.worker", here("v.mp4"), "-o", here("o.npz")]
    pairs = dict(zip(argv[6::2], argv[7::2]))
    assert pairs == {"--estimator": "tar", "--device": "cpu", "--checkpoint": here("c.pt"),
                     "--smpl-model": here("s.pkl"), "--start-frame": "0", "--end-frame": "9", "--max-people": "1"}
    # A bare detector name that is no file here is an ultralytics asset name, passed as it is.
    assert worker_command("/py", "v", "o", WorkerOptions(detector="yolo11s.pt"))[-2:] == ["--detector", "yolo11s.pt"]
    assert worker_command("/py", "v", "o", WorkerOptions(detector="w/d.pt"))[-1] == here("w/d.pt")
    assert "--checkpoint" not in worker_command("/py", "v", "o", WorkerOptions(checkpoint=""))


def test_polling_never_blocks_and_reports_progress_then_the_motion(tmp_path, small_video):
    out = tmp_path / "m.npz"
    run = make_run(small_video, out, "doubles:SlowEstimator", end_frame=5)
    run.start()
    seen, slowest = [], 0.0
    while True:
        t = time.perf_counter()
        over = run.poll()
        slowest = max(slowest, time.perf_counter() - t)
        seen.append((run.progress.stage, run.progress.done, run.progress.total))
        if over:
            break
        time.sleep(0.02)
    assert slowest < 0.25, f"poll() blocked for {slowest:.3f} s"
    assert run.succeeded, run.error
    assert run.result() == str(out)
    estimate = [s for s in seen if s[0] == "estimate"]
    assert estimate and len({s[1] for s in estimate}) > 1, "progress should advance over several polls"
    assert estimate[-1][2] == 6
    assert run.info.get("estimator") == "fake"
    assert read_motion(out).track_list() == [1, 2]


def test_cancel_terminates_the_worker_and_writes_nothing(tmp_path, small_video):
    out = tmp_path / "m.npz"
    run = make_run(small_video, out, "doubles:SlowEstimator")
    run.start()
    while run.progress.stage != "estimate" and not run.poll():
        time.sleep(0.02)
    t = time.monotonic()
    run.cancel()
    run.wait(timeout=30)
    assert time.monotonic() - t < 10
    assert run.error is not None and run.error.code == "cancelled"
    assert "cancelled" in str(run.error)
    assert run.child.returncode is not None
    assert not out.exists()
    assert not list(tmp_path.glob(".m.npz*")), "no temporary file may be left behind"
    with pytest.raises(Exception, match="cancelled"):
        run.result()


def test_a_worker_that_crashes_mid_run_gives_a_clear_error(tmp_path, small_video):
    out = tmp_path / "m.npz"
    run = make_run(small_video, out, "doubles:CrashingEstimator").wait(timeout=120)
    assert run.error is not None and run.error.code == "worker_crashed"
    assert "exit code 86" in str(run.error)
    assert not out.exists()


def test_a_worker_error_is_passed_on_in_words(tmp_path):
    run = make_run(tmp_path / "nope.mp4", tmp_path / "m.npz", "doubles:FakeEstimator").wait(timeout=120)
    assert run.error.code == "video_not_found"
    assert "nope.mp4" in str(run.error)


def test_missing_interpreter_is_an_error_not_a_traceback(tmp_path, small_video):
    run = WorkerRun(tmp_path / "no-python", small_video, tmp_path / "m.npz").wait(timeout=5)
    assert run.error.code == "worker_python_missing"
    assert "does not exist" in str(run.error) and "preferences" in str(run.error)


def test_status_text_and_eta():
    assert format_eta(None) == "--:--" and format_eta(65) == "1:05" and format_eta(3725) == "1:02:05"
    run = WorkerRun(sys.executable, "v", "o")
    run._handle_line('{"event": "progress", "stage": "estimate", "done": 10, "total": 40, "fps": 5.0}')
    run._handle_line("not json from a noisy library")
    assert run.status_text() == "estimate · 10/40 · 5.0 fps · ETA 0:06"
    assert run.progress.fraction == 0.25 and run.stray_lines == ["not json from a noisy library"]


def test_mesh_conversion_runs_in_the_worker_env_and_reads_with_numpy(tmp_path, body_model_path):
    from video_to_motion.core.worker.body_model import create_smpl, smpl_rest_joints
    from video_to_motion.core.common.mesh_file import read_mesh_file, shaped_vertices
    from video_to_motion.core.client.worker_client import ProtocolRun, mesh_command

    out = tmp_path / "mesh.npz"
    run = ProtocolRun(mesh_command(sys.executable, body_model_path, out), output=out, what="the mesh conversion")
    assert run.wait(timeout=120).succeeded, run.error
    mesh = read_mesh_file(out)
    assert mesh["v_template"].shape == (6890, 3) and mesh["faces"].shape[1] == 3
    betas = np.random.default_rng(0).normal(size=10)
    joints = mesh["j_regressor"].astype(np.float64) @ shaped_vertices(mesh, betas)
    np.testing.assert_allclose(joints, smpl_rest_joints(create_smpl(body_model_path), betas[None])[0], atol=1e-5)

    bad = tmp_path / "bad.pkl"
    bad.write_text("nope")
    run = ProtocolRun(mesh_command(sys.executable, bad, tmp_path / "m2.npz"), output=tmp_path / "m2.npz").wait(
        timeout=120)
    assert run.error.code == "smpl_model_invalid" and "bad.pkl" in str(run.error)
    assert not (tmp_path / "m2.npz").exists()


def test_check_worker_reports_versions_and_devices():
    from video_to_motion.core.client.worker_client import summary_lines
    from video_to_motion.core.client.worker_client import ProtocolRun, check_command

    run = ProtocolRun(check_command(sys.executable), what="the worker check").wait(timeout=120)
    report = run.info["check"]
    import torch

    assert report["torch"]["version"] == torch.__version__
    assert report["torch"]["cuda_available"] == torch.cuda.is_available()
    assert report["packages"]["numpy"] == np.__version__
    lines = summary_lines(report)
    assert lines[0].startswith("Python 3.") and any(line.startswith("torch ") for line in lines)
    assert run.succeeded == (not report["problems"]), report["problems"]
