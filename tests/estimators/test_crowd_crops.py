"""The tracked person in a crowd: masked crops (core.worker.crops.mask_outside) and the
estimator's retry on them (masked_retry), on real walkers of vtest.avi made into a crowd."""
from __future__ import annotations

import numpy as np
import pytest

from video_to_motion.core.estimators.blazepose.landmarks import LM
from video_to_motion.core.worker.crops import crop_square, mask_outside, square_box

WALKER = (638, 240, 685, 322)  # walker C on frame 0 of vtest.avi, boxed by hand
SHIFT = 34                      # a copy of the walker stands this far to the right, overlapping
TORSO = [LM["left_shoulder"], LM["right_shoulder"], LM["left_hip"], LM["right_hip"]]


@pytest.fixture(scope="module")
def crowd(vtest) -> np.ndarray:
    """Frame 0 with walker C twice, side by side (the copy in front)."""
    from video_to_motion.core.worker.video import iter_frames

    frame = next(iter(iter_frames(vtest, 0, 1)))[1].copy()
    x1, y1, x2, y2 = WALKER
    frame[y1:y2, x1 + SHIFT:x2 + SHIFT] = frame[y1:y2, x1:x2].copy()
    return frame


def test_mask_outside_keeps_the_box_and_greys_the_rest():
    frame = np.random.default_rng(0).integers(0, 255, (200, 300, 3), dtype=np.uint8)
    box = np.array([100.0, 50.0, 140.0, 150.0])
    center, side = square_box(box, 2.0)
    crop, m = crop_square(frame, center, float(side), 200)
    masked = mask_outside(crop, m, box, margin=0.0)
    # The box covers crop pixels 80-120 (x) and 50-150 (y) at 1 px per image pixel.
    np.testing.assert_array_equal(masked[50:150, 80:120], crop[50:150, 80:120])
    assert np.all(masked[:, :80] == 114) and np.all(masked[:, 120:] == 114)
    assert np.all(masked[:50] == 114) and np.all(masked[150:] == 114)
    grown = mask_outside(crop, m, box, margin=0.1)  # 4 px (x) and 10 px (y) more on each side
    np.testing.assert_array_equal(grown[40:160, 76:124], crop[40:160, 76:124])
    assert np.all(grown[:, :76] == 114) and np.all(grown[:40] == 114)


@pytest.mark.parametrize("shift", [0, SHIFT])
def test_masked_retry_poses_the_person_of_the_box(crowd, shift):
    from video_to_motion.core.estimators.blazepose.estimator import HIDDEN_VISIBILITY, fits_box, masked_retry
    from video_to_motion.core.estimators.blazepose.mediapipe_pose import BlazePoseCrops

    box = np.array(WALKER, float) + [shift, 0, shift, 0]
    other = np.array(WALKER, float) + [SHIFT - shift, 0, SHIFT - shift, 0]
    with BlazePoseCrops(static_mode=True) as pose:
        found = masked_retry(pose, crowd, box)
    assert found is not None
    assert fits_box(found.image, box)
    torso_x = found.image[TORSO, 0].mean()
    # On this walker, not on the one beside (their centres are SHIFT px apart).
    assert abs(torso_x - (box[0] + box[2]) / 2) < abs(torso_x - (other[0] + other[2]) / 2)
    outside = ~np.all((found.image >= box[:2] - 5) & (found.image <= box[2:] + 5), axis=-1)
    assert np.all(found.visibility[outside] <= HIDDEN_VISIBILITY + 1e-9)


def test_masked_retry_finds_nobody_on_an_empty_box(crowd):
    from video_to_motion.core.estimators.blazepose.estimator import masked_retry
    from video_to_motion.core.estimators.blazepose.mediapipe_pose import BlazePoseCrops

    empty = np.zeros_like(crowd) + 90
    with BlazePoseCrops(static_mode=True) as pose:
        assert masked_retry(pose, empty, np.array(WALKER, float)) is None


