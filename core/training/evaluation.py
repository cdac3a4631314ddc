"""Evaluating a TAR model (or a baseline) on a dataset: predictions for every frame (each
frame is the mid-frame of its own window, edges repeated, stride 1), ground truth from the
SMPL parameters and/or SPIN-format `S` labels, and the field's metrics per sequence with
each benchmark's protocol (see metrics.py).
"""
from __future__ import annotations

import numpy as np
import torch

from . import metrics
from .datasets import ClipReader, collate
from .joint_sets import LAYOUT_SPIN24
from .trainer import StepModule, batch_rotmat, mean_body_pose, to_device

# Paper numbers for reference (TAR, Chen et al.): Table 1 (3DPW, MPI-INF-3DHP, Human3.6M)
# and the 3DPW ablations of Tables 3 and 4.
PAPER_TABLE1 = {
    "TAR (ResNet-50)": {"3dpw": (68.4, 45.3, 83.9, 7.9), "mpi_inf_3dhp": (87.5, 62.7, 9.6), "h36m": (53.1, 37.8, 5.6)},
    "TAR (HRNet-W48)": {"3dpw": (62.7, 40.6, 74.4, 7.7), "mpi_inf_3dhp": (85.9, 60.5, 9.2), "h36m": (45.6, 33.3, 5.6)},
}
PAPER_ABLATION = {"w/o RRM": (73.7, 45.8, 86.5, 6.8), "only GTE": (66.7, 41.8, 78.5, 16.0),
                  "only LTE": (65.4, 41.1, 76.4, 19.7), "full TAR": (62.7, 40.6, 74.4, 7.7)}


