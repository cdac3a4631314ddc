"""The worker CLI end to end: protocol, exit codes, bad input, cancellation, no lost outputs."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from conftest import REPO, run_worker, worker_env, write_video
from video_to_motion.core.common.motion import read_motion
from video_to_motion.core.common.protocol import EXIT_CANCELLED


def error_of(events):
    errors = [e for e in events if e["event"] == "error"]
    assert len(errors) == 1, events
    assert not any(e["event"] == "done" for e in events)
    return errors[0]


def test_missing_video_is_one_json_error(tmp_path):
    out = tmp_path / "x.npz"
    rc, events, _ = run_worker("missing.mp4", "-o", out)
    assert rc != 0
    assert len(events) == 1 or all(e["event"] != "done" for e in events)
    err = error_of(events)
    assert err["code"] == "video_not_found" and "missing.mp4" in err["message"]
    assert not out.exists()


def test_success_writes_a_valid_motion_and_streams_progress(tmp_path, small_video):
    out = tmp_path / "out.npz"
    rc, events, stderr = run_worker(small_video, "-o", out, "--estimator", "doubles:FakeEstimator",
                                    "--start-frame", "2", "--end-frame", "9")
    assert rc == 0, stderr
    assert events[-1] == {"event": "done", "output": str(out)}
    stages = [e["stage"] for e in events if e["event"] == "progress"]
    assert stages[0] == "open" and stages[-1] == "write" and "estimate" in stages
    last_estimate = [e for e in events if e["event"] == "progress" and e["stage"] == "estimate"][-1]
    assert last_estimate["done"] == last_estimate["total"] == 8
    motion = read_motion(out)
    assert motion.frame_ids.min() == 2 and motion.frame_ids.max() == 9
    assert motion.track_list() == [1, 2]
    assert motion.fps == pytest.approx(25.0) and motion.image_size == (96, 64)


@pytest.mark.parametrize("case", ["directory", "text_mp4", "zero_frames", "range", "missing_folder",
                                  "parent_is_file", "nan_output", "unknown_estimator"])
def test_bad_input_gives_a_specific_error_and_no_output(tmp_path, small_video, case):
    video, out, extra = small_video, tmp_path / "out.npz", []
    expected = {
        "directory": "video_is_directory", "text_mp4": "video_undecodable", "zero_frames": "video_",
        "range": "bad_frame_range", "missing_folder": "output_unwritable", "parent_is_file": "output_unwritable",
        "nan_output": "invalid_motion", "unknown_estimator": "unknown_estimator",
    }[case]
    if case == "directory":
        video = tmp_path
    elif case == "text_mp4":
        video = tmp_path / "fake.mp4"
        video.write_text("hello\n" * 100)
    elif case == "zero_frames":
        video = write_video(tmp_path / "empty.mp4", frames=0)
    elif case == "range":
        extra = ["--start-frame", "50"]
    elif case == "missing_folder":
        out = tmp_path / "no" / "such" / "out.npz"
    elif case == "parent_is_file":
        (tmp_path / "afile").write_text("x")
        out = tmp_path / "afile" / "out.npz"
    elif case == "nan_output":
        extra = ["--estimator", "doubles:NanEstimator"]
    if case == "unknown_estimator":
        extra = ["--estimator", "nosuch"]
    rc, events, _ = run_worker(video, "-o", out, *(extra or ["--estimator", "doubles:FakeEstimator"]))
    err = error_of(events)
    assert rc == 1
    assert err["code"].startswith(expected), err
    assert len(err["message"]) > 20
    assert not out.exists()


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root can write to read-only folders")
def test_read_only_output_folder(tmp_path, small_video):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        rc, events, _ = run_worker(small_video, "-o", folder / "out.npz", "--estimator", "doubles:FakeEstimator")
        assert rc == 1 and error_of(events)["code"] == "output_unwritable"
    finally:
        folder.chmod(0o700)


def test_failure_does_not_overwrite_an_earlier_result(tmp_path, small_video):
    out = tmp_path / "out.npz"
    rc, _, _ = run_worker(small_video, "-o", out, "--estimator", "doubles:FakeEstimator")
    assert rc == 0
    before = out.read_bytes()
    rc, events, _ = run_worker(small_video, "-o", out, "--estimator", "doubles:NanEstimator")
    assert rc == 1 and error_of(events)["code"] == "invalid_motion"
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "out.npz"]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_cancel_exits_cleanly_without_output(tmp_path, sig):
    video = write_video(tmp_path / "long.mp4", frames=200)
    out = tmp_path / "out.npz"
    proc = subprocess.Popen([sys.executable, "-m", "video_to_motion.core.worker", str(video), "-o", str(out),
                             "--estimator", "doubles:SlowEstimator"], cwd=REPO, env=worker_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # Wait until it is estimating, then cancel.
        for line in proc.stdout:
            event = json.loads(line)
            if event["event"] == "progress" and event["stage"] == "estimate":
                break
        proc.send_signal(sig)
        rest, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
    events = [json.loads(line) for line in rest.splitlines()]
    assert proc.returncode == EXIT_CANCELLED
    assert events[-1]["event"] == "error" and events[-1]["code"] == "cancelled"
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["long.mp4"]


def test_library_prints_never_reach_the_protocol(tmp_path, small_video):
    """Anything printed to stdout by libraries must land on stderr, not in the JSON stream."""
    out = tmp_path / "out.npz"
    code = ("import os, sys, doubles, video_to_motion.core.worker.cli as w\n"
            "doubles.FakeEstimator.on_frame = lambda self, d: (print('library chatter'), os.write(1, b'c-level chatter\\n'))\n"
            f"sys.exit(w.main([{str(small_video)!r}, '-o', {str(out)!r}, '--estimator', 'doubles:FakeEstimator']))\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=worker_env(), capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    for line in proc.stdout.splitlines():
        json.loads(line)
    assert "library chatter" in proc.stderr and "c-level chatter" in proc.stderr
