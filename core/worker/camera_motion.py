"""The camera's own motion from the background: static or moving, its rotation per frame,
and the direction it travels where the scene shows parallax.

Frames are read small and grey. Corners of the background (people's boxes masked out)
are followed with pyramidal Lucas-Kanade flow (OpenCV), forwards and back, from a
keyframe on: each frame's rotation relative to its keyframe is the rotation that best
maps the keyframe's bearings onto the frame's (Wahba's problem, solved by SVD) on the
inliers of a robust homography, H = K R K^-1 for a pure rotation. Measuring against a
keyframe, not the previous frame, keeps the error from growing frame by frame; a new
keyframe starts when too few corners survive. Where the view comes back (a pan out and
back), a new keyframe is tied to an earlier one that sees it and the chain's drift is
spread along the frames between (`closed_loops`). Where the corners still disagree with
the rotation (parallax: the camera travels), the essential matrix gives the rotation and
the direction of travel (cv2.recoverPose); its length is not measured (no metric scale
from the background alone), and `translation` says so.

`estimate_path` reads the video; `track_frames` works on frames in memory (tests and the
benchmark). `to_reference` / `to_cameras` move a motion's rows between their own camera
frames and the reference camera (the first frame's) in which the world stage, made for
a static camera, runs unchanged.
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
from typing import Iterable, Iterator

import cv2
import numpy as np

from ..common import camera_path
from ..common.motion import Motion
from ..common.options import WorkerOptions

WORK_WIDTH = 480               # frames are tracked at this width (px)
MAX_CORNERS = 300
CORNER_QUALITY = 0.005
CORNER_SPACING = 10            # px at the working width
LK_WINDOW = (21, 21)
LK_LEVELS = 4                  # pyramid levels: 4 follow ~100 px of motion per frame at the working width
FORWARD_BACK_PX = 1.0          # a corner tracked forwards and back must return this close
BOX_MARGIN = 0.1               # people's boxes grown by this share of their size before masking
MIN_CORNERS = 12               # below this a frame's rotation is not measured (a cut, a blur)
CUT_HISTOGRAM = 0.7            # grey histograms of consecutive frames correlated less: a cut
CUT_SHARE = 0.3                # fewer corners than this share followed from one frame to the next: a cut
KEYFRAME_SURVIVORS = 0.5       # a new keyframe when fewer of the keyframe's corners are left
RANSAC_PX = 2.0                # inlier distance for the homography, px at the working width
PARALLAX_PX = 1.0              # homography residual above this (px, working width) for a quarter of the
PARALLAX_QUANTILE = 0.75       # corners (one plane, e.g. the floor, may fit): the camera travels
PARALLAX_INLIERS = 0.5         # and the essential matrix explains this share of the corners
FOCAL_MIN_TURN_DEG = 3.0       # pairs turned at least this much tell the focal length
FOCAL_PAIRS = 24
FOCAL_RANGE = 3.0              # the focal length is looked for within guess / 3 .. guess x 3
RESOLVE_FOCAL = 0.03           # the people's focal length this far (log) from the path's: solve again
MOVING_DEG_PER_S = 1.0         # rotation speed above this (over a half-second): the camera moves
MOVING_SPAN_DEG = 0.5          # or its orientation spans more than this over a segment
MIN_SEGMENT_SECONDS = 0.5
LOOP_MAX_DEG = 20.0            # an earlier keyframe turned less than this from a new one may see the same view
LOOP_MIN_KEYFRAMES = 2         # ... and at least this many keyframes back (the previous one is the chain's link)
LOOP_TRIES = 3                 # earlier keyframes tried per new keyframe, the earliest first
PREFETCH_FRAMES = 8            # frames decoded ahead of the corner following


@dataclasses.dataclass
class CameraPath:
    """The camera over the frames of a clip.

    frames [T] video frame ids; rotations [T, 3, 3] reference camera -> camera of that
    frame (the reference is the first frame's camera: rotations[0] = I); directions
    [T, 3] the camera's travel from its keyframe in the reference frame (unit vectors;
    NaN where no parallax was seen); measured [T] False where the frame's rotation was
    held from the previous one (too few corners); segments [(first frame, last frame,
    moving)]; focal the focal length (px) the bearings were made with.
    """

    frames: np.ndarray
    rotations: np.ndarray
    directions: np.ndarray
    measured: np.ndarray
    segments: list[tuple[int, int, bool]]
    focal: float
    fps: float
    seconds: float = 0.0
    focal_from_turns: bool = False   # the focal length was found from the camera's turns
    cuts: list = dataclasses.field(default_factory=list)            # video frames where a new shot starts
    corners: "Corners | None" = dataclasses.field(default=None, repr=False)   # to solve again with another focal

    @property
    def moving(self) -> bool:
        return any(m for _, _, m in self.segments)

    @property
    def translation(self) -> str:
        """'none' (rotation only) or 'direction' (travel seen, its length unknown)."""
        return "direction" if np.isfinite(self.directions).all(axis=1).any() else "none"

    def angles_deg(self) -> np.ndarray:
        """[T] each frame's rotation from the reference camera (degrees)."""
        cos = (np.trace(self.rotations, axis1=1, axis2=2) - 1) / 2
        return np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))

    def summary(self) -> dict:
        return {"moving": self.moving, "translation": self.translation,
                "segments": [[a, b, "moving" if m else "static"] for a, b, m in self.segments],
                "max_rotation_deg": round(float(self.angles_deg().max()), 2) if len(self.frames) else 0.0,
                "unmeasured_frames": int((~self.measured).sum()), "focal_px": round(self.focal, 1),
                "focal_from_turns": self.focal_from_turns, "cuts": list(self.cuts), "seconds": round(self.seconds, 3)}

    def rotation_of(self, frame_ids: np.ndarray) -> np.ndarray:
        """[N, 3, 3] the rotation of each frame (the nearest earlier measured frame's)."""
        at = np.clip(np.searchsorted(self.frames, frame_ids, side="right") - 1, 0, len(self.frames) - 1)
        return self.rotations[at]


