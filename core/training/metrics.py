"""Evaluation metrics as the video human-mesh-recovery field computes them (TCMR, GLoT, TAR).

All functions take numpy arrays in metres and return millimetres.

- 3DPW protocol: 14 LSP joints (from the H36M joint regressor applied to the mesh when that
  regressor is given, else from SMPL's own joints), both skeletons translated so that the
  pelvis, the mean of the two hips, is at the origin.
- PA-MPJPE: the prediction is aligned to the ground truth by the similarity transform
  (rotation, uniform scale, translation) that minimises the squared error.
- ACCEL: second finite differences of the joint positions over time, compared.
"""
from __future__ import annotations

import numpy as np

# LSP order: R ankle, R knee, R hip, L hip, L knee, L ankle, R wrist, R elbow, R shoulder,
# L shoulder, L elbow, L wrist, neck, head top.
J14_NAMES = ("right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
             "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow",
             "left_wrist", "neck", "head")
# The 14 joints taken from the 17 joints of the H36M regressor (SPIN's H36M_TO_J14).
H36M_TO_J14 = np.array([3, 2, 1, 4, 5, 6, 16, 15, 14, 11, 12, 13, 8, 10])
# The same 14 joints from SMPL's 24-joint skeleton (used when no H36M regressor is given).
SMPL_TO_J14 = np.array([8, 5, 2, 1, 4, 7, 21, 19, 17, 16, 18, 20, 12, 15])
J14_HIPS = (2, 3)
MM = 1000.0


def joints14_from_vertices(vertices: np.ndarray, h36m_regressor: np.ndarray) -> np.ndarray:
    """vertices [..., 6890, 3], H36M regressor [17, 6890] -> 14 evaluation joints [..., 14, 3]."""
    j17 = np.einsum("jv,...vc->...jc", np.asarray(h36m_regressor, dtype=np.float64), vertices)
    return j17[..., H36M_TO_J14, :]


def joints14_from_smpl_joints(joints24: np.ndarray) -> np.ndarray:
    """SMPL joints [..., 24, 3] -> 14 evaluation joints [..., 14, 3]."""
    return np.asarray(joints24)[..., SMPL_TO_J14, :]


def center_on_hips(joints14: np.ndarray) -> np.ndarray:
    """[..., 14, 3] -> the same joints with the pelvis (mean of the hips) at the origin."""
    pelvis = 0.5 * (joints14[..., J14_HIPS[0], :] + joints14[..., J14_HIPS[1], :])
    return joints14 - pelvis[..., None, :]


def similarity_procrustes(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Align pred [N, J, 3] to gt [N, J, 3] by the best rotation, uniform scale and translation.

    Umeyama's closed form: the SVD of the cross-covariance, with the sign of the last
    singular direction fixed so that the result is a rotation, not a reflection.
    """
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    mu_p = pred.mean(axis=1, keepdims=True)
    mu_g = gt.mean(axis=1, keepdims=True)
    p = pred - mu_p
    g = gt - mu_g
    var_p = np.sum(p ** 2, axis=(1, 2))
    cov = np.einsum("nji,njk->nik", g, p)  # sum_j g_j p_j^T, [N, 3, 3]
    u, s, vt = np.linalg.svd(cov)
    d = np.sign(np.linalg.det(u @ vt))
    fix = np.ones_like(s)
    fix[:, -1] = d
    rot = u @ (fix[:, :, None] * vt)  # u diag(fix) vt
    scale = np.sum(s * fix, axis=1) / np.maximum(var_p, 1e-12)
    return scale[:, None, None] * np.einsum("nij,nkj->nki", rot, p) + mu_g


def mpjpe(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Per-frame mean joint distance: pred, gt [N, J, 3] in metres -> [N] in mm."""
    return np.linalg.norm(np.asarray(pred) - np.asarray(gt), axis=-1).mean(axis=-1) * MM


def pa_mpjpe(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """MPJPE after similarity Procrustes alignment: [N, J, 3] -> [N] in mm."""
    return mpjpe(similarity_procrustes(pred, gt), gt)


def pve(pred_vertices: np.ndarray, gt_vertices: np.ndarray, pred_pelvis: np.ndarray,
        gt_pelvis: np.ndarray) -> np.ndarray:
    """Per-vertex error after putting both pelves at the origin.

    vertices [N, V, 3], pelvis [N, 3] (the hip-mean pelvis of each skeleton) -> [N] in mm.
    """
    return mpjpe(pred_vertices - pred_pelvis[:, None], gt_vertices - gt_pelvis[:, None])


def accel_error(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Acceleration error of one sequence: pred, gt [N, J, 3] -> [N-2] in mm/frame².

    a[t] = x[t-1] - 2 x[t] + x[t+1]; the error of a frame is the mean over joints of
    ‖a_pred - a_gt‖.
    """
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    if len(pred) < 3:
        return np.zeros(0)
    acc = lambda x: x[:-2] - 2 * x[1:-1] + x[2:]
    return np.linalg.norm(acc(pred) - acc(gt), axis=-1).mean(axis=-1) * MM


def evaluate_sequences(sequences: list[dict], h36m_regressor: np.ndarray | None = None) -> dict[str, float]:
    """The four metrics over several sequences, frames pooled as the field does.

    Each sequence dict holds `pred_joints24`, `gt_joints24` [N, 24, 3] and optionally
    `pred_vertices`, `gt_vertices` [N, 6890, 3] (metres; any common translation). With an
    H36M regressor the 14 joints come from the vertices, as in the 3DPW protocol.
    Returns mm: MPJPE, PA-MPJPE, PVE (nan without vertices), ACCEL (nan for 2-frame sequences).
    """
    errs: dict[str, list[np.ndarray]] = {"mpjpe": [], "pa_mpjpe": [], "pve": [], "accel": []}
    for seq in sequences:
        has_verts = seq.get("pred_vertices") is not None and seq.get("gt_vertices") is not None
        if h36m_regressor is not None:
            if not has_verts:
                raise ValueError("the H36M-regressor protocol needs predicted and ground-truth vertices")
            pred14 = joints14_from_vertices(seq["pred_vertices"], h36m_regressor)
            gt14 = joints14_from_vertices(seq["gt_vertices"], h36m_regressor)
        else:
            pred14 = joints14_from_smpl_joints(seq["pred_joints24"])
            gt14 = joints14_from_smpl_joints(seq["gt_joints24"])
        pred_pelvis = pred14[:, J14_HIPS, :].mean(axis=1)
        gt_pelvis = gt14[:, J14_HIPS, :].mean(axis=1)
        pred_c, gt_c = center_on_hips(pred14), center_on_hips(gt14)
        errs["mpjpe"].append(mpjpe(pred_c, gt_c))
        errs["pa_mpjpe"].append(pa_mpjpe(pred_c, gt_c))
        errs["accel"].append(accel_error(pred_c, gt_c))
        if has_verts:
            errs["pve"].append(pve(seq["pred_vertices"], seq["gt_vertices"], pred_pelvis, gt_pelvis))
    out = {}
    for k, v in errs.items():
        v = [a for a in v if a.size]
        out[k] = float(np.concatenate(v).mean()) if v else float("nan")
    return out
