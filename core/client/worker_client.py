"""The add-on's side of the worker: command line, progress state, result (no bpy).

`WorkerRun` starts `python -m video_to_motion.core.worker ...` through `ChildProcess`, reads the JSON-lines
protocol (core.protocol) from each `poll()` and keeps what the panel shows: stage,
progress, rate, ETA, warnings and, at the end, either the motion file or an error in
words. A worker that dies without a protocol error (a crash, the OOM killer) still gets a
clear message, with the end of its stderr.
"""
from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path
from typing import Sequence

from .child_process import ChildProcess, python_executable_problem
from ..common.options import WorkerOptions, worker_argv
from ..common.protocol import EXIT_CANCELLED, ProtocolError, parse_event

# The extension's folder (it holds core/). Not resolved: Blender may reach it through a link
# whose name, the extension's id, is the package name the worker imports.
PACKAGE_ROOT = Path(os.path.abspath(__file__)).parents[2]
# One importable name for the package, wherever it runs: Blender installs the extension in a
# folder named by its id; `pip install -e .` maps the same name onto a checkout.
PACKAGE = "video_to_motion"
WORKER_MODULE = f"{PACKAGE}.core.worker"
MESH_MODULE = f"{PACKAGE}.core.worker.smpl_mesh"
CHECK_MODULE = f"{PACKAGE}.core.worker.check"


def caller_path(path: str | os.PathLike) -> str:
    """`path` made absolute against the caller's folder: the child runs in the extension's
    folder, where a relative path would name another file (and outputs would land there)."""
    return os.path.abspath(os.fspath(path))


# The worker options that name files (a bare detector name that is no file here stays a name:
# an ultralytics asset the worker downloads).
FILE_OPTIONS = ("checkpoint", "smpl_model", "detector")


def caller_options(options: WorkerOptions) -> WorkerOptions:
    """`options` with the file options made absolute against the caller's folder."""
    changes = {}
    for name in FILE_OPTIONS:
        value = getattr(options, name, None)
        if not value:
            continue
        if name == "detector" and os.path.dirname(value) == "" and not os.path.exists(value):
            continue
        changes[name] = caller_path(os.path.expanduser(value))
    return dataclasses.replace(options, **changes) if changes else options


def worker_command(python: str | os.PathLike, video: str | os.PathLike, output: str | os.PathLike,
                   options: WorkerOptions) -> list[str]:
    """argv of one worker run; paths are the caller's (made absolute)."""
    return [os.fspath(python), "-m", WORKER_MODULE, caller_path(video), "-o", caller_path(output),
            *worker_argv(caller_options(options))]


def worker_env(extra_pythonpath: Sequence[str] = (), base: dict | None = None) -> dict:
    """The child's environment: unbuffered, UTF-8, the package root first on PYTHONPATH.

    Blender sets PYTHONHOME/PYTHONPATH-like variables for its own Python; they must not
    leak into another interpreter.
    """
    env = dict(os.environ if base is None else base)
    for key in ("PYTHONHOME", "PYTHONSTARTUP", "PYTHONEXECUTABLE", "PYTHONNOUSERSITE"):
        env.pop(key, None)
    # The extension's parent folder makes the package importable by its name; a checkout
    # under another folder name is found through its editable install instead.
    paths = [str(PACKAGE_ROOT.parent)] if PACKAGE_ROOT.name == PACKAGE else []
    paths += map(str, extra_pythonpath)
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONIOENCODING"] = "utf-8"
    return env


