"""The TAR model on CPU with small configs and random weights: shapes, camera, rotations,
SMPL, sliding windows against naive recomputation, gradients."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from video_to_motion.core.common import rotations
from video_to_motion.core.worker.body_model import create_smpl
from video_to_motion.core.tar import camera
from video_to_motion.core.tar.config import ConfigError, TARConfig
from video_to_motion.core.tar.inference import TrackRunner
from video_to_motion.core.tar.torch_rotations import matrix_to_axis_angle, matrix_to_rot6d, rot6d_to_matrix
from video_to_motion.core.tar.rrm import crop_to_map_coords, sample_windows
from video_to_motion.core.tar.smpl_layer import SMPLLayer
from video_to_motion.core.tar.windows import SlidingWindows, window_positions
from tar_helpers import camera_inputs, small_config, small_model


@pytest.fixture(scope="module")
def smpl(body_model_path):
    return SMPLLayer(create_smpl(body_model_path))


# ---- camera: CLIFF formulas against values worked out by hand ----

def test_cliff_camera_against_hand_computed_values():
    img = torch.tensor([[640.0, 480.0]])
    focal = camera.default_focal(img)
    assert focal.item() == pytest.approx(800.0)  # √(640² + 480²)
    center, size = torch.tensor([[400.0, 300.0]]), torch.tensor([200.0])
    info = camera.bbox_info(center, size, focal, img)
    # (400−320)/800·2.8, (300−240)/800·2.8, (200 − 0.24·800)/(0.06·800)
    np.testing.assert_allclose(info.numpy(), [[0.28, 0.21, 8 / 48]], rtol=1e-6)
    trans = camera.crop_to_full_translation(torch.tensor([[0.5, 0.1, -0.2]]), center, size, focal, img)
    # b·s = 100: tz = 2·800/100, tx = 0.1 + 2·80/100, ty = −0.2 + 2·60/100
    np.testing.assert_allclose(trans.numpy(), [[1.7, 1.0, 16.0]], rtol=1e-6)
    uv = camera.project_full(torch.zeros(1, 1, 3), trans, focal, img)
    np.testing.assert_allclose(uv.numpy(), [[[800 * 1.7 / 16 + 320, 800 * 1.0 / 16 + 240]]], rtol=1e-6)  # 405, 290
    crop = camera.full_to_crop(uv, center, size, 256)
    np.testing.assert_allclose(crop.numpy(), [[[(405 - 300) * 1.28, (290 - 200) * 1.28]]], rtol=1e-6)
    np.testing.assert_allclose(crop_to_map_coords(crop, 256, 64).numpy(),
                               [[[134.4 / 4 - 0.5, 115.2 / 4 - 0.5]]], rtol=1e-6)


def test_full_to_crop_is_the_map_the_crops_are_cut_with():
    """The camera's crop coordinates are exactly video_to_motion.core.worker.crops' (what the estimator cuts)."""
    from video_to_motion.core.worker.crops import apply_affine, crop_affine

    center, size = np.array([[412.3, 281.9]], np.float32), np.array([173.0], np.float32)
    points = np.array([[[400.0, 300.0], [330.5, 200.25], [500.0, 380.0]]], np.float32)
    expected = apply_affine(crop_affine(center, size, 256), points)
    got = camera.full_to_crop(torch.from_numpy(points), torch.from_numpy(center), torch.from_numpy(size), 256)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-5)


def test_centred_crop_camera_puts_the_body_origin_at_the_box_centre():
    img = torch.tensor([[1920.0, 1080.0]] * 3)
    focal = torch.tensor([1500.0, 2202.9, 900.0])
    center = torch.tensor([[100.0, 900.0], [960.0, 540.0], [1800.0, 50.0]])
    size = torch.tensor([120.0, 400.0, 60.0])
    cam = torch.tensor([[0.3, 0.0, 0.0], [1.2, 0.0, 0.0], [0.8, 0.0, 0.0]])
    trans = camera.crop_to_full_translation(cam, center, size, focal, img)
    uv = camera.project_full(torch.zeros(3, 1, 3), trans, focal, img)
    np.testing.assert_allclose(uv[:, 0].numpy(), center.numpy(), rtol=1e-5)


def test_window_sampling_reads_pixel_centres_at_integer_coordinates():
    m = 16
    y, x = torch.meshgrid(torch.arange(m, dtype=torch.float32), torch.arange(m, dtype=torch.float32), indexing="ij")
    maps = torch.stack([x + 10 * y, -x]).unsqueeze(0)  # marker 0 reads x + 10y, marker 1 reads −x
    points = torch.tensor([[[5.5, 7.25], [3.0, 9.0]]])
    samples = sample_windows(maps, points, radius=1)
    dx = torch.tensor([-1.0, 0, 1] * 3)
    dy = torch.tensor([-1.0] * 3 + [0.0] * 3 + [1.0] * 3)
    np.testing.assert_allclose(samples[0, 0].numpy(), (5.5 + dx + 10 * (7.25 + dy)).numpy(), rtol=1e-5)
    np.testing.assert_allclose(samples[0, 1].numpy(), (-(3.0 + dx)).numpy(), rtol=1e-5)
    outside = sample_windows(maps, torch.tensor([[[-5.0, -5.0], [40.0, 3.0]]]), radius=1)
    assert torch.all(outside == 0)


# ---- rotations and SMPL ----

def test_rotation_conversions_match_the_numpy_ones():
    rng = np.random.default_rng(1)
    aa = rng.normal(size=(200, 3))
    aa[:20] *= 1e-8  # near identity
    aa[20:40] *= (math.pi - 1e-4) / np.linalg.norm(aa[20:40], axis=1, keepdims=True)  # near 180°
    mats = torch.as_tensor(rotations.axis_angle_to_matrix(aa), dtype=torch.float64)
    np.testing.assert_allclose(rot6d_to_matrix(matrix_to_rot6d(mats)).numpy(), mats.numpy(), atol=1e-10)
    back = matrix_to_axis_angle(mats).numpy()
    np.testing.assert_allclose(rotations.axis_angle_to_matrix(back), mats.numpy(), atol=1e-6)
    far = np.linalg.norm(aa, axis=1) < math.pi - 1e-3
    np.testing.assert_allclose(back[far], aa[far], atol=1e-6)


def test_rot6d_makes_a_rotation_from_any_six_numbers():
    r = rot6d_to_matrix(torch.randn(100, 6))
    np.testing.assert_allclose((r @ r.transpose(-1, -2)).numpy(), np.broadcast_to(np.eye(3), (100, 3, 3)), atol=1e-5)
    np.testing.assert_allclose(torch.linalg.det(r).numpy(), 1.0, atol=1e-5)


def test_smpl_layer_equals_smplx(body_model_path, smpl):
    model = create_smpl(body_model_path)
    aa = torch.randn(3, 24, 3) * 0.4
    betas = torch.randn(3, 10)
    ref = model(betas=betas, global_orient=aa[:, 0], body_pose=aa[:, 1:].flatten(1), transl=torch.zeros(3, 3))
    rotmat = torch.as_tensor(rotations.axis_angle_to_matrix(aa.numpy()), dtype=torch.float32)
    vertices, joints = smpl(rotmat, betas)
    np.testing.assert_allclose(vertices.detach().numpy(), ref.vertices.detach().numpy(), atol=1e-5)
    np.testing.assert_allclose(joints.detach().numpy(), ref.joints[:, :24].detach().numpy(), atol=1e-5)
    assert not any(k.startswith("smpl.") for k in small_model(smpl).state_dict())  # never saved


# ---- the model ----

@pytest.mark.parametrize("hidden", [64, 8])
def test_output_contract_at_paper_resolution(smpl, hidden):
    """256-pixel crops, 64×64 local maps, S = 64 and S = 8 (Table S3's ends)."""
    model = small_model(smpl, crop_size=256, hidden_map_size=hidden)
    b, cfg = 2, model.cfg
    crops = torch.randn(b, cfg.seq_len, 3, 256, 256)
    g, l = model.extract_features(crops[0])
    assert g.shape == (cfg.seq_len, model.global_dim) and l.shape == (cfg.seq_len, model.local_dim, 64, 64)
    with torch.no_grad():
        stages = model(crops, *camera_inputs(b))
    assert len(stages) == cfg.iterations + 1 == 6
    shapes = {"rotmat": (b, 24, 3, 3), "pose6d": (b, 24, 6), "pose_aa": (b, 72), "betas": (b, 10), "cam_crop": (b, 3),
              "trans": (b, 3), "joints3d": (b, 24, 3), "joints2d": (b, 24, 2), "vertices": (b, 6890, 3)}
    for stage in stages:
        assert {k: tuple(v.shape) for k, v in stage.items()} == shapes
        assert all(torch.isfinite(v).all() for v in stage.values())
    # The outputs hang together: joints2d is the projection of joints3d + trans.
    last = stages[-1]
    info, focal, img, center, size = camera_inputs(b)
    np.testing.assert_allclose(last["joints2d"].numpy(),
                               camera.project_full(last["joints3d"], last["trans"], focal, img).numpy(), rtol=1e-5)
    ref = model.smpl(rot6d_to_matrix(last["pose6d"]), last["betas"])[0]
    np.testing.assert_allclose(last["vertices"].numpy(), ref.numpy(), atol=1e-6)


def test_refinement_changes_the_estimate(smpl):
    model = small_model(smpl)
    with torch.no_grad():
        stages = model(torch.randn(2, 9, 3, 64, 64), *camera_inputs(2))
    steps = [float((b["pose6d"] - a["pose6d"]).abs().max()) for a, b in zip(stages, stages[1:])]
    assert all(s > 0 for s in steps)


def test_bad_shapes_and_configs_are_explained(smpl):
    model = small_model(smpl)
    with pytest.raises(ValueError, match=r"crops has shape \[2, 7, 3, 64, 64\].*\[B, 9, 3, 64, 64\]"):
        model(torch.randn(2, 7, 3, 64, 64), *camera_inputs(2))
    with pytest.raises(ConfigError, match="hidden_map_size"):
        small_config(hidden_map_size=12)
    with pytest.raises(ConfigError, match="odd"):
        TARConfig(seq_len=8)
    with pytest.raises(ConfigError, match="outside SMPL"):
        TARConfig(marker_ids=(1, 7000))
    with pytest.raises(ConfigError, match="global_grid must be between 1 and the local map size 16"):
        TARConfig(backbone="efficientnet_lite0", crop_size=64, global_grid=32)


def test_gradients_reach_backbone_gte_lte_and_rrm(smpl):
    torch.manual_seed(0)
    model = small_model(smpl).train()
    stages = model(torch.randn(2, 9, 3, 64, 64), *camera_inputs(2))
    loss = sum(0.85 ** (len(stages) - 1 - i) * (s["joints2d"].pow(2).mean() * 1e-4 + s["joints3d"].pow(2).mean()
                                                 + s["betas"].pow(2).mean()) for i, s in enumerate(stages))
    loss.backward()
    for name in ("backbone", "gte", "lte", "rrm"):
        grads = [p.grad.abs().sum().item() for p in getattr(model, name).parameters() if p.grad is not None]
        assert grads and sum(grads) > 0, f"no gradient reaches {name}"
    # Every LTE weight takes part (both ConvGRU branches, fusion, down/up sampling).
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.lte.parameters())


