"""Foot contacts: which foot is planted on the floor, frame by frame. numpy only.

A foot is planted when its sole is near the floor and it barely moves over the floor
(Z up, floor at Z = 0), or, where its 2D landmark is known, barely moves in the picture.
Estimated feet wobble, so a contact read from one frame's height and speed starts late
and ends early: found contacts grow (hysteresis) into the neighbouring frames while the
foot stays fairly low and slow, for a short time. The worker stores the result in the
motion file (`contacts`); the import locks planted feet in place (core.common.foot_lock).
"""
from __future__ import annotations

import numpy as np

# Per foot: the ankle and the toe-ball joint (SMPL), and their height above the sole of
# a flat foot on the default skeleton (metres; scaled with the body).
LEFT, RIGHT = (7, 10), (8, 11)
FOOT_JOINTS = (LEFT, RIGHT)
TOE_BALLS = (LEFT[1], RIGHT[1])  # the joints whose speed tells a planted foot
SOLE_OFFSETS = np.array([0.10, 0.045])
CONTACT_HEIGHT = 0.08   # m: the sole's height above the floor below which a foot may be planted
CONTACT_SPEED = 0.5     # m/s: smoothed horizontal speed below which it is (a stance foot ~0, a swing foot 2-4)
LOWER_MARGIN = 0.03     # m: a foot this much lower than the other one is the supporting foot
LOWER_FOOT_SPEED = 1.0  # m/s: the supporting foot's speed may read up to this (estimate noise)
SPEED_SMOOTH_SECONDS = 0.1  # estimated feet jitter: their speed is read from positions smoothed this much
MIN_RUN_SECONDS = 0.1   # shorter contacts are noise; shorter breaks in a contact are closed
# Hysteresis: a contact grows into neighbouring frames, up to GROW_SECONDS on each side,
# while the sole stays below KEEP_HEIGHT and the foot slower than KEEP_SPEED (as fast as a
# supporting foot may read). bench_world (4 degrees of drifting rotation noise): growing
# 0, 0.15 and 0.25 s found 74, 93 and 97 % of the true contact frames, with 35, 40 and
# 39 % of the found frames outside the strict truth (a foot barely moving, just off the
# floor), and the skate over true contacts fell from 30 to 11 and 3.6 cm/s.
GROW_SECONDS = 0.25
KEEP_HEIGHT = 2 * CONTACT_HEIGHT
KEEP_SPEED = LOWER_FOOT_SPEED
# A low foot whose 2D landmark stays still is planted whatever its 3D speed reads: a depth
# fit's noise moves the whole body along the line of sight, which the picture does not
# see (a seated or standing person far from a level camera reads 1-2 m/s), while a
# swinging foot crosses the picture or lifts in it.
IMAGE_STILL_SPEED = 0.25  # m/s across the line of sight


def sole_heights(joints: np.ndarray, scale: np.ndarray | float = 1.0) -> np.ndarray:
    """[F, 2] height of each foot's sole above Z = 0: the lower of its ankle and toe ball,
    less their height above the sole. joints [F, 24, 3] (world), scale [F] or a number."""
    scale = np.asarray(scale, np.float64).reshape(-1, 1) if np.ndim(scale) else float(scale)
    out = []
    for foot in FOOT_JOINTS:
        z = joints[:, list(foot), 2] - SOLE_OFFSETS[None] * (scale if np.ndim(scale) else scale)
        out.append(z.min(axis=1))
    return np.stack(out, axis=1)


def foot_speeds(joints: np.ndarray, frames: np.ndarray, fps: float) -> np.ndarray:
    """[F, 2] horizontal speed (m/s) of each foot's toe ball; frames [F] may have gaps
    (a difference spans them and is divided by their length)."""
    frames = np.asarray(frames, np.float64)
    if len(frames) < 2:
        return np.zeros((len(frames), 2))
    balls = _smoothed(joints[:, TOE_BALLS, :2], SPEED_SMOOTH_SECONDS * float(fps))
    t = frames / float(fps)
    return np.linalg.norm(np.gradient(balls, t, axis=0), axis=-1)


