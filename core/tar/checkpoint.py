"""TAR checkpoints: state dict + config + body/marker metadata in one torch file.

Layout (plain types and tensors only, so `torch.load(weights_only=True)` reads it safely):
    format          "vtm.tar-checkpoint"
    format_version  int
    config          TARConfig.to_dict()
    state_dict      model weights (no SMPL arrays: the user supplies the body model)
    body            {"model": "smpl", "num_vertices", "num_joints", "num_betas", "marker_ids",
                     "fingerprint": digest of the float32 template mesh it was trained with}
    dims            {"global_dim", "local_dim"}
    meta            free-form training information (step, data, metrics, ...)
"""
from __future__ import annotations

import hashlib
import os
import pickle
import time
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..common.atomic import atomic_path
from .config import NUM_SMPL_JOINTS, NUM_SMPL_VERTICES, ConfigError, TARConfig

FORMAT = "vtm.tar-checkpoint"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint that is missing, unreadable, not a TAR checkpoint, or does not fit."""


def body_fingerprint(smpl) -> str:
    """A short digest of a body model's template mesh and shape space (an SMPLLayer).

    Equal for the same SMPL in .pkl or .npz form; different for another gender or model.
    """
    digest = hashlib.sha256()
    for array in (smpl.v_template, smpl.shapedirs):
        digest.update(np.ascontiguousarray(array.detach().cpu().numpy(), dtype=np.float32).tobytes())
    return digest.hexdigest()[:16]


def _check_plain(value: Any, where: str = "meta") -> None:
    """Only what `torch.load(weights_only=True)` reads back may go into a checkpoint."""
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"{where} keys must be strings, got {k!r}")
            _check_plain(v, f"{where}.{k}")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _check_plain(v, f"{where}[{i}]")
    elif not (value is None or type(value) in (str, int, float, bool) or torch.is_tensor(value)):
        raise TypeError(f"{where} holds a {type(value).__name__}; checkpoints take plain numbers, strings, "
                        "lists, dicts and tensors only")


def save_checkpoint(path: str | os.PathLike, model, meta: dict[str, Any] | None = None,
                    training: dict[str, Any] | None = None) -> Path:
    """Write `model` (a TAR) atomically; `meta` must hold plain types only. `training` (the
    trainer's optimizer state, step and RNG states) makes the file resumable; readers of
    the model ignore it."""
    cfg: TARConfig = model.cfg
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": cfg.to_dict(),
        "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "body": {"model": "smpl", "num_vertices": int(model.smpl.num_vertices), "num_joints": NUM_SMPL_JOINTS,
                 "num_betas": cfg.num_betas, "marker_ids": list(cfg.marker_ids),
                 "fingerprint": body_fingerprint(model.smpl)},
        "dims": {"global_dim": int(model.global_dim), "local_dim": int(model.local_dim)},
        "meta": {"saved_at": time.strftime("%Y-%m-%dT%H:%M:%S"), "torch": str(torch.__version__), **(meta or {})},
    }
    _check_plain(payload["meta"])
    if training is not None:
        payload["training"] = training
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def read_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Load and check a checkpoint file; raises CheckpointError saying what is wrong."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint '{path}' does not exist; give the .pt file written by the TAR training")
    if path.is_dir():
        found = sorted(p.name for p in path.glob("*.pt"))
        hint = f"; it holds {', '.join(found[:5])}" if found else ""
        raise CheckpointError(f"'{path}' is a folder; give the checkpoint file itself{hint}")
    if not path.is_file():  # a pipe would block the reader
        raise CheckpointError(f"checkpoint '{path}' is not a regular file (a pipe or a device); give the .pt file")
    damaged = (f"'{path}' cannot be read as a torch checkpoint; the file is damaged or not a checkpoint "
               "(an interrupted copy or download?)")
    if not zipfile.is_zipfile(path):  # torch.save writes zip archives
        raise CheckpointError(damaged)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        detail = next((line.strip() for line in str(exc).splitlines() if "Unsupported" in line), "")
        raise CheckpointError(f"'{path}' is not a TAR checkpoint: it holds Python objects that a TAR checkpoint "
                              f"never contains ({detail or 'not loadable with weights_only'})") from exc
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError, IndexError, KeyError) as exc:
        raise CheckpointError(f"{damaged} ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        keys = ", ".join(sorted(map(str, payload))[:8]) if isinstance(payload, dict) else type(payload).__name__
        raise CheckpointError(f"'{path}' is not a Video to Motion TAR checkpoint (found {keys}); "
                              "use a checkpoint written by the project's TAR training")
    version = payload.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise CheckpointError(f"'{path}' has checkpoint format version {version}; this worker reads up to "
                              f"{FORMAT_VERSION}. Update Video to Motion")
    missing = [k for k in ("config", "state_dict", "body") if not isinstance(payload.get(k), dict)]
    if missing:
        raise CheckpointError(f"'{path}' is incomplete: no {', '.join(missing)}")
    try:
        payload["config"] = TARConfig.from_dict(payload["config"])
    except (ConfigError, TypeError) as exc:
        raise CheckpointError(f"'{path}' has an unusable config: {exc}") from exc
    body = payload["body"]
    cfg = payload["config"]
    if body.get("num_vertices") != NUM_SMPL_VERTICES or body.get("num_joints") != NUM_SMPL_JOINTS:
        raise CheckpointError(f"'{path}' was trained for a body with {body.get('num_vertices')} vertices and "
                              f"{body.get('num_joints')} joints; Video to Motion uses SMPL "
                              f"({NUM_SMPL_VERTICES} vertices, {NUM_SMPL_JOINTS} joints)")
    if list(body.get("marker_ids", [])) != list(cfg.marker_ids):
        raise CheckpointError(f"'{path}' is inconsistent: its body metadata and config list different markers")
    return payload


def load_model(path: str | os.PathLike, smpl, device: str | torch.device = "cpu", warn=None):
    """(TAR in eval mode on `device`, payload) from a checkpoint; `smpl` as for TAR().

    A body model whose template differs from the training one only warns: the same SMPL
    in another file form is fine, another body model gives skewed results.
    """
    from .model import TAR

    payload = read_checkpoint(path)
    cfg: TARConfig = payload["config"]
    try:
        model = TAR(cfg, smpl, load_backbone_weights=False)
    except (ImportError, RuntimeError) as exc:
        raise CheckpointError(f"the model of '{path}' ({cfg.backbone}) cannot be built here: {exc}") from exc
    _load_state(model, payload["state_dict"], path)
    fingerprint = payload["body"].get("fingerprint")
    given = body_fingerprint(model.smpl)
    if warn is not None and fingerprint and fingerprint != given:
        warn(f"the body model differs from the one '{Path(path).name}' was trained with "
             f"(fingerprint {given}, trained with {fingerprint}); results may be skewed")
    return model.to(device).eval(), payload


def _load_state(model, state: dict[str, torch.Tensor], path) -> None:
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if tuple(own[k].shape) != tuple(state[k].shape))
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {', '.join(missing[:3])})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {', '.join(unexpected[:3])})")
        if wrong:
            k = wrong[0]
            parts.append(f"{len(wrong)} of another shape (e.g. {k}: {list(state[k].shape)} in the file, "
                         f"{list(own[k].shape)} for its config)")
        raise CheckpointError(f"the weights in '{path}' do not fit the config stored with them: "
                              f"{'; '.join(parts)}. The file was written for another model configuration "
                              "or was altered; use the checkpoint exactly as training wrote it")
    model.load_state_dict(state, strict=True)


def summary(payload: dict[str, Any], path: str | os.PathLike | None = None) -> str:
    """A human-readable description of a checkpoint read by `read_checkpoint`."""
    cfg: TARConfig = payload["config"]
    state = payload["state_dict"]
    lines = []
    if path is not None:
        p = Path(path)
        lines.append(f"file:        {p} ({p.stat().st_size / 1e6:.1f} MB)")
    lines.append(f"format:      {payload['format']} v{payload['format_version']}")
    comps: dict[str, int] = {}
    for key, value in state.items():
        if value.is_floating_point():
            comps[key.split(".")[0]] = comps.get(key.split(".")[0], 0) + value.numel()
    total = sum(comps.values())
    lines.append(f"parameters:  {total / 1e6:.2f} M (" + ", ".join(f"{k} {v / 1e6:.2f} M" for k, v in comps.items())
                 + ")  [includes BatchNorm statistics]")
    dtypes = sorted({str(v.dtype).replace("torch.", "") for v in state.values()})
    lines.append(f"dtypes:      {', '.join(dtypes)}")
    dims = payload.get("dims", {})
    lines.append(f"features:    global {dims.get('global_dim', '?')}-d, local {dims.get('local_dim', '?')} × "
                 f"{cfg.map_size}×{cfg.map_size}")
    body = payload["body"]
    lines.append(f"body:        {body.get('model')} ({body.get('num_vertices')} vertices, {body.get('num_joints')} "
                 f"joints, {body.get('num_betas')} betas), template fingerprint {body.get('fingerprint')}")
    lines.append(f"markers:     {len(body.get('marker_ids', []))} vertices")
    lines.append("config:")
    for key, value in cfg.to_dict().items():
        if key == "marker_ids":
            value = f"[{len(value)} ids: {', '.join(map(str, value[:6]))}, ...]"
        lines.append(f"  {key:20s} {value}")
    meta = payload.get("meta") or {}
    if meta:
        lines.append("meta:")
        for key, value in meta.items():
            lines.append(f"  {key:20s} {value}")
    return "\n".join(lines)
