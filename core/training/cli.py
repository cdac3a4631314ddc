"""Command lines of scripts/train.py, scripts/evaluate.py and scripts/make_training_data.py.

Exit codes: 0 done; 2 bad input (dataset, checkpoint, configuration), with one line
saying what to fix; 3 training stopped (non-finite loss), the last good checkpoint kept.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

EXIT_BAD_INPUT = 2
EXIT_TRAINING_FAILED = 3


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def parse_data_args(items: list[str]) -> dict[str, tuple[Path, Path | None]]:
    """['NAME=FILE.npz:IMAGES', ...] -> {name: (npz, image folder or None)}."""
    from .datasets import DatasetError

    out = {}
    for item in items or []:
        if "=" not in item:
            raise DatasetError(f"--data '{item}': write NAME=FILE.npz:IMAGE_FOLDER")
        name, rest = item.split("=", 1)
        npz, _, images = rest.partition(":")
        out[name] = (Path(npz), Path(images) if images else None)
    return out


def load_tables(names, split: str, data_root: str | None, explicit: dict, full_rate=()) -> dict:
    """FrameTables for dataset names: explicit NAME=FILE:IMAGES paths first, else the
    standard layout under data_root. A folder instead of a .npz is read as 3DPW's
    sequenceFiles/<split> (one person per window); the standard 3DPW uses
    3DPW/sequenceFiles/<split> when present. `full_rate`: names whose image folders hold
    every video frame (windows at the videos' own frame rate)."""
    from .datasets import SEQUENCE_SPLITS, STANDARD, DatasetError, FrameTable, standard_paths
    from .emdb import read_emdb
    from .pw3d import read_3dpw_sequences

    tables = {}
    for name in names:
        if name in explicit:
            npz, images = explicit[name]
            video = STANDARD[name].video if name in STANDARD else True
            images = images or (npz.parents[1] if npz.is_dir() else npz.with_suffix(""))
        elif data_root is None:
            raise DatasetError(f"dataset '{name}': give --data-root (the folder holding the standard files) "
                               f"or --data {name}=FILE.npz:IMAGE_FOLDER")
        else:
            npz, images, video = standard_paths(name, split, data_root)
            sequences = images / "sequenceFiles" / SEQUENCE_SPLITS[split]
            if name == "3dpw" and sequences.is_dir():
                npz = sequences
        if name == "emdb":
            images = npz if npz.is_dir() else images
            arrays = read_emdb(npz) if npz.is_dir() else None
        else:
            arrays = read_3dpw_sequences(npz) if npz.is_dir() else None
        if arrays is None and not npz.is_file() and name == "emdb":
            raise DatasetError(f"dataset 'emdb': '{npz}' is not EMDB's release folder (P0 … P9)")
        # The releases read here (3DPW, EMDB) hold every frame of their videos.
        tables[name] = FrameTable(name, npz, images, video=video, full_rate=name in full_rate or arrays is not None,
                                  arrays=arrays)
    return tables


# Preset keys about the data that --set may change.
DATA_SETTINGS = ("augment", "cache_features", "global_dropout")


def parse_sets(items: list[str]) -> dict[str, dict]:
    """['model.hidden_map_size=16', 'train.lr=1e-4', 'data.global_dropout=0.5'] ->
    {'model': {...}, 'train': {...}, 'data': {...}} (JSON values; data.NAME is one of DATA_SETTINGS)."""
    from ..tar.config import ConfigError

    out: dict[str, dict] = {"model": {}, "train": {}, "data": {}}
    for item in items or []:
        key, eq, value = item.partition("=")
        group, _, name = key.partition(".")
        if not eq or group not in out or not name:
            raise ConfigError(f"--set '{item}': write model.NAME=VALUE, train.NAME=VALUE or data.NAME=VALUE")
        if group == "data" and name not in DATA_SETTINGS:
            raise ConfigError(f"--set '{item}': data settings are {', '.join(DATA_SETTINGS)}")
        try:
            out[group][name] = json.loads(value)
        except json.JSONDecodeError:
            out[group][name] = value
    return out


def build_model(model_settings: dict, smpl_path):
    from ..tar.config import TARConfig
    from ..tar.model import TAR

    return TAR(TARConfig(**model_settings), smpl_path)


def make_readers(tables: dict, model, seq_len: int, augment: bool, cache_features: bool, cache_dir: Path,
                 device: str, log=_say, global_dropout: float = 0.0) -> dict:
    """A reader per table: crops (optionally augmented) or cached backbone features."""
    from .augment import AugmentConfig
    from .datasets import ClipConfig, ClipReader
    from .features import CachedClipReader, FeatureStore

    from .datasets import DatasetError

    readers = {}
    for name, table in tables.items():
        if cache_features and table.full_rate:
            raise DatasetError(f"dataset '{name}': cached features hold the labelled frames only, full-rate windows "
                               "read the frames between them: train it from crops (--set data.cache_features=false)")
        if cache_features:
            folder = cache_dir / (f"{name}-{table.npz_path.stem}-{model.cfg.backbone}-{model.cfg.crop_size}"
                                  f"-g{model.global_dim}")
            t0 = time.time()
            store = FeatureStore.open_or_build(folder, table, model, device=device)
            log(f"features of '{name}' ({len(table)} frames): {folder} ({time.time() - t0:.0f} s)")
            readers[name] = CachedClipReader(table, store, ClipConfig(seq_len, model.cfg.crop_size, None),
                                             model.cfg.local_len, global_dropout)
        else:
            readers[name] = ClipReader(table, ClipConfig(seq_len, model.cfg.crop_size,
                                                         AugmentConfig() if augment else None))
    return readers


def training_joints(tables: dict, regressor_path: str | None):
    """The module that maps the mesh to SPIN's 24 joints when a table labels them, else None
    (raises RegressorError naming the file when it is needed and not given)."""
    from .joint_sets import LAYOUT_SPIN24, WHERE_TO_GET, DatasetJoints, RegressorError, load_regressor

    spin = [name for name, t in tables.items() if t.layout == LAYOUT_SPIN24]
    if regressor_path is None:
        if spin:
            raise RegressorError(f"training set(s) {', '.join(spin)} label SPIN's 24 joints, which the losses take "
                                 "from the mesh: give --joint-regressor J_regressor_extra.npy; "
                                 + WHERE_TO_GET.format(name="J_regressor_extra.npy"))
        return None
    return DatasetJoints(load_regressor(regressor_path, "extra"))


def eval_rows(table, max_frames: int | None, seed: int = 0) -> np.ndarray:
    """All rows, or whole sequences drawn at random until max_frames (ACCEL needs sequences)."""
    if not max_frames or len(table) <= max_frames:
        return np.arange(len(table))
    order = np.random.default_rng(seed).permutation(len(table.sequences))
    rows, n = [], 0
    for s in order:
        if n >= max_frames:
            break
        rows.append(table.sequences[s])
        n += len(table.sequences[s])
    return np.sort(np.concatenate(rows))


def train_main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="scripts/train.py", description="Train TAR (see README, 'Training TAR').")
    p.add_argument("--smpl-model", required=True, help="SMPL model file (.pkl/.npz); the neutral model")
    p.add_argument("--out", required=True, help="run folder: last.pt (resumable), best.pt, log.jsonl, run.json")
    p.add_argument("--preset", default="paper", help="paper | cpu-proof")
    p.add_argument("--ablation", default="full", help="full | no_rrm | only_gte | only_lte (paper Tables 3-4)")
    p.add_argument("--data-root", help="folder with the standard dataset files (SPIN/ReFit names)")
    p.add_argument("--data", action="append", default=[], help="NAME=FILE.npz:IMAGE_FOLDER for a training set")
    p.add_argument("--val-data", "--eval-data", dest="val_data", action="append", default=[],
                   help="NAME (its standard val split under --data-root) or NAME=FILE.npz:IMAGE_FOLDER: a "
                        "validation set for the periodic evaluation and best.pt's choice (default: the preset's); "
                        "never a test split")
    p.add_argument("--h36m-regressor", help="SPIN's J_regressor_h36m.npy: the validation protocols' joints")
    p.add_argument("--mix", help="sampling ratios, e.g. 'h36m=0.4,3dpw=0.2,coco=0.4' (default: the preset's)")
    p.add_argument("--steps", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--seed", type=int)
    p.add_argument("--workers", type=int)
    p.add_argument("--set", action="append", default=[],
                   help="model.NAME=VALUE, train.NAME=VALUE or data.NAME=VALUE (augment, cache_features, "
                        "global_dropout); JSON values")
    p.add_argument("--resume", default="auto", help="auto (continue OUT/last.pt if present) | none | PATH")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda")
    p.add_argument("--threads", type=int, help="CPU threads for torch (1 avoids oversubscription when runs share "
                                               "the cores)")
    p.add_argument("--cache-dir", help="where cached backbone features go (default: OUT/../feature_cache)")
    p.add_argument("--max-eval-frames", type=int, default=2000, help="frames used by the periodic evaluation")
    p.add_argument("--full-rate", action="append", default=[], metavar="NAME",
                   help="dataset NAME's image folder holds every frame of its videos: windows of T consecutive "
                        "video frames between SPIN's subsampled labels (Human3.6M, MPI-INF-3DHP)")
    p.add_argument("--joint-regressor", help="SPIN's J_regressor_extra.npy: the joints of SPIN-format labels "
                                             "(needed when a training set is not in SMPL's own joint layout)")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    try:
        return _train(args)
    except KeyboardInterrupt:
        _say("interrupted; the last checkpoint written is kept")
        return 130


def _train(args) -> int:
    import torch

    from ..worker.devices import resolve_device
    from ..tar.checkpoint import CheckpointError
    from ..tar.config import ConfigError
    from . import ddp
    from .datasets import DatasetError, Mixture, StepBatches
    from ..tar.backbone import BackboneWeightsError
    from .evaluation import evaluate_model
    from .joint_sets import RegressorError, load_regressor
    from .presets import ABLATIONS, get_preset
    from .trainer import CHECKPOINT_NAME, TrainConfig, Trainer, TrainingError, init_from_mean_pose

    try:
        preset = get_preset(args.preset)
        if args.ablation not in ABLATIONS:
            raise ConfigError(f"unknown ablation '{args.ablation}'; choose one of {', '.join(ABLATIONS)}")
        sets = parse_sets(args.set)
        preset.update(sets["data"])
        model_settings = {**preset["model"], **ABLATIONS[args.ablation], **sets["model"]}
        train_settings = {**preset["train"], **sets["train"]}
        for key in ("steps", "batch_size", "lr", "seed", "workers"):
            if getattr(args, key) is not None:
                train_settings[key] = getattr(args, key)
        train_settings["progress"] = not args.no_progress
        cfg = TrainConfig.from_dict(train_settings)
        mix = preset["mix"]
        if args.mix:
            mix = {k: float(v) for k, v in (item.split("=") for item in args.mix.split(","))}
        if args.threads:
            torch.set_num_threads(args.threads)
        device_name = resolve_device(args.device, _say)
        dist, device = ddp.setup(device_name)
        # Every rank builds the same initial model (DDP expects it, and the feature cache that
        # rank 0 writes must match every rank's backbone); data order differs per rank below.
        torch.manual_seed(cfg.seed)
        out = Path(args.out)
        last = out / CHECKPOINT_NAME
        if args.resume == "none" and last.exists():
            raise CheckpointError(f"'{out}' already holds a run ({last}); resume it with --resume auto, "
                                  "or choose another --out")
        train_tables = load_tables(mix, "train", args.data_root, parse_data_args(args.data), args.full_rate)
        val_names = [n.split("=")[0] for n in args.val_data] or preset["val"]
        explicit_val = parse_data_args([v for v in args.val_data if "=" in v])
        eval_tables = {}
        if cfg.eval_every:
            try:
                eval_tables = load_tables([n for n in val_names if n in explicit_val or args.data_root], "val",
                                          args.data_root, explicit_val, args.full_rate)
            except DatasetError as exc:
                raise DatasetError(f"{exc} (the periodic evaluation and best.pt's choice read validation splits "
                                   "only: give one with --val-data, or turn it off with --set train.eval_every=0)") \
                    from exc
        regressor = load_regressor(args.h36m_regressor, "h36m") if args.h36m_regressor else None
        for name, table in eval_tables.items():
            if regressor is None and not table.has_smpl.all():
                raise RegressorError(f"validation set '{name}' is scored on its 3D labels, through the H36M joint "
                                     "regressor: give --h36m-regressor J_regressor_h36m.npy")
        dataset_joints = training_joints(train_tables, args.joint_regressor)
        model = build_model(model_settings, args.smpl_model).to(device)
        torch.manual_seed(cfg.seed + dist.rank)
        cache_dir = Path(args.cache_dir) if args.cache_dir else out.parent / "feature_cache"
        # Rank 0 builds the feature caches while the others wait, then every rank opens them.
        if not dist.is_main:
            ddp.barrier(dist)
        readers = make_readers(train_tables, model, model.cfg.seq_len, preset["augment"], preset["cache_features"],
                               cache_dir, str(device), global_dropout=preset.get("global_dropout", 0.0))
        eval_readers = make_readers(eval_tables, model, model.cfg.seq_len, False, preset["cache_features"],
                                    cache_dir, str(device))
        if dist.is_main:
            ddp.barrier(dist)
        batches = StepBatches(Mixture(readers, mix), cfg.batch_size, cfg.seed, dist.rank, cfg.steps)

        def evaluator(m) -> dict:
            results = {}
            for name, reader in eval_readers.items():
                rows = eval_rows(reader.table, args.max_eval_frames)
                scores = evaluate_model(m, reader, m.smpl, cfg.batch_size, device, rows, regressor)
                results.update({(k if len(eval_readers) == 1 else f"{name}/{k}"): v for k, v in scores.items()})
            return results

        run_meta = {"data": {"mix": mix, "train": {n: str(t.npz_path) for n, t in train_tables.items()},
                             "augment": preset["augment"], "cache_features": preset["cache_features"],
                             "global_dropout": preset.get("global_dropout", 0.0)},
                    "preset": args.preset, "ablation": args.ablation}
        trainer = Trainer(model, batches, cfg, out, device, dist, evaluator if eval_readers else None, run_meta,
                          dataset_joints=dataset_joints)
        if args.resume not in ("auto", "none"):
            trainer.resume(args.resume)
        elif args.resume == "auto" and last.exists():
            trainer.resume(last)
        else:
            poses = np.concatenate([t.pose[t.has_smpl > 0] for t in train_tables.values()])
            if len(poses):
                init_from_mean_pose(model, poses)
        if trainer.step >= cfg.steps:
            _say(f"'{out}' is already trained to step {trainer.step} (of {cfg.steps}); raise --steps to go on")
            return 0
        summary = trainer.fit()
        if dist.is_main:
            (out / "summary.json").write_text(json.dumps(summary, indent=1))
            _say(f"done: step {summary['steps']}, {summary['wall_s']:.0f} s; checkpoint {last}")
        ddp.cleanup(dist)
        return 0
    except (DatasetError, CheckpointError, ConfigError, RegressorError, BackboneWeightsError, KeyError,
            FileNotFoundError) as exc:
        _say(f"error: {exc}")
        return EXIT_BAD_INPUT
    except TrainingError as exc:
        _say(f"error: {exc}")
        return EXIT_TRAINING_FAILED


def make_data_main(argv: list[str] | None = None) -> int:
    from .synthetic import SyntheticConfig, generate_dataset

    p = argparse.ArgumentParser(prog="scripts/make_training_data.py",
                                description="Render generated training clips with exact SMPL ground truth.")
    p.add_argument("--out", required=True, help="data root: writes generated_<split>.npz and generated_<split>/")
    p.add_argument("--split", default="train",
                   help="train | val | test (test uses the last 20%% of each BVH file, train the rest; val draws "
                        "from the pose prior only, with its own seed, so it shares no clip with either)")
    p.add_argument("--body-model", help="SMPL-layout body .pkl (default: generate one into OUT/body_generated.pkl)")
    p.add_argument("--bvh", nargs="*", default=None, help="BVH files (default: sample_data/bvh/*.bvh)")
    p.add_argument("--clips", type=int, default=64)
    p.add_argument("--frames", type=int, default=24, help="frames per clip")
    p.add_argument("--size", default="160x160", help="image WxH")
    p.add_argument("--seed", type=int)
    p.add_argument("--bvh-fraction", type=float, default=0.5)
    p.add_argument("--fps", type=float, default=30.0, help="frame rate of the clips")
    p.add_argument("--pose-spread", type=float, default=1.0, help="scale of the pose prior's spread")
    p.add_argument("--workers", type=int, default=1, help="processes rendering side by side")
    args = p.parse_args(argv)
    from .body_gen import write_smpl_pkl
    from .bvh import BVHError

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    body = Path(args.body_model) if args.body_model else out / "body_generated.pkl"
    if not args.body_model and not body.exists():
        write_smpl_pkl(body)
    bvh = args.bvh
    if bvh is None:
        root = Path(os.environ.get("VTM_SAMPLE_DATA", Path(__file__).resolve().parents[2] / "sample_data"))
        bvh = sorted(str(p) for p in (root / "bvh").glob("*.bvh"))
        if not bvh:
            _say(f"note: no BVH files in {root / 'bvh'} (scripts/get_sample_data.sh fetches them); "
                 "using the pose prior only")
    w, _, h = args.size.partition("x")
    split_range = {"train": (0.0, 0.8), "val": (0.0, 0.8), "test": (0.8, 1.0)}
    if args.split not in split_range:
        _say(f"error: --split must be train, val or test, got '{args.split}'")
        return EXIT_BAD_INPUT
    seed = args.seed if args.seed is not None else {"train": 0, "test": 1, "val": 2}[args.split]
    bvh_fraction = args.bvh_fraction if bvh and args.split != "val" else 0.0
    cfg = SyntheticConfig(clips=args.clips, frames_per_clip=args.frames, width=int(w), height=int(h or w),
                          bvh_fraction=bvh_fraction, bvh_range=split_range[args.split],
                          seed=seed, fps=args.fps, pose_spread=args.pose_spread)
    t0 = time.time()
    try:
        npz = generate_dataset(out, f"generated_{args.split}", body, bvh, cfg,
                               progress=lambda k, n: _say(f"  clip {k}/{n}") if k % 64 == 0 or k == n else None,
                               workers=args.workers)
    except (BVHError, ValueError) as exc:
        _say(f"error: {exc}")
        return EXIT_BAD_INPUT
    _say(f"wrote {npz} ({cfg.clips * cfg.frames_per_clip} frames, {time.time() - t0:.0f} s)")
    return 0


def evaluate_main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="scripts/evaluate.py",
                                description="Evaluate a TAR checkpoint; prints a table laid out like the paper's Table 1.")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--smpl-model", required=True)
    p.add_argument("--data-root", help="folder with the standard test files")
    p.add_argument("--datasets", nargs="*", default=None, help="3dpw mpi_inf_3dhp h36m emdb generated (default: Table 1's and EMDB-1, "
                        "each named when it cannot be evaluated; generated when present)")
    p.add_argument("--data", action="append", default=[], help="NAME=FILE.npz:IMAGE_FOLDER")
    p.add_argument("--h36m-regressor", help="SPIN's J_regressor_h36m.npy: the protocols' joints on the mesh (needed "
                                            "for Human3.6M and MPI-INF-3DHP, and for 3DPW's own protocol)")
    p.add_argument("--full-rate", action="append", default=[], metavar="NAME",
                   help="dataset NAME's image folder holds every frame of its videos")
    p.add_argument("--h36m-joints", type=int, choices=(14, 17), default=14,
                   help="Human3.6M joints: 14 (mid-hips centred, as TCMR and GLoT whose numbers Table 1 lists) or "
                        "17 (pelvis centred)")
    p.add_argument("--device", default="auto")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-frames", type=int, default=None, help="evaluate whole sequences up to this many frames")
    p.add_argument("--cache-dir", help="cache backbone features here (fast for small sets; needs disk)")
    args = p.parse_args(argv)
    try:
        return _evaluate(args)
    except KeyboardInterrupt:
        return 130


