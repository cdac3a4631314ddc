"""The worker's JSON-lines protocol on stdout, shared by the worker and the add-on.

One JSON object per line:
    {"event": "progress", "stage": str, "done": int, "total": int|null, "fps": float|null}
    {"event": "warning", "message": str}
    {"event": "info", ...}                       (free-form facts, e.g. the estimator used)
    {"event": "done", "output": str}
    {"event": "error", "code": str, "message": str}
Human-readable logging goes to stderr, never here.
"""
from __future__ import annotations

import json
import sys
import threading
from typing import Any, TextIO

# The progress stages a worker run emits, in order ("camera" only with camera motion on).
STAGES = ("open", "detect", "estimate", "camera", "world", "write")

# Exit codes of `python -m video_to_motion.core.worker`.
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_CANCELLED = 130

EVENT_KINDS = ("progress", "warning", "info", "done", "error")

# Every `code` an error event can carry, and what it means (the message says what to do).
ERROR_CODES = {
    "bad_argument": "an option's value cannot be used",
    "bad_frame_range": "the frame range is empty or outside the video",
    "cancelled": "stopped by SIGINT/SIGTERM; nothing was written",
    "checkpoint_invalid": "the TAR checkpoint is not one this version can load",
    "checkpoint_missing": "the TAR estimator was chosen without a checkpoint",
    "detector_invalid": "the detector weights are not a YOLO detection model",
    "detector_not_found": "the detector weights file does not exist",
    "detector_unavailable": "no detector could be loaded (download failed and no offline fallback)",
    "detector_unsafe": "the detector weights name code to run or cannot be checked; refused unloaded",
    "disk_full": "the disk is full; nothing was replaced",
    "estimator_unavailable": "the estimator's packages are missing from the worker's environment",
    "internal": "an unexpected failure; the stderr log has the traceback",
    "invalid_motion": "the estimator produced a motion that fails validation",
    "no_person": "nobody was detected in the frames processed",
    "out_of_memory": "the run ran out of memory",
    "output_is_input": "the output path names an input file; it would be replaced",
    "output_unwritable": "the output file cannot be written there",
    "smpl_model_invalid": "the SMPL model file cannot be read",
    "smpl_model_missing": "the estimator needs an SMPL model file",
    "smpl_model_unsafe": "the SMPL file names code to run (a hostile pickle); it was refused unread",
    "track_not_found": "the requested track id is not among the tracks found",
    "unknown_estimator": "no estimator has that name",
    "video_empty": "the video has no frames",
    "video_is_directory": "the video path is a folder",
    "video_not_found": "the video file does not exist",
    "video_rotated": "the video asks to be shown rotated and OpenCV cannot turn it",
    "video_truncated": "the video ends before the frames it states",
    "video_undecodable": "OpenCV cannot decode the video",
    "video_unreadable": "the video file cannot be opened",
    "video_variable_frame_rate": "the video's frames are not evenly spaced in time; convert it to a constant rate",
    "worker_crashed": "the worker ended without an error event (reported by the client)",
    "worker_incomplete": "the worker's environment lacks packages it needs (the worker check)",
}


class ProtocolError(ValueError):
    """A stdout line that is not a protocol event."""


class SilentEvents:
    """Events nobody listens to (EventWriter below is the usual listener)."""

    def progress(self, stage: str, done: int, total: int | None, fps: float | None = None) -> None:
        pass

    def warning(self, message: str) -> None:
        pass

    def info(self, **fields) -> None:
        pass


class EventWriter:
    """Writes events as single flushed lines; safe to call from several threads."""

    def __init__(self, stream: TextIO | None = None):
        self._stream = stream if stream is not None else sys.stdout
        self._lock = threading.Lock()

    def emit(self, event: str, **fields: Any) -> None:
        line = json.dumps({"event": event, **fields}, allow_nan=False, default=str)
        with self._lock:
            self._stream.write(line + "\n")
            self._stream.flush()

    def progress(self, stage: str, done: int, total: int | None, fps: float | None = None) -> None:
        self.emit("progress", stage=stage, done=int(done), total=None if total is None else int(total),
                  fps=None if fps is None else round(float(fps), 3))

    def warning(self, message: str) -> None:
        self.emit("warning", message=message)

    def info(self, **fields: Any) -> None:
        self.emit("info", **fields)

    def done(self, output: str) -> None:
        self.emit("done", output=output)

    def error(self, code: str, message: str) -> None:
        self.emit("error", code=code, message=message)


def parse_event(line: str) -> dict[str, Any]:
    """Parse one stdout line into an event dict; raise ProtocolError if it is not one."""
    try:
        event = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ProtocolError(f"not JSON: {line[:200]!r}") from exc
    if not isinstance(event, dict) or event.get("event") not in EVENT_KINDS:
        raise ProtocolError(f"not a worker event: {line[:200]!r}")
    return event
