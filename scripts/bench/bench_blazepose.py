#!/usr/bin/env python
"""Speed of the default (BlazePose) estimator per stage, on real footage.

    python scripts/bench/bench_blazepose.py [--video sample_data/vtest.avi] [--frames 60] [--start 0]
                                      [--detect-every 2] [--hd]

Runs the stages of `video_to_motion.core.estimators.blazepose.estimator` one after the other on the same frames and
prints a table: decoding, person detection + tracking (the detector the worker would
use), cropping, BlazePose in video mode (the estimator's choice) and in static mode, and
the solve (front/back readings, SMPL targets, IK, translation fit); BlazePose is also
timed on the track it followed best, alone (one MediaPipe graph following one person:
the case of a one-person video). Wall and CPU time
(all threads) are both shown: on a shared machine wall time includes waiting. With
--hd the frames are also written to a 1280x720 video first and decoding is timed on that.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]


class Timer:
    def __init__(self):
        self.wall = 0.0
        self.cpu = 0.0

    def __enter__(self):
        self._w, self._c = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall += time.perf_counter() - self._w
        self.cpu += time.process_time() - self._c


def row(name: str, timer: Timer, frames: int, crops: int | None = None) -> str:
    per_frame = 1000 * timer.wall / max(frames, 1)
    per_crop = f"{1000 * timer.wall / crops:8.1f}" if crops else f"{'':>8}"
    return (f"{name:<34} {frames:>6} {crops if crops is not None else '':>6} {timer.wall:>8.2f} {timer.cpu:>8.2f} "
            f"{per_frame:>9.1f} {per_crop} {frames / max(timer.wall, 1e-9):>7.1f}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--video", type=Path,
                   default=Path(os.environ.get("VTM_SAMPLE_DATA") or REPO / "sample_data") / "vtest.avi")
    p.add_argument("--frames", type=int, default=60)
    p.add_argument("--start", type=int, default=0)
    p.add_argument("--detect-every", type=int, default=2)
    p.add_argument("--detector", help="detector weights (default: what the worker uses)")
    p.add_argument("--hd", action="store_true", help="also time decoding a 1280x720 copy")
    args = p.parse_args()
    if not args.video.is_file():
        print(f"no video at {args.video}; run scripts/get_sample_data.sh or pass --video", file=sys.stderr)
        return 2
    os.environ.setdefault("YOLO_OFFLINE", "1")

    import cv2

    from video_to_motion.core.worker.crops import crop_square, square_box
    from video_to_motion.core.worker.detection import PersonDetector
    from video_to_motion.core.estimators import WorkerOptions, RunContext
    from video_to_motion.core.estimators import blazepose as bp
    from video_to_motion.core.estimators.blazepose.mediapipe_pose import BlazePoseCrops
    from video_to_motion.core.estimators.blazepose.root_fit import crop_camera_rotation
    from video_to_motion.core.common.camera import default_focal_length
    from video_to_motion.core.worker.tracks import detect_and_track, postprocess
    from video_to_motion.core.worker.video import iter_frames, probe

    info = probe(args.video)
    stop = args.start + args.frames
    every = args.detect_every
    timers = {k: Timer() for k in ("decode", "decode_hd", "detect", "crop", "video", "static", "solve")}

    with timers["decode"]:
        frames = [f for _, f in iter_frames(args.video, args.start, stop)]
    n = len(frames)
    if args.hd:
        with tempfile.TemporaryDirectory() as tmp:
            hd = Path(tmp) / "hd.mp4"
            writer = cv2.VideoWriter(str(hd), cv2.VideoWriter_fourcc(*"mp4v"), info.fps, (1280, 720))
            for f in frames:
                writer.write(cv2.resize(f, (1280, 720)))
            writer.release()
            with timers["decode_hd"]:
                for _ in iter_frames(hd, 0, None):
                    pass

    warnings: list[str] = []
    run = RunContext(video=info, start_frame=args.start, stop_frame=stop, progress=lambda *a: None,
                     warn=warnings.append, info=lambda **k: None)
    detector = PersonDetector(args.detector, "cpu", warnings.append)
    with timers["detect"]:
        tracks = postprocess(detect_and_track(run, detector, batch_size=bp.DETECT_BATCH, detect_every=every))
    per_frame = tracks.per_frame()
    focal = default_focal_length(info.width, info.height)

    crops = []  # (frame index, track id, crop, affine, centre)
    with timers["crop"]:
        for offset, frame in enumerate(frames):
            for track_id, r in per_frame.get(args.start + offset, ()):
                center, side = square_box(tracks[track_id].boxes[r], bp.CROP_SCALE)
                crop, m = crop_square(frame, center, float(side), bp.CROP_SIZE, rgb=True)
                crops.append((offset, track_id, crop, m, center))

    timers["one"] = Timer()
    found: dict[str, dict[int, list]] = {}
    for mode, static in (("video", False), ("static", True), ("one", False)):
        if mode == "one":  # the person BlazePose followed best, alone
            longest = max(found["video"], key=lambda t: len(found["video"][t]))
        subset = crops if mode != "one" else [c for c in crops if c[1] == longest]
        found[mode] = {}
        # As the estimator runs it: MediaPipe's causal landmark filter off.
        with BlazePoseCrops(static_mode=static, smooth_landmarks=False) as pose, timers[mode]:
            for offset, track_id, crop, m, center in subset:
                result = pose.process(track_id, crop, m)
                if result is not None and not bp.fits_box(result.image, _box_of(tracks[track_id], args.start + offset)):
                    pose.close_stream(track_id)  # as the estimator does
                    result = None
                if result is not None:
                    rot = crop_camera_rotation(center, (info.width, info.height), focal)
                    found[mode].setdefault(track_id, []).append((args.start + offset, result, rot))

    estimator = bp.BlazePoseEstimator(WorkerOptions())
    poses = 0
    with timers["solve"]:
        for track_id, items in found["video"].items():
            obs = bp._TrackLandmarks()
            for frame_id, result, rot in items:
                obs.frames.append(frame_id)
                obs.rows.append(int(np.flatnonzero(tracks[track_id].frames == frame_id)[0]))
                obs.image.append(result.image)
                obs.world.append(result.world)
                obs.visibility.append(result.visibility)
                obs.crop_rotation.append(rot)
            estimator._track_motion(tracks[track_id], obs, focal, (info.width, info.height), info.fps)
            poses += len(items)

    accepted = {m: sum(len(v) for v in found[m].values()) for m in found}
    print(f"video {args.video.name} {info.width}x{info.height}, frames {args.start}-{stop - 1} ({n}), "
          f"{len(tracks)} tracks, {len(crops)} person crops of {bp.CROP_SIZE}x{bp.CROP_SIZE}")
    print(f"detector: {detector.source}, every {every} frame(s); machine: {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} CPU(s)")
    print()
    print(f"{'stage':<34} {'frames':>6} {'crops':>6} {'wall s':>8} {'CPU s':>8} {'ms/frame':>9} {'ms/crop':>8} {'fps':>7}")
    print(row("decode (OpenCV)", timers["decode"], n))
    if args.hd:
        print(row("decode 1280x720 copy", timers["decode_hd"], n))
    print(row(f"detect + track (every {every})", timers["detect"], n))
    print(row("crop + upscale", timers["crop"], n, len(crops)))
    print(row(f"BlazePose video mode ({accepted['video']} ok)", timers["video"], n, len(crops)))
    print(row(f"BlazePose static mode ({accepted['static']} ok)", timers["static"], n, len(crops)))
    one_crops = sum(c[1] == longest for c in crops)
    print(row(f"  best-followed track alone ({accepted['one']} ok)", timers["one"], one_crops, one_crops))
    print(row("solve (readings, IK, translation)", timers["solve"], n, poses))
    print()
    one_person = (timers["crop"].wall + timers["solve"].wall) / max(len(crops), 1) + timers["one"].wall / one_crops
    detect = timers["detect"].wall / max(n, 1)
    decode = (timers["decode_hd"] if args.hd else timers["decode"]).wall / max(n, 1)
    print(f"one person (that track), per frame: decode {1000 * decode:.1f} ms + detect {1000 * detect:.1f} ms "
          f"+ crop, pose and solve {1000 * one_person:.1f} ms = {1 / (decode + detect + one_person):.1f} fps")
    return 0


def _box_of(track, frame_id: int) -> np.ndarray:
    return track.boxes[int(np.flatnonzero(track.frames == frame_id)[0])]


if __name__ == "__main__":
    sys.exit(main())
