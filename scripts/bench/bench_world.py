#!/usr/bin/env python
"""The 3D scene as a whole: camera, floor and people, on generated scenes with known cameras
and on real footage.

    python scripts/bench/bench_world.py [--cases 12] [--seed 0] [--noise 0.01] [--rot-noise 4]
    python scripts/bench/bench_world.py --real-motion motion.npz [--place]   (a worker's motion of real footage)
    python scripts/bench/bench_world.py --real-video vtest.avi [--end-frame 200]   (runs the worker first)

Generated scenes (fast mode): people driven by retargeted CMU motion capture (walking,
jumping, standing, boxing; a seated pose; 1-6 people, heights 1.5-1.85 m) stand on a floor seen by
a static camera 1-10 m high, pitched 0-45 degrees down, rolled up to 5 degrees, with a
focal length of 500-3000 px (1280x720). Instead of rendering and running BlazePose, the
estimator's input is made from the truth: the 2D landmarks are the projected joints plus
Gaussian noise (`--noise`, a fraction of the person's height in pixels) and the local
joint rotations the IK would give are the true ones with a few degrees of noise. From
there on the estimator's own code runs: the root translation fit (with the focal length
the worker would use), the worker's world stage when there is one, and the import's
placement of camera and armatures in the Blender world (Z up, floor at Z = 0).

Printed per case: how the camera was found ("f" column: `meas` the focal length measured
from the people, `held` the people do not tell it (a nearly level camera, far people: the
default is used and a warning says so), `feet` no camera from the people at all, the
floor fitted to the feet), focal error (%), camera height error (% of the true height)
and the spread the calibration claims for it ("h sd %", one standard deviation), pitch
and roll error (deg), foot height error in contact frames (cm: the imported foot joint's
height minus the true one, median of absolute values), foot skate (cm/s: horizontal
speed of a foot joint, mean) over the frames where the true foot is planted ("skate")
and over those of them the worker also found planted ("in det"), the share of true
contacts found ("found %") and the share of found contact frames where the true foot is
not planted ("extra %": a foot held while it lifts or lands), root position error (m,
median), the largest root speed (m/s), flipped frames and the world stage's CPU time
per row (ms). The summary gives medians over all cases and over the cases whose focal
length the people tell (`meas`) or not.

Real footage has no ground truth; printed: camera height and pitch of the imported
camera, the feet-to-floor spread (the lower foot joint's height on every frame: median
and 90th percentile of its absolute value), the largest root speed, flipped frames (the
body's up axis pointing below the horizon), the share of foot-frames found planted and
the foot skate on them (cm/s, mean).

Goals (issue 14): focal within 10 %, camera height within 10 %, pitch and roll within 3
degrees, feet within 5 cm of the floor in contact frames, skate under 2 cm/s, no root
speed above 8 m/s on walkers, no flipped frames.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
W, H, FPS = 1280, 720, 30.0
CLIP_FRAMES = 60
# Motion capture windows (file, first frame at 30 fps) by kind of motion. CMU's subject 01
# plays in a playground: two of its windows are walks, two are jumps (01_03 from 450 up and
# back down on the spot; 01_01 from 90 a forward jump, both feet off the ground 7 frames).
CLIPS = {"walk": [("01_03.bvh", 0), ("01_03.bvh", 390)], "jump": [("01_03.bvh", 450), ("01_01.bvh", 90)],
         "stand": [("01_01.bvh", 0), ("Boxing_Toes.bvh", 0), ("Boxing_Toes.bvh", 400)]}
MOVES = ("walk", "jump")     # the scenes' moving people ("move"): any window of these kinds
FOOT_JOINTS = (10, 11)       # SMPL's toe-ball joints
PLANTED_HEIGHT = 0.03        # m above the foot joint's lowest height: the true foot is down
PLANTED_SPEED = 0.15         # m/s: and still
# Blender world (Z up) from SMPL's y-up motion-capture frame.
YUP_TO_ZUP = np.array([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]])
# OpenCV camera axes of a level camera looking along +Y: x = +X, y (down) = -Z, z = +Y.
LEVEL_CAMERA = np.array([[1.0, 0, 0], [0, 0, 1.0], [0, -1.0, 0]])


def _rot(axis: int, angle: float) -> np.ndarray:
    from video_to_motion.core.common import rotations

    aa = np.zeros(3)
    aa[axis] = angle
    return rotations.axis_angle_to_matrix(aa)


@dataclasses.dataclass
class Person:
    kind: str
    rest: np.ndarray          # [24, 3] SMPL frame, this person's skeleton
    local: np.ndarray         # [F, 24, 3, 3] local rotations, root = world (Z up) orientation
    joints: np.ndarray        # [F, 24, 3] Blender world, metres


@dataclasses.dataclass
class Scene:
    focal: float
    height: float
    pitch: float              # degrees down
    roll: float               # degrees
    cam_to_world: np.ndarray  # [3, 3] OpenCV camera axes -> world
    people: list[Person]

    @property
    def centre(self) -> np.ndarray:
        return np.array([0.0, 0.0, self.height])


def camera_rotation(pitch_deg: float, roll_deg: float) -> np.ndarray:
    """OpenCV camera axes -> world: a level camera along +Y, pitched down, then rolled."""
    return LEVEL_CAMERA @ _rot(0, -math.radians(pitch_deg)) @ _rot(2, math.radians(roll_deg))


def load_clips(bvh_dir: Path) -> dict[str, list]:
    from video_to_motion.core.training.bvh import load_smpl_motion

    cache: dict[str, object] = {}
    out: dict[str, list] = {}
    for kind, items in CLIPS.items():
        for name, start in items:
            if name not in cache:
                cache[name] = load_smpl_motion(bvh_dir / name, fps=FPS)
            m = cache[name]
            out.setdefault(kind, []).append((m.poses[start:start + CLIP_FRAMES], m.trans[start:start + CLIP_FRAMES]))
    out["move"] = [clip for kind in MOVES for clip in out[kind]]
    return out


def seated_clip() -> tuple[np.ndarray, np.ndarray]:
    """A person sitting still on a chair (hips and knees bent 90 degrees), swaying a little."""
    poses = np.zeros((CLIP_FRAMES, 24, 3))
    poses[:, 1, 0] = poses[:, 2, 0] = -math.pi / 2
    poses[:, 4, 0] = poses[:, 5, 0] = math.pi / 2
    poses[:, 3, 0] = 0.05 * np.sin(np.arange(CLIP_FRAMES) / FPS * 2)
    return poses, np.zeros((CLIP_FRAMES, 3))


def make_person(rng, kind: str, clips, scale: float, place_xy: np.ndarray, yaw: float) -> Person:
    from video_to_motion.core.common import rotations
    from video_to_motion.core.common.skeleton import DEFAULT_REST_JOINTS, forward_kinematics

    if kind == "sit":
        poses, trans = seated_clip()
    else:
        poses, trans = clips[kind][rng.integers(len(clips[kind]))]
    rest = DEFAULT_REST_JOINTS * scale
    local = rotations.axis_angle_to_matrix(np.asarray(poses, np.float64))
    to_world = _rot(2, yaw) @ YUP_TO_ZUP
    local[:, 0] = to_world @ local[:, 0]
    trans = np.asarray(trans, np.float64) * scale
    trans = trans - trans.mean(0)
    joints = forward_kinematics(local, rest, trans @ to_world.T - rest[0] + to_world @ rest[0])
    # Stand on the floor: the foot joint's lowest point at its height above the sole.
    joints[..., 2] -= joints[:, FOOT_JOINTS, 2].min() - 0.045 * scale
    joints[..., :2] += place_xy
    return Person(kind, rest, local, joints)


def make_scene(rng, clips, case: int) -> Scene:
    focal = float(rng.uniform(500, 3000))
    height = float(rng.uniform(1.0, 10.0))
    pitch = float(rng.uniform(0.0, 45.0))
    roll = float(rng.uniform(-5.0, 5.0))
    r = camera_rotation(pitch, roll)
    scene = Scene(focal, height, pitch, roll, r, [])
    count = int(rng.integers(1, 7))
    kinds = ["move", "stand", "sit"]
    for _ in range(count):
        kind = kinds[0] if rng.random() < 0.6 else kinds[int(rng.integers(1, 3))]
        for _attempt in range(200):
            # A floor point seen in the lower part of the picture, 2-40 m away.
            px = np.array([rng.uniform(0.15, 0.85) * W, rng.uniform(0.45, 0.95) * H])
            ray = r @ np.array([(px[0] - W / 2) / focal, (px[1] - H / 2) / focal, 1.0])
            if ray[2] >= -1e-3:
                continue
            ground = scene.centre - ray * (height / ray[2])
            dist = float(np.hypot(*ground[:2]))
            if not 2.0 <= dist <= 40.0:
                continue
            person = make_person(rng, kind, clips, float(rng.uniform(0.9, 1.1)), ground[:2],
                                 float(rng.uniform(0, 2 * math.pi)))
            uvz = project(scene, person.joints)
            if np.all(uvz[..., 2] > 0.5) and inside_share(uvz) > 0.95 and 40 < pixel_height(uvz).min():
                scene.people.append(person)
                break
    return scene


def project(scene: Scene, points: np.ndarray) -> np.ndarray:
    """[..., 3] world points -> [..., 3] (u, v, depth)."""
    cam = (points - scene.centre) @ scene.cam_to_world
    z = cam[..., 2:]
    return np.concatenate([scene.focal * cam[..., :2] / np.maximum(z, 1e-6) + [W / 2, H / 2], z], axis=-1)


def inside_share(uvz: np.ndarray) -> float:
    ok = (uvz[..., 0] >= 0) & (uvz[..., 0] < W) & (uvz[..., 1] >= 0) & (uvz[..., 1] < H)
    return float(ok.mean())


def pixel_height(uvz: np.ndarray) -> np.ndarray:
    return uvz[..., 1].max(-1) - uvz[..., 1].min(-1)


def smooth_noise(rng, shape: tuple, std: float, sigma_frames: float = 3.0) -> np.ndarray:
    """Gaussian noise along axis 0 correlated over `sigma_frames` (an estimator smooths its
    rotations over time, so its errors drift rather than jump), with standard deviation `std`
    on every frame (drawn beyond both ends, so the first and last frames are no noisier)."""
    half = 3 * int(sigma_frames)
    t = np.arange(-half, half + 1)
    k = np.exp(-0.5 * (t / sigma_frames) ** 2)
    k /= np.sqrt((k**2).sum())
    x = rng.normal(0, 1, (shape[0] + 2 * half,) + tuple(shape[1:]))
    out = sum(k[i] * x[i:i + shape[0]] for i in range(len(t)))
    return std * out


def observe(scene: Scene, rng, noise: float, rot_noise_deg: float = 4.0, focal: float | None = None):
    """The Motion the worker would write, from noisy landmarks and noisy rotations."""
    from video_to_motion.core.common import rotations
    from video_to_motion.core.common.camera import default_focal_length
    from video_to_motion.core.common.motion import Motion
    from video_to_motion.core.common.skeleton import DEFAULT_REST_JOINTS, forward_kinematics
    from video_to_motion.core.estimators.blazepose import landmarks
    from video_to_motion.core.estimators.blazepose.estimator import BlazePoseEstimator, _concatenate

    focal = focal or default_focal_length(W, H)
    estimator = BlazePoseEstimator.__new__(BlazePoseEstimator)
    estimator.rest_joints = DEFAULT_REST_JOINTS.astype(np.float64)
    parts = []
    for track, person in enumerate(scene.people):
        n = len(person.joints)
        uvz = project(scene, person.joints)
        size = pixel_height(uvz)[:, None, None]
        pix = uvz[..., :2] + rng.normal(0, noise, uvz[..., :2].shape) * size
        lm = np.zeros((n, 33, 2))
        vis = np.zeros((n, 33))
        for j, k in landmarks.SMPL_TO_LANDMARK.items():
            lm[:, k], vis[:, k] = pix[:, j], 1.0
        for k, j in ((0, 15), (7, 15), (8, 15), (29, 7), (30, 8), (31, 10), (32, 11)):
            lm[:, k], vis[:, k] = pix[:, j], 1.0
        # Rotations in the camera frame with noise, on the estimator's own skeleton.
        local = person.local.copy()
        local[:, 0] = scene.cam_to_world.T @ local[:, 0]
        jitter = rotations.axis_angle_to_matrix(smooth_noise(rng, (n, 24, 3), math.radians(rot_noise_deg)))
        local = local @ jitter
        rest = estimator.rest_joints
        posed = forward_kinematics(local, rest)
        frames = np.arange(n)
        lo, hi = pix.min(1), pix.max(1)
        boxes = np.concatenate([lo, hi], -1)
        trans = estimator._translation(posed, lm, vis, frames, boxes, focal, np.array([W / 2, H / 2]), FPS)
        parts.append(Motion(
            estimator="bench", fps=FPS, image_size=(W, H), focal_length=focal, frame_ids=frames.astype(np.int32),
            track_ids=np.full(n, track, np.int32),
            poses=rotations.matrix_to_axis_angle(local).reshape(n, 72).astype(np.float32),
            betas=np.zeros((n, 10), np.float32), trans=trans.astype(np.float32),
            rest_joints=np.broadcast_to(rest, (n, 24, 3)).astype(np.float32), bboxes=boxes.astype(np.float32),
            scores=np.ones(n, np.float32),
            extras={"landmarks_2d": lm.astype(np.float32), "landmark_visibility": vis.astype(np.float32)}))
    return _concatenate(parts, "bench", FPS, (W, H), focal)


def world_stage():
    """The worker's world stage (camera from the people, placement), when the code has one."""
    try:
        from video_to_motion.core.worker.world import place_people
    except ImportError:
        return None
    return place_people


