"""TAR's training loss (paper Eq. 10–14).

Every stage l = 0..L (the GTE's initial estimate, then each RRM refinement) gets

    L_l = λ2D·L2D + λ3D·L3D + λSMPL·LSMPL

and the total is Σ_l γ^(L−l)·L_l with γ = 0.85, so the last refinement weighs 1 and the
initial estimate γ^L. As in ReFit (whose recipe TAR follows):
- L2D compares 2D joints in normalised crop coordinates ((p − box centre)/(box size/2),
  about [−1, 1]), weighted by each joint's confidence;
- L2D and L3D compare the labels' own joints: the prediction is mapped to each sample's
  label layout first (SPIN's 24 joints through J_regressor_extra, or SMPL's own 24;
  joint_sets.py);
- L3D compares 3D joints after moving the mid-hips of each set to the origin (the same two
  joints of the same layout in prediction and label), on the samples that have 3D ground
  truth and both hips;
- LSMPL compares rotation matrices and betas, on samples that have SMPL ground truth.
Squared errors are averaged (mean squared error), as ReFit and TCMR do; the 3D and SMPL
terms over the samples that carry their ground truth, not the whole batch.
"""
from __future__ import annotations

import dataclasses

import torch

HIPS = (1, 2)  # SMPL's left and right hip, for labels in SMPL's own layout


@dataclasses.dataclass(frozen=True)
class LossWeights:
    kp2d: float = 5.0        # λ2D
    kp3d: float = 5.0        # λ3D
    smpl: float = 1.0        # λSMPL
    betas: float = 0.001     # relative weight of the betas term inside LSMPL
    gamma: float = 0.85      # stage discount γ
    scale: float = 60.0      # ReFit multiplies the total by 60; it only rescales the learning rate


def stage_weights(num_stages: int, gamma: float) -> list[float]:
    """γ^(L−l) for l = 0..L where L = num_stages − 1 (the initial estimate is stage 0)."""
    last = num_stages - 1
    return [gamma ** (last - l) for l in range(num_stages)]


def normalise_keypoints(points: torch.Tensor, box_center: torch.Tensor, box_size: torch.Tensor) -> torch.Tensor:
    """Full-image pixels [B, J, 2] -> crop-normalised coordinates [B, J, 2] (box spans [−1, 1])."""
    return (points - box_center[:, None, :]) / (0.5 * box_size[:, None, None])


def keypoint_2d_loss(pred: torch.Tensor, gt: torch.Tensor, conf: torch.Tensor) -> torch.Tensor:
    """pred, gt [B, J, 2] normalised, conf [B, J] -> confidence-weighted mean squared error."""
    return (conf[..., None] * (pred - gt) ** 2).mean()


def mid_hips(joints: torch.Tensor, hips: torch.Tensor | None = None) -> torch.Tensor:
    """[B, J, 3], hip joints [B, 2] (default SMPL's) -> [B, 1, 3], the midpoint of the two hips."""
    if hips is None:
        return joints[:, list(HIPS)].mean(dim=1, keepdim=True)
    idx = hips.long()[..., None].expand(-1, -1, joints.shape[-1])
    return joints.gather(1, idx).mean(dim=1, keepdim=True)


def supervised_count(mask: torch.Tensor) -> torch.Tensor:
    """How many samples carry a label (at least 1, so an unlabelled batch gives 0 loss)."""
    return mask.sum().clamp(min=1.0)


def keypoint_3d_loss(pred: torch.Tensor, gt: torch.Tensor, conf: torch.Tensor, has_3d: torch.Tensor,
                     hips: torch.Tensor | None = None) -> torch.Tensor:
    """pred, gt [B, J, 3] (any translation, the same joint layout), conf [B, J], has_3d [B],
    hips [B, 2] (the layout's hip joints; default SMPL's) -> mid-hip-centred MSE over the
    samples with 3D labels and both hips."""
    hip_idx = torch.tensor(HIPS, device=conf.device).expand(len(conf), 2) if hips is None else hips.long()
    both_hips = (conf.gather(1, hip_idx) > 0).all(dim=1)
    mask = has_3d * both_hips.to(has_3d.dtype)
    weight = conf * mask[:, None]
    err = (pred - mid_hips(pred, hip_idx)) - (gt - mid_hips(gt, hip_idx))
    return (weight[..., None] * err ** 2).sum() / (3 * pred.shape[1] * supervised_count(mask))


def smpl_loss(pred_rotmat: torch.Tensor, gt_rotmat: torch.Tensor, pred_betas: torch.Tensor,
              gt_betas: torch.Tensor, has_smpl: torch.Tensor, betas_weight: float) -> torch.Tensor:
    """rotmat [B, 24, 3, 3], betas [B, 10], has_smpl [B] -> masked MSE of rotations + betas."""
    mask = has_smpl.to(pred_rotmat.dtype)
    n = supervised_count(mask)
    rot = (mask[:, None, None, None] * (pred_rotmat - gt_rotmat) ** 2).sum() / (n * 24 * 9)
    betas = (mask[:, None] * (pred_betas - gt_betas) ** 2).sum() / (n * gt_betas.shape[-1])
    return rot + betas_weight * betas


def stage_loss(stage: dict, target: dict, w: LossWeights) -> dict[str, torch.Tensor]:
    """One stage's L_l and its three terms.

    stage: the model's dict (`joints2d` [B,24,2] full-image px, `joints3d` [B,24,3],
    `rotmat` [B,24,3,3], `betas` [B,10]); target: `joints2d` [B,24,3] (px, confidence),
    `joints3d` [B,24,4] (metres, confidence), `rotmat` [B,24,3,3], `betas` [B,10],
    `has_smpl` [B], `has_3d` [B], `box_center` [B,2], `box_size` [B], optionally `hips` [B,2]
    (the hip joints of the labels' layout; joint_sets.label_layout_joints puts the stage's
    joints in that layout).
    """
    kp = lambda p: normalise_keypoints(p, target["box_center"], target["box_size"])
    l2d = keypoint_2d_loss(kp(stage["joints2d"].float()), kp(target["joints2d"][..., :2]), target["joints2d"][..., 2])
    l3d = keypoint_3d_loss(stage["joints3d"].float(), target["joints3d"][..., :3], target["joints3d"][..., 3],
                           target["has_3d"].float(), target.get("hips"))
    lsmpl = smpl_loss(stage["rotmat"].float(), target["rotmat"], stage["betas"].float(), target["betas"],
                      target["has_smpl"].float(), w.betas)
    total = w.kp2d * l2d + w.kp3d * l3d + w.smpl * lsmpl
    return {"total": total, "kp2d": l2d, "kp3d": l3d, "smpl": lsmpl}


def tar_loss(stages: list[dict], target: dict, w: LossWeights = LossWeights()) -> tuple[torch.Tensor, dict[str, float]]:
    """Eq. 14: scale · Σ_l γ^(L−l)·L_l over the stage dicts. Returns (loss, logged parts).

    The logged parts are the last stage's terms (what the model finally predicts).
    """
    weights = stage_weights(len(stages), w.gamma)
    parts = [stage_loss(s, target, w) for s in stages]
    total = sum(wl * p["total"] for wl, p in zip(weights, parts))
    last = parts[-1]
    log = {"loss": float(total.detach()) * w.scale, "kp2d": float(last["kp2d"].detach()),
           "kp3d": float(last["kp3d"].detach()), "smpl": float(last["smpl"].detach())}
    return w.scale * total, log
