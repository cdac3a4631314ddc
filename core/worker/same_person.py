"""Tracks that an estimator posed on one and the same person.

The detector sometimes gives a small group of people a second box that spans two of them;
the estimator, given that box's crop, poses the most visible person in it, who already has
a track of their own. Both tracks then carry one body at one place. What tells them apart
from two people walking side by side is where the estimate puts the body in the image,
not the boxes: the projected pelvis of the two tracks coincides frame after frame.
numpy only.
"""
from __future__ import annotations

import numpy as np

from ..common.motion import Motion

# Two rows show the same person when their projected pelvises are closer than this
# fraction of the taller box; a track whose rows do so on at least SAME_SHARE of its rows
# is the same person as the other track.
SAME_DISTANCE = 0.1
SAME_SHARE = 0.7


def pelvis_pixels(motion: Motion) -> np.ndarray:
    """The pelvis of each row projected with the motion's camera -> float64[N, 2] (u, v).

    SMPL turns the body about its pelvis, so the pelvis is rest_joints[:, 0] + trans.
    """
    p = motion.rest_joints[:, 0].astype(np.float64) + motion.trans
    w, h = motion.image_size
    z = np.maximum(p[:, 2], 1e-6)
    return np.stack([motion.focal_length * p[:, 0] / z + w / 2, motion.focal_length * p[:, 1] / z + h / 2], 1)


def repeated_tracks(order: list[int], frames_of, same_on, share: float) -> dict[int, int]:
    """{repeat: the track it repeats}, greedily over track ids in `order` (the one to keep
    first). A track repeats a kept one when `same_on(track, kept, mine, theirs)` -> bool[S],
    taken over the S frames both cover (`mine`, `theirs`: their indices into `frames_of`
    each track, int[F]), holds on at least `share` of the track's frames."""
    kept: list[int] = []
    repeats: dict[int, int] = {}
    for t in order:
        frames = frames_of(t)
        for k in kept:
            _, mine, theirs = np.intersect1d(frames, frames_of(k), return_indices=True)
            if len(mine) >= share * len(frames) and same_on(t, k, mine, theirs).sum() >= share * len(frames):
                repeats[t] = k
                break
        else:
            kept.append(t)
    return repeats


def same_person_tracks(motion: Motion, distance: float = SAME_DISTANCE,
                       share: float = SAME_SHARE) -> dict[int, int]:
    """{dropped track id: the track it repeats}. Tracks are taken longest first (ties: lower
    id); a track repeats a kept one when `share` of its rows lie within `distance` x box
    height of that track's pelvis on the same frame."""
    uv = pelvis_pixels(motion)
    height = motion.bboxes[:, 3] - motion.bboxes[:, 1]
    rows = {t: np.flatnonzero(motion.track_ids == t) for t in np.unique(motion.track_ids).tolist()}

    def same_on(t: int, k: int, mine: np.ndarray, theirs: np.ndarray) -> np.ndarray:
        a, b = rows[t][mine], rows[k][theirs]
        return np.linalg.norm(uv[a] - uv[b], axis=1) < distance * np.maximum(height[a], height[b])

    order = sorted(rows, key=lambda t: (-len(rows[t]), t))
    return repeated_tracks(order, lambda t: motion.frame_ids[rows[t]], same_on, share)


def without_repeats(motion: Motion) -> tuple[Motion, dict[int, int]]:
    """The motion without the tracks `same_person_tracks` finds, and those tracks."""
    repeats = same_person_tracks(motion)
    if not repeats:
        return motion, repeats
    return motion.select(~np.isin(motion.track_ids, list(repeats))), repeats
