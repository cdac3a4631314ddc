"""The preview image through real bpy (scripts/batch_import.py --preview, in a child process):
the imported skeletons land where the motion's pinhole camera puts them, over the right frame."""
from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from conftest import REPO, write_video
from video_to_motion.core.common.motion import write_motion
from motions import random_motion
from test_batch_import import batch

SIZES = {"wide": (320, 240), "tall": (240, 320)}  # both ways round: the camera's sensor fit matters
TRACKS = {1: np.arange(0, 10), 3: np.arange(4, 12)}  # 1.6 m apart: the skeletons do not overlap


def load_preview_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("vtm_preview_test", REPO / "scripts" / "preview.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks the module up there
    spec.loader.exec_module(module)
    return module


def pinhole(points: np.ndarray, focal: float, size) -> np.ndarray:
    """Camera-frame points [..., 3] -> continuous pixel coordinates [..., 2] (principal point W/2, H/2)."""
    return focal * points[..., :2] / points[..., 2:3] + np.asarray(size, np.float64) / 2


@pytest.fixture(scope="module")
def previews(tmp_path_factory, body_model_path):
    folder = tmp_path_factory.mktemp("preview")
    known = {}
    for seed, (name, size) in enumerate(SIZES.items()):
        motion, reference = random_motion(body_model_path, tracks=TRACKS, seed=seed, size=size)
        write_motion(folder / f"{name}.npz", motion)
        write_video(folder / f"{name}.mp4", frames=12, size=size)
        known[name] = (motion, reference)
    # Root smoothing off: the keys then hold the motion exactly; the floor alignment stays on
    # (it moves the armatures and the camera together, which the projection must not notice).
    rc, report, err = batch(folder, "--motion", f"{folder}/*.npz", "--footage", f"{folder}/{{name}}.mp4",
                            "--preview", f"{folder}/out/{{name}}.png", "--root-smoothing", "none")
    assert rc == 0, err
    return folder, known, {r["name"]: r for r in report["results"]}


@pytest.mark.parametrize("name", SIZES)
def test_pelvis_lands_where_the_pinhole_puts_it(previews, name):
    import cv2

    folder, known, results = previews
    motion, reference = known[name]
    entry = results[name]
    shown = entry["preview"]
    frame = shown["frame"]
    assert shown["tracks"] == [1, 3] and frame in range(4, 10), shown  # the busiest frame: both tracks
    assert entry["timings"]["preview"] > 0 and entry["outputs"]["preview"] == [str(folder / "out" / f"{name}.png")]
    image = cv2.imread(str(folder / "out" / f"{name}.png"))
    zoom = shown["zoom"]
    assert zoom == 4 and image.shape == (SIZES[name][1] * zoom, SIZES[name][0] * zoom, 3)  # enlarged to 1280
    scripts_preview = load_preview_module()
    for track in (1, 3):
        row = np.flatnonzero((motion.track_ids == track) & (motion.frame_ids == frame))[0]
        want = pinhole(reference[row, 0], motion.focal_length, motion.image_size)
        got = np.array(shown["pelvis_pixels"][str(track)])
        assert np.abs(got - want).max() < 0.05, (track, got, want)
        # The drawing: the pixel that holds the pelvis shows the track's colour.
        col, row_px = np.floor(want * zoom).astype(int)
        colour = scripts_preview.track_colour(track)
        assert np.abs(image[row_px, col].astype(int) - colour).max() <= 12, (image[row_px, col], colour)


def test_the_skeletons_are_drawn_over_the_preview_frame(previews):
    import cv2

    from video_to_motion.core.worker.video import iter_frames

    folder, _, results = previews
    shown = results["wide"]["preview"]
    zoom = shown["zoom"]
    image = cv2.imread(str(folder / "out" / "wide.png"))[::zoom, ::zoom].astype(np.int16)  # undo the enlargement
    frames = [f.astype(np.int16) for _, f in iter_frames(folder / "wide.mp4")]
    differs = [np.mean(np.abs(image - f).max(axis=-1) > 12) for f in frames]
    assert int(np.argmin(differs)) == shown["frame"], differs  # the footage of that very frame
    assert 0.01 < differs[shown["frame"]] < 0.3  # skeletons drawn, most of the frame untouched


def test_preview_needs_the_camera(tmp_path, previews):
    folder, _, _ = previews
    rc, report, err = batch(tmp_path, "--motion", folder / "wide.npz", "--preview", tmp_path / "p.png", "--no-camera")
    assert rc == 2 and "--no-camera" in err and not (tmp_path / "p.png").exists()


def test_explicit_preview_frame_without_footage(tmp_path, previews):
    import cv2

    folder, known, _ = previews
    rc, report, err = batch(tmp_path, "--motion", folder / "wide.npz", "--preview", tmp_path / "p.png",
                            "--preview-frame", 1, "--report", tmp_path / "r.json")
    assert rc == 0, err
    shown = report["results"][0]["preview"]
    assert shown["frame"] == 1 and shown["tracks"] == [1] and shown["on_footage"] is False
    assert json.loads((tmp_path / "r.json").read_text()) == report
    image = cv2.imread(str(tmp_path / "p.png"))
    assert image.shape == (240 * shown["zoom"], 320 * shown["zoom"], 3)
    assert np.median(image) == 64  # the grey canvas
