"""A linear probe: how much of the body pose a backbone's frozen features carry.

Ridge regression from one frame's global feature to its 24 rotation matrices, each
projected back to the nearest rotation. What the probe scores is roughly what any head
on those features can reach without seeing more data, so it tells a weak backbone
from an under-trained head.
"""
from __future__ import annotations

import numpy as np

from ..common.rotations import nearest_rotation


def fit_ridge(features: np.ndarray, targets: np.ndarray, lam: float) -> tuple[np.ndarray, ...]:
    """features [N, D], targets [N, K] -> (mean [D], std [D], weights [D, K], bias [K]).

    Features are standardised first, so one λ suits backbones of any scale."""
    x = np.asarray(features, np.float64)
    y = np.asarray(targets, np.float64)
    mean, std = x.mean(0), x.std(0) + 1e-6
    x = (x - mean) / std
    bias = y.mean(0)
    weights = np.linalg.solve(x.T @ x + lam * np.eye(x.shape[1]), x.T @ (y - bias))
    return mean, std, weights, bias


def apply_ridge(model: tuple[np.ndarray, ...], features: np.ndarray) -> np.ndarray:
    """The fitted map on features [N, D] -> [N, K]."""
    mean, std, weights, bias = model
    return ((np.asarray(features, np.float64) - mean) / std) @ weights + bias


def probe_rotations(train_features: np.ndarray, train_rotmat: np.ndarray, test_features: np.ndarray,
                    lam: float) -> np.ndarray:
    """Fit on train_features [N, D] -> train_rotmat [N, J, 3, 3]; predict test [M, J, 3, 3]."""
    n, joints = train_rotmat.shape[:2]
    model = fit_ridge(train_features, train_rotmat.reshape(n, joints * 9), lam)
    pred = apply_ridge(model, test_features).reshape(len(test_features), joints, 3, 3)
    return nearest_rotation(pred)
