#!/usr/bin/env python
"""Real-footage check of the default estimator: the worker on vtest.avi, frames 0-200.

    python scripts/checks/check_real_footage.py [--video sample_data/vtest.avi] [--start 0] [--end 200]
                                         [--estimator blazepose] [--detector WEIGHTS] [--detect-every 1]
                                         [--keep OUT.npz]
    python scripts/checks/check_real_footage.py --motion demo_out/motion.npz      (check a motion already made)

Runs `python -m video_to_motion.core.worker` as the add-on would and prints, per track and in total:
  * tracks with >= 30 frames (frames that got a pose; issue 6 wants at least 5),
  * bone-length constancy (largest change of any bone's length within a track),
  * NaN/inf anywhere in the motion,
  * the largest root jump between consecutive frames, as written and after the
    add-on's root smoothing (its default strength), when that code is present.
Exits 1 when a criterion fails.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]

MIN_TRACKS = 5
MIN_TRACK_FRAMES = 30
MAX_ROOT_JUMP = 0.5      # metres between consecutive frames, after smoothing
MAX_BONE_CHANGE = 1e-4   # metres: bones are rigid
ADDON_ROOT_SMOOTHING = 0.5  # the add-on's default "Root Smoothing"


def run_worker(video: Path, out: Path, start: int, end: int, estimator: str, detector: str | None,
               detect_every: int) -> dict:
    cmd = [sys.executable, "-m", "video_to_motion.core.worker", str(video), "-o", str(out), "--estimator", estimator,
           "--start-frame", str(start), "--end-frame", str(end), "--detect-every", str(detect_every)]
    if detector:
        cmd += ["--detector", detector]
    env = dict(os.environ)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        errors = [e for e in events if e["event"] == "error"]
        raise SystemExit(f"worker failed (exit {proc.returncode}): {errors}")
    stages: dict[str, dict] = {}
    for e in events:
        if e["event"] == "progress":
            stages[e["stage"]] = e  # the last one of each stage
    infos = {k: v for e in events if e["event"] == "info" for k, v in e.items() if k != "event"}
    warnings = [e["message"] for e in events if e["event"] == "warning"]
    return {"wall": wall, "stages": stages, "info": infos, "warnings": warnings}


def root_paths(motion) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """track -> (frames [N], pelvis positions [N,3] in the camera frame), as written."""
    out = {}
    for t in motion.track_list():
        rows = motion.rows_of_track(t)
        out[t] = (motion.frame_ids[rows], motion.trans[rows].astype(np.float64) + motion.rest_joints[rows, 0])
    return out


def smoothed_root_paths(motion) -> dict[int, tuple[np.ndarray, np.ndarray]] | None:
    """The same after the add-on's default root smoothing (None when that code is absent)."""
    try:
        from video_to_motion.core.common.keyframes import track_keys
        from video_to_motion.core.common.smoothing import OneEuro
    except ImportError:
        return None
    settings = OneEuro.from_strength(ADDON_ROOT_SMOOTHING)
    out = {}
    for t in motion.track_list():
        keys = track_keys(motion, t, root_smoothing=settings)
        out[t] = (keys.frames, keys.trans + keys.row_rest_joints[:, 0])
    return out


def max_consecutive_jump(frames: np.ndarray, points: np.ndarray) -> float:
    consecutive = np.diff(frames) == 1
    if not consecutive.any():
        return 0.0
    return float(np.linalg.norm(np.diff(points, axis=0), axis=1)[consecutive].max())


def bone_change(motion, rows: np.ndarray) -> float:
    """Largest change (m) of any bone's length over the rows of one track."""
    from video_to_motion.core.common import rotations
    from video_to_motion.core.common.skeleton import PARENTS, forward_kinematics

    rot = rotations.axis_angle_to_matrix(motion.poses[rows].reshape(-1, 24, 3).astype(np.float64))
    joints = forward_kinematics(rot, motion.rest_joints[rows].astype(np.float64), motion.trans[rows])
    lengths = np.linalg.norm(joints[:, 1:] - joints[:, PARENTS[1:]], axis=-1)
    return float(np.ptp(lengths, axis=0).max()) if len(rows) > 1 else 0.0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--video", type=Path,
                   default=Path(os.environ.get("VTM_SAMPLE_DATA") or REPO / "sample_data") / "vtest.avi")
    p.add_argument("--start", type=int, default=0)
    p.add_argument("--end", type=int, default=200, help="last frame (inclusive)")
    p.add_argument("--estimator", default="blazepose")
    p.add_argument("--detector", help="detector weights (default: the worker's)")
    p.add_argument("--detect-every", type=int, default=1, help="the worker's --detect-every (default 1)")
    p.add_argument("--keep", type=Path, help="keep the motion file here")
    p.add_argument("--motion", type=Path, help="check this motion file (e.g. the demo's) instead of running the worker")
    args = p.parse_args()
    if args.motion is not None:
        from video_to_motion.core.common.motion import MotionFormatError, read_motion

        try:
            motion = read_motion(args.motion)
        except (OSError, MotionFormatError) as exc:
            print(f"cannot read the motion file: {exc}", file=sys.stderr)
            return 2
        return check(motion, f"motion file {args.motion}", None)
    if not args.video.is_file():
        print(f"no video at {args.video}; run scripts/get_sample_data.sh or pass --video", file=sys.stderr)
        return 2

    from video_to_motion.core.common.motion import read_motion

    with tempfile.TemporaryDirectory() as tmp:
        out = args.keep or Path(tmp) / "motion.npz"
        run = run_worker(args.video, out, args.start, args.end, args.estimator, args.detector, args.detect_every)
        motion = read_motion(out)
    return check(motion, f"video {args.video.name}, frames {args.start}-{args.end}", run,
                 f", detector on every {args.detect_every} frame(s)")


