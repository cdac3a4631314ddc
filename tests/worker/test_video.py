"""Video input: probing real encoded files, frame ranges, and unusable inputs."""
from __future__ import annotations

import pytest

from conftest import write_video
from video_to_motion.core.worker.video import VideoError, iter_frames, probe, resolve_range


def test_probe_and_decode(tmp_path):
    path = write_video(tmp_path / "v.mp4", frames=10, size=(96, 64), fps=24.0)
    info = probe(path)
    assert (info.width, info.height, info.frame_count) == (96, 64, 10)
    assert info.fps == pytest.approx(24.0) and info.fps_from_container
    frames = list(iter_frames(path, 3, 7))
    assert [i for i, _ in frames] == [3, 4, 5, 6]
    assert frames[0][1].shape == (64, 96, 3)
    assert len(list(iter_frames(path))) == 10


def test_avi_mjpeg_decodes_too(tmp_path):
    info = probe(write_video(tmp_path / "v.avi", frames=5, fourcc="MJPG"))
    assert info.frame_count == 5


@pytest.mark.parametrize("start, end, message", [
    (10, None, "start frame 10 is past the end of the video, which has frames 0-9"),
    (0, 12, "end frame 12 is past the end"),
    (5, 2, "end frame 2 is before start frame 5"),
    (-1, None, "must be >= 0"),
])
def test_frame_range_outside_the_video(tmp_path, start, end, message):
    info = probe(write_video(tmp_path / "v.mp4", frames=10))
    with pytest.raises(VideoError, match=message) as err:
        resolve_range(info, start, end)
    assert err.value.code == "bad_frame_range"


def test_full_range_is_inclusive(tmp_path):
    info = probe(write_video(tmp_path / "v.mp4", frames=10))
    assert resolve_range(info, None, None) == (0, 10)
    assert resolve_range(info, 2, 4) == (2, 5)


def test_unusable_inputs(tmp_path):
    cases = {"video_not_found": tmp_path / "missing.mp4", "video_is_directory": tmp_path}
    text = tmp_path / "notes.mp4"
    text.write_text("this is not a video\n" * 20)
    cases["video_undecodable"] = text
    for code, path in cases.items():
        with pytest.raises(VideoError) as err:
            probe(path)
        assert err.value.code == code and str(path) in str(err.value)


def test_zero_frame_video(tmp_path):
    path = write_video(tmp_path / "empty.mp4", frames=0)
    with pytest.raises(VideoError) as err:
        probe(path)
    assert err.value.code in ("video_empty", "video_undecodable")
    assert "empty.mp4" in str(err.value)
