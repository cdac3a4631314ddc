"""A small z-buffer rasteriser for the generated body, vectorised in torch, for training images.

Pinhole camera with the principal point at the image centre (CLIFF's convention).
Image coordinates are continuous: the image spans [0, W] × [0, H] and pixel (i, j) has its
centre at (i + 0.5, j + 0.5), so mirroring the image is exactly u -> W − u. Triangles are binned by the
size of their screen bounding box so that every bin tests a small fixed grid of pixels
per triangle; the nearest triangle per pixel wins through one integer `scatter_reduce`
(depth and triangle index packed into one key). Shading: per-vertex albedo, smoothly
interpolated normals, ambient plus one directional light.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import torch

NEAR = 0.05  # metres


def project(points: torch.Tensor, focal: float, width: int, height: int) -> torch.Tensor:
    """Camera-frame points [..., 3] -> pixels and depth [..., 3] = (u, v, z)."""
    z = points[..., 2]
    u = focal * points[..., 0] / z + 0.5 * width
    v = focal * points[..., 1] / z + 0.5 * height
    return torch.stack([u, v, z], dim=-1)


@dataclasses.dataclass
class Fragments:
    face: torch.Tensor   # [H, W] int64 winning triangle, −1 where empty
    bary: torch.Tensor   # [H, W, 3] screen-space barycentric weights of that triangle
    depth: torch.Tensor  # [H, W] camera depth, inf where empty

    @property
    def mask(self) -> torch.Tensor:
        return self.face >= 0


def _edge(ax, ay, bx, by, px, py):
    return (bx - ax) * (py - ay) - (by - ay) * (px - ax)


def rasterize(verts: torch.Tensor, faces: torch.Tensor, width: int, height: int,
              cull_backfaces: bool = True) -> Fragments:
    """verts [V, 3] camera-frame points (metres) already projected to (u, v, z); faces [F, 3]."""
    dev = verts.device
    tri = verts[faces]  # [F, 3, 3]
    u, v, z = tri[..., 0], tri[..., 1], tri[..., 2]
    area = _edge(u[:, 0], v[:, 0], u[:, 1], v[:, 1], u[:, 2], v[:, 2])
    keep = (z > NEAR).all(dim=1) & (area.abs() > 1e-12)
    if cull_backfaces:
        # Outward-wound closed mesh: in image coordinates (v down) a front face has area < 0.
        keep &= area < 0
    # Pixel columns whose centre x + 0.5 lies within the triangle's extent.
    x0 = (u.min(1).values - 0.5).ceil().clamp(min=0)
    x1 = (u.max(1).values - 0.5).floor().clamp(max=width - 1)
    y0 = (v.min(1).values - 0.5).ceil().clamp(min=0)
    y1 = (v.max(1).values - 0.5).floor().clamp(max=height - 1)
    keep &= (x1 >= x0) & (y1 >= y0)
    ids = torch.nonzero(keep).squeeze(1)
    extent = torch.maximum(x1 - x0, y1 - y0)[ids] + 1
    best = torch.full((height * width,), torch.iinfo(torch.int64).max, dtype=torch.int64, device=dev)
    n_faces = len(faces)
    depth_levels = 1 << 40
    zmax = float(z[keep].max()) + 1.0 if len(ids) else 1.0
    size = 1
    while len(ids) and size < 2 * max(width, height):
        sel = ids[(extent > size // 2) & (extent <= size)] if size > 1 else ids[extent <= 1]
        size *= 2
        if len(sel) == 0:
            continue
        k = size // 2 if size > 2 else 1
        off = torch.arange(k, device=dev, dtype=x0.dtype)
        px = (x0[sel, None, None] + off[None, None, :]).expand(-1, k, k)
        py = (y0[sel, None, None] + off[None, :, None]).expand(-1, k, k)
        fu, fv, fz = u[sel][:, :, None, None], v[sel][:, :, None, None], z[sel][:, :, None, None]
        cx, cy = px + 0.5, py + 0.5
        w0 = _edge(fu[:, 1], fv[:, 1], fu[:, 2], fv[:, 2], cx, cy)
        w1 = _edge(fu[:, 2], fv[:, 2], fu[:, 0], fv[:, 0], cx, cy)
        w2 = _edge(fu[:, 0], fv[:, 0], fu[:, 1], fv[:, 1], cx, cy)
        a = area[sel][:, None, None]
        b0, b1, b2 = w0 / a, w1 / a, w2 / a
        inside = (b0 >= 0) & (b1 >= 0) & (b2 >= 0) & (px <= x1[sel, None, None]) & (py <= y1[sel, None, None])
        # Perspective-correct depth: 1/z is linear in screen space.
        inv_z = b0 / fz[:, 0] + b1 / fz[:, 1] + b2 / fz[:, 2]
        depth = 1.0 / inv_z
        f_idx = sel[:, None, None].expand(-1, k, k)
        pix = (py * width + px).long()
        dq = (depth / zmax * (depth_levels - 1)).long().clamp(0, depth_levels - 1)
        key = dq * n_faces + f_idx
        best.scatter_reduce_(0, pix[inside], key[inside], reduce="amin")
    covered = best != torch.iinfo(torch.int64).max
    face = torch.where(covered, best % n_faces, torch.full_like(best, -1)).view(height, width)
    # Barycentrics of the winning triangle at each covered pixel.
    bary = torch.zeros(height * width, 3, device=dev, dtype=verts.dtype)
    dmap = torch.full((height * width,), float("inf"), device=dev, dtype=verts.dtype)
    cov_idx = torch.nonzero(covered).squeeze(1)
    if len(cov_idx):
        f = best[cov_idx] % n_faces
        px = (cov_idx % width).to(verts.dtype) + 0.5
        py = (cov_idx // width).to(verts.dtype) + 0.5
        fu, fv, fz = u[f], v[f], z[f]
        a = area[f]
        b = torch.stack([_edge(fu[:, 1], fv[:, 1], fu[:, 2], fv[:, 2], px, py),
                         _edge(fu[:, 2], fv[:, 2], fu[:, 0], fv[:, 0], px, py),
                         _edge(fu[:, 0], fv[:, 0], fu[:, 1], fv[:, 1], px, py)], dim=1) / a[:, None]
        bary[cov_idx] = b
        dmap[cov_idx] = 1.0 / (b / fz).sum(1)
    return Fragments(face, bary.view(height, width, 3), dmap.view(height, width))


def vertex_normals(verts: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Area-weighted unit vertex normals [V, 3] of an outward-wound mesh."""
    tri = verts[faces]
    n = torch.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0], dim=1)
    out = torch.zeros_like(verts)
    for i in range(3):
        out.index_add_(0, faces[:, i], n)
    return out / out.norm(dim=1, keepdim=True).clamp(min=1e-12)


