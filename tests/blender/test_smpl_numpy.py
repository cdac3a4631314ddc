"""tests/smpl_numpy.py (the Blender-side tests' reference) computes what smplx computes."""
from __future__ import annotations

import numpy as np
import pytest

from smpl_numpy import NumpySMPL

torch = pytest.importorskip("torch")


def test_joints_and_vertices_match_smplx(body_model_path):
    from video_to_motion.core.worker.body_model import create_smpl

    rng = np.random.default_rng(0)
    n = 4
    betas, poses, trans = rng.normal(size=(n, 10)), rng.normal(scale=0.6, size=(n, 72)), rng.normal(size=(n, 3))
    model = create_smpl(body_model_path).double()
    ours = NumpySMPL(body_model_path)
    t = lambda a: torch.as_tensor(a, dtype=torch.float64)
    for correctives in (True, False):
        if not correctives:
            with torch.no_grad():
                model.posedirs.zero_()
        with torch.no_grad():
            out = model(betas=t(betas), global_orient=t(poses[:, :3]), body_pose=t(poses[:, 3:]), transl=t(trans))
        joints, verts = ours.forward(betas, poses, trans, pose_correctives=correctives)
        np.testing.assert_allclose(joints, out.joints[:, :24].numpy(), atol=1e-6)
        np.testing.assert_allclose(verts, out.vertices.numpy(), atol=1e-6)
    zero = np.zeros((n, 72))
    np.testing.assert_allclose(ours.rest_joints(betas), ours.joints(betas, zero, np.zeros((n, 3))), atol=1e-9)
