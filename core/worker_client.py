"""The add-on's side of the worker: command line, progress state, result (no bpy).

`WorkerRun` starts `python -m core.worker ...` through `ChildProcess`, reads the JSON-lines
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
from .protocol import EXIT_CANCELLED, ProtocolError, parse_event

# Where the worker package lives: the folder that holds core/ (the extension's folder).
PACKAGE_ROOT = Path(__file__).resolve().parents[1]


@dataclasses.dataclass
class WorkerOptions:
    """What the panel and the batch script pass to the worker (None: the worker's default)."""

    estimator: str = "auto"
    checkpoint: str | None = None
    smpl_model: str | None = None
    detector: str | None = None
    device: str = "auto"
    start_frame: int | None = None
    end_frame: int | None = None
    max_people: int | None = None


def worker_command(python: str | os.PathLike, video: str | os.PathLike, output: str | os.PathLike,
                   options: WorkerOptions) -> list[str]:
    """argv of one worker run."""
    argv = [os.fspath(python), "-m", "core.worker", os.fspath(video), "-o", os.fspath(output),
            "--estimator", options.estimator or "auto", "--device", options.device or "auto"]
    for flag, value in (("--checkpoint", options.checkpoint), ("--smpl-model", options.smpl_model),
                        ("--detector", options.detector), ("--start-frame", options.start_frame),
                        ("--end-frame", options.end_frame), ("--max-people", options.max_people)):
        if value is not None and value != "":
            argv += [flag, os.fspath(value) if isinstance(value, os.PathLike) else str(value)]
    return argv


def worker_env(extra_pythonpath: Sequence[str] = (), base: dict | None = None) -> dict:
    """The child's environment: unbuffered, UTF-8, the package root first on PYTHONPATH.

    Blender sets PYTHONHOME/PYTHONPATH-like variables for its own Python; they must not
    leak into another interpreter.
    """
    env = dict(os.environ if base is None else base)
    for key in ("PYTHONHOME", "PYTHONSTARTUP", "PYTHONEXECUTABLE", "PYTHONNOUSERSITE"):
        env.pop(key, None)
    paths = [str(PACKAGE_ROOT), *map(str, extra_pythonpath)]
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


class WorkerRun:
    """One worker run: start, poll (from a timer or a loop), cancel, and the result."""

    def __init__(self, python: str | os.PathLike, video: str | os.PathLike, output: str | os.PathLike,
                 options: WorkerOptions | None = None, cwd: str | os.PathLike | None = None,
                 env: dict | None = None):
        self.python = os.fspath(python) if python else ""
        self.video = os.fspath(video)
        self.output = os.fspath(output)
        self.options = options or WorkerOptions()
        self.argv = worker_command(self.python, self.video, self.output, self.options)
        self.child = ChildProcess(self.argv, cwd=cwd or PACKAGE_ROOT, env=env or worker_env())
        self.progress = Progress()
        self.warnings: list[str] = []
        self.info: dict = {}
        self.error: WorkerError | None = None
        self.output_written: str | None = None
        self.stray_lines: list[str] = []
        self.started_at: float | None = None
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
            self._fail("worker_start_failed", f"could not start the worker with '{self.python}': {exc}")
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
        elif kind == "warning":
            self.warnings.append(str(event.get("message", "")))
        elif kind == "info":
            self.info.update({k: v for k, v in event.items() if k != "event"})
        elif kind == "done":
            self.output_written = str(event.get("output", self.output))
        elif kind == "error" and self.error is None:
            self.error = WorkerError(str(event.get("code", "error")), str(event.get("message", "")))

    def _finish(self, returncode: int) -> None:
        self._done = True
        if self.child.cancelled:
            self.error = WorkerError("cancelled", "cancelled; no motion was written and the scene is unchanged")
            self.output_written = None
            return
        if self.error is not None and returncode != 0:
            return
        if returncode == 0 and self.output_written and os.path.isfile(self.output_written):
            return
        if returncode == EXIT_CANCELLED:
            self.error = WorkerError("cancelled", "the worker was cancelled; no motion was written")
            return
        tail = self.child.stderr_text(lines=6).strip()
        why = f"the worker stopped unexpectedly (exit code {returncode}) without reporting an error"
        if returncode == 0:
            why = "the worker exited without writing the motion file"
        self.error = WorkerError("worker_crashed", why + (f"; its last output:\n{tail}" if tail else ""))
        self.output_written = None

    def cancel(self) -> None:
        self.child.cancel()

    def wait(self, interval: float = 0.05, timeout: float | None = None, on_progress=None,
             should_cancel=None) -> "WorkerRun":
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
        """The motion file's path, or raise the WorkerError."""
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
