"""The world stage: the camera from the people on generated scenes with known cameras,
people placed on the floor, outlier rows, gaps, contacts, and input that says little."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

pytest.importorskip("scipy")

from video_to_motion.core.common import rotations
from video_to_motion.core.common.motion import SCHEMA, read_motion, write_motion
from video_to_motion.core.worker.calibration import estimate_camera
from video_to_motion.core.worker.world import place_people, posed_joints

from scenes import crowd, scene_motion


class Events:
    def __init__(self):
        self.warnings, self.infos = [], []

    def warning(self, message):
        self.warnings.append(message)

    def info(self, **fields):
        self.infos.append(fields)

    def progress(self, *args, **kwargs):
        pass


@pytest.mark.parametrize("focal, height, pitch, roll", [(1000.0, 4.0, 25.0, 2.0), (2200.0, 8.0, 35.0, -3.0),
                                                         (700.0, 2.5, 15.0, 0.0)])
def test_camera_from_people_matches_the_true_camera(focal, height, pitch, roll):
    motion = scene_motion(crowd(5), focal, height, pitch, roll, noise_px=1.0)
    est = estimate_camera(motion)
    assert est is not None
    assert abs(est.focal / focal - 1) < 0.10
    assert abs(est.height / height - 1) < 0.10
    assert abs(math.degrees(est.pitch) - pitch) < 3.0
    assert abs(math.degrees(est.roll) - roll) < 3.0
    assert est.focal_measured and est.confidence > 0.3


def test_a_given_focal_length_is_kept():
    motion = scene_motion(crowd(4), 1500.0, 5.0, 30.0, 0.0)
    est = estimate_camera(motion, focal=1500.0)
    assert est.focal == 1500.0 and not est.focal_measured
    assert abs(est.height / 5.0 - 1) < 0.10


def test_placed_people_stand_on_the_floor_and_the_file_carries_the_world(tmp_path):
    motion = scene_motion(crowd(5), 1200.0, 6.0, 30.0, 1.0, noise_px=0.5)
    events = Events()
    placed = place_people(motion, None, events)
    info = [i["camera"] for i in events.infos if "camera" in i]
    assert info and info[0]["source"] == "people" and 0 < info[0]["confidence"] <= 1
    m = placed.camera_to_world[0].astype(np.float64)
    joints = posed_joints(placed) @ m[:3, :3].T + m[:3, 3]
    soles = joints[:, (10, 11), 2].min(axis=1)
    assert np.median(np.abs(soles - 0.045)) < 0.02          # the lower toe ball on the floor
    assert joints[:, 15, 2].min() > 1.2                     # heads up, nobody under the floor
    assert placed.contacts.shape == (placed.num_rows, 2) and placed.contacts.any()
    path = write_motion(tmp_path / "w.npz", placed)
    back = read_motion(path)
    assert back.has_world and str(np.load(path)["schema"]) == SCHEMA
    np.testing.assert_allclose(back.camera_to_world, placed.camera_to_world)
    assert back.camera_intrinsics[0, 0] == pytest.approx(placed.focal_length, rel=1e-6)


def test_outlier_row_is_dropped_and_long_gap_splits_the_track():
    motion = scene_motion(crowd(3), 1200.0, 6.0, 30.0, 0.0, frames=60)
    rows = motion.rows_of_track(1)
    poses, trans = motion.poses.copy(), motion.trans.copy()
    # One row 12 m off and upside down, as a wrong detection gives.
    bad = rows[20]
    trans[bad] += [0.0, -12.0, 0.0]
    flip = rotations.axis_angle_to_matrix(np.array([math.pi, 0.0, 0.0]))
    poses[bad, :3] = rotations.matrix_to_axis_angle(flip @ rotations.axis_angle_to_matrix(poses[bad, :3]))
    keep = np.ones(motion.num_rows, bool)
    keep[rows[30:45]] = False                                # a gap of 15 frames (half a second)
    motion = dataclasses.replace(motion, poses=poses, trans=trans).select(keep)
    events = Events()
    placed = place_people(motion, None, events)
    info = [i["camera"] for i in events.infos if "camera" in i][0]
    assert info["dropped_rows"] >= 1
    assert 20 not in placed.frame_ids[placed.track_ids == 1]
    # Frames 45.. of track 1 now form a track of their own.
    assert {int(k): v for k, v in info["split_tracks"].items()} and 1 in info["split_tracks"].values()
    new = [int(k) for k, v in info["split_tracks"].items() if v == 1][0]
    assert placed.frame_ids[placed.track_ids == new].min() == 45
    assert placed.frame_ids[placed.track_ids == 1].max() == 29


def test_one_person_standing_still_falls_back_with_a_warning():
    people = [dict(start_xy=(0.0, 8.0), velocity_xy=(0.0, 0.0), yaw=0.3, scale=1.0, walk=False)]
    motion = scene_motion(people, 1200.0, 5.0, 25.0, 0.0, frames=10)
    events = Events()
    placed = place_people(motion, None, events)
    assert any("could not be found from the people" in w for w in events.warnings)
    assert placed.has_world
    r = placed.camera_to_world[0, :3, :3]
    assert r[2, 1] < 0.1                                     # the camera's y (down) does not point up


def test_one_person_on_one_spot_gives_the_camera_height_with_the_focal_held_and_a_warning():
    # Walking across the view at one depth: the feet stay on a few rows of the picture.
    people = [dict(start_xy=(-1.0, 8.0), velocity_xy=(0.8, 0.0), yaw=1.57, scale=1.0)]
    motion = scene_motion(people, 1200.0, 3.0, 8.0, 0.0, frames=60, noise_px=0.5)
    est = estimate_camera(motion, default_focal=1500.0)
    assert est is not None and not est.focal_measured and est.focal == 1500.0
    assert any("does not tell the focal length" in w for w in est.warnings)
    # A nearly level camera: the height hardly depends on the focal length.
    assert abs(est.height / 3.0 - 1) < 0.10 and abs(math.degrees(est.pitch) - 8.0) < 3.0


def test_a_held_focal_length_widens_the_camera_heights_spread_when_the_height_follows_it():
    # Looking down at one person: with the focal length unknown (held 1.5 x too long), the
    # person's depth and so the camera height come out too large; the spread says so.
    people = [dict(start_xy=(-1.0, 6.0), velocity_xy=(0.8, 0.0), yaw=1.57, scale=1.0)]
    motion = scene_motion(people, 1000.0, 4.0, 30.0, 0.0, frames=60, noise_px=0.5)
    est = estimate_camera(motion, default_focal=1500.0)
    assert est is not None and not est.focal_measured
    error = abs(math.log(est.height / 4.0))
    assert error > 0.2                                       # the height did follow the focal length
    assert est.std["height"] > error / 2                     # and its spread covers that
    assert any("follows the unknown focal length" in w for w in est.warnings)
    given = estimate_camera(motion, focal=1000.0)            # a known focal length adds no spread
    assert given.std["height"] < 0.1 and abs(given.height / 4.0 - 1) < 0.1


def test_an_unsure_camera_from_the_people_is_used_with_a_warning(monkeypatch):
    from video_to_motion.core.worker import world

    motion = scene_motion(crowd(3), 1200.0, 5.0, 25.0, 0.0, noise_px=1.0)
    monkeypatch.setattr(world, "MIN_CONFIDENCE", 1.01)      # every estimate counts as unsure
    events = Events()
    placed = place_people(motion, None, events)
    camera = [i["camera"] for i in events.infos if "camera" in i][0]
    assert camera["source"] == "people" and abs(camera["camera_height_m"] / 5.0 - 1) < 0.1
    assert any("is unsure" in w for w in events.warnings)
    assert not any("could not be found" in w for w in events.warnings)
    assert placed.camera_to_world[0, 2, 3] == pytest.approx(camera["camera_height_m"], abs=1e-3)


def test_seated_people_tell_the_camera_by_their_upright_backs():
    people = [dict(start_xy=xy, velocity_xy=(0.0, 0.0), yaw=yaw, scale=1.0, walk=False, sit=True)
              for xy, yaw in (((-2.0, 6.0), 0.3), ((1.5, 9.0), 2.0), ((-0.5, 13.0), 4.0), ((2.5, 17.0), 5.5))]
    motion = scene_motion(people, 1000.0, 4.0, 25.0, 0.0, noise_px=0.5)
    est = estimate_camera(motion, focal=1000.0)
    assert est is not None and est.upright_share > 0.9
    assert abs(est.height / 4.0 - 1) < 0.10 and abs(math.degrees(est.pitch) - 25.0) < 3.0


def test_a_person_lying_down_the_whole_clip_gives_a_warning_and_no_upside_down_scene():
    people = [dict(start_xy=(0.0, 8.0), velocity_xy=(0.0, 0.0), yaw=0.3, scale=1.0, lying=True, walk=False),
              dict(start_xy=(2.0, 12.0), velocity_xy=(0.0, 0.0), yaw=1.3, scale=1.0, lying=True, walk=False)]
    motion = scene_motion(people, 1200.0, 5.0, 25.0, 0.0, frames=40)
    events = Events()
    placed = place_people(motion, None, events)
    assert events.warnings
    m = placed.camera_to_world[0].astype(np.float64)
    assert m[2, 3] > 0                                       # the camera above the floor
    down = m[:3, :3] @ np.array([0.0, 1.0, 0.0])             # the image's down direction in the world
    assert down[2] < 0.5


@pytest.mark.parametrize("pitch, height, depths", [(80.0, 10.0, (0.5, 4.0)), (-20.0, 1.0, (4.0, 12.0))])
def test_a_camera_looking_nearly_straight_down_or_up_is_found(pitch, height, depths):
    rng = np.random.default_rng(3)
    people = [dict(start_xy=(rng.uniform(-2, 2), rng.uniform(*depths)), velocity_xy=(0.5, 0.3),
                   yaw=float(rng.uniform(0, 6)), scale=1.0) for _ in range(4)]
    motion = scene_motion(people, 1000.0, height, pitch, 0.0, noise_px=1.0)
    events = Events()
    placed = place_people(motion, None, events)
    camera = [i["camera"] for i in events.infos if "camera" in i][0]
    assert camera["source"] == "people"
    assert abs(camera["pitch_deg"] - pitch) < 3.0 and abs(camera["camera_height_m"] / height - 1) < 0.1
    assert placed.camera_to_world[0, 2, 3] > 0


def test_people_on_two_levels_give_a_warning_and_a_camera_above_the_floor():
    people = crowd(6)
    for k, person in enumerate(people):
        person["lift"] = 1.5 * (k % 2)          # every other person on a platform 1.5 m high
    motion = scene_motion(people, 1000.0, 5.0, 30.0, 0.0, noise_px=1.0)
    events = Events()
    placed = place_people(motion, None, events)
    assert any("not" in w and "floor" in w or "slope" in w for w in events.warnings), events.warnings
    assert placed.camera_to_world[0, 2, 3] > 1.0
    flat = Events()
    place_people(scene_motion(crowd(6), 1000.0, 5.0, 30.0, 0.0, noise_px=1.0), None, flat)
    assert not any("slope" in w for w in flat.warnings)


def test_people_standing_far_from_a_level_camera_keep_their_feet_planted_through_depth_noise():
    """A root fit's depth wobbles along the line of sight; the toe landmarks, still in the
    picture, tell the feet are planted (without them, the 3D speed alone misses frames)."""
    people = [dict(start_xy=(x, 18.0), velocity_xy=(0.0, 0.0), yaw=0.3 * k, scale=1.0, walk=False)
              for k, x in enumerate((-3.0, 0.0, 3.0))]
    motion = scene_motion(people, 1500.0, 2.0, 3.0, 0.0, noise_px=0.5, frames=60)
    pelvis = motion.trans.astype(np.float64) + motion.rest_joints[:, 0]
    factor = 1.0 + np.random.default_rng(3).normal(0, 0.08, (motion.num_rows, 1))
    wobbly = dataclasses.replace(motion, trans=(pelvis * factor - motion.rest_joints[:, 0]).astype(np.float32))
    with_landmarks = place_people(wobbly, None, Events()).contacts.mean()
    without = place_people(dataclasses.replace(wobbly, extras={}), None, Events()).contacts.mean()
    assert with_landmarks > 0.97 and without < 0.9


def test_contact_pins_chain_a_walks_steps_through_a_wobbling_depth():
    """Both feet are seen with the root fit's error, which drifts along the line of sight;
    where the feet overlap in contact their distance is the pose's, exact. The pins chain
    the steps, so the walk's length comes out right where each contact's median does not."""
    from video_to_motion.core.worker.world import contact_pins

    n, step, frames_per_step = 90, 0.6, 15
    camera_xy = np.array([0.0, 0.0])
    error = 0.4 * np.sin(np.arange(n) / 9.0)                  # m along the view (+y), shared by both feet
    contacts, pins_true = [], []
    feet = np.zeros((n, 2, 2))
    for k in range(n // frames_per_step):
        side, start = k % 2, k * frames_per_step
        stop = min(n, start + frames_per_step + 4)             # 4 frames with both feet down
        contacts.append((side, start, stop))
        pins_true.append([0.1 * (1 if side else -1), 8.0 + k * step])
    pins_true = np.array(pins_true)
    for (side, start, stop), pin in zip(contacts, pins_true):
        feet[start:stop, side] = pin
    for side in range(2):                                       # a swinging foot between its contacts
        down = np.zeros(n, bool)
        for s, a, b in contacts:
            if s == side:
                down[a:b] = True
        t = np.arange(n)
        for k in range(2):
            feet[~down, side, k] = np.interp(t[~down], t[down], feet[down, side, k])
    feet[..., 1] += error[:, None]
    pins = contact_pins(feet, contacts, camera_xy)
    medians = np.array([np.median(feet[a:b, s], axis=0) for s, a, b in contacts])
    walk_true = pins_true[-1] - pins_true[0]
    assert np.linalg.norm((medians[-1] - medians[0]) - walk_true) > 0.15
    assert np.linalg.norm((pins[-1] - pins[0]) - walk_true) < 0.03
    np.testing.assert_allclose(np.diff(pins, axis=0), np.diff(pins_true, axis=0), atol=0.03)


def _looking_down(height: float, pitch_deg: float) -> np.ndarray:
    """camera_to_world [4, 4] of a camera `height` m above the origin, looking along +Y,
    pitched down."""
    from video_to_motion.core.common import camera as cam

    m = np.eye(4)
    m[:3, :3] = cam.camera_rotation(math.radians(pitch_deg), 0.0)
    m[:3, 3] = [0.0, 0.0, height]
    return m


def test_toe_floor_points_put_a_planted_toe_where_its_pixel_meets_the_floor():
    """A toe ball 4.5 cm above the floor, seen with a pixel of noise: its floor point is
    centimetres from the truth, known better across the line of sight than along it; a
    toe seen on too few of its contact's frames, or of a body lying down, gives nothing."""
    from video_to_motion.core.worker.world import toe_floor_points

    focal, principal, sole = 1200.0, np.array([640.0, 360.0]), 0.045
    to_world = _looking_down(2.5, 12.0)
    toe = np.array([0.4, 7.0, sole])
    in_camera = (toe - to_world[:3, 3]) @ to_world[:3, :3]
    assert in_camera[2] > 0
    pixel = focal * in_camera[:2] / in_camera[2] + principal
    frames = 12
    pixels = np.tile(pixel, (frames, 2, 1)) + np.random.default_rng(0).normal(0, 1.0, (frames, 2, 2))
    pixels[:8, 1] = np.nan                                   # the right toe is hidden most of the time
    sizes = np.full(frames, 250.0)
    upright = np.ones(frames, bool)
    found = toe_floor_points(pixels, sizes, upright, [(0, 0, frames), (1, 0, frames)], focal, principal, to_world,
                             sole)
    assert found[1] is None
    point, info = found[0]
    assert np.linalg.norm(point - toe[:2]) < 0.05
    along = toe[:2] / np.linalg.norm(toe[:2])
    across = np.array([-along[1], along[0]])
    assert along @ info @ along < across @ info @ across / 4   # the depth is the unsure direction
    # A camera below the toe's height: its ray never meets that floor.
    low = _looking_down(0.02, 0.0)
    assert toe_floor_points(pixels, sizes, upright, [(0, 0, frames)], focal, principal, low, sole) == [None]
    # A body lying down: its feet are not flat on the floor.
    lying = np.zeros(frames, bool)
    assert toe_floor_points(pixels, sizes, lying, [(0, 0, frames)], focal, principal, to_world, sole) == [None]