def test_each_refinement_starts_from_the_previous_estimate_without_its_gradient(smpl):
    """ReFit: Φ is detached between iterations; with detach_params off the chain stays."""
    x = torch.randn(2, 9, 3, 64, 64)
    for detach in (True, False):
        torch.manual_seed(0)
        model = small_model(smpl, detach_params=detach).train()
        stages = model(x, *camera_inputs(2))
        grad = torch.autograd.grad(stages[-1]["pose6d"].sum(), stages[-2]["pose6d"], allow_unused=True)[0]
        assert (grad is None) == detach


def test_marker_dropout_is_one_rescaled_mask_per_forward(smpl):
    model = small_model(smpl, marker_dropout=0.5).train()
    torch.manual_seed(1)
    keep = model.rrm.marker_keep(64, "cpu")
    assert keep.shape == (64, model.cfg.num_markers)
    assert set(torch.unique(keep).tolist()) == {0.0, 2.0}  # dropped, or kept and scaled by 1/(1-p)
    assert 0.4 < float((keep == 0).float().mean()) < 0.6
    seen = []
    original = model.rrm.forward
    model.rrm.forward = lambda *a: (seen.append(a[-1]), original(*a))[1]
    model(torch.randn(2, 9, 3, 64, 64), *camera_inputs(2))
    assert len(seen) == model.cfg.iterations and all(s is seen[0] for s in seen)
    assert model.eval().rrm.marker_keep(2, "cpu") is None