def predict(model, reader: ClipReader, batch_size: int = 32, device: str | torch.device = "cpu",
            rows: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The last stage for every row (or `rows`): pose_aa [N, 72], betas [N, 10], joints3d
    [N, 24, 3], vertices [N, 6890, 3] (transl = 0), trans [N, 3]."""
    rows = np.arange(len(reader)) if rows is None else np.asarray(rows)
    step = StepModule(model)
    out: dict[str, list] = {k: [] for k in ("pose_aa", "betas", "joints3d", "vertices", "trans")}
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, len(rows), batch_size):
                batch = collate([reader.sample(int(r)) for r in rows[start:start + batch_size]])
                batch = to_device(batch, torch.device(device))
                last = step(batch)[-1]
                for k in out:
                    out[k].append(last[k].float().cpu().numpy())
    finally:
        model.train(was_training)
    return {k: np.concatenate(v) for k, v in out.items()}


def ground_truth(smpl_layer, pose: np.ndarray, betas: np.ndarray, batch_size: int = 256) -> dict[str, np.ndarray]:
    """SMPL joints [N, 24, 3] and vertices [N, 6890, 3] (transl = 0) from axis-angle poses and betas."""
    joints, verts = [], []
    dev = smpl_layer.v_template.device
    with torch.no_grad():
        for s in range(0, len(pose), batch_size):
            p = torch.as_tensor(pose[s:s + batch_size], dtype=torch.float32, device=dev)
            b = torch.as_tensor(betas[s:s + batch_size], dtype=torch.float32, device=dev)
            v, j = smpl_layer(batch_rotmat(p), b)
            verts.append(v.cpu().numpy())
            joints.append(j.cpu().numpy())
    return {"joints3d": np.concatenate(joints), "vertices": np.concatenate(verts)}


def table_ground_truth(table, rows: np.ndarray, smpl_layer) -> dict[str, np.ndarray]:
    """What the rows can be scored against: SPIN-format labels `S` [N, 24, 4] (all rows with
    3D labels in SPIN's layout) and/or the SMPL mesh `joints3d`, `vertices` (all rows with
    SMPL parameters). Raises MetricUnavailable when neither covers every row."""
    gt: dict[str, np.ndarray] = {}
    if table.layout == LAYOUT_SPIN24 and table.has_3d[rows].all():
        gt["S"] = table.joints3d[rows]
    if table.has_smpl[rows].all():
        gt.update(ground_truth(smpl_layer, table.pose[rows], table.betas[rows]))
    if not gt:
        missing = int((table.has_smpl[rows] == 0).sum())
        raise metrics.MetricUnavailable(
            f"dataset '{table.name}': {missing} of the {len(rows)} evaluated rows have no SMPL ground truth, and "
            "not every row has 3D joint labels (S) in SPIN's layout; nothing to score against")
    return gt


def protocol_joints(table) -> int:
    """14 or 17: the benchmark's joint count (metrics.PROTOCOLS; 14 for other datasets)."""
    return metrics.PROTOCOLS.get(table.name, metrics.Protocol(14)).joints


def score(table, pred: dict, gt: dict, rows: np.ndarray | None = None,
          h36m_regressor: np.ndarray | None = None, n_joints: int | None = None) -> dict[str, float]:
    """Metrics over the table's sequences (restricted to `rows` when given; pred/gt aligned
    with rows). gt: `joints3d` + `vertices` (SMPL) and/or `S` (SPIN-format labels)."""
    rows = np.arange(len(table)) if rows is None else np.asarray(rows)
    where = {int(r): i for i, r in enumerate(rows)}
    seqs = []
    for seq in table.sequences:
        idx = [where[int(r)] for r in seq if int(r) in where]
        if not idx:
            continue
        pick = lambda d, k: d[k][idx] if k in d else None
        seqs.append({"pred_joints24": pick(pred, "joints3d"), "pred_vertices": pick(pred, "vertices"),
                     "gt_joints24": pick(gt, "joints3d"), "gt_vertices": pick(gt, "vertices"), "gt_S": pick(gt, "S")})
    return metrics.evaluate_sequences(seqs, h36m_regressor, n_joints or protocol_joints(table))


def evaluate_model(model, reader: ClipReader, smpl_layer, batch_size: int = 32, device="cpu",
                   rows: np.ndarray | None = None, h36m_regressor: np.ndarray | None = None,
                   n_joints: int | None = None) -> dict[str, float]:
    """MPJPE, PA-MPJPE, PVE, ACCEL (mm) of the model on the rows of a dataset, by its protocol
    (`n_joints` overrides the protocol's joint count)."""
    table = reader.table
    rows = np.arange(len(table)) if rows is None else np.asarray(rows)
    gt = table_ground_truth(table, rows, smpl_layer)
    pred = predict(model, reader, batch_size, device, rows)
    return score(table, pred, gt, rows, h36m_regressor, n_joints)


def mean_pose_prediction(train_table, eval_table, smpl_layer, rows: np.ndarray | None = None,
                         gt_orientation: bool = False) -> dict[str, np.ndarray]:
    """A constant prediction: the training set's mean pose (per joint, the rotation nearest
    to the mean rotation matrix) and mean betas; optionally with each frame's true global
    orientation (a stronger baseline, since MPJPE does not align rotations)."""
    rows = np.arange(len(eval_table)) if rows is None else np.asarray(rows)
    mean_rot = mean_body_pose(train_table.pose[train_table.has_smpl > 0])
    rotmat = mean_rot.expand(len(rows), 24, 3, 3).clone()
    if gt_orientation:
        rotmat[:, 0] = batch_rotmat(torch.as_tensor(eval_table.pose[rows]))[:, 0]
    betas = torch.as_tensor(train_table.betas[train_table.has_smpl > 0].mean(0)).expand(len(rows), -1)
    with torch.no_grad():
        v, j = smpl_layer(rotmat.float().to(smpl_layer.v_template.device),
                          betas.float().contiguous().to(smpl_layer.v_template.device))
    return {"joints3d": j.cpu().numpy(), "vertices": v.cpu().numpy()}


def format_metrics_table(rows: dict[str, dict], columns=("mpjpe", "pa_mpjpe", "pve", "accel"),
                         title: str = "") -> str:
    """A plain-text table: one row per method, metrics in mm."""
    names = {"mpjpe": "MPJPE↓", "pa_mpjpe": "PA-MPJPE↓", "pve": "PVE↓", "accel": "ACCEL↓"}
    width = max(len(k) for k in rows) + 2
    lines = [title] if title else []
    lines.append("Method".ljust(width) + "".join(names.get(c, c).rjust(11) for c in columns))
    for method, m in rows.items():
        cells = []
        for c in columns:
            v = m.get(c) if isinstance(m, dict) else None
            cells.append(("-" if v is None or (isinstance(v, float) and np.isnan(v)) else f"{v:.1f}").rjust(11))
        lines.append(method.ljust(width) + "".join(cells))
    return "\n".join(lines)


def evaluate_with_runner(model, table, rows: np.ndarray | None = None, device="cpu", batch_size: int = 16,
                         h36m_regressor: np.ndarray | None = None, n_joints: int | None = None) -> dict[str, float]:
    """Evaluate through the worker's own inference path (core.tar.inference.TrackRunner): each
    sequence is one track, each frame's crop passes the backbone once, every frame is the
    mid-frame of its window. Memory stays bounded, so it suits the large real test sets."""
    from ..worker.crops import crop_square
    from ..tar.inference import TrackRunner

    rows = np.arange(len(table)) if rows is None else np.asarray(rows)
    gt = table_ground_truth(table, rows, model.smpl)
    wanted = set(int(r) for r in rows)
    pose, betas = {}, {}
    crop = model.cfg.crop_size
    model.eval()
    for seq in table.sequences:
        seq = [int(r) for r in seq if int(r) in wanted]
        if not seq:
            continue
        focal, size = table.focal_and_size(seq[0])
        runner = TrackRunner(model, {0: len(seq)}, focal, (float(size[0]), float(size[1])), device, batch_size)
        for r in seq:  # the worker's own crops (core.crops), RGB as read
            image, center, side = table.read_image(r), table.center[r], float(table.box_size[r])
            runner.add(0, crop_square(np.ascontiguousarray(image), center, side, crop)[0], tuple(center), side, key=r)
        for r, res in runner.finish().items():
            pose[r], betas[r] = res["pose_aa"], res["betas"]
    pred = ground_truth(model.smpl, np.stack([pose[int(r)] for r in rows]), np.stack([betas[int(r)] for r in rows]))
    return score(table, pred, gt, rows, h36m_regressor, n_joints)
