"""Broken and tricky videos made from a real OpenCV-written MP4 or AVI (stdlib box edits, no ffmpeg).

OpenCV writes MP4 with the sample tables (moov) after the data (mdat), so boxes in moov can
be rewritten without moving the frames.
"""
from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from conftest import write_video

_CONTAINERS = {"moov", "trak", "mdia", "minf", "stbl", "edts"}


def _boxes(data: bytes, start: int = 0, end: int | None = None, path: tuple = ()):
    """(offset, size, 'moov/trak/...') of every box, depth first."""
    end = len(data) if end is None else end
    i = start
    while i + 8 <= end:
        size, kind = struct.unpack(">I4s", data[i:i + 8])
        name = path + (kind.decode("latin1"),)
        yield i, size, "/".join(name)
        if name[-1] in _CONTAINERS:
            yield from _boxes(data, i + 8, i + size, name)
        i += size


def _box(data: bytes, name: str) -> tuple[int, int]:
    found = {n: (i, s) for i, s, n in _boxes(data)}
    assert name in found, f"no {name} box in {sorted(found)}"
    return found[name]


def rotated(path: Path, degrees: int = 90, frames: int = 10, size=(96, 64)) -> Path:
    """An MP4 whose track matrix asks players to turn it by `degrees` (90 or 270), as phones write."""
    data = bytearray(write_video(path, frames=frames, size=size).read_bytes())
    at, _ = _box(data, "moov/trak/tkhd")
    matrix_at = at + (48 if data[at + 8] == 0 else 60)
    one, w = 1 << 16, 1 << 30
    matrix = {90: (0, one, 0, -one, 0, 0, size[1] * one, 0, w), 270: (0, -one, 0, one, 0, 0, 0, size[0] * one, w)}
    data[matrix_at:matrix_at + 36] = struct.pack(">9i", *matrix[degrees])
    path.write_bytes(data)
    return path


def variable_rate(path: Path, frames: int = 10, slow_factor: int = 3) -> Path:
    """An MP4 whose second half of frames each last `slow_factor` times longer (the time-to-sample table)."""
    data = bytearray(write_video(path, frames=frames).read_bytes())
    at, size = _box(data, "moov/trak/mdia/minf/stbl/stts")
    count, delta = struct.unpack(">II", data[at + 16:at + 24])
    entries = [(count // 2, delta), (count - count // 2, slow_factor * delta)]
    table = struct.pack(">I4sII", 16 + 8 * len(entries), b"stts", 0, len(entries))
    table += b"".join(struct.pack(">II", *e) for e in entries)
    grow = len(table) - size
    boxes = {n: i for i, _, n in _boxes(data)}
    if "moov/trak/edts/elst" in boxes:  # the edit list would cut the stretched track to its old length
        data[boxes["moov/trak/edts/elst"] + 4:boxes["moov/trak/edts/elst"] + 8] = b"free"
    for name in ("moov", "moov/trak", "moov/trak/mdia", "moov/trak/mdia/minf", "moov/trak/mdia/minf/stbl"):
        i = boxes[name]
        data[i:i + 4] = struct.pack(">I", struct.unpack(">I", data[i:i + 4])[0] + grow)
    data[at:at + size] = table
    path.write_bytes(data)
    return path


def damaged_middle(path: Path, frames: int = 30) -> Path:
    """An MP4 with a stretch of random bytes in the middle of its frame data."""
    data = bytearray(write_video(path, frames=frames).read_bytes())
    at, size = _box(data, "mdat")
    a, b = at + int(size * 0.45), at + int(size * 0.55)
    data[a:b] = np.random.default_rng(0).integers(0, 256, b - a, dtype=np.uint8).tobytes()
    path.write_bytes(data)
    return path


def truncated(path: Path, frames: int = 30, keep: float = 0.3) -> Path:
    """An MJPEG AVI cut short: its header states `frames` frames, fewer are there."""
    data = write_video(path, frames=frames, fourcc="MJPG").read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])
    return path
