"""Benchmark TAR: parameters and compute per component for S ∈ {64, 32, 16, 8} beside the
paper's Table S3, and forward time per video frame on this machine.

    python scripts/bench/bench_tar.py [--sizes 64 32 16 8] [--backbone hrnet_w48] [--reps 2]

Compute is counted with torch.utils.flop_counter (convolutions and matrix products) and
printed in GMACs (one multiply-add = 1), the convention of fvcore/thop, which HMR papers
report as "GFLOPs"; GFLOPs in the strict sense are twice that. Random weights: speed and
size do not depend on the values. SMPL is the project's generated body model (same
size as SMPL). Time per frame is the video path of the `tar` estimator: each frame's
backbone and per-frame LTE encoding once, then one T = 9 / L = 5 window refined per frame,
in batches of --batch frames.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import platform
import sys
import tempfile
import time
from pathlib import Path


import torch
from torch.utils.flop_counter import FlopCounterMode

from video_to_motion.core.training.body_gen import write_smpl_pkl
from video_to_motion.core.tar import camera
from video_to_motion.core.tar.config import TARConfig
from video_to_motion.core.tar.inference import autocast_context
from video_to_motion.core.tar.model import TAR

# Table S3 (HRNet-W48): S -> (MPJPE, PA-MPJPE, PVE, ACCEL, "GFLOPs", params M)
PAPER_S3 = {64: (62.7, 40.6, 74.4, 7.7, 184.6, 25.0), 32: (65.1, 43.4, 77.8, 8.1, 72.4, 29.9),
            16: (67.3, 44.3, 81.0, 8.5, 43.5, 34.3), 8: (66.9, 43.1, 80.1, 8.4, 36.3, 38.5)}


def gmacs(fn) -> float:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops() / 2e9


def millions(module: torch.nn.Module) -> float:
    return sum(p.numel() for p in module.parameters()) / 1e6


def inputs(model: TAR, batch: int, device: torch.device):
    cfg = model.cfg
    img = torch.tensor([[1920.0, 1080.0]] * batch, device=device)
    focal = camera.default_focal(img)
    center = torch.tensor([[960.0, 540.0]] * batch, device=device)
    size = torch.full((batch,), 600.0, device=device)
    info = camera.bbox_info(center, size, focal, img)
    crops = torch.randn(batch, 3, cfg.crop_size, cfg.crop_size, device=device)
    return crops, (info, focal, img, center, size)


@torch.no_grad()
def component_compute(model: TAR) -> dict[str, float]:
    """GMACs for one output frame: backbone of one crop; GTE, LTE, RRM and SMPL of one window.

    Counted in training mode: in eval mode the transformer layers take PyTorch's fused fast
    path, which the flop counter does not see (the arithmetic is the same).
    """
    cfg = model.cfg
    model.train()
    crops, geometry = inputs(model, 1, torch.device("cpu"))
    g, l = model.extract_features(crops)
    global_seq = g.expand(cfg.seq_len, -1)[None]
    local_seq = l.expand(cfg.local_len, -1, -1, -1)[None]
    out = {"backbone": gmacs(lambda: model.extract_features(crops)),
           "gte": gmacs(lambda: model.gte(global_seq, geometry[0])),
           "lte": gmacs(lambda: model.lte(local_seq))}
    stages = model.forward_features(global_seq, local_seq, *geometry)
    out["smpl"] = gmacs(lambda: model.smpl(stages[0]["rotmat"], stages[0]["betas"])) * len(stages)
    out["rrm"] = gmacs(lambda: model.forward_features(global_seq, local_seq, *geometry)) - out["gte"] - out["lte"] - out["smpl"]
    # Streaming inference encodes each frame once instead of L times per window.
    out["lte_streaming"] = out["lte"] - gmacs(lambda: model.encode_local(l)) * (cfg.local_len - 1)
    model.eval()
    return out


def _best_time(fn, device: torch.device, reps: int) -> float:
    def timed() -> float:
        t0 = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - t0

    timed()  # warm-up
    return min(timed() for _ in range(reps))


@torch.no_grad()
def time_per_frame(model: TAR, device: torch.device, batch: int, reps: int, with_backbone: bool) -> dict[str, float]:
    """Seconds per frame on the estimator's path: the backbone of one crop, and the per-frame
    LTE encoding plus the refinement of one window (T = 9 / L = 5)."""
    cfg = model.cfg
    model = model.to(device)
    crops, geometry = inputs(model, batch, device)
    with autocast_context(device):
        g, l = model.extract_features(crops)

    def backbone():
        with autocast_context(device):
            model.extract_features(crops)

    def temporal():
        with autocast_context(device):
            e = model.encode_local(l)
            global_seq = g[:, None].expand(-1, cfg.seq_len, -1)
            encoded = e[:, None].expand(-1, cfg.local_len, *e.shape[1:])
            model.refine(global_seq, encoded, *geometry)

    out = {"temporal": _best_time(temporal, device, reps) / batch}
    if with_backbone:
        out["backbone"] = _best_time(backbone, device, reps) / batch
    model.to("cpu")
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbone", default="hrnet_w48", choices=("hrnet_w48", "resnet50", "efficientnet_lite0"))
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 32, 16, 8])
    parser.add_argument("--batch", type=int, default=2, help="frames per timed batch")
    parser.add_argument("--reps", type=int, default=3, help="timed repetitions (the fastest counts)")
    parser.add_argument("--no-time", action="store_true", help="sizes and compute only")
    args = parser.parse_args(argv)

    gpu = torch.device("cuda") if torch.cuda.is_available() else None
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        smpl = write_smpl_pkl(Path(tmp) / "body.pkl")
        rows = []
        for i, s in enumerate(args.sizes):
            torch.manual_seed(0)
            with contextlib.redirect_stdout(sys.stderr):  # smplx prints a note on stdout
                model = TAR(TARConfig(backbone=args.backbone, hidden_map_size=s), smpl,
                            load_backbone_weights=False).eval()
            params = model.component_parameters()
            compute = component_compute(model)
            # The backbone does not depend on S: timed once, with the first size.
            cpu_t = None if args.no_time else time_per_frame(model, torch.device("cpu"), args.batch, args.reps, i == 0)
            gpu_t = None if args.no_time or gpu is None else time_per_frame(model, gpu, 8, 5, i == 0)
            rows.append((s, params, compute, cpu_t, gpu_t))
            print(f"S={s} done", file=sys.stderr, flush=True)
    load_after = os.getloadavg()[0]

    cfg = TARConfig(backbone=args.backbone)
    print(f"TAR, backbone {args.backbone}, {cfg.crop_size}² crops, T={cfg.seq_len}, L={cfg.local_len}, "
          f"{cfg.iterations} iterations, {cfg.num_markers} markers, LTE C={cfg.lte_channels}, GTE {cfg.gte_layers}×"
          f"{cfg.gte_dim}; random weights.")
    print("\nParameters (M). 'paper' is Table S3's 'Params(M)', set beside GTE+LTE+RRM (its S=64 figure fits a "
          "count without the backbone; the paper does not say).")
    print("| S  | backbone | GTE  | LTE   | RRM  | GTE+LTE+RRM | paper |")
    print("|----|----------|------|-------|------|-------------|-------|")
    for s, p, _, _, _ in rows:
        head = (p["gte"] + p["lte"] + p["rrm"]) / 1e6
        print(f"| {s:<2} | {p['backbone'] / 1e6:8.1f} | {p['gte'] / 1e6:4.1f} | {p['lte'] / 1e6:5.1f} | "
              f"{p['rrm'] / 1e6:4.1f} | {head:11.1f} | {PAPER_S3.get(s, ('',) * 6)[5]:>5} |")
    print("\nCompute per output frame (GMACs; backbone for 1 crop, the rest for one window). 'paper' is Table S3's "
          "'GFLOPs', set beside our total (its figures fit backbone + GTE + LTE + RRM counted in MACs).")
    print("| S  | backbone | GTE  | LTE    | RRM  | SMPL×6 | total  | paper | LTE, per-frame part cached |")
    print("|----|----------|------|--------|------|--------|--------|-------|----------------------------|")
    for s, _, c, _, _ in rows:
        total = c["backbone"] + c["gte"] + c["lte"] + c["rrm"] + c["smpl"]
        print(f"| {s:<2} | {c['backbone']:8.1f} | {c['gte']:4.2f} | {c['lte']:6.1f} | {c['rrm']:4.2f} | "
              f"{c['smpl']:6.3f} | {total:6.1f} | {PAPER_S3.get(s, ('',) * 6)[4]:>5} | {c['lte_streaming']:26.1f} |")
    cpu_name = platform.processor() or platform.machine()
    print(f"\nForward time per frame (ms) on the estimator path: backbone of one crop + (per-frame LTE encoding "
          f"and one window's refinement); batch {args.batch}, best of {args.reps}.")
    print(f"CPU: {cpu_name}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads, fp32; load average "
          f"{load_before:.1f} before / {load_after:.1f} after (other processes share the cores).")
    print("GPU: " + (f"{torch.cuda.get_device_name()}, {'bf16' if torch.cuda.is_bf16_supported() else 'fp16'} autocast"
                     if gpu else "none: no GPU was lent to this task, so the GPU column is empty") + ".")
    print("| S  | CPU backbone | CPU LTE+GTE+RRM | CPU total | GPU backbone | GPU LTE+GTE+RRM | GPU total |")
    print("|----|--------------|-----------------|-----------|--------------|-----------------|-----------|")

    def cells(times, backbone_s):
        if times is None:
            return ("n/a",) * 3
        return (f"{backbone_s * 1e3:.0f}", f"{times['temporal'] * 1e3:.0f}",
                f"{(backbone_s + times['temporal']) * 1e3:.0f}")

    cpu_backbone = rows[0][3]["backbone"] if rows and rows[0][3] else None
    gpu_backbone = rows[0][4]["backbone"] if rows and rows[0][4] else None
    for s, _, _, cpu_t, gpu_t in rows:
        c = cells(cpu_t, cpu_backbone) if cpu_t else ("not timed",) * 3
        g = cells(gpu_t, gpu_backbone) if gpu_t else (("n/a (no GPU)",) * 3 if gpu is None else ("not timed",) * 3)
        print(f"| {s:<2} | {c[0]:>12} | {c[1]:>15} | {c[2]:>9} | {g[0]:>12} | {g[1]:>15} | {g[2]:>9} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
