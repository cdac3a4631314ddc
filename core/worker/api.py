"""The worker's front door: `estimate_video(video, options, events) -> Motion`.

The command line (cli.py), the benchmarks and the tests call it. It opens the video,
checks the options, runs the chosen estimator, drops tracks posed on a person another
track holds, finds the camera's own motion from the background (camera_motion: static or
turning) and places everyone in one world (world.place_people: the camera from the
people, the floor, contacts); writing the motion file is the caller's.
"""
from __future__ import annotations

import logging
import math
import os
import time
from pathlib import Path

from ..common.motion import Motion
from ..common.options import MIN_DETECTOR_SIZE, WorkerOptions
from ..common.protocol import SilentEvents
from ..estimators import EstimatorError, RunContext, load_estimator_class, resolve_name
from .same_person import without_repeats
from . import camera_motion
from .world import place_people
from .video import probe, resolve_range

log = logging.getLogger("vtm.worker")


class Progress:
    """Turns estimator progress calls into throttled protocol events with a rate."""

    def __init__(self, events, min_interval: float = 0.1):
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


def check_options(options: WorkerOptions) -> None:
    """Values the table's types allow but a run cannot use; EstimatorError(bad_argument) names them."""
    if options.max_people is not None and options.max_people < 1:
        raise EstimatorError("bad_argument", f"--max-people must be at least 1 (got {options.max_people})")
    if options.focal_length is not None and not (math.isfinite(options.focal_length) and options.focal_length > 0):
        raise EstimatorError("bad_argument",
                             f"--focal-length must be a positive finite number of pixels (got {options.focal_length})")
    if options.detector_size < MIN_DETECTOR_SIZE:
        raise EstimatorError("bad_argument", f"--detector-size must be at least {MIN_DETECTOR_SIZE} pixels "
                                             f"(got {options.detector_size})")
    if options.detect_every is not None and options.detect_every < 1:
        raise EstimatorError("bad_argument", f"--detect-every must be at least 1 (got {options.detect_every})")
    if not (math.isfinite(options.max_detect_interval) and options.max_detect_interval >= 0):
        raise EstimatorError("bad_argument", "--max-detect-interval must be 0 or a positive number of seconds "
                             f"(got {options.max_detect_interval})")
    # A bare name (yolo11s.pt) is the detector library's to download; a path must exist.
    if options.detector and Path(options.detector).parent != Path(".") and not Path(options.detector).exists():
        raise EstimatorError("detector_not_found", f"detector weights '{options.detector}' do not exist; "
                             "give a YOLO .pt file or leave --detector out for the default")


def estimate_video(video: str | os.PathLike, options: WorkerOptions | None = None, events=None) -> Motion:
    """The motion of the people in `video`. `events` gets progress/warning/info calls.

    Raises VideoError, EstimatorError, BodyModelError (each with what to do) or Cancelled.
    """
    options = options or WorkerOptions()
    events = events or SilentEvents()
    progress = Progress(events)
    progress("open", 0, 1)
    info = probe(video)
    if not info.fps_from_container:
        events.warning(f"'{video}' does not state its frame rate; assuming {info.fps:g} fps")
    start, stop = resolve_range(info, options.start_frame, options.end_frame)
    check_options(options)
    name = resolve_name(options.estimator, options)
    estimator = load_estimator_class(name)(options)
    events.info(estimator=getattr(estimator, "name", name), video=str(info.path), width=info.width,
                height=info.height, fps=info.fps, frames=info.frame_count)
    progress("open", 1, 1)
    context = RunContext(video=info, start_frame=start, stop_frame=stop, progress=progress,
                         warn=events.warning, info=events.info)
    motion = estimator.estimate(context)
    motion, repeats = without_repeats(motion)
    if repeats:
        log.info("dropped track(s) posed on a person another track holds: %s",
                 ", ".join(f"{t} (same as {k})" for t, k in sorted(repeats.items())))
        events.info(same_person={str(t): k for t, k in sorted(repeats.items())})
    path = None
    if options.camera_motion:
        t0, c0 = time.perf_counter(), time.process_time()
        path = camera_motion.apply(info.path, start, stop, motion, options.focal_length, events, progress)
        log.info("camera stage: %.2f s, cpu %.2f s", time.perf_counter() - t0, time.process_time() - c0)
    else:
        events.info(camera_motion={"moving": False, "switched_off": True})
    progress("world", 0, 1)
    t0, c0 = time.perf_counter(), time.process_time()
    if path is not None and path.moving:
        motion = camera_motion.place_on_path(motion, path, options, events, place_people)
    else:
        motion = place_people(motion, options, events)
    log.info("world stage: %.2f s, cpu %.2f s, %d rows", time.perf_counter() - t0, time.process_time() - c0,
             motion.num_rows)
    progress("world", 1, 1)
    return motion
