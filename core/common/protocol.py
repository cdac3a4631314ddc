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

STAGES = ("open", "detect", "estimate", "write")

# Exit codes of `python -m core.worker`.
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_CANCELLED = 130

EVENT_KINDS = ("progress", "warning", "info", "done", "error")


class ProtocolError(ValueError):
    """A stdout line that is not a protocol event."""


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
