"""Square person crops for the pose estimators, with the affine maps between image and crop.

Coordinates are continuous pixel coordinates: pixel (column i, row j) covers
[i, i+1) x [j, j+1), the convention of detector boxes, so a box of the whole image is
(0, 0, W, H) and a landmark normalised to a crop maps to crop pixels by multiplying with
the crop size. Every affine `M` float[2,3] here maps full-image coordinates to crop
coordinates in that convention: (u, v) = M @ (x, y, 1).

Outside the image, crops are filled with black (`border="constant"`, what top-down pose
models are usually trained with) or with the nearest edge pixel (`border="replicate"`).
Crops keep the frame's channel order (BGR from OpenCV) unless `rgb=True`.
"""
from __future__ import annotations

import cv2
import numpy as np

BORDERS = {"constant": cv2.BORDER_CONSTANT, "replicate": cv2.BORDER_REPLICATE}


def square_box(box_xyxy: np.ndarray, scale: float = 1.2) -> tuple[np.ndarray, np.ndarray]:
    """The square around a box: centre float32[...,2] and side float32[...] = scale x longer side.

    box_xyxy: [...,4] x1, y1, x2, y2.
    """
    box = np.asarray(box_xyxy, np.float64)
    center = (box[..., :2] + box[..., 2:]) / 2
    side = np.maximum(box[..., 2] - box[..., 0], box[..., 3] - box[..., 1]) * scale
    return center.astype(np.float32), side.astype(np.float32)


def crop_affine(center: np.ndarray, size: np.ndarray, out: int) -> np.ndarray:
    """Affine float32[...,2,3] taking the square (center [...,2], side size [...]) onto an out x out crop."""
    center = np.asarray(center, np.float64)
    s = out / np.maximum(np.asarray(size, np.float64), 1e-6)
    M = np.zeros(center.shape[:-1] + (2, 3))
    M[..., 0, 0] = s
    M[..., 1, 1] = s
    M[..., :, 2] = out / 2 - s[..., None] * center
    return M.astype(np.float32)


def apply_affine(M: np.ndarray, points: np.ndarray) -> np.ndarray:
    """points [...,N,2] mapped by M [...,2,3] -> [...,N,2]."""
    M = np.asarray(M, np.float64)
    pts = np.asarray(points, np.float64)
    return pts @ np.swapaxes(M[..., :, :2], -1, -2) + M[..., None, :, 2]


def invert_affine(M: np.ndarray) -> np.ndarray:
    """The inverse of affine maps M [...,2,3] (crop -> full image for a crop's M)."""
    M = np.asarray(M, np.float64)
    A_inv = np.linalg.inv(M[..., :, :2])
    t = -(A_inv @ M[..., :, 2:])
    return np.concatenate([A_inv, t], axis=-1).astype(np.float32)


def _opencv_affine(M: np.ndarray) -> np.ndarray:
    """M in this module's convention -> warpAffine's, where integer coordinates are pixel centres."""
    M = np.asarray(M, np.float64)
    cv = M.copy()
    cv[:, 2] = M[:, 2] + 0.5 * M[:, :2].sum(axis=1) - 0.5
    return cv


def crop_square(frame: np.ndarray, center: np.ndarray, size: float, out: int = 256, border: str = "constant",
                rgb: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Cut one square out of a frame and resize it.

    frame uint8[H,W,3]; center [2]; size: side in pixels ->
    (crop uint8[out,out,3], M float32[2,3] full image -> crop).
    """
    if border not in BORDERS:
        raise ValueError(f"border must be one of {sorted(BORDERS)}, got '{border}'")
    M = crop_affine(np.asarray(center)[None], np.asarray([size]), out)[0]
    crop = cv2.warpAffine(frame, _opencv_affine(M), (out, out), flags=cv2.INTER_LINEAR,
                          borderMode=BORDERS[border], borderValue=(0, 0, 0))
    if rgb:
        crop = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB)
    return crop, M


def crop_squares(frame: np.ndarray, centers: np.ndarray, sizes: np.ndarray, out: int = 256,
                 border: str = "constant", rgb: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Several squares from one frame: centers [K,2], sizes [K] -> (crops uint8[K,out,out,3], M float32[K,2,3])."""
    centers = np.asarray(centers, np.float32).reshape(-1, 2)
    sizes = np.asarray(sizes, np.float32).reshape(-1)
    crops = np.zeros((len(centers), out, out, frame.shape[2] if frame.ndim == 3 else 1), np.uint8)
    Ms = np.zeros((len(centers), 2, 3), np.float32)
    for k, (c, s) in enumerate(zip(centers, sizes)):
        crop, Ms[k] = crop_square(frame, c, float(s), out, border, rgb)
        crops[k] = crop.reshape(crops.shape[1:])
    return crops, Ms


def crop_boxes(frame: np.ndarray, boxes_xyxy: np.ndarray, scale: float = 1.2, out: int = 256,
               border: str = "constant", rgb: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Square crops around boxes [K,4] -> (crops uint8[K,out,out,3], M float32[K,2,3])."""
    centers, sizes = square_box(np.asarray(boxes_xyxy).reshape(-1, 4), scale)
    return crop_squares(frame, centers, sizes, out, border, rgb)


def mask_outside(crop: np.ndarray, crop_from_image: np.ndarray, box_xyxy: np.ndarray, margin: float = 0.1,
                 fill: int = 114) -> np.ndarray:
    """A copy of a crop uint8[S,S,C] with everything outside an image box filled with grey.

    crop_from_image: float[2,3] (the crop's M); box_xyxy [4] in image pixels, grown by
    `margin` x its width and height on each side. Hides the neighbours of a person in a
    crowd from a pose model that would otherwise take one of them.
    """
    box = np.asarray(box_xyxy, np.float64)
    grow = margin * np.array([box[2] - box[0], box[3] - box[1]])
    corners = apply_affine(crop_from_image, np.array([box[:2] - grow, box[2:] + grow]))
    (x0, y0), (x1, y1) = np.floor(corners.min(axis=0)).astype(int), np.ceil(corners.max(axis=0)).astype(int)
    out = np.full_like(crop, fill)
    h, w = crop.shape[:2]
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 > x0 and y1 > y0:
        out[y0:y1, x0:x1] = crop[y0:y1, x0:x1]
    return out
