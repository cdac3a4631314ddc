"""SMPL model files: the generated model, chumpy-free loading of official-style pickles, bad files."""
from __future__ import annotations

import pickle
import sys
import types

import numpy as np
import pytest
import torch

from video_to_motion.core.common import rotations
from video_to_motion.core.worker.body_model import BodyModelError, create_smpl, load_smpl_arrays, smpl_rest_joints
from video_to_motion.core.common.skeleton import DEFAULT_REST_JOINTS, PARENTS, forward_kinematics


def test_generated_model_loads_in_plain_smplx(body_model_path):
    import smplx

    model = smplx.SMPL(str(body_model_path))  # no help from our loader
    assert model.v_template.shape == (6890, 3) and model.J_regressor.shape == (24, 6890)
    assert model.faces.shape[1] == 3 and model.faces.max() < 6890
    np.testing.assert_array_equal(model.parents.numpy()[1:], PARENTS[1:])
    rest = smpl_rest_joints(model, np.zeros((1, 10)))
    np.testing.assert_allclose(rest[0], DEFAULT_REST_JOINTS, atol=1e-5)


def test_every_vertex_is_used_and_weights_sum_to_one(body_model_path):
    data = load_smpl_arrays(body_model_path)
    assert np.unique(data["f"]).size == 6890
    np.testing.assert_allclose(data["weights"].sum(1), 1.0, atol=1e-9)
    assert data["shapedirs"].shape == (6890, 3, 10) and np.abs(data["shapedirs"]).max() > 0


def test_our_forward_kinematics_matches_smplx(body_model_path):
    model = create_smpl(body_model_path)
    rng = np.random.default_rng(0)
    betas = rng.normal(size=(3, 10))
    poses = rng.normal(scale=0.5, size=(3, 72))
    trans = rng.normal(size=(3, 3))
    t = lambda a: torch.as_tensor(a, dtype=torch.float32)
    with torch.no_grad():
        out = model(betas=t(betas), global_orient=t(poses[:, :3]), body_pose=t(poses[:, 3:]), transl=t(trans))
    ours = forward_kinematics(rotations.axis_angle_to_matrix(poses.reshape(3, 24, 3)),
                              smpl_rest_joints(model, betas), trans)
    np.testing.assert_allclose(ours, out.joints[:, :24].numpy(), atol=1e-5)


def test_betas_change_the_body(body_model_path):
    model = create_smpl(body_model_path)
    rest = smpl_rest_joints(model, np.stack([np.zeros(10), np.eye(10)[0] * 2]))
    height = lambda j: j[15, 1] - j[7, 1]
    assert height(rest[1]) > height(rest[0]) + 0.05


def test_chumpy_pickles_load_without_chumpy(tmp_path, body_model_path):
    """Official SMPL files hold chumpy arrays; fake a chumpy class to write one, then load it without."""
    data = load_smpl_arrays(body_model_path)
    fake = types.ModuleType("chumpy.ch")

    class Ch:
        def __init__(self, x):
            self.x = x

    Ch.__module__ = "chumpy.ch"
    Ch.__qualname__ = "Ch"
    fake.Ch = Ch
    sys.modules["chumpy"] = types.ModuleType("chumpy")
    sys.modules["chumpy.ch"] = fake
    try:
        official_like = dict(data, shapedirs=Ch(data["shapedirs"]), v_template=Ch(data["v_template"]))
        path = tmp_path / "basicmodel_neutral_lbs_10_207_0_v1.1.0.pkl"
        path.write_bytes(pickle.dumps(official_like, protocol=2))
    finally:
        del sys.modules["chumpy"], sys.modules["chumpy.ch"]
    loaded = load_smpl_arrays(path)
    np.testing.assert_array_equal(loaded["shapedirs"], data["shapedirs"])
    model = create_smpl(path)
    np.testing.assert_allclose(model.v_template.numpy(), data["v_template"], atol=1e-6)


def test_wrong_files_are_explained(tmp_path, body_model_path):
    with pytest.raises(BodyModelError, match="does not exist; download SMPL"):
        load_smpl_arrays(tmp_path / "SMPL_NEUTRAL.pkl")
    with pytest.raises(BodyModelError, match="is a folder"):
        load_smpl_arrays(tmp_path)
    junk = tmp_path / "junk.pkl"
    junk.write_text("hello")
    with pytest.raises(BodyModelError, match="not a readable SMPL model file"):
        load_smpl_arrays(junk)
    data = load_smpl_arrays(body_model_path)
    smplx_like = dict(data, v_template=np.zeros((10475, 3)), J_regressor=np.zeros((55, 10475)))
    np.savez(tmp_path / "smplx.npz", **{k: v for k, v in smplx_like.items() if isinstance(v, np.ndarray)})
    with pytest.raises(BodyModelError, match="looks like SMPL-X.*needs an SMPL model with 6890 vertices"):
        load_smpl_arrays(tmp_path / "smplx.npz")
    no_weights = {k: v for k, v in data.items() if k != "weights" and isinstance(v, np.ndarray)}
    np.savez(tmp_path / "partial.npz", **no_weights, J_regressor=data["J_regressor"].toarray())
    with pytest.raises(BodyModelError, match="missing weights"):
        load_smpl_arrays(tmp_path / "partial.npz")
