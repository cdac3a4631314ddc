"""A child process polled without blocking (no bpy, stdlib only).

Blender's UI thread must never wait on a pipe: reader threads move the child's stdout
and stderr lines into queues, and `poll()` hands over whatever has arrived. A modal
operator calls `poll()` from its timer; background mode and scripts call `wait()`, which
polls in a loop. The same class runs the worker and the pip steps of the worker set-up.
"""
from __future__ import annotations

import collections
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from typing import Callable, Sequence

STDERR_TAIL_LINES = 60


class ChildProcess:
    """Runs `argv`; stdout lines come back from `poll()`, stderr keeps a tail for errors."""

    def __init__(self, argv: Sequence[str], cwd: str | os.PathLike | None = None, env: dict | None = None,
                 merge_stderr: bool = False):
        self.argv = [str(a) for a in argv]
        self.cwd = None if cwd is None else str(cwd)
        self.env = env
        self.merge_stderr = merge_stderr
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._proc: subprocess.Popen | None = None
        self._threads: list[threading.Thread] = []
        self._stdout_open = False
        self.cancelled = False
        self._kill_at: float | None = None

    # -- life cycle ------------------------------------------------------------------------
    def start(self) -> None:
        """Launch the child; raises OSError (e.g. FileNotFoundError) if it cannot start."""
        kwargs = {}
        if os.name == "nt":
            kwargs["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP
        self._proc = subprocess.Popen(
            self.argv, cwd=self.cwd, env=self.env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT if self.merge_stderr else subprocess.PIPE,
            text=True, encoding="utf-8", errors="replace", bufsize=1, **kwargs)
        self._stdout_open = True
        self._threads = [threading.Thread(target=self._pump_stdout, daemon=True)]
        if not self.merge_stderr:
            self._threads.append(threading.Thread(target=self._pump_stderr, daemon=True))
        for t in self._threads:
            t.start()

    def _pump_stdout(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for line in self._proc.stdout:
            self._lines.put(line.rstrip("\r\n"))
        self._lines.put(None)

    def _pump_stderr(self) -> None:
        assert self._proc is not None and self._proc.stderr is not None
        for line in self._proc.stderr:
            self.stderr_tail.append(line.rstrip("\r\n"))

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    @property
    def started(self) -> bool:
        return self._proc is not None

    # -- polling ---------------------------------------------------------------------------
    def poll(self) -> list[str]:
        """The stdout lines that arrived since the last call; never blocks."""
        out = []
        while True:
            try:
                line = self._lines.get_nowait()
            except queue.Empty:
                break
            if line is None:
                self._stdout_open = False
            else:
                out.append(line)
        if self._kill_at is not None and self.returncode is None and time.monotonic() >= self._kill_at:
            self._proc.kill()
            self._kill_at = None
        return out

    @property
    def returncode(self) -> int | None:
        return None if self._proc is None else self._proc.poll()

    @property
    def finished(self) -> bool:
        """The child has exited and every line of its output has been handed over."""
        if self._proc is None or self._proc.poll() is None or self._stdout_open or not self._lines.empty():
            return False
        for t in self._threads:  # stderr is read to its end before anyone reports an error
            t.join(timeout=1.0)
        return True

    def cancel(self, grace: float = 5.0) -> None:
        """Ask the child to stop (SIGTERM, or CTRL_BREAK on Windows); kill it after `grace` s."""
        self.cancelled = True
        if self._proc is None or self._proc.poll() is not None:
            return
        try:
            if os.name == "nt":
                self._proc.send_signal(signal.CTRL_BREAK_EVENT)
            else:
                self._proc.terminate()
        except OSError:
            pass
        self._kill_at = time.monotonic() + grace

    def kill(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()

    def wait(self, on_lines: Callable[[list[str]], None] | None = None, interval: float = 0.05,
             timeout: float | None = None, should_cancel: Callable[[], bool] | None = None) -> int:
        """Poll until the child ends (the synchronous path); returns its exit code."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            lines = self.poll()
            if lines and on_lines is not None:
                on_lines(lines)
            if self.finished:
                return int(self.returncode)
            if should_cancel is not None and not self.cancelled and should_cancel():
                self.cancel()
            if deadline is not None and time.monotonic() > deadline and not self.cancelled:
                self.cancel()
            time.sleep(interval)

    def stderr_text(self, lines: int = 15) -> str:
        return "\n".join(list(self.stderr_tail)[-lines:])


def python_executable_problem(path: str | os.PathLike | None) -> str | None:
    """Why `path` cannot be used as a Python interpreter, or None if it looks usable."""
    if not path:
        return "no Python interpreter is set; set the worker's Python in the add-on preferences"
    p = os.fspath(path)
    if not os.path.exists(p):
        return f"the worker's Python '{p}' does not exist; fix it in the add-on preferences or use 'Set up worker'"
    if os.path.isdir(p):
        return f"the worker's Python '{p}' is a folder; choose the interpreter file (e.g. .venv/bin/python)"
    if os.name != "nt" and not os.access(p, os.X_OK):
        return f"the worker's Python '{p}' is not executable"
    return None


def current_python() -> str:
    """The interpreter running this code (Blender's own Python inside Blender)."""
    return sys.executable
