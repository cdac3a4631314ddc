"""Preview image: the imported skeletons drawn over a frame of the footage, seen through
the scene's camera. Needs bpy and OpenCV in one Python (bpy from PyPI in the worker's
environment; Blender's own Python has no OpenCV).

It checks the whole chain: the motion file, the armatures Blender poses from its keys,
and the camera the import built. Pixel positions here are continuous image coordinates
(x right, y down, the image spanning 0..W and 0..H, so pixel i's centre is at i + 0.5),
the convention of the motion file's pinhole camera (principal point W/2, H/2).
"""
from __future__ import annotations

import colorsys
import dataclasses
import os

import numpy as np

from video_to_motion.core.common.atomic import atomic_path
from video_to_motion.core.worker.video import iter_frames

BACKGROUND_GREY = 64  # the canvas when there is no footage
# Small footage is enlarged (by a whole factor, so pixels stay sharp) until its longer side
# reaches this: people 80 pixels tall are too small to see a skeleton's bones on.
MIN_PREVIEW_SIDE = 1280


class PreviewError(RuntimeError):
    pass


@dataclasses.dataclass
class Skeleton:
    """One armature at one frame: bone names [B], parents [B] (index into names, -1 for
    the root), pixels [B, 2] (continuous image coordinates) and depth [B] (metres in
    front of the camera; <= 0 is behind it)."""

    track_id: int
    names: list[str]
    parents: list[int]
    pixels: np.ndarray
    depth: np.ndarray

    def pixel(self, name: str) -> np.ndarray:
        return self.pixels[self.names.index(name)]


def busiest_frame(frame_ids: np.ndarray, track_ids: np.ndarray, tracks=None) -> int:
    """The video frame where the most of `tracks` (default: all) have a row.

    frame_ids [N], track_ids [N] (a motion's rows). Ties go to the frame nearest the
    middle of the rows' frame range, where tracks are least likely to be just starting.
    """
    frame_ids, track_ids = np.asarray(frame_ids), np.asarray(track_ids)
    if tracks is not None:
        keep = np.isin(track_ids, list(tracks))
        frame_ids = frame_ids[keep]
    if frame_ids.size == 0:
        raise PreviewError("no rows to choose a preview frame from")
    frames, counts = np.unique(frame_ids, return_counts=True)
    middle = 0.5 * (frames[0] + frames[-1])
    best = frames[counts == counts.max()]
    return int(best[np.argmin(np.abs(best - middle))])


def tracks_at(frame_ids: np.ndarray, track_ids: np.ndarray, frame: int) -> list[int]:
    """Track ids with a row at `frame`."""
    return sorted(int(t) for t in np.unique(np.asarray(track_ids)[np.asarray(frame_ids) == frame]))


def world_heads(armature) -> tuple[list[str], list[int], np.ndarray]:
    """(bone names [B], parent indices [B], posed bone heads [B, 3] in world space) at the
    scene's current frame."""
    bones = list(armature.pose.bones)
    names = [b.name for b in bones]
    parents = [names.index(b.parent.name) if b.parent else -1 for b in bones]
    m = np.array(armature.matrix_world, dtype=np.float64)
    heads = np.array([b.head for b in bones], dtype=np.float64)
    return names, parents, heads @ m[:3, :3].T + m[:3, 3]


