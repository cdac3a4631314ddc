"""Losses on the datasets' joints through SPIN-layout joint regressors (generated body and regressors)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from training_helpers import generated_regressor
from video_to_motion.core.tar.smpl_layer import SMPLLayer
from video_to_motion.core.training.joint_sets import (LAYOUT_SMPL24, LAYOUT_SPIN24, DatasetJoints, RegressorError,
                                                      label_layout_joints, layout_hips, load_regressor)
from video_to_motion.core.training.losses import keypoint_3d_loss


@pytest.fixture(scope="module")
def smpl(body_model_path):
    return SMPLLayer(body_model_path)


def _random_body(b: int, seed: int):
    from smplx.lbs import batch_rodrigues

    g = torch.Generator().manual_seed(seed)
    aa = 0.3 * torch.randn(b * 24, 3, generator=g)
    return batch_rodrigues(aa).view(b, 24, 3, 3), 0.5 * torch.randn(b, 10, generator=g)


def test_spin_joints_match_the_full_mesh(smpl):
    reg = generated_regressor(9)
    rotmat, betas = _random_body(3, 0)
    spin = DatasetJoints(reg)(smpl, rotmat, betas)
    verts, joints = smpl(rotmat, betas)
    extra = torch.einsum("jv,bvc->bjc", torch.as_tensor(reg, dtype=torch.float32), verts)
    torch.testing.assert_close(spin[:, 2], extra[:, 0], atol=1e-5, rtol=0)  # right hip = extra row 0
    torch.testing.assert_close(spin[:, 14], extra[:, 4], atol=1e-5, rtol=0)  # MPII pelvis = row 4
    torch.testing.assert_close(spin[:, 0], joints[:, 8], atol=1e-5, rtol=0)  # right ankle = SMPL's
    torch.testing.assert_close(spin[:, 19], verts[:, 332], atol=1e-5, rtol=0)  # nose vertex
    assert DatasetJoints(reg).vertex_ids.numel() <= 9 * 8 + 5  # skins only what it reads


def test_identical_spin_limbs_give_zero_loss_through_the_regressor(smpl):
    """Labels made by the same regressor, moved anywhere: zero 3D loss; a bent knee counts."""
    reg = generated_regressor(9, seed=1)
    dj = DatasetJoints(reg)
    rotmat, betas = _random_body(4, 1)
    label = dj(smpl, rotmat, betas) + torch.tensor([0.3, -1.0, 5.0])  # any translation
    conf = torch.ones(4, 24)
    conf[:, 14] = 0.0  # no pelvis label, as in SPIN's 3D files
    stage = {"rotmat": rotmat, "betas": betas, "joints3d": smpl(rotmat, betas)[1],
             "trans": torch.tensor([[0.0, 0.2, 6.0]]).repeat(4, 1)}
    layout = torch.full((4,), LAYOUT_SPIN24)
    focal, img_size = torch.full((4,), 800.0), torch.tensor([[640.0, 480.0]]).repeat(4, 1)
    mapped = label_layout_joints(stage, layout, dj, smpl, focal, img_size)
    hips = layout_hips(layout)
    assert float(keypoint_3d_loss(mapped["joints3d"], label, conf, torch.ones(4), hips)) == pytest.approx(0, abs=1e-10)
    # SMPL's own skeleton against the same labels is not zero: the joints differ.
    assert float(keypoint_3d_loss(stage["joints3d"], label, conf, torch.ones(4), hips)) > 1e-4
    bent = label.clone()
    bent[:, 1] += 0.1  # the right knee 10 cm off
    assert float(keypoint_3d_loss(mapped["joints3d"], bent, conf, torch.ones(4), hips)) > 1e-4
    assert mapped["joints2d"].shape == (4, 24, 2)


def test_mixed_layouts_map_each_sample_to_its_own(smpl):
    dj = DatasetJoints(generated_regressor(9))
    rotmat, betas = _random_body(2, 2)
    joints = smpl(rotmat, betas)[1]
    stage = {"rotmat": rotmat, "betas": betas, "joints3d": joints, "trans": torch.zeros(2, 3) + 5.0}
    layout = torch.tensor([LAYOUT_SMPL24, LAYOUT_SPIN24])
    mapped = label_layout_joints(stage, layout, dj, smpl, torch.full((2,), 500.0), torch.full((2, 2), 400.0))
    torch.testing.assert_close(mapped["joints3d"][0], joints[0])
    torch.testing.assert_close(mapped["joints3d"][1], dj(smpl, rotmat, betas)[1])
    assert layout_hips(layout).tolist() == [[1, 2], [2, 3]]
    with pytest.raises(RegressorError, match="J_regressor_extra.npy"):
        label_layout_joints(stage, layout, None, smpl, torch.full((2,), 500.0), torch.full((2, 2), 400.0))


def test_regressor_files_are_checked_and_never_unpickled(tmp_path):
    good = tmp_path / "J_regressor_extra.npy"
    np.save(good, generated_regressor(9))
    assert load_regressor(good, "extra").shape == (9, 6890)
    with pytest.raises(RegressorError, match="J_regressor_h36m.npy.*SPIN"):
        load_regressor(tmp_path / "missing.npy", "h36m")
    with pytest.raises(RegressorError, match=r"\[17, 6890\]"):
        load_regressor(good, "h36m")
    pickled = tmp_path / "pickled.npy"
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(RegressorError, match="not a plain numeric"):
        load_regressor(pickled, "extra")
