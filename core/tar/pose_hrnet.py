"""HRNet-W48 as ReFit uses it (the recipe TAR's preset follows where the paper is silent):
the COCO-pose network (pose_hrnet_w48_256x192, top-down COCO keypoints) with ReFit's two
heads in place of its heatmap layer.

- local map: each lower branch brought to stride 4 by (2× bilinear upsampling, 3×3 conv,
  BatchNorm, ReLU) once per halving, concatenated with the first -> 720 channels;
- global vector: the first branch walked down by (3×3 stride-2 conv doubling the channels,
  BatchNorm, ReLU), adding each branch on the way, then a 1×1 conv, BatchNorm, ReLU and
  average pooling -> 384 values.

The body is timm's HRNet, whose parameter names are those of the pose repository's
(conv1 … stage4); its stem and four stages take the COCO-pose weights, the heads start
random, as in ReFit (so do stage 4's lower-resolution outputs, which the pose network
never computed).

Weights: `pretrained` downloads mmpose's COCO training of this network
(hrnet_w48_coco_256x192, the same architecture and recipe as the HRNet authors' file,
checked against its pinned SHA-256) into torch's hub cache; a path loads a file in either
layout (the HRNet authors' `pose_hrnet_w48_256x192.pth`, or mmpose's with its `backbone.`
prefix). Files are read with `torch.load(weights_only=True)`, so loading never runs code.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from .backbone import Backbone, BackboneWeightsError

POSE_HRNET_W48_URL = ("https://download.openmmlab.com/mmpose/top_down/hrnet/"
                      "hrnet_w48_coco_256x192-b9e0b3ab_20200708.pth")
POSE_HRNET_W48_SHA256 = "b9e0b3ab0439cb68e166c7543e59d2587cd8d7e9acf5ea62a8378eeb82fb50e5"
# The parts of the pose network that carry over (its heatmap `final_layer` does not).
PRETRAINED_LAYERS = ("conv1", "bn1", "conv2", "bn2", "layer1", "transition1", "stage2", "transition2", "stage3",
                     "transition3", "stage4")


class PoseWeightsError(BackboneWeightsError):
    """COCO-pose weights that cannot be had or read; the message says what to do."""


def sha256_of(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def fetch_weights(url: str = POSE_HRNET_W48_URL, sha256: str = POSE_HRNET_W48_SHA256,
                  folder: str | os.PathLike | None = None) -> Path:
    """The weights file at `url`, downloaded once into `folder` (torch's hub checkpoints by
    default) and checked against `sha256`; a file already there is checked the same way."""
    folder = Path(folder) if folder is not None else Path(torch.hub.get_dir()) / "checkpoints"
    dst = folder / Path(url).name
    if dst.is_file():
        if sha256_of(dst) != sha256:
            raise PoseWeightsError(f"'{dst}' is not the expected file (its SHA-256 is not {sha256}); delete it and "
                                   f"download {url} again")
        return dst
    folder.mkdir(parents=True, exist_ok=True)
    try:  # writes a temporary file, checks the hash, then renames: no partial file is left
        torch.hub.download_url_to_file(url, str(dst), hash_prefix=sha256, progress=False)
    except RuntimeError as exc:  # the hash did not match
        raise PoseWeightsError(f"the file downloaded from {url} is not the expected one ({exc}); nothing was kept") \
            from exc
    except OSError as exc:  # URLError, no network, disk full
        raise PoseWeightsError(
            f"downloading the COCO-pose HRNet-W48 weights failed ({type(exc).__name__}: {exc}). Without internet, "
            f"download {url} elsewhere (SHA-256 {sha256}) and put it at '{dst}', or give its path as the backbone "
            "weights (the HRNet authors' pose_hrnet_w48_256x192.pth works too)") from exc
    return dst


def read_pose_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The stem and stage tensors of a COCO-pose HRNet file (either layout), read without
    running code: name -> tensor, names as in the HRNet authors' file."""
    path = Path(path)
    if not path.is_file():
        raise PoseWeightsError(f"backbone weights file '{path}' does not exist")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError for a file with code or foreign objects, others for damage
        raise PoseWeightsError(f"'{path}' was not loaded as plain weights ({type(exc).__name__}: {exc}); it must be "
                               "a state dict of tensors (loading never runs code from the file)") from exc
    state = payload.get("state_dict", payload) if isinstance(payload, dict) else None
    if not isinstance(state, dict):
        raise PoseWeightsError(f"'{path}' holds no state dict")
    out = {}
    for name, value in state.items():
        name = name[len("backbone."):] if name.startswith("backbone.") else name
        if name.split(".")[0] in PRETRAINED_LAYERS and torch.is_tensor(value):
            out[name] = value
    if not out:
        raise PoseWeightsError(f"'{path}' has no HRNet stem or stage weights (conv1, layer1, stage2 …); is it a "
                               "COCO-pose HRNet file?")
    return out


