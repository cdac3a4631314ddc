"""MediaPipe BlazePose on real person crops cut from vtest.avi by hand-chosen boxes."""
from __future__ import annotations

import numpy as np
import pytest

from video_to_motion.core.estimators.blazepose.landmarks import LM

# Three walkers on frame 0 of vtest.avi (x1, y1, x2, y2), boxed by hand.
PEOPLE = {"A": (250, 218, 285, 308), "B": (500, 156, 530, 232), "C": (638, 240, 685, 322)}


@pytest.fixture(scope="module")
def vtest_frames(vtest) -> list[np.ndarray]:
    from video_to_motion.core.worker.video import iter_frames

    return [frame for _, frame in iter_frames(vtest, 0, 6)]


def cut(frame: np.ndarray, box, size: int = 256, scale: float = 1.3) -> tuple[np.ndarray, np.ndarray]:
    """RGB square crop around a box and its affine image -> crop, as the estimator cuts them."""
    from video_to_motion.core.worker.crops import crop_square, square_box

    center, side = square_box(np.asarray(box, float), scale)
    return crop_square(frame, center, float(side), size, rgb=True)


@pytest.mark.parametrize("static_mode", [True, False])
def test_blazepose_finds_each_walker_in_its_crop(vtest_frames, static_mode):
    from video_to_motion.core.estimators.blazepose.estimator import fits_box
    from video_to_motion.core.estimators.blazepose.mediapipe_pose import BlazePoseCrops

    with BlazePoseCrops(static_mode=static_mode) as pose:
        for stream, (name, box) in enumerate(PEOPLE.items()):
            crop, m = cut(vtest_frames[0], box)
            found = pose.process(stream, crop, m)
            assert found is not None, f"no pose for walker {name}"
            assert found.image.shape == (33, 2) and found.world.shape == (33, 3) and found.visibility.shape == (33,)
            # Pixels are full-image pixels on this walker.
            torso = found.image[[LM["left_shoulder"], LM["right_shoulder"], LM["left_hip"], LM["right_hip"]]]
            x1, y1, x2, y2 = box
            assert np.all((torso[:, 0] > x1 - 5) & (torso[:, 0] < x2 + 5) & (torso[:, 1] > y1) & (torso[:, 1] < y2))
            assert fits_box(found.image, np.array(box, float))
            other = PEOPLE["B" if name != "B" else "A"]
            assert not fits_box(found.image, np.array(other, float))
            # World landmarks: metric, hip-centred, y down.
            w = found.world
            np.testing.assert_allclose(0.5 * (w[LM["left_hip"]] + w[LM["right_hip"]]), 0.0, atol=0.02)
            shoulders = np.linalg.norm(w[LM["left_shoulder"]] - w[LM["right_shoulder"]])
            assert 0.2 < shoulders < 0.55, shoulders
            assert w[LM["nose"], 1] < w[LM["left_hip"], 1] < w[LM["left_ankle"], 1]
            assert 1.0 < w[LM["left_ankle"], 1] - w[LM["nose"], 1] < 2.0


def test_video_mode_follows_a_walker_over_frames(vtest_frames):
    """Walker C goes left by about 10 px a frame; the crop stays where it was on frame 0."""
    from video_to_motion.core.estimators.blazepose.mediapipe_pose import BlazePoseCrops

    hips = []
    with BlazePoseCrops(static_mode=False) as pose:
        for frame in vtest_frames:
            found = pose.process(7, *cut(frame, PEOPLE["C"]))
            assert found is not None
            hips.append(0.5 * (found.image[LM["left_hip"]] + found.image[LM["right_hip"]]))
        pose.close_stream(7)
    step = np.diff(np.array(hips), axis=0)
    assert np.all((step[:, 0] < -4) & (step[:, 0] > -16)), step
    assert np.abs(step[:, 1]).max() < 5, step


def test_nobody_in_an_empty_crop(vtest_frames):
    from video_to_motion.core.estimators.blazepose.mediapipe_pose import BlazePoseCrops

    grass = (60, 420, 110, 500)  # lawn, nobody there
    with BlazePoseCrops(static_mode=True) as pose:
        assert pose.process(0, *cut(vtest_frames[0], grass)) is None


def test_forget_makes_a_stream_start_afresh(vtest_frames):
    """After `forget`, a video-mode stream answers a crop exactly as a fresh graph would."""
    from video_to_motion.core.estimators.blazepose.mediapipe_pose import BlazePoseCrops

    with BlazePoseCrops(static_mode=False, smooth_landmarks=False) as video, \
            BlazePoseCrops(static_mode=True) as static:
        for frame in vtest_frames[:3]:
            assert video.process(1, *cut(frame, PEOPLE["A"])) is not None
        video.forget(1)
        crop = cut(vtest_frames[3], PEOPLE["C"])
        after = video.process(1, *crop)
        fresh = static.process(0, *crop)
        np.testing.assert_allclose(after.image, fresh.image, atol=1e-9)
        np.testing.assert_allclose(after.world, fresh.world, atol=1e-9)


def test_ended_streams_lend_their_graph_to_new_ones(vtest_frames):
    """A new track reuses an ended track's graph, and answers as a fresh graph would."""
    from video_to_motion.core.estimators.blazepose.mediapipe_pose import BlazePoseCrops

    with BlazePoseCrops(static_mode=False, smooth_landmarks=False) as video, \
            BlazePoseCrops(static_mode=True) as static:
        for frame in vtest_frames[:3]:
            video.process(1, *cut(frame, PEOPLE["A"]))
        graph = video._graphs[1]
        video.close_stream(1)
        crop = cut(vtest_frames[3], PEOPLE["C"])
        reused = video.process(2, *crop)
        assert video._graphs[2] is graph
        fresh = static.process(0, *crop)
        np.testing.assert_allclose(reused.world, fresh.world, atol=1e-9)
