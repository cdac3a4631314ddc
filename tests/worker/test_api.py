"""The worker's front door in process: estimate_video(video, options, events) -> Motion."""
from __future__ import annotations

import pytest

from conftest import write_video
from video_to_motion.core.common.motion import Motion
from video_to_motion.core.common.options import WorkerOptions
from video_to_motion.core.estimators import EstimatorError
from video_to_motion.core.worker.api import estimate_video


class Recorded:
    def __init__(self):
        self.progress_calls, self.warnings, self.infos = [], [], []

    def progress(self, stage, done, total, fps=None):
        self.progress_calls.append((stage, done, total))

    def warning(self, message):
        self.warnings.append(message)

    def info(self, **fields):
        self.infos.append(fields)


def test_estimate_video_runs_the_chosen_estimator_on_the_range(tmp_path):
    video = write_video(tmp_path / "v.mp4", frames=10)
    events = Recorded()
    motion = estimate_video(video, WorkerOptions(estimator="doubles:FakeEstimator", start_frame=2, end_frame=6),
                            events)
    assert isinstance(motion, Motion)
    assert motion.frame_ids.min() == 2 and motion.frame_ids.max() == 6
    assert events.infos[0]["estimator"] and events.infos[0]["frames"] == 10
    assert ("open", 1, 1) in events.progress_calls
    # Without listeners it runs the same.
    again = estimate_video(video, WorkerOptions(estimator="doubles:FakeEstimator", start_frame=2, end_frame=6))
    assert (again.frame_ids == motion.frame_ids).all()


@pytest.mark.parametrize("options, match", [
    (WorkerOptions(estimator="doubles:FakeEstimator", max_people=0), "--max-people must be at least 1"),
    (WorkerOptions(estimator="doubles:FakeEstimator", focal_length=-3.0), "--focal-length must be a positive"),
    (WorkerOptions(estimator="no_such_estimator"), "unknown estimator"),
])
def test_bad_options_are_named(tmp_path, options, match):
    video = write_video(tmp_path / "v.mp4", frames=4)
    with pytest.raises(EstimatorError, match=match):
        estimate_video(video, options)
