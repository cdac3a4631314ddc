"""Augmentation that keeps the ground truth exact, and the crop that feeds the model.

Image coordinates are continuous (the image spans [0, W] × [0, H], pixel centres at
+0.5) and the camera's principal point is the image centre, as in CLIFF. So:
- a horizontal flip mirrors the camera's x axis: u -> W − u, X -> −X, SMPL pose mirrored
  (joints swapped left/right, axis-angle (x, y, z) -> (x, −y, −z));
- an in-plane rotation turns the camera about its optical axis: the image turns about
  its centre, 3D joints and the global orientation turn about the camera's z axis;
- scale and translation jitter only change the person's box.
All three are one affine map from crop pixels to source pixels, applied with one warp.
Colour scaling and synthetic occluders change only the pixels. A clip shares one draw.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ..common import rotations
from ..common.skeleton import FLIP_PERMUTATION

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)


def flip_smpl_pose(pose: np.ndarray) -> np.ndarray:
    """Mirror SMPL poses [..., 72] (axis-angle) across the x = 0 plane."""
    p = np.asarray(pose).reshape(pose.shape[:-1] + (24, 3))[..., FLIP_PERMUTATION, :].copy()
    p[..., 1:] *= -1
    return p.reshape(pose.shape)


def flip_joints3d(joints: np.ndarray, perm: np.ndarray = FLIP_PERMUTATION) -> np.ndarray:
    """Mirror 3D joints [..., 24, C≥3] (camera frame): x -> −x, left and right swapped
    (`perm`: the layout's left/right permutation, SMPL's by default)."""
    j = np.asarray(joints)[..., perm, :].copy()
    j[..., 0] *= -1
    return j


def flip_joints2d(joints: np.ndarray, width: float, perm: np.ndarray = FLIP_PERMUTATION) -> np.ndarray:
    """Mirror 2D joints [..., 24, C≥2] in an image `width` wide: u -> W − u, sides swapped."""
    j = np.asarray(joints)[..., perm, :].copy()
    j[..., 0] = width - j[..., 0]
    return j


@dataclasses.dataclass(frozen=True)
class AugmentConfig:
    flip: float = 0.5                 # probability
    rotation_prob: float = 0.6
    rotation_std_deg: float = 30.0    # N(0, σ), clipped to ±rotation_max_deg
    rotation_max_deg: float = 60.0
    scale: tuple[float, float] = (0.75, 1.25)
    shift: float = 0.1                # box centre jitter, fraction of the box size
    color: tuple[float, float] = (0.6, 1.4)  # per-channel factor
    occlusion: float = 0.3            # probability of a synthetic occluder


@dataclasses.dataclass(frozen=True)
class AugmentParams:
    flip: bool = False
    rotation: float = 0.0             # radians, counter-clockwise on screen... about +z (camera)
    scale: float = 1.0
    shift: tuple[float, float] = (0.0, 0.0)
    color: tuple[float, float, float] = (1.0, 1.0, 1.0)
    occluder_seed: int | None = None


NO_AUGMENT = AugmentParams()


def sample_params(rng: np.random.Generator, cfg: AugmentConfig) -> AugmentParams:
    rot = 0.0
    if rng.random() < cfg.rotation_prob:
        rot = float(np.radians(np.clip(rng.normal(0, cfg.rotation_std_deg), -cfg.rotation_max_deg, cfg.rotation_max_deg)))
    return AugmentParams(
        flip=bool(rng.random() < cfg.flip), rotation=rot, scale=float(rng.uniform(*cfg.scale)),
        shift=tuple(float(x) for x in rng.uniform(-cfg.shift, cfg.shift, 2)),
        color=tuple(float(x) for x in rng.uniform(*cfg.color, 3)),
        occluder_seed=int(rng.integers(1 << 31)) if rng.random() < cfg.occlusion else None)


def _rot2(angle: float) -> np.ndarray:
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s], [s, c]])


@dataclasses.dataclass
class View:
    """One frame's geometry after augmentation (all in the augmented image's pixels)."""

    box_center: np.ndarray   # [2]
    box_size: float
    src_from_crop: np.ndarray  # [2, 3] affine: crop pixel centre (continuous) -> source image point


def make_view(center: np.ndarray, box_size: float, img_size: tuple[float, float], params: AugmentParams,
              crop: int) -> View:
    """The augmented box and the affine from crop to source pixels (continuous coordinates)."""
    w, h = img_size
    pp = np.array([w / 2, h / 2])
    c = np.asarray(center, dtype=np.float64).copy()
    if params.flip:
        c[0] = w - c[0]
    rot = _rot2(params.rotation)
    c = rot @ (c - pp) + pp
    size = box_size * params.scale
    c = c + np.asarray(params.shift) * size
    # crop point q (continuous, [0, crop]) -> augmented image point -> source image point.
    a = np.eye(3)
    a[:2, :2] *= size / crop
    a[:2, 2] = c - size / 2
    unrot = np.eye(3)
    unrot[:2, :2] = rot.T
    unrot[:2, 2] = pp - rot.T @ pp
    m = unrot @ a
    if params.flip:
        f = np.diag([-1.0, 1.0, 1.0])
        f[0, 2] = w
        m = f @ m
    return View(c, float(size), m[:2])


def warp_crop(image: np.ndarray, view: View, crop: int) -> np.ndarray:
    """Sample the crop [crop, crop, 3] uint8 from a source image [H, W, 3] with the view's affine."""
    import cv2

    m = view.src_from_crop.copy()
    # OpenCV indexes pixel centres at integers: shift by half a pixel on both sides.
    m[:, 2] += m[:, :2] @ np.array([0.5, 0.5]) - 0.5
    return cv2.warpAffine(image, m, (crop, crop), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))


