"""Zero-phase smoothing over time with gaps (video_to_motion.core.estimators.blazepose.temporal)."""
from __future__ import annotations

import numpy as np

from video_to_motion.core.estimators.blazepose.temporal import local_linear, robust_smooth, running_median


def test_a_line_passes_unchanged_through_gaps_and_ends():
    frames = np.array([0, 1, 2, 3, 7, 8, 9, 20, 21, 22, 23], float)
    values = np.stack([3.0 - 0.5 * frames, 2.0 * frames], -1)
    np.testing.assert_allclose(local_linear(values, frames, 3.0, np.ones(len(frames))), values, atol=1e-9)


def test_noise_is_reduced_and_zero_sigma_keeps_values():
    rng = np.random.default_rng(0)
    frames = np.arange(200, dtype=float)
    truth = np.sin(frames / 30.0)[:, None]
    noisy = truth + rng.normal(scale=0.1, size=truth.shape)
    smooth = local_linear(noisy, frames, 4.0, np.ones(200))
    assert np.abs(smooth - truth).std() < 0.5 * np.abs(noisy - truth).std()
    np.testing.assert_array_equal(local_linear(noisy, frames, 0.0, np.ones(200)), noisy)


def test_outliers_do_not_drag_their_neighbours():
    frames = np.arange(60, dtype=float)
    values = (0.1 * frames)[:, None].copy()
    values[[10, 30, 31]] += 5.0
    smooth = robust_smooth(values, frames, 3.0, np.ones(60), scale=0.2)
    clean = np.setdiff1d(np.arange(60), [10, 30, 31])
    np.testing.assert_allclose(smooth[clean, 0], 0.1 * frames[clean], atol=0.02)
    np.testing.assert_allclose(running_median(values[:, 0], frames, 2.0)[:5], 0.1 * frames[:5], atol=0.11)
