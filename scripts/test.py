"""The test suite in one command, its set-up included (the same as the demo's):

    scripts/test.sh [--blender 4.2,4.5,5.3] [PYTEST ARGS...]

1. the worker's environment `.venv` (scripts/demo.py's set-up: PyTorch, the worker's
   packages, bpy 4.5 LTS, pytest);
2. the sample data (vtest.avi and CMU BVH files from Debian packages) in sample_data/;
3. one small environment per other supported Blender in .venv-blender/ (bpy, numpy,
   scipy, pytest: the Blender side needs no torch); 4.5 LTS is the worker
   environment's own bpy;
4. pytest over tests/ with the worker's Python; the Blender-side tests run on each
   Blender (VTM_BLENDER_PYTHONS, see tests/blender_harness.py).
Each set-up step prints one line (pip's output goes to .setup.log, shown on failure).
A Blender whose Python (3.11 or 3.13) is not on this machine is left out with a note;
under CI (CI=true) that is an error. The exit code is pytest's (1 when set-up failed).
"""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

import demo  # its own folder is on sys.path; it loads the package (stdlib only)
from demo import REPO, DemoError, run_step
from video_to_motion.core.client.worker_setup import python_candidates, python_version  # noqa: E402 (stdlib only)

# Blender version -> (its Python, what its test environment holds); None: the worker's .venv.
BLENDERS = {
    "4.2": ("3.11", ["bpy==4.2.23", "numpy>=1.26,<2"]),
    "4.5": None,
    "5.3": ("3.13", ["bpy==5.3.0", "numpy>=2.2"]),
}
BLENDER_TEST_PACKAGES = ["scipy", "pytest>=8"]
IN_CI = os.environ.get("CI", "").strip().lower() in ("true", "1")


demo.PREFIX = "test"
log = demo.log


def find_python(version: str) -> str | None:
    """A working Python `version` (like '3.13'): on PATH, in pyenv or from uv (a pyenv shim
    of a version that is not selected does not count)."""
    wanted = tuple(int(x) for x in version.split("."))
    for exe in python_candidates(wanted):
        if python_version(exe) == wanted:
            return exe
    return None


def blender_env(version: str, worker_python: Path) -> str | None:
    """The Python of Blender `version`'s test environment, made when missing."""
    spec = BLENDERS[version]
    if spec is None:
        return str(worker_python)
    python_version, packages = spec
    env_dir = REPO / ".venv-blender" / version
    python = env_dir / "bin" / "python"
    wanted = packages + BLENDER_TEST_PACKAGES
    stamp = env_dir / "vtm-packages.txt"
    if python.exists() and stamp.is_file() and stamp.read_text() == "\n".join(wanted):
        return str(python)
    base = find_python(python_version)
    if base is None:
        message = (f"Blender {version} needs Python {python_version} (bpy's wheels), which is not on this machine "
                   f"(not on PATH, in pyenv or uv)")
        if IN_CI:
            raise DemoError(message)
        log(f"{message}: its tests are left out")
        return None
    if env_dir.exists():
        shutil.rmtree(env_dir)
    run_step(f"creating the Blender {version} test environment (Python {python_version})",
             [base, "-m", "venv", str(env_dir)])
    run_step(f"installing {' '.join(wanted)} for Blender {version}",
             [str(python), "-m", "pip", "install", "--progress-bar", "off", *wanted])
    stamp.write_text("\n".join(wanted))
    return str(python)


def main(argv: list[str]) -> int:
    versions = list(BLENDERS)
    if argv[:1] == ["--blender"] and len(argv) > 1:
        versions = [v.strip() for v in argv[1].split(",") if v.strip()]
        argv = argv[2:]
        unknown = sorted(set(versions) - set(BLENDERS))
        if unknown:
            print(f"test: error: no Blender {', '.join(unknown)}; supported: {', '.join(BLENDERS)}", file=sys.stderr)
            return 2
    try:
        python, note = demo.setup(demo.build_parser().parse_args([]))
        log(f"worker environment: {python} ({note})")
        data = Path(os.environ.get("VTM_SAMPLE_DATA") or REPO / "sample_data")
        if not (data / "vtest.avi").is_file() or not glob.glob(str(data / "bvh" / "*.bvh")):
            log(f"fetching the sample data into {data}: {demo.FETCHED}")
        run_step("sample data", ["bash", str(REPO / "scripts" / "get_sample_data.sh"), str(data)])
        found = {v: blender_env(v, python) for v in versions}
        blenders = [p for p in found.values() if p]
    except DemoError as exc:
        print(f"test: error: {exc}", file=sys.stderr)
        return 1
    env = dict(os.environ, VTM_SAMPLE_DATA=str(data), VTM_BLENDER_PYTHONS=os.pathsep.join(blenders))
    log(f"running the tests (the Blender side on Blender {', '.join(v for v, p in found.items() if p)})")
    return subprocess.run([str(python), "-m", "pytest", "-q", *argv], cwd=REPO, env=env).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
