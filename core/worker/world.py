"""The worker's world stage: one static camera, one floor, every person placed on it.

Runs after estimation (api.estimate_video). In order:
1. the camera from the people (core.worker.calibration): focal length (unless given),
   height, pitch and roll; with too little evidence the floor is fitted to the estimated
   feet as the import did before, and a warning says so;
2. each person scaled (their fitted body height) and placed at the depth where their
   lower foot stands on the floor, blended with the depth the skeleton's size gives (the
   floor says little about people seen near the horizon);
3. rows that cannot be (a root far off its track's path, a body upside down) are dropped;
   a track is split where a gap is longer than the import bridges, so no pose is ever
   held across a gap;
4. foot contacts (core.common.contacts); while a foot is planted the root moves with the
   legs, not with the root fit's noise (the planted foot stays put), and the world fields
   of `vtm.motion/2`.
Rows stay in the camera frame (poses and trans as in /1); `camera_to_world` places them.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import math

import numpy as np

from ..common import camera as cam
from ..common import contacts as contact_rules
from ..common import foot_lock
from ..common import ground, rotations
from ..common.keyframes import max_gap_frames
from ..common.motion import Motion
from ..common.protocol import SilentEvents
from ..common.skeleton import forward_kinematics
from ..estimators.blazepose import temporal
from ..estimators.blazepose.landmarks import LM, NUM_LANDMARKS
from .calibration import MIN_VISIBILITY, SOLE_HEIGHTS, CameraEstimate, estimate_camera

log = logging.getLogger("vtm.world")

FEET = (7, 8, 10, 11)          # ankles and toe balls (SOLE_HEIGHTS above a flat sole)
TOE_LANDMARKS = (LM["left_foot_index"], LM["right_foot_index"])  # BlazePose, at SMPL joints 10 and 11
# Below this confidence the people's camera comes with a warning. It is still used: the
# fallback (a floor fitted to feet placed with a guessed focal length and the skeleton's
# size) is worse (bench_world: a lone standing person's camera 22 % low from the people,
# on the floor from the feet).
MIN_CONFIDENCE = 0.15
SIZE_DEPTH_NOISE = 0.05        # relative error of a depth read from the skeleton's size
FLOOR_HEIGHT_NOISE = 0.04      # m: how far a planted sole may sit off the floor (pose and landmark error)
DEPTH_SMOOTH_SECONDS = 0.2
OUTLIER_WINDOW_SECONDS = 1.0   # a root is compared with its track's median path over this window
OUTLIER_DISTANCE = 1.0         # m off that path (plus what walking fast covers in the window)
SCALE_RANGE = (0.7, 1.4)       # body scales (x 1.68 m) a person may get: 1.18-2.35 m (a child to a
                               # tall adult; a calibration error also shows here)
MAX_SPEED = 8.0                # m/s: faster than any walker or runner
# m: the most the root is moved across the line of sight to keep a planted foot still.
# There the pelvis's pixel places the root better than a planted foot and the pose's leg
# do (bench_camera_motion's walks seen by a camera held still, seed 0: end error 10.2 % at
# 0.05 m, 12.5 % at 0.1 m; the skeleton's 90th percentile distance to its landmarks on
# vtest.avi 0.072 and 0.077 box heights); the import's foot lock keeps the feet planted.
MAX_PLANT_SHIFT = 0.05
MAX_ALONG_SIGHT = 2.0          # along the line of sight the shift may reach this many depth errors
PIN_DEPTH_NOISE = 0.04         # a contact's position along the line of sight: this share of its distance
PIN_ACROSS_NOISE = 0.05        # m: across it
TOE_GATE = 9.21               # chi-square (2 dof, 99 %): a toe's floor point this far from its foot is wrong
TOE_HEIGHT_NOISE = 0.03        # m: a planted toe ball's height off a flat foot's (the foot rolls, floors are uneven)
TOE_PIXEL_NOISE = 0.02         # a planted toe landmark's error: this share of the person's height in the picture
PIN_STEP_NOISE = 0.1           # m: how far apart two planted feet are, from the pose
PIN_PAIR_WINDOW = 8            # contacts before each (in time) checked for an overlap
PLANT_SMOOTH_SECONDS = 0.07   # the planted-feet correction of the root is smoothed this much
UPRIGHT = 0.8                  # body axis . up above this: standing (a planted foot is flat on the floor)
UPSIDE_DOWN = -0.3             # body axis (pelvis to neck) . up below this: the pose is flipped


@dataclasses.dataclass
class World:
    """Where the camera is (`camera_to_world`, [4,4]) and how it was found."""

    focal: float
    camera_to_world: np.ndarray
    source: str                  # "people" or "feet" (fallback) or "none"
    estimate: CameraEstimate | None
    scales: dict[int, float]

    @property
    def up(self) -> np.ndarray:
        return self.camera_to_world[:3, :3].T @ np.array([0.0, 0.0, 1.0])

    @property
    def height(self) -> float:
        return float(self.camera_to_world[2, 3])

    def summary(self) -> dict:
        pitch, roll = cam.angles_from_up(self.up)
        out = {"source": self.source, "focal_px": round(self.focal, 1), "camera_height_m": round(self.height, 3),
               "pitch_deg": round(math.degrees(pitch), 2), "roll_deg": round(math.degrees(roll), 2)}
        if self.estimate is not None:
            out.update(confidence=round(self.estimate.confidence, 3),
                       focal_from_people=self.estimate.focal_measured,
                       std={k: round(v, 4) for k, v in self.estimate.std.items()},
                       observations=self.estimate.observations, inliers=self.estimate.inliers)
        return out


def posed_joints(motion: Motion, rest: np.ndarray | None = None, trans: np.ndarray | None = None) -> np.ndarray:
    """[N, 24, 3] every row's joints in the camera frame."""
    rot = rotations.axis_angle_to_matrix(motion.poses.reshape(-1, 24, 3).astype(np.float64))
    rest = motion.rest_joints.astype(np.float64) if rest is None else rest
    return forward_kinematics(rot, rest, motion.trans.astype(np.float64) if trans is None else trans)


