"""Named training set-ups: the paper's recipe, and the CPU-sized one the proof uses.

A preset gives TARConfig settings (`model`), TrainConfig settings (`train`) and the data
(`mix`: dataset name -> sampling ratio; `val`: the datasets whose validation split the
periodic evaluation scores and best.pt is chosen on, never a test split;
`augment`; `cache_features`: precompute frozen-backbone features once per frame).
"""
from __future__ import annotations

import copy

from ..tar.config import REFIT_MARKER_IDS

PRESETS = {
    # The paper's set-up (Table 1, HRNet-W48) with ReFit's recipe for what the paper leaves out.
    "paper": {
        # ReFit's backbone: COCO-pose HRNet-W48 with conv upsampling and its global vector.
        "model": {"backbone": "hrnet_w48_refit", "backbone_weights": "pretrained", "crop_size": 256},
        "train": {"steps": 80_000, "batch_size": 64, "lr": 1e-4, "grad_clip": 4.0, "eval_every": 2_000,
                  "ckpt_every": 1_000, "workers": 8},
        "mix": {"h36m": 0.4, "3dpw": 0.2, "mpi_inf_3dhp": 0.1, "coco": 0.25, "mpii": 0.05},
        "val": ["3dpw"],
        "augment": True,
        "cache_features": False,
    },
    # Fits a 2-core CPU: frozen pretrained EfficientNet-Lite0 whose features are computed
    # once per frame and cached; 64-pixel crops (16×16 local maps), S = 4 ConvGRU maps,
    # 23 of ReFit's 67 markers, a 2-layer GTE fed the local map's 4×4 grid of averages (a
    # 2×2 grid carries less of the pose: scripts/bench_feature_probe.py); generated data
    # only. Without image augmentation, dropout on the cached global features keeps the GTE
    # from memorising clips by their look.
    "cpu-proof": {
        "model": {"backbone": "efficientnet_lite0", "backbone_weights": "pretrained", "crop_size": 64,
                  "global_grid": 4,
                  "gte_dim": 128, "gte_layers": 2, "gte_heads": 4, "gte_ffn_dim": 256, "gte_dropout": 0.1,
                  "lte_channels": 16, "hidden_map_size": 4, "local_feature_dim": 64, "state_dim": 32,
                  "regressor_dim": 32, "marker_ids": list(REFIT_MARKER_IDS[::3])},
        "train": {"steps": 3000, "batch_size": 32, "lr": 1e-3, "schedule": "cosine", "grad_clip": 4.0,
                  "freeze_backbone": True, "eval_every": 0, "ckpt_every": 250, "log_every": 25, "workers": 0},
        "mix": {"generated": 1.0},
        "val": ["generated"],
        "augment": False,
        "cache_features": True,
        "global_dropout": 0.3,
    },
}

# The ablations of Tables 3 and 4 as model settings.
ABLATIONS = {
    "full": {},
    "no_rrm": {"iterations": 0},
    "only_gte": {"temporal_local": False},
    "only_lte": {"temporal_global": False},
}
ABLATION_LABELS = {"no_rrm": "w/o RRM", "only_gte": "only GTE", "only_lte": "only LTE", "full": "full TAR"}


def get_preset(name: str) -> dict:
    if name not in PRESETS:
        raise KeyError(f"unknown preset '{name}'; choose one of {', '.join(PRESETS)}")
    return copy.deepcopy(PRESETS[name])
