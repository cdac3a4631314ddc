"""Creating the worker's virtual environment from the add-on (no bpy, stdlib only).

Steps, each a child process polled without blocking (core.client.child_process):
1. `BASE_PYTHON -m venv ENV` (skipped when ENV already has a Python);
2. PyTorch: the CUDA build when an NVIDIA GPU is present, the CPU build otherwise;
3. the rest of the worker's packages (pyproject.toml's `worker` extra);
4. `python -m video_to_motion.core.worker.check`, whose report says what the environment has.
A failing step stops the set-up with pip's own ERROR lines in the message.
"""
from __future__ import annotations

import dataclasses
import os
import platform
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Sequence

from .child_process import ChildProcess, python_executable_problem
from ..common.protocol import ProtocolError, parse_event
from .worker_client import CHECK_MODULE, PACKAGE_ROOT, worker_env

# Used when pyproject.toml is not beside core/ (it ships in the extension, but be safe).
FALLBACK_WORKER_REQUIREMENTS = ["torch>=2.6", "torchvision", "timm>=1.0", "smplx>=0.1.28", "scipy",
                                "opencv-python>=4.8", "ultralytics>=8.3", "mediapipe==0.10.21"]
TORCH_PACKAGES = ("torch", "torchvision")
PYTORCH_INDEX = "https://download.pytorch.org/whl"
WINDOWS_CUDA_TAG = "cu126"
CHECK_LABEL = "checking the worker"


def venv_python(env_dir: str | os.PathLike) -> Path:
    env_dir = Path(env_dir)
    return env_dir / "Scripts" / "python.exe" if os.name == "nt" else env_dir / "bin" / "python"


def has_nvidia_gpu() -> bool:
    """An NVIDIA GPU with a working driver (nvidia-smi lists one)."""
    smi = shutil.which("nvidia-smi")
    if not smi:
        return False
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return False
    return out.returncode == 0 and "GPU" in out.stdout


def worker_requirements(pyproject: str | os.PathLike | None = None) -> list[str]:
    """The `worker` extra of pyproject.toml (what `pip install -e '.[worker]'` installs)."""
    path = Path(pyproject) if pyproject else PACKAGE_ROOT / "pyproject.toml"
    try:
        import tomllib

        with open(path, "rb") as fh:
            return list(tomllib.load(fh)["project"]["optional-dependencies"]["worker"])
    except (OSError, KeyError, ValueError, ImportError):
        return list(FALLBACK_WORKER_REQUIREMENTS)


def torch_index_url(gpu: bool, system: str | None = None) -> str | None:
    """Where pip gets PyTorch: None = PyPI (CUDA build on Linux, MPS on macOS)."""
    system = system or platform.system()
    if system == "Darwin":
        return None
    if gpu:
        return f"{PYTORCH_INDEX}/{WINDOWS_CUDA_TAG}" if system == "Windows" else None
    return f"{PYTORCH_INDEX}/cpu"


def split_requirements(requirements: Sequence[str]) -> tuple[list[str], list[str]]:
    """(torch packages, the others), keeping each requirement's version pins."""
    name = lambda r: re.split(r"[<>=!~\[; ]", r.strip(), maxsplit=1)[0].lower()
    torch = [r for r in requirements if name(r) in TORCH_PACKAGES]
    return torch, [r for r in requirements if name(r) not in TORCH_PACKAGES]


@dataclasses.dataclass
class Step:
    label: str          # what the step does, for progress and errors ("installing PyTorch (CUDA)")
    argv: list[str]
    pip: bool = True