def find_world(motion: Motion, focal: float | None, events) -> World:
    """The camera: from the people when they tell it, else from the feet's floor."""
    estimate = None
    try:
        estimate = estimate_camera(motion, focal=focal, default_focal=motion.focal_length)
    except Exception as exc:  # a numerical failure must not lose the motion: fall back
        log.warning("camera estimate failed: %s", exc)
    if estimate is not None:
        for text in estimate.warnings:
            events.warning(text)
    if estimate is not None and _sane(estimate):
        if estimate.confidence < MIN_CONFIDENCE:
            events.warning(f"the camera found from the people is unsure (confidence {estimate.confidence:.2f}: "
                           f"height {estimate.height:.1f} m +-{100 * estimate.std['height']:.0f} %, pitch "
                           f"+-{estimate.std['pitch_deg']:.0f} deg); more people, or people walking over more of "
                           "the floor, tell it better")
        return World(estimate.focal, estimate.camera_to_world(), "people", estimate, estimate.scales)
    why = ("too little evidence: the people must stand upright on several spots of the floor, "
           "e.g. several people or one walking over some frames" if estimate is None else
           f"the estimate cannot be (camera {estimate.height:.2f} m high, rolled "
           f"{math.degrees(estimate.roll):.0f} deg)")
    events.warning(f"the camera could not be found from the people ({why}); the floor is fitted to the estimated "
                   "feet and the focal length is " + ("the one given" if focal else "a guess"))
    return World(float(motion.focal_length), _floor_from_feet(motion), "feet" if motion.num_rows else "none",
                 estimate, {})


def _sane(estimate: CameraEstimate) -> bool:
    """A camera the scene can be built on: above the floor, not upside down."""
    return 0.2 < estimate.height < 200 and abs(estimate.roll) < math.radians(30)


