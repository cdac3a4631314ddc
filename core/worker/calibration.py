"""The camera from the people: floor (camera height, pitch, roll) and focal length of a
static camera, fitted jointly from every track of a clip.

The evidence is what single-view metrology uses for pedestrians: people stand on one
floor, upright, with a human body height, so their sizes in the picture shrink with
distance as the floor's perspective says and their bodies point at the vertical
vanishing point. One observation is a row of a track: the pixels of its feet (ankles and
toe tips) and head (ears), and its estimated 3D body (feet to head, camera axes). The
model puts the feet on the floor along their pixel's ray, the head at the feet plus the
estimated body scaled by the person's body scale, and compares the head's projection with
its pixel; a prior keeps the bodies near the vertical (people lean by a few degrees). A
seated person counts too: the feet are on the floor and the head where the estimated
body puts it, but the back (pelvis to head), not the feet-to-head line, is what is
upright. The
unknowns are the focal length, pitch, roll, camera height and each person's body scale,
whose prior (log-normal around the default skeleton's 1.68 m, 6 % spread) also sets the
scene's metric scale.

The fit is scipy's robust nonlinear least squares (soft-L1 loss) from several starts;
rows that do not fit (people bending or lying, a wrong landmark) weigh little,
and rows whose estimated body axis is far from the fitted vertical are dropped before a
second fit. Each track counts as a few independent observations at most (its errors
last), and the parameters' spread comes from the fit's Jacobian. When the focal length
is not told by the evidence (a nearly level camera or far people: focal length and
camera height trade off; one person on one spot of the floor) it is held at its prior (the
given or default focal length) and a warning says so; the camera height's spread then
includes the part that follows the focal length (for a camera looking down, people's
depths and so the height scale with it; for a level one the height barely moves). With
too little evidence (few usable rows) the estimate is None and the caller falls back.
"""
from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..common import camera as cam
from ..common import rotations
from ..common.contacts import SOLE_OFFSETS
from ..common.skeleton import forward_kinematics

# The head joint, and the feet (ankles and toe balls) whose mean is the centre of the
# support: a standing or walking person's head is above it, on average.
HEAD, FEET = 15, (7, 8, 10, 11)
# BlazePose landmarks: ears for the head joint's height; ankles and toe tips for the feet.
EAR_LANDMARKS, FEET_LANDMARKS = (7, 8), (27, 28, 31, 32)
MIN_VISIBILITY = 0.5
# Height above the sole of the ankle and toe-ball joints of a flat foot (default skeleton, m),
# in FEET's order: both ankles, then both toe balls.
SOLE_HEIGHTS = np.repeat(SOLE_OFFSETS, 2)
HEIGHT_SPREAD = 0.06        # log-normal spread of adult body heights
UNEVEN_SPREAD = 2 * HEIGHT_SPREAD  # fitted heights spread beyond this: the people are not on one plane
FOCAL_SPREAD = 0.7          # log spread of the focal prior (weak: the evidence should decide)
ROLL_SPREAD = math.radians(10.0)
LEAN_SPREAD = math.radians(10.0)  # how far people stand from the vertical (walking, posture)
# Share of the estimated body lean taken as real. Measured on generated scenes (bench_world,
# 4 degrees of rotation noise): 1.0 gave the camera height within 10 % (median), 0.5 and 0
# (people taken as upright) 27 % and 33 %: walkers and boxers lean by 5-10 degrees.
LEAN_TRUST = 1.0
PIXEL_NOISE = 0.02          # a head's pixel error as a share of the person's pixel height
ROBUST_SCALE = 2.5          # residuals beyond this many PIXEL_NOISE count linearly (soft L1)
UPRIGHT_RATIO = 0.85        # ankle-to-head length / rest length: below, not standing upright
SPINE_STRAIGHT = 0.95       # pelvis-to-head length / rest length: above, the back is straight (sitting)
UPRIGHT_ANGLE = math.radians(45.0)  # body axis to the fitted vertical: beyond, not upright
REFIT_BELOW = 0.95          # share of upright rows below which the fit is run again on those alone
MAX_OBSERVATIONS = 400
FULL_FITS = 1               # the best starts fitted on every row
TRACK_SAMPLES = 10
MIN_OBSERVATIONS = 20
MIN_FLOOR_SPREAD = 0.1      # share of the image height the observed feet must span
# Goals for a usable estimate (one standard deviation).
GOOD_PITCH = math.radians(3.0)
GOOD_HEIGHT = 0.10
GOOD_FOCAL = 0.10
HOLD_FOCAL = 0.20           # beyond this spread the focal length is held at the prior's
FOCAL_PROBE = 1.25          # a held focal length is tried this much larger to see what the height does


