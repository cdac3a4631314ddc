"""Running TAR over the crops of person tracks, frame by frame, with bounded memory.

Each (track, frame) crop passes the backbone and the per-frame LTE encoding once, in
batches; the features go into the track's `SlidingWindows`, and every completed window
(T = 9 global features, L = 5 encoded local maps, edges repeated) is refined in batches.
Only the final stage is kept, as numpy, keyed by what the caller passed with the crop.

Speed settings (`TrackRunner`): `precision` picks the autocast dtype ("auto": bf16 on a
GPU that has it, else fp16 on a GPU, float32 on the CPU); `channels_last` stores the
convolutional parts NHWC, which the GPU's tensor-core convolutions want; `compile`
passes the per-frame part (backbone + LTE encoding) through `torch.compile` with a
static batch (the last batch is padded), which pays off on long videos on a GPU.
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
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


@dataclasses.dataclass
class _Geometry:
    key: Any
    box_center: tuple[float, float]
    box_size: float


def autocast_dtype(device: torch.device, precision: str = "auto") -> torch.dtype | None:
    """The autocast dtype for `precision` on `device`; None means plain float32.

    "auto": bf16 on a CUDA GPU that supports it, fp16 on other CUDA GPUs, float32 on the CPU
    (the CPU's float32 kernels are its fastest and most exact).
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)} (got '{precision}')")
    device = torch.device(device)
    if precision == "fp32" or (precision == "auto" and device.type != "cuda"):
        return None
    if precision == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return torch.bfloat16 if precision == "bf16" else torch.float16


def autocast_context(device: torch.device, enabled: bool = True, precision: str = "auto"):
    """Autocast for `precision` on `device` (see `autocast_dtype`); nothing when disabled or float32."""
    device = torch.device(device)
    dtype = autocast_dtype(device, precision) if enabled else None
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


class TrackRunner:
    """add() crops track by track in frame order; results[key] holds each crop's final estimate.

    focal: pixels; img_size: (W, H). track_lengths: how many crops each track will get.
    channels_last=None means on for CUDA, off on the CPU. With channels_last the model's
    backbone and LTE are converted in place (the model is the runner's from then on).
    compile: False, True (inductor) or a torch.compile backend name.
    """

    def __init__(self, model, track_lengths: dict[Hashable, int], focal: float, img_size: tuple[int, int],
                 device: str | torch.device = "cpu", batch_size: int = 16, amp: bool = True,
                 precision: str = "auto", channels_last: bool | None = None, compile: bool | str = False):
        self.model = model
        self.device = torch.device(device)
        self.batch_size = max(1, int(batch_size))
        self.amp_dtype = autocast_dtype(self.device, precision) if amp else None
        self.channels_last = self.device.type == "cuda" if channels_last is None else bool(channels_last)
        if self.channels_last:
            model.backbone.to(memory_format=torch.channels_last)
            model.lte.to(memory_format=torch.channels_last)
        self._features = _compiled(self._plain_features, compile)
        self.compiled = bool(compile)
        cfg = model.cfg
        self.windows = {t: SlidingWindows(n, cfg.seq_len, cfg.local_len) for t, n in track_lengths.items()}
        self.focal = float(focal)
        self.img_size = (float(img_size[0]), float(img_size[1]))
        self._crops: list[tuple[Hashable, np.ndarray, _Geometry]] = []
        self._windows: list = []
        self.results: dict[Any, dict[str, np.ndarray]] = {}
        self.backbone_runs = 0  # crops through the backbone (one per (track, frame))

    @property
    def held_frames(self) -> int:
        """Frames whose crops or features are in memory now (bounded, whatever the tracks' lengths)."""
        return len(self._crops) + sum(w.held for w in self.windows.values())

    @property
    def pending_windows(self) -> int:
        return len(self._windows)

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

    def _autocast(self):
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.amp_dtype)

    def _plain_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x [N, 3, C, C] -> (global [N, Dg], encoded local [N, C', S, S])."""
        global_feats, local_maps = self.model.extract_features(x)
        return global_feats, self.model.encode_local(local_maps)

    def _upload(self, crops: np.ndarray) -> torch.Tensor:
        """uint8 [N, C, C, 3] -> normalised float [N, 3, C, C] on the device."""
        x = torch.from_numpy(crops)
        if self.device.type == "cuda":
            x = x.pin_memory().to(self.device, non_blocking=True)
        x = normalize_crops(x)
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    @torch.no_grad()
    def _run_backbone(self) -> None:
        if not self._crops:
            return
        crops, self._crops = self._crops, []
        stacked = np.stack([c for _, c, _ in crops])
        if self.compiled and len(crops) < self.batch_size:
            # A static batch: no recompilation (and no new CUDA graph) for the last, short batch.
            stacked = np.concatenate([stacked, np.repeat(stacked[-1:], self.batch_size - len(crops), axis=0)])
        with self._autocast():
            global_feats, encoded = self._features(self._upload(stacked))
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
            with self._autocast():
                stages = self.model.refine(global_seq, local_seq, info, focal, img_size, box_center, box_size)
            final = {k: stages[-1][k].float().cpu().numpy() for k in RESULT_KEYS}
            for i, w in enumerate(batch):
                self.results[w.info.key] = {k: v[i] for k, v in final.items()}


def _compiled(fn, compile: bool | str):
    if not compile:
        return fn
    backend = "inductor" if compile is True else str(compile)
    return torch.compile(fn, backend=backend, dynamic=False)
