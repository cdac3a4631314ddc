"""The worker: `python -m video_to_motion.core.worker VIDEO -o OUT.npz [options]`.

Runs an estimator over a video and writes a `vtm.motion/1` file. stdout carries the
JSON-lines protocol (core.protocol) and nothing else; stderr carries the human log.
Exit 0 only when OUT was written; cancelled runs (SIGINT/SIGTERM) exit 130 with no OUT.
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import time
import traceback
from pathlib import Path
from typing import Sequence

from .. import __version__
from ..common.atomic import OutputPathError, check_writable_destination
from .body_model import BodyModelError
from ..estimators import (Cancelled, EstimatorError, EstimatorOptions, RunContext, load_estimator_class,
                         resolve_name)
from ..common.motion import MotionFormatError, write_motion
from .same_person import without_repeats
from ..common.protocol import EXIT_CANCELLED, EXIT_ERROR, EXIT_OK, EventWriter
from .video import VideoError, probe, resolve_range

log = logging.getLogger("vtm.worker")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m video_to_motion.core.worker",
        description="Estimate SMPL motion of the people in a video and write a vtm.motion/1 file.")
    p.add_argument("video", type=Path, help="input video file (anything OpenCV decodes)")
    p.add_argument("-o", "--output", type=Path, required=True, help="output motion file (.npz)")
    p.add_argument("--estimator", default="auto",
                   help="tar, blazepose, or a module:Class path; auto = tar with a checkpoint, else blazepose")
    p.add_argument("--checkpoint", type=Path, help="TAR checkpoint (.pt) made by scripts/train.py")
    p.add_argument("--smpl-model", type=Path, help="SMPL model file (.pkl or .npz)")
    p.add_argument("--detector", help="YOLO detector weights (default: yolo11n.pt, or the offline fallback)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--focal-length", type=float,
                   help="camera focal length in pixels, if known (default: sqrt(width^2 + height^2))")
    p.add_argument("--start-frame", type=int, help="first frame to process (0-based)")
    p.add_argument("--end-frame", type=int, help="last frame to process (0-based, inclusive)")
    p.add_argument("--max-people", type=int, help="keep at most this many tracks (the largest)")
    p.add_argument("--track-id", type=int, help="keep only this track (ids as a previous run reported them)")
    p.add_argument("--detect-every", type=int,
                   help="run the person detector on every k-th frame and interpolate boxes between "
                        "(default: blazepose on a CPU every 0.18 s of video, e.g. 5 at 30 fps; else 1)")
    p.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16", "fp16"),
                   help="network arithmetic: auto = bf16 (or fp16) autocast on a GPU, fp32 on the CPU")
    p.add_argument("--compile", action="store_true",
                   help="compile the network with torch.compile first (slow start; faster on long videos on a GPU)")
    p.add_argument("--version", action="version", version=f"video-to-motion worker {__version__}")
    return p


class _Progress:
    """Turns estimator progress calls into throttled protocol events with a rate."""

    def __init__(self, events: EventWriter, min_interval: float = 0.1):
        self.events = events
        self.min_interval = min_interval
        self._stage: str | None = None
        self._t0 = 0.0
        self._last_emit = 0.0

    def __call__(self, stage: str, done: int, total: int | None) -> None:
        now = time.perf_counter()
        if stage != self._stage:
            self._stage, self._t0, self._last_emit = stage, now, 0.0
        finished = total is not None and done >= total
        if done and not finished and now - self._last_emit < self.min_interval:
            return
        self._last_emit = now
        elapsed = now - self._t0
        fps = done / elapsed if done and elapsed > 0 else None
        self.events.progress(stage, done, total, fps)


def _install_signal_handlers() -> None:
    def cancel(signum, frame):  # noqa: ARG001
        raise Cancelled(signal.Signals(signum).name)

    signal.signal(signal.SIGINT, cancel)
    signal.signal(signal.SIGTERM, cancel)


def _protocol_stream():
    """A private handle on the real stdout; fd 1 and sys.stdout then point at stderr.

    Libraries print to stdout (smplx warns there, ultralytics logs there); the protocol
    must hold JSON lines only, so anything else written to stdout lands on stderr.
    """
    try:
        proto = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1, encoding="utf-8")
        sys.stdout.flush()
        os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):  # stdout is not a real file (embedded use)
        return sys.stdout
    sys.stdout = sys.stderr
    return proto


def run(args: argparse.Namespace, events: EventWriter) -> int:
    progress = _Progress(events)
    try:
        output = check_writable_destination(args.output)
        progress("open", 0, 1)
        info = probe(args.video)
        if not info.fps_from_container:
            events.warning(f"'{args.video}' does not state its frame rate; assuming {info.fps:g} fps")
        start, stop = resolve_range(info, args.start_frame, args.end_frame)
        if args.max_people is not None and args.max_people < 1:
            raise EstimatorError("bad_argument", f"--max-people must be at least 1 (got {args.max_people})")
        if args.focal_length is not None and not args.focal_length > 0:
            raise EstimatorError("bad_argument", f"--focal-length must be a positive number of pixels (got {args.focal_length})")
        if args.detect_every is not None and args.detect_every < 1:
            raise EstimatorError("bad_argument", f"--detect-every must be at least 1 (got {args.detect_every})")
        # A bare name (yolo11s.pt) is the detector library's to download; a path must exist.
        if args.detector and Path(args.detector).parent != Path(".") and not Path(args.detector).is_file():
            raise EstimatorError("detector_not_found", f"detector weights '{args.detector}' do not exist; "
                                 "give a YOLO .pt file or leave --detector out for the default")
        options = EstimatorOptions(checkpoint=args.checkpoint, smpl_model=args.smpl_model, device=args.device,
                                   max_people=args.max_people, track_id=args.track_id, detector=args.detector,
                                   detect_every=args.detect_every, focal_length=args.focal_length,
                                   precision=args.precision, compile=args.compile)
        name = resolve_name(args.estimator, options)
        estimator = load_estimator_class(name)(options)
        events.info(estimator=getattr(estimator, "name", name), video=str(info.path), width=info.width,
                    height=info.height, fps=info.fps, frames=info.frame_count)
        progress("open", 1, 1)
        context = RunContext(video=info, start_frame=start, stop_frame=stop, progress=progress,
                             warn=events.warning, info=events.info, check_cancelled=lambda: None)
        motion = estimator.estimate(context)
        motion, repeats = without_repeats(motion)
        if repeats:
            log.info("dropped track(s) posed on a person another track holds: %s",
                     ", ".join(f"{t} (same as {k})" for t, k in sorted(repeats.items())))
            events.info(same_person={str(t): k for t, k in sorted(repeats.items())})
        progress("write", 0, 1)
        write_motion(output, motion)
        progress("write", 1, 1)
        log.info("wrote %s: %d rows, %d track(s)", output, motion.num_rows, len(motion.track_list()))
        events.done(str(output))
        return EXIT_OK
    except Cancelled as exc:
        events.error("cancelled", f"cancelled by {exc}; no output was written")
        return EXIT_CANCELLED
    except (VideoError, EstimatorError) as exc:
        events.error(exc.code, str(exc))
    except OutputPathError as exc:
        events.error("output_unwritable", str(exc))
    except BodyModelError as exc:
        events.error("smpl_model_invalid", str(exc))
    except MotionFormatError as exc:
        events.error("invalid_motion", f"the estimator produced an invalid motion: {exc}")
    except MemoryError:
        events.error("out_of_memory", "ran out of memory; process a shorter frame range or fewer people")
    except Exception as exc:  # the protocol must always end with an error event
        log.error("%s", traceback.format_exc())
        events.error("internal", f"{type(exc).__name__}: {exc}")
    return EXIT_ERROR


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s: %(message)s")
    events = EventWriter(_protocol_stream())
    _install_signal_handlers()
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        if exc.code not in (0, None):
            events.error("bad_argument", "invalid command line; see the usage message on stderr")
        return int(exc.code or 0)
    try:
        return run(args, events)
    except Cancelled as exc:  # a signal between the run's own handlers
        events.error("cancelled", f"cancelled by {exc}; no output was written")
        return EXIT_CANCELLED


if __name__ == "__main__":
    sys.exit(main())
