"""TAR: Temporal-Aware Refinement for video human pose and shape (Chen et al.).

Interface (shared with the trainer; keep these names):

    model = TAR(cfg: TARConfig, smpl)   # smpl: smplx.SMPL, an SMPL file path, or an SMPLLayer

    model.extract_features(crops [N, 3, C, C]) -> (global_feats [N, Dg], local_maps [N, Dl, C/4, C/4])
        crops: float RGB, ImageNet-normalised (`core.tar.backbone.normalize_crops` turns uint8
        RGB [N, C, C, 3] into this); C = cfg.crop_size (256: 64×64 local maps).

    model.forward_features(global_seq [B, T, Dg], local_seq [B, L, Dl, M, M], bbox_info [B, 3],
                           focal [B], img_size [B, 2] (W, H), box_center [B, 2], box_size [B])
        -> stages: list of cfg.iterations + 1 dicts (the GTE's initial estimate, then each
           refinement), all for the mid-frame of the window.
        local_seq holds the L = cfg.local_len frames centred on the T window's mid-frame
        (window indices cfg.local_offset ... cfg.local_offset + L − 1).
        bbox_info = core.tar.camera.bbox_info(box_center, box_size, focal, img_size); the box
        is the square crop box in full-image pixels.

    model(crops [B, T, 3, C, C], bbox_info, focal, img_size, box_center, box_size) = both.

    For video, forward_features = refine(global_seq, encoded_seq, ...) with encoded_seq the
    per-frame `encode_local(local_maps)` [B, L, C', S, S], so that a frame's backbone and
    per-frame LTE encoding are computed once and reused by every window holding it.

    Each stage dict:
        rotmat    [B, 24, 3, 3]  SMPL joint rotations; global orientation in the camera frame
                                 (OpenCV: x right, y down, z forward)
        pose6d    [B, 24, 6]     the same as the regressed 6D representation
        pose_aa   [B, 72]        the same as axis-angles
        betas     [B, num_betas]
        cam_crop  [B, 3]         (s, tx, ty) crop camera
        trans     [B, 3]         CLIFF full-image translation, exactly smplx's `transl`
        joints3d  [B, 24, 3]     SMPL joints with transl = 0 (camera-frame orientation)
        joints2d  [B, 24, 2]     full-image pixels: projection of joints3d + trans
        vertices  [B, 6890, 3]   transl = 0 (eval mode; in training mode, where no loss reads
                                 the mesh, `marker_vertices` [B, K, 3] instead: far cheaper)
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn

from . import camera
from .backbone import build_backbone
from .config import NUM_SMPL_JOINTS, TARConfig
from .gte import GlobalTemporalEncoder
from .lte import LocalTemporalEncoder
from .torch_rotations import matrix_to_axis_angle, matrix_to_rot6d, rot6d_to_matrix
from .rrm import RecurrentRefinement, crop_to_map_coords
from .smpl_layer import SMPLLayer


def initial_pose6d() -> torch.Tensor:
    """[24, 6]: rest pose, upright and facing the camera (SMPL's y-up turned to the camera's y-down).

    SMPL's mean pose is not shipped with the project; the regressors learn the offset.
    """
    rot = torch.eye(3).repeat(NUM_SMPL_JOINTS, 1, 1)
    rot[0] = torch.diag(torch.tensor([1.0, -1.0, -1.0]))  # 180° about x
    return matrix_to_rot6d(rot)


class TAR(nn.Module):
    def __init__(self, cfg: TARConfig, smpl, load_backbone_weights: bool = True):
        super().__init__()
        self.cfg = cfg
        self.backbone = build_backbone(cfg, load_weights=load_backbone_weights)
        self.gte = GlobalTemporalEncoder(cfg, self.backbone.global_dim)
        self.lte = LocalTemporalEncoder(cfg, self.backbone.local_dim)
        self.rrm = RecurrentRefinement(cfg, self.lte.out_channels)
        self.smpl = smpl if isinstance(smpl, SMPLLayer) else SMPLLayer(smpl, cfg.num_betas)
        if max(cfg.marker_ids) >= self.smpl.num_vertices:
            raise ValueError(f"marker vertex id {max(cfg.marker_ids)} is outside the body model's "
                             f"{self.smpl.num_vertices} vertices")
        self.register_buffer("marker_ids", torch.tensor(cfg.marker_ids, dtype=torch.long), persistent=False)
        self.register_buffer("init_pose6d", initial_pose6d(), persistent=False)
        self.register_buffer("init_cam", torch.tensor(cfg.cam_init), persistent=False)

    @property
    def global_dim(self) -> int:
        return self.backbone.global_dim

    @property
    def local_dim(self) -> int:
        return self.backbone.local_dim

    def extract_features(self, crops: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.backbone(crops)

    def decode(self, pose6d, betas, cam_crop, focal, img_size, box_center, box_size,
               full_mesh: bool = True) -> dict[str, torch.Tensor]:
        """Parameters -> one stage dict (see the module docstring); SMPL and camera in float32.

        full_mesh=False skins only the markers (`marker_vertices` [B, K, 3]) and leaves out
        `vertices`: the model does this in training mode, where no loss reads the mesh.
        """
        pose6d, betas, cam_crop = pose6d.float(), betas.float(), cam_crop.float()
        rotmat = rot6d_to_matrix(pose6d)
        if full_mesh:
            vertices, joints = self.smpl(rotmat, betas)
        else:
            markers, joints = self.smpl(rotmat, betas, vertex_ids=self.marker_ids)
        trans = camera.crop_to_full_translation(cam_crop, box_center, box_size, focal, img_size)
        return {
            "rotmat": rotmat,
            "pose6d": pose6d,
            "pose_aa": matrix_to_axis_angle(rotmat).flatten(1),
            "betas": betas,
            "cam_crop": cam_crop,
            "trans": trans,
            "joints3d": joints,
            "joints2d": camera.project_full(joints, trans, focal, img_size),
            **({"vertices": vertices} if full_mesh else {"marker_vertices": markers}),
        }

    def marker_positions(self, stage: dict, focal, img_size, box_center, box_size) -> torch.Tensor:
        """Markers of a stage's mesh in local-map pixels: [B, K, 2]."""
        points = stage["marker_vertices"] if "marker_vertices" in stage else stage["vertices"][:, self.marker_ids]
        full = camera.project_full(points, stage["trans"], focal, img_size)
        crop = camera.full_to_crop(full, box_center, box_size, self.cfg.crop_size)
        markers = crop_to_map_coords(crop, self.cfg.crop_size, self.cfg.map_size)
        # Far off-crop markers sample zeros anyway; bounding them keeps grid_sample finite.
        markers = markers.clamp(-self.cfg.map_size, 2 * self.cfg.map_size)
        return markers.detach() if self.cfg.detach_markers else markers

    def forward_features(self, global_seq, local_seq, bbox_info, focal, img_size, box_center, box_size):
        cfg = self.cfg
        _check_shape("global_seq", global_seq, (None, cfg.seq_len, self.global_dim))
        _check_shape("local_seq", local_seq, (global_seq.shape[0], cfg.local_len, self.local_dim, cfg.map_size,
                                              cfg.map_size))
        encoded = self.encode_local(local_seq.flatten(0, 1))
        return self.refine(global_seq, encoded.view(*local_seq.shape[:2], *encoded.shape[1:]), bbox_info, focal,
                           img_size, box_center, box_size)

    def encode_local(self, local_maps: torch.Tensor) -> torch.Tensor:
        """Per-frame LTE encoding, local_maps [N, Dl, M, M] -> [N, C, S, S] (identity at S = M)."""
        return self.lte.encode_frames(local_maps)

    def refine(self, global_seq, encoded_seq, bbox_info, focal, img_size, box_center, box_size):
        """forward_features on per-frame encoded local maps [B, L, C, S, S] (see encode_local)."""
        cfg = self.cfg
        focal, img_size = focal.float(), img_size.float()
        box_center, box_size, bbox_info = box_center.float(), box_size.float(), bbox_info.float()
        geometry = (focal, img_size, box_center, box_size)

        states, (d_pose, d_betas, d_cam) = self.gte(global_seq, bbox_info)
        pose6d = self.init_pose6d + d_pose.float()
        betas = d_betas.float()
        cam = self.init_cam + d_cam.float()
        full = not self.training
        stages = [self.decode(pose6d, betas, cam, *geometry, full_mesh=full)]
        if cfg.iterations == 0:
            return stages
        maps = self.rrm.marker_maps(self.lte.temporal(encoded_seq))
        keep = self.rrm.marker_keep(maps.shape[0], maps.device)
        for _ in range(cfg.iterations):
            markers = self.marker_positions(stages[-1], *geometry)
            if cfg.detach_params:
                pose6d, betas, cam = pose6d.detach(), betas.detach(), cam.detach()
            states, (d_pose, d_betas, d_cam) = self.rrm(maps, markers, states, pose6d, betas, cam, bbox_info, keep)
            pose6d, betas, cam = pose6d + d_pose.float(), betas + d_betas.float(), cam + d_cam.float()
            stages.append(self.decode(pose6d, betas, cam, *geometry, full_mesh=full))
        return stages

    def forward(self, crops, bbox_info, focal, img_size, box_center, box_size):
        cfg = self.cfg
        _check_shape("crops", crops, (None, cfg.seq_len, 3, cfg.crop_size, cfg.crop_size))
        b, t = crops.shape[:2]
        global_feats, local_maps = self.extract_features(crops.flatten(0, 1))
        global_seq = global_feats.view(b, t, -1)
        local_seq = local_maps.view(b, t, *local_maps.shape[1:])[:, cfg.local_offset:cfg.local_offset + cfg.local_len]
        return self.forward_features(global_seq, local_seq, bbox_info, focal, img_size, box_center, box_size)

    def component_parameters(self) -> dict[str, int]:
        """Trainable parameter counts of backbone, GTE, LTE and RRM."""
        return {name: sum(p.numel() for p in getattr(self, name).parameters())
                for name in ("backbone", "gte", "lte", "rrm")}


def _check_shape(name: str, tensor: torch.Tensor, expected: tuple) -> None:
    ok = tensor.dim() == len(expected) and all(e is None or e == s for e, s in zip(expected, tensor.shape))
    if not ok:
        want = ", ".join("B" if e is None else str(e) for e in expected)
        raise ValueError(f"{name} has shape {list(tensor.shape)}, the model's config expects [{want}]")
