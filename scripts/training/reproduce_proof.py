#!/usr/bin/env python3
"""The CPU proof that our TAR learns and that its parts matter, in one command:

    python scripts/training/reproduce_proof.py --out proof_run

1. renders generated clips (train: the first 80% of each CMU BVH file and the pose prior;
   test: held-out clips from the last 20% and new prior draws, other cameras and bodies);
2. computes the frozen EfficientNet-Lite0 features of every frame once;
3. trains the four variants of the paper's ablations (w/o RRM, only GTE, only LTE, full)
   on the same data with the `cpu-proof` preset: the full model first and alone, on all
   cores (its wall time is the one the 20-minute budget is about), then the others two
   at a time, one thread each;
4. evaluates them and the mean-pose baselines on the held-out clips and prints the table
   beside the paper's Tables 3-4 (3DPW). The table is also written to OUT/proof_table.txt.

Sized for a 2-core CPU: about an hour in all; every stage reports its wall time.

`--seeds K` trains every variant K times (training seeds 0..K-1: initial weights, batch order,
dropout; the data stay the same) and adds a table of each method's mean and spread over the
seeds: one run cannot tell a gap of a few millimetres from the seed's own noise. Seed 0's
run folder is `runs/VARIANT` as before, seed k's `runs/VARIANT-seedk`. `--device cuda` puts
the features, the trainings (`--parallel` of them side by side) and the evaluation on a GPU.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent

VARIANTS = ("full", "only_gte", "only_lte", "no_rrm")  # full alone first, then the rest slowest first


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def run(cmd: list[str], log: Path | None = None, threads: int = 1) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    out = open(log, "w") if log else None
    return subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT if out else None, cwd=REPO)


def make_data(data: Path, clips: dict, frames: int, workers: int, fps: float, spread: float) -> None:
    for split in ("train", "test"):
        npz = data / f"generated_{split}.npz"
        if npz.exists():
            import numpy as np

            with np.load(npz) as z:
                made = json.loads(str(z["generator"]))
            if (made["clips"], made["frames_per_clip"], made["fps"], made["pose_spread"]) == (clips[split], frames, fps,
                                                                                           spread):
                say(f"data: {npz} already made")
                continue
        t0 = time.time()
        cmd = [sys.executable, str(HERE / "make_training_data.py"), "--out", str(data), "--split", split,
               "--clips", str(clips[split]), "--frames", str(frames), "--workers", str(workers), "--fps", str(fps),
               "--pose-spread", str(spread)]
        if run(cmd).wait() != 0:
            raise SystemExit(f"making the {split} data failed")
        say(f"data: {split} {clips[split]} clips × {frames} frames in {time.time() - t0:.0f} s")


def run_folder(runs: Path, variant: str, seed: int) -> Path:
    return runs / (variant if seed == 0 else f"{variant}-seed{seed}")


def seed_table(per_seed: dict[str, list[dict]], seeds: int) -> str:
    """Mean ± sample standard deviation of each metric over the training seeds, and MPJPE per seed."""
    import numpy as np

    cols = ("mpjpe", "pa_mpjpe", "pve", "accel")
    width = max(len(k) for k in per_seed) + 2
    lines = [f"Over {seeds} training seeds (mean ± standard deviation, mm; the data are the same for every seed)",
             "Method".ljust(width) + "".join(h.rjust(15) for h in ("MPJPE↓", "PA-MPJPE↓", "PVE↓", "ACCEL↓"))
             + "   MPJPE per seed", "-" * (width + 60 + 8 * seeds)]
    for name, runs in per_seed.items():
        cells = []
        for c in cols:
            x = np.array([r[c] for r in runs], float)
            cells.append(f"{x.mean():.1f} ± {x.std(ddof=1) if len(x) > 1 else 0:.1f}".rjust(15))
        lines.append(name.ljust(width) + "".join(cells) + "   " + " ".join(f"{r['mpjpe']:.1f}" for r in runs))
    return "\n".join(lines)


def side_by_side(ours: dict, paper: dict, ours_title: str, paper_title: str) -> str:
    """Our metrics and the paper's for the same method names, one row per method."""
    cols = ("mpjpe", "pa_mpjpe", "pve", "accel")
    heads = "".join(h.rjust(10) for h in ("MPJPE↓", "PA-MPJPE↓", "PVE↓", "ACCEL↓"))
    width = max(len(k) for k in ours) + 2
    cell = lambda v: (f"{v:.1f}" if v is not None and v == v else "-").rjust(10)
    lines = ["".ljust(width) + ours_title.center(40) + " | " + paper_title,
             "Method".ljust(width) + heads + " | " + heads, "-" * (width + 83)]
    for name, m in ours.items():
        ref = paper.get(name)
        theirs = "".join(cell(x) for x in ref) if ref else "".join(cell(None) for _ in cols)
        lines.append(name.ljust(width) + "".join(cell(m.get(c)) for c in cols) + " | " + theirs)
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", default="proof_run")
    p.add_argument("--train-clips", type=int, default=6000)
    p.add_argument("--test-clips", type=int, default=64)
    p.add_argument("--frames", type=int, default=10, help="frames per clip")
    p.add_argument("--fps", type=float, default=15.0, help="clip frame rate (motion per clip)")
    p.add_argument("--pose-spread", type=float, default=0.8, help="spread of the pose prior")
    p.add_argument("--steps", type=int, default=None, help="training steps per variant (default: the preset's)")
    p.add_argument("--parallel", type=int, default=2, help="variants trained side by side")
    p.add_argument("--variants", nargs="*", default=list(VARIANTS))
    p.add_argument("--seeds", type=int, default=1, help="training seeds per variant (0..K-1)")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"),
                   help="where features, trainings and evaluation run")
    p.add_argument("--data-workers", type=int, help="processes rendering the data (default: --parallel)")
    args = p.parse_args()

    import torch

    torch.set_num_threads(1)
    from video_to_motion.core.training.body_gen import write_smpl_pkl
    from video_to_motion.core.tar.checkpoint import load_model
    from video_to_motion.core.training.cli import build_model, load_tables, make_readers
    from video_to_motion.core.training.evaluation import PAPER_ABLATION, evaluate_model, ground_truth, mean_pose_prediction, score
    from video_to_motion.core.training.presets import ABLATION_LABELS, get_preset

    t_start = time.time()
    out = Path(args.out).resolve()
    data, runs, cache = out / "data", out / "runs", out / "feature_cache"
    data.mkdir(parents=True, exist_ok=True)
    body = data / "body_generated.pkl"
    if not body.exists():
        write_smpl_pkl(body)
    timings = {}

    t0 = time.time()
    make_data(data, {"train": args.train_clips, "test": args.test_clips}, args.frames,
              args.data_workers or args.parallel, args.fps, args.pose_spread)
    timings["data"] = time.time() - t0

    # Features once, here, before the trainings start side by side and read them.
    t0 = time.time()
    preset = get_preset("cpu-proof")
    model = build_model(preset["model"], body)
    tables = {s: load_tables(["generated"], s, str(data), {})["generated"] for s in ("train", "test")}
    for split, table in tables.items():
        make_readers({"generated": table}, model.to(args.device), model.cfg.seq_len, False, True, cache,
                     args.device)
    timings["features"] = time.time() - t0

    t0 = time.time()
    pending = [(v, k) for k in range(args.seeds) for v in args.variants]
    active, walls = {}, {}
    cores = os.cpu_count() or 1
    on_cpu = args.device == "cpu"
    while pending or active:
        # On the CPU "full" runs alone on every core; the rest share the cores, one thread each.
        while pending:
            v, k = pending[0]
            alone = on_cpu and any(name == "full" for name, _ in [*active, (v, k)])
            if len(active) >= (1 if alone else args.parallel):
                break
            pending.pop(0)
            threads = (cores if alone else 1) if on_cpu else max(1, cores // args.parallel)
            folder = run_folder(runs, v, k)
            folder.mkdir(parents=True, exist_ok=True)
            cmd = [sys.executable, str(HERE / "train.py"), "--preset", "cpu-proof", "--ablation", v,
                   "--smpl-model", str(body), "--data-root", str(data), "--out", str(folder),
                   "--cache-dir", str(cache), "--threads", str(threads), "--no-progress", "--device", args.device]
            if k:
                cmd += ["--seed", str(k)]
            if args.steps:
                cmd += ["--steps", str(args.steps)]
            active[(v, k)] = (run(cmd, folder / "train.log", threads), time.time(), folder)
            say(f"training '{folder.name}' ... (log: {folder / 'train.log'})")
        time.sleep(2)
        for key, (proc, started, folder) in list(active.items()):
            if proc.poll() is not None:
                del active[key]
                walls[folder.name] = time.time() - started
                if proc.returncode != 0:
                    say((folder / "train.log").read_text()[-2000:])
                    raise SystemExit(f"training '{folder.name}' failed (exit {proc.returncode})")
                say(f"trained '{folder.name}' in {walls[folder.name]:.0f} s")
    timings["training"] = time.time() - t0

    t0 = time.time()
    test = tables["test"]
    smpl = model.smpl
    gt = ground_truth(smpl, test.pose, test.betas)
    results = {"mean pose": score(test, mean_pose_prediction(tables["train"], test, smpl), gt),
               "mean pose + true orientation": score(
                   test, mean_pose_prediction(tables["train"], test, smpl, gt_orientation=True), gt)}
    per_seed = {}
    for v in [v for v in ("no_rrm", "only_gte", "only_lte", "full") if v in args.variants]:
        for k in range(args.seeds):
            trained, _ = load_model(run_folder(runs, v, k) / "last.pt", body, args.device)
            reader = make_readers({"generated": test}, trained, trained.cfg.seq_len, False, True, cache,
                                  args.device, log=lambda m: None)["generated"]
            per_seed.setdefault(ABLATION_LABELS[v], []).append(
                evaluate_model(trained, reader, trained.smpl, 64, args.device))
        results[ABLATION_LABELS[v]] = per_seed[ABLATION_LABELS[v]][0]
    timings["evaluation"] = time.time() - t0
    timings["total"] = time.time() - t_start

    ours_title = f"Ours: held-out generated clips ({len(test)} frames, {len(test.sequences)} clips), mm"
    text_table = side_by_side(results, PAPER_ABLATION, ours_title, "Paper: 3DPW, Tables 3-4 (HRNet-W48), mm")
    steps = json.loads((runs / args.variants[0] / "run.json").read_text())["train"]["steps"]
    lines = [text_table, "",
             f"cpu-proof preset: {steps} steps × batch 32 per variant; frozen EfficientNet-Lite0 (ImageNet) "
             f"features of 64-px crops ({model.cfg.global_grid}×{model.cfg.global_grid} global grid); "
             f"train {len(tables['train'])} frames ({len(tables['train'].sequences)} clips)",
             "wall time: " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items())
             + "; per variant: " + ", ".join(f"{k} {v:.0f} s" for k, v in walls.items()),
             f"load average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs"]
    if args.seeds > 1:
        lines += ["", seed_table(per_seed, args.seeds)]
    text = "\n".join(lines)
    print(text)
    (out / "proof_table.txt").write_text(text + "\n")
    (out / "proof.json").write_text(json.dumps({"results": results, "seeds": per_seed, "timings": timings,
                                                "walls": walls}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
