#!/usr/bin/env python
"""Throughput of every stage of the pipeline, and the worker's peak memory, on 10 s, 60 s
and 600 s of 720p and 1080p video; prints one table.

    python scripts/bench/bench_pipeline.py            # full: every case (tens of minutes on 2 cores)
    python scripts/bench/bench_pipeline.py --quick    # 10 s and 60 s, small slices (a few minutes)
    python scripts/bench/bench_pipeline.py --lengths 10 600 --resolutions 720p --skip worker import

The clip: one real pedestrian of `vtest.avi` (scripts/get_sample_data.sh), followed by a
16:9 window that is upscaled to 720p/1080p and looped forwards and backwards (so the walk
never jumps) to the length asked for, written as MPEG-4 Part 2 (mp4v, the encoder pip's
OpenCV has) at 30 fps. Clips are made once, streamed to disk, and kept in --cache.

Stages, and how much of each video they run on:
  decode       `video_to_motion.core.worker.video.iter_frames`, every frame (full length).
  crop         the 256² CLIFF square around the person (`video_to_motion.core.worker.crops`), every frame.
  detect+track the worker's detector (yolo11n.pt, or the offline fallback YOLOv8s) with
               ByteTrack at 640 px, on a slice; its cost does not depend on the length.
  backbone     the `paper` preset's HRNet-W48 (ReFit's head; random weights, fp32 on the
               CPU) + per-frame LTE encoding, per crop, on a slice (independent of the video size).
  GTE/LTE/RRM  TAR's temporal part, S = 64, per window (one per output frame), on a slice.
  writing      `video_to_motion.core.common.motion.write_motion` of one track's rows, full length.
  import       the Blender import (`addon.importer`, panel defaults) of one track, full
               length, in a bpy child process; and the goal case, 10,000 frames x 2 tracks.
  worker       `python -m video_to_motion.core.worker` end to end, full length, as a child process whose
               peak RSS is its VmHWM, followed in /proc: a cheap configuration of the real
               TAR path (tiny backbone, 64-px crops, no refinement iterations, random
               weights; detector every --detect-every frames, every track), since TAR-HRNet
               over 18,000 frames is out of reach of a CPU.
  BlazePose    the default estimator through the worker with its default options and one
               person (--max-people 1), full length up to 60 s at 720p (the goal's case).
"TAR end to end (estimate)" is 1 / the sum of the per-frame times of the stages the TAR
estimator runs one after the other on the CPU (two decodes: pass 1 and pass 2).
The GPU column (when CUDA is visible; else "n/a"): detect+track, backbone and GTE/LTE/RRM
on the GPU at the worker's batch sizes, bf16; the estimate from them and the CPU stages at
1080p; and `gpu-worker`: the worker end to end with the paper's TAR (random weights) on the
first resolution of 1080p/720p asked for, every length, detector on every frame. The GPU
budget for the 150 fps goal is printed below the table.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime
import importlib
import json
import math
import os
import platform
import re
import subprocess
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]

FPS = 30.0
RESOLUTIONS = {"720p": (1280, 720), "1080p": (1920, 1080)}
SOURCE_SPAN = (480, 600)  # frames of vtest.avi where a walker crosses near the camera
CODEC = "mp4v"
GPU_GOAL_FPS = 150.0
CPU_GOAL_FPS = 15.0  # the default estimator at 720p, one person, 2 cores
H100_BF16_DENSE_TFLOPS = 989.0  # NVIDIA's H100 SXM datasheet figure (dense, no sparsity)
# The cheap TAR configuration of the worker runs (every component of the real path, small).
CHEAP_TAR = dict(backbone="tiny", tiny_width=8, crop_size=64, gte_dim=32, gte_heads=4, gte_ffn_dim=64,
                 lte_channels=12, hidden_map_size=8, local_feature_dim=32, state_dim=16, regressor_dim=16,
                 iterations=0)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---- the clip ----------------------------------------------------------------------------

def person_track(cache: Path, vtest: Path) -> tuple[np.ndarray, np.ndarray]:
    """The largest walker of vtest.avi in SOURCE_SPAN: (frames int[N], boxes float[N,4]), cached."""
    path = cache / "vtest_walker.npz"
    if path.is_file():
        with np.load(path) as data:
            return data["frames"], data["boxes"]
    from video_to_motion.core.estimators import RunContext
    from video_to_motion.core.worker.tracks import find_people
    from video_to_motion.core.worker.video import probe

    log("finding a walker in vtest.avi (once; cached)")
    run = RunContext(video=probe(vtest), start_frame=SOURCE_SPAN[0], stop_frame=SOURCE_SPAN[1],
                     progress=lambda *a: None, warn=lambda m: None, info=lambda **k: None)
    [track] = list(find_people(run, None, "cpu", max_people=1, detect_every=2))
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(path, frames=track.frames, boxes=track.boxes)
    return track.frames, track.boxes


def source_windows(vtest: Path, frames: np.ndarray, boxes: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """16:9 windows following the walker: (window images at source resolution, boxes in window
    coordinates normalised to [0, 1])."""
    from scipy.ndimage import gaussian_filter1d

    from video_to_motion.core.worker.video import iter_frames

    centres = gaussian_filter1d((boxes[:, :2] + boxes[:, 2:]) / 2, 2.0, axis=0, mode="nearest")
    height = float(np.median(boxes[:, 3] - boxes[:, 1]))
    images, rel = [], []
    by_frame = {int(f): i for i, f in enumerate(frames)}
    for index, frame in iter_frames(vtest, int(frames[0]), int(frames[-1]) + 1):
        i = by_frame[index]
        H, W = frame.shape[:2]
        wh = min(2.4 * height, H, W * 9 / 16)
        ww = wh * 16 / 9
        x0 = float(np.clip(centres[i, 0] - ww / 2, 0, W - ww))
        y0 = float(np.clip(centres[i, 1] - wh / 2, 0, H - wh))
        images.append(frame[int(y0):int(y0 + wh), int(x0):int(x0 + ww)].copy())
        b = boxes[i]
        rel.append([(b[0] - int(x0)) / images[-1].shape[1], (b[1] - int(y0)) / images[-1].shape[0],
                    (b[2] - int(x0)) / images[-1].shape[1], (b[3] - int(y0)) / images[-1].shape[0]])
    return images, np.asarray(rel, np.float32)


def loop_index(j: int, n: int) -> int:
    """Output frame j -> source frame of a forwards-and-backwards loop over n frames."""
    if n == 1:
        return 0
    k = j % (2 * (n - 1))
    return k if k < n else 2 * (n - 1) - k


def clip_boxes(rel: np.ndarray, size: tuple[int, int], count: int) -> np.ndarray:
    """The walker's box on each of `count` frames of a clip: float32[count, 4] pixels."""
    idx = np.array([loop_index(j, len(rel)) for j in range(count)])
    return rel[idx] * np.array([size[0], size[1], size[0], size[1]], np.float32)