def image_speeds(pixels: np.ndarray, depths: np.ndarray, focal: float, frames: np.ndarray,
                 fps: float) -> np.ndarray:
    """[F, 2] speed (m/s) of each foot's toe ball across the line of sight, read from its 2D
    landmark: pixels [F, 2, 2] (NaN where not seen), depths [F, 2] (m along the optical
    axis), focal (px); frames [F] as in `foot_speeds`. NaN where a landmark is not seen or
    its foot is not in front of the camera."""
    frames = np.asarray(frames, np.float64)
    out = np.full((len(frames), 2), np.nan)
    if len(frames) < 2:
        return out
    t = frames / float(fps)
    for side in range(2):
        seen = np.isfinite(pixels[:, side]).all(axis=1)
        if seen.sum() < 2:
            continue
        # Unseen rows are filled between seen ones so that the smoothing does not spread NaN.
        filled = np.stack([np.interp(t, t[seen], pixels[seen, side, k]) for k in range(2)], axis=1)
        speed = np.linalg.norm(np.gradient(_smoothed(filled, SPEED_SMOOTH_SECONDS * float(fps)), t, axis=0), axis=1)
        depth = np.asarray(depths, np.float64)[:, side]
        ahead = seen & (depth > 0)                           # a foot behind the camera tells nothing
        out[ahead, side] = (speed * depth / float(focal))[ahead]
    return out


def _smoothed(x: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing along axis 0 (sigma in samples), edges by reflection."""
    if sigma <= 0.5 or len(x) < 3:
        return x
    half = min(int(3 * sigma), len(x) - 1)
    k = np.exp(-0.5 * (np.arange(-half, half + 1) / sigma) ** 2)
    k /= k.sum()
    pad = np.pad(x, [(half, half)] + [(0, 0)] * (x.ndim - 1), mode="reflect")
    return sum(w * pad[i:i + len(x)] for i, w in enumerate(k))


def _cleaned(mask: np.ndarray, n: int) -> np.ndarray:
    """Breaks of fewer than n frames closed, then runs of fewer than n frames removed."""
    out = mask.copy()
    for value, fill in ((False, True), (True, False)):
        edges = np.diff(np.concatenate([[0], (out == value).astype(np.int8), [0]]))
        for start, stop in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)):
            inner = start > 0 and stop < len(out) if value is False else True
            if stop - start < n and inner:
                out[start:stop] = fill
    return out


def detect(joints: np.ndarray, frames: np.ndarray, fps: float, scale: np.ndarray | float = 1.0,
           seen_speeds: np.ndarray | None = None) -> np.ndarray:
    """[F, 2] bool: left and right foot planted, from world joints [F, 24, 3] of one track,
    and where there are 2D landmarks, their `image_speeds` [F, 2] (NaN: not seen)."""
    if len(joints) == 0:
        return np.zeros((0, 2), bool)
    heights = sole_heights(joints, scale)
    speeds = foot_speeds(joints, frames, fps)
    low = heights < CONTACT_HEIGHT
    # The clearly lower foot bears the weight; its speed may read higher than a planted
    # foot's should, from the estimate's noise, but not as fast as a swinging foot.
    lower = heights <= heights[:, ::-1] - LOWER_MARGIN
    still = np.zeros_like(low)
    if seen_speeds is not None:
        with np.errstate(invalid="ignore"):
            still = np.asarray(seen_speeds) < IMAGE_STILL_SPEED
    found = low & ((speeds < CONTACT_SPEED) | (lower & (speeds < LOWER_FOOT_SPEED)) | still)
    n = max(2, int(round(MIN_RUN_SECONDS * float(fps))))
    found = np.stack([_cleaned(found[:, k], n) for k in range(2)], axis=1)
    keep = (heights < KEEP_HEIGHT) & ((speeds < KEEP_SPEED) | still)
    steps = int(round(GROW_SECONDS * float(fps)))
    return np.stack([_grown(found[:, k], keep[:, k], steps) for k in range(2)], axis=1)


def _grown(mask: np.ndarray, keep: np.ndarray, steps: int) -> np.ndarray:
    """[F] mask grown by up to `steps` frames on each side of its runs, through frames
    where `keep` [F] holds."""
    out = mask.copy()
    for _ in range(steps):
        grow = np.zeros_like(out)
        grow[1:] |= out[:-1]
        grow[:-1] |= out[1:]
        grow &= keep & ~out
        if not grow.any():
            break
        out |= grow
    return out
