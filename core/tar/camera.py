"""The CLIFF camera (Li et al. 2022): bbox information, crop camera -> full-image translation,
full-image perspective projection and the way from full-image pixels into crop pixels.

Conventions: OpenCV camera (x right, y down, z forward); continuous pixel coordinates
where pixel i covers [i, i+1) (as `core.crops`), so the principal point, the image
centre, is (W/2, H/2); square crop boxes given by centre (cx, cy) and side b in pixels.
All functions are pure and batched over a leading B.
"""
from __future__ import annotations

import torch

BBOX_INFO_SCALE = 2.8  # CLIFF's normalisation of the box centre offset
BBOX_SIZE_MEAN = 0.24  # CLIFF centres the box side (as a fraction of f) here ...
BBOX_SIZE_SPREAD = 0.06  # ... and divides by this
MIN_CAM_SCALE = 1e-2  # a crop scale s <= 0 would put the body behind the camera
MIN_DEPTH = 1e-3  # metres; keeps projection finite for points at or behind the camera


def default_focal(img_size: torch.Tensor) -> torch.Tensor:
    """CLIFF's focal length when the camera is unknown: f = √(W² + H²).

    img_size [..., 2] (W, H) -> [...].
    """
    size = img_size if img_size.is_floating_point() else img_size.float()
    return torch.linalg.vector_norm(size, dim=-1)


def bbox_info(box_center: torch.Tensor, box_size: torch.Tensor, focal: torch.Tensor,
              img_size: torch.Tensor) -> torch.Tensor:
    """CLIFF's bbox information vector.

    box_center [B, 2], box_size [B], focal [B], img_size [B, 2] (W, H) -> [B, 3]:
    [(cx − W/2)/f · 2.8, (cy − H/2)/f · 2.8, (b − 0.24 f)/(0.06 f)].
    """
    f = focal[:, None]
    offset = (box_center - img_size / 2) / f * BBOX_INFO_SCALE
    size = (box_size[:, None] - BBOX_SIZE_MEAN * f) / (BBOX_SIZE_SPREAD * f)
    return torch.cat([offset, size], dim=-1)


def crop_to_full_translation(cam_crop: torch.Tensor, box_center: torch.Tensor, box_size: torch.Tensor,
                             focal: torch.Tensor, img_size: torch.Tensor) -> torch.Tensor:
    """Crop camera (s, tx, ty) -> translation in the full-image camera, smplx's `transl`.

    cam_crop [B, 3], box_center [B, 2], box_size [B], focal [B], img_size [B, 2] -> [B, 3]:
    bs = b·s; t = (tx + 2(cx − W/2)/bs, ty + 2(cy − H/2)/bs, 2f/bs).
    s is clamped to MIN_CAM_SCALE so that the body stays in front of the camera.
    """
    s = cam_crop[:, 0].clamp(min=MIN_CAM_SCALE)
    bs = box_size * s
    offset = box_center - img_size / 2
    tx = cam_crop[:, 1] + 2 * offset[:, 0] / bs
    ty = cam_crop[:, 2] + 2 * offset[:, 1] / bs
    tz = 2 * focal / bs
    return torch.stack([tx, ty, tz], dim=-1)


def project_full(points: torch.Tensor, trans: torch.Tensor, focal: torch.Tensor,
                 img_size: torch.Tensor) -> torch.Tensor:
    """Perspective projection into full-image pixels.

    points [B, N, 3] (body frame, transl = 0), trans [B, 3], focal [B], img_size [B, 2]
    -> [B, N, 2]: u = f·X/Z + W/2, v = f·Y/Z + H/2 with (X, Y, Z) = points + trans.
    """
    p = points + trans[:, None, :]
    z = p[..., 2:].clamp(min=MIN_DEPTH)
    return focal[:, None, None] * p[..., :2] / z + img_size[:, None, :] / 2


def full_to_crop(points2d: torch.Tensor, box_center: torch.Tensor, box_size: torch.Tensor,
                 crop_size: float) -> torch.Tensor:
    """Full-image pixels -> pixels of the square crop resized to crop_size.

    points2d [B, N, 2], box_center [B, 2], box_size [B] -> [B, N, 2]:
    (p − (c − b/2)) · crop_size / b.
    """
    corner = box_center - box_size[:, None] / 2
    return (points2d - corner[:, None, :]) * (crop_size / box_size)[:, None, None]