def _floor_from_feet(motion: Motion) -> np.ndarray:
    """camera_to_world from a floor fitted to the estimated feet (the /1 import's fit)."""
    from ..common.keyframes import CAMERA_TO_BLENDER

    joints = posed_joints(motion) @ CAMERA_TO_BLENDER.T
    points = []
    for t in motion.track_list():
        rows = motion.rows_of_track(t)
        points.append(ground.contact_points(joints[rows], motion.fps) if len(rows) else [])
    to_blender = np.eye(4)
    to_blender[:3, :3] = CAMERA_TO_BLENDER
    try:
        floor = ground.fit_floor(np.concatenate([p for p in points if len(p)]))
        return ground.floor_transform(floor) @ to_blender
    except (ground.GroundError, ValueError):
        out = to_blender.copy()
        out[2, 3] = 1.6  # eye height: nothing better is known
        return out


def place_people(motion: Motion, options=None, events=None) -> Motion:
    """The motion in one world: camera, floor, people scaled and placed, bad rows out,
    tracks split at long gaps, contacts found. Returns a `vtm.motion/2` Motion."""
    events = events or SilentEvents()
    if motion.num_rows == 0:
        return motion
    focal = getattr(options, "focal_length", None) if options is not None else None
    world = find_world(motion, focal, events)
    motion, world.scales = _placed(motion, world)
    motion, dropped = _without_outliers(motion, world)
    motion, split = _split_at_gaps(motion)
    summary = world.summary()
    summary.update(dropped_rows=int(dropped), split_tracks={str(k): v for k, v in split.items()})
    events.info(camera=summary)
    if split:
        log.info("tracks split at long gaps: %s", split)
    return _with_world(motion, world, summary)


def _placed(motion: Motion, world: World) -> tuple[Motion, dict[int, float]]:
    """Rows rescaled to each person's body and moved along their pelvis ray onto the floor.

    A person's scale is the one at which the depth their skeleton's size gives (the root
    fit's, which matches their landmarks) puts their feet on the floor, as a median over
    their rows: scaling body and depth together keeps the picture, so the skeleton still
    lands on its landmarks. Then each row's depth blends that size depth with the depth
    at which its lower foot stands on the floor, by how well each is known.
    """
    f_old, f_new = float(motion.focal_length), float(world.focal)
    up, cam_height = world.up, world.height
    old_pelvis = motion.trans.astype(np.float64) + motion.rest_joints[:, 0].astype(np.float64)
    pixel = f_old * old_pelvis[:, :2] / np.maximum(old_pelvis[:, 2:], 1e-6)       # relative to the principal point
    ray = np.concatenate([pixel / f_new, np.ones((len(pixel), 1))], axis=1)   # depth 1 along the pelvis ray
    down = ray @ up
    z_unit = old_pelvis[:, 2] * (f_new / f_old)         # the size depth of a default-size body
    # Pelvis height above the floor, for the rows' own skeleton, when the lowest foot
    # joint rests on its sole.
    posed = posed_joints(motion, None, np.zeros((motion.num_rows, 3)))
    heights = posed[:, list(FEET)] @ up - SOLE_HEIGHTS[None]
    pelvis_unit = posed[:, 0] @ up - heights.min(axis=1)
    # Scale s with s * pelvis_unit - h = s * z_unit * down (feet on the floor at the size depth).
    with np.errstate(divide="ignore", invalid="ignore"):
        fit = cam_height / (pelvis_unit - z_unit * down)
    scales: dict[int, float] = {}
    for t in motion.track_list():
        rows = motion.rows_of_track(t)
        good = fit[rows][np.isfinite(fit[rows]) & (fit[rows] > 0)]
        wanted = float(np.median(good)) if good.size else world.scales.get(int(t), 1.0)
        # Beyond a human range the feet still go on the floor, the picture matches less.
        scales[int(t)] = float(np.clip(wanted, *SCALE_RANGE))
    scale = np.array([scales[int(t)] for t in motion.track_ids])
    rest = motion.rest_joints.astype(np.float64) * scale[:, None, None]
    z_size = z_unit * scale
    with np.errstate(divide="ignore", invalid="ignore"):
        z_floor = (pelvis_unit * scale - cam_height) / down
    ok = np.isfinite(z_floor) & (z_floor > 0.3)
    var_size = (SIZE_DEPTH_NOISE * z_size) ** 2
    w_floor = np.where(ok, (np.abs(down) / FLOOR_HEIGHT_NOISE) ** 2, 0.0)
    z = (z_size / var_size + np.where(ok, z_floor, 0.0) * w_floor) / (1.0 / var_size + w_floor)
    z = np.maximum(z, 0.3)
    frames = motion.frame_ids.astype(np.float64)
    sigma = DEPTH_SMOOTH_SECONDS * motion.fps
    for t in motion.track_list():
        rows = motion.rows_of_track(t)
        if len(rows) > 2:
            log_z = temporal.robust_smooth(np.log(z[rows])[:, None], frames[rows], sigma, np.ones(len(rows)),
                                           0.05)[:, 0]
            z[rows] = np.exp(log_z)
    trans = ray * z[:, None] - rest[:, 0]
    placed = dataclasses.replace(motion, focal_length=f_new, trans=trans.astype(np.float32),
                                 rest_joints=rest.astype(np.float32))
    return placed, scales


