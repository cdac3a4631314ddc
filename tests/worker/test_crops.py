"""Square crops: geometry of the box, where pixels land, borders, channel order."""
from __future__ import annotations

import numpy as np
import pytest

from video_to_motion.core.worker.crops import apply_affine, crop_boxes, crop_square, invert_affine, square_box


def test_square_box_is_centred_on_the_box_and_scaled_from_its_longer_side():
    center, size = square_box(np.array([[10, 20, 50, 120], [0, 0, 30, 10]]), scale=1.2)
    np.testing.assert_allclose(center, [[30, 70], [15, 5]])
    np.testing.assert_allclose(size, [120, 36])


def _centroid(img: np.ndarray) -> np.ndarray:
    """Intensity centroid (x, y) in continuous coordinates (pixel centres at i + 0.5)."""
    w = img.astype(np.float64)
    ys, xs = np.mgrid[:img.shape[0], :img.shape[1]]
    return np.array([(w * (xs + 0.5)).sum(), (w * (ys + 0.5)).sum()]) / w.sum()


@pytest.mark.parametrize("center,size,out", [((130.0, 90.0), 64.0, 128), ((100.5, 60.0), 150.0, 96)])
def test_a_known_spot_lands_where_the_affine_says(center, size, out):
    frame = np.zeros((200, 300, 3), np.uint8)
    frame[79:82, 119:122, 2] = 255  # a 3x3 spot covering [119,122) x [79,82): centre (120.5, 80.5)
    crop, M = crop_square(frame, np.array(center), size, out=out)
    assert crop.shape == (out, out, 3) and crop.dtype == np.uint8
    expected = apply_affine(M, np.array([[120.5, 80.5]]))[0]
    np.testing.assert_allclose(_centroid(crop[..., 2]), expected, atol=0.3)
    # The crop's centre is the square's centre, and its corners are the square's corners.
    np.testing.assert_allclose(apply_affine(M, np.array([center]))[0], [out / 2, out / 2], atol=1e-4)
    corner = np.array(center) - size / 2
    np.testing.assert_allclose(apply_affine(M, corner[None])[0], [0, 0], atol=1e-3)


def test_invert_affine_maps_crop_points_back():
    _, M = crop_square(np.zeros((50, 60, 3), np.uint8), np.array([20.0, 30.0]), 40.0, out=64)
    pts = np.array([[3.0, 4.0], [25.5, 31.25], [59.0, 1.0]])
    np.testing.assert_allclose(apply_affine(invert_affine(M), apply_affine(M, pts)), pts, atol=1e-4)


def test_borders_outside_the_image():
    frame = np.full((40, 40, 3), (10, 20, 30), np.uint8)
    black, _ = crop_square(frame, np.array([0.0, 0.0]), 40.0, out=40)
    assert black[:15, :15].max() == 0 and (black[-10:, -10:] == (10, 20, 30)).all()
    edge, _ = crop_square(frame, np.array([0.0, 0.0]), 40.0, out=40, border="replicate")
    assert (edge == (10, 20, 30)).all()
    with pytest.raises(ValueError):
        crop_square(frame, np.array([0.0, 0.0]), 40.0, border="mirror")


def test_rgb_flag_swaps_channels_and_batch_matches_single_crops():
    frame = np.zeros((100, 100, 3), np.uint8)
    frame[..., 0] = 200  # blue in BGR
    boxes = np.array([[10, 10, 40, 60], [50, 20, 90, 90]], np.float32)
    crops, Ms = crop_boxes(frame, boxes, scale=1.1, out=32, rgb=True)
    assert crops.shape == (2, 32, 32, 3) and Ms.shape == (2, 2, 3)
    assert crops[0, 16, 16].tolist() == [0, 0, 200]
    center, size = square_box(boxes[1], 1.1)
    single, M = crop_square(frame, center, float(size), out=32, rgb=True)
    np.testing.assert_array_equal(crops[1], single)
    np.testing.assert_allclose(Ms[1], M)
