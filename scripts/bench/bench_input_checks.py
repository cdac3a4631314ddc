"""What the checks on files from elsewhere cost: each checked path beside the unchecked one it replaced.

    python scripts/bench/bench_input_checks.py [--video VIDEO] [--frames 10000] [--repeat 3]

Prints one table, the best of `--repeat` alternating runs per row (wall clock, seconds):
  * detector weights: ultralytics loading the shipped fallback detector directly (unchecked)
    against the restricted check of a private copy followed by the same load;
  * video probe: reading the first frame only (unchecked) against the first frames' timestamps
    walked for a variable frame rate;
  * decoding: a plain `cv2.VideoCapture.read` loop (unchecked) against `iter_frames`
    (upright frames, timestamp frame numbers, damaged frames skipped);
  * motion file: `np.load` (unchecked) against the size-checked reader, on a motion of
    `--frames` frames x 2 tracks.
The video defaults to Debian's vtest.avi ($VTM_SAMPLE_DATA or sample_data/).
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np


def pair(unchecked, checked, repeat: int) -> tuple[float, float]:
    """Best times of the two, run alternately (a busy machine slows both alike)."""
    times: tuple[list, list] = ([], [])
    for _ in range(repeat):
        for fn, out in ((unchecked, times[0]), (checked, times[1])):
            t = time.perf_counter()
            fn()
            out.append(time.perf_counter() - t)
    return min(times[0]), min(times[1])


def bench_detector(repeat: int):
    from video_to_motion.core.worker.detection import _import_yolo, fallback_weights
    from video_to_motion.core.worker.safe_weights import checked_copy

    weights = fallback_weights()
    if weights is None:
        return None
    YOLO = _import_yolo()
    YOLO(str(weights), task="detect", verbose=False)  # imports and caches warmed

    def checked():
        with checked_copy(weights, "weights") as copy:
            YOLO(str(copy), task="detect", verbose=False)

    return (f"detector weights ({weights.stat().st_size / 2 ** 20:.1f} MB)",
            *pair(lambda: YOLO(str(weights), task="detect", verbose=False), checked, repeat))


def bench_video(video: Path, repeat: int):
    import cv2

    from video_to_motion.core.worker import video as video_mod

    def first_frame():
        cap = cv2.VideoCapture(str(video))
        cap.read()
        cap.release()

    def plain_read():
        cap = cv2.VideoCapture(str(video))
        while cap.read()[0]:
            pass
        cap.release()

    count = sum(1 for _ in video_mod.iter_frames(video, decode=False))
    return [(f"video probe ({video.name})", *pair(first_frame, lambda: video_mod.probe(video), repeat)),
            (f"decode {count} frames ({video.name})",
             *pair(plain_read, lambda: sum(1 for _ in video_mod.iter_frames(video)), repeat))]


def bench_motion(frames: int, repeat: int):
    from video_to_motion.core.common.motion import Motion, load_arrays, write_motion
    from video_to_motion.core.common.skeleton import DEFAULT_REST_JOINTS

    n = frames * 2
    rng = np.random.default_rng(0)
    motion = Motion(estimator="bench", fps=30.0, image_size=(1920, 1080), focal_length=1500.0,
                    frame_ids=np.tile(np.arange(frames, dtype=np.int32), 2),
                    track_ids=np.repeat(np.arange(1, 3, dtype=np.int32), frames),
                    poses=rng.normal(scale=0.3, size=(n, 72)).astype(np.float32), betas=np.zeros((n, 10), np.float32),
                    trans=rng.normal(size=(n, 3)).astype(np.float32),
                    rest_joints=np.broadcast_to(DEFAULT_REST_JOINTS, (n, 24, 3)).astype(np.float32),
                    bboxes=np.ones((n, 4), np.float32), scores=np.ones(n, np.float32))
    with tempfile.TemporaryDirectory(prefix="vtm_bench_") as tmp:
        path = write_motion(Path(tmp) / "m.npz", motion)

        def plain():
            with np.load(path, allow_pickle=False) as data:
                return {k: data[k] for k in data.files}

        return (f"motion file ({frames} frames x 2 tracks, {path.stat().st_size / 2 ** 20:.1f} MB)",
                *pair(plain, lambda: load_arrays(path), repeat))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path,
                        default=Path(os.environ.get("VTM_SAMPLE_DATA") or "sample_data") / "vtest.avi")
    parser.add_argument("--frames", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("YOLO_OFFLINE", "1")
    rows = []
    detector = bench_detector(args.repeat)
    if detector:
        rows.append(detector)
    if args.video.is_file():
        rows += bench_video(args.video, args.repeat)
    rows.append(bench_motion(args.frames, args.repeat))
    width = max(len(r[0]) for r in rows)
    print(f"{'what':<{width}} | unchecked s | checked s | added s")
    print(f"{'-' * width}-|-------------|-----------|--------")
    for what, before, after in rows:
        print(f"{what:<{width}} | {before:11.3f} | {after:9.3f} | {after - before:+7.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
