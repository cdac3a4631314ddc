"""Generated training clips: the generated SMPL-layout body, posed by retargeted motion
capture (CMU BVH) or by the pose prior, rendered from random cameras over random
backgrounds, with exact SMPL ground truth.

The output is a dataset in the SPIN/ReFit `.npz` layout that `datasets.py` reads for the
real datasets too (one row per frame): `imgname` (relative to the image folder),
`center` [2] and `scale` (box side / 200) of a square box around the person, `pose` [72]
(SMPL axis-angle, global orientation in the OpenCV camera frame), `shape` [10], `part`
[24, 3] (2D SMPL joints in pixels, visibility), `S` [24, 4] (3D SMPL joints in the camera
frame, metres, confidence), `has_smpl`, `img_focal`, and, for video, `vid_name` and
`frame_id`; plus `trans` [3] (smplx transl), `img_size` [2] (width, height) and the
scalar `keypoint_format` = 'smpl24' (part and S hold SMPL's own 24 joints).
"""
from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import numpy as np
import torch

from ..common import rotations
from ..common.atomic import atomic_path
from ..common.skeleton import JOINT_NAMES
from .bvh import SmplMotion, load_smpl_motion
from .pose_prior import sample_prior_motion
from .render import Lighting, project, render

# Body parts by the joint that mostly drives a vertex.
_PART = {"pelvis": "pants", "left_hip": "pants", "right_hip": "pants", "left_knee": "shins",
         "right_knee": "shins", "left_ankle": "shoes", "right_ankle": "shoes", "left_foot": "shoes",
         "right_foot": "shoes", "spine1": "shirt", "spine2": "shirt", "spine3": "shirt", "neck": "skin",
         "left_collar": "shirt", "right_collar": "shirt", "head": "head", "left_shoulder": "sleeves",
         "right_shoulder": "sleeves", "left_elbow": "forearms", "right_elbow": "forearms",
         "left_wrist": "skin", "right_wrist": "skin", "left_hand": "skin", "right_hand": "skin"}
_SKIN_TONES = np.array([[0.96, 0.80, 0.69], [0.87, 0.67, 0.52], [0.70, 0.50, 0.36],
                        [0.55, 0.37, 0.25], [0.36, 0.24, 0.16]])


@dataclasses.dataclass
class SyntheticConfig:
    """What `generate_dataset` makes. Sizes are in pixels, distances in metres."""

    clips: int = 64
    frames_per_clip: int = 24
    width: int = 160
    height: int = 160
    fps: float = 30.0
    bvh_fraction: float = 0.5        # share of clips driven by motion capture (rest: pose prior)
    bvh_range: tuple[float, float] = (0.0, 0.8)  # part of each BVH file used (train/test split in time)
    person_height_px: tuple[float, float] = (0.45, 0.8)  # of the image height
    focal_scale: tuple[float, float] = (0.7, 1.4)  # × √(W² + H²)
    camera_pitch_deg: tuple[float, float] = (-10.0, 20.0)
    betas_std: float = 1.0
    pose_spread: float = 1.0         # scales the pose prior's standard deviations
    supersample: int = 2
    jpeg_quality: int = 92
    seed: int = 0


def body_colors(weights: np.ndarray, v_template: np.ndarray, head_joint: np.ndarray,
                rng: np.random.Generator) -> np.ndarray:
    """Clothing-like albedo [V, 3]: shirt, sleeves, trousers, shoes, skin, and what tells the
    front from the back as on real people: a face under hair that covers the back and top
    of the head, and a shirt whose front differs from its back (a print, an open jacket)."""
    skin = _SKIN_TONES[rng.integers(len(_SKIN_TONES))] * rng.uniform(0.9, 1.1)
    cloth = lambda: rng.uniform(0.05, 0.95, 3)
    shirt, pants, shoes = cloth(), cloth(), cloth() * 0.5
    front = cloth()
    while np.abs(front - shirt).sum() < 0.6:  # the front must stand out from the shirt
        front = cloth()
    hair = rng.uniform(0.02, 0.35) * np.array([1.0, 0.8, 0.6])
    part_color = {"shirt": shirt, "pants": pants, "shoes": shoes, "skin": skin,
                  "sleeves": shirt if rng.random() < 0.6 else skin,
                  "forearms": shirt if rng.random() < 0.4 else skin,
                  "shins": pants if rng.random() < 0.75 else skin, "head": skin}
    dominant = weights.argmax(axis=1)
    parts = np.array([_PART[JOINT_NAMES[j]] for j in dominant])
    colors = np.stack([part_color[p] for p in parts])
    # The body faces +z: the front of the torso carries the shirt's front colour.
    torso = parts == "shirt"
    centre_z = np.median(v_template[torso, 2])
    colors[torso & (v_template[:, 2] > centre_z + 0.02)] = front
    # Hair: the back, sides and top of the head; the face stays skin.
    rel = v_template - head_joint
    is_head = dominant == JOINT_NAMES.index("head")
    hair_mask = is_head & ((rel[:, 2] < 0.03) | (rel[:, 1] > 0.11))
    colors[hair_mask] = hair
    # Low-frequency shading variation, like folds and prints.
    freq = rng.normal(size=(3, 3)) * 12.0
    colors = colors * (1.0 + 0.08 * np.sin(v_template @ freq).mean(axis=1, keepdims=True))
    return np.clip(colors, 0.0, 1.0)


