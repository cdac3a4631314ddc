"""Root translation from 2D landmarks, and the camera geometry of person crops. numpy only.

Camera: pinhole, OpenCV frame (x right, y down, z forward), focal length f in pixels and
principal point c at the image centre; CLIFF's convention f = sqrt(W^2 + H^2) when the
real focal length is unknown. A point X projects to u = f X_xy / X_z + c.

The translation t of a posed skeleton with camera-frame joints X_k (root at the rest
pelvis, as `core.skeleton.forward_kinematics` gives them) is found from pixels u_k by
least squares on the linear form of the projection,
    f t_xy - (u_k - c) t_z = (u_k - c) X_z,k - f X_xy,k,
each row divided by the joint's depth so that the residuals are in pixels, reweighted
to shrug off wrong landmarks (Cauchy weights from a median start), and then smoothed
over time by robust local lines: the depth (the badly observed part) in log space over
a longer time than the image position.
"""
from __future__ import annotations

import numpy as np

from . import temporal
from .ik import minimal_rotation, unit


# Relative noise of a single frame's fitted depth (log depth), as seen on real footage.
DEPTH_NOISE = 0.03


def crop_camera_rotation(centers: np.ndarray, image_size: tuple[int, int], focal: float) -> np.ndarray:
    """Rotation from a crop's own camera frame to the real camera frame.

    A pose model sees a crop as if the camera looked straight at it; the crop's centre
    really lies along the ray (c_crop - c) / f off the optical axis (CLIFF). centers
    [..., 2] pixels -> [..., 3, 3] mapping crop-camera vectors into the camera frame.
    """
    centers = np.asarray(centers, np.float64)
    principal = np.asarray(image_size, np.float64) / 2
    ray = np.concatenate([centers - principal, np.full(centers.shape[:-1] + (1,), float(focal))], axis=-1)
    return minimal_rotation(np.array([0.0, 0.0, 1.0]), unit(ray))


def project(points: np.ndarray, focal: float, principal: np.ndarray) -> np.ndarray:
    """[..., 3] camera-frame points -> [..., 2] pixels."""
    z = np.maximum(points[..., 2:], 1e-6)
    return focal * points[..., :2] / z + principal


