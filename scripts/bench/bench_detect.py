#!/usr/bin/env python
"""Person detector + tracker speed on real footage: frames/s at two input sizes and batch sizes.

    python scripts/bench/bench_detect.py [--video sample_data/vtest.avi] [--frames 32] [--device cpu]
                                   [--detector WEIGHTS] [--imgsz 320 640] [--batch 1 8]

Uses the same weights the worker would (yolo11n.pt, or the offline fallback) unless
--detector names others. Each configuration gets a fresh detector (fresh tracker), one
warm-up batch, then `--frames` consecutive frames timed through `PersonDetector.track`; the
fastest of `--repeats` passes counts (the machine may be shared).
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--video", type=Path,
                   default=Path(os.environ.get("VTM_SAMPLE_DATA") or REPO / "sample_data") / "vtest.avi")
    p.add_argument("--frames", type=int, default=32, help="timed frames per configuration")
    p.add_argument("--start", type=int, default=100, help="first frame used")
    p.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda"))
    p.add_argument("--detector", help="detector weights (default: what the worker uses)")
    p.add_argument("--repeats", type=int, default=2, help="timed passes per configuration; the fastest counts")
    p.add_argument("--imgsz", type=int, nargs="+", default=[320, 640])
    p.add_argument("--batch", type=int, nargs="+", default=[1, 8])
    args = p.parse_args()

    import cv2
    import torch

    from video_to_motion.core.worker.detection import PersonDetector
    from video_to_motion.core.worker.video import iter_frames

    if not args.video.is_file():
        print(f"no video at {args.video}; run scripts/get_sample_data.sh or pass --video", file=sys.stderr)
        return 1
    warm = max(args.batch)
    frames = [f for _, f in iter_frames(args.video, args.start, args.start + warm + args.frames)]
    notes: list[str] = []
    rows = []
    source = ""
    for imgsz in args.imgsz:
        for batch in args.batch:
            timed = frames[warm:warm + args.frames]
            best = float("inf")
            for _ in range(max(1, args.repeats)):
                detector = PersonDetector(args.detector, args.device, notes.append, imgsz=imgsz)
                source = detector.source
                detector.track(frames[:batch])  # warm-up: weights to device, first-call setup
                people = 0
                t0 = time.perf_counter()
                for i in range(0, len(timed), batch):
                    people += sum(len(d) for d in detector.track(timed[i:i + batch]))
                best = min(best, time.perf_counter() - t0)
            rows.append((imgsz, batch, len(timed) / best, best / len(timed), people / len(timed)))

    h, w = frames[0].shape[:2]
    print(f"detector: {source}")
    print(f"video: {args.video.name} ({w}x{h}), {args.frames} frames from {args.start}; device {args.device}; "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, OpenCV {cv2.__version__}; "
          f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    print(f"{'imgsz':>6} {'batch':>6} {'frames/s':>9} {'s/frame':>8} {'people/frame':>13}")
    for imgsz, batch, fps, spf, people in rows:
        print(f"{imgsz:>6} {batch:>6} {fps:>9.2f} {spf:>8.3f} {people:>13.1f}")
    for note in dict.fromkeys(notes):
        print(f"note: {note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