def project(scene, camera, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World points [N, 3] -> (pixels [N, 2], depth [N]) through `camera` at the scene's
    render resolution."""
    from bpy_extras.object_utils import world_to_camera_view
    from mathutils import Vector

    w, h = scene.render.resolution_x, scene.render.resolution_y
    ndc = np.array([tuple(world_to_camera_view(scene, camera, Vector(map(float, p)))) for p in points])
    ndc = ndc.reshape(-1, 3)
    # Blender's view coordinates run bottom-up; image rows run top-down.
    return np.stack([ndc[:, 0] * w, (1.0 - ndc[:, 1]) * h], axis=1), ndc[:, 2]


def track_colour(track_id: int) -> tuple[int, int, int]:
    """A bright BGR colour per track; golden-ratio hue steps keep neighbouring ids apart."""
    hue = (0.13 + 0.618034 * int(track_id)) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.85, 1.0)
    return int(b * 255), int(g * 255), int(r * 255)


def _cv_point(pixel: np.ndarray, shift: int = 4) -> tuple[int, int]:
    # OpenCV puts pixel i's centre at i, the continuous convention at i + 0.5; the shift
    # keeps sub-pixel precision in OpenCV's fixed-point drawing.
    return tuple(int(round((float(c) - 0.5) * (1 << shift))) for c in pixel)


def upscale_factor(width: int, height: int, min_side: int = MIN_PREVIEW_SIDE) -> int:
    """The whole factor that brings the longer side to at least `min_side` (1 if it is)."""
    return max(1, -(-int(min_side) // max(int(width), int(height))))


def draw_skeletons(image: np.ndarray, skeletons: list[Skeleton], label: str | None = None,
                   zoom: int = 1) -> np.ndarray:
    """Image [H, W, 3] BGR enlarged `zoom` times, with each skeleton's bones, joints and track
    id drawn on it (skeleton pixels are in the image's own coordinates)."""
    import cv2

    out = cv2.resize(image, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_NEAREST) if zoom > 1 else image.copy()
    size = max(out.shape[:2]) / 1280.0  # line widths and text follow the picture's size
    thick = max(1, int(round(2 * size)))
    radius = int(round(max(1.5, 3 * size) * 16))
    font = 0.7 * max(size, 0.5)
    labels: list[tuple[int, int, int, int]] = []  # placed label boxes (x0, y0, x1, y1)
    for sk in skeletons:
        colour = track_colour(sk.track_id)
        front = sk.depth > 0
        pixels = sk.pixels * zoom
        for j, p in enumerate(sk.parents):
            if p >= 0 and front[j] and front[p]:
                cv2.line(out, _cv_point(pixels[p]), _cv_point(pixels[j]), colour, thick, cv2.LINE_AA, 4)
        for j in np.flatnonzero(front):
            cv2.circle(out, _cv_point(pixels[j]), radius, colour, -1, cv2.LINE_AA, 4)
        if front.any():
            top = pixels[front][np.argmin(pixels[front, 1])]
            text = f"{sk.track_id}"
            (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, font, thick)
            x, y = int(top[0] - tw / 2), int(top[1] - 10 * size - 4)
            # Tracks on one person put their labels in one place: stack them instead.
            while any(x < b[2] and b[0] < x + tw and y - th < b[3] and b[1] < y for b in labels):
                y -= th + 4
            labels.append((x, y - th, x + tw, y))
            org = (x, y)
            cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, font, (0, 0, 0), thick + 2, cv2.LINE_AA)
            cv2.putText(out, text, org, cv2.FONT_HERSHEY_SIMPLEX, font, colour, thick, cv2.LINE_AA)
    if label:
        org = (int(10 * size) + 4, out.shape[0] - int(12 * size) - 4)
        cv2.putText(out, label, org, cv2.FONT_HERSHEY_SIMPLEX, font, (0, 0, 0), thick + 2, cv2.LINE_AA)
        cv2.putText(out, label, org, cv2.FONT_HERSHEY_SIMPLEX, font, (255, 255, 255), thick, cv2.LINE_AA)
    return out


def read_frame(video: str | os.PathLike, frame: int) -> np.ndarray:
    """Video frame `frame` (0-based) as BGR uint8 [H, W, 3]."""
    for _, image in iter_frames(video, frame, frame + 1):
        return image
    raise PreviewError(f"'{video}' has no frame {frame}")


def render_preview(context, armatures, camera, frame: int, output: str | os.PathLike,
                   footage: str | os.PathLike | None = None, image_size: tuple[int, int] | None = None,
                   min_side: int = MIN_PREVIEW_SIDE) -> tuple[list[Skeleton], int]:
    """Draw `armatures` at video frame `frame` (Blender frame frame + 1) through `camera`
    over that frame of `footage` (or a grey canvas of image_size (W, H)), enlarged by
    upscale_factor, into the PNG `output`, written atomically. The scene's frame and
    resolution are restored after. Returns (the skeletons drawn, the enlargement)."""
    import cv2

    scene = context.scene
    if footage is not None:
        image = read_frame(footage, frame)
    elif image_size is not None:
        image = np.full((int(image_size[1]), int(image_size[0]), 3), BACKGROUND_GREY, np.uint8)
    else:
        raise PreviewError("a preview needs the footage or an image size")
    h, w = image.shape[:2]
    saved = (scene.frame_current, scene.render.resolution_x, scene.render.resolution_y,
             scene.render.pixel_aspect_x, scene.render.pixel_aspect_y)
    try:
        scene.render.resolution_x, scene.render.resolution_y = w, h
        scene.render.pixel_aspect_x = scene.render.pixel_aspect_y = 1.0
        scene.frame_set(int(frame) + 1)
        skeletons = []
        for obj in armatures:
            names, parents, heads = world_heads(obj)
            pixels, depth = project(scene, camera, heads)
            skeletons.append(Skeleton(int(obj.get("vtm_track_id", -1)), names, parents, pixels, depth))
    finally:
        (frame_current, scene.render.resolution_x, scene.render.resolution_y,
         scene.render.pixel_aspect_x, scene.render.pixel_aspect_y) = saved
        scene.frame_set(frame_current)
    label = f"frame {frame}: {len(skeletons)} track(s)"
    zoom = upscale_factor(w, h, min_side)
    ok, png = cv2.imencode(".png", draw_skeletons(image, skeletons, label, zoom))
    if not ok:
        raise PreviewError("OpenCV could not encode the preview as PNG")
    with atomic_path(output) as tmp:
        tmp.write_bytes(png.tobytes())
    return skeletons, zoom