def imported_world(motion) -> dict:
    """What the import puts in the Blender world: per track world joints, and the camera matrix."""
    from video_to_motion.core.common import keyframes
    from video_to_motion.core.common.options import ImportSettings
    from video_to_motion.core.common.smoothing import OneEuro

    settings = ImportSettings()
    root = OneEuro.from_strength(settings.root_smoothing)
    rot = OneEuro.from_strength(settings.rotation_smoothing)
    try:
        from video_to_motion.core.common import world
    except ImportError:
        world = None
    if world is not None:
        placed = world.import_world(motion, keyframes.select_tracks(motion, "all"), settings)
        keys, arm, cam = placed.keys, placed.armature_matrices, placed.camera_matrix
    else:  # the import as the add-on did it before the world stage existed
        from video_to_motion.core.common import ground as ground_fit

        keys = [keyframes.track_keys(motion, t, root, rot) for t in keyframes.select_tracks(motion, "all")]
        points = [ground_fit.contact_points(keyframes.world_joints(k, ground_fit.FEET), motion.fps) for k in keys]
        g = ground_fit.floor_transform(ground_fit.fit_floor(np.concatenate(points)))
        a, cam = keyframes.object_matrices(g)
        arm = [a] * len(keys)
    out, planted = {}, {}
    for k, m in zip(keys, arm):
        j = k.armature_joints() @ m[:3, :3].T + m[:3, 3]
        out[k.track_id] = (k.frames, j)
        if world is not None:
            planted[k.track_id] = world.planted(motion, k, m)
    calibration = json.loads(motion.calibration) if getattr(motion, "calibration", "") else {}
    if calibration.get("source") == "people":
        how = "meas" if calibration.get("focal_from_people") else "held"
    else:
        how = "feet"
    h_sd = calibration.get("std", {}).get("height", float("nan")) if how != "feet" else float("nan")
    return {"tracks": out, "planted": planted, "camera": cam, "focal": motion.focal_length, "how": how,
            "h_sd": 100 * h_sd}