def fit_translation(joints: np.ndarray, pixels: np.ndarray, weights: np.ndarray, focal: float,
                    principal: np.ndarray, iterations: int = 8, robust_fraction: float = 0.05
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame translation placing posed joints onto their pixels.

    joints [F, K, 3] camera-frame joints without translation; pixels [F, K, 2];
    weights [F, K] >= 0 (landmark confidence; 0: ignored). Points off by more than
    `robust_fraction` of the person's pixel size count less and less (Cauchy weights),
    starting from medians, so a few wrong landmarks do not move the body.
    Returns (trans [F, 3], rms pixel residual of the weighted points [F]).
    """
    joints = np.asarray(joints, np.float64)
    uv = np.asarray(pixels, np.float64) - np.asarray(principal, np.float64)
    base_w = np.clip(np.asarray(weights, np.float64), 0.0, None)
    t, size_px = _initial_translation(joints, uv, base_w, focal)
    scale = robust_fraction * np.maximum(size_px, 1.0)
    w = base_w
    for _ in range(iterations):
        depth = np.maximum(joints[..., 2] + t[:, None, 2], 1e-3)  # [F, K]
        root_w = np.sqrt(w) / depth
        # Rows for x and y: [f, 0, -u_x] t = u_x X_z - f X_x, and likewise for y.
        a = np.zeros(joints.shape[:2] + (2, 3))
        a[..., 0, 0] = focal
        a[..., 1, 1] = focal
        a[..., :, 2] = -uv
        b = uv * joints[..., 2:] - focal * joints[..., :2]
        a = (a * root_w[..., None, None]).reshape(len(joints), -1, 3)
        b = (b * root_w[..., None]).reshape(len(joints), -1)
        ata = np.einsum("fki,fkj->fij", a, a) + 1e-9 * np.eye(3)
        atb = np.einsum("fki,fk->fi", a, b)
        solved = np.linalg.solve(ata, atb[..., None])[..., 0]
        # The linear form also admits the mirror image behind the camera; keep the last
        # good answer where a step goes there.
        behind = ~np.isfinite(solved).all(axis=-1) | (solved[:, 2] + joints[..., 2].min(axis=1) < 0.1)
        t = np.where(behind[:, None], t, solved)
        residual = np.linalg.norm(project(joints + t[:, None], focal, np.zeros(2)) - uv, axis=-1)
        w = base_w / (1.0 + (residual / scale[:, None]) ** 2)
    rms = np.sqrt(np.sum(base_w * residual**2, axis=1) / np.maximum(base_w.sum(axis=1), 1e-9))
    return t, rms


def _initial_translation(joints: np.ndarray, uv: np.ndarray, weights: np.ndarray,
                         focal: float) -> tuple[np.ndarray, np.ndarray]:
    """A robust first guess: depth from the median ratio of 3D to 2D distances between
    pairs of points, position from medians. -> (trans [F,3], pixel size [F])."""
    i, j = np.triu_indices(joints.shape[1], k=1)
    valid = (weights[:, i] > 0) & (weights[:, j] > 0)
    d3 = np.linalg.norm(joints[:, i, :2] - joints[:, j, :2], axis=-1)
    d2 = np.linalg.norm(uv[:, i] - uv[:, j], axis=-1)
    valid &= d2 > 1e-6
    ratio = np.where(valid, focal * d3 / np.where(valid, d2, 1.0), np.nan)
    depth = np.nanmedian(np.where(valid.any(axis=1)[:, None], ratio, 1.0), axis=1)
    size_px = np.max(np.where(valid, d2, 0.0), axis=1)
    seen = np.where(weights > 0, 1.0, np.nan)
    xy = np.nanmedian(np.where(weights.any(axis=1)[:, None, None],
                               (uv * depth[:, None, None] / focal - joints[..., :2]) * seen[..., None], 0.0), axis=1)
    z = depth - np.nanmedian(np.where(weights.any(axis=1)[:, None], joints[..., 2] * seen, 0.0), axis=1)
    return np.concatenate([xy, z[:, None]], axis=-1), size_px


def body_height(rest_joints: np.ndarray) -> float:
    """Standing height (m) of a rest skeleton [24,3]: ankles to head joint, plus the head
    above it and the heel below the ankle (SMPL's template: about 0.2 m together)."""
    rest = np.asarray(rest_joints, np.float64)
    return float(rest[15, 1] - min(rest[7, 1], rest[8, 1]) + 0.2)


def depth_confidence(depth: np.ndarray, rms: np.ndarray, box_heights: np.ndarray, height: float,
                     focal: float) -> np.ndarray:
    """Confidence [F] in each frame's fitted depth, for smoothing over time.

    Low where the skeleton fits its landmarks badly (rms pixel residual [F] large for the
    box height [F]), or where the depth [F] disagrees grossly (by tens of percent) with
    the depth at which a standing person of `height` fills the box: that check only
    separates wrong frames from the rest of a track, since a person who sits or bends
    disagrees with it on every frame alike.
    """
    box_heights = np.maximum(np.asarray(box_heights, np.float64), 1.0)
    fit = 1.0 / (1.0 + (np.asarray(rms, np.float64) / (0.05 * box_heights)) ** 2)
    box_depth = focal * height / box_heights
    ratio = np.log(np.maximum(np.asarray(depth, np.float64), 1e-3) / box_depth)
    return fit / (1.0 + (ratio / 0.3) ** 2)


def smooth_translation(trans: np.ndarray, pelvis_rest: np.ndarray, frames: np.ndarray, focal: float,
                       principal: np.ndarray, depth_sigma: float, image_sigma: float = 0.0,
                       weights: np.ndarray | None = None, depth_robust: float = 0.05,
                       image_robust: np.ndarray | float = 5.0, depth_speed: float | None = None,
                       iterations: int = 4) -> np.ndarray:
    """Smooth one track's translations over time, depth more than image position.

    The pelvis (rest pelvis + t) is split into its pixel position and its log depth, and
    each is smoothed by local linear regression with Gaussian weights (`depth_sigma`,
    `image_sigma` frames; 0: kept), starting from a running median and then
    down-weighting frames that are off the smooth curve by more than `depth_robust`
    (relative depth) or `image_robust` (pixels, scalar or [F]) with Cauchy weights, so
    that a few wrong frames do not drag their neighbours. `depth_speed` (relative change
    of depth per frame that is plausible, e.g. 0.02) keeps the depth of a short track
    from following the trend of its noise (DEPTH_NOISE per frame). The pelvis is rebuilt
    from both. Gaps in `frames` count as time.
    trans [F,3], pelvis_rest [3], frames [F], weights [F] (confidence per frame) -> [F,3].
    """
    trans = np.asarray(trans, np.float64)
    if len(trans) < 2:
        return trans.copy()
    pelvis_rest = np.asarray(pelvis_rest, np.float64)
    pelvis = trans + pelvis_rest
    depth = np.maximum(pelvis[:, 2], 1e-3)
    pixel = focal * pelvis[:, :2] / depth[:, None] + principal
    frames = np.asarray(frames, np.float64)
    prior = np.ones(len(trans)) if weights is None else np.clip(np.asarray(weights, np.float64), 1e-6, None)
    slope_prior = 0.0 if depth_speed is None else (DEPTH_NOISE / depth_speed) ** 2
    log_depth = temporal.robust_smooth(np.log(depth)[:, None], frames, depth_sigma, prior, depth_robust, iterations,
                                       slope_prior)[:, 0]
    pixel = temporal.robust_smooth(pixel, frames, image_sigma, prior, image_robust, iterations)
    depth = np.exp(log_depth)
    pelvis = np.concatenate([(pixel - principal) * depth[:, None] / focal, depth[:, None]], axis=-1)
    return pelvis - pelvis_rest