class WorkerError(RuntimeError):
    """A worker run that ended without a motion file; `code` as in the protocol."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclasses.dataclass
class Progress:
    stage: str = "start"
    done: int = 0
    total: int | None = None
    fps: float | None = None

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return max(0.0, min(1.0, self.done / self.total))

    @property
    def eta_seconds(self) -> float | None:
        if not self.total or not self.fps or self.fps <= 0:
            return None
        return max(0.0, (self.total - self.done) / self.fps)


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class ProtocolRun:
    """A `python -m video_to_motion.core...` child that speaks the JSON-lines protocol: start, poll (from
    a timer or a loop), cancel, and the result. `output`, when given, must exist at the end."""

    def __init__(self, argv: Sequence[str], output: str | os.PathLike | None = None,
                 cwd: str | os.PathLike | None = None, env: dict | None = None, what: str = "the worker"):
        self.argv = [os.fspath(a) for a in argv]
        self.python = self.argv[0] if self.argv else ""
        self.output = None if output is None else caller_path(output)
        self.what = what
        self.child = ChildProcess(self.argv, cwd=cwd or PACKAGE_ROOT, env=env or worker_env())
        self.progress = Progress()
        # (stage, time.monotonic() when its first event was read): how long each stage took.
        self.stage_changes: list[tuple[str, float]] = []
        self.warnings: list[str] = []
        self.info: dict = {}
        self.error: WorkerError | None = None
        self.output_written: str | None = None
        self.stray_lines: list[str] = []
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self._done = False

    def start(self) -> None:
        """Launch the worker; a missing interpreter becomes a WorkerError, not a traceback."""
        problem = python_executable_problem(self.python)
        if problem:
            self._fail("worker_python_missing", problem)
            return
        try:
            self.child.start()
        except OSError as exc:
            self._fail("worker_start_failed", f"could not start {self.what} with '{self.python}': {exc}")
            return
        self.started_at = time.monotonic()

    def _fail(self, code: str, message: str) -> None:
        if self.error is None:
            self.error = WorkerError(code, message)
        self._done = True

    def poll(self) -> bool:
        """Read what arrived; True once the run is over (result or error is then set)."""
        if self._done:
            return True
        for line in self.child.poll():
            self._handle_line(line)
        if self.child.finished:
            self._finish(self.child.returncode)
        return self._done

    def _handle_line(self, line: str) -> None:
        if not line.strip():
            return
        try:
            event = parse_event(line)
        except ProtocolError:
            self.stray_lines.append(line)
            return
        kind = event["event"]
        if kind == "progress":
            self.progress = Progress(stage=str(event.get("stage", "")), done=int(event.get("done") or 0),
                                     total=event.get("total"), fps=event.get("fps"))
            if not self.stage_changes or self.stage_changes[-1][0] != self.progress.stage:
                self.stage_changes.append((self.progress.stage, time.monotonic()))
        elif kind == "warning":
            self.warnings.append(str(event.get("message", "")))
        elif kind == "info":
            self.info.update({k: v for k, v in event.items() if k != "event"})
        elif kind == "done":
            self.output_written = str(event.get("output") or self.output or "")
        elif kind == "error" and self.error is None:
            self.error = WorkerError(str(event.get("code", "error")), str(event.get("message", "")))

    def stage_seconds(self) -> dict[str, float]:
        """Seconds from the start to the first stage event ("start"), and in each stage after
        it, as read by poll() (so to within the polling interval)."""
        if self.started_at is None:
            return {}
        end = self.finished_at or time.monotonic()
        marks = [("start", self.started_at), *self.stage_changes, ("", end)]
        out: dict[str, float] = {}
        for (stage, t0), (_, t1) in zip(marks, marks[1:]):
            out[stage] = round(out.get(stage, 0.0) + t1 - t0, 3)
        return out

    def _finish(self, returncode: int) -> None:
        self._done = True
        self.finished_at = time.monotonic()
        if self.child.cancelled:
            self.error = WorkerError("cancelled", f"cancelled: {self.what} was stopped and wrote nothing")
            self.output_written = None
            return
        if self.error is not None and returncode != 0:
            return
        if returncode == 0 and self.output_written is not None and (
                self.output is None or os.path.isfile(self.output_written)):
            return
        if returncode == EXIT_CANCELLED:
            self.error = WorkerError("cancelled", f"{self.what} was cancelled; nothing was written")
            return
        tail = self.child.stderr_text(lines=6).strip()
        why = f"{self.what} stopped unexpectedly (exit code {returncode}) without reporting an error"
        if returncode == 0:
            why = f"{self.what} exited without finishing its output"
        self.error = WorkerError("worker_crashed", why + (f"; its last output:\n{tail}" if tail else ""))
        self.output_written = None

    def cancel(self) -> None:
        self.child.cancel()

    def wait(self, interval: float = 0.05, timeout: float | None = None, on_progress=None,
             should_cancel=None) -> "ProtocolRun":
        """Run to the end synchronously (background mode, scripts); returns self."""
        if not self.child.started and not self._done:
            self.start()
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.poll():
            if on_progress is not None:
                on_progress(self)
            if (should_cancel is not None and should_cancel()) or (deadline and time.monotonic() > deadline):
                if not self.child.cancelled:
                    self.cancel()
            time.sleep(interval)
        return self

    @property
    def finished(self) -> bool:
        return self._done

    @property
    def succeeded(self) -> bool:
        return self._done and self.error is None and self.output_written is not None

    def result(self) -> str:
        """The output's path, or raise the WorkerError."""
        if not self._done:
            raise RuntimeError("the worker run has not finished")
        if self.error is not None:
            raise self.error
        assert self.output_written is not None
        return self.output_written

    def status_text(self) -> str:
        """One line for the panel: stage, counts, rate and ETA."""
        p = self.progress
        parts = [p.stage]
        if p.total:
            parts.append(f"{p.done}/{p.total}")
        elif p.done:
            parts.append(str(p.done))
        if p.fps:
            parts.append(f"{p.fps:.1f} fps")
        if p.eta_seconds is not None:
            parts.append(f"ETA {format_eta(p.eta_seconds)}")
        return " · ".join(parts)


