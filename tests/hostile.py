"""Generated hostile and broken motion files (numpy + stdlib), shared by the reader's tests and Blender's.

Each maker writes one file into `folder` and returns its path; HOSTILE_MOTIONS pairs each with
words its error message must hold.
"""
from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import numpy as np

TERABYTE = 2 ** 40


def motion_arrays(seed: int = 4) -> dict:
    """A small valid vtm.motion/1 array set: track 1 on frames 0-5, track 2 on 2, 11, 20, 29."""
    from video_to_motion.core.common.motion import Motion, sort_rows
    from video_to_motion.core.common.skeleton import DEFAULT_REST_JOINTS

    rng = np.random.default_rng(seed)
    frames = np.concatenate([np.arange(0, 6), np.arange(2, 30, 9)]).astype(np.int32)
    tracks = np.array([1] * 6 + [2] * 4, np.int32)
    n = len(frames)
    motion = Motion(
        estimator="test", fps=25.0, image_size=(640, 480), focal_length=800.0, frame_ids=frames, track_ids=tracks,
        poses=rng.normal(scale=0.3, size=(n, 72)).astype(np.float32), betas=np.zeros((n, 10), np.float32),
        trans=(rng.normal(scale=0.1, size=(n, 3)) + [0, 0, 4]).astype(np.float32),
        rest_joints=np.repeat(DEFAULT_REST_JOINTS[None], n, 0).astype(np.float32),
        bboxes=np.tile(np.float32([100, 100, 200, 400]), (n, 1)), scores=np.ones(n, np.float32))
    return sort_rows(motion).to_arrays()


def _npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, allow_pickle=False)
    return buf.getvalue()


def huge_header(folder: Path, arrays: dict) -> Path:
    """A member whose .npy header states 8 TB (np.load would allocate it before reading)."""
    path = folder / "huge_header.npz"
    with zipfile.ZipFile(path, "w") as zf:
        for name, value in arrays.items():
            if name == "poses":
                buf = io.BytesIO()
                np.lib.format.write_array_header_1_0(buf, {"descr": "<f4", "fortran_order": False,
                                                           "shape": (8 * TERABYTE // 4 // 72, 72)})
                zf.writestr("poses.npy", buf.getvalue() + b"\0" * 64)
            else:
                zf.writestr(f"{name}.npy", _npy_bytes(np.asarray(value)))
    return path


def plain_npy(folder: Path, arrays: dict) -> Path:
    """One .npy array saved under an .npz name."""
    path = folder / "plain.npz"
    with open(path, "wb") as fh:
        np.save(fh, np.asarray(arrays["poses"]))
    return path


def inflating(folder: Path, arrays: dict, inflated_bytes: int = 64 * 2 ** 20) -> Path:
    """A deflated member of a few hundred kB that inflates to `inflated_bytes` of zeros."""
    path = folder / "inflating.npz"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, value in arrays.items():
            zf.writestr(f"{name}.npy", _npy_bytes(np.asarray(value)))
        zf.writestr("padding.npy", _npy_bytes(np.zeros(inflated_bytes // 8)))
    return path


def object_member(folder: Path, arrays: dict) -> Path:
    """A member of Python objects (a pickle inside the archive)."""
    path = folder / "objects.npz"
    with zipfile.ZipFile(path, "w") as zf:
        for name, value in arrays.items():
            zf.writestr(f"{name}.npy", _npy_bytes(np.asarray(value)))
        buf = io.BytesIO()
        np.lib.format.write_array(buf, np.array([{"a": 1}], dtype=object), allow_pickle=True)
        zf.writestr("extra.npy", buf.getvalue())
    return path


def fifo(folder: Path, arrays: dict) -> Path:
    """A named pipe called .npz: opening it for reading blocks until someone writes."""
    path = folder / "pipe.npz"
    os.mkfifo(path)
    return path


def huge_fps(folder: Path, arrays: dict) -> Path:
    """fps 1e9 with a gap: filling the gap frame by frame would take tens of GiB."""
    path = folder / "fps.npz"
    np.savez(path, **dict(arrays, fps=np.array(1e9)))
    return path


def frame_past_blender(folder: Path, arrays: dict) -> Path:
    """A frame id past Blender's last frame (1,048,574)."""
    frames = np.asarray(arrays["frame_ids"]).copy()
    frames[-1] = 2_000_000
    path = folder / "late_frame.npz"
    np.savez(path, **dict(arrays, frame_ids=frames))
    return path


def truncated(folder: Path, arrays: dict) -> Path:
    """A motion file cut in half (a copy interrupted)."""
    whole = folder / "whole.npz"
    np.savez(whole, **arrays)
    path = folder / "truncated.npz"
    data = whole.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    whole.unlink()
    return path


# maker, words of the message (the size limit of `inflating` is the test's to lower)
HOSTILE_MOTIONS = (
    (huge_header, "states shape"),
    (plain_npy, "single .npy array"),
    (object_member, "Python objects"),
    (fifo, "not a regular file"),
    (huge_fps, "at most 1000 frames per second"),
    (frame_past_blender, "past Blender's last frame"),
    (truncated, "not a readable .npz"),
)