def make_clip(path: Path, windows: list[np.ndarray], size: tuple[int, int], count: int) -> Path:
    """Write the looped, upscaled walker clip frame by frame (never held in memory)."""
    import cv2

    from video_to_motion.core.common.atomic import atomic_path

    if path.is_file():
        return path
    log(f"writing {path.name} ({count} frames, once; cached)")
    with atomic_path(path) as tmp:
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*CODEC), FPS, size)
        if not writer.isOpened():
            raise RuntimeError(f"OpenCV cannot write {CODEC} video")
        try:
            for j in range(count):
                writer.write(cv2.resize(windows[loop_index(j, len(windows))], size, interpolation=cv2.INTER_LINEAR))
        finally:
            writer.release()
    return path


# ---- stages ------------------------------------------------------------------------------

def measure_decode_crop(video: Path, boxes: np.ndarray) -> dict:
    """Decode every frame and cut the walker's 256² CLIFF crop: seconds of each, separately."""
    from video_to_motion.core.worker.crops import crop_square, square_box
    from video_to_motion.core.worker.video import iter_frames

    decode_s = crop_s = decode_cpu = crop_cpu = 0.0
    frames = 0
    it = iter_frames(video)
    while True:
        t0, c0 = time.perf_counter(), time.process_time()
        item = next(it, None)
        t1, c1 = time.perf_counter(), time.process_time()
        decode_s += t1 - t0
        decode_cpu += c1 - c0
        if item is None:
            break
        index, frame = item
        centre, side = square_box(boxes[index], 1.2)
        crop_square(frame, centre, float(side), out=256, rgb=True)
        crop_s += time.perf_counter() - t1
        crop_cpu += time.process_time() - c1
        frames += 1
    return {"frames": frames, "decode_fps": frames / decode_s, "crop_fps": frames / crop_s,
            "decode_cpu_ms": 1e3 * decode_cpu / frames, "crop_cpu_ms": 1e3 * crop_cpu / frames}


def measure_detect(video: Path, frames: int, batch: int, device: str) -> dict:
    """The worker's detector + tracker on `frames` frames after one warm-up batch."""
    from video_to_motion.core.worker.detection import PersonDetector
    from video_to_motion.core.worker.video import iter_frames

    notes: list[str] = []
    detector = PersonDetector(None, device, notes.append)
    clip = [f for _, f in iter_frames(video, 0, batch + frames)]
    detector.track(clip[:batch])
    t0 = time.perf_counter()
    people = 0
    for i in range(batch, len(clip), batch):
        people += sum(len(d) for d in detector.track(clip[i:i + batch]))
    seconds = time.perf_counter() - t0
    return {"fps": (len(clip) - batch) / seconds, "people": people / (len(clip) - batch), "source": detector.source}


def measure_detector_networks(video: Path, frames: int = 8) -> dict[str, float]:
    """CPU ms per frame of the detector network alone (ultralytics predict at 640 px, after a
    warm-up), for the detector the worker uses here and for the default yolo11n's
    architecture built from its yaml: random weights cost what the COCO ones do, so this
    says what detection costs where the default weights can be had (offline they cannot)."""
    from ultralytics import YOLO

    from video_to_motion.core.worker.detection import DEFAULT_WEIGHTS, PersonDetector
    from video_to_motion.core.worker.video import iter_frames

    clip = [f for _, f in iter_frames(video, 0, frames + 2)]
    used = PersonDetector(None, "cpu", lambda _m: None)
    out = {}
    default = Path(DEFAULT_WEIGHTS).stem
    for name, model in ((used.source, used.model), (f"{default} architecture", YOLO(default + ".yaml"))):
        model.predict(clip[:2], imgsz=640, verbose=False, device="cpu")
        c0 = time.process_time()
        model.predict(clip[2:], imgsz=640, verbose=False, device="cpu")
        out[name] = 1e3 * (time.process_time() - c0) / (len(clip) - 2)
    return out


def paper_config(hidden_map_size: int):
    """The `paper` preset's TAR (HRNet-W48 with ReFit's head, 256² crops) at S = hidden_map_size."""
    from video_to_motion.core.tar.config import TARConfig
    from video_to_motion.core.training.presets import get_preset

    return TARConfig(**dict(get_preset("paper")["model"], backbone_weights=None, hidden_map_size=hidden_map_size))


