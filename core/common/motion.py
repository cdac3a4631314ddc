"""The motion file contract `vtm.motion/2` (and `/1`): reader, writer, validator, AMASS export.

A motion file is an `.npz` with one row per (track, video frame). numpy only, so the
Blender add-on imports it directly.

Keys (extra keys are allowed and ignored):
    schema        str          "vtm.motion/1"
    estimator     str          name of what produced the file
    fps           float        video frames per second
    image_size    int32[2]     (width, height) in pixels
    focal_length  float        pixels; principal point at the image centre
    frame_ids     int32[N]     0-based video frame of each row
    track_ids     int32[N]     person track of each row; rows sorted by (track, frame)
    poses         float32[N,72] SMPL axis-angle, SMPL joint order, global orientation
                               in the camera frame (OpenCV: x right, y down, z forward)
    betas         float32[N,10]
    trans         float32[N,3]  metres, camera frame, exactly smplx's `transl`
    rest_joints   float32[N,24,3] SMPL joints of the row's betas at zero pose, zero transl
    bboxes        float32[N,4]  x1, y1, x2, y2 in pixels
    scores        float32[N]

`vtm.motion/2` adds the world the people stand in (required in /2, absent in /1):
    camera_frame_ids   int32[T]        video frames the camera rows below describe (sorted)
    camera_intrinsics  float32[T,4]    fx, fy, cx, cy in pixels
    camera_to_world    float32[T,4,4]  OpenCV camera frame -> world: metres, Z up, the floor at
                                       Z = 0 (constant for a static camera; a row per frame
                                       lets a moving camera in without another schema)
    ground_plane       float32[4]      the floor in the world, (a, b, c, d) with a x + b y + c z = d
    contacts           bool[N,2]       per row: left and right foot planted on the floor
    calibration        str             JSON: how the camera was found (source, confidence, ...)
A /1 file reads as before (the world fields are None); the add-on then fits the floor itself.
"""
from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from .atomic import atomic_path
from .npz import NpzError, read_npz

SCHEMA_V1 = "vtm.motion/1"
SCHEMA = "vtm.motion/2"
SCHEMAS = (SCHEMA_V1, SCHEMA)

# Limits checked before anything is allocated for a motion. Blender's timeline ends at frame
# 1,048,574 and video frame i is Blender frame i + 1; gaps are filled frame by frame, so the
# frame rate bounds what a short gap costs (fps 1e9 made a 0.5 s gap a billion frames).
MAX_FRAME_ID = 1_048_573
MAX_FPS = 1000.0
MAX_MOTION_BYTES = 2 * 2 ** 30  # all arrays of one file, decompressed (~3 M rows)


class MotionFormatError(ValueError):
    """A motion file or array set that breaks the `vtm.motion` contract."""


# name -> (dtype, shape with "N" for the row count); scalars have shape ().
ARRAY_FIELDS: dict[str, tuple[np.dtype, tuple]] = {
    "frame_ids": (np.dtype(np.int32), ("N",)),
    "track_ids": (np.dtype(np.int32), ("N",)),
    "poses": (np.dtype(np.float32), ("N", 72)),
    "betas": (np.dtype(np.float32), ("N", 10)),
    "trans": (np.dtype(np.float32), ("N", 3)),
    "rest_joints": (np.dtype(np.float32), ("N", 24, 3)),
    "bboxes": (np.dtype(np.float32), ("N", 4)),
    "scores": (np.dtype(np.float32), ("N",)),
}
SCALAR_FIELDS = ("schema", "estimator", "fps", "focal_length")
REQUIRED_KEYS = SCALAR_FIELDS + ("image_size",) + tuple(ARRAY_FIELDS)
# The world of /2: name -> (dtype, shape with "T" for camera rows, "N" for motion rows).
WORLD_FIELDS: dict[str, tuple[np.dtype, tuple]] = {
    "camera_frame_ids": (np.dtype(np.int32), ("T",)),
    "camera_intrinsics": (np.dtype(np.float32), ("T", 4)),
    "camera_to_world": (np.dtype(np.float32), ("T", 4, 4)),
    "ground_plane": (np.dtype(np.float32), (4,)),
    "contacts": (np.dtype(bool), ("N", 2)),
}
WORLD_KEYS = tuple(WORLD_FIELDS) + ("calibration",)


