"""The TAR trainer: mixed-precision steps with gradient clipping, checkpoints that resume
exactly, DDP across GPUs, a progress bar, a JSON-lines log and periodic evaluation.

Steps are numbered from 0; the batch of step s is a pure function of (seed, s, rank)
(`datasets.StepBatches`), and checkpoints hold the model, the optimizer, the AMP scaler,
the torch RNG states and the next step. So a resumed run draws the same batches, drops
the same markers and computes the same losses as the run that was interrupted.

Failure rules:
- a step whose loss or gradient is not finite is skipped (no update) and reported; after
  `max_nonfinite` such steps in a row training stops with TrainingError;
- a checkpoint is written only if every parameter is finite, atomically (temporary file,
  then rename), so `last.pt` is always the last good state;
- resuming from a checkpoint of another model or training configuration is refused with
  the settings that differ.
"""
from __future__ import annotations

import dataclasses
import json
import math
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn as nn

from . import ddp
from .joint_sets import label_layout_joints
from .losses import LossWeights, tar_loss

CHECKPOINT_NAME = "last.pt"
BEST_NAME = "best.pt"


class TrainingError(RuntimeError):
    """Training cannot go on; the message says why and what was kept."""


@dataclasses.dataclass
class TrainConfig:
    steps: int = 80_000
    batch_size: int = 64          # per process
    lr: float = 1e-4
    weight_decay: float = 0.0
    schedule: str = "constant"    # or "cosine" (to zero at `steps`)
    grad_clip: float = 4.0        # max gradient norm
    amp: str = "auto"             # "auto" (on for CUDA), "on", "off"
    freeze_backbone: bool = False
    seed: int = 0
    log_every: int = 50
    eval_every: int = 2_000
    ckpt_every: int = 1_000
    workers: int = 2
    max_nonfinite: int = 3
    progress: bool = True
    loss: LossWeights = dataclasses.field(default_factory=LossWeights)

    # Settings that may change when a run is resumed (they do not change what is learnt).
    RESUMABLE_CHANGES = ("steps", "log_every", "eval_every", "ckpt_every", "workers", "progress", "max_nonfinite")

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["loss"] = dataclasses.asdict(self.loss)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        d = dict(d)
        if isinstance(d.get("loss"), dict):
            d["loss"] = LossWeights(**d["loss"])
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown training settings: {', '.join(unknown)}")
        return cls(**d)


def batch_rotmat(pose: torch.Tensor) -> torch.Tensor:
    """SMPL axis-angle [B, 72] -> rotation matrices [B, 24, 3, 3]."""
    from smplx.lbs import batch_rodrigues

    return batch_rodrigues(pose.reshape(-1, 3)).view(pose.shape[0], 24, 3, 3)


def to_device(batch: dict, device: torch.device) -> dict:
    """Move a batch; float16 arrays (cached features) become float32."""
    out = {}
    for k, v in batch.items():
        v = v.to(device, non_blocking=True)
        out[k] = v.float() if v.dtype == torch.float16 else v
    return out


def mean_body_pose(poses: "np.ndarray") -> torch.Tensor:
    """The mean of SMPL poses [N, 72] per joint: the rotation nearest to the mean rotation
    matrix (chordal mean) -> [24, 3, 3]."""
    rot = batch_rotmat(torch.as_tensor(poses, dtype=torch.float64)).mean(0)
    u, _, vt = torch.linalg.svd(rot)
    fix = torch.ones(24, 3, dtype=rot.dtype)
    fix[:, -1] = torch.sign(torch.det(u @ vt))
    return (u @ (fix[..., None] * vt)).float()


def init_from_mean_pose(model: nn.Module, poses: "np.ndarray") -> None:
    """Start the GTE's regressor at the training data's mean body pose, as ReFit and SPIN
    start from a mean pose: the bias of its last pose layer is set to (mean − initial) in
    the 6D representation, for every joint but the root (whose mean over all viewpoints
    means nothing). Stored in the weights, so inference starts from the same pose."""
    from ..tar.torch_rotations import matrix_to_rot6d

    mean6d = matrix_to_rot6d(mean_body_pose(poses))
    with torch.no_grad():
        bias = model.gte.regressor.pose[-1].bias  # [24, 6]
        bias[1:] = (mean6d[1:] - model.init_pose6d[1:].float().cpu()).to(bias)