def random_background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A procedural scene-like background, uint8 [H, W, 3] RGB: a floor/wall split,
    gradients, rectangles and blobs, noise and blur."""
    import cv2

    img = np.empty((height, width, 3), np.float32)
    horizon = int(height * rng.uniform(0.3, 0.8))
    wall, floor = rng.uniform(0, 1, 3), rng.uniform(0, 1, 3)
    ramp = np.linspace(0.0, 1.0, height)[:, None, None]
    tint = rng.uniform(-0.3, 0.3, 3)
    img[:] = wall + ramp * tint
    img[horizon:] = floor + (ramp[horizon:] - ramp[horizon]) * rng.uniform(-0.4, 0.4, 3)
    for _ in range(rng.integers(3, 12)):
        color = tuple(float(c) for c in rng.uniform(0, 1, 3))
        x0, y0 = int(rng.uniform(-0.2, 1.0) * width), int(rng.uniform(-0.2, 1.0) * height)
        w, h = int(rng.uniform(0.05, 0.5) * width), int(rng.uniform(0.05, 0.6) * height)
        if rng.random() < 0.6:
            cv2.rectangle(img, (x0, y0), (x0 + w, y0 + h), color, -1)
        else:
            cv2.ellipse(img, (x0, y0), (max(w // 2, 1), max(h // 2, 1)), float(rng.uniform(0, 180)), 0, 360, color, -1)
    img += rng.normal(0, rng.uniform(0.0, 0.06), img.shape).astype(np.float32)
    k = int(rng.choice([1, 3, 5]))
    if k > 1:
        img = cv2.GaussianBlur(img, (k, k), 0)
    return (np.clip(img, 0, 1) * 255).astype(np.uint8)


def _axis_rot(axis: int, angle: float) -> np.ndarray:
    aa = np.zeros(3)
    aa[axis] = angle
    return rotations.axis_angle_to_matrix(aa)


class ClipMaker:
    """Makes clips for one body model; holds the retargeted motion capture."""

    def __init__(self, body_model_path: str | os.PathLike, bvh_files: list[str | os.PathLike], cfg: SyntheticConfig):
        from ..worker.body_model import create_smpl, load_smpl_arrays

        self.cfg = cfg
        self.smpl = create_smpl(body_model_path)
        arrays = load_smpl_arrays(body_model_path)
        self.weights = np.asarray(arrays["weights"])
        self.v_template = np.asarray(arrays["v_template"])
        self.faces = torch.as_tensor(np.asarray(arrays["f"], dtype=np.int64))
        with torch.no_grad():
            self.rest_joints = self.smpl(betas=torch.zeros(1, 10)).joints[0, :24].numpy()
        self.motions: list[SmplMotion] = [load_smpl_motion(p, fps=None) for p in bvh_files]

    def _bvh_clip(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        motion = self.motions[rng.integers(len(self.motions))]
        speed = rng.uniform(0.8, 1.25)
        step = motion.fps / self.cfg.fps * speed
        lo, hi = (int(f * len(motion.poses)) for f in self.cfg.bvh_range)
        span = int(np.ceil(step * (n - 1))) + 1
        if hi - lo < span:
            raise ValueError(f"motion '{motion.source}' is too short for {n} frames in range {self.cfg.bvh_range}")
        start = rng.integers(lo, hi - span + 1)
        idx = np.minimum(np.round(start + step * np.arange(n)).astype(int), hi - 1)
        poses = motion.poses[idx].copy()
        trans = motion.trans[idx] - motion.trans[idx[0]]
        if rng.random() < 0.5:  # mocap is one person; mirror half the clips for variety
            from .augment import flip_smpl_pose

            poses = flip_smpl_pose(poses.reshape(n, 72)).reshape(n, 24, 3)
            trans[:, 0] *= -1
        return poses, trans

    def _prior_clip(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        poses = sample_prior_motion(rng, n, self.cfg.fps, spread=self.cfg.pose_spread)
        # Root: upright with some lean, turning slowly; drifting a little.
        lean = np.radians(rng.normal(0, 8, 2))
        turn = rng.uniform(-1.0, 1.0) * np.arange(n) / self.cfg.fps
        root = np.stack([rotations.matrix_to_axis_angle(_axis_rot(1, t) @ _axis_rot(0, lean[0]) @ _axis_rot(2, lean[1]))
                         for t in turn])
        poses[:, 0] = root
        vel = rng.normal(0, 0.4, 3) * np.array([1, 0.1, 1])
        trans = np.arange(n)[:, None] / self.cfg.fps * vel
        return poses, trans

    def make_clip(self, rng: np.random.Generator) -> dict:
        """Render one clip; returns frames uint8 [N, H, W, 3] and per-frame ground truth."""
        cfg = self.cfg
        n, W, H = cfg.frames_per_clip, cfg.width, cfg.height
        use_bvh = self.motions and rng.random() < cfg.bvh_fraction
        poses_w, trans_w = self._bvh_clip(rng, n) if use_bvh else self._prior_clip(rng, n)
        betas = np.clip(rng.normal(0, cfg.betas_std, 10), -2.5, 2.5)
        focal = float(np.hypot(W, H) * rng.uniform(*cfg.focal_scale))
        yaw = rng.uniform(0, 2 * np.pi)
        pitch = np.radians(rng.uniform(*cfg.camera_pitch_deg))
        roll = np.radians(rng.normal(0, 3))
        r_wc = _axis_rot(2, roll) @ _axis_rot(0, pitch) @ _axis_rot(0, np.pi) @ _axis_rot(1, yaw)
        root_w = rotations.axis_angle_to_matrix(poses_w[:, 0])
        poses_c = poses_w.copy()
        poses_c[:, 0] = rotations.matrix_to_axis_angle(r_wc @ root_w)
        # Place the mid-frame pelvis at a random pixel and depth.
        height_px = H * rng.uniform(*cfg.person_height_px)
        depth = focal * 1.7 / height_px
        u0, v0 = rng.uniform(0.35, 0.65) * W, rng.uniform(0.4, 0.6) * H
        target = depth * np.array([(u0 - W / 2) / focal, (v0 - H / 2) / focal, 1.0])
        t = lambda a: torch.as_tensor(np.asarray(a), dtype=torch.float32)
        with torch.no_grad():
            j0 = self.smpl(betas=t(betas[None])).joints[0, 0].numpy()
        mid = n // 2
        pelvis_c = (j0[None] + trans_w) @ r_wc.T  # [n, 3]
        offset = target - pelvis_c[mid]
        transl = pelvis_c + offset - j0  # smplx transl per frame
        with torch.no_grad():
            out = self.smpl(betas=t(np.repeat(betas[None], n, 0)), global_orient=t(poses_c[:, 0]),
                            body_pose=t(poses_c[:, 1:].reshape(n, 69)), transl=t(transl))
        verts, joints = out.vertices, out.joints[:, :24]
        colors = t(body_colors(self.weights, self.v_template, self.rest_joints[15], rng))
        background = random_background(rng, W, H)
        light = Lighting(direction=tuple(rng.normal(0, 0.6, 3) + np.array([0.0, -0.6, -1.0])),
                         ambient=float(rng.uniform(0.3, 0.6)), diffuse=float(rng.uniform(0.4, 0.8)))
        frames = np.empty((n, H, W, 3), np.uint8)
        centers, sizes = np.empty((n, 2)), np.empty(n)
        for i in range(n):
            frames[i], _ = render(verts[i], self.faces, colors, focal, W, H, background, light, cfg.supersample)
            uv = project(verts[i], focal, W, H)[:, :2].numpy()
            lo, hi = uv.min(0), uv.max(0)
            centers[i] = 0.5 * (lo + hi)
            sizes[i] = 1.2 * (hi - lo).max()
        uvz = project(joints, focal, W, H).numpy()
        visible = (uvz[..., 0] >= 0) & (uvz[..., 0] <= W) & (uvz[..., 1] >= 0) & (uvz[..., 1] <= H) & (uvz[..., 2] > 0)
        return {
            "frames": frames, "center": centers, "scale": sizes / 200.0,
            "pose": poses_c.reshape(n, 72), "shape": np.repeat(betas[None], n, 0), "trans": transl,
            "part": np.concatenate([uvz[..., :2], visible[..., None]], -1),
            "S": np.concatenate([joints.numpy(), np.ones((n, 24, 1))], -1),
            "img_focal": np.full(n, focal), "img_size": np.tile([W, H], (n, 1)),
            "source": "bvh" if use_bvh else "prior",
        }


_MAKER: "ClipMaker | None" = None


def _init_worker(body_model_path, bvh_files, cfg) -> None:
    global _MAKER
    torch.set_num_threads(1)  # many small tensor ops: threads only add synchronisation
    _MAKER = ClipMaker(body_model_path, bvh_files, cfg)


def _render_clips(args) -> list[dict]:
    """Render clips `ks` into img_root; returns their rows (frames are written as JPEG)."""
    import cv2

    img_root, ks = args
    out = []
    for k in ks:
        clip = _MAKER.make_clip(np.random.default_rng([_MAKER.cfg.seed, k]))
        vid = f"clip_{k:05d}"
        (img_root / vid).mkdir(exist_ok=True)
        names = []
        for i, frame in enumerate(clip.pop("frames")):
            rel = f"{vid}/{i:04d}.jpg"
            cv2.imwrite(str(img_root / rel), frame[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, _MAKER.cfg.jpeg_quality])
            names.append(rel)
        out.append({**clip, "imgname": names, "vid_name": [vid] * len(names), "frame_id": list(range(len(names)))})
    return out


def generate_dataset(out_dir: str | os.PathLike, name: str, body_model_path: str | os.PathLike,
                     bvh_files: list[str | os.PathLike], cfg: SyntheticConfig, progress=None,
                     workers: int = 1) -> Path:
    """Write `out_dir/NAME.npz` and the frames under `out_dir/NAME/`; returns the npz path.

    Clip k is rendered from the seed (cfg.seed, k), so the result does not depend on
    `workers` (processes rendering clips side by side). The `.npz` is written last
    (atomically): its presence marks a complete dataset.
    """
    out_dir = Path(out_dir)
    img_root = out_dir / name
    img_root.mkdir(parents=True, exist_ok=True)
    chunks = [list(range(k, min(k + 8, cfg.clips))) for k in range(0, cfg.clips, 8)]
    clips: list[dict] = []
    if workers <= 1:
        _init_worker(body_model_path, bvh_files, cfg)
        results = map(_render_clips, [(img_root, c) for c in chunks])
        pool = None
    else:
        import multiprocessing as mp

        pool = mp.get_context("spawn").Pool(workers, _init_worker, (body_model_path, bvh_files, cfg))
        results = pool.imap(_render_clips, [(img_root, c) for c in chunks])
    try:
        for rows in results:
            clips += rows
            if progress:
                progress(len(clips), cfg.clips)
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    arrays = {}
    for key in ("imgname", "vid_name", "frame_id"):
        arrays[key] = np.array([v for c in clips for v in c[key]])
    for key in ("center", "scale", "pose", "shape", "trans", "part", "S", "img_focal", "img_size"):
        arrays[key] = np.concatenate([c[key] for c in clips]).astype(np.float32)
    arrays["has_smpl"] = np.ones(len(arrays["imgname"]), np.float32)
    arrays["keypoint_format"] = np.array("smpl24")
    arrays["generator"] = np.array(json.dumps({**dataclasses.asdict(cfg), "sources": [c["source"] for c in clips]}))
    npz = out_dir / f"{name}.npz"
    with atomic_path(npz) as tmp:
        np.savez(tmp, **arrays)
    return npz