def measure_tar(crops: int, windows: int, hidden_map_size: int, device: str, precision: str,
                batch: int | None = None) -> dict:
    """The paper's TAR (random weights) on the estimator's path, `batch` crops or windows at a
    time (default: all at once): crops/s of the backbone with the per-frame LTE encoding,
    windows/s of GTE + LTE + RRM; and GMACs of each per frame."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from video_to_motion.core.training.body_gen import write_smpl_pkl
    from video_to_motion.core.tar import camera
    from video_to_motion.core.tar.inference import autocast_context
    from video_to_motion.core.tar.model import TAR

    dev = torch.device(device)
    batch = batch or max(crops, windows)
    with tempfile.TemporaryDirectory() as tmp, contextlib.redirect_stdout(sys.stderr):
        torch.manual_seed(0)
        model = TAR(paper_config(hidden_map_size), write_smpl_pkl(Path(tmp) / "body.pkl"),
                    load_backbone_weights=False).eval().to(dev)
    cfg = model.cfg
    if dev.type == "cuda":
        model.backbone.to(memory_format=torch.channels_last)
        model.lte.to(memory_format=torch.channels_last)

    def sync():
        if dev.type == "cuda":
            torch.cuda.synchronize()

    def geometry(n):
        img = torch.tensor([[1920.0, 1080.0]] * n, device=dev)
        focal = camera.default_focal(img)
        centre = torch.tensor([[960.0, 540.0]] * n, device=dev)
        size = torch.full((n,), 600.0, device=dev)
        return camera.bbox_info(centre, size, focal, img), focal, img, centre, size

    @torch.no_grad()
    def features(n):
        x = torch.randn(n, 3, cfg.crop_size, cfg.crop_size, device=dev)
        with autocast_context(dev, precision=precision):
            g, local = model.extract_features(x)
            return g, model.encode_local(local)

    @torch.no_grad()
    def refine(g, e):
        n = g.shape[0]
        with autocast_context(dev, precision=precision):
            return model.refine(g[:, None].expand(-1, cfg.seq_len, -1),
                                e[:, None].expand(-1, cfg.local_len, *e.shape[1:]), *geometry(n))

    with FlopCounterMode(display=False) as counter:  # also the warm-up
        g, e = features(1)
    backbone_gmacs = counter.get_total_flops() / 2e9
    model.train()  # the flop counter does not see the transformer's fused eval path
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        refine(g, e)
    model.eval()
    temporal_gmacs = counter.get_total_flops() / 2e9
    g, e = features(min(batch, crops))  # warm-up at the timed batch size (kernel choice)
    refine(g[:windows], e[:windows])
    sync()
    t0 = time.perf_counter()
    for i in range(0, crops, batch):
        g, e = features(min(batch, crops - i))
    sync()
    backbone_s = time.perf_counter() - t0
    done = 0
    t0 = time.perf_counter()
    while done < windows:
        n = min(windows - done, g.shape[0])
        refine(g[:n], e[:n])
        done += n
    sync()
    temporal_s = time.perf_counter() - t0
    return {"backbone_fps": crops / backbone_s, "temporal_fps": windows / temporal_s,
            "backbone_gmacs": backbone_gmacs, "temporal_gmacs": temporal_gmacs}


def measure_write(frames: int, tracks: int = 1) -> dict:
    import bench_import

    ext = bench_import.load_extension()
    motion_mod = importlib.import_module(f"{ext.__name__}.core.common.motion")
    motion = bench_import.synthetic_motion(ext, frames, tracks)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        path = motion_mod.write_motion(Path(tmp) / "motion.npz", motion)
        seconds = time.perf_counter() - t0
        size = path.stat().st_size
    return {"fps": frames / seconds, "seconds": seconds, "mb": size / 2 ** 20}


def measure_import(cases: list[tuple[int, int]]) -> dict[tuple[int, int], dict]:
    """Blender imports of (frames, tracks) motions, in a bpy child process."""
    spec = ",".join(f"{f}x{t}" for f, t in cases)
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--import-child", spec],
                          capture_output=True, text=True, cwd=REPO, timeout=3600)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"the Blender import child failed:\n{proc.stderr[-3000:]}")
    out = json.loads(lines[-1])
    return {tuple(map(int, k.split("x"))): v for k, v in out.items()}


def import_child(spec: str) -> None:
    """In a fresh process: import each synthetic motion into an empty bpy scene (best of 2)."""
    resources = tempfile.TemporaryDirectory(prefix="vtm_bench_")  # removed before the exit
    os.environ.setdefault("BLENDER_USER_RESOURCES", resources.name)
    import bpy

    import bench_import

    ext = bench_import.load_extension()
    importer = importlib.import_module(f"{ext.__name__}.addon.importer")
    motion_mod = importlib.import_module(f"{ext.__name__}.core.common.motion")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for case in spec.split(","):
            frames, tracks = map(int, case.split("x"))
            motion = bench_import.synthetic_motion(ext, frames, tracks)
            path = motion_mod.write_motion(Path(tmp) / f"{case}.npz", motion)
            best = best_cpu = float("inf")
            for _ in range(2):
                bpy.ops.wm.read_homefile(use_empty=True, use_factory_startup=True)
                t0, c0 = time.perf_counter(), time.process_time()
                importer.import_motion(bpy.context, path, importer.ImportOptions(camera=True))
                best = min(best, time.perf_counter() - t0)
                best_cpu = min(best_cpu, time.process_time() - c0)
            results[case] = {"seconds": best, "cpu_seconds": best_cpu, "fps": frames / best}
    print(json.dumps(results), flush=True)
    sys.stdout.flush()
    resources.cleanup()
    if "bpy" in sys.modules:  # os._exit skips Blender's own clean-up of its temp folder
        shutil.rmtree(sys.modules["bpy"].app.tempdir, ignore_errors=True)
    os._exit(0)  # bpy 4.5 can hang at exit


def watch_peak_rss(pid: int, every: float = 0.05) -> dict:
    """Follow a child's high-water resident set (VmHWM, MiB) until it exits; returns a dict
    whose "mib" holds the last value read.

    Not wait4's ru_maxrss: on Linux a child's ru_maxrss starts from its parent's resident
    set at fork time (exec keeps the larger), so it would report this script's memory.
    VmHWM belongs to the memory the exec'd worker owns; it only grows, and the last read
    comes at most `every` seconds before the worker exits.
    """
    import threading

    peak = {"mib": math.nan}

    def follow() -> None:
        status = Path(f"/proc/{pid}/status")
        while True:
            try:
                text = status.read_text()
            except OSError:
                return
            found = re.search(r"^VmHWM:\s+(\d+) kB", text, re.M)
            if found:
                peak["mib"] = int(found[1]) / 1024
            time.sleep(every)

    threading.Thread(target=follow, daemon=True).start()
    return peak


def measure_worker(video: Path, frames: int, workdir: Path, estimator_args: list[str]) -> dict:
    """`python -m video_to_motion.core.worker.cli VIDEO ESTIMATOR_ARGS` as a child process: wall time, time of each
    stage (from its progress events), peak RSS (`watch_peak_rss`), rows written, and the BlazePose
    estimator's own split of its time (from its log line) when it ran."""
    out = workdir / f"{video.stem}.npz"
    cmd = [sys.executable, "-m", "video_to_motion.core.worker", str(video), "-o", str(out), "--device", "cpu", *estimator_args]
    env = dict(os.environ, YOLO_OFFLINE=os.environ.get("YOLO_OFFLINE", "1"))
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as stderr:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True)
        peak = watch_peak_rss(proc.pid)
        stage_start: dict[str, float] = {}
        last = None
        for line in proc.stdout:
            with contextlib.suppress(json.JSONDecodeError):
                event = json.loads(line)
                if event.get("event") == "progress" and event["stage"] not in stage_start:
                    stage_start[event["stage"]] = time.perf_counter()
                last = event
        _, status, usage = os.wait4(proc.pid, 0)
        end = time.perf_counter()
        proc.returncode = os.waitstatus_to_exitcode(status)
        stderr.seek(0)
        log_text = stderr.read()
    if proc.returncode != 0:
        raise RuntimeError(f"the worker failed on {video.name}: {last}\n{log_text[-2000:]}")
    wall = end - t0
    marks = sorted(stage_start.items(), key=lambda kv: kv[1]) + [("end", end)]
    stages = {name: marks[i + 1][1] - t for i, (name, t) in enumerate(marks[:-1])}
    with np.load(out) as data:
        rows = int(data["frame_ids"].shape[0])
    out.unlink(missing_ok=True)
    result = {"fps": frames / wall, "rows": rows, "seconds": wall, "rss_mib": peak["mib"],
              "cpu_ms": 1e3 * (usage.ru_utime + usage.ru_stime) / frames,
              "startup_s": stage_start.get("detect", t0) - t0,
              "pass1_fps": frames / stages.get("detect", math.nan),
              "pass2_fps": frames / stages.get("estimate", math.nan),
              "pass2_poses_per_s": rows / stages.get("estimate", math.nan),
              "camera_s": stages.get("camera", math.nan),
              "world_write_s": stages.get("world", 0.0) + stages.get("write", 0.0)}
    split = re.search(r"detect\+track ([\d.]+) s, landmarks ([\d.]+) s, solve ([\d.]+) s", log_text)
    cpu = re.search(r"cpu: detect\+track ([\d.]+) s, landmarks ([\d.]+) s, solve ([\d.]+) s", log_text)
    world = re.search(r"world stage: ([\d.]+) s, cpu ([\d.]+) s", log_text)
    camera = re.search(r"camera stage: ([\d.]+) s, cpu ([\d.]+) s", log_text)
    loaded = re.search(r"detector loaded: ([\d.]+) s, cpu ([\d.]+) s", log_text)
    detected = re.search(r"detector ran on (\d+) of (\d+) frames \(([^)]*)\)", log_text)
    if detected:
        result["detected"] = f"{detected[1]} of {detected[2]} ({detected[3]})"
    if cpu and world:
        # CPU seconds of all the worker's threads per stage; start-up (imports, model
        # loading) and writing are the rest of the process's total. Loading the detector
        # happens inside detect+track; it is start-up.
        load = float(loaded[2]) if loaded else 0.0
        stages_cpu = {"detect+track": float(cpu[1]) - load, "landmarks": float(cpu[2]), "solve": float(cpu[3]),
                      "camera motion": float(camera[2]) if camera else 0.0, "world": float(world[2])}
        total = usage.ru_utime + usage.ru_stime
        stages_cpu["start-up + writing"] = total - sum(stages_cpu.values())
        stages_cpu["total"] = total
        result["stage_cpu_s"] = stages_cpu
        result["detector_load_cpu_s"] = load
    if split:
        # The log gives tenths of seconds: a solve under 0.05 s is shown as a lower bound.
        solve = float(split[3])
        result.update(landmarks_fps=frames / max(float(split[2]), 1e-9),
                      solve_fps=rows / solve if solve > 0 else f"> {rows / 0.05:,.0f}")
    return result


