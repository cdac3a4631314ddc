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


@pytest.fixture(scope="session")
def body_model_path(tmp_path_factory) -> Path:
    from core.body_gen import write_smpl_pkl

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
    """Run `python -m core.worker ARGS`; returns (returncode, events, stderr)."""
    proc = subprocess.run([sys.executable, "-m", "core.worker", *map(str, args)], cwd=REPO, env=worker_env(),
                          capture_output=True, text=True, timeout=timeout, **kwargs)
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    return proc.returncode, events, proc.stderr
