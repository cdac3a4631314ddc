"""Test doubles for the worker, loaded with `--estimator doubles:NAME` (tests/ on PYTHONPATH).

They decode the real video through video_to_motion.core.worker.video, so the worker's real path runs; only the
pose estimation itself is replaced by a deterministic function of the frame index.
"""
from __future__ import annotations

import os
import time

import numpy as np

from video_to_motion.core.estimators import WorkerOptions, RunContext
from video_to_motion.core.common.motion import Motion, sort_rows
from video_to_motion.core.common.skeleton import DEFAULT_REST_JOINTS
from video_to_motion.core.worker.video import iter_frames


def synthetic_rows(frame: int, track: int) -> dict:
    rng = np.random.default_rng(frame * 7 + track)
    poses = (0.3 * np.sin(0.2 * frame + np.arange(72) + track)).astype(np.float32)
    poses[:3] = [np.pi, 0.0, 0.0]  # upright person facing the camera (camera y points down)
    return dict(poses=poses, betas=np.zeros(10, np.float32),
                trans=np.array([0.3 * track, 0.2, 4.0 + 0.01 * frame], np.float32),
                rest_joints=DEFAULT_REST_JOINTS.astype(np.float32),
                bboxes=np.array([10, 10, 50, 60], np.float32) + rng.normal(size=4).astype(np.float32),
                scores=np.float32(0.9))


class FakeEstimator:
    """Two tracks: track 1 on every frame, track 2 on even frames."""

    name = "fake"
    per_frame_sleep = 0.0

    def __init__(self, options: WorkerOptions):
        self.options = options

    def estimate(self, run: RunContext) -> Motion:
        rows = []
        total = run.frame_total
        # As the real estimators' first pass: decoding losses reach the run's warnings.
        frames = iter_frames(run.video.path, run.start_frame, run.stop_frame, warn=run.warn)
        for done, (index, frame) in enumerate(frames, 1):
            assert frame.shape == (run.video.height, run.video.width, 3)
            for track in (1, 2) if index % 2 == 0 else (1,):
                rows.append((index, track, synthetic_rows(index, track)))
            run.progress("estimate", done, total)
            self.on_frame(done)
        if not rows:
            raise RuntimeError("no frames decoded")
        stack = lambda key: np.stack([r[2][key] for r in rows])
        motion = Motion(estimator=self.name, fps=run.video.fps, image_size=(run.video.width, run.video.height),
                        focal_length=float(np.hypot(run.video.width, run.video.height)),
                        frame_ids=np.array([r[0] for r in rows], np.int32),
                        track_ids=np.array([r[1] for r in rows], np.int32),
                        poses=stack("poses"), betas=stack("betas"), trans=stack("trans"),
                        rest_joints=stack("rest_joints"), bboxes=stack("bboxes"), scores=stack("scores"))
        return sort_rows(motion)

    def on_frame(self, done: int) -> None:
        if self.per_frame_sleep:
            time.sleep(self.per_frame_sleep)


class SlowEstimator(FakeEstimator):
    """Slow enough to be cancelled mid-run."""

    per_frame_sleep = 0.2


class CrashingEstimator(FakeEstimator):
    """Dies abruptly (as a segfault or the OOM killer would) after a few frames."""

    def on_frame(self, done: int) -> None:
        if done >= 3:
            os._exit(86)


class NanEstimator(FakeEstimator):
    """Returns a motion with a NaN in it: the worker must refuse to write it."""

    def estimate(self, run: RunContext) -> Motion:
        motion = super().estimate(run)
        motion.poses[0, 5] = np.nan
        return motion


class WarningEstimator(FakeEstimator):
    """Warns once at the start, as the worker does when it falls back to the offline detector."""

    def estimate(self, run: RunContext) -> Motion:
        run.warn("test warning: using the offline fallback detector")
        return super().estimate(run)
