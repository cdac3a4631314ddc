"""Streaming and the fast paths: frames decoded ahead on a thread, the detector's frame
selection, TAR's channels-last / autocast / compiled paths against the plain one, and
memory that stays bounded on long tracks."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch

from conftest import write_video
from video_to_motion.core.worker.body_model import create_smpl, smpl_rest_joints
from video_to_motion.core.estimators import Cancelled
from video_to_motion.core.worker.prefetch import prefetched
from video_to_motion.core.tar.inference import TrackRunner, autocast_dtype
from video_to_motion.core.tar.smpl_layer import SMPLLayer
from video_to_motion.core.worker.tracks import detector_frames
from video_to_motion.core.worker.video import VideoError, iter_frames, read_ahead
from tar_helpers import small_model


def _threads(name: str) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == name and t.is_alive()]


# ---- frames decoded ahead -------------------------------------------------------------

def test_read_ahead_yields_exactly_what_iter_frames_yields(tmp_path):
    video = write_video(tmp_path / "v.mp4", frames=23, size=(96, 64))
    for start, stop, depth in [(0, None, 4), (5, 17, 2), (0, None, 0), (20, None, 64)]:
        plain = list(iter_frames(video, start, stop))
        ahead = list(read_ahead(video, start, stop, depth=depth))
        assert [i for i, _ in ahead] == [i for i, _ in plain]
        for (_, a), (_, b) in zip(ahead, plain):
            assert np.array_equal(a, b)
    assert not _threads("vtm-decode")


def test_read_ahead_raises_decoding_errors_in_the_caller(tmp_path):
    bogus = tmp_path / "not_a_video.mp4"
    bogus.write_bytes(b"nothing to decode here")
    with pytest.raises(VideoError) as err:
        list(read_ahead(bogus, depth=4))
    assert err.value.code == "video_undecodable"
    assert not _threads("vtm-decode")


class _Source:
    """An iterator that records how far it was pulled and whether it was closed."""

    def __init__(self, n: int, fail_at: int | None = None):
        self.n, self.fail_at = n, fail_at
        self.produced = 0
        self.closed = False

    def __iter__(self):
        try:
            for i in range(self.n):
                if i == self.fail_at:
                    raise RuntimeError(f"item {i} is broken")
                self.produced = i + 1
                yield i
        finally:
            self.closed = True


def test_prefetch_errors_arrive_after_the_items_before_them():
    source = _Source(10, fail_at=6)
    got = []
    with pytest.raises(RuntimeError, match="item 6 is broken"):
        for item in prefetched(source, depth=3, name="vtm-test"):
            got.append(item)
    assert got == [0, 1, 2, 3, 4, 5] and source.closed
    assert not _threads("vtm-test")


def test_prefetch_stays_at_most_depth_ahead_and_stops_when_the_consumer_stops():
    source = _Source(1000)
    items = prefetched(source, depth=4, name="vtm-test")
    assert next(items) == 0
    time.sleep(0.2)  # the producer fills the queue, then waits
    assert source.produced <= 1 + 4 + 1  # the one taken, a full queue, one waiting to be put
    items.close()
    assert source.closed and source.produced < 1000
    assert not _threads("vtm-test")


def test_cancelling_the_consumer_stops_decoding(tmp_path):
    video = write_video(tmp_path / "v.mp4", frames=40, size=(96, 64))

    def consume():
        for index, _ in read_ahead(video, depth=2):
            if index == 3:
                raise Cancelled("SIGTERM")

    with pytest.raises(Cancelled):
        consume()
    assert not _threads("vtm-decode")


def test_detector_frames_keeps_every_kth_and_the_last():
    frames = [(i, np.full((2, 2, 3), i, np.uint8)) for i in range(10, 21)]
    out = list(detector_frames(frames, 10, 4))
    assert [i for i, _ in out] == list(range(10, 21))  # every index, in order
    kept = [i for i, f in out if f is not None]
    assert kept == [10, 14, 18, 20]
    assert all(int(f[0, 0, 0]) == i for i, f in out if f is not None)
    assert [i for i, f in detector_frames(frames[:9], 10, 4) if f is not None] == [10, 14, 18]  # last is a kth
    assert [i for i, f in detector_frames(frames, 10, 1) if f is not None] == list(range(10, 21))


# ---- TAR's fast paths against the plain one ---------------------------------------------

@pytest.fixture(scope="module")
def smpl(body_model_path):
    return SMPLLayer(create_smpl(body_model_path))


def _run(model, lengths, crops, batch_size=3, **settings):
    runner = TrackRunner(model, lengths, focal=800.0, img_size=(640, 480), batch_size=batch_size, **settings)
    for i in range(max(lengths.values())):
        for t, n in lengths.items():
            if i < n:
                runner.add(t, crops[t][i], (300.0 + 4 * i, 220.0 - 2 * i), 160.0 + i, key=(t, i))
    return runner, runner.finish()


def _inputs(lengths, seed=0):
    rng = np.random.default_rng(seed)
    return {t: rng.integers(0, 255, size=(n, 64, 64, 3), dtype=np.uint8) for t, n in lengths.items()}


def _max_difference(a, b, key):
    scale = max(1.0, max(float(np.abs(r[key]).max()) for r in b.values()))
    return max(float(np.abs(a[k][key] - b[k][key]).max()) for k in b) / scale


def test_autocast_dtype_choice():
    cpu = torch.device("cpu")
    assert autocast_dtype(cpu) is None and autocast_dtype(cpu, "fp32") is None
    assert autocast_dtype(cpu, "bf16") == torch.bfloat16 and autocast_dtype(cpu, "fp16") == torch.float16
    with pytest.raises(ValueError, match="precision must be one of"):
        autocast_dtype(cpu, "int8")


def test_channels_last_and_bf16_autocast_match_the_float32_path(smpl):
    lengths = {"a": 10, "b": 3}
    crops = _inputs(lengths)
    _, ref = _run(small_model(smpl), lengths, crops)
    runner, fast = _run(small_model(smpl), lengths, crops, precision="bf16", channels_last=True)
    assert runner.amp_dtype == torch.bfloat16 and runner.channels_last
    assert next(runner.model.backbone.parameters()).is_contiguous(memory_format=torch.channels_last)
    assert sorted(fast) == sorted(ref)
    for key in ("pose_aa", "trans", "joints2d"):
        assert fast[("a", 0)][key].dtype == np.float32
        assert _max_difference(fast, ref, key) < 0.02, key  # bf16 keeps ~3 significant digits
    # channels-last alone changes only the memory layout: float32 results agree closely.
    _, layout = _run(small_model(smpl), lengths, crops, channels_last=True)
    for key in ("pose_aa", "trans", "joints2d"):
        assert _max_difference(layout, ref, key) < 1e-4, key


def test_compiled_features_match_the_plain_path(smpl):
    """torch.compile (graph capture, here without code generation) with a padded static batch."""
    torch._dynamo.reset()
    lengths = {"a": 7}  # 7 crops in batches of 3: the last batch is padded
    crops = _inputs(lengths, seed=1)
    _, ref = _run(small_model(smpl), lengths, crops)
    runner, compiled = _run(small_model(smpl), lengths, crops, compile="aot_eager")
    assert runner.compiled and runner.backbone_runs == 7
    for key in ("pose_aa", "trans", "joints2d"):
        assert _max_difference(compiled, ref, key) < 1e-4, key


def test_runner_memory_is_bounded_on_long_tracks(smpl):
    """Crops and features held at once do not grow with the track's length."""
    model = small_model(smpl, crop_size=32, hidden_map_size=8)
    most = {}
    for length in (20, 50):
        runner = TrackRunner(model, {"a": length, "b": length // 2}, 800.0, (640, 480), batch_size=4)
        peak_held = peak_pending = 0
        crop = np.zeros((32, 32, 3), np.uint8)
        for i in range(length):
            for t, n in (("a", length), ("b", length // 2)):
                if i < n:
                    runner.add(t, crop, (320.0, 240.0), 150.0, key=(t, i))
                    peak_held = max(peak_held, runner.held_frames)
                    peak_pending = max(peak_pending, runner.pending_windows)
        assert len(runner.finish()) == length + length // 2
        assert runner.held_frames == 0 and runner.pending_windows == 0
        assert peak_pending < 4
        most[length] = peak_held
    # Per track at most T//2 + L//2 + 1 frames' features, plus one batch of crops.
    assert most[50] == most[20] <= 2 * (9 // 2 + 5 // 2 + 1) + 4, most


def test_rest_joints_equal_smplx_at_zero_pose(body_model_path):
    """The linear rest-joint formula (no mesh per row, so memory stays flat) against smplx's forward."""
    model = create_smpl(body_model_path)
    betas = np.random.default_rng(0).normal(scale=2.0, size=(7, 10)).astype(np.float32)
    t = torch.as_tensor
    with torch.no_grad():
        zero = torch.zeros(7, 3)
        joints = model(betas=t(betas), global_orient=zero, body_pose=torch.zeros(7, 69), transl=zero).joints
    np.testing.assert_allclose(smpl_rest_joints(model, betas), joints[:, :24].numpy(), atol=1e-5)
    assert smpl_rest_joints(model, betas[:0]).shape == (0, 24, 3)


def test_detector_fp16_only_on_a_gpu():
    from ultralytics.cfg import get_cfg

    from video_to_motion.core.worker.detection import fp16_arguments

    assert fp16_arguments("cpu") == {}
    cfg = get_cfg(overrides=fp16_arguments("cuda:0"))  # an argument this ultralytics knows, meaning fp16
    assert getattr(cfg, "quantize", None) == 16 or getattr(cfg, "half", None) is True
