"""Rotation conversions in torch: the 6D representation the model regresses, and axis-angle.

The 6D representation (Zhou et al. 2019) is the first two columns of a rotation matrix,
read row by row: x = [R00, R01, R10, R11, R20, R21] (the layout SPIN/ReFit use).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def rot6d_to_matrix(x: torch.Tensor) -> torch.Tensor:
    """[..., 6] -> [..., 3, 3] by Gram-Schmidt on the two columns."""
    a = x.reshape(*x.shape[:-1], 3, 2)
    b1 = F.normalize(a[..., 0], dim=-1)
    a2 = a[..., 1]
    b2 = F.normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1, dim=-1)
    b3 = torch.cross(b1, b2, dim=-1)
    return torch.stack([b1, b2, b3], dim=-1)


def matrix_to_rot6d(matrix: torch.Tensor) -> torch.Tensor:
    """[..., 3, 3] -> [..., 6]."""
    return matrix[..., :, :2].reshape(*matrix.shape[:-2], 6)


def matrix_to_quaternion(matrix: torch.Tensor) -> torch.Tensor:
    """[..., 3, 3] -> [..., 4] (w, x, y, z), w >= 0.

    Of the four algebraically equal formulas, each row uses the one whose divisor is
    largest, so the result stays accurate near 180° rotations too.
    """
    m = matrix
    m00, m11, m22 = m[..., 0, 0], m[..., 1, 1], m[..., 2, 2]
    # 4·q_i² for i = w, x, y, z, clamped against rounding below zero.
    four_sq = torch.stack([1 + m00 + m11 + m22, 1 + m00 - m11 - m22,
                           1 - m00 + m11 - m22, 1 - m00 - m11 + m22], dim=-1).clamp(min=0)
    q_abs = torch.sqrt(four_sq)  # 2·|q_i|
    d21, d02, d10 = m[..., 2, 1] - m[..., 1, 2], m[..., 0, 2] - m[..., 2, 0], m[..., 1, 0] - m[..., 0, 1]
    s21, s02, s10 = m[..., 2, 1] + m[..., 1, 2], m[..., 0, 2] + m[..., 2, 0], m[..., 1, 0] + m[..., 0, 1]
    # Row i: 4·q_i·q for the formula that divides by q_i.
    candidates = torch.stack([
        torch.stack([four_sq[..., 0], d21, d02, d10], dim=-1),
        torch.stack([d21, four_sq[..., 1], s10, s02], dim=-1),
        torch.stack([d02, s10, four_sq[..., 2], s21], dim=-1),
        torch.stack([d10, s02, s21, four_sq[..., 3]], dim=-1),
    ], dim=-2)
    candidates = candidates / (2 * q_abs[..., None].clamp(min=0.1))
    best = q_abs.argmax(dim=-1)
    q = torch.gather(candidates, -2, best[..., None, None].expand(*best.shape, 1, 4)).squeeze(-2)
    q = F.normalize(q, dim=-1)
    return torch.where(q[..., :1] < 0, -q, q)


def quaternion_to_axis_angle(q: torch.Tensor) -> torch.Tensor:
    """[..., 4] (w, x, y, z) -> [..., 3]; angles in [0, π]."""
    q = torch.where(q[..., :1] < 0, -q, q)
    v = q[..., 1:]
    n = v.norm(dim=-1, keepdim=True)
    half = torch.atan2(n, q[..., :1])
    # angle/sin(half) -> 2/w·(…) as n -> 0; the series keeps the gradient finite there.
    small = n < 1e-6
    factor = torch.where(small, 2.0 / q[..., :1].clamp(min=1e-6), 2.0 * half / n.clamp(min=1e-12))
    return v * factor


def matrix_to_axis_angle(matrix: torch.Tensor) -> torch.Tensor:
    """[..., 3, 3] -> [..., 3]."""
    return quaternion_to_axis_angle(matrix_to_quaternion(matrix))