def selection_score(metrics: dict) -> float | None:
    """What best.pt is chosen on: the mean MPJPE over the validation sets (keys 'mpjpe' or
    'NAME/mpjpe'); None when there is none."""
    values = [v for k, v in metrics.items() if k == "mpjpe" or k.endswith("/mpjpe")]
    return float(np.mean(values)) if values else None


class StepModule(nn.Module):
    """What DDP wraps: one call from a batch to the stage dicts, from crops or cached features."""

    GEOMETRY = ("bbox_info", "focal", "img_size", "box_center", "box_size")

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, batch: dict) -> list[dict]:
        geo = [batch[k] for k in self.GEOMETRY]
        if "crops" in batch:
            return self.model(batch["crops"], *geo)
        return self.model.forward_features(batch["global_seq"], batch["local_seq"], *geo)


def _diff(a: dict, b: dict, prefix: str = "") -> list[str]:
    out = []
    for k in sorted(set(a) | set(b)):
        va, vb = a.get(k, "<absent>"), b.get(k, "<absent>")
        if isinstance(va, dict) and isinstance(vb, dict):
            out += _diff(va, vb, f"{prefix}{k}.")
        elif va != vb:
            show = lambda v: (str(v)[:60] + "...") if len(str(v)) > 60 else str(v)
            out.append(f"{prefix}{k}: {show(va)} in the checkpoint, {show(vb)} now")
    return out


