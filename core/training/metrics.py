"""Evaluation metrics as the video human-mesh-recovery field computes them (TCMR, GLoT, TAR).

All functions take numpy arrays in metres and return millimetres.

The protocols of TAR's Table 1, as TCMR and GLoT (whose numbers it compares with) compute them:
- the predicted joints come from the predicted mesh through SPIN's J_regressor_h36m (17
  joints, taken in SPIN's J17 order: the 14 LSP joints, then pelvis, spine, jaw);
- the ground truth comes from the ground-truth mesh the same way (3DPW, generated data),
  or from SPIN-format `S` labels (Human3.6M, MPI-INF-3DHP: SPIN's 24 joints in J17 order);
- 3DPW and Human3.6M (protocol 2, the frontal camera's test set) use the 14 joints, both
  sets centred on the mean of the two hips; MPI-INF-3DHP uses 17 joints centred on the pelvis;
- PVE compares the meshes as SMPL gives them (no translation, not re-centred), as TCMR's
  `compute_error_verts`; only where the ground truth is an SMPL mesh;
- PA-MPJPE: the prediction is aligned to the ground truth by the similarity transform
  (rotation, uniform scale, translation) that minimises the squared error;
- ACCEL: second finite differences of the centred joints over time, compared;
- EMDB scores as its own release does: SMPL's 24 joints and the mesh, both centred on the
  mean of SMPL's hips.
Without an H36M regressor the 14 joints come from SMPL's own skeleton (a stand-in; labels
in another skeleton cannot be compared then).
"""
from __future__ import annotations

import dataclasses

import numpy as np

# LSP order: R ankle, R knee, R hip, L hip, L knee, L ankle, R wrist, R elbow, R shoulder,
# L shoulder, L elbow, L wrist, neck, head top.
J14_NAMES = ("right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
             "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow",
             "left_wrist", "neck", "head")
# SPIN's J17 order from the 17 rows of J_regressor_h36m (SPIN's H36M_TO_J17) and from SPIN's
# 24 label joints (J24_TO_J17: the LSP 13, then H36M head, pelvis, spine, jaw).
H36M_TO_J17 = np.array([6, 5, 4, 1, 2, 3, 16, 15, 14, 11, 12, 13, 8, 10, 0, 7, 9])
SPIN24_TO_J17 = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 18, 14, 16, 17])
H36M_TO_J14, SPIN24_TO_J14 = H36M_TO_J17[:14], SPIN24_TO_J17[:14]
J17_PELVIS = 14
# The same 14 joints from SMPL's 24-joint skeleton (used when no H36M regressor is given).
SMPL_TO_J14 = np.array([8, 5, 2, 1, 4, 7, 21, 19, 17, 16, 18, 20, 12, 15])
J14_HIPS = (2, 3)
MM = 1000.0


@dataclasses.dataclass(frozen=True)
class Protocol:
    """How one benchmark is scored: how many joints, centred how."""

    joints: int          # 14 (mean of the hips at the origin), 17 (pelvis at the origin), 24 (SMPL's own)


PROTOCOLS = {"3dpw": Protocol(14), "h36m": Protocol(14), "mpi_inf_3dhp": Protocol(17), "generated": Protocol(14),
             "emdb": Protocol(24)}
SMPL_HIPS = (1, 2)


def joints_from_vertices(vertices: np.ndarray, h36m_regressor: np.ndarray, n_joints: int = 14) -> np.ndarray:
    """vertices [..., 6890, 3], H36M regressor [17, 6890] -> evaluation joints [..., n_joints, 3]."""
    j17 = np.einsum("jv,...vc->...jc", np.asarray(h36m_regressor, dtype=np.float64), vertices)
    return j17[..., H36M_TO_J17[:n_joints], :]


def joints14_from_vertices(vertices: np.ndarray, h36m_regressor: np.ndarray) -> np.ndarray:
    """vertices [..., 6890, 3], H36M regressor [17, 6890] -> 14 evaluation joints [..., 14, 3]."""
    return joints_from_vertices(vertices, h36m_regressor, 14)


def joints_from_spin_labels(s_labels: np.ndarray, n_joints: int = 14) -> np.ndarray:
    """SPIN-format S [..., 24, ≥3] -> evaluation joints [..., n_joints, 3]."""
    return np.asarray(s_labels, dtype=np.float64)[..., SPIN24_TO_J17[:n_joints], :3]


def joints14_from_smpl_joints(joints24: np.ndarray) -> np.ndarray:
    """SMPL joints [..., 24, 3] -> 14 evaluation joints [..., 14, 3]."""
    return np.asarray(joints24)[..., SMPL_TO_J14, :]


def center_on_hips(joints14: np.ndarray) -> np.ndarray:
    """[..., 14, 3] -> the same joints with the pelvis (mean of the hips) at the origin."""
    pelvis = 0.5 * (joints14[..., J14_HIPS[0], :] + joints14[..., J14_HIPS[1], :])
    return joints14 - pelvis[..., None, :]


