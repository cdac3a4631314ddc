"""Video input through OpenCV: probing, frame ranges, frame-by-frame decoding.

Frames are decoded one at a time and handed on; the video is never held in memory.
"""
from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path
from typing import Callable, Iterator

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
    rotation: int = 0  # degrees the container asks players to turn the frames; frames here come upright


# Consecutive failed reads before the rest of a video counts as lost (a damaged stretch in the
# middle fails a few reads, one per frame, and decoding goes on after it).
MAX_BAD_RUN = 250
# Frames probe() walks to catch a variable frame rate before any work is done.
PROBE_FRAMES = 48


def _capture(path: str | os.PathLike):
    """An OpenCV capture that turns frames upright as players do (the rotation metadata of phone videos).

    Raises VideoError('video_rotated') when the video states a rotation this OpenCV cannot apply.
    """
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise VideoError("video_undecodable",
                         f"'{path}' is not a video OpenCV can decode; convert it to .mp4 (H.264) and try again")
    cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)
    rotation = int(round(cap.get(cv2.CAP_PROP_ORIENTATION_META) or 0)) % 360
    if rotation and not cap.get(cv2.CAP_PROP_ORIENTATION_AUTO):
        cap.release()
        raise VideoError("video_rotated",
                         f"'{path}' is meant to be shown rotated by {rotation} degrees and this OpenCV cannot turn "
                         f"it; rotate the video itself first, e.g. ffmpeg -i IN -c:a copy OUT.mp4 (which applies it)")
    return cap


def _stated_fps(cap) -> tuple[float, bool]:
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    ok = math.isfinite(fps) and 0.5 <= fps <= 1000.0
    return (fps if ok else FALLBACK_FPS), ok


def probe(path: str | os.PathLike) -> VideoInfo:
    """Open `path`, check it decodes, and read its size (upright), frame rate, length and rotation.

    The first frames' timestamps are checked: a variable frame rate is refused here, before any work.
    """
    path = Path(path)
    if not path.exists():
        raise VideoError("video_not_found", f"video file '{path}' does not exist")
    if path.is_dir():
        raise VideoError("video_is_directory", f"'{path}' is a directory; give a video file")
    if not path.is_file():
        raise VideoError("video_unreadable", f"'{path}' is not a regular file (a pipe or a device); give a video file")
    if not os.access(path, os.R_OK):
        raise VideoError("video_unreadable", f"video file '{path}' cannot be read (permission denied)")
    cap = _capture(path)
    try:
        ok, frame = cap.read()
        if not ok or frame is None:
            raise VideoError("video_empty", f"'{path}' contains no decodable frames")
        height, width = frame.shape[:2]
        fps, fps_ok = _stated_fps(cap)
        count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        rotation = int(round(cap.get(cv2.CAP_PROP_ORIENTATION_META) or 0)) % 360
    finally:
        cap.release()
    info = VideoInfo(path=path, width=int(width), height=int(height),
                     fps=fps, fps_from_container=fps_ok,
                     frame_count=count if count > 0 else None, rotation=rotation)
    if fps_ok:
        for _ in zip(range(PROBE_FRAMES), iter_frames(path, decode=False)):
            pass  # raises VideoError('video_variable_frame_rate')
    return info


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


def _ranges(indices: list[int]) -> str:
    """[3, 4, 5, 9] -> '3-5, 9'."""
    parts, begin = [], None
    for i, value in enumerate(indices):
        if begin is None:
            begin = value
        if i + 1 == len(indices) or indices[i + 1] != value + 1:
            parts.append(f"{begin}" if begin == value else f"{begin}\u2013{value}")
            begin = None
    return ", ".join(parts[:8]) + (" ..." if len(parts) > 8 else "")


def iter_frames(path: str | os.PathLike, start: int = 0, stop: int | None = None,
                warn: Callable[[str], None] | None = None,
                decode: bool = True) -> Iterator[tuple[int, np.ndarray | None]]:
    """Yield (frame_index, BGR uint8 [H,W,3] upright) for frames start <= i < stop, one at a time.

    Frame indices follow the frames' timestamps at the stated rate, so they are the video's
    frame numbers however decoding goes: a damaged frame that cannot be decoded is skipped
    (its number is not yielded), and decoding carries on after it. At the end `warn` (if
    given) hears how many frames were lost and whether the video ended before the length it
    states. A timestamp more than half a frame from where the stated rate puts it means a
    variable frame rate, which would make the motion drift from the footage:
    VideoError('video_variable_frame_rate'). decode=False walks the frames without images
    (the image is None).
    """
    cap = _capture(path)
    fps, stated = _stated_fps(cap)
    period_ms = 1000.0 / fps
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0) or None
    lost: list[int] = []
    expected = 0  # the number of the next frame
    failures = 0  # failed reads since the last good one
    origin = previous = None  # timestamps (ms): of frame 0, of the last frame read
    timed = stated  # a stated rate and increasing timestamps: frame numbers come from them
    try:
        while stop is None or expected < stop:
            if not cap.grab():
                failures += 1
                if count is None or expected + failures > count or failures > MAX_BAD_RUN:
                    break
                continue
            t = float(cap.get(cv2.CAP_PROP_POS_MSEC) or 0.0)
            if previous is not None and not t > previous:
                timed = False  # no usable timestamps (some containers give none)
            previous = t
            if origin is None:
                origin = t - (expected + failures) * period_ms
            index = expected + failures
            if timed:
                by_time = int(round((t - origin) / period_ms))
                if failures:
                    index = max(by_time, expected)
                elif by_time != expected:
                    raise VideoError(
                        "video_variable_frame_rate",
                        f"'{path}' has a variable frame rate: frame {expected} is shown at {(t - origin) / 1000:.3f} s, "
                        f"not at {expected / fps:.3f} s where {fps:g} fps puts it, so the motion would drift from "
                        f"the footage. Convert it to a constant rate first, e.g. "
                        f"ffmpeg -i IN -vf fps={fps:g} -c:v libx264 OUT.mp4")
            lost += range(max(expected, start), min(index, stop) if stop is not None else index)
            failures = 0
            expected = index + 1
            if index < start:
                continue
            if stop is not None and index >= stop:
                break
            if not decode:
                yield index, None
                continue
            ok, frame = cap.retrieve()
            if not ok or frame is None:
                lost.append(index)
                continue
            yield index, frame
    finally:
        cap.release()
    if warn is None:
        return
    if lost:
        warn(f"{len(lost)} frame(s) of '{path}' could not be decoded (damaged: {_ranges(lost)}); they were "
             "skipped, and short gaps are filled from the frames around them")
    end = count if stop is None or count is None else min(stop, count)
    if end is not None and expected < end:
        warn(f"'{path}' ends after frame {expected - 1} though it states {count} frames; frames "
             f"{expected}\u2013{end - 1} were not processed (the file is cut short or damaged at its end)")


def read_ahead(path: str | os.PathLike, start: int = 0, stop: int | None = None,
               depth: int = 8, warn: Callable[[str], None] | None = None) -> Iterator[tuple[int, np.ndarray]]:
    """`iter_frames`, decoded on a thread up to `depth` frames ahead of the caller (see core.prefetch).

    Close it (or let it go) to stop the thread early; decoding errors are raised in the caller.
    """
    from .prefetch import prefetched

    return prefetched(iter_frames(path, start, stop, warn=warn), depth, name="vtm-decode")