@dataclasses.dataclass
class Observations:
    """Rows usable as evidence: pixels and the estimated 3D body, per row."""

    rows: np.ndarray        # [M] row indices into the motion
    track: np.ndarray       # [M] index into `tracks`
    tracks: np.ndarray      # [K] track ids
    feet: np.ndarray        # [M, 2] pixel of the feet's centre
    head: np.ndarray        # [M, 2] pixel of the head
    body: np.ndarray        # [M, 3] posed head minus the feet's centre (camera frame, default-size body)
    axis: np.ndarray        # [M, 3] unit direction that is near the vertical: the body (standing) or
                            #     the spine, pelvis to head (sitting: the feet are forward of the hips)
    soles: np.ndarray       # [M, 4, 3] the foot joints minus the feet's centre
    weight: np.ndarray      # [M] rows of a track are not independent (a person's lean, a landmark's
                            #     bias last): each track counts as TRACK_SAMPLES observations at most

    def subset(self, keep: np.ndarray) -> "Observations":
        return dataclasses.replace(self, rows=self.rows[keep], track=self.track[keep], feet=self.feet[keep],
                                   head=self.head[keep], body=self.body[keep], axis=self.axis[keep], soles=self.soles[keep],
                                   weight=self.weight[keep])


@dataclasses.dataclass
class CameraEstimate:
    focal: float
    height: float
    pitch: float                 # radians, looking down positive
    roll: float
    focal_measured: bool         # False: the focal length is the prior's (given or default)
    std: dict[str, float]        # focal (relative), height (relative), pitch, roll (degrees)
    confidence: float            # 0..1: 1 when every figure is well inside the goals
    scales: dict[int, float]     # track id -> body scale (1 = the skeleton of the motion's rows)
    observations: int
    inliers: int
    upright_share: float
    warnings: list[str]

    def up(self) -> np.ndarray:
        return cam.up_in_camera(self.pitch, self.roll)

    def camera_to_world(self) -> np.ndarray:
        return cam.camera_to_world(self.height, self.pitch, self.roll)

    def summary(self) -> dict:
        return {"focal_px": round(self.focal, 1), "camera_height_m": round(self.height, 3),
                "pitch_deg": round(math.degrees(self.pitch), 2), "roll_deg": round(math.degrees(self.roll), 2),
                "focal_from_people": self.focal_measured, "confidence": round(self.confidence, 3),
                "std": {k: round(v, 4) for k, v in self.std.items()}, "observations": self.observations,
                "inliers": self.inliers}


def observations(motion) -> Observations | None:
    """The usable rows of a motion: feet and head pixels seen, the 3D pose not crouched."""
    rot = rotations.axis_angle_to_matrix(motion.poses.reshape(-1, 24, 3).astype(np.float64))
    rest = motion.rest_joints.astype(np.float64)
    posed = forward_kinematics(rot, rest, motion.trans.astype(np.float64))
    centre = posed[:, list(FEET)].mean(1)
    body = posed[:, HEAD] - centre
    rest_extent = rest[:, HEAD, 1] - rest[:, list(FEET), 1].mean(1)
    extent = np.linalg.norm(body, axis=-1) / np.maximum(rest_extent, 1e-6)
    lm = motion.extras.get("landmarks_2d")
    vis = motion.extras.get("landmark_visibility")
    if lm is not None and vis is not None and np.shape(lm)[:2] == (motion.num_rows, 33):
        lm, vis = np.asarray(lm, np.float64), np.asarray(vis, np.float64)
        head = lm[:, list(EAR_LANDMARKS)].mean(1)
        feet = lm[:, list(FEET_LANDMARKS)].mean(1)
        seen = (vis[:, list(EAR_LANDMARKS)].min(1) >= MIN_VISIBILITY) & \
               (vis[:, list(FEET_LANDMARKS)].min(1) >= MIN_VISIBILITY)
    else:  # no 2D landmarks (TAR): the estimate's own joints, projected
        principal = np.asarray(motion.image_size, np.float64) / 2
        proj = lambda p: motion.focal_length * p[:, :2] / np.maximum(p[:, 2:], 1e-6) + principal
        head, feet = proj(posed[:, HEAD]), proj(centre)
        seen = np.ones(motion.num_rows, bool)
    tall = np.linalg.norm(head - feet, axis=-1) > 8.0
    # Sitting: the spine upright and straight, the legs folded (feet still on the floor).
    spine = posed[:, HEAD] - posed[:, 0]
    rest_spine = rest[:, HEAD, 1] - rest[:, 0, 1]
    straight = np.linalg.norm(spine, axis=-1) / np.maximum(rest_spine, 1e-6) >= SPINE_STRAIGHT
    standing = extent >= UPRIGHT_RATIO
    keep = np.flatnonzero(seen & tall & (standing | straight) & (posed[:, :, 2].min(1) > 0))
    if keep.size > MAX_OBSERVATIONS:  # an even spread over rows keeps every track's share
        keep = keep[np.linspace(0, keep.size - 1, MAX_OBSERVATIONS).astype(np.int64)]
    if keep.size == 0:
        return None
    tracks, index = np.unique(motion.track_ids[keep], return_inverse=True)
    soles = posed[keep][:, list(FEET)] - centre[keep, None]
    per_track = np.bincount(index)[index]
    weight = np.sqrt(np.minimum(1.0, TRACK_SAMPLES / per_track))
    axis = np.where(standing[keep, None], body[keep], spine[keep])
    axis = axis / np.linalg.norm(axis, axis=1, keepdims=True)
    return Observations(rows=keep, track=index, tracks=tracks, feet=feet[keep], head=head[keep], body=body[keep],
                        axis=axis,
                        soles=soles, weight=weight)


