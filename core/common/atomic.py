"""Write files so that a reader never sees a half-written one and a failure keeps the old.

The data goes to a temporary file in the destination's folder (same file system, so the
final rename is atomic) and replaces the destination only once it is complete.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator


class OutputPathError(ValueError):
    """The destination cannot be written (missing or read-only folder, a directory...)."""


def check_writable_destination(path: str | os.PathLike) -> Path:
    """Fail early, before hours of work, if `path` cannot be written later."""
    path = Path(path)
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
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    # mkstemp makes the file private (0600); give the result the usual permissions.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_path, 0o666 & ~umask)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise
