"""The trainer on a tiny real TAR and generated data: the loss falls, a resumed run
continues exactly, non-finite losses stop training without touching the last good
checkpoint, resuming another configuration is refused, the command lines fail clearly."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import missing
from video_to_motion.core.training.datasets import ClipConfig, ClipReader, FrameTable, Mixture, StepBatches
from video_to_motion.core.training.trainer import CHECKPOINT_NAME, TrainConfig, Trainer, TrainingError

REPO = Path(__file__).resolve().parents[2]
# Every component of TAR, tiny: 32-pixel crops (8×8 local maps), T = L = 3, 2 refinements.
TINY = dict(backbone="tiny", tiny_width=8, crop_size=32, seq_len=3, local_len=3, gte_dim=16, gte_layers=1,
            gte_heads=2, gte_ffn_dim=32, lte_channels=8, hidden_map_size=4, local_feature_dim=16, state_dim=8,
            regressor_dim=8, iterations=2, marker_ids=[0, 500, 1500, 2500, 3500, 4500, 5500, 6500])


@pytest.fixture(scope="module")
def gen_data(tmp_path_factory, body_model_path):
    from video_to_motion.core.training.synthetic import SyntheticConfig, generate_dataset

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("gen")
    for split, seed in (("train", 0), ("test", 1)):
        cfg = SyntheticConfig(clips=3, frames_per_clip=8, width=64, height=64, supersample=1, bvh_fraction=0.0,
                              seed=seed)
        generate_dataset(root, f"generated_{split}", body_model_path, [], cfg)
    return root


def _model(body_model_path, **changes):
    from video_to_motion.core.tar.config import TARConfig
    from video_to_motion.core.tar.model import TAR

    torch.manual_seed(0)
    return TAR(TARConfig(**{**TINY, **changes}), body_model_path)


def _trainer(gen_data, body_model_path, out, steps, model=None, batches_cls=StepBatches, **cfg):
    model = model or _model(body_model_path)
    table = FrameTable("generated", gen_data / "generated_train.npz", gen_data / "generated_train")
    reader = ClipReader(table, ClipConfig(model.cfg.seq_len, model.cfg.crop_size, None))
    batches = batches_cls(Mixture({"generated": reader}, {"generated": 1.0}), 4, seed=0)
    settings = dict(steps=steps, batch_size=4, lr=1e-3, log_every=1, eval_every=0, ckpt_every=1000, workers=0,
                    progress=False)
    settings.update(cfg)
    return Trainer(model, batches, TrainConfig.from_dict(settings), out, "cpu", log=lambda m: None)


def _losses(out: Path) -> dict[int, float]:
    rows = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    return {r["step"]: r["loss"] for r in rows if "loss" in r}


def test_tiny_training_run_lowers_the_loss(gen_data, body_model_path, tmp_path):
    trainer = _trainer(gen_data, body_model_path, tmp_path, steps=40, lr=3e-3)
    trainer.fit()
    losses = [v for _, v in sorted(_losses(tmp_path).items())]
    assert len(losses) == 40
    assert np.mean(losses[-8:]) < 0.7 * np.mean(losses[:8]), losses
    assert (tmp_path / CHECKPOINT_NAME).exists()


def test_resumed_run_continues_from_the_same_step_with_the_same_loss(gen_data, body_model_path, tmp_path):
    whole, part = tmp_path / "whole", tmp_path / "part"
    _trainer(gen_data, body_model_path, whole, steps=5).fit()
    _trainer(gen_data, body_model_path, part, steps=3).fit()  # "interrupted" after 3 steps
    resumed = _trainer(gen_data, body_model_path, part, steps=5)
    resumed.resume(part / CHECKPOINT_NAME)
    assert resumed.step == 3
    resumed.fit()
    a, b = _losses(whole), _losses(part)
    assert sorted(b) == [1, 2, 3, 4, 5]
    for step in (4, 5):  # the steps after the resume: bit-identical losses
        assert b[step] == a[step], (step, a, b)
    # The model after both runs is the same.
    wa = torch.load(whole / CHECKPOINT_NAME, weights_only=True)["state_dict"]
    wb = torch.load(part / CHECKPOINT_NAME, weights_only=True)["state_dict"]
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_resume_from_another_configuration_is_refused(gen_data, body_model_path, tmp_path):
    from video_to_motion.core.tar.checkpoint import CheckpointError

    _trainer(gen_data, body_model_path, tmp_path, steps=1).fit()
    other = _trainer(gen_data, body_model_path, tmp_path, steps=2, model=_model(body_model_path, state_dim=16))
    with pytest.raises(CheckpointError, match="(?s)another configuration.*model.state_dim: 8 in the checkpoint, 16 now"):
        other.resume(tmp_path / CHECKPOINT_NAME)
    other = _trainer(gen_data, body_model_path, tmp_path, steps=2, lr=5e-4)
    with pytest.raises(CheckpointError, match="lr: 0.001 in the checkpoint, 0.0005 now"):
        other.resume(tmp_path / CHECKPOINT_NAME)


class _PoisonedBatches(StepBatches):
    """Batches whose 3D targets are NaN from step 2 on (a broken data row)."""

    def __getitem__(self, step):
        batch = super().__getitem__(step)
        if step >= 2:
            batch["joints3d"][:] = float("nan")
        return batch


def test_nan_loss_stops_training_and_keeps_the_last_good_checkpoint(gen_data, body_model_path, tmp_path):
    trainer = _trainer(gen_data, body_model_path, tmp_path, steps=10, ckpt_every=2, max_nonfinite=3,
                       batches_cls=_PoisonedBatches)
    with pytest.raises(TrainingError, match=r"not finite \(NaN/inf\) for 3 steps in a row, up to step 4.*"
                                            r"last good checkpoint .*last.pt' is kept"):
        trainer.fit()
    payload = torch.load(tmp_path / CHECKPOINT_NAME, weights_only=True)
    assert payload["training"]["step"] == 2
    assert all(torch.isfinite(v).all() for v in payload["state_dict"].values() if v.is_floating_point())


def test_a_broken_model_never_overwrites_the_checkpoint(gen_data, body_model_path, tmp_path):
    trainer = _trainer(gen_data, body_model_path, tmp_path, steps=1)
    trainer.fit()
    before = (tmp_path / CHECKPOINT_NAME).read_bytes()
    with torch.no_grad():
        next(trainer.model.gte.parameters()).fill_(float("nan"))
    with pytest.raises(TrainingError, match="non-finite.*no checkpoint written"):
        trainer.save(tmp_path / CHECKPOINT_NAME)
    assert (tmp_path / CHECKPOINT_NAME).read_bytes() == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".last.pt")]  # no temporary left


def test_marker_only_skinning_matches_the_full_mesh(body_model_path):
    from video_to_motion.core.tar.torch_rotations import rot6d_to_matrix
    from video_to_motion.core.tar.smpl_layer import SMPLLayer

    layer = SMPLLayer(body_model_path)
    torch.manual_seed(0)
    rotmat, betas = rot6d_to_matrix(torch.randn(3, 24, 6)), torch.randn(3, 10)
    ids = torch.tensor([0, 411, 3000, 6889])
    verts, joints = layer(rotmat, betas)
    sub, sub_joints = layer(rotmat, betas, vertex_ids=ids)
    torch.testing.assert_close(sub, verts[:, ids], atol=1e-5, rtol=0)
    torch.testing.assert_close(sub_joints, joints, atol=1e-5, rtol=0)


def test_ablation_switches_change_what_the_model_reads(body_model_path):
    """only GTE: other local frames do not matter; only LTE: other global frames do not; w/o RRM: one stage."""
    from video_to_motion.core.tar import camera

    b = 2
    img = torch.tensor([[64.0, 64.0]] * b)
    focal, center, size = camera.default_focal(img), torch.full((b, 2), 32.0), torch.full((b,), 40.0)
    geo = (camera.bbox_info(center, size, focal, img), focal, img, center, size)
    torch.manual_seed(1)
    g, l = torch.randn(b, 3, 64), torch.randn(b, 3, 16, 8, 8)
    g2, l2 = g.clone(), l.clone()
    g2[:, 0] += 1.0
    l2[:, 0] += 1.0
    out = lambda m, gg, ll: m.eval().forward_features(gg, ll, *geo)[-1]["pose_aa"]
    only_gte = _model(body_model_path, temporal_local=False)
    assert torch.allclose(out(only_gte, g, l), out(only_gte, g, l2)) and not torch.allclose(out(only_gte, g, l), out(only_gte, g2, l))
    only_lte = _model(body_model_path, temporal_global=False)
    assert torch.allclose(out(only_lte, g, l), out(only_lte, g2, l)) and not torch.allclose(out(only_lte, g, l), out(only_lte, g, l2))
    assert len(_model(body_model_path, iterations=0).eval().forward_features(g, l, *geo)) == 1


def test_train_command_reports_bad_input(gen_data, body_model_path, tmp_path, capsys):
    from video_to_motion.core.training.cli import EXIT_BAD_INPUT, train_main

    base = ["--smpl-model", str(body_model_path), "--preset", "cpu-proof", "--set", "model.backbone=\"tiny\"",
            "--set", "model.backbone_weights=null", "--no-progress"]
    code = train_main(base + ["--out", str(tmp_path / "a"), "--data-root", str(tmp_path / "nowhere")])
    assert code == EXIT_BAD_INPUT and "generated_train.npz' does not exist" in capsys.readouterr().err
    bad = tmp_path / "bad.npz"
    np.savez(bad, imgname=np.array(["x.jpg"]), center=np.zeros((1, 2)))
    code = train_main(base + ["--out", str(tmp_path / "b"), "--data", f"generated={bad}:{tmp_path}"])
    assert code == EXIT_BAD_INPUT and "lacks scale" in capsys.readouterr().err
    code = train_main(base + ["--out", str(tmp_path / "c"), "--data-root", str(gen_data), "--ablation", "no_gte"])
    assert code == EXIT_BAD_INPUT and "unknown ablation 'no_gte'" in capsys.readouterr().err
    code = train_main(base + ["--out", str(tmp_path / "d"), "--data-root", str(gen_data), "--set", "data.mix=1"])
    assert code == EXIT_BAD_INPUT and "data settings are augment, cache_features, global_dropout" in \
        capsys.readouterr().err


def test_set_changes_data_settings_of_the_preset(gen_data, body_model_path, tmp_path):
    from video_to_motion.core.training.cli import train_main

    code = train_main(["--smpl-model", str(body_model_path), "--preset", "cpu-proof", "--data-root", str(gen_data),
                       "--out", str(tmp_path / "run"), "--steps", "1", "--no-progress",
                       "--set", "model.backbone=\"tiny\"", "--set", "model.backbone_weights=null",
                       "--set", "data.global_dropout=0.5", "--set", "data.cache_features=false"])
    assert code == 0
    data = json.loads((tmp_path / "run" / "run.json").read_text())["data"]
    assert data["global_dropout"] == 0.5 and data["cache_features"] is False
    assert not (tmp_path / "feature_cache").exists()


@pytest.mark.slow
def test_torchrun_ddp_on_two_cpu_processes(gen_data, body_model_path, tmp_path):
    """The multi-GPU path, run with gloo on two CPU processes: both ranks step, rank 0 saves."""
    env = dict(os.environ, PYTHONPATH=str(REPO), OMP_NUM_THREADS="1")
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(REPO / "scripts" / "training" / "train.py"), "--smpl-model", str(body_model_path), "--preset", "cpu-proof",
           "--data-root", str(gen_data), "--out", str(out), "--steps", "3", "--batch-size", "2", "--threads", "1",
           "--no-progress", "--device", "cpu"] + \
          sum((["--set", f"model.{k}={json.dumps(v)}"] for k, v in {**TINY, "backbone_weights": None}.items()), []) + \
          ["--set", "train.eval_every=0", "--set", "train.log_every=1"]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    payload = torch.load(out / CHECKPOINT_NAME, weights_only=True)
    assert payload["training"]["step"] == 3 and payload["training"]["world_size"] == 2
    assert len(_losses(out)) == 3


def test_evaluate_command_prints_the_table_1_layout(gen_data, body_model_path, tmp_path, capsys):
    """scripts/evaluate.py through the worker's inference path, against the trainer's own
    evaluation (cached per-frame features): the same numbers."""
    from video_to_motion.core.training.cli import evaluate_main
    from video_to_motion.core.training.evaluation import evaluate_model

    trainer = _trainer(gen_data, body_model_path, tmp_path, steps=2)
    trainer.fit()
    code = evaluate_main(["--checkpoint", str(tmp_path / CHECKPOINT_NAME), "--smpl-model", str(body_model_path),
                          "--data-root", str(gen_data), "--device", "cpu"])
    out = capsys.readouterr().out
    assert code == 0, out
    lines = [line for line in out.splitlines() if not line.startswith("WARNING")]  # smplx's notice
    header, columns = lines[:2]
    assert all(g in header for g in ("3DPW", "MPI-INF-3DHP", "Human3.6M", "EMDB-1", "Generated (held out)"))
    assert columns.count(" MPJPE↓") == 5 and columns.count("PA-MPJPE↓") == 5 and columns.count("PVE↓") == 3
    ours = [line for line in lines if line.startswith("last.pt")][0]
    cells = [c.split() for c in ours.split("|")]
    assert cells[1] == ["-"] * 4 and cells[5] != ["-"] * 4  # no 3DPW given; generated evaluated
    table = FrameTable("generated", gen_data / "generated_test.npz", gen_data / "generated_test")
    model = trainer.model.eval()
    reader = ClipReader(table, ClipConfig(model.cfg.seq_len, model.cfg.crop_size, None))
    direct = evaluate_model(model, reader, model.smpl, 8, "cpu")
    printed = [float(x) for x in cells[5]]
    np.testing.assert_allclose(printed, [direct[k] for k in ("mpjpe", "pa_mpjpe", "pve", "accel")], atol=0.06)
    assert "paper: TAR (HRNet-W48)" in out and "62.7" in out
    assert "not computed: 3dpw: " in out and "3dpw_test.npz' does not exist" in out  # named, not an exit
    assert "not computed: emdb: " in out


def test_evaluate_scores_spin_labels_through_the_h36m_regressor_and_names_what_it_cannot(
        gen_data, body_model_path, tmp_path, capsys):
    """A Human3.6M-style test file with S labels only: without the regressor its columns are
    named as not computed; with it they are printed, and its PVE is named as not computable."""
    from training_helpers import generated_regressor

    from video_to_motion.core.training.cli import EXIT_BAD_INPUT, evaluate_main

    trainer = _trainer(gen_data, body_model_path, tmp_path / "run", steps=1)
    trainer.fit()
    root = tmp_path / "root"
    root.mkdir()
    with np.load(gen_data / "generated_test.npz") as z:
        arrays = {k: z[k] for k in z.files if k not in ("keypoint_format", "pose", "shape", "has_smpl")}
    np.savez(root / "h36m_valid_protocol2.npz", **arrays)
    (root / "h36m").symlink_to(gen_data / "generated_test")
    reg = tmp_path / "J_regressor_h36m.npy"
    np.save(reg, generated_regressor(17))
    base = ["--checkpoint", str(tmp_path / "run" / CHECKPOINT_NAME), "--smpl-model", str(body_model_path),
            "--data-root", str(root), "--device", "cpu"]
    code = evaluate_main(base)
    out = capsys.readouterr().out
    assert code == EXIT_BAD_INPUT and "not computed: h36m: this protocol needs the H36M joint regressor" in out
    code = evaluate_main(base + ["--h36m-regressor", str(reg)])
    out = capsys.readouterr().out
    assert code == 0, out
    ours = [line for line in out.splitlines() if line.startswith("last.pt")][0]
    h36m_cells = ours.split("|")[3].split()
    assert len(h36m_cells) == 3 and all(np.isfinite(float(c)) for c in h36m_cells)
    assert "not computed: h36m PVE: its rows have no SMPL ground truth" in out
    assert "not computed: mpi_inf_3dhp: " in out and "Human3.6M 14 joints" in out
    code = evaluate_main(base + ["--h36m-regressor", str(reg), "--h36m-joints", "17"])
    out17 = capsys.readouterr().out
    assert code == 0 and "Human3.6M 17 joints" in out17
    row17 = [line for line in out17.splitlines() if line.startswith("last.pt")][0]
    assert row17.split("|")[3].split() != h36m_cells  # pelvis-centred 17 joints score differently
    code = evaluate_main(base + ["--h36m-regressor", str(reg), "--full-rate", "h36m"])  # every frame is there
    out_full = capsys.readouterr().out
    assert code == 0, out_full
    full = [line for line in out_full.splitlines() if line.startswith("last.pt")][0].split("|")[3].split()
    np.testing.assert_allclose([float(c) for c in full], [float(c) for c in h36m_cells], atol=0.06)


def test_mean_pose_initialisation_starts_from_the_data_mean(body_model_path):
    from video_to_motion.core.common import rotations
    from video_to_motion.core.tar import camera
    from video_to_motion.core.training.trainer import init_from_mean_pose, mean_body_pose

    rng = np.random.default_rng(0)
    poses = np.zeros((50, 72))
    poses[:, 3:] = rng.normal(0.3, 0.1, (50, 69))  # body joints around a bent pose
    mean = mean_body_pose(poses).numpy()
    np.testing.assert_allclose(mean[5], rotations.axis_angle_to_matrix(np.full(3, 0.3)), atol=0.02)
    model = _model(body_model_path)
    init_from_mean_pose(model, poses)
    b = 2
    img = torch.tensor([[64.0, 64.0]] * b)
    focal, center, size = camera.default_focal(img), torch.full((b, 2), 32.0), torch.full((b,), 40.0)
    stages = model.eval().forward_features(torch.randn(b, 3, 64), torch.randn(b, 3, 16, 8, 8),
                                           camera.bbox_info(center, size, focal, img), focal, img, center, size)
    first = stages[0]["rotmat"].detach().numpy()
    np.testing.assert_allclose(first[:, 1:], np.broadcast_to(mean[1:], first[:, 1:].shape), atol=0.05)
    np.testing.assert_allclose(first[:, 0], np.broadcast_to(np.diag([1.0, -1.0, -1.0]), (b, 3, 3)), atol=0.05)


@pytest.mark.parametrize("backbone", ["tiny", "efficientnet_lite0"])
def test_feature_store_gives_the_backbone_features_and_rebuilds_for_another_backbone(gen_data, body_model_path,
                                                                                    tmp_path, backbone):
    from video_to_motion.core.training.features import CachedClipReader, FeatureStore

    if backbone == "efficientnet_lite0":
        try:
            import efficientnet_lite_pytorch  # noqa: F401
        except ImportError:
            missing("efficientnet-lite-pytorch", "pip install -e '.[worker]'")
    changes = {} if backbone == "tiny" else dict(backbone=backbone, crop_size=64, hidden_map_size=4)
    model = _model(body_model_path, **changes).eval()
    table = FrameTable("generated", gen_data / "generated_train.npz", gen_data / "generated_train")
    store = FeatureStore.open_or_build(tmp_path / "store", table, model)
    parts = sorted(p.name for p in (tmp_path / "store").glob("local_*.npy"))
    assert parts == (["local_0.npy"] if backbone == "tiny" else [f"local_{i}.npy" for i in range(4)])

    cfg = model.cfg
    cached = CachedClipReader(table, store, ClipConfig(cfg.seq_len, cfg.crop_size, None), cfg.local_len)
    plain = ClipReader(table, ClipConfig(cfg.seq_len, cfg.crop_size, None))
    row = 5
    with torch.no_grad():
        g, local = model.extract_features(torch.as_tensor(plain.sample(row)["crops"]))
    sample = cached.sample(row)
    off = cfg.local_offset
    # float16 storage: equal to the backbone's own output up to half precision.
    np.testing.assert_allclose(sample["global_seq"].astype(np.float32), g.numpy(), rtol=2e-3, atol=2e-3)
    np.testing.assert_allclose(sample["local_seq"].astype(np.float32), local[off:off + cfg.local_len].numpy(),
                               rtol=2e-3, atol=2e-3)

    # The same backbone reuses the store; another one (other weights) rebuilds it.
    stamp = (tmp_path / "store" / "global.npy").stat().st_mtime_ns
    FeatureStore.open_or_build(tmp_path / "store", table, model)
    assert (tmp_path / "store" / "global.npy").stat().st_mtime_ns == stamp
    other = _model(body_model_path, **changes)
    with torch.no_grad():
        next(other.backbone.parameters()).add_(0.5)
    rebuilt = FeatureStore.open_or_build(tmp_path / "store", table, other)
    assert rebuilt.meta["backbone_digest"] != store.meta["backbone_digest"]
    assert not np.allclose(np.asarray(rebuilt.global_feats), np.asarray(store.global_feats))
    if backbone == "efficientnet_lite0":
        # Same weights, a finer global grid: other global features, so the store is rebuilt.
        finer = _model(body_model_path, **changes, global_grid=4)
        regrid = FeatureStore.open_or_build(tmp_path / "store", table, finer)
        assert regrid.meta["global_dim"] == 16 * 496 and regrid.global_feats.shape == (len(table), 16 * 496)


def test_spin_format_labels_train_through_the_joint_regressor(gen_data, body_model_path, tmp_path):
    """A dataset in SPIN's joint layout trains with J_regressor_extra and refuses to without it."""
    from training_helpers import generated_regressor
    from video_to_motion.core.training.cli import training_joints
    from video_to_motion.core.training.joint_sets import LAYOUT_SPIN24, RegressorError

    with np.load(gen_data / "generated_train.npz") as z:
        arrays = {k: z[k] for k in z.files if k != "keypoint_format"}
    spin_npz = tmp_path / "spin_train.npz"
    np.savez(spin_npz, **arrays)
    table = FrameTable("h36m", spin_npz, gen_data / "generated_train")
    assert table.layout == LAYOUT_SPIN24
    with pytest.raises(RegressorError, match="--joint-regressor J_regressor_extra.npy"):
        training_joints({"h36m": table}, None)
    reg = tmp_path / "J_regressor_extra.npy"
    np.save(reg, generated_regressor(9))
    model = _model(body_model_path)
    reader = ClipReader(table, ClipConfig(model.cfg.seq_len, model.cfg.crop_size, None))
    batches = StepBatches(Mixture({"h36m": reader}, {"h36m": 1.0}), 4, seed=0)
    cfg = TrainConfig.from_dict(dict(steps=1, batch_size=4, log_every=1, eval_every=0, workers=0, progress=False))
    batch = batches[0]
    without = Trainer(model, batches, cfg, tmp_path / "a", "cpu", log=lambda m: None)
    with pytest.raises(RegressorError, match="J_regressor_extra.npy"):
        without.train_step(batch)
    trainer = Trainer(model, batches, cfg, tmp_path / "b", "cpu", log=lambda m: None,
                      dataset_joints=training_joints({"h36m": table}, str(reg)))
    log = trainer.train_step(batch)
    assert log is not None and np.isfinite(log["loss"]) and log["kp3d"] > 0