def center_joints(joints: np.ndarray) -> np.ndarray:
    """[..., 14, 17 or 24, 3] -> centred as their protocol does: mean of the hips (14; SMPL's
    for 24), pelvis (17)."""
    return joints - protocol_pelvis(joints)


def protocol_pelvis(joints: np.ndarray) -> np.ndarray:
    """[..., J, 3] -> [..., 1, 3], the point a protocol puts at the origin."""
    if joints.shape[-2] == 17:
        return joints[..., J17_PELVIS:J17_PELVIS + 1, :]
    hips = SMPL_HIPS if joints.shape[-2] == 24 else J14_HIPS
    return 0.5 * (joints[..., hips[0]:hips[0] + 1, :] + joints[..., hips[1]:hips[1] + 1, :])


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


def pve(pred_vertices: np.ndarray, gt_vertices: np.ndarray) -> np.ndarray:
    """Per-vertex error of meshes as SMPL gives them (transl = 0, not re-centred: TCMR's
    compute_error_verts): vertices [N, V, 3] -> [N] in mm."""
    return mpjpe(pred_vertices, gt_vertices)


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


class MetricUnavailable(ValueError):
    """A metric that cannot be computed from what was given; the message says why."""


def evaluation_joints(seq: dict, h36m_regressor: np.ndarray | None, n_joints: int = 14) -> tuple[np.ndarray, np.ndarray]:
    """(prediction, ground truth) [N, n_joints, 3] of one sequence, not yet centred.

    seq: `pred_vertices` [N, 6890, 3] and/or `pred_joints24` [N, 24, 3]; ground truth as
    `gt_S` [N, 24, ≥3] (SPIN-format labels) or `gt_vertices` / `gt_joints24`.
    """
    if n_joints == 24:
        if seq.get("pred_joints24") is None or seq.get("gt_joints24") is None:
            raise MetricUnavailable("the SMPL-joint protocol needs SMPL joints of prediction and ground truth")
        return np.asarray(seq["pred_joints24"], np.float64), np.asarray(seq["gt_joints24"], np.float64)
    if h36m_regressor is None:
        if n_joints != 14 or seq.get("gt_S") is not None:
            raise MetricUnavailable("this protocol needs the H36M joint regressor on the predicted mesh "
                                    "(--h36m-regressor J_regressor_h36m.npy, from SPIN's data)")
        return joints14_from_smpl_joints(seq["pred_joints24"]), joints14_from_smpl_joints(seq["gt_joints24"])
    if seq.get("pred_vertices") is None:
        raise MetricUnavailable("the H36M-regressor protocol needs the predicted vertices")
    pred = joints_from_vertices(seq["pred_vertices"], h36m_regressor, n_joints)
    if seq.get("gt_S") is not None:
        return pred, joints_from_spin_labels(seq["gt_S"], n_joints)
    if seq.get("gt_vertices") is None:
        raise MetricUnavailable("the H36M-regressor protocol needs ground-truth vertices or S labels")
    return pred, joints_from_vertices(seq["gt_vertices"], h36m_regressor, n_joints)


def evaluate_sequences(sequences: list[dict], h36m_regressor: np.ndarray | None = None,
                       n_joints: int = 14) -> dict[str, float]:
    """The four metrics over several sequences, frames pooled as the field does.

    Each sequence dict: see `evaluation_joints`; PVE needs `pred_vertices` and `gt_vertices`.
    Returns mm: MPJPE, PA-MPJPE, PVE (nan without ground-truth vertices), ACCEL (nan for
    sequences of fewer than 3 frames).
    """
    errs: dict[str, list[np.ndarray]] = {"mpjpe": [], "pa_mpjpe": [], "pve": [], "accel": []}
    for seq in sequences:
        pred, gt = evaluation_joints(seq, h36m_regressor, n_joints)
        pred_c, gt_c = center_joints(pred), center_joints(gt)
        errs["mpjpe"].append(mpjpe(pred_c, gt_c))
        errs["pa_mpjpe"].append(pa_mpjpe(pred_c, gt_c))
        errs["accel"].append(accel_error(pred_c, gt_c))
        if seq.get("pred_vertices") is not None and seq.get("gt_vertices") is not None:
            pv, gv = seq["pred_vertices"], seq["gt_vertices"]
            if n_joints == 24:  # EMDB centres the meshes on their skeletons' pelvis
                pv, gv = pv - protocol_pelvis(pred), gv - protocol_pelvis(gt)
            errs["pve"].append(pve(pv, gv))
    out = {}
    for k, v in errs.items():
        v = [a for a in v if a.size]
        out[k] = float(np.concatenate(v).mean()) if v else float("nan")
    return out
