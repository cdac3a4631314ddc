"""Backbone features computed once per frame and kept on disk, for training with a frozen
backbone (the CPU configuration: the backbone dominates the cost and does not learn).

A store holds, for every row of a dataset file, the un-augmented crop's global feature
[Dg] (`global.npy`) and its local map in float16, and `meta.json` saying what made them.
The local map is kept as the backbone's parts (`local_0.npy`, `local_1.npy`, ...: the
maps at strides 4, 8, ... before upsampling, see `core.tar.backbone.fuse_parts`), which
for EfficientNet-Lite0 is 11× smaller than the map itself (one part where the backbone
upsamples nothing). A store whose meta does not match the dataset and the
backbone is rebuilt. Augmentation cannot be used with cached features.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
import torch

from ..tar.backbone import fuse_parts
from .augment import NO_AUGMENT
from .datasets import ClipConfig, ClipReader, FrameTable

STORE_VERSION = 2


def table_digest(table: FrameTable) -> str:
    """A digest of what decides the crops: image names and boxes."""
    h = hashlib.sha256()
    h.update("\n".join(table.imgname.tolist()).encode())
    h.update(np.ascontiguousarray(table.center, np.float64).tobytes())
    h.update(np.ascontiguousarray(table.box_size, np.float64).tobytes())
    return h.hexdigest()[:16]


def backbone_digest(model) -> str:
    """A digest of the backbone's weights (frozen, so it identifies the features)."""
    h = hashlib.sha256()
    for name, value in sorted(model.backbone.state_dict().items()):
        h.update(name.encode())
        h.update(value.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


class FeatureStore:
    # Stores up to this size are read into memory (random access to a memory map costs a
    # page fault per touched page); larger ones stay memory-mapped.
    IN_MEMORY_BYTES = 1 << 30

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self.meta = json.loads((self.folder / "meta.json").read_text())
        parts = len(list(self.folder.glob("local_*.npy")))
        files = [self.folder / "global.npy"] + [self.folder / f"local_{i}.npy" for i in range(parts)]
        mmap = "r" if sum(f.stat().st_size for f in files) > self.IN_MEMORY_BYTES else None
        self.global_feats = np.load(files[0], mmap_mode=mmap)
        self.local_parts = [np.load(f, mmap_mode=mmap) for f in files[1:]]

    def local_maps(self, rows: np.ndarray) -> np.ndarray:
        """Local maps [len(rows), Dl, M, M] float16 of some rows, fused from the stored parts."""
        parts = [np.asarray(p[rows]) for p in self.local_parts]
        if len(parts) == 1:
            return parts[0]
        with torch.no_grad():
            return fuse_parts([torch.from_numpy(p).float() for p in parts]).numpy().astype(np.float16)

    @staticmethod
    def wanted_meta(table: FrameTable, model) -> dict:
        return {"version": STORE_VERSION, "dataset": table_digest(table), "rows": len(table),
                "backbone": model.cfg.backbone, "backbone_digest": backbone_digest(model),
                "crop_size": model.cfg.crop_size, "global_dim": int(model.backbone.global_dim)}

    @classmethod
    def open_or_build(cls, folder: str | os.PathLike, table: FrameTable, model, batch_size: int = 64,
                      device: str = "cpu", progress=None) -> "FeatureStore":
        """The store in `folder` if it matches `table` and the model's backbone, else build it there."""
        folder = Path(folder)
        want = cls.wanted_meta(table, model)
        meta_file = folder / "meta.json"
        if meta_file.is_file():
            try:
                if json.loads(meta_file.read_text()) == want:
                    return cls(folder)
            except json.JSONDecodeError:
                pass
        return cls.build(folder, table, model, want, batch_size, device, progress)

    @classmethod
    def build(cls, folder: Path, table: FrameTable, model, meta: dict, batch_size: int, device: str,
              progress=None) -> "FeatureStore":
        reader = ClipReader(table, ClipConfig(seq_len=1, crop=model.cfg.crop_size, augment=None))
        tmp = folder.with_name(folder.name + ".partial")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        n = len(table)
        backbone = model.backbone
        was_training = backbone.training
        backbone.eval()
        outs = None
        try:
            with torch.no_grad():
                for start in range(0, n, batch_size):
                    rows = np.arange(start, min(n, start + batch_size))
                    crops = torch.as_tensor(np.concatenate([reader.crops(int(r), NO_AUGMENT) for r in rows])).to(device)
                    g, parts = backbone.forward_parts(crops)
                    if outs is None:
                        names = ["global.npy"] + [f"local_{i}.npy" for i in range(len(parts))]
                        outs = [np.lib.format.open_memmap(tmp / name, "w+", np.float16, (n, *x.shape[1:]))
                                for name, x in zip(names, [g, *parts])]
                    for out, x in zip(outs, [g, *parts]):
                        out[rows] = x.cpu().numpy()
                    if progress:
                        progress(rows[-1] + 1, n)
            for out in outs:
                out.flush()
            del outs
            (tmp / "meta.json").write_text(json.dumps(meta))
            shutil.rmtree(folder, ignore_errors=True)
            os.replace(tmp, folder)
        finally:
            backbone.train(was_training)
            shutil.rmtree(tmp, ignore_errors=True)
        return cls(folder)


class CachedClipReader(ClipReader):
    """Like ClipReader, but a sample holds `global_seq` [T, Dg] and `local_seq` [L, Dl, M, M]
    from a FeatureStore instead of crops. Images cannot be augmented; what stands in for it
    is dropout on the global features of training samples (`global_dropout`: each value
    zeroed with that probability, the rest scaled up). With few clips, the global feature
    of a clip identifies its background and clothes, and the GTE memorises poses by it
    rather than reading the body; dropping most of it makes the model use the local maps."""

    def __init__(self, table: FrameTable, store: FeatureStore, cfg: ClipConfig, local_len: int,
                 global_dropout: float = 0.0):
        if cfg.augment is not None:
            raise ValueError("cached backbone features cannot be augmented; set augment=None")
        if table.full_rate:
            raise ValueError(f"dataset '{table.name}': cached features hold the labelled frames only, full-rate "
                             "windows read the frames between them: train it from crops (data.cache_features=false)")
        if store.meta["rows"] != len(table):
            raise ValueError(f"feature store '{store.folder}' has {store.meta['rows']} rows, the dataset {len(table)}")
        super().__init__(table, cfg)
        self.store = store
        self.local_len = local_len
        if not 0.0 <= global_dropout < 1.0:
            raise ValueError(f"global_dropout must be in [0, 1), got {global_dropout}")
        self.global_dropout = global_dropout

    def sample(self, row: int, aug_seed: int | None = None) -> dict:
        rows = self.table.window(row, self.cfg.seq_len)
        offset = (self.cfg.seq_len - self.local_len) // 2
        local_rows = rows[offset:offset + self.local_len]
        cam = self.camera(row, NO_AUGMENT)
        global_seq = np.asarray(self.store.global_feats[rows])
        if aug_seed is not None and self.global_dropout > 0:
            keep = np.random.default_rng(aug_seed).random(global_seq.shape) >= self.global_dropout
            global_seq = (global_seq * keep / np.float16(1.0 - self.global_dropout)).astype(np.float16)
        # float16 as stored: the batch is converted to float32 in torch, which is much faster.
        return {"global_seq": global_seq,
                "local_seq": self.store.local_maps(local_rows),
                **cam, **self.targets(row, NO_AUGMENT, cam["img_size"]),
                "seq": np.int64(self.table.seq_of[row]), "row": np.int64(row)}