def best_of(runs: int, measure, key: str = "fps") -> dict:
    """The fastest of `runs` measurements (by `key`); peak memory is the largest seen."""
    results = [measure() for _ in range(max(1, runs))]
    best = max(results, key=lambda r: r[key])
    if "rss_mib" in best:
        best = dict(best, rss_mib=max(r["rss_mib"] for r in results))
    return best


def random_checkpoint(workdir: Path, cfg, name: str) -> tuple[Path, Path]:
    """A checkpoint of TAR `cfg` with random weights (and the generated body) in workdir."""
    import torch

    from video_to_motion.core.training.body_gen import write_smpl_pkl
    from video_to_motion.core.tar.checkpoint import save_checkpoint
    from video_to_motion.core.tar.model import TAR

    checkpoint, body = workdir / f"{name}.pt", workdir / "body.pkl"
    if not body.is_file():
        write_smpl_pkl(body)
    if not checkpoint.is_file():
        torch.manual_seed(0)
        with contextlib.redirect_stdout(sys.stderr):
            model = TAR(cfg, body, load_backbone_weights=False)
        save_checkpoint(checkpoint, model, meta={"note": "random weights for bench_pipeline.py"})
    return checkpoint, body


def cheap_checkpoint(workdir: Path) -> tuple[Path, Path]:
    from video_to_motion.core.tar.config import TARConfig

    return random_checkpoint(workdir, TARConfig(**CHEAP_TAR), "cheap_tar")


# ---- the report --------------------------------------------------------------------------

def fmt(value, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if not math.isfinite(value):
        return "-"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}" if value >= 1 else f"{value:.2g}"


