"""The default estimator end to end: the worker with --estimator blazepose on real footage."""
from __future__ import annotations

import numpy as np
import pytest

from conftest import run_worker

from video_to_motion.core.common import rotations
from video_to_motion.core.estimators.blazepose.landmarks import SMPL_TO_LANDMARK
from video_to_motion.core.common.motion import read_motion
from video_to_motion.core.estimators.blazepose.root_fit import project
from video_to_motion.core.common.skeleton import DEFAULT_REST_JOINTS, PARENTS, forward_kinematics


def test_worker_default_estimator_on_real_footage(vtest, offline, tmp_path):
    out = tmp_path / "motion.npz"
    rc, events, stderr = run_worker(vtest, "-o", out, "--estimator", "blazepose", "--start-frame", "0",
                                    "--end-frame", "24", "--detect-every", "2", timeout=240)
    assert rc == 0, (events[-3:], stderr[-3000:])
    assert events[-1] == {"event": "done", "output": str(out)}
    info = {k: v for e in events if e["event"] == "info" for k, v in e.items()}
    assert info["estimator"] == "blazepose"
    assert "BlazePose" in info["pose_model"] and "offline fallback" in info["detector"]
    assert any("fallback" in e["message"] for e in events if e["event"] == "warning")
    assert {"detect", "estimate", "write"} <= {e["stage"] for e in events if e["event"] == "progress"}

    motion = read_motion(out)
    assert motion.estimator == "blazepose" and motion.has_world
    # The camera comes from the people (or, with too little evidence, the default guess).
    camera = info["camera"]
    assert camera["focal_px"] == pytest.approx(motion.focal_length, rel=1e-3)
    assert motion.image_size == (768, 576) and 0.5 * 960 < motion.focal_length < 2 * 960
    assert camera["camera_height_m"] > 1.0 and -10 < camera["pitch_deg"] < 80
    assert len(motion.track_list()) >= 1 and motion.num_rows >= 20
    assert motion.frame_ids.min() >= 0 and motion.frame_ids.max() <= 24
    np.testing.assert_array_equal(motion.betas, 0.0)
    # Each person's skeleton: the default one with their own bone lengths (the fit) at
    # their own body scale (the world stage), the same on every row.
    for t in motion.track_list():
        rest = motion.rest_joints[motion.rows_of_track(t)]
        np.testing.assert_allclose(rest, np.broadcast_to(rest[0], rest.shape), atol=1e-5)
        bone = lambda r: np.linalg.norm(r[1:] - r[PARENTS[1:]], axis=-1)
        ratio = bone(rest[0]) / bone(DEFAULT_REST_JOINTS)
        scale = ratio[10 - 1]  # the foot: in no group of bones the fit lengthens, so the world's scale
        assert 0.6 < scale < 1.6
        assert np.all((0.5 < ratio / scale) & (ratio / scale < 1.6)), ratio / scale

    rot = rotations.axis_angle_to_matrix(motion.poses.reshape(-1, 24, 3).astype(np.float64))
    joints = forward_kinematics(rot, motion.rest_joints.astype(np.float64), motion.trans.astype(np.float64))
    # Rigid bones within each track, people 5-60 m in front of the camera.
    bones = np.linalg.norm(joints[:, 1:] - joints[:, PARENTS[1:]], axis=-1)
    for t in motion.track_list():
        b = bones[motion.rows_of_track(t)]
        np.testing.assert_allclose(b, np.broadcast_to(b[0], b.shape), atol=1e-5)
    assert np.all((joints[:, 0, 2] > 5) & (joints[:, 0, 2] < 60))
    # Walkers stand upright: SMPL's up axis points up the image (-y in the camera frame).
    # (The offline detector also boxes a jacket lying on the lawn, which BlazePose reads
    # as a lying person, so not every track is upright.) Every track keeps its up axis.
    up = rot[:, 0, :, 1]
    upright = [t for t in motion.track_list() if np.mean(up[motion.rows_of_track(t), 1] < -0.8) > 0.9]
    assert len(upright) >= 2, [(t, up[motion.rows_of_track(t)].mean(0)) for t in motion.track_list()]
    for t in motion.track_list():
        rows = motion.rows_of_track(t)
        mean_up = up[rows].mean(0) / np.linalg.norm(up[rows].mean(0))
        assert np.percentile(np.degrees(np.arccos(np.clip(up[rows] @ mean_up, -1, 1))), 90) < 30
    # The SMPL skeleton lands on BlazePose's 2D landmarks.
    pixels = project(joints[:, list(SMPL_TO_LANDMARK)], motion.focal_length, np.array([384.0, 288.0]))
    landmarks = motion.extras["landmarks_2d"][:, list(SMPL_TO_LANDMARK.values())]
    box_height = motion.bboxes[:, 3] - motion.bboxes[:, 1]
    error = np.median(np.linalg.norm(pixels - landmarks, axis=-1), axis=1) / box_height
    assert np.median(error) < 0.05 and np.percentile(error, 90) < 0.12, np.percentile(error, [50, 90])
    # Each track's rows lie within its box.
    centre = joints[:, 0]
    pelvis_px = project(centre, motion.focal_length, np.array([384.0, 288.0]))
    inside = ((pelvis_px[:, 0] > motion.bboxes[:, 0]) & (pelvis_px[:, 0] < motion.bboxes[:, 2])
              & (pelvis_px[:, 1] > motion.bboxes[:, 1]) & (pelvis_px[:, 1] < motion.bboxes[:, 3]))
    assert inside.mean() > 0.95