def test_contact_pins_follow_the_picture_where_the_depth_fit_drifts():
    """Two contacts far apart in time (no overlap to chain them), each placed by a depth
    fit that is 30 cm off along the line of sight in opposite directions: where the toes'
    floor points are given, the pins land on them, and the step between them is right,
    unless a floor point cannot be the foot's."""
    from video_to_motion.core.worker.world import contact_pins

    camera_xy = np.zeros(2)
    truth = np.array([[0.0, 8.0], [1.2, 8.0]])
    sight = truth / np.linalg.norm(truth, axis=1, keepdims=True)
    feet = np.zeros((40, 2, 2))
    feet[:15, 0] = truth[0] + 0.3 * sight[0]
    feet[25:, 1] = truth[1] - 0.3 * sight[1]
    contacts = [(0, 0, 15), (1, 25, 40)]
    info = np.eye(2) / 0.03 ** 2
    without = contact_pins(feet, contacts, camera_xy)
    pins = contact_pins(feet, contacts, camera_xy, [(truth[0], info), (truth[1], info)])
    assert np.linalg.norm((without[1] - without[0]) - (truth[1] - truth[0])) > 0.4
    np.testing.assert_allclose(pins, truth, atol=0.05)
    # A floor point a metre across the line of sight from where the pose's foot is (a
    # landmark on something else) is left out.
    across = np.array([-sight[0, 1], sight[0, 0]])
    astray = contact_pins(feet, contacts, camera_xy, [(truth[0] + 1.0 * across, info), (truth[1], info)])
    np.testing.assert_allclose(astray[0], without[0], atol=0.05)


def test_the_planted_feet_shift_may_go_far_along_the_line_of_sight_only():
    """Seen from near eye height, a shift along the line of sight barely moves the person
    in the picture, so it keeps what the depth's error allows; across the line of sight,
    or seen from high up (over the floor the shift then moves the person up or down the
    picture), it is held to what keeps the person on their landmarks."""
    from video_to_motion.core.worker.world import MAX_PLANT_SHIFT, _capped_shift

    sight = np.array([[0.0, 8.0], [0.0, 8.0], [0.0, 8.0]])
    shift = np.array([[0.0, 0.3], [0.3, 0.0], [0.0, 0.3]])
    capped = _capped_shift(shift, sight, np.array([0.8, 0.8, 6.0]))
    np.testing.assert_allclose(capped[0], [0.0, 0.3])
    np.testing.assert_allclose(capped[1], [MAX_PLANT_SHIFT, 0.0])
    np.testing.assert_allclose(capped[2], [0.0, MAX_PLANT_SHIFT * 10.0 / 6.0])
