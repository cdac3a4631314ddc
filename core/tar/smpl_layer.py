"""SMPL for the model: smplx's linear blend skinning on rotation matrices, in float32.

The body model's arrays are held as non-persistent buffers: they move with the model to
its device but never enter a checkpoint (SMPL's licence forbids passing the file on; the
user supplies it at run time).
"""
from __future__ import annotations

import os

import torch
import torch.nn as nn

from ..worker.body_model import NUM_JOINTS, create_smpl

_ARRAYS = ("v_template", "shapedirs", "posedirs", "J_regressor", "parents", "lbs_weights")


class SMPLLayer(nn.Module):
    """rotmat [B, 24, 3, 3], betas [B, nb] -> (vertices [B, 6890, 3], joints [B, 24, 3]), transl = 0.

    Same numbers as `smplx.SMPL(..., pose2rot=False)` (its first 24 joints).
    """

    def __init__(self, smpl, num_betas: int = 10):
        super().__init__()
        if isinstance(smpl, (str, os.PathLike)):
            smpl = create_smpl(smpl, num_betas=num_betas)
        if smpl.shapedirs.shape[-1] < num_betas:
            raise ValueError(f"the SMPL model has {smpl.shapedirs.shape[-1]} shape directions, "
                             f"the config needs {num_betas}")
        for name in _ARRAYS:
            value = getattr(smpl, name)
            if name == "shapedirs":
                value = value[..., :num_betas]
            self.register_buffer(name, value.detach().clone().float() if value.is_floating_point() else value.clone(),
                                 persistent=False)
        self.register_buffer("faces", torch.as_tensor(smpl.faces.astype("int64")), persistent=False)
        # The rest joints are linear in betas: J = J_regressor (v_template + shapedirs·β).
        self.register_buffer("joint_template", self.J_regressor @ self.v_template, persistent=False)
        self.register_buffer("joint_shapedirs", torch.einsum("jv,vcb->jcb", self.J_regressor, self.shapedirs),
                             persistent=False)
        self.num_betas = num_betas

    @property
    def num_vertices(self) -> int:
        return int(self.v_template.shape[0])

    def forward(self, rotmat: torch.Tensor, betas: torch.Tensor,
                vertex_ids: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """With `vertex_ids` [K], only those vertices are skinned: [B, K, 3] (same numbers,
        a small fraction of the cost; training needs only the RRM's markers)."""
        from smplx.lbs import lbs

        if vertex_ids is not None:
            return self.subset(rotmat, betas, vertex_ids)
        with torch.autocast(device_type=rotmat.device.type, enabled=False):
            vertices, joints = lbs(betas.float(), rotmat.float(), self.v_template, self.shapedirs, self.posedirs,
                                   self.J_regressor, self.parents, self.lbs_weights, pose2rot=False)
        return vertices, joints[:, :NUM_JOINTS]

    def subset(self, rotmat: torch.Tensor, betas: torch.Tensor, vertex_ids: torch.Tensor):
        """smplx's LBS restricted to some vertices: -> (vertices [B, K, 3], joints [B, 24, 3])."""
        from smplx.lbs import batch_rigid_transform

        with torch.autocast(device_type=rotmat.device.type, enabled=False):
            rotmat, betas = rotmat.float(), betas.float()
            b, k = rotmat.shape[0], vertex_ids.shape[0]
            rest_joints = self.joint_template + torch.einsum("jcn,bn->bjc", self.joint_shapedirs, betas)
            shaped = self.v_template[vertex_ids] + torch.einsum("vcn,bn->bvc", self.shapedirs[vertex_ids], betas)
            eye = torch.eye(3, dtype=rotmat.dtype, device=rotmat.device)
            pose_feature = (rotmat[:, 1:] - eye).reshape(b, -1)
            posedirs = self.posedirs.view(self.posedirs.shape[0], -1, 3)[:, vertex_ids].reshape(self.posedirs.shape[0], -1)
            posed = shaped + (pose_feature @ posedirs).view(b, k, 3)
            joints, transforms = batch_rigid_transform(rotmat, rest_joints, self.parents)
            t = (self.lbs_weights[vertex_ids] @ transforms.view(b, NUM_JOINTS, 16)).view(b, k, 4, 4)
            vertices = (t[..., :3, :3] @ posed[..., None]).squeeze(-1) + t[..., :3, 3]
        return vertices, joints
