"""Tracks the tracker split over an occlusion are joined (tracks.merge_split_tracks), on
hand-made boxes: a walker hidden for 3 frames, two people crossing, one leaving."""
from __future__ import annotations

import numpy as np

from video_to_motion.core.worker.tracks import Tracks, merge_split_tracks, postprocess

from test_tracks import make_track


def test_a_walker_hidden_for_three_frames_keeps_one_id():
    before = make_track(4, range(0, 20), dx=3.0)
    after = make_track(9, range(23, 40), dx=3.0)  # the same walker, on after the occlusion
    [joined] = merge_split_tracks([after, before], max_gap=30)
    assert joined.track_id == 4
    assert joined.frames.tolist() == list(range(20)) + list(range(23, 40))
    tracks = postprocess(Tracks({4: before, 9: after}, 0, 40), max_gap=30)
    assert tracks.ids() == [4] and tracks[4].frames.tolist() == list(range(40))
    assert not tracks[4].observed[20:23].any()


def test_two_people_crossing_keep_their_own_continuations():
    # A walks right, B walks left; both are lost on frames 10-12 where they cross.
    a1 = make_track(1, range(0, 10), x0=0.0, dx=5.0)
    b1 = make_track(2, range(0, 10), x0=130.0, dx=-5.0)
    a2 = make_track(3, range(13, 30), x0=0.0, dx=5.0)
    b2 = make_track(4, range(13, 30), x0=130.0, dx=-5.0)
    out = {t.track_id: t for t in merge_split_tracks([a1, b1, a2, b2])}
    assert sorted(out) == [1, 2]
    np.testing.assert_allclose(out[1].boxes[-1], a2.boxes[-1])
    np.testing.assert_allclose(out[2].boxes[-1], b2.boxes[-1])


def test_someone_else_far_away_or_of_another_size_is_not_joined():
    leaving = make_track(1, range(0, 10), x0=0.0, dx=2.0)
    elsewhere = make_track(2, range(12, 30), x0=400.0, dx=2.0)
    smaller = make_track(3, range(12, 30), x0=0.0, dx=2.0, height=50.0)
    overlapping_in_time = make_track(4, range(5, 30), x0=0.0, dx=2.0)
    too_late = make_track(5, range(60, 70), x0=0.0, dx=0.0)
    out = merge_split_tracks([leaving, elsewhere, smaller, overlapping_in_time, too_late], max_gap=30)
    assert sorted(t.track_id for t in out) == [1, 2, 3, 4, 5]
