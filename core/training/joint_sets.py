"""The datasets' joints from an SMPL body, through joint regressors as SPIN and ReFit do.

SPIN-format labels (`part` [N, 24, 3], `S` [N, 24, 4]) are in SPIN's 24-joint order
(SPIN24_NAMES). Twelve of them are SMPL's own kinematic joints; the hips, neck, head top,
pelvis, thorax, spine, jaw and head come from SPIN's `J_regressor_extra.npy` (9 rows over
the 6890 vertices); nose, eyes and ears are single vertices (smplx's vertex ids). A
generated dataset labels SMPL's own 24 joints ('smpl24'). Each sample says which layout
its labels use, and both the 3D loss and the metrics centre a joint set on the mid-hips of
that same set.

Regressor files are user-supplied: they come with SPIN's data (its `fetch_data.sh`
unpacks `data/J_regressor_extra.npy` and `data/J_regressor_h36m.npy`) and are read with
`allow_pickle=False`, so loading one never runs code.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

SPIN24_NAMES = ("right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle", "right_wrist",
                "right_elbow", "right_shoulder", "left_shoulder", "left_elbow", "left_wrist", "neck_lsp",
                "head_top_lsp", "pelvis_mpii", "thorax_mpii", "spine_h36m", "jaw_h36m", "head_h36m", "nose",
                "left_eye", "right_eye", "left_ear", "right_ear")
# SPIN24 index -> SMPL joint, for the joints SMPL's skeleton has.
SPIN24_FROM_SMPL = {0: 8, 1: 5, 4: 4, 5: 7, 6: 21, 7: 19, 8: 17, 9: 16, 10: 18, 11: 20}
# SPIN24 index -> row of J_regressor_extra (SPIN's joints 45..53 of its 49-joint set).
SPIN24_FROM_EXTRA = {2: 0, 3: 1, 12: 2, 13: 3, 14: 4, 15: 5, 16: 6, 17: 7, 18: 8}
# SPIN24 index -> SMPL vertex (smplx's vertex_ids['smplh']: nose, left eye, right eye, left ear, right ear).
SPIN24_FROM_VERTEX = {19: 332, 20: 2800, 21: 6260, 22: 583, 23: 4071}
# Left and right swapped (SPIN's J24_FLIP_PERM).
SPIN24_FLIP = np.array([5, 4, 3, 2, 1, 0, 11, 10, 9, 8, 7, 6, 12, 13, 14, 15, 16, 17, 18, 19, 21, 20, 23, 22])

LAYOUT_SMPL24, LAYOUT_SPIN24 = 0, 1
LAYOUT_NAMES = {"smpl24": LAYOUT_SMPL24, "spin24": LAYOUT_SPIN24}
# The two hips of each layout; their midpoint is the pelvis both sets are centred on.
LAYOUT_HIPS = {LAYOUT_SMPL24: (1, 2), LAYOUT_SPIN24: (2, 3)}

NUM_VERTICES = 6890
REGRESSORS = {
    "extra": ("J_regressor_extra.npy", 9, "the training losses on SPIN-format labels"),
    "h36m": ("J_regressor_h36m.npy", 17, "the 3DPW, Human3.6M and MPI-INF-3DHP protocols"),
}
WHERE_TO_GET = ("it comes with SPIN's data (github.com/nkolot/SPIN, scripts/fetch_data.sh unpacks "
                "data/{name}); download it once and give its path")


class RegressorError(ValueError):
    """A joint regressor file that is missing or malformed; the message says what to do."""


def load_regressor(path: str | os.PathLike | None, kind: str) -> np.ndarray:
    """A SPIN-layout joint regressor [n_joints, 6890] (float64) from a .npy file, no pickles."""
    name, rows, purpose = REGRESSORS[kind]
    if path is None:
        raise RegressorError(f"{purpose} need the joint regressor {name}; " + WHERE_TO_GET.format(name=name))
    path = Path(path)
    if not path.is_file():
        raise RegressorError(f"joint regressor '{path}' does not exist; {purpose} need {name}: "
                             + WHERE_TO_GET.format(name=name))
    try:
        reg = np.load(path, allow_pickle=False)
    except Exception as exc:  # a pickled object array, a damaged file, not .npy at all
        raise RegressorError(f"joint regressor '{path}' is not a plain numeric .npy array "
                             f"({type(exc).__name__}: {exc}); expected {name} as SPIN ships it") from exc
    if reg.ndim != 2 or reg.shape != (rows, NUM_VERTICES) or not np.issubdtype(reg.dtype, np.number):
        raise RegressorError(f"joint regressor '{path}' has shape {list(reg.shape)} ({reg.dtype}); "
                             f"{name} is [{rows}, {NUM_VERTICES}] numbers")
    if not np.isfinite(reg).all():
        raise RegressorError(f"joint regressor '{path}' holds non-finite values")
    return reg.astype(np.float64)


class DatasetJoints(nn.Module):
    """SMPL parameters -> SPIN's 24 joints, skinning only the vertices the extra regressor
    and the face joints read (a few hundred of 6890).

    forward(smpl_layer, rotmat [B, 24, 3, 3], betas [B, nb]) -> [B, 24, 3] (transl = 0).
    """

    def __init__(self, extra_regressor: np.ndarray):
        super().__init__()
        extra = np.asarray(extra_regressor, dtype=np.float64)
        support = np.flatnonzero(np.abs(extra).sum(0) > 0)
        face = np.array(list(SPIN24_FROM_VERTEX.values()))
        self.num_support = len(support)
        self.register_buffer("vertex_ids", torch.as_tensor(np.concatenate([support, face]), dtype=torch.long),
                             persistent=False)
        self.register_buffer("weights", torch.as_tensor(extra[:, support], dtype=torch.float32), persistent=False)

    def forward(self, smpl_layer, rotmat: torch.Tensor, betas: torch.Tensor) -> torch.Tensor:
        verts, joints = smpl_layer.subset(rotmat, betas, self.vertex_ids)
        extra = torch.einsum("jk,bkc->bjc", self.weights, verts[:, :self.num_support])
        out = [None] * 24
        for dst, src in SPIN24_FROM_SMPL.items():
            out[dst] = joints[:, src]
        for dst, src in SPIN24_FROM_EXTRA.items():
            out[dst] = extra[:, src]
        for k, dst in enumerate(SPIN24_FROM_VERTEX):
            out[dst] = verts[:, self.num_support + k]
        return torch.stack(out, dim=1)


def label_layout_joints(stage: dict, layout: torch.Tensor, dataset_joints: DatasetJoints | None, smpl_layer,
                        focal: torch.Tensor, img_size: torch.Tensor) -> dict:
    """A stage dict whose `joints3d` [B, 24, 3] and `joints2d` [B, 24, 2] (full-image px, the
    stage's camera: focal [B], img_size [B, 2]) are in each sample's label layout (`layout`
    [B]: LAYOUT_SMPL24 or LAYOUT_SPIN24).

    Without `dataset_joints` every sample must use SMPL's own layout.
    """
    spin = layout == LAYOUT_SPIN24
    if not bool(spin.any()):
        return stage
    if dataset_joints is None:
        name = REGRESSORS["extra"][0]
        raise RegressorError(f"the batch holds SPIN-format labels, whose joints need {name}; "
                             + WHERE_TO_GET.format(name=name))
    spin24 = dataset_joints(smpl_layer, stage["rotmat"], stage["betas"])
    joints3d = torch.where(spin[:, None, None], spin24, stage["joints3d"].float())
    from ..tar import camera

    return {**stage, "joints3d": joints3d, "joints2d": camera.project_full(joints3d, stage["trans"], focal, img_size)}


def layout_hips(layout: torch.Tensor) -> torch.Tensor:
    """[B] layouts -> [B, 2] the hip joints of each sample's layout."""
    table = torch.tensor([LAYOUT_HIPS[LAYOUT_SMPL24], LAYOUT_HIPS[LAYOUT_SPIN24]], device=layout.device)
    return table[layout.long()]