def world_joints(motion: Motion, world: World) -> np.ndarray:
    m = world.camera_to_world
    return posed_joints(motion) @ m[:3, :3].T + m[:3, 3]


def _body_up(joints: np.ndarray) -> np.ndarray:
    """[N] cosine between the body axis (pelvis to neck) of world joints [N, 24, 3] and up."""
    axis = joints[:, 12] - joints[:, 0]
    return axis[:, 2] / np.maximum(np.linalg.norm(axis, axis=1), 1e-9)


def _sight_axes(offset: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(distance [...], along [..., 2], across [..., 2]) for floor offsets [..., 2] from the
    camera (world XY): unit vectors along and across the line of sight, straight ahead (+Y)
    for a point under the camera."""
    distance = np.linalg.norm(offset, axis=-1)
    along = np.where(distance[..., None] > 1e-6, offset / np.maximum(distance, 1e-9)[..., None], [0.0, 1.0])
    return distance, along, np.stack([-along[..., 1], along[..., 0]], axis=-1)


def _without_outliers(motion: Motion, world: World) -> tuple[Motion, int]:
    """Drop rows whose root leaves its track's median path, or whose body is upside down."""
    joints = world_joints(motion, world)
    bad = np.zeros(motion.num_rows, bool)
    bad |= _body_up(joints) < UPSIDE_DOWN
    radius = 0.5 * OUTLIER_WINDOW_SECONDS * motion.fps
    for t in motion.track_list():
        rows = motion.rows_of_track(t)
        if len(rows) < 3:
            continue
        frames = motion.frame_ids[rows].astype(np.float64)
        root = joints[rows, 0]
        median = np.stack([temporal.running_median(root[:, k], frames, radius) for k in range(3)], axis=1)
        off = np.linalg.norm(root - median, axis=1)
        bad[rows] |= off > OUTLIER_DISTANCE + 0.5 * OUTLIER_WINDOW_SECONDS * 2.0
        # A step faster than anyone moves: the row that leaves the median path more is wrong.
        step = np.linalg.norm(np.diff(root, axis=0), axis=1) / (np.diff(frames) / motion.fps)
        for i in np.flatnonzero(step > MAX_SPEED):
            bad[rows[i if off[i] > off[i + 1] else i + 1]] = True
    return (motion.select(~bad) if bad.any() else motion), int(bad.sum())


def _split_at_gaps(motion: Motion) -> tuple[Motion, dict[int, int]]:
    """New track ids for the pieces of a track after a gap longer than the import bridges."""
    gap = max_gap_frames(motion.fps)
    ids = motion.track_ids.copy()
    next_id = int(ids.max()) + 1 if len(ids) else 0
    split: dict[int, int] = {}
    for t in motion.track_list():
        rows = motion.rows_of_track(t)
        cuts = np.flatnonzero(np.diff(motion.frame_ids[rows]) > gap + 1) + 1
        for piece in np.split(rows, cuts)[1:]:
            ids[piece] = next_id
            split[next_id] = t
            next_id += 1
    if not split:
        return motion, split
    order = np.lexsort((motion.frame_ids, ids))
    moved = dataclasses.replace(motion, track_ids=ids)
    return moved.select(order), split


def _planted_roots(motion: Motion, world: World, found: np.ndarray, joints: np.ndarray,
                   toe_pixels: np.ndarray | None = None) -> Motion:
    """Roots moved over the floor so that planted feet stay put, each contact's foot pinned
    where `contact_pins` puts it: while a foot is planted the root follows the pose's own
    leg motion instead of the (noisier) root fit; between contacts the correction is
    interpolated, so the path stays continuous. joints [N, 24, 3]: the rows' world joints."""
    rot = world.camera_to_world[:3, :3]
    camera_xy = world.camera_to_world[:2, 3]
    trans = motion.trans.astype(np.float64).copy()
    for t in motion.track_list():
        rows = motion.rows_of_track(t)
        planted = found[rows]
        if len(rows) < 3 or not planted.any():
            continue
        feet = joints[rows][:, contact_rules.TOE_BALLS, :2]
        contacts = [(side, a, b) for side in range(2) for a, b in foot_lock.runs(planted[:, side])]
        seen = None
        if toe_pixels is not None:
            sizes = motion.bboxes[rows, 3].astype(np.float64) - motion.bboxes[rows, 1]
            sole = contact_rules.SOLE_OFFSETS[1] * world.scales.get(int(t), 1.0)   # the toe ball's
            upright = _body_up(joints[rows]) > UPRIGHT
            seen = toe_floor_points(toe_pixels[rows], sizes, upright, contacts, world.focal,
                                    np.asarray(motion.image_size, np.float64) / 2, world.camera_to_world, sole)
        pins = contact_pins(feet, contacts, camera_xy, seen)
        total, count = np.zeros((len(rows), 2)), np.zeros(len(rows))
        for (side, a, b), pin in zip(contacts, pins):
            total[a:b] += pin - feet[a:b, side]
            count[a:b] += 1
        have = count > 0
        frames = motion.frame_ids[rows].astype(np.float64)
        shift = np.stack([np.interp(frames, frames[have], total[have, k] / count[have]) for k in range(2)], axis=1)
        shift = temporal.local_linear(shift, frames, PLANT_SMOOTH_SECONDS * motion.fps, np.ones(len(rows)))
        shift = _capped_shift(shift, joints[rows, 0, :2] - camera_xy, world.height - joints[rows, 0, 2])
        world_shift = np.concatenate([shift, np.zeros((len(rows), 1))], axis=1)
        trans[rows] += world_shift @ rot                      # world -> camera frame (a rotation)
    return dataclasses.replace(motion, trans=trans.astype(np.float32))


def _capped_shift(shift: np.ndarray, sight: np.ndarray, rise: np.ndarray) -> np.ndarray:
    """[F, 2] the root's planted-feet shift (world XY) within what the picture allows.
    sight [F, 2]: from the camera to the root (world XY); rise [F]: the camera's height
    above the root.

    A shift moves the person in the picture: across the line of sight by its full length,
    along it (over the floor) by rise / range of it. A planted foot jitters by centimetres,
    more is a wrong contact, so the picture may move by MAX_PLANT_SHIFT's worth. Along the
    line of sight the depth fit is what is unsure (PIN_DEPTH_NOISE of the distance), so
    there the shift may go further where the picture lets it: up to MAX_ALONG_SIGHT depth
    errors."""
    distance, along, across = _sight_axes(sight)
    distance = distance[:, None]
    a = np.einsum("fk,fk->f", shift, along)[:, None]
    c = np.einsum("fk,fk->f", shift, across)[:, None]
    rise = np.abs(np.asarray(rise, np.float64))[:, None]
    in_picture = MAX_PLANT_SHIFT * np.hypot(distance, rise) / np.maximum(rise, 1e-9)
    limit = np.clip(MAX_ALONG_SIGHT * PIN_DEPTH_NOISE * distance, MAX_PLANT_SHIFT, in_picture)
    return np.clip(a, -limit, limit) * along + np.clip(c, -MAX_PLANT_SHIFT, MAX_PLANT_SHIFT) * across


def contact_pins(feet: np.ndarray, contacts: list[tuple[int, int, int]], camera_xy: np.ndarray,
                 seen: list | None = None) -> np.ndarray:
    """[C, 2] where each contact's foot stands on the floor (world XY), from feet [F, 2, 2]
    (the toe balls' XY as placed) and contacts (side, start, stop).

    Each contact's median position says where it is, well across the line of sight and
    poorly along it (a depth fit's error, PIN_DEPTH_NOISE of the distance); where two
    contacts overlap (both feet down) the pose says how far apart they are, to
    PIN_STEP_NOISE. A weighted least-squares solve of both: a walk's steps chain, so its
    length comes from the legs rather than from each step's depth.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.linalg import spsolve

    n = len(contacts)
    if n == 0:
        return np.zeros((0, 2))
    rows, cols, values = [], [], []                          # the information matrix, 2 x 2 blocks

    def add(i: int, j: int, block: np.ndarray) -> None:
        for r in range(2):
            for c in range(2):
                rows.append(2 * i + r)
                cols.append(2 * j + c)
                values.append(block[r, c])

    rhs = np.zeros(2 * n)
    for i, (side, a, b) in enumerate(contacts):
        median = np.median(feet[a:b, side], axis=0)
        distance, along, across = _sight_axes(median - camera_xy)
        w = (np.outer(along, along) / (PIN_DEPTH_NOISE * max(distance, 1.0)) ** 2
             + np.outer(across, across) / PIN_ACROSS_NOISE ** 2)
        add(i, i, w)
        rhs[2 * i:2 * i + 2] += w @ median
        if seen is not None and seen[i] is not None:
            point, w_seen = seen[i]
            # A toe the picture places where the pose's foot cannot be (a landmark on
            # something else, a body that is not a person's) is left out.
            gap = point - median
            if gap @ np.linalg.solve(np.linalg.inv(w) + np.linalg.inv(w_seen), gap) <= TOE_GATE:
                add(i, i, w_seen)
                rhs[2 * i:2 * i + 2] += w_seen @ point
    # Overlapping contacts are near each other in time order: each is paired with the few
    # before it (a long clip's solve stays linear in its contacts).
    order = sorted(range(n), key=lambda c: contacts[c][1])
    w = np.eye(2) / PIN_STEP_NOISE ** 2
    for at, i in enumerate(order):
        side_i, a_i, b_i = contacts[i]
        for j in order[max(0, at - PIN_PAIR_WINDOW):at]:
            side_j, a_j, b_j = contacts[j]
            a, b = max(a_i, a_j), min(b_i, b_j)
            if side_i == side_j or b <= a:
                continue
            step = np.median(feet[a:b, side_i] - feet[a:b, side_j], axis=0)   # pin_i - pin_j
            add(i, i, w)
            add(j, j, w)
            add(i, j, -w)
            add(j, i, -w)
            rhs[2 * i:2 * i + 2] += w @ step
            rhs[2 * j:2 * j + 2] -= w @ step
    info = coo_matrix((values, (rows, cols)), shape=(2 * n, 2 * n)).tocsc()   # duplicates add up
    return np.asarray(spsolve(info, rhs)).reshape(n, 2)


def toe_floor_points(pixels: np.ndarray, sizes: np.ndarray, upright: np.ndarray, contacts: list[tuple[int, int, int]],
                     focal: float, principal: np.ndarray, camera_to_world: np.ndarray, sole: float) -> list:
    """Where each contact's toe landmark meets the floor: per contact (world XY [2], its
    information [2, 2]) or None where the toe is seen, with the body upright (its foot
    flat, the toe ball `sole` m above the floor), on under half the contact's frames or
    where its ray does not reach the floor. pixels [F, 2, 2] (NaN unseen), sizes [F] the
    person's height in the picture (px), upright [F] bool.

    The picture places a planted foot far better than the depth fit does: its pixel's
    error (TOE_PIXEL_NOISE of the person's size) moves the point r * e across the line of
    sight and r^2 * e / h along it (r the ray's length, h the camera's height above the
    sole, e the error's angle); a toe ball higher or lower than a flat foot's (the foot
    rolling, an uneven floor: TOE_HEIGHT_NOISE) moves it r * dz / h along it."""
    rot, centre = camera_to_world[:3, :3], camera_to_world[:3, 3]
    height = centre[2] - sole
    out: list = []
    for side, a, b in contacts:
        px = pixels[a:b, side]
        ok = np.isfinite(px).all(axis=1) & upright[a:b]
        if ok.sum() < max(1, (b - a) / 2) or height <= 0:
            out.append(None)
            continue
        rays = np.concatenate([(px[ok] - principal) / focal, np.ones((int(ok.sum()), 1))], axis=1) @ rot.T
        if not (rays[:, 2] < -1e-6).all():
            out.append(None)
            continue
        points = centre + rays * (-height / rays[:, 2])[:, None]
        point = np.median(points[:, :2], axis=0)
        distance, along, across = _sight_axes(point - centre[:2])
        reach = float(np.hypot(distance, height))
        angle = TOE_PIXEL_NOISE * float(np.median(sizes[a:b])) / focal
        along_sd = math.hypot(reach ** 2 * angle, TOE_HEIGHT_NOISE * reach) / height
        info = np.outer(along, along) / along_sd ** 2 + np.outer(across, across) / (reach * angle) ** 2
        out.append((point, info))
    return out


def _toe_pixels(motion: Motion) -> np.ndarray | None:
    """[N, 2, 2] the left and right toe-ball landmarks (NaN where not seen), or None
    without 2D landmarks (TAR)."""
    lm, vis = motion.extras.get("landmarks_2d"), motion.extras.get("landmark_visibility")
    if lm is None or vis is None or np.shape(lm)[:2] != (motion.num_rows, NUM_LANDMARKS):
        return None
    toes = np.asarray(lm, np.float64)[:, list(TOE_LANDMARKS)]
    return np.where((np.asarray(vis)[:, list(TOE_LANDMARKS)] >= MIN_VISIBILITY)[..., None], toes, np.nan)


def _with_world(motion: Motion, world: World, summary: dict) -> Motion:
    """The `vtm.motion/2` fields: one camera row per frame with rows, the floor, contacts;
    the roots moved so planted feet stay put."""
    camera_joints = posed_joints(motion)
    joints = camera_joints @ world.camera_to_world[:3, :3].T + world.camera_to_world[:3, 3]
    found = np.zeros((motion.num_rows, 2), bool)
    scale = np.array([world.scales.get(int(t), 1.0) for t in motion.track_ids])
    toe_pixels = _toe_pixels(motion)
    for t in motion.track_list():
        rows = motion.rows_of_track(t)
        seen = None
        if toe_pixels is not None:
            depths = camera_joints[rows][:, contact_rules.TOE_BALLS, 2]
            seen = contact_rules.image_speeds(toe_pixels[rows], depths, world.focal, motion.frame_ids[rows],
                                              motion.fps)
        found[rows] = contact_rules.detect(joints[rows], motion.frame_ids[rows], motion.fps, scale[rows], seen)
    motion = _planted_roots(motion, world, found, joints, toe_pixels)
    frames = np.unique(motion.frame_ids).astype(np.int32)
    width, height = motion.image_size
    k = np.tile(cam.intrinsics(world.focal, width, height), (len(frames), 1))
    m = np.tile(world.camera_to_world, (len(frames), 1, 1))
    return dataclasses.replace(motion, camera_frame_ids=frames, camera_intrinsics=k.astype(np.float32),
                               camera_to_world=m.astype(np.float32),
                               ground_plane=np.array([0.0, 0.0, 1.0, 0.0], np.float32), contacts=found,
                               calibration=json.dumps(summary))