def camera_angles(cam: np.ndarray) -> tuple[float, float, float]:
    """Height, pitch down and roll (degrees) of a Blender camera matrix (looks along local -Z)."""
    forward = -cam[:3, 2]
    right = cam[:3, 0]
    pitch = -math.degrees(math.asin(np.clip(forward[2], -1, 1)))
    roll = -math.degrees(math.asin(np.clip(right[2], -1, 1)))  # positive: the camera turned clockwise about its view
    return float(cam[2, 3]), pitch, roll


def flipped(joints: np.ndarray) -> np.ndarray:
    """[F] frames whose body up axis (pelvis to neck) points below the horizon."""
    up = joints[:, 12] - joints[:, 0]
    return up[:, 2] < 0


def root_speed(frames: np.ndarray, joints: np.ndarray, fps: float) -> float:
    step = np.diff(frames)
    if not np.any(step == 1):
        return 0.0
    return float((np.linalg.norm(np.diff(joints[:, 0], axis=0), axis=1)[step == 1]).max() * fps)


def case_figures(scene: Scene, placed: dict) -> dict:
    h, pitch, roll = camera_angles(placed["camera"])
    heights, skate, skate_found, found, extra, root_err, speeds, flips = [], [], [], [], [], [], [], 0
    for track, person in enumerate(scene.people):
        if track not in placed["tracks"]:
            continue
        frames, est = placed["tracks"][track]
        detected = placed["planted"].get(track, np.zeros((len(frames), 2), bool))
        truth = person.joints[frames]
        feet_t, feet_e = truth[:, FOOT_JOINTS], est[:, FOOT_JOINTS]
        speed_t = np.linalg.norm(np.gradient(feet_t[..., :2], axis=0), axis=-1) * FPS
        speed_e = np.linalg.norm(np.gradient(feet_e[..., :2], axis=0), axis=-1) * FPS
        planted = (feet_t[..., 2] < feet_t[..., 2].min() + PLANTED_HEIGHT) & (speed_t < PLANTED_SPEED)
        heights.append(np.abs(feet_e[..., 2] - feet_t[..., 2])[planted])
        skate.append(speed_e[planted])
        skate_found.append(speed_e[planted & detected])
        found.append(detected[planted])
        extra.append(~planted[detected])
        root_err.append(np.linalg.norm(est[:, 0] - truth[:, 0], axis=-1))
        speeds.append(root_speed(frames, est, FPS))
        flips += int(flipped(est).sum())
    cat = lambda xs: np.concatenate(xs) if xs else np.zeros(0)
    med = lambda a: float(np.median(a)) if len(a) else float("nan")
    mean = lambda a: 100 * float(np.mean(a)) if len(a) else float("nan")
    return {"how": placed["how"], "h_sd": placed["h_sd"], "focal_err": 100 * (placed["focal"] - scene.focal) / scene.focal,
            "height_err": 100 * (h - scene.height) / scene.height,
            "pitch_err": pitch - scene.pitch, "roll_err": roll - scene.roll, "foot_cm": 100 * med(cat(heights)),
            "skate": mean(cat(skate)), "skate_found": mean(cat(skate_found)), "found": mean(cat(found)), "extra": mean(cat(extra)),
            "root_m": med(cat(root_err)), "max_speed": max(speeds, default=0.0), "flips": flips}