def bearings(points: np.ndarray, focal: float, principal: np.ndarray) -> np.ndarray:
    """[M, 3] unit rays of pixels [M, 2] (OpenCV camera frame)."""
    rays = np.concatenate([(points - principal) / focal, np.ones((len(points), 1))], axis=1)
    return rays / np.linalg.norm(rays, axis=1, keepdims=True)


def wahba(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The rotation R [3, 3] with b ~ R a for unit vectors a, b [M, 3] (least squares, SVD)."""
    u, _, vt = np.linalg.svd(b.T @ a)
    d = np.sign(np.linalg.det(u @ vt)) or 1.0
    return u @ np.diag([1.0, 1.0, d]) @ vt


def relative_pose(key: np.ndarray, cur: np.ndarray, focal: float, principal: np.ndarray):
    """The camera's motion from a keyframe to a frame, from matched background pixels [M, 2]
    of both (working size).

    Returns (R [3, 3] keyframe camera -> frame camera, travel [3] unit direction in the
    keyframe's camera frame or None), or None when the camera travels but the essential
    matrix cannot tell how it turned. The rotation best maps the keyframe's bearings onto
    the frame's (Wahba); where corners still disagree with it by more than PARALLAX_PX
    (a quarter of them: one plane may agree) the camera travels, and the essential matrix
    gives rotation and direction when it explains most corners.
    """
    a, b = bearings(key, focal, principal), bearings(cur, focal, principal)
    rot = wahba(a, b)
    pred = a @ rot.T
    residual = np.linalg.norm(pred[:, :2] / pred[:, 2:] - b[:, :2] / b[:, 2:], axis=1) * focal
    if np.quantile(residual, PARALLAX_QUANTILE) <= PARALLAX_PX or len(key) < 2 * MIN_CORNERS:
        return rot, None
    k = np.array([[focal, 0, principal[0]], [0, focal, principal[1]], [0, 0, 1.0]])
    e, emask = cv2.findEssentialMat(key, cur, k, cv2.RANSAC, 0.999, RANSAC_PX)
    if e is None or e.shape != (3, 3):
        return None                     # the turn alone is biased by the travel: not measured
    n, r_e, t_e, _ = cv2.recoverPose(e, key, cur, k, mask=emask.copy())
    if n < PARALLAX_INLIERS * len(key):
        return None
    travel = (-r_e.T @ t_e).ravel()     # the frame's camera centre in the keyframe's frame
    return r_e, travel / max(np.linalg.norm(travel), 1e-12)


def _mask(shape: tuple[int, int], boxes: np.ndarray, scale: float) -> np.ndarray:
    """255 on the background, 0 on people's boxes (grown by BOX_MARGIN), at the working size."""
    mask = np.full(shape, 255, np.uint8)
    for x1, y1, x2, y2 in np.asarray(boxes, np.float64).reshape(-1, 4) * scale:
        mx, my = BOX_MARGIN * (x2 - x1), BOX_MARGIN * (y2 - y1)
        cv2.rectangle(mask, (int(x1 - mx), int(y1 - my)), (int(math.ceil(x2 + mx)), int(math.ceil(y2 + my))), 0, -1)
    return mask


def _inside(points: np.ndarray, boxes: np.ndarray, scale: float) -> np.ndarray:
    """[M] True for points (working size) inside any grown box."""
    out = np.zeros(len(points), bool)
    for x1, y1, x2, y2 in np.asarray(boxes, np.float64).reshape(-1, 4) * scale:
        mx, my = BOX_MARGIN * (x2 - x1), BOX_MARGIN * (y2 - y1)
        out |= (points[:, 0] > x1 - mx) & (points[:, 0] < x2 + mx) & (points[:, 1] > y1 - my) & (points[:, 1] < y2 + my)
    return out


@dataclasses.dataclass
class Corners:
    """Background corners followed from keyframes, per frame (working-size pixels).

    frames [T] video frame ids; key [T] the position (in frames) of each frame's keyframe;
    pairs [T] (keyframe pixels [M, 2], frame pixels [M, 2]) or None where too few corners
    were followed; principal [2] the image centre; scale working size / frame size; cuts
    the frames where a new shot starts (the rotation is held across: shots are not related);
    keyframes: position -> (working-size grey image, its corners [M, 2], people's boxes
    [K, 4] in frame pixels), to tie a keyframe to an earlier one that sees the same view.
    """

    frames: np.ndarray
    key: np.ndarray
    pairs: list
    principal: np.ndarray
    scale: float
    seconds: float
    cuts: list = dataclasses.field(default_factory=list)   # video frames where a new shot starts
    keyframes: dict = dataclasses.field(default_factory=dict, repr=False)


def follow_corners(frames: Iterable[tuple[int, np.ndarray]], boxes: dict[int, np.ndarray] | None = None) -> Corners:
    """Corners of the background followed through frames (video frame id, BGR or grey
    image [H, W(, 3)]); boxes: video frame id -> people's boxes [K, 4] (x1, y1, x2, y2
    pixels), masked out. Corners a robust homography rejects (moving things, mismatches)
    are dropped; a new keyframe starts when fewer than KEYFRAME_SURVIVORS are left."""
    import time

    started = time.perf_counter()
    boxes = boxes or {}
    ids, keys, pairs, cuts, keyframes = [], [], [], [], {}
    prev = prev_hist = key_pts = cur = None
    key_at, key_count = 0, 0
    scale = principal = None
    for frame_id, image in frames:
        if scale is None:
            h, w = image.shape[:2]
            scale = min(1.0, WORK_WIDTH / w)
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            principal = np.array([w / 2.0, h / 2.0]) * scale
        grey = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        if scale < 1.0:
            grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
        people = boxes.get(int(frame_id), np.zeros((0, 4)))
        pair = None
        hist = cv2.calcHist([grey], [0], None, [32], [0, 256])
        cv2.normalize(hist, hist)
        if prev is not None and cv2.compareHist(prev_hist, hist, cv2.HISTCMP_CORREL) < CUT_HISTOGRAM:
            cur = cur[:0]                                   # another shot: nothing to follow
            cuts.append(int(frame_id))
        if prev is not None and len(cur):
            nxt, st, _ = cv2.calcOpticalFlowPyrLK(prev, grey, cur, None, winSize=LK_WINDOW, maxLevel=LK_LEVELS)
            back, st2, _ = cv2.calcOpticalFlowPyrLK(grey, prev, nxt, None, winSize=LK_WINDOW, maxLevel=LK_LEVELS)
            good = (st.ravel() == 1) & (st2.ravel() == 1) & \
                (np.linalg.norm((back - cur).reshape(-1, 2), axis=1) < FORWARD_BACK_PX)
            good &= ~_inside(nxt.reshape(-1, 2), people, scale)
            cut = good.sum() < CUT_SHARE * len(cur)      # most corners lost at once: a new shot
            key_pts, cur = key_pts[good], nxt[good]
            if cut:
                cur = cur[:0]
                cuts.append(int(frame_id))
            if len(cur) >= MIN_CORNERS:
                _, mask = cv2.findHomography(key_pts, cur, cv2.RANSAC, RANSAC_PX)
                if mask is not None and mask.sum() >= MIN_CORNERS:
                    keep = mask.ravel().astype(bool)
                    key_pts, cur = key_pts[keep], cur[keep]
                pair = (key_pts.reshape(-1, 2).copy(), cur.reshape(-1, 2).copy())   # float32: long clips
        ids.append(int(frame_id))
        keys.append(key_at)
        pairs.append(pair)
        if prev is None or len(cur) < max(MIN_CORNERS, KEYFRAME_SURVIVORS * key_count):
            found = cv2.goodFeaturesToTrack(grey, MAX_CORNERS, CORNER_QUALITY, CORNER_SPACING,
                                            mask=_mask(grey.shape, people, scale))
            key_pts = found.astype(np.float32) if found is not None else np.zeros((0, 1, 2), np.float32)
            cur, key_at, key_count = key_pts.copy(), len(ids) - 1, len(key_pts)
            keyframes[key_at] = (grey, key_pts.reshape(-1, 2).copy(), people)
        prev, prev_hist = grey, hist
    return Corners(frames=np.asarray(ids, np.int64), key=np.asarray(keys, np.int64), pairs=pairs, cuts=cuts,
                   keyframes=keyframes,
                   principal=principal if principal is not None else np.zeros(2), scale=scale or 1.0,
                   seconds=time.perf_counter() - started)


def solve_path(corners: Corners, focal: float, fps: float, loops: bool = True) -> CameraPath:
    """The camera path from followed corners, with the focal length (pixels of the frames);
    loops: keyframes that see an earlier keyframe's view again are tied to it (`closed_loops`)."""
    f_work = focal * corners.scale
    n = len(corners.frames)
    rots = np.tile(np.eye(3), (n, 1, 1))
    dirs = np.full((n, 3), np.nan)
    measured = np.zeros(n, bool)
    if n:
        measured[0] = True
    for i in range(1, n):
        key_rot = rots[corners.key[i]]
        pair = corners.pairs[i]
        if pair is None:
            rots[i] = rots[i - 1]      # held: a new keyframe starts here
            continue
        pose = relative_pose(pair[0], pair[1], f_work, corners.principal)
        if pose is None:
            rots[i] = rots[i - 1]
            continue
        rots[i], measured[i] = pose[0] @ key_rot, True
        if pose[1] is not None:
            dirs[i] = key_rot.T @ pose[1]
    rots = _bridged(rots, measured)
    if loops:
        rots = closed_loops(corners, rots, f_work)
    segments = moving_segments(corners.frames, rots, dirs, fps)
    return CameraPath(frames=corners.frames, rotations=rots, directions=dirs, measured=measured, segments=segments,
                      focal=float(focal), fps=float(fps), seconds=corners.seconds, cuts=list(corners.cuts))


def tie(earlier: tuple, later: tuple, predicted: np.ndarray, focal: float, principal: np.ndarray,
        scale: float) -> np.ndarray | None:
    """The rotation [3, 3] from an earlier keyframe's camera to a later one's, measured by
    following the earlier one's corners into the later image from where `predicted` (the
    chained rotation) puts them; None when too few of them are found there (another view)
    or they show parallax (the camera travelled between the two).
    Keyframes are (working-size grey, corners [M, 2], people's boxes) as in Corners."""
    (image_a, points, _), (image_b, _, people) = earlier, later
    if len(points) < 2 * MIN_CORNERS:
        return None
    seen = bearings(points.astype(np.float64), focal, principal) @ predicted.T
    ahead = seen[:, 2] > 0.1
    guess = focal * seen[:, :2] / np.where(ahead, seen[:, 2], 1.0)[:, None] + principal
    h, w = image_b.shape[:2]
    inside = ahead & (guess[:, 0] >= 0) & (guess[:, 0] < w) & (guess[:, 1] >= 0) & (guess[:, 1] < h)
    if inside.sum() < 2 * MIN_CORNERS:
        return None
    a = points[inside].reshape(-1, 1, 2).astype(np.float32)
    b0 = guess[inside].reshape(-1, 1, 2).astype(np.float32)
    b, st, _ = cv2.calcOpticalFlowPyrLK(image_a, image_b, a, b0.copy(), winSize=LK_WINDOW, maxLevel=LK_LEVELS,
                                        flags=cv2.OPTFLOW_USE_INITIAL_FLOW)
    back, st2, _ = cv2.calcOpticalFlowPyrLK(image_b, image_a, b, None, winSize=LK_WINDOW, maxLevel=LK_LEVELS)
    good = (st.ravel() == 1) & (st2.ravel() == 1) & \
        (np.linalg.norm((back - a).reshape(-1, 2), axis=1) < FORWARD_BACK_PX)
    good &= ~_inside(b.reshape(-1, 2), people, scale)
    if good.sum() < 2 * MIN_CORNERS:
        return None
    a, b = a[good], b[good]
    _, mask = cv2.findHomography(a, b, cv2.RANSAC, RANSAC_PX)
    if mask is None or mask.sum() < max(2 * MIN_CORNERS, KEYFRAME_SURVIVORS * len(a)):
        return None
    keep = mask.ravel().astype(bool)
    pose = relative_pose(a[keep].reshape(-1, 2), b[keep].reshape(-1, 2), focal, principal)
    # Across the wide baseline of a travelling camera the turn is less sure than the chain's.
    return None if pose is None or pose[1] is not None else pose[0]


def closed_loops(corners: Corners, rots: np.ndarray, focal: float) -> np.ndarray:
    """Rotations [T, 3, 3] with the drift taken out where the view comes back: each keyframe
    is tied (`tie`) to the earliest of up to LOOP_TRIES earlier keyframes of its shot that
    the chain says turned less than LOOP_MAX_DEG from it; the tie's disagreement with the
    chain, E (a turn in the reference frame), is spread along the frames between the two
    (E^t, t from 0 to 1) and taken in full after. focal: pixels of the working size."""
    from ..common import rotations as rot_maths

    order = sorted(corners.keyframes)
    if len(order) <= LOOP_MIN_KEYFRAMES:
        return rots
    shot = np.searchsorted(np.asarray(corners.cuts, np.int64), corners.frames, side="right")
    out = rots.copy()
    keys = np.asarray(order)
    for n, later in enumerate(order):
        earlier = keys[:max(0, n - LOOP_MIN_KEYFRAMES + 1)]
        # The chain's turn between each earlier keyframe and this one: cos = (trace(A B^T) - 1) / 2.
        cos = (np.einsum("kij,ij->k", out[earlier], out[later]) - 1) / 2
        near = earlier[(shot[earlier] == shot[later]) & (cos > math.cos(math.radians(LOOP_MAX_DEG)))]
        for p in near[:LOOP_TRIES].tolist():
            predicted = out[later] @ out[p].T
            measured = tie(corners.keyframes[p], corners.keyframes[later], predicted, focal,
                           corners.principal, corners.scale)
            if measured is not None:
                error = rot_maths.matrix_to_axis_angle(out[later].T @ measured @ out[p])
                t = np.clip((np.arange(len(out)) - p) / (later - p), 0.0, 1.0)
                out = out @ rot_maths.axis_angle_to_matrix(t[:, None] * error[None])
                break
    return out


def focal_from_turns(corners: Corners, guess: float) -> float | None:
    """The focal length (pixels of the frames) at which the followed corners fit a turning
    camera best, or None when the camera turns too little to tell (under FOCAL_MIN_TURN_DEG
    from its keyframes). A turn maps the background by K R K^-1 only with the right K."""
    from scipy.optimize import minimize_scalar

    usable = []
    for pair in corners.pairs:
        if pair is None or len(pair[0]) < 2 * MIN_CORNERS:
            continue
        shift = np.median(np.linalg.norm(pair[1] - pair[0], axis=1)) / (guess * corners.scale)
        if math.degrees(shift) >= FOCAL_MIN_TURN_DEG:
            usable.append(pair)
    if not usable:
        return None
    usable = usable[:: max(1, len(usable) // FOCAL_PAIRS)][:FOCAL_PAIRS]

    def cost(log_f: float) -> float:
        f = math.exp(log_f) * corners.scale
        total = 0.0
        for key, cur in usable:
            a, b = bearings(key, f, corners.principal), bearings(cur, f, corners.principal)
            pred = a @ wahba(a, b).T
            total += float(np.median(np.linalg.norm(pred[:, :2] / pred[:, 2:] - b[:, :2] / b[:, 2:], axis=1)) * f)
        return total / len(usable)

    lo, hi = math.log(guess / FOCAL_RANGE), math.log(guess * FOCAL_RANGE)
    best = minimize_scalar(cost, bounds=(lo, hi), method="bounded", options={"xatol": 1e-3})
    if not best.success or min(best.x - lo, hi - best.x) < 0.02 or best.fun > PARALLAX_PX:
        return None        # at the edge of the range, or no focal length makes it a pure turn
    return float(math.exp(best.x))


def _bridged(rots: np.ndarray, measured: np.ndarray) -> np.ndarray:
    """Rotations [T, 3, 3] of unmeasured frames slerped between the measured ones around
    them (held after the last). A frame's rotation is relative to its keyframe, whose own
    rotation may be such a bridged one: the error then carries on, as it would when held."""
    from ..common import rotations as rot_maths

    good = np.flatnonzero(measured)
    gaps = np.flatnonzero(~measured)
    if not len(good) or not len(gaps):
        return rots
    q = rot_maths.matrix_to_quaternion(rots)
    after = np.searchsorted(good, gaps)
    inside = (after > 0) & (after < len(good))
    a, b = good[np.maximum(after - 1, 0)], good[np.minimum(after, len(good) - 1)]
    t = np.where(inside, (gaps - a) / np.maximum(b - a, 1), 0.0)
    out = rots.copy()
    out[gaps] = rot_maths.quaternion_to_matrix(rot_maths.slerp(q[a], q[b], t))
    return out


def track_frames(frames: Iterable[tuple[int, np.ndarray]], focal: float, fps: float,
                 boxes: dict[int, np.ndarray] | None = None) -> CameraPath:
    """The camera path of frames (see follow_corners) with the focal length in pixels."""
    return solve_path(follow_corners(frames, boxes), focal, fps)


def moving_segments(frames: np.ndarray, rotations: np.ndarray, directions: np.ndarray,
                    fps: float) -> list[tuple[int, int, bool]]:
    """[(first frame, last frame, moving)]: the camera turns faster than MOVING_DEG_PER_S
    (over half a second) or travels; runs shorter than MIN_SEGMENT_SECONDS join their
    neighbours; a static segment whose orientation spans more than MOVING_SPAN_DEG moves."""
    n = len(frames)
    if n == 0:
        return []
    # Turning speed per frame (deg/s), then its running median over half a second: a jittery
    # frame does not count, and a segment starts where the turning does.
    step = np.zeros(n)
    if n > 1:
        rel = rotations[1:] @ np.swapaxes(rotations[:-1], 1, 2)
        cos = np.clip((np.trace(rel, axis1=1, axis2=2) - 1) / 2, -1.0, 1.0)
        step[1:] = np.degrees(np.arccos(cos)) * fps / np.maximum(np.diff(frames), 1)
        step[0] = step[1]
    half = max(1, int(round(0.25 * fps)))
    speed = np.array([np.median(step[max(0, i - half):i + half + 1]) for i in range(n)])
    moving = (speed > MOVING_DEG_PER_S) | np.isfinite(directions).all(axis=1)
    runs = _runs(moving)
    shortest = MIN_SEGMENT_SECONDS * fps
    while len(runs) > 1:
        lengths = [b - a + 1 for a, b, _ in runs]
        i = int(np.argmin(lengths))
        if lengths[i] >= shortest:
            break
        moving[runs[i][0]:runs[i][1] + 1] = not runs[i][2]
        runs = _runs(moving)
    out = []
    for a, b, m in runs:
        if not m:
            r = rotations[a:b + 1] @ rotations[a].T
            span = np.degrees(np.arccos(np.clip((np.trace(r, axis1=1, axis2=2) - 1) / 2, -1, 1))).max()
            m = bool(span > MOVING_SPAN_DEG)
        if out and out[-1][2] == m:
            out[-1] = (out[-1][0], int(frames[b]), m)
        else:
            out.append((int(frames[a]), int(frames[b]), bool(m)))
    return out


def _runs(flags: np.ndarray) -> list[tuple[int, int, bool]]:
    edges = np.flatnonzero(np.diff(flags.astype(np.int8))) + 1
    starts = np.concatenate([[0], edges])
    stops = np.concatenate([edges - 1, [len(flags) - 1]])
    return [(int(a), int(b), bool(flags[a])) for a, b in zip(starts, stops)]


def boxes_by_frame(motion: Motion) -> dict[int, np.ndarray]:
    """Video frame id -> the boxes [K, 4] of the motion's rows on that frame."""
    out: dict[int, list] = {}
    for f, box in zip(motion.frame_ids.tolist(), motion.bboxes):
        out.setdefault(int(f), []).append(box)
    return {f: np.asarray(b, np.float64) for f, b in out.items()}


def estimate_path(video, start: int, stop: int | None, motion: Motion, focal: float | None, progress=None) -> CameraPath:
    """The camera path of a video's frames start <= i < stop, people (the motion's boxes)
    masked. focal: the known focal length (pixels), or None to find it from the camera's
    turns when it turns enough (else the motion's focal length is used)."""
    from .prefetch import prefetched
    from .video import iter_frames

    total = None if stop is None else stop - start

    def frames() -> Iterator[tuple[int, np.ndarray]]:
        # Decoded and made grey on a thread ahead of the corner following (OpenCV releases the GIL).
        grey = ((index, cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)) for index, image in iter_frames(video, start, stop))
        with contextlib.closing(prefetched(grey, PREFETCH_FRAMES)) as ahead:
            for i, (index, image) in enumerate(ahead):
                if progress is not None:
                    progress("camera", i, total)
                yield index, image

    corners = follow_corners(frames(), boxes_by_frame(motion))
    found = None if focal else focal_from_turns(corners, float(motion.focal_length))
    path = solve_path(corners, float(focal or found or motion.focal_length), float(motion.fps))
    path.focal_from_turns, path.corners = found is not None, corners
    return path


# --- rows between their own camera frames and the reference camera ----------------------

LANDMARKS, CAMERA_LANDMARKS = "landmarks_2d", "landmarks_2d_camera"


def refocused(motion: Motion, focal: float) -> Motion:
    """Rows read with another focal length: each pelvis stays on its pixel, at the depth at
    which the skeleton keeps its size in the picture (depth x focal / old focal).

    A root fit made with a wrong focal length puts people on wrong rays and at wrong depths;
    turning rows between cameras is exact only with the true ones.
    """
    f_old = float(motion.focal_length)
    if abs(f_old / focal - 1.0) < 1e-9:
        return motion
    rest0 = motion.rest_joints[:, 0].astype(np.float64)
    pelvis = rest0 + motion.trans.astype(np.float64)
    pelvis[:, 2] *= focal / f_old
    return dataclasses.replace(motion, trans=(pelvis - rest0).astype(np.float32), focal_length=float(focal))


def to_reference(motion: Motion, path: CameraPath) -> Motion:
    """Rows (each in its frame's camera) in the reference camera's frame, read with the
    path's focal length (`refocused`), and their 2D landmarks where the reference camera
    would see them (H = K R^T K^-1); the frames' own landmarks are kept aside for `to_cameras`."""
    motion = refocused(motion, path.focal)
    rot = path.rotation_of(motion.frame_ids)
    moved = camera_path.moved_rows(motion, np.swapaxes(rot, 1, 2), np.zeros((motion.num_rows, 3)))
    lm = motion.extras.get(LANDMARKS)
    if lm is None or np.shape(lm)[:1] != (motion.num_rows,):
        return moved
    principal = np.asarray(motion.image_size, np.float64) / 2
    rays = bearings(np.asarray(lm, np.float64).reshape(-1, 2), path.focal, principal).reshape(len(lm), -1, 3)
    ref = np.einsum("nij,nkj->nki", np.swapaxes(rot, 1, 2), rays)      # R^T: frame camera -> reference
    ahead = ref[..., 2] > 1e-3
    pixels = path.focal * ref[..., :2] / np.where(ahead, ref[..., 2], 1.0)[..., None] + principal
    extras = dict(moved.extras)
    extras[CAMERA_LANDMARKS] = np.asarray(lm)
    extras[LANDMARKS] = np.where(ahead[..., None], pixels, 0.0).astype(np.asarray(lm).dtype)
    vis = motion.extras.get("landmark_visibility")
    if vis is not None and np.shape(vis)[:2] == ahead.shape:
        extras["landmark_visibility"] = np.where(ahead, vis, 0.0).astype(np.asarray(vis).dtype)
        extras["landmark_visibility_camera"] = np.asarray(vis)
    return dataclasses.replace(moved, extras=extras)


def to_cameras(motion: Motion, path: CameraPath) -> Motion:
    """A world-stage motion (rows in the reference camera, one static `camera_to_world`)
    back to the rows' own camera frames, with a camera row per frame of the path:
    camera_to_world(frame) = camera_to_world(reference) @ [R(frame)^T | 0]."""
    rot = path.rotation_of(motion.frame_ids)
    moved = camera_path.moved_rows(motion, rot, np.zeros((motion.num_rows, 3)))
    extras = dict(moved.extras)
    for own, name in ((CAMERA_LANDMARKS, LANDMARKS), ("landmark_visibility_camera", "landmark_visibility")):
        if own in extras:
            extras[name] = extras.pop(own)
    if not motion.has_world:
        return dataclasses.replace(moved, extras=extras)
    reference = np.asarray(motion.camera_to_world[0], np.float64)
    turn = np.tile(np.eye(4), (len(path.frames), 1, 1))
    turn[:, :3, :3] = np.swapaxes(path.rotations, 1, 2)
    intrinsics = np.tile(np.asarray(motion.camera_intrinsics[0]), (len(path.frames), 1))
    return dataclasses.replace(moved, extras=extras, camera_frame_ids=path.frames.astype(np.int32),
                               camera_to_world=(reference[None] @ turn).astype(np.float32),
                               camera_intrinsics=intrinsics.astype(np.float32))


def apply(video, start: int, stop: int | None, motion: Motion, focal: float | None, events, progress=None):
    """The camera stage of a run: the path (None when it could not be found), and an `info`
    event saying whether the camera moves; a warning when it travels (rotation kept only)."""
    import logging

    if motion.num_rows == 0:
        return None
    try:
        path = estimate_path(video, start, stop, motion, focal, progress)
    except (cv2.error, ValueError, np.linalg.LinAlgError) as exc:  # never lose the people for the camera
        logging.getLogger("vtm.camera").warning("camera motion failed: %s", exc)
        events.warning(f"the camera's motion could not be measured ({exc}); the camera is taken as static")
        return None
    events.info(camera_motion=path.summary())
    if path.moving and path.translation != "none":
        events.warning("the camera travels (parallax in the background): its direction is found but not how far, "
                       "so people's world paths follow the camera's rotation only and move with its travel")
    return path


class _Held:
    """Events held back until it is known which run of the world stage counts."""

    def __init__(self):
        self.calls = []

    def progress(self, *args, **kwargs):
        pass

    def warning(self, message: str) -> None:
        self.calls.append(("warning", (message,), {}))

    def info(self, **fields) -> None:
        self.calls.append(("info", (), fields))

    def replay(self, events) -> None:
        for name, args, kwargs in self.calls:
            getattr(events, name)(*args, **kwargs)


def place_on_path(motion: Motion, path: CameraPath, options, events, place) -> Motion:
    """The world stage `place(motion, options, events)` (core.worker.world.place_people) for
    a moving camera: run on the rows seen from the reference camera, with the focal length
    the turns gave; when they gave none and the people tell another one (RESOLVE_FOCAL
    apart), the path is solved again with the people's and the stage run once more with it
    held. Returns the rows back in their own cameras, a camera row per frame."""
    options = options if options is not None else WorkerOptions()
    known = options.focal_length
    if path.focal_from_turns and not known:
        options = dataclasses.replace(options, focal_length=path.focal)
    held = _Held()
    placed = place(to_reference(motion, path), options, held)
    people_focal = float(placed.focal_length)
    if not known and not path.focal_from_turns and path.corners is not None and \
            abs(math.log(people_focal / path.focal)) > RESOLVE_FOCAL:
        path = dataclasses.replace(solve_path(path.corners, people_focal, path.fps), seconds=path.seconds,
                                   corners=path.corners)
        held = _Held()
        placed = place(to_reference(motion, path), dataclasses.replace(options, focal_length=people_focal), held)
    held.replay(events)
    return to_cameras(placed, path)
