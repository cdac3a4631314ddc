"""Write files so that a reader never sees a half-written one and a failure keeps the old.

The data goes to a temporary file in the destination's folder (same file system, so the
final rename is atomic) and replaces the destination only once it is complete.
"""
from __future__ import annotations

import contextlib
import errno
import os
import re
import shutil
import tempfile
import time
from pathlib import Path
from typing import Iterator


# Temporary files are named ".<destination name>.vtm-<pid>-<random><suffix>": the process id
# lets the next write to that folder remove the ones a killed process left behind.
TEMP_MARK = ".vtm-"
_TEMP_NAME = re.compile(r"^\..+\.vtm-(\d+)-[A-Za-z0-9_]+(\.[A-Za-z0-9]+)?$")
# errno values that mean "the disk (or the user's quota) is full".
DISK_FULL_ERRNOS = frozenset(e for e in (getattr(errno, "ENOSPC", None), getattr(errno, "EDQUOT", None)) if e)


class OutputPathError(ValueError):
    """The destination cannot be written (missing or read-only folder, a directory, an input...)."""

    def __init__(self, message: str, code: str = "output_unwritable"):
        super().__init__(message)
        self.code = code


# Below this much free space, a failed write is put down to the full disk (writers such as
# Blender's .blend saving report "No such file or directory" when their temporary file fails).
LOW_SPACE_BYTES = 1 << 20
_ERRNO_TEXT = re.compile(r"\[Errno (\d+)\]")


def is_disk_full(exc: BaseException) -> bool:
    """An OSError of a full disk, or an error that carries one in its text (Blender's operators)."""
    if isinstance(exc, OSError) and exc.errno is not None:
        return exc.errno in DISK_FULL_ERRNOS
    return any(int(n) in DISK_FULL_ERRNOS for n in _ERRNO_TEXT.findall(str(exc)))


def free_bytes(folder: str | os.PathLike) -> int | None:
    try:
        return shutil.disk_usage(folder).free
    except OSError:
        return None


def disk_full_error(path: str | os.PathLike, exc: BaseException) -> OutputPathError:
    """The message for a write that ran out of space (nothing was replaced)."""
    free = free_bytes(Path(path).parent)
    left = f"{free // 1024} kB free" if free is not None else getattr(exc, "strerror", None) or "no space left"
    return OutputPathError(f"the disk is full: not enough space for '{path}' ({left}); nothing was written "
                           "there. Free some space or choose another folder", code="disk_full")


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """True when two paths name one file (links and relative spellings included)."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet): compare the resolved spellings
        return Path(a).resolve() == Path(b).resolve()


def refuse_inputs(path: str | os.PathLike, inputs: tuple = ()) -> Path:
    """Raise OutputPathError('output_is_input') if `path` names one of `inputs` (None entries are skipped)."""
    path = Path(path)
    for source in inputs:
        if source is not None and same_file(path, source):
            raise OutputPathError(f"output '{path}' is the input '{source}'; writing it would replace the input. "
                                  "Choose another output file", code="output_is_input")
    return path


def check_writable_destination(path: str | os.PathLike, inputs: tuple = ()) -> Path:
    """Fail early, before hours of work, if `path` cannot be written later or is one of `inputs`."""
    path = refuse_inputs(path, inputs)
    folder = path.parent
    if path.is_dir():
        raise OutputPathError(f"output '{path}' is a directory; give a file name such as '{path / 'motion.npz'}'")
    if not folder.exists():
        raise OutputPathError(f"output folder '{folder}' does not exist; create it or choose another output path")
    if not folder.is_dir():
        raise OutputPathError(f"output folder '{folder}' is not a directory")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputPathError(f"output folder '{folder}' is not writable; choose a folder you can write to")
    return path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success rename it onto `path`.

    On any exception the temporary file is removed and `path` is left as it was.
    `suffix` defaults to the destination's, since some writers (np.savez) append their
    own extension when it is missing.
    """
    path = check_writable_destination(path)
    suffix = path.suffix if suffix is None else suffix
    remove_stale_temp_files(path.parent)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}{TEMP_MARK}{os.getpid()}-", suffix=suffix, dir=path.parent)
    except OSError as exc:
        raise (disk_full_error(path, exc) if is_disk_full(exc) else exc) from exc
    os.close(fd)
    tmp_path = Path(tmp)
    # mkstemp makes the file private (0600); give the result the usual permissions.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_path, 0o666 & ~umask)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    except BaseException as exc:
        # Measured before our temporary file goes: it may be what filled the disk.
        full = isinstance(exc, (OSError, RuntimeError)) and (
            is_disk_full(exc) or (free_bytes(path.parent) or LOW_SPACE_BYTES) < LOW_SPACE_BYTES)
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        if full:
            raise disk_full_error(path, exc) from exc
        raise


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # someone else's process (EPERM): alive
        return True
    return True


def remove_stale_temp_files(folder: str | os.PathLike, min_age_s: float = 60.0) -> list[Path]:
    """Remove our temporary files in `folder` whose writing process has ended (killed mid-write).

    Only names of atomic_path's pattern are touched, and only when no process here has their
    process id and they have not changed for `min_age_s`: a process on another machine
    writing to a shared folder has an id that means nothing here, but its file keeps changing.
    Returns what was removed.
    """
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        match = _TEMP_NAME.match(entry.name)
        if not match or _process_alive(int(match.group(1))):
            continue
        try:
            if not entry.is_file(follow_symlinks=False) or now - entry.stat(follow_symlinks=False).st_mtime < min_age_s:
                continue
            os.unlink(entry.path)
            removed.append(Path(entry.path))
        except OSError:
            continue
    return removed