@dataclasses.dataclass
class Motion:
    """In-memory form of a `vtm.motion/1` file. Arrays follow ARRAY_FIELDS."""

    estimator: str
    fps: float
    image_size: tuple[int, int]
    focal_length: float
    frame_ids: np.ndarray
    track_ids: np.ndarray
    poses: np.ndarray
    betas: np.ndarray
    trans: np.ndarray
    rest_joints: np.ndarray
    bboxes: np.ndarray
    scores: np.ndarray
    extras: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
    # The world (vtm.motion/2); None in a /1 file. Arrays follow WORLD_FIELDS.
    camera_frame_ids: np.ndarray | None = None
    camera_intrinsics: np.ndarray | None = None
    camera_to_world: np.ndarray | None = None
    ground_plane: np.ndarray | None = None
    contacts: np.ndarray | None = None
    calibration: str = ""

    @property
    def has_world(self) -> bool:
        return self.camera_to_world is not None

    @property
    def num_rows(self) -> int:
        return int(self.frame_ids.shape[0])

    def track_list(self) -> list[int]:
        return [int(t) for t in np.unique(self.track_ids)]

    def rows_of_track(self, track_id: int) -> np.ndarray:
        """Row indices of one track, in frame order."""
        return np.flatnonzero(self.track_ids == track_id)

    def select(self, rows: np.ndarray) -> "Motion":
        """A new Motion holding only `rows` (indices or boolean mask), order kept.

        Extras whose first dimension is the row count are per-row data (e.g. landmarks)
        and are selected with the rows; other extras are kept whole.
        """
        arrays = {k: getattr(self, k)[rows] for k in ARRAY_FIELDS}
        if self.contacts is not None:
            arrays["contacts"] = self.contacts[rows]
        n = self.num_rows
        extras = {k: (v[rows] if np.ndim(v) >= 1 and np.shape(v)[0] == n else v) for k, v in self.extras.items()}
        return dataclasses.replace(self, **arrays, extras=extras)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The exact arrays written to disk (dtypes of the contract)."""
        out: dict[str, np.ndarray] = {k: np.asarray(v) for k, v in self.extras.items()}
        if self.has_world:
            for name, (dtype, _) in WORLD_FIELDS.items():
                out[name] = np.ascontiguousarray(getattr(self, name), dtype=dtype)
            out["calibration"] = np.array(str(self.calibration))
        out.update(
            schema=np.array(SCHEMA if self.has_world else SCHEMA_V1),
            estimator=np.array(str(self.estimator)),
            fps=np.array(float(self.fps), dtype=np.float64),
            image_size=np.asarray(self.image_size, dtype=np.int32),
            focal_length=np.array(float(self.focal_length), dtype=np.float64),
        )
        for name, (dtype, _) in ARRAY_FIELDS.items():
            out[name] = np.ascontiguousarray(getattr(self, name), dtype=dtype)
        return out

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, Any]) -> "Motion":
        """Validate `arrays` against the contract and wrap them."""
        validate_arrays(arrays)
        world = str(arrays["schema"]) == SCHEMA
        skip = REQUIRED_KEYS + (WORLD_KEYS if world else ())
        extras = {k: np.asarray(v) for k, v in arrays.items() if k not in skip}
        fields = {k: np.asarray(arrays[k]) for k in WORLD_FIELDS} if world else {}
        if world:
            fields["calibration"] = str(arrays["calibration"])
        return cls(
            estimator=str(arrays["estimator"]),
            fps=float(arrays["fps"]),
            image_size=tuple(int(v) for v in np.asarray(arrays["image_size"])),
            focal_length=float(arrays["focal_length"]),
            **{k: np.asarray(arrays[k]) for k in ARRAY_FIELDS},
            extras=extras,
            **fields,
        )


def sort_rows(motion: Motion) -> Motion:
    """Rows ordered by (track, frame), as the contract requires."""
    order = np.lexsort((motion.frame_ids, motion.track_ids))
    return motion.select(order)


def validate_arrays(arrays: Mapping[str, Any]) -> None:
    """Raise MotionFormatError naming the first field that breaks the contract."""
    schema = np.asarray(arrays["schema"]) if "schema" in arrays else None
    world = schema is not None and schema.shape == () and schema.dtype.kind in "US" and str(schema) == SCHEMA
    required = REQUIRED_KEYS + (WORLD_KEYS if world else ())
    missing = [k for k in required if k not in arrays]
    if missing:
        name = SCHEMA if world else "vtm.motion"
        raise MotionFormatError(f"missing key(s) {', '.join(missing)}; a {name} file needs {', '.join(required)}")

    if schema.shape != () or schema.dtype.kind not in "US" or str(schema) not in SCHEMAS:
        raise MotionFormatError(f"schema is {_describe(schema)}, expected one of the strings "
                                f"{', '.join(repr(s) for s in SCHEMAS)}")
    estimator = np.asarray(arrays["estimator"])
    if estimator.shape != () or estimator.dtype.kind not in "US":
        raise MotionFormatError(f"estimator must be a string, got {_describe(estimator)}")
    for name in ("fps", "focal_length"):
        value = np.asarray(arrays[name])
        if value.shape != () or value.dtype.kind not in "fiu":
            raise MotionFormatError(f"{name} must be a number, got {_describe(value)}")
        if not np.isfinite(value) or value <= 0:
            raise MotionFormatError(f"{name} must be a positive finite number, got {value!r}")
    if float(arrays["fps"]) > MAX_FPS:
        raise MotionFormatError(f"fps is {float(arrays['fps']):g}; at most {MAX_FPS:g} frames per second are supported")
    size = np.asarray(arrays["image_size"])
    if size.shape != (2,) or size.dtype != np.int32:
        raise MotionFormatError(f"image_size must be int32[2] (width, height), got {_describe(size)}")
    if np.any(size <= 0):
        raise MotionFormatError(f"image_size must be positive, got {size.tolist()}")

    n = None
    for name, (dtype, shape) in ARRAY_FIELDS.items():
        value = np.asarray(arrays[name])
        if n is None:
            n = value.shape[0] if value.ndim >= 1 else -1
        expected = tuple(n if s == "N" else s for s in shape)
        if value.shape != expected:
            pretty = "[" + ",".join(str(s) for s in shape) + "]"
            raise MotionFormatError(
                f"{name} has shape {list(value.shape)}, expected {pretty} with N={n} rows (from frame_ids)")
        if value.dtype != dtype:
            raise MotionFormatError(f"{name} has dtype {value.dtype}, expected {dtype}")
        if dtype.kind == "f" and not np.all(np.isfinite(value)):
            bad = np.argwhere(~np.isfinite(value))[0]
            raise MotionFormatError(f"{name} holds a non-finite value (NaN or inf) at index {bad.tolist()}")

    frames = np.asarray(arrays["frame_ids"])
    tracks = np.asarray(arrays["track_ids"])
    if np.any(frames < 0):
        raise MotionFormatError(f"frame_ids must be >= 0, found {int(frames.min())}")
    if np.any(frames > MAX_FRAME_ID):
        raise MotionFormatError(f"frame_ids go up to {int(frames.max())}, past Blender's last frame "
                                f"(video frame {MAX_FRAME_ID}); split the video into shorter parts")
    if n and n > 1:
        key_prev = tracks[:-1].astype(np.int64) * (1 << 32) + frames[:-1]
        key_next = tracks[1:].astype(np.int64) * (1 << 32) + frames[1:]
        bad = np.flatnonzero(key_next <= key_prev)
        if bad.size:
            i = int(bad[0])
            what = "duplicated" if key_next[i] == key_prev[i] else "out of order"
            raise MotionFormatError(
                f"rows must be sorted by (track, frame) without repeats: rows {i} and {i + 1} "
                f"(track {tracks[i]} frame {frames[i]}, track {tracks[i + 1]} frame {frames[i + 1]}) are {what}")
    if world:
        _validate_world(arrays, n if n is not None else 0)


def _validate_world(arrays: Mapping[str, Any], n: int) -> None:
    """The world fields of a /2 file: shapes, dtypes, finite values, one camera row per frame."""
    t = np.asarray(arrays["camera_frame_ids"]).shape[0] if np.ndim(arrays["camera_frame_ids"]) == 1 else -1
    for name, (dtype, shape) in WORLD_FIELDS.items():
        value = np.asarray(arrays[name])
        expected = tuple(t if s == "T" else n if s == "N" else s for s in shape)
        if value.shape != expected:
            pretty = "[" + ",".join(str(s) for s in shape) + "]"
            raise MotionFormatError(f"{name} has shape {list(value.shape)}, expected {pretty} with T={t} camera "
                                    f"rows (from camera_frame_ids) and N={n} rows")
        if value.dtype != dtype:
            raise MotionFormatError(f"{name} has dtype {value.dtype}, expected {dtype}")
        if dtype.kind == "f" and not np.all(np.isfinite(value)):
            raise MotionFormatError(f"{name} holds a non-finite value (NaN or inf)")
    if t < 1:
        raise MotionFormatError("camera_frame_ids must name at least one frame")
    frames = np.asarray(arrays["camera_frame_ids"])
    if np.any(np.diff(frames) <= 0):
        raise MotionFormatError("camera_frame_ids must be sorted without repeats")
    k = np.asarray(arrays["camera_intrinsics"])
    if np.any(k[:, :2] <= 0):
        raise MotionFormatError("camera_intrinsics must have positive focal lengths")
    m = np.asarray(arrays["camera_to_world"], np.float64)
    r = m[:, :3, :3]
    if np.abs(r @ np.swapaxes(r, 1, 2) - np.eye(3)).max() > 1e-3 or np.any(np.linalg.det(r) < 0) or \
            np.abs(m[:, 3] - [0, 0, 0, 1]).max() > 1e-6:
        raise MotionFormatError("camera_to_world must hold rigid transforms (a rotation and a translation)")
    plane = np.asarray(arrays["ground_plane"], np.float64)
    if abs(np.linalg.norm(plane[:3]) - 1.0) > 1e-3:
        raise MotionFormatError(f"ground_plane's normal must be a unit vector, got {plane[:3].tolist()}")
    calibration = np.asarray(arrays["calibration"])
    if calibration.shape != () or calibration.dtype.kind not in "US":
        raise MotionFormatError(f"calibration must be a string, got {_describe(calibration)}")


def _describe(value: np.ndarray) -> str:
    return f"{value.dtype}{list(value.shape)} {value!r}" if value.size <= 4 else f"{value.dtype}{list(value.shape)}"


def write_motion(path: str | os.PathLike, motion: Motion) -> Path:
    """Validate and write `motion` to `path` atomically; returns the path."""
    arrays = motion.to_arrays()
    validate_arrays(arrays)
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez(tmp, **arrays)
    return Path(path)


def load_arrays(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Every array of an `.npz`, with clear errors for a missing, unreadable or oversized file."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"motion file '{path}' does not exist")
    if path.is_dir():
        raise MotionFormatError(f"motion file '{path}' is a directory, not an .npz file")
    try:
        return read_npz(path, MAX_MOTION_BYTES, what="motion file")
    except NpzError as exc:
        raise MotionFormatError(str(exc)) from exc


def read_motion(path: str | os.PathLike) -> Motion:
    """Load and validate a `vtm.motion/1` or `/2` file."""
    arrays = load_arrays(path)
    try:
        return Motion.from_arrays(arrays)
    except MotionFormatError as exc:
        raise MotionFormatError(f"'{path}': {exc}") from None


def validate_file(path: str | os.PathLike) -> None:
    """Raise MotionFormatError (or FileNotFoundError) if `path` breaks the contract."""
    read_motion(path)


# --- AMASS export ----------------------------------------------------------------------

# Camera frame (x right, y down, z forward) to a Z-up world: (x, y, z) -> (x, z, -y).
CAMERA_TO_ZUP = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])
