"""The vtm.motion/1 contract: round trip, the validator's messages, atomic writes."""
from __future__ import annotations

import numpy as np
import pytest

from video_to_motion.core.common import rotations
from video_to_motion.core.common.motion import (SCHEMA_V1, Motion, MotionFormatError,
                         read_motion, sort_rows, validate_arrays, write_motion)
from video_to_motion.core.common.keyframes import interpolated_track
from video_to_motion.core.common.skeleton import DEFAULT_REST_JOINTS


def random_motion(n_frames=(6, 4), seed=0) -> Motion:
    rng = np.random.default_rng(seed)
    rows = []
    for track, n in enumerate(n_frames):
        frames = np.sort(rng.choice(40, size=n, replace=False))
        for f in frames:
            rows.append((f, track + 3))
    n = len(rows)
    motion = Motion(
        estimator="test", fps=29.97, image_size=(640, 480), focal_length=800.0,
        frame_ids=np.array([r[0] for r in rows], np.int32), track_ids=np.array([r[1] for r in rows], np.int32),
        poses=rng.normal(scale=0.4, size=(n, 72)).astype(np.float32),
        betas=rng.normal(size=(n, 10)).astype(np.float32),
        trans=rng.normal(size=(n, 3)).astype(np.float32),
        rest_joints=(DEFAULT_REST_JOINTS[None] + rng.normal(scale=0.01, size=(n, 24, 3))).astype(np.float32),
        bboxes=rng.uniform(0, 400, size=(n, 4)).astype(np.float32),
        scores=rng.uniform(size=n).astype(np.float32))
    return sort_rows(motion)


def test_round_trip_keeps_every_field(tmp_path):
    motion = random_motion()
    motion.extras["note"] = np.array("extra keys survive")
    path = write_motion(tmp_path / "m.npz", motion)
    back = read_motion(path)
    for key in ("frame_ids", "track_ids", "poses", "betas", "trans", "rest_joints", "bboxes", "scores"):
        np.testing.assert_array_equal(getattr(back, key), getattr(motion, key))
        assert getattr(back, key).dtype == getattr(motion, key).dtype
    assert (back.estimator, back.fps, back.image_size, back.focal_length) == ("test", 29.97, (640, 480), 800.0)
    assert str(back.extras["note"]) == "extra keys survive"
    with np.load(path) as raw:
        assert str(raw["schema"]) == SCHEMA_V1  # no world: still a /1 file
        assert raw["image_size"].dtype == np.int32


def _arrays():
    return random_motion().to_arrays()


@pytest.mark.parametrize("mutate, message", [
    (lambda a: a.pop("poses"), "missing key(s) poses"),
    (lambda a: a.update(schema=np.array("vtm.motion/0")), "schema is"),
    (lambda a: a.update(poses=a["poses"][:, :69]), "poses has shape [10, 69], expected [N,72]"),
    (lambda a: a.update(betas=a["betas"][:-1]), "betas has shape [9, 10]"),
    (lambda a: a.update(trans=a["trans"].astype(np.float64)), "trans has dtype float64, expected float32"),
    (lambda a: a.update(track_ids=a["track_ids"].astype(np.int64)), "track_ids has dtype int64"),
    (lambda a: a["poses"].__setitem__((2, 7), np.nan), "poses holds a non-finite value (NaN or inf) at index [2, 7]"),
    (lambda a: a["trans"].__setitem__((0, 0), np.inf), "trans holds a non-finite value"),
    (lambda a: a.update(frame_ids=a["frame_ids"][::-1].copy()), "out of order"),
    (lambda a: a["frame_ids"].__setitem__(1, a["frame_ids"][0]), "duplicated"),
    (lambda a: a.update(fps=np.array(0.0)), "fps must be a positive finite number"),
    (lambda a: a.update(focal_length=np.array(np.nan)), "focal_length must be a positive finite number"),
    (lambda a: a.update(image_size=np.array([640, 480, 3], np.int32)), "image_size must be int32[2]"),
    (lambda a: a.update(rest_joints=a["rest_joints"][:, :22]), "rest_joints has shape [10, 22, 3]"),
    (lambda a: a.update(estimator=np.array(3)), "estimator must be a string"),
    (lambda a: a["frame_ids"].__setitem__(0, -1), "frame_ids must be >= 0"),
])
def test_validator_names_each_problem(mutate, message):
    arrays = _arrays()
    mutate(arrays)
    with pytest.raises(MotionFormatError) as err:
        validate_arrays(arrays)
    assert message in str(err.value)


def test_reader_rejects_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_motion(tmp_path / "nope.npz")
    garbage = tmp_path / "garbage.npz"
    garbage.write_text("not a zip")
    with pytest.raises(MotionFormatError, match="not a readable .npz"):
        read_motion(garbage)
    arrays = _arrays()
    arrays["poses"][0, 0] = np.nan
    np.savez(tmp_path / "nan.npz", **arrays)
    with pytest.raises(MotionFormatError, match="nan.npz.*non-finite"):
        read_motion(tmp_path / "nan.npz")


def test_failed_write_keeps_the_previous_file(tmp_path):
    path = write_motion(tmp_path / "m.npz", random_motion(seed=1))
    before = path.read_bytes()
    bad = random_motion(seed=2)
    bad.trans[0, 0] = np.nan
    with pytest.raises(MotionFormatError):
        write_motion(path, bad)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"], "no temporary file may be left behind"


def test_select_keeps_per_row_extras_aligned():
    motion = random_motion(seed=6)
    motion.extras["row_tag"] = np.arange(motion.num_rows) * 10
    motion.extras["global_note"] = np.array([1.0, 2.0])
    rows = np.array([3, 0, 5])
    picked = motion.select(rows)
    np.testing.assert_array_equal(picked.extras["row_tag"], rows * 10)
    np.testing.assert_array_equal(picked.extras["global_note"], [1.0, 2.0])
    np.testing.assert_array_equal(picked.frame_ids, motion.frame_ids[rows])


def test_interpolated_track_interpolates_between_observations():
    motion = random_motion(n_frames=(6, 4), seed=3)
    track = motion.track_list()[0]
    rows = motion.rows_of_track(track)
    filled = interpolated_track(motion, track)
    frames = motion.frame_ids[rows]
    assert filled["frame_ids"][0] == frames[0] and filled["frame_ids"][-1] == frames[-1]
    assert len(filled["frame_ids"]) == frames[-1] - frames[0] + 1
    observed = np.flatnonzero(filled["observed"])
    np.testing.assert_allclose(filled["trans"][observed], motion.trans[rows], atol=1e-6)
    # Observed rotations come back as the same rotations.
    a = rotations.axis_angle_to_matrix(filled["poses"][observed].reshape(-1, 24, 3))
    b = rotations.axis_angle_to_matrix(motion.poses[rows].reshape(-1, 24, 3).astype(np.float64))
    np.testing.assert_allclose(a, b, atol=1e-5)
    with pytest.raises(MotionFormatError, match="track 99 is not in the motion"):
        interpolated_track(motion, 99)