TABLE1 = (("3dpw", "3DPW", ("mpjpe", "pa_mpjpe", "pve", "accel")),
          ("mpi_inf_3dhp", "MPI-INF-3DHP", ("mpjpe", "pa_mpjpe", "accel")),
          ("h36m", "Human3.6M", ("mpjpe", "pa_mpjpe", "accel")),
          ("emdb", "EMDB-1", ("mpjpe", "pa_mpjpe", "pve", "accel")),
          ("generated", "Generated (held out)", ("mpjpe", "pa_mpjpe", "pve", "accel")))


def format_table1(rows: dict[str, dict[str, dict]], frames: dict[str, int | str]) -> str:
    """rows: method -> dataset -> metrics; a table with Table 1's column groups (mm)."""
    names = {"mpjpe": "MPJPE↓", "pa_mpjpe": "PA-MPJPE↓", "pve": "PVE↓", "accel": "ACCEL↓"}
    width = max(len(m) for m in rows) + 2
    head1, head2 = "".ljust(width), "Method".ljust(width)
    for _, title, cols in TABLE1:
        w = 10 * len(cols)
        head1 += "| " + title.center(w - 2)
        head2 += "|" + "".join(names[c].rjust(10) for c in cols)[1:]
    head1 += "| frames"
    head2 += "|" + "T".rjust(6)
    lines = [head1, head2, "-" * len(head2)]
    for method, per in rows.items():
        line = method.ljust(width)
        for key, _, cols in TABLE1:
            m = per.get(key, {})
            cells = "".join((f"{m[c]:.1f}" if c in m and np.isfinite(m[c]) else "-").rjust(10) for c in cols)
            line += "|" + cells[1:]
        line += "|" + str(frames.get(method, "-")).rjust(6)
        lines.append(line)
    return "\n".join(lines)


