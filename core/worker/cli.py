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
import traceback
from pathlib import Path
from typing import Sequence

from .. import __version__
from ..common.atomic import OutputPathError, check_writable_destination
from ..common.motion import MotionFormatError, write_motion
from ..common.options import WORKER, WorkerOptions, add_arguments, from_namespace
from ..common.protocol import EXIT_CANCELLED, EXIT_ERROR, EXIT_OK, EventWriter
from ..estimators import Cancelled, EstimatorError
from .api import Progress, estimate_video
from .body_model import BodyModelError
from .video import VideoError

log = logging.getLogger("vtm.worker")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m video_to_motion.core.worker",
        description="Estimate SMPL motion of the people in a video and write a vtm.motion file.")
    p.add_argument("video", type=Path, help="input video file (anything OpenCV decodes)")
    p.add_argument("-o", "--output", type=Path, required=True, help="output motion file (.npz)")
    add_arguments(p, WORKER)
    p.add_argument("--version", action="version", version=f"video-to-motion worker {__version__}")
    return p


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
    try:
        output = check_writable_destination(args.output, inputs=(args.video,))
        motion = estimate_video(args.video, from_namespace(WorkerOptions, WORKER, args), events)
        progress = Progress(events)
        progress("write", 0, 1)
        try:
            write_motion(output, motion)
        except OSError as exc:  # atomic_path turned a full disk into OutputPathError already
            raise OutputPathError(f"cannot write '{output}': {exc.strerror or exc}; nothing was written there. "
                                  "Choose another output folder") from exc
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
        events.error(exc.code, str(exc))
    except BodyModelError as exc:
        events.error(exc.code, str(exc))
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

