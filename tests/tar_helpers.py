"""Small TAR configurations and random-weight checkpoints for CPU tests."""
from __future__ import annotations

from pathlib import Path

import torch

from video_to_motion.core.tar.checkpoint import save_checkpoint
from video_to_motion.core.tar.config import TARConfig
from video_to_motion.core.tar.model import TAR

# A model with every component of the real one, small enough for CPU tests:
# 64-pixel crops -> 16×16 local maps of 16 channels (ConvGRU: 12).
SMALL = dict(backbone="tiny", tiny_width=8, crop_size=64, gte_dim=32, gte_heads=4, gte_ffn_dim=64,
             lte_channels=12, hidden_map_size=8, local_feature_dim=32, state_dim=16, regressor_dim=16)


def small_config(**changes) -> TARConfig:
    return TARConfig(**{**SMALL, **changes})


def small_model(smpl, seed: int = 0, **changes) -> TAR:
    """Random weights, re-scaled so that every input visibly moves the output: the default
    initialisation shrinks activations layer by layer, and the regressors start near zero."""
    torch.manual_seed(seed)
    model = TAR(small_config(**changes), smpl).eval()
    for module in [*model.lte.modules(), *model.rrm.marker_head.modules()]:
        if isinstance(module, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
            torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            torch.nn.init.zeros_(module.bias)
    for regressor in (model.gte.regressor, model.rrm.regressor):
        for head in (regressor.pose[-1], regressor.shape[-1], regressor.cam[-1]):
            torch.nn.init.normal_(head.weight, std=0.05)
    return model


def write_random_checkpoint(path: Path, smpl, seed: int = 0, **changes) -> Path:
    """A checkpoint of a small model with random weights (no training)."""
    return save_checkpoint(path, small_model(smpl, seed, **changes), meta={"note": "random weights for tests"})


def camera_inputs(batch: int, img_size=(640.0, 480.0), center=(330.0, 250.0), size=180.0):
    """(bbox_info, focal, img_size, box_center, box_size) for a batch of one box."""
    from video_to_motion.core.tar import camera

    img = torch.tensor([img_size] * batch)
    focal = camera.default_focal(img)
    c = torch.tensor([center] * batch)
    s = torch.full((batch,), size)
    return camera.bbox_info(c, s, focal, img), focal, img, c, s
