"""Hostile and broken motion and mesh files: a MotionFormatError that says why, never a raw
exception, a hang or a huge allocation (the reader checks sizes before allocating)."""
from __future__ import annotations

import threading
import tracemalloc

import numpy as np
import pytest

from hostile import HOSTILE_MOTIONS, inflating, motion_arrays
from video_to_motion.core.common import motion as motion_mod
from video_to_motion.core.common.mesh_file import MeshFileError, read_mesh_file
from video_to_motion.core.common.motion import MotionFormatError, read_motion


def _arrays():
    return motion_arrays()


def _read_with_deadline(path, seconds=20.0):
    """read_motion in a thread: a reader that blocks (a FIFO) fails the test instead of hanging it."""
    outcome = {}

    def target():
        try:
            outcome["value"] = read_motion(path)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"reading {path.name} blocked"
    return outcome


@pytest.mark.parametrize("maker,words", HOSTILE_MOTIONS, ids=[m.__name__ for m, _ in HOSTILE_MOTIONS])
def test_hostile_motion_files_are_refused_with_a_reason(tmp_path, maker, words):
    path = maker(tmp_path, _arrays())
    tracemalloc.start()
    try:
        outcome = _read_with_deadline(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    error = outcome.get("error")
    assert isinstance(error, MotionFormatError), f"{maker.__name__}: {error!r}"
    assert words in str(error) and path.name in str(error), str(error)
    assert peak < 64 * 2 ** 20, f"{maker.__name__} allocated {peak / 2 ** 20:.0f} MiB before refusing"


def test_an_archive_that_inflates_past_the_limit_is_refused_before_inflating(tmp_path, monkeypatch):
    path = inflating(tmp_path, _arrays(), inflated_bytes=64 * 2 ** 20)
    assert path.stat().st_size < 2 ** 20  # a small file on disk
    monkeypatch.setattr(motion_mod, "MAX_MOTION_BYTES", 16 * 2 ** 20)
    tracemalloc.start()
    try:
        with pytest.raises(MotionFormatError, match="once decompressed, more than the 16 MiB"):
            read_motion(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2 ** 20
    monkeypatch.setattr(motion_mod, "MAX_MOTION_BYTES", 128 * 2 ** 20)
    assert read_motion(path).num_rows == len(_arrays()["frame_ids"])  # under the limit it is a motion


def test_limits_hold_at_their_edges(tmp_path):
    arrays = _arrays()
    frames = arrays["frame_ids"].copy()
    frames[-1] = motion_mod.MAX_FRAME_ID
    np.savez(tmp_path / "edge.npz", **dict(arrays, frame_ids=frames, fps=np.array(motion_mod.MAX_FPS)))
    assert read_motion(tmp_path / "edge.npz").frame_ids.max() == motion_mod.MAX_FRAME_ID
    frames[-1] += 1
    np.savez(tmp_path / "past.npz", **dict(arrays, frame_ids=frames))
    with pytest.raises(MotionFormatError, match="past Blender's last frame"):
        read_motion(tmp_path / "past.npz")


def test_hostile_mesh_files_are_refused(tmp_path):
    import hostile

    arrays = {"schema": np.array("vtm.smpl_mesh/1"), "poses": np.zeros((4, 72), np.float32)}
    for maker, words in ((hostile.huge_header, "states shape"), (hostile.plain_npy, "single .npy array"),
                         (hostile.fifo, "not a regular file")):
        path = maker(tmp_path, arrays)
        with pytest.raises(MeshFileError, match=words):
            read_mesh_file(path)
