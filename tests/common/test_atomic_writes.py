"""Atomic writes under faults: a full disk is one clear error, a killed writer's temporary file is removed next time."""
from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time

import pytest

from hostile import motion_arrays
from video_to_motion.core.common.atomic import OutputPathError, atomic_path, remove_stale_temp_files
from video_to_motion.core.common.motion import Motion, write_motion


def test_a_full_disk_is_one_error_and_keeps_the_old_file(tmp_path):
    target = tmp_path / "out.npz"
    target.write_bytes(b"the earlier result")
    for failure in (OSError(errno.ENOSPC, "No space left on device"),
                    # How Blender's operators pass an exporter's failure on: the errno only in the text.
                    RuntimeError("Error: Python: Traceback ...\nOSError: [Errno 28] No space left on device\n")):
        with pytest.raises(OutputPathError) as err:
            with atomic_path(target) as tmp:
                tmp.write_bytes(b"half")
                raise failure
        assert err.value.code == "disk_full" and "out.npz" in str(err.value) and "Free some space" in str(err.value)
        assert target.read_bytes() == b"the earlier result"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["out.npz"]
    # Other failures stay what they are.
    with pytest.raises(ValueError, match="unrelated"):
        with atomic_path(target):
            raise ValueError("unrelated")


def test_an_output_that_is_an_input_is_refused(tmp_path):
    from video_to_motion.core.common.atomic import check_writable_destination

    video = tmp_path / "clip.mp4"
    video.write_bytes(b"video")
    os.symlink(video, tmp_path / "link.mp4")
    for spelling in (video, tmp_path / "link.mp4", tmp_path / "sub" / ".." / "clip.mp4"):
        with pytest.raises(OutputPathError) as err:
            check_writable_destination(spelling, inputs=(video,))
        assert err.value.code == "output_is_input"
    assert check_writable_destination(tmp_path / "other.npz", inputs=(video,)) == tmp_path / "other.npz"


def _killed_writer(folder):
    """A process killed (SIGKILL) in the middle of an atomic write: its temporary file stays."""
    code = ("import os, signal, sys\n"
            "from video_to_motion.core.common.atomic import atomic_path\n"
            "with atomic_path(sys.argv[1]) as tmp:\n"
            "    tmp.write_bytes(b'partial')\n"
            "    os.kill(os.getpid(), signal.SIGKILL)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(folder / "motion.npz")], timeout=120)
    assert proc.returncode == -signal.SIGKILL
    [left] = [p for p in folder.iterdir() if p.name.startswith(".motion.npz.")]
    return left


def test_a_killed_writers_temporary_file_is_removed_by_the_next_write(tmp_path):
    left = _killed_writer(tmp_path)
    mine = tmp_path / f".other.npz.vtm-{os.getpid()}-abcdefgh.npz"  # a live writer's: kept
    mine.write_bytes(b"being written")
    stranger = tmp_path / ".motion.npz.backup"  # not our naming: kept
    stranger.write_bytes(b"user file")
    # Just killed: a writer on another machine could still be writing it, so it waits a minute.
    assert remove_stale_temp_files(tmp_path) == []
    old = time.time() - 120
    for p in (left, mine, stranger):
        os.utime(p, (old, old))
    write_motion(tmp_path / "motion.npz", Motion.from_arrays(motion_arrays()))
    names = sorted(p.name for p in tmp_path.iterdir())
    assert left.name not in names and mine.name in names and stranger.name in names and "motion.npz" in names