@dataclasses.dataclass
class Lighting:
    direction: tuple[float, float, float] = (0.3, -0.5, -1.0)  # towards the light, camera frame
    ambient: float = 0.45
    diffuse: float = 0.65


def shade(frags: Fragments, verts_cam: torch.Tensor, faces: torch.Tensor, colors: torch.Tensor,
          light: Lighting) -> torch.Tensor:
    """Lit colour [H, W, 3] in [0, 1] where covered (zeros elsewhere). colors [V, 3] albedo."""
    h, w = frags.face.shape
    out = torch.zeros(h, w, 3, dtype=colors.dtype, device=colors.device)
    m = frags.mask
    if not m.any():
        return out
    f = faces[frags.face[m]]  # [P, 3]
    b = frags.bary[m][..., None]  # [P, 3, 1]
    normals = vertex_normals(verts_cam, faces)
    n = (normals[f] * b).sum(1)
    n = n / n.norm(dim=1, keepdim=True).clamp(min=1e-12)
    albedo = (colors[f] * b).sum(1)
    l_dir = torch.tensor(light.direction, dtype=n.dtype, device=n.device)
    l_dir = l_dir / l_dir.norm()
    lambert = (n @ l_dir).clamp(min=0.0)
    out[m] = albedo * (light.ambient + light.diffuse * lambert[:, None])
    return out.clamp(0.0, 1.0)


def render(verts_cam: torch.Tensor, faces: torch.Tensor, colors: torch.Tensor, focal: float,
           width: int, height: int, background: np.ndarray, light: Lighting = Lighting(),
           supersample: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Draw the mesh over a background. verts_cam [V, 3] metres (camera frame, OpenCV axes),
    faces [F, 3], colors [V, 3] in [0, 1], background uint8 [H, W, 3] (RGB).

    Returns (image uint8 [H, W, 3] RGB, silhouette bool [H, W]). Supersampling by `s`
    renders at s× the size and averages, which smooths the edges (with continuous image
    coordinates the s× image is the same picture scaled by s).
    """
    import cv2

    s = supersample
    proj = project(verts_cam, focal * s, width * s, height * s)
    frags = rasterize(proj, faces, width * s, height * s)
    color = shade(frags, verts_cam, faces, colors, light).cpu().numpy()
    mask = frags.mask.cpu().numpy().astype(np.float32)
    if s > 1:
        color = cv2.resize(color, (width, height), interpolation=cv2.INTER_AREA)
        mask = cv2.resize(mask, (width, height), interpolation=cv2.INTER_AREA)
    bg = background.astype(np.float32) / 255.0
    img = color + (1.0 - mask[..., None]) * bg
    return (np.clip(img, 0, 1) * 255 + 0.5).astype(np.uint8), mask > 0.5
