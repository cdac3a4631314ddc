"""Video input through OpenCV: probing, frame ranges, frame-by-frame decoding.

Frames are decoded one at a time and handed on; the video is never held in memory.
"""
from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path
from typing import Iterator

import cv2
import numpy as np

FALLBACK_FPS = 30.0


class VideoError(ValueError):
    """A video that cannot be used, with a message that says what to do."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclasses.dataclass(frozen=True)
class VideoInfo:
    path: Path
    width: int
    height: int
    fps: float
    fps_from_container: bool
    frame_count: int | None  # as the container states it (None: unknown); decoding is the final word


def probe(path: str | os.PathLike) -> VideoInfo:
    """Open `path`, check it decodes, and read its size, frame rate and length."""
    path = Path(path)
    if not path.exists():
        raise VideoError("video_not_found", f"video file '{path}' does not exist")
    if path.is_dir():
        raise VideoError("video_is_directory", f"'{path}' is a directory; give a video file")
    if not os.access(path, os.R_OK):
        raise VideoError("video_unreadable", f"video file '{path}' cannot be read (permission denied)")
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise VideoError("video_undecodable",
                             f"'{path}' is not a video OpenCV can decode; convert it to .mp4 (H.264) and try again")
        ok, frame = cap.read()
        if not ok or frame is None:
            raise VideoError("video_empty", f"'{path}' contains no decodable frames")
        height, width = frame.shape[:2]
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    finally:
        cap.release()
    fps_ok = math.isfinite(fps) and 0.5 <= fps <= 1000.0
    return VideoInfo(path=path, width=int(width), height=int(height),
                     fps=fps if fps_ok else FALLBACK_FPS, fps_from_container=fps_ok,
                     frame_count=count if count > 0 else None)


def resolve_range(info: VideoInfo, start: int | None, end: int | None) -> tuple[int, int | None]:
    """Check a user frame range (0-based, end inclusive) and return (start, end_exclusive).

    end_exclusive is None only when the container does not state its length.
    """
    start = 0 if start is None else int(start)
    if info.frame_count is None:
        # Unknown length: the range is checked against what actually decodes.
        if start < 0 or (end is not None and end < start):
            raise VideoError("bad_frame_range", f"bad frame range: start {start}, end {end}")
        return start, None if end is None else int(end) + 1
    last = info.frame_count - 1
    end = last if end is None else int(end)
    if start < 0 or end < 0:
        raise VideoError("bad_frame_range", f"frame numbers must be >= 0 (got start {start}, end {end})")
    if start > last:
        raise VideoError("bad_frame_range",
                         f"start frame {start} is past the end of the video, which has frames 0-{last}")
    if end > last:
        raise VideoError("bad_frame_range",
                         f"end frame {end} is past the end of the video, which has frames 0-{last}; "
                         f"use --end-frame {last} or leave it out")
    if end < start:
        raise VideoError("bad_frame_range", f"end frame {end} is before start frame {start}")
    return start, end + 1


def iter_frames(path: str | os.PathLike, start: int = 0, stop: int | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (frame_index, BGR uint8 [H,W,3]) for frames start <= i < stop, one at a time.

    Frames before `start` are grabbed without decoding into images when seeking is not
    exact; a container that ends early simply ends the iteration.
    """
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise VideoError("video_undecodable", f"'{path}' is not a video OpenCV can decode")
    try:
        index = 0
        if start > 0:
            # Seeking by frame number is inexact for many codecs; grab() walks there safely.
            while index < start and cap.grab():
                index += 1
            if index < start:
                return
        while stop is None or index < stop:
            ok, frame = cap.read()
            if not ok or frame is None:
                return
            yield index, frame
            index += 1
    finally:
        cap.release()


def read_ahead(path: str | os.PathLike, start: int = 0, stop: int | None = None,
               depth: int = 8) -> Iterator[tuple[int, np.ndarray]]:
    """`iter_frames`, decoded on a thread up to `depth` frames ahead of the caller (see core.prefetch).

    Close it (or let it go) to stop the thread early; decoding errors are raised in the caller.
    """
    from .prefetch import prefetched

    return prefetched(iter_frames(path, start, stop), depth, name="vtm-decode")
