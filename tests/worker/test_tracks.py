"""Track post-processing on hand-made boxes: gap filling, splitting, dropping, smoothing, selection."""
from __future__ import annotations

import numpy as np
import pytest

from video_to_motion.core.estimators import EstimatorError
from video_to_motion.core.worker.tracks import (Track, Tracks, box_iou, drop_duplicates, drop_short, fill_box_gaps, interpolate_gaps, only_track, postprocess,
                         largest_tracks, size_score, smooth_boxes)


def make_track(track_id, frames, boxes=None, height=100.0, x0=10.0, dx=2.0):
    frames = np.asarray(frames, np.int32)
    if boxes is None:  # a box moving right at dx px/frame
        x = x0 + dx * frames
        boxes = np.stack([x, np.full_like(x, 20.0), x + height / 2, 20.0 + np.full_like(x, height)], axis=1)
    return Track(track_id, frames, np.asarray(boxes, np.float32), np.full(len(frames), 0.8, np.float32),
                 np.ones(len(frames), bool))


def test_short_gap_is_filled_linearly_and_marked_not_observed():
    track = make_track(1, [0, 1, 2, 6, 7])
    [filled] = fill_box_gaps([track], max_gap=3)
    assert filled.frames.tolist() == list(range(8))
    expected = make_track(1, range(8)).boxes
    np.testing.assert_allclose(filled.boxes, expected, atol=1e-4)
    assert filled.observed.tolist() == [True, True, True, False, False, False, True, True]
    assert filled.is_contiguous


def test_long_gap_splits_the_track_with_a_new_id():
    a = make_track(3, [0, 1, 2, 3, 20, 21, 22])
    b = make_track(7, [5, 6, 8])
    out = {t.track_id: t for t in fill_box_gaps([a, b], max_gap=5)}
    assert sorted(out) == [3, 7, 8]
    assert out[3].frames.tolist() == [0, 1, 2, 3]
    assert out[8].frames.tolist() == [20, 21, 22]
    assert out[7].frames.tolist() == [5, 6, 7, 8] and not out[7].observed[2]
    assert all(t.is_contiguous for t in out.values())


def test_interpolate_gaps_leaves_long_gaps():
    track = interpolate_gaps(make_track(1, [0, 2, 10]), max_gap=1)
    assert track.frames.tolist() == [0, 1, 2, 10]


def test_short_tracks_are_dropped():
    tracks = [make_track(1, range(3)), make_track(2, range(5)), make_track(3, range(10))]
    assert [t.track_id for t in drop_short(tracks, min_frames=5)] == [2, 3]


def test_max_people_keeps_the_largest_by_height_times_length():
    tall_brief = make_track(1, range(3), height=200)     # 600
    medium = make_track(2, range(10), height=100)       # 1000
    small_long = make_track(3, range(30), height=50)    # 1500
    tiny = make_track(4, range(5), height=20)           # 100
    assert size_score(medium) == pytest.approx(1000)
    kept = largest_tracks([tall_brief, medium, small_long, tiny], max_people=2)
    assert [t.track_id for t in kept] == [2, 3]
    assert len(largest_tracks([tall_brief, tiny], max_people=None)) == 2


def test_smoothing_reduces_jitter():
    rng = np.random.default_rng(0)
    frames = np.arange(60)
    clean = make_track(1, frames, dx=0.0)
    noisy = clean.replace(boxes=clean.boxes + rng.normal(0, 3, clean.boxes.shape).astype(np.float32))
    smoothed = smooth_boxes(noisy, sigma=2.0)
    error_before = np.abs(noisy.boxes - clean.boxes).mean()
    error_after = np.abs(smoothed.boxes - clean.boxes).mean()
    assert error_after < 0.6 * error_before


def test_smoothing_keeps_a_step_in_place():
    frames = np.arange(40)
    x = np.where(frames < 20, 100.0, 200.0)
    boxes = np.stack([x, np.full(40, 50.0), x + 60, np.full(40, 170.0)], axis=1)
    smoothed = smooth_boxes(make_track(1, frames, boxes), sigma=1.0)
    centre = (smoothed.boxes[:, 0] + smoothed.boxes[:, 2]) / 2
    true_centre = x + 30
    far_from_step = (frames <= 16) | (frames >= 23)
    np.testing.assert_allclose(centre[far_from_step], true_centre[far_from_step], atol=0.5)
    assert np.all(np.diff(centre) >= -1e-4)  # no overshoot back and forth
    # Softened symmetrically about the step (130 -> 230 between frames 19 and 20), not moved.
    assert 140 < centre[19] < 180 and 180 < centre[20] < 220
    assert abs((centre[19] - 130) - (230 - centre[20])) < 0.5
    np.testing.assert_allclose(smoothed.boxes[:, 3] - smoothed.boxes[:, 1], 120.0, atol=1e-3)


def test_postprocess_runs_all_steps_and_keeps_the_range_of_a_short_clip():
    raw = Tracks({1: make_track(1, [0, 1, 3]), 2: make_track(2, [0, 1, 2, 3], height=50)}, 0, 4, "clip.mp4")
    out = postprocess(raw, max_gap=2, min_frames=10, smooth_sigma=1.0, max_people=1)
    assert out.ids() == [1]  # 100 px x 4 frames beats 50 px x 4 frames
    assert out[1].frames.tolist() == [0, 1, 2, 3]
    assert out.per_frame()[2] == [(1, 2)]