def test_no_person_is_a_clear_error(small_video, offline, tmp_path):
    out = tmp_path / "motion.npz"
    rc, events, _ = run_worker(small_video, "-o", out, "--estimator", "blazepose", timeout=240)
    assert rc == 1 and not out.exists()
    assert events[-1]["event"] == "error" and events[-1]["code"] == "no_person", events[-1]


def test_rest_skeleton_comes_from_the_smpl_model(body_model_path, tmp_path):
    """With --smpl-model the bones are that body's: here a model 10% taller than the default."""
    from video_to_motion.core.worker.body_model import load_smpl_arrays
    from video_to_motion.core.estimators import WorkerOptions
    from video_to_motion.core.estimators.blazepose.estimator import BlazePoseEstimator

    data = load_smpl_arrays(body_model_path)
    data["v_template"] = data["v_template"] * 1.1
    data["J_regressor"] = data["J_regressor"].toarray()
    bigger = tmp_path / "SMPL_BIGGER.npz"
    np.savez(bigger, **{k: np.asarray(v) for k, v in data.items() if k in
                        ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f")})
    estimator = BlazePoseEstimator(WorkerOptions(smpl_model=bigger))
    np.testing.assert_allclose(estimator.rest_joints, DEFAULT_REST_JOINTS * 1.1, atol=1e-5)
    assert str(bigger) in estimator.skeleton
    assert np.allclose(BlazePoseEstimator(WorkerOptions()).rest_joints, DEFAULT_REST_JOINTS)


def test_given_focal_length_is_used(vtest, offline, tmp_path):
    """--focal-length replaces CLIFF's guess: the same people come out at a depth scaled
    by it (depth = f x size / pixel size)."""
    depths = {}
    for focal in (None, 1920.0):
        out = tmp_path / f"motion_{focal}.npz"
        args = ["--focal-length", str(focal)] if focal else []
        rc, events, stderr = run_worker(vtest, "-o", out, "--estimator", "blazepose", "--start-frame", "0",
                                        "--end-frame", "6", "--detect-every", "3", *args, timeout=240)
        assert rc == 0, (events[-3:], stderr[-2000:])
        motion = read_motion(out)
        assert motion.focal_length == pytest.approx(focal or 960.0)
        depths[focal] = {t: np.median(motion.trans[motion.rows_of_track(t), 2] + DEFAULT_REST_JOINTS[0, 2])
                         for t in motion.track_list()}
    common = set(depths[None]) & set(depths[1920.0])
    assert common
    ratios = [depths[1920.0][t] / depths[None][t] for t in common]
    np.testing.assert_allclose(ratios, 2.0, rtol=0.05)


def test_landmarks_pass_with_decoding_and_retries_on_threads_gives_the_same_poses(vtest, offline, monkeypatch):
    from video_to_motion.core.common.options import WorkerOptions
    from video_to_motion.core.estimators import RunContext
    from video_to_motion.core.estimators.blazepose import estimator as bp
    from video_to_motion.core.worker.tracks import find_people
    from video_to_motion.core.worker.video import probe

    run = RunContext(video=probe(vtest), start_frame=300, stop_frame=310, progress=lambda *a: None,
                     warn=lambda m: None, info=lambda **k: None)
    tracks = find_people(run, None, "cpu", detect_every=1, max_people=4)
    est = bp.BlazePoseEstimator(WorkerOptions())
    retries = []
    real_retry = bp.masked_retry
    monkeypatch.setattr(bp, "masked_retry", lambda *a: retries.append(1) or real_retry(*a))
    found = {}
    # Sequential: decoded on the calling thread, each retry awaited at once; then both on threads.
    for ahead, pending in ((0, 0), (bp.PREFETCH_FRAMES, bp.MAX_PENDING_RETRIES)):
        monkeypatch.setattr(bp, "PREFETCH_FRAMES", ahead)
        monkeypatch.setattr(bp, "MAX_PENDING_RETRIES", pending)
        found[ahead] = est._landmarks_pass(run, tracks, 1000.0)
    sequential, concurrent = found[0], found[bp.PREFETCH_FRAMES]
    assert sum(len(obs.frames) for obs in sequential.values()) >= 20  # most of 4 people on 10 frames
    assert len(retries) >= 2  # BlazePose missed someone and was asked again on masked crops
    assert sequential.keys() == concurrent.keys()
    for tid, obs in sequential.items():
        assert obs.frames == concurrent[tid].frames and obs.rows == concurrent[tid].rows
        np.testing.assert_array_equal(np.array(obs.image), np.array(concurrent[tid].image))
        np.testing.assert_array_equal(np.array(obs.world), np.array(concurrent[tid].world))
        np.testing.assert_array_equal(np.array(obs.visibility), np.array(concurrent[tid].visibility))
