#!/usr/bin/env python
"""Accuracy and coverage of the default (BlazePose) estimator on real frames labelled by people.

    python scripts/bench/get_estimator_data.py DATA          # once (see estimator_data.json)
    python scripts/bench/bench_estimator.py --data DATA [--datasets coco h36m] [--frames 8] [--detector-size PX]

Data: the test data of a public repository (scripts/bench/estimator_data.json records
repo, commit, path and sha256 of every file): COCO and PoseTrack18 frames with 2D joints
(several people, crowds), MPII frames with one labelled person each (others in the
picture are not labelled), OCHuman frames of people hidden behind each other, Human3.6M
and MPI-INF-3DHP frames with 2D and 3D joints (camera frame, metres).

Each labelled image becomes a still clip (--frames frames at 10 fps, written with OpenCV)
and goes through the estimator as the worker runs it: the worker's detector and tracker
(offline: the shipped fallback), BlazePose on the track crops, the solve, and the
same-person filter of the worker's front door. The middle frame is scored.

A labelled person counts when at least 8 of the 12 limb joints (shoulders, elbows,
wrists, hips, knees, ankles) are labelled. Each is matched to at most one posed row of
that frame (greedy, by the median distance of BlazePose's landmarks to the labels; a
match needs it below 0.2 x the person's labelled height). Columns:
  people     labelled people;  posed: matched, coverage: posed / people
  smpl px    mean distance (pixels) of the SMPL joints, projected with the motion's
             camera, to the labelled joints (12 joints; SMPL's hips and shoulders sit a
             little elsewhere than a labeller's, which is in the figure)
  lm px      the same for BlazePose's landmarks the SMPL body was fitted to
  PCK        % of joints within 0.2 x the labelled torso (left shoulder to right hip)
  PA / MPJPE (3D sets) mm over the 12 joints, after a similarity (Procrustes) alignment,
             and after aligning the hips' midpoint; "lm" rows: BlazePose's world landmarks
CPU seconds per stage (all threads, summed over the clips) follow the table.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
CLIP_FPS = 10.0
MIN_LABELLED = 8
MATCH_FRACTION = 0.2
PCK_FRACTION = 0.2

# The 12 limb joints in one order: l/r shoulder, elbow, wrist, hip, knee, ankle.
JOINT_NAMES = ("l_shoulder", "r_shoulder", "l_elbow", "r_elbow", "l_wrist", "r_wrist",
               "l_hip", "r_hip", "l_knee", "r_knee", "l_ankle", "r_ankle")
SMPL_IDS = [16, 17, 18, 19, 20, 21, 1, 2, 4, 5, 7, 8]
BLAZEPOSE_IDS = [11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28]
COCO_IDS = [5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]
MPII_IDS = [13, 12, 14, 11, 15, 10, 3, 2, 4, 1, 5, 0]
H36M_IDS = [11, 14, 12, 15, 13, 16, 4, 1, 5, 2, 6, 3]
MPI_INF_3DHP_IDS = [5, 2, 6, 3, 7, 4, 11, 8, 12, 9, 13, 10]
L_SHOULDER, R_HIP = 0, 7


def _person(kp2d, visible, kp3d=None) -> dict:
    kp2d = np.asarray(kp2d, np.float64)
    seen = kp2d[visible]
    height = float(np.ptp(seen[:, 1])) if len(seen) else 0.0
    return {"kp2d": kp2d, "visible": np.asarray(visible, bool), "kp3d": kp3d, "height": max(height, 1.0)}


def load_coco_like(data: Path, annotations: str, image_dir: str) -> list[tuple[Path, list[dict]]]:
    """COCO-format keypoint annotations -> [(image, people)]."""
    spec = json.loads((data / annotations).read_text())
    people: dict[int, list[dict]] = {}
    for a in spec["annotations"]:
        kp = np.asarray(a["keypoints"], np.float64).reshape(-1, 3)[COCO_IDS]
        visible = kp[:, 2] > 0
        if visible.sum() >= MIN_LABELLED:
            people.setdefault(a["image_id"], []).append(_person(kp[:, :2], visible))
    return [(data / image_dir / im["file_name"], people.get(im["id"], [])) for im in spec["images"]]


def load_mpii(data: Path, annotations: str, image_dir: str) -> list[tuple[Path, list[dict]]]:
    """MPII-format annotations (one labelled person per entry; unlabelled joints at -1) -> [(image, people)]."""
    people: dict[str, list[dict]] = {}
    for a in json.loads((data / annotations).read_text()):
        kp = np.asarray(a["joints"], np.float64)[MPII_IDS]
        visible = (np.asarray(a["joints_vis"])[MPII_IDS] > 0) & np.all(kp >= 0, axis=-1)
        if visible.sum() >= MIN_LABELLED:
            people.setdefault(a["image"], []).append(_person(kp, visible))
    return [(data / image_dir / name, found) for name, found in people.items()]


def load_3d(data: Path, archive: str, image_dir: str, ids: list[int]) -> list[tuple[Path, list[dict]]]:
    """mmpose's body3d archives (imgname, part [N,17,3] px, S [N,17,4] camera metres)."""
    arrays = np.load(data / archive)
    out = []
    for name, part, s in zip(arrays["imgname"], arrays["part"], arrays["S"]):
        out.append((data / image_dir / str(name), [_person(part[ids, :2], part[ids, 2] > 0, s[ids, :3])]))
    return out