def _evaluate(args) -> int:
    from ..worker.devices import resolve_device
    from ..tar.checkpoint import CheckpointError, load_model
    from .datasets import DatasetError, standard_paths
    from .evaluation import PAPER_TABLE1, evaluate_model, evaluate_with_runner
    from .joint_sets import RegressorError, load_regressor
    from .metrics import MetricUnavailable

    try:
        device = resolve_device(args.device, _say)
        model, payload = load_model(args.checkpoint, args.smpl_model, device, warn=_say)
        regressor = load_regressor(args.h36m_regressor, "h36m") if args.h36m_regressor else None
    except (CheckpointError, RegressorError, FileNotFoundError, ValueError) as exc:
        _say(f"error: {exc}")
        return EXIT_BAD_INPUT
    explicit = parse_data_args(args.data)
    names = args.datasets
    if names is None:
        names = list(explicit) + [n for n, _, _ in TABLE1 if n not in explicit]
    results, missing = {}, {}
    for name in names:
        if name not in explicit and args.data_root is None:
            missing[name] = "no --data-root or --data given for it"
            continue
        if name not in explicit and args.datasets is None and name == "generated" \
                and not standard_paths(name, "test", args.data_root)[0].exists():
            continue  # not a benchmark: only reported when present or asked for
        t0 = time.time()
        try:
            table = load_tables([name], "test", args.data_root, explicit, args.full_rate)[name]
            rows = eval_rows(table, args.max_frames)
            n_joints = args.h36m_joints if name == "h36m" else None
            if args.cache_dir or table.full_rate:  # full-rate windows hold frames between the labelled rows
                readers = make_readers({name: table}, model, model.cfg.seq_len, False, not table.full_rate,
                                       Path(args.cache_dir or "."), device)
                scores = evaluate_model(model, readers[name], model.smpl, args.batch_size, device, rows, regressor,
                                        n_joints)
            else:
                scores = evaluate_with_runner(model, table, rows, device, args.batch_size, regressor, n_joints)
        except (DatasetError, MetricUnavailable, FileNotFoundError) as exc:
            missing[name] = str(exc)
            continue
        results[name] = scores
        if not np.isfinite(scores.get("pve", np.nan)):
            missing[f"{name} PVE"] = "its rows have no SMPL ground truth (PVE compares meshes)"
        _say(f"{name}: {len(rows)} frames in {time.time() - t0:.0f} s")
    label = f"{Path(args.checkpoint).name} ({model.cfg.backbone})"
    rows = {**{f"paper: {k}": {d: dict(zip(c, PAPER_TABLE1[k].get(d, ()))) for d, _, c in TABLE1}
               for k in PAPER_TABLE1}, label: results}
    print(format_table1(rows, {**{f"paper: {k}": 9 for k in PAPER_TABLE1}, label: model.cfg.seq_len}))
    if regressor is None:
        print("3DPW/generated: 14 joints from SMPL's own skeleton (give --h36m-regressor for the protocol's "
              "mesh-regressed joints)")
    print(f"protocols: 3DPW 14 joints, Human3.6M {args.h36m_joints} joints, MPI-INF-3DHP 17 joints (14: mean of the "
          "hips at the origin; 17: pelvis at the origin); PVE on uncentred SMPL meshes (TCMR); EMDB-1 as its release "
          "scores it (SMPL's 24 joints and the mesh, centred on the mean of the hips); mm")
    for name, why in missing.items():
        print(f"not computed: {name}: {why}")
    if not results:
        _say("error: no dataset could be evaluated (see 'not computed' above)")
        return EXIT_BAD_INPUT
    return 0
