#!/usr/bin/env python3
"""How much body pose the cpu-proof backbone's frozen features carry: a linear probe.

    python scripts/bench/bench_feature_probe.py --run proof_run

reads what `scripts/training/reproduce_proof.py --out proof_run` made (the generated clips and the
feature cache), fits ridge regressions from each frame's cached global feature to its 24
SMPL rotations on the training clips, and prints MPJPE and PA-MPJPE (3DPW 14-joint
protocol, mm) on the held-out clips beside the mean-pose baseline, for all clips and for
the motion-capture and pose-prior clips apart. A trained TAR that scores near the probe is
limited by the features, not by its training. The TAR variants that the proof trained
(OUT/runs/*/last.pt) are scored in the same table.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path



def clip_sources(table) -> list[str] | None:
    """'bvh' or 'prior' per sequence of a generated table, or None when it does not say."""
    import numpy as np

    with np.load(table.npz_path, allow_pickle=False) as z:
        if "generator" not in z.files:
            return None
        sources = json.loads(str(z["generator"])).get("sources")
    if sources is None or len(sources) != len(table.sequences):
        return None
    # Clip k is written as clip_{k:05d}/...; sequences follow the table's own order.
    return [sources[int(Path(table.imgname[seq[0]]).parent.name.split("_")[-1])] for seq in table.sequences]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", required=True, help="the --out folder of scripts/training/reproduce_proof.py")
    p.add_argument("--global-grid", type=int, help="the backbone's global_grid (default: the cpu-proof preset's)")
    p.add_argument("--lambdas", default="100,1000,10000", help="ridge strengths to try, comma-separated")
    args = p.parse_args()

    import numpy as np
    import torch

    from video_to_motion.core.tar.checkpoint import load_model
    from video_to_motion.core.training.cli import build_model, load_tables, make_readers
    from video_to_motion.core.training.evaluation import ground_truth, mean_pose_prediction, predict, score
    from video_to_motion.core.training.presets import ABLATION_LABELS, get_preset
    from video_to_motion.core.training.probe import probe_rotations
    from video_to_motion.core.training.trainer import batch_rotmat

    run = Path(args.run)
    data, cache, body = run / "data", run / "feature_cache", run / "data" / "body_generated.pkl"
    for path in (data / "generated_train.npz", data / "generated_test.npz", body):
        if not path.exists():
            raise SystemExit(f"'{path}' is missing: run scripts/training/reproduce_proof.py --out {run} first")
    t0 = time.time()
    settings = get_preset("cpu-proof")["model"]
    if args.global_grid:
        settings["global_grid"] = args.global_grid
    model = build_model(settings, body)
    tables = {s: load_tables(["generated"], s, str(data), {})["generated"] for s in ("train", "test")}
    stores = {s: make_readers({"generated": t}, model, model.cfg.seq_len, False, True, cache, "cpu",
                              log=lambda m: None)["generated"].store for s, t in tables.items()}
    train, test = tables["train"], tables["test"]
    smpl = model.smpl
    gt = ground_truth(smpl, test.pose, test.betas)
    feats = {s: np.asarray(stores[s].global_feats, np.float32) for s in stores}
    train_rot = batch_rotmat(torch.as_tensor(train.pose, dtype=torch.float64)).numpy()
    betas = torch.as_tensor(train.betas.mean(0), dtype=torch.float32).expand(len(test), -1).contiguous()

    predictions = {"mean pose": mean_pose_prediction(train, test, smpl)}
    for lam in (float(x) for x in args.lambdas.split(",")):
        rot = probe_rotations(feats["train"], train_rot, feats["test"], lam)
        with torch.no_grad():
            v, j = smpl(torch.as_tensor(rot, dtype=torch.float32), betas)
        predictions[f"ridge probe, λ={lam:g}"] = {"joints3d": j.numpy(), "vertices": v.numpy()}

    for variant, label in ABLATION_LABELS.items():
        ckpt = run / "runs" / variant / "last.pt"
        if ckpt.exists():
            trained, _ = load_model(ckpt, body)
            reader = make_readers({"generated": test}, trained, trained.cfg.seq_len, False, True, cache, "cpu",
                                  log=lambda m: None)["generated"]
            predictions[label] = predict(trained, reader, 64, "cpu")

    sources = clip_sources(test)
    groups = {"all": np.arange(len(test))}
    if sources is not None:
        for name in ("bvh", "prior"):
            rows = [r for seq, src in zip(test.sequences, sources) if src == name for r in seq]
            if rows:
                groups[name] = np.sort(np.array(rows))
    header = f"{'prediction':24s}" + "".join(f"{g + ' MPJPE':>14s}{g + ' PA':>11s}" for g in groups)
    print(f"held-out generated clips: {len(test)} frames; probe fitted on {len(train)} frames "
          f"({feats['train'].shape[1]}-d global features of {model.cfg.backbone}, {model.cfg.crop_size}-px crops)")
    print(header)
    print("-" * len(header))
    for name, pred in predictions.items():
        cells = []
        for rows in groups.values():
            sub = {k: v[rows] for k, v in pred.items()}
            sub_gt = {k: v[rows] for k, v in gt.items()}
            m = score(test, sub, sub_gt, rows)
            cells.append(f"{m['mpjpe']:14.1f}{m['pa_mpjpe']:11.1f}")
        print(f"{name:24s}" + "".join(cells))
    print(f"wall time {time.time() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