def test_false_people_are_still_things_rarely_posed():
    from video_to_motion.core.estimators.blazepose.estimator import _TrackLandmarks, false_people
    from video_to_motion.core.worker.tracks import Track

    def track(tid, dx):
        frames = np.arange(40, dtype=np.int32)
        x = 100.0 + dx * frames
        boxes = np.stack([x, np.full(40, 50.0), x + 40, np.full(40, 150.0)], axis=1).astype(np.float32)
        return Track(tid, frames, boxes, np.full(40, 0.5, np.float32), np.ones(40, bool))

    def posed(n):
        return _TrackLandmarks(frames=list(range(n)))

    coat, walker_hard_to_pose, person_standing, short = track(1, 0.0), track(2, 3.0), track(3, 0.0), track(4, 0.0)
    short = short.replace(frames=short.frames[:6], boxes=short.boxes[:6], scores=short.scores[:6],
                          observed=short.observed[:6])
    found = {1: posed(3), 2: posed(3), 3: posed(30), 4: posed(0)}
    false = false_people([coat, walker_hard_to_pose, person_standing, short], found)
    assert list(false) == [1] and "3 of its 40 frames" in false[1]
    assert false_people([coat], {}) == {1: false[1].replace("3 of", "0 of")}


def _in_front(vtest, dx: int, dy: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frame 0 with a copy of walker C pasted dx, dy px lower right: in front, hiding the
    walker's legs. -> (frame, the walker's box, the copy's box)."""
    from video_to_motion.core.worker.video import iter_frames

    frame = next(iter(iter_frames(vtest, 0, 1)))[1].copy()
    x1, y1, x2, y2 = WALKER
    frame[y1 + dy:y2 + dy, x1 + dx:x2 + dx] = frame[y1:y2, x1:x2].copy()
    behind = np.array(WALKER, float)
    return frame, behind, behind + [dx, dy, dx, dy]


def test_a_pose_that_fills_another_tracks_box_is_not_this_tracks():
    from video_to_motion.core.estimators.blazepose.estimator import fits_box

    own, other = np.array([100.0, 100, 160, 260]), np.array([105.0, 180, 165, 340])
    pixels = np.zeros((33, 2))
    # A body filling `other` (head at its top, ankles at its bottom) whose torso lies in `own` too.
    pixels[:, 0] = 135.0
    pixels[:, 1] = 185.0
    pixels[[LM["left_shoulder"], LM["right_shoulder"]], 1] = 215.0
    pixels[[LM["left_hip"], LM["right_hip"]], 1] = 255.0
    pixels[[LM["left_knee"], LM["right_knee"]], 1] = 295.0
    pixels[[LM["left_ankle"], LM["right_ankle"]], 1] = 335.0
    pixels[[LM["left_shoulder"], LM["left_hip"], LM["left_knee"], LM["left_ankle"]], 0] = 112.0
    pixels[[LM["right_shoulder"], LM["right_hip"], LM["right_knee"], LM["right_ankle"]], 0] = 158.0
    assert fits_box(pixels, own)                       # alone, the box takes it
    assert not fits_box(pixels, own, other[None])      # the other track's person
    assert fits_box(pixels, other, own[None])
    assert fits_box(pixels, own, np.zeros((0, 4)))


@pytest.mark.parametrize("dx, dy", [(5, 45), (0, 50)])
def test_the_person_behind_is_posed_not_the_one_in_front(vtest, dx, dy):
    """BlazePose following the crop of the walker behind takes the copy in front, and the box
    alone cannot tell (its torso is inside it); the other track's box can, and the masked
    retry then poses the walker behind."""
    from video_to_motion.core.estimators.blazepose.estimator import fits_box, masked_retry
    from video_to_motion.core.estimators.blazepose.mediapipe_pose import BlazePoseCrops

    frame, behind, front = _in_front(vtest, dx, dy)
    centre = lambda box: (box[:2] + box[2:]) / 2
    with BlazePoseCrops(static_mode=False) as video, BlazePoseCrops(static_mode=True) as single:
        c, side = square_box(behind, 2.2)
        crop, m = crop_square(frame, c, float(side), 256, rgb=True)
        taken = video.process(1, crop, m)
        found = masked_retry(single, frame, behind, front[None])
    assert taken is not None and fits_box(taken.image, behind)
    torso = taken.image[TORSO].mean(axis=0)
    assert np.linalg.norm(torso - centre(front)) < np.linalg.norm(torso - centre(behind))  # the one in front
    assert not fits_box(taken.image, behind, front[None])
    assert found is not None
    torso = found.image[TORSO].mean(axis=0)
    assert np.linalg.norm(torso - centre(behind)) < np.linalg.norm(torso - centre(front))
