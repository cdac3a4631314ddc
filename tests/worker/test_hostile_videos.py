"""Videos that used to give wrong results without a word: rotated, variable frame rate, damaged, cut short.

Each is made from a real OpenCV-written file (tests/hostile_video.py) and decoded for real.
"""
from __future__ import annotations

import numpy as np
import pytest

import hostile_video
from conftest import run_worker, write_video
from video_to_motion.core.common.motion import read_motion
from video_to_motion.core.worker.video import VideoError, iter_frames, probe


def test_a_rotated_phone_video_is_turned_upright(tmp_path):
    plain = write_video(tmp_path / "plain.mp4", frames=10, size=(96, 64))
    for degrees in (90, 270):
        path = hostile_video.rotated(tmp_path / f"rot{degrees}.mp4", degrees, size=(96, 64))
        info = probe(path)
        assert (info.width, info.height, info.rotation) == (64, 96, degrees)
        frames = dict(iter_frames(path))
        assert frames[0].shape == (96, 64, 3)
        # The same pixels as the plain file's frame, turned: the bright square moves along the
        # rotated axis (compared through the turned plain frame).
        upright = np.rot90(dict(iter_frames(plain))[3], k=-1 if degrees == 90 else 1)
        assert np.abs(frames[3].astype(int) - upright.astype(int)).mean() < 8


def test_variable_frame_rate_is_refused_with_a_reason(tmp_path):
    path = hostile_video.variable_rate(tmp_path / "vfr.mp4")
    with pytest.raises(VideoError) as err:
        probe(path)
    assert err.value.code == "video_variable_frame_rate"
    assert "vfr.mp4" in str(err.value) and "constant rate" in str(err.value) and "ffmpeg" in str(err.value)
    # A constant-rate file of the same making passes.
    probe(write_video(tmp_path / "cfr.mp4", frames=10))


def test_damaged_frames_are_skipped_counted_and_the_rest_decoded(tmp_path):
    path = hostile_video.damaged_middle(tmp_path / "damaged.mp4", frames=30)
    warnings: list[str] = []
    indices = [i for i, _ in iter_frames(path, warn=warnings.append)]
    lost = sorted(set(range(30)) - set(indices))
    assert indices[-1] == 29 and 0 < len(lost) < 15, indices  # decoding went on past the damage
    assert indices == sorted(indices)
    [message] = warnings
    assert f"{len(lost)} frame(s)" in message and "damaged" in message and f"{lost[0]}" in message


def test_a_video_shorter_than_it_states_says_so(tmp_path):
    path = hostile_video.truncated(tmp_path / "cut.avi", frames=30)
    info = probe(path)
    assert info.frame_count == 30
    warnings: list[str] = []
    decoded = [i for i, _ in iter_frames(path, warn=warnings.append)]
    assert 0 < len(decoded) < 30
    assert any("states 30 frames" in w and f"ends after frame {decoded[-1]}" in w for w in warnings), warnings


@pytest.mark.parametrize("case", ["truncated", "damaged", "vfr", "rotated"])
def test_worker_runs_report_each_case(tmp_path, case):
    make = {"truncated": lambda p: hostile_video.truncated(p.with_suffix(".avi")),
            "damaged": hostile_video.damaged_middle, "vfr": hostile_video.variable_rate,
            "rotated": hostile_video.rotated}[case]
    video = make(tmp_path / "clip.mp4")
    out = tmp_path / "out.npz"
    rc, events, stderr = run_worker(video, "-o", out, "--estimator", "doubles:FakeEstimator")
    warnings = " ".join(e["message"] for e in events if e["event"] == "warning")
    if case == "vfr":
        assert rc == 1 and events[-1]["code"] == "video_variable_frame_rate" and not out.exists()
        return
    assert rc == 0, stderr
    motion = read_motion(out)
    if case == "truncated":
        assert "states 30 frames" in warnings
    elif case == "damaged":
        assert "could not be decoded" in warnings and motion.frame_ids.max() == 29
    else:
        assert motion.image_size == (64, 96)


def test_output_naming_the_input_video_is_refused(tmp_path):
    video = write_video(tmp_path / "clip.mp4", frames=6)
    before = video.read_bytes()
    rc, events, _ = run_worker(video, "-o", video, "--estimator", "doubles:FakeEstimator")
    assert rc == 1 and events[-1]["code"] == "output_is_input" and "clip.mp4" in events[-1]["message"]
    assert video.read_bytes() == before


def test_infinite_focal_length_is_a_bad_argument(tmp_path):
    video = write_video(tmp_path / "clip.mp4", frames=6)
    rc, events, _ = run_worker(video, "-o", tmp_path / "o.npz", "--focal-length", "inf",
                               "--estimator", "doubles:FakeEstimator")
    assert rc == 1 and events[-1]["code"] == "bad_argument" and "finite" in events[-1]["message"]


def test_a_tiny_detector_size_is_a_bad_argument(tmp_path):
    video = write_video(tmp_path / "clip.mp4", frames=6)
    rc, events, _ = run_worker(video, "-o", tmp_path / "o.npz", "--detector-size", "16",
                               "--estimator", "doubles:FakeEstimator")
    assert rc == 1 and events[-1]["code"] == "bad_argument" and "--detector-size" in events[-1]["message"]
    assert not (tmp_path / "o.npz").exists()


def test_the_detection_pass_goes_past_damage_and_says_so(tmp_path, offline):
    """The real first pass (detector + tracker): it used to stop at the damage and call it 'no person in frames 0-0'."""
    from video_to_motion.core.estimators import EstimatorError, RunContext
    from video_to_motion.core.worker.detection import PersonDetector
    from video_to_motion.core.worker.tracks import detect_and_track

    path = hostile_video.damaged_middle(tmp_path / "damaged.mp4", frames=30)
    warnings: list[str] = []
    run = RunContext(video=probe(path), start_frame=0, stop_frame=30, progress=lambda *a: None,
                     warn=warnings.append, info=lambda **kw: None)
    detector = PersonDetector(None, "cpu", lambda message: None)
    with pytest.raises(EstimatorError) as err:  # the generated clip holds no person
        detect_and_track(run, detector, batch_size=8, detect_every=5)
    assert err.value.code == "no_person" and "frames 0\u201329" in str(err.value)
    assert any("could not be decoded" in w for w in warnings), warnings
