"""Smoothing over time for per-frame estimates with gaps (numpy only).

Frames are video frame numbers; a gap is time like any other, so a track seen on frames
10-20 and 30-40 is smoothed as such. Everything is zero-phase (offline: each frame sees
its past and its future), so motion is not delayed.
"""
from __future__ import annotations

import numpy as np


def robust_smooth(values: np.ndarray, frames: np.ndarray, sigma: float, prior: np.ndarray,
                  scale: np.ndarray | float, iterations: int = 4, slope_prior: float = 0.0) -> np.ndarray:
    """Local linear smoothing that shrugs off outliers: values [F,D] -> [F,D].

    Starts from a running median, then down-weights frames off the smooth curve by more
    than `scale` (distance over the last axis; scalar or [F]) with Cauchy weights.
    prior [F] > 0 are per-frame confidences. sigma in frames (0: values returned).
    """
    if sigma <= 0:
        return values.copy()
    smooth = np.stack([running_median(v, frames, sigma) for v in values.T], axis=-1)
    scale = np.broadcast_to(np.asarray(scale, np.float64), (len(values),))
    for _ in range(iterations):
        off = np.linalg.norm(values - smooth, axis=-1) / np.maximum(scale, 1e-12)
        smooth = local_linear(values, frames, sigma, prior / (1.0 + off**2), slope_prior)
    return smooth


def running_median(values: np.ndarray, frames: np.ndarray, radius: float) -> np.ndarray:
    """Median of values [F] over frames within +-radius (at least one neighbour each side)."""
    radius = max(float(radius), 1.0)
    return np.array([np.median(values[np.abs(frames - f) <= radius]) for f in frames])


def local_linear(values: np.ndarray, frames: np.ndarray, sigma: float, weights: np.ndarray,
                 slope_prior: float = 0.0) -> np.ndarray:
    """Local linear regression with Gaussian weights: values [F,D] sampled at frames [F].

    Each frame gets the value at its own time of a line fitted to the frames around it
    (Gaussian weights of `sigma` frames times `weights` [F] >= 0). A line rather than a
    weighted mean, so that steady motion (walking towards the camera) is neither lagged
    nor pulled in at the ends of a track. `slope_prior` (noise variance / slope variance,
    per frame squared) shrinks slopes that few frames support: a track of a handful of
    noisy frames would otherwise extrapolate its noise.
    """
    if sigma <= 0:
        return values.copy()
    radius = int(np.ceil(3 * sigma))
    out = np.empty_like(values)
    order = np.argsort(frames)
    f_sorted = frames[order]
    for i, f in enumerate(frames):
        lo, hi = np.searchsorted(f_sorted, [f - radius, f + radius + 1])
        idx = order[lo:hi]
        dt = frames[idx] - f
        k = np.exp(-0.5 * (dt / sigma) ** 2) * weights[idx]
        s0, s1, s2 = k.sum(), k @ dt, k @ (dt * dt) + slope_prior * k.max()
        m0, m1 = k @ values[idx], (k * dt) @ values[idx]
        out[i] = (s2 * m0 - s1 * m1) / max(s0 * s2 - s1 * s1, 1e-12)  # the line's value at dt = 0
    return out
