"""Tracks posed on one person: found by their projected pelvises, not their boxes."""
from __future__ import annotations

import numpy as np

from video_to_motion.core.common.motion import Motion, sort_rows
from video_to_motion.core.worker.same_person import pelvis_pixels, same_person_tracks, without_repeats
from video_to_motion.core.common.skeleton import DEFAULT_REST_JOINTS

F = 1000.0  # focal length, px; image 640 x 480


def walkers(people: dict[int, tuple[range, float, float]]) -> Motion:
    """people: track -> (frames, x at frame 0 in metres, box height in px); all 5 m away,
    walking right at 2 cm a frame."""
    rows = [(f, t, x0 + 0.02 * f, h) for t, (frames, x0, h) in people.items() for f in frames]
    n = len(rows)
    rest = np.repeat(DEFAULT_REST_JOINTS[None], n, 0).astype(np.float32)
    trans = np.array([[x, 0.0, 5.0] for _, _, x, _ in rows], np.float32) - rest[:, 0]
    u = F * np.array([r[2] for r in rows]) / 5.0 + 320
    half = np.array([r[3] for r in rows]) / 2
    boxes = np.stack([u - half / 2, 240 - half, u + half / 2, 240 + half], 1).astype(np.float32)
    return sort_rows(Motion(
        estimator="test", fps=30.0, image_size=(640, 480), focal_length=F,
        frame_ids=np.array([r[0] for r in rows], np.int32), track_ids=np.array([r[1] for r in rows], np.int32),
        poses=np.zeros((n, 72), np.float32), betas=np.zeros((n, 10), np.float32), trans=trans,
        rest_joints=rest, bboxes=boxes, scores=np.ones(n, np.float32)))


def test_pelvis_pixels_project_with_the_motion_camera():
    m = walkers({1: (range(3), 0.5, 300.0)})
    np.testing.assert_allclose(pelvis_pixels(m)[:, 0], F * (0.5 + 0.02 * np.arange(3)) / 5.0 + 320, atol=1e-3)
    np.testing.assert_allclose(pelvis_pixels(m)[:, 1], 240.0, atol=1e-3)


def test_a_track_on_another_tracks_person_goes_and_neighbours_stay():
    m = walkers({
        4: (range(40), 0.0, 300.0),
        9: (range(10, 30), 0.005, 260.0),   # 1 px from track 4's pelvis, its own (smaller) box
        2: (range(40), 0.45, 300.0),        # side by side, 90 px away
        7: (range(5, 25), -0.3, 300.0),     # following track 4, 60 px behind
    })
    assert same_person_tracks(m) == {9: 4}
    kept, repeats = without_repeats(m)
    assert repeats == {9: 4} and sorted(set(kept.track_ids.tolist())) == [2, 4, 7]
    assert kept.num_rows == m.num_rows - 20
    lone = walkers({4: (range(40), 0.0, 300.0)})
    assert without_repeats(lone)[0] is lone