def test_postprocess_without_long_tracks_is_no_person():
    raw = Tracks({1: make_track(1, [0, 1])}, 0, 100, "clip.mp4")
    with pytest.raises(EstimatorError) as err:
        postprocess(raw, min_frames=5)
    assert err.value.code == "no_person" and "clip.mp4" in str(err.value)


def test_only_track_keeps_one_and_names_the_others():
    raw = Tracks({4: make_track(4, range(6)), 9: make_track(9, range(6), x0=300.0)}, 0, 6, "clip.mp4")
    assert postprocess(raw, track_id=9).ids() == [9]
    with pytest.raises(EstimatorError) as err:
        only_track(raw, 5)
    assert err.value.code == "track_not_found" and "4, 9" in str(err.value)


def test_missed_detections_do_not_split_a_strided_track():
    """Detector on every 30th frame, the person missed at frames 90 and 120: one track, bridged."""
    seen = make_track(4, [0, 30, 60, 150, 180])
    raw = Tracks({4: interpolate_gaps(seen, 29)}, 0, 181)  # what detect_and_track returns
    assert not raw[4].is_contiguous
    [bridged] = postprocess(raw, detect_every=30)
    assert bridged.frames.tolist() == list(range(181)) and bridged.observed.sum() == 5
    assert len(postprocess(raw)) == 2  # detector on every frame: an 89-frame gap is a real one
    thrice = Tracks({4: interpolate_gaps(make_track(4, [0, 30, 150, 180]), 29)}, 0, 181)
    assert len(postprocess(thrice, detect_every=30)) == 2  # missed three times: split


def test_box_iou_by_hand():
    a = np.array([0, 0, 10, 10], np.float32)
    assert box_iou(a, a) == pytest.approx(1.0)
    assert box_iou(a, np.array([5, 0, 15, 10], np.float32)) == pytest.approx(50 / 150)
    assert box_iou(a, np.array([20, 20, 30, 30], np.float32)) == 0.0


def test_a_second_id_on_one_person_goes_and_neighbours_stay():
    person = make_track(1, range(40))
    second_id = make_track(7, range(10, 35), height=94.0)  # a slightly smaller box on the same person
    neighbour = make_track(3, range(40), x0=70.0)  # side by side: the boxes touch, IoU 0
    passer = make_track(5, range(40), x0=-60.0, dx=5.0)  # overtakes: overlaps a few frames only
    kept = drop_duplicates([second_id, person, neighbour, passer])
    assert [t.track_id for t in kept] == [1, 3, 5]
    raw = Tracks({t.track_id: t for t in (person, second_id, neighbour)}, 0, 40)
    assert postprocess(raw).ids() == [1, 3]


def _dets(ids, boxes):
    from video_to_motion.core.worker.detection import FrameDetections

    return FrameDetections(np.asarray(boxes, np.float32).reshape(-1, 4), np.full(len(ids), 0.9, np.float32),
                           np.asarray(ids, np.int32))


def test_next_stride_doubles_on_steady_motion_and_falls_back_on_any_change():
    from video_to_motion.core.worker.tracks import new_people, next_stride

    def walker(x):  # 200 px tall, walking right at constant speed
        return [x, 100, x + 80, 300]

    steady = [(0, _dets([1], [walker(0)])), (5, _dets([1], [walker(10)])), (10, _dets([1], [walker(20)]))]
    none = np.zeros((0, 4))
    assert next_stride(5, 5, 15, steady, none) == 10
    assert next_stride(10, 5, 15, steady, none) == 15  # at most the longest stride
    assert next_stride(5, 5, 15, steady[:2], none) == 5  # too few detections to know the motion
    assert next_stride(10, 5, 15, steady, None) == 5  # the tracker's state unknown
    # A person seen once, away from the tracked one: a newcomer; inside the tracked box: a second box.
    assert next_stride(10, 5, 15, steady, np.array([[500, 100, 580, 300]])) == 5
    assert next_stride(10, 5, 15, steady, np.array([[25, 120, 95, 290]])) == 15
    np.testing.assert_array_equal(new_people(np.array([[500, 100, 580, 300], [25, 120, 95, 290]]),
                                             np.array([walker(20)])), [True, False])
    # A person appears among the tracked, or one is lost.
    appeared = steady[:2] + [(10, _dets([1, 2], [walker(20), [400, 100, 480, 300]]))]
    lost = [(0, _dets([1, 2], [walker(0), [400, 100, 480, 300]])), (5, _dets([1, 2], [walker(10), [400, 100, 480, 300]])),
            (10, _dets([1], [walker(20)]))]
    assert next_stride(10, 5, 15, appeared, none) == 5 and next_stride(10, 5, 15, lost, none) == 5
    # Stops (off its motion by 10 px = 5% of its height is allowed, 11 px is not) or runs.
    stop = steady[:2] + [(10, _dets([1], [walker(9)]))]
    almost = steady[:2] + [(10, _dets([1], [walker(30)]))]
    assert next_stride(10, 5, 15, stop, none) == 5 and next_stride(10, 5, 15, almost, none) == 15
    fast = [(0, _dets([1], [walker(0)])), (5, _dets([1], [walker(70)])), (10, _dets([1], [walker(140)]))]
    assert next_stride(10, 5, 15, fast, none) == 5  # 70 px = 35% of its height between detections