def run_generated(args) -> int:
    from video_to_motion.core.common.protocol import SilentEvents

    bvh_dir = Path(os.environ.get("VTM_SAMPLE_DATA") or REPO / "sample_data") / "bvh"
    if not bvh_dir.is_dir():
        print(f"no motion capture at {bvh_dir}; set VTM_SAMPLE_DATA", file=sys.stderr)
        return 2
    clips = load_clips(bvh_dir)
    stage = world_stage()
    print(f"generated scenes, {W}x{H}, {CLIP_FRAMES} frames at {FPS:g} fps, landmark noise {args.noise:g} x person "
          f"height, rotation noise {args.rot_noise:g} deg; world stage: {'yes' if stage else 'none (import-time floor fit)'}")
    head = (f"{'case':>4} {'people':>17} {'f px':>5} {'h m':>4} {'pitch':>5} {'roll':>4} | {'f':>4} {'f err%':>6} "
            f"{'h err%':>6} {'h sd%':>5} {'pitch°':>6} {'roll°':>5} {'foot cm':>7} {'skate':>6} {'in det':>6} {'found%':>6} {'extra%':>6} "
            f"{'root m':>6} {'vmax':>5} {'flips':>5} {'ms/row':>6}")
    print(head)
    rows = []
    for case in range(args.cases):
        rng = np.random.default_rng([args.seed, case])
        scene = make_scene(rng, clips, case)
        if not scene.people:
            continue
        motion = observe(scene, rng, args.noise, args.rot_noise)
        cpu = time.process_time()
        if stage is not None:
            motion = stage(motion, None, SilentEvents())
        cpu = time.process_time() - cpu
        fig = case_figures(scene, imported_world(motion))
        fig["world_ms"] = 1e3 * cpu / max(motion.num_rows, 1)
        rows.append(fig)
        kinds = ",".join(p.kind[:2] for p in scene.people)
        print(f"{case:>4} {kinds:>17} {scene.focal:>5.0f} {scene.height:>4.1f} {scene.pitch:>5.1f} {scene.roll:>4.1f} | "
              f"{fig['how']:>4} {fig['focal_err']:>6.1f} {fig['height_err']:>6.1f} {fig['h_sd']:>5.0f} {fig['pitch_err']:>6.1f} "
              f"{fig['roll_err']:>5.1f} {fig['foot_cm']:>7.1f} {fig['skate']:>6.1f} {fig['skate_found']:>6.1f} "
              f"{fig['found']:>6.0f} {fig['extra']:>6.0f} {fig['root_m']:>6.2f} {fig['max_speed']:>5.1f} {fig['flips']:>5d} {fig['world_ms']:>6.2f}")
    print("skate, in det: cm/s; f: focal length measured from the people (meas), held at the default (held), "
          "or no camera from the people (feet)")
    summary(rows, "all cases")
    summary([r for r in rows if r["how"] == "meas"], "focal told by the people (meas)")
    summary([r for r in rows if r["how"] != "meas"], "focal not told (held, feet)")
    return 0