class WorkerRun(ProtocolRun):
    """One run of `python -m video_to_motion.core.worker VIDEO -o OUTPUT [options]`."""

    def __init__(self, python: str | os.PathLike, video: str | os.PathLike, output: str | os.PathLike,
                 options: WorkerOptions | None = None, cwd: str | os.PathLike | None = None,
                 env: dict | None = None):
        self.video = caller_path(video)
        self.options = options or WorkerOptions()
        argv = worker_command(os.fspath(python) if python else "", self.video, output, self.options)
        super().__init__(argv, output=output, cwd=cwd, env=env, what="the worker")


def mesh_command(python: str | os.PathLike, smpl_model: str | os.PathLike, output: str | os.PathLike) -> list[str]:
    """argv of the SMPL model -> numpy mesh conversion (core.worker.smpl_mesh)."""
    return [os.fspath(python), "-m", MESH_MODULE, "--smpl-model", caller_path(smpl_model), "-o", caller_path(output)]


def check_command(python: str | os.PathLike) -> list[str]:
    return [os.fspath(python), "-m", CHECK_MODULE]


class RunSequence:
    """Protocol runs one after another (the worker, then e.g. the mesh conversion); the
    first error stops the sequence. Polled and cancelled like a single run."""

    def __init__(self, runs: Sequence[ProtocolRun]):
        self.runs = list(runs)
        self.index = 0
        self.cancelled = False

    @property
    def current(self) -> ProtocolRun:
        return self.runs[min(self.index, len(self.runs) - 1)]

    def start(self) -> None:
        self.current.start()

    def poll(self) -> bool:
        """True once every run has finished, or one has failed."""
        while True:
            run = self.current
            if not run.poll():
                return False
            if run.error is not None or self.index >= len(self.runs) - 1:
                return True
            self.index += 1
            if self.cancelled:
                self.current._fail("cancelled", "cancelled before it started")
                return True
            self.current.start()

    def cancel(self) -> None:
        self.cancelled = True
        self.current.cancel()

    @property
    def error(self) -> WorkerError | None:
        return next((r.error for r in self.runs if r.error is not None), None)

    @property
    def succeeded(self) -> bool:
        return all(r.succeeded for r in self.runs)

    @property
    def warnings(self) -> list[str]:
        return [w for r in self.runs for w in r.warnings]

    def status_text(self) -> str:
        prefix = f"[{self.index + 1}/{len(self.runs)}] " if len(self.runs) > 1 else ""
        return prefix + self.current.status_text()

    def wait(self, interval: float = 0.05, timeout: float | None = None, on_progress=None,
             should_cancel=None) -> "RunSequence":
        if not self.current.child.started and not self.current.finished:
            self.start()
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.poll():
            if on_progress is not None:
                on_progress(self)
            if (should_cancel is not None and should_cancel()) or (deadline and time.monotonic() > deadline):
                if not self.cancelled:
                    self.cancel()
            time.sleep(interval)
        return self


def summary_lines(report: dict) -> list[str]:
    """The report as short lines for the add-on's preferences."""
    t = report.get("torch", {})
    lines = [f"Python {report.get('python')} ({report.get('executable')})"]
    if t.get("version"):
        gpu = ", ".join(t.get("devices") or []) or ("CUDA build, no GPU visible" if t.get("cuda_build") else "CPU build")
        lines.append(f"torch {t['version']} (CUDA {t.get('cuda_build') or '-'}): {gpu}"
                     + ("; Apple MPS available" if t.get("mps_available") else ""))
    found = [f"{k} {v}" for k, v in report.get("packages", {}).items() if v and k != "torch"]
    if found:
        lines.append(", ".join(found))
    lines += [f"Problem: {p}" for p in report.get("problems", [])]
    return lines