# ---- sliding windows over a video ----

def test_window_positions_repeat_the_edges():
    assert window_positions(0, 9, 20) == [0, 0, 0, 0, 0, 1, 2, 3, 4]
    assert window_positions(18, 5, 20) == [16, 17, 18, 19, 19]
    assert window_positions(1, 9, 3) == [0, 0, 0, 0, 1, 2, 2, 2, 2]


@pytest.mark.parametrize("count", [3, 13])
def test_sliding_windows_hold_only_what_later_windows_need(count):
    win = SlidingWindows(count, 9, 5)
    emitted, most_held = [], 0
    for p in range(count):
        ready = win.push(torch.tensor([float(p)]), torch.tensor([float(p)]), info=p)
        most_held = max(most_held, win.held)
        for w in ready:
            assert torch.stack(w.global_seq)[:, 0].tolist() == window_positions(w.center, 9, count)
            assert torch.stack(w.local_seq)[:, 0].tolist() == window_positions(w.center, 5, count)
            assert w.info == w.center
            emitted.append(w.center)
    assert emitted == list(range(count)) and win.complete and win.held == 0
    assert most_held <= 9 // 2 + 5 // 2 + 1


def test_cached_sliding_windows_equal_naive_recomputation(smpl):
    """Every frame's backbone runs once; results equal running the model on each full window."""
    model = small_model(smpl)
    cfg = model.cfg
    rng = np.random.default_rng(0)
    lengths = {"a": 11, "b": 4}
    crops = {t: rng.integers(0, 255, size=(n, 64, 64, 3), dtype=np.uint8) for t, n in lengths.items()}
    boxes = {t: [((300.0 + 5 * i, 200.0 - 3 * i), 150.0 + i) for i in range(n)] for t, n in lengths.items()}
    runner = TrackRunner(model, lengths, focal=800.0, img_size=(640, 480), batch_size=3)
    for i in range(max(lengths.values())):  # frame order, tracks interleaved as in a video
        for t in lengths:
            if i < lengths[t]:
                runner.add(t, crops[t][i], boxes[t][i][0], boxes[t][i][1], key=(t, i))
    results = runner.finish()
    assert runner.backbone_runs == sum(lengths.values())
    assert sorted(results) == sorted((t, i) for t, n in lengths.items() for i in range(n))

    from video_to_motion.core.tar.backbone import normalize_crops

    for t, n in lengths.items():
        x = normalize_crops(torch.from_numpy(crops[t]))
        for c in range(n):
            window = x[window_positions(c, cfg.seq_len, n)][None]
            center, size = boxes[t][c]
            img = torch.tensor([[640.0, 480.0]])
            focal = torch.tensor([800.0])
            bc, bs = torch.tensor([center]), torch.tensor([size])
            with torch.no_grad():
                ref = model(window, camera.bbox_info(bc, bs, focal, img), focal, img, bc, bs)[-1]
            for k in ("pose_aa", "betas", "trans", "joints2d"):
                np.testing.assert_allclose(results[(t, c)][k], ref[k][0].numpy(), atol=1e-5 * max(1.0, float(ref[k].abs().max())),
                                           err_msg=f"{k} of track {t} frame {c}")


def test_mixed_precision_keeps_smpl_and_camera_in_float32(smpl):
    """The CUDA path runs under fp16/bf16 autocast; bf16 autocast on the CPU takes the same code."""
    model = small_model(smpl)
    crops = torch.randn(2, 9, 3, 64, 64)
    with torch.no_grad():
        ref = model(crops, *camera_inputs(2))[-1]
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = model(crops, *camera_inputs(2))[-1]
    assert all(v.dtype == torch.float32 for v in out.values())
    for k in ("pose_aa", "trans", "joints2d"):
        scale = float(ref[k].abs().max())
        assert float((out[k] - ref[k]).abs().max()) < 0.01 * scale, k