DATASETS = {
    "coco": lambda d: load_coco_like(d, "tests/data/coco/test_coco.json", "tests/data/coco"),
    "posetrack18": lambda d: load_coco_like(d, "tests/data/posetrack18/annotations/test_posetrack18_val.json",
                                            "tests/data/posetrack18"),
    "mpii": lambda d: load_mpii(d, "tests/data/mpii/test_mpii.json", "tests/data/mpii"),
    "ochuman": lambda d: load_coco_like(d, "tests/data/ochuman/test_ochuman.json", "tests/data/ochuman"),
    "h36m": lambda d: load_3d(d, "tests/data/h36m/test_h36m_body3d.npz", "tests/data/h36m", H36M_IDS),
    "mpi_inf_3dhp": lambda d: load_3d(d, "tests/data/mpi_inf_3dhp/test_3dhp_test.npz", "tests/data/mpi_inf_3dhp",
                                      MPI_INF_3DHP_IDS),
}


def still_clip(image: Path, out: Path, frames: int) -> None:
    import cv2

    frame = cv2.imread(str(image))
    if frame is None:
        raise SystemExit(f"cannot read {image}; rebuild the data with scripts/bench/get_estimator_data.py")
    h, w = frame.shape[:2]
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"MJPG"), CLIP_FPS, (w, h))
    for _ in range(frames):
        writer.write(frame)
    writer.release()