def plan(base_python: str, env_dir: str | os.PathLike, gpu: bool | None = None,
         requirements: Sequence[str] | None = None, pip_args: Sequence[str] = (), check: bool = True) -> list[Step]:
    """The steps of a set-up. `requirements` defaults to the worker extra; `pip_args` are
    added to every pip call (e.g. --no-index --find-links DIR for offline installs)."""
    gpu = has_nvidia_gpu() if gpu is None else gpu
    python = str(venv_python(env_dir))
    reqs = worker_requirements() if requirements is None else list(requirements)
    torch, others = split_requirements(reqs)
    pip = [python, "-m", "pip", "install", "--progress-bar", "off", "--disable-pip-version-check", *pip_args]
    steps = []
    if not venv_python(env_dir).exists():
        steps.append(Step("creating the virtual environment", [base_python, "-m", "venv", str(env_dir)], pip=False))
    if torch:
        index = torch_index_url(gpu)
        kind = "CUDA" if gpu else "CPU"
        # PyTorch's own index (as its install instructions give it) holds torch's
        # dependencies too; PyPI's Linux wheels are the CUDA build.
        steps.append(Step(f"installing PyTorch ({kind} build)", pip + torch + (["--index-url", index] if index else [])))
    if others:
        steps.append(Step("installing the worker's packages", pip + others))
    if check:
        steps.append(Step(CHECK_LABEL, [python, "-m", CHECK_MODULE], pip=False))
    return steps


class SetupError(RuntimeError):
    pass


class WorkerSetup:
    """Runs the steps one after another; poll() from a timer, or wait()."""

    def __init__(self, steps: Sequence[Step], base_python: str, env_dir: str | os.PathLike,
                 env: dict | None = None):
        self.steps = list(steps)
        self.base_python = base_python
        self.env_dir = Path(env_dir)
        self.env = env or worker_env()
        self.env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
        self.index = -1
        self.child: ChildProcess | None = None
        self.lines: list[str] = []
        self.status = ""
        self.error: str | None = None
        self.report: dict | None = None
        self.cancelled = False
        self._done = False

    @property
    def python(self) -> Path:
        return venv_python(self.env_dir)

    def start(self) -> None:
        problem = python_executable_problem(self.base_python) if self._needs_base() else None
        if problem:
            self._fail(problem.replace("the worker's Python", "the base Python for the set-up"))
            return
        problem = unsupported_base(self.base_python, self.steps)
        if problem:
            self._fail(problem)
            return
        self._next()

    def _needs_base(self) -> bool:
        return any(s.argv and s.argv[0] == self.base_python for s in self.steps)

    def _next(self) -> None:
        self.index += 1
        if self.index >= len(self.steps):
            self._done = True
            self.status = "done"
            return
        step = self.steps[self.index]
        self.lines = []
        self.status = step.label
        self.child = ChildProcess(step.argv, cwd=PACKAGE_ROOT, env=self.env, merge_stderr=True)
        try:
            self.child.start()
        except OSError as exc:
            self._fail(f"could not start {step.label}: {exc}")

    def _fail(self, message: str) -> None:
        self.error = message
        self._done = True

    @property
    def progress(self) -> float:
        if self._done and not self.error:
            return 1.0
        return max(0, self.index) / max(1, len(self.steps))

    def poll(self) -> bool:
        """True once finished (check `error`)."""
        if self._done:
            return True
        assert self.child is not None
        for line in self.child.poll():
            self._line(line)
        if not self.child.finished:
            return False
        step = self.steps[self.index]
        code = self.child.returncode
        if self.cancelled:
            self._fail(f"cancelled while {step.label}; run 'Set up worker' again to finish")
        elif step.label == CHECK_LABEL and self.report is not None:
            problems = self.report.get("problems") or []
            if problems:
                self._fail("the worker environment is incomplete: " + "; ".join(problems))
            else:
                self._next()
        elif code != 0:
            self._fail(self._explain(step, code))
        else:
            self._next()
        return self._done

    def _line(self, line: str) -> None:
        self.lines.append(line)
        stripped = line.strip()
        if stripped.startswith("{"):
            try:
                event = parse_event(stripped)
            except ProtocolError:
                event = None
            if event and event.get("event") == "info" and "check" in event:
                self.report = event["check"]
                return
        for prefix in ("Collecting ", "Downloading ", "Installing collected packages", "Successfully installed"):
            if stripped.startswith(prefix):
                self.status = f"{self.steps[self.index].label}: {stripped[:90]}"
                break

    def _explain(self, step: Step, code: int) -> str:
        errors = [l.strip() for l in self.lines if l.strip().startswith("ERROR:")]
        detail = errors or [l.strip() for l in self.lines if l.strip()][-5:]
        what = "pip failed" if step.pip else "the set-up failed"
        hint = ""
        if step.pip and any("Could not find a version" in e or "No matching distribution" in e for e in errors):
            hint = " (check the internet connection, a proxy, or the Python version: the worker needs 3.11)"
        return f"{what} while {step.label} (exit code {code}){hint}:\n" + "\n".join(detail)

    def cancel(self) -> None:
        self.cancelled = True
        if self.child is not None:
            self.child.cancel(grace=3.0)

    def wait(self, interval: float = 0.1, timeout: float | None = None) -> "WorkerSetup":
        import time

        if self.index < 0 and not self._done:
            self.start()
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.poll():
            if deadline is not None and time.monotonic() > deadline and not self.cancelled:
                self.cancel()
            time.sleep(interval)
        return self

    @property
    def finished(self) -> bool:
        return self._done

    @property
    def succeeded(self) -> bool:
        return self._done and self.error is None


