"""The `tar` estimator end to end: real YOLO detection and tracking (the offline fallback
detector), a random-weight small TAR checkpoint and the generated body model, through the
worker CLI; and its errors for missing or wrong inputs."""
from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from conftest import require_fallback_detector, run_worker, write_video
from video_to_motion.core.worker.body_model import create_smpl, smpl_rest_joints
from video_to_motion.core.estimators import EstimatorError, WorkerOptions, RunContext
from video_to_motion.core.common.motion import read_motion
from video_to_motion.core.worker.video import probe
from tar_helpers import write_random_checkpoint

BLANK_FRAMES = 4


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, body_model_path) -> Path:
    return write_random_checkpoint(tmp_path_factory.mktemp("tar") / "small.pt", body_model_path)


@pytest.fixture(scope="module")
def people_clip(tmp_path_factory, vtest) -> Path:
    """Real pedestrians (vtest.avi), absent from the first frames: 4 empty grey frames, then 10 of vtest."""
    require_fallback_detector()
    cap = cv2.VideoCapture(str(vtest))
    frames = [cap.read()[1] for _ in range(10)]
    cap.release()
    h, w = frames[0].shape[:2]
    path = tmp_path_factory.mktemp("clip") / "people.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (w, h))
    for frame in [np.full_like(frames[0], 128)] * BLANK_FRAMES + frames:
        writer.write(frame)
    writer.release()
    return path


def test_worker_runs_tar_end_to_end(tmp_path, people_clip, checkpoint, body_model_path):
    out = tmp_path / "motion.npz"
    rc, events, stderr = run_worker(people_clip, "-o", out, "--estimator", "tar", "--checkpoint", checkpoint,
                                    "--smpl-model", body_model_path, "--max-people", "2", "--device", "cuda")
    assert rc == 0, stderr[-3000:]
    assert events[-1] == {"event": "done", "output": str(out)}
    stages = [e["stage"] for e in events if e["event"] == "progress"]
    assert "detect" in stages and "estimate" in stages
    warnings = " ".join(e["message"] for e in events if e["event"] == "warning")
    if not torch.cuda.is_available():
        assert "CUDA was asked for" in warnings and "CPU" in warnings

    motion = read_motion(out)  # validates the vtm.motion/1 contract
    info = probe(people_clip)
    assert motion.estimator == "tar" and motion.image_size == (info.width, info.height)
    assert motion.focal_length == pytest.approx(math.hypot(info.width, info.height))
    assert 1 <= len(motion.track_list()) <= 2
    # Nobody is in the grey frames; every tracked person gets a row on each of their frames.
    assert motion.frame_ids.min() >= BLANK_FRAMES
    for tid in motion.track_list():
        frames = motion.frame_ids[motion.rows_of_track(tid)]
        assert np.array_equal(frames, np.arange(frames[0], frames[-1] + 1))
    assert np.all(np.isfinite(motion.poses)) and np.all(motion.trans[:, 2] > 0)

    smpl = create_smpl(body_model_path)
    # SMPL's rest joints at the estimated betas, each person scaled by the world stage.
    shaped = smpl_rest_joints(smpl, motion.betas)
    scale = (motion.rest_joints * shaped).sum(axis=(1, 2)) / (shaped * shaped).sum(axis=(1, 2))
    assert np.all((0.69 < scale) & (scale < 1.41)), scale
    np.testing.assert_allclose(motion.rest_joints, scale[:, None, None] * shaped, atol=1e-5)
    # trans is smplx's transl in the camera frame: the posed body projects into the person's crop box.
    t = lambda a: torch.as_tensor(a, dtype=torch.float32)
    with torch.no_grad():
        joints = smpl(betas=t(motion.betas), global_orient=t(motion.poses[:, :3]), body_pose=t(motion.poses[:, 3:]),
                      transl=t(motion.trans)).joints[:, :24].numpy()
    uv = motion.focal_length * joints[..., :2] / joints[..., 2:] + np.array(motion.image_size) / 2
    centre = (motion.bboxes[:, :2] + motion.bboxes[:, 2:]) / 2
    side = np.max(motion.bboxes[:, 2:] - motion.bboxes[:, :2], axis=1) * 1.2
    assert np.all(np.abs(uv[:, 0] - centre) < side[:, None] / 2)  # the pelvis lies inside the crop


def test_no_person_is_a_clear_error(tmp_path, checkpoint, body_model_path):
    require_fallback_detector()
    video = write_video(tmp_path / "empty.mp4", frames=8, size=(160, 120))  # a moving square, no person
    out = tmp_path / "motion.npz"
    rc, events, _ = run_worker(video, "-o", out, "--estimator", "tar", "--checkpoint", checkpoint,
                               "--smpl-model", body_model_path)
    assert rc != 0 and not out.exists()
    error = [e for e in events if e["event"] == "error"][-1]
    assert error["code"] == "no_person" and "no person was detected" in error["message"]


def _run_context(video: Path, warnings: list) -> RunContext:
    return RunContext(video=probe(video), start_frame=0, stop_frame=None, progress=lambda *a: None,
                      warn=warnings.append, info=lambda **kw: None)


def test_bad_checkpoint_and_body_model_fail_before_detection(tmp_path, small_video, checkpoint, body_model_path,
                                                             monkeypatch):
    from video_to_motion.core.worker.body_model import BodyModelError
    from video_to_motion.core.estimators.tar import TarEstimator
    import video_to_motion.core.worker.detection

    def no_detection(*args, **kwargs):
        raise AssertionError("the detector must not run when the model cannot be loaded")

    monkeypatch.setattr(video_to_motion.core.worker.detection, "PersonDetector", no_detection)
    run = _run_context(small_video, [])
    with pytest.raises(EstimatorError, match="--checkpoint") as exc:
        TarEstimator(WorkerOptions(smpl_model=body_model_path))
    assert exc.value.code == "checkpoint_missing"
    with pytest.raises(EstimatorError, match="--smpl-model") as exc:
        TarEstimator(WorkerOptions(checkpoint=checkpoint))
    assert exc.value.code == "smpl_model_missing"
    with pytest.raises(BodyModelError, match="does not exist"):
        TarEstimator(WorkerOptions(checkpoint=checkpoint, smpl_model=tmp_path / "SMPL_NEUTRAL.pkl")).estimate(run)
    with pytest.raises(EstimatorError, match="does not exist") as exc:
        TarEstimator(WorkerOptions(checkpoint=tmp_path / "none.pt", smpl_model=body_model_path)).estimate(run)
    assert exc.value.code == "checkpoint_invalid"
    # A checkpoint whose weights belong to another configuration.
    other = write_random_checkpoint(tmp_path / "other.pt", body_model_path, hidden_map_size=16)
    payload = torch.load(other, weights_only=True)
    payload["config"]["hidden_map_size"] = 8
    torch.save(payload, other)
    with pytest.raises(EstimatorError, match="do not fit the config") as exc:
        TarEstimator(WorkerOptions(checkpoint=other, smpl_model=body_model_path)).estimate(run)
    assert exc.value.code == "checkpoint_invalid"


def test_worker_reports_a_wrong_checkpoint(tmp_path, small_video, body_model_path):
    bogus = tmp_path / "model.pt"
    bogus.write_bytes(b"not a checkpoint at all")
    rc, events, _ = run_worker(small_video, "-o", tmp_path / "o.npz", "--estimator", "tar", "--checkpoint", bogus,
                               "--smpl-model", body_model_path)
    error = [e for e in events if e["event"] == "error"][-1]
    assert rc != 0 and error["code"] == "checkpoint_invalid" and "damaged or not a checkpoint" in error["message"]