def _unpack(x: np.ndarray, fixed_focal: float | None):
    if fixed_focal is None:
        return math.exp(x[0]), x[1], x[2], math.exp(x[3]), x[4:]
    return float(fixed_focal), x[0], x[1], math.exp(x[2]), x[3:]


def _residuals(x: np.ndarray, obs: Observations, principal: np.ndarray, log_f0: float,
               fixed_focal: float | None) -> np.ndarray:
    f, pitch, roll, h, log_s = _unpack(x, fixed_focal)
    up = cam.up_in_camera(pitch, roll)
    s = np.exp(log_s)[obs.track]
    ray = np.concatenate([(obs.feet - principal) / f, np.ones((len(obs.feet), 1))], axis=1)
    down = ray @ up                                            # < 0: the ray meets the floor
    # The feet's centre stands this high above the floor: the lowest foot joint on its sole.
    lift_feet = s * np.max(SOLE_HEIGHTS - obs.soles @ up, axis=1)
    depth = (h - lift_feet) / np.maximum(-down, 1e-4)
    # The head over the feet: the estimated body's own lean, trusted by LEAN_TRUST, and
    # the rest of its length straight up.
    body_up = obs.body @ up
    lean_part = LEAN_TRUST * (obs.body - body_up[:, None] * up)
    rise = np.sqrt(np.maximum(np.einsum("mi,mi->m", obs.body, obs.body) - np.einsum("mi,mi->m", lean_part, lean_part),
                              0.0))
    head3 = ray * depth[:, None] + s[:, None] * (lean_part + rise[:, None] * up)
    z = np.maximum(head3[:, 2], 1e-3)
    pred = f * head3[:, :2] / z[:, None] + principal
    size = np.linalg.norm(obs.head - obs.feet, axis=-1)
    res = (pred - obs.head) / (PIXEL_NOISE * size[:, None])
    res[(down >= -1e-4) | (depth <= 0)] = 50.0                 # feet above the horizon: impossible here
    res *= obs.weight[:, None]
    # People stand upright: the estimated body axis leans little from the vertical.
    lean = np.cross(obs.axis, up)
    priors = [log_s / HEIGHT_SPREAD, [roll / ROLL_SPREAD], (lean * (obs.weight / LEAN_SPREAD)[:, None]).ravel()]
    if fixed_focal is None:
        priors.append([(math.log(f) - log_f0) / FOCAL_SPREAD])
    return np.concatenate([res.ravel()] + [np.asarray(p, np.float64) for p in priors])


