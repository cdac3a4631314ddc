"""Generated views of a textured room from a known moving camera (benchmarks and tests).

The room is a box of textured planes (floor, four walls, ceiling) in a Z-up world; a view
is rendered by casting each pixel's ray against every plane and sampling the nearest
plane's texture (cv2.remap, tiled). A pure turn of the camera gives views related by
H = K R K^-1 exactly; a travelling camera gives the parallax of a real room.
"""
from __future__ import annotations

import dataclasses

import cv2
import numpy as np


@dataclasses.dataclass
class Plane:
    """Points origin + a u + b v (metres) of a textured plane; normal = u x v."""

    origin: np.ndarray
    u: np.ndarray
    v: np.ndarray
    texture: np.ndarray       # grey uint8 [H, W], tiled
    metres_per_px: float


def room(textures: list[np.ndarray], half: float = 8.0, height: float = 5.0, metres_per_px: float = 0.01) -> list[Plane]:
    """Floor (Z = 0), four walls at +-half (X, Y) and a ceiling at `height`, textures used in turn."""
    e = np.eye(3)
    x, y, z = e
    specs = [(np.array([-half, -half, 0.0]), x, y),                 # floor
             (np.array([-half, half, height]), x, -z),              # wall ahead (+Y)
             (np.array([half, -half, height]), -x, -z),             # wall behind (-Y)
             (np.array([half, half, height]), -y, -z),              # wall right (+X)
             (np.array([-half, -half, height]), y, -z),             # wall left (-X)
             (np.array([-half, -half, height]), y, x)]              # ceiling
    return [Plane(o, u, v, textures[i % len(textures)], metres_per_px) for i, (o, u, v) in enumerate(specs)]


def render(planes: list[Plane], cam_to_world: np.ndarray, centre: np.ndarray, focal: float,
           size: tuple[int, int]) -> np.ndarray:
    """Grey uint8 [H, W] view of the planes from a camera at `centre` (world, metres) whose
    OpenCV axes (x right, y down, z forward) map to the world by `cam_to_world` [3, 3]."""
    w, h = size
    u, v = np.meshgrid(np.arange(w, dtype=np.float64) + 0.5, np.arange(h, dtype=np.float64) + 0.5)
    rays = np.stack([(u - w / 2) / focal, (v - h / 2) / focal, np.ones_like(u)], axis=-1) @ cam_to_world.T
    best = np.full((h, w), np.inf)
    out = np.zeros((h, w), np.uint8)
    for plane in planes:
        normal = np.cross(plane.u, plane.v)
        denom = rays @ normal
        with np.errstate(divide="ignore", invalid="ignore"):
            depth = ((plane.origin - centre) @ normal) / denom
        hit = np.isfinite(depth) & (depth > 1e-6) & (depth < best)
        if not hit.any():
            continue
        point = centre + rays * np.where(hit, depth, 0.0)[..., None] - plane.origin
        tex_x = ((point @ plane.u) / plane.metres_per_px).astype(np.float32)
        tex_y = ((point @ plane.v) / plane.metres_per_px).astype(np.float32)
        th, tw = plane.texture.shape
        sampled = cv2.remap(plane.texture, np.mod(tex_x, tw), np.mod(tex_y, th), cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_WRAP)
        out[hit] = sampled[hit]
        best[hit] = depth[hit]
    return out


def noise_texture(rng, size: int = 256, blur: float = 1.5) -> np.ndarray:
    """A grey texture of blurred noise with strong corners (for tests without real images)."""
    raw = rng.uniform(0, 255, (size, size)).astype(np.float32)
    return cv2.normalize(cv2.GaussianBlur(raw, (0, 0), blur), None, 0, 255, cv2.NORM_MINMAX).astype(np.uint8)
