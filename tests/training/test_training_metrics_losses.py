"""Metrics and losses against hand-computed cases."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from video_to_motion.core.common import rotations
from video_to_motion.core.training import metrics
from video_to_motion.core.training.losses import LossWeights, stage_weights, tar_loss


def _rotation(axis, degrees):
    axis = np.asarray(axis, float)
    return rotations.axis_angle_to_matrix(axis / np.linalg.norm(axis) * np.radians(degrees))


def test_procrustes_recovers_a_known_rotation_scale_and_translation():
    rng = np.random.default_rng(0)
    gt = rng.normal(size=(1, 14, 3))
    r, s, t = _rotation([1, 2, 3], 70), 1.7, np.array([0.3, -2.0, 5.0])
    pred = s * gt @ r.T + t  # pred = s R gt + t, so gt = R^T (pred - t) / s
    aligned = metrics.similarity_procrustes(pred, gt)
    np.testing.assert_allclose(aligned, gt, atol=1e-9)
    assert metrics.pa_mpjpe(pred, gt)[0] < 1e-6
    assert metrics.mpjpe(pred, gt)[0] > 100


def test_procrustes_never_reflects():
    gt = np.random.default_rng(1).normal(size=(1, 10, 3))
    mirrored = gt * np.array([-1.0, 1.0, 1.0])
    aligned = metrics.similarity_procrustes(mirrored, gt)
    assert metrics.mpjpe(aligned, gt)[0] > 1.0  # a rotation cannot undo a mirror


def test_procrustes_residual_matches_hand_computation():
    # Square vs. the same square with one corner pushed out along z by 0.4 m.
    gt = np.array([[[1, 1, 0], [-1, 1, 0], [-1, -1, 0], [1, -1, 0]]], float)
    pred = gt.copy()
    pred[0, 0, 2] = 0.4
    # Optimal fit leaves residual; PA-MPJPE must be below the raw error and positive.
    raw = metrics.mpjpe(pred, gt)[0]
    pa = metrics.pa_mpjpe(pred, gt)[0]
    assert raw == pytest.approx(100.0)  # 0.4 m on one of four joints -> 100 mm mean
    assert 0 < pa < raw


def test_mpjpe_in_millimetres():
    gt = np.zeros((2, 3, 3))
    pred = gt.copy()
    pred[0, :, 0] = 0.01  # 1 cm everywhere in frame 0
    pred[1, 0, :] = [0.03, 0.04, 0.0]  # 5 cm on one joint of three in frame 1
    np.testing.assert_allclose(metrics.mpjpe(pred, gt), [10.0, 50.0 / 3])


def test_accel_error_of_a_known_acceleration():
    t = np.arange(6, dtype=float)
    gt = np.zeros((6, 2, 3))
    pred = np.zeros((6, 2, 3))
    pred[:, 0, 1] = 0.5 * 0.002 * t ** 2  # constant acceleration 2 mm/frame² on joint 0 only
    err = metrics.accel_error(pred, gt)
    np.testing.assert_allclose(err, np.full(4, 1.0))  # mean over 2 joints: (2 + 0) / 2
    # Constant velocity has no acceleration error.
    np.testing.assert_allclose(metrics.accel_error(gt + t[:, None, None] * 0.01, gt), 0.0, atol=1e-9)


def test_3dpw_protocol_centres_on_the_mean_of_the_hips():
    j24 = np.random.default_rng(2).normal(size=(5, 24, 3))
    j14 = metrics.joints14_from_smpl_joints(j24)
    centred = metrics.center_on_hips(j14)
    hips = 0.5 * (j24[:, 1] + j24[:, 2])
    np.testing.assert_allclose(centred, j14 - hips[:, None])
    # A global shift changes nothing.
    seq = [{"pred_joints24": j24 + 3.0, "gt_joints24": j24}]
    out = metrics.evaluate_sequences(seq)
    assert out["mpjpe"] == pytest.approx(0.0, abs=1e-9) and np.isnan(out["pve"])


def test_h36m_regressor_path_uses_the_vertices():
    rng = np.random.default_rng(3)
    verts = rng.normal(size=(4, 30, 3))
    reg = np.zeros((17, 30))
    reg[np.arange(17), np.arange(17)] = 1.0
    j14 = metrics.joints14_from_vertices(verts, reg)
    np.testing.assert_allclose(j14, verts[:, metrics.H36M_TO_J14])


def _stage(b, value):
    return {"joints2d": torch.full((b, 24, 2), 100.0 + value), "joints3d": torch.full((b, 24, 3), value),
            "rotmat": torch.eye(3).repeat(b, 24, 1, 1) * (1 + value), "betas": torch.full((b, 10), value)}


def _target(b):
    return {"joints2d": torch.cat([torch.full((b, 24, 2), 100.0), torch.ones(b, 24, 1)], -1),
            "joints3d": torch.cat([torch.zeros(b, 24, 3), torch.ones(b, 24, 1)], -1),
            "rotmat": torch.eye(3).repeat(b, 24, 1, 1), "betas": torch.zeros(b, 10),
            "has_smpl": torch.ones(b), "has_3d": torch.ones(b),
            "box_center": torch.full((b, 2), 100.0), "box_size": torch.full((b,), 200.0)}


def test_stage_weights_are_gamma_to_the_distance_from_the_last():
    assert stage_weights(6, 0.85) == pytest.approx([0.85 ** 5, 0.85 ** 4, 0.85 ** 3, 0.85 ** 2, 0.85, 1.0])
    assert stage_weights(1, 0.85) == [1.0]


def test_loss_is_the_gamma_weighted_sum_of_stage_losses():
    w = LossWeights(kp2d=2.0, kp3d=3.0, smpl=0.5, betas=0.1, gamma=0.85, scale=1.0)
    b = 2
    # Stage l has every prediction off by d = 0.1·l in each of its terms; only one stage is wrong.
    for wrong in range(6):
        stages = [_stage(b, 0.1 if l == wrong else 0.0) for l in range(6)]
        loss, _ = tar_loss(stages, _target(b), w)
        d = 0.1
        l2d = (d / 100.0) ** 2            # 2D error d px in a 200 px box: normalised d/100
        l3d = 0.0                          # a constant offset vanishes after pelvis centring
        lrot = d ** 2 * 3 / 9              # diagonal of 3×3 off by d, averaged over 9 entries
        lsmpl = lrot + 0.1 * d ** 2
        expected = 0.85 ** (5 - wrong) * (2.0 * l2d + 3.0 * l3d + 0.5 * lsmpl)
        assert float(loss) == pytest.approx(expected, rel=1e-4), wrong


def test_identical_limbs_with_a_pelvis_offset_give_zero_3d_loss():
    """SPIN-format labels have no pelvis joint: both sets are centred on their mid-hips."""
    from video_to_motion.core.training.losses import keypoint_3d_loss

    rng = torch.Generator().manual_seed(0)
    limbs = torch.randn(3, 24, 3, generator=rng)
    pred = limbs.clone()
    pred[:, 0] += torch.tensor([0.05, 0.0, 0.0])  # SMPL's own pelvis joint sits 5 cm off
    gt = limbs + torch.tensor([1.0, -2.0, 4.0])  # any translation
    conf = torch.ones(3, 24)
    conf[:, 0] = 0.0  # the label has no pelvis
    gt[:, 0] = 0.0
    assert float(keypoint_3d_loss(pred, gt, conf, torch.ones(3))) == pytest.approx(0.0, abs=1e-10)
    bent = pred.clone()
    bent[:, 4] += 0.1  # a knee 10 cm off is seen
    assert float(keypoint_3d_loss(bent, gt, conf, torch.ones(3))) > 1e-4


def test_3d_and_smpl_terms_average_over_supervised_samples_only():
    from video_to_motion.core.training.losses import keypoint_3d_loss, smpl_loss

    b = 4
    gt = torch.zeros(b, 24, 3)
    pred = gt.clone()
    pred[0, 5] = 0.3  # only sample 0 is wrong, and only it is labelled
    has = torch.tensor([1.0, 0.0, 0.0, 0.0])
    alone = keypoint_3d_loss(pred[:1], gt[:1], torch.ones(1, 24), has[:1])
    assert float(keypoint_3d_loss(pred, gt, torch.ones(b, 24), has)) == pytest.approx(float(alone))
    rot = torch.eye(3).repeat(b, 24, 1, 1)
    wrong = rot.clone()
    wrong[0] *= 2.0
    betas = torch.zeros(b, 10)
    one = smpl_loss(wrong[:1], rot[:1], betas[:1], betas[:1], has[:1], 0.001)
    assert float(smpl_loss(wrong, rot, betas, betas, has, 0.001)) == pytest.approx(float(one))
    assert float(smpl_loss(wrong, rot, betas, betas, torch.zeros(b), 0.001)) == 0.0


def test_loss_masks_missing_ground_truth():
    b = 2
    target = _target(b)
    target["has_smpl"] = torch.tensor([1.0, 0.0])
    stage = _stage(b, 0.0)
    stage["rotmat"] = stage["rotmat"].clone()
    stage["rotmat"][1] += 5.0  # wrong, but sample 1 has no SMPL ground truth
    loss, log = tar_loss([stage], target, LossWeights(scale=1.0))
    assert float(loss) == pytest.approx(0.0, abs=1e-9) and log["smpl"] == pytest.approx(0.0, abs=1e-9)
    target["joints2d"][0, :, 2] = 0.0  # invisible joints do not count
    stage["joints2d"] = stage["joints2d"].clone()
    stage["joints2d"][0] += 50
    assert float(tar_loss([stage], target, LossWeights(scale=1.0))[0]) == pytest.approx(0.0, abs=1e-9)


def _h36m_case(n=4, seed=5):
    """A mesh, a generated H36M regressor, and SPIN-format S labels of the same joints, shifted."""
    from training_helpers import generated_regressor

    rng = np.random.default_rng(seed)
    verts = rng.normal(scale=0.3, size=(n, 6890, 3))
    reg = generated_regressor(17, seed)
    j17 = np.einsum("jv,nvc->njc", reg, verts)
    s = np.concatenate([rng.normal(size=(n, 24, 3)), np.ones((n, 24, 1))], -1)
    s[:, metrics.SPIN24_TO_J17, :3] = j17[:, metrics.H36M_TO_J17] + np.array([0.2, -1.0, 3.0])
    return verts, reg, s


def test_spin_labels_and_the_h36m_regressor_give_the_same_joints():
    verts, reg, s = _h36m_case()
    for n_joints in (14, 17):
        out = metrics.evaluate_sequences([{"pred_vertices": verts, "gt_S": s}], reg, n_joints)
        assert out["mpjpe"] == pytest.approx(0.0, abs=1e-9) and out["pa_mpjpe"] == pytest.approx(0.0, abs=1e-6)
        assert np.isnan(out["pve"])  # no ground-truth mesh
    moved = s.copy()
    moved[:, 14, 0] += 0.05  # the pelvis label 5 cm off: 17 joints are pelvis-centred, 14 use the hips
    assert metrics.evaluate_sequences([{"pred_vertices": verts, "gt_S": moved}], reg, 14)["mpjpe"] == \
        pytest.approx(0.0, abs=1e-9)
    assert metrics.evaluate_sequences([{"pred_vertices": verts, "gt_S": moved}], reg, 17)["mpjpe"] == \
        pytest.approx(50.0 * 16 / 17, rel=1e-6)
    with pytest.raises(metrics.MetricUnavailable, match="--h36m-regressor"):
        metrics.evaluate_sequences([{"pred_vertices": verts, "pred_joints24": verts[:, :24], "gt_S": s}])


def test_pve_compares_meshes_as_smpl_gives_them_not_recentred():
    verts, reg, _ = _h36m_case(n=3)
    seq = {"pred_vertices": verts + np.array([0.01, 0.0, 0.0]), "gt_vertices": verts}
    out = metrics.evaluate_sequences([seq], reg)
    assert out["mpjpe"] == pytest.approx(0.0, abs=1e-9)  # joints are hip-centred
    assert out["pve"] == pytest.approx(10.0)  # the mesh 1 cm off counts, as in TCMR


def test_protocols_of_table_1():
    assert metrics.PROTOCOLS["3dpw"].joints == 14 and metrics.PROTOCOLS["h36m"].joints == 14
    assert metrics.PROTOCOLS["mpi_inf_3dhp"].joints == 17
    # The 14 LSP joints from the H36M regressor in SPIN's order: right ankle first, head last.
    assert metrics.H36M_TO_J14[0] == 6 and metrics.H36M_TO_J14[-1] == 10