def test_best_checkpoint_is_chosen_on_the_validation_split_never_the_test_split(gen_data, body_model_path, tmp_path,
                                                                                 capsys):
    from video_to_motion.core.training.cli import EXIT_BAD_INPUT, train_main
    from video_to_motion.core.training.trainer import BEST_NAME, selection_score

    assert selection_score({"3dpw/mpjpe": 80.0, "3dpw/pa_mpjpe": 50.0, "generated/mpjpe": 60.0}) == 70.0
    assert selection_score({"pa_mpjpe": 50.0}) is None
    root = tmp_path / "root"  # train and val only: no test split to fall back on
    root.mkdir()
    for name in ("generated_train.npz", "generated_train"):
        (root / name).symlink_to(gen_data / name)
    base = ["--smpl-model", str(body_model_path), "--preset", "cpu-proof", "--data-root", str(root), "--no-progress",
            "--steps", "2", "--set", "train.eval_every=1", "--max-eval-frames", "8"] + \
        sum((["--set", f"model.{k}={json.dumps(v)}"] for k, v in {**TINY, "backbone_weights": None}.items()), [])
    code = train_main(base + ["--out", str(tmp_path / "a")])
    assert code == EXIT_BAD_INPUT and "generated_val.npz' does not exist" in capsys.readouterr().err
    code = train_main(base + ["--out", str(tmp_path / "b"), "--val-data", "h36m"])
    assert code == EXIT_BAD_INPUT and "'h36m' has no val split" in capsys.readouterr().err
    with np.load(gen_data / "generated_test.npz") as z:  # a validation set with 3D labels only (SPIN layout)
        np.savez(tmp_path / "labels_only.npz", **{k: z[k] for k in z.files
                                                  if k not in ("keypoint_format", "pose", "shape", "has_smpl")})
    code = train_main(base + ["--out", str(tmp_path / "b2"), "--val-data",
                              f"h36m={tmp_path / 'labels_only.npz'}:{gen_data / 'generated_test'}"])
    assert code == EXIT_BAD_INPUT and "give --h36m-regressor J_regressor_h36m.npy" in capsys.readouterr().err
    (root / "generated_val.npz").symlink_to(gen_data / "generated_test.npz")  # stands in for a validation split
    (root / "generated_val").symlink_to(gen_data / "generated_test")
    code = train_main(base + ["--out", str(tmp_path / "c")])
    assert code == 0, capsys.readouterr().err
    evals = [json.loads(line) for line in (tmp_path / "c" / "log.jsonl").read_text().splitlines() if "eval" in line]
    assert evals and all(np.isfinite(e["eval"]["mpjpe"]) for e in evals)
    assert (tmp_path / "c" / BEST_NAME).exists()
