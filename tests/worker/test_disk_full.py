"""A real full disk (a 64 kB tmpfs): the worker says so with its own code, and nothing is left behind."""
from __future__ import annotations

from conftest import run_worker, write_video


def test_worker_on_a_full_disk_reports_disk_full(tmp_path, small_disk):
    video = write_video(tmp_path / "clip.mp4", frames=40)
    (small_disk / "filler").write_bytes(b"\0" * 60_000)
    out = small_disk / "motion.npz"
    rc, events, stderr = run_worker(video, "-o", out, "--estimator", "doubles:FakeEstimator")
    assert rc == 1, stderr
    error = events[-1]
    assert error["event"] == "error" and error["code"] == "disk_full", error
    assert "motion.npz" in error["message"] and "Free some space" in error["message"]
    assert sorted(p.name for p in small_disk.iterdir()) == ["filler"], "no temporary file may be left"
