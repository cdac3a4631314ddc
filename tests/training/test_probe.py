import numpy as np

from video_to_motion.core.common import rotations
from video_to_motion.core.training.probe import apply_ridge, fit_ridge, probe_rotations


def test_ridge_recovers_a_linear_map():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 6)) * rng.uniform(0.1, 50, 6) + rng.normal(size=6)
    w = rng.normal(size=(6, 3))
    y = x @ w + np.array([1.0, -2.0, 0.5])
    model = fit_ridge(x, y, lam=1e-6)
    x_new = rng.normal(size=(20, 6))
    np.testing.assert_allclose(apply_ridge(model, x_new), x_new @ w + [1.0, -2.0, 0.5], atol=1e-5)


def test_probe_reads_pose_that_the_features_encode_and_not_what_they_do_not():
    rng = np.random.default_rng(2)
    aa = rng.normal(scale=0.5, size=(600, 2, 3))
    rotmat = rotations.axis_angle_to_matrix(aa)
    # Joint 0 is written into the features; joint 1 is not.
    features = np.concatenate([aa[:, 0], rng.normal(size=(600, 4))], axis=1)
    pred = probe_rotations(features[:500], rotmat[:500], features[500:], lam=1.0)
    err = np.linalg.norm(pred - rotmat[500:], axis=(-2, -1)).mean(0)
    spread = np.linalg.norm(rotmat[500:] - rotmat[:500].mean(0), axis=(-2, -1)).mean(0)
    assert err[0] < 0.3 * spread[0]
    assert err[1] > 0.8 * spread[1]
