"""Global Temporal Encoder (paper §3.1): a 4-layer transformer over the T global features,
a learned weighted average (1D convolution over time) to one temporal feature of the
mid-frame, 26 hidden states from it, and the initial SMPL/camera regression."""
from __future__ import annotations

import torch
import torch.nn as nn

from .config import NUM_STATES, TARConfig
from .layers import ParamRegressor


class GlobalTemporalEncoder(nn.Module):
    """global_seq [B, T, Dg], bbox_info [B, 3] ->
    states [B, 26, state_dim] in (-1, 1) and the regressor's output
    (pose6d [B, 24, 6], betas [B, num_betas], cam [B, 3]) to add to the mean estimate."""

    def __init__(self, cfg: TARConfig, global_dim: int):
        super().__init__()
        self.input_proj = nn.Linear(global_dim, cfg.gte_dim)
        self.pos_embed = nn.Parameter(torch.zeros(1, cfg.seq_len, cfg.gte_dim))
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        layer = nn.TransformerEncoderLayer(cfg.gte_dim, cfg.gte_heads, cfg.gte_ffn_dim, cfg.gte_dropout,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, cfg.gte_layers, norm=nn.LayerNorm(cfg.gte_dim),
                                             enable_nested_tensor=False)
        # Weighted average over time: a 1×1 Conv1d with the T frames as its input channels.
        self.time_weights = nn.Conv1d(cfg.seq_len, 1, kernel_size=1)
        nn.init.constant_(self.time_weights.weight, 1.0 / cfg.seq_len)
        nn.init.zeros_(self.time_weights.bias)
        self.to_states = nn.Linear(cfg.gte_dim, NUM_STATES * cfg.state_dim)
        self.regressor = ParamRegressor(cfg.state_dim, cfg.regressor_dim, cfg.num_betas)
        self.state_dim = cfg.state_dim
        self.temporal = cfg.temporal_global

    def forward(self, global_seq: torch.Tensor, bbox_info: torch.Tensor):
        if self.temporal:
            x = self.encoder(self.input_proj(global_seq) + self.pos_embed)  # [B, T, D]
            f = self.time_weights(x).squeeze(1)  # [B, D]
        else:  # ablation: the mid-frame's static feature alone
            f = self.input_proj(global_seq[:, global_seq.shape[1] // 2])
        # tanh: the states initialise GRU hidden states, which live in (-1, 1).
        states = torch.tanh(self.to_states(f)).view(f.shape[0], NUM_STATES, self.state_dim)
        return states, self.regressor(states, bbox_info)
