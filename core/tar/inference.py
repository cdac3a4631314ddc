"""Running TAR over the crops of person tracks, frame by frame, with bounded memory.

Each (track, frame) crop passes the backbone and the per-frame LTE encoding once, in
batches; the features go into the track's `SlidingWindows`, and every completed window
(T = 9 global features, L = 5 encoded local maps, edges repeated) is refined in batches.
Only the final stage is kept, as numpy, keyed by what the caller passed with the crop.
"""
from __future__ import annotations

import contextlib
import dataclasses
from typing import Any, Hashable

import numpy as np
import torch

from . import camera
from .backbone import normalize_crops
from .windows import SlidingWindows, stack_windows

RESULT_KEYS = ("pose_aa", "betas", "trans", "cam_crop", "joints2d")


@dataclasses.dataclass
class _Geometry:
    key: Any
    box_center: tuple[float, float]
    box_size: float


def autocast_context(device: torch.device, enabled: bool = True):
    """fp16/bf16 autocast on CUDA (bf16 where the GPU supports it); nothing on the CPU."""
    if device.type != "cuda" or not enabled:
        return contextlib.nullcontext()
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.autocast(device_type="cuda", dtype=dtype)


class TrackRunner:
    """add() crops track by track in frame order; results[key] holds each crop's final estimate.

    focal: pixels; img_size: (W, H). track_lengths: how many crops each track will get.
    """

    def __init__(self, model, track_lengths: dict[Hashable, int], focal: float, img_size: tuple[int, int],
                 device: str | torch.device = "cpu", batch_size: int = 16, amp: bool = True):
        self.model = model
        self.device = torch.device(device)
        self.batch_size = max(1, int(batch_size))
        self.amp = amp
        cfg = model.cfg
        self.windows = {t: SlidingWindows(n, cfg.seq_len, cfg.local_len) for t, n in track_lengths.items()}
        self.focal = float(focal)
        self.img_size = (float(img_size[0]), float(img_size[1]))
        self._crops: list[tuple[Hashable, np.ndarray, _Geometry]] = []
        self._windows: list = []
        self.results: dict[Any, dict[str, np.ndarray]] = {}
        self.backbone_runs = 0  # crops through the backbone (one per (track, frame))

    def add(self, track_id: Hashable, crop: np.ndarray, box_center: tuple[float, float], box_size: float,
            key: Any) -> None:
        """crop: uint8 RGB [C, C, 3] of the square box (box_center, box_size) in full-image pixels."""
        self._crops.append((track_id, crop, _Geometry(key, tuple(map(float, box_center)), float(box_size))))
        if len(self._crops) >= self.batch_size:
            self._run_backbone()

    def finish(self) -> dict[Any, dict[str, np.ndarray]]:
        self._run_backbone()
        self._run_windows(force=True)
        unfinished = [t for t, w in self.windows.items() if not w.complete]
        if unfinished:
            raise RuntimeError(f"tracks {unfinished[:5]} got fewer crops than announced")
        return self.results

    @torch.no_grad()
    def _run_backbone(self) -> None:
        if not self._crops:
            return
        crops, self._crops = self._crops, []
        x = normalize_crops(torch.from_numpy(np.stack([c for _, c, _ in crops])).to(self.device))
        with autocast_context(self.device, self.amp):
            global_feats, local_maps = self.model.extract_features(x)
            encoded = self.model.encode_local(local_maps)
        self.backbone_runs += len(crops)
        for (track_id, _, geometry), g, e in zip(crops, global_feats, encoded):
            self._windows.extend(self.windows[track_id].push(g, e, geometry))
        self._run_windows()

    @torch.no_grad()
    def _run_windows(self, force: bool = False) -> None:
        while self._windows and (force or len(self._windows) >= self.batch_size):
            batch, self._windows = self._windows[:self.batch_size], self._windows[self.batch_size:]
            n = len(batch)
            box_center = torch.tensor([w.info.box_center for w in batch], device=self.device)
            box_size = torch.tensor([w.info.box_size for w in batch], device=self.device)
            focal = torch.full((n,), self.focal, device=self.device)
            img_size = torch.tensor([self.img_size] * n, device=self.device)
            info = camera.bbox_info(box_center, box_size, focal, img_size)
            global_seq, local_seq = stack_windows(batch)
            with autocast_context(self.device, self.amp):
                stages = self.model.refine(global_seq, local_seq, info, focal, img_size, box_center, box_size)
            final = {k: stages[-1][k].float().cpu().numpy() for k in RESULT_KEYS}
            for i, w in enumerate(batch):
                self.results[w.info.key] = {k: v[i] for k, v in final.items()}