def procrustes_error(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean joint distance after the best similarity transform of pred [K,3] onto target [K,3]."""
    p, t = pred - pred.mean(0), target - target.mean(0)
    u, s, vt = np.linalg.svd(p.T @ t)
    d = np.sign(np.linalg.det(u @ vt))
    s[-1] *= d
    u[:, -1] *= d
    rot = u @ vt
    scale = s.sum() / max((p**2).sum(), 1e-12)
    return float(np.linalg.norm(scale * p @ rot - t, axis=-1).mean())


def root_error(pred: np.ndarray, target: np.ndarray) -> float:
    """Mean joint distance after aligning the hips' midpoints. [K,3] each."""
    hips = [6, 7]
    return float(np.linalg.norm((pred - pred[hips].mean(0)) - (target - target[hips].mean(0)), axis=-1).mean())


def smpl_joints(motion, rows: np.ndarray) -> np.ndarray:
    """Camera-frame SMPL joints [R,24,3] of motion rows."""
    from video_to_motion.core.common import rotations
    from video_to_motion.core.common.skeleton import forward_kinematics

    rot = rotations.axis_angle_to_matrix(motion.poses[rows].reshape(-1, 24, 3).astype(np.float64))
    return forward_kinematics(rot, motion.rest_joints[rows], motion.trans[rows].astype(np.float64))


def score_image(motion, world_lm: dict, people: list[dict], frame: int) -> list[dict]:
    """Per labelled person: matched or not, and its errors."""
    rows = np.flatnonzero(motion.frame_ids == frame)
    lm2d = motion.extras["landmarks_2d"][rows][:, BLAZEPOSE_IDS].astype(np.float64)
    joints = smpl_joints(motion, rows)
    principal = np.asarray(motion.image_size, np.float64) / 2
    proj = motion.focal_length * joints[..., :2] / np.maximum(joints[..., 2:], 1e-6) + principal
    pairs = []
    for i, person in enumerate(people):
        for r in range(len(rows)):
            err = np.median(np.linalg.norm(lm2d[r] - person["kp2d"], axis=-1)[person["visible"]])
            pairs.append((err, i, r))
    taken_p, taken_r, result = set(), set(), [{"posed": False} for _ in people]
    for err, i, r in sorted(pairs):
        if i in taken_p or r in taken_r or err > MATCH_FRACTION * people[i]["height"]:
            continue
        taken_p.add(i)
        taken_r.add(r)
        person, vis = people[i], people[i]["visible"]
        smpl_d = np.linalg.norm(proj[r, SMPL_IDS] - person["kp2d"], axis=-1)[vis]
        lm_d = np.linalg.norm(lm2d[r] - person["kp2d"], axis=-1)[vis]
        entry = {"posed": True, "smpl_d": smpl_d, "lm_d": lm_d}
        if vis[L_SHOULDER] and vis[R_HIP]:
            entry["torso"] = float(np.linalg.norm(person["kp2d"][L_SHOULDER] - person["kp2d"][R_HIP]))
        if person["kp3d"] is not None:
            pred = joints[r, SMPL_IDS]
            entry["smpl_pa"] = procrustes_error(pred, person["kp3d"])
            entry["smpl_mpjpe"] = root_error(pred, person["kp3d"])
            key = (int(motion.track_ids[rows[r]]), frame)
            if key in world_lm:
                entry["lm_pa"] = procrustes_error(world_lm[key], person["kp3d"])
                entry["lm_mpjpe"] = root_error(world_lm[key], person["kp3d"])
        result[i] = entry
    return result


class StageClock:
    """CPU time (all threads) of the estimator's stages, by wrapping its methods."""

    def __init__(self):
        self.cpu: dict[str, float] = {}

    def wrap(self, owner, name: str, stage: str):
        original = getattr(owner, name)

        def timed(*args, **kwargs):
            c = time.process_time()
            try:
                return original(*args, **kwargs)
            finally:
                self.cpu[stage] = self.cpu.get(stage, 0.0) + time.process_time() - c

        setattr(owner, name, timed)


def run_clip(clip: Path, clock: StageClock, world_lm: dict, detector_size: int):
    from video_to_motion.core.estimators import RunContext
    from video_to_motion.core.estimators.blazepose import estimator as bp
    from video_to_motion.core.common.options import WorkerOptions
    from video_to_motion.core.worker.same_person import without_repeats
    from video_to_motion.core.worker.video import probe, resolve_range

    options = WorkerOptions(detector_size=detector_size)
    info = probe(clip)
    start, stop = resolve_range(info, None, None)
    run = RunContext(video=info, start_frame=start, stop_frame=stop, progress=lambda *a: None,
                     warn=lambda *a: None, info=lambda *a, **k: None)
    est = bp.BlazePoseEstimator(options)
    landmarks_pass = est._landmarks_pass

    def capture(*args, **kwargs):
        found = landmarks_pass(*args, **kwargs)
        for tid, obs in found.items():
            for frame, world, rot in zip(obs.frames, obs.world, obs.crop_rotation):
                world_lm[(tid, frame)] = (world @ rot.T)[BLAZEPOSE_IDS]
        return found

    est._landmarks_pass = capture
    c = time.process_time()
    try:
        motion = est.estimate(run)
    except bp.EstimatorError:
        motion = None
    clock.cpu["worker total"] = clock.cpu.get("worker total", 0.0) + time.process_time() - c
    if motion is not None:
        motion, _ = without_repeats(motion)
    return motion


def summarise(name: str, scores: list[dict]) -> list[str]:
    posed = [s for s in scores if s["posed"]]
    n = len(scores)

    def px(key):
        return float(np.mean(np.concatenate([s[key] for s in posed]))) if posed else float("nan")

    def pck(key):
        hits = [np.mean(s[key] <= PCK_FRACTION * s["torso"]) for s in posed if "torso" in s]
        return 100 * float(np.mean(hits)) if hits else float("nan")

    def mm(key):
        vals = [s[key] for s in posed if key in s]
        return f"{1000 * np.mean(vals):7.1f}" if vals else f"{'-':>7}"

    cov = 100 * len(posed) / max(n, 1)
    return [f"{name:<14} {n:>6} {len(posed):>6} {cov:>7.1f}% {'smpl':>5} {px('smpl_d'):>8.1f} {pck('smpl_d'):>7.1f} "
            f"{mm('smpl_pa')} {mm('smpl_mpjpe')}",
            f"{'':<14} {'':>6} {'':>6} {'':>8} {'lm':>5} {px('lm_d'):>8.1f} {pck('lm_d'):>7.1f} "
            f"{mm('lm_pa')} {mm('lm_mpjpe')}"]


def main() -> int:
    from video_to_motion.core.common.options import DETECTOR_SIZE

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, required=True, help="folder rebuilt by get_estimator_data.py")
    p.add_argument("--datasets", nargs="+", choices=sorted(DATASETS), default=list(DATASETS))
    p.add_argument("--frames", type=int, default=8, help="length of each still clip")
    p.add_argument("--detector-size", type=int, default=DETECTOR_SIZE,
                   help=f"the worker's --detector-size (default: the worker's own, {DETECTOR_SIZE})")
    args = p.parse_args()
    os.environ.setdefault("YOLO_OFFLINE", "1")
    from video_to_motion.core.estimators.blazepose import estimator as bp

    clock = StageClock()
    clock.wrap(bp.BlazePoseEstimator, "_landmarks_pass", "BlazePose landmarks")
    clock.wrap(bp.BlazePoseEstimator, "_track_motion", "solve (IK, fit, root)")
    import video_to_motion.core.worker.tracks as tracks_module
    clock.wrap(tracks_module, "find_people", "detect + track")
    fit_module = getattr(bp, "fit", None)
    if fit_module is not None:
        clock.wrap(fit_module, "fit_track", "  of which SMPL fitting")

    lines, all_scores = [], []
    eval_frame = args.frames // 2
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.datasets:
            scores = []
            for k, (image, people) in enumerate(DATASETS[name](args.data)):
                if not people:
                    continue
                clip = Path(tmp) / f"{name}_{k}.avi"
                still_clip(image, clip, args.frames)
                world_lm: dict = {}
                motion = run_clip(clip, clock, world_lm, args.detector_size)
                if motion is None:
                    scores += [{"posed": False} for _ in people]
                else:
                    scores += score_image(motion, world_lm, people, eval_frame)
            lines += summarise(name, scores)
            all_scores += scores
    lines += summarise("all", all_scores)
    print(f"{'dataset':<14} {'people':>6} {'posed':>6} {'coverage':>8} {'':>5} {'2D px':>8} {'PCK@.2':>7} "
          f"{'PA mm':>7} {'MPJPE':>7}")
    print("\n".join(lines))
    print("\nCPU seconds per stage (all threads, all clips):")
    total = clock.cpu.get("worker total", 0.0)
    order = ["detect + track", "BlazePose landmarks", "solve (IK, fit, root)", "  of which SMPL fitting",
             "worker total"]
    for stage in sorted(clock.cpu, key=lambda k: order.index(k) if k in order else len(order)):
        sec = clock.cpu[stage]
        print(f"  {stage:<28} {sec:8.2f}  {100 * sec / max(total, 1e-9):5.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
