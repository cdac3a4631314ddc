"""`TARConfig`: every hyper-parameter of the TAR model, saved inside each checkpoint.

Names follow the paper (Chen et al., "Temporal-Aware Refinement for Video-based Human
Pose and Shape Recovery"): T = `seq_len` frames enter the Global Temporal Encoder, the
L = `local_len` frames centred on the mid-frame enter the Local Temporal Encoder, whose
ConvGRU runs on S×S = `hidden_map_size`² hidden maps (Table S3), and the Recurrent
Refinement Module updates the estimate `iterations` times.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any, Mapping

CONFIG_VERSION = 1

BACKBONES = ("hrnet_w48_refit", "hrnet_w48", "resnet50", "efficientnet_lite0", "tiny")

# ReFit's 67 marker vertices on the SMPL mesh (its `smpl_ssm.npy`); a setting, since the
# TAR text speaks of up to 26 markers without listing them.
REFIT_MARKER_IDS = (
    0, 183, 239, 601, 630, 706, 857, 874, 1053, 1058, 1112, 1306, 1368, 1396, 1454, 1504,
    1666, 1725, 1741, 1863, 2108, 2112, 2174, 2224, 3015, 3076, 3078, 3116, 3123, 3233, 3284,
    3327, 3336, 3346, 3387, 3503, 3512, 3695, 3749, 4118, 4222, 4343, 4360, 4538, 4544, 4598,
    4722, 4841, 4871, 4927, 5135, 5194, 5210, 5299, 5414, 5568, 5635, 5686, 6306, 6540, 6543,
    6633, 6683, 6728, 6736, 6747, 6786,
)

NUM_SMPL_VERTICES = 6890
NUM_SMPL_JOINTS = 24
NUM_STATES = NUM_SMPL_JOINTS + 2  # 24 joint rotations, shape, camera


class ConfigError(ValueError):
    """A TAR configuration that cannot build a model."""


@dataclasses.dataclass(frozen=True)
class TARConfig:
    # Backbone: which network, and where its initial weights come from when a model is
    # built for training: None = random, "pretrained" = the library's own weights (timm
    # downloads them; efficientnet_lite0's ship in a pip package; hrnet_w48_refit's are the
    # COCO-pose weights, checked against a pinned SHA-256), or a local file path.
    backbone: str = "hrnet_w48"
    backbone_weights: str | None = None
    tiny_width: int = 16  # channel width of the "tiny" test/CPU backbone
    crop_size: int = 256  # square crops; local maps are crop_size / 4 on a side
    # efficientnet_lite0's global feature is its local map average-pooled to this grid
    # (global_grid² × 496 values), which keeps where the limbs are; other backbones ignore it.
    global_grid: int = 2
    box_scale: float = 1.2  # crop side = box_scale × the person box's longer side (training must match)

    # Temporal windows (Table 1: T = 9; Table 5: L = 5).
    seq_len: int = 9
    local_len: int = 5

    # Global Temporal Encoder.
    gte_dim: int = 512
    gte_layers: int = 4
    gte_heads: int = 8
    gte_ffn_dim: int = 1024
    gte_dropout: float = 0.1
    state_dim: int = 32  # size of each of the 26 hidden states (= GRU hidden size)
    regressor_dim: int = 32  # hidden width of each per-state regressor MLP

    # Local Temporal Encoder.
    lte_channels: int = 256  # ConvGRU input and hidden channels
    hidden_map_size: int = 64  # S in Table S3: 64, 32, 16 or 8
    lte_kernel: int = 3

    # Recurrent Refinement Module.
    iterations: int = 5
    marker_ids: tuple[int, ...] = REFIT_MARKER_IDS
    window_radius: int = 3  # (2r+1)² samples per marker on the local map
    marker_feature_dim: int = 5  # per-marker projection of its window samples
    local_feature_dim: int = 256  # all markers' features projected to this size
    marker_dropout: float = 0.25  # training only: whole markers dropped (one mask per forward, as ReFit)
    detach_markers: bool = True  # no gradient through sampling locations
    detach_params: bool = True  # each refinement starts from the previous estimate without its gradient (ReFit)

    # Ablations (paper Tables 3-4). "w/o RRM" is iterations = 0 (the GTE's initial estimate
    # is final). temporal_global = False replaces the GTE's transformer and temporal average
    # by the mid-frame's static global feature ("only LTE"); temporal_local = False gives the
    # RRM the mid-frame's static local features instead of the ConvGRU's ("only GTE").
    temporal_global: bool = True
    temporal_local: bool = True

    # SMPL and camera.
    num_betas: int = 10
    cam_init: tuple[float, float, float] = (0.9, 0.0, 0.0)  # (s, tx, ty) before the first regression

    def __post_init__(self) -> None:
        object.__setattr__(self, "marker_ids", tuple(int(i) for i in self.marker_ids))
        object.__setattr__(self, "cam_init", tuple(float(c) for c in self.cam_init))
        self.validate()

    @property
    def map_size(self) -> int:
        """Side of the backbone's local feature maps (64 for 256-pixel crops)."""
        return self.crop_size // 4

    @property
    def num_markers(self) -> int:
        return len(self.marker_ids)

    @property
    def local_offset(self) -> int:
        """Index in the T window of the first of the L local frames."""
        return (self.seq_len - self.local_len) // 2

    def validate(self) -> None:
        """Raise ConfigError naming the first setting that cannot work."""
        if self.backbone not in BACKBONES:
            raise ConfigError(f"unknown backbone '{self.backbone}'; choose one of {', '.join(BACKBONES)}")
        if not self.box_scale > 0:
            raise ConfigError(f"box_scale must be positive (got {self.box_scale})")
        if self.crop_size < 32 or self.crop_size % 32:
            raise ConfigError(f"crop_size must be a multiple of 32 (got {self.crop_size})")
        if not 1 <= self.global_grid <= self.map_size:
            raise ConfigError(f"global_grid must be between 1 and the local map size {self.map_size} "
                              f"(got {self.global_grid})")
        for name in ("seq_len", "local_len"):
            value = getattr(self, name)
            if value < 1 or value % 2 == 0:
                raise ConfigError(f"{name} must be odd and positive so that the window has a mid-frame (got {value})")
        if self.local_len > self.seq_len:
            raise ConfigError(f"local_len ({self.local_len}) cannot exceed seq_len ({self.seq_len})")
        s = self.hidden_map_size
        if s < 1 or s > self.map_size or self.map_size % s or not math.log2(self.map_size // s).is_integer():
            raise ConfigError(f"hidden_map_size must be the local map size {self.map_size} divided by a power "
                              f"of two (got {s})")
        if self.gte_dim % self.gte_heads:
            raise ConfigError(f"gte_dim ({self.gte_dim}) must be divisible by gte_heads ({self.gte_heads})")
        if self.iterations < 0:
            raise ConfigError(f"iterations must be >= 0 (got {self.iterations})")
        if not self.marker_ids:
            raise ConfigError("marker_ids is empty; the refinement needs at least one marker")
        bad = [i for i in self.marker_ids if not 0 <= i < NUM_SMPL_VERTICES]
        if bad:
            raise ConfigError(f"marker vertex ids {bad[:5]} are outside SMPL's 0..{NUM_SMPL_VERTICES - 1}")
        if not 0.0 <= self.marker_dropout < 1.0:
            raise ConfigError(f"marker_dropout must be in [0, 1) (got {self.marker_dropout})")
        if self.window_radius < 0:
            raise ConfigError(f"window_radius must be >= 0 (got {self.window_radius})")
        if len(self.cam_init) != 3:
            raise ConfigError(f"cam_init needs 3 numbers (s, tx, ty), got {len(self.cam_init)}")

    def to_dict(self) -> dict[str, Any]:
        """Plain types only (saved in checkpoints loaded with weights_only=True)."""
        out = dataclasses.asdict(self)
        out["marker_ids"] = list(self.marker_ids)
        out["cam_init"] = list(self.cam_init)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "TARConfig":
        """Rebuild a config; unknown keys are an error, missing keys take their defaults."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown TAR settings {', '.join(unknown)} (made by a newer version?)")
        return cls(**dict(data))

    def replace(self, **changes: Any) -> "TARConfig":
        return dataclasses.replace(self, **changes)