def transform_joints2d(joints: np.ndarray, img_size: tuple[float, float], params: AugmentParams,
                       perm: np.ndarray = FLIP_PERMUTATION) -> np.ndarray:
    """2D joints [..., 24, 3] (px, conf) in the source image -> the augmented image."""
    w, h = img_size
    j = flip_joints2d(joints, w, perm) if params.flip else np.asarray(joints).copy()
    pp = np.array([w / 2, h / 2])
    j[..., :2] = (j[..., :2] - pp) @ _rot2(params.rotation).T + pp
    return j


def camera_rotation(params: AugmentParams) -> np.ndarray:
    """The 3×3 rotation of camera-frame points that the in-plane rotation amounts to."""
    r = np.eye(3)
    r[:2, :2] = _rot2(params.rotation)
    return r


def transform_joints3d(joints: np.ndarray, params: AugmentParams, perm: np.ndarray = FLIP_PERMUTATION) -> np.ndarray:
    """Camera-frame 3D joints [..., 24, C≥3] -> the augmented camera's frame."""
    j = flip_joints3d(joints, perm) if params.flip else np.asarray(joints).copy()
    j[..., :3] = j[..., :3] @ camera_rotation(params).T
    return j


def transform_pose(pose: np.ndarray, params: AugmentParams) -> np.ndarray:
    """SMPL pose [..., 72] with a camera-frame global orientation -> the augmented camera's."""
    p = flip_smpl_pose(pose) if params.flip else np.asarray(pose).copy()
    root = rotations.axis_angle_to_matrix(p[..., :3])
    p[..., :3] = rotations.matrix_to_axis_angle(camera_rotation(params) @ root)
    return p


def apply_pixels(crop: np.ndarray, params: AugmentParams) -> np.ndarray:
    """Colour scaling and an optional occluder on a uint8 crop [S, S, 3] -> uint8."""
    import cv2

    out = crop.astype(np.float32) * np.asarray(params.color, np.float32)
    if params.occluder_seed is not None:
        rng = np.random.default_rng(params.occluder_seed)
        s = crop.shape[0]
        mask = np.zeros(crop.shape[:2], np.uint8)
        cx, cy = rng.uniform(0.1, 0.9, 2) * s
        ax, ay = rng.uniform(0.08, 0.25, 2) * s
        if rng.random() < 0.5:
            cv2.rectangle(mask, (int(cx - ax), int(cy - ay)), (int(cx + ax), int(cy + ay)), 1, -1)
        else:
            cv2.ellipse(mask, (int(cx), int(cy)), (int(ax), int(ay)), float(rng.uniform(0, 180)), 0, 360, 1, -1)
        texture = rng.uniform(0, 255, 3).astype(np.float32) + rng.normal(0, 20, crop.shape).astype(np.float32)
        out = np.where(mask[..., None] > 0, texture, out)
    return np.clip(out, 0, 255).astype(np.uint8)


def to_tensor_layout(crop: np.ndarray) -> np.ndarray:
    """uint8 RGB [S, S, 3] -> float32 [3, S, S] normalised with the ImageNet mean and std."""
    return ((crop.astype(np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD).transpose(2, 0, 1)