def print_table(cases, stage_rows, header_note):
    cols = [f"{r} {s:g} s" for r, s in cases] + ["GPU"]
    first = max(len(r[0]) for r in stage_rows)
    second = max(len(r[1]) for r in stage_rows)
    widths = [max([len(c), 9] + [len(row[2][i]) for row in stage_rows]) for i, c in enumerate(cols)]
    print(header_note)
    def line(name: str, ran_on: str, cells) -> str:
        return (f"| {name:<{first}} | {ran_on:<{second}} | "
                + " | ".join(f"{c:>{w}}" for c, w in zip(cells, widths)) + " |")

    print(line("stage (CPU)", "ran on", cols))
    print(f"|{'-' * (first + 2)}|{'-' * (second + 2)}|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for name, ran_on, cells in stage_rows:
        print(line(name, ran_on, cells))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="10 s and 60 s, small slices, worker at 720p only")
    p.add_argument("--lengths", type=float, nargs="+", help="video lengths in seconds (default 10 60 600)")
    p.add_argument("--resolutions", nargs="+", choices=sorted(RESOLUTIONS), help="default: 720p 1080p")
    p.add_argument("--skip", nargs="*", default=[],
                   choices=("decode", "detect", "tar", "write", "import", "worker", "blazepose", "gpu-worker"),
                   help="stages not to run (worker: the cheap CPU one; gpu-worker: the paper's TAR on a GPU)")
    p.add_argument("--worker-resolutions", nargs="+", choices=sorted(RESOLUTIONS),
                   help="resolutions of the full-length worker runs (default: all; --quick: 720p)")
    p.add_argument("--detect-every", type=int, default=30, help="detector stride of the cheap TAR worker runs")
    p.add_argument("--blazepose-lengths", type=float, nargs="+",
                   help="lengths of the BlazePose worker runs (default: those up to 60 s; --quick: 10 s)")
    p.add_argument("--blazepose-resolutions", nargs="+", choices=sorted(RESOLUTIONS), default=["720p"],
                   help="resolutions of the BlazePose worker runs (default 720p, the goal's)")
    p.add_argument("--blazepose-args", default="",
                   help="more worker options for the BlazePose runs, e.g. '--max-detect-interval 0.5'")
    p.add_argument("--detect-frames", type=int, help="detector slice in frames (default 48; --quick 16)")
    p.add_argument("--tar-crops", type=int, help="backbone slice in crops (default 4; --quick 2)")
    p.add_argument("--tar-windows", type=int, help="temporal slice in windows (default 2; --quick 1)")
    p.add_argument("--hidden-map-size", type=int, default=64, help="TAR's S (Table S3)")
    p.add_argument("--gpu-tar-frames", type=int, default=512, help="GPU: crops and windows timed (default 512)")
    p.add_argument("--gpu-detect-frames", type=int, default=96, help="GPU: detector slice in frames (default 96)")
    p.add_argument("--gpu-worker-args", default="--max-people 1",
                   help="worker options of the GPU worker runs (default '--max-people 1': the goal's one person)")
    p.add_argument("--repeat", type=int, help="runs of each full-length case up to 60 s; the fastest counts "
                                              "(default 2; --quick 1)")
    p.add_argument("--cache", type=Path, default=REPO / "sample_data" / "bench",
                   help="where generated clips are kept (default sample_data/bench, ignored by git)")
    p.add_argument("--vtest", type=Path,
                   default=Path(os.environ.get("VTM_SAMPLE_DATA") or REPO / "sample_data") / "vtest.avi")
    p.add_argument("--import-child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.import_child:
        import_child(args.import_child)
        return 0

    lengths = args.lengths or ([10.0, 60.0] if args.quick else [10.0, 60.0, 600.0])
    resolutions = args.resolutions or ["720p", "1080p"]
    worker_res = args.worker_resolutions or (["720p"] if args.quick else resolutions)
    detect_frames = args.detect_frames or (16 if args.quick else 48)
    tar_crops = args.tar_crops or (2 if args.quick else 4)
    tar_windows = min(args.tar_windows or (1 if args.quick else 2), tar_crops)
    skip = set(args.skip)
    args.repeat = args.repeat or (1 if args.quick else 2)
    if not args.vtest.is_file():
        print(f"no video at {args.vtest}; run scripts/get_sample_data.sh or pass --vtest", file=sys.stderr)
        return 1
    os.environ.setdefault("YOLO_OFFLINE", "1")

    import cv2
    import torch

    from video_to_motion.core.worker.tracks import default_detect_every

    gpu = torch.cuda.is_available()
    load_before = os.getloadavg()
    t_start = time.perf_counter()
    frames_src, boxes_src = person_track(args.cache, args.vtest)
    windows, rel = source_windows(args.vtest, frames_src, boxes_src)
    cases = [(r, s) for r in resolutions for s in lengths]
    clips = {}
    for r, s in cases:
        count = int(round(s * FPS))
        clips[(r, s)] = make_clip(args.cache / f"walker_{r}_{s:g}s.mp4", windows, RESOLUTIONS[r], count)

    results: dict[str, dict] = {k: {} for k in ("decode", "detect", "write", "import", "worker", "blazepose")}

    def repeats(seconds: float) -> int:
        """Runs of a full-length case: the shared machine's speed varies, so short ones run twice."""
        return args.repeat if seconds <= 60 else 1

    for case in cases:
        r, s = case
        count = int(round(s * FPS))
        if "decode" not in skip:
            log(f"decode + crop {r} {s:g} s")
            results["decode"][case] = best_of(repeats(s), lambda: measure_decode_crop(
                clips[case], clip_boxes(rel, RESOLUTIONS[r], count)), "decode_fps")
    for r in resolutions:
        if "detect" not in skip:
            log(f"detect + track {r}, {detect_frames} frames")
            results["detect"][r] = measure_detect(clips[(r, lengths[0])], detect_frames, 8, "cpu")
    tar = None
    if "tar" not in skip:
        log(f"TAR-HRNet-W48 S={args.hidden_map_size}: {tar_crops} crops, {tar_windows} windows, fp32 CPU")
        tar = measure_tar(tar_crops, tar_windows, args.hidden_map_size, "cpu", "fp32")
    for s in lengths:
        if "write" not in skip:
            results["write"][s] = measure_write(int(round(s * FPS)))
    if "import" not in skip:
        log("Blender import (child process)")
        imports = measure_import([(int(round(s * FPS)), 1) for s in lengths] + [(10_000, 2)])
        results["import"] = {s: imports[(int(round(s * FPS)), 1)] for s in lengths}
        results["import"]["goal"] = imports[(10_000, 2)]
    if "worker" not in skip:
        with tempfile.TemporaryDirectory() as tmp:
            for case in cases:
                if case[0] in worker_res:
                    log(f"worker {case[0]} {case[1]:g} s")
                    checkpoint, body = cheap_checkpoint(Path(tmp))
                    results["worker"][case] = best_of(repeats(case[1]), lambda: measure_worker(
                        clips[case], int(round(case[1] * FPS)), Path(tmp),
                        ["--estimator", "tar", "--checkpoint", str(checkpoint), "--smpl-model", str(body),
                         "--detect-every", str(args.detect_every)]))
    bp_lengths = args.blazepose_lengths or [s for s in lengths if s <= (10 if args.quick else 60)]
    if "blazepose" not in skip:
        with tempfile.TemporaryDirectory() as tmp:
            for case in cases:
                if case[0] in args.blazepose_resolutions and case[1] in bp_lengths:
                    log(f"BlazePose worker {case[0]} {case[1]:g} s")
                    results["blazepose"][case] = best_of(repeats(case[1]), lambda: measure_worker(
                        clips[case], int(round(case[1] * FPS)), Path(tmp), ["--estimator", "blazepose", "--max-people",
                                                                           "1", *args.blazepose_args.split()]))
    # The GPU column: the stages the TAR estimator runs on the GPU, at the worker's batch
    # size, and the worker itself end to end with the paper's TAR (random weights, bf16).
    gpu_res: dict = {"worker": {}}
    gpu_case = ("1080p" if "1080p" in resolutions else resolutions[-1], lengths[0])
    if gpu:
        from video_to_motion.core.estimators.tar import BATCH_SIZE
        from video_to_motion.core.worker.tracks import DETECT_BATCH

        if "detect" not in skip:
            log(f"detect + track {gpu_case[0]} on the GPU, {args.gpu_detect_frames} frames")
            gpu_res["detect"] = measure_detect(clips[gpu_case], args.gpu_detect_frames, DETECT_BATCH["cuda"], "cuda")
        if "tar" not in skip:
            log(f"TAR S={args.hidden_map_size} on the GPU, bf16: {args.gpu_tar_frames} crops and windows, "
                f"batches of {BATCH_SIZE['cuda']}")
            gpu_res["tar"] = measure_tar(args.gpu_tar_frames, args.gpu_tar_frames, args.hidden_map_size, "cuda",
                                         "bf16", BATCH_SIZE["cuda"])
        if "gpu-worker" not in skip:
            with tempfile.TemporaryDirectory() as tmp:
                checkpoint, body = random_checkpoint(Path(tmp), paper_config(args.hidden_map_size), "paper_tar")
                for s in lengths:
                    case = (gpu_case[0], s)
                    log(f"worker, the paper's TAR on the GPU, {case[0]} {s:g} s")
                    gpu_res["worker"][s] = best_of(repeats(s), lambda: measure_worker(
                        clips[case], int(round(s * FPS)), Path(tmp),
                        ["--estimator", "tar", "--checkpoint", str(checkpoint), "--smpl-model", str(body),
                         "--device", "cuda", *args.gpu_worker_args.split()]))
    load_after = os.getloadavg()
    minutes = (time.perf_counter() - t_start) / 60

    # Rows -------------------------------------------------------------------------------
    gpu_cell = "n/a (no GPU lent)" if not gpu else "CPU stage"
    dec, det, wr, imp, wk, bp = (results[k] for k in ("decode", "detect", "write", "import", "worker", "blazepose"))
    gtar, gwk = gpu_res.get("tar"), gpu_res["worker"]

    def per_case(get, store, key=lambda c: c, on_gpu=None):
        cell = gpu_cell if on_gpu is None or not gpu else fmt(on_gpu) if on_gpu else "not run"
        return [fmt(get(store[key(c)])) if key(c) in store else "-" for c in cases] + [cell]

    rows = [
        ("decode (video fps)", "every frame", per_case(lambda d: d["decode_fps"], dec)),
        ("detect+track (fps)", f"{detect_frames}-frame slice", per_case(
            lambda d: d["fps"], det, lambda c: c[0], gpu_res.get("detect", {}).get("fps", 0))),
        ("crop 256² (crops/s)", "every frame", per_case(lambda d: d["crop_fps"], dec)),
    ]
    if tar:
        rows += [
            (f"backbone HRNet-W48 + LTE enc. (crops/s)", f"{tar_crops}-crop slice",
             [fmt(tar["backbone_fps"], 2)] * len(cases) + [fmt(gtar["backbone_fps"]) if gtar else gpu_cell]),
            (f"GTE/LTE/RRM S={args.hidden_map_size} (windows/s)", f"{tar_windows}-window slice",
             [fmt(tar["temporal_fps"], 2)] * len(cases) + [fmt(gtar["temporal_fps"]) if gtar else gpu_cell]),
        ]
    rows += [
        ("writing vtm.motion/1 (frames/s)", "every frame, 1 track", per_case(lambda d: d["fps"], wr, lambda c: c[1])),
        ("Blender import (frames/s)", "every frame, 1 track", per_case(lambda d: d["fps"], imp, lambda c: c[1])),
    ]
    if tar and dec and det:
        def e2e(c, detected=None, stages=None):
            detected, stages = detected or det.get(c[0]), stages or tar
            if c not in dec or not detected:
                return None
            spf = (2 / dec[c]["decode_fps"] + 1 / detected["fps"] + 1 / dec[c]["crop_fps"]
                   + 1 / stages["backbone_fps"] + 1 / stages["temporal_fps"]
                   + (1 / wr[c[1]]["fps"] if c[1] in wr else 0))
            return 1 / spf
        on_gpu = e2e(gpu_case, gpu_res["detect"], gtar) if gtar and "detect" in gpu_res else None
        rows.append(("TAR end to end, 1 person (video fps)", "estimate from the stages",
                     [fmt(e2e(c), 2) for c in cases] + [fmt(on_gpu) if on_gpu else gpu_cell]))
    if gwk:
        rows += [
            (f"worker, paper's TAR S={args.hidden_map_size} (video fps)", f"every frame, {gpu_case[0]}"
             + (f", {args.gpu_worker_args}" if args.gpu_worker_args else ""),
             ["-"] * len(cases) + [" / ".join(fmt(gwk[s]["fps"]) for s in lengths if s in gwk)]),
            ("  without start-up (video fps)", "", ["-"] * len(cases) + [" / ".join(
                fmt(s * FPS / (gwk[s]["seconds"] - gwk[s]["startup_s"])) for s in lengths if s in gwk)]),
            ("  pass 1 (video fps), pass 2 (poses/s)", "", ["-"] * len(cases) + [" / ".join(
                f"{fmt(gwk[s]['pass1_fps'])}, {fmt(gwk[s]['pass2_poses_per_s'])}" for s in lengths if s in gwk)]),
            ("  camera stage, CPU (s)", "every frame", ["-"] * len(cases) + [" / ".join(
                fmt(gwk[s]["camera_s"]) for s in lengths if s in gwk)]),
            ("  world + writing + exit (s)", "", ["-"] * len(cases) + [" / ".join(
                fmt(gwk[s]["world_write_s"]) for s in lengths if s in gwk)]),
            ("  rows written", "", ["-"] * len(cases) + [" / ".join(f"{gwk[s]['rows']:,}" for s in lengths
                                                                      if s in gwk)]),
        ]
    rows += [
        ("worker, cheap config (video fps)", "every frame", per_case(lambda d: d["fps"], wk)),
        ("  start-up + model loading (s)", "", per_case(lambda d: d["startup_s"], wk)),
        ("  pass 1: decode + detect (fps)", "every frame", per_case(lambda d: d["pass1_fps"], wk)),
        ("  pass 2: decode + crop + TAR (fps)", "every frame", per_case(lambda d: d["pass2_fps"], wk)),
        ("  frames with a pose (rows written)", "", per_case(lambda d: f"{d['rows']:,}", wk)),
        ("worker peak RSS (MiB)", "every frame", per_case(lambda d: d["rss_mib"], wk)),
        ("BlazePose worker, defaults (video fps)", "every frame", per_case(lambda d: d["fps"], bp)),
        ("  start-up + model loading (s)", "", per_case(lambda d: d["startup_s"], bp)),
        ("  pass 1: decode + detect + track (fps)", "every frame", per_case(lambda d: d["pass1_fps"], bp)),
        ("  frames the detector ran on", "", per_case(lambda d: d.get("detected", "-"), bp)),
        ("  pass 2: decode + crop + BlazePose (fps)", "every frame",
         per_case(lambda d: d.get("landmarks_fps", math.nan), bp)),
        ("  flips + IK + root fit (poses/s)", "every pose", per_case(lambda d: d.get("solve_fps", math.nan), bp)),
        ("  frames with a pose (rows written)", "", per_case(lambda d: f"{d['rows']:,}", bp)),
        ("  peak RSS (MiB)", "every frame", per_case(lambda d: d["rss_mib"], bp)),
    ]

    cpu_name = platform.processor() or platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_name = line.split(":", 1)[1].strip()
                break
    h, w = windows[0].shape[:2]
    note = (f"Video to Motion pipeline, {datetime.date.today()}: {cpu_name}, {os.cpu_count()} cores, "
            f"{torch.get_num_threads()} torch threads, torch {torch.__version__}, OpenCV {cv2.__version__}; "
            f"load average {load_before[0]:.1f} before / {load_after[0]:.1f} after ({minutes:.0f} min; other "
            f"processes share the cores). GPU: "
            + (torch.cuda.get_device_name() if gpu else "none (no GPU lent to this run)") + ".\n"
            f"Clip: one walker of vtest.avi ({len(windows)} frames of a {w}x{h} window, looped forwards and "
            f"backwards) upscaled, {CODEC} at {FPS:g} fps. Detector: "
            + (next(iter(det.values()))["source"] if det else "not run") + ", 640 px, batch 8. "
            f"Worker cheap config: TAR tiny backbone, 64-px crops, S=8, 0 iterations, random weights, detector every "
            f"{args.detect_every} frames, every track (the fallback detector's identity switches at this stride "
            f"split the walker into several tracks; all are estimated, so pass 2 covers the whole video), CPU. "
            f"Full-length cases up to 60 s: the fastest of {args.repeat} runs; 600 s: one run. BlazePose worker: "
            f"the default options, --max-people 1{(' ' + args.blazepose_args) if args.blazepose_args else ''}.")
    print()
    print_table(cases, rows, note)

    # Linear cost and memory --------------------------------------------------------------
    longest, shortest = max(lengths), min(lengths)
    print(f"\nLinear cost: milliseconds per frame, wall (CPU time of all threads) at each length; the worker's "
          f"include its fixed start-up ({', '.join(f'{x:g} s' for x in lengths)}):")
    for name, store, fps_key, cpu_key in (("decode", dec, "decode_fps", "decode_cpu_ms"),
                                          ("crop", dec, "crop_fps", "crop_cpu_ms"),
                                          ("worker, cheap config", wk, "fps", "cpu_ms"),
                                          ("BlazePose worker", bp, "fps", "cpu_ms")):
        for r in resolutions:
            got = [store.get((r, x)) for x in lengths]
            if any(got):
                cells = ["-" if g is None else f"{1e3 / g[fps_key]:.1f} ({g[cpu_key]:.1f})" for g in got]
                print(f"  {name} {r}: " + " | ".join(cells))
    for name, store in (("writing", wr), ("import", imp)):
        got = [store.get(x) for x in lengths]
        if any(got):
            print(f"  {name}: " + " | ".join("-" if g is None else f"{1e3 / g['fps']:.3f}" for g in got))

    # Goals -------------------------------------------------------------------------------
    print("\nGoals:")
    if wk:
        for r in worker_res:
            a, b = wk.get((r, longest)), wk.get((r, shortest))
            if a and b and longest != shortest:
                ratio = a["rss_mib"] / b["rss_mib"]
                print(f"  worker peak memory, {longest:g} s vs {shortest:g} s of {r}: {a['rss_mib']:.0f} / "
                      f"{b['rss_mib']:.0f} MiB = {ratio:.2f}x (goal <= 1.5x): {'met' if ratio <= 1.5 else 'MISSED'}")
    for (r, length), d in sorted(bp.items()):
        bare = (d["rows"] and d["seconds"] - d["startup_s"]) or math.nan
        frames = int(round(length * FPS))
        print(f"  CPU default estimator (blazepose, default options), {r}, 1 person, {os.cpu_count()} cores, "
              f"{length:g} s clip: {d['fps']:.1f} video fps with start-up ({d['startup_s']:.1f} s), "
              f"{frames / bare:.1f} without (goal >= {CPU_GOAL_FPS:g}): with start-up "
              f"{'met' if d['fps'] >= CPU_GOAL_FPS else 'MISSED'}, without {'met' if frames / bare >= CPU_GOAL_FPS else 'MISSED'}")
    for (r, length), d in sorted(bp.items()):
        if "stage_cpu_s" in d:
            frames = int(round(length * FPS))
            print(f"  BlazePose worker {r} {length:g} s, CPU seconds per stage (all threads; the load does not "
                  f"stretch them as it does wall time), and ms per video frame:")
            for name, sec in d["stage_cpu_s"].items():
                print(f"    {name:<20} {sec:8.2f} s {1e3 * sec / frames:8.1f} ms/frame")
            print(f"    (detect+track decodes every frame, detects on {d.get('detected', '?')} and excludes loading "
                  f"the detector, {d['detector_load_cpu_s']:.2f} s, counted in start-up; landmarks decodes every "
                  f"frame again, on a thread; camera motion decodes a third time; decoding alone: the decode row)")
            bare = d["stage_cpu_s"]["total"] - max(d["stage_cpu_s"]["start-up + writing"], 0.0)
            print(f"    on {os.cpu_count()} idle cores at most {os.cpu_count() * frames / max(bare, 1e-9):.1f} video fps "
                  f"without start-up if every stage used every core (CPU-bound; goal >= {CPU_GOAL_FPS:g})")
            nets = measure_detector_networks(clips[(r, length)])
            every = default_detect_every('cpu', FPS)
            print(f"    the detector network alone, CPU ms per detected frame (per video frame at 1 in {every}): "
                  + "; ".join(f"{k} {v:.0f} ({v / every:.0f})" for k, v in nets.items()))
    if "goal" in imp:
        g = imp["goal"]
        print(f"  Blender import, 10,000 frames x 2 tracks: {g['seconds']:.2f} s wall, {g['cpu_seconds']:.2f} s CPU "
              f"(goal < 1 s): {'met' if g['seconds'] < 1 else 'MISSED'}")
    for s, d in gwk.items():
        bare = s * FPS / (d["seconds"] - d["startup_s"])
        print(f"  GPU >= {GPU_GOAL_FPS:g} video fps at 1080p, TAR S={args.hidden_map_size}, bf16, worker on "
              f"{gpu_case[0]} {s:g} s: {d['fps']:.1f} with start-up ({d['startup_s']:.1f} s), {bare:.1f} without: "
              f"{'met' if bare >= GPU_GOAL_FPS else 'MISSED'} without start-up, "
              f"{'met' if d['fps'] >= GPU_GOAL_FPS else 'MISSED'} with")
    if not gwk:
        print(f"  GPU >= {GPU_GOAL_FPS:g} video fps at 1080p, TAR S=64, bf16: "
              + ("worker not run" if gpu else "n/a (no GPU lent): not measured"))
    if tar:
        gmacs = tar["backbone_gmacs"] + tar["temporal_gmacs"]
        need = GPU_GOAL_FPS * gmacs * 2 / 1e3  # TFLOP/s
        print(f"\nGPU budget for {GPU_GOAL_FPS:g} video fps (1 person; stages overlap on the GPU path, so each must "
              f"reach {GPU_GOAL_FPS:g}/s on its own):")
        print(f"  TAR per frame: backbone + LTE encoding {tar['backbone_gmacs']:.1f} GMACs, GTE/LTE/RRM "
              f"{tar['temporal_gmacs']:.1f} GMACs = {gmacs:.1f} GMACs -> {need:.0f} TFLOP/s sustained, "
              f"{100 * need / H100_BF16_DENSE_TFLOPS:.0f}% of an H100's {H100_BF16_DENSE_TFLOPS:g} dense bf16 TFLOP/s.")
        if dec:
            for r in resolutions:
                d = dec.get((r, shortest))
                if d:
                    print(f"  decode {r}: 2 passes -> {2 * GPU_GOAL_FPS:g} frames/s needed; one decoder here gives "
                          f"{d['decode_fps']:.0f}/s -> {math.ceil(2 * GPU_GOAL_FPS / d['decode_fps'])} decoding "
                          f"process(es)/core(s) at this speed. crop: {GPU_GOAL_FPS:g}/s needed, "
                          f"{d['crop_fps']:.0f}/s here.")
        if det:
            d = next(iter(det.values()))
            print(f"  detect+track: {GPU_GOAL_FPS:g}/s needed at --detect-every 1 ({GPU_GOAL_FPS / 5:g}/s at 5); "
                  f"{d['fps']:.1f}/s on this CPU.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