def summary(rows: list[dict], label: str) -> None:
    if not rows:
        print(f"{label}: no cases")
        return
    a = lambda k: np.array([r[k] for r in rows], np.float64)
    within = lambda k, goal: int((np.abs(a(k)) <= goal).sum())
    print(f"{label}, median |error| over {len(rows)} cases: focal {np.median(np.abs(a('focal_err'))):.1f} % "
          f"({within('focal_err', 10)} within 10 %), height {np.median(np.abs(a('height_err'))):.1f} % "
          f"({within('height_err', 10)} within 10 %), pitch {np.median(np.abs(a('pitch_err'))):.1f}°, "
          f"roll {np.median(np.abs(a('roll_err'))):.1f}°, world stage {np.median(a('world_ms')):.2f} ms CPU per row, foot {np.nanmedian(a('foot_cm')):.1f} cm, "
          f"skate {np.nanmedian(a('skate')):.1f} cm/s (in detected contacts {np.nanmedian(a('skate_found')):.1f}, "
          f"found {np.nanmedian(a('found')):.0f} %, extra {np.nanmedian(a('extra')):.0f} %), root {np.median(a('root_m')):.2f} m, flips {int(a('flips').sum())}")


    return 0


def real_figures(motion, label: str) -> None:
    placed = imported_world(motion)
    h, pitch, roll = camera_angles(placed["camera"])
    lows, speeds, skate, planted_share, flips, frames = [], [], [], [], 0, 0
    for track, (frames_t, joints) in placed["tracks"].items():
        lows.append(joints[:, FOOT_JOINTS, 2].min(axis=1))
        speeds.append(root_speed(frames_t, joints, motion.fps))
        flips += int(flipped(joints).sum())
        frames += len(frames_t)
        planted = placed["planted"].get(track)
        if planted is not None and len(frames_t) > 1:
            # Horizontal speed of each foot joint on the frames where it is found planted
            # (frames joined by the import only: a gap's step is not a speed).
            step = np.gradient(frames_t.astype(np.float64))
            v = np.linalg.norm(np.gradient(joints[:, FOOT_JOINTS, :2], axis=0), axis=-1) / step[:, None] * motion.fps
            skate.append(v[planted])
            planted_share.append(planted.ravel())
    low = np.abs(np.concatenate(lows))
    skate_cm = 100 * float(np.mean(np.concatenate(skate))) if skate else float("nan")
    share = 100 * float(np.mean(np.concatenate(planted_share))) if planted_share else float("nan")
    print(f"{label}: {len(placed['tracks'])} tracks, {frames} frames, focal {motion.focal_length:.0f} px")
    print(f"{'camera h m':>10} {'pitch°':>6} {'roll°':>6} {'feet |z| median m':>17} {'p90 m':>6} {'max m':>6} "
          f"{'vmax m/s':>8} {'flips':>5} {'planted %':>9} {'skate cm/s':>10}")
    print(f"{h:>10.2f} {pitch:>6.1f} {roll:>6.1f} {np.median(low):>17.3f} {np.percentile(low, 90):>6.3f} "
          f"{low.max():>6.2f} {max(speeds):>8.1f} {flips:>5d} {share:>9.0f} {skate_cm:>10.1f}")
    print("planted %: share of foot-frames found planted; skate: mean horizontal speed of a foot joint on them")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", type=int, default=12)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--noise", type=float, default=0.01, help="landmark noise, fraction of the person's pixel height")
    p.add_argument("--rot-noise", type=float, default=4.0, help="joint rotation noise, degrees (0: the true pose)")
    p.add_argument("--real-motion", type=Path, help="consistency figures of a motion file of real footage")
    p.add_argument("--place", action="store_true",
                   help="with --real-motion: run the worker's world stage on the file first (a /1 file of the "
                        "same estimator: what the worker writes now)")
    p.add_argument("--real-video", type=Path, help="run the worker on a real video first")
    p.add_argument("--end-frame", type=int, default=200)
    args = p.parse_args()
    from video_to_motion.core.common.motion import read_motion

    if args.real_motion:
        motion = read_motion(args.real_motion)
        label = str(args.real_motion.name)
        if args.place:
            stage = world_stage()
            if stage is None:
                print("this code has no world stage", file=sys.stderr)
                return 2
            from video_to_motion.core.common.protocol import SilentEvents

            motion, label = stage(motion, None, SilentEvents()), label + " + world stage"
        real_figures(motion, label)
        return 0
    if args.real_video:
        from video_to_motion.core.common.options import WorkerOptions
        from video_to_motion.core.worker.api import estimate_video

        motion = estimate_video(args.real_video, WorkerOptions(end_frame=args.end_frame))
        real_figures(motion, f"{args.real_video.name} frames 0-{args.end_frame}")
        return 0
    return run_generated(args)


if __name__ == "__main__":
    sys.exit(main())