def _fit(obs: Observations, principal: np.ndarray, focal0: float, fixed_focal: float | None):
    """The best of several starts: a short fit of each on a subsample, the best three in full."""
    from scipy.optimize import least_squares

    k = len(obs.tracks)
    lo = [math.radians(-60), math.radians(-30), math.log(0.2)] + [-0.5] * k
    hi = [math.radians(90), math.radians(30), math.log(200.0)] + [0.5] * k
    if fixed_focal is None:
        lo, hi = [math.log(focal0) - 3] + lo, [math.log(focal0) + 3] + hi
    args = (principal, math.log(focal0), fixed_focal)

    def solve(o, x0, nfev):
        try:
            return least_squares(_residuals, x0, bounds=(lo, hi), loss="soft_l1", f_scale=ROBUST_SCALE,
                                 args=(o,) + args, max_nfev=nfev, x_scale="jac", tr_solver="lsmr")
        except (ValueError, np.linalg.LinAlgError):
            return None

    small = obs.subset(np.linspace(0, len(obs.rows) - 1, min(len(obs.rows), 120)).astype(np.int64))
    focals = [None] if fixed_focal is not None else [focal0 * m for m in (0.5, 1.0, 2.0)]
    starts = []
    size = np.linalg.norm(small.head - small.feet, axis=1)
    # The people's estimated body axes point up: their mean tells the pitch roughly, which
    # saves starting from several pitches (the fit's cost is mostly these starts).
    axis = np.median(small.axis, axis=0)
    pitch_axes = float(np.clip(cam.angles_from_up(axis / np.linalg.norm(axis))[0], lo[-k - 3], hi[-k - 3]))
    for f in focals:
        f_start = fixed_focal if f is None else f
        for pitch in [pitch_axes]:
            # The camera height that puts people of the default height at the depth their size says.
            up = cam.up_in_camera(pitch, 0.0)
            ray = np.concatenate([(small.feet - principal) / f_start, np.ones((len(size), 1))], axis=1)
            depth = f_start * np.linalg.norm(small.body, axis=1) / np.maximum(size, 1.0)
            h = float(np.clip(np.median(-(ray @ up) * depth), 0.3, 150.0))
            x0 = np.array(([math.log(f)] if f is not None else []) + [pitch, 0.0, math.log(h)] + [0.0] * k)
            r = solve(small, x0, 30)
            if r is not None:
                starts.append(r)
    starts.sort(key=lambda r: r.cost)
    best = None
    for r0 in starts[:FULL_FITS]:
        r = solve(obs, r0.x, 200)
        if r is not None and (best is None or r.cost < best.cost):
            best = r
    return best


def _spread(result, fixed_focal: float | None) -> np.ndarray:
    """One standard deviation of each parameter from the robust fit's Jacobian."""
    jac = result.jac
    try:
        cov = np.linalg.pinv(jac.T @ jac)
    except np.linalg.LinAlgError:
        return np.full(jac.shape[1], np.inf)
    n, p = jac.shape
    # Residuals are in noise units; scale by their robust spread so a poor fit widens it.
    scale = max(1.0, float(np.median(np.abs(result.fun))) / 0.6745)
    return np.sqrt(np.maximum(np.diag(cov), 0.0)) * scale


def _height_per_focal(obs: Observations, principal: np.ndarray, focal0: float, result) -> float:
    """|d log(camera height) / d log(focal length)| around a held focal length: a refit at
    FOCAL_PROBE times it (1 when that fails: the height taken as scaling with it)."""
    probe = _fit(obs, principal, focal0, focal0 * FOCAL_PROBE)
    if probe is None:
        return 1.0
    return abs(float(probe.x[2] - result.x[2])) / math.log(FOCAL_PROBE)


