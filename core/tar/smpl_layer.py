"""SMPL for the model: smplx's linear blend skinning on rotation matrices, in float32.

The body model's arrays are held as non-persistent buffers: they move with the model to
its device but never enter a checkpoint (SMPL's licence forbids passing the file on; the
user supplies it at run time).
"""
from __future__ import annotations

import os

import torch
import torch.nn as nn

from ..body_model import NUM_JOINTS, create_smpl

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
        self.num_betas = num_betas

    @property
    def num_vertices(self) -> int:
        return int(self.v_template.shape[0])

    def forward(self, rotmat: torch.Tensor, betas: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        from smplx.lbs import lbs

        with torch.autocast(device_type=rotmat.device.type, enabled=False):
            vertices, joints = lbs(betas.float(), rotmat.float(), self.v_template, self.shapedirs, self.posedirs,
                                   self.J_regressor, self.parents, self.lbs_weights, pose2rot=False)
        return vertices, joints[:, :NUM_JOINTS]