class Trainer:
    def __init__(self, model: nn.Module, batches, cfg: TrainConfig, out_dir: str | Path,
                 device: torch.device | str = "cpu", dist: ddp.DistInfo = ddp.DistInfo(),
                 evaluator: Callable[[nn.Module], dict] | None = None, run_meta: dict | None = None,
                 log: Callable[[str], None] | None = None, dataset_joints: nn.Module | None = None):
        self.model = model.to(device)
        # SPIN's 24 joints from the mesh (joint_sets.DatasetJoints), for SPIN-format labels.
        self.dataset_joints = dataset_joints.to(device) if dataset_joints is not None else None
        self.device = torch.device(device)
        self.batches = batches
        self.cfg = cfg
        self.out_dir = Path(out_dir)
        self.dist = dist
        self.evaluator = evaluator
        self.run_meta = run_meta or {}
        self.say = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
        if cfg.freeze_backbone:
            model.backbone.requires_grad_(False)
        self.params = [p for p in model.parameters() if p.requires_grad]
        if not self.params:
            raise TrainingError("the model has no trainable parameters")
        self.optimizer = torch.optim.Adam(self.params, lr=cfg.lr, weight_decay=cfg.weight_decay)
        use_amp = cfg.amp == "on" or (cfg.amp == "auto" and self.device.type == "cuda")
        self.amp_dtype = None
        if use_amp:
            cuda_bf16 = self.device.type == "cuda" and torch.cuda.is_bf16_supported()
            self.amp_dtype = torch.bfloat16 if (self.device.type != "cuda" or cuda_bf16) else torch.float16
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp_dtype == torch.float16)
        self.step_module = ddp.wrap(StepModule(model), dist, self.device)
        self.step = 0
        self.best: float | None = None
        self.last_eval: dict | None = None
        self.nonfinite_in_a_row = 0

    # --- checkpoints -------------------------------------------------------------------
    def fingerprint(self) -> dict:
        train = {k: v for k, v in self.cfg.to_dict().items() if k not in TrainConfig.RESUMABLE_CHANGES}
        return {"model": self.model.cfg.to_dict(), "train": train, "data": self.run_meta.get("data", {})}

    def _training_state(self) -> dict:
        state = {"step": self.step, "optimizer": self.optimizer.state_dict(), "scaler": self.scaler.state_dict(),
                 "torch_rng": torch.get_rng_state(), "fingerprint": json.dumps(self.fingerprint(), sort_keys=True),
                 "best": self.best if self.best is not None else float("nan"),
                 "world_size": self.dist.world_size}
        if torch.cuda.is_available():
            state["cuda_rng"] = torch.cuda.get_rng_state_all()
        return state

    def save(self, path: Path, resumable: bool = True) -> Path:
        """Write a checkpoint atomically; refuse when a parameter is not finite."""
        from ..tar.checkpoint import save_checkpoint

        bad = [n for n, p in self.model.named_parameters() if not torch.isfinite(p).all()]
        if bad:
            raise TrainingError(f"parameters became non-finite at step {self.step} ({', '.join(bad[:3])}); "
                                f"no checkpoint written, '{path}' keeps the last good state")
        meta = {"step": self.step, "train_config": json.dumps(self.cfg.to_dict()),
                "data": json.dumps(self.run_meta.get("data", {})),
                "metrics": json.dumps(self.last_eval) if self.last_eval else ""}
        return save_checkpoint(path, self.model, meta=meta, training=self._training_state() if resumable else None)

    def resume(self, path: str | Path) -> None:
        """Continue from a checkpoint written by `save` with the same configuration."""
        from ..tar.checkpoint import CheckpointError, _load_state, read_checkpoint

        payload = read_checkpoint(path)
        state = payload.get("training")
        if not isinstance(state, dict):
            raise CheckpointError(f"'{path}' has no training state (it is a model-only checkpoint such as "
                                  f"{BEST_NAME}); resume from the run's {CHECKPOINT_NAME}")
        theirs = json.loads(state["fingerprint"])
        diffs = _diff(theirs, json.loads(json.dumps(self.fingerprint())))
        if diffs:
            raise CheckpointError(f"'{path}' was written by a run with another configuration; cannot resume:\n  "
                                  + "\n  ".join(diffs[:12])
                                  + "\nStart a new run in another output folder, or use the settings of that run")
        if state.get("world_size", 1) != self.dist.world_size:
            self.say(f"note: '{path}' was trained on {state.get('world_size')} processes, resuming on "
                     f"{self.dist.world_size}; the batches will differ from an uninterrupted run")
        _load_state(self.model, payload["state_dict"], path)
        self.optimizer.load_state_dict(state["optimizer"])
        self.scaler.load_state_dict(state["scaler"])
        torch.set_rng_state(state["torch_rng"])
        if "cuda_rng" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        self.step = int(state["step"])
        best = float(state.get("best", float("nan")))
        self.best = None if math.isnan(best) else best
        self.say(f"resumed from '{path}' at step {self.step}")

    # --- one step ------------------------------------------------------------------------
    def _lr(self) -> float:
        if self.cfg.schedule == "cosine":
            return self.cfg.lr * 0.5 * (1 + math.cos(math.pi * min(self.step, self.cfg.steps) / self.cfg.steps))
        return self.cfg.lr

    def _targets(self, batch: dict) -> dict:
        t = {k: batch[k] for k in ("joints2d", "joints3d", "betas", "has_smpl", "has_3d", "box_center", "box_size",
                                   "hips") if k in batch}
        t["rotmat"] = batch_rotmat(batch["pose"])
        return t

    def _in_label_layout(self, stages: list[dict], batch: dict) -> list[dict]:
        """Each stage's joints in the labels' layout (SPIN's 24 through the regressor where asked)."""
        if "layout" not in batch:
            return stages
        return [label_layout_joints(s, batch["layout"], self.dataset_joints, self.model.smpl, batch["focal"],
                                    batch["img_size"]) for s in stages]

    def train_mode(self) -> None:
        self.model.train()
        if self.cfg.freeze_backbone:
            self.model.backbone.eval()  # frozen BatchNorm statistics too

    def train_step(self, batch: dict) -> dict | None:
        """One optimisation step; returns the logged values, or None when it was skipped."""
        batch = to_device(batch, self.device)
        for g in self.optimizer.param_groups:
            g["lr"] = self._lr()
        self.optimizer.zero_grad(set_to_none=True)
        with torch.autocast(self.device.type, dtype=self.amp_dtype or torch.float32, enabled=self.amp_dtype is not None):
            stages = self.step_module(batch)
        loss, log = tar_loss(self._in_label_layout(stages, batch), self._targets(batch), self.cfg.loss)
        finite = ddp.all_true(bool(torch.isfinite(loss)), self.dist, self.device)
        grad_norm = float("nan")
        if finite:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.optimizer)
            grad_norm = float(torch.nn.utils.clip_grad_norm_(self.params, self.cfg.grad_clip))
            # With fp16 the scaler skips inf gradients itself and lowers its scale.
            finite = ddp.all_true(math.isfinite(grad_norm), self.dist, self.device) or self.scaler.is_enabled()
        if finite:
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.nonfinite_in_a_row = 0
        else:
            self.optimizer.zero_grad(set_to_none=True)
            self.nonfinite_in_a_row += 1
            what = "loss" if not math.isfinite(log["loss"]) else "gradient"
            self.say(f"warning: step {self.step}: the {what} is not finite ({log['loss']}); step skipped "
                     f"({self.nonfinite_in_a_row} in a row)")
            if self.nonfinite_in_a_row >= self.cfg.max_nonfinite:
                last = self.out_dir / CHECKPOINT_NAME
                kept = f"the last good checkpoint '{last}' is kept" if last.exists() else "no checkpoint was written"
                raise TrainingError(
                    f"the {what} was not finite (NaN/inf) for {self.nonfinite_in_a_row} steps in a row, up to step "
                    f"{self.step}; training stopped and {kept}. Lower the learning rate (now {self.cfg.lr:g}), "
                    "keep gradient clipping on, or check the data for broken rows")
            return None
        log.update(lr=self._lr(), grad_norm=grad_norm)
        return log

    # --- the loop --------------------------------------------------------------------------
    def _loader(self):
        from torch.utils.data import DataLoader, Subset

        steps = Subset(self.batches, range(self.step, self.cfg.steps))
        # Its own generator: a DataLoader otherwise draws a seed from the global torch RNG,
        # which would make a resumed run's marker dropout differ from the uninterrupted one.
        return DataLoader(steps, batch_size=None, shuffle=False, num_workers=self.cfg.workers,
                          pin_memory=self.device.type == "cuda", persistent_workers=False,
                          generator=torch.Generator().manual_seed(self.cfg.seed))

    def _log(self, record: dict) -> None:
        if self.dist.is_main:
            with open(self.out_dir / "log.jsonl", "a") as fh:
                fh.write(json.dumps(record) + "\n")

    def evaluate(self) -> dict | None:
        if self.evaluator is None or not self.dist.is_main:
            return None
        self.model.eval()
        try:
            metrics = self.evaluator(self.model)
        finally:
            self.train_mode()
        self.last_eval = metrics
        self._log({"step": self.step, "eval": metrics})
        self.say(f"step {self.step}: " + ", ".join(f"{k} {v:.1f}" for k, v in metrics.items()
                                                   if isinstance(v, (int, float))))
        key = selection_score(metrics)
        if key is not None and math.isfinite(key) and (self.best is None or key < self.best):
            self.best = key
            self.save(self.out_dir / BEST_NAME, resumable=False)
        return metrics

    def fit(self) -> dict:
        """Train from self.step to cfg.steps; returns a summary."""
        if self.dist.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            (self.out_dir / "run.json").write_text(json.dumps({"train": self.cfg.to_dict(),
                                                               "model": self.model.cfg.to_dict(),
                                                               **self.run_meta}, indent=1))
        self.train_mode()
        start, t0 = self.step, time.time()
        bar = None
        if self.dist.is_main and self.cfg.progress:
            from tqdm import tqdm

            bar = tqdm(total=self.cfg.steps, initial=self.step, desc="train", unit="step", file=sys.stderr,
                       dynamic_ncols=True)
        last_log: dict = {}
        t_log = time.time()
        for batch in self._loader():
            log = self.train_step(batch)
            self.step += 1
            if log is not None:
                last_log = log
            if bar is not None:
                bar.update(1)
                if log is not None:
                    bar.set_postfix(loss=f"{log['loss']:.3f}", refresh=False)
            if log is not None and (self.step % self.cfg.log_every == 0 or self.step == self.cfg.steps):
                now = time.time()
                self._log({"step": self.step, **log, "sec_per_step": (now - t_log) / self.cfg.log_every})
                t_log = now
            if self.cfg.eval_every and self.step % self.cfg.eval_every == 0 and self.step < self.cfg.steps:
                self.evaluate()
            # No checkpoint in the middle of a run of skipped (non-finite) steps.
            if (self.dist.is_main and self.step % self.cfg.ckpt_every == 0 and self.step < self.cfg.steps
                    and self.nonfinite_in_a_row == 0):
                self.save(self.out_dir / CHECKPOINT_NAME)
            if self.step % self.cfg.ckpt_every == 0:
                ddp.barrier(self.dist)  # the other ranks wait while rank 0 writes
        if bar is not None:
            bar.close()
        metrics = self.evaluate() if self.cfg.eval_every else None
        if self.dist.is_main:
            self.save(self.out_dir / CHECKPOINT_NAME)
        ddp.barrier(self.dist)
        return {"steps": self.step, "steps_run": self.step - start, "wall_s": time.time() - t0,
                "last": last_log, "eval": metrics}
