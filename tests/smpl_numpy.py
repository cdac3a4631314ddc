"""SMPL's forward pass in numpy (float64): what smplx computes, without torch.

The Blender-side tests run in environments that hold only bpy, numpy and scipy (one per
Blender version); they take their reference joints and skinned vertices from here.
tests/test_smpl_numpy.py checks this against smplx in the worker's environment.
"""
from __future__ import annotations

import numpy as np

from video_to_motion.core.worker.body_model import load_smpl_arrays


class NumpySMPL:
    def __init__(self, path, num_betas: int = 10):
        data = load_smpl_arrays(path)
        dense = lambda a: np.asarray(a.toarray() if hasattr(a, "toarray") else a, np.float64)
        self.v_template = dense(data["v_template"])
        self.shapedirs = dense(data["shapedirs"])[:, :, :num_betas]
        self.posedirs = dense(data["posedirs"])  # [V, 3, 207]
        self.j_regressor = dense(data["J_regressor"])
        self.weights = dense(data["weights"])
        self.parents = np.asarray(data["kintree_table"])[0].astype(np.int64)
        self.parents[0] = -1

    def rest_joints(self, betas) -> np.ndarray:
        """[N, 24, 3] joints at zero pose and translation (linear in betas)."""
        betas = np.atleast_2d(np.asarray(betas, np.float64))
        template = self.j_regressor @ self.v_template
        dirs = np.einsum("jv,vkl->jkl", self.j_regressor, self.shapedirs[:, :, :betas.shape[1]])
        return template + np.einsum("nl,jkl->njk", betas, dirs)

    def forward(self, betas, poses, trans, pose_correctives: bool = True):
        """(joints [N, 24, 3], vertices [N, V, 3]) for rows of betas, axis-angle poses [N, 72], trans."""
        betas = np.atleast_2d(np.asarray(betas, np.float64))
        poses = np.atleast_2d(np.asarray(poses, np.float64)).reshape(len(betas), 24, 3)
        trans = np.atleast_2d(np.asarray(trans, np.float64))
        shaped = self.v_template + np.einsum("nl,vkl->nvk", betas, self.shapedirs[:, :, :betas.shape[1]])
        joints = np.einsum("jv,nvk->njk", self.j_regressor, shaped)
        rots = rodrigues(poses)  # [N, 24, 3, 3]
        if pose_correctives:
            feature = (rots[:, 1:] - np.eye(3)).reshape(len(betas), -1)
            shaped = shaped + np.einsum("vkp,np->nvk", self.posedirs, feature)
        n = len(betas)
        world = np.zeros((n, 24, 4, 4))
        for j, p in enumerate(self.parents):
            local = np.zeros((n, 4, 4))
            local[:, :3, :3] = rots[:, j]
            local[:, :3, 3] = joints[:, j] - (joints[:, p] if p >= 0 else 0.0)
            local[:, 3, 3] = 1.0
            world[:, j] = local if p < 0 else world[:, p] @ local
        posed_joints = world[:, :, :3, 3]
        skin = world.copy()
        skin[:, :, :3, 3] -= np.einsum("njab,njb->nja", world[:, :, :3, :3], joints)
        blend = np.einsum("vj,njab->nvab", self.weights, skin)
        verts = np.einsum("nvab,nvb->nva", blend[:, :, :3, :3], shaped) + blend[:, :, :3, 3]
        return posed_joints + trans[:, None], verts + trans[:, None]

    def joints(self, betas, poses, trans) -> np.ndarray:
        return self.forward(betas, poses, trans)[0]


def rodrigues(rotvecs: np.ndarray) -> np.ndarray:
    """[..., 3] axis-angle -> [..., 3, 3] rotation matrices."""
    angle = np.linalg.norm(rotvecs, axis=-1, keepdims=True)
    axis = rotvecs / np.maximum(angle, 1e-12)
    x, y, z = np.moveaxis(axis, -1, 0)
    zero = np.zeros_like(x)
    k = np.stack([zero, -z, y, z, zero, -x, -y, x, zero], -1).reshape(*x.shape, 3, 3)
    s, c = np.sin(angle)[..., None], np.cos(angle)[..., None]
    return np.eye(3) + s * k + (1 - c) * (k @ k)
