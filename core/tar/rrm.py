"""Recurrent Refinement Module (paper §3.3, Eq. 5-9): markers on the current SMPL mesh,
projected with the full-image camera into the local map, sample a (2r+1)² window each;
with the current estimate and the bbox info they drive 26 GRUs (24 joints, shape,
camera) initialised from the GTE's hidden states, whose regressors give the update ΔΦ.

As in ReFit, each marker reads its own channel of a "marker map" computed from the LTE
output, and the windows are squares of side 2r+1 sampled with bilinear interpolation.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import NUM_SMPL_JOINTS, NUM_STATES, TARConfig
from .layers import GroupedGRUCell, GroupedLinear, ParamRegressor


def crop_to_map_coords(points: torch.Tensor, crop_size: int, map_size: int) -> torch.Tensor:
    """Crop coordinates -> local-map pixel indices.

    Crop coordinates are continuous with pixel i covering [i, i+1) (the project's
    convention, `core.crops`); map indices put pixel centres at integers, as
    `sample_windows` reads them. points [..., 2] -> [..., 2]: x · map/crop − 0.5.
    """
    return points * (map_size / crop_size) - 0.5


def window_offsets(radius: int, device=None, dtype=None) -> torch.Tensor:
    """[(2r+1)², 2] (dx, dy) offsets of a square window, row by row."""
    r = torch.arange(-radius, radius + 1, device=device, dtype=dtype)
    dy, dx = torch.meshgrid(r, r, indexing="ij")
    return torch.stack([dx.flatten(), dy.flatten()], dim=-1)


def sample_windows(maps: torch.Tensor, points: torch.Tensor, radius: int) -> torch.Tensor:
    """Bilinear samples of each marker's own channel around its position.

    maps [B, K, M, M], points [B, K, 2] in map pixels -> [B, K, (2r+1)²]; zero outside.
    """
    b, k, m = maps.shape[0], maps.shape[1], maps.shape[-1]
    grid = points[:, :, None, :] + window_offsets(radius, points.device, points.dtype)  # [B, K, W, 2]
    grid = grid / (m - 1) * 2 - 1  # align_corners=True: -1 and 1 are the outer pixel centres
    samples = F.grid_sample(maps.reshape(b * k, 1, m, m), grid.reshape(b * k, 1, -1, 2).to(maps.dtype),
                            mode="bilinear", padding_mode="zeros", align_corners=True)
    return samples.view(b, k, -1)


class RecurrentRefinement(nn.Module):
    """One refinement step; the model runs it `iterations` times.

    marker_maps: m [B, C, M, M] -> [B, K, M, M] (once per window).
    forward: maps [B, K, M, M], markers [B, K, 2] (map pixels), states [B, 26, D],
    pose6d [B, 24, 6], betas [B, nb], cam [B, 3], bbox_info [B, 3], marker_keep [B, K] or None ->
    (states [B, 26, D], (Δpose6d [B, 24, 6], Δbetas [B, nb], Δcam [B, 3])).
    """

    def __init__(self, cfg: TARConfig, local_channels: int):
        super().__init__()
        k, window = cfg.num_markers, (2 * cfg.window_radius + 1) ** 2
        self.marker_head = nn.Sequential(nn.Conv2d(local_channels, local_channels, 3, padding=1), nn.ReLU(inplace=True),
                                         nn.Conv2d(local_channels, k, 1))
        self.marker_proj = GroupedLinear(k, window, cfg.marker_feature_dim)
        self.local_proj = nn.Sequential(nn.Linear(k * cfg.marker_feature_dim, cfg.local_feature_dim), nn.ReLU())
        feedback_dim = cfg.local_feature_dim + 3 + NUM_SMPL_JOINTS * 6 + cfg.num_betas + 3
        self.gru = GroupedGRUCell(NUM_STATES, feedback_dim, cfg.state_dim)
        self.regressor = ParamRegressor(cfg.state_dim, cfg.regressor_dim, cfg.num_betas)
        self.radius = cfg.window_radius
        self.marker_dropout = cfg.marker_dropout

    def marker_maps(self, local: torch.Tensor) -> torch.Tensor:
        return self.marker_head(local)

    def marker_keep(self, batch: int, device) -> torch.Tensor | None:
        """Dropout1d over the markers, drawn once per forward and used by every iteration:
        [B, K] of 0 (dropped) or 1/(1-p) (kept, rescaled); None outside training."""
        if not (self.training and self.marker_dropout > 0):
            return None
        k = self.marker_proj.weight.shape[0]
        keep = torch.rand(batch, k, device=device) >= self.marker_dropout
        return keep.float() / (1.0 - self.marker_dropout)

    def forward(self, maps, markers, states, pose6d, betas, cam, bbox_info, marker_keep=None):
        features = self.marker_proj(sample_windows(maps, markers, self.radius))  # [B, K, F]
        if marker_keep is not None:
            features = features * marker_keep[..., None].to(features.dtype)
        local = self.local_proj(features.flatten(1))
        feedback = torch.cat([local, bbox_info, pose6d.flatten(1), betas, cam], dim=-1)
        states = self.gru(feedback, states)
        return states, self.regressor(states, bbox_info)