def load_pose_weights(body: nn.Module, path: str | os.PathLike) -> list[str]:
    """Copy a COCO-pose file's stem and stages into `body`; every tensor of the file must fit.
    Returns the body's stem/stage names the file did not set (stage 4's lower outputs)."""
    theirs = read_pose_state_dict(path)
    ours = body.state_dict()
    unknown = [k for k in theirs if k not in ours]
    wrong = [k for k in theirs if k in ours and theirs[k].shape != ours[k].shape]
    if unknown or wrong:
        example = (unknown or wrong)[0]
        raise PoseWeightsError(f"'{path}' does not fit this HRNet: {len(unknown)} unknown and {len(wrong)} misshapen "
                               f"tensors (e.g. '{example}'); is it the W48 network?")
    body.load_state_dict(theirs, strict=False)
    return [k for k in ours if k.split(".")[0] in PRETRAINED_LAYERS and k not in theirs]


def _conv_bn_relu(cin: int, cout: int, kernel: int, stride: int = 1) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class PoseHRNet(Backbone):
    """x [N, 3, C, C] -> (global [N, 8w], parts: 4 maps [N, w·2^k, C/4, C/4]); w = 48 for W48.

    `timm_name` picks the body (hrnet_w48; a smaller HRNet of the same layout for tests)."""

    def __init__(self, weights: str | None, timm_name: str = "hrnet_w48"):
        super().__init__()
        import timm

        self.body = timm.create_model(timm_name, pretrained=False, features_only=True, feature_location="",
                                      out_indices=(1, 2, 3, 4))
        channels = self.body.feature_info.channels()
        self.upsample = nn.ModuleList(
            nn.Sequential(*[m for _ in range(k) for m in
                            [nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True),
                             *_conv_bn_relu(channels[k], channels[k], 3)]])
            for k in range(1, len(channels)))
        self.downsample = nn.ModuleList(nn.Sequential(*_conv_bn_relu(c, 2 * c, 3, stride=2)) for c in channels[:-1])
        self.final = nn.Sequential(*_conv_bn_relu(channels[-1], channels[-1], 1))
        self.local_dim, self.global_dim = sum(channels), channels[-1]
        self.not_pretrained: list[str] = []
        if weights is not None:
            path = fetch_weights() if weights == "pretrained" else Path(os.path.expanduser(weights))
            self.not_pretrained = load_pose_weights(self.body, path)

    def forward_parts(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        branches = self.body(x)
        y = branches[0]
        for down, branch in zip(self.downsample, branches[1:]):
            y = down(y) + branch
        pooled = F.adaptive_avg_pool2d(self.final(y), 1).flatten(1)
        return pooled, [branches[0]] + [up(b) for up, b in zip(self.upsample, branches[1:])]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pooled, parts = self.forward_parts(x)
        return pooled, torch.cat(parts, dim=1)
