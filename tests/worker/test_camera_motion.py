"""The camera's own motion: static or moving, rotation from generated views of a textured
room with known camera paths, and the composition with the world stage."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from camera_paths import turns
from scenes import H, W, crowd, scene_motion
from video_to_motion.core.common import rotations
from video_to_motion.core.common.camera import default_focal_length
from video_to_motion.core.common.protocol import STAGES, SilentEvents
from video_to_motion.core.training import camera_views
from video_to_motion.core.worker import camera_motion
from video_to_motion.core.worker.world import place_people, posed_joints

SIZE, FOCAL, FPS = (480, 270), 400.0, 30.0
LEVEL = np.array([[1.0, 0, 0], [0, 0, 1.0], [0, -1.0, 0]])   # OpenCV axes of a camera looking along +Y


@pytest.fixture(scope="module")
def room():
    rng = np.random.default_rng(0)
    return camera_views.room([camera_views.noise_texture(rng) for _ in range(3)])


def views(room, path: list[np.ndarray], centres=None):
    """(frame id, grey view) for camera-to-world rotations [3, 3] along a path."""
    centres = centres if centres is not None else [np.array([0.0, 0.0, 1.6])] * len(path)
    return [(i, camera_views.render(room, r, c, FOCAL, SIZE)) for i, (r, c) in enumerate(zip(path, centres))]


def errors_deg(found: camera_motion.CameraPath, path: list[np.ndarray]) -> np.ndarray:
    truth = np.stack([r.T @ path[0] for r in path])          # reference camera -> each frame's
    cos = (np.trace(found.rotations @ np.swapaxes(truth, 1, 2), axis1=1, axis2=2) - 1) / 2
    return np.degrees(np.arccos(np.clip(cos, -1, 1)))


def test_the_focal_length_comes_from_the_turns(room):
    path = [rotations.axis_angle_to_matrix(np.array([0.0, 0.0, -math.radians(1.0 * i)])) @ LEVEL @
            rotations.axis_angle_to_matrix(np.array([math.radians(0.5 * i), 0.0, 0.0])) for i in range(25)]
    corners = camera_motion.follow_corners(views(room, path))
    for guess in (0.6 * FOCAL, 1.5 * FOCAL):
        assert camera_motion.focal_from_turns(corners, guess) == pytest.approx(FOCAL, rel=0.01)
    assert camera_motion.focal_from_turns(camera_motion.follow_corners(views(room, [LEVEL] * 10)), FOCAL) is None


def test_a_static_camera_is_static(room):
    found = camera_motion.track_frames(views(room, [LEVEL] * 20), FOCAL, FPS)
    assert not found.moving and found.segments == [(0, 19, False)]
    assert found.angles_deg().max() < 0.05


def test_a_pan_with_tilt_and_roll_is_recovered_within_a_fraction_of_a_degree(room):
    # 90 degrees per second of pan, a tilt of up to 8 degrees and a roll of 3: 1.5 s.
    t = np.arange(45)
    tilt, roll, yaw = np.radians(8) * np.sin(t / 9), np.radians(3) * np.sin(t / 6), np.radians(90 / FPS) * t
    path = [rotations.axis_angle_to_matrix(np.array([0.0, 0.0, -y])) @ LEVEL @
            rotations.axis_angle_to_matrix(np.array([p, 0.0, r])) for y, p, r in zip(yaw, tilt, roll)]
    found = camera_motion.track_frames(views(room, path), FOCAL, FPS)
    err = errors_deg(found, path)
    assert found.moving and found.angles_deg().max() > 60
    assert np.median(err) < 0.3 and err.max() < 1.0, err


def test_a_pan_that_comes_back_is_tied_to_where_it_started(room):
    yaw = [3.0 * i for i in range(30)] + [3.0 * (30 - i) for i in range(31)]      # 87 degrees out and back
    path = [rotations.axis_angle_to_matrix(np.array([0.0, 0.0, -math.radians(y)])) @ LEVEL @
            rotations.axis_angle_to_matrix(np.array([math.radians(0.3 * y), 0.0, 0.0])) for y in yaw]
    corners = camera_motion.follow_corners(views(room, path))
    drifted = errors_deg(camera_motion.solve_path(corners, FOCAL, FPS, loops=False), path)
    closed = errors_deg(camera_motion.solve_path(corners, FOCAL, FPS), path)
    assert len(corners.keyframes) > 5                    # a chain of keyframes out and back
    # The chain's drift shows at the end; tied to the first view it is (nearly) gone.
    assert closed[-1] < 0.01 and closed[-1] < 0.3 * drifted[-1]
    assert np.median(closed) < 0.1


def test_people_are_masked_out_of_the_background(room):
    # A large textured block moves across a static view: with its box masked the camera stays still.
    rng = np.random.default_rng(1)
    block = camera_views.noise_texture(rng, 120)
    frames, boxes = [], {}
    base = camera_views.render(room, LEVEL, np.array([0.0, 0.0, 1.6]), FOCAL, SIZE)
    for i in range(20):
        image = base.copy()
        x = 60 + 12 * i
        image[60:180, x:x + 120] = block
        frames.append((i, image))
        boxes[i] = np.array([[x, 60, x + 120, 180]], np.float64)
    masked = camera_motion.track_frames(frames, FOCAL, FPS, boxes)
    assert not masked.moving and masked.angles_deg().max() < 0.1


def test_a_camera_that_pans_after_a_while_has_a_static_and_a_moving_segment(room):
    yaw = np.concatenate([np.zeros(20), np.radians(60 / FPS) * np.arange(1, 26)])
    path = [rotations.axis_angle_to_matrix(np.array([0.0, 0.0, -a])) @ LEVEL for a in yaw]
    found = camera_motion.track_frames(views(room, path), FOCAL, FPS)
    kinds = [m for _, _, m in found.segments]
    assert kinds == [False, True], found.segments
    assert abs(found.segments[1][0] - 20) <= 4


def test_a_travelling_camera_gives_its_direction(room):
    centres = [np.array([0.05 * i, 0.0, 1.6]) for i in range(25)]   # a tracking shot, 1.5 m/s to the right
    found = camera_motion.track_frames(views(room, [LEVEL] * 25, centres), FOCAL, FPS)
    assert found.moving and found.translation == "direction"
    seen = found.directions[np.isfinite(found.directions).all(1)]
    angle = np.degrees(np.arccos(np.clip(seen @ np.array([1.0, 0, 0]), -1, 1)))   # camera x = world X here
    assert np.median(angle) < 10


def test_the_world_of_a_panning_camera_is_the_world_of_a_static_one():
    """The same people seen from a turning camera are placed where the static camera puts them."""
    focal = default_focal_length(W, H)
    still = scene_motion(crowd(3, seed=2), focal, 3.0, 15.0, 0.0, frames=40)
    frames = np.arange(40)
    r = turns(frames, pan_deg_per_frame=1.0)
    at = still.frame_ids
    moved = camera_motion.camera_path.moved_rows(still, r[at], np.zeros((still.num_rows, 3)))
    # Landmarks where the turned camera sees them (a pure turn: H = K R K^-1).
    lm = still.extras["landmarks_2d"].astype(np.float64)
    rays = camera_motion.bearings(lm.reshape(-1, 2), focal, np.array([W / 2, H / 2])).reshape(lm.shape[0], 33, 3)
    seen = np.einsum("nij,nkj->nki", r[at], rays)
    moved = dataclasses.replace(moved, extras={
        **moved.extras, "landmarks_2d": (focal * seen[..., :2] / seen[..., 2:] + [W / 2, H / 2]).astype(np.float32)})
    path = camera_motion.CameraPath(frames=frames, rotations=r, directions=np.full((40, 3), np.nan),
                                    measured=np.ones(40, bool), segments=[(0, 39, True)], focal=focal, fps=FPS)

    static = place_people(still, None, SilentEvents())
    composed = camera_motion.place_on_path(moved, path, None, SilentEvents(), place_people)
    before = place_people(moved, None, SilentEvents())        # the camera taken as static

    def world(m):
        rows = np.searchsorted(m.camera_frame_ids, m.frame_ids)
        c2w = np.asarray(m.camera_to_world, np.float64)[rows]
        return np.einsum("nij,nkj->nki", c2w[:, :3, :3], posed_joints(m)) + c2w[:, None, :3, 3]

    assert composed.num_rows == static.num_rows and len(composed.camera_frame_ids) == 40
    assert np.abs(composed.extras["landmarks_2d"] - moved.extras["landmarks_2d"]).max() < 1e-3
    err = np.linalg.norm(world(composed)[:, 0] - world(static)[:, 0], axis=1)
    assert np.median(err) < 0.05, np.median(err)
    err_before = np.linalg.norm(world(before)[:, 0] - world(static)[:, 0], axis=1)
    assert np.median(err_before) > 1.0


def pan_video(room, path):
    """A 20-frame video of the room panning 1.5 degrees a frame."""
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, SIZE)
    for _, grey in views(room, [rotations.axis_angle_to_matrix(np.array([0.0, 0.0, -math.radians(1.5 * i)])) @ LEVEL
                                for i in range(20)]):
        writer.write(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR))
    writer.release()
    return path


def test_the_worker_reports_a_panning_camera_and_writes_its_path(room, tmp_path):
    from test_api import Recorded
    from video_to_motion.core.common.motion import read_motion, write_motion
    from video_to_motion.core.common.options import WorkerOptions
    from video_to_motion.core.worker.api import estimate_video

    video = pan_video(room, tmp_path / "pan.mp4")
    events = Recorded()
    motion = estimate_video(video, WorkerOptions(estimator="doubles:FakeEstimator"), events)
    report = next(i["camera_motion"] for i in events.infos if "camera_motion" in i)
    assert report["moving"] and report["translation"] == "none"
    stages = list(dict.fromkeys(stage for stage, _, _ in events.progress_calls))
    # The protocol lists every stage, in order (the fake estimator detects nothing).
    assert {"camera", "world"} <= set(stages) and stages == [s for s in STAGES if s in stages]
    # The fake estimator guesses the image diagonal for the focal length; the turns tell the views' own.
    assert report["focal_from_turns"] and report["focal_px"] == pytest.approx(FOCAL, rel=0.02)
    assert report["max_rotation_deg"] == pytest.approx(1.5 * 19, abs=0.5)
    assert len(motion.camera_frame_ids) == 20
    m = np.asarray(motion.camera_to_world, np.float64)
    assert np.abs(m[-1] - m[0]).max() > 0.1 and np.allclose(m[:, :3, 3], m[0, :3, 3], atol=1e-4)
    back = read_motion(write_motion(tmp_path / "pan.npz", motion))
    assert np.allclose(back.camera_to_world, motion.camera_to_world)


def test_with_camera_motion_switched_off_the_camera_of_a_pan_stays_still(room, tmp_path):
    from test_api import Recorded
    from video_to_motion.core.common.options import WorkerOptions, worker_argv
    from video_to_motion.core.worker.api import estimate_video

    options = WorkerOptions(estimator="doubles:FakeEstimator", camera_motion=False)
    assert "--no-camera-motion" in worker_argv(options)
    events = Recorded()
    motion = estimate_video(pan_video(room, tmp_path / "pan.mp4"), options, events)
    report = next(i["camera_motion"] for i in events.infos if "camera_motion" in i)
    assert report == {"moving": False, "switched_off": True}
    assert "camera" not in {stage for stage, _, _ in events.progress_calls}     # the stage did not run
    m = np.asarray(motion.camera_to_world, np.float64)
    assert len(m) >= 1 and np.allclose(m, m[0], atol=1e-6)                     # one camera, never turning


def test_without_turns_to_tell_it_the_path_is_solved_again_with_the_peoples_focal_length():
    """A handheld wobble (under a degree) cannot tell the focal length; the path first made with a
    wrong guess is solved again with the focal length the people give."""
    focal = default_focal_length(W, H)
    still = scene_motion(crowd(4, seed=3), focal, 3.0, 15.0, 0.0, frames=30)
    rng = np.random.default_rng(4)
    frames = np.arange(30)
    truth = rotations.axis_angle_to_matrix(np.radians(0.8) * np.sin(frames[:, None] / [3.0, 4.0, 5.0]))
    # Background corners seen from the reference camera and, turned, from each frame (working size).
    scale = camera_motion.WORK_WIDTH / W
    principal = np.array([W / 2, H / 2]) * scale
    key = rng.uniform([0, 0], [W * scale, H * scale], (200, 2))
    rays = camera_motion.bearings(key, focal * scale, principal)
    pairs = [None]
    for r in truth[1:]:
        seen = rays @ r.T
        pairs.append((key, focal * scale * seen[:, :2] / seen[:, 2:] + principal))
    corners = camera_motion.Corners(frames=frames, key=np.zeros(30, np.int64), pairs=pairs, principal=principal,
                                    scale=scale, seconds=0.0)
    guessed = camera_motion.solve_path(corners, 1.6 * focal, FPS)
    guessed.corners = corners
    assert guessed.moving and not guessed.focal_from_turns
    moved = camera_motion.camera_path.moved_rows(still, truth[still.frame_ids], np.zeros((still.num_rows, 3)))
    lm = still.extras["landmarks_2d"].astype(np.float64)
    seen = np.einsum("nij,nkj->nki", truth[still.frame_ids],
                     camera_motion.bearings(lm.reshape(-1, 2), focal, np.array([W / 2, H / 2])).reshape(-1, 33, 3))
    moved = dataclasses.replace(moved, extras={
        **moved.extras, "landmarks_2d": (focal * seen[..., :2] / seen[..., 2:] + [W / 2, H / 2]).astype(np.float32)})
    placed = camera_motion.place_on_path(moved, guessed, None, SilentEvents(), place_people)
    c2w = np.asarray(placed.camera_to_world, np.float64)[:, :3, :3]
    found = np.einsum("tji,jk->tik", c2w, c2w[0])              # reference camera -> each frame's camera
    err = lambda r: np.degrees(np.arccos(np.clip((np.trace(r @ np.swapaxes(truth, 1, 2), axis1=1, axis2=2) - 1) / 2,
                                                  -1, 1)))
    assert placed.focal_length == pytest.approx(focal, rel=0.15)
    assert err(found).max() < 0.6 * err(guessed.rotations).max()


def test_a_cut_to_another_shot_is_not_a_turn(room):
    other = camera_views.room([camera_views.noise_texture(np.random.default_rng(9)) for _ in range(3)])
    first = views(room, [LEVEL] * 12)
    second = [(i + 12, image) for i, image in views(other, [LEVEL] * 12)]
    found = camera_motion.track_frames(first + second, FOCAL, FPS)
    assert found.cuts == [12]
    assert not found.moving and found.angles_deg().max() < 0.05


def test_decoding_ahead_on_a_thread_gives_the_same_path(room, tmp_path, monkeypatch):
    video = pan_video(room, tmp_path / "pan.mp4")
    motion = scene_motion(crowd(3, seed=2), FOCAL, 3.0, 15.0, 0.0, frames=20)  # boxes to mask
    found = {}
    for ahead in (0, camera_motion.PREFETCH_FRAMES):  # 0: decoded on the calling thread
        monkeypatch.setattr(camera_motion, "PREFETCH_FRAMES", ahead)
        found[ahead] = camera_motion.estimate_path(video, 0, None, motion, None)
    a, b = found[0], found[camera_motion.PREFETCH_FRAMES]
    assert a.moving and len(a.frames) == 20
    np.testing.assert_array_equal(a.frames, b.frames)
    np.testing.assert_array_equal(a.rotations, b.rotations)
    assert a.focal == b.focal