def check(motion, source: str, run: dict | None, detail: str = "") -> int:
    """Print the per-track table and the criteria; 0 when all pass."""
    frames = f", rows in frames {motion.frame_ids.min()}-{motion.frame_ids.max()}" if motion.num_rows else ""
    print(f"{source}{frames if run is None else ''}, estimator {motion.estimator}{detail}")
    if run is None:
        run = {"info": {}, "warnings": [], "wall": None, "stages": {}}
    for key in ("detector", "pose_model", "skeleton"):
        if key in run["info"]:
            print(f"  {key}: {run['info'][key]}")
    for w in run["warnings"]:
        print(f"  warning: {w[:160]}{'...' if len(w) > 160 else ''}")
    if run["wall"] is not None:
        print(f"worker wall time {run['wall']:.1f} s; stage rates (frames/s): "
              + ", ".join(f"{s} {e['fps']}" for s, e in run["stages"].items() if e.get("fps") is not None))

    raw = root_paths(motion)
    smooth = smoothed_root_paths(motion)
    finite = all(np.all(np.isfinite(getattr(motion, k))) for k in ("poses", "betas", "trans", "rest_joints",
                                                                      "bboxes", "scores"))
    print()
    print(f"{'track':>5} {'frames':>6} {'span':>9} {'bone change (mm)':>16} {'max root jump raw (m)':>21} "
          f"{'smoothed (m)':>12}")
    long_tracks, worst_bone, worst_raw, worst_smooth = 0, 0.0, 0.0, 0.0
    for t in motion.track_list():
        rows = motion.rows_of_track(t)
        frames, pelvis = raw[t]
        bone = bone_change(motion, rows)
        jump = max_consecutive_jump(frames, pelvis)
        jump_s = max_consecutive_jump(*smooth[t]) if smooth is not None else float("nan")
        long_tracks += len(rows) >= MIN_TRACK_FRAMES
        worst_bone = max(worst_bone, bone)
        worst_raw = max(worst_raw, jump)
        worst_smooth = max(worst_smooth, jump_s) if smooth is not None else worst_smooth
        print(f"{t:>5} {len(rows):>6} {f'{frames[0]}-{frames[-1]}':>9} {bone * 1000:>16.4f} {jump:>21.3f} "
              f"{jump_s:>12.3f}")

    checks = [
        (f"tracks with >= {MIN_TRACK_FRAMES} frames: {long_tracks} (need >= {MIN_TRACKS})", long_tracks >= MIN_TRACKS),
        (f"bone lengths constant per track: largest change {worst_bone * 1000:.4f} mm", worst_bone <= MAX_BONE_CHANGE),
        (f"no NaN/inf in the motion: {'none found' if finite else 'FOUND'}", finite),
        (f"max root jump between consecutive frames, as written: {worst_raw:.3f} m", None),
    ]
    if smooth is not None:
        checks.append((f"max root jump after the add-on's root smoothing ({ADDON_ROOT_SMOOTHING}): "
                       f"{worst_smooth:.3f} m (need <= {MAX_ROOT_JUMP})", worst_smooth <= MAX_ROOT_JUMP))
    else:
        checks.append((f"add-on root smoothing (video_to_motion.core.common.smoothing/video_to_motion.core.common.keyframes) not present: the raw figure "
                       f"{worst_raw:.3f} m is the one to compare with {MAX_ROOT_JUMP}", worst_raw <= MAX_ROOT_JUMP))
    print()
    ok = True
    for text, passed in checks:
        mark = "    " if passed is None else ("PASS" if passed else "FAIL")
        ok &= passed is not False
        print(f"{mark}  {text}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