# mediapipe 0.10.21 (the last release with mediapipe.solutions and its bundled pose model)
# has wheels for these Pythons only; Blender 5.1+ runs Python 3.13.
WORKER_PYTHONS = ((3, 12), (3, 11))


def python_version(python: str) -> tuple[int, int] | None:
    """(major, minor) of an interpreter, or None when it does not run."""
    try:
        out = subprocess.run([python, "-c", "import sys; print(*sys.version_info[:2])"], capture_output=True,
                             text=True, timeout=30)
        major, minor = out.stdout.split()
        return int(major), int(minor)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None


def python_candidates(version: tuple[int, int]) -> list[str]:
    """Interpreters of `version` on this machine: on PATH, in pyenv, from uv."""
    name = "{}.{}".format(*version)
    found = [p for p in (shutil.which(f"python{name}"),) if p]
    for root in (os.environ.get("PYENV_ROOT"), os.path.join(os.path.expanduser("~"), ".pyenv")):
        if root and os.path.isdir(os.path.join(root, "versions")):
            for entry in sorted(os.listdir(os.path.join(root, "versions")), reverse=True):
                exe = os.path.join(root, "versions", entry, "bin", "python")
                if entry.startswith(name + ".") and os.path.isfile(exe):
                    found.append(exe)
    uv = shutil.which("uv")
    if uv:
        try:
            out = subprocess.run([uv, "python", "find", name], capture_output=True, text=True, timeout=60)
            if out.returncode == 0 and out.stdout.strip():
                found.append(out.stdout.strip())
        except (OSError, subprocess.SubprocessError):
            pass
    return found


def default_base_python(current: str | None = None, version: tuple[int, int] | None = None) -> str:
    """The Python to make the worker's environment with: this one when the worker's packages
    support it, else a supported Python found on the machine (else this one, which the
    set-up then refuses with a message saying what to install)."""
    current = current or sys.executable
    version = version or tuple(sys.version_info[:2])
    if version in WORKER_PYTHONS:
        return current
    for wanted in WORKER_PYTHONS:
        for exe in python_candidates(wanted):
            if python_version(exe) == wanted:
                return exe
    return current


def unsupported_base(base_python: str, steps: Sequence[Step]) -> str | None:
    """Why `base_python` cannot make an environment for mediapipe 0.10.21 (None when it can)."""
    creates = any(s.argv and s.argv[0] == base_python for s in steps)
    wants_mediapipe = any(a.startswith("mediapipe") for s in steps for a in s.argv)
    version = python_version(base_python) if creates and wants_mediapipe else None
    if version is None or version in WORKER_PYTHONS:
        return None
    return (f"the worker's packages (mediapipe 0.10.21) need Python 3.11 or 3.12, and the base Python "
            f"'{base_python}' is {version[0]}.{version[1]} (Blender 5.1+ runs 3.13) and no 3.11/3.12 was found; "
            "install Python 3.12 (python.org, your package manager, or `uv python install 3.12`) and choose it "
            "as the base Python for the set-up in the preferences")