def estimate_camera(motion, focal: float | None = None, default_focal: float | None = None) -> CameraEstimate | None:
    """The static camera of a motion (rows in its camera frame), or None without evidence.

    focal: the known focal length (pixels), or None to estimate it; default_focal: the
    prior's centre when estimating (default: the motion's focal length).
    """
    width, height = motion.image_size
    principal = np.array([width / 2.0, height / 2.0])
    obs = observations(motion)
    warnings: list[str] = []
    if obs is None or len(obs.rows) < MIN_OBSERVATIONS:
        return None
    focal0 = float(default_focal or motion.focal_length)
    fixed = focal
    if np.ptp(obs.feet[:, 1]) < MIN_FLOOR_SPREAD * height and len(obs.tracks) < 2 and focal is None:
        # One person on one spot of the floor: their size gives their depth for a focal
        # length, their body axis the pitch, so the camera height follows, but nothing
        # tells the focal length itself.
        fixed = focal0
        warnings.append(f"one person on one spot of the floor does not tell the focal length: using {focal0:.0f} px; "
                        "give --focal-length if it is known")
    result = _fit(obs, principal, focal0, fixed)
    if result is None:
        return None
    if fixed is None and _spread(result, None)[0] > HOLD_FOCAL:
        # f and the camera height trade off (a far or nearly level view): the prior's focal
        # length, held, gives a consistent scene; the warning below says so.
        fixed = focal0
        warnings.append(f"the people do not tell the focal length (the camera is nearly level or the people are "
                        f"far): using {focal0:.0f} px; give --focal-length if it is known")
        result = _fit(obs, principal, focal0, fixed) or result
        if len(result.x) != 3 + len(obs.tracks):
            return None
    # Drop rows whose estimated body axis is far from the fitted vertical, and fit again.
    x = result.x
    pitch, roll = (x[1], x[2]) if fixed is None else (x[0], x[1])
    axis = obs.axis
    upright = axis @ cam.up_in_camera(pitch, roll) > math.cos(UPRIGHT_ANGLE)
    upright_share = float(upright.mean())
    if upright.sum() >= MIN_OBSERVATIONS and upright_share < REFIT_BELOW:
        sub = obs.subset(upright)
        refit = _fit(sub, principal, focal0, fixed)  # a track left without rows keeps its prior
        if refit is not None:
            result, obs = refit, sub
    sd = _spread(result, fixed)
    x = result.x
    if fixed is None:
        f, pitch, roll, h = math.exp(x[0]), x[1], x[2], math.exp(x[3])
        log_s, sd_f, (sd_p, sd_r, sd_h) = x[4:], float(sd[0]), sd[1:4]
    else:
        f, (pitch, roll), h = float(fixed), x[:2], math.exp(x[2])
        log_s, sd_f, (sd_p, sd_r, sd_h) = x[3:], 0.0, sd[:3]
    sd_h_fit = float(sd_h)
    if fixed is not None and focal is None:
        # A held focal length is a guess: unless the camera is nearly level, the camera
        # height scales with it (people's depths do), and its spread must say so. The
        # confidence stays that of the fit at the held focal length (the scene it builds
        # is consistent), the warning gives the height's spread.
        per_focal = _height_per_focal(obs, principal, focal0, result)
        sd_h = math.hypot(float(sd_h), per_focal * FOCAL_SPREAD)
        if per_focal > 0.2:
            warnings.append(f"the camera height follows the unknown focal length here ({100 * per_focal:.0f} % per "
                            f"%): it is known only to +-{100 * sd_h:.0f} %; give --focal-length if it is known")
    if fixed is None and sd_f > GOOD_FOCAL:
        warnings.append(f"the people tell the focal length only roughly ({f:.0f} px, +-{100 * sd_f:.0f} %: the camera "
                        "is nearly level or the people are far); give --focal-length if it is known")
    res = result.fun[:2 * len(obs.rows)].reshape(-1, 2) / obs.weight[:, None]
    inliers = int((np.linalg.norm(res, axis=1) < 3 * ROBUST_SCALE).sum())
    std = {"focal": sd_f, "height": float(sd_h), "pitch_deg": math.degrees(sd_p), "roll_deg": math.degrees(sd_r)}
    ratios = [sd_p / GOOD_PITCH, sd_r / GOOD_PITCH, sd_h_fit / GOOD_HEIGHT] + ([sd_f / GOOD_FOCAL] if fixed is None else [])
    confidence = float(1.0 / (1.0 + max(ratios) ** 2))
    if upright_share < 0.5:
        warnings.append(f"most people do not stand upright ({100 * upright_share:.0f} % of the rows): lying or "
                        "sitting people say little about the floor")
    logs = np.asarray(log_s, np.float64)
    if len(logs) >= 3 and np.std(logs) > UNEVEN_SPREAD:
        warnings.append(f"the people's sizes fit one flat floor only if their heights differ by "
                        f"{100 * np.std(logs):.0f} % (people differ by about {100 * HEIGHT_SPREAD:.0f} %): a slope, "
                        "stairs, or children among adults? the floor is a compromise")
    if inliers < 0.6 * len(obs.rows):
        warnings.append(f"only {100 * inliers / len(obs.rows):.0f} % of the rows fit one floor: a slope, stairs or "
                        "people off the ground? the floor is a compromise")
    return CameraEstimate(focal=f, height=h, pitch=float(pitch), roll=float(roll), focal_measured=fixed is None,
                          std=std, confidence=confidence,
                          scales={int(t): float(math.exp(v)) for t, v in zip(obs.tracks, log_s)},
                          observations=len(obs.rows), inliers=inliers, upright_share=upright_share,
                          warnings=warnings)
