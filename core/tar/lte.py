"""Local Temporal Encoder (paper §3.2, Eq. 1-4, Fig. 4 and S1): a bidirectional ConvGRU over
the L local feature maps around the mid-frame.

The past branch reads frames 0..τ, the future branch L−1..τ (τ = (L−1)/2); both start from
zero hidden maps and a convolution fuses their last hidden maps. For S < map size the maps
are first reduced by stride-2 convolutions and restored after the fusion by stride-2
deconvolutions (Fig. S1), so the ConvGRU runs on S×S hidden maps.

With HRNet-W48 (720-channel maps), C = 256 and S = 64 this gives 25.8 M parameters for
GTE + LTE + RRM and 194 GMACs per frame with the backbone, near Table S3's 25.0 M and
184.6 "GFLOPs"; scripts/bench_tar.py prints the comparison for every S.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn

from .config import TARConfig


class ConvGRUCell(nn.Module):
    """Eq. 1-4: x [B, Cin, h, w], h [B, C, h, w] -> [B, C, h, w].

    A convolution of the concatenation [x, h] equals W*x + U*h, so each gate is one conv.
    (Eq. 2 of the paper writes U_z in the reset gate; it is its own U_r here.)
    """

    def __init__(self, in_channels: int, hidden_channels: int, kernel_size: int):
        super().__init__()
        pad = kernel_size // 2
        self.gates = nn.Conv2d(in_channels + hidden_channels, 2 * hidden_channels, kernel_size, padding=pad)
        self.candidate = nn.Conv2d(in_channels + hidden_channels, hidden_channels, kernel_size, padding=pad)

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        z, r = torch.sigmoid(self.gates(torch.cat([x, h], dim=1))).chunk(2, dim=1)
        h_tilde = torch.tanh(self.candidate(torch.cat([x, r * h], dim=1)))
        return (1 - z) * h + z * h_tilde


class LocalTemporalEncoder(nn.Module):
    """local_seq [B, L, Dl, M, M] -> m [B, C, M, M] (C = lte_channels, M = map size).

    At S = M the ConvGRU reads the backbone's maps directly (Dl input, C hidden channels);
    for S < M the first stride-2 convolution also maps Dl to C channels.
    """

    def __init__(self, cfg: TARConfig, local_dim: int):
        super().__init__()
        c = cfg.lte_channels
        steps = int(math.log2(cfg.map_size // cfg.hidden_map_size))
        down: list[nn.Module] = []
        for i in range(steps):
            down += [nn.Conv2d(local_dim if i == 0 else c, c, 3, stride=2, padding=1), nn.ReLU(inplace=True)]
        self.down = nn.Sequential(*down)
        gru_input = c if steps else local_dim
        self.past = ConvGRUCell(gru_input, c, cfg.lte_kernel)
        self.future = ConvGRUCell(gru_input, c, cfg.lte_kernel)
        self.fuse = nn.Sequential(nn.Conv2d(2 * c, c, 3, padding=1), nn.ReLU(inplace=True))
        self.up = nn.Sequential(*[m for _ in range(steps)
                                  for m in (nn.ConvTranspose2d(c, c, 4, stride=2, padding=1), nn.ReLU(inplace=True))])
        self.out_channels = c
        # Ablation without temporal local features: the mid-frame's map alone, projected.
        self.static = None if cfg.temporal_local else nn.Sequential(nn.Conv2d(gru_input, c, 1), nn.ReLU(inplace=True))

    def encode_frames(self, local_maps: torch.Tensor) -> torch.Tensor:
        """The per-frame part: local_maps [N, Dl, M, M] -> [N, C, S, S] ([N, Dl, M, M] at S = M).

        It depends on one frame only, so video inference computes it once per frame.
        """
        return self.down(local_maps)

    def temporal(self, encoded_seq: torch.Tensor) -> torch.Tensor:
        """The bidirectional ConvGRU and fusion: encoded_seq [B, L, C, S, S] -> m [B, C, M, M]."""
        b, length, _, h, w = encoded_seq.shape
        tau = (length - 1) // 2
        if self.static is not None:
            return self.up(self.static(encoded_seq[:, tau]))
        h_past = encoded_seq.new_zeros(b, self.out_channels, h, w)
        for t in range(tau + 1):
            h_past = self.past(encoded_seq[:, t], h_past)
        h_future = encoded_seq.new_zeros(b, self.out_channels, h, w)
        for t in range(length - 1, tau - 1, -1):
            h_future = self.future(encoded_seq[:, t], h_future)
        return self.up(self.fuse(torch.cat([h_past, h_future], dim=1)))

    def forward(self, local_seq: torch.Tensor) -> torch.Tensor:
        encoded = self.encode_frames(local_seq.flatten(0, 1))
        return self.temporal(encoded.view(*local_seq.shape[:2], *encoded.shape[1:]))
