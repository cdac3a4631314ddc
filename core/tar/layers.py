"""Small building blocks shared by the GTE and RRM: per-group linear layers, grouped GRU cells
and the per-state parameter regressor (ReFit's disentangled heads)."""
from __future__ import annotations

import math

import torch
import torch.nn as nn

from .config import NUM_SMPL_JOINTS


class GroupedLinear(nn.Module):
    """G independent linear layers applied side by side.

    x [B, G, in] -> [B, G, out]; group g uses its own weight [in, out] and bias [out].
    """

    def __init__(self, groups: int, in_features: int, out_features: int):
        super().__init__()
        bound = 1.0 / math.sqrt(in_features)  # nn.Linear's default initialisation
        self.weight = nn.Parameter(torch.empty(groups, in_features, out_features).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(groups, out_features).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("bgi,gio->bgo", x, self.weight) + self.bias


class GroupedGRUCell(nn.Module):
    """G independent GRU cells that all read the same input vector (PyTorch's GRUCell equations).

    x [B, in] (shared), h [B, G, H] -> [B, G, H].
    """

    def __init__(self, groups: int, input_size: int, hidden_size: int):
        super().__init__()
        self.groups, self.hidden_size = groups, hidden_size
        # One matrix for all groups' input weights: the input is shared.
        self.input_proj = nn.Linear(input_size, groups * 3 * hidden_size)
        self.hidden_proj = GroupedLinear(groups, hidden_size, 3 * hidden_size)

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        gi = self.input_proj(x).view(x.shape[0], self.groups, 3 * self.hidden_size)
        gh = self.hidden_proj(h)
        i_r, i_z, i_n = gi.chunk(3, dim=-1)
        h_r, h_z, h_n = gh.chunk(3, dim=-1)
        r = torch.sigmoid(i_r + h_r)
        z = torch.sigmoid(i_z + h_z)
        n = torch.tanh(i_n + r * h_n)
        return (1 - z) * n + z * h


class ParamRegressor(nn.Module):
    """26 small MLPs, one per hidden state, each reading [state, bbox info].

    states [B, 26, D] (24 joints, shape, camera), bbox_info [B, 3] ->
    (pose6d [B, 24, 6], betas [B, num_betas], cam [B, 3]): values to add to the estimate.
    """

    def __init__(self, state_dim: int, hidden_dim: int, num_betas: int):
        super().__init__()
        in_dim = state_dim + 3
        self.pose = nn.Sequential(GroupedLinear(NUM_SMPL_JOINTS, in_dim, hidden_dim), nn.ReLU(),
                                  GroupedLinear(NUM_SMPL_JOINTS, hidden_dim, 6))
        self.shape = nn.Sequential(nn.Linear(in_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, num_betas))
        self.cam = nn.Sequential(nn.Linear(in_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, 3))
        # Start as a small step from the initial estimate rather than a random jump.
        for head in (self.pose[-1], self.shape[-1], self.cam[-1]):
            nn.init.uniform_(head.weight, -1e-3, 1e-3)
            nn.init.zeros_(head.bias)

    def forward(self, states: torch.Tensor, bbox_info: torch.Tensor):
        x = torch.cat([states, bbox_info[:, None, :].expand(-1, states.shape[1], -1)], dim=-1)
        j = NUM_SMPL_JOINTS
        return self.pose(x[:, :j]), self.shape(x[:, j]), self.cam(x[:, j + 1])
